"""``populace cards``: a personas Parquet file -> one card per persona, streamed.

As JSON Lines (``.jsonl``), each line is ``{"persona_id", "draw", "attributes", "text",
"provenance"}``: ``persona_id`` is the persona's 0-based row in the Parquet file (unique; with
``populace generate``'s draw-by-draw order it is ``draw * N + i``), ``attributes`` the level
labels, ``text`` the template's rendering and ``provenance`` each attribute's source
(:mod:`populace.study.provenance`), on every line so that each line stands alone.

As Parquet (``.parquet``), the columns are ``persona_id``, ``draw``, one dictionary-coded
column of labels per attribute and ``text``, dictionary-coded too (a batch holds far fewer
distinct cards than rows); the provenance, the study and the template are stored once, as JSON
in the file's metadata (key ``populace_cards``, :func:`read_cards_metadata`). The file is read
one batch of row groups at a time and written to a temp file renamed into place, so memory is
bounded whatever its size.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from populace.atomic import atomic_path
from populace.errors import PersonasError, PopulaceError
from populace.library.render import CardRenderer
from populace.library.templates import load_template
from populace.study.serialize import study_from_dict
from populace.study.spec import Study

__all__ = ["write_cards", "study_of_personas", "batch_codes", "read_cards_metadata", "BATCH", "CARDS_KEY"]

#: Rows read and written per step.
BATCH = 65_536
#: The Parquet metadata key of a card file's provenance, study and template.
CARDS_KEY = b"populace_cards"


def study_of_personas(path: str | os.PathLike[str]) -> Study:
    """The study a personas Parquet file, or partitioned folder of them, was generated from
    (kept in the files' metadata; a folder's first file is read).

    Raises
    ------
    PersonasError
        When the file is not Parquet or carries no populace study.
    """
    import pyarrow.parquet as pq

    path = Path(path)
    if path.is_dir():
        files = sorted(path.rglob("*.parquet"))
        if not files:
            raise PersonasError(f"{path}: a folder with no Parquet file. Fix: give personas from `populace generate`.")
        path = files[0]
    try:
        meta = pq.ParquetFile(path).schema_arrow.metadata or {}
    except (OSError, ValueError) as exc:
        raise PersonasError(f"{path}: not a readable Parquet file ({exc}).") from None
    try:
        study = json.loads(meta[b"populace"])["study"]
        if isinstance(study, str):  # sample_personas keeps it as JSON text (a Dataset attr)
            study = json.loads(study)
    except (KeyError, ValueError, TypeError):
        raise PersonasError(
            f"{path}: the file carries no populace study in its metadata. "
            "Fix: write it with `populace generate` or `populace.to_parquet` of `populace.sample_personas`."
        ) from None
    try:
        return study_from_dict(study)
    except PopulaceError as exc:
        raise PersonasError(f"{path}: the study in its metadata is unusable ({exc}).") from None


def batch_codes(batch: Any, study: Study, path: str | os.PathLike[str]) -> np.ndarray:
    """Level codes ``(rows, attributes)`` of a pyarrow batch of label columns, in study order.

    Dictionary columns are mapped through their dictionary (once per batch), plain string
    columns label by label; a label that is not a level, or a missing value, is an error
    naming the file and column.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    out = np.empty((batch.num_rows, len(study.attributes)), dtype=np.int64)
    for j, a in enumerate(study.attributes):
        col = batch.column(a.name)
        levels = pa.array(list(a.levels), pa.string())
        if pa.types.is_dictionary(col.type):
            mapping = pc.index_in(col.dictionary.cast(pa.string()), value_set=levels).fill_null(-1)
            codes = mapping.to_numpy(zero_copy_only=False)[col.indices.fill_null(0).to_numpy(zero_copy_only=False)]
        else:
            codes = pc.index_in(col.cast(pa.string()), value_set=levels).fill_null(-1).to_numpy(zero_copy_only=False)
        if col.null_count > 0 or (codes < 0).any():
            raise PersonasError(
                f"{path}, column {a.name!r}: a missing value or a label that is not a level of {a.name} "
                f"({', '.join(a.levels)}). Fix: cards need personas written by `populace generate`."
            )
        out[:, j] = codes
    return out


