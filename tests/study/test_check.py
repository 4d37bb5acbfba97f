"""``populace check``: what it reports on a known study, how often it cries wolf, and
``total_tolerance``."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from populace.cli import main
from populace.errors import StudyError, StudyWarning
from populace.study import make_study
from populace.study.check import BIAS_P, check_study

ATTRS = {
    "area": {"type": "nominal", "levels": ["N", "S", "E"], "role": "geography"},
    "age": {"type": "ordinal", "levels": ["young", "mid", "old"]},
    "sex": {"type": "nominal", "levels": ["m", "f"]},
    "party": {"type": "nominal", "levels": ["dem", "rep"]},
}


def _table(cols: list[str], counts: np.ndarray) -> pd.DataFrame:
    levels = [ATTRS[c]["levels"] for c in cols]
    idx = pd.MultiIndex.from_product(levels, names=cols)
    return pd.DataFrame({"count": np.asarray(counts, float).reshape(-1)}, index=idx).reset_index()


def _census() -> list[pd.DataFrame]:
    area_age = np.array([[300, 300, 400], [200, 500, 300], [100, 100, 100]])  # E: 300 people
    sex = np.array([1100, 1200])
    return [_table(["area", "age"], area_age), _table(["sex"], sex)]


def test_report_on_a_known_study() -> None:
    # 40 rows in N (weights 1 or 3), 2 in S, none in E; party missing in 30 %; no census
    # table for party; the old in N never sampled.
    rng = np.random.default_rng(0)
    rows = [("N", rng.choice(["young", "mid"]), rng.choice(["m", "f"]), rng.choice(["dem", "rep", None], p=[.35, .35, .3]))
            for _ in range(40)] + [("S", "mid", "f", "dem"), ("S", "young", "m", "rep")]  # fmt: skip
    micro = pd.DataFrame(rows, columns=["area", "age", "sex", "party"])
    micro["w"] = np.where(np.arange(len(micro)) % 2, 3.0, 1.0)
    study = make_study(ATTRS, _census(), micro, weight="w")
    report = check_study(study)
    text = str(report)
    w = micro["w"].to_numpy()
    assert f"Kish effective n {w.sum() ** 2 / (w**2).sum():,.1f}" in text
    assert "area (nominal, 3 levels): geography; area sizes from census area x age" in text
    assert "age (ordinal, 3 levels): census-pinned: per area by census area x age" in text
    assert "sex (nominal, 2 levels): census-margin: nationally by census sex;" in text
    assert "party (nominal, 2 levels): survey-only: no census table" in text
    # Cells with people and no row: N x old, every S cell but the two sampled, all of E.
    present = {(a, g) for a, g in micro[["area", "age"]].itertuples(index=False)}
    empty = {(a, g) for a in ["N", "S", "E"] for g in ["young", "mid", "old"]} - present
    counts = dict(zip([(a, g) for a in ["N", "S", "E"] for g in ["young", "mid", "old"]], _census()[0]["count"]))
    share = sum(counts[c] for c in empty) / sum(counts.values())
    assert f"  census area x age: {len(empty)} of 9 cells ({share:.1%} of the population) have no sample row" in text
    warns = " ".join(report.warnings)
    assert "party is missing in" in warns
    assert "party has no census table" in warns
    assert "areas have fewer than 5 sample rows (e.g. S: 2)" in warns
    assert "  1 of 3 areas have no sample row: E" in text
    assert "age: level(s) 'old' never occur in the sample" in warns


def _population(rng: np.random.Generator, n: int) -> pd.DataFrame:
    age = rng.choice(["young", "mid", "old"], size=n, p=[0.3, 0.4, 0.3])
    sex = rng.choice(["m", "f"], size=n)
    return pd.DataFrame({"age": age, "sex": sex, "party": rng.choice(["dem", "rep"], size=n)})


def _study_from(pop: pd.DataFrame, sample: pd.DataFrame):
    attrs = {k: v for k, v in ATTRS.items() if k != "area"}
    tables = [pop.groupby(c).size().reindex(attrs[c]["levels"], fill_value=0).rename("count").reset_index()
              for c in ("age", "sex")]  # fmt: skip
    return make_study(attrs, tables, sample)


def test_bias_warning_rate_on_simple_random_samples_and_power_on_biased_ones() -> None:
    """Simple random samples: a bias warning at most BIAS_P of the time (family-wise, by
    Bonferroni over the 2 pinned attributes). Over 300 samples the count of warned ones is
    Binomial(300, <= 0.05): above 0.05 + 3 sd = 0.088 would say the test is miscalibrated.
    Biased samples (the young at 3x their share, n = 300): detected nearly always (power of
    a chi-square at effect size w = 0.36 and n = 300 is ~1)."""
    rng = np.random.default_rng(1)
    pop = _population(rng, 100_000)
    reps, warned = 300, 0
    for _ in range(reps):
        s = pop.sample(300, random_state=int(rng.integers(2**31)))
        warned += any("unrepresentative" in w for w in check_study(_study_from(pop, s)).warnings)
    assert warned / reps <= BIAS_P + 3 * np.sqrt(BIAS_P * (1 - BIAS_P) / reps)
    p_keep = np.where(pop["age"] == "young", 1.0, 1 / 3)
    detected = 0
    for _ in range(20):
        s = pop.sample(300, weights=p_keep, random_state=int(rng.integers(2**31)))
        report = check_study(_study_from(pop, s))
        detected += any("unrepresentative on age" in w for w in report.warnings)
    assert detected >= 19


def test_weights_that_correct_the_bias_silence_the_warning() -> None:
    rng = np.random.default_rng(2)
    pop = _population(rng, 100_000)
    p_keep = np.where(pop["age"] == "young", 1.0, 1 / 3)
    s = pop.sample(600, weights=p_keep, random_state=3).copy()
    s["w"] = 1 / p_keep[s.index]
    attrs = {k: v for k, v in ATTRS.items() if k != "area"}
    tables = [pop.groupby(c).size().reindex(attrs[c]["levels"], fill_value=0).rename("count").reset_index()
              for c in ("age", "sex")]  # fmt: skip
    weighted = check_study(make_study(attrs, tables, s, weight="w"))
    unweighted = check_study(make_study(attrs, tables, s.drop(columns="w")))
    assert any("unrepresentative on age" in w for w in unweighted.warnings)
    assert not any("unrepresentative on age" in w for w in weighted.warnings)


def _totals_study(total_b: float, **kw):
    attrs = {k: v for k, v in ATTRS.items() if k in ("age", "sex")}
    age = _table(["age"], np.array([300.0, 400.0, 300.0]))
    sex = _table(["sex"], np.array([0.5, 0.5]) * total_b)
    micro = pd.DataFrame({"age": ["young", "old"], "sex": ["m", "f"]})
    return make_study(attrs, [age, sex], micro, **kw)


def test_total_tolerance_rescales_rounded_totals_with_a_warning() -> None:
    with pytest.raises(StudyError, match=r"0\.40% apart.*set total_tolerance"):
        _totals_study(1004.0)
    with pytest.warns(StudyWarning, match=r"rescaled 1 census table\(s\) to the total of marginals\[0\]: marginals\[1\]"):
        study = _totals_study(1004.0, total_tolerance=0.01)
    assert study.marginals[1].counts.tolist() == [500.0, 500.0]
    with pytest.raises(StudyError, match="4.94% apart, more than the tolerance 0.01"):
        _totals_study(1052.0, total_tolerance=0.01)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # equal totals: nothing to say
        _totals_study(1000.0, total_tolerance=0.01)
    with pytest.raises(StudyError, match="total_tolerance = 'x' is not a number"):
        _totals_study(1000.0, total_tolerance="x")


def test_total_tolerance_in_the_toml(tmp_path: Path) -> None:
    from populace.study import load_study

    (tmp_path / "age.csv").write_text("age,count\nyoung,300\nold,700\n")
    (tmp_path / "sex.csv").write_text("sex,count\nm,501\nf,502\n")
    (tmp_path / "s.csv").write_text("age,sex\nyoung,m\nold,f\n")
    toml = """total_tolerance = 0.005
