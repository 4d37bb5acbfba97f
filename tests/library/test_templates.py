"""Card templates: sandboxed, strict, phrases from the study or the template, batch = one by one."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from populace.errors import PopulaceError, TemplateError
from populace.library.templates import load_template
from populace.study.spec import Attribute, Marginal, Microdata, Study

from tests.library._study import three_kinds_study

STUDY = three_kinds_study()
ALL = [list(r) for r in itertools.product(*[a.levels for a in STUDY.attributes])]


def _file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "card.j2"
    path.write_text(text)
    return path


def _labels(row: list[str]) -> dict[str, str]:
    return dict(zip(STUDY.names, row, strict=True))


def test_default_text_is_one_plain_sentence_with_study_phrases() -> None:
    tpl = load_template(None, STUDY)
    assert tpl.render(_labels(["65+", "f", "dem", "never"])) == (
        "A persona whose age is retired age, sex is f, party is dem and church is never."
    )
    assert tpl.render(_labels(["18-29", "m", "rep", "weekly"])) == (
        "A persona whose age is 18-29, sex is m, party is rep and church is weekly."
    )


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ age.__class__ }}",
        "{{ attributes['__class__'] }}",
    ],
)
def test_reaching_python_internals_is_refused_before_rendering(tmp_path: Path, source: str) -> None:
    path = _file(tmp_path, "line one\n" + source)
    with pytest.raises(TemplateError) as err:
        load_template(path, STUDY)
    assert isinstance(err.value, PopulaceError)
    assert str(err.value).startswith(f"{path}, line 2: ") and "Python internal" in str(err.value)


@pytest.mark.parametrize("source", ["{{ age | attr('__class__') }}", "{{ (attributes | attr('__len__'))() }}"])
def test_the_sandbox_refuses_what_the_static_check_cannot_see(tmp_path: Path, source: str) -> None:
    tpl = load_template(_file(tmp_path, source), STUDY)
    for render in (lambda: tpl.render(_labels(ALL[0])), lambda: tpl.render_many(ALL[:3])):
        with pytest.raises(TemplateError) as err:
            render()
        assert str(err.value).startswith(str(tmp_path / "card.j2"))


def test_unknown_name_and_syntax_errors_name_the_file(tmp_path: Path) -> None:
    tpl = load_template(_file(tmp_path, "{{ agee }}"), STUDY)
    with pytest.raises(TemplateError, match="'agee' is undefined. Names a template can use: age, sex"):
        tpl.render(_labels(ALL[0]))
    with pytest.raises(TemplateError, match=r"card.j2, line 3: template syntax error"):
        load_template(_file(tmp_path, "a\nb\n{% if age %}"), STUDY)


def test_front_matter_phrases_override_the_study_and_are_validated(tmp_path: Path) -> None:
    text = '+++\n[phrases.age]\n"65+" = "over 65"\n[phrases.church]\nweekly = "goes to church weekly"\n+++\n{{ phrase.age }}; {{ phrase.church }}; {{ phrase.sex }}\n'
    tpl = load_template(_file(tmp_path, text), STUDY)
    assert tpl.render(_labels(["65+", "m", "dem", "weekly"])) == "over 65; goes to church weekly; m"
    with pytest.raises(TemplateError, match=r"card.j2: \[phrases.age\] has a phrase for '70\+'"):
        load_template(_file(tmp_path, '+++\n[phrases.age]\n"70+" = "old"\n+++\nx'), STUDY)
    with pytest.raises(TemplateError, match="no attribute 'income'"):
        load_template(_file(tmp_path, '+++\n[phrases.income]\nlow = "poor"\n+++\nx'), STUDY)
    with pytest.raises(TemplateError, match="never closed"):
        load_template(_file(tmp_path, "+++\n[phrases.age]\n"), STUDY)
    # Line numbers count the front matter: the body's line 2 is the file's line 5.
    with pytest.raises(TemplateError, match="card.j2, line 5: "):
        load_template(_file(tmp_path, '+++\n[phrases.age]\n+++\nok\n{{ age.__class__ }}'), STUDY)


@pytest.mark.parametrize(
    "source",
    [
        None,
        "{{ age }}",  # one loop target
        "{% for k, v in attributes.items() %}{{ k }}={{ v }};{% endfor %}\n",  # trailing newline dropped
        "{{ phrase.age | upper }} {% if sex == 'f' %}woman{% else %}man{% endif %}\n\n",
        "{% set x = party ~ '!' %}{{ x }}{{ church }}",
        "constant text",  # reads no name: rendered one by one
        "{{ loop }}",  # refused one by one too (undefined), not read from the batch loop
        "{{ populace_rows }}",  # likewise: the batch's own variable is not visible
        "{{ age }}\x00{{ sex }}",  # prints the separator: falls back to one by one
    ],
)
def test_batch_rendering_gives_the_same_text_as_one_by_one(tmp_path: Path, source: str | None) -> None:
    tpl = load_template(None if source is None else _file(tmp_path, source), STUDY)
    if source in ("{{ loop }}", "{{ populace_rows }}"):
        with pytest.raises(TemplateError, match="is undefined"):
            tpl.render_many(ALL)
        return
    assert tpl.render_many(ALL) == [tpl.render(_labels(r)) for r in ALL]
    assert len(set(tpl.render_many(ALL))) > 1 or source == "constant text"


def test_an_unreadable_template_is_a_clean_error(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="cannot read the template"):
        load_template(tmp_path / "missing.j2", STUDY)


def test_attribute_names_jinja_cannot_read_bare_go_through_attributes() -> None:
    attrs = (Attribute("if", "nominal", ("a", "b")), Attribute("home state", "nominal", ("x", "y")), Attribute("loop", "nominal", ("p", "q")))
    study = Study(attrs, (Marginal(("if",), np.ones(2)),), Microdata(np.zeros((1, 3), int), np.ones(1)))
    tpl = load_template(None, study)
    assert tpl.render({"if": "b", "home state": "x", "loop": "q"}) == "A persona whose if is b, home state is x and loop is q."
    assert tpl.render_many([["b", "x", "q"], ["a", "y", "p"]]) == [
        "A persona whose if is b, home state is x and loop is q.",
        "A persona whose if is a, home state is y and loop is p.",
    ]
