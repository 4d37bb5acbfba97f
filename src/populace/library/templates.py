"""Persona-card text: a user's Jinja2 template, compiled once in a sandbox, rendered per persona.

Templates are user files, so they run in :class:`jinja2.sandbox.ImmutableSandboxedEnvironment`
with :class:`jinja2.StrictUndefined`: a template that reads a Python internal
(``{{ ''.__class__ }}``, ``{{ cycler.__init__.__globals__ }}``) or an unknown name is refused
with a :class:`populace.errors.TemplateError` naming the file and line. Reads of ``_``-prefixed
attributes are refused before anything is rendered; the sandbox catches the rest while
rendering. The ``random`` filter and ``lipsum`` are removed, so the text is a function of the
persona's attributes alone (same seed, same cards; and distinct attribute combinations can be
rendered once).

A template sees, for one persona:

- each attribute whose name is an identifier (and no Jinja word such as ``if``), as its
  level label (``{{ age }}``);
- ``attributes``: ``{name: label}`` in study order;
- ``phrase``: ``{name: readable phrase}``: the level's phrase from the template's front
  matter, else from the study (``phrases = {...}`` in ``[attributes.NAME]``), else the label.

The default (:func:`default_source`) is one plain-English sentence naming every attribute:
"A persona whose age is 30-44, sex is f and party is dem." (phrases where declared).

Speed: a Jinja render costs tens of microseconds, mostly in setting up its context, so
:meth:`CardTemplate.render_many` renders many personas in *one* call, the user's template
being the body of a ``for`` loop whose targets are the names above; the outputs are split
on a NUL separator. Templates that cannot be a loop body (``{% extends %}``), read the
name ``loop`` at top level, or print NULs are rendered one by one instead: same text.

A template file may start with TOML front matter between two ``+++`` lines declaring phrases::

    +++
    [phrases.age]
    "18-29" = "in their twenties"
    +++
    A person {{ phrase.age }} who {{ phrase.pid7 }}.
"""

from __future__ import annotations

import contextlib
import json
import operator
import os
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from populace.errors import StudyError, TemplateError
from populace.study.attributes import check_phrases
from populace.study.spec import Study

__all__ = ["DEFAULT_LABEL", "CardTemplate", "default_source", "load_template"]

DEFAULT_LABEL = "<default template>"
_FENCE = "+++"
_RESERVED = ("attributes", "phrase")
# Names Jinja parses as words or gives a meaning of its own: such attributes are read
# through ``attributes[...]`` / ``phrase[...]`` only.
_JINJA_WORDS = frozenset(
    "and or not in is if else elif for true false none True False None loop self caller varargs kwargs".split()
)
_SEP = "\x00"
_ROWS = "populace_rows"


def default_source(study: Study, phrases: Mapping[str, Mapping[str, str]] | None = None) -> str:
    """The default template of ``study``: "A persona whose age is 30-44, ... and party is dem."

    Written out per attribute (no loop), so it renders fast; an attribute reads as its
    phrase where the study or ``phrases`` declares any for it, else as its label.
    """
    parts = []
    for a in study.attributes:
        plain = _direct_name(a.name) and not a.phrases and a.name not in (phrases or {})
        value = a.name if plain else f"phrase[{json.dumps(a.name, ensure_ascii=False)}]"
        parts.append("{{ %s }} is {{ %s }}" % (json.dumps(a.name.replace("_", " "), ensure_ascii=False), value))
    body = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    return "A persona whose " + body + "."


def _direct_name(name: str) -> bool:
    """Can the template read this attribute by its bare name?"""
    return name.isidentifier() and name not in _RESERVED and name not in _JINJA_WORDS


