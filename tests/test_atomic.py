"""The one atomic writer: a failure leaves the target as it was and no temp behind."""

from pathlib import Path

import pytest

from populace.atomic import atomic_dir, atomic_path, write_text


class Boom(Exception):
    pass


def test_atomic_path_replaces_only_on_success(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    write_text(target, "old\n")
    with pytest.raises(Boom), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise Boom
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]
    with atomic_path(target, suffix=".csv") as tmp:
        assert tmp.suffix == ".csv" and tmp.parent == tmp_path
        tmp.write_text("new\n")
    assert target.read_text() == "new\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]


def test_atomic_dir(tmp_path: Path) -> None:
    target = tmp_path / "data"
    with pytest.raises(Boom), atomic_dir(target) as tmp:
        (tmp / "part-0.parquet").write_text("x")
        raise Boom
    assert list(tmp_path.iterdir()) == []
    with atomic_dir(target) as tmp:
        (tmp / "part-0.parquet").write_text("x")
    assert [p.name for p in target.iterdir()] == ["part-0.parquet"]
    assert [p.name for p in tmp_path.iterdir()] == ["data"]


def test_write_text_creates_folders_and_uses_newlines(tmp_path: Path) -> None:
    path = write_text(tmp_path / "a" / "b.md", "x\ny\n")
    assert path.read_bytes() == b"x\ny\n"
