"""fit(): dispatch, self-contained results, reproducibility."""

import json
import warnings

import numpy as np
import pytest
import xarray as xr

from populace.errors import FitError
from populace.inference import fit
from tests.simulated import CONFIG
from populace.inference.diagnostics import ConvergenceWarning


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
    assert simulated_fit["sample_stats"].attrs["inference_library"] == "nutpie"  # the default


#: Attributes that record when and how long, not what: the only content two fits with one
#: seed may differ in.
TIMING_ATTRS = {"created_at", "sampling_time", "compile_time", "gradient_time", "populace_fit_seconds"}
TIMING_VARS = ["perf_counter_diff", "perf_counter_start", "process_time_diff"]


def _content(tree: xr.DataTree) -> dict[str, tuple[xr.Dataset, dict]]:
    return {
        node.path: (node.to_dataset().drop_vars(TIMING_VARS, errors="ignore"), {k: v for k, v in node.attrs.items() if k not in TIMING_ATTRS})
        for node in tree.subtree
    }


@pytest.mark.slow
def test_same_seed_same_fit_file_content(simulated, tmp_path):
    """Two fits with one seed, saved and loaded: every group's variables, coordinates and
    attributes are identical, timings aside; the fit records the package versions."""
    from populace.inference import load_fit, save_fit
    from populace.inference.fit import package_versions

    study, _ = simulated
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # short test fits
        a = fit(study, model_config=CONFIG, draws=30, tune=30, chains=1, seed=3, warn=False)
        b = fit(study, model_config=CONFIG, draws=30, tune=30, chains=1, seed=3, warn=False)
    ca, cb = _content(load_fit(save_fit(a, tmp_path / "a.nc"))), _content(load_fit(save_fit(b, tmp_path / "b.nc")))
    assert ca.keys() == cb.keys() and {"/", "/posterior", "/sample_stats", "/observed_data"} <= ca.keys()
    for path in ca:
        xr.testing.assert_identical(ca[path][0].drop_attrs(), cb[path][0].drop_attrs())
        assert ca[path][1] == cb[path][1], path
    versions = json.loads(a.attrs["populace_versions"])
    assert versions == package_versions() and {"python", "populace", "pymc", "numpy"} <= versions.keys()
    other = fit(study, model_config=CONFIG, draws=30, tune=30, chains=1, seed=4, warn=False)
    assert not np.array_equal(other["posterior"]["loading_gram"].values, a["posterior"]["loading_gram"].values)


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
    assert advi.attrs["plateau_step"] < 20_000 and loss.size == advi.attrs["plateau_step"] + w
    # The optimisation made progress far beyond its noise: the first window's mean loss
    # exceeds the last one's by more than 10 standard errors of the difference.
    first, last = loss[:w], loss[-w:]
    se = np.sqrt(first.var(ddof=1) / w + last.var(ddof=1) / w)
    assert first.mean() - last.mean() > 10 * se
    # ADVI has no chains: draws x chains draws of the approximation, as one chain.
    assert dict(advi_fit["posterior"].sizes)["chain"] == 1
    assert dict(advi_fit["posterior"].sizes)["draw"] == 400


@pytest.mark.slow
def test_advi_is_the_same_on_either_backend(advi_fit, simulated):
    """ADVI runs on the fit's backend (the fixture: JAX, the default, in a forked process that
    leaves this one free of JAX). Both take the same Adam steps from the same random draws,
    on gradients that differ by rounding (1e-14), so their draws agree far within
    Monte-Carlo error."""
    from populace.inference.nutpie_chains import _jax_running

    study, _ = simulated
    jax_before = _jax_running()
    other = fit(study, method="advi", model_config=CONFIG, draws=200, chains=2, seed=1, sampler_config={"backend": "numba"})
    assert (advi_fit["advi"].attrs["backend"], other["advi"].attrs["backend"]) == ("jax", "numba")
    assert advi_fit["advi"]["loss"].size == other["advi"]["loss"].size
    a, b = advi_fit["posterior"]["loading_gram"].values, other["posterior"]["loading_gram"].values
    np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-10)
    if not jax_before:
        fit(study, method="advi", model_config=CONFIG, draws=10, chains=1, seed=2)
        assert not _jax_running()


def test_a_diverging_advi_is_a_clear_error_from_its_forked_process(simulated):
    """A learning rate of 1e8 makes the first Adam step's loss infinite; the forked JAX
    process's FloatingPointError reaches the caller as the FitError that says what to do."""
    study, _ = simulated
    with pytest.raises(FitError, match="ADVI diverged.*advi_learning_rate"):
        fit(study, method="advi", model_config=CONFIG, draws=10, seed=1, sampler_config={"advi_learning_rate": 1e8})


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

    assert SAMPLERS == ("nutpie", "pymc")
    with pytest.raises(FitError, match="unknown sampler 'numpyro'"):
        fit(study, sampler="numpyro")


