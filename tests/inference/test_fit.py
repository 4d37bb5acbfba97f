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


@pytest.fixture(scope="module")
def advi_fit(simulated):
    study, _ = simulated
    return fit(study, method="advi", model_config=CONFIG, draws=200, chains=2, seed=1)


@pytest.mark.slow
def test_advi_stops_on_its_plateau_and_keeps_the_loss(advi_fit):
    advi = advi_fit["advi"].to_dataset()
    loss = advi["loss"].values
    w = advi.attrs["window"]
    assert advi.attrs["converged"] == 1
    assert advi.attrs["plateau_step"] < 20_000 and loss.size == advi.attrs["plateau_step"] + w - 1
    # The optimisation made progress far beyond its noise: the first window's mean loss
    # exceeds the last one's by more than 10 standard errors of the difference.
    first, last = loss[:w], loss[-w:]
    se = np.sqrt(first.var(ddof=1) / w + last.var(ddof=1) / w)
    assert first.mean() - last.mean() > 10 * se
    # ADVI has no chains: draws x chains draws of the approximation, as one chain.
    assert dict(advi_fit["posterior"].sizes)["chain"] == 1
    assert dict(advi_fit["posterior"].sizes)["draw"] == 400


@pytest.mark.slow
def test_advi_means_agree_with_nuts(advi_fit, simulated_fit):
    """Mean-field ADVI gets the centre right even where it gets the spread wrong: each
    loading-Gram entry's ADVI mean lies in the NUTS 90 % interval (a fit stuck near the
    prior, whose Gram means are ~0, fails the strong entries: age x church is 0.41)."""
    a = advi_fit["posterior"]["loading_gram"].stack(s=("chain", "draw"))
    b = simulated_fit["posterior"]["loading_gram"].stack(s=("chain", "draw"))
    lo, hi = b.quantile(0.05, dim="s"), b.quantile(0.95, dim="s")
    mean = a.mean("s")
    inside = ((lo <= mean) & (mean <= hi)).values
    assert inside.all(), {"advi": mean.values.round(3), "lo": lo.values.round(3), "hi": hi.values.round(3)}


def test_offered_samplers_only(simulated):
    """numpyro / blackjax go through PyTensor's JAX backend, which lacks the solver Ops."""
    study, _ = simulated
    from populace.inference.fit import SAMPLERS

    assert SAMPLERS == ("pymc", "nutpie")
    with pytest.raises(FitError, match="unknown sampler 'numpyro'"):
        fit(study, sampler="numpyro")


@pytest.mark.slow
def test_nutpie_runs_and_finds_the_dependence(simulated):
    """A real short nutpie run (every offered sampler runs in CI): the strong age x church
    dependence (true Gram entry 0.41) is found, as in the pymc recovery test."""
    pytest.importorskip("nutpie")
    study, _ = simulated
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f = fit(study, sampler="nutpie", model_config=CONFIG, draws=150, tune=150, chains=1, seed=2, warn=False)
    gram = f["posterior"]["loading_gram"]
    assert float(gram.sel(loading_row="age", loading_row_bis="church").quantile(0.05)) > 0.2
