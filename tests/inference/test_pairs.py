"""The pair layer: its concentrations' posterior, its targets, and its calibration under its
own model."""

from __future__ import annotations

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from scipy import special, stats

from populace.inference import pairs as P
from populace.models.copula import CopulaModel
from populace.models.dirichlet import dirichlet_multinomial_logp
from tests.inference._area_study import area_study


def _layer(counts: list[np.ndarray], mu: float = 5.0, sd: float = 1.5, tau_sd: float = 1.0) -> P.PairLayer:
    """A layer over made-up pairs (columns are placeholders), with the model's hyperprior."""
    class _Cfg:
        model_config = {"pair_layer": True, "log_concentration_mu": mu, "log_concentration_sd": sd, "pair_tau_sd": tau_sd}

    mu_, tau_ = (g.ravel() for g in np.meshgrid(P._MU_GRID, P._TAU_GRID, indexing="ij"))
    log_prior = -0.5 * ((mu_ - mu) / sd) ** 2 - 0.5 * (tau_ / tau_sd) ** 2
    kernel = np.exp(-0.5 * ((P.LOG_ALPHA_GRID[None, :] - mu_[:, None]) / tau_[:, None]) ** 2)
    kernel /= kernel.sum(axis=1, keepdims=True)
    k = len(counts)
    return P.PairLayer(
        tuple((2 * i + 1, 2 * i + 2) for i in range(k)), tuple((f"a{i}", f"b{i}") for i in range(k)), tuple(counts), log_prior, kernel
    )


def test_dm_loglik_is_the_models_dirichlet_multinomial():
    rng = np.random.default_rng(0)
    pi = rng.dirichlet(np.ones(12))
    n = rng.multinomial(80, pi).astype(float) * 1.3  # Kish-weighted counts
    la, lpi, nn = pt.dscalar(), pt.dvector(), pt.dvector()
    f = pytensor.function([la, lpi, nn], dirichlet_multinomial_logp(la, lpi, nn))
    got = P.dm_loglik(pi, n, np.array([0.5, 4.0, 9.0, 16.0]))
    want = [f(a, np.log(pi), n) for a in (0.5, 4.0, 9.0, 16.0)]
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-8)


def test_concentrations_are_drawn_from_their_exact_posterior():
    """Frequencies of 20,000 draws against the posterior computed by brute force over the
    (mu, tau) grid: every pair's marginal of log alpha, binned in 8 quantile bins, passes a
    chi-square test at 1e-3 (Bonferroni over 3 pairs)."""
    rng = np.random.default_rng(1)
    g = P.LOG_ALPHA_GRID
    loglik = np.stack([-0.5 * ((g - c) / w) ** 2 for c, w in ((4.0, 0.8), (7.0, 2.0), (12.0, 5.0))])
    layer = _layer([np.ones((2, 2))] * 3)
    lik = np.exp(loglik - loglik.max(axis=1, keepdims=True))
    marg = lik @ layer.kernel.T
    hyper = np.exp(layer.log_prior + np.log(marg).sum(axis=0) - (layer.log_prior + np.log(marg).sum(axis=0)).max())
    hyper /= hyper.sum()
    draws = np.array([P.draw_log_alphas(layer, loglik, rng) for _ in range(20_000)])
    for i in range(3):
        # The exact marginal of pair i: sum over (mu, tau) of P(mu, tau) P(la | mu, tau, data_i).
        cond = lik[i][None, :] * layer.kernel
        exact = (hyper[:, None] * cond / cond.sum(axis=1, keepdims=True)).sum(axis=0)
        cdf = np.cumsum(exact)
        edges = np.searchsorted(cdf, np.linspace(0, 1, 9)[1:-1])
        bins = np.concatenate([[0], edges + 1, [len(g)]])
        expected = np.array([exact[a:b].sum() for a, b in zip(bins[:-1], bins[1:], strict=True)]) * len(draws)
        idx = np.searchsorted(g, draws[:, i] - 1e-9)
        observed = np.array([((idx >= a) & (idx < b)).sum() for a, b in zip(bins[:-1], bins[1:], strict=True)])
        assert stats.chisquare(observed, expected).pvalue > 1e-3 / 3, (observed, expected.round())


