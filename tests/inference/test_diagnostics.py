import numpy as np
import pytest
import xarray as xr

from populace.inference import ConvergenceWarning, check_convergence


def _tree(shift: float, diverging: int) -> xr.DataTree:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 500))
    x[1] += shift  # chain 1 elsewhere
    post = xr.Dataset({"log_concentration": (("chain", "draw"), x)})
    div = np.zeros((2, 500), bool)
    div[0, :diverging] = True
    stats = xr.Dataset({"diverging": (("chain", "draw"), div)})
    return xr.DataTree.from_dict({"posterior": post, "sample_stats": stats})


def test_healthy_chains_pass():
    d = check_convergence(_tree(0.0, 0), warn=False)
    assert d.ok and d.max_rhat < 1.01 and d.divergences == 0


def test_disagreeing_chains_and_divergences_are_explained():
    with pytest.warns(ConvergenceWarning, match="chains disagree"):
        d = check_convergence(_tree(3.0, 7))
    assert d.divergences == 7
    text = d.to_text()
    assert "R-hat" in text and "divergent" in text and "--draws" in text
