"""The independence peer: every attribute drawn on its own from its census margin."""

from __future__ import annotations

import numpy as np
import xarray as xr

from populace.baselines.base import Resample, integerize, to_personas
from populace.study.shares import reference_margin
from populace.study.spec import Study

__all__ = ["IndependenceGenerator", "margins"]


def margins(study: Study) -> list[np.ndarray]:
    """1-D share vector of every attribute, in study order: its census margin, else (no
    census table) its weighted sample margin (:func:`populace.study.shares.reference_margin`)."""
    return [reference_margin(study, a.name)[0] for a in study.attributes]


class IndependenceGenerator:
    """Product of the 1-D margins: the census-only yardstick.

    Parameters
    ----------
    resample
        ``"integerize"`` (default): each attribute's column holds the counts
        ``n * share`` rounded at random (:func:`populace.baselines.base.integerize`),
        shuffled independently of the other columns, so the 1-D margins are exact when
        ``n`` is the census total and within one persona otherwise;
        ``"multinomial"``: independent categorical draws.
    """

    name = "independence"

    def __init__(self, *, resample: Resample = "integerize") -> None:
        self.resample = resample

    def fit(self, study: Study, *, seed: int | None = None) -> IndependenceGenerator:
        self.study_ = study
        self.margins_ = margins(study)
        return self

    def sample_personas(self, n: int, *, draws: int = 1, seed: int | None = None) -> xr.Dataset:
        rng = np.random.default_rng(seed)
        codes = np.empty((draws, n, len(self.margins_)), dtype=np.int64)
        for d in range(draws):
            for j, share in enumerate(self.margins_):
                if self.resample == "integerize":
                    col = np.repeat(np.arange(share.size), integerize(share, n, rng))
                    codes[d, :, j] = rng.permutation(col)
                elif self.resample == "multinomial":
                    codes[d, :, j] = rng.choice(share.size, size=n, p=share)
                else:
                    raise ValueError(f"unknown resampling method {self.resample!r}")
        return to_personas(codes, self.study_, method=self.name, seed=seed)
