"""Draws in generative order are exact draws from the enumerated copula joint."""

import numpy as np

from populace.inference.enumerate import joint_shares
from populace.inference.sampler import CopulaSampler
from tests.inference._area_study import PARAMS, area_model

M = 400_000


def _freq(codes, shape):
    flat = np.ravel_multi_index(codes.astype(np.int64).T, shape)
    return np.bincount(flat, minlength=int(np.prod(shape))).reshape(shape) / len(codes)


def test_unconditional_draws_match_the_joint_within_monte_carlo_error():
    model = area_model()
    pi = joint_shares(model, PARAMS)
    assert abs(pi.sum() - 1) < 1e-12
    got = _freq(CopulaSampler(model, PARAMS).draw(np.random.default_rng(0), M), pi.shape)
    z = (got - pi) / np.sqrt(pi * (1 - pi) / M)
    # 162 cells: P(max |z| > 4.5) < 162 * 7e-6 for a correct sampler.
    assert np.abs(z).max() < 4.5


def test_area_margins_are_pinned_and_party_moves_with_composition():
    model = area_model()
    pi = joint_shares(model, PARAMS)
    from tests.inference._area_study import AREA_AGE

    np.testing.assert_allclose(pi.sum(axis=(2, 3, 4)) / pi.sum(axis=(1, 2, 3, 4))[:, None], AREA_AGE / AREA_AGE.sum(1, keepdims=True), atol=1e-10)
    party = pi.sum(axis=(1, 2, 4)) / pi.sum(axis=(1, 2, 3, 4))[:, None]
    # age loads with party: the older area b leans to the level that old people lean to.
    assert np.abs(party[0] - party[1]).max() > 0.03
    # Area effects: given age and race, party leans up in each area by its offset
    # (area_z_party = 1.2, -0.4, -0.9), so the mean party level orders the areas a > b > c.
    cond = pi.sum(axis=4) / pi.sum(axis=(3, 4))[..., None]
    mean = (cond * np.arange(3)).sum(axis=-1)  # (area, age, race)
    assert (mean[0] > mean[1]).all() and (mean[1] > mean[2]).all()


def test_without_area_effects_party_given_composition_is_the_same_everywhere():
    """The MRP assumption of the model without area effects: P(party | age, race, area)
    is the same in every area."""
    from tests.inference._area_study import CONFIG, area_study

    from populace.models.copula import CopulaModel

    model = CopulaModel(area_study(), model_config={**CONFIG, "area_effects": False})
    pi = joint_shares(model, PARAMS)
    cond = pi.sum(axis=4) / pi.sum(axis=(3, 4))[..., None]
    np.testing.assert_allclose(cond[0], cond[1], atol=1e-12)


def test_conditional_draws_given_area_and_area_attribute_are_exact():
    model = area_model()
    pi = joint_shares(model, PARAMS)
    want = pi[1, 2] / pi[1, 2].sum()  # area b, old
    codes = CopulaSampler(model, PARAMS).draw(np.random.default_rng(1), M, fixed={0: 1, 1: 2})
    assert (codes[:, 0] == 1).all() and (codes[:, 1] == 2).all()
    got = _freq(codes[:, 2:], want.shape)
    z = (got - want) / np.sqrt(want * (1 - want) / M)
    assert np.abs(z).max() < 4.5


def test_conditioning_on_a_national_attribute_fixes_it():
    model = area_model()
    codes = CopulaSampler(model, PARAMS).draw(np.random.default_rng(2), 500, fixed={3: 0})
    assert (codes[:, 3] == 0).all()


def test_unique_rows_is_the_same_for_a_joint_too_wide_to_ravel():
    """Distinct rows come from raveled keys, or row by row when the cells outnumber int64
    (40 attributes of 5 levels: 9e27 cells); both give the same rows and the same inverse."""
    from populace.inference.sampler import unique_rows

    rng = np.random.default_rng(0)
    codes = rng.integers(0, 2, size=(500, 40)).astype(np.int16)
    codes[::3] = codes[1::3][: len(codes[::3])]  # repeats
    narrow, inv_n = unique_rows(codes, [2] * 40)
    wide, inv_w = unique_rows(codes, [5] * 40)
    np.testing.assert_array_equal(narrow, wide)
    np.testing.assert_array_equal(inv_n, inv_w)
    np.testing.assert_array_equal(wide[inv_w], codes)
