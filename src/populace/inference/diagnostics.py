"""Convergence checks in words a statistician can act on."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr

from populace.errors import PopulaceWarning

__all__ = ["Diagnostics", "check_convergence", "ConvergenceWarning", "reported_quantities", "convergence_table"]

# Rotation-invariant quantities: raw loadings are identified only up to rotation,
# so their R-hat says nothing; these do.
INVARIANT_VARS = ("loading_gram", "log_concentration", "log_census_concentration", "loading_global_scale")
#: Prefixes of the other reported quantities: learned shares, and the area effects (their
#: scales, predictor coefficients and standardised offsets), which set every area's share.
REPORTED_PREFIXES = ("shares_", "area_sd_", "area_coef_", "area_z_")


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
    #: The quantities with the worst R-hat and the smallest ESS (bulk or tail), e.g.
    #: ``"loading_gram[age, age]"``; empty where not computed.
    worst_rhat: str = ""
    worst_ess: str = ""
    #: Draws whose trajectory hit the sampler's maximum tree depth, over all chains.
    max_depth_draws: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_text(self) -> str:
        at_r = f" ({self.worst_rhat})" if self.worst_rhat else ""
        at_e = f" (lowest: {self.worst_ess})" if self.worst_ess else ""
        head = (
            f"R-hat max {self.max_rhat:.3f}{at_r}, ESS bulk min {self.min_ess_bulk:.0f}, "
            f"ESS tail min {self.min_ess_tail:.0f}{at_e}, divergences {self.divergences} of {self.n_samples}"
        )
        return head + ("" if self.ok else "\n" + "\n".join(f"- {p}" for p in self.problems))


def check_convergence(
    fit: xr.DataTree,
    *,
    rhat_max: float = 1.01,
    ess_per_chain: float = 100.0,
    ess_min: float = 400.0,
    max_depth_share: float = 0.01,
    warn: bool = True,
) -> Diagnostics:
    """Compute R-hat / ESS on rotation-invariant quantities, count divergences and draws at
    the sampler's maximum tree depth.

    Parameters
    ----------
    fit
        A fit DataTree with ``posterior`` and ``sample_stats`` groups.
    rhat_max, ess_per_chain, ess_min
        Thresholds: Vehtari et al. (2021) recommend R-hat <= 1.01 and a bulk and
        tail ESS of at least 100 per chain; the ESS must also reach ``ess_min`` (400: the
        90 % interval ends of a reported quantity to about 1 % of coverage).
    max_depth_share
        Draws at the maximum tree depth beyond this share of all draws are a problem
        (default fits take 14-20 leapfrog steps per draw; the limit is 1,023). Stan warns
        at any such draw; a rare one only costs time.
    warn
        Emit a :class:`ConvergenceWarning` listing each problem and what to do.
    """
    sub = reported_quantities(fit)
    names = [str(v) for v in sub.data_vars]
    n_chains, n_draws = sub.sizes["chain"], sub.sizes["draw"]
    ess_min = max(ess_per_chain * n_chains, ess_min)
    problems: list[str] = []
    max_rhat, at_rhat = float("nan"), _NOWHERE
    if n_chains > 1 and n_draws >= 4:
        max_rhat, at_rhat = _extreme(az.rhat(sub), names, largest=True)
    min_b = min_t = float("nan")
    at_ess = _NOWHERE
    if n_draws >= 4:
        min_b, at_b = _extreme(az.ess(sub, method="bulk"), names, largest=False)
        min_t, at_t = _extreme(az.ess(sub, method="tail"), names, largest=False)
        at_ess = at_b if min_b <= min_t else at_t
    worst_rhat, worst_ess = _label(*at_rhat), _label(*at_ess)
    div = 0
    deep = np.zeros(n_chains, dtype=int)
    if "sample_stats" in fit.children:
        stats = fit["sample_stats"]
        if "diverging" in stats:
            div = int(stats["diverging"].sum())
        for name in ("maxdepth_reached", "reached_max_treedepth"):  # nutpie's, PyMC's
            if name in stats:
                deep = stats[name].sum("draw").values.astype(int)
    if max_rhat > rhat_max:
        problems.append(
            f"R-hat {max_rhat:.3f} > {rhat_max} on {worst_rhat} ({_meaning(*at_rhat)}): the chains disagree, "
            "so the posterior is not yet explored. Run more tuning and draws (--tune, --draws) or more chains; "
            "if it persists, try fewer factors."
        )
    if min_b < ess_min or min_t < ess_min:
        problems.append(
            f"effective sample size {min(min_b, min_t):.0f} < {ess_min:.0f} on {worst_ess} ({_meaning(*at_ess)}): "
            "interval ends are noisy. Increase --draws."
        )
    if div > 0:
        problems.append(
            f"{div} divergent transitions: the sampler missed part of the posterior. "
            "Raise target_accept (e.g. 0.95) in the sampler config, or use fewer factors."
        )
    if deep.sum() > max_depth_share * n_chains * n_draws:
        where = ", ".join(f"chain {c}: {k} of {n_draws}" for c, k in enumerate(deep) if k)
        problems.append(
            f"{int(deep.sum())} draws hit the sampler's maximum tree depth ({where}): there the step size "
            "is tiny against the posterior's scale, so a chain that keeps hitting it hardly moves. "
            "Compare the chains' traces; rerun with more tuning (--tune) or another seed; if it persists, "
            "try fewer factors."
        )
    diag = Diagnostics(
        max_rhat, min_b, min_t, div, n_chains * n_draws, problems, worst_rhat, worst_ess, int(deep.sum())
    )
    if warn and problems:
        warnings.warn("convergence problems:\n" + "\n".join(problems), ConvergenceWarning, stacklevel=2)
    return diag


def reported_quantities(fit: xr.DataTree) -> xr.Dataset:
    """The posterior quantities convergence is judged on: the rotation-invariant ones
    (:data:`INVARIANT_VARS`) and those named by :data:`REPORTED_PREFIXES`."""
    post = fit["posterior"].to_dataset()
    names = [v for v in INVARIANT_VARS if v in post] + [
        v for v in post.data_vars if str(v).startswith(REPORTED_PREFIXES) and not str(v).endswith("__")
    ]
    return post[names]


def convergence_table(fit: xr.DataTree) -> pd.DataFrame:
    """Per reported quantity (:func:`reported_quantities`): its number of entries, the
    largest R-hat, the smallest bulk and tail ESS, and where each extreme is; worst R-hat
    first. R-hat is NaN with a single chain."""
    sub = reported_quantities(fit)
    n_chains, n_draws = sub.sizes["chain"], sub.sizes["draw"]
    nan = xr.full_like(sub.isel(chain=0, draw=0), np.nan)
    rhat = az.rhat(sub) if n_chains > 1 and n_draws >= 4 else nan
    bulk = az.ess(sub, method="bulk") if n_draws >= 4 else nan
    tail = az.ess(sub, method="tail") if n_draws >= 4 else nan
    rows = []
    for name in (str(v) for v in sub.data_vars):
        r, at_r = _extreme(rhat, [name], largest=True)
        b, at_b = _extreme(bulk, [name], largest=False)
        t, _ = _extreme(tail, [name], largest=False)
        rows.append(
            {
                "quantity": name,
                "entries": int(np.prod([sub[name].sizes[d] for d in sub[name].dims if d not in ("chain", "draw")])),
                "rhat_max": r,
                "at_rhat_max": _label(*at_r),
                "ess_bulk_min": b,
                "ess_tail_min": t,
                "at_ess_bulk_min": _label(*at_b),
                "meaning": _meaning(name, []),
            }
        )
    return pd.DataFrame(rows).sort_values("rhat_max", ascending=False, na_position="last", kind="stable").reset_index(drop=True)


#: Where no statistic was computed: no variable, no coordinate labels.
_NOWHERE: tuple[str, list[str]] = ("", [])


def _extreme(stat: xr.Dataset, names: list[str], *, largest: bool) -> tuple[float, tuple[str, list[str]]]:
    """The largest (or smallest) value of ``stat`` over ``names`` and where it is: the
    variable and its coordinate labels there (NaN and nowhere where every value is NaN)."""
    best, where = float("nan"), _NOWHERE
    for name in names:
        da = stat[name]
        values = np.asarray(da.values, dtype=float)
        if values.size == 0 or np.isnan(values).all():
            continue
        flat = int(np.nanargmax(values) if largest else np.nanargmin(values))
        value = float(values.reshape(-1)[flat])
        if np.isnan(best) or (value > best if largest else value < best):
            idx = np.unravel_index(flat, values.shape)
            labels = [str(da[d].values[i]) if d in da.coords else str(i) for d, i in zip(da.dims, idx, strict=True)]
            best, where = value, (name, labels)
    return best, where


def _label(name: str, labels: list[str]) -> str:
    """``"name[label, label]"``, or ``name`` alone for a scalar."""
    return name + (f"[{', '.join(labels)}]" if labels else "")


def _meaning(name: str, labels: list[str]) -> str:
    """What the quantity ``name`` at ``labels`` (from :func:`_extreme`) is, in words."""
    if name == "loading_gram" and len(labels) == 2:
        if labels[0] == labels[1]:
            return f"how strongly {labels[0]} depends on the latent factors"
        return f"how {labels[0]} and {labels[1]} depend on each other through the factors"
    if name == "loading_gram":
        return "the dependence of every pair of attributes through the factors"
    if name == "log_concentration":
        return "how closely the joint follows the copula, the Dirichlet layer's concentration"
    if name == "log_census_concentration":
        return "how closely the census cross-tabs follow the copula"
    if name.startswith("shares_"):
        return f"a learned share of {name.removeprefix('shares_')}"
    if name.startswith("area_sd_"):
        return f"how much the areas differ in {name.removeprefix('area_sd_')} beyond their composition"
    if name.startswith("area_coef_"):
        return f"how an area-level predictor moves {name.removeprefix('area_coef_')}"
    if name.startswith("area_z_"):
        where = f" in {labels[0]}" if labels else ""
        return f"the area effect on {name.removeprefix('area_z_')}{where}, standardised"
    if name == "loading_global_scale":
        return "the horseshoe's global scale of the loadings"
    return "a rotation-invariant quantity"
