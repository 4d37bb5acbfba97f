"""The Dirichlet layer as weighted atoms matches Dirichlet(alpha * pi + n) on an enumerable study."""

import numpy as np
import pytest

from populace.inference.atoms import RAKE_TOL, atoms_for_tail, draw_population
from populace.inference.enumerate import joint_shares
from tests.inference._area_study import PARAMS, area_model

REPS = 3000


def _cell_shares(pop, shape):
    flat = np.ravel_multi_index(pop.codes.astype(np.int64).T, shape)
    return np.bincount(flat, weights=pop.weights, minlength=int(np.prod(shape)))


@pytest.fixture(scope="module")
def draws():
    model = area_model()
    pi = joint_shares(model, PARAMS).reshape(-1)
    shape = model.structure.joint_shape
    rng = np.random.default_rng(0)
    p = np.array([_cell_shares(draw_population(model, PARAMS, rng, rake_to_census=False), shape) for _ in range(REPS)])
    s = model.structure
    n = np.zeros(pi.size)
    np.add.at(n, np.ravel_multi_index((s.complete.geo, *s.complete.codes.T), shape), s.complete.counts)
    return p, pi, n, float(np.exp(PARAMS["log_concentration"]))


def test_cell_means_match_the_dirichlet_posterior(draws):
    p, pi, n, alpha = draws
    mean = (alpha * pi + n) / (alpha + n.sum())
    var = mean * (1 - mean) / (alpha + n.sum() + 1)
    z = (p.mean(axis=0) - mean) / np.sqrt(var / REPS)
    # 162 cells: P(max |z| > 4.5) < 162 * 7e-6 under the exact law (CLT over 3000 draws).
    assert np.abs(z).max() < 4.5


def test_cell_variances_match_the_dirichlet_posterior(draws):
    p, pi, n, alpha = draws
    mean = (alpha * pi + n) / (alpha + n.sum())
    var = mean * (1 - mean) / (alpha + n.sum() + 1)
    keep = mean > 0.01  # enough mass for the variance's own Monte-Carlo error to be estimable
    dev = p[:, keep] - p[:, keep].mean(axis=0)
    got = (dev**2).mean(axis=0)
    # se of a sample variance: sqrt((m4 - var^2) / reps), with m4 estimated from the draws.
    se = np.sqrt(((dev**4).mean(axis=0) - got**2) / REPS)
    z = (got - var[keep]) / se
    assert keep.sum() >= 20 and np.abs(z).max() < 4.5


def test_truncation_drops_the_stated_mass():
    model = area_model()
    rng = np.random.default_rng(1)
    alpha = float(np.exp(PARAMS["log_concentration"]))
    tail = 0.05  # large enough to measure
    m = atoms_for_tail(alpha, tail)
    expected = (alpha / (1 + alpha)) ** m
    assert expected <= tail < (alpha / (1 + alpha)) ** (m - 1)
    dropped = np.array([draw_population(model, PARAMS, rng, rake_to_census=False, tail=tail).dropped for _ in range(2000)])
    assert abs(dropped.mean() - expected) < 4.5 * dropped.std() / np.sqrt(len(dropped))


def test_raked_population_reproduces_every_census_table():
    model = area_model()
    pop = draw_population(model, PARAMS, np.random.default_rng(2))
    assert pop.rake.converged
    shape = model.structure.joint_shape
    q = _cell_shares(pop, shape).reshape(shape)
    np.testing.assert_allclose(q.sum(axis=(2, 3, 4)), model.study.marginals[0].counts / 3000, atol=RAKE_TOL)
    np.testing.assert_allclose(q.sum(axis=(1, 3, 4)).T, model.study.marginals[1].counts / 3000, atol=RAKE_TOL)
    np.testing.assert_allclose(q.sum(axis=(0, 1, 2, 4)), model.study.marginals[2].counts / 3000, atol=RAKE_TOL)


def test_census_cells_no_draw_reaches_are_seeded():
    """With alpha = 0.5 a draw holds a handful of atoms; seeds from pi given each thin cell
    leave no census cell unreached, and raking gets within 1e-3 of every table (it may
    converge slowly on so thin a support: 4 seeds per cell)."""
    model = area_model(np.array([[0, 0, 0, 0, 0]] * 5))
    params = dict(PARAMS, log_concentration=np.array(np.log(0.5)))
    for seed in range(4):
        pop = draw_population(model, params, np.random.default_rng(seed))
        assert pop.n_atoms < 30 and pop.rake.unreached == () and pop.rake.max_error < 1e-3


