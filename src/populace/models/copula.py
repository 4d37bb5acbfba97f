"""The Bayesian Gaussian-copula latent-factor model with a Dirichlet layer.

Generative model (K factors, J attributes, geography g):

* ``eta ~ N(0, I_K)`` per person; integrated out by Gauss-Hermite quadrature.
* Margins are pinned to the census shares (thresholds / intercepts follow from
  them): per area for the attributes ``D`` that a census table crosses with the
  geography, nationally for the others ``A``. Attributes with no census table get
  ``shares ~ Dirichlet(free_margin_alpha)`` and are learned from the microdata.
* Areas, as MRP: ``pi(x | g) = P_g(x_D) P_g(x_A | x_D)``. The area's copula (area
  margins) gives its composition; the rest given the composition follows the national
  copula, with the latent location of each attribute in ``A`` moved by an area offset
  (``area_offsets``): ``u_g = W_g gamma + sd * z_g``, ``z_g ~ N(0, 1)``, ``sd`` per
  attribute with a penalised-complexity prior, ``W`` the study's standardised area
  predictors (if any), centred to a population-weighted mean of zero. A threshold
  attribute's thresholds move by ``u_g`` latent sds; a softmax attribute's non-reference
  intercepts by ``u_g`` logits; the thresholds / intercepts are solved over the mixture
  of areas and nodes, so that the attribute's national margin stays pinned. So an area's
  share of an attribute with only a national table follows its composition and its own
  offset, partially pooled, and an area with no sample row gets the offsets' spread as its
  uncertainty.
* Threshold attributes: raw loadings ``b_j ~ N(0, loading_sd^2)`` (rotation not
  identified by default, so convergence is judged on the rotation-invariant
  ``loading_gram``; ``rotation="lower-triangular"`` samples their LQ factor, see
  ``_loading_row``). Nominal attributes with 3+ levels: softmax loadings
  ``B_jl ~ N(0, nominal_loading_sd^2)``, reference level 0. ``loading_prior`` swaps the
  normal for a Student-t or a regularised horseshoe (opt-in, see the config).
* This defines the copula cell probabilities ``pi(x | g)``. The population's
  joint cell shares are ``p ~ Dirichlet(alpha * pi)`` with
  ``log alpha ~ N(log_concentration_mu, log_concentration_sd^2)``: the copula is the
  prior mean, and the microdata move ``p`` towards their own cell counts as the
  sample grows, so the model converges to the data instead of to a rank-K fit.
* Likelihood: complete microdata patterns by the Dirichlet-multinomial (``p``
  integrated out, weights scaled to the Kish effective size); incomplete rows by
  their copula margin; census cross-tabs by a multinomial on the copula's
  implied cells (Dirichlet-multinomial with the Dirichlet layer, see ``build_model``;
  its concentration ``log_census_concentration`` is its own unless
  ``census_concentration="joint"``).
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from populace.models import cells
from populace.models.backend import NP, PT
from populace.models.config import DEFAULT_MODEL_CONFIG, DEFAULT_SAMPLER_CONFIG, merge_config
from populace.models.dirichlet import dirichlet_multinomial_logp
from populace.models.quadrature import factor_nodes
from populace.models.structure import CensusTable, ModelStructure, Patterns, build_structure
from populace.errors import FitError
from populace.study.spec import Study

__all__ = ["CopulaModel", "Logps", "MARGIN_GAP_TOL", "bucket", "expansion_groups", "padded"]

#: A solved margin further than this from its target share means the solver stopped at its
#: iteration cap (converged solves are within about 1e-12).
MARGIN_GAP_TOL = 1e-8


class Logps(NamedTuple):
    """What :meth:`CopulaModel.attribute_logps` computes once per evaluation.

    ``area[j]`` (G, Q, L_j) for an attribute whose margins a census table pins per area,
    else None; ``national[j]`` (1, Q, L_j) for every attribute (for one with area effects,
    its areas' tables pooled by population); ``by_area[j]`` (G, Q, L_j) for the attributes
    with area effects, ``log P(level | node, area)`` with the area's offset, else None; and
    ``offsets[j]``, those offsets: (G,) in unscaled latent units for a threshold attribute,
    (G, L_j - 1) logits for a softmax one.
    """

    area: list[Any]
    national: list[Any]
    by_area: list[Any]
    offsets: list[Any]


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
        if self.model_config["census_concentration"] not in ("own", "joint"):
            raise FitError(
                f"model_config['census_concentration'] is {self.model_config['census_concentration']!r}; "
                "use 'own' (the census cross-tabs' own concentration) or 'joint' (the Dirichlet layer's)."
            )
        if self.model_config["rotation"] not in ("free", "lower-triangular"):
            raise FitError(
                f"model_config['rotation'] is {self.model_config['rotation']!r}; use 'free' (raw loadings, "
                "the default) or 'lower-triangular' (their LQ factor)."
            )
        self.structure: ModelStructure = build_structure(study)
        s = self.structure
        #: Attributes (indices into ``structure.names``) with area effects: those that no
        #: census table crosses with the geography, in a study with two areas or more.
        self.area_attrs: tuple[int, ...] = (
            tuple(j for j, m in enumerate(s.margins) if m is None)
            if self.model_config["area_effects"] and s.geo_name is not None and s.n_geo > 1
            else ()
        )
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
        if self.area_attrs:
            coords["area"] = list(self.study.attribute(s.geo_name).levels)
            if s.area_predictors is not None:
                coords["area_predictor"] = list(s.area_predictor_names)
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
        return self.structure.national[self.structure.names.index(name)] is None

    def build_model(self) -> pm.Model:
        """Build the PyMC model (priors documented in the module docstring)."""
        s, cfg = self.structure, self.model_config
        with pm.Model(coords=self.coords) as model:
            params: dict[str, Any] = {}
            row = 0  # index of the next row of the stacked loading matrix
            free_rotation = cfg["rotation"] == "free"
            horseshoe = cfg["loading_prior"] == "horseshoe"
            if horseshoe:
                # Regularised horseshoe (Piironen and Vehtari 2017) on every loading: a global
                # scale, a local scale per loading, a slab that bounds the large ones.
                hs_tau = pm.HalfNormal("loading_global_scale", cfg["horseshoe_global_sd"])
                hs_c2 = pm.InverseGamma("loading_slab2", 2.0, 2.0 * cfg["horseshoe_slab_sd"] ** 2)
            for name, link in zip(s.names, s.link, strict=True):
                sd = cfg["nominal_loading_sd"] if link == "softmax" else cfg["loading_sd"]
                dims = (f"{name}_contrast", "factor") if link == "softmax" else ("factor",)
                if horseshoe:
                    z = pm.Normal(f"loadings_z_{name}", 0.0, 1.0, dims=dims)
                    lam = pm.HalfCauchy(f"loadings_local_{name}", 1.0, dims=dims)
                    scale = hs_tau * pt.sqrt(hs_c2 * lam**2 / (hs_c2 + hs_tau**2 * lam**2))
                    params[f"loadings_{name}"] = pm.Deterministic(f"loadings_{name}", z * scale * (sd / cfg["loading_sd"]), dims=dims)
                elif free_rotation and cfg["loading_prior"] == "student-t":
                    params[f"loadings_{name}"] = pm.StudentT(f"loadings_{name}", nu=cfg["loading_nu"], mu=0.0, sigma=sd, dims=dims)
                elif free_rotation:
                    params[f"loadings_{name}"] = pm.Normal(f"loadings_{name}", 0.0, sd, dims=dims)
                elif link == "softmax":
                    n_rows = self.study.attribute(name).n_levels - 1
                    rows = [self._loading_row(f"{name}_{k}", row + k, sd) for k in range(n_rows)]
                    params[f"loadings_{name}"] = pm.Deterministic(f"loadings_{name}", pt.stack(rows, axis=0), dims=dims)
                else:
                    params[f"loadings_{name}"] = pm.Deterministic(f"loadings_{name}", self._loading_row(name, row, sd), dims=dims)
                row += len(self.loading_rows_of(name))
                if cfg["curvature_sd"] and link != "softmax":
                    params[f"curvature_{name}"] = pm.Normal(f"curvature_{name}", 0.0, cfg["curvature_sd"], dims=("factor",))
                if self._free(name):
                    lev = len(self.study.attribute(name).levels)
                    params[f"shares_{name}"] = pm.Dirichlet(
                        f"shares_{name}", a=np.full(lev, cfg["free_margin_alpha"]), dims=(f"{name}_level",)
                    )
            if s.geo_name is not None and s.geo_shares is None:
                params[f"shares_{s.geo_name}"] = pm.Dirichlet(
                    f"shares_{s.geo_name}", a=np.ones(s.n_geo), dims=(f"{s.geo_name}_level",)
                )
            for j in self.area_attrs:
                name = s.names[j]
                dims: tuple[str, ...] = ("area", f"{name}_contrast") if s.link[j] == "softmax" else ("area",)
                params[f"area_sd_{name}"] = pm.Exponential(f"area_sd_{name}", -math.log(cfg["area_sd_tail"]) / cfg["area_sd"])
                params[f"area_z_{name}"] = pm.Normal(f"area_z_{name}", 0.0, 1.0, dims=dims)
                if s.area_predictors is not None:
                    params[f"area_coef_{name}"] = pm.Normal(
                        f"area_coef_{name}", 0.0, cfg["area_coef_sd"], dims=("area_predictor", *dims[1:])
                    )
            if cfg["dirichlet"]:
                log_alpha = pm.Normal("log_concentration", cfg["log_concentration_mu"], cfg["log_concentration_sd"])
                pm.Deterministic("concentration", pt.exp(log_alpha))
                log_alpha_census = log_alpha
                if cfg["census_dirichlet"] and cfg["census_concentration"] == "own" and s.crosstabs:
                    log_alpha_census = pm.Normal(
                        "log_census_concentration", cfg["log_concentration_mu"], cfg["log_concentration_sd"]
                    )
            pm.Deterministic("loading_gram", self.gram(params, PT), dims=("loading_row", "loading_row_bis"))

            logps = self.attribute_logps(params, PT)
            log_geo = pt.log(self._geo_shares(params, PT))
            complete, incomplete = padded(s.complete, s), padded(s.incomplete, s)
            if complete.counts.size:
                log_pi = self.logp_given_area(logps, complete.geo, complete.codes, PT)
                log_pi = log_pi + log_geo[PT.data(complete.geo)]
                n = PT.data(complete.counts)
                if cfg["dirichlet"]:
                    pm.Potential("microdata_complete", dirichlet_multinomial_logp(log_alpha, log_pi, n))
                else:
                    pm.Potential("microdata_complete", pt.sum(n * log_pi))
            if incomplete.counts.size:
                lp = self.patterns_logp(logps, log_geo, incomplete, PT)
                pm.Potential("microdata_incomplete", pt.sum(PT.data(incomplete.counts) * lp))
            for i, (tab, table) in enumerate(zip(s.crosstabs, s.census_crosstabs, strict=True)):
                lp = self.table_logp(logps, log_geo, table, PT)
                if lp is None:
                    lp = self.patterns_logp(logps, log_geo, tab, PT)
                n = PT.data(cfg["census_weight"] * tab.counts)
                if cfg["dirichlet"] and cfg["census_dirichlet"]:
                    # The census observes an aggregate of p ~ Dirichlet(alpha * pi) exactly, and
                    # aggregates of a Dirichlet are Dirichlet: the table's shares follow
                    # Dirichlet(alpha * pi_table). Its Dirichlet-multinomial (counts N * shares)
                    # measures how far the copula misses the census cross-tab, instead of
                    # pretending the copula is exact with N = population size. Its own
                    # concentration by default (see DEFAULT_MODEL_CONFIG).
                    ll = dirichlet_multinomial_logp(log_alpha_census, lp, n)
                else:
                    ll = pt.sum(n * lp)
                pm.Potential(f"census_crosstab_{i}", ll)
        self.model = model
        return model

    def loading_rows_of(self, name: str) -> list[str]:
        """The rows of the loading matrix that belong to attribute ``name``."""
        return [r for r in self.loading_rows if r == name or r.startswith(f"{name}=")]

    def _loading_row(self, label: str, row: int, sd: float) -> Any:
        """One row of the LQ factor of the loading matrix (``rotation="lower-triangular"``).

        The stacked loading matrix ``Lambda = L Q`` (``Q`` orthogonal, ``L`` lower
        triangular in its first K rows with a positive diagonal) has the same likelihood for
        every ``Q``. Sampling ``L`` removes that continuous symmetry (a ring of equal
        density that NUTS otherwise has to travel: 250+ leapfrog steps per draw on anes).
        Since each row is isotropic and independent of the others, its coordinates in the
        frame of the previous rows are again ``N(0, sd^2)``, except the diagonal,
        ``l_rr = sd * chi_{K - r}`` (Bartlett): the prior of every rotation-invariant
        quantity (``loading_gram``, the cells) is unchanged.
        """
        k = self.nodes.shape[1]
        if row >= k:
            return pm.Normal(f"loadings_row_{label}", 0.0, sd, shape=(k,))
        parts = []
        if row > 0:
            parts.append(pm.Normal(f"loadings_lower_{label}", 0.0, sd, shape=(row,)))
        chi2 = pm.ChiSquared(f"loadings_diag2_{label}", nu=k - row)
        parts.append(sd * pt.sqrt(chi2)[None])
        if row + 1 < k:
            parts.append(pt.zeros((k - row - 1,)))
        return pt.concatenate(parts)

    # ------------------------------------------------------------ shared math
    def attribute_logps(self, params: dict[str, Any], xp: Any) -> Logps:
        """Per attribute ``log P(level | node)`` at area and at national margins, and per area
        for the attributes with area effects (:class:`Logps`).

        Threshold attributes are solved in batches (:func:`cells.threshold_solve`), softmax
        ones one by one. An attribute with area effects has its thresholds / intercepts
        solved over the mixture of areas (population weights) and nodes, with each area's
        offset in place (:func:`cells.threshold_mixture_logps`): its national margin stays
        the census's (or its learned shares) whatever the offsets.
        """
        s = self.structure
        n = len(s.names)
        area: list[Any] = [None] * n
        national: list[Any] = [None] * n
        by_area: list[Any] = [None] * n
        offsets = self.area_offsets(params, xp)
        log_w_geo = self._log_area_weights()
        thr = [j for j, link in enumerate(s.link) if link != "softmax"]
        for j in sorted(set(range(n)) - set(thr)):
            b = params[f"loadings_{s.names[j]}"]
            shares = self._national_shares(j, params)[None, :]
            if j in self.area_attrs:
                by_area[j] = cells.softmax_mixture_logp(b, shares, offsets[j], s.n_levels[j], self.nodes, log_w_geo, self.log_w, xp)
            else:
                national[j] = cells.softmax_logp(b, shares, self.nodes, self.log_w, xp)
            if s.margins[j] is not None:
                area[j] = cells.softmax_logp(b, s.margins[j], self.nodes, self.log_w, xp)
        for batch, shares_of, out in (
            ([j for j in thr if j not in self.area_attrs], lambda j: self._national_shares(j, params)[None, :], national),
            ([j for j in thr if s.margins[j] is not None], lambda j: s.margins[j], area),
        ):
            if not batch:
                continue
            n_lev = [s.n_levels[j] for j in batch]
            b = xp.stack([self._threshold_loadings(j, params, xp) for j in batch], axis=0)
            shares = _stack_padded([shares_of(j) for j in batch], n_lev, xp)
            lp, _, _ = cells.threshold_solve(b, shares, n_lev, self.features, self.log_w, xp)
            for i, j in enumerate(batch):
                out[j] = lp[i, :, :, : s.n_levels[j]]
        mixed = [j for j in thr if j in self.area_attrs]
        if mixed:
            n_lev = [s.n_levels[j] for j in mixed]
            b = xp.stack([self._threshold_loadings(j, params, xp) for j in mixed], axis=0)
            shares = _stack_padded([self._national_shares(j, params)[None, :] for j in mixed], n_lev, xp)
            shift = xp.stack([offsets[j] for j in mixed], axis=0)
            lp = cells.threshold_mixture_logps(xp.dot(b, self.features.T), shift, shares, n_lev, log_w_geo, self.log_w, xp)
            for i, j in enumerate(mixed):
                by_area[j] = lp[i, :, :, : s.n_levels[j]]
        for j in self.area_attrs:  # the nation's table: the areas' pooled by population
            national[j] = xp.logsumexp(log_w_geo[:, None, None] + by_area[j], axis=0)[None]
        return Logps(area, national, by_area, offsets)

    def _log_area_weights(self) -> np.ndarray:
        """Log population weights of the areas (G,), constants of the margin solves: the census
        area shares where a table gives them; with learned area shares the solve weighs the
        areas equally (an approximation: the solvers' weights are constants)."""
        s = self.structure
        w = np.asarray(s.geo_shares, float) if s.geo_shares is not None else np.full(s.n_geo, 1.0 / s.n_geo)
        return np.log(np.maximum(w / w.sum(), 1e-300))

    @property
    def features(self) -> np.ndarray:
        """What threshold attributes load on at each node: the factors, and with curvature
        their centred squares ``(eta_k^2 - 1) / sqrt(2)`` (unit variance, uncorrelated with
        the factors under the quadrature), so that a latent location can bend (an
        inverted U of income in age)."""
        if not self.model_config["curvature_sd"]:
            return self.nodes
        return np.concatenate([self.nodes, (self.nodes**2 - 1.0) / math.sqrt(2.0)], axis=1)

    def _threshold_loadings(self, j: int, params: dict[str, Any], xp: Any) -> Any:
        """A threshold attribute's loadings on :attr:`features`."""
        name = self.structure.names[j]
        b = params[f"loadings_{name}"]
        if not self.model_config["curvature_sd"]:
            return b
        return xp.concatenate([b, params[f"curvature_{name}"]], axis=0)

    def area_offsets(self, params: dict[str, Any], xp: Any) -> list[Any]:
        """Per attribute, its area offsets on the scale it is shifted on (:class:`Logps`), or
        None: ``W gamma + sd * z``, centred to a population-weighted mean of zero (a common
        shift would only move the thresholds, which the margin solve sets). A threshold
        attribute's offsets are in latent sds (the prior's scale), times ``sqrt(1 + |b|^2)``
        here."""
        s = self.structure
        out: list[Any] = [None] * len(s.names)
        if not self.area_attrs:
            return out
        geo = self._geo_shares(params, xp)
        for j in self.area_attrs:
            name = s.names[j]
            u = params[f"area_sd_{name}"] * params[f"area_z_{name}"]
            if s.area_predictors is not None:
                u = u + xp.dot(s.area_predictors, params[f"area_coef_{name}"])
            u = u - xp.dot(geo, u)  # (G,) or (G, L - 1): the weighted mean is a row
            if s.link[j] != "softmax":
                b = self._threshold_loadings(j, params, xp)
                u = u * xp.sqrt(1.0 + xp.sum(b * b))
            out[j] = u
        return out

    def area_tables(self, logps: Logps, j: int, areas: np.ndarray, xp: Any) -> Any:
        """(U, Q, L_j) ``log P(level | node, area)`` of an attribute with area effects, for
        the areas ``areas`` (U,)."""
        return logps.by_area[j][xp.fixed(areas)]

    def margin_gap(self, params: dict[str, Any], logps: Logps | None = None) -> float:
        """Largest gap between a solved margin and its target share, over attributes, areas
        and levels (numpy). The margin solvers stop at an iteration cap; this is how a
        caller learns that one stopped short (:data:`MARGIN_GAP_TOL`)."""
        s = self.structure
        p = {k: np.asarray(v, float) for k, v in params.items()}
        logps = self.attribute_logps(p, NP) if logps is None else logps
        w = np.exp(self.log_w)
        gap = 0.0
        for j in range(len(s.names)):
            pairs = [(logps.national[j], np.asarray(self._national_shares(j, p), float)[None, :])]
            if logps.area[j] is not None:
                pairs.append((logps.area[j], np.asarray(s.margins[j], float)))
            for lp, target in pairs:
                margin = np.einsum("q,gql->gl", w, np.exp(np.asarray(lp, float)))
                gap = max(gap, float(np.abs(margin - target).max()))
        return gap

    def _national_shares(self, j: int, params: dict[str, Any]) -> Any:
        nat = self.structure.national[j]
        return nat if nat is not None else params[f"shares_{self.structure.names[j]}"]

    def _geo_shares(self, params: dict[str, Any], xp: Any) -> Any:
        s = self.structure
        if s.geo_shares is not None:
            return s.geo_shares
        return params[f"shares_{s.geo_name}"]

    def gram(self, params: dict[str, Any], xp: Any) -> Any:
        """The rotation-invariant Gram matrix of the standardised loadings (``loading_gram``)."""
        rows = []
        curved = bool(self.model_config["curvature_sd"])
        for j, (name, link) in enumerate(zip(self.structure.names, self.structure.link, strict=True)):
            if link == "softmax":
                b = params[f"loadings_{name}"]
                rows.append(xp.concatenate([b, xp.zeros_like(b)], axis=1) if curved else b)
            else:
                b = self._threshold_loadings(j, params, xp)
                rows.append((b / xp.sqrt(1.0 + xp.sum(b * b)))[None, :])
        lam = xp.concatenate(rows, axis=0)
        return lam @ lam.T

    def logp_given_area(self, logps: Logps, geo: np.ndarray, codes: np.ndarray, xp: Any) -> Any:
        """``log P(x_obs | area)`` of patterns with known area, shape (R,).

        The area's copula (margins pinned per area) gives the area attributes ``D``;
        the national copula gives the rest ``A`` given ``D``, the MRP assumption
        ``P(x_A | x_D, area) = P(x_A | x_D)``::

            P(x | g) = P_g(x_D) * P_nat(x_D, x_A) / P_nat(x_D)

        Exact for patterns that observe all of ``D`` or none of ``A``
        (:meth:`patterns_logp` expands the others). Without area tables ``D`` is empty
        and this is the national copula.
        """
        s = self.structure
        in_d = np.array(s.area, dtype=bool)
        zero = np.zeros_like(geo)
        tables, rows_of = list(logps.national), None
        if self.area_attrs:
            # Attributes with area effects read the tables of the patterns' own areas (padded
            # to a bucket size, as the patterns, so that a new sample mostly keeps the shapes).
            areas, inv = np.unique(geo, return_inverse=True)
            if len(areas) < s.n_geo:
                areas = np.concatenate([areas, np.full(min(bucket(len(areas)), s.n_geo) - len(areas), areas[0])])
            rows_of = [None] * len(s.names)
            for j in self.area_attrs:
                if (codes[:, j] >= 0).any():
                    tables[j] = self.area_tables(logps, j, areas, xp)
                    rows_of[j] = (inv.reshape(-1), len(areas))
        t2 = cells.pattern_logp(tables, s.n_levels, zero, codes, self.log_w, xp, n_geo=1, rows_of=rows_of)
        codes_d = np.where(in_d[None, :], codes, -1)
        if not (codes_d >= 0).any():
            return t2
        t1 = cells.pattern_logp(logps.area, s.n_levels, geo, codes_d, self.log_w, xp, n_geo=s.n_geo)
        t3 = cells.pattern_logp(logps.national, s.n_levels, zero, codes_d, self.log_w, xp, n_geo=1)
        return t1 + t2 - t3

    def table_logp(self, logps: Logps, log_geo: Any, table: CensusTable, xp: Any) -> Any | None:
        """``log P(cell)`` of every cell of a census table (C order of its axes), or None.

        For a table of area attributes (and maybe the area), or of any attributes when
        no attribute is pinned per area, the cells are one tensor contraction over
        (area, node) of the per-attribute probabilities, far cheaper than a gather and
        log-sum-exp per cell and area. Other tables return None (use :meth:`patterns_logp`).
        """
        s = self.structure
        area, national = logps.area, logps.national
        attrs = [a - 1 for a in table.axes if a > 0]
        has_geo = 0 in table.axes
        in_d = np.array(s.area, dtype=bool)
        if set(attrs) & set(self.area_attrs):
            return None  # its cells sum over the areas' own tables
        if in_d[attrs].all() and in_d.any():
            probs = [xp.exp(area[j]) for j in attrs]  # (G, Q, L)
            n_g = s.n_geo
        elif not in_d.any():
            probs = [xp.exp(national[j]) for j in attrs]  # (1, Q, L)
            n_g = 1
        else:
            return None
        q_n = len(self.log_w)
        geo_w = xp.exp(log_geo) if n_g > 1 else xp.ones((1,))
        weight = geo_w[:, None] * np.exp(self.log_w)[None, :]  # (G, Q)
        # All but the last attribute as an outer product, weighted; with areas, the last one
        # and the sum over (area and) node as one (batched) matrix product, which keeps the
        # gradient cheap (anes 1 %: 5.3 -> 4.2 ms per gradient). Without areas the outer
        # product stays: the arrays are small, and the matrix product's gradient added 8 s
        # to gss's first compile.
        acc = weight[:, :, None] * probs[0]
        for pr in probs[1:-1]:
            acc = (acc[:, :, :, None] * pr[:, :, None, :]).reshape((n_g, q_n, -1))
        last = probs[-1] if len(probs) > 1 else None
        if has_geo and n_g > 1:
            cells_ = xp.transpose(acc, (0, 2, 1)) @ last if last is not None else xp.sum(acc, axis=1)
            cells_ = cells_.reshape((n_g, -1))  # (G, cells of the other axes)
            # Table axes order: the area may come after other axes.
            pos = table.axes.index(0)
            shape = [s.n_levels[j] for j in attrs]
            cells_ = cells_.reshape([n_g] + shape)
            perm = list(range(1, pos + 1)) + [0] + list(range(pos + 1, len(shape) + 1))
            cells_ = xp.transpose(cells_, perm).reshape((-1,))
        elif last is not None and n_g > 1:
            cells_ = xp.dot(acc.reshape((n_g * q_n, -1)).T, last.reshape((n_g * q_n, -1))).reshape((-1,))
        else:
            if last is not None:
                acc = (acc[:, :, :, None] * last[:, :, None, :]).reshape((n_g, q_n, -1))
            cells_ = xp.sum(acc.reshape((n_g * q_n, -1)), axis=0)
        return xp.log(xp.maximum(cells_, 1e-300))

    def patterns_logp(self, logps: Logps, log_geo: Any, pat: Patterns, xp: Any) -> Any:
        """``log P(pattern)``, area share included, shape (R,).

        Sums over the areas where a pattern does not give its area, and over the levels
        of missing area attributes where the pattern observes other attributes (the
        MRP product does not factor over the quadrature then).
        """
        groups = expansion_groups(pat, self.structure)
        parts, order = [], []
        for rows, geo, codes, size in groups:
            lp = self.logp_given_area(logps, geo, codes, xp) + log_geo[xp.data(geo)]
            parts.append(xp.logsumexp(lp.reshape((len(rows), size)), axis=1) if size > 1 else lp)
            order.append(rows)
        if len(parts) == 1:  # one group holds every row, in order
            return parts[0]
        # Static lengths: JAX splits the concatenation's gradient and needs constant sizes.
        parts = [part.reshape((len(rows),)) for part, rows in zip(parts, order, strict=True)]
        perm = np.argsort(np.concatenate(order))
        return xp.concatenate(parts, axis=0)[xp.data(perm)]


def _stack_padded(shares: list[Any], n_levels: list[int], xp: Any) -> Any:
    """(J, G, max L) from J (G, L_j) share arrays, zero-padded; numpy when all are numpy."""
    l_max = max(n_levels)
    if all(isinstance(a, np.ndarray) for a in shares):
        return np.stack([np.pad(a, ((0, 0), (0, l_max - a.shape[-1]))) for a in shares])
    rows = [a if n == l_max else xp.concatenate([a, xp.zeros((1, l_max - n))], axis=1) for a, n in zip(shares, n_levels)]
    return xp.stack(rows, axis=0)


#: Most expanded rows :func:`expansion_groups` builds before refusing.
MAX_EXPANDED = 5_000_000


def _group_keys(pat: Patterns, s: ModelStructure) -> tuple[np.ndarray, np.ndarray]:
    """``(keys, inv)``: the distinct rows of (area unknown, area attributes to sum out) of
    ``pat``'s patterns, and each pattern's index into them."""
    in_d = np.array(s.area, dtype=bool)
    geo_missing = (pat.geo < 0) & (s.n_geo > 1)
    observed = pat.codes >= 0
    needs_d = observed[:, ~in_d].any(axis=1)[:, None] & ~observed & in_d[None, :]
    keys = np.column_stack([geo_missing, needs_d]).astype(np.int8)
    uniq, inv = np.unique(keys, axis=0, return_inverse=True)
    return uniq, inv.reshape(-1)


def bucket(n: int) -> int:
    """The smallest of 0, 8 and ``ceil(2^(k/4))`` (k > 12) at least ``n``: sizes 19 % apart."""
    if n <= 8:
        return 0 if n == 0 else 8
    k = math.floor(4 * math.log2(n)) - 1
    while math.ceil(2 ** (k / 4)) < n:
        k += 1
    return math.ceil(2 ** (k / 4))


def padded(pat: Patterns, s: ModelStructure) -> Patterns:
    """``pat`` with zero-count copies of one pattern of each group of :func:`expansion_groups`,
    so that each group holds a :func:`bucket` number of patterns.

    JAX compiles the log density for its arrays' shapes; so a new sample of the same study
    (a few patterns more or fewer) mostly reuses the compiled function. A copy adds nothing
    to the log density: ``0 * log p`` to the multinomial terms, and
    nothing to the Dirichlet-multinomial (:func:`~populace.models.dirichlet.dirichlet_multinomial_logp`).
    """
    if not pat.counts.size:
        return pat
    keys, inv = _group_keys(pat, s)
    take, counts = [], []
    for k in range(len(keys)):
        rows = np.flatnonzero(inv == k)
        extra = bucket(len(rows)) - len(rows)
        take += [rows, np.full(extra, rows[0])]
        counts += [pat.counts[rows], np.zeros(extra, dtype=pat.counts.dtype)]
    take_ = np.concatenate(take)
    return Patterns(geo=pat.geo[take_], codes=pat.codes[take_], counts=np.concatenate(counts))


def expansion_groups(pat: Patterns, s: ModelStructure) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, int]]:
    """Patterns grouped by what must be summed out, each expanded to known-area rows.

    Returns ``(rows, geo, codes, size)`` per group: ``rows`` index ``pat``; every pattern
    becomes ``size`` consecutive expanded rows (its unknown area, and its missing area
    attributes when it observes a non-area attribute, enumerated).
    """
    uniq, inv = _group_keys(pat, s)
    groups, total = [], 0
    for k, key in enumerate(uniq):
        rows = np.flatnonzero(inv == k)
        axes_levels = []
        if key[0]:
            axes_levels.append((-1, s.n_geo))
        axes_levels += [(j, s.n_levels[j]) for j in np.flatnonzero(key[1:])]
        grid = np.indices([n for _, n in axes_levels]).reshape(len(axes_levels), -1).T if axes_levels else np.zeros((1, 0), int)
        size = len(grid)
        total += size * len(rows)
        if total > MAX_EXPANDED:
            raise FitError(
                f"a census table or microdata pattern needs {total:,}+ expanded cells (areas x levels of "
                "missing area attributes), more than this version sums over. Fix: give the microdata's "
                "area and area attributes, or cross the table with them."
            )
        geo = np.repeat(np.where(pat.geo[rows] < 0, 0, pat.geo[rows]), size)
        codes = np.repeat(pat.codes[rows], size, axis=0)
        for c, (j, _) in enumerate(axes_levels):
            fill = np.tile(grid[:, c], len(rows))
            if j < 0:
                geo = fill
            else:
                codes[:, j] = fill
        groups.append((rows, geo, codes, size))
    return groups
