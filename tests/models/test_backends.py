"""PyTensor's JAX backend (the kernels of ``models.solve_jax``) gives the numba kernels'
log density and gradient, so ``sampler_config["backend"]`` changes the speed of a fit,
not its model."""

import numpy as np
import pytest
from scipy import special

from populace.models import solve, solve_jax
from populace.models.copula import CopulaModel
from tests.models.test_gradient import _study


@pytest.fixture(scope="module", autouse=True)
def _jax():
    from populace.inference.nutpie_chains import _start_jax

    _start_jax()


def _shares(rng, j_n, g_n, l_n, n_levels):
    """Random shares per (attribute, area) with a near-empty level in each, padded past
    ``n_levels[j]``."""
    out = np.zeros((j_n, g_n, l_n))
    for j, n in enumerate(n_levels):
        s = rng.dirichlet(np.ones(n), size=g_n)
        s[:, rng.integers(0, n)] = 1e-9
        out[j, :, :n] = s / s.sum(axis=1, keepdims=True)
    return out


def _both_thresholds(rng, shares, n_levels, q_n, weight_concentration):
    """The numba and JAX threshold kernels on ``shares`` (random loading terms and weights),
    after checking that their probabilities agree (see the next test's docstring)."""
    cum = np.clip(np.cumsum(shares, axis=-1)[:, :, :-1], 1e-12, 1 - 1e-12)
    m = rng.normal(0.0, 1.2, (len(n_levels), q_n))
    log_w = np.log(rng.dirichlet(np.full(q_n, weight_concentration)))
    n_thr = np.array(n_levels, np.int64) - 1
    ref = solve.thresholds_forward(m, special.ndtri(cum), cum, n_thr, log_w)
    got = solve_jax.thresholds_forward(m, special.ndtri(cum), cum, n_thr, log_w)
    np.testing.assert_allclose(np.asarray(got[1]), ref[1], rtol=0, atol=5e-12)
    big = ref[1] > 1e-3
    np.testing.assert_allclose(np.asarray(got[0])[big], ref[0][big], rtol=0, atol=5e-9)
    return ref, got, n_thr, log_w


def test_jax_threshold_kernels_equal_the_numba_ones():
    """Forward and backward (vector-Jacobian product) agree with padding thresholds and
    near-empty levels. Both solve each tail to 1e-12 of itself, so a level's probability
    differs by at most 2e-12 between them (atol 5e-12), and its log by at most that over
    the probability (checked where it exceeds 1e-3: 5e-9). A near-empty level's log moves
    more, by rounding alone: it is a difference of two close tails. The backward kernels
    get the same forward arrays, so they differ by rounding only (1e-9)."""
    rng = np.random.default_rng(0)
    n_levels = [5, 3, 4]
    ref, got, n_thr, log_w = _both_thresholds(rng, _shares(rng, 3, 4, 5, n_levels), n_levels, 9, 1.0)
    pad = np.arange(ref[0].shape[-1])[None, :] >= np.array(n_levels)[:, None]  # (J, L): past each attribute's levels
    pad = np.broadcast_to(pad[:, None, None, :], ref[0].shape)
    assert pad.any()
    for logp in (ref[0], np.asarray(got[0])):
        assert (logp[pad] == solve.LOG_FLOOR).all()
    g, g_t = rng.normal(size=ref[0].shape), rng.normal(size=ref[3].shape)
    np.testing.assert_allclose(np.asarray(got[3]), np.where(ref[2].any(axis=2), ref[3], 0.0), rtol=0, atol=1e-9)
    for a, b in zip(solve.thresholds_backward(ref[1], ref[2], n_thr, log_w, g, g_t),
                    solve_jax.thresholds_backward(ref[1], ref[2], n_thr, log_w, g, g_t), strict=True):  # fmt: skip
        np.testing.assert_allclose(np.asarray(b), a, rtol=1e-9, atol=1e-9 * np.abs(a).max())


def test_jax_thresholds_gather_their_last_few_equations():
    """60 areas, two of them with an empty level (a target of 1e-12, which takes two passes
    more than the rest): after the full passes the JAX loop solves the few unfinished
    thresholds gathered, and scatters them back. Same bounds as above against numba."""
    rng = np.random.default_rng(3)
    n_levels = [5, 3, 4]
    shares = np.zeros((3, 60, 5))
    for j, n in enumerate(n_levels):
        shares[j, :, :n] = rng.dirichlet(np.full(n, 5.0), size=60)
    shares[0, 7, 0] = shares[2, 31, 3] = 0.0
    shares /= shares.sum(axis=-1, keepdims=True)
    ref, got, n_thr, _ = _both_thresholds(rng, shares, n_levels, 27, 5.0)
    real = np.broadcast_to(np.arange(4)[None, None, None, :] < n_thr[:, None, None, None], ref[2].shape)
    np.testing.assert_allclose(np.asarray(got[2])[real], ref[2][real], rtol=1e-9)


