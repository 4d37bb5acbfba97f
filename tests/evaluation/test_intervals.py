"""Coverage where the census does not pin the answer: what is scored, and that it can fail."""

from __future__ import annotations

import numpy as np

from populace.evaluation.metrics import Downstream, score
from populace.evaluation.metrics.codes import Personas, persona_codes
from populace.evaluation.metrics.intervals import interval_metrics
from populace.study.spec import Attribute, Marginal, Microdata, Study

ATTRS = (
    Attribute("area", "nominal", ("a", "b", "c"), role="geography"),
    Attribute("age", "ordinal", ("y", "o")),
    Attribute("vote", "nominal", ("no", "yes")),
    Attribute("trust", "ordinal", ("lo", "mid", "hi")),
)


def _population(rng: np.random.Generator, n: int = 3000) -> np.ndarray:
    area = rng.integers(0, 3, n)
    age = (rng.random(n) < 0.3 + 0.2 * area).astype(int)
    vote = (rng.random(n) < 0.2 + 0.3 * age + 0.1 * area).astype(int)
    trust = rng.integers(0, 3, n)
    return np.column_stack([area, age, vote, trust])


def _study(pop: np.ndarray) -> Study:
    area_age = np.zeros((3, 2))
    np.add.at(area_age, (pop[:, 0], pop[:, 1]), 1)
    return Study(ATTRS, (Marginal(("area", "age"), area_age),), Microdata(pop[:50], np.ones(50)))


def _draws(pop: np.ndarray, rng: np.random.Generator, draws: int, resample: bool) -> Personas:
    """Each draw a bootstrap of the population (resample) or the population itself."""
    rows = [pop[rng.integers(0, len(pop), len(pop))] if resample else pop for _ in range(draws)]
    return Personas(np.concatenate(rows), np.repeat(np.arange(draws), len(pop)), draws)


CHECK = Downstream("vote", "yes", ("age",))


def test_free_tables_leave_out_the_census_and_the_area_is_scored_per_attribute():
    rng = np.random.default_rng(0)
    pop = _population(rng)
    out = interval_metrics(_draws(pop, rng, 40, True), pop, _study(pop), groups=[CHECK])
    # area x age is the census table: 5 free tables of 6, the census one apart.
    assert set(out["free2_by_table"]) == {"area×vote", "area×trust", "age×vote", "age×trust", "vote×trust"}
    # Shares inside areas: every attribute but the pinned age (and the area itself).
    assert set(out["area_cov90_by_attr"]) == {"vote", "trust"} and out["areas_scored"] == 3
    assert set(out["area_cov90_by_area"]) == {"a", "b", "c"}
    assert out["group_cov90"][CHECK.key][1] == 2


def test_the_truth_itself_covers_everything():
    """Draws that are the population exactly: every interval is the truth, covered."""
    rng = np.random.default_rng(1)
    pop = _population(rng)
    out = interval_metrics(_draws(pop, rng, 5, False), pop, _study(pop), groups=[CHECK])
    assert out["cov90_free2"] == 1.0 and out["area_cov90"] == 1.0 and out["group_cov90"][CHECK.key][0] == 1.0
    assert out["free2_tables_under_half"] == 0
    assert all(v < 1e-15 for v in out["area_mae_by_attr"].values())  # rounding only


def test_a_wrong_generator_is_caught():
    """Draws from a population whose vote no longer depends on age or area: the vote's
    tables, area shares and group shares are missed, the trust tables still covered."""
    rng = np.random.default_rng(2)
    pop = _population(rng)
    wrong = pop.copy()
    wrong[:, 2] = rng.permutation(wrong[:, 2])
    out = interval_metrics(_draws(wrong, rng, 100, True), pop, _study(pop), groups=[CHECK])
    cov = {t: c / n for t, (c, n) in out["free2_by_table"].items()}
    assert cov["age×vote"] == 0.0
    assert out["group_cov90"][CHECK.key][0] == 0.0
    assert out["area_cov90_by_attr"]["vote"] < 0.5
    assert out["free2_tables_under_half"] >= 1


def test_score_returns_them_with_two_draws_and_not_with_one():
    rng = np.random.default_rng(4)
    pop = _population(rng)
    study = _study(pop)
    draws = _draws(pop, rng, 3, True)
    many = score(draws, pop, None, study, downstream=[CHECK])
    one = score(_draws(pop, rng, 1, True), pop, None, study, downstream=[CHECK])
    assert "cov90_free2" in many and "area_cov90" in many and CHECK.key in many["group_cov90"]
    assert "cov90_free2" not in one
    # score() hands its per-table coverage over; computed alone, the figures are the same
    alone = interval_metrics(persona_codes(draws, study), pop, study, groups=[CHECK])
    for key in ("cov90_free2", "free2_by_table", "free2_tables_under_half", "cov90_census2", "area_cov90_by_attr"):
        assert many[key] == alone[key], key


def test_small_areas_and_groups_are_not_scored():
    rng = np.random.default_rng(5)
    pop = _population(rng)  # about 1,000 people per area, 1,300-1,700 per age group
    out = interval_metrics(_draws(pop, rng, 10, True), pop, _study(pop), groups=[CHECK], min_group=2000)
    assert out["areas_scored"] == 0 and "area_cov90" not in out
    value, groups = out["group_cov90"][CHECK.key]
    assert groups == 0 and np.isnan(value)


def test_the_breakdowns_add_up_to_the_pooled_figures():
    """Per-table, per-attribute and per-area figures are the same coverage cut three ways
    (the mutation score found these untested): they add back to the pooled figures, the
    worst tables are the lowest shares in order, and the national share's error is its
    distance to each area's share."""
    rng = np.random.default_rng(6)
    pop = _population(rng)
    wrong = pop.copy()
    wrong[:, 2] = rng.permutation(wrong[:, 2])  # some intervals miss, some cover
    out = interval_metrics(_draws(wrong, rng, 60, True), pop, _study(pop), groups=[CHECK])
    share = {t: c / n for t, (c, n) in out["free2_by_table"].items()}
    assert out["free2_tables_under_half"] == sum(v < 0.5 for v in share.values())
    assert list(out["free2_worst"].values()) == sorted(share.values())[:5]
    cells = sum(n for _, n in out["free2_by_table"].values())
    assert out["cov90_free2"] == sum(c for c, _ in out["free2_by_table"].values()) / cells
    # each area scores vote (2 levels) and trust (3 levels): the areas' mean is the pooled share
    by_area = out["area_cov90_by_area"]
    assert len(by_area) == 3 and abs(np.mean(list(by_area.values())) - out["area_cov90"]) < 1e-12
    assert abs((2 * out["area_cov90_by_attr"]["vote"] + 3 * out["area_cov90_by_attr"]["trust"]) / 5 - out["area_cov90"]) < 1e-12
    for col, name in ((2, "vote"), (3, "trust")):
        levels = int(pop[:, col].max()) + 1
        nat = np.bincount(pop[:, col], minlength=levels) / len(pop)
        per_area = np.array([np.bincount(pop[pop[:, 0] == a, col], minlength=levels) / (pop[:, 0] == a).sum() for a in range(3)])
        assert abs(out["national_area_mae_by_attr"][name] - np.abs(nat[None, :] - per_area).mean()) < 1e-12
