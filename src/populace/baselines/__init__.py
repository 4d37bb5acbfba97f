"""Peer generators: the yardstick a Bayesian joint model has to beat.

Every peer follows :class:`populace.baselines.base.Generator`: ``fit(study, seed=...)``
then ``sample_personas(n, draws=..., seed=...)`` returning a persona Dataset with dims
``(draw, persona)``.

What each does with microdata rows that have missing cells:

- ``independence``: uses census margins; an attribute with no census table gets the
  weighted sample margin over the rows where it is observed.
- ``ipf`` / ``raking``, ``bootstrap``, ``bb``, ``bb_ipf``: drop incomplete rows (a
  resampled persona needs every attribute, and raking needs every row in one cell of
  every table).
- ``lca_ipf``: keeps them; a missing cell drops out of that row's likelihood.

:data:`PEERS` maps a peer name to a zero-argument factory (the class).
"""

from __future__ import annotations

from collections.abc import Callable

from populace.baselines.base import Generator
from populace.baselines.bootstrap import (
    BayesianBootstrapGenerator,
    BootstrapGenerator,
    RakedBayesianBootstrapGenerator,
)
from populace.baselines.independence import IndependenceGenerator
from populace.baselines.latent_class import LatentClassGenerator
from populace.baselines.raking import RakingGenerator, rake

__all__ = [
    "PEERS",
    "Generator",
    "IndependenceGenerator",
    "RakingGenerator",
    "BootstrapGenerator",
    "BayesianBootstrapGenerator",
    "RakedBayesianBootstrapGenerator",
    "LatentClassGenerator",
    "rake",
]

#: Peer name -> factory returning an unfitted generator with default options.
PEERS: dict[str, Callable[[], Generator]] = {
    "independence": IndependenceGenerator,
    "raking": RakingGenerator,
    "ipf": RakingGenerator,
    "bootstrap": BootstrapGenerator,
    "bb": BayesianBootstrapGenerator,
    "bb_ipf": RakedBayesianBootstrapGenerator,
    "lca_ipf": LatentClassGenerator,
}
