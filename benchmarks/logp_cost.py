"""Compile time and cost of one log density + gradient of the default model on a study.

Builds the PyMC model, compiles ``[logp, dlogp]`` in one function (as the samplers do,
numba backend, with the machine's compile cache) and times ``--calls`` calls at the
initial point. Run it twice: the second run's compile time is the warm one.

Usage::

    OPENBLAS_NUM_THREADS=1 python benchmarks/logp_cost.py STUDY.toml [--calls 100]
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np
import pymc as pm

import populace
from populace.models.copula import CopulaModel


def logp_cost(model: pm.Model, calls: int) -> tuple[float, int, float]:
    """``(compile seconds, graph nodes, seconds per call)`` of ``[logp, dlogp]`` at the initial point."""
    point = model.initial_point()
    t0 = time.perf_counter()
    f = model.compile_fn([model.logp(), model.dlogp()])
    compile_s = time.perf_counter() - t0
    return compile_s, len(f.f.maker.fgraph.apply_nodes), call_cost(f, point, calls)


def call_cost(f: Any, x: Any, calls: int) -> float:
    """Seconds per call of ``f(x)``, after one untimed call. Each call's outputs are read as
    numpy arrays, as a sampler reads them: JAX returns before its result is ready, and
    calls that nobody waits for overlap."""

    def call() -> None:
        out = f(x)
        for o in out if isinstance(out, (list, tuple)) else (out,):
            np.asarray(o)

    call()
    t0 = time.perf_counter()
    for _ in range(calls):
        call()
    return (time.perf_counter() - t0) / calls


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("study")
    parser.add_argument("--calls", type=int, default=100)
    args = parser.parse_args()
    compile_s, nodes, call_s = logp_cost(CopulaModel(populace.load_study(args.study)).build_model(), args.calls)
    print(f"compile {compile_s:.1f} s, {nodes} graph nodes, one logp + gradient {call_s * 1e3:.2f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
