"""The SBC configurations: which study is simulated, what is ranked, with which model.

A configuration fixes the *shape* of every simulated study (attributes, which census
tables exist, the model config), so every replication builds the same PyMC graph with
other data, and names the rotation-invariant quantities whose ranks are tested.

* :data:`PRODUCTION`: the production model (K = 3, the Dirichlet layer, the census
  cross-tab Dirichlet-multinomial), a geography of two areas with an area x age
  table, a cross-tab sex x edu, a nominal attribute with softmax loadings and a free
  attribute (no census table). 2 x 3 x 2 x 3 x 3 x 3 = 324 joint cells: a third area
  took the gradient from 1.1 to 1.9 ms, and 200 replications have to fit in ~75 min.
* :data:`AREAS`: the default model config as users fit it (area effects included), four
  areas with an area x age table, a national edu table, a cross-tab age x edu and two
  free attributes, a nominal and an ordinal one: every non-geography attribute but age
  gets area offsets. 4 x 3 x 3 x 3 x 3 = 324 joint cells. Fitted by
  ``populace.inference.fit`` itself (nutpie on JAX, ``method="nutpie"``).
* :data:`SMALL`: the earlier check, K = 1, four attributes with 1-D tables only, no
  Dirichlet layer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from populace.study.spec import Attribute

__all__ = ["AREAS", "CONFIGS", "PRODUCTION", "SMALL", "SBCConfig", "Share"]

Event = tuple[tuple[str, str], ...]  # (attribute, level) pairs, all of which hold


@dataclass(frozen=True)
class Share:
    """A population share of the copula ``pi``: ``P(event | given)``."""

    event: Event
    given: Event = ()

    @property
    def label(self) -> str:
        ev = ",".join(f"{a}={lev}" for a, lev in self.event)
        if not self.given:
            return f"pi[{ev}]"
        return f"pi[{ev}|{','.join(f'{a}={lev}' for a, lev in self.given)}]"


@dataclass(frozen=True)
class SBCConfig:
    """Shape of the simulated studies and the ranked quantities.

    Parameters
    ----------
    name
        ``"production"`` or ``"small"`` (the CLI's ``--config``).
    attributes
        Study attributes; a geography, if any, first.
    fixed_tables
        Census tables that are *data the model conditions on* (1-D tables, area x
        attribute tables): their shares pin the copula's margins and enter no
        likelihood term, so the simulator draws them independently of the parameters.
        Each attribute is in at most one of them.
    crosstabs
        Census cross-tabs of two non-geography attributes: a likelihood term, so they
        are simulated from the model given the parameters. Each of their attributes
        must be in a fixed table (listed first), so that the cross-tab does not also
        pin margins (see :mod:`populace.evaluation.sbc.simulate`).
    model_config
        Model config of simulator and fit alike.
    gram
        Pairs of loading rows (``CopulaModel.loading_rows``) whose ``loading_gram``
        entry is ranked; None = the whole upper triangle.
    shares
        Copula population shares that are ranked.
    rank_concentration
        Rank ``log_concentration`` (the Dirichlet layer's ``log alpha``).
    scalars
        Names of further scalar free parameters that are ranked as they are (area-effect
        scales ``area_sd_<attribute>``, ``log_census_concentration``).
    """

    name: str
    attributes: tuple[Attribute, ...]
    fixed_tables: tuple[tuple[str, ...], ...]
    crosstabs: tuple[tuple[str, str], ...] = ()
    model_config: dict[str, Any] = field(default_factory=dict)
    gram: tuple[tuple[str, str], ...] | None = None
    shares: tuple[Share, ...] = ()
    rank_concentration: bool = False
    scalars: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        names = [a.name for a in self.attributes]
        seen = [n for t in self.fixed_tables for n in t]
        if len(seen) != len(set(seen)):
            raise ValueError(f"{self.name}: an attribute is in two fixed tables (their shares would disagree)")
        for tab in self.crosstabs:
            if not set(tab) <= set(seen):
                raise ValueError(f"{self.name}: cross-tab {tab} needs a fixed table for each of its attributes")
        if not set(seen) | {n for t in self.crosstabs for n in t} <= set(names):
            raise ValueError(f"{self.name}: a table names an unknown attribute")
        if float(self.model_config.get("census_weight", 1.0)) != 1.0:
            raise ValueError(f"{self.name}: the simulator assumes census_weight = 1")

    @property
    def free(self) -> tuple[str, ...]:
        """Attributes with no census table (their shares are parameters)."""
        tabled = {n for t in (*self.fixed_tables, *self.crosstabs) for n in t}
        return tuple(a.name for a in self.attributes if a.name not in tabled and a.role != "geography")


PRODUCTION = SBCConfig(
    name="production",
    attributes=(
        Attribute("region", "nominal", ("r1", "r2"), role="geography"),
        Attribute("age", "ordinal", ("young", "mid", "old")),
        Attribute("sex", "nominal", ("f", "m")),
        Attribute("edu", "ordinal", ("e1", "e2", "e3")),
        Attribute("party", "nominal", ("p1", "p2", "p3")),
        Attribute("opinion", "ordinal", ("o1", "o2", "o3")),
    ),
    fixed_tables=(("region", "age"), ("sex",), ("edu",), ("party",)),
    crosstabs=(("sex", "edu"),),
    model_config={"factors": 3, "dirichlet": True, "census_dirichlet": True},
    gram=(
        ("sex", "edu"),  # the census cross-tab's pair
        ("age", "edu"),
        ("age", "opinion"),
        ("edu", "opinion"),
        ("party=p2", "opinion"),
        ("sex", "party=p3"),
        ("opinion", "opinion"),  # the free attribute's communality
    ),
    shares=(
        Share((("opinion", "o1"),), (("region", "r1"),)),
        Share((("opinion", "o1"),), (("region", "r2"),)),
        Share((("opinion", "o3"),), (("region", "r1"),)),
        Share((("sex", "f"), ("edu", "e1"))),
        Share((("age", "young"), ("party", "p2"), ("opinion", "o3"))),
    ),
    rank_concentration=True,
)

AREAS = SBCConfig(
    name="areas",
    attributes=(
        Attribute("region", "nominal", ("r1", "r2", "r3", "r4"), role="geography"),
        Attribute("age", "ordinal", ("young", "mid", "old")),
        Attribute("edu", "ordinal", ("e1", "e2", "e3")),
        Attribute("party", "nominal", ("p1", "p2", "p3")),
        Attribute("opinion", "ordinal", ("o1", "o2", "o3")),
    ),
    fixed_tables=(("region", "age"), ("edu",)),
    crosstabs=(("age", "edu"),),
    model_config={},  # the defaults
    gram=(
        ("age", "edu"),  # the census cross-tab's pair
        ("age", "opinion"),
        ("edu", "party=p2"),
        ("party=p3", "opinion"),
        ("opinion", "opinion"),
    ),
    shares=(
        *(Share((("opinion", "o1"),), (("region", r),)) for r in ("r1", "r2", "r3", "r4")),
        Share((("party", "p1"),), (("region", "r1"),)),
        Share((("party", "p3"),), (("region", "r4"),)),
        Share((("edu", "e3"),), (("region", "r2"),)),
        Share((("party", "p2"), ("opinion", "o3"))),
    ),
    rank_concentration=True,
    scalars=("area_sd_edu", "area_sd_party", "area_sd_opinion", "log_census_concentration"),
)

SMALL = SBCConfig(
    name="small",
    attributes=(
        Attribute("a", "ordinal", ("a1", "a2", "a3")),
        Attribute("b", "nominal", ("b1", "b2")),
        Attribute("c", "nominal", ("c1", "c2", "c3")),
        Attribute("d", "ordinal", ("d1", "d2", "d3")),
    ),
    fixed_tables=(("a",), ("b",), ("c",), ("d",)),
    model_config={"factors": 1, "dirichlet": False},
    shares=(
        Share((("a", "a1"), ("b", "b1"), ("c", "c1"), ("d", "d1"))),
        Share((("a", "a3"), ("b", "b2"), ("c", "c3"), ("d", "d3"))),
        Share((("a", "a2"), ("b", "b1"), ("c", "c2"), ("d", "d3"))),
    ),
)

CONFIGS: dict[str, SBCConfig] = {c.name: c for c in (PRODUCTION, AREAS, SMALL)}
