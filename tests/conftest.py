"""Shared fixtures: one NUTS fit of a simulated study, reused by every test that needs a fit."""

from __future__ import annotations

import os
import warnings

import pytest

from populace.inference.diagnostics import ConvergenceWarning

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


@pytest.fixture(scope="session")
def simulated():
    from tests.simulated import simulated_study

    return simulated_study()


@pytest.fixture(scope="session")
def simulated_fit(simulated):
    """NUTS fit of the simulated study with the true K = 1 (about a minute with a cold compile cache)."""
    from populace.inference import fit

    from tests.simulated import CONFIG

    study, _ = simulated
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # short test fits
        return fit(study, model_config=CONFIG, draws=400, tune=400, chains=2, seed=11, warn=False)
