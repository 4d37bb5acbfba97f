"""Cell probabilities of the Gaussian-copula factor model, factors integrated out.

Notation: K factors ``eta ~ N(0, I_K)`` on Q quadrature nodes, G geographies
(G = 1 without one), attribute ``j`` with ``L_j`` levels.

* threshold attributes (ordinal, and every 2-level attribute): latent
  ``y*_j = (b_j . eta + e_j) / sqrt(1 + |b_j|^2)``, ``e_j ~ N(0, 1)``, so ``y*_j``
  is standard normal whatever ``b_j``; the thresholds are solved so that the
  margin, integrated over the quadrature, *is* the target margin.
* softmax attributes (nominal, 3+ levels): ``P(y = l | eta) = softmax(c_l + B_l . eta)``
  with ``B_0 = 0``; the intercepts ``c`` are solved likewise.

Both solves happen in ``models.solve``; here one differentiable Newton step from the
solution gives the gradient.

Every function takes ``xp`` (``backend.NP`` or ``backend.PT``) so the same code
runs in the PyMC graph and in numpy at generation time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = [
    "threshold_logp",
    "softmax_logp",
    "pattern_logp",
    "LOG_FLOOR",
]

# Probabilities below exp(LOG_FLOOR) are floored so log(0) never reaches the gradient.
LOG_FLOOR = -60.0
_EPS = 1e-12
_SQRT_2PI = float(np.sqrt(2.0 * np.pi))


def threshold_logp(b: Any, shares: Any, nodes: np.ndarray, log_w: np.ndarray, xp: Any) -> Any:
    """Log P(level | node) for a threshold attribute.

    Parameters
    ----------
    b : (K,) raw loadings.
    shares : (G, L) target level shares per geography.
    nodes, log_w : quadrature rule.

    Returns
    -------
    (G, Q, L) log-probabilities whose quadrature margin equals ``shares``: the
    thresholds solve that equation (``models.solve``), not the continuous-factor one
    (``ndtri`` of the cumulative shares), which misses by up to 1e-2 on few nodes.
    """
    scale = 1.0 / xp.sqrt(1.0 + xp.sum(b * b))
    mu = scale * xp.dot(nodes, b)  # (Q,)
    cum = xp.clip(xp.cumsum(shares, axis=-1)[:, :-1], _EPS, 1.0 - _EPS)
    tau = xp.solve_thresholds(mu, scale, cum, log_w)  # (G, L-1), no gradient of its own
    # One Newton step from the root: same value, implicit-function derivative.
    w = xp.exp(log_w)[None, :, None]
    z = (tau[:, None, :] - mu[None, :, None]) / scale
    f = xp.sum(w * xp.ndtr(z), axis=1)
    dens = xp.sum(w * xp.exp(-0.5 * z * z), axis=1) / (scale * _SQRT_2PI)
    tau = tau + (cum - f) / xp.maximum(dens, 1e-300)
    cdf = xp.ndtr((tau[:, None, :] - mu[None, :, None]) / scale)  # (G, Q, L-1)
    g, q = cdf.shape[0], cdf.shape[1]
    lo = xp.concatenate([xp.zeros((g, q, 1)), cdf], axis=2)
    hi = xp.concatenate([cdf, xp.ones((g, q, 1))], axis=2)
    return xp.log(xp.maximum(hi - lo, np.exp(LOG_FLOOR)))


def softmax_logp(B: Any, shares: Any, nodes: np.ndarray, log_w: np.ndarray, xp: Any) -> Any:
    """Log P(level | node) for a nominal attribute with a softmax link.

    Parameters
    ----------
    B : (L-1, K) loadings of levels 1..L-1 (level 0 is the reference).
    shares : (G, L) target shares.
    nodes, log_w : quadrature rule.

    Returns
    -------
    (G, Q, L) log-probabilities whose quadrature margin matches ``shares``: the
    intercepts solve that equation (``models.solve``), then one differentiable
    Newton step gives their implicit-function derivative.
    """
    k = nodes.shape[1]
    full = xp.concatenate([xp.zeros((1, k)), B], axis=0)  # (L, K)
    eta_b = xp.dot(nodes, full.T)  # (Q, L)
    log_target = xp.log(xp.clip(shares, _EPS, 1.0))  # (G, L)
    c = xp.solve_intercepts(eta_b, log_target, log_w)  # (G, L), c_0 = 0
    w = xp.exp(log_w)[None, :, None]
    p = xp.exp(_log_softmax(c[:, None, :] + eta_b[None, :, :], xp))  # (G, Q, L)
    grad = xp.sum(w * p, axis=1) - xp.exp(log_target)  # (G, L), zero at the root
    # Hessian of the convex potential in c_1..c_{L-1}: diag(m) - sum_q w p p^T.
    pr = p[:, :, 1:]
    wp = w * pr
    hess = xp.diag_batch(xp.sum(wp, axis=1)) - xp.transpose(wp, (0, 2, 1)) @ pr
    step = xp.solve(hess, grad[:, 1:])
    c = c - xp.concatenate([xp.zeros((c.shape[0], 1)), step], axis=1)
    return _log_softmax(c[:, None, :] + eta_b[None, :, :], xp)


def _log_softmax(logits: Any, xp: Any) -> Any:
    return logits - xp.logsumexp(logits, axis=2)[:, :, None]


def pattern_logp(
    logps: Sequence[Any],
    n_levels: Sequence[int],
    geo_idx: np.ndarray,
    codes: np.ndarray,
    log_w: np.ndarray,
    xp: Any,
) -> Any:
    """Log-probability of response patterns within their geography.

    Parameters
    ----------
    logps : per attribute, (G, Q, L_j) from ``threshold_logp`` / ``softmax_logp``;
        None for an attribute that no pattern observes.
    n_levels : L_j per attribute.
    geo_idx : (R,) geography index of each pattern.
    codes : (R, J) level codes, ``-1`` where the attribute is not observed
        (summed out, i.e. contributes log 1).

    Returns
    -------
    (R,) ``log P(pattern | geography)``.
    """
    n_nodes = log_w.shape[0]
    total = None
    for lp, n_lev, col in zip(logps, n_levels, codes.T, strict=True):
        observed = col >= 0
        if not observed.any():
            continue
        # (G, Q, L) -> (G * L, Q) so one row gather picks (geography, level).
        flat = xp.transpose(lp, (0, 2, 1)).reshape((-1, n_nodes))
        term = flat[xp.data(geo_idx * n_lev + np.where(observed, col, 0))]  # (R, Q)
        if not observed.all():
            term = term * xp.data(observed[:, None].astype(float))
        total = term if total is None else total + term
    if total is None:
        return xp.zeros((codes.shape[0],))
    return xp.logsumexp(total + log_w[None, :], axis=1)
