"""The wheel must contain every subpackage and the bundled data; the editable install is quiet."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_contains_every_subpackage(tmp_path):
    pytest.importorskip("setuptools")
    out = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    (wheel,) = tmp_path.glob("populace-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for pkg in ["populace", "populace/study", "populace/baselines", "populace/data", "populace/models", "populace/inference"]:
        assert f"{pkg}/__init__.py" in names, pkg
    assert "populace/models/copula.py" in names
    assert "populace/inference/fit.py" in names
    assert "populace/data/gss/study.toml" in names
    assert "populace/py.typed" in names  # PEP 561: type checkers read the package's hints
    # every source package on disk is in the wheel
    disk = {p.parent.relative_to(ROOT / "src").as_posix() for p in ROOT.glob("src/populace/**/__init__.py")}
    for d in disk:
        assert f"{d}/__init__.py" in names, d


def test_the_editable_build_prints_no_warning(tmp_path):
    """The editable build (what `make env` runs) prints no setuptools warning: with the
    models/ and inference/ folders remapped it printed "Please be careful with folders in
    your working directory ..."; the src layout needs no remapping."""
    pytest.importorskip("setuptools")
    code = f"from setuptools import build_meta; build_meta.build_editable({str(tmp_path)!r})"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    text = out.stdout + out.stderr
    assert "Warning" not in text and "careful" not in text, [line for line in text.splitlines() if "arn" in line][:5]
