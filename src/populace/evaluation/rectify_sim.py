"""A known-truth simulation of :func:`populace.simulate.rectify`.

A finite population of 20,000 people over four attributes (age 4 levels, sex 2, education 3,
region 3) answers a 3-level question; the true answer depends on the attributes by a
multinomial logit. The "LLM" answers from the same attributes with exaggerated effects and a
shift towards ``agree``: a biased, noisy function of the persona.

Each replication draws, independently:

- the persona posterior: a sample of ``n_census`` people, whose cell counts give ``D``
  Bayesian-bootstrap draws ``p_d ~ Dirichlet(counts)`` of the population's composition (a
  calibrated posterior, so the draws' spread is honest); each draw holds ``n_personas``
  personas with an LLM answer each;
- ``n_humans`` humans: a simple random sample of the population (``design="srs"``), or a
  stratified one that puts a third of them in the smallest region (``"stratified"``,
  weights ``N_h / n_h``), with their true answer and the LLM's answer for their persona.

``pool_draws=True`` is the ablation that ignores the persona model's uncertainty: all
personas are passed as one draw. :func:`run_sim` scores ``ppi`` (with ``weight`` when the design is stratified),
``llm_only`` and ``human_only`` against the true shares, overall and by region.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["SimConfig", "Population", "make_population", "run_sim", "summarize_sim", "LEVELS"]

LEVELS = ("agree", "neutral", "disagree")
SIZES = {"age": 4, "sex": 2, "educ": 3, "region": 3}
REGION_SHARES = (0.15, 0.35, 0.5)


@dataclass(frozen=True)
class SimConfig:
    """One simulation setting (see the module docstring)."""

    reps: int = 500
    n_humans: int = 300
    n_census: int = 2000
    draws: int = 20
    n_personas: int = 5000
    design: str = "srs"
    lam: float | None = None
    pool_draws: bool = False  # ablation: all personas as one draw (their spread ignored)
    seed: int = 0


@dataclass(frozen=True)
class Population:
    """The true population: each person's cell and answer, and each cell's answer probabilities."""

    cell: np.ndarray  # (N,) cell index into the attribute grid
    answer: np.ndarray  # (N,) true answer code
    grid: pd.DataFrame  # one row per cell: its attribute levels (as text)
    llm_probs: np.ndarray  # (cells, levels) the LLM's answer probabilities for a persona of that cell


def make_population(*, n_pop: int = 20_000, seed: int = 2024) -> Population:
    """The fixed finite population (the same for every replication)."""
    rng = np.random.default_rng(seed)
    grid = pd.MultiIndex.from_product([range(s) for s in SIZES.values()], names=list(SIZES)).to_frame(index=False)
    # composition: region shares fixed, the rest with dependence (education falls with age)
    age = np.array([0.25, 0.3, 0.25, 0.2])[grid.age]
    cell_p = age * 0.5 * np.array(REGION_SHARES)[grid.region] * _pick(grid.educ, grid.age)
    cell_p /= cell_p.sum()
    cell = rng.choice(len(grid), size=n_pop, p=cell_p)
    # true logits: agree rises with age, falls with education; region 0 leans agree
    eta = np.zeros((len(grid), 3))
    eta[:, 0] = -1.5 + 1.4 * grid.age - 1.5 * grid.educ + 1.25 * (grid.region == 0) + 0.5 * grid.sex
    eta[:, 1] = 1.25 * (grid.educ == 1) - 0.75 * (grid.age == 3) + 0.75 * (grid.region == 2)
    eta[:, 2] = -0.75 - 0.75 * grid.age + 1.1 * grid.educ - 0.75 * grid.sex
    answer = _categorical(rng, _softmax(eta)[cell])
    # the LLM: stereotypes exaggerated (x1.5) and a lean towards agree
    llm_probs = _softmax(1.5 * eta + np.array([0.9, -0.3, 0.0]))
    labels = grid.astype(str).apply(lambda c: c.radd(f"{c.name}"))
    return Population(cell=cell, answer=answer, grid=labels, llm_probs=llm_probs)


def run_sim(config: SimConfig, population: Population | None = None) -> pd.DataFrame:
    """Run ``config.reps`` replications; one row per (rep, method, group, level) with the truth."""
    from populace.simulate import rectify

    pop = population or make_population()
    truth = _truth(pop)
    rng = np.random.default_rng(config.seed)
    out = []
    for rep in range(config.reps):
        personas, humans = _one_rep(rng, pop, config)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # one-draw settings warn by design
            res = rectify(
                personas, humans, answer="llm", truth="truth", by="region", lam=config.lam,
                weight="weight" if config.design == "stratified" else None,
            )
        res["rep"] = rep
        out.append(res)
    df = pd.concat(out, ignore_index=True).merge(truth, on=["group", "level"])
    df["covered"] = (df.lo90 <= df.truth) & (df.truth <= df.hi90)
    df["width"] = df.hi90 - df.lo90
    return df


def summarize_sim(df: pd.DataFrame) -> pd.DataFrame:
    """Coverage (with its Monte-Carlo standard error), mean width, bias and RMSE per cell.

    A NaN result (too few humans in a group) counts as not covering; ``nan`` counts them.
    """
    g = df.groupby(["group", "level", "method"], sort=False)
    out = g.agg(
        truth=("truth", "first"),
        coverage=("covered", "mean"),
        reps=("covered", "size"),
        width=("width", "mean"),
        mean_estimate=("estimate", "mean"),
        nan=("estimate", lambda e: int(e.isna().sum())),  # counted as not covered
    ).reset_index()
    err = df.estimate - df.truth
    out["bias"] = out.mean_estimate - out.truth
    out["rmse"] = np.sqrt((err**2).groupby([df.group, df.level, df.method], sort=False).mean().to_numpy())
    out["coverage_se"] = np.sqrt(out.coverage * (1 - out.coverage) / out.reps)
    return out


def _one_rep(rng: np.random.Generator, pop: Population, c: SimConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    n_cells = len(pop.grid)
    census = np.bincount(pop.cell[rng.choice(len(pop.cell), c.n_census, replace=False)], minlength=n_cells)
    seen = np.flatnonzero(census)
    cells, draws, answers = [], [], []
    for d in range(c.draws):
        p = np.zeros(n_cells)
        p[seen] = rng.dirichlet(census[seen])
        cell = np.repeat(np.arange(n_cells), rng.multinomial(c.n_personas, p))
        cells.append(cell)
        draws.append(np.full(len(cell), d))
        answers.append(_categorical(rng, pop.llm_probs[cell]))
    cell = np.concatenate(cells)
    draw = np.zeros(len(cell), np.int64) if c.pool_draws else np.concatenate(draws)
    personas = pd.DataFrame({"draw": draw, "llm": _labels(np.concatenate(answers)),
                             "region": pop.grid.region.to_numpy()[cell]})
    idx, weight = _humans(rng, pop, c)
    hc = pop.cell[idx]
    humans = pd.DataFrame({
        "llm": _labels(_categorical(rng, pop.llm_probs[hc])),
        "truth": _labels(pop.answer[idx]),
        "region": pop.grid.region.to_numpy()[hc],
        "weight": weight,
    })
    return personas, humans


def _humans(rng: np.random.Generator, pop: Population, c: SimConfig) -> tuple[np.ndarray, np.ndarray]:
    n = len(pop.cell)
    if c.design == "srs":
        return rng.choice(n, c.n_humans, replace=False), np.ones(c.n_humans)
    if c.design != "stratified":
        raise ValueError(f"design must be 'srs' or 'stratified', got {c.design!r}")
    region = pop.grid.region.to_numpy()[pop.cell]
    strata = sorted(set(region))
    small = min(strata, key=lambda s: (region == s).sum())
    alloc = {s: c.n_humans // 3 if s == small else 0 for s in strata}
    rest = [s for s in strata if s != small]
    for s in rest:
        alloc[s] = (c.n_humans - alloc[small]) // len(rest)
    idx, w = [], []
    for s in strata:
        members = np.flatnonzero(region == s)
        idx.append(rng.choice(members, alloc[s], replace=False))
        w.append(np.full(alloc[s], len(members) / alloc[s]))
    return np.concatenate(idx), np.concatenate(w)


def _truth(pop: Population) -> pd.DataFrame:
    from populace.simulate.inputs import ALL

    frame = pd.DataFrame({"region": pop.grid.region.to_numpy()[pop.cell], "level": _labels(pop.answer)})
    overall = frame["level"].value_counts(normalize=True).rename("truth").reset_index().assign(group=ALL)
    by = frame.groupby("region")["level"].value_counts(normalize=True).rename("truth").reset_index()
    return pd.concat([overall, by.rename(columns={"region": "group"})], ignore_index=True)


def _pick(educ: pd.Series, age: pd.Series) -> np.ndarray:
    table = np.where((age.to_numpy() >= 2)[:, None], [0.5, 0.3, 0.2], [0.25, 0.4, 0.35])
    return table[np.arange(len(educ)), educ.to_numpy()]


def _softmax(eta: np.ndarray) -> np.ndarray:
    e = np.exp(eta - eta.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _categorical(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One draw per row of ``probs``."""
    u = rng.random(len(probs))[:, None]
    return np.minimum((u > np.cumsum(probs, axis=1)).sum(axis=1), probs.shape[1] - 1)


def _labels(codes: np.ndarray) -> np.ndarray:
    return np.asarray(LEVELS, dtype=object)[codes]
