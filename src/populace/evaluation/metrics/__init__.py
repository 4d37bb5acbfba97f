"""How right a synthetic persona population is, measured against the true population.

Notation: P is the population (N rows), S the microdata sample the generator saw, and the
personas come in D draws (posterior draws, or one draw for point generators). For a table
over attributes ``T`` with cells ``c`` (the full Cartesian product of their levels, empty
cells included), ``p_c`` is the population share and ``q_c`` the synthetic share. By
default the draws are **pooled**: every draw gets equal weight, so
``q_c = (1/D) sum_d q_{d,c}``. With ``per_draw=True`` every point metric is computed on
each draw separately and averaged over draws.

Metrics (``score`` returns all of them)
---------------------------------------
``srmse{k}`` (k = 1, 2, 3)
    Standardised root mean squared error of each k-way table,
    ``SRMSE_T = sqrt(mean_c (q_c - p_c)^2) / mean_c p_c`` (``mean_c p_c = 1 / C_T``),
    averaged over all k-way tables of the attributes.
``tvd_joint``, ``tvd3``
    Total variation distance ``0.5 * sum_c |q_c - p_c|`` on the full joint, and its mean
    over all 3-way tables.
``sz_recall_joint``, ``sz_recall_3way``
    Sampling-zero recall. Let ``Z`` be the cells absent from the sample (no complete row
    of S falls in them). Recall ``= sum_{c in Z, q_c > 0} p_c / sum_{c in Z} p_c``: of the
    population mass in combinations the sample lacks, the share the generator produces
    at all. The 3-way version computes it per 3-way table (rows of S complete on those
    three attributes) and averages over the tables with unseen mass. ``unseen_mass`` is
    ``sum_{c in Z} p_c`` on the joint.
``false_combo``, ``false_3way``
    Synthetic mass on cells that never occur in P: ``sum_{c: p_c = 0} q_c`` on the joint,
    and its mean over 3-way tables.
``cov90``, ``width90``, ``cov_cells``
    Over all cells of all 2-way tables with ``p_c >= min_share`` (0.001), with
    ``[lo_c, hi_c]`` the central ``interval`` (90 %) quantile interval of ``q_{d,c}``
    across draws (numpy's linear quantiles): ``cov90`` = share of cells with
    ``lo_c <= p_c <= hi_c``, ``width90`` = mean ``hi_c - lo_c``, ``cov_cells`` = number of
    cells. NaN with fewer than two draws.
``cov90_free2``, ``area_cov90``, ``group_cov90``
    Coverage where the census does not pin the answer (census cells are raked to, so
    they cover by construction): the cells of 2-way tables that no census table holds,
    the shares of each attribute without an area table inside each area, and outcome
    shares inside groups; per table, attribute, area and group
    (:mod:`~populace.evaluation.metrics.intervals`).
``srmse2_by_table``, ``srmse2_independence``
    SRMSE of every 2-way table, keyed ``"a×b"``, and what the product of P's own 1-D
    margins scores on it, so each table can be compared to the independence yardstick.
``down[...]``
    Downstream outcome-share errors, see :func:`downstream_error`.

Everything works on integer level codes; tables are counted with ``np.bincount`` over
raveled multi-indices, and the joint with ``np.unique`` over raveled keys (sparse), so
scoring a 14,000-row population against 20 draws takes well under a second.

Modules
-------
``scores`` :func:`score`; ``codes`` persona sets and populations as level codes;
``distances`` SRMSE and TVD; ``coverage`` interval coverage across draws; ``intervals``
coverage where the census does not pin the answer; ``downstream``
outcome shares by group; ``reference`` the population summaries a score reuses;
``cells`` counting codes over table cells.
"""

from populace.evaluation.metrics.cells import Table as Table  # public outside __all__, as before the split
from populace.evaluation.metrics.codes import Personas, persona_codes, population_codes
from populace.evaluation.metrics.coverage import calibrated_coverage, interval_coverage
from populace.evaluation.metrics.distances import srmse, tvd
from populace.evaluation.metrics.downstream import Downstream, downstream_error
from populace.evaluation.metrics.intervals import interval_metrics
from populace.evaluation.metrics.scores import score

__all__ = [
    "Downstream",
    "Personas",
    "score",
    "srmse",
    "tvd",
    "downstream_error",
    "interval_coverage",
    "interval_metrics",
    "calibrated_coverage",
    "persona_codes",
    "population_codes",
]
