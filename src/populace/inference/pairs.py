"""The pair layer: each population draw calibrated to a posterior draw of its free 2-way tables.

Why. The copula gives every pair of attributes its dependence through K shared factors.
Where that structure is wrong for a pair (an inverted U, leaners who vote like partisans,
a correlation the factors cannot reach), the posterior is confidently wrong, and the
Dirichlet layer cannot correct it: its one concentration is learned from complete
response patterns, which are all distinct in a wide joint, so it goes to the thousands
and the sample moves the population by 1-2 % (``../shared/design/honest-intervals.md``).
Misfit shows in the low-dimensional margins, where sample rows repeat.

What. For every *free pair* ``(a, b)`` (two non-area attributes that no census table
holds together), the population's table ``p_ab`` gets a Dirichlet layer of its own around
the copula's: ``p_ab ~ Dirichlet(alpha_ab * pi_ab)``, and the sample's 2-way counts
``n_ab`` (every row that observes both, weights scaled to the Kish effective size) observe
it, so ``n_ab ~ DirichletMultinomial(alpha_ab * pi_ab)`` and
``p_ab | n_ab ~ Dirichlet(alpha_ab * pi_ab + n_ab)``. The concentrations are partially
pooled: ``log alpha_ab ~ N(mu, tau^2)``, ``mu ~ N(log_concentration_mu,
log_concentration_sd^2)``, ``tau ~ HalfNormal(pair_tau_sd)``. A pair that the copula
misfits gets a small ``alpha_ab``: its table moves towards the sample and its interval
widens to what the sample supports. A pair the copula fits keeps a large one: the
sample cannot tell ``alpha_ab`` above about 3 n from infinity, and the pooling across
pairs carries the typical concentration there.

How. This layer is *modular* (a "cut", Plummer 2015): it is computed per posterior draw
of the copula, given that draw, and does not feed back into the copula's parameters
(whose posterior would otherwise count every sample row once per pair). For posterior
draw ``d``: ``pi_ab`` is the pair table of the draw's census-raked population; the
pair concentrations are drawn from their exact conditional posterior on a grid of
``log alpha`` (the hyperparameters first, on a grid, then each pair's given them); each
target ``p_ab`` is drawn from its Dirichlet and adjusted to the population's own 1-D
margins (so it agrees with the census on them); then the population's records are raked
to the census tables and these targets together (the I-projection of the draw onto
them). Pairs no sample row observes together (fragmented sources) get the prior alone:
their intervals are as wide as the prior says.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import special

from populace.inference.ipf import rake
from populace.models.copula import CopulaModel
from populace.study.spec import Marginal

__all__ = ["PairLayer", "pair_layer", "pair_targets", "LOG_ALPHA_GRID"]

#: Grid of ``log alpha`` (concentrations e^-2 to e^18) on which each pair's concentration
#: is drawn; 0.1 apart, far finer than its posterior's width.
LOG_ALPHA_GRID = np.arange(-2.0, 18.0001, 0.1)
_MU_GRID = np.arange(-2.0, 18.0001, 0.25)
_TAU_GRID = np.linspace(0.05, 4.0, 40)
#: 2-D IPF of a drawn table to the population's margins stops here (relative).
_MARGIN_TOL = 1e-10


@dataclass(frozen=True, eq=False)
class PairLayer:
    """The free pairs of a model and what the layer needs of the sample and the prior.

    ``pairs`` are internal columns ``(a, b)`` (1 .. J; 0 is the area), ``counts[i]`` the
    sample's Kish-scaled counts of pair ``i`` as an ``(L_a, L_b)`` table. ``log_prior``
    holds the hyperprior over the ``(mu, tau)`` grid and ``kernel`` each grid point's
    normal distribution of ``log alpha`` over :data:`LOG_ALPHA_GRID` (rows sum to one).
    """

    pairs: tuple[tuple[int, int], ...]
    names: tuple[tuple[str, str], ...]
    counts: tuple[np.ndarray, ...]
    log_prior: np.ndarray
    kernel: np.ndarray


def free_pairs(model: CopulaModel) -> list[tuple[int, int]]:
    """Internal columns of every pair of non-area attributes that no census table holds."""
    s = model.structure
    held = [set(t.axes) for t in s.census]
    cols = range(1, len(s.names) + 1)
    return [(a, b) for a, b in itertools.combinations(cols, 2) if not any({a, b} <= h for h in held)]


def pair_layer(model: CopulaModel) -> PairLayer | None:
    """The layer of a model, or None when it is off or the model has no free pair."""
    cfg, s = model.model_config, model.structure
    pairs = free_pairs(model) if cfg["pair_layer"] else []
    if not pairs:
        return None
    rows = [s.complete, s.incomplete]
    counts = []
    for a, b in pairs:
        la, lb = s.n_levels[a - 1], s.n_levels[b - 1]
        table = np.zeros((la, lb))
        for pat in rows:
            ok = (pat.codes[:, a - 1] >= 0) & (pat.codes[:, b - 1] >= 0)
            np.add.at(table, (pat.codes[ok, a - 1], pat.codes[ok, b - 1]), pat.counts[ok])
        counts.append(table)
    mu, tau = (g.ravel() for g in np.meshgrid(_MU_GRID, _TAU_GRID, indexing="ij"))
    log_prior = -0.5 * ((mu - cfg["log_concentration_mu"]) / cfg["log_concentration_sd"]) ** 2 - 0.5 * (tau / cfg["pair_tau_sd"]) ** 2
    kernel = np.exp(-0.5 * ((LOG_ALPHA_GRID[None, :] - mu[:, None]) / tau[:, None]) ** 2)
    kernel /= kernel.sum(axis=1, keepdims=True)
    names = tuple((s.names[a - 1], s.names[b - 1]) for a, b in pairs)
    return PairLayer(tuple(pairs), names, tuple(counts), log_prior, kernel)


def dm_loglik(pi: np.ndarray, n: np.ndarray, log_alpha: np.ndarray = LOG_ALPHA_GRID) -> np.ndarray:
    """``log DirichletMultinomial(n | alpha * pi)`` (without the multinomial coefficient) at
    each ``log alpha``; ``pi`` and ``n`` are flat tables. Cells with ``n = 0`` add nothing."""
    alpha = np.exp(log_alpha)[:, None]
    seen = n > 0
    a_pi = np.maximum(alpha * pi[None, seen], 1e-300)
    cells = (special.gammaln(a_pi + n[None, seen]) - special.gammaln(a_pi)).sum(axis=1)
    return cells + special.gammaln(alpha[:, 0]) - special.gammaln(alpha[:, 0] + n.sum())


def draw_log_alphas(layer: PairLayer, loglik: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One draw of every pair's ``log alpha`` from the hierarchical posterior, given the
    pairs' log likelihoods ``loglik`` (pairs x :data:`LOG_ALPHA_GRID`): ``(mu, tau)`` from
    their grid posterior (each pair's likelihood integrated over its ``log alpha``), then
    each pair's ``log alpha`` given them."""
    lik = np.exp(loglik - loglik.max(axis=1, keepdims=True))
    marginal = lik @ layer.kernel.T  # (pairs, hyper grid)
    log_post = layer.log_prior + np.log(np.maximum(marginal, 1e-300)).sum(axis=0)
    post = np.exp(log_post - log_post.max())
    h = rng.choice(len(post), p=post / post.sum())
    cdf = np.cumsum(lik * layer.kernel[h][None, :], axis=1)
    pick = (cdf < (rng.random(len(cdf)) * cdf[:, -1])[:, None]).sum(axis=1)
    return LOG_ALPHA_GRID[np.minimum(pick, len(LOG_ALPHA_GRID) - 1)]


