"""Read a study from a TOML file and the CSV files it names."""

from __future__ import annotations

import csv
import io
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from populace.errors import StudyError
from populace.study._cells import unique_header
from populace.study.attributes import check_attributes
from populace.study.build import Survey, Table, build_study
from populace.study.marginals import is_noise_sd
from populace.study.spec import Study

__all__ = ["load_study", "read_table", "TOP_KEYS", "MARGINAL_KEYS", "MICRODATA_KEYS", "AREAS_KEYS"]

TOP_KEYS = ("name", "total_tolerance", "attributes", "marginals", "microdata", "areas")
MARGINAL_KEYS = ("path", "noise_sd")
MICRODATA_KEYS = ("path", "weight", "label", "attributes")
AREAS_KEYS = ("path",)


def load_study(path: str | os.PathLike[str]) -> Study:
    """Load and validate a study described by a TOML file.

    Parameters
    ----------
    path
        The study file: ``[attributes.<name>]`` tables (``type``,
        ``levels``, optional ``role = "geography"``), any number of
        ``[[marginals]]`` with a ``path`` (and ``noise_sd`` for a table published with
        noise of known scale), one ``[microdata]`` with a
        ``path`` and optional ``weight`` (or several surveys as ``[[microdata]]`` entries,
        each with a ``path``, optional ``weight``, ``label`` (default: the file's stem) and
        ``attributes``, the list of what it measured; default: every attribute), an
        optional ``[areas]`` table with a ``path``
        (area-level predictors of the area effects: the geography column and one numeric
        column per predictor), and an optional top-level ``name`` (default: the file's
        stem) and ``total_tolerance`` (reconcile census totals that differ by rounding).
        Paths are relative to the file.

    Returns
    -------
    Study
        With ``Marginal.source`` / ``Microdata.source`` set to the paths as
        written in the file.

    Raises
    ------
    StudyError
        On the first problem found, naming the file, line and column.
    """
    toml_path = Path(path)
    label = str(toml_path)
    text = _read_text(toml_path, label=label, what="study file")
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _toml_error(exc, label) from None
    where = _Lines(text)

    unknown = [k for k in doc if k not in TOP_KEYS]
    if unknown:
        raise StudyError(
            f"unknown top-level key {unknown[0]!r}; allowed keys are {', '.join(TOP_KEYS)}.",
            file=label,
            row=where(unknown[0]),
            fix=f"Remove {unknown[0]!r} or correct its spelling.",
        )
    attributes = check_attributes(doc.get("attributes"), file=label, locate=where)
    marginal_paths = _marginal_entries(doc.get("marginals", []), label=label, where=where)
    micro_entries = _microdata_entries(doc.get("microdata"), label=label, where=where)

    base = toml_path.parent
    tables = [
        Table(
            read_table(base / p, row=where("marginals", i, "path"), config=label),
            label=str(base / p),
            source=p,
            noise_sd=noise,
        )
        for i, (p, noise) in enumerate(marginal_paths)
    ]
    surveys = []
    for i, (micro_path, weight, survey_label, measured) in enumerate(micro_entries):
        key = ("microdata", i) if isinstance(doc["microdata"], list) else ("microdata",)
        table = Table(
            read_table(base / micro_path, row=where(*key, "path"), config=label),
            label=str(base / micro_path),
            source=micro_path,
        )
        surveys.append(Survey(table, Path(micro_path).stem if survey_label is None else survey_label, weight, measured))
    # One [microdata] table that lists no attributes is the classic single survey.
    single = isinstance(doc["microdata"], Mapping) and surveys[0].attributes is None and micro_entries[0][2] is None
    areas = None
    if "areas" in doc:
        entry = doc["areas"]
        _require_table(entry, "areas", "[areas]", label=label, row=where("areas"))
        areas_path = _path_entry(entry, AREAS_KEYS, "[areas]", label=label, locate=lambda *k: where("areas", *k))
        areas = Table(
            read_table(base / areas_path, row=where("areas", "path"), config=label),
            label=str(base / areas_path),
            source=areas_path,
        )
    return build_study(
        attributes,
        tables,
        surveys[0].table if single else surveys,
        weight=surveys[0].weight if single else None,
        name=doc.get("name", toml_path.stem),
        total_tolerance=doc.get("total_tolerance"),
        config=label,
        locate=where,
        areas=areas,
    )


def _require_table(entry: Any, name: str, header: str, *, label: str, row: int | None) -> None:
    """A study-file entry that must be a TOML table (``[header]`` with ``path = ...``)."""
    if not isinstance(entry, Mapping):
        raise StudyError(
            f"{name} is a {type(entry).__name__}, not a table.",
            file=label,
            row=row,
            fix=f'Write it as {header} followed by path = "...".',
        )


