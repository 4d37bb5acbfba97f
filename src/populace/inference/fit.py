"""One entry point, ``fit(study, method=...)``, dispatching to the inference methods."""

from __future__ import annotations

import json
import os
import time
import warnings
from typing import Any

import numpy as np
import pymc as pm
import xarray as xr

from populace.errors import FitError, SolverWarning
from populace.inference.advi import fit_advi
from populace.inference.diagnostics import ConvergenceWarning, check_convergence
from populace.inference.io import FIT_FORMAT
from populace.inference.nutpie_chains import BACKENDS
from populace.models.copula import MARGIN_GAP_TOL, CopulaModel
from populace.study.provenance import provenance_json
from populace.study.serialize import study_to_dict
from populace.study.spec import Study

__all__ = ["fit", "METHODS", "SAMPLERS", "package_versions"]

METHODS = ("nuts", "advi")
# numpyro and blackjax are not offered: they run through PyTensor's JAX backend, which has
# no implementation of the numba kernel Ops in populace.models.margin_ops. The default first.
SAMPLERS = ("nutpie", "pymc")
NUTPIE_ADAPTATIONS = ("diag", "low_rank")
#: A fit with fewer draws per chain is exploratory: it is never extended with more chains.
EXTEND_MIN_DRAWS = 500


def fit(
    study: Study,
    *,
    method: str = "nuts",
    sampler: str | None = None,
    factors: int | None = None,
    draws: int | None = None,
    tune: int | None = None,
    chains: int | None = None,
    seed: int | None = 0,
    model_config: dict[str, Any] | None = None,
    sampler_config: dict[str, Any] | None = None,
    progressbar: bool = False,
    warn: bool = True,
) -> xr.DataTree:
    """Fit the copula model to ``study``.

    Parameters
    ----------
    study
        Census tables plus microdata.
    method
        ``"nuts"`` (default; full posterior) or ``"advi"`` (fast mean-field
        variational approximation, stopped when its loss plateaus: intervals too
        narrow, use for exploration; see :mod:`populace.inference.advi`).
    sampler
        NUTS implementation: ``"nutpie"`` (default; the faster here, see
        :mod:`populace.inference.nutpie_chains`) or ``"pymc"``. nutpie's log density is
        compiled by ``sampler_config["backend"]``: ``"jax"`` (default, compiles in seconds)
        or ``"numba"``; so is ADVI's; PyMC's NUTS uses numba.
    factors
        Number of latent factors K (default 3).
    draws, tune, chains
        Posterior draws per chain, tuning steps, chains (defaults 1000 / 300 / 2).
        ADVI has no chains: it returns ``draws * chains`` draws of the approximation
        as one chain, and ignores ``tune``.
    seed
        Random seed; the same seed gives the same fit.
    model_config, sampler_config
        Further overrides of the default configs.
    progressbar
        Show the NUTS sampler's progress bar (ADVI shows none).
    warn
        Warn (in words) when R-hat, ESS or divergences look bad.

    Returns
    -------
    xarray.DataTree
        Groups ``posterior``, ``sample_stats`` (NUTS), ``observed_data``
        (the microdata patterns and counts); attrs hold the study and the
        configs as JSON, so the fit alone can generate personas later.
    """
    if method not in METHODS:
        raise FitError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}.")
    mc = dict(model_config or {})
    if factors is not None:
        if factors < 1:
            raise FitError(f"factors must be >= 1, got {factors}.")
        mc["factors"] = int(factors)
    sc = dict(sampler_config or {})
    sc.update({k: v for k, v in {"method": method, "sampler": sampler, "draws": draws, "tune": tune, "chains": chains}.items() if v is not None})
    model = CopulaModel(study, model_config=mc, sampler_config=sc)
    sc = model.sampler_config
    if sc["sampler"] not in SAMPLERS:
        raise FitError(f"unknown sampler {sc['sampler']!r}; choose one of {', '.join(SAMPLERS)}.")
    if sc["backend"] not in BACKENDS:
        raise FitError(f"unknown backend {sc['backend']!r}; choose one of {', '.join(BACKENDS)}.")
    if sc["nutpie_adaptation"] not in NUTPIE_ADAPTATIONS:
        raise FitError(f"unknown nutpie_adaptation {sc['nutpie_adaptation']!r}; choose one of {', '.join(NUTPIE_ADAPTATIONS)}.")
    pm_model = model.build_model()
    t0 = time.perf_counter()
    # Multithreaded BLAS made each gradient ~7x slower on small matrices.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    if method == "nuts":
        tree = _nuts(pm_model, sc, seed, progressbar, rebuild=(study, model.model_config))
        tree = _extend(tree, pm_model, sc, seed, rebuild=(study, model.model_config), started=t0)
    else:
        tree = _advi(pm_model, sc, seed)
    elapsed = time.perf_counter() - t0
    tree = _attach(tree, model, seed=seed, elapsed=elapsed)
    _audit_margins(tree, model)
    if method == "nuts":
        check_convergence(tree, warn=warn)
    return tree


