"""Raking (iterative proportional fitting) of microdata weights to census tables.

The peer ``ipf`` rakes the sample weights to *all* census tables, cross-tabulations
included, then resamples personas in proportion to the raked weights. It reproduces the
census tables but can only produce combinations the sample holds.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from populace.baselines.base import Resample, complete_rows, resample_rows, to_personas
from populace.inference.ipf import RakeResult, rake
from populace.study.spec import Study

__all__ = ["RakeResult", "rake", "RakingGenerator"]


class RakingGenerator:
    """Rake the complete sample rows to every census table, then resample.

    Rows with a missing cell are dropped before raking (see
    :func:`populace.baselines.base.complete_rows`).

    Parameters
    ----------
    resample
        ``"integerize"`` (default; keeps the raked margins) or ``"multinomial"``.
    tol, max_iter
        Passed to :func:`rake`.
    """

    name = "ipf"

    def __init__(
        self, *, resample: Resample = "integerize", tol: float = 1e-10, max_iter: int = 1000
    ) -> None:
        self.resample = resample
        self.tol = tol
        self.max_iter = max_iter

    def fit(self, study: Study, *, seed: int | None = None) -> RakingGenerator:
        self.study_ = study
        self.codes_, w = complete_rows(study)
        self.rake_ = rake(self.codes_, w, study.marginals, study.names, tol=self.tol, max_iter=self.max_iter)
        return self

    def sample_personas(self, n: int, *, draws: int = 1, seed: int | None = None) -> xr.Dataset:
        rng = np.random.default_rng(seed)
        w = self.rake_.weights
        rows = np.stack([resample_rows(w, n, rng, method=self.resample) for _ in range(draws)])
        return to_personas(self.codes_[rows], self.study_, method=self.name, seed=seed)
