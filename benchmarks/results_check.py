"""Provenance of ``benchmarks/results`` and a rerun of the cheap results.

``--index`` writes ``benchmarks/results/PROVENANCE.md``: every tracked file under
``benchmarks/results``, the command that made it (its own ``Made by:`` / ``Command:`` line,
or that of a Markdown file beside it or in a folder above it, for CSVs and plots) and the
commit that last changed it (from git: the commit that *committed* the result; the code it
ran on is that commit's parent or older, as the result's own line dates it).

``--check`` (``make results-check``) fails when

1. a tracked result names no command (itself or beside it);
2. ``PROVENANCE.md`` is stale (a file missing, or another commit than git's);
3. a SBC report's table no longer follows from its ``sbc_ranks.csv`` (the p-values are
   recomputed from the ranks);
4. ``rectify_sim`` rerun now with another seed (``--reps``, default 500 per setting, about
   2.5 min) disagrees with the committed ``rectify_sim.csv`` beyond Monte-Carlo error:
   coverage and bias of every row, ``|new - old| <= 4 * sqrt(se_new^2 + se_old^2)``. With
   about 150 comparisons, a false alarm at 4 standard errors has probability about 0.01.

Usage::

    python benchmarks/results_check.py --index
    python benchmarks/results_check.py --check [--reps 500]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
INDEX = RESULTS / "PROVENANCE.md"
COMMAND = re.compile(r"(?:Made by|Command):\s*`([^`]+)`")
#: Standard errors within which a rerun must agree.
Z_MAX = 4.0


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, check=True, capture_output=True, text=True).stdout


def tracked() -> list[Path]:
    """Tracked files under benchmarks/results, the index itself left out."""
    names = _git("ls-files", "-z", "benchmarks/results").split("\0")
    return sorted(ROOT / n for n in names if n and ROOT / n != INDEX)


def own_command(path: Path) -> str | None:
    if path.suffix not in (".md", ".txt"):
        return None
    match = COMMAND.search(path.read_text(encoding="utf-8", errors="replace"))
    return match.group(1) if match else None


def command_of(path: Path) -> tuple[str, str] | None:
    """``(command, where it is written)`` for a result, or None."""
    own = own_command(path)
    if own is not None:
        return own, "itself"
    folder = path.parent
    while True:
        for md in sorted(folder.glob("*.md")):
            if md != INDEX and md != path and (cmd := own_command(md)) is not None:
                return cmd, str(md.relative_to(RESULTS))
        if folder == RESULTS:
            return None
        folder = folder.parent


def last_commit(path: Path) -> str:
    """``<hash> <date>`` of the commit that last changed ``path`` (empty if uncommitted)."""
    return _git("log", "-1", "--format=%h %ad", "--date=short", "--", str(path.relative_to(ROOT))).strip()


def index_rows() -> list[tuple[str, str, str, str]]:
    rows = []
    for path in tracked():
        found = command_of(path)
        cmd, where = found if found else ("", "")
        rows.append((str(path.relative_to(RESULTS)), last_commit(path), cmd, where))
    return rows


def write_index() -> None:
    lines = [
        "# Provenance of benchmarks/results",
        "",
        "Written by `python benchmarks/results_check.py --index`; checked by `make results-check`.",
        "Commit: the one that last changed the file (it committed the result; the code it ran on",
        "is that commit's parent or older, as the result's own line dates it). Command: the",
        "file's own `Made by:` line, or the one of the Markdown file named in the last column.",
        "",
        "| file | commit | command | command written in |",
        "|---|---|---|---|",
    ]
    for name, commit, cmd, where in index_rows():
        lines.append(f"| {name} | {commit} | `{cmd}` | {where} |" if cmd else f"| {name} | {commit} | (none) | |")
    tmp = INDEX.with_suffix(".md.tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tmp.replace(INDEX)
    print(f"wrote {INDEX.relative_to(ROOT)} ({len(lines) - 9} files)")


def check_provenance() -> list[str]:
    problems = []
    rows = index_rows()
    problems += [f"{name}: names no command (nor does a Markdown file beside it)" for name, _, cmd, _ in rows if not cmd]
    problems += [f"{name}: not committed" for name, commit, _, _ in rows if not commit]
    if not INDEX.exists():
        return [*problems, f"{INDEX.name} missing: run --index"]
    listed = {}
    for line in INDEX.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 4 and cells[0] not in ("file", "---"):
            listed[cells[0]] = cells[1]
    for name, commit, _, _ in rows:
        if listed.get(name) != commit:
            problems.append(f"{INDEX.name} is stale for {name} (lists {listed.get(name)!r}, git {commit!r}): run --index")
    return problems


def check_sbc() -> list[str]:
    """Each SBC report's p-values follow from its committed ranks (to the digits printed)."""
    sys.path.insert(0, str(ROOT / "src"))
    from populace.evaluation.sbc import summarize

    problems = []
    for csv in sorted(RESULTS.glob("sbc*/sbc_ranks.csv")):
        lines = (csv.parent / "sbc.md").read_text(encoding="utf-8").splitlines()
        header = next(line for line in lines if line.startswith("| quantity |"))
        col = [c.strip() for c in header.strip("|").split("|")].index("p-value")
        printed = {}
        for line in lines:
            cells = [c.strip() for c in line.replace("\\|", "\x00").strip("|").split("|")]
            if len(cells) > col and re.fullmatch(r"\d+\.\d+", cells[col]):
                printed[cells[0].replace("\x00", "|")] = cells[col]
        for _, r in summarize(pd.read_csv(csv)).iterrows():
            text = printed.get(str(r["quantity"]))
            digits = len(text.split(".")[1]) if text else 0
            if text is None or abs(float(text) - r["pvalue"]) > 0.5 * 10.0**-digits + 1e-12:
                problems.append(f"{csv.parent.name}/sbc.md: {r['quantity']} p = {r['pvalue']:.4f} from the ranks, {text} in its table")
    return problems


