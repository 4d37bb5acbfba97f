"""Where each attribute of a persona comes from: the census, the census and the survey, or the survey.

The model pins every census table exactly (the copula's margins are solved to equal them
and the personas are raked to them), so an attribute's provenance follows from the study's
census tables alone:

- ``census-pinned``: the attribute is in a census cross-tab (a table of 2+ attributes,
  geography x attribute included). Its margin *and* its joint with the other attributes of
  that table are the census's; only its dependence on the remaining attributes is learned
  from the survey. A multi-way table pins the margin too, so no 1-D table is needed.
- ``census-margin``: only 1-D census tables include it. Its margin is the census's, every
  dependence on other attributes is learned from the survey (through the copula factors
  and the Dirichlet layer).
- ``survey-only``: no census table includes it; its shares and dependence are learned from
  the survey sample alone (``Dirichlet(1)`` prior shares).

Each provenance also names the surveys (microdata sources) that measured the attribute.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from populace.study.spec import Marginal, Study

__all__ = ["Kind", "Provenance", "provenance", "provenance_json", "table_name"]


class Kind(StrEnum):
    """The three provenances of an attribute (module docstring)."""

    CENSUS_PINNED = "census-pinned"
    CENSUS_MARGIN = "census-margin"
    SURVEY_ONLY = "survey-only"


@dataclass(frozen=True)
class Provenance:
    """Provenance of one attribute.

    Parameters
    ----------
    kind
        One of :class:`Kind`.
    tables
        Names of the census tables that include the attribute (file names as written in
        the study, else ``"census a x b"``), in study order; empty for ``survey-only``.
    crossed_with
        Attributes that a census table crosses with this one (their joint is the census's).
    sources
        Labels of the surveys that measured it, in study order; empty when none did.
    """

    kind: Kind
    tables: tuple[str, ...]
    crossed_with: tuple[str, ...]
    sources: tuple[str, ...] = ()

    @property
    def note(self) -> str:
        """One sentence a reader of a card understands."""
        tables = ", ".join(self.tables)
        survey = f"survey(s) {', '.join(self.sources)}" if self.sources else "no survey (the model's structure alone)"
        if self.kind is Kind.CENSUS_PINNED:
            return (
                f"margin and joint with {', '.join(self.crossed_with)} pinned by census table(s) {tables}; "
                f"dependence on the other attributes learned from {survey}"
            )
        if self.kind is Kind.CENSUS_MARGIN:
            return f"margin pinned by census table(s) {tables}; dependence on the other attributes learned from {survey}"
        return f"no census table: shares and dependence learned from {survey}"

    def to_dict(self, *, full: bool = False) -> dict[str, Any]:
        """JSON form: ``kind`` and ``tables``; with ``full``, also ``crossed_with`` and ``note``.

        Cards repeat it on every line, so there it is the short form.
        """
        out: dict[str, Any] = {"kind": str(self.kind), "tables": list(self.tables)}
        if full:
            out |= {"crossed_with": list(self.crossed_with), "sources": list(self.sources), "note": self.note}
        return out


def table_name(marginal: Marginal) -> str:
    """How cards and the dataset card name a census table: its file, else its attributes."""
    return marginal.source if marginal.source else "census " + " x ".join(marginal.attributes)


def provenance(study: Study) -> dict[str, Provenance]:
    """Provenance of every attribute of ``study``, in study order.

    Parameters
    ----------
    study
        The study the personas were fitted to.

    Returns
    -------
    dict
        ``{attribute: Provenance}``.
    """
    out: dict[str, Provenance] = {}
    for name in study.names:
        tables = [m for m in study.marginals if name in m.attributes]
        crossed = tuple(dict.fromkeys(a for m in tables for a in m.attributes if a != name))
        if not tables:
            kind = Kind.SURVEY_ONLY
        elif crossed:
            kind = Kind.CENSUS_PINNED
        else:
            kind = Kind.CENSUS_MARGIN
        sources = tuple(x.label for x in study.sources if name in x.attributes)
        out[name] = Provenance(kind, tuple(table_name(m) for m in tables), crossed, sources)
    return out


def provenance_json(study: Study) -> str:
    """Every attribute's full provenance as JSON, as fit files and persona files record it."""
    return json.dumps({k: v.to_dict(full=True) for k, v in provenance(study).items()})