def test_jax_thresholds_converge_where_the_margin_is_flat():
    """The case of ``test_solve.test_thresholds_converge_far_out_and_where_the_margin_is_flat``
    (nodes many sd apart, near-empty levels): the JAX loop, bracketed like the numba
    kernel, meets every margin (each tail summed from the emitted probabilities: to 1e-9
    of itself, plus 1e-15 of rounding) and so the numba kernel's probabilities (each
    tail to 1e-12 of itself: atol 5e-12)."""
    from populace.models.quadrature import factor_nodes

    rng = np.random.default_rng(1)
    nodes, log_w = factor_nodes(3, "gauss-hermite", 3)
    m = np.ascontiguousarray(rng.normal(0.0, 6.0, (4, 3)) @ nodes.T)
    shares = rng.dirichlet(np.full(5, 0.3), size=(4, 200))
    cum = np.ascontiguousarray(np.clip(np.cumsum(shares, axis=-1)[..., :-1], 1e-12, 1 - 1e-12))
    n_thr = np.full(4, 4, dtype=np.int64)
    ref = solve.thresholds_forward(m, special.ndtri(cum), cum, n_thr, log_w)
    got = solve_jax.thresholds_forward(m, special.ndtri(cum), cum, n_thr, log_w)
    prob = np.asarray(got[1])
    margin = np.einsum("jgql,q->jgl", prob, np.exp(log_w))
    lower, upper = np.cumsum(margin, -1)[..., :-1], np.cumsum(margin[..., ::-1], -1)[..., ::-1][..., 1:]
    err = np.where(cum > 0.5, np.abs(upper - (1 - cum)), np.abs(lower - cum))
    assert (err <= 1e-9 * np.minimum(cum, 1 - cum) + 1e-15).all()
    np.testing.assert_allclose(prob, ref[1], rtol=0, atol=5e-12)


def test_jax_softmax_kernels_equal_the_numba_ones():
    """As for the thresholds: intercepts solved to 1e-12 per share on both sides, so the
    probabilities agree to 5e-12 and the logs of those above 1e-3 to 5e-9. The backward
    kernels solve with the margin Hessian (by Cholesky in both, rounding in another order),
    whose condition number a near-empty level makes large: they differ by rounding times it
    (bound: 100 cond eps of the largest entry)."""
    rng = np.random.default_rng(1)
    q_n, l_n = 9, 4
    eta_b = np.column_stack([np.zeros(q_n), rng.normal(0.0, 1.5, (q_n, l_n - 1))])
    log_target = np.log(_shares(rng, 1, 5, l_n, [l_n])[0])
    log_w = np.log(rng.dirichlet(np.ones(q_n)))
    logp, prob, _ = solve.softmax_forward(eta_b, log_target, log_w)
    got = solve_jax.softmax_forward(eta_b, log_target, log_w)
    np.testing.assert_allclose(np.asarray(got[1]), prob, rtol=0, atol=5e-12)
    np.testing.assert_allclose(np.asarray(got[0])[prob > 1e-3], logp[prob > 1e-3], rtol=0, atol=5e-9)
    g = rng.normal(size=logp.shape)
    w = np.exp(log_w)
    cond = max(np.linalg.cond(np.diag(w @ p[:, 1:]) - np.einsum("q,qa,qb->ab", w, p[:, 1:], p[:, 1:])) for p in prob)
    for a, b in zip(solve.softmax_backward(prob, log_target, log_w, g),
                    solve_jax.softmax_backward(prob, log_target, log_w, g), strict=True):  # fmt: skip
        np.testing.assert_allclose(np.asarray(b), a, rtol=0, atol=100 * cond * 2.2e-16 * np.abs(a).max())


@pytest.mark.parametrize(
    "config",
    [{"factors": 2}, {"factors": 2, "dirichlet": False}, {"factors": 2, "census_dirichlet": False}],
    ids=["default", "no_dirichlet", "multinomial_census"],
)
def test_jax_log_density_and_gradient_equal_the_numba_kernels(config):
    """The whole model (areas, a softmax attribute, incomplete rows, a free margin, a census
    cross-tab) as the sampler compiles it (flat unconstrained point), by JAX against the
    same graph run by the kernels themselves (Python linker). Measured gaps are about 1e-15
    of the log density and 1e-14 of the largest gradient entry; a wrong equation in either
    backend moves them by far more than 1e-9."""
    from populace.inference.nutpie_chains import model_functions

    model = CopulaModel(_study(), model_config=config).build_model()
    _, ref, _, init_fn, _, _ = model_functions(model, mode="FAST_COMPILE")
    _, got, _, _, _, _ = model_functions(model, mode="JAX")
    rng = np.random.default_rng(2)
    for seed in range(3):
        x = init_fn(seed) + rng.normal(0, 0.5, init_fn(seed).shape)
        (a, ga), (b, gb) = ref(x), got(x)
        np.testing.assert_allclose(float(b), float(a), rtol=1e-10)
        np.testing.assert_allclose(np.asarray(gb), ga, rtol=1e-9, atol=1e-9 * np.abs(ga).max())
