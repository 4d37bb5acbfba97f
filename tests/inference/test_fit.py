"""fit(): dispatch, self-contained results, reproducibility."""

import json
import warnings

import numpy as np
import pytest
import xarray as xr

from populace.errors import FitError
from populace.inference import fit
from tests.simulated import CONFIG


def test_unknown_method_and_sampler_are_clear_errors(simulated):
    study, _ = simulated
    with pytest.raises(FitError, match="unknown method"):
        fit(study, method="gibbs")
    with pytest.raises(FitError, match="unknown sampler"):
        fit(study, sampler="stan")
    with pytest.raises(FitError, match="factors must be"):
        fit(study, factors=0)


@pytest.mark.slow
def test_fit_tree_is_self_contained(simulated_fit):
    assert {"posterior", "sample_stats", "observed_data"} <= set(simulated_fit.children)
    assert json.loads(simulated_fit.attrs["populace_model_config"])["factors"] == 1
    assert json.loads(simulated_fit.attrs["populace_study"])["name"] == "simulated"
    assert simulated_fit["sample_stats"].attrs["inference_library"] == "pymc"


@pytest.mark.slow
def test_same_seed_same_posterior(simulated):
    study, _ = simulated
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = fit(study, model_config=CONFIG, draws=30, tune=30, chains=1, seed=3, warn=False)
        b = fit(study, model_config=CONFIG, draws=30, tune=30, chains=1, seed=3, warn=False)
    # values and coords; attrs differ (creation time, sampling time)
    xr.testing.assert_equal(a["posterior"].to_dataset(), b["posterior"].to_dataset())


@pytest.mark.slow
def test_advi_gives_a_usable_posterior(simulated):
    study, _ = simulated
    f = fit(study, method="advi", model_config=CONFIG, draws=100, seed=1, sampler_config={"advi_steps": 3000})
    gram = f["posterior"]["loading_gram"]
    assert gram.sizes["draw"] == 100
    assert np.isfinite(gram.values).all()
    assert f.attrs["populace_format"] == "populace.fit/1"
