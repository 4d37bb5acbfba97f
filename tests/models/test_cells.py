import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from populace.models import cells
from populace.models.backend import NP, PT
from populace.models.quadrature import factor_nodes

NODES, LOG_W = factor_nodes(2, "gauss-hermite", 5)
SHARES3 = np.array([[0.2, 0.5, 0.3], [0.6, 0.3, 0.1]])  # two geographies


def _joint2(a, b):
    """Brute-force quadrature joint of two attributes, (G, L_a, L_b)."""
    return np.einsum("q,gqi,gqj->gij", np.exp(LOG_W), np.exp(a), np.exp(b))


def _margin(lp):
    return np.exp(lp + LOG_W[None, :, None]).sum(axis=1)


def test_threshold_margin_equals_target_even_for_strong_loadings():
    lp = cells.threshold_logp(np.array([1.5, -2.0]), SHARES3, NODES, LOG_W, NP)
    assert lp.shape == (2, len(LOG_W), 3)
    np.testing.assert_allclose(_margin(lp), SHARES3, atol=1e-12)


def test_softmax_margin_equals_target():
    B = np.array([[0.8, -0.4], [-1.0, 0.6]])
    lp = cells.softmax_logp(B, SHARES3, NODES, LOG_W, NP)
    np.testing.assert_allclose(np.exp(lp).sum(axis=2), 1.0, atol=1e-12)
    np.testing.assert_allclose(_margin(lp), SHARES3, atol=1e-12)


def test_zero_loadings_give_independence():
    a = cells.threshold_logp(np.zeros(2), SHARES3[:1], NODES, LOG_W, NP)
    b = cells.softmax_logp(np.zeros((1, 2)), np.array([[0.3, 0.7]]), NODES, LOG_W, NP)
    joint = _joint2(a, b)[0]
    np.testing.assert_allclose(joint, np.outer(SHARES3[0], [0.3, 0.7]), atol=1e-12)


def test_pattern_logp_sums_out_missing_attributes():
    a = cells.threshold_logp(np.array([0.9, 0.1]), SHARES3, NODES, LOG_W, NP)
    b = cells.softmax_logp(np.array([[0.5, 1.0], [-0.5, 0.2]]), SHARES3, NODES, LOG_W, NP)
    joint = _joint2(a, b)  # (G, 3, 3)
    geo = np.array([0, 1, 1, 0])
    codes = np.array([[2, 1], [0, -1], [-1, 2], [-1, -1]])
    got = np.exp(cells.pattern_logp([a, b], [3, 3], geo, codes, LOG_W, NP))
    want = [joint[0, 2, 1], joint[1, 0].sum(), joint[1, :, 2].sum(), 1.0]
    np.testing.assert_allclose(got, want, rtol=1e-10)


def test_numpy_and_pytensor_agree():
    b_np = np.array([0.7, -0.3])
    B_np = np.array([[0.5, 1.0], [-0.5, 0.2]])
    b, B = pt.dvector("b"), pt.dmatrix("B")
    geo = np.array([0, 1])
    codes = np.array([[1, 2], [0, -1]])

    def logp(xp, b, B):
        lps = [cells.threshold_logp(b, SHARES3, NODES, LOG_W, xp), cells.softmax_logp(B, SHARES3, NODES, LOG_W, xp)]
        return cells.pattern_logp(lps, [3, 3], geo, codes, LOG_W, xp)

    f = pytensor.function([b, B], logp(PT, b, B), mode="FAST_COMPILE")
    np.testing.assert_allclose(f(b_np, B_np), logp(NP, b_np, B_np), rtol=1e-8)


@pytest.mark.parametrize("shares", [np.array([[0.999, 0.001]]), np.array([[1e-9, 1 - 1e-9]])])
def test_extreme_shares_stay_finite(shares):
    lp = cells.threshold_logp(np.array([1.0, 1.0]), shares, NODES, LOG_W, NP)
    assert np.isfinite(lp).all()


#: Area shares with empty levels, as small areas have them: an empty edge level, one
#: occupied level (an area of one person), only the edges occupied, a near-empty level.
EMPTY_LEVELS = np.array([[0.0, 0.3, 0.7, 0.0], [0.0, 1.0, 0.0, 0.0], [0.5, 0.0, 0.0, 0.5], [0.999, 0.001, 0.0, 0.0]])


def _threshold_margin(b, shares, xp):
    if xp is NP:
        return _margin(cells.threshold_logp(b, shares, NODES, LOG_W, NP))
    bt = pt.dvector("b")
    f = pytensor.function([bt], cells.threshold_logp(bt, shares, NODES, LOG_W, PT), mode="FAST_COMPILE")
    return _margin(f(b))


@pytest.mark.parametrize("xp", [NP, PT], ids=["numpy", "pytensor"])
@pytest.mark.parametrize("b", [np.array([1.0, 1.0]), np.array([2.5, -1.5])], ids=["moderate", "strong"])
def test_empty_levels_keep_their_census_shares(b, xp):
    """Every level's quadrature margin is its census share, in both backends: occupied
    levels to 1e-9 relative, empty ones below 3e-12 (shares are clipped to 1e-12). With a
    tolerance absolute instead of relative to the tail, an empty edge level was given the
    whole area (margin 1): the last Newton step divided a 1e-12 residual by a 5e-15 density."""
    got = _threshold_margin(b, EMPTY_LEVELS, xp)
    occupied = EMPTY_LEVELS > 0
    np.testing.assert_allclose(got[occupied], EMPTY_LEVELS[occupied], rtol=1e-9)
    assert got[~occupied].max() < 3e-12


