"""One posterior draw of the population joint ``p`` as weighted records, never the joint.

With the Dirichlet layer the posterior of the population's cell shares is
``p ~ Dirichlet(alpha * pi + n)`` (``n`` the Kish-scaled sample counts, total ``N``).
By the Gamma construction it has the law of ``B * P1 + (1 - B) * P2`` with
``B ~ Beta(alpha, N)``, ``P1 ~ Dirichlet(alpha * pi)`` and ``P2 ~ Dirichlet(n)`` on the
sample's cells, all independent. ``P1`` is the cell aggregate of a Dirichlet process
``DP(alpha, pi)``, drawn here by stick-breaking: ``V_k ~ Beta(1, alpha)``, weights
``V_k prod_{i<k} (1 - V_i)``, atoms ``x_k ~ pi`` (``inference.sampler``).

Truncation. After ``M`` sticks the mass left over is ``R_M = prod_{k<=M} (1 - V_k)``,
with ``E[R_M] = (alpha / (1 + alpha))^M``. ``M`` is chosen so that this is at most
``tail`` (default 1e-6), and the ``M`` weights are renormalised: the draw then differs
from an exact ``P1`` draw by at most ``R_M`` in total variation. Each draw records its
``R_M``.

Incomplete microdata rows are completed from this draw's ``p`` (one data-augmentation
step: each is matched to a record with its observed values, in proportion to the
record's weight), then join ``P2``. Census cells that few or no records reach get a few
records drawn from ``pi`` given that cell, with negligible weight, so that raking (the
package's one IPF, :func:`populace.inference.ipf.rake`) can give them their census mass.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from populace.inference.ipf import RakeResult, rake
from populace.inference.pairs import PairLayer, pair_targets
from populace.inference.sampler import CopulaSampler, unique_rows
from populace.models.copula import CopulaModel
from populace.study.reconcile import reconcile
from populace.study.spec import Marginal

__all__ = ["Population", "draw_population", "atoms_for_tail", "stick_breaking"]

#: Default bound on the expected stick-breaking mass dropped per draw.
TAIL = 1e-6
#: Most atoms per draw; when it binds, the dropped mass is larger than ``tail`` (recorded).
MAX_ATOMS = 2_000_000
#: Records drawn from ``pi`` given a census cell that fewer records than this reach.
SEEDS_PER_CELL = 4
#: Records drawn from ``pi`` given an area that fewer records than this reach.
SEEDS_PER_AREA = 64
#: Raking stops when every census cell share is within this of its target: far below the
#: Monte-Carlo error of any persona set (1e-6 of 330M people is 330 people).
RAKE_TOL = 1e-6
RAKE_SWEEPS = 1000
#: Most sweeps of the raking to the pair layer's targets with the census tables.
PAIR_SWEEPS = 200
#: Atoms representing ``pi`` itself when the model has no Dirichlet layer.
PI_ATOMS = 200_000


@dataclass(frozen=True, eq=False)
class Population:
    """One posterior draw of the population: records and their shares.

    ``codes`` are internal codes (column 0 the area, then the attributes in study
    order, ``(R, 1 + J)``); ``weights`` sum to one. ``dropped`` is the stick-breaking
    mass the truncation dropped (0 without the Dirichlet layer) and ``rake`` the raking
    result (None when the study has no census table or raking was not asked for).
    """

    codes: np.ndarray
    weights: np.ndarray
    n_atoms: int
    dropped: float
    rake: RakeResult | None
    #: The pair layer's drawn ``log alpha`` per free pair (``inference.pairs``; empty
    #: without it) and the largest gap left between a free pair's table and its target,
    #: relative to the total (the targets of different pairs need not agree exactly).
    pair_log_alpha: np.ndarray = field(default_factory=lambda: np.zeros(0))
    pair_gap: float = 0.0
    #: The largest gap between a solved margin of the copula and its target share
    #: (:meth:`CopulaModel.margin_gap`): beyond ``MARGIN_GAP_TOL`` a solver stopped short.
    margin_gap: float = 0.0


def atoms_for_tail(alpha: float, tail: float = TAIL) -> int:
    """Sticks ``M`` with ``E[dropped mass] = (alpha / (1 + alpha))^M <= tail``."""
    return max(1, math.ceil(math.log(tail) / -math.log1p(1.0 / alpha)))


def draw_population(
    model: CopulaModel,
    params: Mapping[str, Any],
    rng: np.random.Generator,
    *,
    rake_to_census: bool = True,
    tail: float = TAIL,
    max_atoms: int = MAX_ATOMS,
    pairs: PairLayer | None = None,
) -> Population:
    """One posterior draw of ``p`` as weighted records, raked to every census table.

    Parameters
    ----------
    model
        The fitted model's structure and configs.
    params
        One posterior draw of the parameters (``log_concentration`` included when the
        model has the Dirichlet layer).
    rng
        Source of randomness.
    rake_to_census
        Rake the records to every census table (to a posterior draw of those that state
        their error).
    tail, max_atoms
        Truncation of the stick-breaking (module docstring).
    pairs
        The model's pair layer (:func:`populace.inference.pairs.pair_layer`): the draw is
        then also raked to a posterior draw of every free pair's table.
    """
    s = model.structure
    sampler = CopulaSampler(model, params)
    sample_codes = np.column_stack([s.complete.geo, s.complete.codes]).astype(np.int16)
    n = np.asarray(s.complete.counts, float)
    if model.model_config["dirichlet"]:
        alpha = float(np.exp(np.asarray(params["log_concentration"], float)))
        m = min(atoms_for_tail(alpha, tail), max_atoms)
        w1, dropped = stick_breaking(rng, alpha, m)
        atoms = sampler.draw(rng, m)
        w1 = w1 / w1.sum()
        n_total = float(n.sum() + s.incomplete.counts.sum())
        b = rng.beta(alpha, n_total) if n_total > 0 else 1.0
        codes, weights = atoms, b * w1
        if s.incomplete.counts.size:
            p0 = np.concatenate([weights, (1.0 - b) * _dirichlet(rng, n)])
            extra_codes, extra_n = _complete(rng, sampler, np.concatenate([codes, sample_codes]), p0, s.incomplete)
            sample_codes = np.concatenate([sample_codes, extra_codes])
            n = np.concatenate([n, extra_n])
        if n.size:
            codes = np.concatenate([codes, sample_codes])
            weights = np.concatenate([weights, (1.0 - b) * _dirichlet(rng, n)])
    else:
        m, dropped = PI_ATOMS, 0.0
        codes = sampler.draw(rng, m)
        weights = np.full(m, 1.0 / m)
    result = None
    cols, names, levels = _study_columns(model)
    # Census tables with stated error: raked to a posterior draw of them, so that the
    # personas' intervals carry the census error (exact tables come back as they are).
    census = list(reconcile(model.study.marginals, rng=rng)) if rake_to_census else []
    tol = rake_tolerance(model.study.marginals)
    if census:
        codes, weights = _seed_unreached(rng, sampler, model, codes, weights, census)
    if census or pairs is not None:
        codes, weights = _merge_duplicates(codes, weights, s.joint_shape)
    if census:
        result = rake(codes[:, cols], weights, census, names, tol=tol, max_iter=RAKE_SWEEPS, levels=levels, warn=False)
        weights = result.weights
    log_alpha, gap = np.zeros(0), 0.0
    if pairs is not None and rake_to_census:
        weights = weights / weights.sum()
        targets, log_alpha = pair_targets(pairs, codes, weights, rng)
        total = census[0].total if census else 1.0
        # Pair targets first, census tables last: each sweep ends on the census, and a
        # last census-only raking makes it exact where the pairs' targets disagree.
        tables = [Marginal(ab, t * total) for ab, t in zip(pairs.names, targets, strict=True)]
        paired = rake(codes[:, cols], weights * total, tables + census, names, tol=tol, max_iter=PAIR_SWEEPS, levels=levels, warn=False)
        weights = paired.weights
        gap = paired.max_error
        if census and not paired.converged:
            result = rake(codes[:, cols], weights, census, names, tol=tol, max_iter=RAKE_SWEEPS, levels=levels, warn=False)
            weights = result.weights
        elif census:
            result = paired
    return Population(codes, weights / weights.sum(), m, dropped, result, log_alpha, gap, sampler.margin_gap)


def rake_tolerance(marginals: Sequence[Marginal]) -> float:
    """:data:`RAKE_TOL`, or with census tables that state their error, one smallest stated
    standard error (as a share of the total): a draw of noisy 2-way tables that agree on
    their shared margins need not be margins of one population (the cycle state x age,
    state x educ, age x educ), so raking can only come within about a person of all of
    them, far inside their error."""
    se = [np.asarray(m.se)[np.asarray(m.se) > 0] for m in marginals if m.se is not None]
    se = np.concatenate(se) if se else np.zeros(0)
    if not se.size:
        return RAKE_TOL
    return max(RAKE_TOL, float(se.min()) / marginals[0].total)


def stick_breaking(rng: np.random.Generator, alpha: float, m: int) -> tuple[np.ndarray, float]:
    """The first ``m`` stick-breaking weights of ``DP(alpha)``, ``w_k = V_k prod_{i<k} (1 - V_i)``
    with ``V_k ~ Beta(1, alpha)``, and the mass they leave, ``prod_{k<=m} (1 - V_k)``."""
    v = rng.beta(1.0, alpha, size=m)
    log_rest = np.cumsum(np.log1p(-v))
    w = v * np.exp(np.concatenate([[0.0], log_rest[:-1]]))
    return w, float(np.exp(log_rest[-1]))


def _merge_duplicates(codes: np.ndarray, weights: np.ndarray, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """One record per distinct cell, with the summed weight (about a fifth fewer records on
    anes 1 %): raking a discrete measure does not depend on how a cell's mass is split."""
    rows, inv = unique_rows(codes, shape)
    return rows, np.bincount(inv, weights=weights, minlength=len(rows))


