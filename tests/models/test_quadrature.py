import numpy as np
import pytest

from populace.models.quadrature import factor_nodes


@pytest.mark.parametrize(("k", "rule", "n"), [(1, "gauss-hermite", 7), (2, "gauss-hermite", 5), (3, "qmc", 64)])
def test_nodes_have_standard_normal_moments(k, rule, n):
    nodes, log_w = factor_nodes(k, rule, n)
    w = np.exp(log_w)
    assert w.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(w @ nodes, 0.0, atol=1e-12)
    np.testing.assert_allclose((nodes * w[:, None]).T @ nodes, np.eye(k), atol=1e-10)


def test_gauss_hermite_integrates_fourth_moment_exactly():
    nodes, log_w = factor_nodes(1, "gauss-hermite", 5)
    assert np.exp(log_w) @ nodes[:, 0] ** 4 == pytest.approx(3.0)


def test_unknown_rule():
    with pytest.raises(ValueError, match="unknown quadrature rule"):
        factor_nodes(2, "simpson", 5)