[attributes.age]
type = "ordinal"
levels = ["young", "old"]
[attributes.sex]
type = "nominal"
levels = ["m", "f"]
[[marginals]]
path = "age.csv"
[[marginals]]
path = "sex.csv"
[microdata]
path = "s.csv"
"""
    (tmp_path / "study.toml").write_text(toml)
    with pytest.warns(StudyWarning, match="sex.csv"):
        study = load_study(tmp_path / "study.toml")
    assert study.marginals[1].total == pytest.approx(1000.0)


def test_cli_check_prints_the_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from populace.data import example_study_path

    assert main(["check", str(example_study_path())]) == 0
    out = capsys.readouterr().out
    assert "attributes (what pins each margin):" in out
    assert "partyid (ordinal, 7 levels): census-margin: nationally by census_partyid.csv" in out
    assert main(["check", str(tmp_path / "nope.toml")]) == 2


def test_bias_warnings_are_family_wise_over_many_pinned_attributes() -> None:
    """Six census-pinned attributes of simple random samples: Bonferroni keeps the chance of
    one or more bias warnings at or below BIAS_P (about 0.049 here); testing each attribute
    at BIAS_P would warn 1 - 0.95^6 = 26 % of the time. Over 400 samples, the count above
    0.05 + 4.5 binomial sd (0.099) would say the correction is missing."""
    rng = np.random.default_rng(5)
    size, k = 50_000, 6
    names = [f"x{j}" for j in range(k)]
    pop = pd.DataFrame({c: rng.choice(["a", "b", "c"], size=size, p=[0.2, 0.3, 0.5]) for c in names})
    attrs = {c: {"type": "nominal", "levels": ["a", "b", "c"]} for c in names}
    tables = [pop.groupby(c).size().reindex(["a", "b", "c"], fill_value=0).rename("count").reset_index() for c in names]
    reps, warned = 400, 0
    for _ in range(reps):
        s = pop.sample(200, random_state=int(rng.integers(2**31)))
        warned += any("unrepresentative" in w for w in check_study(make_study(attrs, tables, s)).warnings)
    assert warned / reps <= BIAS_P + 4.5 * np.sqrt(BIAS_P * (1 - BIAS_P) / reps), warned


def _tiny(extra_b_rows: int = 0):
    """Four areas (D without rows, B and C thin), a census cell that the sample says is not
    empty, a biased vote, a survey-only party with missing answers and an unseen level."""
    attributes = {
        "area": {"type": "nominal", "levels": ["A", "B", "C", "D"], "role": "geography"},
        "age": {"type": "ordinal", "levels": ["young", "mid", "old"]},
        "vote": {"type": "nominal", "levels": ["No", "Yes"]},
        "party": {"type": "nominal", "levels": ["D", "R", "I"]},
    }
    area_age = pd.DataFrame({
        "area": np.repeat(["A", "B", "C", "D"], 3),
        "age": ["young", "mid", "old"] * 4,
        "count": [100, 100, 0, 50, 50, 50, 30, 30, 40, 20, 20, 10],
    })  # fmt: skip
    vote = pd.DataFrame({"vote": ["No", "Yes"], "count": [400, 100]})
    micro = pd.DataFrame({
        "area": ["A"] * 7 + ["B"] * 4 + ["C"] + ["B"] * extra_b_rows,
        "age": ["young", "young", "mid", "mid", "mid", "old", "young", "young", "mid", "old", "old", "young"]
        + ["mid"] * extra_b_rows,
        "vote": ["Yes"] * 10 + ["No", "No"] + ["No"] * extra_b_rows,
        "party": ["D", "R", None, "D", "R", "D", None, "R", "D", None, "R", "D"] + ["D"] * extra_b_rows,
        "w": [1.0] * 6 + [3.0] * 6 + [1.0] * extra_b_rows,
    })  # fmt: skip
    return make_study(attributes, [area_age, vote], micro, weight="w", name="tiny")


def test_the_whole_report_of_a_tiny_study_is_what_the_numbers_say() -> None:
    # Every figure below was worked out by hand from _tiny():
    # weights 6 x 1 and 6 x 3: Kish n 24^2 / 60 = 9.6, design effect 12 / 9.6 = 1.25;
    # 4 x 3 x 2 x 3 = 72 cells; area x age cells with people and no row: C mid 30, C old 40,
    # D 20 / 20 / 10, 120 of 500 = 24.0 %; A x old is empty in the census but has row 6;
    # vote No is 6 of 24 weighted (25 %) against 80 %: chi-square 9.6 x 1.890625 = 18.15 on
    # 1 df, p = 2.0e-05 < 0.05 / 2 (age is tested too: p = 0.60); party is seen in rows of
    # weight 17 of 24, 17 x 9.6 / 24 = 6.8 effective rows; B has 4 rows and C 1 (< 5).
    expected = """\