class CardTemplate:
    """A compiled card template bound to a study's attributes and phrases.

    Parameters
    ----------
    study
        Gives the attribute names, levels and study-declared phrases.
    source
        Template text (without front matter).
    label
        How errors name the template (its file path).
    phrases
        ``{attribute: {level: phrase}}`` declared by the template; they override the study's.
    first_line
        Line of the file where ``source`` starts (after front matter), for messages.
    """

    def __init__(
        self,
        study: Study,
        source: str,
        *,
        label: str = DEFAULT_LABEL,
        phrases: Mapping[str, Mapping[str, str]] | None = None,
        first_line: int = 1,
    ) -> None:
        from jinja2 import StrictUndefined, TemplateSyntaxError
        from jinja2.sandbox import ImmutableSandboxedEnvironment

        from jinja2 import meta

        self.label = label
        self._offset = first_line - 1
        env = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
        env.filters.pop("random", None)  # non-deterministic
        env.globals.pop("lipsum", None)  # random text
        try:
            ast = env.parse(source)
        except TemplateSyntaxError as exc:
            raise self._error(f"template syntax error: {exc.message}.", exc.lineno) from None
        _refuse_internals(ast, self)
        self._template = env.from_string(source)
        self._names = study.names
        self._direct = [n for n in study.names if _direct_name(n)]
        extra = phrases or {}
        self._phrases = {
            a.name: {lv: dict(extra.get(a.name, {})).get(lv, a.phrase(lv)) for lv in a.levels} for a in study.attributes
        }
        used = meta.find_undeclared_variables(ast)
        # Loop targets: the names the template reads, in a fixed order.
        self._targets = [n for n in self._direct if n in used] + [n for n in _RESERVED if n in used]
        self._batch = None
        if not used & {"loop", _ROWS} and self._targets:
            # Jinja drops one trailing newline of a template; so must the loop body.
            body = source[:-1] if source.endswith("\n") else source
            wrapper = "{%% for %s in %s %%}%s%s{%% endfor %%}" % (", ".join(self._targets), _ROWS, body, _SEP)
            try:
                self._batch = env.from_string(wrapper)
            except TemplateSyntaxError:
                self._batch = None  # e.g. {% extends %}: render one by one

    def _error(self, message: str, line: int | None) -> TemplateError:
        return TemplateError(message, file=self.label, line=None if line is None else line + self._offset)

    def render(self, labels: Mapping[str, str]) -> str:
        """The card text of one persona given its ``{attribute: level label}``."""
        context: dict[str, Any] = {n: labels[n] for n in self._direct}
        context["attributes"] = dict(labels)
        context["phrase"] = {n: self._phrases[n][labels[n]] for n in self._names}
        with self._guard():
            return self._template.render(context)

    def render_many(self, rows: Sequence[Sequence[str]]) -> list[str]:
        """Card texts of many personas, each given as its level labels in study order.

        The same texts as :meth:`render` of each, in one Jinja call (module docstring).
        """
        if self._batch is None:
            return [self.render(dict(zip(self._names, r, strict=True))) for r in rows]
        names, targets = self._names, self._targets
        if "attributes" in targets or "phrase" in targets:
            items = []
            for r in rows:
                labels = dict(zip(names, r, strict=True))
                values = {"attributes": labels}
                if "phrase" in targets:
                    values["phrase"] = {n: self._phrases[n][labels[n]] for n in names}
                items.append(tuple(values[t] if t in _RESERVED else labels[t] for t in targets))
        else:  # labels only (the default template): no dict per row
            pick = operator.itemgetter(*[names.index(t) for t in targets])
            items = [pick(r) for r in rows]
        if len(targets) == 1:  # one target is not unpacked
            items = [item[0] if isinstance(item, tuple) else item for item in items]
        with self._guard():
            out = self._batch.render({_ROWS: items}).split(_SEP)
        if len(out) != len(rows) + 1:  # the template printed a NUL itself
            return [self.render(dict(zip(self._names, r, strict=True))) for r in rows]
        return out[:-1]

    @contextlib.contextmanager
    def _guard(self) -> Iterator[None]:
        """Jinja's errors while rendering as :class:`TemplateError` naming the template."""
        from jinja2.exceptions import SecurityError, TemplateError as JinjaError, UndefinedError

        try:
            yield
        except SecurityError as exc:
            raise self._error(f"the template tries to reach Python internals ({exc}); templates may only read the persona's fields.", None) from None
        except UndefinedError as exc:
            raise self._error(
                f"{exc.message}. Names a template can use: {', '.join(self._direct + list(_RESERVED))}.", None
            ) from None
        except JinjaError as exc:
            raise self._error(f"cannot render the template ({type(exc).__name__}: {exc}).", None) from None
        except (TypeError, ValueError, ArithmeticError, LookupError) as exc:
            raise self._error(f"cannot render the template ({type(exc).__name__}: {exc}).", None) from None


