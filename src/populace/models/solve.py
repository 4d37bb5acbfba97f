"""Numba kernels of the margin equations: solve them, emit the log-probabilities, and
differentiate.

Thresholds (and softmax intercepts) are solved so that the quadrature margin equals the
target shares, then the log-probabilities are emitted from the same arrays. The backward
kernels give the vector-Jacobian product by the implicit-function theorem, so a gradient
costs one pass over the (area x node x level) arrays instead of differentiating the solver
or a graph of elementwise tensors (``models.margin_ops`` wraps them as PyTensor Ops).
"""

from __future__ import annotations

import math
from typing import Any

import numba
import numpy as np
from scipy import special

__all__ = [
    "solve_thresholds",
    "solve_intercepts",
    "thresholds_forward",
    "thresholds_backward",
    "softmax_forward",
    "softmax_backward",
    "LOG_FLOOR",
    "TOL",
]

#: Convergence tolerance on the margin: relative to the tail share of each threshold, and
#: absolute per level share for the softmax intercepts.
TOL = 1e-12
_MAX_ITER = 100
#: A threshold step below this is the last: the tails at the root follow by Taylor series.
_TAYLOR_STEP = 1e-6
#: Log-probabilities are floored here so that log(0) never reaches the gradient.
LOG_FLOOR = -60.0
_P_FLOOR = math.exp(LOG_FLOOR)
_SQRT_2PI = math.sqrt(2.0 * math.pi)
_SQRT2 = math.sqrt(2.0)


def solve_thresholds(mu: np.ndarray, scale: Any, cum: np.ndarray, log_w: np.ndarray) -> np.ndarray:
    """Thresholds ``tau`` with ``sum_q w_q Phi((tau - mu_q) / scale) = cum``.

    Parameters
    ----------
    mu : (Q,) latent means at the nodes, or (J, Q) for J attributes at once.
    scale : latent noise sd, or (J,).
    cum : (G, L-1) target cumulative shares strictly inside (0, 1), or (J, G, L-1).
    log_w : (Q,) log quadrature weights.

    Returns
    -------
    Thresholds shaped like ``cum``: :func:`thresholds_forward` on the unscaled latent
    ``t = tau / scale``, where the equation reads ``sum_q w_q Phi(t - mu_q / scale)``.
    """
    cum = np.ascontiguousarray(cum, dtype=float)
    mu, scale = np.asarray(mu, float), np.asarray(scale, float)
    single = cum.ndim == 2
    if single:
        mu, scale, cum = mu[None], scale.reshape(1), cum[None]
    m = np.ascontiguousarray(mu / scale[:, None])
    n_thr = np.full(cum.shape[0], cum.shape[2], dtype=np.int64)
    t = thresholds_forward(m, special.ndtri(cum), cum, n_thr, np.asarray(log_w, float))[3]
    tau = t * scale[:, None, None]
    return tau[0] if single else tau


def solve_intercepts(eta_b: np.ndarray, log_target: np.ndarray, log_w: np.ndarray) -> np.ndarray:
    """Intercepts ``c`` (``c_0 = 0``) with ``sum_q w_q softmax(c + eta_b_q) = exp(log_target)``.

    Parameters
    ----------
    eta_b : (Q, L) loading term per node and level (level 0 is zero).
    log_target : (G, L) log target shares.
    log_w : (Q,) log quadrature weights.

    Returns
    -------
    (G, L) intercepts. The equations are the gradient of the convex function
    ``sum_q w_q logsumexp(c + eta_b_q) - t.c``, so Newton steps with step halving converge.
    """
    return softmax_forward(
        np.ascontiguousarray(eta_b, dtype=float), np.ascontiguousarray(log_target, dtype=float), np.asarray(log_w, float)
    )[2]


