from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from populace.evaluation.metrics import downstream_error, interval_coverage, score, srmse, tvd
from populace.personas import persona_dataset, to_frame
from populace.study.spec import Attribute, Marginal, Microdata, Study


def make_study(levels: dict[str, int], sample: np.ndarray) -> Study:
    attrs = tuple(Attribute(n, "nominal", tuple(f"{n}{i}" for i in range(k))) for n, k in levels.items())
    first = attrs[0]
    m = Marginal((first.name,), np.ones(first.n_levels))
    return Study(attrs, (m,), Microdata(np.asarray(sample), np.ones(len(sample))), name="t")


def as_personas(study: Study, draws: list[np.ndarray]) -> object:
    """Persona Dataset from a list of (persona, attribute) code arrays of equal length."""
    stacked = np.stack(draws)
    return persona_dataset({a.name: stacked[:, :, j] for j, a in enumerate(study.attributes)}, study)


def rows(cells: dict[tuple[int, ...], int]) -> np.ndarray:
    return np.array([c for c, k in cells.items() for _ in range(k)])


def test_identical_distributions_score_zero() -> None:
    rng = np.random.default_rng(0)
    pop = np.column_stack([rng.integers(0, k, 400) for k in (3, 2, 4, 2)])
    study = make_study({"a": 3, "b": 2, "c": 4, "d": 2}, pop[:20])
    res = score(as_personas(study, [pop, pop[::-1]]), pop, None, study)
    for key in ("srmse1", "srmse2", "srmse3", "tvd3", "tvd_joint", "false_combo", "false_3way"):
        assert res[key] == pytest.approx(0.0, abs=1e-12), key
    assert res["sz_recall_joint"] == 1.0
    assert res["cov90"] == 1.0 and res["width90"] == pytest.approx(0.0)


def test_known_shift_gives_the_formula_value() -> None:
    # p = (0.5, 0.5), q = (0.6, 0.4): SRMSE = sqrt(0.01) / 0.5 = 0.2, TVD = 0.1
    assert srmse(np.array([0.6, 0.4]), np.array([0.5, 0.5])) == pytest.approx(0.2)
    assert tvd(np.array([0.6, 0.4]), np.array([0.5, 0.5])) == pytest.approx(0.1)
    pop = rows({(0, 0): 5, (1, 0): 5})
    study = make_study({"a": 2, "b": 2}, pop)
    res = score(as_personas(study, [rows({(0, 0): 6, (1, 0): 4})]), pop, None, study)
    assert res["srmse1"] == pytest.approx((0.2 + 0.0) / 2)  # mean over the a and b tables
    assert res["tvd_joint"] == pytest.approx(0.1)


def test_sampling_zero_recall_and_false_combinations_by_hand() -> None:
    # P: (0,0) 50 %, (0,1) 30 %, (1,0) 20 %, (1,1) never. The sample only has (0,0).
    pop = rows({(0, 0): 5, (0, 1): 3, (1, 0): 2})
    study = make_study({"a": 2, "b": 2}, rows({(0, 0): 2}))
    # personas make (0,0), (0,1) and the impossible (1,1), never (1,0)
    pers = rows({(0, 0): 2, (0, 1): 1, (1, 1): 1})
    res = score(as_personas(study, [pers]), pop, None, study)
    assert res["unseen_mass"] == pytest.approx(0.5)
    assert res["sz_recall_joint"] == pytest.approx(0.3 / 0.5)
    assert res["false_combo"] == pytest.approx(0.25)
    assert res["tvd_joint"] == pytest.approx(0.5 * (0 + 0.05 + 0.2 + 0.25))


def test_interval_coverage_on_constructed_draws() -> None:
    q = np.linspace(0.0, 1.0, 21)[:, None] * np.ones((1, 3))  # 21 draws, quantiles 0.05 / 0.95
    covered, width = interval_coverage(q, np.array([0.5, 0.04, 0.96]))
    np.testing.assert_array_equal(covered, [True, False, False])
    np.testing.assert_allclose(width, 0.9)


