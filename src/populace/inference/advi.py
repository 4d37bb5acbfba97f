"""Mean-field ADVI with a stopping rule, and its loss trace kept in the fit.

ADVI is an approximation: a product of independent normals on the unconstrained
parameters, fitted by stochastic gradient on the ELBO. It ignores posterior correlation
and under-states the spread, so its intervals are too narrow; use it to explore, NUTS
to report.

The algorithm is PyMC's ``pm.ADVI`` (one-draw reparameterised ELBO gradient, standard
deviations ``softplus(rho)`` from ``rho = 0``, Adam on ``(mu, rho)``, started at the
model's initial point), run on the compiled log density and gradient that NUTS uses
(:func:`populace.inference.nutpie_chains.model_functions`, by the fit's backend, cached
on disk). ``pm.ADVI`` built, rewrote and linked its own ELBO graph on every fit (3.4-3.8 s
on anes 1 %) and its step cost 2.3 ms against 1 ms for that gradient. With the JAX
backend the optimisation runs in a forked process, as NUTS's chains do, so that this
process never starts JAX and later fits can still fork theirs.

Stopping rule: the loss is averaged over windows of ``window`` steps; the fit has
converged when, twice in a row, a window's mean loss is not lower than the previous
window's by more than twice the standard error of the difference (the windows' own
step-to-step spread). A smaller improvement is indistinguishable from the noise of
the one-draw ELBO estimate. Then ``window`` polishing steps at a tenth of the learning
rate cut the jitter that Adam's constant step leaves in the parameters.
"""

from __future__ import annotations

import math
import multiprocessing
import platform
from dataclasses import dataclass
from typing import Any

import numpy as np
import pymc as pm
import xarray as xr

__all__ = ["ElboPlateau", "AdviResult", "fit_advi"]

# Adam's constants, PyMC's defaults.
_BETA1, _BETA2, _EPS = 0.9, 0.999, 1e-8


