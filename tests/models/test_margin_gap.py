"""The margin solvers stop at an iteration cap: ``margin_gap`` is how a fit and a persona set
learn that one stopped short, and the fit warns."""

import warnings

import numpy as np
import pytest

from populace.errors import SolverWarning
from populace.inference.fit import _audit_margins
from populace.models.backend import NP
from populace.models.copula import MARGIN_GAP_TOL
from tests.inference._area_study import PARAMS, area_model


def test_solved_margins_hit_their_targets():
    assert area_model().margin_gap(PARAMS) < 1e-10


@pytest.mark.parametrize("which", ["national", "area"])
def test_a_margin_off_its_target_is_caught(which):
    """A solve that stopped short leaves a margin off target: move one level's probability at
    every node by 1 % (what an unconverged threshold does) and the gap shows it."""
    model = area_model()
    logps = model.attribute_logps({k: np.asarray(v, float) for k, v in PARAMS.items()}, NP)
    tables = getattr(logps, which)
    j = next(j for j, t in enumerate(tables) if t is not None)
    moved = np.array(tables[j], float)
    moved[..., 0] += np.log(1.01)
    tables[j] = moved
    assert model.margin_gap(PARAMS, logps) > 1e-4


def test_a_fit_records_the_gap_and_warns_beyond_the_tolerance(simulated_fit, monkeypatch):
    assert 0 <= simulated_fit.attrs["populace_margin_gap_max"] <= MARGIN_GAP_TOL
    from populace.inference.fit import model_from_fit

    model = model_from_fit(simulated_fit)
    tree = simulated_fit.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _audit_margins(tree, model)  # converged: silent
    monkeypatch.setattr(type(model), "margin_gap", lambda self, params, logps=None: 1e-3)
    with pytest.warns(SolverWarning, match="iteration cap"):
        _audit_margins(tree, model)
    assert tree.attrs["populace_margin_gap_max"] == 1e-3
