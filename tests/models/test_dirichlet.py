"""The Dirichlet-multinomial and its log rising factorial, against exact sums of logs."""

from __future__ import annotations

import math

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from populace.models.dirichlet import STIRLING_FROM, dirichlet_multinomial_logp, log_rising_factorial

_x, _n = pt.dscalar("x"), pt.dscalar("n")
_d = log_rising_factorial(_x, _n)
_f = pytensor.function([_x, _n], [_d, pytensor.grad(_d, _x)])


def _exact(x: float, n: int) -> tuple[float, float]:
    """``lgamma(x + n) - lgamma(x)`` and its x-derivative for integer ``n``, as sums of logs."""
    return math.fsum(math.log(x + k) for k in range(n)), math.fsum(1.0 / (x + k) for k in range(n))


@pytest.mark.parametrize("x", [1e-3, 0.5, 3.0, 1e4, STIRLING_FROM * (1 - 1e-9), STIRLING_FROM * (1 + 1e-9), 1e7, 1e13, 1e21])
@pytest.mark.parametrize("n", [0, 1, 7, 250])
def test_log_rising_factorial_is_exact_at_every_scale(x: float, n: int) -> None:
    value, grad = _f(x, float(n))
    want, want_grad = _exact(x, n)
    assert value == pytest.approx(want, rel=1e-12, abs=1e-12)
    assert grad == pytest.approx(want_grad, rel=1e-9, abs=1e-20)


def test_log_rising_factorial_branches_meet_for_weighted_counts() -> None:
    """Non-integer (Kish-weighted) counts: both branches agree where they meet."""
    for n in (0.37, 12.5, 3e4):
        below = _f(STIRLING_FROM * (1 - 1e-12), n)[0]
        above = _f(STIRLING_FROM * (1 + 1e-12), n)[0]
        assert above == pytest.approx(below, rel=1e-11)


def test_gradient_is_finite_where_x_underflows() -> None:
    """A cell with probability exp(-800) has x = 0: neither branch may put a NaN in the gradient."""
    lp = pt.dvector("lp")
    out = dirichlet_multinomial_logp(pt.constant(5.0), lp, pt.constant(np.array([3.0, 0.0])))
    g = pytensor.function([lp], pytensor.grad(out, lp))(np.array([0.0, -800.0]))
    assert np.isfinite(g).all()


def test_dirichlet_multinomial_tends_to_the_multinomial() -> None:
    """At a huge concentration the Dirichlet-multinomial is the multinomial ``sum n log pi``.

    Written as log-gamma differences it read 0 there (``alpha + N`` rounds to ``alpha``), a
    false mode that a chain found and stayed in.
    """
    pi = np.array([0.2, 0.3, 0.5])
    n = np.array([40.0, 25.0, 35.0])
    la = pt.dscalar("la")
    f = pytensor.function([la], dirichlet_multinomial_logp(la, pt.constant(np.log(pi)), pt.constant(n)))
    multinomial = float(np.sum(n * np.log(pi)))
    for log_alpha in (30.0, 49.7, 80.0):
        # The gap to the limit is O(N^2 / alpha): below 1e-8 from alpha = e^30.
        assert f(log_alpha) == pytest.approx(multinomial, abs=1e-8)
    # At moderate alpha: the exact finite sum.
    alpha = 50.0
    want = sum(_exact(alpha * p, int(k))[0] for p, k in zip(pi, n, strict=True)) - _exact(alpha, int(n.sum()))[0]
    assert f(math.log(alpha)) == pytest.approx(want, rel=1e-12)
