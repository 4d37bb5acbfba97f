"""One SBC run: simulate, fit, thin, rank, replication after replication.

The fixed census tables (the shares the model conditions on) are drawn once per run
(seeded by ``[seed, FIXED_TABLES_STREAM]``) and shared by every replication: SBC holds
covariates fixed, and they are constants of the compiled graph. Per replication ``r``
(seeded by ``[seed, r]``): the ``r``-th prior draw ``theta``, a study simulated from it
(:mod:`~populace.evaluation.sbc.simulate`), a fit of it -- ``method="nutpie"``: the
production fit, ``populace.inference.fit`` with the sampler config's defaults (nutpie on
JAX, its chains, tuning, draws and self-extension); ``"nuts"``: one PyMC NUTS chain
(:class:`~populace.evaluation.sbc.sampler.ReusableNuts`, compiled once) -- the ranked
quantities (:func:`~populace.evaluation.sbc.ranks.quantities`) of ``theta`` and of the
draws, and their ranks among ``L`` draws thinned by ``ceil(draws / ESS_bulk_min)`` so that
the ranked draws are close to independent (autocorrelated draws flatten a rank
histogram's middle and hide over-confidence).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from populace.evaluation.sbc.configs import PRODUCTION, SBCConfig
from populace.evaluation.sbc.ranks import quantities, rank_statistic
from populace.evaluation.sbc.simulate import prior_draws, simulate_study, template_study

__all__ = ["FIXED_TABLES_STREAM", "METHODS", "run_sbc", "thin_index"]

#: Fitting methods of a replication (see :func:`run_sbc`).
METHODS = ("nutpie", "nuts", "advi")

#: Second seed word of the generator that draws the run's fixed census tables.
FIXED_TABLES_STREAM = 1_000_003


def thin_index(draws: int, n_ranks: int, ess: float) -> tuple[np.ndarray, int]:
    """Indices of the ``n_ranks`` draws to rank, and the thinning step used.

    The step is ``ceil(draws / ess)``, the draws the last ``n_ranks`` at that spacing.
    When the chain is too short for that (``ess < n_ranks``), the ``n_ranks`` draws are
    spread evenly over the whole chain (step ``draws / n_ranks``, the most it allows).
    """
    if n_ranks > draws:
        raise ValueError(f"n_ranks={n_ranks} is more than the {draws} posterior draws")
    step = max(1, math.ceil(draws / ess)) if np.isfinite(ess) and ess > 0 else draws
    if step * (n_ranks - 1) < draws:
        return draws - 1 - step * np.arange(n_ranks)[::-1], step
    return np.linspace(0, draws - 1, n_ranks).round().astype(int), draws // n_ranks


def _ess_bulk(samples: np.ndarray) -> np.ndarray:
    """Bulk ESS of each quantity of a (chains, draws, Q) array (ArviZ, over the chains)."""
    import arviz as az

    return np.array([float(az.ess(samples[:, :, j], method="bulk")) for j in range(samples.shape[2])])


def run_sbc(
    *,
    config: SBCConfig = PRODUCTION,
    reps: int = 200,
    n_sample: int = 300,
    method: str = "nuts",
    draws: int | None = None,
    tune: int | None = None,
    n_ranks: int | None = None,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
    previous: pd.DataFrame | None = None,
    on_rep: Callable[[pd.DataFrame], None] | None = None,
) -> pd.DataFrame:
    """Simulation-based calibration of the copula model (see the module docstring).

    Parameters
    ----------
    config
        Shape of the simulated studies and the ranked quantities.
    reps
        Replications (simulated studies, one fit each).
    n_sample
        Microdata rows per study.
    method
        ``"nutpie"`` (``populace.inference.fit`` as users run it: nutpie on JAX, compiled
        per replication through XLA's cache), ``"nuts"`` (one PyMC chain, compiled once)
        or ``"advi"`` (``populace.inference.fit``, compiled per replication; ``tune``
        unused).
    draws, tune
        Posterior draws (per chain) and tuning steps; default the sampler config's for
        ``"nutpie"`` (1,000 and 300), 200 and 150 otherwise.
    n_ranks
        Ranked draws ``L`` per replication; ranks lie in ``0 .. L``. Default
        ``min(99, draws // 2)``.
    seed
        Seeds the prior draws (``seed``) and each replication (``[seed, rep]``).
    progress
        Called with one line per replication.
    previous
        Rows of an earlier, interrupted run with the same settings (its
        ``sbc_ranks.csv``): their replications are kept and not run again; a resumed
        run gives the same ranks as an uninterrupted one.
    on_rep
        Called after each replication with all rows so far (to save them as they come).

    Returns
    -------
    pandas.DataFrame
        One row per (replication, quantity): ``rep, quantity, rank, n_ranks, true,
        post_mean, post_sd, ess_bulk`` and per replication ``seconds, divergences,
        ess_min, thin, chains``. Failed replications are left out and listed in
        ``df.attrs["failed"]``.
    """
    from populace.models.config import DEFAULT_SAMPLER_CONFIG

    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if method == "nutpie":
        draws = int(DEFAULT_SAMPLER_CONFIG["draws"]) if draws is None else int(draws)
        tune = int(DEFAULT_SAMPLER_CONFIG["tune"]) if tune is None else int(tune)
    else:
        draws = 200 if draws is None else int(draws)
        tune = 150 if tune is None else int(tune)
    L = int(n_ranks) if n_ranks is not None else max(1, min(99, draws // 2))
    if L > draws:
        raise ValueError(f"n_ranks={L} is more than the {draws} posterior draws")
    say = progress or (lambda _msg: None)
    thetas = prior_draws(reps, seed=seed, config=config)
    fixed = template_study(config, rng=np.random.default_rng([seed, FIXED_TABLES_STREAM]))
    rows: list[dict[str, Any]] = [] if previous is None else previous.to_dict("records")
    if rows and any(int(r["n_ranks"]) != L for r in rows):
        raise ValueError(f"the previous rows were ranked among another number of draws than n_ranks={L}")
    done = {int(r["rep"]) for r in rows}
    failed: list[str] = []
    attrs = {"config": config.name, "reps": reps, "method": method, "draws": draws, "tune": tune, "n_sample": n_sample}
    sampler: Any = _SAMPLERS.get(_key(config))
    for rep, theta in enumerate(thetas):
        if rep in done:
            continue
        t0 = time.perf_counter()
        rng = np.random.default_rng([seed, rep])
        try:
            study = simulate_study(theta, rng, config=config, n_sample=n_sample, template=fixed)
            if method == "nuts":
                sampler = _sampler_for(sampler, study, config)
                post, stats = sampler.sample(draws=draws, tune=tune, seed=[seed, rep, 1])
                model, div, chains = sampler.copula, float(stats["diverging"].sum()), 1
                post = {k: v[None] for k, v in post.items()}
            elif method == "nutpie":
                model, post, div = _nutpie(study, config, draws=draws, tune=tune, seed=seed * 100_003 + rep)
                chains = next(iter(post.values())).shape[0]
            else:
                model, post, div = _advi(study, config, draws=draws, seed=seed * 100_003 + rep)
                post, chains = {k: v[None] for k, v in post.items()}, 1
        except Exception as exc:  # noqa: BLE001 - one bad replication must not lose an hour of others
            failed.append(f"rep {rep}: {type(exc).__name__}: {exc}")
            say(f"rep {rep + 1}/{reps} FAILED ({type(exc).__name__}: {exc})")
            continue
        truth = quantities(model, theta, config)
        names = list(truth)
        n_draws = next(iter(post.values())).shape[1]
        per_draw = [
            [quantities(model, {k: v[c, i] for k, v in post.items()}, config) for i in range(n_draws)] for c in range(chains)
        ]
        by_chain = np.array([[[d[q] for q in names] for d in chain] for chain in per_draw])  # (chains, draws, Q)
        ess = _ess_bulk(by_chain)
        ess_min = float(np.nanmin(ess))
        samples = by_chain.reshape(chains * n_draws, len(names))  # chain after chain
        keep, thin = thin_index(chains * n_draws, L, ess_min)
        ranks = rank_statistic(np.array([truth[q] for q in names]), samples[keep], rng)
        seconds = time.perf_counter() - t0
        for j, q in enumerate(names):
            col = samples[keep, j]
            rows.append(
                {
                    "rep": rep,
                    "quantity": q,
                    "rank": int(ranks[j]),
                    "n_ranks": L,
                    "true": truth[q],
                    "post_mean": float(col.mean()),
                    "post_sd": float(col.std(ddof=1)) if L > 1 else float("nan"),
                    "ess_bulk": float(ess[j]),
                    "seconds": seconds,
                    "divergences": div,
                    "ess_min": ess_min,
                    "thin": thin,
                    "chains": chains,
                }
            )
        say(
            f"rep {rep + 1}/{reps} done in {seconds:.1f} s (chains {chains}, divergences {div:.0f}, "
            f"ESS min {ess_min:.0f}, thin {thin})"
        )
        if on_rep is not None:
            on_rep(_frame(rows, failed, attrs))
    return _frame(rows, failed, attrs)


#: Compiled samplers by configuration (name and model config), kept for later runs in the
#: same process.
_SAMPLERS: dict[str, Any] = {}


def _key(config: SBCConfig) -> str:
    import json

    return f"{config.name}:{json.dumps(config.model_config, sort_keys=True)}"


def _sampler_for(sampler: Any, study: Any, config: SBCConfig) -> Any:
    """``sampler`` loaded with ``study``, or a new one where its fixed tables differ."""
    from populace.evaluation.sbc.sampler import ReusableNuts

    if sampler is not None:
        try:
            sampler.set_study(study)
            return sampler
        except ValueError:  # another run's fixed tables: compile anew
            pass
    sampler = ReusableNuts(study, model_config=config.model_config)
    _SAMPLERS[_key(config)] = sampler
    return sampler


def _nutpie(study: Any, config: SBCConfig, *, draws: int, tune: int, seed: int) -> tuple[Any, dict[str, np.ndarray], float]:
    """The production fit: ``populace.inference.fit`` with the sampler config's defaults
    but ``draws`` and ``tune``; the posterior per chain, ``(chains, draws, ...)``."""
    from populace.inference.fit import fit
    from populace.models.copula import CopulaModel

    fitted = fit(study, method="nuts", draws=draws, tune=tune, seed=seed, model_config=dict(config.model_config), warn=False)
    post = fitted["posterior"].to_dataset()
    per_chain = {str(k): da.transpose("chain", "draw", ...).values for k, da in post.data_vars.items()}
    div = float(fitted["sample_stats"]["diverging"].sum())
    return CopulaModel(study, model_config=dict(config.model_config)), per_chain, div


def _advi(study: Any, config: SBCConfig, *, draws: int, seed: int) -> tuple[Any, Mapping[str, np.ndarray], float]:
    from populace.inference.fit import fit, posterior_draws
    from populace.models.copula import CopulaModel

    fitted = fit(study, method="advi", draws=draws, chains=1, seed=seed, model_config=dict(config.model_config), warn=False)
    _, post = posterior_draws(fitted)
    return CopulaModel(study, model_config=dict(config.model_config)), post, float("nan")


def _frame(rows: list[dict[str, Any]], failed: list[str], attrs: Mapping[str, Any]) -> pd.DataFrame:
    df = pd.DataFrame.from_records(rows)
    df.attrs.update(failed=list(failed), **attrs)
    return df