# The kernels are numba functions so that the sampler's numba-compiled gradient calls
# them without dropping to Python (object mode made each gradient ~3x slower).
@numba.njit(cache=True)
def thresholds_forward(m, z0, cum, n_thr, log_w):  # pragma: no cover - compiled
    """Solve the thresholds of a batch and emit its log-probabilities, in one pass.

    ``m`` (J, Q) is the loading term ``b_j . x_q`` per node, ``cum`` (J, G, M) the target
    cumulative shares, ``z0 = ndtri(cum)``, ``n_thr[j] <= M`` attribute j's threshold count
    (the rest is padding). The unscaled threshold ``t`` solves
    ``sum_q w_q Phi(t - m_q) = cum``: one increasing function of ``t``. Each equation is
    solved on its smaller tail (the upper one, ``sum_q w_q Phi(m_q - t) = 1 - cum``, where
    cum > 1/2), on the log scale, by Halley steps (Newton's where Halley's would not shrink
    the step, see :func:`_log_halley`) from the continuous-factor solution, capped at one
    latent sd, and bisecting the bracket found so far where a step would leave it (nodes
    many sd apart leave the margin flat between them). It stops at a tolerance relative to
    that tail: an absolute 1e-12 accepted a threshold whose tail held 4e-16 for a target of
    1e-12 (an area with an empty edge level).

    Returns ``(logp, prob, phi, t)``: ``logp`` (J, G, Q, M + 1) with padding levels at
    ``LOG_FLOOR``, ``prob = exp(logp)``, ``phi`` (J, G, Q, M) the normal density at each
    threshold (what :func:`thresholds_backward` needs) and ``t`` (J, G, M). The tail values
    at the root give the probabilities, each level from the tails that are small there.
    When the last step is below ``_TAYLOR_STEP`` they come from a Taylor series about the
    point before instead of one more pass of ``erfc`` and ``exp`` over the nodes (the
    solver's main cost).
    """
    w = np.exp(log_w)
    j_n, g_n, m_n = cum.shape
    q_n = m.shape[1]
    t_out = np.zeros((j_n, g_n, m_n))
    u = np.zeros((q_n, m_n))  # each threshold's tail at each node, on its own side
    phi = np.zeros((j_n, g_n, q_n, m_n))
    prob = np.full((j_n, g_n, q_n, m_n + 1), _P_FLOOR)
    logp = np.full((j_n, g_n, q_n, m_n + 1), LOG_FLOOR)
    upper = np.zeros(m_n, dtype=np.bool_)
    for j in range(j_n):
        mean, var = 0.0, 0.0
        for q in range(q_n):
            mean += w[q] * m[j, q]
        for q in range(q_n):
            var += w[q] * (m[j, q] - mean) ** 2
        sd = math.sqrt(1.0 + var)
        k_n = n_thr[j]
        for g in range(g_n):
            for k in range(k_n):
                upper[k] = cum[j, g, k] > 0.5
                sgn = -1.0 if upper[k] else 1.0
                tail = 1.0 - cum[j, g, k] if upper[k] else cum[j, g, k]
                t = mean + sd * z0[j, g, k]
                lo, hi = -math.inf, math.inf  # the root's bracket so far
                for it in range(_MAX_ITER + 1):
                    tot = 0.0
                    dens = 0.0
                    curv = 0.0
                    for q in range(q_n):
                        z = t - m[j, q]
                        uq = 0.5 * math.erfc(-sgn * z / _SQRT2)
                        e = math.exp(-0.5 * z * z) / _SQRT_2PI
                        u[q, k] = uq
                        phi[j, g, q, k] = e
                        tot += w[q] * uq
                        dens += w[q] * e
                        curv += w[q] * z * e
                    if abs(tot - tail) < TOL * tail or it == _MAX_ITER:
                        break
                    if (tot > tail) == (sgn > 0):
                        hi = t
                    else:
                        lo = t
                    dens = max(dens, 1e-300)
                    tot = max(tot, 1e-300)
                    step, shrink = _log_halley(tot, tail, dens, curv, sgn)
                    if shrink > 0.5:
                        step /= shrink
                    step = min(max(step, -sd), sd)
                    if not lo < t + step < hi and hi - lo < math.inf:
                        step = 0.5 * (lo + hi) - t  # bisect where the margin has flat stretches
                    t += step
                    if abs(step) < _TAYLOR_STEP:
                        # Halley's error after this step is O(step^3): the root, to rounding.
                        _taylor_tails(u, phi, j, g, k, t - step, m, step, sgn)
                        break
                t_out[j, g, k] = t
            for q in range(q_n):
                for lev in range(k_n + 1):
                    if lev == 0:
                        p = 1.0 - u[q, 0] if upper[0] else u[q, 0]
                    elif lev == k_n:
                        p = u[q, k_n - 1] if upper[k_n - 1] else 1.0 - u[q, k_n - 1]
                    elif upper[lev - 1]:
                        p = u[q, lev - 1] - u[q, lev]
                    elif upper[lev]:
                        p = 1.0 - u[q, lev - 1] - u[q, lev]
                    else:
                        p = u[q, lev] - u[q, lev - 1]
                    if p > _P_FLOOR:
                        prob[j, g, q, lev] = p
                        logp[j, g, q, lev] = math.log(p)
    return logp, prob, phi, t_out


