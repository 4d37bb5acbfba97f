"""The PPI++ estimator against ppi-python (one draw) and the persona term (several draws)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from populace.simulate import rectify
from populace.simulate.ppi import DrawSummary, ppi_mean, summarize_draws

ppi_py = pytest.importorskip("ppi_py")

# Agreement with ppi-python is algebraic (same formulas, floating point only): 1e-12.
EXACT = dict(rtol=0, atol=1e-12)


def _data(seed: int, n: int = 300, N: int = 4000, binary: bool = True):
    rng = np.random.default_rng(seed)
    x, xu = rng.normal(size=n), rng.normal(size=N)
    y = x + rng.normal(size=n)
    f, fu = 0.8 * x + 0.3 + 0.6 * rng.normal(size=n), 0.8 * xu + 0.3 + 0.6 * rng.normal(size=N)
    if binary:
        return (y > 0).astype(float), (f > 0.2).astype(float), (fu > 0.2).astype(float)
    return y, f, fu


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("binary", [True, False])
@pytest.mark.parametrize("lam", [None, 1.0, 0.35, 0.0])
def test_one_draw_matches_ppi_python(seed, binary, lam):
    y, f, fu = _data(seed, binary=binary)
    r = ppi_mean(y, f, summarize_draws(fu, np.zeros(len(fu), int)), lam=lam, alpha=0.1, small_sample=False)
    point = ppi_py.ppi_mean_pointestimate(y, f, fu, lam=lam)
    lo, hi = ppi_py.ppi_mean_ci(y, f, fu, alpha=0.1, lam=lam)
    np.testing.assert_allclose(r.estimate, np.ravel(point)[0], **EXACT)
    np.testing.assert_allclose([r.lo, r.hi], [np.ravel(lo)[0], np.ravel(hi)[0]], **EXACT)
    assert np.isinf(r.df)


def test_tuned_lambda_is_ppi_pythons_and_is_clipped():
    # ppi-python's lambda for the mean (PPI++), recomputed from its formula, and clipped to [0, 1]
    y, f, fu = _data(3)
    r = ppi_mean(y, f, summarize_draws(fu, np.zeros(len(fu), int)))
    n, N = len(y), len(fu)
    cov = np.mean((y - y.mean()) * (f - f.mean()))
    expect = cov / ((1 + n / N) * np.var(np.concatenate([f, fu]), ddof=1))
    np.testing.assert_allclose(r.lam, expect, **EXACT)
    r_neg = ppi_mean(y, 1 - f, summarize_draws(1 - fu, np.zeros(len(fu), int)))  # negative covariance
    assert r_neg.lam == 0.0


def test_weighted_point_estimate_matches_ppi_python():
    # with a fixed lambda ppi-python's weighted estimate is the Hajek one (weights normalised)
    y, f, fu = _data(4)
    w = np.random.default_rng(4).uniform(0.5, 3.0, size=len(y))
    for lam in (1.0, 0.4):
        r = ppi_mean(y, f, summarize_draws(fu, np.zeros(len(fu), int)), weights=w, lam=lam)
        np.testing.assert_allclose(r.estimate, np.ravel(ppi_py.ppi_mean_pointestimate(y, f, fu, lam=lam, w=w))[0], **EXACT)
    # weights of one value change nothing
    a = ppi_mean(y, f, summarize_draws(fu, np.zeros(len(fu), int)))
    b = ppi_mean(y, f, summarize_draws(fu, np.zeros(len(fu), int)), weights=np.full(len(y), 7.0))
    np.testing.assert_allclose([a.estimate, a.lo, a.hi, a.lam], [b.estimate, b.lo, b.hi, b.lam], **EXACT)


def test_rectify_one_draw_matches_ppi_python_per_level():
    rng = np.random.default_rng(5)
    levels = np.array(["a", "b", "c"])
    xu, x = rng.integers(3, size=6000), rng.integers(3, size=250)
    noisy = lambda v: np.where(rng.random(len(v)) < 0.7, v, rng.integers(3, size=len(v)))  # noqa: E731
    personas = pd.DataFrame({"draw": 4, "llm": levels[noisy(xu)]})
    humans = pd.DataFrame({"llm": levels[noisy(x)], "truth": levels[noisy(x)]})
    with pytest.warns(UserWarning, match="one posterior draw"):
        res = rectify(personas, humans, answer="llm", truth="truth", small_sample=False)
    for level in levels:
        y, f, fu = ((frame.to_numpy() == level) * 1.0 for frame in (humans.truth, humans.llm, personas.llm))
        row = res[(res.level == level) & (res.method == "ppi")].iloc[0]
        lo, hi = ppi_py.ppi_mean_ci(y, f, fu, alpha=0.1)
        np.testing.assert_allclose([row.lo90, row.hi90], [np.ravel(lo)[0], np.ravel(hi)[0]], **EXACT)
        np.testing.assert_allclose(row.estimate, np.ravel(ppi_py.ppi_mean_pointestimate(y, f, fu))[0], **EXACT)


def test_small_sample_form_of_the_rectifier():
    # the default: ppi-python's rectifier variance times n / (n - 1), t with n - 1 df (one draw)
    y, f, fu = _data(7, n=40)
    one = summarize_draws(fu, np.zeros(len(fu), int))
    large, small = ppi_mean(y, f, one, lam=0.5, small_sample=False), ppi_mean(y, f, one, lam=0.5)
    n, rect = len(y), np.var(y - 0.5 * f) / len(y)
    np.testing.assert_allclose(small.se**2 - large.se**2, rect / (n - 1), **EXACT)
    np.testing.assert_allclose(small.df, small.se**4 / ((rect * n / (n - 1)) ** 2 / (n - 1)), **EXACT)
    assert small.hi - small.lo > large.hi - large.lo


@pytest.mark.parametrize("lam", [1.0, 0.5])
def test_draw_spread_enters_the_variance(lam):
    # Draws whose means spread widely: V_p = (1 + 1/D) (B - W) + W / D exactly, lambda^2 V_p
    # of it reported as the persona side's share, and the t quantile has Satterthwaite's
    # degrees of freedom; the interval is wider than with the same personas pooled into one draw.
    from scipy import stats

    y, f, fu = _data(6)
    D = 8
    shift = np.linspace(-0.1, 0.1, D)
    means = fu.mean() + shift
    variances, sizes = means * (1 - means), np.full(D, 500.0)
    r = ppi_mean(y, f, DrawSummary(means, variances, sizes), lam=lam)
    within = np.mean(variances / sizes)
    between = (np.var(means, ddof=1) - within) * (1 + 1 / D)
    n = len(y)
    rect = np.var(y - lam * f) / (n - 1)  # ddof = 0 variance over n, times n / (n - 1)
    persona = lam**2 * (between + within / D)
    np.testing.assert_allclose(r.persona_variance, persona, **EXACT)
    np.testing.assert_allclose(r.se**2, persona + rect, **EXACT)
    df = (persona + rect) ** 2 / ((lam**2 * between) ** 2 / (D - 1) + rect**2 / (n - 1))
    np.testing.assert_allclose(r.df, df, **EXACT)
    np.testing.assert_allclose(r.hi - r.estimate, stats.t.ppf(0.95, df) * r.se, **EXACT)
    np.testing.assert_allclose(r.estimate, lam * means.mean() + y.mean() - lam * f.mean(), **EXACT)
    m = means.mean()
    pooled = ppi_mean(y, f, DrawSummary(np.array([m]), np.array([m * (1 - m)]), np.array([sizes.sum()])), lam=lam)
    assert r.hi - r.lo > 1.5 * (pooled.hi - pooled.lo)


def test_tuned_lambda_is_clipped_at_one_and_zero_without_information():
    # An LLM answer that moves a third as much as Y: the unclipped PPI++ lambda is about 3, and
    # lambda > 1 would over-trust it; clipped to 1 it is plain PPI.
    rng = np.random.default_rng(8)
    y = rng.normal(size=400)
    f = y / 3 + 0.01 * rng.normal(size=400)
    fu = rng.normal(size=5000) / 3
    r = ppi_mean(y, f, summarize_draws(fu, np.zeros(len(fu), int)))
    n, N = len(y), len(fu)
    raw = np.mean((y - y.mean()) * (f - f.mean())) / ((1 + n / N) * np.var(np.concatenate([f, fu]), ddof=1))
    assert raw > 2 and r.lam == 1.0
    # An LLM that always gives one answer carries no information: lambda 0, the humans' mean
    const = ppi_mean(y, np.full(n, 0.4), summarize_draws(np.full(N, 0.4), np.zeros(N, int)))
    assert const.lam == 0.0 and const.estimate == pytest.approx(y.mean(), abs=1e-12) and np.isfinite(const.se)