def test_gradient_matches_finite_differences():
    """The solved thresholds / intercepts carry the implicit-function derivative."""
    b_np = np.array([0.7, -0.3])
    B_np = np.array([[0.5, 1.0], [-0.5, 0.2]])
    # Free shares too: their derivative also flows through the solved thresholds and intercepts.
    s_np = np.array([0.2, 0.5, 0.3])
    b, B, s = pt.dvector("b"), pt.dmatrix("B"), pt.dvector("s")
    geo = np.array([0, 1, 0])
    codes = np.array([[1, 2], [0, -1], [2, 0]])
    weights = np.array([3.0, 2.0, 5.0])

    def loglik(xp, b, B, s):
        shares = xp.stack([s, s])
        lps = [cells.threshold_logp(b, shares, NODES, LOG_W, xp), cells.softmax_logp(B, SHARES3, NODES, LOG_W, xp)]
        lps.append(cells.threshold_logp(b[::-1], SHARES3, NODES, LOG_W, xp))
        return xp.sum(weights * cells.pattern_logp(lps, [3, 3, 3], geo, np.c_[codes, [1, 0, 2]], LOG_W, xp))

    out = loglik(PT, b, B, s)
    grad = pytensor.function([b, B, s], pt.grad(out, [b, B, s]), mode="FAST_COMPILE")(b_np, B_np, s_np)
    h = 1e-6
    for got, x0, which in zip(grad, (b_np, B_np, s_np), range(3), strict=True):
        fd = np.zeros_like(x0)
        for idx in np.ndindex(x0.shape):
            args = [b_np.copy(), B_np.copy(), s_np.copy()]
            args[which][idx] += h
            up = loglik(NP, *args)
            args[which][idx] -= 2 * h
            fd[idx] = (up - loglik(NP, *args)) / (2 * h)
        np.testing.assert_allclose(got, fd, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("xp", [NP, PT], ids=["numpy", "pytensor"])
def test_a_padded_batch_equals_its_attributes_one_by_one(xp):
    # Attributes of 2, 3 and 4 levels in one batch: padding must not touch the real levels.
    b = np.array([[0.9, 0.1], [-0.4, 1.2], [0.3, -0.7]])
    shares = [np.array([[0.3, 0.7], [0.8, 0.2]]), SHARES3, np.array([[0.1, 0.2, 0.3, 0.4], [0.4, 0.3, 0.2, 0.1]])]
    padded = np.stack([np.pad(s, ((0, 0), (0, 4 - s.shape[1]))) for s in shares])
    got = cells.threshold_logps(b if xp is NP else pt.as_tensor(b), padded, [2, 3, 4], NODES, LOG_W, xp)
    got = got if xp is NP else got.eval()
    for j, s in enumerate(shares):
        n = s.shape[1]
        # Equal up to rounding: the batch sums its dot products in another order.
        np.testing.assert_allclose(got[j, :, :, :n], cells.threshold_logp(b[j], s, NODES, LOG_W, NP), rtol=1e-13, atol=1e-13)
        assert np.all(got[j, :, :, n:] == cells.LOG_FLOOR)
        np.testing.assert_allclose(_margin(got[j, :, :, :n]), s, atol=1e-12)


def test_a_tiny_top_level_keeps_its_relative_precision():
    """Each level's probability comes from the tails that are small there, so a top level of
    1.5e-11 is met to 1e-9 of itself; from lower-tail cdfs (1 - Phi, Phi near 1) each node
    was off by about 1e-16 absolute, 1e-5 relative. The share is dyadic so that the
    cumulative share 1 - 2^-36 is exact (a cumsum rounds to 1e-16 absolute as well)."""
    tiny = 2.0**-36
    shares = np.array([[0.5, 0.5 - tiny, tiny]])
    got = _margin(cells.threshold_logp(np.array([1.2, -0.8]), shares, NODES, LOG_W, NP))
    np.testing.assert_allclose(got, shares, rtol=1e-9)


def test_a_padded_batch_has_the_finite_difference_gradient():
    """The Ops' pullbacks (implicit-function derivative of the solved thresholds, per
    attribute of a padded batch) against central differences of the numpy forward."""
    b0 = np.array([[0.9, 0.1], [-0.4, 1.2], [0.3, -0.7]])
    shares = [np.array([[0.3, 0.7], [0.8, 0.2]]), SHARES3, np.array([[0.1, 0.2, 0.3, 0.4], [0.4, 0.3, 0.2, 0.1]])]
    padded = np.stack([np.pad(s, ((0, 0), (0, 4 - s.shape[1]))) for s in shares])
    weights = np.random.default_rng(3).normal(size=(3, 2, len(LOG_W), 4))
    weights[0, :, :, 2:] = weights[1, :, :, 3:] = 0.0  # padding levels are constants

    def objective(xp, b):
        return xp.sum(weights * cells.threshold_logps(b, padded, [2, 3, 4], NODES, LOG_W, xp))

    bt = pt.dmatrix("b")
    grad = pytensor.function([bt], pt.grad(objective(PT, bt), bt), mode="FAST_COMPILE")(b0)
    fd, h = np.zeros_like(b0), 1e-6
    for idx in np.ndindex(b0.shape):
        up, down = b0.copy(), b0.copy()
        up[idx] += h
        down[idx] -= h
        fd[idx] = (objective(NP, up) - objective(NP, down)) / (2 * h)
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-7)
