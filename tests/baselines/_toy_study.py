"""A toy study shared by the peer-generator tests: 3 attributes, a known population."""

from __future__ import annotations

import numpy as np

from populace.study.spec import Attribute, Marginal, Microdata, Study

SHAPE = (3, 2, 4)


def toy_population(seed: int = 0, n: int = 2000) -> np.ndarray:
    """Codes of a population drawn from a random joint with some structure."""
    rng = np.random.default_rng(seed)
    joint = rng.dirichlet(np.full(np.prod(SHAPE), 0.7))
    cells = rng.choice(joint.size, size=n, p=joint)
    return np.column_stack(np.unravel_index(cells, SHAPE))


def toy_study(*, n_sample: int = 80, seed: int = 0, missing: bool = True) -> tuple[Study, np.ndarray]:
    """A study whose census tables come from a toy population; returns (study, population)."""
    pop = toy_population(seed)
    attrs = (
        Attribute("a", "ordinal", ("a0", "a1", "a2")),
        Attribute("b", "nominal", ("b0", "b1")),
        Attribute("c", "nominal", ("c0", "c1", "c2", "c3")),
    )
    tables = [(0,), (1,), (2,), (0, 1)]
    marginals = []
    for t in tables:
        shape = tuple(SHAPE[i] for i in t)
        flat = np.bincount(np.ravel_multi_index(pop[:, list(t)].T, shape), minlength=int(np.prod(shape)))
        marginals.append(Marginal(tuple(attrs[i].name for i in t), flat.reshape(shape).astype(float)))
    rng = np.random.default_rng(seed + 1)
    rows = rng.choice(len(pop), size=n_sample, replace=False)
    codes = pop[rows].copy()
    if missing:
        codes[0, 2] = -1
        codes[1, 0] = -1
    weights = np.full(n_sample, len(pop) / n_sample)
    study = Study(attrs, tuple(marginals), Microdata(codes, weights), name="toy")
    return study, pop

