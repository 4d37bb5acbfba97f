"""A small study with areas, an area table, a national-only attribute and a learned one."""

from __future__ import annotations

import numpy as np

from populace.models.copula import CopulaModel
from populace.study.spec import Attribute, Marginal, Microdata, Study

ATTRS = (
    Attribute("area", "nominal", ("a", "b", "c"), role="geography"),
    Attribute("age", "ordinal", ("young", "mid", "old")),
    Attribute("race", "nominal", ("w", "b", "h")),
    Attribute("party", "ordinal", ("dem", "ind", "rep")),
    Attribute("faith", "nominal", ("no", "yes")),  # no census table: learned
)
AREA_AGE = np.array([[500.0, 300.0, 200.0], [200.0, 300.0, 500.0], [300.0, 400.0, 300.0]])
AREA_RACE = np.array([[600.0, 300.0, 100.0], [800.0, 100.0, 100.0], [400.0, 200.0, 400.0]])
PARTY = np.array([1200.0, 700.0, 1100.0])
PARAMS = {
    "loadings_age": np.array([0.9]),
    "loadings_race": np.array([[0.8], [-0.5]]),
    "loadings_party": np.array([1.1]),
    "loadings_faith": np.array([0.7]),
    "shares_faith": np.array([0.6, 0.4]),
    "log_concentration": np.array(np.log(40.0)),
    # Area effects of the attributes with no area table (party, faith).
    "area_sd_party": np.array(0.3),
    "area_z_party": np.array([1.2, -0.4, -0.9]),
    "area_sd_faith": np.array(0.5),
    "area_z_faith": np.array([-0.7, 0.2, 1.1]),
}
CONFIG = {"factors": 1, "quadrature_nodes": 7}


def area_study(codes: np.ndarray | None = None) -> Study:
    if codes is None:
        rng = np.random.default_rng(3)
        codes = np.column_stack([rng.integers(0, 3, 40), rng.integers(0, 3, 40), rng.integers(0, 3, 40), rng.integers(0, 3, 40), rng.integers(0, 2, 40)])
    margs = (
        Marginal(("area", "age"), AREA_AGE),
        Marginal(("race", "area"), AREA_RACE.T.copy()),
        Marginal(("party",), PARTY),
    )
    return Study(ATTRS, margs, Microdata(np.asarray(codes), np.ones(len(codes))), name="areas")


def area_model(codes: np.ndarray | None = None) -> CopulaModel:
    return CopulaModel(area_study(codes), model_config=CONFIG)
