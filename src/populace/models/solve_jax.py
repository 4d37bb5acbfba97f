"""JAX versions of the margin kernels of ``models.solve``, for PyTensor's JAX backend.

Same equations, starts, steps and tolerances as the numba kernels, vectorised over every
threshold (or area) at once: the loops run until the last equation has converged, each
converged one frozen, and emit from the tails of their last pass (a threshold's after its
Taylor step, as in the numba kernel). The thresholds' loop gathers its last few unfinished
equations and runs on those alone: one area's empty level (a target of 1e-12) took 4
passes where the rest took 2, and paid for 4 full passes (anes 1 %: 0.32 -> 0.27 ms).
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


def _threshold_pass(t: Any, lo: Any, hi: Any, it: Any, m: Any, w: Any, tail: Any, sgn: Any, sd: Any) -> tuple[Any, ...]:
    """One Halley pass over thresholds ``t`` (N,) with node means ``m`` (N, Q): the tails
    and densities at ``t`` (N, Q), the new ``t`` and bracket, and which thresholds have
    finished (converged at ``t``, or stepped under solve._TAYLOR_STEP, their tails then
    moved along by Taylor series, or at the iteration limit)."""
    z = t[:, None] - m
    u = 0.5 * lax.erfc(-sgn[:, None] * z / _SQRT2)
    e = jnp.exp(-0.5 * z * z) / _SQRT_2PI
    tot, dens, curv = u @ w, e @ w, (z * e) @ w
    done = jnp.abs(tot - tail) < TOL * tail
    high = (tot > tail) == (sgn > 0)
    hi, lo = jnp.where(high, t, hi), jnp.where(high, lo, t)
    dens = jnp.maximum(dens, 1e-300)
    tot = jnp.maximum(tot, 1e-300)
    # Halley on log(tot) - log(tail), as solve._log_halley.
    step = -sgn * (jnp.log(tot) - jnp.log(tail)) * tot / dens
    shrink = 1.0 - step * (curv / dens + sgn * dens / tot) / 2.0
    step = jnp.where(shrink > 0.5, step / shrink, step)
    step = jnp.clip(step, -sd, sd)
    new = t + step
    new = jnp.where((lo < new) & (new < hi) | jnp.isinf(hi - lo), new, 0.5 * (lo + hi))
    maxed = it >= _MAX_ITER
    step = jnp.where(done | maxed, 0.0, new - t)
    taylor = jnp.abs(step) < _TAYLOR_STEP
    s = step[:, None]
    s2 = s * s / 2.0
    u = jnp.where(taylor[:, None], u + sgn[:, None] * e * (s - z * s2 + (z * z - 1.0) * s2 * s / 3.0), u)
    e = jnp.where(taylor[:, None], e * (1.0 - z * s + (z * z - 1.0) * s2), e)
    return t + step, lo, hi, u, e, done | taylor | maxed


def _solve_thresholds(t: Any, m: Any, w: Any, tail: Any, sgn: Any, sd: Any, fin: Any) -> tuple[Any, Any, Any]:
    """The thresholds (N,), and the tails and densities (N, Q) at them, solved from the start ``t`` (N,),
    ``fin`` marking those not to solve. Halley passes run over all N while more than
    N/8 are unfinished (N >= 64), then over the unfinished ones alone, gathered, so that a
    few slow equations (an area's empty level) do not cost full passes."""
    n, q_n = m.shape
    k_n = n // 8 if n >= 64 else 0

    def passes(m: Any, tail: Any, sgn: Any, sd: Any) -> Any:
        def step(state: tuple[Any, ...]) -> tuple[Any, ...]:
            t, lo, hi, u, e, fin, it = state
            t2, lo, hi, u2, e2, fin2 = _threshold_pass(t, lo, hi, it, m, w, tail, sgn, sd)
            keep = fin[:, None]
            return jnp.where(fin, t, t2), lo, hi, jnp.where(keep, u, u2), jnp.where(keep, e, e2), fin | fin2, it + 1

        return step

    inf = jnp.full(t.shape, jnp.inf)
    blank = jnp.zeros((n, q_n))
    state = (t, -inf, inf, blank, blank, fin, 0)
    t, lo, hi, u, e, fin, it = lax.while_loop(lambda s: (~s[5]).sum() > k_n, passes(m, tail, sgn, sd), state)
    if k_n == 0:
        return t, u, e
    idx = jnp.nonzero(~fin, size=k_n, fill_value=n)[0]  # n: an empty slot, finished
    pick = lambda a: a.at[idx].get(mode="fill", fill_value=1.0)  # noqa: E731
    blank = jnp.zeros((k_n, q_n))
    few = (pick(t), pick(lo), pick(hi), blank, blank, idx >= n, it)
    t_k, _, _, u_k, e_k, _, _ = lax.while_loop(lambda s: ~s[5].all(), passes(pick(m), pick(tail), pick(sgn), pick(sd)), few)
    return t.at[idx].set(t_k, mode="drop"), u.at[idx].set(u_k, mode="drop"), e.at[idx].set(e_k, mode="drop")


def thresholds_forward(m: Any, z0: Any, cum: Any, n_thr: Any, log_w: Any) -> tuple[Any, Any, Any, Any]:
    """``(logp, prob, phi, t)`` of :func:`populace.models.solve.thresholds_forward` (``t`` is 0
    at padding thresholds)."""
    m, z0, cum, n_thr = jnp.asarray(m), jnp.asarray(z0), jnp.asarray(cum), jnp.asarray(n_thr)
    w = jnp.exp(log_w)
    j_n, g_n, m_n = cum.shape
    q_n = m.shape[1]
    real = jnp.arange(m_n)[None, None, :] < n_thr[:, None, None]  # (J, 1, M): padding thresholds are not solved
    real = jnp.broadcast_to(real, cum.shape)
    cum = jnp.where(real, cum, 0.25)
    z0 = jnp.where(real, z0, -0.6744897501960817)
    mean = m @ w
    sd = jnp.sqrt(1.0 + ((m - mean[:, None]) ** 2) @ w)
    upper = cum > 0.5
    sgn = jnp.where(upper, -1.0, 1.0)
    tail = jnp.where(upper, 1.0 - cum, cum)
    att = jnp.broadcast_to(jnp.arange(j_n)[:, None, None], cum.shape).reshape(-1)
    t0 = mean[:, None, None] + sd[:, None, None] * z0
    t, u, e = _solve_thresholds(
        t0.reshape(-1), m[att], w, tail.reshape(-1), sgn.reshape(-1), sd[att], ~real.reshape(-1)
    )
    t = jnp.where(real, t.reshape(cum.shape), 0.0)
    u = u.reshape(j_n, g_n, m_n, q_n).transpose(0, 1, 3, 2)
    e = e.reshape(j_n, g_n, m_n, q_n).transpose(0, 1, 3, 2)
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
    return logp, prob, phi, t


def thresholds_backward(prob: Any, phi: Any, n_thr: Any, log_w: Any, g_logp: Any, g_t: Any) -> tuple[Any, Any]:
    """``(d m, d cum)`` of :func:`populace.models.solve.thresholds_backward`."""
    # Padding levels hold the floor and padding thresholds a zero density.
    real = jnp.arange(phi.shape[-1])[None, None, :] < jnp.asarray(n_thr)[:, None, None]
    w = jnp.exp(log_w)
    a = jnp.where(prob > _P_FLOOR, g_logp / prob, 0.0)
    s = phi * (a[..., :-1] - a[..., 1:])  # (J, G, Q, M)
    dens = jnp.einsum("jgqk,q->jgk", phi, w)
    dc = (s.sum(axis=2) + jnp.where(real, g_t, 0.0)) / jnp.maximum(dens, 1e-300)
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
