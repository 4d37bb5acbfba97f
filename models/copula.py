"""The Bayesian Gaussian-copula latent-factor model with a Dirichlet layer.

Generative model (K factors, J attributes, geography g):

* ``eta ~ N(0, I_K)`` per person; integrated out by Gauss-Hermite quadrature.
* Attribute margins per geography are pinned to the census shares (thresholds /
  intercepts follow from them); attributes with no census table get
  ``shares ~ Dirichlet(free_margin_alpha)`` and are learned from the microdata.
* Threshold attributes: raw loadings ``b_j ~ N(0, loading_sd^2)`` (unconstrained:
  rotation is not identified, so convergence is judged on the rotation-invariant
  ``loading_gram``). Nominal attributes with 3+ levels: softmax loadings
  ``B_jl ~ N(0, nominal_loading_sd^2)``, reference level 0.
* This defines the copula cell probabilities ``pi(x | g)``. The population's
  joint cell shares are ``p ~ Dirichlet(alpha * pi)`` with
  ``log alpha ~ N(log_concentration_mu, log_concentration_sd^2)``: the copula is the
  prior mean, and the microdata move ``p`` towards their own cell counts as the
  sample grows, so the model converges to the data instead of to a rank-K fit.
* Likelihood: complete microdata patterns by the Dirichlet-multinomial (``p``
  integrated out, weights scaled to the Kish effective size); incomplete rows by
  their copula margin; census cross-tabs by a multinomial on the copula's
  implied cells (Dirichlet-multinomial with the Dirichlet layer, see ``build_model``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from populace.models import cells
from populace.models.backend import NP, PT
from populace.models.config import DEFAULT_MODEL_CONFIG, DEFAULT_SAMPLER_CONFIG, merge_config
from populace.models.quadrature import factor_nodes
from populace.models.structure import ModelStructure, Patterns, build_structure
from populace.errors import FitError
from populace.study.spec import Study

__all__ = ["CopulaModel", "MAX_JOINT_CELLS"]

# Personas are drawn from the enumerated joint; G * Q * cells floats must fit in memory.
MAX_JOINT_CELLS = 20_000_000


class CopulaModel:
    """Gaussian-copula factor model of a study (pymc-marketing ``ModelBuilder`` style).

    Parameters
    ----------
    study
        The census tables and microdata.
    model_config
        Overrides of :data:`populace.models.config.DEFAULT_MODEL_CONFIG`.
    sampler_config
        Overrides of :data:`populace.models.config.DEFAULT_SAMPLER_CONFIG`.

    Examples
    --------
    >>> model = CopulaModel(study, model_config={"factors": 3})  # doctest: +SKIP
    >>> fit = model.fit(seed=1)                                 # doctest: +SKIP
    """

    default_model_config = DEFAULT_MODEL_CONFIG
    default_sampler_config = DEFAULT_SAMPLER_CONFIG

    def __init__(
        self,
        study: Study,
        *,
        model_config: dict[str, Any] | None = None,
        sampler_config: dict[str, Any] | None = None,
    ) -> None:
        self.study = study
        self.model_config = merge_config(DEFAULT_MODEL_CONFIG, model_config, what="model_config")
        self.sampler_config = merge_config(DEFAULT_SAMPLER_CONFIG, sampler_config, what="sampler_config")
        self.structure: ModelStructure = build_structure(study)
        k = int(self.model_config["factors"])
        self.nodes, self.log_w = factor_nodes(k, self.model_config["quadrature"], int(self.model_config["quadrature_nodes"]))
        self.model: pm.Model | None = None

    # ------------------------------------------------------------------ graph
    @property
    def coords(self) -> dict[str, list[str]]:
        s = self.structure
        coords: dict[str, list[str]] = {"factor": [f"f{i}" for i in range(self.nodes.shape[1])]}
        for name, link in zip(s.names, s.link, strict=True):
            levels = list(self.study.attribute(name).levels)
            if link == "softmax":
                coords[f"{name}_contrast"] = levels[1:]
            if self._free(name):
                coords[f"{name}_level"] = levels
        if s.geo_name is not None and s.geo_shares is None:
            coords[f"{s.geo_name}_level"] = list(self.study.attribute(s.geo_name).levels)
        coords["loading_row"] = self.loading_rows
        coords["loading_row_bis"] = self.loading_rows
        return coords

    @property
    def loading_rows(self) -> list[str]:
        rows = []
        for name, link in zip(self.structure.names, self.structure.link, strict=True):
            if link == "softmax":
                rows += [f"{name}={lev}" for lev in self.study.attribute(name).levels[1:]]
            else:
                rows.append(name)
        return rows

    def _free(self, name: str) -> bool:
        return self.structure.margins[self.structure.names.index(name)] is None

    def build_model(self) -> pm.Model:
        """Build the PyMC model (priors documented in the module docstring)."""
        s, cfg = self.structure, self.model_config
        with pm.Model(coords=self.coords) as model:
            params: dict[str, Any] = {}
            for name, link in zip(s.names, s.link, strict=True):
                if link == "softmax":
                    params[f"loadings_{name}"] = pm.Normal(
                        f"loadings_{name}", 0.0, cfg["nominal_loading_sd"], dims=(f"{name}_contrast", "factor")
                    )
                else:
                    params[f"loadings_{name}"] = pm.Normal(
                        f"loadings_{name}", 0.0, cfg["loading_sd"], dims=("factor",)
                    )
                if self._free(name):
                    lev = len(self.study.attribute(name).levels)
                    params[f"shares_{name}"] = pm.Dirichlet(
                        f"shares_{name}", a=np.full(lev, cfg["free_margin_alpha"]), dims=(f"{name}_level",)
                    )
            if s.geo_name is not None and s.geo_shares is None:
                params[f"shares_{s.geo_name}"] = pm.Dirichlet(
                    f"shares_{s.geo_name}", a=np.ones(s.n_geo), dims=(f"{s.geo_name}_level",)
                )
            if cfg["dirichlet"]:
                log_alpha = pm.Normal("log_concentration", cfg["log_concentration_mu"], cfg["log_concentration_sd"])
                pm.Deterministic("concentration", pt.exp(log_alpha))
            pm.Deterministic("loading_gram", self.gram(params, PT), dims=("loading_row", "loading_row_bis"))

            logps = self.attribute_logps(params, PT)
            log_geo = pt.log(self._geo_shares(params, PT))
            if s.complete.counts.size:
                log_pi = cells.pattern_logp(logps, s.n_levels, s.complete.geo, s.complete.codes, self.log_w, PT)
                log_pi = log_pi + log_geo[PT.data(s.complete.geo)]
                n = PT.data(s.complete.counts)
                if cfg["dirichlet"]:
                    a_pi = pt.exp(log_alpha + log_pi)
                    alpha = pt.exp(log_alpha)
                    dm = pt.gammaln(alpha) - pt.gammaln(alpha + n.sum()) + pt.sum(pt.gammaln(a_pi + n) - pt.gammaln(a_pi))
                    pm.Potential("microdata_complete", dm)
                else:
                    pm.Potential("microdata_complete", pt.sum(n * log_pi))
            for part in s.incomplete.split_by_geography():
                lp = self._patterns_logp(logps, log_geo, part, PT)
                pm.Potential(f"microdata_incomplete{'' if part.geo[0] >= 0 else '_nogeo'}", pt.sum(PT.data(part.counts) * lp))
            for i, tab in enumerate(s.crosstabs):
                lp = self._patterns_logp(logps, log_geo, tab, PT)
                n = PT.data(cfg["census_weight"] * tab.counts)
                if cfg["dirichlet"] and cfg["census_dirichlet"]:
                    # The census observes an aggregate of p ~ Dirichlet(alpha * pi) exactly, and
                    # aggregates of a Dirichlet are Dirichlet: the table's shares follow
                    # Dirichlet(alpha * pi_table). Its Dirichlet-multinomial (counts N * shares)
                    # measures how far the copula misses the census cross-tab, which informs
                    # alpha, instead of pretending the copula is exact with N = population size.
                    a_pi = pt.exp(log_alpha + lp)
                    alpha = pt.exp(log_alpha)
                    ll = pt.gammaln(alpha) - pt.gammaln(alpha + n.sum()) + pt.sum(pt.gammaln(a_pi + n) - pt.gammaln(a_pi))
                else:
                    ll = pt.sum(n * lp)
                pm.Potential(f"census_crosstab_{i}", ll)
        self.model = model
        return model

    # ------------------------------------------------------------ shared math
    def attribute_logps(self, params: dict[str, Any], xp: Any) -> list[Any]:
        """Per attribute ``log P(level | geography, node)``, shape (G, Q, L)."""
        s = self.structure
        out = []
        for name, link, margin in zip(s.names, s.link, s.margins, strict=True):
            shares = margin if margin is not None else xp.stack([params[f"shares_{name}"]] * s.n_geo)
            b = params[f"loadings_{name}"]
            if link == "softmax":
                out.append(cells.softmax_logp(b, shares, self.nodes, self.log_w, xp))
            else:
                out.append(cells.threshold_logp(b, shares, self.nodes, self.log_w, xp))
        return out

    def _geo_shares(self, params: dict[str, Any], xp: Any) -> Any:
        s = self.structure
        if s.geo_shares is not None:
            return s.geo_shares
        return params[f"shares_{s.geo_name}"]

    def gram(self, params: dict[str, Any], xp: Any) -> Any:
        """The rotation-invariant Gram matrix of the standardised loadings (``loading_gram``)."""
        rows = []
        for name, link in zip(self.structure.names, self.structure.link, strict=True):
            b = params[f"loadings_{name}"]
            if link == "softmax":
                rows.append(b)
            else:
                rows.append((b / xp.sqrt(1.0 + xp.sum(b * b)))[None, :])
        lam = xp.concatenate(rows, axis=0)
        return lam @ lam.T

    def _patterns_logp(self, logps: list[Any], log_geo: Any, pat: Patterns, xp: Any) -> Any:
        """log P(pattern), summing over geography where a pattern does not give it."""
        s = self.structure
        known = pat.geo >= 0
        if known.all():
            return cells.pattern_logp(logps, s.n_levels, pat.geo, pat.codes, self.log_w, xp) + log_geo[xp.data(pat.geo)]
        if s.n_geo == 1:
            g0 = np.zeros_like(pat.geo)
            return cells.pattern_logp(logps, s.n_levels, g0, pat.codes, self.log_w, xp)
        if known.any():
            raise NotImplementedError("patterns mixing known and unknown geography")
        r = len(pat.geo)
        geo = np.repeat(np.arange(s.n_geo)[None, :], r, axis=0).reshape(-1)
        codes = np.repeat(pat.codes, s.n_geo, axis=0)
        lp = cells.pattern_logp(logps, s.n_levels, geo, codes, self.log_w, xp).reshape((r, s.n_geo))
        return xp.logsumexp(lp + log_geo[None, :], axis=1)

    def check_enumerable(self) -> None:
        """Raise :class:`FitError` if the joint is too big to enumerate for generation."""
        cells_ = int(np.prod(self.structure.joint_shape))
        if cells_ * len(self.log_w) > MAX_JOINT_CELLS:
            raise FitError(
                f"the joint has {cells_:,} cells x {len(self.log_w)} quadrature nodes, more than this "
                f"version enumerates ({MAX_JOINT_CELLS:,}). Fix: use fewer attributes, coarser levels, "
                "or fewer factors / quadrature nodes."
            )

    def joint(self, params: dict[str, np.ndarray]) -> np.ndarray:
        """Copula joint shares ``pi(g, x)`` over every cell, shape (G, L_1..L_J)."""
        logps = self.attribute_logps(params, NP)
        lj = cells.joint_logp(logps, self.log_w)
        geo = np.asarray(self._geo_shares(params, NP), float)
        return np.exp(lj) * geo.reshape((-1,) + (1,) * len(self.structure.names))
