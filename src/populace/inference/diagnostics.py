"""Convergence checks in words a statistician can act on."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import arviz as az
import numpy as np
import xarray as xr

from populace.errors import PopulaceWarning

__all__ = ["Diagnostics", "check_convergence", "ConvergenceWarning"]

# Rotation-invariant quantities: raw loadings are identified only up to rotation,
# so their R-hat says nothing; these do.
INVARIANT_VARS = ("loading_gram", "log_concentration", "log_census_concentration")


class ConvergenceWarning(PopulaceWarning):
    """The sampler's output should not be trusted as is."""


@dataclass
class Diagnostics:
    """Summary of a fit's health."""

    max_rhat: float
    min_ess_bulk: float
    min_ess_tail: float
    divergences: int
    n_samples: int
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_text(self) -> str:
        head = (
            f"R-hat max {self.max_rhat:.3f}, ESS bulk min {self.min_ess_bulk:.0f}, "
            f"ESS tail min {self.min_ess_tail:.0f}, divergences {self.divergences} of {self.n_samples}"
        )
        return head + ("" if self.ok else "\n" + "\n".join(f"- {p}" for p in self.problems))


def check_convergence(
    fit: xr.DataTree, *, rhat_max: float = 1.01, ess_per_chain: float = 100.0, warn: bool = True
) -> Diagnostics:
    """Compute R-hat / ESS on rotation-invariant quantities and count divergences.

    Parameters
    ----------
    fit
        A fit DataTree with ``posterior`` and ``sample_stats`` groups.
    rhat_max, ess_per_chain
        Thresholds: Vehtari et al. (2021) recommend R-hat <= 1.01 and a bulk and
        tail ESS of at least 100 per chain.
    warn
        Emit a :class:`ConvergenceWarning` listing each problem and what to do.
    """
    post = fit["posterior"].to_dataset()
    names = [v for v in INVARIANT_VARS if v in post] + [v for v in post.data_vars if v.startswith("shares_")]
    sub = post[names]
    n_chains, n_draws = post.sizes["chain"], post.sizes["draw"]
    ess_min = ess_per_chain * n_chains
    problems: list[str] = []
    if n_chains > 1 and n_draws >= 4:
        rhat = az.rhat(sub)
        max_rhat = float(max(np.nanmax(rhat[v].values) for v in names))
    else:
        max_rhat = float("nan")
    if n_draws >= 4:
        ess_b = az.ess(sub, method="bulk")
        ess_t = az.ess(sub, method="tail")
        min_b = float(min(np.nanmin(ess_b[v].values) for v in names))
        min_t = float(min(np.nanmin(ess_t[v].values) for v in names))
    else:
        min_b = min_t = float("nan")
    div = 0
    if "sample_stats" in fit.children and "diverging" in fit["sample_stats"]:
        div = int(fit["sample_stats"]["diverging"].sum())
    if max_rhat > rhat_max:
        problems.append(
            f"R-hat {max_rhat:.3f} > {rhat_max}: the chains disagree, so the posterior is not yet explored. "
            "Run more tuning and draws (--tune, --draws) or more chains; if it persists, try fewer factors."
        )
    if min_b < ess_min or min_t < ess_min:
        problems.append(
            f"effective sample size {min(min_b, min_t):.0f} < {ess_min:.0f}: interval ends are noisy. "
            "Increase --draws."
        )
    if div > 0:
        problems.append(
            f"{div} divergent transitions: the sampler missed part of the posterior. "
            "Raise target_accept (e.g. 0.95) in the sampler config, or use fewer factors."
        )
    diag = Diagnostics(max_rhat, min_b, min_t, div, n_chains * n_draws, problems)
    if warn and problems:
        warnings.warn("convergence problems:\n" + "\n".join(problems), ConvergenceWarning, stacklevel=2)
    return diag
