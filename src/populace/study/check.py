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
from populace.study.shares import census_margin, census_tables_of, effective_weights, kish_n_eff, sample_margin
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
    #: Attribute pairs that no survey observes together and no census table holds.
    unobserved_pairs: list[tuple[str, str]] = field(default_factory=list)
    #: One line per census table published with error.
    noisy_tables: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        out = [f"study {self.name}", "", "attributes (what pins each margin):", *self.attributes]
        if self.noisy_tables:
            out += ["", "census tables with stated error (measurements: generation draws them, so intervals include the error):"]
            out += self.noisy_tables
        out += ["", "sample:", *self.sample]
        if self.unobserved_pairs:
            out += ["", "pairs no survey observes together (their dependence comes from the model's structure alone):"]
            out += [f"  {a} x {b}" for a, b in self.unobserved_pairs]
        out += ["", "census cells and areas with no sample row:", *(self.gaps or ["  none"])]
        out += ["", f"warnings ({len(self.warnings)}):", *(f"  - {w}" for w in self.warnings or ["none"])]
        return "\n".join(out) + "\n"


def check_study(study: Study) -> StudyReport:
    """Describe ``study`` and list what a statistician should act on before fitting."""
    report = StudyReport(study.name)
    codes = np.asarray(study.microdata.codes)
    w = effective_weights(study.microdata)
    n, n_eff = len(w), float(w.sum())
    source = study.microdata.row_source()
    sources = study.sources
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
        # Missing by design (a survey that did not ask it) is not missing at random within a survey.
        asked = np.isin(source, [k for k, x in enumerate(sources) if a.name in x.attributes])
        missing = float((codes[asked, j] < 0).mean()) if asked.any() else 0.0
        if missing > MISSING_WARN:
            report.warnings.append(
                f"{a.name} is missing in {missing:.0%} of the sample rows that asked it; its dependence rests on the other "
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
            tests.append(_bias_test(study, a.name, margin))

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
    if len(sources) > 1:
        for k, x in enumerate(sources):
            rows = source == k
            report.sample.append(
                f"  source {x.label}" + (f" ({x.path})" if x.path else "")
                + f": rows {x.rows:,}, Kish effective n {w[rows].sum():,.1f}, measured {', '.join(x.attributes)}"
            )
    for m in study.marginals:
        if m.se is not None:
            c, se = np.ravel(m.counts), np.ravel(m.se)
            cv = se[c > 0] / c[c > 0]
            report.noisy_tables.append(
                f"  {table_name(m)}: {int((se > 0).sum()):,} of {c.size:,} cells with error; median relative se "
                f"{np.median(cv):.1%}" + (f", {float((cv > 0.4).mean()):.0%} of cells above 40 % (unreliable)" if cv.size else "")
            )
    report.unobserved_pairs = _unobserved_pairs(study, codes)
    if report.unobserved_pairs:
        report.warnings.append(
            f"{len(report.unobserved_pairs)} attribute pair(s) are observed together by no survey and held by no census "
            f"table (e.g. {' x '.join(report.unobserved_pairs[0])}): their dependence is an assumption of the model "
            "(the shared factors), and their intervals are wider."
        )
    if n_eff < 0.5 * n:
        report.warnings.append(
            f"the weights halve the information: Kish effective n {n_eff:,.0f} of {n:,} rows. Check extreme weights."
        )
    if free:
        # Each from the rows that observed it (several surveys may not all have asked it).
        seen = [float(w[codes[:, study.index(a)] >= 0].sum()) for a in free]
        same = len({round(x) for x in seen}) == 1
        rows = f"{seen[0]:,.0f} effective sample rows" if same else (
            " and ".join(f"{x:,.0f}" for x in seen) + " effective sample rows respectively"
        )
        report.warnings.append(
            f"{', '.join(free)} {'has' if len(free) == 1 else 'have'} no census table: "
            f"{'its' if len(free) == 1 else 'their'} population shares "
            f"come from {rows}, so a biased sample biases them directly."
        )
    if geo is not None:
        report.gaps += _areas(study, codes[:, study.index(geo.name)], report)
    for t in study.marginals:
        report.gaps += _empty_cells(study, t, codes, report)
    return report


def _names(tables: list[Marginal]) -> str:
    return ", ".join(table_name(t) for t in tables)


def _unobserved_pairs(study: Study, codes: np.ndarray) -> list[tuple[str, str]]:
    """Pairs of non-geography attributes with no row observing both and no census table holding both."""
    names = [a.name for a in study.attributes if a.role != "geography"]
    seen = codes >= 0
    out = []
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            if (seen[:, study.index(a)] & seen[:, study.index(b)]).any():
                continue
            if any(a in m.attributes and b in m.attributes for m in study.marginals):
                continue
            out.append((a, b))
    return out


def _bias_test(study: Study, name: str, margin: np.ndarray) -> tuple[str, float, str] | None:
    """Pearson's chi-square of the weighted sample shares against the census, on the effective n
    of the rows that observe it (each survey's Kish n times its share of such rows)."""
    col = study.microdata.codes[:, study.index(name)]
    seen = col >= 0
    if not seen.any():
        return None
    share = sample_margin(study, name)
    src = study.microdata.row_source()
    w = np.asarray(study.microdata.weights, dtype=float)
    n_obs = sum(kish_n_eff(w[src == k]) * float(seen[src == k].mean()) for k in np.unique(src))
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
