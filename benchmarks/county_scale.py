"""Area effects at county scale: fit time and peak memory at 49, 500 and 3,000 areas.

A county study is simulated from the shared anes population (17,476 people, 49 states):

* the population is replicated ``--replicate`` times (20: 349,520 people) and each state is
  split into counties, as many as its share of the people asks (at least one), people
  assigned to its counties at random; 49 areas keeps the states;
* known area effects: in each area the party ID is tilted by an offset ``u_g ~ N(0, 0.3^2)``
  (people are resampled within the area with weights ``exp(u_g * s)``, ``s`` the
  standardised pid7 code), so the areas differ beyond their composition;
* the census gives, as the anes study does, area x age / educ / race, age x educ, age x race,
  educ x race and every 1-D table; the sample is 1 % at random.

Each case runs in its own process (peak RSS from ``resource.getrusage``): a default fit with
seed 1, cold compile caches not forced (the first case compiles, as a user's first fit
would), then one posterior draw of the population and its personas written per area
(``--partition-by geography``), which streams.

Usage::

    OPENBLAS_NUM_THREADS=1 python benchmarks/county_scale.py --from ../shared/benchmarks/anes \\
        [--areas 49 500 3000] [--replicate 20] [--timeout 1800] [--out benchmarks/results/county_scale.md]
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import shlex  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from populace.atomic import atomic_path  # noqa: E402

TABLES = (("area",), ("age",), ("educ",), ("race",), ("income",), ("unemployed",), ("pid7",), ("polint",), ("trustgov",),
          ("govwaste",), ("biginterests",), ("area", "age"), ("area", "educ"), ("area", "race"), ("age", "educ"),
          ("age", "race"), ("educ", "race"))  # fmt: skip


def county_population(source: Path, areas: int, replicate: int, seed: int = 0) -> tuple[pd.DataFrame, dict]:
    """The simulated population (attribute labels, ``area`` in place of ``state``) and its
    levels; see the module docstring."""
    rng = np.random.default_rng(seed)
    meta = json.loads((source / "meta.json").read_text())
    pop = pd.read_parquet(source / "population.parquet", columns=meta["attributes"])
    pop = pd.concat([pop] * replicate, ignore_index=True)
    states = meta["levels"]["state"]
    state = pd.Categorical(pop["state"], categories=states).codes
    if areas == len(states):
        area = state
    else:
        raw = np.bincount(state, minlength=len(states)) / len(state) * areas
        k = np.maximum(1, np.floor(raw).astype(int))  # counties per state, by largest remainders
        while k.sum() < areas:
            k[np.argmax(raw - k)] += 1
        while k.sum() > areas:
            k[np.argmax(np.where(k > 1, k - raw, -np.inf))] -= 1
        first = np.concatenate([[0], np.cumsum(k)[:-1]])
        area = first[state] + rng.integers(0, k[state])
    levels = meta["levels"]["pid7"]
    score = pd.Categorical(pop["pid7"], categories=levels).codes.astype(float)
    score = (score - score.mean()) / score.std()
    offset = rng.normal(0.0, 0.3, areas)
    keep = np.empty(len(pop), dtype=np.int64)
    for g in range(areas):
        rows = np.flatnonzero(area == g)
        w = np.exp(offset[g] * score[rows])
        keep[rows] = rng.choice(rows, size=len(rows), p=w / w.sum())
    out = pop.iloc[keep].reset_index(drop=True).drop(columns="state")
    out.insert(0, "area", [f"c{g:04d}" for g in area])
    lv = {a: meta["levels"][a] for a in meta["attributes"] if a != "state"}
    lv["area"] = [f"c{g:04d}" for g in range(areas)]
    return out, lv


def write_study(pop: pd.DataFrame, levels: dict, folder: Path, fraction: float = 0.01, seed: int = 1) -> Path:
    """Census tables, a 1 % sample and the study TOML of a simulated population."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for a, lv in levels.items():
        kind = "ordinal" if a in ("age", "educ", "income", "pid7", "polint", "trustgov", "govwaste") else "nominal"
        lines += [f"[attributes.{a}]", f'type = "{kind}"', "levels = [" + ", ".join(json.dumps(x) for x in lv) + "]"]
        lines += ['role = "geography"', ""] if a == "area" else [""]
    for t in TABLES:
        idx = pd.MultiIndex.from_product([levels[a] for a in t], names=list(t))
        counts = pop.groupby(list(t), observed=False).size().reindex(idx, fill_value=0).rename("count").reset_index()
        name = "census_" + "__".join(t) + ".csv"
        counts.to_csv(folder / name, index=False)
        lines += ["[[marginals]]", f'path = "{name}"', ""]
    n = int(round(fraction * len(pop)))
    sample = pop.iloc[rng.choice(len(pop), n, replace=False)].assign(weight=len(pop) / n)
    sample.to_csv(folder / "sample.csv", index=False)
    lines += ["[microdata]", 'path = "sample.csv"', 'weight = "weight"']
    (folder / "study.toml").write_text("\n".join(lines) + "\n")
    return folder / "study.toml"


