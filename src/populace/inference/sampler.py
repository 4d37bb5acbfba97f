"""Draws from the copula ``pi`` in the model's generative order, never enumerating the joint.

Order: area ``g ~ s``; a factor node ``q ~ w``; each area attribute ``x_d`` given
``(g, q)``; then a node ``q' ~ P_nat(q' | x_D)`` of the national copula; then each other
attribute given ``(q', g)`` (its area's offsets, where it has area effects). That is an
exact draw from ``pi(g, x) = s_g P_g(x_D) P_g(x_A | x_D)`` (``models.copula``). Cost: O(draws x
(attributes + nodes)); memory does not depend on the number of joint cells.

Codes are in the model's internal order: column 0 the area (0 without a geography),
then the other attributes in study order.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from populace.models.backend import NP
from populace.models.copula import CopulaModel

__all__ = ["CopulaSampler", "unique_rows"]

_CHUNK = 200_000  # rows per vectorised step: bounds the (rows, nodes) temporaries


def unique_rows(codes: np.ndarray, dims: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """Distinct rows of level codes and each row's index among them. Found on raveled keys
    (np.unique over rows sorts lexicographically, several times slower), unless the rows'
    cells outnumber int64 (a very wide study): then row by row."""
    if math.prod(int(d) for d in dims) < 2**62:
        keys, inv = np.unique(np.ravel_multi_index(codes.T.astype(np.int64), tuple(dims)), return_inverse=True)
        return np.column_stack(np.unravel_index(keys, tuple(dims))).astype(codes.dtype), inv.reshape(-1)
    rows, inv = np.unique(codes, axis=0, return_inverse=True)
    return rows, inv.reshape(-1)


def _categorical(rng: np.random.Generator, log_table: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """One draw per entry of ``rows`` from the categorical ``exp(log_table[rows[i]])``.

    ``log_table`` is (T, L) unnormalised log-probabilities. Inverse CDF on the rows
    stacked with offsets 0, 1, 2, ...: one ``searchsorted`` for every draw.
    """
    t = np.exp(log_table - log_table.max(axis=1, keepdims=True))
    cdf = np.cumsum(t, axis=1)
    cdf /= cdf[:, -1:]
    cdf[:, -1] = 1.0
    flat = (cdf + np.arange(len(cdf))[:, None]).reshape(-1)
    u = rng.random(len(rows)) + rows
    out = np.searchsorted(flat, u, side="right") - rows * log_table.shape[1]
    return np.minimum(out, log_table.shape[1] - 1)


class CopulaSampler:
    """Exact draws from the copula of one posterior draw of the parameters.

    Parameters
    ----------
    model
        The model (structure and quadrature rule).
    params
        One draw of the model's parameters (``loadings_*``, ``shares_*``).
    """

    def __init__(self, model: CopulaModel, params: Mapping[str, Any]) -> None:
        s = model.structure
        p = {k: np.asarray(v, float) for k, v in params.items()}
        logps = model.attribute_logps(p, NP)
        self.structure = s
        self.log_w = model.log_w
        self.area = [None if a is None else np.asarray(a) for a in logps.area]  # (G, Q, L)
        self.national = [np.asarray(n)[0] for n in logps.national]  # (Q, L)
        # Attributes with area effects: P(level | node, area), (G, Q, L), else None.
        every = np.arange(s.n_geo)
        self.shifted = [
            np.asarray(model.area_tables(logps, j, every, NP)) if j in model.area_attrs else None for j in range(len(s.names))
        ]
        self.geo_shares = np.asarray(model._geo_shares(p, NP), float)
        self.margin_gap = model.margin_gap(p, logps)  # the solvers stop at an iteration cap
        self.in_d = np.array(s.area, dtype=bool)

    @property
    def n_columns(self) -> int:
        return 1 + len(self.structure.names)

    def draw(self, rng: np.random.Generator, m: int, *, fixed: Mapping[int, int] | None = None) -> np.ndarray:
        """``m`` draws from ``pi`` (internal codes, shape (m, 1 + J), int16).

        ``fixed`` maps internal columns (0 = area) to levels: the draws are then from
        ``pi`` conditioned on them. Conditioning on area attributes and the area is exact;
        on other attributes it is by sampling-importance-resampling from 64 candidates per
        draw (used only to seed census cells that no draw reached, see ``inference.atoms``).
        """
        out = np.empty((m, self.n_columns), dtype=np.int16)
        fixed_a = any(c > 0 and not self.in_d[c - 1] for c in (fixed or {}))
        chunk = _CHUNK // 64 if fixed_a else _CHUNK  # importance resampling draws 64 candidates each
        for start in range(0, m, chunk):
            stop = min(m, start + chunk)
            out[start:stop] = self._draw(rng, stop - start, dict(fixed or {}))
        return out

    # ------------------------------------------------------------------ internals
    def _draw(self, rng: np.random.Generator, m: int, fixed: dict[int, int]) -> np.ndarray:
        fixed_a = {c: v for c, v in fixed.items() if c > 0 and not self.in_d[c - 1]}
        if not fixed_a:
            return self._draw_exact(rng, m, fixed)
        k = 64
        cand = self._draw_exact(rng, m * k, {c: v for c, v in fixed.items() if c not in fixed_a})
        logw = self._log_p_given_d(cand, fixed_a)
        choice = _categorical(rng, logw.reshape(m, k), np.arange(m))
        picked = cand.reshape(m, k, -1)[np.arange(m), choice]
        for c, v in fixed_a.items():
            picked[:, c] = v
        return self._complete_national(rng, picked, fixed_a)

    def _draw_exact(self, rng: np.random.Generator, m: int, fixed: dict[int, int]) -> np.ndarray:
        """Area, area attributes and the rest, given fixed area / area attributes."""
        s, log_w = self.structure, self.log_w
        codes = np.zeros((m, self.n_columns), dtype=np.int64)
        fixed_d = {c: v for c, v in fixed.items() if c > 0}
        # Node weights per area given the fixed area attributes: (G, Q).
        lw_gq = np.broadcast_to(log_w, (s.n_geo, len(log_w))).copy()
        for c, v in fixed_d.items():
            lw_gq = lw_gq + self.area[c - 1][:, :, v]
        if 0 in fixed:
            codes[:, 0] = fixed[0]
        elif s.n_geo > 1:
            log_g = np.log(np.maximum(self.geo_shares, 1e-300)) + _logsumexp(lw_gq, axis=1)
            codes[:, 0] = _categorical(rng, log_g[None, :], np.zeros(m, dtype=np.int64))
        g = codes[:, 0]
        if self.in_d.any():
            q = _categorical(rng, lw_gq, g)
            for j in np.flatnonzero(self.in_d):
                c = j + 1
                if c in fixed:
                    codes[:, c] = fixed[c]
                    continue
                table = self.area[j].reshape(-1, self.area[j].shape[2])  # (G * Q, L)
                codes[:, c] = _categorical(rng, table, g * len(log_w) + q)
        return self._complete_national(rng, codes, fixed)

    def _complete_national(self, rng: np.random.Generator, codes: np.ndarray, fixed: Mapping[int, int]) -> np.ndarray:
        """Draw the non-area attributes given the area attributes, by the national copula."""
        d_cols = np.flatnonzero(self.in_d) + 1
        a_cols = [c for c in np.flatnonzero(~self.in_d) + 1 if c not in fixed]
        if not a_cols:
            return codes
        fixed_a = [c for c in np.flatnonzero(~self.in_d) + 1 if c in fixed]
        cond = np.concatenate([d_cols, fixed_a]).astype(int)
        # Node posterior given the conditioning attributes, per distinct combination.
        if len(cond):
            dims = [self.national[c - 1].shape[1] for c in cond]
            combos, inv = unique_rows(codes[:, cond], dims)
        else:
            combos, inv = np.zeros((1, 0), int), np.zeros(len(codes), int)
        lw = np.broadcast_to(self.log_w, (len(combos), len(self.log_w))).copy()
        for k, c in enumerate(cond):
            lw += self.national[c - 1][:, combos[:, k]].T
        q = _categorical(rng, lw, inv.reshape(-1))
        for c in a_cols:
            table = self.shifted[c - 1]
            if table is None:
                codes[:, c] = _categorical(rng, self.national[c - 1], q)
            else:  # the row's own area's table
                codes[:, c] = _categorical(rng, table.reshape(-1, table.shape[2]), codes[:, 0] * len(self.log_w) + q)
        return codes

    def _log_p_given_d(self, codes: np.ndarray, fixed_a: Mapping[int, int]) -> np.ndarray:
        """``log P_nat(x_A fixed | x_D)`` per row, by quadrature."""
        d_cols = np.flatnonzero(self.in_d) + 1
        num = np.broadcast_to(self.log_w, (len(codes), len(self.log_w))).copy()
        for c in d_cols:
            num += self.national[c - 1][:, codes[:, c]].T
        den = _logsumexp(num, axis=1)
        for c, v in fixed_a.items():
            table = self.shifted[c - 1]
            num += self.national[c - 1][:, v][None, :] if table is None else table[codes[:, 0], :, v]
        return _logsumexp(num, axis=1) - den


def _logsumexp(x: np.ndarray, axis: int) -> np.ndarray:
    top = x.max(axis=axis, keepdims=True)
    return (top + np.log(np.exp(x - top).sum(axis=axis, keepdims=True))).squeeze(axis)
