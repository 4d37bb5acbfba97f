"""Rotation-invariant posterior quantities and their ArviZ rank / trace plots:
:func:`invariant_posterior` and :func:`plot_trace`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import xarray as xr

from populace.plot.dependence import latent_correlation, posterior
from populace.plot.inputs import pyplot

if TYPE_CHECKING:  # matplotlib is imported lazily
    from matplotlib.figure import Figure


def invariant_posterior(fit: xr.DataTree | xr.Dataset, *, pairs: int | Sequence[str] | None = 6) -> xr.DataTree:
    """Rotation-invariant posterior quantities, as a DataTree ArviZ can plot.

    The raw loadings are identified only up to a rotation of the factors, so their traces
    and R-hat mean nothing; ``log_concentration`` and the latent correlations do not
    depend on the rotation.

    Parameters
    ----------
    pairs
        Which latent correlations to keep (variable ``latent_correlation``, dim ``pair``
        labelled ``"age ~ educ"``): a number keeps the pairs with the largest absolute
        posterior mean, a list of labels keeps those, ``None`` keeps all.
    """
    post = posterior(fit)
    corr = latent_correlation(post)
    rows = [str(r) for r in corr["loading_row"].values]
    iu, ju = np.triu_indices(len(rows), k=1)
    labels = [f"{rows[i]} ~ {rows[j]}" for i, j in zip(iu, ju, strict=True)]
    vals = corr.values[..., iu, ju]
    da = xr.DataArray(
        vals,
        dims=(*corr.dims[:-2], "pair"),
        coords={**{d: corr[d] for d in corr.dims[:-2]}, "pair": labels},
    )
    if pairs is not None:
        if isinstance(pairs, int):
            strength = np.abs(da.mean([d for d in da.dims if d != "pair"])).values
            keep = [labels[i] for i in np.argsort(-strength, kind="stable")[:pairs]]
        else:
            missing = [p for p in pairs if p not in labels]
            if missing:
                raise KeyError(f"unknown pairs {missing}; pairs look like {labels[:3]}")
            keep = list(pairs)
        da = da.sel(pair=keep)
    data = {"latent_correlation": da}
    if "log_concentration" in post:
        data = {"log_concentration": post["log_concentration"], **data}
    return xr.DataTree.from_dict({"posterior": xr.Dataset(data)})


def plot_trace(
    fit: xr.DataTree | xr.Dataset,
    *,
    pairs: int | Sequence[str] | None = 6,
    kind: str = "rank",
) -> Figure:
    """ArviZ trace or rank plot of rotation-invariant quantities.

    Plots ``log_concentration`` and the latent correlations chosen by ``pairs`` (see
    :func:`invariant_posterior`). ``kind="rank"`` (default) draws ArviZ's
    ``plot_rank_dist`` (marginal density + fractional-rank ECDF per chain: chains that
    explore the same posterior stay inside the envelope); ``kind="trace"`` draws
    ``plot_trace_dist`` (density + trace). Rank plots compare chains, so with a single chain
    the trace plot is drawn instead.
    """
    if kind not in ("rank", "trace"):
        raise ValueError(f"kind must be 'rank' or 'trace', got {kind!r}")
    pyplot()
    import arviz as az

    dt = invariant_posterior(fit, pairs=pairs)
    post = dt["posterior"].to_dataset().rename({"latent_correlation": "corr"})  # shorter panel labels
    dt = xr.DataTree.from_dict({"posterior": post})
    if kind == "rank" and post.sizes.get("chain", 1) < 2:
        kind = "trace"
    panels = sum(int(np.prod([post.sizes[d] for d in v.dims if d not in ("chain", "draw")])) for v in post.data_vars.values())
    figure_kwargs = {"figsize": (10.0, 1.0 + 1.45 * panels)}
    if kind == "rank":
        pc = az.plot_rank_dist(dt, compact=False, backend="matplotlib", figure_kwargs=figure_kwargs)
    else:
        pc = az.plot_trace_dist(dt, compact=False, backend="matplotlib", figure_kwargs=figure_kwargs)
    return pc.viz["figure"].item()
