"""Personas from a fit: posterior predictive draws of the population."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import xarray as xr

from populace.errors import FitError
from populace.inference.fit import model_from_fit, posterior_draws
from populace.ipf import rake_joint
from populace.models.copula import CopulaModel
from populace.personas import persona_dataset

__all__ = ["sample_personas", "posterior_joint"]


def sample_personas(
    fit: xr.DataTree,
    n: int,
    *,
    draws: int = 20,
    seed: int | None = 0,
    where: Mapping[str, str] | None = None,
) -> xr.Dataset:
    """Draw ``n`` personas for each of ``draws`` posterior draws.

    For each posterior draw of the copula parameters and concentration
    ``alpha``, the population's joint cell shares are drawn from their
    posterior ``Dirichlet(alpha * pi + n_sample)``, raked to every census table
    (the census is exact, so the synthetic population reproduces it), and
    ``n`` personas are drawn from them.

    Parameters
    ----------
    fit
        A fit from :func:`populace.inference.fit` or :func:`load_fit`.
    n
        Personas per draw.
    draws
        Posterior draws (spread over the chains; at most the number stored).
    seed
        The same seed gives the same personas.
    where
        Restrict to personas with ``attribute == level`` (e.g. ``{"state": "Ohio"}``).

    Returns
    -------
    xarray.Dataset
        Dims ``(draw, persona)``; one integer-coded variable per attribute
        (labels in each variable's ``levels`` attribute).
    """
    if n < 1 or draws < 1:
        raise FitError(f"n and draws must be >= 1 (got n={n}, draws={draws}).")
    model = model_from_fit(fit)
    total, post = posterior_draws(fit)
    if draws > total:
        raise FitError(f"asked for {draws} draws but the fit stores {total}. Fix: lower --draws or refit with more.")
    rng = np.random.default_rng(seed)
    picks = np.sort(rng.choice(total, size=draws, replace=False))
    cond = _condition(model, where)
    study, s = model.study, model.structure
    # Internal joint axes: 0 = geography, then the other attributes in study order.
    axis = {name: (0 if name == s.geo_name else 1 + s.names.index(name)) for name in study.names}
    codes = {name: np.empty((draws, n), dtype=np.int16) for name in study.names}
    for d, i in enumerate(picks):
        p = posterior_joint(model, {k: v[i] for k, v in post.items()}, rng)
        if cond is not None:
            p = p * cond
            if p.sum() <= 0:
                raise FitError(f"no population mass where {dict(where or {})}.")
        flat = rng.choice(p.size, size=n, p=(p / p.sum()).reshape(-1))
        cell = np.unravel_index(flat, p.shape)
        for name in study.names:
            codes[name][d] = cell[axis[name]]
    attrs = {
        "method": "populace copula",
        "seed": -1 if seed is None else int(seed),
        "posterior_draws": picks.tolist(),
        "where": "" if not where else ",".join(f"{k}={v}" for k, v in where.items()),
    }
    return persona_dataset(codes, study, attrs=attrs)


def posterior_joint(model: CopulaModel, params: Mapping[str, np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """One posterior draw of the population joint shares, raked to the census.

    Shape ``(G, L_1, ..., L_J)``.
    """
    s = model.structure
    model.check_enumerable()
    pi = model.joint(dict(params))
    if model.model_config["dirichlet"]:
        counts = _sample_counts(model, pi)
        alpha = float(np.exp(params["log_concentration"]))
        shape = alpha * pi + counts
        p = rng.gamma(np.maximum(shape, 1e-300))
    else:
        p = pi
    tables = [(t.axes, t.counts) for t in s.census]
    return rake_joint(p, tables) if tables else p / p.sum()


def _sample_counts(model: CopulaModel, pi: np.ndarray) -> np.ndarray:
    """Microdata counts on the joint; incomplete rows spread over their completions by ``pi``."""
    s = model.structure
    counts = np.zeros_like(pi)
    c = s.complete
    if c.counts.size:
        np.add.at(counts, (c.geo, *c.codes.T), c.counts)
    inc = s.incomplete
    for g, row, w in zip(inc.geo, inc.codes, inc.counts, strict=True):
        idx = (slice(None) if g < 0 else int(g),) + tuple(slice(None) if v < 0 else int(v) for v in row)
        sub = pi[idx]
        if sub.sum() > 0:
            counts[idx] += w * sub / sub.sum()
    return counts


def _condition(model: CopulaModel, where: Mapping[str, str] | None) -> np.ndarray | None:
    """0/1 mask over the joint for ``attribute == level`` restrictions."""
    if not where:
        return None
    s = model.structure
    mask = np.ones(s.joint_shape)
    for name, level in where.items():
        if name not in model.study.names:
            raise FitError(f"--where {name}={level}: no attribute {name!r}; attributes are {', '.join(model.study.names)}.")
        levels = model.study.attribute(name).levels
        if level not in levels:
            raise FitError(f"--where {name}={level}: {level!r} is not a level of {name}; levels are {', '.join(levels)}.")
        axis = 0 if name == s.geo_name else 1 + s.names.index(name)
        sel = np.zeros(s.joint_shape[axis])
        sel[levels.index(level)] = 1.0
        shape = [1] * len(s.joint_shape)
        shape[axis] = -1
        mask = mask * sel.reshape(shape)
    return mask