@pytest.mark.slow
def test_pymc_sampler_runs_and_finds_the_dependence(simulated):
    """A real short run of the other offered sampler, PyMC's NUTS (every offered sampler
    runs in CI): the strong age x church dependence (true Gram entry 0.41) is found, as in
    the recovery test of the default (nutpie) fit."""
    study, _ = simulated
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # short test fits
        f = fit(study, sampler="pymc", model_config=CONFIG, draws=150, tune=150, chains=1, seed=2, warn=False)
    assert f["sample_stats"].attrs["inference_library"] == "pymc"
    gram = f["posterior"]["loading_gram"]
    assert float(gram.sel(loading_row="age", loading_row_bis="church").quantile(0.05)) > 0.2


@pytest.mark.slow
def test_nutpie_chains_are_the_same_whether_run_at_once_or_in_turn(simulated):
    """Two chains in two forked processes equal the same two run in this process, and each
    chain follows its own seed (chain c is seeded from (seed, c)). In-process sampling runs
    first, so the fork also happens after nutpie has run in this process."""
    from populace.inference.nutpie_chains import sample_nutpie
    from populace.models.copula import CopulaModel

    study, _ = simulated
    pm_model = CopulaModel(study, model_config=CONFIG).build_model()
    opts = dict(draws=20, tune=20, chains=2, target_accept=0.8, seed=5)
    in_turn = sample_nutpie(pm_model, cores=1, **opts)["posterior"].to_dataset()
    parallel = sample_nutpie(pm_model, cores=2, **opts)["posterior"].to_dataset()
    xr.testing.assert_equal(parallel, in_turn)  # attrs differ only in timings
    gram = parallel["loading_gram"].values
    assert parallel.sizes["chain"] == 2 and not np.array_equal(gram[0], gram[1])
    from populace.inference.nutpie_chains import chain_seeds

    assert json.loads(parallel.attrs["chain_seeds"]) == chain_seeds(5, 2)  # every chain's seed is on record


@pytest.mark.slow
def test_jax_chains_are_the_same_forked_in_turn_or_spawned(simulated):
    """The default backend: each chain's process compiles the model with JAX. Two chains
    forked at once, the same two in one process in turn, and the same two in spawned
    processes (what happens once JAX runs in this process, which a fork must not copy)
    give the same draws, each chain from its own seed."""
    from populace.inference.nutpie_chains import _start_jax, sample_nutpie
    from populace.models.copula import CopulaModel

    study, _ = simulated
    model = CopulaModel(study, model_config=CONFIG)
    pm_model = model.build_model()
    opts = dict(draws=20, tune=20, chains=2, target_accept=0.8, seed=5, backend="jax", rebuild=(study, model.model_config))
    at_once = sample_nutpie(pm_model, cores=2, **opts)["posterior"]
    in_turn = sample_nutpie(pm_model, cores=1, **opts)["posterior"]
    _start_jax()
    import jax.numpy as jnp

    jnp.zeros(1).block_until_ready()  # JAX runs here now
    spawned = sample_nutpie(pm_model, cores=2, **opts)["posterior"]
    assert spawned.attrs["chain_start"] == "spawn" and in_turn.attrs["backend"] == "jax"
    for other in (in_turn, spawned):
        xr.testing.assert_equal(other.to_dataset(), at_once.to_dataset())
    gram = at_once["loading_gram"].values
    assert not np.array_equal(gram[0], gram[1])


@pytest.mark.slow
def test_personas_from_an_advi_fit_follow_the_census(advi_fit, simulated):
    """Generation works from an ADVI fit as from NUTS: raking pins every 1-D census margin,
    so what is left is multinomial noise of 2000 x 5 personas (4 sd bound, as for NUTS)."""
    from populace.inference import sample_personas

    study, _ = simulated
    ds = sample_personas(advi_fit, 2000, draws=5, seed=3)
    for m in (m for m in study.marginals if len(m.attributes) == 1):
        p = m.counts / m.counts.sum()
        q = np.bincount(ds[m.attributes[0]].values.reshape(-1), minlength=p.size) / ds[m.attributes[0]].size
        assert np.all(np.abs(q - p) < 4 * np.sqrt(p * (1 - p) / ds[m.attributes[0]].size)), m.attributes


_FIT_HASH = """
import hashlib, warnings
import populace
from populace.inference.diagnostics import ConvergenceWarning
from tests.simulated import CONFIG, simulated_study
study, _ = simulated_study()
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)  # short test fits
    f = populace.fit(study, model_config=CONFIG, draws=50, tune=50, chains=1, seed=3, warn=False)
print(hashlib.sha256(f["posterior"]["loading_gram"].values.tobytes()).hexdigest())
"""


