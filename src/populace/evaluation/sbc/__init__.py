"""Simulation-based calibration (Talts et al. 2018) of the copula model and its inference.

If parameters are drawn from the prior, data from the model given them, and the
posterior is computed correctly, then the rank of the true value of any quantity among
``L`` independent posterior draws is uniform on ``0 .. L``. A skewed rank histogram
means biased posteriors, a U shape too narrow ones (over-confidence), a hump too wide ones.

Modules: :mod:`~.configs` (what is simulated and ranked), :mod:`~.simulate` (prior
draws and the simulator, with its derivation from the likelihood), :mod:`~.sampler`
(NUTS compiled once per study shape), :mod:`~.ranks` (quantities, ranks, uniformity
test), :mod:`~.run` (the replication loop), :mod:`~.report` and :mod:`~.plots` (outputs).
"""

from populace.evaluation.sbc.configs import AREAS, CONFIGS, PRODUCTION, SMALL, SBCConfig, Share
from populace.evaluation.sbc.ranks import Uniformity, default_bins, quantities, rank_statistic, uniformity_test
from populace.evaluation.sbc.report import summarize, write_sbc
from populace.evaluation.sbc.run import run_sbc, thin_index
from populace.evaluation.sbc.simulate import prior_draws, simulate_study, template_study

__all__ = [
    "CONFIGS",
    "AREAS",
    "PRODUCTION",
    "SMALL",
    "SBCConfig",
    "Share",
    "Uniformity",
    "default_bins",
    "prior_draws",
    "quantities",
    "rank_statistic",
    "run_sbc",
    "simulate_study",
    "summarize",
    "template_study",
    "thin_index",
    "uniformity_test",
    "write_sbc",
]
