"""Resampling peers: the bootstrap, the Bayesian bootstrap, and the Bayesian bootstrap raked.

All of them draw personas from the complete microdata rows (rows with a missing cell
are dropped), so none can produce a combination the sample lacks.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from populace.baselines.base import Resample, complete_rows, resample_rows, to_personas
from populace.baselines import raking
from populace.study.spec import Study

__all__ = ["BootstrapGenerator", "BayesianBootstrapGenerator", "RakedBayesianBootstrapGenerator"]


class BootstrapGenerator:
    """Resample the complete sample rows with probability proportional to their weights.

    Parameters
    ----------
    resample
        ``"multinomial"`` (default, the bootstrap) or ``"integerize"``.
    """

    name = "bootstrap"

    def __init__(self, *, resample: Resample = "multinomial") -> None:
        self.resample = resample

    def fit(self, study: Study, *, seed: int | None = None) -> BootstrapGenerator:
        self.study_ = study
        self.codes_, self.weights_ = complete_rows(study)
        return self

    def sample_personas(self, n: int, *, draws: int = 1, seed: int | None = None) -> xr.Dataset:
        rng = np.random.default_rng(seed)
        rows = np.stack([resample_rows(self.weights_, n, rng, method=self.resample) for _ in range(draws)])
        return to_personas(self.codes_[rows], self.study_, method=self.name, seed=seed)


class BayesianBootstrapGenerator:
    """Bayesian bootstrap (Rubin 1981): one Dirichlet reweighting of the sample per draw.

    Draw ``d`` gives row ``i`` the weight ``w_i * g_{d,i}`` with ``g_d ~ Dirichlet(1, ..., 1)``
    (the posterior of the row probabilities under a flat Dirichlet over the observed
    rows; multiplying by the design weight ``w_i`` is the weighted Bayesian bootstrap),
    optionally rakes those weights to every census table, then draws n personas.

    Parameters
    ----------
    rake
        Rake each draw's weights to the census tables (the ``bb_ipf`` peer).
    resample
        How each draw's personas are drawn from its weights; default ``"multinomial"``
        without raking and ``"integerize"`` with it (keeping the raked margins).
    tol, max_iter
        Raking options, see :func:`populace.baselines.raking.rake`.
    """

    name = "bb"

    def __init__(
        self,
        *,
        rake: bool = False,
        resample: Resample | None = None,
        tol: float = 1e-10,
        max_iter: int = 1000,
    ) -> None:
        self.rake = rake
        self.resample: Resample = resample or ("integerize" if rake else "multinomial")
        self.tol = tol
        self.max_iter = max_iter

    def fit(self, study: Study, *, seed: int | None = None) -> BayesianBootstrapGenerator:
        self.study_ = study
        self.codes_, self.weights_ = complete_rows(study)
        return self

    def draw_weights(self, rng: np.random.Generator) -> np.ndarray:
        """One posterior draw of the row weights (raked if asked)."""
        w = self.weights_ * rng.dirichlet(np.ones(len(self.weights_)))
        if self.rake:
            w = raking.rake(
                self.codes_, w, self.study_.marginals, self.study_.names, tol=self.tol, max_iter=self.max_iter
            ).weights
        return w

    def sample_personas(self, n: int, *, draws: int = 1, seed: int | None = None) -> xr.Dataset:
        rng = np.random.default_rng(seed)
        rows = np.stack(
            [resample_rows(self.draw_weights(rng), n, rng, method=self.resample) for _ in range(draws)]
        )
        return to_personas(self.codes_[rows], self.study_, method=self.name, seed=seed)


class RakedBayesianBootstrapGenerator(BayesianBootstrapGenerator):
    """The Bayesian bootstrap with every draw raked to the census tables (``bb_ipf``)."""

    name = "bb_ipf"

    def __init__(self, *, resample: Resample | None = None, tol: float = 1e-10, max_iter: int = 1000) -> None:
        super().__init__(rake=True, resample=resample, tol=tol, max_iter=max_iter)
