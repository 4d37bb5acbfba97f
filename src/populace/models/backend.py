"""The few array functions the copula math needs, for numpy and for pytensor.

The model's cell probabilities are written once (``models.cells``) and run both
inside the PyMC graph (pytensor) and when generating personas (numpy).
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytensor
import pytensor.tensor as pt
from scipy import special

from populace.models import margin_ops

__all__ = ["NP", "PT"]

# Reproducibility: with PyTensor's default fastmath, a function compiled in this process and
# the same function loaded from the numba disk cache rounded differently, so one seed gave
# two different fits (cold and warm compile cache). Without it they are identical; one
# logp + gradient timed alone cost the same within noise (gss 0.41 ms, anes 6.3 ms), gss
# sampling in benchmarks/fit_time.py took up to 15 % longer.
pytensor.config.numba__fastmath = False


def _np_logsumexp(x, axis):
    return special.logsumexp(x, axis=axis)


def _pt_data(x: np.ndarray):
    # Length-1 dimensions stay broadcastable (masks like observed[:, None]).
    return pytensor.shared(x, shape=tuple(1 if d == 1 else None for d in x.shape))


NP = SimpleNamespace(
    name="numpy",
    exp=np.exp,
    log=np.log,
    sqrt=np.sqrt,
    cumsum=np.cumsum,
    concatenate=np.concatenate,
    zeros=np.zeros,
    ones=np.ones,
    maximum=np.maximum,
    minimum=np.minimum,
    where=np.where,
    erfc=special.erfc,
    ones_like=np.ones_like,
    zeros_like=np.zeros_like,
    clip=np.clip,
    sum=np.sum,
    stack=np.stack,
    logsumexp=_np_logsumexp,
    transpose=np.transpose,
    dot=np.dot,
    data=lambda x: x,
    fixed=lambda x: x,
    threshold_logps=margin_ops.threshold_logps_np,
    softmax_logp=margin_ops.softmax_logp_np,
)

PT = SimpleNamespace(
    name="pytensor",
    exp=pt.exp,
    log=pt.log,
    sqrt=pt.sqrt,
    cumsum=pt.cumsum,
    concatenate=pt.concatenate,
    zeros=pt.zeros,
    ones=pt.ones,
    maximum=pt.maximum,
    minimum=pt.minimum,
    where=pt.switch,
    erfc=pt.erfc,
    ones_like=pt.ones_like,
    zeros_like=pt.zeros_like,
    clip=pt.clip,
    sum=pt.sum,
    stack=pt.stack,
    logsumexp=lambda x, axis: pt.logsumexp(x, axis=axis),
    transpose=pt.transpose,
    dot=pt.dot,
    # Data enter the graph as shared variables, not constants: the compiled function
    # (and its numba cache entry) then depends on the study's structure only, so a
    # new sample of the same study does not compile again.
    data=lambda x: _pt_data(np.asarray(x)),
    # Data of a static shape (that the compiled function's shapes depend on anyway): JAX
    # needs the sizes of what it concatenates and splits.
    fixed=lambda x: pytensor.shared(np.asarray(x), shape=np.shape(x)),
    threshold_logps=margin_ops.threshold_logps_pt,
    softmax_logp=margin_ops.softmax_logp_pt,
)
