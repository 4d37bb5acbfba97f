"""The generators a benchmark runs: their names, the copula model and the population oracle
behind the peers' ``fit`` / ``sample_personas`` interface."""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from populace.personas import persona_dataset
from populace.study.spec import Study

#: Every method name ``run_benchmark`` knows.
METHODS: tuple[str, ...] = ("populace", "independence", "ipf", "bootstrap", "bb", "bb_ipf", "lca_ipf", "oracle")
#: What ``populace benchmark`` runs when no ``--methods`` are given.
DEFAULT_METHODS: tuple[str, ...] = ("populace", "independence", "ipf", "bootstrap", "bb", "bb_ipf", "lca_ipf")
#: Methods whose persona draws carry posterior uncertainty (the others get one draw).
DRAW_METHODS: frozenset[str] = frozenset({"populace", "bb", "bb_ipf"})


class PopulaceMethod:
    """The copula model behind the peers' ``fit`` / ``sample_personas`` interface.

    Parameters
    ----------
    **fit_options
        Passed to :func:`populace.inference.fit` (``seed`` and ``warn`` are set here).
    """

    name = "populace"

    def __init__(self, **fit_options: Any) -> None:
        self.fit_options = dict(fit_options)
        self.fitted: xr.DataTree | None = None

    def fit(self, study: Study, *, seed: int | None = None) -> PopulaceMethod:
        """Fit the model; convergence is reported by :meth:`diagnostics`, not warned."""
        from populace.inference import fit

        # warn=False: convergence goes in the table; other warnings are shown as they come.
        self.fitted = fit(study, seed=seed, warn=False, **self.fit_options)
        return self

    def sample_personas(self, n: int, *, draws: int = 1, seed: int | None = None) -> xr.Dataset:
        """Personas from ``draws`` posterior draws."""
        from populace.inference.generate import sample_personas

        if self.fitted is None:
            raise RuntimeError("call fit() first")
        return sample_personas(self.fitted, n, draws=draws, seed=seed)

    def diagnostics(self) -> dict[str, float]:
        """R-hat, ESS, divergences of a NUTS fit (NaN where not computable, e.g. ADVI)."""
        from populace.inference import check_convergence

        nan = float("nan")
        if self.fitted is None or "sample_stats" not in self.fitted.children:
            return {"rhat_max": nan, "ess_min": nan, "divergences": nan}
        diag = check_convergence(self.fitted, warn=False)
        return {
            "rhat_max": float(diag.max_rhat),
            "ess_min": float(min(diag.min_ess_bulk, diag.min_ess_tail)),
            "divergences": float(diag.divergences),
        }


class OracleMethod:
    """``n`` draws with replacement from the true population (the reference floor)."""

    name = "oracle"

    def __init__(self, population: np.ndarray) -> None:
        self.population = population
        self.study: Study | None = None

    def fit(self, study: Study, *, seed: int | None = None) -> OracleMethod:
        self.study = study
        return self

    def sample_personas(self, n: int, *, draws: int = 1, seed: int | None = None) -> xr.Dataset:
        assert self.study is not None
        rows = np.random.default_rng(seed).integers(0, len(self.population), size=(draws, n))
        codes = {a.name: self.population[rows, j] for j, a in enumerate(self.study.attributes)}
        return persona_dataset(codes, self.study, attrs={"method": "oracle"})
