from __future__ import annotations

import numpy as np
from tests.baselines._toy_study import toy_study

from populace.baselines.latent_class import LatentClassGenerator, fit_latent_class


def test_em_never_decreases_the_penalised_log_likelihood() -> None:
    study, _ = toy_study(n_sample=150)
    fit = fit_latent_class(
        study.microdata.codes,
        study.microdata.weights,
        (3, 2, 4),
        n_classes=3,
        prior=[np.full(L, 0.5) for L in (3, 2, 4)],
        n_init=2,
        rng=np.random.default_rng(0),
    )
    assert len(fit.trace) > 2
    assert np.all(np.diff(fit.trace) >= -1e-9 * abs(fit.trace[-1]))
    np.testing.assert_allclose(fit.pi.sum(), 1.0)
    for th in fit.theta:
        np.testing.assert_allclose(th.sum(axis=1), 1.0)


def test_missing_cells_are_marginalised() -> None:
    study, _ = toy_study()
    micro = study.microdata
    fit = fit_latent_class(micro.codes, micro.weights, (3, 2, 4), n_classes=2, rng=np.random.default_rng(1))
    lp = fit.log_prob(np.array([[0, 1, -1], [0, 1, 0], [0, 1, 1], [0, 1, 2], [0, 1, 3]]))
    np.testing.assert_allclose(np.exp(lp[0]), np.exp(lp[1:]).sum())


def test_raked_population_hits_the_census_and_fills_sampling_zeros() -> None:
    study, pop = toy_study(n_sample=30)
    gen = LatentClassGenerator(n_classes="bic", max_classes=3).fit(study, seed=0)
    assert gen.rake_ is not None and gen.rake_.converged
    ab = study.marginals[3]
    got = np.zeros(ab.counts.shape)
    np.add.at(got, (gen.cells_[:, 0], gen.cells_[:, 1]), gen.cell_weights_)
    np.testing.assert_allclose(got / ab.total, ab.counts / ab.total, atol=1e-8)
    # every cell of the joint has positive mass, unlike a resampled sample
    assert (gen.cell_weights_ > 0).all()
    assert set(gen.bic_) == {1, 2, 3}
