"""The eight mutations of the test audit (issue "Tests that catch real bugs"): apply each to
the source, run the tests that should catch it, and restore the file. Every mutation must
make its tests fail. The mutated files must be committed first: a run killed mid-way is
undone with ``git checkout -- FILE``.

Usage::

    python benchmarks/mutations/audit.py [--out benchmarks/results/mutation_audit.md]
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
import time
from pathlib import Path

from populace.atomic import atomic_path

ROOT = Path(__file__).resolve().parents[2]

#: (name, file, original text, mutated text, tests that must fail)
MUTATIONS = [
    ("stick-breaking off by one", "src/populace/inference/atoms.py",
     "np.exp(np.concatenate([[0.0], log_rest[:-1]]))", "np.exp(log_rest)",
     "tests/inference/test_atoms.py"),
    ("_complete ignores the observed values", "src/populace/inference/atoms.py",
     "            match &= codes[:, col] == v\n", "            pass\n",
     "tests/inference/test_atoms.py"),
    ("chunk seed (seed, k), not (seed, draw, k)", "src/populace/inference/generate.py",
     "np.random.default_rng([plan.entropy, d, k])", "np.random.default_rng([plan.entropy, k])",
     "tests/test_generate.py"),
    ("weighted PPI variance with w, not w^2", "src/populace/simulate/ppi.py",
     "np.sum(w**2 * (z - w @ z / n) ** 2)", "np.sum(w * (z - w @ z / n) ** 2)",
     "tests/simulate/test_ppi_properties.py"),
    ("PPI lambda with n, not Kish n", "src/populace/simulate/ppi.py",
     "denom = v_f + n_eff * v_lam", "denom = v_f + n * v_lam",
     "tests/simulate/test_ppi_properties.py"),
    ("Bonferroni dropped from populace check", "src/populace/study/check.py",
     "if p < BIAS_P / len(tested):", "if p < BIAS_P:",
     "tests/study/test_check.py"),
    ("cov90 per table, not per cell", "src/populace/evaluation/metrics/coverage.py",
     '"cov90": float(cov_all.mean()),', '"cov90": float(np.mean([c.mean() for c in covered])),',
     "tests/evaluation/test_metrics.py"),
    ("survey weights rescaled to n, not Kish n", "src/populace/models/structure.py",
     "w = w * (n_eff / w.sum())", "w = w * (len(w) / w.sum())",
     "tests/models/test_structure.py"),
]  # fmt: skip


def run(name: str, file: str, old: str, new: str, tests: str) -> tuple[bool, str, float]:
    path = ROOT / file
    text = path.read_text()
    if text.count(old) != 1:
        raise SystemExit(f"{name}: the original text is not found exactly once in {file}; update the audit.")
    t0 = time.perf_counter()
    try:
        path.write_text(text.replace(old, new))
        proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", tests],
                              cwd=ROOT, capture_output=True, text=True)  # fmt: skip
    finally:
        path.write_text(text)
    failed = [ln.split(" - ")[0].removeprefix("FAILED ") for ln in proc.stdout.splitlines() if ln.startswith("FAILED")]
    return proc.returncode != 0, ", ".join(failed) or proc.stdout.strip().splitlines()[-1], time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="benchmarks/results/mutation_audit.md")
    args = parser.parse_args(argv)
    files = sorted({m[1] for m in MUTATIONS})
    dirty = subprocess.run(["git", "status", "--porcelain", "--", *files], cwd=ROOT, capture_output=True, text=True).stdout
    if dirty.strip():  # a run killed mid-way is then undone by `git checkout -- FILE`
        raise SystemExit(f"commit or stash the changes to these files first:\n{dirty}")
    lines = [
        "# The audit's eight mutations",
        "",
        f"Made by: `{shlex.join(['python', 'benchmarks/mutations/audit.py', *(sys.argv[1:] if argv is None else argv)])}` "
        f"({time.strftime('%Y-%m-%d')}). \"by\": every test of the file that failed on the mutant.",
        "",
        "| mutation | file | killed | by | s |",
        "|---|---|---|---|---|",
    ]
    survived = 0
    for name, file, old, new, tests in MUTATIONS:
        killed, by, secs = run(name, file, old, new, tests)
        survived += not killed
        lines.append(f"| {name} | {file} | {'yes' if killed else 'NO'} | {by} | {secs:.0f} |")
        print(lines[-1], flush=True)
    with atomic_path(Path(args.out)) as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    return 1 if survived else 0


if __name__ == "__main__":
    raise SystemExit(main())
