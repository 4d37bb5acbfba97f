"""JAX versions of the margin kernels of ``models.solve``, for PyTensor's JAX backend.

Same equations, starts, steps and tolerances as the numba kernels, vectorised over every
threshold (or area) at once: the loops run until the last equation has converged, each
converged one frozen, and emit from the tails of their last pass (the thresholds' after a
Taylor step, once every step is tiny).
Results agree with the numba kernels to the solver's tolerance, not bit for bit
(``tests/models/test_backends.py``).
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
from jax import lax

from populace.models.solve import _MAX_ITER, _TAYLOR_STEP, LOG_FLOOR, TOL

__all__ = ["thresholds_forward", "thresholds_backward", "softmax_forward", "softmax_backward"]

_P_FLOOR = math.exp(LOG_FLOOR)
_SQRT_2PI = math.sqrt(2.0 * math.pi)
_SQRT2 = math.sqrt(2.0)


def _tails(z: Any, sgn: Any) -> tuple[Any, Any]:
    """Node tails on each threshold's own side and normal densities at ``z = t - m``,
    (J, G, Q, M)."""
    return 0.5 * lax.erfc(-sgn[:, :, None, :] * z / _SQRT2), jnp.exp(-0.5 * z * z) / _SQRT_2PI


def thresholds_forward(m: Any, z0: Any, cum: Any, n_thr: Any, log_w: Any) -> tuple[Any, Any, Any]:
    """``(logp, prob, phi)`` of :func:`populace.models.solve.thresholds_forward`."""
    w = jnp.exp(log_w)
    j_n, g_n, m_n = cum.shape
    k_idx = jnp.arange(m_n)
    real = k_idx[None, None, :] < n_thr[:, None, None]  # (J, 1, M): padding thresholds are not solved
    cum = jnp.where(real, cum, 0.25)
    z0 = jnp.where(real, z0, -0.6744897501960817)
    mean = m @ w
    sd = jnp.sqrt(1.0 + ((m - mean[:, None]) ** 2) @ w)
    upper = cum > 0.5
    sgn = jnp.where(upper, -1.0, 1.0)
    tail = jnp.where(upper, 1.0 - cum, cum)
    sd3 = sd[:, None, None]

    def residual(z: Any) -> tuple[Any, ...]:
        u, e = _tails(z, sgn)
        tot = jnp.einsum("jgqk,q->jgk", u, w)
        dens = jnp.einsum("jgqk,q->jgk", e, w)
        curv = jnp.einsum("jgqk,q->jgk", z * e, w)
        return tot, dens, curv, jnp.abs(tot - tail) < TOL * tail, u, e

    def body(state: tuple[Any, ...]) -> tuple[Any, ...]:
        # The tails carried out are those at the returned t. The loop ends once every
        # threshold has converged or takes a step under solve._TAYLOR_STEP, whose tails
        # follow by Taylor series as in the numba kernel (one pass fewer), or at the
        # iteration limit, without a last step.
        t, lo, hi, _, _, _, it = state
        z = t[:, :, None, :] - m[:, None, :, None]
        tot, dens, curv, done, u, e = residual(z)
        high = (tot > tail) == (sgn > 0)
        hi, lo = jnp.where(high, t, hi), jnp.where(high, lo, t)
        dens = jnp.maximum(dens, 1e-300)
        tot = jnp.maximum(tot, 1e-300)
        # Halley on log(tot) - log(tail), as solve._log_halley.
        step = -sgn * (jnp.log(tot) - jnp.log(tail)) * tot / dens
        shrink = 1.0 - step * (curv / dens + sgn * dens / tot) / 2.0
        step = jnp.where(shrink > 0.5, step / shrink, step)
        step = jnp.clip(step, -sd3, sd3)
        new = t + step
        new = jnp.where((lo < new) & (new < hi) | jnp.isinf(hi - lo), new, 0.5 * (lo + hi))
        step = jnp.where(done, 0.0, new - t)
        maxed = it >= _MAX_ITER
        stop = (jnp.abs(step) < _TAYLOR_STEP).all() | maxed
        step = jnp.where(maxed, 0.0, step)[:, :, None, :]
        s2 = step * step / 2.0
        u = jnp.where(stop, u + sgn[:, :, None, :] * e * (step - z * s2 + (z * z - 1.0) * s2 * step / 3.0), u)
        e = jnp.where(stop, e * (1.0 - z * step + (z * z - 1.0) * s2), e)
        return t + step[:, :, 0, :], lo, hi, u, e, stop, it + 1

    t0 = mean[:, None, None] + sd3 * z0
    blank = jnp.zeros((j_n, g_n, m.shape[1], m_n))
    inf = jnp.full(cum.shape, jnp.inf)
    t, _, _, u, e, _, _ = lax.while_loop(lambda s: ~s[5], body, (t0, -inf, inf, blank, blank, jnp.array(False), 0))
    up = jnp.broadcast_to(upper[:, :, None, :], u.shape)
    pad = jnp.zeros(u.shape[:3] + (1,))
    u_prev, u_next = jnp.concatenate([pad, u], -1), jnp.concatenate([u, pad], -1)  # level l's lower / upper threshold
    up_prev, up_next = jnp.concatenate([pad > 0, up], -1), jnp.concatenate([up, pad > 0], -1)
    lev = jnp.arange(m_n + 1)[None, None, None, :]
    kn = n_thr[:, None, None, None]
    p = jnp.where(
        lev == 0,
        jnp.where(up_next, 1.0 - u_next, u_next),
        jnp.where(
            lev == kn,
            jnp.where(up_prev, u_prev, 1.0 - u_prev),
            jnp.where(up_prev, u_prev - u_next, jnp.where(up_next, 1.0 - u_prev - u_next, u_next - u_prev)),
        ),
    )
    keep = (lev <= kn) & (p > _P_FLOOR)
    prob = jnp.where(keep, p, _P_FLOOR)
    logp = jnp.where(keep, jnp.log(jnp.maximum(p, _P_FLOOR)), LOG_FLOOR)
    phi = jnp.where(real[:, :, None, :], e, 0.0)
    return logp, prob, phi


def thresholds_backward(prob: Any, phi: Any, n_thr: Any, log_w: Any, g_logp: Any) -> tuple[Any, Any]:
    """``(d m, d cum)`` of :func:`populace.models.solve.thresholds_backward`."""
    del n_thr  # padding levels hold the floor and padding thresholds a zero density
    w = jnp.exp(log_w)
    a = jnp.where(prob > _P_FLOOR, g_logp / prob, 0.0)
    s = phi * (a[..., :-1] - a[..., 1:])  # (J, G, Q, M)
    dens = jnp.einsum("jgqk,q->jgk", phi, w)
    dc = s.sum(axis=2) / jnp.maximum(dens, 1e-300)
    dm = -s.sum(axis=(1, 3)) + w[None, :] * jnp.einsum("jgk,jgqk->jq", dc, phi)
    return dm, dc


def _spd_solve(a: Any, b: Any) -> Any:
    """``a^-1 b`` for a batch of small symmetric positive definite ``a`` (G, n, n) and ``b``
    (G, n), by Cholesky unrolled over n, as the numba kernel does: ``jnp.linalg.solve``
    loops over the batch calling LAPACK once per matrix."""
    n = a.shape[-1]
    low = [[None] * n for _ in range(n)]
    for i in range(n):
        d = a[:, i, i] - sum(low[i][k] * low[i][k] for k in range(i))
        low[i][i] = jnp.sqrt(jnp.maximum(d, 1e-300))
        for r in range(i + 1, n):
            low[r][i] = (a[:, r, i] - sum(low[r][k] * low[i][k] for k in range(i))) / low[i][i]
    y = [None] * n
    for i in range(n):
        y[i] = (b[:, i] - sum(low[i][k] * y[k] for k in range(i))) / low[i][i]
    x = [None] * n
    for i in reversed(range(n)):
        x[i] = (y[i] - sum(low[k][i] * x[k] for k in range(i + 1, n))) / low[i][i]
    return jnp.stack(x, axis=-1)


def _margin_hessian(p: Any, w: Any) -> Any:
    """(G, L-1, L-1) ``diag(m) - sum_q w_q p_q p_q^T`` over levels 1..L-1."""
    p1 = p[..., 1:]
    return jax.vmap(jnp.diag)(jnp.einsum("gql,q->gl", p1, w)) - jnp.einsum("gqa,gqb,q->gab", p1, p1, w)


def softmax_forward(eta_b: Any, log_target: Any, log_w: Any) -> tuple[Any, Any]:
    """``(logp, prob)`` of :func:`populace.models.solve.softmax_forward`: damped Newton on
    every area at once, each area frozen once it has converged."""
    w = jnp.exp(log_w)
    l_n = eta_b.shape[1]
    t = jnp.exp(log_target)
    t = t / t.sum(axis=1, keepdims=True)
    log_avg = jax.scipy.special.logsumexp(eta_b + log_w[:, None], axis=0)

    def rows(c: Any) -> tuple[Any, Any, Any]:
        x = c[:, None, :] + eta_b[None]
        lse = jax.scipy.special.logsumexp(x, axis=2)
        return jnp.exp(x - lse[..., None]), lse, lse @ w - (t * c).sum(axis=1)

    def body(state: tuple[Any, ...]) -> tuple[Any, ...]:
        # Carries the rows (p, lse, potential) at c, so each Newton step evaluates them once
        # (at its trial point) unless it halves.
        c, p, lse, value, _, it = state
        grad = jnp.einsum("gql,q->gl", p, w) - t
        worst = jnp.abs(grad).max(axis=1)
        done = worst < TOL
        hess = _margin_hessian(p, w) + 1e-14 * jnp.eye(l_n - 1)
        step = jnp.concatenate([jnp.zeros((c.shape[0], 1)), _spd_solve(hess, grad[:, 1:])], axis=1)
        far = worst > 1e-6

        def halve(s: tuple[Any, ...]) -> tuple[Any, ...]:
            size, bad = s[0], s[1]
            size = jnp.where(bad, size / 2.0, size)
            p_t, lse_t, v_t = rows(c - size[:, None] * step)
            return size, far & (v_t > value + 1e-15) & (size > 1e-8), p_t, lse_t, v_t

        p_t, lse_t, v_t = rows(c - step)
        bad = far & (v_t > value + 1e-15)
        size, _, p_t, lse_t, v_t = lax.while_loop(lambda s: s[1].any(), halve, (jnp.ones_like(worst), bad, p_t, lse_t, v_t))
        keep = done[:, None]
        return (
            jnp.where(keep, c, c - size[:, None] * step),
            jnp.where(keep[:, :, None], p, p_t),
            jnp.where(keep, lse, lse_t),
            jnp.where(done, value, v_t),
            done.all(),
            it + 1,
        )

    c0 = log_target - log_avg - (log_target[:, :1] - log_avg[0])
    c, p, lse, _, _, _ = lax.while_loop(lambda s: ~s[4] & (s[5] < _MAX_ITER), body, (c0, *rows(c0), jnp.array(False), 0))
    return c[:, None, :] + eta_b[None] - lse[..., None], p


def softmax_backward(prob: Any, log_target: Any, log_w: Any, g_logp: Any) -> tuple[Any, Any]:
    """``(d eta_b, d log_target)`` of :func:`populace.models.solve.softmax_backward`."""
    w = jnp.exp(log_w)
    r = g_logp - prob * g_logp.sum(axis=2, keepdims=True)
    sol = _spd_solve(_margin_hessian(prob, w), r[:, :, 1:].sum(axis=1))
    lam = jnp.concatenate([jnp.zeros((prob.shape[0], 1)), sol], axis=1)  # (G, L)
    d_target = lam * jnp.exp(log_target)
    s = jnp.einsum("gl,gql->gq", lam, prob)
    d_eta = r.sum(axis=0) - w[:, None] * jnp.einsum("gql,gql->ql", prob, lam[:, None, :] - s[..., None])
    return d_eta, d_target
