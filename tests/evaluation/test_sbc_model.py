"""The SBC's model side: simulator moments, quantities, detection power, a short production run.

Imports PyMC; the last two tests run NUTS (marked slow).
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import pytest

pytest.importorskip("pymc")

from populace.evaluation import sbc  # noqa: E402
from populace.evaluation.sbc.configs import AREAS, PRODUCTION, SMALL  # noqa: E402


def _theta(log_alpha: float = np.log(40.0)) -> dict[str, np.ndarray]:
    """Fixed production-shape parameters (K = 3)."""
    rng = np.random.default_rng(11)
    return {
        "loadings_age": rng.normal(0, 0.5, 3),
        "loadings_sex": rng.normal(0, 0.5, 3),
        "loadings_edu": rng.normal(0, 0.5, 3),
        "loadings_party": rng.normal(0, 0.75, (2, 3)),
        "loadings_opinion": rng.normal(0, 0.5, 3),
        "shares_opinion": np.array([0.5, 0.3, 0.2]),
        "log_concentration": np.array(log_alpha),
        "log_census_concentration": np.array(log_alpha),
        # Area effects of the attributes that no table crosses with the region.
        **{f"area_sd_{a}": np.array(0.2) for a in ("sex", "edu", "party", "opinion")},
        **{f"area_z_{a}": rng.normal(0, 1, 2) for a in ("sex", "edu", "opinion")},
        "area_z_party": rng.normal(0, 1, (2, 2)),
    }


def test_prior_draws_have_the_models_free_variables() -> None:
    draws = sbc.prior_draws(400, seed=0, config=PRODUCTION)
    assert set(draws[0]) == set(_theta())
    la = np.array([d["log_concentration"] for d in draws])
    # log alpha ~ N(5, 1.5^2): the mean's standard error is 1.5 / sqrt(400) = 0.075; 4 SE
    assert abs(la.mean() - 5.0) < 0.3 and abs(la.std() - 1.5) < 0.25  # sd's SE ~ 1.5 / sqrt(800) = 0.053
    shares = np.array([d["shares_opinion"] for d in draws])
    np.testing.assert_allclose(shares.sum(axis=1), 1.0)


def test_simulated_production_study_shape() -> None:
    from populace.models.copula import CopulaModel

    study = sbc.simulate_study(_theta(), np.random.default_rng(0), config=PRODUCTION, n_sample=200)
    assert [m.attributes for m in study.marginals] == [("region", "age"), ("sex",), ("edu",), ("party",), ("sex", "edu")]
    assert all(m.total == pytest.approx(sbc.simulate.CENSUS_TOTAL) for m in study.marginals)
    codes = study.microdata.codes
    assert codes.shape == (200, 6) and (codes >= 0).all()
    assert all(codes[:, j].max() < a.n_levels for j, a in enumerate(PRODUCTION.attributes))
    s = CopulaModel(study, model_config=PRODUCTION.model_config).structure
    assert s.geo_name == "region" and s.area == (True, False, False, False, False)  # age pinned per area
    assert s.national[s.names.index("opinion")] is None  # the free attribute
    # the cross-tab pins no margin: sex's national shares are its 1-D table's
    np.testing.assert_allclose(s.national[s.names.index("sex")], study.marginals[1].counts / study.marginals[1].total)
    assert len(s.census_crosstabs) == 1 and s.n_eff == pytest.approx(200)


def _cell_counts(config: sbc.SBCConfig, theta: dict[str, np.ndarray], reps: int, n: int) -> tuple[np.ndarray, ...]:
    """Microdata cell counts and cross-tab shares over ``reps`` studies with the same fixed tables."""
    from populace.inference.enumerate import joint_shares
    from populace.models.copula import CopulaModel

    template = sbc.template_study(config, rng=np.random.default_rng(1))
    pi = joint_shares(CopulaModel(template, model_config=config.model_config), theta)
    shape = pi.shape if any(a.role for a in config.attributes) else pi.shape[1:]  # no area axis without one
    counts, tabs = [], []
    for r in range(reps):
        st = sbc.simulate_study(theta, np.random.default_rng([2, r]), config=config, n_sample=n, template=template)
        cells = np.ravel_multi_index(tuple(st.microdata.codes.T), shape)  # study order = internal order here
        counts.append(np.bincount(cells, minlength=pi.size))
        if config.crosstabs:
            tabs.append(st.marginals[-1].counts.ravel() / st.marginals[-1].total)
    return pi.reshape(-1), np.array(counts), np.array(tabs)


def test_microdata_and_crosstab_follow_the_dirichlet_multinomial() -> None:
    """Mean n pi and DM variance n pi (1 - pi) (n + alpha) / (1 + alpha) of a cell count;
    cross-tab shares with variance pi_t (1 - pi_t) / (alpha + 1) (N = 10^6 >> alpha)."""
    alpha, n, reps = 40.0, 300, 400
    pi, counts, tabs = _cell_counts(PRODUCTION, _theta(np.log(alpha)), reps, n)
    top = np.argsort(pi)[-3:]  # the largest cells: counts far from 0, nearly normal
    var = counts[:, top].var(axis=0, ddof=1)
    dm = n * pi[top] * (1 - pi[top]) * (n + alpha) / (1 + alpha)
    # sample variance of 400 draws: relative SE ~ sqrt(2 / 399) = 0.07, more with the DM's
    # heavier tails; 0.35 is ~4 SE, and a multinomial (ratio 1 / 7.6) fails it by far
    np.testing.assert_allclose(var / dm, 1.0, atol=0.35)
    # the mean count's SE is sqrt(dm / reps): 4 SE
    assert (np.abs(counts[:, top].mean(axis=0) - n * pi[top]) < 4 * np.sqrt(dm / reps)).all()
    pi_t = pi.reshape(2, 3, 2, 3, 3, 3).sum(axis=(0, 1, 4, 5)).ravel()  # (sex, edu)
    var_t = tabs.var(axis=0, ddof=1)
    np.testing.assert_allclose(var_t / (pi_t * (1 - pi_t) / (alpha + 1)), 1.0, atol=0.35)
    np.testing.assert_allclose(tabs.mean(axis=0), pi_t, atol=4 * np.sqrt(pi_t * (1 - pi_t) / (alpha + 1) / reps).max())


def test_without_the_dirichlet_layer_the_microdata_are_multinomial() -> None:
    theta = {"loadings_a": np.array([0.8]), "loadings_b": np.array([-0.3]),
             "loadings_c": np.array([[0.5], [-1.0]]), "loadings_d": np.array([0.6])}
    n, reps = 300, 400
    pi, counts, _ = _cell_counts(SMALL, theta, reps, n)
    top = np.argsort(pi)[-3:]
    var = counts[:, top].var(axis=0, ddof=1)
    np.testing.assert_allclose(var / (n * pi[top] * (1 - pi[top])), 1.0, atol=0.3)  # ~4 SE of 0.07


def test_quantities_are_rotation_invariant_and_match_the_joint() -> None:
    from scipy.stats import special_ortho_group

    from populace.inference.enumerate import joint_shares
    from populace.models.copula import CopulaModel

    theta = _theta()
    study = sbc.simulate_study(theta, np.random.default_rng(0), config=PRODUCTION, n_sample=100)
    model = CopulaModel(study, model_config=PRODUCTION.model_config)
    q = sbc.quantities(model, theta, PRODUCTION)
    assert len(q) == 16 and q["log_concentration"] == pytest.approx(np.log(40.0))
    assert [q[f"shares_opinion[{lev}]"] for lev in ("o1", "o2", "o3")] == pytest.approx([0.5, 0.3, 0.2])
    b_s, b_e = theta["loadings_sex"], theta["loadings_edu"]
    assert q["gram[sex,edu]"] == pytest.approx(b_s @ b_e / np.sqrt((1 + b_s @ b_s) * (1 + b_e @ b_e)))
    pi = joint_shares(model, theta)  # (region, age, sex, edu, party, opinion)
    assert q["pi[opinion=o1|region=r2]"] == pytest.approx(pi[1, ..., 0].sum() / pi[1].sum())
    assert q["pi[sex=f,edu=e1]"] == pytest.approx(pi[:, :, 0, 0].sum())
    # the opinion margin of pi is the free shares where the areas' offsets are zero (margins
    # are solved exactly); the offsets (centred, sd 0.2) move it at second order only
    flat = {k: (np.zeros_like(v) if k.startswith("area_z_") else v) for k, v in theta.items()}
    assert joint_shares(model, flat).sum(axis=(0, 1, 2, 3, 4)) == pytest.approx([0.5, 0.3, 0.2], abs=1e-8)
    assert pi.sum(axis=(0, 1, 2, 3, 4)) == pytest.approx([0.5, 0.3, 0.2], abs=5e-3)
    rot = special_ortho_group.rvs(3, random_state=3)
    turned = {k: (v @ rot if k.startswith("loadings_") else v) for k, v in theta.items()}
    again = sbc.quantities(model, turned, PRODUCTION)
    exact = [k for k in q if not k.startswith("pi[")]
    assert {k: again[k] for k in exact} == pytest.approx({k: q[k] for k in exact}, abs=1e-10)
    # pi is rotation-invariant only up to the quadrature: the 5^3 Gauss-Hermite product grid
    # is not rotation-symmetric (measured: up to 1.5e-4). For SBC that noise must be far
    # below the posterior sds of these shares (0.01-0.1 in the production run): 1e-3.
    assert {k: again[k] for k in q if k.startswith("pi[")} == pytest.approx(
        {k: q[k] for k in q if k.startswith("pi[")}, abs=1e-3)
    assert sbc.quantities(model, {**theta, "loadings_sex": -b_s}, PRODUCTION)["gram[sex,edu]"] != pytest.approx(q["gram[sex,edu]"])


def test_uniformity_detects_a_wrong_simulator() -> None:
    """Truth drawn from a prior with log alpha shifted by half its sd, 'posterior' = the
    model's own prior (no data): ranked quantities are uniform only where truth and
    draws share a distribution.

    Power (300 replications, L = 49, 20 bins; simulated offline with normal draws): a
    shift of 0.5 sd gives p < 6e-5 in 99 % of seeds. Under uniformity p ~ U(0, 1), so a
    calibrated quantity fails the 1e-3 bound with probability 1e-3 (seeded here).
    """
    config = dataclasses.replace(PRODUCTION, shares=())  # gram, log alpha, free shares: no joint needed
    from populace.models.copula import CopulaModel

    reps, L = 300, 49
    truth = sbc.prior_draws(reps, seed=1, config=config)
    post = sbc.prior_draws(reps * L, seed=2, config=config)
    model = CopulaModel(sbc.template_study(config), model_config=config.model_config)
    rng = np.random.default_rng(3)
    good, bad = [], []
    for r in range(reps):
        draws = [sbc.quantities(model, p, config) for p in post[r * L:(r + 1) * L]]
        names = list(draws[0])
        arr = np.array([[d[k] for k in names] for d in draws])
        t = sbc.quantities(model, truth[r], config)
        shifted = {**t, "log_concentration": t["log_concentration"] + 0.75}  # prior sd 1.5
        good.append(sbc.rank_statistic(np.array([t[k] for k in names]), arr, rng))
        bad.append(sbc.rank_statistic(np.array([shifted[k] for k in names]), arr, rng))
    good_p = {k: sbc.uniformity_test(np.array(good)[:, j], L).pvalue for j, k in enumerate(names)}
    bad_p = {k: sbc.uniformity_test(np.array(bad)[:, j], L).pvalue for j, k in enumerate(names)}
    assert min(good_p.values()) > 1e-3, good_p
    assert bad_p["log_concentration"] < 1e-4
    assert min(v for k, v in bad_p.items() if k != "log_concentration") > 1e-3


@pytest.mark.slow
def test_reused_sampler_sees_the_new_studys_data() -> None:
    """After set_study the compiled log density is the new study's (a fresh model's)."""
    from pymc.blocking import DictToArrayBijection

    from populace.evaluation.sbc.sampler import ReusableNuts
    from populace.models.copula import CopulaModel

    fixed = sbc.template_study(PRODUCTION, rng=np.random.default_rng(9))
    first = sbc.simulate_study(_theta(), np.random.default_rng(0), config=PRODUCTION, n_sample=150, template=fixed)
    second = sbc.simulate_study(_theta(np.log(500.0)), np.random.default_rng(1), config=PRODUCTION, n_sample=250,
                                template=fixed)
    nuts = ReusableNuts(first, model_config=PRODUCTION.model_config)
    point = nuts.init_fn(5)
    q = DictToArrayBijection.map({v.name: point[v.name] for v in nuts.model.value_vars}).data
    before = float(nuts.step._logp_dlogp_func(q)[0])
    nuts.set_study(second)
    after = float(nuts.step._logp_dlogp_func(q)[0])
    fresh = CopulaModel(second, model_config=PRODUCTION.model_config).build_model()
    expected = float(fresh.compile_logp(mode="FAST_COMPILE")(point))
    assert after == pytest.approx(expected, rel=1e-9) and after != pytest.approx(before, rel=1e-3)
    # the census shares are graph constants: a study with other fixed tables is refused
    other = sbc.simulate_study(_theta(), np.random.default_rng(2), config=PRODUCTION, n_sample=150)
    with pytest.raises(ValueError, match="fixed census shares"):
        nuts.set_study(other)
    # the leapfrog integrator uses the chain's fresh mass matrix (a stale one samples a wrong,
    # wider posterior: found by comparing with populace.inference.fit)
    nuts.sample(draws=2, tune=2, seed=0)
    assert nuts.step.integrator._potential is nuts.step.potential
    # recorded values are the chain's values, not prior draws of the variables
    values = dict(zip(nuts.names, nuts.point_fn(point), strict=True))
    assert float(values["log_concentration"]) == pytest.approx(float(point["log_concentration"]))


@pytest.mark.slow
def test_short_production_run_and_resume() -> None:
    kw = {"config": PRODUCTION, "reps": 2, "n_sample": 150, "draws": 30, "tune": 30, "n_ranks": 9, "seed": 4}
    seen: list[int] = []
    df = sbc.run_sbc(on_rep=lambda part: seen.append(len(part)), **kw)
    assert seen == [16, 32] and df.attrs["failed"] == [] and df.attrs["config"] == "production"
    assert df["rank"].between(0, 9).all() and df["n_ranks"].eq(9).all()
    assert (df["thin"] >= 1).all() and (df["ess_min"] > 0).all() and (df["post_sd"] > 0).all()
    assert df.groupby("rep").size().tolist() == [16, 16]
    again = sbc.run_sbc(previous=df[df["rep"] < 1], **kw)  # reruns rep 1 only, same ranks
    cols = ["rep", "quantity", "rank", "true"]
    assert again[cols].reset_index(drop=True).equals(df[cols].reset_index(drop=True))


@pytest.mark.slow
@pytest.mark.skipif(
    not os.environ.get("POPULACE_SLOW_SBC"),
    reason="2.5 min on a 2-core machine (two K = 1 chains); set POPULACE_SLOW_SBC=1. The cheap guard "
    "against the bug it found is the integrator assertion in test_reused_sampler_sees_the_new_studys_data",
)
def test_reused_sampler_matches_pymc_sample() -> None:
    """ReusableNuts and pm.sample target the same posterior (K = 1, cheap to compile).

    Compared on the communalities gram[j,j] (invariant to the factor's sign). With ESS
    >= ~70 of 200 draws per chain, the difference of two means has SE <= sd * sqrt(2 / 70)
    = 0.17 sd (4 SE: 0.68 sd) and log(sd1 / sd2) has SE ~ sqrt(2 / (2 * 70)) = 0.12 (4 SE:
    0.48). A stale mass matrix in the integrator gave sds 2.5x too wide (log 0.9).
    """
    import pymc as pm

    from populace.evaluation.sbc.sampler import ReusableNuts
    from populace.models.backend import NP
    from populace.models.copula import CopulaModel

    theta = {"loadings_a": np.array([0.9]), "loadings_b": np.array([-0.6]),
             "loadings_c": np.array([[0.5], [-1.0]]), "loadings_d": np.array([0.7])}
    study = sbc.simulate_study(theta, np.random.default_rng(0), config=SMALL, n_sample=300)
    nuts = ReusableNuts(study, model_config=SMALL.model_config)
    post, _ = nuts.sample(draws=200, tune=200, seed=1)
    model = CopulaModel(study, model_config=SMALL.model_config)
    with model.build_model():
        idata = pm.sample(draws=200, tune=200, chains=1, random_seed=1, progressbar=False,
                          compute_convergence_checks=False)
    ref = {k: idata["posterior"][k].values[0] for k in theta}

    def diag(p: dict[str, np.ndarray]) -> np.ndarray:
        return np.array([np.diag(np.asarray(model.gram({k: v[i] for k, v in p.items()}, NP)))
                         for i in range(200)])

    a, b = diag(post), diag(ref)
    sd = np.sqrt((a.var(axis=0) + b.var(axis=0)) / 2)
    assert (np.abs(a.mean(axis=0) - b.mean(axis=0)) < 0.68 * sd).all()
    assert (np.abs(np.log(a.std(axis=0) / b.std(axis=0))) < 0.48).all()


def test_areas_config_ranks_the_area_effects_and_the_truth_differs_by_area() -> None:
    """The AREAS prior has area offsets for every attribute but age (its table is per area);
    ranked scalars are the parameters themselves; per-area shares follow the offsets."""
    from populace.models.copula import CopulaModel

    theta = sbc.prior_draws(1, seed=3, config=AREAS)[0]
    assert {k for k in theta if k.startswith("area_sd_")} == {"area_sd_edu", "area_sd_party", "area_sd_opinion"}
    fixed = sbc.template_study(AREAS, rng=np.random.default_rng(1))
    model = CopulaModel(fixed, model_config=AREAS.model_config)
    q = sbc.quantities(model, theta, AREAS)
    for name in AREAS.scalars:
        assert q[name] == float(theta[name])

    def o1_by_area(z: list[float]) -> np.ndarray:
        p = dict(theta, area_sd_opinion=np.array(1.0), area_z_opinion=np.array(z))
        q = sbc.quantities(model, p, AREAS)
        return np.array([q[f"pi[opinion=o1|region={r}]"] for r in ("r1", "r2", "r3", "r4")])

    # an offset for one area moves its share of o1; the offsets are centred by population
    # weight (in latent sds), so the other areas move the other way
    delta = o1_by_area([2.0, 0.0, 0.0, 0.0]) - o1_by_area([0.0, 0.0, 0.0, 0.0])
    assert abs(delta[0]) > 0.05 and (np.sign(delta[1:]) == -np.sign(delta[0])).all()


@pytest.mark.slow
def test_short_nutpie_run_is_the_production_fit() -> None:
    """method="nutpie" runs populace.inference.fit (two nutpie chains on JAX) per replication."""
    df = sbc.run_sbc(config=AREAS, reps=1, n_sample=150, method="nutpie", draws=60, tune=60, n_ranks=19, seed=2)
    assert df.attrs["failed"] == [] and df.attrs["method"] == "nutpie"
    assert df["chains"].eq(2).all() and df["n_ranks"].eq(19).all() and df["rank"].between(0, 19).all()
    assert set(AREAS.scalars) <= set(df["quantity"])
    assert (df["post_sd"] > 0).all() and (df["ess_min"] > 0).all()