class ElboPlateau:
    """Stops ADVI when the windowed loss stops falling (see the module docstring).

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

    def __call__(self, losses: np.ndarray) -> bool:
        """Whether to stop, given the losses so far; records how many steps it took."""
        w, n = self.window, len(losses)
        if n % w or n < 2 * w:
            return False
        prev, cur = losses[n - 2 * w : n - w], losses[n - w : n]
        se = math.sqrt(prev.var(ddof=1) / w + cur.var(ddof=1) / w)
        self.flat = self.flat + 1 if prev.mean() - cur.mean() < 2.0 * se else 0
        if self.flat >= self.patience:
            self.converged_at = n
        return self.converged_at is not None


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
    backend: str = "numba",
) -> AdviResult:
    """Fit mean-field ADVI with Adam until the loss plateaus (or ``max_steps``), polish, draw.

    ``backend`` (``"jax"`` or ``"numba"``) compiles the log density and gradient. Returns
    the approximation's ``draws`` draws (one chain) with an ``advi`` group that holds the
    loss (-ELBO estimate) per step and whether the stopping rule was met. Raises
    FloatingPointError when the loss becomes NaN or infinite.
    """
    global _JOB
    from populace.inference import nutpie_chains

    job = (pm_model, draws, max_steps, learning_rate, window, seed, backend)
    if backend == "jax" and platform.system() == "Linux" and not nutpie_chains._jax_running():
        _JOB = job
        try:
            with multiprocessing.get_context("fork").Pool(1) as pool:
                out = pool.apply(_run_job)  # re-raises the process's FloatingPointError here
        finally:
            _JOB = None
    else:
        out = _optimise(*job)
    losses, converged_at, names, values, dims, coords = out
    tree = _draws_tree(names, values, dims, coords)
    converged = converged_at is not None
    tree["advi"] = xr.DataTree(
        xr.Dataset(
            {"loss": (("step",), losses)},
            attrs={
                "converged": int(converged),
                "steps": int(len(losses)),
                "plateau_step": int(converged_at if converged else len(losses) - window),
                "learning_rate": float(learning_rate),
                "window": int(window),
                "backend": backend,
                "note": "mean-field ADVI (an approximation: its intervals can be too narrow); loss = -ELBO per step, "
                f"the last {window} steps polish at a tenth of the learning rate",
            },
        )
    )
    return AdviResult(tree=tree, losses=losses, converged=converged, steps=len(losses))


# The job a forked ADVI process runs (set before the fork, as nutpie_chains does).
_JOB: Any = None


def _run_job() -> Any:
    return _optimise(*_JOB)


def _optimise(
    pm_model: pm.Model, draws: int, max_steps: int, learning_rate: float, window: int, seed: int | None, backend: str
) -> tuple[Any, ...]:
    """The Adam loop and the draws: ``(losses, converged_at, names, values, dims, coords)``."""
    from nutpie.compile_pymc import _prepare_dims_and_coords

    from populace.inference.nutpie_chains import _start_jax, model_functions

    if backend == "jax":
        _start_jax()
    mode = "JAX" if backend == "jax" else "NUMBA"
    n_dim, logp_fn, expand_fn, init_fn, shape_info, _ = model_functions(pm_model, jitter=False, mode=mode)
    rng = np.random.default_rng(seed)
    params = np.concatenate([np.array(init_fn(0), dtype=float), np.zeros(n_dim)])  # (mu, rho)
    m1, m2 = np.zeros(2 * n_dim), np.zeros(2 * n_dim)
    losses = np.empty(max_steps + window)
    n = 0  # steps taken

    def adam_step(rate: float) -> None:
        nonlocal params, m1, m2, n
        mu, rho = params[:n_dim], params[n_dim:]
        sigma = np.logaddexp(0.0, rho)  # softplus
        eps = rng.standard_normal(n_dim)
        logp, grad = logp_fn(mu + sigma * eps)
        grad = np.asarray(grad, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):  # a diverged step: reported below
            loss = -(float(logp) + float(np.log(sigma).sum()))
        if not math.isfinite(loss):
            raise FloatingPointError(f"NaN or infinite loss at step {n}")
        losses[n] = loss
        n += 1
        dsig = 1.0 / (1.0 + np.exp(-rho))  # d softplus / d rho
        g = -np.concatenate([grad, (grad * eps + 1.0 / sigma) * dsig])
        m1 = _BETA1 * m1 + (1 - _BETA1) * g
        m2 = _BETA2 * m2 + (1 - _BETA2) * g * g
        params = params - rate * (m1 / (1 - _BETA1**n)) / (np.sqrt(m2 / (1 - _BETA2**n)) + _EPS)

    stop = ElboPlateau(window=window)
    while n < max_steps and not stop(losses[:n]):
        adam_step(learning_rate)
    for _ in range(window):  # polish
        adam_step(learning_rate / 10)
    mu, sigma = params[:n_dim], np.logaddexp(0.0, params[n_dim:])
    x = mu + sigma * rng.standard_normal((draws, n_dim))
    names, _, shapes = shape_info
    values = [np.empty((1, len(x), *map(int, shape))) for shape in shapes]
    for i, xi in enumerate(x):
        for out, v in zip(values, expand_fn(xi), strict=True):
            out[0, i] = np.reshape(np.asarray(v), out.shape[2:])
    dims, coords = _prepare_dims_and_coords(pm_model, shape_info, [])
    return losses[:n], stop.converged_at, list(names), values, dict(dims), dict(coords)


def _draws_tree(names: list[str], values: list[np.ndarray], dims: dict[str, Any], coords: dict[str, Any]) -> xr.DataTree:
    """The stored variables at each draw, as one chain."""
    import arviz as az

    tree = az.from_dict(
        {"posterior": dict(zip(names, values, strict=True))}, dims={k: v for k, v in dims.items() if k in names}, coords=coords
    )
    tree["posterior"].attrs["inference_library"] = "populace (mean-field ADVI, PyMC's algorithm)"
    return tree