def _dirichlet(rng: np.random.Generator, n: np.ndarray) -> np.ndarray:
    if n.size == 0:
        return n
    g = rng.gamma(np.maximum(n, 1e-300))
    return g / g.sum()


def _study_columns(model: CopulaModel) -> tuple[list[int], list[str], list[tuple[str, ...]]]:
    """Internal column of each study attribute, the names and the level labels."""
    s, study = model.structure, model.study
    cols = [s.column(name) for name in study.names]
    return cols, list(study.names), [study.attribute(n).levels for n in study.names]


def _complete(
    rng: np.random.Generator, sampler: CopulaSampler, codes: np.ndarray, p0: np.ndarray, inc: Any
) -> tuple[np.ndarray, np.ndarray]:
    """Complete incomplete patterns from the draw ``p0`` over ``codes``.

    A pattern of weight ``c`` is split into ``max(1, round(c))`` rows, each matched to a
    record with its observed values in proportion to the record's weight; a pattern no
    record matches is completed from ``pi`` given its observed values.
    """
    out_codes, out_n = [], []
    for g, row, c in zip(inc.geo, inc.codes, inc.counts, strict=True):
        k = max(1, int(round(float(c))))
        fixed = {j + 1: int(v) for j, v in enumerate(row) if v >= 0}
        if g >= 0:
            fixed[0] = int(g)
        match = np.ones(len(codes), dtype=bool)
        for col, v in fixed.items():
            match &= codes[:, col] == v
        w = np.where(match, p0, 0.0)
        if w.sum() > 0:
            picked = codes[rng.choice(len(codes), size=k, p=w / w.sum())]
        else:
            picked = sampler.draw(rng, k, fixed=fixed)
        out_codes.append(picked)
        out_n.append(np.full(k, float(c) / k))
    return np.concatenate(out_codes).astype(np.int16), np.concatenate(out_n)


