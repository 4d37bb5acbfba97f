"""Every bad input raises one StudyError naming the file, line and column."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from populace.errors import StudyError
from populace.study import load_study, make_study

TOML = """\
name = "toy"

[attributes.age]
type = "ordinal"
levels = ["young", "old"]

[attributes.sex]
type = "nominal"
levels = ["M", "F"]

[attributes.region]
type = "nominal"
levels = ["N", "S"]
role = "geography"

[[marginals]]
path = "age.csv"

[[marginals]]
path = "age_sex.csv"

[microdata]
path = "sample.csv"
weight = "w"
"""

FILES = {
    "study.toml": TOML,
    "age.csv": "age,count\nyoung,60\nold,40\n",
    "age_sex.csv": "age,sex,count\nyoung,M,30\nyoung,F,30\nold,M,20\nold,F,20\n",
    "sample.csv": "age,sex,region,w\nyoung,M,N,1.5\nold,,S,2\n,F,N,1\n",
}


def write(tmp_path: Path, **files: str) -> Path:
    """Write the valid toy study with some files replaced; return the TOML path."""
    for name, text in {**FILES, **{k.replace("__", "."): v for k, v in files.items()}}.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path / "study.toml"


def toml(old: str, new: str) -> str:
    """The toy TOML with one piece of text replaced."""
    assert old in TOML
    return TOML.replace(old, new)


def error(path: Path) -> StudyError:
    with pytest.raises(StudyError) as info:
        load_study(path)
    return info.value


def test_valid_toy_study_loads(tmp_path: Path) -> None:
    assert load_study(write(tmp_path)).name == "toy"


# --- the TOML file ---------------------------------------------------------


def test_toml_syntax_error_gives_line(tmp_path: Path) -> None:
    err = error(write(tmp_path, study__toml=toml('type = "nominal"\nlevels = ["M"', 'type = nominal\nlevels = ["M"')))
    assert err.file.endswith("study.toml")
    assert err.row == 8
    assert "TOML syntax error" in str(err)


def test_unknown_top_level_key(tmp_path: Path) -> None:
    err = error(write(tmp_path, study__toml='title = "x"\n' + TOML))
    assert err.row == 1
    assert "'title'" in str(err) and "name, total_tolerance, attributes, marginals, microdata" in str(err)


def test_unknown_attribute_key(tmp_path: Path) -> None:
    err = error(write(tmp_path, study__toml=toml('role = "geography"', 'role = "geography"\nlabel = "Region"')))
    assert err.file.endswith("study.toml") and err.row == 15
    assert "'label'" in str(err) and "type, levels, role" in str(err)


def test_unknown_marginal_key(tmp_path: Path) -> None:
    err = error(write(tmp_path, study__toml=toml('path = "age.csv"', 'path = "age.csv"\nweight = "w"')))
    assert err.row == 18 and "[[marginals]] entry 1" in str(err) and "allowed keys are path" in str(err)


def test_unknown_microdata_key(tmp_path: Path) -> None:
    err = error(write(tmp_path, study__toml=toml('weight = "w"', 'weights = "w"')))
    assert err.row == 24 and "'weights'" in str(err) and "path, weight" in str(err)


def test_missing_type(tmp_path: Path) -> None:
    err = error(write(tmp_path, study__toml=toml('type = "ordinal"\n', "")))
    assert err.row == 3 and "'age' has no 'type'" in str(err)


def test_missing_levels(tmp_path: Path) -> None:
    err = error(write(tmp_path, study__toml=toml('levels = ["young", "old"]\n', "")))
    assert err.row == 3 and "has no 'levels'" in str(err)


def test_bad_type(tmp_path: Path) -> None:
    err = error(write(tmp_path, study__toml=toml('type = "ordinal"', 'type = "ordered"')))
    assert err.row == 4 and "'ordered'" in str(err) and "Fix:" in str(err)


def test_bad_role(tmp_path: Path) -> None:
    err = error(write(tmp_path, study__toml=toml('role = "geography"', 'role = "area"')))
    assert err.row == 14 and "'area'" in str(err)


def test_duplicate_levels(tmp_path: Path) -> None:
    err = error(write(tmp_path, study__toml=toml('["M", "F"]', '["M", "F", "M"]')))
    assert err.row == 9 and "'M' twice" in str(err)


def test_too_few_levels(tmp_path: Path) -> None:
    err = error(write(tmp_path, study__toml=toml('["M", "F"]', '["M"]')))
    assert err.row == 9 and "at least 2" in str(err)


def test_levels_must_be_strings(tmp_path: Path) -> None:
    err = error(write(tmp_path, study__toml=toml('["M", "F"]', "[1, 2]")))
    assert err.row == 9 and "not a string" in str(err)


def test_two_geographies(tmp_path: Path) -> None:
    err = error(write(tmp_path, study__toml=toml('levels = ["M", "F"]', 'levels = ["M", "F"]\nrole = "geography"')))
    assert "at most one" in str(err) and "'sex'" in str(err) and "'region'" in str(err)


def test_no_attributes(tmp_path: Path) -> None:
    body = 'name = "toy"\n[microdata]\npath = "sample.csv"\n'
    err = error(write(tmp_path, study__toml=body))
    assert "no attributes" in str(err) and err.file.endswith("study.toml")


def test_attribute_named_count(tmp_path: Path) -> None:
    err = error(write(tmp_path, study__toml=toml("[attributes.sex]", "[attributes.count]")))
    assert err.row == 7 and "reserved" in str(err)


def test_missing_microdata_table(tmp_path: Path) -> None:
    body = TOML[: TOML.index("[microdata]")]
    err = error(write(tmp_path, study__toml=body))
    assert "no [microdata]" in str(err)


def test_marginals_written_as_table(tmp_path: Path) -> None:
    body = toml('[[marginals]]\npath = "age_sex.csv"\n\n', "").replace("[[marginals]]", "[marginals]")
    err = error(write(tmp_path, study__toml=body))
    assert "array of tables" in str(err)


def test_missing_marginal_file(tmp_path: Path) -> None:
    err = error(write(tmp_path, study__toml=toml('"age.csv"', '"agee.csv"')))
    assert err.file.endswith("study.toml") and err.row == 17
    assert "agee.csv" in str(err) and "does not exist" in str(err)


def test_missing_microdata_file(tmp_path: Path) -> None:
    err = error(write(tmp_path, study__toml=toml('"sample.csv"', '"nope.csv"')))
    assert err.row == 23 and "nope.csv" in str(err)


def test_weight_named_like_attribute(tmp_path: Path) -> None:
    err = error(write(tmp_path, study__toml=toml('weight = "w"', 'weight = "sex"')))
    assert err.row == 24 and "also a declared attribute" in str(err)


# --- census tables ---------------------------------------------------------


def test_marginal_empty_file(tmp_path: Path) -> None:
    err = error(write(tmp_path, age__csv=""))
    assert err.file.endswith("age.csv") and "empty" in str(err)


def test_marginal_header_only(tmp_path: Path) -> None:
    err = error(write(tmp_path, age__csv="age,count\n"))
    assert err.file.endswith("age.csv") and "no rows" in str(err)


def test_marginal_missing_count_column(tmp_path: Path) -> None:
    err = error(write(tmp_path, age__csv="age,n\nyoung,60\nold,40\n"))
    assert err.file.endswith("age.csv") and err.column == "n" and "undeclared column" in str(err)
    err = error(write(tmp_path, age__csv="age\nyoung\nold\n"))
    assert err.row == 1 and "no 'count' column" in str(err)


def test_marginal_undeclared_column(tmp_path: Path) -> None:
    err = error(write(tmp_path, age__csv="age,income,count\nyoung,low,60\nold,low,40\n"))
    assert err.row == 1 and err.column == "income" and "undeclared column" in str(err)


def test_marginal_duplicate_header(tmp_path: Path) -> None:
    err = error(write(tmp_path, age__csv="age,age,count\nyoung,young,60\nold,old,40\n"))
    assert err.row == 1 and err.column == "age" and "twice" in str(err)


def test_marginal_undeclared_level(tmp_path: Path) -> None:
    err = error(write(tmp_path, age_sex__csv="age,sex,count\nyoung,M,30\nyoung,F,30\nold,Male,20\nold,F,20\n"))
    assert err.file.endswith("age_sex.csv") and err.row == 4 and err.column == "sex"
    assert "undeclared level 'Male'" in str(err) and "'M', 'F'" in str(err)


def test_marginal_level_hint_for_case(tmp_path: Path) -> None:
    err = error(write(tmp_path, age__csv="age,count\nYoung,60\nold,40\n"))
    assert err.row == 2 and "did you mean 'young'" in str(err)


def test_marginal_empty_level(tmp_path: Path) -> None:
    err = error(write(tmp_path, age__csv="age,count\n,60\nold,40\n"))
    assert err.row == 2 and err.column == "age" and "empty" in str(err)


@pytest.mark.parametrize(
    ("cell", "what"),
    [("", "empty"), ("sixty", "not a number"), ("-60", "negative"), ("60.5", "not a whole number"), ("inf", "not finite")],
)
def test_marginal_bad_count(tmp_path: Path, cell: str, what: str) -> None:
    err = error(write(tmp_path, age__csv=f"age,count\nyoung,40\nold,{cell}\n"))
    assert err.file.endswith("age.csv") and err.row == 3 and err.column == "count"
    assert what in str(err)


def test_marginal_integral_float_count_is_fine(tmp_path: Path) -> None:
    study = load_study(write(tmp_path, age__csv="age,count\nyoung,60.0\nold,40\n"))
    assert study.marginals[0].counts.tolist() == [60.0, 40.0]


def test_marginal_duplicate_cell_names_both_lines(tmp_path: Path) -> None:
    text = "age,sex,count\nyoung,M,30\nyoung,F,30\nold,M,20\nyoung,M,0\nold,F,20\n"
    err = error(write(tmp_path, age_sex__csv=text))
    assert err.row == 5 and "line 2" in str(err) and "duplicate cell" in str(err)


def test_marginal_missing_combination(tmp_path: Path) -> None:
    err = error(write(tmp_path, age_sex__csv="age,sex,count\nyoung,M,30\nyoung,F,30\nold,M,40\n"))
    assert err.file.endswith("age_sex.csv")
    assert "age='old', sex='F'" in str(err) and "'old,F,0'" in str(err)


def test_marginal_blank_line_in_middle(tmp_path: Path) -> None:
    err = error(write(tmp_path, age__csv="age,count\nyoung,60\n\nold,40\n"))
    assert err.row == 3 and "empty" in str(err)


def test_marginal_ragged_row(tmp_path: Path) -> None:
    err = error(write(tmp_path, age__csv="age,count\nyoung,60\nold,40,3\n"))
    assert err.row == 3 and "not valid CSV" in str(err)


def test_first_row_wider_than_the_header(tmp_path: Path) -> None:
    # pandas would only warn and drop the extra cell (found by the study fuzzer)
    err = error(write(tmp_path, age__csv="age,count\nyoung,60,3\nold,40\n"))
    assert err.row == 2 and "line 2 has 3 cells, the header 2" in str(err)


def test_marginal_zero_total(tmp_path: Path) -> None:
    body = toml('[[marginals]]\npath = "age_sex.csv"\n', "")
    err = error(write(tmp_path, study__toml=body, age__csv="age,count\nyoung,0\nold,0\n"))
    assert err.file.endswith("age.csv") and "every count is 0" in str(err)


def test_marginal_totals_disagree(tmp_path: Path) -> None:
    err = error(write(tmp_path, age_sex__csv="age,sex,count\nyoung,M,60\nyoung,F,60\nold,M,40\nold,F,40\n"))
    text = str(err)
    assert err.file.endswith("age_sex.csv") and "age.csv" in text
    assert "100" in text and "200" in text


def test_marginal_totals_within_tolerance(tmp_path: Path) -> None:
    # 60000/40000 vs 30020/30000/20000/20000: total off by 2e-4, shares by 1e-4.
    big = "age,count\nyoung,60000\nold,40000\n"
    cross = "age,sex,count\nyoung,M,30020\nyoung,F,30000\nold,M,20000\nold,F,20000\n"
    load_study(write(tmp_path, age__csv=big, age_sex__csv=cross))


def test_marginal_one_d_margins_disagree(tmp_path: Path) -> None:
    err = error(write(tmp_path, age_sex__csv="age,sex,count\nyoung,M,25\nyoung,F,25\nold,M,25\nold,F,25\n"))
    text = str(err)
    assert err.column == "age" and "age.csv" in text and "age_sex.csv" in text
    assert "0.6000" in text and "0.5000" in text


# --- microdata -------------------------------------------------------------


def test_microdata_empty_file(tmp_path: Path) -> None:
    err = error(write(tmp_path, sample__csv="\n"))
    assert err.file.endswith("sample.csv") and "empty" in str(err)


def test_microdata_no_rows(tmp_path: Path) -> None:
    err = error(write(tmp_path, sample__csv="age,sex,region,w\n"))
    assert err.file.endswith("sample.csv") and "no rows" in str(err)


def test_microdata_missing_attribute_column(tmp_path: Path) -> None:
    err = error(write(tmp_path, sample__csv="age,sex,w\nyoung,M,1\n"))
    assert err.row == 1 and "'region'" in str(err) and "empty" in str(err)


def test_microdata_undeclared_column(tmp_path: Path) -> None:
    err = error(write(tmp_path, sample__csv="age,sex,region,w,id\nyoung,M,N,1,7\n"))
    assert err.row == 1 and err.column == "id" and "undeclared column" in str(err)


def test_microdata_undeclared_level(tmp_path: Path) -> None:
    err = error(write(tmp_path, sample__csv="age,sex,region,w\nyoung,M,N,1\nold,M,East,1\n"))
    assert err.file.endswith("sample.csv") and err.row == 3 and err.column == "region"
    assert "undeclared level 'East'" in str(err)


def test_microdata_weight_column_absent(tmp_path: Path) -> None:
    err = error(write(tmp_path, sample__csv="age,sex,region\nyoung,M,N\n"))
    assert err.row == 1 and "'w'" in str(err)


@pytest.mark.parametrize(
    ("cell", "what"),
    [("", "empty"), ("heavy", "not a number"), ("-1", "not positive"), ("0", "not positive"), ("inf", "not finite")],
)
def test_microdata_bad_weight(tmp_path: Path, cell: str, what: str) -> None:
    err = error(write(tmp_path, sample__csv=f"age,sex,region,w\nyoung,M,N,1\nold,F,S,{cell}\n"))
    assert err.file.endswith("sample.csv") and err.row == 3 and err.column == "w"
    assert what in str(err)


def test_microdata_row_all_missing(tmp_path: Path) -> None:
    err = error(write(tmp_path, sample__csv="age,sex,region,w\nyoung,M,N,1\n,,,2\n"))
    assert err.row == 3 and "every attribute is missing" in str(err)


# --- the Python path runs the same checks ------------------------------------


def _frames() -> tuple[dict, list[pd.DataFrame], pd.DataFrame]:
    attributes = {
        "age": {"type": "ordinal", "levels": ["young", "old"]},
        "sex": {"type": "nominal", "levels": ["M", "F"]},
    }
    marginal = pd.DataFrame({"age": ["young", "old"], "count": [60, 40]})
    micro = pd.DataFrame({"age": ["young", "old", None], "sex": ["M", "X", "F"]})
    return attributes, [marginal], micro


def test_make_study_reports_same_error_as_csv() -> None:
    attributes, marginals, micro = _frames()
    with pytest.raises(StudyError) as info:
        make_study(attributes, marginals, micro)
    err = info.value
    assert err.file == "microdata" and err.row == 3 and err.column == "sex"
    assert "undeclared level 'X'" in str(err)


def test_make_study_checks_attribute_declarations() -> None:
    _, marginals, micro = _frames()
    with pytest.raises(StudyError, match="unknown key 'lvls'"):
        make_study({"age": {"type": "ordinal", "lvls": ["a", "b"]}}, marginals, micro)


def test_make_study_rejects_non_frames() -> None:
    attributes, marginals, micro = _frames()
    with pytest.raises(StudyError, match="not a pandas DataFrame"):
        make_study(attributes, marginals, micro.to_dict())


def test_attributes_written_as_array(tmp_path: Path) -> None:
    body = '[[attributes]]\ntype = "nominal"\n[microdata]\npath = "sample.csv"\n'
    err = error(write(tmp_path, study__toml=body))
    assert err.row == 1 and "[attributes.<name>]" in str(err)
