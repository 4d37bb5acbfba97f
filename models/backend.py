"""The few array functions the copula math needs, for numpy and for pytensor.

The model's cell probabilities are written once (``models.cells``) and run both
inside the PyMC graph (pytensor) and when generating personas (numpy).
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytensor.tensor as pt
from scipy import special

__all__ = ["NP", "PT"]

_SQRT2 = math.sqrt(2.0)


def _np_logsumexp(x, axis):
    return special.logsumexp(x, axis=axis)


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
    clip=np.clip,
    sum=np.sum,
    stack=np.stack,
    ndtr=special.ndtr,
    ndtri=special.ndtri,
    logsumexp=_np_logsumexp,
    transpose=np.transpose,
    dot=np.dot,
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
    clip=pt.clip,
    sum=pt.sum,
    stack=pt.stack,
    ndtr=lambda x: 0.5 * pt.erfc(-x / _SQRT2),
    ndtri=lambda p: -_SQRT2 * pt.erfcinv(2.0 * p),
    logsumexp=lambda x, axis: pt.logsumexp(x, axis=axis),
    transpose=pt.transpose,
    dot=pt.dot,
)
