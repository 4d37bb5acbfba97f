"""The library's ``README.md``: a dataset card (YAML front matter) and its datasheet.

Every number comes from the fit or from the personas just written: the census tables and
sample of the fitted study (n, Kish effective n from :class:`populace.models.structure`,
weights), the model and sampler configuration stored in the fit, the convergence
diagnostics of :func:`populace.inference.check_convergence`, and the personas' census fit
(:mod:`populace.library.census_fit`). The front matter repeats them under ``populace:`` so
that programs (and the tests) read the same figures the text shows.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from populace.study.provenance import provenance, table_name

if TYPE_CHECKING:
    from populace.library.info import LibraryInfo

__all__ = ["dataset_card", "card_numbers", "front_matter"]

_BARE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_YAML_WORDS = ("true", "false", "null", "yes", "no", "on", "off", "y", "n")

_SIZES = ((10**3, "n<1K"), (10**4, "1K<n<10K"), (10**5, "10K<n<100K"), (10**6, "100K<n<1M"),
          (10**7, "1M<n<10M"), (10**8, "10M<n<100M"), (10**9, "100M<n<1B"))


def card_numbers(fit: xr.DataTree, info: LibraryInfo, *, validation: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The figures of the card, as plain JSON values (the front matter's ``populace:`` block)."""
    from populace.inference import check_convergence, model_from_fit

    model = model_from_fit(fit)
    study, structure = model.study, model.structure
    md = study.microdata
    w = np.asarray(md.weights, float)
    diag = check_convergence(fit, warn=False)
    sc = json.loads(fit.attrs["populace_sampler_config"])
    prov = provenance(study)
    return {
        "study": study.name,
        "benchmark": study.meta.get("benchmark"),
        "personas_per_draw": info.n,
        "draws": info.draws,
        "rows": info.rows,
        "seed": info.seed,
        "template": info.template,
        "attributes": [
            {"name": a.name, "type": a.type, "levels": list(a.levels), "role": a.role} | prov[a.name].to_dict(full=True)
            for a in study.attributes
        ],
        "census_tables": [
            {"name": table_name(m), "attributes": list(m.attributes), "cells": int(m.counts.size), "total": float(m.counts.sum())}
            for m in study.marginals
        ],
        "sample": {
            "source": md.source,
            "rows": md.n_rows,
            "complete_rows": int((md.codes >= 0).all(axis=1).sum()),
            "effective_n": structure.n_eff,
            "weight_column": md.weight_column,
            "weight_sum": float(w.sum()),
            "weight_min": float(w.min()) if w.size else None,
            "weight_max": float(w.max()) if w.size else None,
        },
        "model": {
            "model_config": json.loads(fit.attrs["populace_model_config"]),
            "sampler_config": sc,
            "fit_seed": int(fit.attrs.get("populace_seed", -1)),
            "fit_seconds": float(fit.attrs.get("populace_fit_seconds", float("nan"))),
        },
        "convergence": {
            "max_rhat": diag.max_rhat,
            "worst_rhat": diag.worst_rhat,
            "min_ess_bulk": diag.min_ess_bulk,
            "min_ess_tail": diag.min_ess_tail,
            "worst_ess": diag.worst_ess,
            "divergences": diag.divergences,
            "posterior_samples": diag.n_samples,
            "ok": diag.ok,
            "problems": list(diag.problems),
        },
        "census_fit": [
            {"table": t.name, "attributes": list(t.attributes), "max_abs_dev_pooled": t.pooled,
             "max_abs_dev_worst_draw": t.worst_draw, "mc_se_one_draw": t.mc_se}
            for t in info.census_fit
        ],
        "validation": dict(validation) if validation else None,
    }