study tiny

attributes (what pins each margin):
  area (nominal, 4 levels): geography; area sizes from census area x age
  age (ordinal, 3 levels): census-pinned: per area by census area x age; other dependence learned from the sample
  vote (nominal, 2 levels): census-margin: nationally by census vote; other dependence learned from the sample; its areas differ by partially pooled area effects
  party (nominal, 3 levels): survey-only: no census table, margin and dependence learned from the sample only; its areas differ by partially pooled area effects

sample:
  rows 12 (9 complete), Kish effective n 9.6 (design effect 1.25 from the weights)
  joint cells 72; sample rows per cell 0.167

census cells and areas with no sample row:
  1 of 4 areas have no sample row: D
  census area x age: 5 of 12 cells (24.0% of the population) have no sample row; largest: area=C x age=old; area=C x age=mid; area=D x age=young

warnings (6):
  - party is missing in 25% of the sample rows that asked it; its dependence rests on the other 75% (missing at random is assumed).
  - party: level(s) 'I' never occur in the sample, so how they relate to the other attributes comes from the prior alone.
  - the sample is unrepresentative on vote (chi-square p = 2e-05 on the effective n, below 0.05/2, Bonferroni over the census-pinned attributes): 'No' is 25.0% of the weighted sample but 80.0% of the census. The census pins the margin, but dependence learned from such a sample can be biased too; use weights that correct it if you have them.
  - party has no census table: its population shares come from 7 effective sample rows, so a biased sample biases them directly.
  - 2 areas have fewer than 5 sample rows (e.g. B: 4, C: 1); their attitudes follow their census composition, with little from their own rows.
  - census area x age: 1 sample rows fall in cells the census says are empty; the model gives those cells no population, so check the coding of both files.
