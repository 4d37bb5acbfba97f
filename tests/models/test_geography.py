"""A study with a geography, a learned attribute and missing cells, without NUTS.

Prior draws stand in for a posterior, so the graph, the fit file layout and
generation are exercised in seconds.
"""

import numpy as np
import pymc as pm
import pytest
import xarray as xr

from populace.inference.generate import sample_personas
from populace.inference.fit import _attach
from populace.models.copula import CopulaModel
from populace.study.spec import Attribute, Marginal, Microdata, Study

ATTRS = (
    Attribute("region", "nominal", ("north", "south"), role="geography"),
    Attribute("age", "ordinal", ("young", "old")),
    Attribute("faith", "nominal", ("none", "christian", "other")),  # no census table: learned
    Attribute("vote", "nominal", ("a", "b", "c")),
)
AGE_BY_REGION = np.array([[600.0, 400.0], [300.0, 700.0]])  # (region, age)
VOTE = np.array([900.0, 700.0, 400.0])


def _study() -> Study:
    rng = np.random.default_rng(0)
    codes = np.column_stack([rng.integers(0, 2, 60), rng.integers(0, 2, 60), rng.integers(0, 3, 60), rng.integers(0, 3, 60)])
    codes[:5, 2] = -1  # missing faith
    codes[5:8, 0] = -1  # missing region
    margs = (Marginal(("region", "age"), AGE_BY_REGION), Marginal(("vote",), VOTE))
    return Study(ATTRS, margs, Microdata(codes, np.ones(60)), name="geo")


@pytest.fixture(scope="module")
def prior_fit():
    model = CopulaModel(_study(), model_config={"factors": 1, "quadrature_nodes": 5})
    pmm = model.build_model()
    with pmm:
        prior = pm.sample_prior_predictive(draws=8, random_seed=1, compile_kwargs={"mode": "FAST_COMPILE"})
    post = prior["prior"].to_dataset()
    tree = xr.DataTree.from_dict({"posterior": post})
    return model, pmm, _attach(tree, model, seed=1, elapsed=0.0)


def test_log_density_and_gradient_are_finite(prior_fit):
    _, pmm, _ = prior_fit
    ip = pmm.initial_point()
    logp = pmm.compile_logp(mode="FAST_COMPILE")(ip)
    grad = pmm.compile_dlogp(mode="FAST_COMPILE")(ip)
    assert np.isfinite(logp) and np.isfinite(grad).all()
    assert "shares_faith" in pmm.named_vars and "shares_region" not in pmm.named_vars


def test_region_margins_hold_per_region(prior_fit):
    _, _, fit = prior_fit
    ds = sample_personas(fit, 20_000, draws=4, seed=0)
    region, age = ds["region"].values.reshape(-1), ds["age"].values.reshape(-1)
    for g in range(2):
        share_old = (age[region == g] == 1).mean()
        p = AGE_BY_REGION[g, 1] / AGE_BY_REGION[g].sum()
        n = (region == g).sum()
        assert abs(share_old - p) < 4 * np.sqrt(p * (1 - p) / n)


def test_where_geography(prior_fit):
    _, _, fit = prior_fit
    ds = sample_personas(fit, 3000, draws=2, seed=0, where={"region": "south"})
    assert (ds["region"].values == 1).all()
    p_old = AGE_BY_REGION[1, 1] / AGE_BY_REGION[1].sum()
    assert abs((ds["age"].values == 1).mean() - p_old) < 4 * np.sqrt(p_old * (1 - p_old) / 6000)