def _marginal_entries(entries: Any, *, label: str, where: _Lines) -> list[tuple[str, Any]]:
    """Check the ``[[marginals]]`` entries; return their paths and ``noise_sd`` (checked with the table)."""
    if isinstance(entries, Mapping) or not isinstance(entries, list):
        raise StudyError(
            "marginals must be an array of tables.",
            file=label,
            row=where("marginals"),
            fix='Write each census table as its own [[marginals]] entry with path = "...".',
        )
    paths = []
    for i, entry in enumerate(entries):
        where_i = f"[[marginals]] entry {i + 1}"
        _require_table(entry, where_i, "[[marginals]]", label=label, row=where("marginals"))
        path = _path_entry(entry, MARGINAL_KEYS, where_i, label=label, locate=lambda *k: where("marginals", i, *k))
        noise = entry.get("noise_sd")
        if noise is not None and not is_noise_sd(noise):  # checked here too, to name its line
            raise StudyError(
                f"{where_i} has noise_sd = {noise!r}; it must be a positive number.",
                file=label,
                row=where("marginals", i, "noise_sd"),
                fix="Give the standard deviation of the noise added to each count, e.g. noise_sd = 5.0, or leave it out for an exact table.",
            )
        paths.append((path, noise))
    return paths


def _microdata_entries(entry: Any, *, label: str, where: _Lines) -> list[tuple[str, str | None, str | None, Any]]:
    """Check the ``[microdata]`` table, or the ``[[microdata]]`` entries of several surveys;
    return each one's path, weight column, label and attribute list (``None`` if not given)."""
    if entry is None:
        raise StudyError(
            "the study has no [microdata] table.",
            file=label,
            fix='Add [microdata] with path = "sample.csv" '
            '(and weight = "..." if rows are weighted).',
        )
    if isinstance(entry, list):
        if not entry:
            raise StudyError(
                "microdata is an empty array.",
                file=label,
                row=where("microdata"),
                fix='Give each survey its own [[microdata]] entry with path = "...".',
            )
        return [_one_microdata(e, f"[[microdata]] entry {i + 1}", label, lambda *k, i=i: where("microdata", i, *k))
                for i, e in enumerate(entry)]
    return [_one_microdata(entry, "[microdata]", label, lambda *k: where("microdata", *k))]


def _one_microdata(entry: Any, what: str, label: str, locate: Callable[..., int | None]) -> tuple[str, str | None, str | None, Any]:
    many = what.startswith("[[")
    _require_table(entry, what if many else "microdata", "[[microdata]]" if many else "[microdata]", label=label, row=locate())
    path = _path_entry(entry, MICRODATA_KEYS, what, label=label, locate=locate)
    weight = entry.get("weight")
    if weight is not None and (not isinstance(weight, str) or not weight):
        raise StudyError(
            f"{what} has weight = {weight!r}; it must name a column.",
            file=label,
            row=locate("weight"),
            fix='Write weight = "<column name>", or leave weight out for equal weights.',
        )
    return path, weight, entry.get("label"), entry.get("attributes")


def _path_entry(
    entry: Mapping[str, Any],
    allowed: tuple[str, ...],
    what: str,
    *,
    label: str,
    locate: Callable[..., int | None],
) -> str:
    """Check the keys of a table that names a CSV file; return its path."""
    unknown = [k for k in entry if k not in allowed]
    if unknown:
        raise StudyError(
            f"{what} has unknown key {unknown[0]!r}; allowed keys are {', '.join(allowed)}.",
            file=label,
            row=locate(unknown[0]),
            fix=f"Remove {unknown[0]!r} or correct its spelling.",
        )
    path = entry.get("path")
    if not isinstance(path, str) or not path:
        raise StudyError(
            f"{what} has no path."
            if path is None
            else f"{what} has path = {path!r}, not a file name.",
            file=label,
            row=locate("path") if path is not None else locate(),
            fix='Add path = "<file>.csv", relative to the study file.',
        )
    return path


