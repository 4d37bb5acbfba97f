"""The wheel must contain every subpackage, including the remapped models/ and inference/."""

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
    # every source package on disk is listed in pyproject.toml
    disk = {p.parent.relative_to(ROOT).as_posix() for p in ROOT.glob("populace/**/__init__.py")}
    for d in disk:
        assert f"{d}/__init__.py" in names, d