def _child(study: str, out: str) -> None:
    import populace
    from populace.inference import check_convergence, fit, write_personas_dataset

    t0 = time.perf_counter()
    s = populace.load_study(study)
    f = fit(s, seed=1, warn=False)
    t_fit = time.perf_counter() - t0
    rss_fit = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    d = check_convergence(f, warn=False)
    t1 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        _, rows = write_personas_dataset(f, Path(tmp) / "personas", len(s.microdata.codes) * 100, draws=1, seed=2, by_geography=True)
    t_gen = time.perf_counter() - t1
    print(json.dumps({
        "fit_s": t_fit, "fit_before_sampling_s": f.attrs["populace_fit_seconds"], "rss_fit_mb": rss_fit,
        "rhat": d.max_rhat, "ess_bulk": d.min_ess_bulk, "ess_tail": d.min_ess_tail, "worst": d.worst_ess,
        "divergences": d.divergences, "generate_s": t_gen, "rows": rows,
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))  # fmt: skip


def _write_table(rows: list[dict], out: str, command: str) -> None:
    """The Markdown table of the cases run so far."""
    lines = [
        "# Area effects at county scale",
        "",
        f"Made by: `{command}` ({time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, {platform.processor() or platform.machine()}).",
        "See the script's docstring for the simulated population. Fit: default settings, seed 1, in a fresh",
        "process (its compile included); peak memory is the process's maximum RSS after the fit; generation is",
        "one posterior draw of 100 personas per sample row, written per area (`--partition-by geography`).",
        "",
        "| areas | people | sample | fit s | peak RSS after fit (MB) | R-hat max | ESS bulk / tail min | divergences | generate s | peak RSS (MB) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if "timed_out" in r:
            lines.append(f"| {r['areas']:,} | {r['people']:,} | {r['sample']:,} | not done in {r['timed_out']:.0f} s | | | | | | |")
            continue
        lines.append(
            f"| {r['areas']:,} | {r['people']:,} | {r['sample']:,} | {r['fit_s']:.0f} | {r['rss_fit_mb']:.0f} | "
            f"{r['rhat']:.3f} | {r['ess_bulk']:.0f} / {r['ess_tail']:.0f} | {r['divergences']} | {r['generate_s']:.0f} | {r['rss_mb']:.0f} |"
        )
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(Path(out)) as tmp:
        tmp.write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="source", type=Path, help="the shared anes benchmark folder")
    parser.add_argument("--areas", type=int, nargs="+", default=[49, 500, 3000])
    parser.add_argument("--replicate", type=int, default=20)
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds a case may take (fit and generation)")
    parser.add_argument("--out", default="benchmarks/results/county_scale.md")
    parser.add_argument("--child", nargs=2, metavar=("STUDY", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(*args.child)
        return 0
    rows: list[dict] = []
    command = "OPENBLAS_NUM_THREADS=1 python benchmarks/county_scale.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    with tempfile.TemporaryDirectory() as tmp:
        for areas in args.areas:
            pop, levels = county_population(args.source, areas, args.replicate)
            study = write_study(pop, levels, Path(tmp) / f"areas{areas}")
            t0 = time.perf_counter()
            # Its own session, so that a timeout kills the chains the fit forked as well.
            proc = subprocess.Popen([sys.executable, __file__, "--child", str(study), tmp], stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True, start_new_session=True)
            try:
                stdout, stderr = proc.communicate(timeout=args.timeout)
            except subprocess.TimeoutExpired:  # a row that says so, not a missing one
                os.killpg(proc.pid, signal.SIGKILL)
                proc.communicate()
                rows.append(dict(areas=areas, people=len(pop), sample=int(round(0.01 * len(pop))), timed_out=args.timeout))
                print(json.dumps(rows[-1]), flush=True)
                _write_table(rows, args.out, command)
                continue
            wall = time.perf_counter() - t0
            if proc.returncode:
                print(stderr[-3000:], file=sys.stderr)
                return proc.returncode
            res = json.loads(stdout.strip().splitlines()[-1])
            res.update(areas=areas, people=len(pop), sample=int(round(0.01 * len(pop))), wall_s=wall)
            rows.append(res)
            print(json.dumps(res), flush=True)
            _write_table(rows, args.out, command)  # after each case: a long one can be stopped
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
