"""``populace check``: what a study pins, what its sample can tell, and what to act on, without fitting.

:func:`check_study` reads a validated :class:`Study` and returns a :class:`StudyReport`;
``str(report)`` is the text ``populace check`` prints.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from populace.study.provenance import provenance, table_name
from populace.study.shares import census_margin, census_tables_of, kish_n_eff, sample_margin
from populace.study.spec import Marginal, Study

__all__ = ["BIAS_P", "MISSING_WARN", "THIN_AREA_ROWS", "StudyReport", "check_study"]

#: An attribute missing in more than this share of sample rows gets a warning.
MISSING_WARN = 0.2
#: Areas with fewer sample rows than this get a warning (their own rows barely move them).
THIN_AREA_ROWS = 5
#: A census-pinned attribute whose weighted sample shares differ from the census gets a
#: warning when its chi-square p-value (on the Kish effective n) is below this level,
#: Bonferroni-divided by the number of attributes tested: a simple random sample
#: raises one or more such warnings 5 % of the time.
BIAS_P = 0.05


@dataclass
class StudyReport:
    """The findings of :func:`check_study`: sections of lines, and the warnings."""

    name: str
    attributes: list[str] = field(default_factory=list)
    sample: list[str] = field(default_factory=list)
    gaps: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        out = [f"study {self.name}", "", "attributes (what pins each margin):", *self.attributes]
        out += ["", "sample:", *self.sample]
        out += ["", "census cells and areas with no sample row:", *(self.gaps or ["  none"])]
        out += ["", f"warnings ({len(self.warnings)}):", *(f"  - {w}" for w in self.warnings or ["none"])]
        return "\n".join(out) + "\n"


def check_study(study: Study) -> StudyReport:
    """Describe ``study`` and list what a statistician should act on before fitting."""
    report = StudyReport(study.name)
    codes = np.asarray(study.microdata.codes)
    w = np.asarray(study.microdata.weights, dtype=float)
    n, n_eff = len(w), kish_n_eff(w)
    geo = study.geography
    free, tests = [], []
    origin = provenance(study)
    for j, a in enumerate(study.attributes):
        tables = census_tables_of(study, a.name)
        kind = origin[a.name].kind
        per_area = geo is not None and any(geo.name in t.attributes for t in tables)
        if a.role == "geography":
            how = "geography; area sizes from " + (_names(tables) if tables else "the sample (no census table)")
            if study.areas is not None:
                how += f"; area predictors {', '.join(study.areas.names)} from {study.areas.source or 'the area table'}"
        elif not tables:
            how = f"{kind}: no census table, margin and dependence learned from the sample only"
            free.append(a.name)
        elif per_area:
            how = f"{kind}: per area by " + _names(tables) + "; other dependence learned from the sample"
        else:
            how = f"{kind}: nationally by " + _names(tables) + "; other dependence learned from the sample"
        if geo is not None and a.role != "geography" and not per_area and geo.n_levels > 1:
            how += "; its areas differ by partially pooled area effects"
        report.attributes.append(f"  {a.name} ({a.type}, {a.n_levels} levels): {how}")
        missing = float((codes[:, j] < 0).mean()) if n else 0.0
        if missing > MISSING_WARN:
            report.warnings.append(
                f"{a.name} is missing in {missing:.0%} of sample rows; its dependence rests on the other "
                f"{1 - missing:.0%} (missing at random is assumed)."
            )
        unseen = [lv for k, lv in enumerate(a.levels) if not (codes[:, j] == k).any()]
        if unseen and a.role != "geography":  # empty areas are listed with the gaps
            report.warnings.append(
                f"{a.name}: level(s) {', '.join(map(repr, unseen))} never occur in the sample, so how they "
                "relate to the other attributes comes from the prior alone."
            )
        margin = census_margin(study, a.name)
        if margin is not None and a.role != "geography":
            tests.append(_bias_test(study, a.name, margin, n_eff))

    tested = [t for t in tests if t is not None]
    for name, p, text in tested:
        if p < BIAS_P / len(tested):
            report.warnings.append(
                f"the sample is unrepresentative on {name} (chi-square p = {p:.1g} on the effective n, below "
                f"{BIAS_P:g}/{len(tested)}, Bonferroni over the census-pinned attributes): {text} The census pins "
                "the margin, but dependence learned from such a sample can be biased too; use weights that "
                "correct it if you have them."
            )
    cells = math.prod(a.n_levels for a in study.attributes)
    complete = int((codes >= 0).all(axis=1).sum()) if n else 0
    report.sample += [
        f"  rows {n:,} ({complete:,} complete), Kish effective n {n_eff:,.1f}"
        + (f" (design effect {n / n_eff:.2f} from the weights)" if n_eff < n * (1 - 1e-9) else " (equal weights)"),
        f"  joint cells {cells:,}; sample rows per cell {n / cells:.3g}",
    ]
    if n_eff < 0.5 * n:
        report.warnings.append(
            f"the weights halve the information: Kish effective n {n_eff:,.0f} of {n:,} rows. Check extreme weights."
        )
    if free:
        report.warnings.append(
            f"{', '.join(free)} {'has' if len(free) == 1 else 'have'} no census table: "
            f"{'its' if len(free) == 1 else 'their'} population shares "
            f"come from {n_eff:,.0f} effective sample rows, so a biased sample biases them directly."
        )
    if geo is not None:
        report.gaps += _areas(study, codes[:, study.index(geo.name)], report)
    for t in study.marginals:
        report.gaps += _empty_cells(study, t, codes, report)
    return report


def _names(tables: list[Marginal]) -> str:
    return ", ".join(table_name(t) for t in tables)


def _bias_test(study: Study, name: str, margin: np.ndarray, n_eff: float) -> tuple[str, float, str] | None:
    """Pearson's chi-square of the weighted sample shares against the census, on n_eff."""
    col = study.microdata.codes[:, study.index(name)]
    seen = col >= 0
    if not seen.any():
        return None
    share = sample_margin(study, name)
    n_obs = n_eff * float(seen.mean())
    ok = margin > 0
    x2 = n_obs * float((((share - margin) ** 2)[ok] / margin[ok]).sum())
    p = float(stats.chi2.sf(x2, max(int(ok.sum()) - 1, 1)))
    k = int(np.argmax(np.abs(share - margin)))
    levels = study.attribute(name).levels
    return name, p, f"{levels[k]!r} is {share[k]:.1%} of the weighted sample but {margin[k]:.1%} of the census."


