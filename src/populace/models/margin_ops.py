"""The margin-pinned log-probabilities as PyTensor Ops, and the same for numpy.

Each Op runs one kernel of ``models.solve`` (solve the margin equations, emit the
log-probabilities); its gradient is a second Op running the kernel's vector-Jacobian
product. Before, the graph took one differentiable Newton step from the solved root and
PyTensor differentiated its (area x node x level) elementwise tensors. On anes 1 % (49
areas) the area thresholds' value and gradient took 5.2 ms that way and take 2.7 ms as
kernels; the whole log density and gradient went from 7.0 to 4.0 ms.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytensor.tensor as pt
from pytensor.gradient import DisconnectedType, disconnected_type
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op
from pytensor.link.numba.dispatch.basic import numba_njit, register_funcify_default_op_cache_key
from scipy import special

from populace.models import solve

__all__ = ["threshold_logps_np", "threshold_logps_pt", "softmax_logp_np", "softmax_logp_pt"]

# PyTensor's numba cache keys these Ops by class and props only: salt the key with the
# kernels' hash, so that a changed kernel is never served from a stale cache entry.
_CACHE_SALT = int(
    hashlib.sha256(b"".join(Path(f).read_bytes() for f in (solve.__file__, __file__))).hexdigest()[:12], 16
)
_SQRT2 = math.sqrt(2.0)


def _f64(x: Any) -> Any:
    return pt.as_tensor_variable(x, dtype="float64")


def _out(*shape: int | None) -> Any:
    return pt.tensor(dtype="float64", shape=shape)


class _ThresholdLogps(Op):
    """``(logp, prob, phi, t) = solve.thresholds_forward(m, z0, cum, n_thr, log_w)``."""

    __props__ = ()

    def make_node(self, m: Any, z0: Any, cum: Any, n_thr: Any, log_w: Any) -> Apply:
        inputs = [_f64(m), _f64(z0), _f64(cum), pt.as_tensor_variable(n_thr, dtype="int64"), _f64(log_w)]
        j, g, k = inputs[2].type.shape
        q = inputs[4].type.shape[0]
        levels = (j, g, q, None if k is None else k + 1)
        return Apply(self, inputs, [_out(*levels), _out(*levels), _out(j, g, q, k), _out(j, g, k)])

    def perform(self, node: Apply, inputs: list[np.ndarray], outputs: list[list[Any]]) -> None:
        res = solve.thresholds_forward(*inputs)
        for k in range(4):
            outputs[k][0] = res[k]

    def connection_pattern(self, node: Apply) -> list[list[bool]]:
        # logp and the thresholds t are differentiable; z0 is the Newton start, n_thr and
        # log_w are constants.
        return [[True, False, False, True], [False] * 4, [True, False, False, True], [False] * 4, [False] * 4]

    def pullback(self, inputs: list[Any], outputs: list[Any], cotangents: list[Any]) -> list[Any]:
        g, g_t = cotangents[0], cotangents[3]
        no_g, no_t = isinstance(g.type, DisconnectedType), isinstance(g_t.type, DisconnectedType)
        if no_g and no_t:
            return [disconnected_type() for _ in inputs]
        g = pt.zeros_like(outputs[0]) if no_g else g
        g_t = pt.zeros_like(outputs[3]) if no_t else g_t
        dm, dcum = _ThresholdLogpsGrad()(outputs[1], outputs[2], inputs[3], inputs[4], g, g_t)
        return [dm, disconnected_type(), dcum, disconnected_type(), disconnected_type()]


class _ThresholdLogpsGrad(Op):
    """``(d m, d cum) = solve.thresholds_backward(prob, phi, n_thr, log_w, d logp, d t)``."""

    __props__ = ()

    def make_node(self, prob: Any, phi: Any, n_thr: Any, log_w: Any, g: Any, g_t: Any) -> Apply:
        inputs = [_f64(prob), _f64(phi), pt.as_tensor_variable(n_thr, dtype="int64"), _f64(log_w), _f64(g), _f64(g_t)]
        j, g_n, q, k = inputs[1].type.shape
        return Apply(self, inputs, [_out(j, q), _out(j, g_n, k)])

    def perform(self, node: Apply, inputs: list[np.ndarray], outputs: list[list[Any]]) -> None:
        outputs[0][0], outputs[1][0] = solve.thresholds_backward(*inputs)


class _SoftmaxLogp(Op):
    """``(logp, prob, _) = solve.softmax_forward(eta_b, log_target, log_w)``."""

    __props__ = ()

    def make_node(self, eta_b: Any, log_target: Any, log_w: Any) -> Apply:
        inputs = [_f64(eta_b), _f64(log_target), _f64(log_w)]
        shape = (inputs[1].type.shape[0], inputs[2].type.shape[0], inputs[1].type.shape[1])
        return Apply(self, inputs, [_out(*shape), _out(*shape)])

    def perform(self, node: Apply, inputs: list[np.ndarray], outputs: list[list[Any]]) -> None:
        outputs[0][0], outputs[1][0], _ = solve.softmax_forward(*inputs)

    def connection_pattern(self, node: Apply) -> list[list[bool]]:
        return [[True, False], [True, False], [False, False]]

    def pullback(self, inputs: list[Any], outputs: list[Any], cotangents: list[Any]) -> list[Any]:
        g = cotangents[0]
        if isinstance(g.type, DisconnectedType):
            return [disconnected_type() for _ in inputs]
        d_eta, d_target = _SoftmaxLogpGrad()(outputs[1], inputs[1], inputs[2], g)
        return [d_eta, d_target, disconnected_type()]


class _SoftmaxLogpGrad(Op):
    """``(d eta_b, d log_target) = solve.softmax_backward(prob, log_target, log_w, d logp)``."""

    __props__ = ()

    def make_node(self, prob: Any, log_target: Any, log_w: Any, g: Any) -> Apply:
        inputs = [_f64(prob), _f64(log_target), _f64(log_w), _f64(g)]
        g_n, q, lev = inputs[0].type.shape
        return Apply(self, inputs, [_out(q, lev), _out(g_n, lev)])

    def perform(self, node: Apply, inputs: list[np.ndarray], outputs: list[list[Any]]) -> None:
        outputs[0][0], outputs[1][0] = solve.softmax_backward(*inputs)


# The numba versions call the kernels' own dispatchers, whose compiled code numba caches
# once for both backends.
def _thresholds_fwd(m, z0, cum, n_thr, log_w):  # pragma: no cover - compiled
    return solve.thresholds_forward(m, z0, cum, n_thr, log_w)


def _thresholds_bwd(prob, phi, n_thr, log_w, g, g_t):  # pragma: no cover - compiled
    return solve.thresholds_backward(prob, phi, n_thr, log_w, g, g_t)


def _softmax_fwd(eta_b, log_target, log_w):  # pragma: no cover - compiled
    logp, prob, _ = solve.softmax_forward(eta_b, log_target, log_w)
    return logp, prob


def _softmax_bwd(prob, log_target, log_w, g):  # pragma: no cover - compiled
    return solve.softmax_backward(prob, log_target, log_w, g)


def _register(op_type: type, kernel: Any) -> None:
    @register_funcify_default_op_cache_key(op_type)
    def _funcify(op: Op, node: Apply, **kwargs: Any) -> tuple[Any, int]:
        return numba_njit(kernel), _CACHE_SALT


for _op, _kernel in (
    (_ThresholdLogps, _thresholds_fwd),
    (_ThresholdLogpsGrad, _thresholds_bwd),
    (_SoftmaxLogp, _softmax_fwd),
    (_SoftmaxLogpGrad, _softmax_bwd),
):
    _register(_op, _kernel)


def threshold_logps_pt(m: Any, cum: Any, n_thr: np.ndarray | None, log_w: np.ndarray) -> tuple[Any, Any]:
    """``(logp, t)`` of a threshold batch, in the graph (see ``cells``): (J, G, Q, M + 1)
    log-probabilities and the (J, G, M) unscaled thresholds, both differentiable.

    ``n_thr[j]``: attribute j's threshold count, the rest of ``cum`` is padding; None: all M.
    """
    z0 = -_SQRT2 * pt.erfcinv(2.0 * cum)  # ndtri: numba has no normal quantile
    n_thr = pt.full((cum.shape[0],), cum.shape[2], dtype="int64") if n_thr is None else np.asarray(n_thr, np.int64)
    out = _ThresholdLogps()(m, z0, cum, n_thr, log_w)
    return out[0], out[3]


def threshold_logps_np(m: np.ndarray, cum: np.ndarray, n_thr: np.ndarray | None, log_w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`threshold_logps_pt` in numpy."""
    cum = np.ascontiguousarray(cum, dtype=float)
    m = np.ascontiguousarray(m, dtype=float)
    n_thr = np.full(cum.shape[0], cum.shape[2], np.int64) if n_thr is None else np.asarray(n_thr, np.int64)
    out = solve.thresholds_forward(m, special.ndtri(cum), cum, n_thr, np.asarray(log_w, float))
    return out[0], out[3]