def front_matter(numbers: Mapping[str, Any]) -> str:
    """The YAML front matter: the Hugging Face dataset-card fields plus ``populace:``."""
    names = [a["name"] for a in numbers["attributes"]]
    size = next((label for top, label in _SIZES if numbers["rows"] < top), "n>1B")
    head = {
        "pretty_name": f"populace personas: {numbers['study']}",
        "license": None,
        "tags": ["synthetic", "personas", "populace"],
        "size_categories": [size],
        "configs": [{"config_name": "default", "data_files": [{"split": "train", "path": "data/*/*.parquet"}]}],
        "dataset_info": {
            "features": [{"name": "draw", "dtype": "int64"}]
            + [{"name": n, "dtype": "string"} for n in names]
            + [{"name": "persona_id", "dtype": "int64"}, {"name": "text", "dtype": "string"}],
        },
        "populace": dict(numbers),
    }
    lines = ["---", "# license: FILL IN (e.g. cc-by-4.0): the terms of your census tables and survey decide it."]
    lines += _yaml(head, 0)
    return "\n".join(lines + ["---", ""])


def _yaml(value: Any, indent: int) -> list[str]:
    """Block YAML of JSON-like values; scalars and lists of scalars are written as JSON,
    which YAML reads as is (JSON is a subset of YAML's flow style)."""
    pad = " " * indent
    if isinstance(value, Mapping):
        out = []
        for k, v in value.items():
            key = k if _BARE.fullmatch(str(k)) and str(k).lower() not in _YAML_WORDS else json.dumps(str(k))
            if _flat(v):
                out.append(f"{pad}{key}: {_flow(v)}")
            else:
                out.append(f"{pad}{key}:")
                out += _yaml(v, indent + 2)
        return out
    out = []
    for v in value:
        if _flat(v):
            out.append(f"{pad}- {_flow(v)}")
        else:
            sub = _yaml(v, indent + 2)
            out.append(f"{pad}- {sub[0].lstrip()}")
            out += sub[1:]
    return out


def _flat(v: Any) -> bool:
    """A scalar, an empty container, or a list of scalars: one line."""
    if isinstance(v, Mapping):
        return not v
    if isinstance(v, (list, tuple)):
        return all(not isinstance(x, (Mapping, list, tuple)) for x in v)
    return True


def _flow(v: Any) -> str:
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_flow(x) for x in v) + "]"
    if isinstance(v, Mapping):
        return "{}"
    if isinstance(v, float) and not math.isfinite(v):
        return "null"  # JSON's NaN is not YAML
    return json.dumps(v, ensure_ascii=False)


def dataset_card(fit: xr.DataTree, info: LibraryInfo, *, validation: Mapping[str, Any] | None = None) -> str:
    """The full ``README.md`` of a persona library."""
    num = card_numbers(fit, info, validation=validation)
    return front_matter(num) + "\n".join(_datasheet(num)) + "\n"


def _g(x: float | None, digits: int = 3) -> str:
    return "n/a" if x is None or (isinstance(x, float) and not math.isfinite(x)) else f"{x:.{digits}g}"


