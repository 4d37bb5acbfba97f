"""A geography with no census table: the area shares are learned from the sample, and the
posterior says how well (a NUTS fit)."""

import warnings

import numpy as np
import pytest

from populace.inference import check_convergence, fit, sample_personas
from populace.study.spec import Attribute, Marginal, Microdata, Study
from populace.inference.diagnostics import ConvergenceWarning

pytestmark = pytest.mark.slow

ATTRS = (Attribute("area", "nominal", ("a", "b", "c"), role="geography"), Attribute("age", "ordinal", ("y", "m", "o")))
TRUE_AREA = np.array([0.5, 0.3, 0.2])


def test_area_shares_are_learned_with_binomial_uncertainty():
    """n = 400 simple random rows: each area's population share has a 99.5 % interval that
    holds the truth (Bonferroni over 3 areas), and a posterior sd within 0.7-1.4 times the
    binomial sd sqrt(p (1 - p) / n): the sd of 400 draws is itself uncertain by ~5-10 %
    (ESS), so 1.4 is > 4 of its sd away, while a posterior stuck at the flat prior
    (sd 0.24, 0.21, 0.19) or one ignoring the data's noise would be far outside."""
    rng = np.random.default_rng(7)
    n_pop, n = 100_000, 400
    area = rng.choice(3, size=n_pop, p=TRUE_AREA)
    age = np.array([rng.choice(3, p=np.roll([0.5, 0.3, 0.2], g)) for g in area])
    rows = rng.choice(n_pop, size=n, replace=False)
    census = (Marginal(("age",), np.bincount(age, minlength=3).astype(float)),)
    study = Study(ATTRS, census, Microdata(np.column_stack([area, age])[rows], np.full(n, n_pop / n)), name="areas")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # short test fits
        f = fit(study, model_config={"factors": 1}, draws=200, tune=300, chains=2, seed=3, warn=False)
    d = check_convergence(f, warn=False)
    assert d.max_rhat < 1.05 and d.divergences == 0, d.to_text()
    personas = sample_personas(f, 20_000, draws=400, seed=1)
    share = np.stack([(personas["area"].values == g).mean(axis=1) for g in range(3)], axis=1)  # (draw, area)
    truth = np.bincount(area, minlength=3) / n_pop
    lo, hi = np.quantile(share, [0.0025, 0.9975], axis=0)
    assert np.all((lo <= truth) & (truth <= hi)), (lo, truth, hi)
    ratio = share.std(axis=0) / np.sqrt(truth * (1 - truth) / n)
    assert np.all((0.7 < ratio) & (ratio < 1.4)), ratio