def read_table(path: Path, *, row: int | None = None, config: str | None = None) -> pd.DataFrame:
    """Read a CSV file as strings, with only truly empty cells missing.

    Parameters
    ----------
    path
        The CSV file.
    row, config
        Line and name of the study file that refers to it, for a missing file.

    Returns
    -------
    pandas.DataFrame
        All columns as strings; empty cells are ``""``. Trailing blank lines
        are dropped; blank lines in the middle are kept so that row ``i`` is
        on line ``i + 2``.
    """
    label = str(path)
    if not path.exists():
        raise StudyError(
            f"the file {label!r} does not exist.",
            file=config,
            row=row,
            fix="Correct the path (it is relative to the study file) or create the file.",
        )
    text = _read_text(path, label=label, what="table")
    if not text.strip():
        raise StudyError(
            "the file is empty.",
            file=label,
            fix="Write a header line naming the columns, then one line per row.",
        )
    header = next(csv.reader(io.StringIO(text)), [])
    for i, name in enumerate(header):
        if name == "":
            raise StudyError(
                f"column {i + 1} of the header has no name.",
                file=label,
                row=1,
                fix="Name every column, or remove the stray comma.",
            )
    unique_header(header, file=label)
    # A row wider than the header: pandas (index_col=False) would warn and drop its extra cells.
    reader = csv.reader(io.StringIO(text))
    try:
        for cells in reader:
            if len(cells) > len(header):
                raise StudyError(
                    f"the file is not valid CSV: line {reader.line_num} has {len(cells)} cells, the header {len(header)}.",
                    file=label,
                    row=reader.line_num,
                    fix="Give every line as many comma-separated cells as the header; quote cells containing commas.",
                )
    except csv.Error:
        pass  # pandas names the problem below
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=False,
            index_col=False,
        )
    except (pd.errors.ParserError, ValueError, csv.Error) as exc:
        message = str(exc).replace("Error tokenizing data. C error: ", "").strip().rstrip(".")
        found = re.search(r"\bline (\d+)", message)
        raise StudyError(
            f"the file is not valid CSV: {message}.",
            file=label,
            row=int(found.group(1)) if found else None,
            fix="Give every line as many comma-separated cells as the header; "
            "quote cells containing commas.",
        ) from None
    # Trailing blank lines shift no line numbers, so they can go.
    filled = (frame != "").to_numpy().any(axis=1) if len(frame) else []
    last = max((i for i, f in enumerate(filled) if f), default=-1)
    return frame.iloc[: last + 1].reset_index(drop=True)


def _read_text(path: Path, *, label: str, what: str) -> str:
    """Read a UTF-8 text file, turning OS errors into :class:`StudyError`."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise StudyError(
            f"the {what} does not exist.", file=label, fix="Check the path."
        ) from None
    except IsADirectoryError:
        raise StudyError(
            f"the {what} is a directory, not a file.",
            file=label,
            fix="Give the path of the file itself.",
        ) from None
    except UnicodeDecodeError as exc:
        raise StudyError(
            f"the {what} is not UTF-8 text (bad byte at offset {exc.start}).",
            file=label,
            fix="Save the file as UTF-8.",
        ) from None
    except OSError as exc:
        raise StudyError(
            f"the {what} cannot be read: {exc.strerror or exc}.",
            file=label,
            fix="Check its permissions.",
        ) from None


def _toml_error(exc: tomllib.TOMLDecodeError, label: str) -> StudyError:
    """Turn a TOML syntax error into a :class:`StudyError` with its line."""
    message = str(exc)
    line = getattr(exc, "lineno", None)
    found = re.search(r"\s*\(at line (\d+), column (\d+)\)", message)
    if found:
        line = line or int(found.group(1))
        message = message[: found.start()] + f" at column {found.group(2)}"
    elif "end of document" in message:
        line = None
    return StudyError(
        f"TOML syntax error: {message}.",
        file=label,
        row=line,
        fix="Correct the TOML syntax (strings need double quotes, lists need [ ... ]).",
    )


class _Lines:
    """Best-effort map from a key path of the study file to its line number.

    ``tomllib`` gives no positions, so this scans the text for the table
    header or ``key =`` line. Returns ``None`` when it cannot tell.
    """

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()

    def __call__(self, *keys: str | int) -> int | None:
        if not keys:
            return None
        head, rest = keys[0], keys[1:]
        if head == "attributes" and rest:
            start = self._find(rf"\[\s*attributes\s*\.\s*{_key(str(rest[0]))}\s*\]")
            key = rest[1] if len(rest) > 1 else None
        elif head == "marginals" and rest:
            start = self._find(r"\[\[\s*marginals\s*\]\]", nth=int(rest[0]))
            key = rest[1] if len(rest) > 1 else None
        elif head == "microdata" and rest and isinstance(rest[0], int):
            start = self._find(r"\[\[\s*microdata\s*\]\]", nth=rest[0])
            key = rest[1] if len(rest) > 1 else None
        elif head == "microdata" and rest:
            start = self._find(r"\[\s*microdata\s*\]")
            key = rest[0]
        else:
            return self._find(rf"(\[\[?\s*)?{_key(str(head))}\s*[=.\]]")
        if start is None or key is None:
            return start
        return self._find_key(str(key), after=start) or start

    def _find(self, pattern: str, *, nth: int = 0) -> int | None:
        regex = re.compile(rf"^\s*{pattern}")
        hits = [i + 1 for i, line in enumerate(self.lines) if regex.match(line)]
        return hits[nth] if nth < len(hits) else None

    def _find_key(self, key: str, *, after: int) -> int | None:
        regex = re.compile(rf"^\s*{_key(key)}\s*=")
        for i in range(after, len(self.lines)):
            if self.lines[i].lstrip().startswith("["):
                return None
            if regex.match(self.lines[i]):
                return i + 1
        return None


def _key(name: str) -> str:
    """Regex for a TOML key, bare or quoted."""
    esc = re.escape(name)
    return rf"(?:{esc}|\"{esc}\"|'{esc}')"
