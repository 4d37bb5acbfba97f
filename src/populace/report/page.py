"""``write_report``: one self-contained HTML page about a fit and its personas."""

from __future__ import annotations

import base64
import io
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import xarray as xr

from populace.atomic import write_text
from populace.errors import PopulaceError
from populace.report.sections import (
    Section,
    cards_section,
    census_section,
    default_groups,
    default_targets,
    dependence_section,
    diagnostics_section,
    overview_section,
    shares_section,
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
    unknown = [a for a in [*(targets or []), *(groups or [])] if a not in study.names]
    if unknown:
        raise PopulaceError(f"report: unknown attribute(s) {unknown}; the study has {list(study.names)}.")
    frame, origin = _personas_frame(tree, study, personas, seed=seed)
    targets = list(targets) if targets else default_targets(study)
    groups = list(groups) if groups else default_groups(study)
    sections = [
        overview_section(tree, study, origin),
        diagnostics_section(tree),
        census_section(frame, study, ci_prob),
        dependence_section(tree, ci_prob),
        shares_section(frame, targets, groups, ci_prob),
        cards_section(frame, study, cards, seed),
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
    missing = [c for c in ("draw", *study.names) if c not in frame.columns]
    if missing:
        where = f"{personas}: " if isinstance(personas, (str, os.PathLike)) else "report: the personas have "
        raise PopulaceError(
            f"{where}no column(s) {missing}; these personas do not belong to the fit's study ({list(study.names)}). "
            "Fix: give personas generated from this fit."
        )
    draws = frame["draw"].nunique()
    size = len(frame) / max(draws, 1)
    return frame, f"{draws} posterior draws x {size:,.0f} personas" + (
        f" from {personas}" if isinstance(personas, (str, os.PathLike)) else ""
    )


def _read_personas(path: Path, study: Study) -> pd.DataFrame:
    import pyarrow.compute as pc

    from populace.personas import open_personas

    data = open_personas(path)
    if "draw" not in data.schema.names:  # the caller names what is missing
        return data.head(1).to_pandas()
    batch = next(iter(data.to_batches(columns=["draw"], batch_size=1024)), None)
    if batch is None or batch.num_rows == 0:
        raise PopulaceError(f"{path}: holds no personas.")
    first = pc.min(batch.column(0)).as_py()  # generated files start with their first draw
    per_draw = max(data.count_rows(filter=pc.field("draw") == first), 1)
    keep = min(MAX_DRAWS, max(1, MAX_ROWS // per_draw))
    wanted = [c for c in ("draw", *study.names) if c in data.schema.names]  # missing ones: the caller says so
    table = data.to_table(columns=wanted, filter=pc.field("draw") < first + keep)
    return table.to_pandas()
