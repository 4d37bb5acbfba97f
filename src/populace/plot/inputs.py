"""What every plot reads: personas as a long frame, level codes of a column, the number of
draws, and pyplot (imported on first use)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

#: What the plots accept as personas: the persona Dataset or its long DataFrame.
Personas = xr.Dataset | pd.DataFrame


def pyplot() -> Any:
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("populace.plot needs matplotlib: pip install 'populace[plot]'") from exc
    return plt


def frame(personas: Personas) -> pd.DataFrame:
    """Long frame with a ``draw`` column and categorical attribute columns."""
    if isinstance(personas, xr.Dataset):
        from populace.personas import to_frame

        return to_frame(personas)
    if isinstance(personas, pd.DataFrame):
        return personas if "draw" in personas.columns else personas.assign(draw=0)
    raise TypeError(f"personas must be a persona Dataset or a DataFrame, got {type(personas).__name__}")


def level_codes(df: pd.DataFrame, name: str, levels: Sequence[str]) -> np.ndarray:
    col = df[name]
    if isinstance(col.dtype, pd.CategoricalDtype) and [str(c) for c in col.cat.categories] == list(levels):
        return col.cat.codes.to_numpy(dtype=np.int64)
    return pd.Categorical(col.astype(str), categories=list(levels)).codes.astype(np.int64)


def count_draws(personas: Personas) -> int:
    if isinstance(personas, xr.Dataset):
        return int(personas.sizes["draw"])
    return int(personas["draw"].nunique()) if "draw" in personas.columns else 1
