import numpy as np
import pytest
from scipy import special

from populace.models.quadrature import factor_nodes
from populace.models.solve import solve_intercepts, solve_thresholds

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
