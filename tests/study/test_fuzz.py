"""Fuzzing the study loader: whatever the files hold, ``load_study`` returns a valid study
or raises a ``StudyError``; no other exception, ever.

Hypothesis builds a valid study (TOML + CSV: attributes, a geography sometimes, consistent
census tables from one population, microdata with missing cells and weights), writes it,
then applies mutations: bytes inserted, deleted or replaced, a cell replaced by arbitrary
text, TOML values of the wrong type, files emptied, truncated, removed, made folders or
re-encoded. The CI runs ``POPULACE_FUZZ_EXAMPLES`` examples (default 150); the closing
run used 10,000: ``POPULACE_FUZZ_EXAMPLES=10000 python -m pytest tests/study/test_fuzz.py``.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from populace.errors import StudyError, StudyWarning  # noqa: E402
from populace.study import Study, load_study  # noqa: E402

EXAMPLES = int(os.environ.get("POPULACE_FUZZ_EXAMPLES", "150"))
NAMES = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=6)
LEVEL = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABC0123456789 -+", min_size=1, max_size=5).map(str.strip).filter(bool)


@st.composite
def studies(draw: st.DrawFn) -> dict[str, bytes]:
    """The files of a valid study (name -> content)."""
    names = draw(st.lists(NAMES, min_size=1, max_size=3, unique=True))
    levels = [draw(st.lists(LEVEL, min_size=2, max_size=4, unique=True)) for _ in names]
    kinds = [draw(st.sampled_from(["ordinal", "nominal"])) for _ in names]
    geo = draw(st.booleans()) and len(names) > 1
    seed = draw(st.integers(0, 2**31))
    rng = np.random.default_rng(seed)
    shape = tuple(len(lv) for lv in levels)
    pop = rng.integers(0, 40, size=shape) + (rng.random(shape) < 0.8)
    toml = [f'name = "{draw(NAMES)}"', ""]
    for i, (n, lv, k) in enumerate(zip(names, levels, kinds, strict=True)):
        toml += [f"[attributes.{n}]", f'type = "{k}"', "levels = [" + ", ".join(f'"{x}"' for x in lv) + "]"]
        if geo and i == 0:
            toml.append('role = "geography"')
        toml.append("")
    files: dict[str, bytes] = {}
    tables = draw(st.lists(st.sets(st.integers(0, len(names) - 1), min_size=1, max_size=2), max_size=3))
    for t, axes in enumerate(sorted({tuple(sorted(a)) for a in tables})):
        counts = pop.sum(axis=tuple(i for i in range(len(names)) if i not in axes))
        rows = [",".join([*(names[a] for a in axes), "count"])]
        for idx in np.ndindex(*counts.shape):
            rows.append(",".join([*(levels[a][j] for a, j in zip(axes, idx, strict=True)), str(int(counts[idx]))]))
        files[f"census_{t}.csv"] = ("\n".join(rows) + "\n").encode()
        toml += ["[[marginals]]", f'path = "census_{t}.csv"', ""]
    weighted = draw(st.booleans())
    n_rows = draw(st.integers(1, 12))
    header = [*names, *(["W8"] if weighted else [])]
    lines = [",".join(header)]
    for _ in range(n_rows):
        cells = [lv[rng.integers(len(lv))] if rng.random() > 0.15 else "" for lv in levels]
        if not any(cells):  # a row of empty cells only is a blank line in a 1-column CSV
            cells[0] = levels[0][0]
        if weighted:
            cells.append(f"{rng.uniform(0.5, 3):.3f}")
        lines.append(",".join(cells))
    files["sample.csv"] = ("\n".join(lines) + "\n").encode()
    toml += ["[microdata]", 'path = "sample.csv"', *(['weight = "W8"'] if weighted else []), ""]
    files["study.toml"] = "\n".join(toml).encode()
    return files


TOML_VALUES = st.sampled_from(
    ["3", "true", "[]", "[1, 2]", '"x"', "{}", '{ a = 1 }', "1e309", "nan", '["a", "a"]', '""', "[[1]]", '"\\u0000"']
)
TEXT = st.text(max_size=12)


@st.composite
def mutated(draw: st.DrawFn) -> dict[str, bytes | None]:
    """A valid study with 0-3 mutations (``None`` content = the path is made a folder)."""
    files: dict[str, bytes | None] = dict(draw(studies()))
    for _ in range(draw(st.integers(0, 3))):
        name = draw(st.sampled_from(sorted(files)))
        data = files[name] or b""
        kind = draw(
            st.sampled_from(
                ["insert", "delete", "replace_cell", "toml_value", "empty", "truncate", "remove", "folder",
                 "latin1", "duplicate_line", "bytes"]  # fmt: skip
            )
        )
        pos = draw(st.integers(0, len(data)))
        if kind == "insert":
            files[name] = data[:pos] + draw(TEXT).encode("utf-8", "surrogatepass") + data[pos:]
        elif kind == "delete":
            files[name] = data[:pos] + data[pos + draw(st.integers(1, 20)) :]
        elif kind == "replace_cell":
            lines = data.decode("utf-8", "replace").split("\n")
            i = draw(st.integers(0, max(len(lines) - 1, 0)))
            cells = lines[i].split(",")
            cells[draw(st.integers(0, len(cells) - 1))] = draw(TEXT)
            lines[i] = ",".join(cells)
            files[name] = "\n".join(lines).encode("utf-8", "surrogatepass")
        elif kind == "toml_value":
            lines = (files.get("study.toml") or b"").decode("utf-8", "replace").split("\n")
            eq = [i for i, line in enumerate(lines) if " = " in line]
            if eq:
                i = draw(st.sampled_from(eq))
                lines[i] = lines[i].split(" = ")[0] + " = " + draw(TOML_VALUES)
                files["study.toml"] = "\n".join(lines).encode()
        elif kind == "empty":
            files[name] = b""
        elif kind == "truncate":
            files[name] = data[:pos]
        elif kind == "remove":
            files.pop(name)
            if not files:
                break
        elif kind == "folder":
            files[name] = None
        elif kind == "latin1":
            files[name] = data.decode("utf-8", "replace").encode("latin-1", "replace") + b"\xe9\xff"
        elif kind == "duplicate_line":
            lines = data.split(b"\n")
            i = draw(st.integers(0, max(len(lines) - 1, 0)))
            files[name] = b"\n".join(lines[: i + 1] + lines[i:])
        else:
            files[name] = data[:pos] + draw(st.binary(max_size=8)) + data[pos:]
    return files


def _load(files: dict[str, bytes | None]) -> Study | StudyError:
    with tempfile.TemporaryDirectory() as tmp:
        for name, data in files.items():
            if data is None:
                (Path(tmp) / name).mkdir()
            else:
                (Path(tmp) / name).write_bytes(data)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", StudyWarning)  # fine; exceptions are the point
            try:
                return load_study(Path(tmp) / "study.toml")
            except StudyError as exc:
                return exc


@settings(max_examples=max(EXAMPLES // 4, 10), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(studies())
def test_valid_studies_load(files: dict[str, bytes]) -> None:
    result = _load(dict(files))
    assert isinstance(result, Study), result


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(mutated())
def test_mutated_studies_load_or_raise_a_study_error(files: dict[str, bytes | None]) -> None:
    result = _load(files)
    assert isinstance(result, Study | StudyError)
    if isinstance(result, StudyError):
        assert str(result)  # a message a user can read


@settings(max_examples=max(EXAMPLES // 4, 10), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(studies())
def test_valid_studies_round_trip_through_write_study(files: dict[str, bytes]) -> None:
    """A loaded study written back with write_study loads as the same study (every attribute,
    level, table, row and weight; only the file names it records differ, as write_study names
    its own files), and writing it again gives the same files."""
    from populace.study.serialize import study_to_dict
    from populace.study.write import write_study

    study = _load(dict(files))
    assert isinstance(study, Study), study
    with tempfile.TemporaryDirectory() as tmp:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", StudyWarning)
            again = load_study(write_study(study, Path(tmp) / "a"))
            write_study(again, Path(tmp) / "b")
        assert _without_sources(study_to_dict(again)) == _without_sources(study_to_dict(study))
        for f in sorted((Path(tmp) / "a").iterdir()):
            assert f.read_bytes() == (Path(tmp) / "b" / f.name).read_bytes(), f.name


def _without_sources(d):
    if isinstance(d, dict):
        return {k: _without_sources(v) for k, v in d.items() if k != "source"}
    if isinstance(d, list):
        return [_without_sources(v) for v in d]
    return d
