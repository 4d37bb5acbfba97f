"""A study survives study_to_dict/JSON/study_from_dict and write_study/load_study."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from populace.errors import StudyError
from populace.study import (
    Attribute,
    Marginal,
    Microdata,
    Study,
    load_study,
    make_study,
    study_from_dict,
    study_to_dict,
    write_study,
)


def toy(*, weights: list[float] | None = None) -> Study:
    attributes = {
        "age": {"type": "ordinal", "levels": ["18-29", "30-44", "45+"]},
        "sex": {"type": "nominal", "levels": ["Male", "Female"]},
        "state": {"type": "nominal", "levels": ['New "York"', "Alaska, AK"], "role": "geography"},
    }
    state_age = pd.DataFrame(
        {
            "state": ['New "York"'] * 3 + ["Alaska, AK"] * 3,
            "age": ["18-29", "30-44", "45+"] * 2,
            "count": [10, 20, 30, 5, 15, 20],
        }
    )
    sex = pd.DataFrame({"sex": ["Male", "Female"], "count": [48, 52]})
    micro = pd.DataFrame(
        {
            "age": ["30-44", None, "45+", "18-29"],
            "sex": ["Female", "Male", None, "Male"],
            "state": ["Alaska, AK", 'New "York"', None, None],
        }
    )
    if weights is not None:
        micro["w"] = weights
    return make_study(
        attributes, [state_age, sex], micro, weight="w" if weights is not None else None, name="toy"
    )


def assert_same(a: Study, b: Study, *, sources: bool = True) -> None:
    assert a.name == b.name
    assert a.attributes == b.attributes
    assert len(a.marginals) == len(b.marginals)
    for m, n in zip(a.marginals, b.marginals):
        assert m.attributes == n.attributes
        assert n.counts.dtype == np.float64
        np.testing.assert_array_equal(m.counts, n.counts)
        if sources:
            assert m.source == n.source
    np.testing.assert_array_equal(a.microdata.codes, b.microdata.codes)
    np.testing.assert_array_equal(a.microdata.weights, b.microdata.weights)
    assert b.microdata.weights.dtype == np.float64
    assert a.microdata.weight_column == b.microdata.weight_column


@pytest.mark.parametrize("weights", [None, [2.0, 2.0, 2.0, 2.0], [0.1, 2.5, 1 / 3, 7.0]])
def test_dict_round_trip_through_json(weights: list[float] | None) -> None:
    study = toy(weights=weights)
    d = study_to_dict(study)
    back = study_from_dict(json.loads(json.dumps(d)))
    assert_same(study, back)


def test_dict_is_compact() -> None:
    d = study_to_dict(toy())
    md = d["microdata"]
    assert md["shape"] == [4, 3] and len(md["codes"]) == 12 and md["weights"] is None
    assert d["marginals"][0]["counts"] == [[10, 20, 30], [5, 15, 20]]
    assert d["attributes"][2] == {
        "name": "state",
        "type": "nominal",
        "levels": ['New "York"', "Alaska, AK"],
        "role": "geography",
    }


def test_dict_keeps_meta() -> None:
    study = toy()
    study.meta["benchmark"] = "gss"
    assert study_from_dict(study_to_dict(study)).meta == {"benchmark": "gss"}


def test_from_dict_rejects_foreign_dict() -> None:
    with pytest.raises(StudyError, match="not a populace study"):
        study_from_dict({"format": "other"})


def test_from_dict_rejects_bad_shapes() -> None:
    d = study_to_dict(toy())
    d["marginals"][0]["counts"] = [1, 2]
    with pytest.raises(StudyError, match="shape"):
        study_from_dict(d)
    d = study_to_dict(toy())
    del d["microdata"]["codes"]
    with pytest.raises(StudyError, match="malformed"):
        study_from_dict(d)


@pytest.mark.parametrize("weights", [None, [0.1, 2.5, 1 / 3, 7.0]])
def test_write_then_load(tmp_path: Path, weights: list[float] | None) -> None:
    study = toy(weights=weights)
    path = write_study(study, tmp_path / "out")
    assert path == tmp_path / "out" / "study.toml"
    back = load_study(path)
    assert_same(study, back, sources=False)
    assert back.marginals[0].source == "census_state__age.csv"


def test_write_unequal_weights_without_weight_column(tmp_path: Path) -> None:
    study = toy()
    micro = Microdata(codes=study.microdata.codes, weights=np.array([1.0, 2.0, 3.0, 4.0]))
    unnamed = Study(study.attributes, study.marginals, micro, name="toy")
    back = load_study(write_study(unnamed, tmp_path))
    np.testing.assert_array_equal(back.microdata.weights, [1.0, 2.0, 3.0, 4.0])
    assert back.microdata.weight_column == "weight"


def test_write_quotes_odd_names(tmp_path: Path) -> None:
    attributes = (Attribute("age group", "ordinal", ("a", "b")), Attribute("x", "nominal", ("p", "q")))
    marginals = (
        Marginal(("age group",), np.array([1.0, 2.0])),
        Marginal(("age group",), np.array([1.0, 2.0])),
    )
    micro = Microdata(codes=np.array([[0, 1], [1, -1]]), weights=np.ones(2))
    study = Study(attributes, marginals, micro, name="odd")
    path = write_study(study, tmp_path)
    assert sorted(p.name for p in tmp_path.glob("*.csv")) == [
        "census_age-group.csv",
        "census_age-group_2.csv",
        "microdata.csv",
    ]
    assert_same(study, load_study(path), sources=False)
