"""``write_report``: one self-contained HTML page about a fit and its personas."""

from __future__ import annotations

import base64
import io
import json
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import xarray as xr

from populace.atomic import write_text
from populace.errors import PopulaceError
from populace.report.sections import (
    Section,
    census_fit,
    correlation_table,
    default_groups,
    default_targets,
    persona_cards,
)
from populace.study.spec import Study

__all__ = ["write_report", "render_page", "SECTION_IDS"]

#: The sections every report has, in page order (the browser test checks each id).
SECTION_IDS = ("overview", "diagnostics", "census", "dependence", "shares", "cards")
#: Personas generated when none are given: at most this many per draw, this many draws.
GENERATED_PERSONAS, GENERATED_DRAWS = 10_000, 100
#: Draws read from a persona file at most (the report's intervals need no more), and rows at
#: most (fewer draws of a large population; memory holds the rows as labels).
MAX_DRAWS, MAX_ROWS = 200, 5_000_000


def write_report(
    fit: xr.DataTree | str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    personas: xr.Dataset | pd.DataFrame | str | os.PathLike[str] | None = None,
    targets: Sequence[str] | None = None,
    groups: Sequence[str] | None = None,
    cards: int = 5,
    ci_prob: float = 0.9,
    seed: int = 0,
    title: str | None = None,
) -> Path:
    """Write one self-contained HTML page (images inline) about a fit and its personas.

    Sections: an overview (the study, where each attribute's information comes from, the
    fit's settings), diagnostics (R-hat and ESS per reported quantity, rank plots), the
    census fit per table (census share against the personas' interval), the dependence
    structure (latent correlations with their uncertainty), shares of the target attributes
    by area and by group (sorted dot plots with intervals) and a few persona cards.

    Parameters
    ----------
    fit
        A fit DataTree or the path of a fit file.
    out
        The HTML file to write (atomically).
    personas
        Personas of the fit: a persona Dataset, its long DataFrame, or a Parquet file or
        partitioned folder (its first :data:`MAX_DRAWS` draws are read, fewer where they
        hold more than :data:`MAX_ROWS` rows). None generates
        :data:`GENERATED_DRAWS` draws of up to :data:`GENERATED_PERSONAS` personas.
    targets
        Attributes shown by group; default those no census table crosses with another
        (:func:`populace.report.sections.default_targets`).
    groups
        Group attributes; default the geography and one census attribute
        (:func:`populace.report.sections.default_groups`).
    cards
        Persona cards shown.
    ci_prob
        Probability of every interval.
    seed
        Seed of generated personas and of the cards picked.
    title
        Page title; default names the study.

    Returns
    -------
    pathlib.Path
        ``out``.
    """
    from populace.inference import load_fit, model_from_fit

    tree = fit if isinstance(fit, xr.DataTree) else load_fit(fit)
    study = model_from_fit(tree).study
    frame, origin = _personas_frame(tree, study, personas, seed=seed)
    unknown = [a for a in [*(targets or []), *(groups or [])] if a not in study.names]
    if unknown:
        raise PopulaceError(f"report: unknown attribute(s) {unknown}; the study has {list(study.names)}.")
    targets = list(targets) if targets else default_targets(study)
    groups = list(groups) if groups else default_groups(study)
    sections = [
        _overview(tree, study, origin),
        _diagnostics(tree),
        _census(frame, study, ci_prob),
        _dependence(tree, ci_prob),
        _shares(frame, targets, groups, ci_prob),
        _cards(frame, study, cards, seed),
    ]
    html = render_page(sections, title=title or f"populace report: {study.name}")
    return write_text(out, html)


