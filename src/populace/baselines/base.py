"""The interface every peer generator follows, and helpers they share."""

from __future__ import annotations

from typing import Literal, Protocol, runtime_checkable

import numpy as np
import xarray as xr

from populace.personas import persona_dataset
from populace.study.spec import Study

__all__ = [
    "Generator",
    "Resample",
    "complete_rows",
    "integerize",
    "resample_rows",
    "to_personas",
]

#: How n personas are drawn from weighted rows: ``"multinomial"`` draws them
#: independently with probability proportional to the weights; ``"integerize"`` gives
#: row ``i`` ``n * w_i / sum(w)`` copies rounded at random by :func:`integerize`
#: (truncate, replicate, sample), then shuffles. Integerizing keeps the margins the
#: weights were raked to instead of adding multinomial noise.
Resample = Literal["multinomial", "integerize"]


@runtime_checkable
class Generator(Protocol):
    """A persona generator: fitted on a study, then sampled.

    ``fit`` sees the census tables and microdata of ``study`` and returns the
    generator itself; ``sample_personas`` returns a persona Dataset with dims
    ``(draw, persona)`` made by :func:`populace.personas.persona_dataset`. Generators
    without posterior uncertainty return ``draws`` independent samples of the same
    fitted distribution.
    """

    name: str

    def fit(self, study: Study, *, seed: int | None = None) -> Generator: ...

    def sample_personas(self, n: int, *, draws: int = 1, seed: int | None = None) -> xr.Dataset: ...


def complete_rows(study: Study) -> tuple[np.ndarray, np.ndarray]:
    """Microdata rows with no missing cell, and their weights.

    Resampling and raking peers drop incomplete rows: a persona needs a level for every
    attribute, and raking needs each row in one cell of every table.

    Raises
    ------
    ValueError
        If no complete row with positive weight is left.
    """
    codes = np.asarray(study.microdata.codes, dtype=np.int64)
    weights = np.asarray(study.microdata.weights, dtype=float)
    keep = (codes >= 0).all(axis=1) & (weights > 0)
    if not keep.any():
        raise ValueError("the microdata have no complete row with positive weight")
    return codes[keep], weights[keep]


def integerize(expected: np.ndarray, total: int, rng: np.random.Generator) -> np.ndarray:
    """Integers summing to ``total`` that round ``expected`` (scaled to ``total``) at random.

    Truncate, replicate, sample (Lovelace & Ballas 2013): each entry gets ``floor(e)``, and
    the units left over go to distinct entries drawn without replacement with probability
    proportional to their fractional parts. Every entry stays within one of ``e`` (so
    margins stay almost exact), and, unlike largest-remainder rounding, an entry with
    ``e < 1`` still appears with probability about ``e`` instead of never.
    """
    e = np.asarray(expected, dtype=float)
    e = e * (total / e.sum())
    base = np.floor(e).astype(np.int64)
    short = int(total - base.sum())
    if short > 0:
        frac = e - base
        pick = rng.choice(len(e), size=short, replace=False, p=frac / frac.sum())
        base[pick] += 1
    return base


def resample_rows(
    weights: np.ndarray, n: int, rng: np.random.Generator, *, method: Resample = "multinomial"
) -> np.ndarray:
    """Indices of ``n`` rows drawn with probability proportional to ``weights``."""
    w = np.asarray(weights, dtype=float)
    if method == "multinomial":
        return rng.choice(len(w), size=n, replace=True, p=w / w.sum())
    if method == "integerize":
        counts = integerize(w, n, rng)
        return rng.permutation(np.repeat(np.arange(len(w)), counts))
    raise ValueError(f"unknown resampling method {method!r}")


def to_personas(
    codes: np.ndarray, study: Study, *, method: str, seed: int | None, **attrs: object
) -> xr.Dataset:
    """Persona Dataset from codes of shape ``(draw, persona, attribute)``."""
    by_attr = {a.name: codes[:, :, j] for j, a in enumerate(study.attributes)}
    meta: dict[str, object] = {"method": method, "study": study.name}
    if seed is not None:
        meta["seed"] = int(seed)
    meta.update(attrs)
    return persona_dataset(by_attr, study, attrs=meta)