def test_coverage_through_score() -> None:
    pop = rows({(0, 0): 25, (0, 1): 25, (1, 0): 25, (1, 1): 25})
    study = make_study({"a": 2, "b": 2}, pop)
    # draw d puts share 0.25 + e_d on (0,0) and takes it from (1,1): (0,1), (1,0) exact
    draws = []
    for e in range(-5, 6):
        draws.append(rows({(0, 0): 25 + e, (0, 1): 25, (1, 0): 25, (1, 1): 25 - e}))
    res = score(as_personas(study, draws), pop, None, study)
    assert res["cov_cells"] == 4
    assert res["cov90"] == 1.0
    tail = np.quantile(np.arange(-5, 6) / 100, [0.05, 0.95])
    assert res["width90"] == pytest.approx((2 * (tail[1] - tail[0]) + 0 + 0) / 4)


def test_downstream_error_by_hand() -> None:
    # groups by b: b0 has 10 people (4 with a = a1), b1 has 30 (15 with a1): shares 0.4, 0.5
    pop = rows({(1, 0): 4, (0, 0): 6, (1, 1): 15, (0, 1): 15})
    study = make_study({"a": 2, "b": 2}, pop)
    pers = rows({(1, 0): 2, (1, 1): 1, (0, 1): 1})  # b0: 1.0, b1: 0.5
    err = downstream_error(as_personas(study, [pers]), pop, study, outcome="a", level="a1", by=["b"])
    assert err == pytest.approx(0.25 * 0.6 + 0.75 * 0.0)
    # a draw with no b1 persona skips b1 and renormalises: error 0.6 on b0 alone
    only_b0 = rows({(1, 0): 2})
    res = score(as_personas(study, [only_b0]), pop, None, study, downstream=[("a", "a1", ["b"])])
    assert res["down[a=a1|b]"] == pytest.approx(0.6)
    assert res["down[a=a1|b]_skipped_mass"] == pytest.approx(0.75)
    # pooled over two draws (equal weight) vs averaged per draw
    two = as_personas(study, [pers, rows({(0, 0): 2, (1, 1): 1, (0, 1): 1})])
    pooled = downstream_error(two, pop, study, outcome="a", level="a1", by=["b"])
    per = downstream_error(two, pop, study, outcome="a", level="a1", by=["b"], per_draw=True)
    assert pooled == pytest.approx(0.25 * 0.1)  # b0 pooled share 0.5
    assert per == pytest.approx(0.5 * (0.15 + 0.25 * 0.4))


def test_dataframe_inputs_match_the_dataset() -> None:
    rng = np.random.default_rng(1)
    pop = np.column_stack([rng.integers(0, k, 300) for k in (3, 2, 2)])
    study = make_study({"a": 3, "b": 2, "c": 2}, pop[:15])
    ds = as_personas(study, [pop[:100], pop[100:200], pop[200:]])
    pop_df = pd.DataFrame({a.name: [a.levels[i] for i in pop[:, j]] for j, a in enumerate(study.attributes)})
    a = score(ds, pop, None, study)
    b = score(to_frame(ds), pop_df, pd.DataFrame(pop[:15], columns=list(study.names)), study)
    for key in ("srmse1", "srmse2", "srmse3", "tvd_joint", "cov90", "width90", "sz_recall_joint"):
        assert a[key] == pytest.approx(b[key]), key
    assert set(a["srmse2_by_table"]) == {"a×b", "a×c", "b×c"}


def test_per_draw_averages_draw_scores() -> None:
    pop = rows({(0, 0): 5, (1, 1): 5})
    study = make_study({"a": 2, "b": 2}, pop)
    d1, d2 = rows({(0, 0): 6, (1, 1): 4}), rows({(0, 0): 4, (1, 1): 6})
    ds = as_personas(study, [d1, d2])
    assert score(ds, pop, None, study)["tvd_joint"] == pytest.approx(0.0)
    assert score(ds, pop, None, study, per_draw=True)["tvd_joint"] == pytest.approx(0.1)


def test_cov90_pools_cells_not_tables() -> None:
    """cov90 is the share of covered cells over every 2-way table, so a table counts by its
    cells: a 4-cell table covered and two 10-cell tables missed give 4 / 24, not 1 / 3."""
    pop = np.array([(a, b, c) for a in range(2) for b in range(2) for c in range(5) for _ in range(3)])
    study = make_study({"a": 2, "b": 2, "c": 5}, pop)
    # a x b exactly uniform in every draw; c always its first level (a x c, b x c missed)
    pers = pop.copy()
    pers[:, 2] = 0
    res = score(as_personas(study, [pers, pers, pers]), pop, None, study)
    by_table = res["cov90_by_table"]
    assert res["cov_cells"] == 24 and sum(n for _, n in by_table.values()) == 24
    assert res["cov90"] == pytest.approx(4 / 24)
