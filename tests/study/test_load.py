"""Loading a valid study gives the expected arrays."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from populace.study import Attribute, Study, load_study, make_study

TOML = """\
[attributes.age]
type = "ordinal"
levels = ["18-29", "30-44", "45+"]

[attributes.sex]
type = "nominal"
levels = ["Male", "Female"]

[attributes.state]
type = "nominal"
levels = ["Alabama", "Alaska"]
role = "geography"

[[marginals]]
path = "census_state__age.csv"

[[marginals]]
path = "census_sex.csv"

[microdata]
path = "sample.csv"
weight = "weight"
"""

# Columns deliberately in a different order from the attribute declarations.
STATE_AGE = """\
state,age,count
Alabama,18-29,10
Alabama,30-44,20
Alabama,45+,30
Alaska,18-29,5
Alaska,30-44,15
Alaska,45+,20
"""

SEX = "sex,count\nMale,48\nFemale,52.0\n"

SAMPLE = """\
sex,weight,age,state
Female,2.5,30-44,Alaska
Male,1,,Alabama
,4,45+,
"""


def write(tmp_path: Path, *, toml: str = TOML, sample: str = SAMPLE, name: str = "toy_study.toml") -> Path:
    (tmp_path / "census_state__age.csv").write_text(STATE_AGE, encoding="utf-8")
    (tmp_path / "census_sex.csv").write_text(SEX, encoding="utf-8")
    (tmp_path / "sample.csv").write_text(sample, encoding="utf-8")
    path = tmp_path / name
    path.write_text(toml, encoding="utf-8")
    return path


@pytest.fixture
def study(tmp_path: Path) -> Study:
    return load_study(write(tmp_path))


def test_attributes(study: Study) -> None:
    assert study.names == ("age", "sex", "state")
    assert study.attribute("age") == Attribute("age", "ordinal", ("18-29", "30-44", "45+"))
    assert study.geography is not None and study.geography.name == "state"
    assert study.attribute("sex").role is None


def test_default_name_is_file_stem(study: Study) -> None:
    assert study.name == "toy_study"


def test_name_from_toml(tmp_path: Path) -> None:
    assert load_study(write(tmp_path, toml='name = "mine"\n' + TOML)).name == "mine"


def test_marginals_keep_table_column_order(study: Study) -> None:
    state_age, sex = study.marginals
    assert state_age.attributes == ("state", "age")
    assert state_age.counts.dtype == np.float64
    np.testing.assert_array_equal(state_age.counts, [[10, 20, 30], [5, 15, 20]])
    assert state_age.source == "census_state__age.csv"
    np.testing.assert_array_equal(sex.counts, [48, 52])
    assert sex.total == 100.0


def test_microdata_codes_in_study_order(study: Study) -> None:
    md = study.microdata
    assert md.codes.shape == (3, 3)
    assert np.issubdtype(md.codes.dtype, np.integer)
    np.testing.assert_array_equal(md.codes, [[1, 1, 1], [-1, 0, 0], [2, -1, -1]])
    np.testing.assert_array_equal(md.weights, [2.5, 1.0, 4.0])
    assert md.weights.dtype == np.float64
    assert md.weight_column == "weight" and md.source == "sample.csv"


def test_no_weight_column_gives_ones(tmp_path: Path) -> None:
    sample = "age,sex,state\n18-29,Male,Alaska\n45+,Female,\n"
    study = load_study(write(tmp_path, toml=TOML.replace('weight = "weight"\n', ""), sample=sample))
    np.testing.assert_array_equal(study.microdata.weights, [1.0, 1.0])
    assert study.microdata.weight_column is None


def test_no_marginals_is_allowed(tmp_path: Path) -> None:
    toml = TOML.replace('[[marginals]]\npath = "census_state__age.csv"\n\n', "").replace(
        '[[marginals]]\npath = "census_sex.csv"\n\n', ""
    )
    assert load_study(write(tmp_path, toml=toml)).marginals == ()


def test_text_that_looks_like_missing_is_a_level(tmp_path: Path) -> None:
    # Only truly empty cells are missing: "NA" is an ordinary level.
    toml = TOML.replace('["Male", "Female"]', '["Male", "Female", "NA"]')
    sex = "sex,count\nMale,48\nFemale,50\nNA,2\n"
    path = write(tmp_path, toml=toml, sample="age,sex,state,weight\n18-29,NA,Alaska,1\n")
    (tmp_path / "census_sex.csv").write_text(sex, encoding="utf-8")
    study = load_study(path)
    assert study.microdata.codes[0].tolist() == [0, 2, 1]


def test_byte_order_mark_and_trailing_blank_lines(tmp_path: Path) -> None:
    path = write(tmp_path, sample="\ufeff" + SAMPLE + "\n\n")
    assert load_study(path).microdata.n_rows == 3


def test_make_study_matches_load_study(study: Study) -> None:
    attributes = {
        "age": {"type": "ordinal", "levels": ["18-29", "30-44", "45+"]},
        "sex": {"type": "nominal", "levels": ["Male", "Female"]},
        "state": {"type": "nominal", "levels": ["Alabama", "Alaska"], "role": "geography"},
    }
    state_age = pd.DataFrame(
        {
            "state": ["Alabama"] * 3 + ["Alaska"] * 3,
            "age": ["18-29", "30-44", "45+"] * 2,
            "count": [10, 20, 30, 5, 15, 20],
        }
    )
    sex = pd.DataFrame({"sex": ["Male", "Female"], "count": [48.0, 52.0]})
    micro = pd.DataFrame(
        {
            "age": ["30-44", None, "45+"],
            "sex": ["Female", "Male", np.nan],
            "state": ["Alaska", "Alabama", ""],
            "weight": [2.5, 1, 4],
        }
    )
    made = make_study(attributes, [state_age, sex], micro, weight="weight", name="toy_study")
    assert made.attributes == study.attributes and made.name == study.name
    for a, b in zip(made.marginals, study.marginals):
        assert a.attributes == b.attributes
        np.testing.assert_array_equal(a.counts, b.counts)
    np.testing.assert_array_equal(made.microdata.codes, study.microdata.codes)
    np.testing.assert_array_equal(made.microdata.weights, study.microdata.weights)


def test_make_study_accepts_attribute_objects() -> None:
    attributes = [Attribute("x", "nominal", ("a", "b")), Attribute("y", "ordinal", ("1", "2", "3"))]
    micro = pd.DataFrame({"x": ["a", "b"], "y": [1, 3]})  # ints match levels as text
    study = make_study(attributes, [], micro)
    assert study.names == ("x", "y") and study.name == "study"
    np.testing.assert_array_equal(study.microdata.codes, [[0, 0], [1, 2]])


@pytest.mark.parametrize(
    "old, new, name, header",
    [
        ('[microdata]\npath = "sample.csv"\nweight = "weight"\n', 'microdata = "sample.csv"\n', "microdata", "[microdata]"),
        ('[[marginals]]\npath = "census_state__age.csv"\n\n[[marginals]]\npath = "census_sex.csv"\n', 'marginals = ["census_sex.csv"]\n',
         "[[marginals]] entry 1", "[[marginals]]"),
        ("", 'areas = 3\n', "areas", "[areas]"),
    ],
)
def test_an_entry_that_is_not_a_table_is_named_with_its_fix(tmp_path: Path, old: str, new: str, name: str, header: str) -> None:
    from populace.errors import StudyError

    toml = new + (TOML.replace(old, "") if old else TOML)  # top-level keys come before the tables
    with pytest.raises(StudyError, match=re.escape(name) + r" is a \w+, not a table") as err:
        load_study(write(tmp_path, toml=toml))
    assert f"Write it as {header} followed by path" in str(err.value)
