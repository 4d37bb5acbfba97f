"""Cell probabilities of the Gaussian-copula factor model, factors integrated out.

Notation: K factors ``eta ~ N(0, I_K)`` on Q quadrature nodes, G geographies
(G = 1 without one), attribute ``j`` with ``L_j`` levels.

* threshold attributes (ordinal, and every 2-level attribute): latent
  ``y*_j = (b_j . eta + e_j) / sqrt(1 + |b_j|^2)``, ``e_j ~ N(0, 1)``, so ``y*_j``
  is standard normal whatever ``b_j``; the thresholds are solved so that the
  margin, integrated over the quadrature, *is* the target margin.
* softmax attributes (nominal, 3+ levels): ``P(y = l | eta) = softmax(c_l + B_l . eta)``
  with ``B_0 = 0``; the intercepts ``c`` are solved likewise.

Both solves, and their derivatives, happen in ``models.solve`` (as PyTensor Ops in
``models.margin_ops``).

Every function takes ``xp`` (``backend.NP`` or ``backend.PT``) so the same code
runs in the PyMC graph and in numpy at generation time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from populace.models.solve import LOG_FLOOR

__all__ = [
    "threshold_logp",
    "threshold_logps",
    "threshold_solve",
    "threshold_mixture_logps",
    "softmax_mixture_logp",
    "softmax_logp",
    "pattern_logp",
    "LOG_FLOOR",
]

_EPS = 1e-12


def threshold_logp(b: Any, shares: Any, nodes: np.ndarray, log_w: np.ndarray, xp: Any) -> Any:
    """Log P(level | node) for one threshold attribute: :func:`threshold_logps` of a batch of one.

    ``b`` is (K,) and ``shares`` (G, L); returns (G, Q, L).
    """
    return threshold_logps(b[None, :], shares[None], None, nodes, log_w, xp)[0]


def threshold_logps(
    b: Any, shares: Any, n_levels: Sequence[int] | None, nodes: np.ndarray, log_w: np.ndarray, xp: Any
) -> Any:
    """Log P(level | node) for a batch of J threshold attributes: the first output of
    :func:`threshold_solve`."""
    return threshold_solve(b, shares, n_levels, nodes, log_w, xp)[0]


def threshold_solve(
    b: Any, shares: Any, n_levels: Sequence[int] | None, nodes: np.ndarray, log_w: np.ndarray, xp: Any
) -> tuple[Any, Any, Any]:
    """Log P(level | node), the thresholds and the loading terms of J threshold attributes.

    Parameters
    ----------
    b : (J, K) raw loadings.
    shares : (J, G, L) target level shares per geography, L = max(n_levels); the
        levels past an attribute's own ``n_levels[j]`` are padding (any value).
    n_levels : the attributes' level counts; None when all have L levels (no padding).
    nodes, log_w : quadrature rule.

    Returns
    -------
    logp : (J, G, Q, L) log-probabilities whose quadrature margin equals ``shares``
        (padding levels at the log floor): the thresholds solve that equation
        (``models.solve``), not the continuous-factor one (``ndtri`` of the cumulative
        shares), which misses by up to 1e-2 on few nodes. The latent
        ``(b . eta + e) / sqrt(1 + |b|^2)`` crosses a threshold where ``b . eta + e``
        crosses the unscaled one, so only ``b . x_q`` enters.
    t : (J, G, L - 1) the unscaled thresholds (0 at padding).
    m : (J, Q) the loading terms ``b_j . x_q``.
    """
    n_thr = None if n_levels is None else np.asarray(n_levels) - 1
    m = xp.dot(b, nodes.T)  # (J, Q)
    cum = xp.clip(xp.cumsum(shares, axis=-1)[:, :, :-1], _EPS, 1.0 - _EPS)
    logp, t = xp.threshold_logps(m, cum, n_thr, log_w)
    return logp, t, m


def _mixture_log_weights(log_w_geo: np.ndarray, log_w: np.ndarray) -> np.ndarray:
    """(S * Q,) log weights of the (area, node) mixture, area-major."""
    return (log_w_geo[:, None] + log_w[None, :]).reshape(-1)


def threshold_mixture_logps(
    m: Any, shift: Any, shares: Any, n_levels: Sequence[int], log_w_geo: np.ndarray, log_w: np.ndarray, xp: Any
) -> Any:
    """(J, S, Q, L) log P(level | node, area) of J threshold attributes whose latent location
    moves by ``shift`` (J, S) in area ``s`` (unscaled latent units, as ``m``), with thresholds
    solved so that the mixture over areas and nodes has the target margin ``shares`` (J, 1, L).

    ``m`` (J, Q) holds the loading terms, ``log_w_geo`` (S,) the areas' log population
    weights and ``log_w`` (Q,) the nodes': ``P(y <= l | q, s) = Phi(t_l - m_q - shift_s)`` and
    ``sum_{s, q} w_s w_q P(y = l | q, s) = shares_l``. Solving over the mixture, not over the
    nodes alone, keeps a pinned margin pinned whatever the offsets (their centring is linear,
    the margin is not).
    """
    n_att, n_area, n_node, n_lev = len(n_levels), len(log_w_geo), len(log_w), max(n_levels)
    m_mix = (m[:, None, :] + shift[:, :, None]).reshape((n_att, n_area * n_node))
    cum = xp.clip(xp.cumsum(shares, axis=-1)[:, :, :-1], _EPS, 1.0 - _EPS)
    log_w_mix = _mixture_log_weights(log_w_geo, log_w)
    logp, _ = xp.threshold_logps(m_mix, cum, np.asarray(n_levels) - 1, log_w_mix)  # (J, 1, S * Q, L)
    return logp.reshape((n_att, n_area, n_node, n_lev))


def softmax_mixture_logp(
    B: Any, shares: Any, shift: Any, n_levels: int, nodes: np.ndarray, log_w_geo: np.ndarray, log_w: np.ndarray, xp: Any
) -> Any:
    """(S, Q, L) log P(level | node, area) of a softmax attribute with ``n_levels`` levels
    whose non-reference intercepts move by ``shift`` (S, L - 1) in area ``s``, with intercepts
    solved so that the mixture over areas (log weights ``log_w_geo``) and nodes has the
    target margin ``shares`` (1, L)."""
    k, n_node, n_area = nodes.shape[1], nodes.shape[0], len(log_w_geo)
    full = xp.concatenate([xp.zeros((1, k)), B], axis=0)  # (L, K)
    eta_b = xp.dot(nodes, full.T)  # (Q, L)
    lev = np.arange(n_levels)
    lifted = xp.where(lev == 0, 0.0, shift[:, np.maximum(lev - 1, 0)])  # (S, L): a gather, no concatenation
    eta = (eta_b[None, :, :] + lifted[:, None, :]).reshape((n_area * n_node, n_levels))
    log_w_mix = _mixture_log_weights(log_w_geo, log_w)
    logp = xp.softmax_logp(eta, xp.log(xp.clip(shares, _EPS, 1.0)), log_w_mix)  # (1, S * Q, L)
    return logp.reshape((n_area, n_node, n_levels))


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
    intercepts solve that equation per geography (``models.solve``).
    """
    k = nodes.shape[1]
    full = xp.concatenate([xp.zeros((1, k)), B], axis=0)  # (L, K)
    eta_b = xp.dot(nodes, full.T)  # (Q, L)
    return xp.softmax_logp(eta_b, xp.log(xp.clip(shares, _EPS, 1.0)), log_w)