def _extend(
    tree: xr.DataTree, pm_model: pm.Model, sc: dict[str, Any], seed: int | None, *, rebuild: tuple[Study, dict[str, Any]], started: float
) -> xr.DataTree:
    """Add rounds of ``chains`` chains while the reported quantities miss R-hat <= 1.01 or
    the ESS target, up to ``max_chains`` chains and, when ``extend_seconds`` is set, while
    another round fits in it (each round timed like the last; the rounds then depend on the
    machine's speed). The added chains take the seeds of their chain numbers, so a seed
    still gives one fit. Divergences are not a reason
    (more chains do not remove them); ``max_chains <= chains`` turns this off, and so do
    fewer than :data:`EXTEND_MIN_DRAWS` draws per chain (an exploratory run)."""
    if sc["sampler"] != "nutpie" or int(sc["draws"]) < EXTEND_MIN_DRAWS:
        return tree
    rounds = 0
    last = time.perf_counter() - started
    while True:
        n_chains = tree["posterior"].sizes["chain"]
        target = max(float(sc["ess_target"]), 100.0 * n_chains)  # check_convergence's own bar
        diag = check_convergence(tree, warn=False, ess_min=float(sc["ess_target"]))
        if not _mixing_problem(diag, target) or n_chains + int(sc["chains"]) > int(sc["max_chains"]):
            break
        cap = sc["extend_seconds"]
        if cap is not None and time.perf_counter() - started + last > float(cap):
            break
        t = time.perf_counter()
        more = _nuts(pm_model, sc, seed, False, rebuild=rebuild, first_chain=n_chains)
        last = time.perf_counter() - t
        tree = _join_chains(tree, more)
        rounds += 1
    if rounds:
        tree["sample_stats"].attrs["extended_rounds"] = rounds
    return tree


def _mixing_problem(diag: Any, ess_target: float) -> bool:
    """R-hat or ESS short of the targets (what more chains can fix)."""
    return bool(diag.max_rhat > 1.01 or min(diag.min_ess_bulk, diag.min_ess_tail) < ess_target)


def _join_chains(a: xr.DataTree, b: xr.DataTree) -> xr.DataTree:
    """Two sets of chains as one; timing attrs add up, per-chain lists join."""
    out = xr.DataTree()
    for group in ("posterior", "sample_stats"):
        da, db = a[group].to_dataset(), b[group].to_dataset()
        ds = xr.concat([da, db], dim="chain")
        attrs = dict(da.attrs)
        for key in ("gradient_calls", "gradient_time", "chain_seeds"):
            if key in da.attrs and key in db.attrs:
                attrs[key] = json.dumps(json.loads(da.attrs[key]) + json.loads(db.attrs[key]))
        for key in ("sampling_time", "compile_time"):
            if key in da.attrs and key in db.attrs:
                attrs[key] = float(da.attrs[key]) + float(db.attrs[key])
        ds.attrs = attrs
        out[group] = xr.DataTree(ds)
    return out


def _nuts(
    pm_model: pm.Model,
    sc: dict[str, Any],
    seed: int | None,
    progressbar: bool,
    *,
    rebuild: tuple[Study, dict[str, Any]],
    first_chain: int = 0,
) -> xr.DataTree:
    cores = min(int(sc["chains"]), os.cpu_count() or 1)
    if sc["sampler"] == "nutpie":
        from populace.inference.nutpie_chains import sample_nutpie

        return sample_nutpie(
            pm_model,
            draws=int(sc["draws"]),
            tune=int(sc["tune"]),
            chains=int(sc["chains"]),
            cores=cores,
            target_accept=float(sc["target_accept"]),
            seed=seed,
            adaptation=str(sc["nutpie_adaptation"]),
            backend=str(sc["backend"]),
            rebuild=rebuild,
            progressbar=progressbar,
            first_chain=first_chain,
        )
    with pm_model:
        return pm.sample(
            draws=int(sc["draws"]),
            tune=int(sc["tune"]),
            chains=int(sc["chains"]),
            nuts_sampler="pymc",
            random_seed=seed,
            progressbar=progressbar,
            compute_convergence_checks=False,
            target_accept=sc["target_accept"],
            init=sc["init"],
            cores=cores,
        )


