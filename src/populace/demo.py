"""The demo: fit the bundled GSS example, generate personas, write a short report.

``populace demo`` (and ``make demo``) call :func:`run_demo`. It writes, into one
folder, the fit (``fit.nc``), the personas (``personas.parquet``), the HTML report of
:func:`populace.report.write_report` (``report.html``) and ``report.md``, which
compares the generated population with the census and shows one quantity the census
does not have (abortion views by party), each with a 90 % interval across posterior
draws.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr

from populace.atomic import write_text
from populace.progress import Progress
from populace.study.shares import census_margin
from populace.study.spec import Study

__all__ = ["run_demo", "demo_report", "DemoSettings", "FULL", "QUICK"]

# The cross-tab the report shows: share of personas with OUTCOME == LEVEL, by BY.
OUTCOME, OUTCOME_LEVEL, BY = "abany", "Yes", "partyid"


@dataclass(frozen=True)
class DemoSettings:
    """Sizes of the demo's fit and persona set.

    ``n = None`` means one persona per person in the census (14,064 for GSS).
    """

    draws: int
    tune: int
    chains: int
    n: int | None
    persona_draws: int


FULL = DemoSettings(draws=1000, tune=300, chains=2, n=None, persona_draws=100)
# Enough to exercise every step in a test, not to trust the numbers.
QUICK = DemoSettings(draws=100, tune=100, chains=1, n=1000, persona_draws=5)


def run_demo(
    out_dir: str | os.PathLike[str] = "populace-demo",
    *,
    quick: bool = False,
    echo: Callable[[str], None] = print,
    progress: Callable[[str], None] | None = None,
    progressbar: bool = False,
    seed: int = 0,
) -> dict[str, Path]:
    """Fit the bundled example study, generate personas and write a report.

    Parameters
    ----------
    out_dir
        Folder for ``fit.nc``, ``personas.parquet``, ``report.md`` and ``report.html``; created if
        missing. Files already there are replaced (each one atomically).
    quick
        Small fit and persona set (:data:`QUICK`), for tests and smoke checks.
    echo
        Receives the closing summary lines (what was written where).
    progress
        Receives the step-by-step lines with elapsed seconds; defaults to a
        :class:`~populace.progress.Progress` printing through ``echo``.
    progressbar
        Show the sampler's progress bar.
    seed
        Seed of the fit and of the personas.

    Returns
    -------
    dict of str to pathlib.Path
        ``study`` (the bundled TOML), ``fit``, ``personas``, ``report`` (Markdown) and
        ``report_html`` (absent without matplotlib).
    """
    # Heavy imports here, so importing populace.demo (and `populace --help`) stays fast.
    from populace.data import example_study_path
    from populace.inference.generate import sample_personas
    from populace.inference import check_convergence, fit, save_fit
    from populace.personas import to_parquet
    from populace.study import load_study

    settings = QUICK if quick else FULL
    say = progress if progress is not None else _timed(echo)
    out = Path(out_dir)
    paths = {
        "study": example_study_path(),
        "fit": out / "fit.nc",
        "personas": out / "personas.parquet",
        "report": out / "report.md",
        "report_html": out / "report.html",
    }

    say(f"loading the bundled example study {paths['study']} ...")
    study = load_study(paths["study"])
    n = settings.n if settings.n is not None else census_total(study)

    size = f"{settings.chains} chain(s) x {settings.draws} draws, {settings.tune} tuning steps"
    say(f"compiling and sampling ({size}; under a minute on 2 cores with the defaults) ...")
    # The report shows the diagnostics in words, so no separate warning.
    fitted = fit(
        study,
        draws=settings.draws,
        tune=settings.tune,
        chains=settings.chains,
        seed=seed,
        progressbar=progressbar,
        warn=False,
    )
    diag = check_convergence(fitted, warn=False)
    say(f"saving {paths['fit']} ...")
    save_fit(fitted, paths["fit"])

    say(f"generating {n:,} personas x {settings.persona_draws} posterior draws ...")
    personas = sample_personas(fitted, n, draws=settings.persona_draws, seed=seed)
    say(f"writing {paths['personas']} and {paths['report']} ...")
    to_parquet(personas, paths["personas"])
    header = (
        f"Fit: NUTS, {size}, seed {seed}, "
        f"{float(fitted.attrs.get('populace_fit_seconds', float('nan'))):.0f} s of sampling."
        + (" Quick settings: too few draws to trust the intervals." if quick else "")
    )
    text = demo_report(
        study,
        personas,
        diagnostics=diag.to_text(),
        converged=diag.ok,
        title="populace demo: the bundled GSS 2000-2018 example",
        header=header,
    )
    write_text(paths["report"], text)
    if importlib.util.find_spec("matplotlib") is None:  # the HTML report's figures
        say("report.html skipped: its figures need matplotlib (pip install 'populace[plot]')")
        del paths["report_html"]
    else:
        from populace.report import write_report

        say(f"writing {paths['report_html']} (diagnostics, census fit, dependence, shares, cards) ...")
        title = "populace demo: the bundled GSS 2000-2018 example"
        write_report(fitted, paths["report_html"], personas=personas, seed=seed, title=title)

    echo(f"convergence: {'ok' if diag.ok else 'PROBLEMS (see report)'}: {diag.to_text()}")
    echo(f"fit:      {paths['fit']}")
    echo(f"personas: {paths['personas']} ({n:,} personas x {settings.persona_draws} draws)")
    html = f" and {paths['report_html']} (open it in a browser)" if "report_html" in paths else ""
    echo(f"report:   {paths['report']}{html}")
    return paths


def census_total(study: Study) -> int:
    """Population size in the census (every table has the same total)."""
    if not study.marginals:
        raise ValueError("the study has no census table, so it has no population size")
    return int(round(study.marginals[0].total))


def demo_report(
    study: Study,
    personas: xr.Dataset,
    *,
    diagnostics: str,
    converged: bool = True,
    title: str | None = None,
    header: str = "",
    outcome: tuple[str, str] = (OUTCOME, OUTCOME_LEVEL),
    by: str = BY,
) -> str:
    """The Markdown report: diagnostics, census vs generated shares, one cross-tab.

    Parameters
    ----------
    study
        The study the personas were generated from.
    personas
        Persona Dataset with dims ``(draw, persona)``.
    diagnostics
        Convergence summary in words (:meth:`Diagnostics.to_text`).
    converged
        Whether the diagnostics found no problem.
    title
        First heading; defaults to the study's name.
    header
        A line describing the fit.
    outcome, by
        The cross-tab: share of ``outcome[0] == outcome[1]`` within each level of
        ``by``; skipped when the study lacks either attribute.

    Returns
    -------
    str
        Markdown text.
    """
    n_draws, n_personas = personas.sizes["draw"], personas.sizes["persona"]
    lines = [
        f"# {title or f'populace demo: {study.name}'}",
        "",
        f"Study: {len(study.attributes)} attributes, census N = {census_total(study):,}, "
        f"survey n = {study.microdata.n_rows:,} rows.",
    ]
    if header:
        lines.append(header)
    lines += [
        f"Personas: {n_personas:,} per posterior draw x {n_draws} draws.",
        "",
        "Intervals are 90 % intervals (5th to 95th percentile) across the posterior draws; "
        "each draw is a finite population, so they include its sampling noise as well.",
        "",
        "## Convergence",
        "",
        "OK." if converged else "**Problems: treat the numbers below with care.**",
        "",
        *[f"    {line}" for line in diagnostics.splitlines()],
        "",
        "## Census vs generated shares",
        "",
        "Personas are raked to every census table, so these should agree up to noise.",
    ]
    for a in study.attributes:
        census = census_margin(study, a.name)
        gen = draw_shares(personas, a.name, a.n_levels)
        lines += ["", f"### {a.name}", "", "| level | census | generated | 90 % interval |", "|---|---:|---:|---:|"]
        for i, level in enumerate(a.levels):
            c = "no table" if census is None else _pct(census[i])
            lines.append(f"| {level} | {c} | {_pct(gen[:, i].mean())} | {_interval(gen[:, i])} |")
    if outcome[0] in study.names and by in study.names:
        lines += ["", *_crosstab_section(study, personas, outcome, by)]
    return "\n".join(lines) + "\n"


def draw_shares(personas: xr.Dataset, name: str, n_levels: int) -> np.ndarray:
    """Level shares of ``name`` in each draw, shape ``(draw, level)``."""
    codes = personas[name].transpose("draw", "persona").values
    counts = np.stack([np.bincount(row, minlength=n_levels) for row in codes])
    return counts / codes.shape[1]


def _crosstab_section(study: Study, personas: xr.Dataset, outcome: tuple[str, str], by: str) -> list[str]:
    name, level = outcome
    k = study.attribute(name).levels.index(level)
    y = personas[name].transpose("draw", "persona").values == k
    g = personas[by].transpose("draw", "persona").values
    # The raw survey share, for comparison: weighted, complete rows only.
    codes, w = study.microdata.codes, np.asarray(study.microdata.weights, dtype=float)
    ys, gs = codes[:, study.index(name)], codes[:, study.index(by)]
    known = (ys >= 0) & (gs >= 0)
    in_census = any(name in m.attributes and by in m.attributes for m in study.marginals)
    lines = [
        f"## Share with {name} = {level}, by {by}",
        "",
        "This cross-tab is in the census." if in_census else
        "No census table crosses these two, so this comes from the survey rows through the model.",
        "",
        f"| {by} | survey rows | survey (weighted) | generated | 90 % interval |",
        "|---|---:|---:|---:|---:|",
    ]
    for j, lv in enumerate(study.attribute(by).levels):
        in_group = g == j
        with np.errstate(invalid="ignore", divide="ignore"):
            share = (y & in_group).sum(axis=1) / in_group.sum(axis=1)
        rows = known & (gs == j)
        survey = _pct((w[rows] * (ys[rows] == k)).sum() / w[rows].sum()) if rows.any() else "-"
        gen = _pct(np.nanmean(share)) if np.isfinite(share).any() else "-"
        lines.append(f"| {lv} | {int(rows.sum())} | {survey} | {gen} | {_interval(share)} |")
    return lines


def _pct(x: float) -> str:
    return f"{100 * float(x):.1f} %"


def _interval(values: np.ndarray) -> str:
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return "-"
    lo, hi = np.quantile(v, [0.05, 0.95])
    return f"{100 * lo:.1f} to {100 * hi:.1f} %"


def _timed(echo: Callable[[str], None]) -> Callable[[str], None]:
    """Progress lines with elapsed seconds, sent through ``echo``."""
    clock = Progress()
    return lambda message: echo(f"[{clock.elapsed:5.1f} s] {message}")