def write_cards(
    personas: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    template: str | os.PathLike[str] | None = None,
    study: Study | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[Path, int]:
    """Stream the cards of every persona in ``personas`` to ``out`` (JSON Lines), atomically.

    Parameters
    ----------
    personas
        A Parquet file from ``populace generate`` or ``populace.to_parquet`` (columns
        ``draw`` + one per attribute), or a folder partitioned by ``populace generate
        --partition-by`` (``persona_id`` then counts rows in the folder's file order).
    out
        The file to write: ``.parquet`` for Parquet (provenance once, in the metadata),
        anything else for JSON Lines (provenance on every line).
    template
        A Jinja2 template file (:mod:`populace.library.templates`); ``None``: plain English.
    study
        The personas' study; ``None`` reads it from the file's metadata.
    progress
        Called with ``(rows_done, rows_total)`` after each batch.

    Returns
    -------
    The path and the number of cards written.
    """
    from populace.personas import open_personas

    study = study if study is not None else study_of_personas(personas)
    renderer = CardRenderer(study, load_template(template, study))
    data = open_personas(personas)
    missing = [c for c in ("draw", *study.names) if c not in data.schema.names]
    if missing:
        raise PersonasError(f"{personas}: no column {missing[0]!r}. Fix: cards need personas written by `populace generate`.")
    total, done = data.count_rows(), 0
    out = Path(out)
    batches = (b for b in data.to_batches(batch_size=BATCH, columns=["draw", *study.names]) if b.num_rows)
    if out.suffix == ".parquet":
        with atomic_path(out, suffix=".parquet") as tmp:
            return out, _write_parquet(tmp, batches, study, renderer, personas, template, total, progress)
    with atomic_path(out) as tmp, open(tmp, "wb", buffering=1 << 20) as f:
        for batch in batches:
            codes = batch_codes(batch, study, personas)
            draw = batch.column("draw").to_numpy(zero_copy_only=False).astype(np.int64)
            f.write(renderer.lines(codes, draw, np.arange(done, done + batch.num_rows)))
            done += batch.num_rows
            if progress is not None:
                progress(done, total)
    return out, done


def _write_parquet(
    path: Path,
    batches: Any,
    study: Study,
    renderer: CardRenderer,
    personas: str | os.PathLike[str],
    template: str | os.PathLike[str] | None,
    total: int,
    progress: Callable[[int, int], None] | None,
) -> int:
    """The Parquet card file (module docstring); returns the cards written."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from populace.study.provenance import provenance_json

    label = pa.dictionary(pa.int16(), pa.string())
    fields = [pa.field("persona_id", pa.int64()), pa.field("draw", pa.int64())]
    fields += [pa.field(a.name, label) for a in study.attributes] + [pa.field("text", pa.dictionary(pa.int32(), pa.string()))]
    meta = {"study": study.name, "template": renderer.template.label,
            "provenance": json.loads(provenance_json(study))}
    schema = pa.schema(fields, metadata={CARDS_KEY: json.dumps(meta, ensure_ascii=False).encode()})
    levels = [pa.array(list(a.levels), pa.string()) for a in study.attributes]
    done = 0
    with pq.ParquetWriter(path, schema, compression="zstd") as writer:
        for batch in batches:
            codes = batch_codes(batch, study, personas)
            texts, inverse = renderer.texts(codes)
            columns = [
                pa.array(np.arange(done, done + batch.num_rows, dtype=np.int64)),
                pa.array(batch.column("draw").to_numpy(zero_copy_only=False).astype(np.int64)),
                *(pa.DictionaryArray.from_arrays(pa.array(codes[:, j].astype(np.int16)), levels[j]) for j in range(len(levels))),
                pa.DictionaryArray.from_arrays(pa.array(inverse.astype(np.int32)), pa.array(texts, pa.string())),
            ]
            writer.write_table(pa.Table.from_arrays(columns, schema=schema))
            done += batch.num_rows
            if progress is not None:
                progress(done, total)
    return done


def read_cards_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The study name, template and provenance stored once in a Parquet card file."""
    import pyarrow.parquet as pq

    meta = pq.read_schema(path).metadata or {}
    if CARDS_KEY not in meta:
        raise PersonasError(f"{path}: not a populace card file (no {CARDS_KEY.decode()} metadata). Fix: write it with `populace cards`.")
    return json.loads(meta[CARDS_KEY])
