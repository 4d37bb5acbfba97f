"""Solve the margin equations: thresholds and softmax intercepts whose quadrature margin
equals the target shares.

The solvers are numba functions that run to full precision. In the PyMC graph they are
wrapped as gradient-free Ops (:func:`solved_thresholds`, :func:`solved_intercepts`) and
``models.cells`` takes one differentiable Newton step from the solution: at the root
that step changes nothing in value, and its derivative is the implicit-function-theorem
derivative of the root. The graph then holds one step instead of an unrolled loop,
which made compilation and gradients cheaper than differentiating 16 fixed-point
iterations.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path
from typing import Any

import numba
import numpy as np
import pytensor.tensor as pt
from pytensor.gradient import disconnected_type
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op
from pytensor.link.numba.dispatch.basic import numba_njit, register_funcify_default_op_cache_key
from scipy import special

__all__ = [
    "solve_thresholds",
    "solve_intercepts",
    "solved_thresholds",
    "solved_intercepts",
    "TOL",
]

# PyTensor's numba cache keys these Ops by class and props only: salt the key with this
# file's hash, so that a changed kernel is never served from a stale cache entry.
_CACHE_SALT = int(hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:12], 16)

#: Convergence tolerance on the margin: relative to the tail share of each threshold, and
#: absolute per level share for the softmax intercepts.
TOL = 1e-12
_MAX_ITER = 100
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
    Thresholds shaped like ``cum``. Each equation is one increasing function of one
    threshold, so Newton steps from the continuous-factor solution ``ndtri(cum)``
    (capped at one unit, which keeps them from overshooting in the tails) converge.
    """
    cum = np.ascontiguousarray(cum, dtype=float)
    mu, scale = np.asarray(mu, float), np.asarray(scale, float)
    single = cum.ndim == 2
    if single:
        mu, scale, cum = mu[None], scale.reshape(1), cum[None]
    tau = _thresholds_kernel(mu, scale, special.ndtri(cum), cum, np.asarray(log_w, float))
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
    return _intercepts_kernel(
        np.ascontiguousarray(eta_b, dtype=float), np.ascontiguousarray(log_target, dtype=float), np.asarray(log_w, float)
    )


# The kernels are numba functions so that the sampler's numba-compiled gradient calls
# them without dropping to Python (object mode made each gradient ~3x slower).
@numba.njit(cache=True)
def _thresholds_kernel(mu, scale, tau0, cum, log_w):  # pragma: no cover - compiled
    # mu (J, Q), scale (J,), tau0 and cum (J, G, M): every attribute of a batch in one call.
    # Each equation is solved on its smaller tail (the upper one, sum_q w_q Phi(-z) = 1 - cum,
    # where cum > 1/2) to a tolerance relative to that tail: an absolute 1e-12 accepted a
    # threshold whose tail held 4e-16 for a target of 1e-12 (an area with an empty edge
    # level), and the differentiable Newton step in models.cells then moved it 200 units.
    w = np.exp(log_w)
    tau = tau0.copy()
    j_n, g_n, m_n = cum.shape
    for j in range(j_n):
        s = scale[j]
        for g in range(g_n):
            for m in range(m_n):
                t = tau[j, g, m]
                sgn = -1.0 if cum[j, g, m] > 0.5 else 1.0
                tail = 1.0 - cum[j, g, m] if sgn < 0 else cum[j, g, m]
                for _ in range(_MAX_ITER):
                    f = -tail
                    dens = 0.0
                    for q in range(mu.shape[1]):
                        z = (t - mu[j, q]) / s
                        f += w[q] * 0.5 * math.erfc(-sgn * z / _SQRT2)
                        dens += w[q] * math.exp(-0.5 * z * z)
                    if abs(f) < TOL * tail:
                        break
                    dens = max(dens / (s * _SQRT_2PI), 1e-300)
                    t -= sgn * min(max(f / dens, -1.0), 1.0)
                tau[j, g, m] = t
    return tau


@numba.njit(cache=True)
def _softmax_rows(c, eta_b, p):  # pragma: no cover - compiled
    """p[q] = softmax(c + eta_b[q]) in place; returns sum_q w_q logsumexp(c + eta_b[q]) terms' parts."""
    q_n, l_n = eta_b.shape
    lse = np.empty(q_n)
    for q in range(q_n):
        top = -np.inf
        for l in range(l_n):
            v = c[l] + eta_b[q, l]
            if v > top:
                top = v
        tot = 0.0
        for l in range(l_n):
            e = math.exp(c[l] + eta_b[q, l] - top)
            p[q, l] = e
            tot += e
        for l in range(l_n):
            p[q, l] /= tot
        lse[q] = top + math.log(tot)
    return lse


@numba.njit(cache=True)
def _potential(c, eta_b, t, w, p):  # pragma: no cover - compiled
    lse = _softmax_rows(c, eta_b, p)
    total = 0.0
    for q in range(eta_b.shape[0]):
        total += w[q] * lse[q]
    for l in range(c.shape[0]):
        total -= t[l] * c[l]
    return total


