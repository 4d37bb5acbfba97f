"""Plots for checking a fit and its personas (matplotlib + ArviZ, imported on first use).

Every plot has a companion function that returns its numbers as a pandas DataFrame, so a
figure can always be read as a table too:

==========================  ==========================  ==========================================
plot                        numbers                     what it shows
==========================  ==========================  ==========================================
:func:`plot_margins`        :func:`margin_intervals`    census share vs generated share of every
                                                        level, with a 90 % interval across draws
:func:`plot_crosstab`       :func:`crosstab_intervals`  a cross-tab (or an outcome share by
                                                        group) with intervals across draws
:func:`plot_dependence`     :func:`latent_correlation`  posterior mean and sd of the latent
                                                        correlation matrix
:func:`plot_trace`          :func:`invariant_posterior` rank plots of rotation-invariant quantities
:func:`plot_calibration`    :func:`coverage_table`      nominal vs empirical interval coverage
:func:`plot_shares`         :func:`populace.summarize`  shares by group, sorted, with intervals
==========================  ==========================  ==========================================

Personas are given as the persona Dataset (dims ``draw, persona``) of
:func:`populace.sample_personas` or as its :func:`populace.to_frame` DataFrame (a ``draw``
column plus one column of labels per attribute). Intervals are central quantile intervals
across the draws, so they carry the posterior uncertainty and the finite-population noise of
``n`` personas per draw.

``import populace.plot`` is cheap: matplotlib and ArviZ load when a plot is drawn
(``pip install populace[plot]``).

Modules: ``margins``, ``crosstabs``, ``dependence``, ``trace``, ``calibration``, ``shares`` (one
plot and its numbers each), ``inputs`` (what they all read).
"""

from populace.plot.calibration import coverage_table, plot_calibration
from populace.plot.crosstabs import crosstab_intervals, plot_crosstab
from populace.plot.dependence import latent_correlation, plot_dependence
from populace.plot.inputs import Personas as Personas  # public outside __all__, as before the split
from populace.plot.margins import margin_intervals, plot_margins
from populace.plot.shares import plot_shares
from populace.plot.trace import invariant_posterior, plot_trace

__all__ = [
    "margin_intervals",
    "crosstab_intervals",
    "latent_correlation",
    "invariant_posterior",
    "coverage_table",
    "plot_margins",
    "plot_crosstab",
    "plot_dependence",
    "plot_trace",
    "plot_calibration",
    "plot_shares",
]
