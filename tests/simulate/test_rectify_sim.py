"""A short run of the known-truth simulation (benchmarks/rectify_sim.py runs the long one).

R = 200 replications. Each tolerance is three Monte-Carlo standard errors at that R:
a coverage is a binomial proportion, so its standard error is sqrt(0.9 * 0.1 / 200) = 0.021
and the band is 0.90 +- 0.064; a mean difference's standard error is its replications'
standard deviation over sqrt(R). The simulation is seeded, so the test is deterministic.
"""

from __future__ import annotations

import numpy as np
import pytest

from populace.evaluation.rectify_sim import SimConfig, make_population, run_sim

R = 200
COVERAGE_BAND = 3 * np.sqrt(0.9 * 0.1 / R)


@pytest.fixture(scope="module")
def sim():
    return run_sim(SimConfig(reps=R, seed=123), make_population())


def _mean_and_se(x):
    x = np.asarray(x, dtype=float)
    return x.mean(), x.std(ddof=1) / np.sqrt(len(x))


def test_ppi_covers_at_the_nominal_rate(sim):
    ppi = sim[sim.method == "ppi"]
    overall = ppi[ppi.group == "(all)"].groupby("level").covered.mean()
    assert len(overall) == 3
    assert (abs(overall - 0.9) <= COVERAGE_BAND).all(), overall
    # each region, its three levels together (counted as R, not 3R: they are correlated)
    regions = ppi[ppi.group != "(all)"].groupby("group").covered.mean()
    assert len(regions) == 3
    assert (abs(regions - 0.9) <= COVERAGE_BAND).all(), regions


def test_ppi_is_unbiased_and_narrower_than_human_only(sim):
    overall = sim[sim.group == "(all)"].set_index(["rep", "level", "method"])
    for level in ("agree", "neutral", "disagree"):
        ppi = overall.xs(("ppi", level), level=("method", "level"))
        human = overall.xs(("human_only", level), level=("method", "level"))
        bias, se = _mean_and_se(ppi.estimate - ppi.truth)
        assert abs(bias) <= 3 * se, (level, bias, se)
        gain, se = _mean_and_se(human.width - ppi.width)
        assert gain > 3 * se, (level, gain, se)


def test_llm_only_is_biased_and_misses(sim):
    llm = sim[(sim.group == "(all)") & (sim.method == "llm_only")]
    for level in ("agree", "neutral"):  # the LLM leans to agree, away from neutral
        part = llm[llm.level == level]
        bias, se = _mean_and_se(part.estimate - part.truth)
        assert abs(bias) > 3 * se and abs(bias) > 0.03, (level, bias)
        assert part.covered.mean() < 0.9 - COVERAGE_BAND


def test_persona_spread_is_needed_when_the_persona_posterior_is_wide():
    # A persona posterior from 300 people and 1,000 humans: the persona side dominates the
    # variance. With the draws the overall coverage stays nominal; with the same personas
    # pooled into one draw (their spread ignored) it falls well below (about 0.7 for agree
    # in a trial run), beyond the same three-standard-error band.
    config = SimConfig(reps=R, n_census=300, n_humans=1000, n_personas=2000, seed=7)
    pop = make_population()
    honest = run_sim(config, pop)
    pooled = run_sim(SimConfig(**{**config.__dict__, "pool_draws": True}), pop)
    cover = lambda df: df[(df.method == "ppi") & (df.group == "(all)")].groupby("level").covered.mean()  # noqa: E731
    assert (abs(cover(honest) - 0.9) <= COVERAGE_BAND).all(), cover(honest)
    assert cover(pooled)["agree"] < 0.9 - COVERAGE_BAND, cover(pooled)
