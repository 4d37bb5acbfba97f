"""Quadrature nodes per factor: accuracy of the implied 2-way tables against their cost.

The Gauss-Hermite nodes define the model: margins are solved on them exactly, so fewer
nodes change only the dependence the loadings imply (a coarser latent factor). This
measures that change at fixed parameters, for loadings drawn from the prior (and from a
prior twice as wide, as a stress case): every national 2-way table of the study under
``n`` nodes per factor against a fine reference rule (11 per factor). Reported per node
count, over draws and tables:

- ``max |dp|``: the largest absolute error of a cell probability;
- ``dep. error``: ``sum |p_n - p_ref| / sum |p_ref - p_a p_b|`` per table, the error
  as a share of the table's dependence (its departure from independence); median and
  95th percentile.

It also times one log density + gradient of the PyMC model for each node count
(``benchmarks/logp_cost.py``, numba, warm or cold as the machine's caches are).

Usage::

    OPENBLAS_NUM_THREADS=1 python benchmarks/quadrature_nodes.py [STUDY.toml | FIT.nc ...] \
        [--nodes 2 3 4 5 7] [--draws 40] [--out benchmarks/results/quadrature_nodes.md]

Without a study it uses the bundled gss example. A saved fit adds its posterior draws
(evenly spaced) as parameter points.
"""

from __future__ import annotations

import argparse
import itertools
import pathlib
import sys
from typing import Any

import numpy as np

import populace
from populace.data import example_study_path
from populace.inference import load_fit
from populace.inference.fit import model_from_fit, posterior_draws
from populace.models.backend import NP
from populace.models.config import DEFAULT_MODEL_CONFIG
from populace.models.copula import CopulaModel

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from logp_cost import logp_cost  # noqa: E402

REFERENCE_NODES = 11


def prior_params(model: CopulaModel, rng: np.random.Generator, scale: float) -> dict[str, Any]:
    """Loadings from the prior (sd times ``scale``) and free shares from Dirichlet(1)."""
    s, cfg = model.structure, model.model_config
    k = model.nodes.shape[1]
    params: dict[str, Any] = {}
    for name, link in zip(s.names, s.link, strict=True):
        n_lev = model.study.attribute(name).n_levels
        if link == "softmax":
            params[f"loadings_{name}"] = rng.normal(0.0, scale * cfg["nominal_loading_sd"], (n_lev - 1, k))
        else:
            params[f"loadings_{name}"] = rng.normal(0.0, scale * cfg["loading_sd"], k)
        if model._free(name):
            params[f"shares_{name}"] = rng.dirichlet(np.ones(n_lev))
    return params


def national_pairs(model: CopulaModel, params: dict[str, Any]) -> list[np.ndarray]:
    """Every national 2-way table ``P(a, b)`` of the attributes, in pair order."""
    _, national = model.attribute_logps(params, NP)
    w = np.exp(model.log_w)
    probs = [np.exp(lp[0]) for lp in national]  # (Q, L)
    return [np.einsum("q,qa,qb->ab", w, probs[a], probs[b]) for a, b in itertools.combinations(range(len(probs)), 2)]


def posterior_params(fit_path: str, draws: int) -> list[dict[str, Any]]:
    """``draws`` evenly spaced posterior draws of a saved fit's loadings and free shares."""
    n, post = posterior_draws(load_fit(fit_path))
    keep = [k for k in post if k.startswith(("loadings_", "shares_"))]
    return [{k: post[k][i] for k in keep} for i in np.linspace(0, n - 1, draws).astype(int)]


def accuracy(
    ref: CopulaModel, models: dict[int, CopulaModel], points: list[dict[str, Any]]
) -> dict[int, dict[str, float]]:
    """Error statistics of each model's national 2-way tables against ``ref``'s, at ``points``."""
    errs: dict[int, tuple[list[float], list[float]]] = {n: ([], []) for n in models}
    for params in points:
        tables_ref = national_pairs(ref, params)
        for n, m in models.items():
            for p, q in zip(national_pairs(m, params), tables_ref, strict=True):
                dep = np.abs(q - q.sum(1, keepdims=True) * q.sum(0, keepdims=True)).sum()
                errs[n][0].append(float(np.abs(p - q).max()))
                errs[n][1].append(float(np.abs(p - q).sum() / max(dep, 1e-12)))
    return {
        n: {
            "max_dp": max(mx),
            "dep_median": float(np.median(rel)),
            "dep_p95": float(np.quantile(rel, 0.95)),
        }
        for n, (mx, rel) in errs.items()
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("studies", nargs="*")
    parser.add_argument("--nodes", type=int, nargs="+", default=[2, 3, 4, 5, 7])
    parser.add_argument("--draws", type=int, default=40)
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=pathlib.Path)
    args = parser.parse_args()
    paths = args.studies or [None]
    lines = [
        "# Quadrature nodes per factor: 2-way table accuracy and gradient cost",
        "",
        f"Command: `OPENBLAS_NUM_THREADS=1 python benchmarks/quadrature_nodes.py {' '.join(args.studies)} "
        f"--nodes {' '.join(map(str, args.nodes))} --draws {args.draws}`. Reference rule: "
        f"{REFERENCE_NODES} nodes per factor. Default K = {DEFAULT_MODEL_CONFIG['factors']} factors, "
        f"so n nodes per factor are n^{DEFAULT_MODEL_CONFIG['factors']} nodes.",
        "",
        "| study | loadings | nodes per factor | nodes | max abs dp | dep. error median | dep. error p95 | one logp + gradient |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for path in paths:
        # A saved fit (.nc) gives its study and posterior draws; a study TOML, prior draws only.
        is_fit = path is not None and path.endswith(".nc")
        study = model_from_fit(load_fit(path)).study if is_fit else populace.load_study(path or example_study_path())
        stem = pathlib.Path(path).stem if path else "gss"
        label = pathlib.Path(path).parent.name if stem == "study" else stem  # data/gss/study.toml -> gss
        ref = CopulaModel(study, model_config={"quadrature_nodes": REFERENCE_NODES})
        models = {n: CopulaModel(study, model_config={"quadrature_nodes": n}) for n in args.nodes}
        rng = np.random.default_rng(args.seed)
        point_sets = [(what, [prior_params(ref, rng, scale) for _ in range(args.draws)]) for scale, what in ((1.0, "prior"), (2.0, "prior x2"))]
        if is_fit:
            point_sets.insert(0, ("posterior", posterior_params(path, args.draws)))
        cost = {}
        for n, m in models.items():
            _, _, cost[n] = logp_cost(m.build_model(), args.calls)
            print(f"{label}: nodes {n}: {cost[n] * 1e3:.2f} ms per logp + gradient", flush=True)
        for what, points in point_sets:
            acc = accuracy(ref, models, points)
            for n, m in models.items():
                a = acc[n]
                row = (
                    f"| {label} | {what} | {n} | {len(m.log_w)} "
                    f"| {a['max_dp']:.4f} | {a['dep_median']:.3f} | {a['dep_p95']:.3f} | {cost[n] * 1e3:.2f} ms |"
                )
                lines.append(row)
                print(row, flush=True)
    text = "\n".join(lines) + "\n"
    if args.out:
        args.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
