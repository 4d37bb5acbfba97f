"""``populace library``: a persona library folder, the layout persona datasets are loaded from.

::

    DIR/README.md                          dataset card (YAML front matter + datasheet)
    DIR/data/draw-00000/part-00000.parquet one file per posterior draw and chunk of 1M personas

Each shard holds ``draw``, one label column per attribute, ``persona_id`` (``draw * N + i``,
the row the persona has in ``populace generate``'s single file for the same seed) and
``text`` (the card template's rendering). ``draw`` is a column of every file, not only a folder
name, because ``datasets.load_dataset("parquet", data_dir=DIR)`` does not read hive folder
names, and pyarrow refuses a column that is both (so folders are ``draw-D``, not ``draw=D``).

The personas are those of :func:`populace.inference.iter_personas` (the one generator),
streamed a chunk at a time; the folder is built beside ``DIR`` and renamed into place.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import xarray as xr

from populace.atomic import atomic_dir, require_empty_dir, write_text
from populace.library.census_fit import CensusFit
from populace.library.info import LibraryInfo
from populace.library.render import CardRenderer
from populace.summarize import DEFAULT_DRAWS
from populace.library.templates import load_template

__all__ = ["build_library", "LibraryInfo"]


def build_library(
    fit: xr.DataTree,
    directory: str | os.PathLike[str],
    n: int,
    *,
    draws: int = DEFAULT_DRAWS,
    seed: int = 0,
    template: str | os.PathLike[str] | None = None,
    benchmark: str | os.PathLike[str] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> LibraryInfo:
    """Write a persona library of ``n`` personas x ``draws`` posterior draws to ``directory``.

    Parameters
    ----------
    fit
        A fit (:func:`populace.inference.load_fit`).
    directory
        The library folder; it must not exist or be empty.
    n, draws, seed
        As for :func:`populace.inference.iter_personas` (same seed, same personas).
    template
        Card template file for the ``text`` column (``None``: plain English).
    benchmark
        The benchmark folder when the fitted study is a benchmark sample: the card then
        gives validation figures against its true population
        (:func:`populace.library.validation.validation_figures`).
    progress
        Called with ``(rows_done, rows_total)`` after each chunk.

    Returns
    -------
    LibraryInfo
    """
    import pyarrow as pa

    from populace.inference import iter_personas, model_from_fit
    from populace.inference.generate import CHUNK
    from populace.library.datacard import dataset_card
    from populace.library.validation import read_benchmark, validation_figures
    from populace.personas import write_parquet_stream

    out = require_empty_dir(directory)
    study = model_from_fit(fit).study
    tpl = load_template(template, study)  # before any sampling: bad input fails fast
    bench = None if benchmark is None else read_benchmark(study, benchmark)
    renderer = CardRenderer(study, tpl)
    census = CensusFit(study, draws)
    fields = [pa.field("persona_id", pa.int64()), pa.field("text", pa.string())]
    rows = files = 0
    with atomic_dir(out) as tmp:
        for chunk in iter_personas(fit, n, draws=draws, seed=seed):
            census.add(chunk.draw, chunk.codes)
            start = chunk.draw * n + chunk.chunk * CHUNK

            def extra(d: int, codes: Mapping[str, np.ndarray], start: int = start) -> list[Any]:
                texts, inverse = renderer.texts(np.column_stack([codes[a] for a in study.names]))
                m = len(inverse)
                return [pa.array(np.arange(start, start + m, dtype=np.int64)), pa.array(texts, pa.string()).take(pa.array(inverse))]

            path = tmp / "data" / f"draw-{chunk.draw:05d}" / f"part-{chunk.chunk:05d}.parquet"
            rows += write_parquet_stream([(chunk.draw, chunk.codes)], study, path, extra_fields=fields, extra_columns=extra)[1]
            files += 1
            if progress is not None:
                progress(rows, n * draws)
        info = LibraryInfo(out, n, draws, seed, rows, files, census.tables(), tpl.label)
        validation = None if bench is None else validation_figures(study, bench, tmp / "data")
        write_text(tmp / "README.md", dataset_card(fit, info, validation=validation))
    return info
