"""Readable level phrases declared in the study TOML: loaded, validated, and kept by fits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from populace.errors import StudyError
from populace.study import load_study
from populace.study.serialize import study_from_dict, study_to_dict
from populace.study.write import write_study

TOML = """\
[attributes.age]
type = "ordinal"
levels = ["18-29", "30-44", "45+"]
phrases = {{ {phrases} }}

[attributes.sex]
type = "nominal"
levels = ["Male", "Female"]

[[marginals]]
path = "census_age.csv"

[microdata]
path = "sample.csv"
"""


def _study(tmp_path: Path, phrases: str) -> Path:
    (tmp_path / "census_age.csv").write_text("age,count\n18-29,30\n30-44,40\n45+,30\n")
    (tmp_path / "sample.csv").write_text("age,sex\n18-29,Male\n45+,Female\n30-44,Female\n")
    path = tmp_path / "study.toml"
    path.write_text(TOML.format(phrases=phrases))
    return path


def test_phrases_load_and_default_to_the_label(tmp_path: Path) -> None:
    study = load_study(_study(tmp_path, '"18-29" = "in their twenties", "45+" = "45 or older"'))
    age = study.attribute("age")
    assert age.phrase("18-29") == "in their twenties"
    assert age.phrase("45+") == "45 or older"
    assert age.phrase("30-44") == "30-44"  # no phrase: the label
    assert study.attribute("sex").phrases == ()


def test_phrases_survive_the_fit_json_and_the_study_writer(tmp_path: Path) -> None:
    study = load_study(_study(tmp_path, '"45+" = "45 or older", "18-29" = "young"'))
    back = study_from_dict(json.loads(json.dumps(study_to_dict(study))))
    assert back.attribute("age").phrases == study.attribute("age").phrases == (("18-29", "young"), ("45+", "45 or older"))
    again = load_study(write_study(study, tmp_path / "copy"))
    assert again.attribute("age").phrases == study.attribute("age").phrases


def test_a_phrase_for_an_unknown_level_is_named(tmp_path: Path) -> None:
    path = _study(tmp_path, '"18-30" = "young"')
    with pytest.raises(StudyError) as err:
        load_study(path)
    text = str(err.value)
    assert str(path) in text and "'18-30'" in text and "not one of its levels" in text
    assert err.value.row == 4  # the phrases line


@pytest.mark.parametrize("value", ["3", '""', "[\"a\"]"])
def test_a_phrase_that_is_not_text_is_refused(tmp_path: Path, value: str) -> None:
    with pytest.raises(StudyError, match="phrase .* for level '18-29'; a phrase must be non-empty text"):
        load_study(_study(tmp_path, f'"18-29" = {value}'))


def test_phrases_that_are_not_a_table_are_refused(tmp_path: Path) -> None:
    path = _study(tmp_path, "")
    path.write_text(path.read_text().replace("phrases = {  }", 'phrases = "young"'))
    with pytest.raises(StudyError, match="it must map levels to readable text"):
        load_study(path)
