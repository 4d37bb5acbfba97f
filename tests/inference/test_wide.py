"""A study whose joint has 1.2e8 cells fits and generates: nothing enumerates the joint."""

import warnings

import numpy as np
import pytest

from populace.inference import fit, sample_personas
from populace.inference.sampler import CopulaSampler
from populace.models.copula import CopulaModel
from populace.study.spec import Attribute, Marginal, Microdata, Study
from populace.inference.diagnostics import ConvergenceWarning

pytestmark = pytest.mark.slow

LEVELS = (6, 6, 5, 5, 7, 6, 5, 4, 8)
N_AREAS = 20
N_PERSONAS, DRAWS = 20_000, 4


def _attributes():
    area = Attribute("area", "nominal", tuple(f"r{g}" for g in range(N_AREAS)), role="geography")
    rest = tuple(
        Attribute(f"x{j}", "ordinal" if j % 2 == 0 else "nominal", tuple(f"l{k}" for k in range(n))) for j, n in enumerate(LEVELS)
    )
    return (area, *rest)


def _tables(pop, attrs):
    names = [a.name for a in attrs]
    specs = [("area", "x0"), ("area", "x1"), ("x0", "x2")] + [(n,) for n in names]
    out = []
    for spec in specs:
        cols = [names.index(a) for a in spec]
        shape = tuple(attrs[c].n_levels for c in cols)
        c = np.bincount(np.ravel_multi_index(pop[:, cols].T, shape), minlength=int(np.prod(shape))).reshape(shape)
        out.append(Marginal(spec, c.astype(float)))
    return tuple(out)


@pytest.fixture(scope="module")
def wide():
    attrs = _attributes()
    assert N_AREAS * np.prod(LEVELS) >= 1e8
    rng = np.random.default_rng(0)
    # A population drawn from a copula with random loadings and area compositions.
    shares = {a.name: rng.dirichlet(np.full(a.n_levels, 3.0)) for a in attrs}
    area_x0 = rng.dirichlet(np.full(LEVELS[0], 2.0), size=N_AREAS) * 1000
    area_x1 = rng.dirichlet(np.full(LEVELS[1], 2.0), size=N_AREAS) * 1000
    template = Study(
        attrs,
        (Marginal(("area", "x0"), area_x0), Marginal(("area", "x1"), area_x1))
        + tuple(Marginal((a.name,), shares[a.name] * N_AREAS * 1000) for a in attrs[3:]),
        Microdata(np.zeros((1, len(attrs)), int), np.ones(1)),
    )
    model = CopulaModel(template, model_config={"factors": 1, "area_effects": False})
    params = {}
    for name, link in zip(model.structure.names, model.structure.link, strict=True):
        n = attrs[[a.name for a in attrs].index(name)].n_levels
        params[f"loadings_{name}"] = rng.normal(0, 0.8, size=(n - 1, 1) if link == "softmax" else (1,))
    pop = CopulaSampler(model, params).draw(rng, 200_000).astype(np.int64)
    sample = pop[rng.choice(len(pop), 400, replace=False)]
    study = Study(attrs, _tables(pop, attrs), Microdata(sample, np.ones(400)), name="wide")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # short test fits
        f = fit(study, model_config={"factors": 1, "quadrature_nodes": 7}, draws=40, tune=60, chains=1, seed=2, warn=False)
    return study, f


def test_wide_study_generates_census_shares_within_monte_carlo_error(wide):
    study, f = wide
    ds = sample_personas(f, N_PERSONAS, draws=DRAWS, seed=0)
    total = N_PERSONAS * DRAWS
    worst = 0.0
    for m in study.marginals:
        codes = [ds[a].values.reshape(-1).astype(np.int64) for a in m.attributes]
        q = np.bincount(np.ravel_multi_index(codes, m.counts.shape), minlength=m.counts.size) / total
        p = m.counts.reshape(-1) / m.total
        z = (q - p) / np.sqrt(np.maximum(p * (1 - p), 1e-12) / total)
        worst = max(worst, float(np.abs(z).max()))
    # Each draw is raked to every table, so cell counts are binomial(total, p); about 340
    # cells: P(max |z| > 4.5) < 340 * 7e-6 for a correct generator.
    assert worst < 4.5
