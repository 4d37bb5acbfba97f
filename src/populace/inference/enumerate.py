"""The copula's joint over every cell, for small studies only (tests, SBC).

Generation never calls this (``inference.atoms`` draws records instead); it exists so
that checks can compare draws with exact cell probabilities.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from populace.errors import FitError
from populace.models.backend import NP
from populace.models.copula import CopulaModel

__all__ = ["joint_shares", "MAX_CELLS"]

#: Most cells :func:`joint_shares` enumerates.
MAX_CELLS = 2_000_000


def joint_shares(model: CopulaModel, params: Mapping[str, Any]) -> np.ndarray:
    """Copula cell shares ``pi(g, x)``, shape ``(G, L_1, ..., L_J)``, summing to one."""
    s = model.structure
    shape = s.joint_shape
    if int(np.prod(shape)) > MAX_CELLS:
        raise FitError(f"joint_shares enumerates at most {MAX_CELLS:,} cells; this study has {int(np.prod(shape)):,}.")
    p = {k: np.asarray(v, float) for k, v in params.items()}
    idx = np.indices(shape).reshape(len(shape), -1).T
    logps = model.attribute_logps(p, NP)
    lp = model.logp_given_area(logps, idx[:, 0], idx[:, 1:], NP)
    geo = np.asarray(model._geo_shares(p, NP), float)
    return (np.exp(lp) * geo[idx[:, 0]]).reshape(shape)
