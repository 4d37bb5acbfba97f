"""Census tables with stated error: se / moe columns, noise_sd, and their reconciliation."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from populace.errors import StudyError, StudyWarning
from populace.study import load_study, make_study
from populace.study.marginals import MOE_Z
from populace.study.reconcile import reconcile
from populace.study.serialize import study_from_dict, study_to_dict
from populace.study.spec import Marginal

ATTRS = {
    "area": {"type": "nominal", "levels": ["a", "b"], "role": "geography"},
    "age": {"type": "ordinal", "levels": ["young", "old"]},
}
TOML = """\
[attributes.area]
type = "nominal"
levels = ["a", "b"]
role = "geography"

[attributes.age]
type = "ordinal"
levels = ["young", "old"]

[[marginals]]
path = "area_age.csv"
noise_sd = 5.0

[[marginals]]
path = "age.csv"

[microdata]
path = "sample.csv"
"""
AREA_AGE = "area,age,count\na,young,302\na,old,197\nb,young,-3\nb,old,503\n"


def write(tmp_path: Path, toml: str = TOML, area_age: str = AREA_AGE) -> Path:
    (tmp_path / "area_age.csv").write_text(area_age)
    (tmp_path / "age.csv").write_text("age,count\nyoung,300\nold,700\n")
    (tmp_path / "sample.csv").write_text("area,age\na,young\nb,old\n")
    (tmp_path / "study.toml").write_text(toml)
    return tmp_path / "study.toml"


def _frame(**cols) -> pd.DataFrame:
    return pd.DataFrame({"area": ["a", "a", "b", "b"], "age": ["young", "old"] * 2, **cols})


def test_noise_sd_gives_every_cell_its_se_and_allows_raw_negative_counts(tmp_path: Path) -> None:
    with pytest.warns(StudyWarning, match="disagree by up to"):
        study = load_study(write(tmp_path))
    m = study.marginals[0]
    np.testing.assert_array_equal(m.se, np.full((2, 2), 5.0))
    assert m.counts[1, 0] == -3  # a noisy measurement, kept as published
    assert study.marginals[1].se is None


def test_moe_is_a_90_percent_margin_and_se_a_standard_error() -> None:
    micro = pd.DataFrame({"area": ["a"], "age": ["young"]})
    counts = [300, 200, 100, 400]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StudyWarning)
        by_moe = make_study(ATTRS, [_frame(count=counts, moe=[16.45, 8.225, 0, 32.9])], micro)
        by_se = make_study(ATTRS, [_frame(count=counts, se=[10, 5, 0, 20])], micro)
    np.testing.assert_allclose(by_moe.marginals[0].se, by_se.marginals[0].se)
    np.testing.assert_allclose(by_moe.marginals[0].se.ravel(), np.array([16.45, 8.225, 0, 32.9]) / MOE_Z)


@pytest.mark.parametrize(
    "cols, says, row, column",
    [
        ({"moe": [10, -1, 3, 4]}, "the 90 % margin of error -1 is negative", 3, "moe"),
        ({"se": [10, None, 3, 4]}, "the standard error is empty", 3, "se"),
        ({"se": [10, "x", 3, 4]}, "the standard error is not a number", 3, "se"),
        ({"se": [1, 1, 1, 1], "moe": [1, 1, 1, 1]}, "states its error twice", 1, None),
    ],
)
def test_bad_errors_name_the_row_and_column(cols: dict, says: str, row: int, column: str | None) -> None:
    with pytest.raises(StudyError) as err:
        make_study(ATTRS, [_frame(count=[300, 200, 100, 400], **cols)], pd.DataFrame({"area": ["a"], "age": ["young"]}))
    assert says in str(err.value) and err.value.row == row and err.value.column == column


def test_an_exact_table_keeps_refusing_negative_counts() -> None:
    with pytest.raises(StudyError, match="is negative"):
        make_study(ATTRS, [_frame(count=[300, 200, -1, 400])], pd.DataFrame({"area": ["a"], "age": ["young"]}))


@pytest.mark.parametrize("value, line", [("-2.0", 12), ('"big"', 12), ("0", 12)])
def test_a_bad_noise_sd_is_named_with_its_line(tmp_path: Path, value: str, line: int) -> None:
    with pytest.raises(StudyError, match="noise_sd") as err:
        load_study(write(tmp_path, TOML.replace("noise_sd = 5.0", f"noise_sd = {value}")))
    assert err.value.row == line and Path(err.value.file).name == "study.toml"


def test_noise_sd_and_an_se_column_together_are_refused(tmp_path: Path) -> None:
    with pytest.raises(StudyError, match="states its error twice"):
        load_study(write(tmp_path, area_age="area,age,count,se\na,young,302,1\na,old,197,1\nb,young,0,1\nb,old,503,1\n"))


def test_tables_that_disagree_beyond_their_error_name_both_files(tmp_path: Path) -> None:
    # young: 302 + 60 = 362 against the exact 300, with se 5 * sqrt(2) = 7.1 (8.8 standard errors).
    with pytest.raises(StudyError, match=r"area_age.csv and .*age.csv disagree on age=young by 8.8 standard errors") as err:
        load_study(write(tmp_path, area_age=AREA_AGE.replace("b,young,-3", "b,young,60")))
    assert "same population" in str(err.value)


def _two_by_two(se: float) -> list[Marginal]:
    """Exact area and age margins around a noisy area x age table: one degree of freedom."""
    return [
        Marginal(("area",), np.array([500.0, 500.0])),
        Marginal(("age",), np.array([300.0, 700.0])),
        Marginal(("area", "age"), np.array([[160.0, 330.0], [150.0, 360.0]]), "t", np.full((2, 2), se)),
    ]


def test_the_reconciled_mean_meets_every_exact_table() -> None:
    t = reconcile(_two_by_two(10.0))[2].counts
    np.testing.assert_allclose(t.sum(axis=1), [500, 500])
    np.testing.assert_allclose(t.sum(axis=0), [300, 700])
    # The one free direction [[1, -1], [-1, 1]] is fitted by least squares: d = (160 - 330 - 150 + 360) / 4.
    d = (160 - 330 - 150 + 360) / 4
    np.testing.assert_allclose(t, [[150 + d, 350 - d], [150 - d, 350 + d]])


def test_draws_have_the_conditional_gaussian_spread() -> None:
    # With equal se s per cell, the free direction's coefficient has sd s / 2, so each cell has sd s / 2.
    rng = np.random.default_rng(0)
    n, s = 4000, 10.0
    draws = np.array([reconcile(_two_by_two(s), rng=rng)[2].counts for _ in range(n)])
    sd = draws[:, 0, 0].std(ddof=1)
    # Monte-Carlo error of a normal sd: sd / sqrt(2 (n - 1)); five of them.
    assert abs(sd - s / 2) < 5 * (s / 2) / np.sqrt(2 * (n - 1)), sd
    assert abs(draws[:, 0, 0].mean() - reconcile(_two_by_two(s))[2].counts[0, 0]) < 5 * (s / 2) / np.sqrt(n)
    np.testing.assert_allclose(draws.sum(axis=2), 500.0)


def test_draws_never_go_below_zero_and_still_agree() -> None:
    tables = [Marginal(("age",), np.array([30.0, 70.0])), Marginal(("area", "age"), np.array([[-4.0, 40.0], [31.0, 29.0]]), "t", np.full((2, 2), 8.0))]
    rng = np.random.default_rng(1)
    for _ in range(200):
        t = reconcile(tables, rng=rng)[1].counts
        assert (t >= 0).all()
        np.testing.assert_allclose(t.sum(axis=0), [30, 70], atol=1e-6)


def test_without_stated_error_reconcile_is_the_identity_and_draws_nothing() -> None:
    tables = _two_by_two(10.0)[:2]
    rng = np.random.default_rng(2)
    state = json.dumps(rng.bit_generator.state)
    assert reconcile(tables, rng=rng) == tuple(tables)
    assert json.dumps(rng.bit_generator.state) == state  # exact studies generate what they did before


def test_standard_errors_round_trip_through_the_fit_file_form(tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StudyWarning)
        study = load_study(write(tmp_path))
    back = study_from_dict(json.loads(json.dumps(study_to_dict(study))))
    np.testing.assert_array_equal(back.marginals[0].se, study.marginals[0].se)
    assert back.marginals[1].se is None


def test_check_lists_the_tables_with_error(tmp_path: Path) -> None:
    from populace.study.check import check_study

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StudyWarning)
        report = check_study(load_study(write(tmp_path)))
    assert report.noisy_tables == ["  area_age.csv: 4 of 4 cells with error; median relative se 1.7%, 0% of cells above 40 % (unreliable)"]
    assert "census tables with stated error" in str(report)


def test_exact_tables_still_agree_on_the_total_when_a_noisy_table_comes_first() -> None:
    micro = pd.DataFrame({"area": ["a"], "age": ["young"]})
    noisy = _frame(count=[300, 200, 100, 400], se=[5, 5, 5, 5])
    age = pd.DataFrame({"age": ["young", "old"], "count": [400, 600]})
    area = pd.DataFrame({"area": ["a", "b"], "count": [550, 550]})  # 1,100 against 1,000
    with pytest.raises(StudyError, match="disagree on the population size"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", StudyWarning)
            make_study(ATTRS, [noisy, age, area], micro)
