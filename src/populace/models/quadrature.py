"""Gauss-Hermite quadrature over a standard normal factor vector."""

from __future__ import annotations

import itertools

import numpy as np

__all__ = ["gauss_hermite_nodes", "qmc_nodes", "factor_nodes"]


def gauss_hermite_nodes(n_factors: int, n_nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """Tensor-product Gauss-Hermite rule for E[f(eta)], eta ~ N(0, I_K).

    Parameters
    ----------
    n_factors
        Dimension K of the factor vector.
    n_nodes
        Nodes per dimension (7 was as accurate as 9 in the prototype).

    Returns
    -------
    nodes : ndarray, shape (n_nodes**K, K)
    log_weights : ndarray, shape (n_nodes**K,)
        Log of weights that sum to one.
    """
    if n_factors < 0 or n_nodes < 1:
        raise ValueError("n_factors must be >= 0 and n_nodes >= 1")
    if n_factors == 0:
        return np.zeros((1, 0)), np.zeros(1)
    x, w = np.polynomial.hermite_e.hermegauss(n_nodes)  # probabilists' Hermite: weight exp(-x^2/2)
    w = w / w.sum()
    nodes = np.array(list(itertools.product(x, repeat=n_factors)))
    log_w = np.log(np.array([np.prod(c) for c in itertools.product(w, repeat=n_factors)]))
    return nodes, log_w


def qmc_nodes(n_factors: int, n_nodes: int, *, seed: int = 20261125) -> tuple[np.ndarray, np.ndarray]:
    """Equal-weight scrambled-Sobol nodes for N(0, I_K), for K where a tensor grid is too big.

    The seed is fixed so that a model (and a saved fit) always uses the same nodes.
    """
    from scipy.stats import norm, qmc

    u = qmc.Sobol(n_factors, scramble=True, seed=seed).random(n_nodes)
    nodes = norm.ppf(u)
    # Exact first two moments: centre and whiten so E[eta] = 0, Cov[eta] = I on the nodes.
    nodes = nodes - nodes.mean(axis=0)
    chol = np.linalg.cholesky(np.cov(nodes, rowvar=False, bias=True))
    nodes = np.linalg.solve(chol, nodes.T).T
    return nodes, np.full(n_nodes, -np.log(n_nodes))


def factor_nodes(n_factors: int, rule: str, n_nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and log-weights by rule name: ``"gauss-hermite"`` (per dimension) or ``"qmc"`` (in total)."""
    if rule == "gauss-hermite":
        return gauss_hermite_nodes(n_factors, n_nodes)
    if rule == "qmc":
        return qmc_nodes(n_factors, n_nodes)
    raise ValueError(f"unknown quadrature rule {rule!r}; use 'gauss-hermite' or 'qmc'")