@numba.njit(cache=True)
def _log_halley(tot, tail, dens, curv, sgn):  # pragma: no cover - compiled
    """Newton's step and Halley's divisor for ``h(t) = log(tot) - log(tail) = 0``, ``tot``
    the node-averaged tail on the threshold's own side: ``h' = sgn * dens / tot``,
    ``h'' = -sgn * curv / tot - (dens / tot)^2``. On the log scale the far tails are
    nearly quadratic, so a start several sd off converges in a few steps; on ``tot``
    itself they are flat on one side and steep on the other (an empty level in one of
    anes's 49 states took 9 steps, against 3 here)."""
    newton = -sgn * (math.log(tot) - math.log(tail)) * tot / dens
    return newton, 1.0 - newton * (curv / dens + sgn * dens / tot) / 2.0


@numba.njit(cache=True)
def _taylor_tails(u, phi, j, g, k, t, m, step, sgn):  # pragma: no cover - compiled
    """Move threshold ``k``'s node tails ``u[:, k]`` and densities ``phi[j, g, :, k]`` from
    ``t`` to ``t + step`` by their Taylor series (tails to ``step^3``, densities to
    ``step^2``): with ``|step| < _TAYLOR_STEP`` the remainders are below 1e-15 of each
    where ``|z| < 10``."""
    s2, s3 = step * step / 2.0, step * step * step / 6.0
    for q in range(m.shape[1]):
        z = t - m[j, q]
        e = phi[j, g, q, k]
        u[q, k] += sgn * e * (step - z * s2 + (z * z - 1.0) * s3)
        phi[j, g, q, k] = e * (1.0 - z * step + (z * z - 1.0) * s2)


@numba.njit(cache=True)
def thresholds_backward(prob, phi, n_thr, log_w, g_logp, g_t):  # pragma: no cover - compiled
    """Vector-Jacobian product of :func:`thresholds_forward`: ``(d m, d cum)`` from ``d logp``
    and ``d t`` (the thresholds' own cotangent, (J, G, M)).

    With ``z_qk = t_k - m_q``, a level's ``log(Phi(z_hi) - Phi(z_lo))`` moves with ``z``
    directly and through ``t``, whose implicit derivative is ``dt_k / dm_q = w_q phi_qk / D_k``
    and ``dt_k / dcum_k = 1 / D_k``, ``D_k = sum_q w_q phi_qk``. Floored levels carry no
    derivative (as ``log(max(p, floor))``).
    """
    w = np.exp(log_w)
    j_n, g_n, q_n, l_n = prob.shape
    dm = np.zeros((j_n, q_n))
    dcum = np.zeros((j_n, g_n, l_n - 1))
    a = np.zeros(l_n)
    tot = np.zeros(l_n - 1)
    dens = np.zeros(l_n - 1)
    for j in range(j_n):
        k_n = n_thr[j]
        for g in range(g_n):
            tot[:] = 0.0
            dens[:] = 0.0
            for q in range(q_n):
                for lev in range(k_n + 1):
                    p = prob[j, g, q, lev]
                    a[lev] = g_logp[j, g, q, lev] / p if p > _P_FLOOR else 0.0
                for k in range(k_n):
                    s = phi[j, g, q, k] * (a[k] - a[k + 1])
                    dm[j, q] -= s
                    tot[k] += s
                    dens[k] += w[q] * phi[j, g, q, k]
            for k in range(k_n):
                dc = (tot[k] + g_t[j, g, k]) / max(dens[k], 1e-300)
                dcum[j, g, k] = dc
                for q in range(q_n):
                    dm[j, q] += dc * w[q] * phi[j, g, q, k]
    return dm, dcum


@numba.njit(cache=True)
def _node_exp(eta_b):  # pragma: no cover - compiled
    """``(exp(eta_b - top), top)`` per node, ``top`` the node's largest term: with them a
    softmax over ``c + eta_b`` costs L exponentials, not Q x L (the nodes are shared by
    every area)."""
    q_n, l_n = eta_b.shape
    top = np.empty(q_n)
    e = np.empty((q_n, l_n))
    for q in range(q_n):
        top[q] = eta_b[q].max()
        for lev in range(l_n):
            e[q, lev] = math.exp(eta_b[q, lev] - top[q])
    return e, top


