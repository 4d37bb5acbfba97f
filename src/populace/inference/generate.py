"""Personas from a fit: posterior predictive draws of the population, streamed in chunks.

For each posterior draw, the population ``p`` is drawn as weighted records
(``inference.atoms``: the Dirichlet layer by stick-breaking over draws from the copula,
plus the sample's cells, raked to every census table), then personas are drawn from
those records. Nothing enumerates the joint, so memory depends on the number of
records and on the chunk size, not on the number of joint cells.

Seeds: the posterior draws are picked with ``seed``; posterior draw ``d``'s population
uses the seed ``(seed, d)`` and its ``k``-th chunk of :data:`CHUNK` personas the seed
``(seed, d, k)``. A chunk's personas therefore do not depend on which process, or how
many, draws the other chunks.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from populace.atomic import atomic_dir, require_empty_dir
from populace.errors import FitError, SolverWarning
from populace.inference.atoms import Population, draw_population
from populace.inference.fit import model_from_fit, posterior_draws
from populace.inference.ipf import RakingWarning
from populace.inference.pairs import PairLayer, pair_layer
from populace.models.copula import MARGIN_GAP_TOL, CopulaModel
from populace.personas import persona_dataset
from populace.summarize import DEFAULT_DRAWS
from populace.study.provenance import provenance_json
from populace.study.serialize import study_to_dict

__all__ = [
    "sample_personas",
    "iter_personas",
    "write_personas",
    "write_personas_dataset",
    "PersonaChunk",
    "CHUNK",
    "population_draws",
]

#: Personas per chunk (fixed, so that the seeds of a chunk never depend on the caller).
CHUNK = 1_000_000


@dataclass(frozen=True, eq=False)
class PersonaChunk:
    """A block of personas of one posterior draw.

    ``codes`` maps each study attribute to level codes (int16), in study order;
    ``draw`` is the index of the posterior draw among those asked for (0 .. draws-1)
    and ``chunk`` the block's index within it.
    """

    draw: int
    chunk: int
    codes: dict[str, np.ndarray]

    @property
    def n(self) -> int:
        return len(next(iter(self.codes.values())))


@dataclass(frozen=True, eq=False)
class _Plan:
    model: CopulaModel
    post: dict[str, np.ndarray]
    picks: np.ndarray
    entropy: int
    fixed: dict[int, int]
    pairs: PairLayer | None


def _plan(fit: xr.DataTree, n: int, draws: int, seed: int | None, where: Mapping[str, str] | None) -> _Plan:
    if n < 1 or draws < 1:
        raise FitError(f"n and draws must be >= 1 (got n={n}, draws={draws}).")
    model = model_from_fit(fit)
    total, post = posterior_draws(fit)
    if draws > total:
        raise FitError(f"asked for {draws} draws but the fit stores {total}. Fix: lower --draws or refit with more.")
    entropy = int(np.random.SeedSequence(seed).entropy) if seed is None else int(seed)
    rng = np.random.default_rng(entropy)
    picks = np.sort(rng.choice(total, size=draws, replace=False))
    return _Plan(model, post, picks, entropy, _where_columns(model, where), pair_layer(model))


def population_draws(
    fit: xr.DataTree, draws: int, *, seed: int | None = 0
) -> Iterator[tuple[int, Population]]:
    """``(d, population)`` for each of ``draws`` posterior draws (see :mod:`inference.atoms`)."""
    plan = _plan(fit, 1, draws, seed, None)
    for d in range(draws):
        yield d, _population(plan, d)


def _population(plan: _Plan, d: int) -> Population:
    i = int(plan.picks[d])
    pop = draw_population(
        plan.model, {k: v[i] for k, v in plan.post.items()}, np.random.default_rng([plan.entropy, d]), pairs=plan.pairs
    )
    if pop.rake is not None and not pop.rake.converged:
        warnings.warn(f"posterior draw {d}: {pop.rake.message()}", RakingWarning, stacklevel=3)
    if not pop.margin_gap <= MARGIN_GAP_TOL:
        warnings.warn(
            f"posterior draw {d}: a margin solver stopped at its iteration cap (a margin is {pop.margin_gap:.2g} "
            "from its target share); raking still makes the census tables exact.",
            SolverWarning,
            stacklevel=3,
        )
    return pop


class _Record:
    """What each posterior draw's population recorded of its approximations (the persona
    metadata), a few numbers per draw so that memory does not grow with the populations:
    the stick-breaking mass the truncation dropped, the raking sweeps and whether raking
    converged, the margin solvers' largest gap, the pair layer's gap."""

    def __init__(self) -> None:
        self.rows: dict[int, tuple[float, int, bool, float, float]] = {}

    def __call__(self, d: int, pop: Population) -> None:
        rake = pop.rake
        self.rows[d] = (pop.dropped, 0 if rake is None else rake.n_iter, rake is None or rake.converged, pop.margin_gap, pop.pair_gap)

    def attrs(self) -> dict[str, object]:
        dropped, sweeps, raked, gap, pair_gap = (list(c) for c in zip(*(self.rows[d] for d in sorted(self.rows)), strict=True))
        return {
            "stick_breaking_dropped_mass": dropped,
            "stick_breaking_dropped_mass_max": max(dropped),
            "raking_sweeps": sweeps,
            "draws_not_raked_to_convergence": len(raked) - sum(raked),
            "margin_gap": gap,
            "pair_gap": pair_gap,
        }


def iter_personas(
    fit: xr.DataTree,
    n: int,
    *,
    draws: int = DEFAULT_DRAWS,
    seed: int | None = 0,
    where: Mapping[str, str] | None = None,
    on_population: Callable[[int, Population], None] | None = None,
) -> Iterator[PersonaChunk]:
    """Personas in chunks of at most :data:`CHUNK`: ``n`` per posterior draw, draw by draw.

    Parameters are those of :func:`sample_personas`; ``on_population`` is called with
    each posterior draw's population (for progress and reports). Memory is bounded by
    one population's records plus one chunk, whatever ``n`` and ``draws`` are.
    """
    yield from _iter(_plan(fit, n, draws, seed, where), n, on_population)


def _iter(plan: _Plan, n: int, on_population: Callable[[int, Population], None] | None = None) -> Iterator[PersonaChunk]:
    for d in range(len(plan.picks)):
        pop = _population(plan, d)
        if on_population is not None:
            on_population(d, pop)
        yield from _chunks(plan, d, pop, n)


def _chunks(plan: _Plan, d: int, pop: Population, n: int) -> Iterator[PersonaChunk]:
    w = pop.weights
    if plan.fixed:
        keep = np.ones(len(w), dtype=bool)
        for col, level in plan.fixed.items():
            keep &= pop.codes[:, col] == level
        w = np.where(keep, w, 0.0)
        if w.sum() <= 0:
            raise FitError(f"no population mass where {_where_text(plan)} in posterior draw {d}.")
    cdf = np.cumsum(w)
    cdf /= cdf[-1]
    s, study = plan.model.structure, plan.model.study
    cols = [s.column(name) for name in study.names]
    for k, start in enumerate(range(0, n, CHUNK)):
        size = min(CHUNK, n - start)
        rng = np.random.default_rng([plan.entropy, d, k])
        idx = np.minimum(np.searchsorted(cdf, rng.random(size), side="right"), len(cdf) - 1)
        rows = pop.codes[idx]
        yield PersonaChunk(d, k, {name: rows[:, c].astype(np.int16) for name, c in zip(study.names, cols, strict=True)})


def sample_personas(
    fit: xr.DataTree,
    n: int,
    *,
    draws: int = DEFAULT_DRAWS,
    seed: int | None = 0,
    where: Mapping[str, str] | None = None,
) -> xr.Dataset:
    """Draw ``n`` personas for each of ``draws`` posterior draws, in memory.

    For each posterior draw of the copula parameters and concentration ``alpha``,
    the population's cell shares are drawn from their posterior
    ``Dirichlet(alpha * pi + n_sample)`` (as weighted records, never the joint),
    raked to every census table (the census is exact), and ``n`` personas are
    drawn from them. For large ``n * draws`` use :func:`iter_personas` or
    :func:`populace.inference.write_personas`, which stream.

    Parameters
    ----------
    fit
        A fit from :func:`populace.inference.fit` or :func:`load_fit`.
    n
        Personas per draw.
    draws
        Posterior draws (spread over the chains; at most the number stored).
    seed
        The same seed gives the same personas.
    where
        Restrict to personas with ``attribute == level`` (e.g. ``{"state": "Ohio"}``).

    Returns
    -------
    xarray.Dataset
        Dims ``(draw, persona)``; one integer-coded variable per attribute
        (labels in each variable's ``levels`` attribute).
    """
    plan = _plan(fit, n, draws, seed, where)
    study = plan.model.study
    codes = {name: np.empty((draws, n), dtype=np.int16) for name in study.names}
    record = _Record()
    for chunk in _iter(plan, n, record):
        start = chunk.chunk * CHUNK
        for name, arr in chunk.codes.items():
            codes[name][chunk.draw, start : start + chunk.n] = arr
    return persona_dataset(codes, study, attrs=_attrs(plan, where) | record.attrs())


def _attrs(plan: _Plan, where: Mapping[str, str] | None) -> dict[str, object]:
    """What a persona set records of how it was drawn, and its study (JSON), so that every
    persona format can be read back without the fit (`populace cards`)."""
    return {
        "method": "populace copula",
        "seed": plan.entropy,
        "posterior_draws": plan.picks.tolist(),
        "where": "" if not where else ",".join(f"{k}={v}" for k, v in where.items()),
        "study": json.dumps(study_to_dict(plan.model.study)),
        # Which census tables and surveys each attribute's information came from.
        "provenance": provenance_json(plan.model.study),
    }


def write_personas(
    fit: xr.DataTree,
    path: str | os.PathLike[str],
    n: int,
    *,
    draws: int = DEFAULT_DRAWS,
    seed: int | None = 0,
    where: Mapping[str, str] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[Path, int]:
    """Stream ``n`` personas x ``draws`` posterior draws to one Parquet file.

    The same personas as :func:`sample_personas` for the same arguments, written one
    row group per chunk of at most :data:`CHUNK` rows (memory stays bounded whatever
    ``n`` and ``draws`` are), to a temp file renamed into place when complete.
    ``progress(rows_done, rows_total)`` is called after each chunk.

    Returns the path and the number of rows.
    """
    from populace.personas import write_parquet_stream

    plan = _plan(fit, n, draws, seed, where)
    total, done = n * draws, 0
    record = _Record()

    def chunks() -> Iterator[tuple[int, dict[str, np.ndarray]]]:
        nonlocal done
        for chunk in _iter(plan, n, record):
            yield chunk.draw, chunk.codes
            done += chunk.n
            if progress is not None:
                progress(done, total)

    return write_parquet_stream(chunks(), plan.model.study, path, attrs=_attrs(plan, where), closing_attrs=record.attrs)


def write_personas_dataset(
    fit: xr.DataTree,
    directory: str | os.PathLike[str],
    n: int,
    *,
    draws: int = DEFAULT_DRAWS,
    seed: int | None = 0,
    where: Mapping[str, str] | None = None,
    by_geography: bool = False,
    client: Any = None,
) -> tuple[Path, int]:
    """Write personas as a Parquet dataset partitioned by draw (and optionally by area).

    Layout (hive style, as ``pandas.read_parquet`` and ``pyarrow.dataset`` read it):
    ``DIR/draw=D/part-K.parquet`` or ``DIR/draw=D/AREA=LEVEL/part-K.parquet``; a file
    holds chunk ``K`` of posterior draw ``D``. Each draw is one task, seeded from
    ``(seed, D)`` and ``(seed, D, K)`` (module docstring), so the files are the same
    whatever runs them: this process (``client=None``) or the workers of a
    ``distributed.Client``, however many. The dataset is built in a temp folder beside
    ``DIR`` and renamed into place when every draw is written (workers then need that
    folder on a shared file system).

    Returns the folder and the number of rows.
    """
    out = require_empty_dir(directory)
    plan = _plan(fit, n, draws, seed, where)
    if by_geography and plan.model.structure.geo_name is None:
        raise FitError("--partition-by geography: this study has no geography attribute.")
    with atomic_dir(out) as tmp:
        # The plan (model, posterior, picks, seed) travels to the workers whole, so every
        # task draws from the same posterior draws as this process would.
        args = (plan, n, str(tmp), by_geography, _attrs(plan, where))
        if client is None:
            rows = sum(_write_draw(d, *args) for d in range(draws))
        else:
            rows = sum(client.gather(client.map(_write_draw, range(draws), *[[a] * draws for a in args], pure=False)))
    return out, rows


def _write_draw(d: int, plan: _Plan, n: int, root: str, by_geo: bool, set_attrs: Mapping[str, object]) -> int:
    """One partition task: posterior draw ``d``'s personas, one file per chunk (and area),
    each file with the set's attrs (study included) and this draw's record."""
    from populace.personas import write_parquet_stream

    study, geo = plan.model.study, plan.model.structure.geo_name
    pop = _population(plan, d)
    record = _Record()
    record(d, pop)
    attrs = dict(set_attrs) | record.attrs()
    rows = 0
    for chunk in _chunks(plan, d, pop, n):
        base = Path(root) / f"draw={d}"
        if not by_geo:
            path = base / f"part-{chunk.chunk:05d}.parquet"
            rows += write_parquet_stream([(d, chunk.codes)], study, path, attrs=attrs, partition_columns=("draw",))[1]
            continue
        levels = study.attribute(geo).levels
        g = chunk.codes[geo]
        for level in np.unique(g):
            keep = g == level
            part = {k: v[keep] for k, v in chunk.codes.items()}
            path = base / f"{geo}={levels[level]}" / f"part-{chunk.chunk:05d}.parquet"
            rows += write_parquet_stream([(d, part)], study, path, attrs=attrs, partition_columns=("draw", geo))[1]
    return rows


def _where_columns(model: CopulaModel, where: Mapping[str, str] | None) -> dict[int, int]:
    """``attribute == level`` restrictions as internal column -> level code."""
    s, study = model.structure, model.study
    out = {}
    for name, level in (where or {}).items():
        if name not in study.names:
            raise FitError(f"--where {name}={level}: no attribute {name!r}; attributes are {', '.join(study.names)}.")
        levels = study.attribute(name).levels
        if level not in levels:
            raise FitError(f"--where {name}={level}: {level!r} is not a level of {name}; levels are {', '.join(levels)}.")
        out[s.column(name)] = levels.index(level)
    return out


def _where_text(plan: _Plan) -> str:
    s, study = plan.model.structure, plan.model.study
    names = [s.geo_name] + list(s.names)
    return ", ".join(f"{names[c]}={study.attribute(names[c]).levels[v]}" for c, v in plan.fixed.items())
