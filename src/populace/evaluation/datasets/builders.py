"""The benchmark builders by dataset name, and :func:`build` to call one by name."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from populace.evaluation.datasets.benchmark_data import Benchmark
from populace.evaluation.datasets.cpssw8 import build_cpssw8
from populace.evaluation.datasets.gss import build_gss
from populace.evaluation.datasets.happiness import build_happiness

#: Builders by dataset name.
BUILDERS: dict[str, Callable[..., Benchmark]] = {
    "gss": build_gss,
    "happiness": build_happiness,
    "cpssw8": build_cpssw8,
}


def build(name: str, **options: Any) -> Benchmark:
    """Build a benchmark by name (a key of :data:`BUILDERS`)."""
    try:
        builder = BUILDERS[name]
    except KeyError:
        raise ValueError(f"unknown benchmark {name!r}; choose one of {sorted(BUILDERS)}") from None
    return builder(**options)