@numba.njit(cache=True)
def _softmax_rows(c, e, top, w, t, p, lse, with_lse):  # pragma: no cover - compiled
    """``p[q] = softmax(c + eta_b[q])`` in place; with ``with_lse``, also its log normaliser
    ``lse[q]`` and the convex potential ``sum_q w_q lse_q - t . c`` (returned; else 0), whose
    gradient is the margin residual. ``e, top = _node_exp(eta_b)``; ``c`` is shifted by its
    maximum so no factor overflows."""
    q_n, l_n = e.shape
    c_top = c.max()
    ec = np.empty(l_n)
    for lev in range(l_n):
        ec[lev] = math.exp(c[lev] - c_top)
    total = 0.0
    for q in range(q_n):
        tot = 0.0
        for lev in range(l_n):
            v = ec[lev] * e[q, lev]
            p[q, lev] = v
            tot += v
        inv = 1.0 / tot
        for lev in range(l_n):
            p[q, lev] *= inv
        if with_lse:
            lse[q] = c_top + top[q] + math.log(tot)
            total += w[q] * lse[q]
    if not with_lse:
        return 0.0
    for lev in range(l_n):
        total -= t[lev] * c[lev]
    return total


@numba.njit(cache=True)
def _cholesky_solve(a, b, out):  # pragma: no cover - compiled
    """``out = a^-1 b`` for a small symmetric positive definite ``a`` (overwritten)."""
    n = b.shape[0]
    for i in range(n):
        for k in range(i):
            a[i, i] -= a[i, k] * a[i, k]
        a[i, i] = math.sqrt(max(a[i, i], 1e-300))
        for r in range(i + 1, n):
            for k in range(i):
                a[r, i] -= a[r, k] * a[i, k]
            a[r, i] /= a[i, i]
    for i in range(n):
        v = b[i]
        for k in range(i):
            v -= a[i, k] * out[k]
        out[i] = v / a[i, i]
    for i in range(n - 1, -1, -1):
        v = out[i]
        for k in range(i + 1, n):
            v -= a[k, i] * out[k]
        out[i] = v / a[i, i]


@numba.njit(cache=True)
def _margin_hessian(p, w, hess):  # pragma: no cover - compiled
    """``hess = diag(m) - sum_q w_q p_q p_q^T`` over levels 1..L-1, ``m = sum_q w_q p_q``."""
    q_n, l_n = p.shape
    hess[:, :] = 0.0
    for q in range(q_n):
        for a in range(1, l_n):
            wp = w[q] * p[q, a]
            hess[a - 1, a - 1] += wp
            for b in range(1, l_n):
                hess[a - 1, b - 1] -= wp * p[q, b]


@numba.njit(cache=True)
def _intercepts_area(e, top, log_avg, log_t, w, c, p, lse):  # pragma: no cover - compiled
    """One area's intercepts into ``c`` (``c_0 = 0``); ``p`` and ``lse`` are left at the root.

    The equations are the gradient of the convex potential of :func:`_softmax_rows`, so
    Newton steps with step halving converge. ``e, top = _node_exp(eta_b)``, ``log_avg`` the
    log of the node-averaged ``exp(eta_b)``. Scalar loops on preallocated arrays: numpy
    expressions on these tiny rows spent most of their time allocating.
    """
    q_n, l_n = e.shape
    t = np.exp(log_t)
    t = t / t.sum()  # clipped zero shares must not leave the simplex
    grad = np.empty(l_n)
    hess = np.empty((l_n - 1, l_n - 1))
    step = np.empty(l_n - 1)
    trial = np.empty(l_n)
    # Start where the node-averaged odds match the target: exact when the loadings are zero.
    for lev in range(l_n):
        c[lev] = log_t[lev] - log_avg[lev] - (log_t[0] - log_avg[0])
    value = _softmax_rows(c, e, top, w, t, p, lse, True)
    fresh = True  # does lse hold the current c's normalisers?
    for _ in range(_MAX_ITER):
        worst = 0.0
        for lev in range(l_n):
            acc = 0.0
            for q in range(q_n):
                acc += w[q] * p[q, lev]
            grad[lev] = acc - t[lev]
            worst = max(worst, abs(grad[lev]))
        if worst < TOL:
            break
        _margin_hessian(p, w, hess)
        for a in range(l_n - 1):
            hess[a, a] += 1e-14
        _cholesky_solve(hess, grad[1:], step)
        size = 1.0
        trial[0] = 0.0
        for lev in range(1, l_n):
            trial[lev] = c[lev] - step[lev - 1]
        # Step halving far from the root only: near it the full Newton step converges
        # quadratically, and rounding in the potential could stall the halving.
        far = worst > 1e-6
        new = _softmax_rows(trial, e, top, w, t, p, lse, far)
        fresh = far
        while far and new > value + 1e-15 and size > 1e-8:
            size /= 2.0
            for lev in range(1, l_n):
                trial[lev] = c[lev] - size * step[lev - 1]
            new = _softmax_rows(trial, e, top, w, t, p, lse, True)
        c[:] = trial
        value = new
    if not fresh:
        _softmax_rows(c, e, top, w, t, p, lse, True)