"""
    assert str(check_study(_tiny())) == expected


def test_an_area_with_exactly_the_threshold_of_rows_is_not_thin() -> None:
    report = check_study(_tiny(extra_b_rows=1))  # B now has 5 rows
    thin = [w for w in report.warnings if "areas have fewer than" in w]
    assert thin == ["1 areas have fewer than 5 sample rows (e.g. C: 1); their attitudes follow their census composition, with little from their own rows."]


def test_the_whole_report_of_two_surveys_and_a_noisy_table_is_what_the_numbers_say() -> None:
    # Worked out by hand: source A's weights 1, 1, 1, 9 give Kish n 144 / 84 = 1.71, source
    # B's 1, 1, 20 give 484 / 402 = 1.20; together 2.92 of 7 rows (design effect 2.40, under
    # half: the warning); no row is complete (A lacks party and faith, B lacks vote); 2^4 = 16
    # cells; the age table's relative se are 5 / 50 and 20 / 50 (median 25 %, none above
    # 40 %); vote never meets party or faith in a row; age is tested (weighted shares 0.12 /
    # 0.88 against 0.5 / 0.5 on 2.92 effective rows: chi-square 1.72, p = 0.19, no warning).
    attributes = {
        "age": {"type": "ordinal", "levels": ["young", "old"]},
        "vote": {"type": "nominal", "levels": ["No", "Yes"]},
        "party": {"type": "nominal", "levels": ["D", "R"]},
        "faith": {"type": "nominal", "levels": ["low", "high"]},
    }
    age = pd.DataFrame({"age": ["young", "old"], "count": [50.0, 50.0], "se": [5.0, 20.0]})
    a = pd.DataFrame({"age": ["young", "old", "young", "old"], "vote": ["No", "Yes", "Yes", "No"], "w": [1.0, 1.0, 1.0, 9.0]})
    b = pd.DataFrame({"age": ["young", "old", "old"], "party": ["D", "R", "D"], "faith": ["low", "high", "high"], "v": [1.0, 1.0, 20.0]})
    study = make_study(
        attributes, [age], {"A": a, "B": b}, weight={"A": "w", "B": "v"},
        measured={"A": ["age", "vote"], "B": ["age", "party", "faith"]}, name="two",
    )  # fmt: skip
    expected = """\
study two

attributes (what pins each margin):
  age (ordinal, 2 levels): census-margin: nationally by census age; other dependence learned from the sample
  vote (nominal, 2 levels): survey-only: no census table, margin and dependence learned from the sample only
  party (nominal, 2 levels): survey-only: no census table, margin and dependence learned from the sample only
  faith (nominal, 2 levels): survey-only: no census table, margin and dependence learned from the sample only

census tables with stated error (measurements: generation draws them, so intervals include the error):
  census age: 2 of 2 cells with error; median relative se 25.0%, 0% of cells above 40 % (unreliable)

sample:
  rows 7 (0 complete), Kish effective n 2.9 (design effect 2.40 from the weights)
  joint cells 16; sample rows per cell 0.438
  source A: rows 4, Kish effective n 1.7, measured age, vote
  source B: rows 3, Kish effective n 1.2, measured age, party, faith

pairs no survey observes together (their dependence comes from the model's structure alone):
  vote x party
  vote x faith

census cells and areas with no sample row:
  none

warnings (3):
  - 2 attribute pair(s) are observed together by no survey and held by no census table (e.g. vote x party): their dependence is an assumption of the model (the shared factors), and their intervals are wider.
  - the weights halve the information: Kish effective n 3 of 7 rows. Check extreme weights.
  - vote, party, faith have no census table: their population shares come from 2 and 1 and 1 effective sample rows respectively, so a biased sample biases them directly.
"""
    assert str(check_study(study)) == expected
