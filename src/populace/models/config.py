"""Default configurations of the copula model and of its samplers (JSON-able dicts)."""

from __future__ import annotations

from typing import Any

__all__ = ["DEFAULT_MODEL_CONFIG", "DEFAULT_SAMPLER_CONFIG", "merge_config"]

DEFAULT_MODEL_CONFIG: dict[str, Any] = {
    # Number of latent factors K. On gss at 1 % K = 3 beat K = 2 on every
    # metric (SRMSE2 0.078 vs 0.090, 2-way coverage 0.82 vs 0.75); K = 4 did not help.
    "factors": 3,
    # Quadrature over the factors: "gauss-hermite" with quadrature_nodes per
    # factor, or "qmc" with quadrature_nodes in total. The nodes define the model
    # (margins are matched on them exactly); fewer only coarsen the dependence. At K = 3,
    # 3 per factor (27 nodes) moved no fidelity figure beyond fit-to-fit noise on gss or
    # anes against 5 (125 nodes) and cut the anes gradient 4-6x
    # (benchmarks/results/quadrature_nodes.md).
    "quadrature": "gauss-hermite",
    "quadrature_nodes": 3,
    # Raw loadings b ~ N(0, loading_sd^2). The implied latent correlation
    # b_i.b_j / sqrt((1+|b_i|^2)(1+|b_j|^2)) is centred on 0; sd 1 put most prior
    # mass on strong correlations and invented dependence (race x abany), 0.5 does not.
    # 0.4 (nominal 0.6) mixed better (smallest ESS up on gss and anes over seeds 1-6) but
    # fit anes srs 3-4 % worse in SRMSE2 / SRMSE3 (benchmarks/results/loading_sd/).
    "loading_sd": 0.5,
    # "free": sample the raw loadings, rotation unidentified (convergence is judged on
    # rotation-invariant quantities). "lower-triangular": sample their LQ factor (rotation
    # fixed, the prior of every rotation-invariant quantity unchanged, see
    # CopulaModel._loading_row). On gss 1 % it halved the leapfrog steps (15 vs 32) but mixed
    # worse (R-hat 1.021 and 1.023, ESS 81-106, in two fits), so it is not the default yet.
    "rotation": "free",
    # Prior sd of softmax loadings of nominal attributes (logit scale ~ 1.6 x probit).
    "nominal_loading_sd": 0.75,
    # Dirichlet layer: joint cells p ~ Dirichlet(alpha * pi_copula). log alpha ~ N(mu, sd).
    # alpha is the prior sample size of the copula: large alpha = trust the copula,
    # small alpha = follow the microdata cell counts.
    "dirichlet": True,
    "log_concentration_mu": 5.0,
    "log_concentration_sd": 1.5,
    # Learned margins (attributes with no census table): shares ~ Dirichlet(a).
    "free_margin_alpha": 1.0,
    # Threshold attributes may also load on the factors' centred squares (a latent location
    # that bends: income peaking in middle age), with N(0, curvature_sd^2) coefficients; 0 is
    # off. On anes srs 1 % (sd 0.5) it lifted age x income coverage from 0.15 to 0.65 but the
    # fit mixed badly (R-hat 1.12, ESS 11), so it is off.
    "curvature_sd": 0.0,
    # Loadings' prior: "normal" (N(0, loading_sd^2), nominal_loading_sd for softmax) or
    # "horseshoe" (regularised horseshoe: global scale ~ HalfNormal(horseshoe_global_sd), a
    # HalfCauchy local scale per loading, slab sd horseshoe_slab_sd; scaled like "normal").
    # On anes srs 1 % the horseshoe fit the strong pairs (race x pid7, trust x big interests)
    # and took trustgov by age x educ x race from 0.039 to 0.033 wMAE, but doubled the
    # leapfrog steps (267 s fit, 2 divergences), so it is opt-in.
    "loading_prior": "normal",
    "loading_nu": 3.0,
    "horseshoe_global_sd": 0.5,
    "horseshoe_slab_sd": 1.5,
    # Area effects (MRP): every attribute that no census table crosses with the geography
    # gets a partially pooled offset per area on its latent location (threshold shift, or
    # the non-reference softmax intercepts): u_g = W_g gamma + sd * z_g, z_g ~ N(0, 1)
    # (non-centred), gamma ~ N(0, area_coef_sd^2) on standardised area predictors W, and per
    # attribute a penalised-complexity prior sd ~ Exponential with P(sd > area_sd) =
    # area_sd_tail (Simpson et al. 2017), in latent sds (logits for softmax): an area whose
    # latent mean sits half an sd from what its composition predicts is rare.
    "area_effects": True,
    "area_sd": 0.5,
    "area_sd_tail": 0.05,
    "area_coef_sd": 0.5,
    # The pair layer (inference.pairs): at generation, each population draw is raked to a
    # posterior draw of every free 2-way table, p_ab ~ Dirichlet(alpha_ab pi_ab + n_ab),
    # log alpha_ab ~ N(mu, tau^2) pooled over the pairs, mu with the prior of
    # log_concentration, tau ~ HalfNormal(pair_tau_sd).
    "pair_layer": True,
    "pair_tau_sd": 1.0,
    # Census cross-tabs enter the likelihood with their counts times this weight,
    # by a Dirichlet-multinomial on the copula's cells (census_dirichlet, with the
    # Dirichlet layer) or a multinomial.
    "census_weight": 1.0,
    "census_dirichlet": True,
    # The concentration of that Dirichlet-multinomial: "own" (a separate one, same prior) or
    # "joint" (the Dirichlet layer's alpha). The copula misses strongly structured census
    # tables (age x educ) by more than the rest of the joint, and generation rakes to those
    # tables anyway. With "joint" that misfit set alpha (about 1,000 on anes 1 %), so the
    # personas followed the 175 sample rows' cells with weight 15 % and 2-way intervals
    # over-covered (cov90 0.96-0.97). "own" (alpha 6,000-10,000 from the microdata): cov90
    # 0.90 / 0.91, SRMSE3 0.200 / 0.220 vs 0.209 / 0.231 (srs / biased,
    # benchmarks/results/anes_nuts/ against anes_nuts_joint/, 2026-12-05).
    "census_concentration": "own",
}