@numba.njit(cache=True)
def _node_average(e, top, w):  # pragma: no cover - compiled
    """``log sum_q w_q exp(eta_b[q])`` per level, from :func:`_node_exp`."""
    q_n, l_n = e.shape
    big = top.max()
    out = np.zeros(l_n)
    for lev in range(l_n):
        acc = 0.0
        for q in range(q_n):
            acc += w[q] * e[q, lev] * math.exp(top[q] - big)
        out[lev] = big + math.log(acc)
    return out


@numba.njit(cache=True)
def softmax_forward(eta_b, log_target, log_w):  # pragma: no cover - compiled
    """Solve the intercepts of a softmax attribute per area and emit ``(logp, prob, c)``:
    (G, Q, L) log-probabilities and probabilities, (G, L) intercepts."""
    w = np.exp(log_w)
    q_n, l_n = eta_b.shape
    g_n = log_target.shape[0]
    logp = np.empty((g_n, q_n, l_n))
    prob = np.empty((g_n, q_n, l_n))
    c = np.empty((g_n, l_n))
    lse = np.empty(q_n)
    e, top = _node_exp(eta_b)
    log_avg = _node_average(e, top, w)
    for g in range(g_n):
        _intercepts_area(e, top, log_avg, log_target[g], w, c[g], prob[g], lse)
        for q in range(q_n):
            for lev in range(l_n):
                logp[g, q, lev] = c[g, lev] + eta_b[q, lev] - lse[q]
    return logp, prob, c


@numba.njit(cache=True)
def softmax_backward(prob, log_target, log_w, g_logp):  # pragma: no cover - compiled
    """Vector-Jacobian product of :func:`softmax_forward`: ``(d eta_b, d log_target)``.

    ``logp = c + eta_b - logsumexp`` moves with ``eta_b`` directly and through the
    intercepts ``c_1..c_{L-1}``, which solve ``h = sum_q w_q p_q - target = 0``:
    ``dc = H^-1 (d target - dh/d eta_b)`` with ``H = diag(m) - sum_q w_q p_q p_q^T``.
    """
    w = np.exp(log_w)
    g_n, q_n, l_n = prob.shape
    d_eta = np.zeros((q_n, l_n))
    d_target = np.zeros((g_n, l_n))
    dc = np.zeros(l_n - 1)
    hess = np.zeros((l_n - 1, l_n - 1))
    sol = np.zeros(l_n - 1)
    lam = np.zeros(l_n)
    for g in range(g_n):
        dc[:] = 0.0
        for q in range(q_n):
            gs = 0.0
            for lev in range(l_n):
                gs += g_logp[g, q, lev]
            for lev in range(l_n):
                r = g_logp[g, q, lev] - prob[g, q, lev] * gs
                d_eta[q, lev] += r
                if lev > 0:
                    dc[lev - 1] += r
        _margin_hessian(prob[g], w, hess)
        _cholesky_solve(hess, dc, sol)
        for lev in range(1, l_n):
            lam[lev] = sol[lev - 1]
            d_target[g, lev] = sol[lev - 1] * math.exp(log_target[g, lev])
        for q in range(q_n):
            s = 0.0
            for lev in range(1, l_n):
                s += lam[lev] * prob[g, q, lev]
            for lev in range(l_n):
                d_eta[q, lev] -= w[q] * prob[g, q, lev] * (lam[lev] - s)
    return d_eta, d_target
