"""The whole model's gradient, potentials included (microdata and census cross-tab
Dirichlet-multinomials, incomplete rows, a free margin, area margins), against
central finite differences of its log density."""

import numpy as np
import pytest

from populace.models.copula import CopulaModel
from populace.study.spec import Attribute, Marginal, Microdata, Study

ATTRS = (
    Attribute("area", "nominal", ("n", "s"), role="geography"),
    Attribute("age", "ordinal", ("y", "m", "o")),
    Attribute("sex", "nominal", ("f", "m")),
    Attribute("party", "nominal", ("d", "i", "r")),
    Attribute("free", "ordinal", ("lo", "hi")),
)


def _study() -> Study:
    rng = np.random.default_rng(0)
    n = 120
    codes = np.column_stack([rng.integers(0, a.n_levels, n) for a in ATTRS])
    codes[rng.random((n, len(ATTRS))) < 0.1] = -1  # incomplete rows
    marginals = (
        Marginal(("area", "age"), np.array([[200.0, 300, 500], [400, 300, 300]])),
        Marginal(("age", "sex"), np.array([[300.0, 300], [310, 290], [400, 400]])),  # a cross-tab
        Marginal(("party",), np.array([700.0, 500, 800])),
    )
    return Study(ATTRS, marginals, Microdata(codes, rng.uniform(0.5, 2, n)), name="grad")


@pytest.mark.parametrize(
    "config",
    [{"factors": 2}, {"factors": 2, "dirichlet": False}, {"factors": 2, "census_dirichlet": False},
     {"factors": 2, "quadrature": "qmc", "quadrature_nodes": 64}],  # fmt: skip
    ids=["default", "no_dirichlet", "multinomial_census", "qmc"],
)
def test_gradient_matches_finite_differences(config):
    model = CopulaModel(_study(), model_config=config).build_model()
    logp, dlogp = model.compile_logp(mode="FAST_COMPILE"), model.compile_dlogp(mode="FAST_COMPILE")
    rng = np.random.default_rng(1)
    point = {k: v + rng.normal(0, 0.3, np.shape(v)) for k, v in model.initial_point().items()}
    grad = dlogp(point)
    flat = np.concatenate([np.ravel(point[v.name]) for v in model.value_vars])
    sizes = [np.size(point[v.name]) for v in model.value_vars]

    def f(x):
        parts, i = {}, 0
        for v, k in zip(model.value_vars, sizes, strict=True):
            parts[v.name] = x[i : i + k].reshape(np.shape(point[v.name]))
            i += k
        return logp(parts)

    h = 1e-5
    fd = np.array([(f(flat + h * e) - f(flat - h * e)) / (2 * h) for e in np.eye(flat.size)])
    # Central differences err by h^2 |f'''| / 6 + eps |f| / h: with h = 1e-5 and |f| ~ 1e3,
    # about 1e-10 |f'''| + 2e-8, far below the tolerance.
    np.testing.assert_allclose(grad, fd, rtol=1e-5, atol=1e-5)
