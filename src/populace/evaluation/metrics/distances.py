"""Distances between two share vectors: standardised RMSE and total variation."""

from __future__ import annotations

import numpy as np


def srmse(q: np.ndarray, p: np.ndarray) -> float:
    """Standardised RMSE ``sqrt(mean_c (q_c - p_c)^2) / mean_c p_c`` of two share vectors."""
    q, p = np.ravel(q), np.ravel(p)
    return float(np.sqrt(np.mean((q - p) ** 2)) / np.mean(p))


def tvd(q: np.ndarray, p: np.ndarray) -> float:
    """Total variation distance ``0.5 * sum_c |q_c - p_c|`` of two share vectors."""
    return float(0.5 * np.abs(np.ravel(q) - np.ravel(p)).sum())
