"""Area effects: an attribute with no area table gets honest area shares.

Known truth: 12 areas whose vote shares differ beyond their age composition, by probit
offsets drawn from N(0, 0.4^2); the census gives area x age and the national vote only.
A sample of 600 rows reaches 10 areas; 2 have no row. Composition alone (the model before
area effects) cannot see the offsets: its intervals miss most areas. With partially pooled
offsets, each area's 90 % interval covers its share with probability 0.9 if calibrated.
"""

import warnings

import numpy as np
import pytest
from scipy import stats

from populace.inference import fit, sample_personas
from populace.study.spec import Attribute, Marginal, Microdata, Study
from populace.inference.diagnostics import ConvergenceWarning

pytestmark = pytest.mark.slow

N_AREAS = 12
EMPTY = (3, 8)  # areas with no sample row
ATTRS = (
    Attribute("area", "nominal", tuple(f"a{g}" for g in range(N_AREAS)), role="geography"),
    Attribute("age", "ordinal", ("young", "old")),
    Attribute("vote", "nominal", ("no", "yes")),
)
DRAWS = 200


def _population(rng: np.random.Generator) -> np.ndarray:
    size = 5_000
    area = np.repeat(np.arange(N_AREAS), size)
    young = np.linspace(0.2, 0.7, N_AREAS)
    old = (rng.random(area.size) >= young[area]).astype(int)
    offset = rng.normal(0.0, 0.4, N_AREAS)
    vote = (rng.normal(size=area.size) < -0.2 + 0.6 * old + offset[area]).astype(int)
    return np.column_stack([area, old, vote])


def _study(pop: np.ndarray, rng: np.random.Generator) -> Study:
    area_age = np.zeros((N_AREAS, 2))
    np.add.at(area_age, (pop[:, 0], pop[:, 1]), 1)
    vote = np.bincount(pop[:, 2], minlength=2).astype(float)
    pool = np.flatnonzero(~np.isin(pop[:, 0], EMPTY))
    rows = pop[rng.choice(pool, 600, replace=False)]
    return Study(ATTRS, (Marginal(("area", "age"), area_age), Marginal(("vote",), vote)), Microdata(rows, np.ones(len(rows))))


def _area_intervals(study: Study, area_effects: bool) -> np.ndarray:
    """(draws, areas) vote shares of the personas."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # short test fits
        f = fit(
            study,
            # No Dirichlet or pair layer: with 600 rows over 288 joint cells the sample's
            # repeats let the Dirichlet layer put most mass on the rows themselves, whose
            # noise would widen every area's interval; here the area effects alone are tested.
            model_config={"factors": 1, "quadrature_nodes": 9, "area_effects": area_effects, "dirichlet": False, "pair_layer": False},
            draws=500,
            tune=300,
            seed=5,
            warn=False,
        )
    ds = sample_personas(f, 24_000, draws=DRAWS, seed=6)
    area, vote = ds["area"].values, ds["vote"].values
    return np.array([[vote[d][area[d] == g].mean() for g in range(N_AREAS)] for d in range(DRAWS)])


@pytest.fixture(scope="module")
def truth_and_study():
    rng = np.random.default_rng(11)
    pop = _population(rng)
    truth = np.array([pop[pop[:, 0] == g, 2].mean() for g in range(N_AREAS)])
    return truth, _study(pop, rng)


#: Fewest of 12 areas a calibrated 90 % interval may miss the truth in and still pass:
#: covering <= 7 of 12 has binomial probability 0.004 when each covers with 0.9.
LEAST_COVERED = 8


def test_least_covered_is_a_rare_event_for_a_calibrated_model():
    assert stats.binom.cdf(LEAST_COVERED - 1, N_AREAS, 0.9) < 0.005


def test_area_shares_are_covered_and_empty_areas_are_wider(truth_and_study):
    truth, study = truth_and_study
    per = _area_intervals(study, area_effects=True)
    lo, hi = np.quantile(per, [0.05, 0.95], axis=0)
    covered = (lo <= truth) & (truth <= hi)
    assert covered.sum() >= LEAST_COVERED, (lo.round(3), truth.round(3), hi.round(3))
    # An area no sample row reaches is told only by its composition and the spread of
    # the areas' offsets: its interval is wider than those of areas with rows.
    width = hi - lo
    seen = np.setdiff1d(np.arange(N_AREAS), EMPTY)
    assert width[list(EMPTY)].min() > np.median(width[seen]), width.round(3)


def test_composition_alone_misses_the_areas(truth_and_study):
    """The negative control: the same check fails without area effects."""
    truth, study = truth_and_study
    per = _area_intervals(study, area_effects=False)
    lo, hi = np.quantile(per, [0.05, 0.95], axis=0)
    assert ((lo <= truth) & (truth <= hi)).sum() < LEAST_COVERED
