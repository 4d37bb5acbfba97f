"""Area effects keep a census-pinned national margin pinned: the thresholds / intercepts of
an attribute with area offsets are solved over the mixture of areas and nodes."""

import numpy as np
import pytest

from populace.inference.enumerate import joint_shares
from populace.models.copula import CopulaModel
from populace.study.spec import Attribute, Marginal, Microdata, Study

ATTRS = (
    Attribute("area", "nominal", ("a", "b", "c"), role="geography"),
    Attribute("edu", "ordinal", ("lo", "mid", "hi")),
    Attribute("party", "nominal", ("d", "i", "r")),
)
AREA_SHARES = np.array([0.5, 0.3, 0.2])
EDU, PARTY = np.array([0.3, 0.45, 0.25]), np.array([0.4, 0.2, 0.4])


def _model() -> CopulaModel:
    # No table crosses an attribute with the area: both get area offsets, and the areas
    # differ only by them (composition is national), where the mixture solve is exact.
    marginals = (
        Marginal(("area",), AREA_SHARES * 1000),
        Marginal(("edu",), EDU * 1000),
        Marginal(("party",), PARTY * 1000),
    )
    study = Study(ATTRS, marginals, Microdata(np.zeros((1, 3), np.int64), np.ones(1)), name="areas")
    return CopulaModel(study, model_config={"factors": 2})


@pytest.mark.parametrize("sd", [0.2, 1.0])
def test_large_offsets_leave_the_national_margins_pinned(sd: float) -> None:
    model = _model()
    assert len(model.area_attrs) == 2
    rng = np.random.default_rng(1)
    params = {
        "loadings_edu": np.array([0.8, -0.3]),
        "loadings_party": rng.normal(0, 0.75, (2, 2)),
        "area_sd_edu": np.array(sd),
        "area_z_edu": np.array([1.5, -1.0, 0.5]),
        "area_sd_party": np.array(sd),
        "area_z_party": rng.normal(size=(3, 2)),
    }
    pi = joint_shares(model, params)  # (area, edu, party)
    np.testing.assert_allclose(pi.sum(axis=(1, 2)), AREA_SHARES, atol=1e-12)
    np.testing.assert_allclose(pi.sum(axis=(0, 2)), EDU, atol=1e-9)
    np.testing.assert_allclose(pi.sum(axis=(0, 1)), PARTY, atol=1e-9)
    # ... while the areas' own shares move with their offsets
    by_area = pi.sum(axis=2) / pi.sum(axis=(1, 2))[:, None]
    assert np.ptp(by_area[:, 0]) > (0.05 if sd == 0.2 else 0.3)
    assert model.margin_gap(params) < 1e-9