@numba.njit(cache=True)
def _intercepts_kernel(eta_b, log_target, log_w):  # pragma: no cover - compiled
    # Scalar loops on preallocated arrays: numpy expressions on these tiny rows spent
    # most of their time allocating (0.16 ms per area before, for 4 levels).
    w = np.exp(log_w)
    q_n, l_n = eta_b.shape
    out = np.empty_like(log_target)
    p = np.empty((q_n, l_n))
    grad = np.empty(l_n)
    hess = np.empty((l_n - 1, l_n - 1))
    trial = np.empty(l_n)
    for g in range(log_target.shape[0]):
        t = np.exp(log_target[g])
        t = t / t.sum()  # clipped zero shares must not leave the simplex
        # Start where the node-averaged odds match the target: exact when the loadings are zero.
        c = np.empty(l_n)
        for l in range(l_n):
            acc = 0.0
            for q in range(q_n):
                acc += w[q] * math.exp(eta_b[q, l])
            c[l] = log_target[g, l] - math.log(acc)
        c -= c[0]
        value = _potential(c, eta_b, t, w, p)
        for _ in range(_MAX_ITER):
            # p holds softmax(c + eta_b) for the current c (set by the last _potential).
            worst = 0.0
            for l in range(l_n):
                acc = 0.0
                for q in range(q_n):
                    acc += w[q] * p[q, l]
                grad[l] = acc - t[l]
                worst = max(worst, abs(grad[l]))
            if worst < TOL:
                break
            for a in range(1, l_n):
                for b in range(a, l_n):
                    acc = 0.0
                    for q in range(q_n):
                        acc += w[q] * p[q, a] * p[q, b]
                    hess[a - 1, b - 1] = -acc
                    hess[b - 1, a - 1] = -acc
                diag = 0.0
                for q in range(q_n):
                    diag += w[q] * p[q, a]
                hess[a - 1, a - 1] += diag + 1e-14
            step = np.linalg.solve(hess, grad[1:].copy())
            size = 1.0
            trial[0] = c[0]
            for l in range(1, l_n):
                trial[l] = c[l] - step[l - 1]
            new = _potential(trial, eta_b, t, w, p)
            # Step halving far from the root only: near it the full Newton step converges
            # quadratically, and rounding in the potential could stall the halving.
            while worst > 1e-6 and new > value + 1e-15 and size > 1e-8:
                size /= 2.0
                for l in range(1, l_n):
                    trial[l] = c[l] - size * step[l - 1]
                new = _potential(trial, eta_b, t, w, p)
            c = trial.copy()
            value = new
        out[g] = c
    return out


class _GradientFree(Op):
    """An Op whose output the graph treats as constant for derivatives."""

    __props__ = ()

    def connection_pattern(self, node: Apply) -> list[list[bool]]:
        return [[False] for _ in node.inputs]

    def L_op(self, inputs: list[Any], outputs: list[Any], cotangents: list[Any]) -> list[Any]:
        return [disconnected_type() for _ in inputs]


class _Thresholds(_GradientFree):
    """Gradient-free wrapper of :func:`solve_thresholds` (see the module docstring)."""

    def make_node(self, mu: Any, scale: Any, tau0: Any, cum: Any, log_w: Any) -> Apply:
        inputs = [pt.as_tensor_variable(x, dtype="float64") for x in (mu, scale, tau0, cum, log_w)]
        return Apply(self, inputs, [inputs[3].type()])

    def perform(self, node: Apply, inputs: list[np.ndarray], outputs: list[list[Any]]) -> None:
        outputs[0][0] = _thresholds_kernel(*inputs)


class _Intercepts(_GradientFree):
    """Gradient-free wrapper of :func:`solve_intercepts` (see the module docstring)."""

    def make_node(self, eta_b: Any, log_target: Any, log_w: Any) -> Apply:
        inputs = [pt.as_tensor_variable(x, dtype="float64") for x in (eta_b, log_target, log_w)]
        return Apply(self, inputs, [inputs[1].type()])

    def perform(self, node: Apply, inputs: list[np.ndarray], outputs: list[list[Any]]) -> None:
        outputs[0][0] = _intercepts_kernel(*inputs)


def solved_thresholds(mu: Any, scale: Any, cum: Any, log_w: np.ndarray) -> Any:
    """:func:`solve_thresholds` of a batch (mu (J, Q), scale (J,), cum (J, G, M)) as a graph
    node with no gradient of its own."""
    tau0 = -_SQRT2 * pt.erfcinv(2.0 * cum)  # ndtri: numba has no normal quantile
    return _Thresholds()(mu, scale, tau0, cum, log_w)


def solved_intercepts(eta_b: Any, log_target: Any, log_w: np.ndarray) -> Any:
    """:func:`solve_intercepts` as a graph node with no gradient of its own."""
    return _Intercepts()(eta_b, log_target, log_w)


@register_funcify_default_op_cache_key(_Thresholds)
def _numba_thresholds(op: _Thresholds, node: Apply, **kwargs: Any) -> tuple[Any, int]:
    @numba_njit
    def perform(mu, scale, tau0, cum, log_w):  # pragma: no cover - compiled
        return _thresholds_kernel(mu, scale, tau0, cum, log_w)

    return perform, _CACHE_SALT


@register_funcify_default_op_cache_key(_Intercepts)
def _numba_intercepts(op: _Intercepts, node: Apply, **kwargs: Any) -> tuple[Any, int]:
    @numba_njit
    def perform(eta_b, log_target, log_w):  # pragma: no cover - compiled
        return _intercepts_kernel(eta_b, log_target, log_w)

    return perform, _CACHE_SALT
