"""Prediction-powered inference (PPI++) of a mean when the unlabelled side is persona draws.

The humans (the labelled sample) give ``Y`` (their own answer) and ``f`` (the LLM's answer
when prompted with their persona); the personas give ``f`` alone, in ``D`` posterior draws of
the population. The power-tuned estimate (Angelopoulos, Duchi and Zrnic 2023, "PPI++") is

    theta = lambda * m + (mean_h Y - lambda * mean_h f),      m = mean_d m_d,

with ``m_d`` the mean of ``f`` over the personas of draw ``d``. Its variance is

    V = lambda^2 * V_p + V_r,

``V_r`` the sampling variance of the rectifier ``mean_h(Y - lambda f)`` and ``V_p`` the
variance of ``m`` as an estimate of the population's mean of ``f``:

- one draw: ``V_p = var(f) / N`` over its ``N`` personas. This is ppi-python's
  ``ppi_mean_ci`` (with ``small_sample=False`` estimate, lambda and interval agree to
  rounding), and it treats the personas as a sample of the true population: the
  uncertainty of the persona model is *not* represented.
- ``D >= 2`` draws (Rubin-style total variance): the draws' spread ``B = var_d(m_d)`` holds
  the posterior variance of the population mean of ``f`` plus each draw's Monte-Carlo noise
  ``W = mean_d var_d(f) / N_d``. The truth behaves like one more posterior draw, so
  ``V_p = (1 + 1/D) * max(B - W, 0) + W / D``: the posterior part with Rubin's finite-``D``
  factor, plus the noise left in the average of ``D`` draws. The interval uses Student's t
  with Satterthwaite's degrees of freedom: the between-draw part is estimated from ``D - 1``
  degrees of freedom, the rectifier's variance from ``n - 1``. A moment formula rather than
  a normal mixture over draws: with the usual 10-50 draws the mixture's tail quantiles are
  themselves noisy, the variance is not.

Small samples (the default ``small_sample=True``): the rectifier's variance carries the usual
``n / (n - 1)`` factor and ``n - 1`` degrees of freedom; ``small_sample=False`` is
ppi-python's large-sample form (``ddof = 0``, normal quantile), which the one-draw case then
matches exactly. The difference matters in groups of a few dozen humans.

``lambda`` minimises ``V`` (clipped to [0, 1] like ppi-python): ``lambda = C / (v + n * V_p)``
with ``C`` the humans' covariance of ``Y`` and ``f`` and ``v`` the variance of ``f`` pooled
over humans and personas (with one draw ``n * V_p`` is ``n * v / N``, ppi-python's
``(1 + n/N) v``). ``lambda = 1`` is plain PPI, ``lambda = 0`` the human-only mean.

Human weights (optional) enter as a Hajek weighted mean with its linearised
(with-replacement) variance, and ``n`` becomes Kish's effective size in ``lambda``. Without
weights the humans are taken as a simple random sample of the population; the finite
population correction is ignored. The personas are assumed independent of the humans and the
persona posterior calibrated for the population's mean of ``f``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from populace.study.shares import kish_n_eff

__all__ = ["DrawSummary", "PPIEstimate", "ppi_mean", "summarize_draws"]


@dataclass(frozen=True)
class DrawSummary:
    """The LLM answer ``f`` over the personas of each posterior draw.

    Attributes
    ----------
    means, variances, sizes
        Per draw: the mean of ``f``, its variance (``ddof = 0``) and the number of personas.
    """

    means: np.ndarray
    variances: np.ndarray
    sizes: np.ndarray

    @property
    def draws(self) -> int:
        return len(self.means)


@dataclass(frozen=True)
class PPIEstimate:
    """A prediction-powered estimate with its interval.

    Attributes
    ----------
    estimate, se, lo, hi
        Point estimate, standard error and the two-sided interval.
    lam
        The power-tuning parameter used.
    df
        Degrees of freedom of the t quantile (``inf``: normal).
    persona_variance
        ``lambda^2 * V_p``, the persona side's share of ``se**2``.
    """

    estimate: float
    se: float
    lo: float
    hi: float
    lam: float
    df: float
    persona_variance: float


def summarize_draws(values: ArrayLike, draws: ArrayLike) -> DrawSummary:
    """Summarise ``f`` (one value per persona) by posterior draw."""
    f = np.asarray(values, dtype=float)
    d = np.asarray(draws)
    _, inverse = np.unique(d, return_inverse=True)
    sizes = np.bincount(inverse).astype(float)
    means = np.bincount(inverse, weights=f) / sizes
    variances = np.bincount(inverse, weights=(f - means[inverse]) ** 2) / sizes
    return DrawSummary(means=means, variances=variances, sizes=sizes)


def ppi_mean(
    y: ArrayLike,
    yhat: ArrayLike,
    personas: DrawSummary,
    *,
    weights: ArrayLike | None = None,
    lam: float | None = None,
    alpha: float = 0.1,
    small_sample: bool = True,
) -> PPIEstimate:
    """Prediction-powered estimate and ``1 - alpha`` interval of the population mean of ``Y``.

    Parameters
    ----------
    y, yhat
        The humans' own answers and the LLM's answers for their personas (numbers; 0/1 for a share).
    personas
        The LLM's answers over the personas, by draw (:func:`summarize_draws`).
    weights
        Optional positive human weights (any scale).
    lam
        Power-tuning parameter; ``None`` (default) picks the variance-minimising one (PPI++),
        ``1`` is plain PPI.
    alpha
        One minus the interval's level.
    small_sample
        ``True`` (default): the rectifier's variance with the ``n / (n - 1)`` factor and
        ``n - 1`` degrees of freedom (in the Satterthwaite formula), as survey estimators do.
        ``False``: ppi-python's large-sample form (``ddof = 0``, normal quantile).

    Returns
    -------
    PPIEstimate
    """
    y = np.asarray(y, dtype=float)
    f = np.asarray(yhat, dtype=float)
    n = len(y)
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float) * n / np.sum(weights)
    n_eff = kish_n_eff(w)
    y_bar, f_bar = w @ y / n, w @ f / n
    m_bar, v_persona, between, df_between = _persona_terms(personas)
    if lam is None:
        cov = w @ ((y - y_bar) * (f - f_bar)) / n
        v_f = _pooled_variance(f, w, personas)
        # one draw: ppi-python's (1 + n/N) * v; more: V_p estimated from the draws
        v_lam = v_f / personas.sizes[0] if personas.draws == 1 else v_persona
        denom = v_f + n_eff * v_lam
        lam = float(np.clip(cov / denom, 0.0, 1.0)) if denom > 0 else 0.0
    z = y - lam * f
    v_rect = float(np.sum(w**2 * (z - w @ z / n) ** 2) / n**2) * (n / (n - 1) if small_sample else 1.0)
    var = lam**2 * v_persona + v_rect
    estimate = lam * m_bar + y_bar - lam * f_bar
    c_between = lam**2 * between
    # Satterthwaite: each estimated variance component over its degrees of freedom
    parts = (c_between**2 / df_between if c_between > 0 else 0.0) + (v_rect**2 / (n - 1) if small_sample else 0.0)
    df = var**2 / parts if parts > 0 else np.inf
    q = stats.norm.ppf(1 - alpha / 2) if np.isinf(df) else stats.t.ppf(1 - alpha / 2, df)
    se = float(np.sqrt(var))
    return PPIEstimate(
        estimate=float(estimate),
        se=se,
        lo=float(estimate - q * se),
        hi=float(estimate + q * se),
        lam=float(lam),
        df=float(df),
        persona_variance=float(lam**2 * v_persona),
    )


def _persona_terms(personas: DrawSummary) -> tuple[float, float, float, float]:
    """``(m, V_p, the posterior part of V_p, its degrees of freedom)``."""
    m, s, v = personas.means, personas.sizes, personas.variances
    if personas.draws == 1:
        return float(m[0]), float(v[0] / s[0]), 0.0, np.inf
    d = personas.draws
    within = float(np.mean(v / s))
    between = max(float(np.var(m, ddof=1)) - within, 0.0) * (1 + 1 / d)
    return float(np.mean(m)), between + within / d, between, float(d - 1)


def _pooled_variance(f: np.ndarray, w: np.ndarray, personas: DrawSummary) -> float:
    """Variance of ``f`` over humans (weighted) and all personas together (``ddof = 1``)."""
    s, m, v = personas.sizes, personas.means, personas.variances
    total = len(f) + s.sum()
    centre = (w @ f + s @ m) / total
    ss = w @ (f - centre) ** 2 + s @ (v + (m - centre) ** 2)
    return float(ss / (total - 1))