def pair_targets(
    layer: PairLayer, codes: np.ndarray, weights: np.ndarray, rng: np.random.Generator
) -> tuple[list[np.ndarray], np.ndarray]:
    """Draw every free pair's table for one population draw.

    ``codes`` (internal, complete) and ``weights`` (census-raked, summing to one) are the
    draw's records. Returns the target tables (shares, each with the records' own 1-D
    margins) and the drawn ``log alpha`` per pair.
    """
    pis, flat = [], []
    for (a, b), n in zip(layer.pairs, layer.counts, strict=True):
        la, lb = n.shape
        pi = np.bincount(codes[:, a].astype(np.int64) * lb + codes[:, b], weights=weights, minlength=la * lb)
        pis.append(pi / pi.sum())
        flat.append(n.reshape(-1))
    loglik = np.stack([dm_loglik(pi, n) for pi, n in zip(pis, flat, strict=True)])
    log_alpha = draw_log_alphas(layer, loglik, rng)
    targets = []
    for pi, n, la_, shape in zip(pis, flat, log_alpha, (c.shape for c in layer.counts), strict=True):
        g = rng.gamma(np.maximum(np.exp(la_) * pi + n, 1e-300))
        targets.append(_fit_margins((g / g.sum()).reshape(shape), pi.reshape(shape)))
    return targets, log_alpha


def _fit_margins(table: np.ndarray, like: np.ndarray) -> np.ndarray:
    """``table`` raked to the row and column sums of ``like``: the package's one IPF, with the
    table's cells as records. Not warned here: a row the drawn table cannot reach shows in
    the population's ``pair_gap``."""
    cells = np.indices(like.shape).reshape(2, -1).T
    margins = [Marginal(("a",), like.sum(axis=1)), Marginal(("b",), like.sum(axis=0))]
    return rake(cells, table.reshape(-1), margins, ("a", "b"), tol=_MARGIN_TOL, warn=False).weights.reshape(like.shape)


def pair_summary(layer: PairLayer, log_alphas: Sequence[np.ndarray]) -> dict[str, tuple[float, float, float]]:
    """Per pair ``"a×b"``, the 5 %, 50 % and 95 % quantiles of its drawn ``log alpha``."""
    arr = np.asarray(log_alphas)
    q = np.quantile(arr, [0.05, 0.5, 0.95], axis=0)
    return {f"{a}×{b}": tuple(float(x) for x in q[:, i]) for i, (a, b) in enumerate(layer.names)}