def pattern_logp(
    logps: Sequence[Any],
    n_levels: Sequence[int],
    geo_idx: np.ndarray,
    codes: np.ndarray,
    log_w: np.ndarray,
    xp: Any,
    *,
    n_geo: int | None = None,
    rows_of: Sequence[tuple[np.ndarray, int] | None] | None = None,
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
    n_geo : G, the same for every attribute; by default the first table's static size.
    rows_of : per attribute, None or ``(index, size)``: that attribute's table has ``size``
        rows (not G) and pattern ``r`` reads its row ``index[r]`` (area-effect tables of the
        patterns' own areas, see ``CopulaModel.area_tables``).

    Returns
    -------
    (R,) ``log P(pattern | geography)``. The attributes' tables are stacked so that one
    gather picks every (attribute, geography, level) row: one graph node, not one per
    attribute.
    """
    n_nodes = log_w.shape[0]
    tables, index, masks, offset = [], [], [], 0
    for j, (lp, n_lev, col) in enumerate(zip(logps, n_levels, codes.T, strict=True)):
        observed = col >= 0
        if not observed.any():
            continue
        own = None if rows_of is None else rows_of[j]
        if own is None and n_geo is None:
            n_geo = int(lp.shape[0] if isinstance(lp, np.ndarray) else lp.type.shape[0])
        rows, size = (geo_idx, n_geo) if own is None else own
        # (G, Q, L) -> (G * L, Q): row g * L + l is (geography g, level l).
        tables.append(xp.transpose(lp, (0, 2, 1)).reshape((-1, n_nodes)))
        index.append(offset + rows * n_lev + np.where(observed, col, 0))
        masks.append(observed)
        offset += size * n_lev
    if not tables:
        return xp.zeros((codes.shape[0],))
    flat = tables[0] if len(tables) == 1 else xp.concatenate(tables, axis=0)
    term = flat[xp.data(np.stack(index, axis=1))]  # (R, J', Q)
    mask = np.stack(masks, axis=1)
    if not mask.all():
        term = term * xp.data(mask[:, :, None].astype(float))
    return xp.logsumexp(xp.sum(term, axis=1) + log_w[None, :], axis=1)
