import numpy as np
import pytest
from scipy import special

from populace.models.quadrature import factor_nodes
from populace.models.solve import solve_intercepts, solve_thresholds, thresholds_forward

NODES, LOG_W = factor_nodes(2, "gauss-hermite", 5)
W = np.exp(LOG_W)


@pytest.mark.parametrize("b", [np.zeros(2), np.array([1.5, -2.0]), np.array([4.0, 3.0])])
def test_thresholds_reach_the_target_margin(b):
    scale = 1.0 / np.sqrt(1.0 + b @ b)
    mu = scale * NODES @ b
    cum = np.array([[0.001, 0.3, 0.999], [0.5, 0.6, 0.7]])
    tau = solve_thresholds(mu, scale, cum, LOG_W)
    got = (W[None, :, None] * special.ndtr((tau[:, None, :] - mu[None, :, None]) / scale)).sum(axis=1)
    np.testing.assert_allclose(got, cum, atol=1e-12)


@pytest.mark.parametrize("b", [np.zeros(2), np.array([1.5, -2.0])])
def test_thresholds_reach_tiny_tails_relative_to_the_tail(b):
    """Targets 1e-12 from either end (a clipped empty level) are met to 1e-9 of the tail
    itself, on the side where it is small; an absolute 1e-12 accepted a tail of 4e-16."""
    scale = 1.0 / np.sqrt(1.0 + b @ b)
    mu = scale * NODES @ b
    cum = np.array([[1e-12, 0.5, 1.0 - 1e-12]])
    tau = solve_thresholds(mu, scale, cum, LOG_W)
    z = (tau[:, None, :] - mu[None, :, None]) / scale
    lower, upper = (W[None, :, None] * special.ndtr(z)).sum(axis=1), (W[None, :, None] * special.ndtr(-z)).sum(axis=1)
    np.testing.assert_allclose([lower[0, 0], lower[0, 1], upper[0, 2]], [1e-12, 0.5, 1.0 - cum[0, 2]], rtol=1e-9)


@pytest.mark.parametrize("scale", [0.0, 1.0, 3.0])
def test_intercepts_reach_the_target_margin(scale):
    rng = np.random.default_rng(0)
    B = scale * rng.normal(size=(3, 2))
    eta_b = NODES @ np.vstack([np.zeros((1, 2)), B]).T
    target = np.array([[0.1, 0.2, 0.3, 0.4], [0.97, 0.01, 0.01, 0.01]])
    c = solve_intercepts(eta_b, np.log(target), LOG_W)
    assert np.all(c[:, 0] == 0.0)
    margin = W @ special.softmax(c[:, None, :] + eta_b[None], axis=2)
    np.testing.assert_allclose(margin, target, atol=1e-12)


def test_intercepts_with_an_empty_level_stay_finite():
    # A census level with zero count: cells clips its share to 1e-12 before solving.
    eta_b = NODES @ np.vstack([np.zeros((1, 2)), [[1.0, -0.5], [0.3, 0.8]]]).T
    target = np.array([[0.6, 0.4 - 1e-12, 1e-12]])
    c = solve_intercepts(eta_b, np.log(target), LOG_W)
    assert np.isfinite(c).all()
    margin = W @ special.softmax(c[:, None, :] + eta_b[None], axis=2)
    np.testing.assert_allclose(margin, target, atol=1e-12)


@pytest.mark.parametrize("scale", [0.5, 2.0])
def test_emitted_tails_are_the_normal_tails_at_the_solved_thresholds(scale):
    """The kernel emits each level's probability and density from tails that, after a tiny
    last step, come from a Taylor series (``solve._TAYLOR_STEP``), not a fresh evaluation:
    they must equal the exact normal tails at the thresholds it returns."""
    rng = np.random.default_rng(2)
    m = np.ascontiguousarray(rng.normal(scale=scale, size=(3, 2)) @ NODES.T)  # (J, Q)
    shares = rng.dirichlet(np.ones(5), size=(3, 4))  # (J, G, L)
    cum = np.ascontiguousarray(np.cumsum(shares, axis=-1)[..., :-1])
    n_thr = np.full(3, 4, dtype=np.int64)
    logp, prob, phi, t = thresholds_forward(m, special.ndtri(cum), cum, n_thr, LOG_W)
    z = t[:, :, None, :] - m[:, None, :, None]  # (J, G, Q, M)
    np.testing.assert_allclose(phi, np.exp(-0.5 * z**2) / np.sqrt(2 * np.pi), rtol=1e-11)
    lo = np.concatenate([np.full(z.shape[:3] + (1,), -np.inf), z], axis=-1)
    hi = np.concatenate([z, np.full(z.shape[:3] + (1,), np.inf)], axis=-1)
    # Each level from the side where its tails are small (no cancellation near 1).
    exact = np.where(hi <= 0, special.ndtr(hi) - special.ndtr(lo), special.ndtr(-lo) - special.ndtr(-hi))
    # Relative where a level holds more than 1e-5: a level from a difference of tails has
    # rounding of 1e-16 (absolute), and levels under the floor are floored.
    big = exact > 1e-5
    np.testing.assert_allclose(prob[big], exact[big], rtol=1e-10)
    np.testing.assert_allclose(logp[big], np.log(exact[big]), atol=1e-10)
    np.testing.assert_allclose(prob, exact, rtol=0, atol=1e-15)


def _tail_errors(m, cum, t, w):
    """Each threshold's margin error relative to its own (smaller) tail."""
    z = t[:, :, None, :] - m[:, None, :, None]
    lower = np.einsum("jgqk,q->jgk", special.ndtr(z), w)
    upper = np.einsum("jgqk,q->jgk", special.ndtr(-z), w)
    return np.where(cum > 0.5, np.abs(upper - (1 - cum)), np.abs(lower - cum)) / np.minimum(cum, 1 - cum)


@pytest.mark.parametrize("scale", [4.0, 6.0])
def test_thresholds_converge_far_out_and_where_the_margin_is_flat(scale):
    """Strong loadings put the nodes many sd apart: the margin is then flat between them,
    and near-empty levels put thresholds far out in a tail. Of these 3,200 thresholds,
    Halley on the tail itself, capped at a latent sd, left 1 (scale 4) and 12 (scale 6)
    off by their whole tail after 100 steps; on the log scale, bisecting its bracket,
    every one meets the tolerance (1e-12 of its tail)."""
    rng = np.random.default_rng(1)
    nodes, log_w = factor_nodes(3, "gauss-hermite", 3)
    m = np.ascontiguousarray(rng.normal(0.0, scale, (4, 3)) @ nodes.T)
    shares = rng.dirichlet(np.full(5, 0.3), size=(4, 200))
    cum = np.ascontiguousarray(np.clip(np.cumsum(shares, axis=-1)[..., :-1], 1e-12, 1 - 1e-12))
    t = thresholds_forward(m, special.ndtri(cum), cum, np.full(4, 4, dtype=np.int64), log_w)[3]
    assert _tail_errors(m, cum, t, np.exp(log_w)).max() < 1e-11
