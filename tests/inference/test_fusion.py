"""Two surveys that never ask the same attitude: the pair no row observes gets wider intervals.

The simulated population has party and church strongly related. Survey A asks age, sex and
party, survey B (other people) age, sex and church. Fitted as two sources, the model learns
party x church from its structure alone; fitted on the same people asked everything, the
sample shows the pair. The fused intervals of party x church must be wider, beyond the
Monte-Carlo error of the widths (a bootstrap over the draws), while the pairs each survey
observes keep intervals of the same order.
"""

import warnings

import numpy as np
import pytest

from populace.inference import fit, sample_personas
from populace.inference.diagnostics import ConvergenceWarning
from populace.study.spec import Microdata, Source, Study
from tests.simulated import CONFIG, simulated_study

pytestmark = pytest.mark.slow

DRAWS = 60


def _widths(shares: np.ndarray, rng: np.random.Generator, reps: int = 300) -> tuple[float, np.ndarray]:
    """Mean 90 % interval width over cells, and its bootstrap replicates over draws."""
    def width(q: np.ndarray) -> float:
        lo, hi = np.quantile(q, [0.05, 0.95], axis=0)
        return float((hi - lo).mean())

    boot = np.array([width(shares[rng.integers(0, len(shares), len(shares))]) for _ in range(reps)])
    return width(shares), boot


def _pair_shares(ds, a: str, b: str, la: int, lb: int) -> np.ndarray:
    x, y = ds[a].values, ds[b].values
    return np.stack([np.bincount(x[d] * lb + y[d], minlength=la * lb) / x.shape[1] for d in range(x.shape[0])])


@pytest.fixture(scope="module")
def fits():
    study, _ = simulated_study(n_sample=800, seed=2)
    codes = study.microdata.codes
    fused_codes = codes.copy()
    fused_codes[:400, 3] = -1  # A did not ask church
    fused_codes[400:, 2] = -1  # B did not ask party
    sources = (Source("A", ("age", "sex", "party"), 400), Source("B", ("age", "sex", "church"), 400))
    fused = Study(study.attributes, study.marginals, Microdata(fused_codes, study.microdata.weights, sources=sources), name="fused")
    out = {}
    for label, s in (("fused", fused), ("one", study)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # short test fits
            f = fit(s, model_config=CONFIG, draws=300, tune=300, chains=2, seed=5, warn=False)
        out[label] = sample_personas(f, 20_000, draws=DRAWS, seed=1)
    return out


def test_the_pair_no_survey_observes_has_wider_intervals(fits):
    rng = np.random.default_rng(0)
    w_fused, b_fused = _widths(_pair_shares(fits["fused"], "party", "church", 3, 3), rng)
    w_one, b_one = _widths(_pair_shares(fits["one"], "party", "church", 3, 3), rng)
    log_ratio = np.log(b_fused) - np.log(b_one)
    # Three bootstrap standard errors above zero: a model that treats the fused rows as one
    # survey observing the pair, or narrows unobserved pairs, fails this.
    assert np.log(w_fused / w_one) > 3 * log_ratio.std(), (w_fused, w_one, log_ratio.std())


def test_pairs_each_survey_observes_keep_comparable_intervals(fits):
    # age x party is observed by A (400 rows) in the fused study and by 800 rows in the other:
    # wider by about sqrt(2) at most, far from the unobserved pair's widening.
    rng = np.random.default_rng(1)
    w_fused, b_fused = _widths(_pair_shares(fits["fused"], "age", "party", 3, 3), rng)
    w_one, b_one = _widths(_pair_shares(fits["one"], "age", "party", 3, 3), rng)
    sd = (np.log(b_fused) - np.log(b_one)).std()
    assert np.log(w_fused / w_one) < np.log(2.0) + 3 * sd, (w_fused, w_one, sd)
