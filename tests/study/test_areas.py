"""The area table: area-level predictors load, round-trip, and bad ones are named."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from populace.errors import StudyError
from populace.models.structure import build_structure
from populace.study import load_study, make_study
from populace.study.serialize import study_from_dict, study_to_dict
from populace.study.write import write_study

TOML = """\
[attributes.state]
type = "nominal"
levels = ["A", "B", "C"]
role = "geography"

[attributes.vote]
type = "nominal"
levels = ["no", "yes"]

[[marginals]]
path = "census_state.csv"

[microdata]
path = "sample.csv"

[areas]
path = "areas.csv"
"""
STATE = "state,count\nA,100\nB,300\nC,600\n"
SAMPLE = "state,vote\nA,no\nB,yes\nC,yes\n"
AREAS = "state,past_vote,urban\nC,0.61,0.9\nA,0.40,0.2\nB,0.52,0.5\n"


def _write(tmp_path: Path, areas: str = AREAS, toml: str = TOML) -> Path:
    for name, text in (("study.toml", toml), ("census_state.csv", STATE), ("sample.csv", SAMPLE), ("areas.csv", areas)):
        (tmp_path / name).write_text(text)
    return tmp_path / "study.toml"


def test_area_table_loads_in_geography_order(tmp_path):
    study = load_study(_write(tmp_path))
    assert study.areas is not None
    assert study.areas.names == ("past_vote", "urban")
    np.testing.assert_array_equal(study.areas.values, [[0.40, 0.2], [0.52, 0.5], [0.61, 0.9]])
    assert study.areas.source == "areas.csv"


def test_predictors_are_standardised_with_population_weights(tmp_path):
    s = build_structure(load_study(_write(tmp_path)))
    w = np.array([0.1, 0.3, 0.6])
    np.testing.assert_allclose(w @ s.area_predictors, 0.0, atol=1e-12)
    np.testing.assert_allclose(w @ s.area_predictors**2, 1.0)
    assert s.area_predictor_names == ("past_vote", "urban")


def test_area_table_round_trips(tmp_path):
    study = load_study(_write(tmp_path))
    back = study_from_dict(study_to_dict(study))
    np.testing.assert_array_equal(back.areas.values, study.areas.values)
    assert back.areas.names == study.areas.names
    again = load_study(write_study(study, tmp_path / "out"))
    np.testing.assert_array_equal(again.areas.values, study.areas.values)


def test_make_study_takes_the_area_table():
    study = make_study(
        {"state": {"type": "nominal", "levels": ["A", "B"], "role": "geography"}, "vote": {"type": "nominal", "levels": ["n", "y"]}},
        [pd.DataFrame({"state": ["A", "B"], "count": [1, 2]})],
        pd.DataFrame({"state": ["A"], "vote": ["y"]}),
        areas=pd.DataFrame({"state": ["B", "A"], "x": [2.0, 1.0]}),
    )
    np.testing.assert_array_equal(study.areas.values[:, 0], [1.0, 2.0])


@pytest.mark.parametrize(
    ("areas", "line", "column", "words"),
    [
        ("state,past_vote\nA,0.4\nB,0.5\n", None, "state", "have no row: 'C'"),
        ("state,past_vote\nA,0.4\nB,0.5\nA,0.6\nC,0.1\n", 4, "state", "appears twice"),
        ("state,past_vote\nA,0.4\nD,0.5\nC,0.6\n", 3, "state", "not a level"),
        ("state,past_vote\nA,0.4\nB,high\nC,0.6\n", 3, "past_vote", "not a number"),
        ("state,past_vote\nA,0.4\nB,\nC,0.6\n", 3, "past_vote", "empty"),
        ("state,past_vote\nA,0.5\nB,0.5\nC,0.5\n", None, "past_vote", "in every area"),
        ("state\nA\nB\nC\n", 1, None, "no predictor column"),
        ("region,past_vote\nA,0.4\n", 1, None, "no column 'state'"),
    ],
)
def test_bad_area_tables_are_named(tmp_path, areas, line, column, words):
    with pytest.raises(StudyError) as err:
        load_study(_write(tmp_path, areas))
    e = err.value
    assert e.file.endswith("areas.csv") and e.row == line and e.column == column, str(e)
    assert words in str(e) and e.fix


def test_area_table_needs_a_geography(tmp_path):
    toml = TOML.replace('role = "geography"\n', "")
    with pytest.raises(StudyError, match="no geography attribute"):
        load_study(_write(tmp_path, toml=toml))