def test_rake_names_a_census_cell_no_record_reaches():
    from populace.inference.ipf import RakingWarning, rake
    from populace.study.spec import Marginal

    m = Marginal(("r", "c"), np.array([[1.0, 1.0], [1.0, 1.0]]), source="t.csv")
    with pytest.warns(RakingWarning, match=r"t.csv: r=y, c=b \(count 1\)"):
        res = rake(np.array([[0, 0], [0, 1], [1, 0]]), np.ones(3), [m], ["r", "c"], max_iter=20, levels=[("x", "y"), ("a", "b")], warn=True)
    assert not res.converged and res.unreached == ("t.csv: r=y, c=b (count 1)",)


@pytest.mark.parametrize("alpha", [1.5, 40.0])
def test_stick_breaking_weights_have_the_dirichlet_process_law(alpha):
    """E[w_k] = a b^(k-1) with a = 1 / (1 + alpha), b = alpha / (1 + alpha); the first m
    weights' squares sum to E = sum_k E[V^2] E[(1 - V)^2]^(k-1), E[V^2] = 2 / ((1 + alpha)
    (2 + alpha)), E[(1 - V)^2] = alpha / (2 + alpha); the mass left is b^m on average.
    z-scores over 20,000 draws (CLT), each below 4.5 (about 1e-5 two-sided per check)."""
    from populace.inference.atoms import stick_breaking

    rng = np.random.default_rng(7)
    m, reps = 8, 20_000
    out = [stick_breaking(rng, alpha, m) for _ in range(reps)]
    w = np.array([o[0] for o in out])
    rest = np.array([o[1] for o in out])
    a, b = 1 / (1 + alpha), alpha / (1 + alpha)
    k = np.arange(m)

    def z(values, expected):
        return (values.mean(axis=0) - expected) / (values.std(axis=0) / np.sqrt(reps))

    assert np.abs(z(w, a * b**k)).max() < 4.5
    e_sq = (2 / ((1 + alpha) * (2 + alpha)) * (alpha / (2 + alpha)) ** k).sum()
    assert abs(z((w**2).sum(axis=1), e_sq)) < 4.5
    assert abs(z(rest, b**m)) < 4.5
    np.testing.assert_allclose(w.sum(axis=1) + rest, 1.0, rtol=1e-12)


def test_completion_keeps_the_observed_values_and_draws_the_rest_from_the_matches():
    """An incomplete pattern is completed from the records that share its observed values,
    in proportion to their weight: every completed row keeps them, and the other
    attributes' shares among the completed rows are those of the weighted matches (z < 4.5,
    binomial se over the completed rows)."""
    from types import SimpleNamespace

    from populace.inference.atoms import _complete
    from populace.inference.sampler import CopulaSampler

    rng = np.random.default_rng(3)
    sampler = CopulaSampler(area_model(), PARAMS)
    codes = sampler.draw(rng, 20_000)
    p0 = rng.dirichlet(np.ones(len(codes)))
    k = 4000
    # internal columns: 0 the area, then age, race, party, faith
    inc = SimpleNamespace(geo=np.array([-1, 1]), codes=np.array([[2, -1, -1, -1], [-1, 0, -1, 1]]), counts=np.array([k, k], float))
    out, n = _complete(rng, sampler, codes, p0, inc)
    assert out.shape == (2 * k, codes.shape[1]) and np.allclose(n, 1.0)
    first, second = out[:k], out[k:]
    assert (first[:, 1] == 2).all()
    assert (second[:, 0] == 1).all() and (second[:, 2] == 0).all() and (second[:, 4] == 1).all()
    for rows, match, col in ((first, codes[:, 1] == 2, 3), (second, (codes[:, 0] == 1) & (codes[:, 2] == 0) & (codes[:, 4] == 1), 1)):
        q = np.bincount(codes[match, col], weights=p0[match], minlength=3) / p0[match].sum()
        got = np.bincount(rows[:, col], minlength=3) / len(rows)
        assert (np.abs(got - q) < 4.5 * np.sqrt(q * (1 - q) / len(rows)) + 1e-12).all(), (got, q)
