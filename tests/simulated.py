"""A study simulated from the copula model itself, with known loadings (shared by tests)."""

from __future__ import annotations

import numpy as np

from populace.inference.enumerate import joint_shares
from populace.models.copula import CopulaModel
from populace.study.spec import Attribute, Marginal, Microdata, Study

ATTRIBUTES = (
    Attribute("age", "ordinal", ("young", "middle", "old")),
    Attribute("sex", "nominal", ("m", "f")),
    Attribute("party", "nominal", ("dem", "ind", "rep")),
    Attribute("church", "ordinal", ("never", "sometimes", "weekly")),
)
MARGINS = {
    "age": [0.3, 0.4, 0.3],
    "sex": [0.48, 0.52],
    "party": [0.35, 0.3, 0.35],
    "church": [0.4, 0.35, 0.25],
}
# K = 1 true loadings: age, party and church strongly related, sex barely.
TRUE_PARAMS = {
    "loadings_age": np.array([0.7]),
    "loadings_sex": np.array([0.05]),
    "loadings_party": np.array([[0.3], [1.2]]),
    "loadings_church": np.array([1.0]),
}
CONFIG = {"factors": 1, "quadrature_nodes": 9}


def simulated_study(*, n_sample: int = 800, n_pop: int = 200_000, seed: int = 0) -> tuple[Study, np.ndarray]:
    """Population from the true model; census = 1-D tables + age x sex; SRS microdata.

    Returns the study and the true copula joint ``pi`` (shape = level counts).
    """
    rng = np.random.default_rng(seed)
    shape = tuple(len(a.levels) for a in ATTRIBUTES)
    dummy = Study(
        ATTRIBUTES,
        tuple(Marginal((a.name,), np.array(MARGINS[a.name]) * 1000) for a in ATTRIBUTES),
        Microdata(np.zeros((1, 4), int), np.ones(1)),
    )
    pi = joint_shares(CopulaModel(dummy, model_config=CONFIG), TRUE_PARAMS)[0]
    cells = rng.choice(pi.size, size=n_pop, p=pi.reshape(-1))
    pop = np.column_stack(np.unravel_index(cells, shape))
    marginals = []
    for t in [(0,), (1,), (2,), (3,), (0, 1)]:
        sub = tuple(shape[i] for i in t)
        c = np.bincount(np.ravel_multi_index(pop[:, list(t)].T, sub), minlength=int(np.prod(sub)))
        marginals.append(Marginal(tuple(ATTRIBUTES[i].name for i in t), c.reshape(sub).astype(float)))
    rows = rng.choice(n_pop, size=n_sample, replace=False)
    micro = Microdata(pop[rows].copy(), np.full(n_sample, n_pop / n_sample))
    return Study(ATTRIBUTES, tuple(marginals), micro, name="simulated"), pi


def true_gram() -> np.ndarray:
    """Rotation-invariant loading Gram matrix of the true parameters (rows as in the model)."""
    rows = []
    for name in ("age", "sex", "party", "church"):
        b = TRUE_PARAMS[f"loadings_{name}"]
        if b.ndim == 2:
            rows.append(b)
        else:
            rows.append((b / np.sqrt(1 + b @ b))[None, :])
    lam = np.concatenate(rows)
    return lam @ lam.T