def render_page(sections: Sequence[Section], *, title: str) -> str:
    """The HTML of ``sections`` (figures as inline PNG, tables escaped)."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("populace.report", "."), autoescape=True, undefined=jinja2.StrictUndefined
    )
    rendered = [
        {
            "id": s.id,
            "title": s.title,
            "text": s.text,
            "tables": [(caption, _table_html(df)) for caption, df in s.tables],
            "figures": [(caption, _png_data_uri(fig)) for caption, fig in s.figures],
        }
        for s in sections
    ]
    return env.get_template("page.html.j2").render(title=title, sections=rendered)


def _table_html(df: pd.DataFrame) -> Any:
    from markupsafe import Markup

    # pandas escapes every cell (escape=True); the markup itself is pandas'.
    return Markup(df.to_html(index=False, border=0, escape=True, float_format=lambda v: f"{v:.4g}", na_rep=""))


def _png_data_uri(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _personas_frame(
    tree: xr.DataTree, study: Study, personas: Any, *, seed: int
) -> tuple[pd.DataFrame, str]:
    """The personas as a long frame, and a sentence saying where they came from."""
    from populace.personas import to_frame

    if personas is None:
        from populace.inference import sample_personas
        from populace.inference.fit import posterior_draws

        total = int(round(study.marginals[0].total)) if study.marginals else GENERATED_PERSONAS
        n = min(total, GENERATED_PERSONAS)
        draws = min(GENERATED_DRAWS, posterior_draws(tree)[0])
        ds = sample_personas(tree, n, draws=draws, seed=seed)
        return to_frame(ds), f"generated for this report: {draws} posterior draws x {n:,} personas (seed {seed})"
    if isinstance(personas, xr.Dataset):
        frame = to_frame(personas)
    elif isinstance(personas, pd.DataFrame):
        frame = personas
    else:
        frame = _read_personas(Path(personas), study)
    draws = frame["draw"].nunique()
    size = len(frame) / max(draws, 1)
    return frame, f"{draws} posterior draws x {size:,.0f} personas" + (
        f" from {personas}" if isinstance(personas, (str, os.PathLike)) else ""
    )


def _read_personas(path: Path, study: Study) -> pd.DataFrame:
    import pyarrow.compute as pc

    from populace.personas import open_personas

    data = open_personas(path)
    missing = [c for c in ("draw", *study.names) if c not in data.schema.names]
    if missing:
        raise PopulaceError(
            f"{path}: no column(s) {missing}; these personas do not belong to the fit's study "
            f"({list(study.names)}). Fix: give personas generated from this fit."
        )
    batch = next(iter(data.to_batches(columns=["draw"], batch_size=1024)), None)
    if batch is None or batch.num_rows == 0:
        raise PopulaceError(f"{path}: holds no personas.")
    first = pc.min(batch.column(0)).as_py()  # generated files start with their first draw
    per_draw = max(data.count_rows(filter=pc.field("draw") == first), 1)
    keep = min(MAX_DRAWS, max(1, MAX_ROWS // per_draw))
    table = data.to_table(columns=["draw", *study.names], filter=pc.field("draw") < first + keep)
    return table.to_pandas()


def _overview(tree: xr.DataTree, study: Study, origin: str) -> Section:
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


def _diagnostics(tree: xr.DataTree) -> Section:
    from populace.inference.diagnostics import check_convergence, convergence_table
    from populace.plot import plot_trace

    diag = check_convergence(tree, warn=False)
    table = convergence_table(tree)
    text = [("Converged: " if diag.ok else "Convergence problems: ") + diag.to_text()]
    figures = [("Rank plots of the concentration and the strongest latent correlations (chains that agree stay "
                "inside the envelope)", plot_trace(tree, kind="rank", pairs=6))]
    return Section("diagnostics", "Diagnostics", text=text, tables=[("R-hat and ESS per reported quantity", table)], figures=figures)


def _census(frame: pd.DataFrame, study: Study, ci_prob: float) -> Section:
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


def _dependence(tree: xr.DataTree, ci_prob: float) -> Section:
    from populace.plot import latent_correlation, plot_dependence

    corr = latent_correlation(tree)
    ax = plot_dependence(tree)
    return Section(
        "dependence",
        "Dependence structure",
        text=[
            "Latent correlations of the copula (rotation-invariant), posterior mean and sd; a strong colour with a "
            "large sd is a dependence the data do not pin down."
        ],
        tables=[(f"Strongest latent correlations with their {ci_prob:.0%} interval", correlation_table(corr, ci_prob=ci_prob))],
        figures=[("Latent correlation matrix", ax.figure)],
    )


def _shares(frame: pd.DataFrame, targets: Sequence[str], groups: Sequence[str], ci_prob: float) -> Section:
    from populace.plot import plot_shares
    from populace.summarize import summarize

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
                warnings.simplefilter("always")
                table = summarize(frame, by=group, target=target, ci_prob=ci_prob)
            section.text += [f"{target} by {group}: {w.message}" for w in caught]
            section.figures.append((f"{target} by {group}", plot_shares(table, by=group, title=f"{target} by {group}")))
            section.tables.append((f"{target} by {group}", table.round(4)))
    return section


def _cards(frame: pd.DataFrame, study: Study, n: int, seed: int) -> Section:
    texts = persona_cards(frame, study, n=n, seed=seed) if n > 0 else []
    return Section(
        "cards",
        "Persona cards",
        text=[f"{len(texts)} personas of the first draw, picked at random, in the default card template."],
        tables=[("Cards", pd.DataFrame({"card": texts}))] if texts else [],
    )
