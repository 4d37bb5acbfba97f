"""Mutation score of chosen modules with mutmut 3, written as a table with every survivor.

mutmut mutates a copy of the source and runs, for each mutant, the tests that reach the
mutated function. This runs it in a scratch copy of the repository's tracked files (so the
checkout's ``pyproject.toml`` and tree stay as they are): every module of ``src/`` is copied,
only the ``--modules`` are mutated, and the tests are ``--tests`` without those marked slow
(the NUTS fits). Statuses are read from mutmut's ``.meta`` files: killed (a test failed),
survived (every test passed), no tests (no test reaches the function), timeout, other.

Usage::

    python benchmarks/mutations/score.py --modules src/populace/simulate/ppi.py \\
        --tests tests/simulate [--work /tmp/populace-mutation] [--out FILE.md]
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from collections import Counter
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: mutmut's console script: under ``python -m mutmut`` its mutants' trampolines import
#: ``mutmut.__main__`` a second time, which fails.
MUTMUT = str(Path(sys.executable).parent / "mutmut")


def scratch_copy(work: Path) -> None:
    """The repository's tracked files (as in the working tree) in ``work``."""
    if work.exists():
        shutil.rmtree(work)
    names = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True, text=True).stdout
    for name in filter(None, names.split("\0")):
        src = ROOT / name
        if src.is_file():
            dst = work / name
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)


def configure(work: Path, modules: list[str], tests: list[str]) -> None:
    """Append mutmut's section: copy all of ``src/``, mutate ``modules`` only, run ``tests``
    without the slow ones."""
    section = {
        "source_paths": ["src/"],
        "only_mutate": [str(Path(m)) for m in modules],
        "pytest_add_cli_args": ["-m", "not slow", "-p", "no:cacheprovider"],
        "pytest_add_cli_args_test_selection": list(tests),
    }
    lines = ["", "[tool.mutmut]"] + [f"{k} = {json.dumps(v)}" for k, v in section.items()]
    with open(work / "pyproject.toml", "a", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")


def statuses(work: Path, modules: list[str]) -> dict[str, dict[str, int | None]]:
    """Exit code per mutant, by module, from mutmut's ``.meta`` files."""
    out: dict[str, dict[str, int | None]] = {}
    for m in modules:
        meta = work / "mutants" / f"{m}.meta"
        if not meta.exists():
            out[m] = {}
            continue
        out[m] = dict(json.loads(meta.read_text())["exit_code_by_key"])
    return out


def kind(code: int | None) -> str:
    """What mutmut's exit code for a mutant means (its own table)."""
    from mutmut.stats import status_by_exit_code

    return status_by_exit_code.get(code, f"exit {code}")


def diff_of(work: Path, name: str) -> str:
    """mutmut's diff of one mutant (its changed lines only)."""
    res = subprocess.run([MUTMUT, "show", name], cwd=work, capture_output=True, text=True)
    lines = [ln for ln in res.stdout.splitlines() if ln.startswith(("+", "-")) and not ln.startswith(("+++", "---"))]
    return " / ".join(ln.strip() for ln in lines)[:300]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modules", nargs="+", required=True, help="source files to mutate (paths from the repo root)")
    parser.add_argument("--tests", nargs="+", required=True, help="test files or folders that may kill them")
    parser.add_argument("--work", default="/tmp/populace-mutation", help="scratch copy (replaced)")
    parser.add_argument("--max-children", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--out", default="benchmarks/results/mutation_score.md")
    args = parser.parse_args()
    work = Path(args.work)
    # What is measured: this commit, plus any uncommitted change to the files involved.
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--", *args.modules, *args.tests], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    scratch_copy(work)
    configure(work, args.modules, args.tests)
    t0 = time.perf_counter()
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    run = subprocess.run([MUTMUT, "run", "--max-children", str(args.max_children)], cwd=work, env=env)
    seconds = time.perf_counter() - t0
    by_module = statuses(work, args.modules)
    rows, survivors = [], []
    for module, codes in by_module.items():
        count = Counter(kind(c) for c in codes.values())
        checked = count["killed"] + count["survived"] + count["timeout"]
        score = count["killed"] / checked if checked else float("nan")
        rows.append((module, len(codes), count, score))
        survivors += [(module, n) for n, c in sorted(codes.items()) if kind(c) in ("survived", "no tests")]
    command = "OPENBLAS_NUM_THREADS=1 " + shlex.join(["python", *sys.argv])
    lines = [
        "# Mutation score (mutmut 3)",
        "",
        f"Made by: `{command}` at commit {commit}{' (with uncommitted changes to these files)' if dirty else ''}, "
        f"{date.today()}, {seconds / 60:.1f} min on {os.cpu_count()} cores (mutmut exit {run.returncode}).",
        "",
        "Tests: " + ", ".join(f"`{t}`" for t in args.tests) + " without the slow (NUTS) tests. Score = killed / (killed + "
        "survived + timeout); 'no tests': no test reaches the mutated function (counted apart).",
        "",
        "| module | mutants | killed | survived | timeout | no tests | other | score |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for module, n, count, score in rows:
        other = n - sum(count[k] for k in ("killed", "survived", "timeout", "no tests"))
        lines.append(
            f"| {module} | {n} | {count['killed']} | {count['survived']} | {count['timeout']} | {count['no tests']} | {other} | {score:.3f} |"
        )
    lines += ["", "## Survivors and mutants no test reaches", "", "| module | mutant | status | change |", "|---|---|---|---|"]
    for module, name in survivors:
        change = diff_of(work, name).replace("|", "\\|")
        lines.append(f"| {module} | `{name}` | {kind(by_module[module][name])} | `{change}` |")
    out = ROOT / args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".md.tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tmp.replace(out)
    print(f"wrote {out}")
    for module, n, count, score in rows:
        print(f"{module}: {n} mutants, killed {count['killed']}, survived {count['survived']}, score {score:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
