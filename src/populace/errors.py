"""Exceptions raised by populace for problems a user can fix."""

from __future__ import annotations

__all__ = ["PopulaceError", "PopulaceWarning", "InputError", "StudyError", "StudyWarning", "FitError", "TemplateError", "PersonasError"]


class PopulaceError(Exception):
    """Base class of every error populace raises on purpose."""


class InputError(PopulaceError, ValueError):
    """A user's input file or table is invalid, with where and how to fix it.

    Parameters
    ----------
    message
        What is wrong.
    file, row, column
        Where it is wrong. ``row`` is the 1-based line number in the file
        (the header is line 1), so it matches what an editor shows.
    fix
        What the user should do about it.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        row: int | None = None,
        column: str | None = None,
        fix: str | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.row = row
        self.column = column
        self.fix = fix
        where = []
        if file is not None:
            where.append(str(file))
        if row is not None:
            where.append(f"line {row}")
        if column is not None:
            where.append(f"column {column!r}")
        text = (", ".join(where) + ": " if where else "") + message
        if fix:
            text += f" Fix: {fix}"
        super().__init__(text)


class StudyError(InputError):
    """A study (TOML file, census table or microdata) is invalid (see :class:`InputError`)."""


class PopulaceWarning(UserWarning):
    """Base class of every warning populace emits on purpose (the CLI prints each as one line)."""


class SolverWarning(PopulaceWarning):
    """A margin solver stopped at its iteration cap: a margin misses its target share."""


class StudyWarning(PopulaceWarning):
    """A study loads, but something in it was changed or deserves a look (named in the message)."""


class FitError(PopulaceError):
    """A fit file or fit request cannot be used."""


class TemplateError(PopulaceError):
    """A persona-card template cannot be used (syntax, unknown name, or an unsafe access).

    Parameters
    ----------
    message
        What is wrong and how to fix it.
    file
        The template file (or ``<default template>``), named first in the message.
    line
        1-based line in the template, when known.
    """

    def __init__(self, message: str, *, file: str, line: int | None = None) -> None:
        self.file = file
        self.line = line
        super().__init__(f"{file}{f', line {line}' if line else ''}: {message}")


class PersonasError(PopulaceError):
    """A persona file cannot be read as populace personas (wrong file, missing study, bad column)."""
