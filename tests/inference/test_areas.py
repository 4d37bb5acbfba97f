"""An attribute with only a national table: its area margins follow each area's composition.

Known truth: P(vote | age) is the same in every area (the MRP assumption holds), and
the areas' age compositions differ, so their vote shares differ. A model that copies
the national vote margin into every area gets every area's share wrong by up to 0.1.
"""

import warnings

import numpy as np
import pytest

from populace.inference import fit, sample_personas
from populace.study.spec import Attribute, Marginal, Microdata, Study
from populace.inference.diagnostics import ConvergenceWarning

pytestmark = pytest.mark.slow

YOUNG = np.array([0.15, 0.3, 0.45, 0.6, 0.75])  # young share per area
P_VOTE_YES = np.array([0.25, 0.65])  # given young, old
ATTRS = (
    Attribute("area", "nominal", tuple("abcde"), role="geography"),
    Attribute("age", "ordinal", ("young", "old")),
    Attribute("vote", "nominal", ("no", "yes")),
)


def _population(rng):
    size = 40_000
    area = np.repeat(np.arange(len(YOUNG)), size)
    old = (rng.random(area.size) >= YOUNG[area]).astype(int)
    vote = (rng.random(area.size) < P_VOTE_YES[old]).astype(int)
    return np.column_stack([area, old, vote])


@pytest.fixture(scope="module")
def areas_fit():
    rng = np.random.default_rng(4)
    pop = _population(rng)
    area_age = np.zeros((len(YOUNG), 2))
    np.add.at(area_age, (pop[:, 0], pop[:, 1]), 1)
    vote = np.bincount(pop[:, 2], minlength=2).astype(float)
    rows = pop[rng.choice(len(pop), 600, replace=False)]
    study = Study(ATTRS, (Marginal(("area", "age"), area_age), Marginal(("vote",), vote)), Microdata(rows, np.ones(600)))
    truth = np.array([pop[pop[:, 0] == g, 2].mean() for g in range(len(YOUNG))])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # short test fits
        f = fit(study, model_config={"factors": 1, "quadrature_nodes": 9}, draws=300, tune=300, chains=2, seed=3, warn=False)
    return f, truth, vote[1] / vote.sum()


def test_area_vote_shares_follow_composition(areas_fit):
    f, truth, national = areas_fit
    ds = sample_personas(f, 20_000, draws=40, seed=1)
    area, vote = ds["area"].values, ds["vote"].values
    per_draw = np.array([[vote[d][area[d] == g].mean() for g in range(len(YOUNG))] for d in range(40)])
    lo, hi = np.quantile(per_draw, [0.0025, 0.9975], axis=0)
    # 5 areas at 99.5 %: all cover with probability >= 0.975 when calibrated.
    assert ((lo <= truth) & (truth <= hi)).all(), (lo.round(3), truth.round(3), hi.round(3))
    # The youngest and the oldest area are told apart, as the truth (0.59 vs 0.35) has it.
    assert hi[-1] < lo[0]
    # A national copy would be off by |national - truth|; the model is far closer everywhere
    # it matters (truth 0.1 away from the national share).
    far = np.abs(truth - national) > 0.08
    assert far.sum() >= 2 and (np.abs(per_draw.mean(axis=0) - truth)[far] < 0.5 * np.abs(truth - national)[far]).all()