def _advi(pm_model: pm.Model, sc: dict[str, Any], seed: int | None) -> xr.DataTree:
    try:
        result = fit_advi(
            pm_model,
            draws=int(sc["draws"]) * int(sc["chains"]),
            max_steps=int(sc["advi_steps"]),
            learning_rate=float(sc["advi_learning_rate"]),
            window=int(sc["advi_window"]),
            seed=seed,
            backend=str(sc["backend"]),
        )
    except FloatingPointError as exc:
        raise FitError(
            f"ADVI diverged (the loss became NaN: {str(exc).splitlines()[0]}). "
            "Fix: lower sampler_config['advi_learning_rate'], or use method='nuts'."
        ) from None
    if not result.converged:
        warnings.warn(
            f"ADVI stopped at its step limit ({result.steps:,}) before its loss plateaued; "
            "raise sampler_config['advi_steps'] or use method='nuts'.",
            ConvergenceWarning,
            stacklevel=3,
        )
    return result.tree


def _attach(tree: xr.DataTree, model: CopulaModel, *, seed: int | None, elapsed: float) -> xr.DataTree:
    """Add the observed patterns and the JSON study/configs that make the fit self-contained."""
    s = model.structure
    obs = xr.Dataset(
        {
            "pattern_codes": (("pattern", "attribute"), s.complete.codes),
            "pattern_geography": (("pattern",), s.complete.geo),
            "pattern_count": (("pattern",), s.complete.counts),
        },
        coords={"attribute": list(s.names)},
        attrs={"note": "distinct complete microdata patterns; counts scaled to the Kish effective sample size"},
    )
    tree["observed_data"] = xr.DataTree(obs)
    tree.attrs.update(
        {
            "populace_format": FIT_FORMAT,
            "populace_study": json.dumps(study_to_dict(model.study)),
            # Which census tables and surveys each attribute's information came from.
            "populace_provenance": provenance_json(model.study),
            "populace_model_config": json.dumps(model.model_config),
            "populace_sampler_config": json.dumps(model.sampler_config),
            "populace_seed": -1 if seed is None else int(seed),
            "populace_fit_seconds": float(elapsed),
            "populace_versions": json.dumps(package_versions()),
        }
    )
    return tree


#: Posterior draws whose solved margins a fit checks (spread over the chains).
AUDIT_DRAWS = 8


def _audit_margins(tree: xr.DataTree, model: CopulaModel) -> None:
    """Check the margin solvers at :data:`AUDIT_DRAWS` posterior draws: they stop at an
    iteration cap, and a draw where one stopped short would fit the wrong margins. The
    largest gap goes in the attrs (``populace_margin_gap_max``); beyond
    :data:`MARGIN_GAP_TOL` it warns."""
    total, post = posterior_draws(tree)
    picks = np.unique(np.linspace(0, total - 1, min(AUDIT_DRAWS, total)).astype(int))
    gap = max(model.margin_gap({k: v[i] for k, v in post.items()}) for i in picks)
    tree.attrs["populace_margin_gap_max"] = gap
    if not gap <= MARGIN_GAP_TOL:
        warnings.warn(
            f"a margin solver stopped at its iteration cap: a solved margin is {gap:.2g} from its target "
            f"share at a posterior draw (converged solves are within {MARGIN_GAP_TOL:g}). "
            "Fix: check the study for levels with shares near 0 or 1, or lower model_config['loading_sd'].",
            SolverWarning,
            stacklevel=3,
        )


#: Packages whose versions a fit records: what produced it, for reproducing it.
RECORDED_PACKAGES = ("populace", "pymc", "pytensor", "numba", "arviz", "numpy", "scipy", "xarray", "pandas", "nutpie")


def package_versions() -> dict[str, str]:
    """Versions of Python and of :data:`RECORDED_PACKAGES` (those installed)."""
    import platform
    from importlib import metadata

    out = {"python": platform.python_version()}
    for name in RECORDED_PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def model_from_fit(fit: xr.DataTree) -> CopulaModel:
    """Rebuild the :class:`CopulaModel` (study + configs) stored in a fit."""
    from populace.models.config import RETIRED_MODEL_KEYS
    from populace.study.serialize import study_from_dict

    try:
        study = study_from_dict(json.loads(fit.attrs["populace_study"]))
        mc = {k: v for k, v in json.loads(fit.attrs["populace_model_config"]).items() if k not in RETIRED_MODEL_KEYS}
        mc.setdefault("census_concentration", "joint")  # fits made before the key shared alpha
        mc.setdefault("area_effects", False)  # fits made before area effects and the pair layer
        mc.setdefault("pair_layer", False)
        sc = json.loads(fit.attrs["populace_sampler_config"])
    except KeyError as exc:
        raise FitError(f"not a populace fit: attribute {exc} missing.") from None
    return CopulaModel(study, model_config=mc, sampler_config=sc)


def posterior_draws(fit: xr.DataTree) -> tuple[int, dict[str, np.ndarray]]:
    """Posterior arrays stacked over (chain, draw) -> leading sample axis."""
    post = fit["posterior"].to_dataset()
    n = post.sizes["chain"] * post.sizes["draw"]
    out = {}
    for name, da in post.data_vars.items():
        arr = da.transpose("chain", "draw", ...).values
        out[name] = arr.reshape((n,) + arr.shape[2:])
    return n, out
