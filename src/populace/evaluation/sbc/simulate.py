"""The SBC simulator: prior draws and studies simulated from the model's likelihood.

Derivation (what :meth:`populace.models.copula.CopulaModel.build_model` encodes). The
posterior the fit computes is ``p(theta) * prod_terms L_t(data_t | theta, m)`` with
``theta`` = the loadings, the free attributes' shares, ``log alpha``, and ``m`` the
census shares that pin the copula's margins. So, term by term:

* **1-D and area x attribute census tables are data the model conditions on.** Their
  shares (the first table holding an attribute, ``models.structure``) fix the
  thresholds / intercepts of ``pi``; no likelihood term contains their counts. The
  simulator draws them independently of ``theta`` (``Dirichlet(4)`` shares, per area
  for an area table) and holds them fixed in the fit: any distribution that does not
  depend on ``theta`` is valid, since the posterior conditions on them. ``run_sbc``
  draws them once per run (a fixed design; they are constants of the compiled graph).
* **The copula** ``pi(g, x) = s_g P_g(x_D) P_nat(x_A | x_D)`` is computed exactly from
  ``theta`` and ``m`` by :func:`populace.inference.enumerate.joint_shares` (the same
  ``attribute_logps`` / ``logp_given_area`` code as the likelihood).
* **Complete microdata patterns**: the potential is the Dirichlet-multinomial
  ``DM(n | alpha * pi)`` over every joint cell (area included), ``n`` the Kish-scaled
  counts. With equal weights ``n`` is the sample's integer cell counts, total
  ``n_sample``; so ``p ~ Dirichlet(alpha * pi)``, ``n ~ Multinomial(n_sample, p)``, each
  row coded with its area. Without the Dirichlet layer the potential is ``sum n log pi``:
  ``n ~ Multinomial(n_sample, pi)``.
* **A census cross-tab** is its own Dirichlet-multinomial ``DM(N_t | alpha * pi_t)``,
  ``pi_t`` the copula's table (``pi`` summed over the other axes), multiplied onto the
  microdata's term: the likelihood treats it as a *separate* Dirichlet draw
  ``p_t ~ Dirichlet(alpha * pi_t)``, independent of the microdata's ``p``, with total
  ``N_t = census_weight * counts.sum()``. The simulator draws exactly that:
  ``p_t ~ Dirichlet(alpha * pi_t)``, counts ``~ Multinomial(N, p_t)`` with ``N`` the census
  total (``census_weight`` = 1). Its attributes have 1-D tables listed before it, so the
  cross-tab pins no margin; were it the first table of an attribute, its own shares
  would be both conditioned on (margins) and modelled (DM), and no simulator could
  follow that likelihood exactly. Consequence: the simulated cross-tab's margins differ
  from the 1-D tables by Dirichlet noise (``sd ~ sqrt(p (1 - p) / alpha)``), which
  ``make_study`` rejects in real data (``SHARE_ATOL``) -- the model does not encode the
  exact agreement of real census tables. The study is built directly, not validated.
* Incomplete microdata rows: none are simulated (their term is the copula margin).

The prior draws come from the model's own graph (``pymc.draw`` of its free variables on
a template study of the same shape), so the simulator cannot drift from the priors.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from populace.evaluation.sbc.configs import SBCConfig
from populace.study.spec import Marginal, Microdata, Study

__all__ = ["CENSUS_TOTAL", "MARGIN_CONCENTRATION", "prior_draws", "simulate_study", "template_study"]

#: Concentration of the Dirichlet the fixed census shares are drawn from.
MARGIN_CONCENTRATION = 4.0
#: Population size the census tables count.
CENSUS_TOTAL = 1_000_000


def _shape(config: SBCConfig, names: tuple[str, ...]) -> tuple[int, ...]:
    levels = {a.name: a.n_levels for a in config.attributes}
    return tuple(levels[n] for n in names)


def _fixed_counts(config: SBCConfig, names: tuple[str, ...], rng: np.random.Generator | None) -> np.ndarray:
    """Counts of a fixed table: shares ``Dirichlet(4)`` for its first axis, then per
    level of the earlier axes for each next one (uniform when ``rng`` is None)."""
    shape = _shape(config, names)
    shares = np.ones(())
    for k, n in enumerate(shape):
        if rng is None:
            cond = np.full(shape[: k + 1], 1.0 / n)
        else:
            cond = rng.dirichlet(np.full(n, MARGIN_CONCENTRATION), size=shape[:k])
        shares = shares[..., None] * cond
    return shares * CENSUS_TOTAL


def template_study(config: SBCConfig, *, rng: np.random.Generator | None = None) -> Study:
    """A study of ``config``'s shape: fixed tables (uniform, or drawn with ``rng``),
    uniform placeholder cross-tabs and one microdata row. Cross-tabs come last, so
    they pin no margin."""
    tables = [Marginal(tuple(t), _fixed_counts(config, tuple(t), rng)) for t in config.fixed_tables]
    for tab in config.crosstabs:
        shape = _shape(config, tab)
        tables.append(Marginal(tuple(tab), np.full(shape, CENSUS_TOTAL / np.prod(shape))))
    micro = Microdata(np.zeros((1, len(config.attributes)), np.int64), np.ones(1))
    return Study(tuple(config.attributes), tuple(tables), micro, name=f"sbc-{config.name}")


def prior_draws(reps: int, *, seed: int, config: SBCConfig) -> list[dict[str, np.ndarray]]:
    """``reps`` draws of the free parameters from the model's prior (``pymc.draw``).

    Potentials (the likelihood) are ignored by forward sampling, so these are prior draws.
    """
    import pymc as pm

    from populace.models.copula import CopulaModel

    model = CopulaModel(template_study(config), model_config=dict(config.model_config)).build_model()
    # The free variables plus the loadings (deterministic when the rotation is fixed).
    free = list(model.free_RVs) + [v for v in model.deterministics if v.name.startswith("loadings_")]
    values = pm.draw(free, draws=reps, random_seed=seed)
    if reps == 1:  # pm.draw drops the draw axis for a single draw
        values = [v[None] for v in values]
    return [{rv.name: np.asarray(v[r], float) for rv, v in zip(free, values, strict=True)} for r in range(reps)]


def simulate_study(
    params: Mapping[str, np.ndarray],
    rng: np.random.Generator,
    *,
    config: SBCConfig,
    n_sample: int = 300,
    template: Study | None = None,
) -> Study:
    """A study simulated from the model's likelihood given ``params`` (module docstring).

    ``template`` (from :func:`template_study`) holds the fixed tables; by default they are
    drawn with ``rng`` first.
    """
    from populace.inference.enumerate import joint_shares
    from populace.models.copula import CopulaModel

    cfg = dict(config.model_config)
    if template is None:
        template = template_study(config, rng=rng)
    model = CopulaModel(template, model_config=cfg)
    mc = model.model_config
    s = model.structure
    pi = joint_shares(model, dict(params))  # internal axes: area, then s.names
    alpha = float(np.exp(params["log_concentration"])) if mc["dirichlet"] else None
    alpha_census = float(np.exp(params["log_census_concentration"])) if "log_census_concentration" in params else alpha
    axes = (s.geo_name, *s.names) if s.geo_name is not None else s.names
    offset = 0 if s.geo_name is not None else 1  # pi has a size-1 area axis without geography
    tables = list(template.marginals[: len(config.fixed_tables)])
    for tab in config.crosstabs:
        keep = [axes.index(n) + offset for n in tab]
        pi_t = pi.sum(axis=tuple(k for k in range(pi.ndim) if k not in keep))
        pi_t = np.transpose(pi_t, np.argsort(np.argsort(keep))).reshape(-1)  # table axis order
        p_t = _dirichlet(rng, alpha_census * pi_t) if alpha is not None and mc["census_dirichlet"] else pi_t
        counts = rng.multinomial(CENSUS_TOTAL, p_t / p_t.sum()).astype(float)
        tables.append(Marginal(tuple(tab), counts.reshape(_shape(config, tab))))
    flat = pi.reshape(-1)
    p = _dirichlet(rng, alpha * flat) if alpha is not None else flat
    n = rng.multinomial(n_sample, p / p.sum())
    cells = rng.permutation(np.repeat(np.arange(flat.size), n))
    internal = np.column_stack(np.unravel_index(cells, pi.shape))  # (rows, 1 + J)
    study_names = tuple(a.name for a in config.attributes)
    codes = np.empty((n_sample, len(study_names)), np.int64)
    for c, name in enumerate(axes):
        codes[:, study_names.index(name)] = internal[:, c + offset]
    micro = Microdata(codes, np.full(n_sample, CENSUS_TOTAL / n_sample))
    return Study(tuple(config.attributes), tuple(tables), micro, name=f"sbc-{config.name}")


def _dirichlet(rng: np.random.Generator, a: np.ndarray) -> np.ndarray:
    """``Dirichlet(a)`` by normalised gammas; cells with ``a`` below 1e-300 stay 0."""
    g = rng.standard_gamma(np.maximum(a, 1e-300))
    total = g.sum()
    if not np.isfinite(total) or total <= 0:
        raise FloatingPointError("Dirichlet draw underflowed")
    return g / total


