"""Mean-field ADVI with a stopping rule, and its loss trace kept in the fit.

ADVI is an approximation: a product of independent normals on the unconstrained
parameters, fitted by stochastic gradient on the ELBO. It ignores posterior correlation
and under-states the spread, so its intervals are too narrow; use it to explore, NUTS
to report.

Stopping rule: the loss is averaged over windows of ``window`` steps; the fit has
converged when, twice in a row, a window's mean loss is not lower than the previous
window's by more than twice the standard error of the difference (the windows' own
step-to-step spread). A smaller improvement is indistinguishable from the noise of
the one-draw ELBO estimate. Then ``window`` polishing steps at a tenth of the learning
rate cut the jitter that Adam's constant step leaves in the parameters.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pymc as pm
import pytensor
import xarray as xr

__all__ = ["ElboPlateau", "AdviResult", "fit_advi"]


class ElboPlateau:
    """A PyMC callback that stops ADVI when the windowed loss stops falling (see module doc).

    Parameters
    ----------
    window
        Steps per window.
    patience
        Consecutive windows without a significant improvement before stopping.
    """

    def __init__(self, *, window: int = 250, patience: int = 2) -> None:
        self.window = int(window)
        self.patience = int(patience)
        self.flat = 0
        self.converged_at: int | None = None

    def __call__(self, approx: Any, losses: np.ndarray, i: int) -> None:
        # ``losses`` are this fit call's losses so far (``i`` counts earlier calls too).
        w, n = self.window, len(losses)
        if self.converged_at is not None or n % w or n < 2 * w:
            return
        prev, cur = np.asarray(losses[n - 2 * w : n - w]), np.asarray(losses[n - w : n])
        se = math.sqrt(prev.var(ddof=1) / w + cur.var(ddof=1) / w)
        self.flat = self.flat + 1 if prev.mean() - cur.mean() < 2.0 * se else 0
        if self.flat >= self.patience:
            self.converged_at = i
            raise StopIteration(f"ELBO plateau at step {i}")


@dataclass(frozen=True)
class AdviResult:
    """The draws of the fitted approximation and how the optimisation went."""

    tree: xr.DataTree
    losses: np.ndarray
    converged: bool
    steps: int


def fit_advi(
    pm_model: pm.Model,
    *,
    draws: int,
    max_steps: int,
    learning_rate: float,
    window: int,
    seed: int | None,
    progressbar: bool = False,
) -> AdviResult:
    """Fit mean-field ADVI with Adam until the loss plateaus (or ``max_steps``), polish, draw.

    Returns the approximation's ``draws`` draws (one chain) with an ``advi`` group that
    holds the loss per step and whether the stopping rule was met.
    """
    rng = np.random.default_rng(seed)
    stop = ElboPlateau(window=window)
    # A shared learning rate, so that polishing reuses the compiled step function.
    rate = pytensor.shared(np.asarray(learning_rate, dtype=pytensor.config.floatX))
    with pm_model:
        advi = pm.ADVI(random_seed=int(rng.integers(2**31)))
        advi.fit(max_steps, obj_optimizer=pm.adam(learning_rate=rate), callbacks=[stop], progressbar=progressbar)
        rate.set_value(np.asarray(learning_rate / 10, dtype=rate.dtype))
        advi.refine(window, progressbar=False)
        tree = advi.approx.sample(draws, random_seed=int(rng.integers(2**31)))
    losses = np.asarray(advi.hist, float)
    converged = stop.converged_at is not None
    tree["advi"] = xr.DataTree(
        xr.Dataset(
            {"loss": (("step",), losses)},
            attrs={
                "converged": int(converged),
                "steps": int(len(losses)),
                "plateau_step": int(stop.converged_at or len(losses) - window),
                "learning_rate": float(learning_rate),
                "window": int(window),
                "note": "mean-field ADVI (an approximation: its intervals can be too narrow); loss = -ELBO per step, "
                f"the last {window} steps polish at a tenth of the learning rate",
            },
        )
    )
    return AdviResult(tree=tree, losses=losses, converged=converged, steps=len(losses))
