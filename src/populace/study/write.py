"""Write a :class:`Study` as a TOML file plus CSV files that load back."""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from populace.atomic import atomic_path, write_text
from populace.study.spec import Study

__all__ = ["write_study"]


def write_study(
    study: Study,
    directory: str | os.PathLike[str],
    *,
    filename: str = "study.toml",
) -> Path:
    """Write ``study`` as a study folder that :func:`load_study` reads back.

    Marginals go to ``census_<a>__<b>.csv``, microdata to ``microdata.csv``, the area
    table to ``areas.csv``; existing files of those names are overwritten.

    Parameters
    ----------
    study
        The study to write.
    directory
        Folder to write into; created if missing.
    filename
        Name of the TOML file inside ``directory``.

    Returns
    -------
    pathlib.Path
        Path of the TOML file.
    """
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    names = study.names
    lines = [f"name = {_string(study.name)}", ""]
    for a in study.attributes:
        lines.append(f"[attributes.{_bare_or_quoted(a.name)}]")
        lines.append(f"type = {_string(a.type)}")
        lines.append(f"levels = [{', '.join(_string(v) for v in a.levels)}]")
        if a.role is not None:
            lines.append(f"role = {_string(a.role)}")
        if a.phrases:
            lines.append(f"phrases = {{ {', '.join(f'{_string(k)} = {_string(v)}' for k, v in a.phrases)} }}")
        lines.append("")

    used: set[str] = {filename.casefold()}
    for m in study.marginals:
        file = _unique("census_" + "__".join(_slug(n) for n in m.attributes) + ".csv", used)
        levels = [study.attribute(n).levels for n in m.attributes]
        rows = (
            [*(lv[i] for lv, i in zip(levels, idx)), _number(m.counts[idx])]
            for idx in np.ndindex(*m.counts.shape)
        )
        _write_csv(folder / file, [*m.attributes, "count"], rows)
        lines += ["[[marginals]]", f"path = {_string(file)}", ""]

    micro = study.microdata
    weights = np.asarray(micro.weights, dtype=np.float64)
    weight = micro.weight_column
    if weight is None and not np.all(weights == 1.0):
        # Unequal weights need a column even if the study never named one.
        weight = "weight"
        while weight in names:
            weight += "_"
    file = _unique("microdata.csv", used)
    header = [*names, *([weight] if weight is not None else [])]
    rows = (
        [
            *("" if c < 0 else a.levels[c] for a, c in zip(study.attributes, code.tolist())),
            *([repr(float(w))] if weight is not None else []),
        ]
        for code, w in zip(micro.codes, weights)
    )
    _write_csv(folder / file, header, rows)
    lines += ["[microdata]", f"path = {_string(file)}"]
    if weight is not None:
        lines.append(f"weight = {_string(weight)}")
    if study.areas is not None and study.geography is not None:
        file = _unique("areas.csv", used)
        geo = study.geography
        rows = ([level, *(repr(float(x)) for x in study.areas.values[g])] for g, level in enumerate(geo.levels))
        _write_csv(folder / file, [geo.name, *study.areas.names], rows)
        lines += ["", "[areas]", f"path = {_string(file)}"]

    return write_text(folder / filename, "\n".join(lines) + "\n")


def _write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
    with atomic_path(path, suffix=".csv") as tmp, tmp.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def _number(x: float) -> str:
    """Whole counts without a decimal point; others exactly (``repr``)."""
    x = float(x)
    return str(int(x)) if x.is_integer() else repr(x)


def _string(s: str) -> str:
    """A TOML basic string."""
    out = []
    for ch in s:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _bare_or_quoted(key: str) -> str:
    """A TOML key: bare when it can be, quoted otherwise."""
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else _string(key)


def _slug(name: str) -> str:
    """A file-name-safe version of an attribute name."""
    return re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-") or "attr"


def _unique(file: str, used: set[str]) -> str:
    """Make ``file`` differ from names already written."""
    stem, dot, ext = file.rpartition(".")
    candidate, k = file, 2
    # Case-insensitive, for file systems that are.
    while candidate.casefold() in used:
        candidate = f"{stem}_{k}{dot}{ext}"
        k += 1
    used.add(candidate.casefold())
    return candidate