def load_template(path: str | os.PathLike[str] | None, study: Study) -> CardTemplate:
    """Read, check and compile a card template (``None``: the plain-English default).

    Parameters
    ----------
    path
        A Jinja2 template file, optionally with ``+++`` TOML front matter (module docstring).
    study
        The personas' study.

    Returns
    -------
    CardTemplate

    Raises
    ------
    TemplateError
        When the file cannot be read, its front matter is invalid, or the template is
        malformed or reaches for Python internals; the message names the file.
    """
    if path is None:
        return CardTemplate(study, default_source(study))
    label = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TemplateError(f"cannot read the template ({exc}). Fix: pass a UTF-8 text file to --template.", file=label) from None
    phrases, body, first = _front_matter(text, label, study)
    return CardTemplate(study, body, label=label, phrases=phrases, first_line=first)


def _front_matter(text: str, label: str, study: Study) -> tuple[dict[str, dict[str, str]], str, int]:
    """Split ``+++`` TOML front matter off a template; validate its phrases."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != _FENCE:
        return {}, text, 1
    end = next((i for i in range(1, len(lines)) if lines[i].strip() == _FENCE), None)
    if end is None:
        raise TemplateError("the front matter opened by '+++' on line 1 is never closed. Fix: end it with a '+++' line.", file=label)
    try:
        doc = tomllib.loads("".join(lines[1:end]))
    except tomllib.TOMLDecodeError as exc:
        raise TemplateError(f"the front matter is not valid TOML ({exc}).", file=label) from None
    unknown = [k for k in doc if k != "phrases"]
    if unknown:
        raise TemplateError(f"unknown front-matter key {unknown[0]!r}; the only key is 'phrases'.", file=label)
    table = doc.get("phrases", {})
    if not isinstance(table, Mapping):
        raise TemplateError("phrases must be a table: [phrases.ATTRIBUTE] with \"level\" = \"phrase\" lines.", file=label)
    phrases: dict[str, dict[str, str]] = {}
    for name, entry in table.items():
        if name not in study.names:
            raise TemplateError(
                f"[phrases.{name}]: no attribute {name!r}; attributes are {', '.join(study.names)}.", file=label
            )
        try:
            phrases[name] = check_phrases(f"[phrases.{name}]", study.attribute(name).levels, entry, file=None, row=None)
        except StudyError as exc:
            raise TemplateError(str(exc), file=label) from None
    return phrases, "".join(lines[end + 1 :]), end + 2


def _refuse_internals(ast: Any, template: CardTemplate) -> None:
    """Refuse reads of ``_``-prefixed attributes before rendering anything."""
    from jinja2 import nodes

    for node in ast.find_all((nodes.Getattr, nodes.Getitem)):
        name = node.attr if isinstance(node, nodes.Getattr) else getattr(node.arg, "value", None)
        if isinstance(name, str) and name.startswith("_"):
            raise template._error(
                f"the template reads {name!r}, a Python internal; templates may only read the persona's fields "
                f"({', '.join(_RESERVED)} and the attribute names).",
                node.lineno,
            )