def check_rectify(reps: int) -> list[str]:
    """Rerun rectify_sim (another seed) and compare with the committed CSV within MC error."""
    old = pd.read_csv(RESULTS / "rectify_sim.csv")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "rectify_sim.md"
        cmd = [sys.executable, str(ROOT / "benchmarks" / "rectify_sim.py"), "--reps", str(reps), "--seed", "1000", "--out", str(out)]
        subprocess.run(cmd, cwd=ROOT, check=True)
        new = pd.read_csv(out.with_suffix(".csv"))
    key = ["setting", "group", "level", "method"]
    both = old.merge(new, on=key, suffixes=("_old", "_new"), validate="one_to_one")
    if len(both) != len(old):
        return [f"rectify_sim: {len(old)} committed rows, {len(both)} rerun"]

    def cov_se(p: pd.Series, n: pd.Series) -> pd.Series:
        return np.sqrt(np.maximum(p * (1 - p), 0.25 / n) / n)  # floor: a coverage of 0 or 1 has an SE too

    def bias_se(rmse: pd.Series, bias: pd.Series, n: pd.Series) -> pd.Series:
        return np.sqrt(np.maximum(rmse**2 - bias**2, 0.0) / n)

    problems, largest = [], 0.0
    for stat, se_old, se_new in (
        ("coverage", cov_se(both.coverage_old, both.reps_old), cov_se(both.coverage_new, both.reps_new)),
        ("bias", bias_se(both.rmse_old, both.bias_old, both.reps_old), bias_se(both.rmse_new, both.bias_new, both.reps_new)),
    ):
        z = (both[f"{stat}_new"] - both[f"{stat}_old"]) / np.sqrt(se_old**2 + se_new**2 + 1e-18)
        largest = max(largest, float(np.nanmax(np.abs(z))))
        for i in np.flatnonzero(np.abs(z.to_numpy()) > Z_MAX):
            r = both.iloc[i]
            problems.append(
                f"rectify_sim {r.setting} / {r.group} / {r.level} / {r.method}: {stat} {r[f'{stat}_old']:.4f} committed, "
                f"{r[f'{stat}_new']:.4f} now (z = {z.iloc[i]:.1f})"
            )
    print(f"rectify_sim: {2 * len(both)} comparisons (coverage and bias), largest |z| {largest:.2f}")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", action="store_true", help="write benchmarks/results/PROVENANCE.md")
    parser.add_argument("--check", action="store_true", help="check provenance, SBC tables, and rerun rectify_sim")
    parser.add_argument("--reps", type=int, default=500, help="rectify_sim replications per setting (default 500)")
    args = parser.parse_args()
    if args.index:
        write_index()
    if not args.check:
        return 0
    problems = check_provenance() + check_sbc() + check_rectify(args.reps)
    for p in problems:
        print(f"FAIL {p}")
    print("results-check: " + ("ok" if not problems else f"{len(problems)} problems"))
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