#: Keys of earlier versions' model configs, ignored when an old fit is loaded
#: (intercept_iterations: the intercepts are now solved to convergence).
RETIRED_MODEL_KEYS: frozenset[str] = frozenset({"intercept_iterations"})

DEFAULT_SAMPLER_CONFIG: dict[str, Any] = {
    "method": "nuts",
    # NUTS implementation. nutpie beat PyMC's NUTS on gss 1 % in every case (fit 142 / 26 /
    # 21 s cold / warm / new sample against 168 / 41 / 37 s in the same hour, 24 leapfrog
    # steps per draw against 35; benchmarks/results/fit_time*.md).
    "sampler": "nutpie",
    # 1,000 draws: the max R-hat over the loading Gram's entries is noisy with 2 x 500. On
    # the bundled gss example, seeds 0-2: 1.008-1.013 (3 nodes) and 1.007-1.021 (5 nodes)
    # with 500; 1.003-1.006 and 1.003-1.010 with 1,000, at 1.3x the fit time.
    "draws": 1000,
    # Tuning 300 and target_accept 0.8 (nutpie's and PyMC's defaults; were 500 and 0.9): over
    # gss srs / biased and anes srs / biased 1 %, seeds 1-3, leapfrog steps per draw fell
    # from 20-22 to 17-19 (gss) and from 19-20 to 14-16 (anes), anes sampling from 26-28 s to
    # 17-19 s, the smallest bulk ESS rose on 10 of the 12 fits, every fit had 0 divergences,
    # and the worst R-hat was 1.0103 against 1.018 (benchmarks/results/sampler_settings.md).
    "tune": 300,
    "chains": 2,
    # When the reported quantities miss R-hat <= 1.01 or ess_target (bulk and tail), the fit
    # adds rounds of `chains` chains (seeded by their chain numbers, so a seed still gives
    # one fit), up to max_chains in all. extend_seconds (None: no limit) also stops it when
    # another round would not fit in that many seconds; that makes the number of rounds, and
    # so the fit, depend on the machine's speed and load, so it is off by default (with 300 s,
    # anes srs seed 1 stopped at 4 chains with R-hat 1.013 on a loaded machine, 2026-12-08).
    "ess_target": 400,
    "max_chains": 6,
    "extend_seconds": None,
    "target_accept": 0.8,
    # PyMC NUTS initialisation. "jitter+adapt_diag_grad" halved the leapfrog steps per
    # draw on anes 1 % (K = 1: 23 vs 46) but not on gss (32 vs 34), where it mixed worse
    # (demo R-hat 1.012 vs 1.004 with the same seed), so it is opt-in.
    "init": "jitter+adapt_diag",
    # sampler="nutpie": its mass matrix adaptation, "diag" or "low_rank" (nutpie's low-rank
    # modified diagonal, which adapts to posterior correlations). Over gss and anes srs /
    # biased 1 %, seeds 1-6 (JAX): anes sampling 20-25 s against 15-17 s, R-hat over 1.01 in
    # 2 of 24 fits against 4 of 24 (before the stable Dirichlet-multinomial; diag since: 2 of
    # 24; benchmarks/results/sampler_settings_jax*.md).
    "nutpie_adaptation": "diag",
    # sampler="nutpie" and method="advi": what compiles the log density and its gradient,
    # "jax" or "numba". Default NUTS fit with empty caches, gss / anes 1 %: 12 / 27 s with JAX,
    # 42 / 67 s with numba; warm: 9 / 19 s against 5 / 19 s (one gradient while sampling
    # 0.16-0.23 / 0.8 ms against 0.07 / 0.8 ms); a first ADVI fit 5.0 / 8.4 s against 39 / 50 s
    # (benchmarks/results/fit_time_*.md, 2026-12-05). JAX for the first fit of a study and
    # after any change of its shape; numba for repeated fits of one small study.
    "backend": "jax",
    # method="advi": at most advi_steps Adam steps at advi_learning_rate, stopped when the
    # loss, averaged over windows of advi_window steps, stops falling (inference/advi.py).
    # On the bundled gss study the loss plateaued after about 750 steps at 0.02; the
    # default of earlier versions (PyMC's adagrad, 1e-3) needed about 17,000.
    "advi_steps": 20_000,
    "advi_learning_rate": 0.02,
    "advi_window": 250,
}


def merge_config(default: dict[str, Any], override: dict[str, Any] | None, *, what: str) -> dict[str, Any]:
    """Default config updated by ``override``; unknown keys are an error."""
    out = dict(default)
    for key, value in (override or {}).items():
        if key not in default:
            raise KeyError(f"unknown {what} key {key!r}; known keys: {sorted(default)}")
        out[key] = value
    return out