def _areas(study: Study, col: np.ndarray, report: StudyReport) -> list[str]:
    """Areas with no sample row (a gap) and with fewer than THIN_AREA_ROWS (a warning)."""
    geo = study.geography
    assert geo is not None
    rows = np.bincount(col[col >= 0], minlength=geo.n_levels)
    lines = []
    empty = [geo.levels[i] for i in range(geo.n_levels) if rows[i] == 0]
    if empty:
        lines.append(f"  {len(empty)} of {geo.n_levels} areas have no sample row: {', '.join(empty)}")
    thin = [(geo.levels[i], int(rows[i])) for i in range(geo.n_levels) if 0 < rows[i] < THIN_AREA_ROWS]
    if thin:
        report.warnings.append(
            f"{len(thin)} areas have fewer than {THIN_AREA_ROWS} sample rows (e.g. "
            + ", ".join(f"{a}: {c}" for a, c in thin[:5])
            + "); their attitudes follow their census composition, with little from their own rows."
        )
    return lines


def _empty_cells(study: Study, table: Marginal, codes: np.ndarray, report: StudyReport) -> list[str]:
    """Census cells with people but no sample row; sample rows in cells the census says are empty."""
    attrs, label = table.attributes, table_name(table)
    cols = [study.index(a) for a in attrs]
    sub = codes[:, cols]
    rows = sub[(sub >= 0).all(axis=1)]
    counts = np.asarray(table.counts, dtype=float)
    seen = np.zeros(counts.shape, dtype=np.int64)
    np.add.at(seen, tuple(rows.T), 1)
    gap = (counts > 0) & (seen == 0)
    lines = []
    if gap.any() and not (len(attrs) == 1 and study.attribute(attrs[0]).role == "geography"):
        share = counts[gap].sum() / counts.sum()
        level_names = [study.attribute(a).levels for a in attrs]
        cells = [tuple(int(i) for i in ix) for ix in np.argwhere(gap)]  # C order, as counts[gap]
        examples = "; ".join(
            " x ".join(f"{a}={lv[i]}" for a, lv, i in zip(attrs, level_names, cells[c], strict=True))
            for c in np.argsort(-counts[gap], kind="stable")[:3]
        )
        lines.append(
            f"  {label}: {int(gap.sum()):,} of {counts.size:,} cells ({share:.1%} of the population) have no "
            f"sample row; largest: {examples}"
        )
    impossible = (counts == 0) & (seen > 0)
    if impossible.any():
        report.warnings.append(
            f"{label}: {int(seen[impossible].sum())} sample rows fall in cells the census says are empty; "
            "the model gives those cells no population, so check the coding of both files."
        )
    return lines
