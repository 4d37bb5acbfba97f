"""The report's sections, each as numbers (DataFrames) and figures: overview, diagnostics,
census fit, dependence, shares by area and group, persona cards (``*_section``), and the
numbers they rest on."""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from populace.study.spec import Study

__all__ = [
    "Section",
    "census_fit",
    "correlation_table",
    "default_groups",
    "default_targets",
    "persona_cards",
    "overview_section",
    "diagnostics_section",
    "census_section",
    "dependence_section",
    "shares_section",
    "cards_section",
]


@dataclass
class Section:
    """One section of the page: an anchor id, a title, paragraphs, tables and figures
    (matplotlib Figures, turned into inline images by the page)."""

    id: str
    title: str
    text: list[str] = field(default_factory=list)
    tables: list[tuple[str, pd.DataFrame]] = field(default_factory=list)
    figures: list[tuple[str, Any]] = field(default_factory=list)


def census_fit(frame: pd.DataFrame, study: Study, *, ci_prob: float = 0.9) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every census table's cells against the personas' shares over the draws.

    Parameters
    ----------
    frame
        Long personas (a ``draw`` column and one label column per attribute).
    study
        The study: its census tables (:attr:`Study.marginals`) and levels.
    ci_prob
        Probability of the central interval across draws.

    Returns
    -------
    cells, tables
        ``cells``: one row per census cell, ``table``, ``cell``, ``census`` (the published
        share), ``mean``, ``lo``, ``hi``, ``covered``. ``tables``: per table, ``cells``,
        ``covered`` (share of its cells inside their interval) and ``max_abs_error`` of the
        mean. Raking pins exact tables in every draw, so they agree by construction up to
        the personas' sampling noise; tables with stated error are raked to a draw of them.
    """
    from populace.evaluation.metrics.codes import persona_codes
    from populace.evaluation.metrics.coverage import draw_shares, interval_coverage, interval_ends

    pers = persona_codes(frame, study)
    shape = tuple(a.n_levels for a in study.attributes)
    rows = []
    for m in study.marginals:
        attrs = list(m.attributes)
        levels = [study.attribute(a).levels for a in attrs]
        shares = draw_shares(pers, tuple(study.index(a) for a in attrs), shape)
        census = m.counts.reshape(-1) / m.total
        lo, hi = interval_ends(shares, interval=ci_prob)
        covered, _ = interval_coverage(shares, census, interval=ci_prob)
        labels = [" / ".join(c) for c in np.array(np.meshgrid(*levels, indexing="ij")).reshape(len(attrs), -1).T]
        rows += [
            {"table": m.source or " x ".join(attrs), "cell": labels[j], "census": census[j], "mean": shares[:, j].mean(),
             "lo": lo[j], "hi": hi[j], "covered": bool(covered[j])}
            for j in range(census.size)
        ]
    cells = pd.DataFrame(rows)
    if cells.empty:
        return cells, pd.DataFrame(columns=["table", "cells", "covered", "max_abs_error"])
    tables = (
        cells.assign(err=(cells["mean"] - cells["census"]).abs())
        .groupby("table", sort=False)
        .agg(cells=("cell", "size"), covered=("covered", "mean"), max_abs_error=("err", "max"))
        .reset_index()
    )
    return cells, tables


def default_groups(study: Study) -> list[str]:
    """Group attributes for the shares section: the geography, if any, and the first
    non-geographic attribute of the first census cross-tab (else of the first census table)."""
    geo = study.geography.name if study.geography is not None else None
    out = [geo] if geo else []
    for m in sorted(study.marginals, key=lambda m: -len(m.attributes)):
        for a in m.attributes:
            if a != geo:
                return [*out, a]
    return out


def default_targets(study: Study, *, limit: int = 3) -> list[str]:
    """Attributes the report shows by group: those that no census table crosses with
    another attribute (where the census does not pin the answer), at most ``limit``."""
    from populace.study.provenance import Kind, provenance

    geo = study.geography.name if study.geography is not None else None
    return [n for n, p in provenance(study).items() if p.kind is not Kind.CENSUS_PINNED and n != geo][:limit]


def persona_cards(frame: pd.DataFrame, study: Study, *, n: int, seed: int) -> list[str]:
    """The default card text of ``n`` personas of the first draw, picked at random."""
    from populace.library.templates import load_template

    first = frame[frame["draw"] == frame["draw"].iloc[0]]
    rows = first.sample(n=min(n, len(first)), random_state=seed)
    template = load_template(None, study)
    return [template.render({a: str(r[a]) for a in study.names}) for _, r in rows.iterrows()]


def correlation_table(fit: xr.DataTree, *, top: int = 12, ci_prob: float = 0.9) -> pd.DataFrame:
    """The ``top`` latent correlations by absolute posterior mean, with their interval
    (:func:`populace.plot.invariant_posterior`'s pairs)."""
    from populace.evaluation.metrics.coverage import interval_ends
    from populace.plot import invariant_posterior

    da = invariant_posterior(fit, pairs=top)["posterior"]["latent_correlation"]
    stack = da.transpose(..., "pair").values.reshape(-1, da.sizes["pair"])
    lo, hi = interval_ends(stack, interval=ci_prob)
    return pd.DataFrame({"pair": [str(p) for p in da["pair"].values], "mean": stack.mean(axis=0), "lo": lo, "hi": hi})


# ------------------------------------------------------------------ the sections
def overview_section(tree: xr.DataTree, study: Study, origin: str) -> Section:
    from populace.study.provenance import provenance

    sampler = json.loads(tree.attrs.get("populace_sampler_config", "{}"))
    post = tree["posterior"]
    prov = provenance(study)
    table = pd.DataFrame(
        {
            "attribute": list(prov),
            "levels": [study.attribute(a).n_levels for a in prov],
            "information": [p.note for p in prov.values()],
        }
    )
    return Section(
        "overview",
        "Overview",
        text=[
            f"Study '{study.name}': {len(study.names)} attributes, {len(study.marginals)} census table(s), "
            f"{len(study.sources)} survey source(s).",
            f"Fit: {sampler.get('method', 'nuts')} ({sampler.get('sampler', '')}), {post.sizes['chain']} chain(s) x "
            f"{post.sizes['draw']} draws, seed {tree.attrs.get('populace_seed', '?')}.",
            f"Personas: {origin}. Every interval below is the central interval between the draws' quantiles, "
            "so it carries the posterior uncertainty and the personas' sampling noise.",
        ],
        tables=[("Where each attribute's information comes from", table)],
    )


def diagnostics_section(tree: xr.DataTree) -> Section:
    from populace.inference.diagnostics import check_convergence, convergence_table
    from populace.plot import plot_trace

    diag = check_convergence(tree, warn=False)
    table = convergence_table(tree)
    text = [("Converged: " if diag.ok else "Convergence problems: ") + diag.to_text()]
    figures = [("Rank plots of the concentration and the strongest latent correlations (chains that agree stay "
                "inside the envelope)", plot_trace(tree, kind="rank", pairs=6))]
    return Section("diagnostics", "Diagnostics", text=text, tables=[("R-hat and ESS per reported quantity", table)], figures=figures)


def census_section(frame: pd.DataFrame, study: Study, ci_prob: float) -> Section:
    from populace.plot import plot_margins

    cells, tables = census_fit(frame, study, ci_prob=ci_prob)
    text = [
        "Each census table's cells: the published share against the personas' mean and interval. Exact tables "
        "are raked to in every draw, so they agree by construction up to the personas' sampling noise; this is "
        "a check of the generation, not evidence that the model is right."
    ]
    if study.marginals:
        figures = [("Census share (cross) against the personas' share and interval, per attribute", plot_margins(frame, study, ci_prob=ci_prob))]
    else:
        text.append("The study has no census table.")
        figures = []
    return Section(
        "census", "Census fit", text=text, tables=[("Per table", tables), ("Per cell", cells)], figures=figures
    )


def dependence_section(tree: xr.DataTree, ci_prob: float) -> Section:
    from populace.plot import plot_dependence

    ax = plot_dependence(tree)
    return Section(
        "dependence",
        "Dependence structure",
        text=[
            "Latent correlations of the copula (rotation-invariant), posterior mean and sd; a strong colour with a "
            "large sd is a dependence the data do not pin down."
        ],
        tables=[(f"Strongest latent correlations with their {ci_prob:.0%} interval", correlation_table(tree, ci_prob=ci_prob))],
        figures=[("Latent correlation matrix", ax.figure)],
    )


def shares_section(frame: pd.DataFrame, targets: Sequence[str], groups: Sequence[str], ci_prob: float) -> Section:
    from populace.plot import plot_shares
    from populace.summarize import DrawsWarning, summarize

    section = Section(
        "shares",
        "Shares by area and group",
        text=[f"Posterior mean share (dot) and {ci_prob:.0%} interval (bar) of each target level by group, sorted."],
    )
    if not targets or not groups:
        section.text.append("No target or group attribute to show (give --target and --by).")
    for target in targets:
        for group in groups:
            if group == target:
                continue
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", DrawsWarning)
                table = summarize(frame, by=group, target=target, ci_prob=ci_prob)
            for w in caught:  # too few draws is said in the page; anything else is passed on
                if issubclass(w.category, DrawsWarning):
                    section.text.append(f"{target} by {group}: {w.message}")
                else:
                    warnings.warn(w.message, w.category, stacklevel=2)
            section.figures.append((f"{target} by {group}", plot_shares(table, by=group, title=f"{target} by {group}")))
            section.tables.append((f"{target} by {group}", table.round(4)))
    return section


def cards_section(frame: pd.DataFrame, study: Study, n: int, seed: int) -> Section:
    texts = persona_cards(frame, study, n=n, seed=seed) if n > 0 else []
    return Section(
        "cards",
        "Persona cards",
        text=[f"{len(texts)} personas of the first draw, picked at random, in the default card template."],
        tables=[("Cards", pd.DataFrame({"card": texts}))] if texts else [],
    )
