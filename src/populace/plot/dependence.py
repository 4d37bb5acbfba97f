"""The copula's latent correlation matrix from a fit: :func:`latent_correlation` and its
heatmap :func:`plot_dependence`."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import xarray as xr

from populace.plot.inputs import pyplot

if TYPE_CHECKING:  # matplotlib is imported lazily
    from matplotlib.axes import Axes


# Noise variance of a softmax contrast (level vs reference level): the difference of two
# standard Gumbel errors is standard logistic, variance pi^2 / 3; two contrasts of the same
# attribute share the reference level's error, covariance pi^2 / 6.
_LOGISTIC_VAR = math.pi**2 / 3.0


def posterior(fit: xr.DataTree | xr.Dataset) -> xr.Dataset:
    if isinstance(fit, xr.DataTree):
        return fit["posterior"].to_dataset()
    return fit


def latent_correlation(fit: xr.DataTree | xr.Dataset) -> xr.DataArray:
    """Posterior draws of the latent correlation matrix of the copula.

    Built from the rotation-invariant ``loading_gram`` ``G = Lambda Lambda^T``. A
    threshold attribute (ordinal or 2-level) has a latent normal ``z = lambda . eta + e``
    scaled to unit variance, so ``G_ii`` is its communality and the latent correlation of
    two of them is ``G_ij``. A softmax row (``race=Black``: the utility of a level against
    the reference level) has logistic noise, variance ``pi^2 / 3``, shared at half that
    between contrasts of the same attribute. The covariance ``S = G + noise`` is scaled to
    a correlation matrix ``S_ij / sqrt(S_ii S_jj)``; for two threshold rows this is
    exactly ``G_ij``.

    Parameters
    ----------
    fit
        A fit (DataTree with a ``posterior`` group) or its posterior Dataset.

    Returns
    -------
    xarray.DataArray
        Dims ``(chain, draw, loading_row, loading_row_bis)``; unit diagonal.
    """
    post = posterior(fit)
    if "loading_gram" not in post:
        raise KeyError("the posterior has no 'loading_gram'; is this a populace copula fit?")
    gram = post["loading_gram"]
    rows = [str(r) for r in gram["loading_row"].values]
    noise = np.zeros((len(rows), len(rows)))
    for i, ri in enumerate(rows):
        if "=" not in ri:
            continue
        for j, rj in enumerate(rows):
            if "=" in rj and ri.split("=", 1)[0] == rj.split("=", 1)[0]:
                noise[i, j] = _LOGISTIC_VAR if i == j else _LOGISTIC_VAR / 2.0
    g = gram.transpose(..., "loading_row", "loading_row_bis").values
    threshold = np.array(["=" not in r for r in rows])
    # threshold rows: G_ii + unique variance = 1 by construction
    s = g + noise
    idx = np.flatnonzero(threshold)
    s[..., idx, idx] = 1.0
    diag = np.einsum("...ii->...i", s)
    corr = s / np.sqrt(diag[..., :, None] * diag[..., None, :])
    return xr.DataArray(corr, dims=gram.transpose(..., "loading_row", "loading_row_bis").dims, coords=gram.coords, name="latent_correlation")


def plot_dependence(
    fit: xr.DataTree | xr.Dataset,
    *,
    ax: Axes | None = None,
    cmap: str = "RdBu_r",
) -> Axes:
    """Heatmap of the posterior mean latent correlation, each cell annotated ``mean`` / ``±sd``.

    The matrix is :func:`latent_correlation` (rotation-invariant). Colour is the posterior
    mean on a fixed -1..1 scale; the text gives the mean and the posterior sd, so a strong
    colour with a large sd reads as "not pinned down by the data".
    """
    plt = pyplot()
    corr = latent_correlation(fit)
    sample_dims = [d for d in corr.dims if d not in ("loading_row", "loading_row_bis")]
    mean = corr.mean(sample_dims).values
    sd = corr.std(sample_dims).values
    rows = [str(r) for r in corr["loading_row"].values]
    n = len(rows)
    if ax is None:
        size = 1.0 + 0.85 * n
        _, ax = plt.subplots(figsize=(size + 1.2, size), layout="constrained")
    import matplotlib as mpl

    shown = np.ma.masked_array(mean, mask=np.eye(n, dtype=bool))  # the unit diagonal carries no information
    colormap = mpl.colormaps[cmap].with_extremes(bad="0.85")
    im = ax.imshow(shown, cmap=colormap, vmin=-1, vmax=1)
    for i in range(n):
        for j in range(n):
            if i == j:
                continue
            color = "white" if abs(mean[i, j]) > 0.6 else "black"
            ax.text(j, i, f"{mean[i, j]:.2f}\n±{sd[i, j]:.2f}", ha="center", va="center", fontsize=7, color=color)
    ax.set_xticks(range(n), rows, rotation=45, ha="right")
    ax.set_yticks(range(n), rows)
    ax.figure.colorbar(im, ax=ax, shrink=0.8, label="posterior mean latent correlation")
    ax.set_title("Latent correlation: posterior mean ± sd", fontsize=10)
    return ax