def softmax_logp_pt(eta_b: Any, log_target: Any, log_w: np.ndarray) -> Any:
    """(G, Q, L) log-probabilities of a softmax attribute, in the graph (see ``cells``)."""
    return _SoftmaxLogp()(eta_b, log_target, log_w)[0]


def softmax_logp_np(eta_b: np.ndarray, log_target: np.ndarray, log_w: np.ndarray) -> np.ndarray:
    """:func:`softmax_logp_pt` in numpy."""
    return solve.softmax_forward(
        np.ascontiguousarray(eta_b, dtype=float), np.ascontiguousarray(log_target, dtype=float), np.asarray(log_w, float)
    )[0]


def register_jax() -> None:
    """Give the Ops their JAX versions (``models.solve_jax``), for PyTensor's JAX backend
    (``inference.nutpie_chains``, ``backend="jax"``). Needs jax; safe to call again."""
    from pytensor.link.jax.dispatch import jax_funcify

    from populace.models import solve_jax

    for op_type, kernel in (
        (_ThresholdLogps, solve_jax.thresholds_forward),
        (_ThresholdLogpsGrad, solve_jax.thresholds_backward),
        (_SoftmaxLogp, solve_jax.softmax_forward),
        (_SoftmaxLogpGrad, solve_jax.softmax_backward),
    ):
        jax_funcify.register(op_type)(lambda op, node=None, _k=kernel, **kwargs: _k)
