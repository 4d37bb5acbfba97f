"""The notebooks in ``notebooks/`` run top to bottom, and the committed copies carry outputs.

``test_notebook_runs`` executes each notebook with ``POPULACE_NB_QUICK=1`` (tiny fits) in a
temporary copy, so the committed outputs are never touched; a failing cell fails the test
with the cell's traceback. The notebooks share one temporary fit cache
(``POPULACE_NB_CACHE``), so 02-04 reuse the fit 01 made, as they do for a user.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
# A notebook cell may run a NUTS fit (compile + sample); generous for a cold compile cache.
CELL_TIMEOUT_S = 900


def _outputs(nb):
    return [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]


def test_notebooks_exist():
    assert [p.name for p in NOTEBOOKS] == [
        "01_quickstart.ipynb",
        "02_model_checking.ipynb",
        "03_uncertainty.ipynb",
        "04_personas_to_prompts.ipynb",
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_notebook_has_outputs(path):
    """Committed with the outputs of a clean run with the real settings, figures included."""
    nbformat = pytest.importorskip("nbformat")
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.get("execution_count") for c in code), "every code cell was executed"
    counts = [c["execution_count"] for c in code]
    assert counts == list(range(1, len(code) + 1)), "executed top to bottom in one kernel"
    outputs = _outputs(nb)
    assert not [o for o in outputs if o.output_type == "error"], "no cell raised"
    assert any("image/png" in o.get("data", {}) for o in outputs), "figures are visible"
    first = "".join(o.get("text", "") for o in code[0].get("outputs", []))
    assert "settings: real" in first, "committed outputs come from the real settings, not POPULACE_NB_QUICK"
    source = "".join(code[0].source)
    assert "POPULACE_NB_QUICK" in source


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(path, tmp_path, tmp_path_factory, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    pytest.importorskip("matplotlib")

    cache = tmp_path_factory.getbasetemp() / "notebook-fits"  # shared by the four notebooks
    cache.mkdir(exist_ok=True)
    monkeypatch.setenv("POPULACE_NB_QUICK", "1")
    monkeypatch.setenv("POPULACE_NB_CACHE", str(cache))
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    monkeypatch.delenv("MPLBACKEND", raising=False)  # the kernel's inline backend captures the figures
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # the notebooks' exports land in the test's temp dir

    copy = tmp_path / path.name
    shutil.copyfile(path, copy)
    nb = nbformat.read(copy, as_version=4)
    client = nbclient.NotebookClient(
        nb,
        timeout=CELL_TIMEOUT_S,
        kernel_name="python3",
        record_timing=False,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    try:
        client.execute()  # raises CellExecutionError with the failing cell's traceback
    finally:
        nbformat.write(nb, copy)
    outputs = _outputs(nb)
    assert not [o for o in outputs if o.output_type == "error"]
    first_code = next(c for c in nb.cells if c.cell_type == "code")
    first = "".join(o.get("text", "") for o in first_code.get("outputs", []))
    assert "settings: QUICK" in first, first
    assert any("image/png" in o.get("data", {}) for o in outputs)
