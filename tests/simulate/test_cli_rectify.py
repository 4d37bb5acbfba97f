"""``populace rectify`` end to end (in-process ``main``)."""

from __future__ import annotations

import contextlib
import io
import warnings

import numpy as np
import pandas as pd
import pytest

from populace.cli import main
from populace.simulate import rectify
from tests.simulate.test_rectify import _inputs


def _main(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(list(argv))
    return rc, out.getvalue(), err.getvalue()


@pytest.fixture()
def files(tmp_path):
    personas, humans = _inputs(11)
    personas.astype({"llm": "category", "sex": "category"}).to_parquet(tmp_path / "p.parquet")
    humans.to_csv(tmp_path / "h.csv", index=False)
    return tmp_path, personas, humans


def test_writes_the_same_table_as_python(files):
    d, personas, humans = files
    rc, out, err = _main(
        "rectify", "--personas", str(d / "p.parquet"), "--answer", "llm", "--human", str(d / "h.csv"),
        "--truth-column", "truth", "--by", "sex", "--weight", "w", "--out", str(d / "r.csv"),
    )
    assert rc == 0, err
    got = pd.read_csv(d / "r.csv", keep_default_na=False, na_values=[""])
    assert list(got.columns) == ["level", "group", "method", "estimate", "lo90", "hi90"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        expect = rectify(personas, humans, answer="llm", truth="truth", by="sex", weight="w")
    pd.testing.assert_frame_equal(got, expect[got.columns.tolist()], check_exact=False, rtol=1e-12)
    assert "wrote 18 rows" in out
    assert [p.name for p in d.iterdir() if p.name.startswith(".")] == []  # no temp file left


def test_plain_and_warnings_in_words(files):
    d, personas, humans = files
    personas.assign(draw=0).to_parquet(d / "one.parquet")
    rc, _, err = _main(
        "rectify", "--personas", str(d / "one.parquet"), "--answer", "llm", "--human", str(d / "h.csv"),
        "--truth-column", "truth", "--plain", "--out", str(d / "r.csv"),
    )
    assert rc == 0
    assert "populace: warning: the personas hold one posterior draw" in err
    got = pd.read_csv(d / "r.csv")
    y, f = (humans.truth == "yes").mean(), (humans.llm == "yes").mean()
    ppi = got.query("level == 'yes' and method == 'ppi'").estimate.item()
    np.testing.assert_allclose(ppi, (personas.llm == "yes").mean() + y - f, rtol=1e-12)  # lambda = 1


@pytest.mark.parametrize(
    "edit, message",
    [
        (dict(answer="nope"), "p.parquet, column 'nope': has no column 'nope'"),
        (dict(truth="nope"), "h.csv, column 'nope': has no column 'nope'"),
        (dict(by="age"), "p.parquet, column 'age': has no column 'age'"),
        (dict(human="missing.csv"), "missing.csv: no such file"),
        (dict(human="empty.csv"), "empty.csv: is empty"),
        (dict(personas="missing.parquet"), "--personas"),
        (dict(personas="empty.parquet"), "empty.parquet: has no rows"),
        (dict(personas="h.csv"), "h.csv: cannot be read as Parquet"),
    ],
)
def test_bad_input_is_a_clear_error(files, edit, message):
    d, _, _ = files
    (d / "empty.csv").write_text("")
    pd.read_parquet(d / "p.parquet").iloc[:0].to_parquet(d / "empty.parquet")
    a = dict(personas="p.parquet", answer="llm", human="h.csv", truth="truth", by=None) | edit
    argv = ["rectify", "--personas", str(d / a["personas"]), "--answer", a["answer"], "--human", str(d / a["human"]),
            "--truth-column", a["truth"], "--out", str(d / "r.csv")] + (["--by", a["by"]] if a["by"] else [])
    rc, _, err = _main(*argv)
    assert rc == 2
    assert message in err and "Traceback" not in err
    assert not (d / "r.csv").exists()
