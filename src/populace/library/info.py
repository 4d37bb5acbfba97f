"""What a persona library build wrote (its own module: the builder and the dataset card
both read it, and neither imports the other)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from populace.library.census_fit import TableFit

__all__ = ["LibraryInfo"]


@dataclass(frozen=True)
class LibraryInfo:
    """What :func:`populace.library.build_library` wrote: sizes, seed and the personas'
    census fit."""

    path: Path
    n: int
    draws: int
    seed: int
    rows: int
    files: int
    census_fit: list[TableFit]
    template: str