@pytest.mark.slow
def test_same_seed_same_fit_with_a_cold_or_a_warm_compile_cache(tmp_path):
    """A fit compiled from scratch equals the same fit loaded from the disk cache, bit for
    bit (one fresh cache, two processes; the default backend, so XLA's cache in PyTensor's
    folder). With PyTensor's numba fastmath on, the two differed: reproducibility would hang
    on the state of the user's cache."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, PYTHONPATH=str(root), OPENBLAS_NUM_THREADS="1", NUMBA_CACHE_DIR=str(tmp_path / "numba"),
               PYTENSOR_FLAGS=f"base_compiledir={tmp_path / 'pytensor'}")  # fmt: skip
    runs = [subprocess.run([sys.executable, "-c", _FIT_HASH], env=env, cwd=root, capture_output=True, text=True, check=True) for _ in range(2)]
    cold, warm = (r.stdout.strip().splitlines()[-1] for r in runs)
    assert len(cold) == 64 and cold == warm


def test_a_fit_saved_before_census_concentration_rebuilds_the_shared_model(simulated_fit):
    from populace.inference.fit import model_from_fit

    assert model_from_fit(simulated_fit).model_config["census_concentration"] == "own"  # recorded now
    old = simulated_fit.copy()
    mc = json.loads(old.attrs["populace_model_config"])
    del mc["census_concentration"]
    old.attrs["populace_model_config"] = json.dumps(mc)
    assert model_from_fit(old).model_config["census_concentration"] == "joint"


def test_added_chains_take_the_seeds_of_their_numbers():
    from populace.inference.nutpie_chains import chain_seeds

    assert chain_seeds(5, 2, first=2) == chain_seeds(5, 4)[2:]
    assert chain_seeds(5, 2) == chain_seeds(5, 4)[:2]


@pytest.mark.slow
def test_fit_extends_itself_while_the_ess_target_is_missed(simulated):
    """An unreachable ESS target: the fit adds one round of 2 chains (the cap is 4), says
    so, and its chains are those of the seed; an exploratory run (draws < 500) is left alone."""
    from populace.inference.fit import EXTEND_MIN_DRAWS
    from populace.inference.nutpie_chains import chain_seeds

    study, _ = simulated
    sc = {"ess_target": 1e9, "max_chains": 4, "extend_seconds": 1e6}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # short test fits
        f = fit(study, model_config=CONFIG, draws=EXTEND_MIN_DRAWS, tune=100, seed=7, sampler_config=sc, warn=False)
        short = fit(study, model_config=CONFIG, draws=EXTEND_MIN_DRAWS - 1, tune=100, seed=7, sampler_config=sc, warn=False)
    assert f["posterior"].sizes["chain"] == 4 and f["sample_stats"].attrs["extended_rounds"] == 1
    assert list(f["posterior"]["chain"].values) == [0, 1, 2, 3]
    assert json.loads(f["sample_stats"].attrs["chain_seeds"]) == chain_seeds(7, 4)
    assert short["posterior"].sizes["chain"] == 2 and "extended_rounds" not in short["sample_stats"].attrs


_LONG_FIT = """
import warnings
import populace
from populace.inference.diagnostics import ConvergenceWarning
from tests.simulated import CONFIG, simulated_study
study, _ = simulated_study()
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    populace.fit(study, model_config=CONFIG, draws=200_000, tune=100, chains=2, seed=3, warn=False)
"""


def _alive(pid: int) -> bool:
    """Running (a zombie nobody reaped yet counts as gone)."""
    from pathlib import Path

    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status


@pytest.mark.slow
@pytest.mark.skipif(not __import__("sys").platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_chain_processes_end_when_the_fit_is_killed(tmp_path):
    """A fit killed by SIGKILL (a timeout, the OOM killer) leaves no chain process sampling on:
    an orphaned chain kept a core busy for minutes in a benchmark."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, PYTHONPATH=str(root), OPENBLAS_NUM_THREADS="1")
    proc = subprocess.Popen([sys.executable, "-c", _LONG_FIT], env=env, cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    children: list[int] = []
    deadline = time.monotonic() + 120
    while len(children) < 2 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.5)
        listed = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
        children = [int(c) for c in listed.read_text().split()] if listed.exists() else []
    assert len(children) >= 2, "the fit did not start its chain processes"
    time.sleep(2)  # the chains are sampling
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 10
    while any(_alive(c) for c in children) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = [c for c in children if _alive(c)]
    for c in left:
        os.kill(c, signal.SIGKILL)
    assert not left, f"chain processes {left} outlived the fit"
