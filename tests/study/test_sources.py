"""Several microdata sources in one study: each with its file, weights, attributes and label."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from populace.errors import StudyError
from populace.models.structure import build_structure
from populace.study import load_study, make_study
from populace.study.check import check_study
from populace.study.provenance import provenance
from populace.study.serialize import study_from_dict, study_to_dict
from populace.study.shares import effective_weights, kish_n_eff

TOML = """\
[attributes.state]
type = "nominal"
levels = ["A", "B"]
role = "geography"

[attributes.age]
type = "ordinal"
levels = ["young", "old"]

[attributes.party]
type = "nominal"
levels = ["D", "R", "I"]

[attributes.trust]
type = "ordinal"
levels = ["low", "high"]

[[marginals]]
path = "census_state__age.csv"

[[microdata]]
label = "election"
path = "election.csv"
weight = "w"
attributes = ["state", "age", "party"]

[[microdata]]
path = "social.csv"
attributes = ["state", "age", "trust"]
"""

CENSUS = "state,age,count\nA,young,30\nA,old,20\nB,young,25\nB,old,25\n"
ELECTION = "state,age,party,w\nA,young,D,1\nB,old,R,3\nA,old,I,2\n"
SOCIAL = "state,age,trust\nB,young,low\nA,old,high\n"


def write(tmp_path: Path, toml: str = TOML, election: str = ELECTION, social: str = SOCIAL) -> Path:
    (tmp_path / "census_state__age.csv").write_text(CENSUS)
    (tmp_path / "election.csv").write_text(election)
    (tmp_path / "social.csv").write_text(social)
    path = tmp_path / "study.toml"
    path.write_text(toml)
    return path


def test_sources_stack_their_rows_and_miss_what_they_did_not_ask(tmp_path: Path) -> None:
    study = load_study(write(tmp_path))
    assert [(s.label, s.attributes, s.rows, s.path, s.weight_column) for s in study.sources] == [
        ("election", ("state", "age", "party"), 3, "election.csv", "w"),
        ("social", ("state", "age", "trust"), 2, "social.csv", None),  # label defaults to the file's stem
    ]
    np.testing.assert_array_equal(
        study.microdata.codes, [[0, 0, 0, -1], [1, 1, 1, -1], [0, 1, 2, -1], [1, 0, -1, 0], [0, 1, -1, 1]]
    )
    np.testing.assert_array_equal(study.microdata.weights, [1, 3, 2, 1, 1])
    np.testing.assert_array_equal(study.microdata.row_source(), [0, 0, 0, 1, 1])


def test_one_microdata_table_stays_one_source_of_every_attribute(tmp_path: Path) -> None:
    toml = TOML.split("[[microdata]]")[0] + '[microdata]\npath = "all.csv"\n'
    (tmp_path / "all.csv").write_text("state,age,party,trust\nA,young,D,low\n")
    study = load_study(write(tmp_path, toml))
    assert study.microdata.sources == ()
    assert [(s.label, s.attributes, s.rows) for s in study.sources] == [("all", study.names, 1)]


def test_the_python_api_takes_a_mapping_of_surveys(tmp_path: Path) -> None:
    loaded = load_study(write(tmp_path))
    election = pd.read_csv(tmp_path / "election.csv", dtype=str)
    social = pd.read_csv(tmp_path / "social.csv", dtype=str)
    census = pd.read_csv(tmp_path / "census_state__age.csv", dtype={"count": float})
    attrs = {a.name: {"type": a.type, "levels": list(a.levels)} | ({"role": a.role} if a.role else {}) for a in loaded.attributes}
    built = make_study(
        attrs, [census], {"election": election, "social": social}, weight={"election": "w"},
        measured={"election": ["state", "age", "party"], "social": ["state", "age", "trust"]},
    )
    np.testing.assert_array_equal(built.microdata.codes, loaded.microdata.codes)
    np.testing.assert_array_equal(built.microdata.weights, loaded.microdata.weights)
    assert [s.attributes for s in built.sources] == [s.attributes for s in loaded.sources]


def test_sources_round_trip_through_the_fit_file_form(tmp_path: Path) -> None:
    study = load_study(write(tmp_path))
    back = study_from_dict(json.loads(json.dumps(study_to_dict(study))))
    assert back.sources == study.sources
    np.testing.assert_array_equal(back.microdata.row_source(), study.microdata.row_source())


def test_each_source_counts_at_its_own_kish_size(tmp_path: Path) -> None:
    study = load_study(write(tmp_path))
    w = effective_weights(study.microdata)
    assert w[:3].sum() == pytest.approx(kish_n_eff(np.array([1.0, 3.0, 2.0])))  # 36 / 14
    assert w[3:].sum() == pytest.approx(2.0)
    assert build_structure(study).n_eff == pytest.approx(36 / 14 + 2)
    # A source's weight scale (ones, or people per respondent) does not change what it counts for.
    scaled = load_study(write(tmp_path, election=ELECTION.replace(",1\n", ",1000\n").replace(",3\n", ",3000\n").replace(",2\n", ",2000\n")))
    np.testing.assert_allclose(effective_weights(scaled.microdata), w)


def test_check_names_the_pairs_no_survey_observes_together(tmp_path: Path) -> None:
    report = check_study(load_study(write(tmp_path)))
    assert report.unobserved_pairs == [("party", "trust")]
    text = str(report)
    assert "pairs no survey observes together" in text and "  party x trust" in text
    assert "source election (election.csv): rows 3" in text and "measured state, age, trust" in text
    # Missing by design is not missing at random: no missingness warning for party or trust.
    assert not any("missing in" in w for w in report.warnings)
    # Each survey-only attribute's shares rest on the rows that asked it (Kish 36 / 14 and 2).
    assert "party, trust have no census table: their population shares come from 3 and 2 effective sample rows respectively" in text


def test_a_census_table_holding_the_pair_gives_its_dependence(tmp_path: Path) -> None:
    path = write(tmp_path, TOML.replace('[[microdata]]', '[[marginals]]\npath = "census_party__trust.csv"\n\n[[microdata]]', 1))
    (tmp_path / "census_party__trust.csv").write_text("party,trust,count\nD,low,20\nD,high,20\nR,low,20\nR,high,10\nI,low,20\nI,high,10\n")
    assert check_study(load_study(path)).unobserved_pairs == []


def test_provenance_names_the_surveys_that_measured_each_attribute(tmp_path: Path) -> None:
    prov = provenance(load_study(write(tmp_path)))
    assert prov["age"].sources == ("election", "social")
    assert prov["party"].sources == ("election",)
    assert "learned from survey(s) social" in prov["trust"].note
    assert prov["trust"].to_dict(full=True)["sources"] == ["social"]


@pytest.mark.parametrize(
    "old, new, file, line, says",
    [
        ('attributes = ["state", "age", "trust"]', 'attributes = ["state", "age", "trus"]', "study.toml", 29,
         "source 'social' lists attribute 'trus', which the study does not declare"),
        ('attributes = ["state", "age", "trust"]', 'attributes = "trust"', "study.toml", 29, "must be a non-empty list"),
        ('attributes = ["state", "age", "trust"]', 'attributes = 3', "study.toml", 29, "must be a non-empty list"),
        ('attributes = ["state", "age", "trust"]', 'attributes = []', "study.toml", 29, "must be a non-empty list"),
        ('attributes = ["state", "age", "trust"]', 'attributes = ["age", "age"]', "study.toml", 29, "lists attribute 'age' twice"),
        ('path = "social.csv"', 'label = "election"\npath = "social.csv"', "study.toml", 28, "two microdata sources are labelled 'election'"),
        ('weight = "w"', 'weight = "weight"', "election.csv", 1, "the weight column 'weight' named in the study is not in the microdata"),
        ('weight = "w"', 'weight = "age"', "study.toml", 24, "weight column 'age' is also a declared attribute"),
        ('attributes = ["state", "age", "party"]', 'attributes = ["state", "age"]', "election.csv", 1,
         "column 'party' is a study attribute that this survey's attributes list leaves out"),
    ],
)
def test_bad_sources_are_named_with_file_and_line(tmp_path: Path, old: str, new: str, file: str, line: int, says: str) -> None:
    assert old in TOML
    with pytest.raises(StudyError) as err:
        load_study(write(tmp_path, TOML.replace(old, new)))
    assert says in str(err.value)
    assert Path(err.value.file).name == file and err.value.row == line


def test_a_source_file_without_a_listed_column_says_how_to_list_what_it_asked(tmp_path: Path) -> None:
    with pytest.raises(StudyError, match="no column for attribute 'trust'") as err:
        load_study(write(tmp_path, social="state,age\nB,young\n"))
    assert "attributes = [...]" in str(err.value) and Path(err.value.file).name == "social.csv"


def test_the_python_api_refuses_weights_of_unknown_surveys() -> None:
    frame = pd.DataFrame({"x": ["a"]})
    with pytest.raises(StudyError, match="names the survey 'c'"):
        make_study({"x": {"type": "nominal", "levels": ["a", "b"]}}, [], {"s": frame}, weight={"c": "w"})
    with pytest.raises(StudyError, match="weight is one column name"):
        make_study({"x": {"type": "nominal", "levels": ["a", "b"]}}, [], {"s": frame}, weight="w")
