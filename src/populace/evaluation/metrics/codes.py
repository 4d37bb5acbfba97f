"""Persona sets and populations as integer level codes in study order (the input of every
metric)."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from populace.study.spec import Microdata, Study


@dataclass(frozen=True, eq=False)
class Personas:
    """Persona codes flattened over draws.

    ``codes[r]`` holds the level codes of row ``r`` (study order) and ``draw[r]`` its
    draw index in ``0 .. n_draws - 1``; ``weight[r] = 1 / (n_draws * size of its draw)``,
    so every draw counts equally and the weights sum to one.
    """

    codes: np.ndarray
    draw: np.ndarray
    n_draws: int

    @property
    def weight(self) -> np.ndarray:
        sizes = np.bincount(self.draw, minlength=self.n_draws).astype(float)
        return 1.0 / (self.n_draws * sizes[self.draw])

    def select(self, d: int) -> Personas:
        """The personas of draw ``d`` alone."""
        keep = self.draw == d
        return Personas(self.codes[keep], np.zeros(int(keep.sum()), dtype=np.int64), 1)


def persona_codes(personas: xr.Dataset | pd.DataFrame | Personas, study: Study) -> Personas:
    """Codes of a persona set in study order.

    Parameters
    ----------
    personas
        The persona Dataset (dims ``draw, persona``, integer codes, as made by
        :func:`populace.personas.persona_dataset`), or a DataFrame with a ``draw`` column
        and one column per attribute (labels, categoricals of labels, or integer codes);
        without a ``draw`` column the frame is one draw.
    study
        Gives the attribute order and levels.
    """
    if isinstance(personas, Personas):
        return personas
    if isinstance(personas, xr.Dataset):
        n_draw, n_persona = personas.sizes["draw"], personas.sizes["persona"]
        cols = []
        for a in study.attributes:
            var = personas[a.name]
            stored = var.attrs.get("levels")
            if stored is not None and tuple(json.loads(stored)) != a.levels:
                raise ValueError(f"personas' levels of {a.name!r} differ from the study's")
            cols.append(var.transpose("draw", "persona").values.reshape(-1).astype(np.int64))
        codes = np.column_stack(cols)
        draw = np.repeat(np.arange(n_draw), n_persona)
        return Personas(codes, draw, int(n_draw))
    if isinstance(personas, pd.DataFrame):
        codes = population_codes(personas, study)
        if "draw" in personas.columns:
            _, draw = np.unique(personas["draw"].to_numpy(), return_inverse=True)
            n_draws = int(draw.max()) + 1 if len(draw) else 0
        else:
            draw, n_draws = np.zeros(len(personas), dtype=np.int64), 1
        return Personas(codes, draw.astype(np.int64), n_draws)
    raise TypeError(f"personas must be an xarray Dataset or a DataFrame, got {type(personas).__name__}")


def population_codes(population: pd.DataFrame | np.ndarray | Microdata, study: Study) -> np.ndarray:
    """Level codes ``(rows, attributes)`` in study order; -1 marks a missing cell.

    A DataFrame may hold labels (strings or categoricals) or integer codes per attribute
    column; an array is taken as codes already in study order.
    """
    if isinstance(population, Microdata):
        return np.asarray(population.codes, dtype=np.int64)
    if isinstance(population, np.ndarray):
        arr = np.asarray(population, dtype=np.int64)
        if arr.ndim != 2 or arr.shape[1] != len(study.attributes):
            raise ValueError(f"codes must have shape (rows, {len(study.attributes)}), got {arr.shape}")
        return arr
    cols = []
    for a in study.attributes:
        col = population[a.name]
        if pd.api.types.is_integer_dtype(col.dtype):
            cols.append(col.to_numpy(dtype=np.int64))
        else:
            cat = pd.Categorical(col.astype(object), categories=list(a.levels))
            codes = cat.codes.astype(np.int64)
            unknown = (codes < 0) & col.notna().to_numpy()
            if unknown.any():
                bad = sorted(set(col[unknown].astype(str)))[:5]
                raise ValueError(f"{a.name}: labels not among the study levels: {bad}")
            cols.append(codes)
    return np.column_stack(cols)