def _records(pi: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """One record per cell of a 2-way table (columns 1 and 2; column 0 an area) weighted by pi."""
    a, b = np.unravel_index(np.arange(pi.size), shape)
    return np.column_stack([np.zeros(pi.size, int), a, b]), pi.copy()


def test_targets_keep_the_populations_margins():
    rng = np.random.default_rng(2)
    pi = rng.dirichlet(np.ones(12))
    n = rng.multinomial(200, rng.dirichlet(np.ones(12))).reshape(3, 4).astype(float)
    layer = _layer([n])
    layer = P.PairLayer(((1, 2),), (("a", "b"),), (n,), layer.log_prior, layer.kernel)
    codes, w = _records(pi, (3, 4))
    targets, log_alpha = P.pair_targets(layer, codes, w, rng)
    t = targets[0]
    np.testing.assert_allclose(t.sum(axis=1), pi.reshape(3, 4).sum(axis=1), atol=1e-9)
    np.testing.assert_allclose(t.sum(axis=0), pi.reshape(3, 4).sum(axis=0), atol=1e-9)
    assert log_alpha.shape == (1,) and np.isfinite(log_alpha).all()


def test_layer_is_calibrated_under_its_own_model():
    """Simulation-based check of the layer alone: 60 pairs, each a draw from the layer's
    prior (mu, tau, then log alpha, then the table around a known pi) and a sample of 300
    from it; 300 target draws per pair give 90 % intervals of every cell. Under the model the
    coverage is 0.894 (300 draws). A pair's 9 cells carry 4 degrees of freedom, so the 540
    cells are about 240 independent Bernoulli(0.9) events: Monte-Carlo sd 0.02, tolerance
    0.06 (3 sd)."""
    rng = np.random.default_rng(3)
    shape = (3, 3)
    pis, truths, counts = [], [], []
    for _ in range(60):
        mu, tau = rng.normal(5.0, 1.5), abs(rng.normal(0.0, 1.0))
        pi = rng.dirichlet(np.full(9, 3.0))
        p = rng.dirichlet(np.exp(rng.normal(mu, tau)) * pi)
        pis.append(pi)
        truths.append(p)
        counts.append(rng.multinomial(300, p).reshape(shape).astype(float))
    layer = _layer(counts)
    covered = []
    for i, (pi, p) in enumerate(zip(pis, truths, strict=True)):
        one = P.PairLayer(((1, 2),), (("a", "b"),), (counts[i],), layer.log_prior, layer.kernel)
        codes, w = _records(pi, shape)
        # The layer's own prior is a hierarchy over pairs; one pair at a time keeps its
        # likelihood only, with the hyperprior standing in for the others (still exact).
        draws = np.array([P.pair_targets(one, codes, w, rng)[0][0].ravel() for _ in range(300)])
        # The truth's margins differ from pi's; the layer keeps the population's margins, so
        # compare the truth's association: the truth raked to pi's margins.
        truth = P._fit_margins(p.reshape(shape), pi.reshape(shape)).ravel()
        lo, hi = np.quantile(draws, [0.05, 0.95], axis=0)
        covered.append((lo <= truth) & (truth <= hi))
    assert abs(np.concatenate(covered).mean() - 0.894) < 0.06, np.concatenate(covered).mean()


def test_free_pairs_leave_out_the_area_and_census_tables():
    model = CopulaModel(area_study(), model_config={"factors": 1})
    names = model.structure.names
    got = {(names[a - 1], names[b - 1]) for a, b in P.free_pairs(model)}
    # The census crosses area x age and area x race (and party alone): every pair of the
    # four attributes is free, the area is never in one.
    assert got == {("age", "race"), ("age", "party"), ("age", "faith"), ("race", "party"), ("race", "faith"), ("party", "faith")}


def test_misfit_pulls_towards_the_sample_and_fit_does_not():
    """Four 5 x 5 tables of 2,000 rows: one sampled far from pi drives its log alpha below
    log(n), three sampled from pi itself keep theirs above: the layer widens only where the
    copula misfits. (A 2 x 2 table carries too little about alpha to tell either way.)"""
    rng = np.random.default_rng(4)
    pi = rng.dirichlet(np.full(25, 5.0))
    far = rng.dirichlet(np.full(25, 5.0))
    counts = [rng.multinomial(2000, q).reshape(5, 5).astype(float) for q in (far, pi, pi, pi)]
    layer = _layer(counts)
    loglik = np.stack([P.dm_loglik(pi, c.ravel()) for c in counts])
    draws = np.array([P.draw_log_alphas(layer, loglik, rng) for _ in range(400)])
    median = np.median(draws, axis=0)
    assert median[0] < np.log(2000) < median[1:].min(), median
