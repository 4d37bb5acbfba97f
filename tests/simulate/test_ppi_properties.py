"""Statistical properties of the weighted PPI++ estimator that no single-formula comparison
with ppi-python checks: the weighted variance is right over repeated samples, and the tuned
lambda minimises the variance the weights imply."""

from __future__ import annotations

import numpy as np

from populace.simulate.ppi import DrawSummary, ppi_mean, summarize_draws

REPS = 2000


def _population(rng: np.random.Generator, size: int = 50_000):
    """A stratum with 4x the selection probability and a higher share of Y = 1."""
    stratum = rng.random(size) < 0.3
    y = (rng.random(size) < np.where(stratum, 0.7, 0.35)).astype(float)
    f = np.where(rng.random(size) < 0.8, y, 1 - y)  # an LLM answer right 80 % of the time
    return stratum, y, f


def test_weighted_variance_matches_the_spread_over_repeated_samples():
    """Humans drawn with probability proportional to 4 (stratum) or 1, weighted by the inverse;
    lambda = 0 makes the estimate the Hajek mean, whose linearised variance is
    sum w_i^2 (y_i - ybar)^2 / (sum w_i)^2. Over 2000 samples the mean reported variance
    matches the estimates' variance: the ratio's Monte-Carlo se is about
    sqrt(2 / 2000) = 0.032, so |ratio - 1| < 0.15 (4.5 se). The weights have E[w^2] / E[w]^2
    of about 1.4, so a variance with w in place of w^2 is about 30 % low."""
    rng = np.random.default_rng(0)
    stratum, y, f = _population(rng)
    p = np.where(stratum, 4.0, 1.0)
    p /= p.sum()
    personas = summarize_draws(f[:5000], np.zeros(5000, int))
    est, var = np.empty(REPS), np.empty(REPS)
    for r in range(REPS):
        idx = rng.choice(len(y), size=300, p=p)
        out = ppi_mean(y[idx], f[idx], personas, weights=1.0 / p[idx], lam=0.0, small_sample=False)
        est[r], var[r] = out.estimate, out.se**2
    ratio = var.mean() / est.var(ddof=1)
    assert abs(ratio - 1) < 0.15, ratio
    assert abs(est.mean() - y.mean()) < 4.5 * est.std() / np.sqrt(REPS)


def test_tuned_lambda_minimises_the_weighted_variance():
    """lambda = C / (v + n_eff V_p) minimises V(lambda) = lambda^2 V_p + V_r(lambda) when the
    weights are independent of the answers: V_r's weighted sums are then n_eff-scaled versions
    of the unweighted ones. With Kish n_eff = n / 3.9 here and n_eff V_p about the variance
    of f, using n instead of n_eff moves lambda from 0.31 to 0.12 and the variance 7 % above
    its minimum. The tolerance, 2 % of the minimum, allows for that approximation at n = 400
    (the weights' sampling correlation with the answers is O(1 / sqrt(n)); 0.3-0.5 % over
    three seeds)."""
    rng = np.random.default_rng(1)
    n = 400
    x = rng.normal(size=n)
    y = x + rng.normal(size=n)
    f = 0.9 * x + 0.5 * rng.normal(size=n)
    w = np.where(rng.random(n) < 0.1, 15.0, 1.0)  # Kish n_eff about n / 3.9
    d = 10
    means = 0.1 * rng.normal(size=d)  # the persona posterior's spread: V_p about 0.01
    personas = DrawSummary(means, np.full(d, 1.0), np.full(d, 2000.0))
    tuned = ppi_mean(y, f, personas, weights=w)
    grid = [ppi_mean(y, f, personas, weights=w, lam=lam).se ** 2 for lam in np.linspace(0, 1, 201)]
    assert 0 < tuned.lam < 1
    assert tuned.se**2 <= min(grid) * 1.02, (tuned.lam, tuned.se**2, min(grid))