def _seed_unreached(
    rng: np.random.Generator, sampler: CopulaSampler, model: CopulaModel, codes: np.ndarray, weights: np.ndarray,
    census: list[Marginal],
) -> tuple[np.ndarray, np.ndarray]:
    """Add records drawn from ``pi`` given each positive census cell that fewer than
    :data:`SEEDS_PER_CELL` records hold (a thin support can leave raking no exact solution)."""
    cols, names, _ = _study_columns(model)
    col_of = dict(zip(names, cols, strict=True))
    seeds = []
    s = model.structure
    live = codes[weights > 0].astype(np.int64)
    if s.n_geo > 1 and any(s.area):
        # An area's tables cross it with several attributes: raking needs records whose
        # combinations can meet all of them at once, which a handful of cell seeds may not hold.
        held = np.bincount(live[:, 0], minlength=s.n_geo)
        for g in np.flatnonzero(held < SEEDS_PER_AREA):
            seeds.append(sampler.draw(rng, SEEDS_PER_AREA, fixed={0: int(g)}))
    for m in census:
        tcols = [col_of[a] for a in m.attributes]
        held = np.bincount(np.ravel_multi_index(live[:, tcols].T, m.counts.shape), minlength=m.counts.size)
        for flat in np.flatnonzero((np.ravel(m.counts) > 0) & (held < SEEDS_PER_CELL)):
            cell = np.unravel_index(flat, m.counts.shape)
            seeds.append(sampler.draw(rng, SEEDS_PER_CELL, fixed={c: int(k) for c, k in zip(tcols, cell, strict=True)}))
    if not seeds:
        return codes, weights
    extra = np.concatenate(seeds)
    # Negligible starting mass: raking gives these records their census cell's mass.
    tiny = np.full(len(extra), 1e-12 * weights[weights > 0].min())
    return np.concatenate([codes, extra]), np.concatenate([weights, tiny])