def _datasheet(num: Mapping[str, Any]) -> list[str]:
    s, m, c = num["sample"], num["model"], num["convergence"]
    sc, mc = m["sampler_config"], m["model_config"]
    out = [
        f"# Persona library: {num['study']}",
        "",
        f"{num['rows']:,} synthetic personas: {num['personas_per_draw']:,} for each of {num['draws']} posterior "
        f"draws of a populace Gaussian-copula model (seed {num['seed']}). Each row has a `draw`, one column per "
        f"attribute (level labels), a `persona_id` and a `text` rendered from {num['template']}.",
        "",
        "**License: FILL IN.** The terms of the census tables and survey you fitted decide it.",
        "",
        "## Sources",
        "",
        "Census tables (every persona set is raked to each of them exactly):",
        "",
        "| table | attributes | cells | total count |",
        "|---|---|---:|---:|",
    ]
    out += [f"| {t['name']} | {' x '.join(t['attributes'])} | {t['cells']} | {t['total']:,.0f} |" for t in num["census_tables"]]
    weights = (
        f"weights from column `{s['weight_column']}` (sum {s['weight_sum']:,.1f}, min {_g(s['weight_min'])}, "
        f"max {_g(s['weight_max'])})"
        if s["weight_column"] else "unit weights (no weight column)"
    )
    out += [
        "",
        f"Survey sample: `{s['source'] or 'microdata'}`, n = {s['rows']:,} rows ({s['complete_rows']:,} complete), "
        f"Kish effective n = {s['effective_n']:.1f}, {weights}.",
        "",
        "## Provenance of each attribute",
        "",
        "| attribute | kind | census tables | what it means |",
        "|---|---|---|---|",
    ]
    out += [f"| {a['name']} | {a['kind']} | {', '.join(a['tables']) or '-'} | {a['note']} |" for a in num["attributes"]]
    out += [
        "",
        "## Model",
        "",
        f"- Inference: {sc.get('method')} with the {sc.get('sampler')} sampler, {sc.get('chains')} chains x "
        f"{sc.get('draws')} draws after {sc.get('tune')} tuning steps (target_accept {sc.get('target_accept')}); "
        f"fit seed {m['fit_seed']}, {_g(m['fit_seconds'])} s.",
        "- Model configuration: " + ", ".join(f"{k} = {v}" for k, v in mc.items()) + ".",
        "",
        "## Convergence",
        "",
        f"R-hat max {_g(c['max_rhat'], 4)}, ESS bulk min {_g(c['min_ess_bulk'], 4)}, ESS tail min "
        f"{_g(c['min_ess_tail'], 4)}, divergences {c['divergences']} of {c['posterior_samples']} posterior samples "
        "(on the rotation-invariant quantities)"
        + (f"; worst R-hat on {c['worst_rhat']}, lowest ESS on {c['worst_ess']}." if c.get("worst_rhat") else "."),
        "",
    ]
    out += ["Converged by these checks." if c["ok"] else "**Problems:**"] + [f"- {p}" for p in c["problems"]]
    out += [
        "",
        "## Census fit of these personas",
        "",
        "Largest |persona share - census share| over each table's cells, all draws pooled and in the worst "
        "single draw, next to the Monte-Carlo standard error of a share in one draw (deviations of a few "
        "standard errors are sampling noise of drawing personas, not a misfit).",
        "",
        "| table | pooled | worst draw | MC s.e. (one draw) |",
        "|---|---:|---:|---:|",
    ]
    out += [
        f"| {t['table']} | {_g(t['max_abs_dev_pooled'])} | {_g(t['max_abs_dev_worst_draw'])} | {_g(t['mc_se_one_draw'])} |"
        for t in num["census_fit"]
    ]
    out += ["", "## Validation", ""]
    if num["validation"]:
        out += [f"Against the benchmark's true population ({num['benchmark']}):", "", "| metric | value |", "|---|---:|"]
        out += [f"| {k} | {_g(v, 4)} |" for k, v in num["validation"].items()]
    elif num["benchmark"]:
        out += [f"This study is a sample of the `{num['benchmark']}` benchmark; rebuild with `--benchmark DIR` "
                "(its folder) to print validation figures here."]
    else:
        out += ["Not a benchmark study: there is no true population to validate against."]
    out += [
        "",
        "## Using `draw` for intervals",
        "",
        "Each draw is one plausible population given the census and the survey. Compute a statistic within "
        "each draw, then take quantiles across draws; never pool draws into one sample for an interval.",
        "",
        "```python",
        "import pandas as pd",
        'df = pd.read_parquet("DIR/data")',
        f'share = df.groupby("draw")["{num["attributes"][-1]["name"]}"].apply(lambda s: (s == {json.dumps(num["attributes"][-1]["levels"][0])}).mean())',
        "print(share.quantile([0.05, 0.5, 0.95]))   # a 90 % posterior interval",
        "```",
        "",
        "With `datasets`: `load_dataset(\"parquet\", data_dir=DIR)` and group by the `draw` column.",
        "",
        "## Known limits",
        "",
        "- The personas are as good as the census tables and the survey: attributes marked survey-only, and "
        "every dependence not pinned by a census cross-tab, rest on the survey sample and the model's few "
        "latent factors.",
        "- Combinations that neither the sample nor the copula makes likely are rare in the personas.",
        "- Personas are drawn independently from each draw's population: rows are not linked households "
        "or individuals, and the same combination repeats.",
        "- `text` is a rendering of the attribute labels only; it adds no information, and an LLM prompted "
        "with it may add its own stereotypes.",
        "- The convergence and census-fit figures above describe this fit; a refit or another seed changes them.",
    ]
    return out
