"""End-to-end tests of the ``populace`` command on a small study.

One NUTS fit (the slow part: ~30-60 s of compiling) is shared by the module;
the other tests reuse its file. ``main`` runs in-process, except for one
``--help`` check through the real ``python -m populace.cli``.
"""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from populace.cli import main
from populace.study import make_study, write_study

LEVELS = {
    "age": ("young", "middle", "old"),
    "sex": ("Male", "Female"),
    "vote": ("Left", "Centre", "Right"),
}
N_POP, N_SAMPLE = 3000, 80


def small_study_dir(folder: Path) -> Path:
    """Write a 3-attribute study (1-D tables, age x sex, 80 survey rows); return its TOML."""
    rng = np.random.default_rng(7)
    # A population with some age-vote dependence, so the model has something to learn.
    age = rng.choice(3, size=N_POP, p=[0.3, 0.4, 0.3])
    sex = rng.choice(2, size=N_POP)
    vote = np.array([rng.choice(3, p=np.roll([0.5, 0.3, 0.2], a)) for a in age])
    pop = pd.DataFrame(
        {
            name: pd.Categorical.from_codes(codes, categories=list(levels))
            for (name, levels), codes in zip(LEVELS.items(), (age, sex, vote), strict=True)
        }
    )

    def table(*cols: str) -> pd.DataFrame:
        counts = pop.groupby(list(cols), observed=False).size().rename("count").reset_index()
        return counts.astype({c: str for c in cols})

    micro = pop.sample(N_SAMPLE, random_state=1).astype(str).reset_index(drop=True)
    study = make_study(
        {
            "age": {"type": "ordinal", "levels": list(LEVELS["age"])},
            "sex": {"type": "nominal", "levels": list(LEVELS["sex"])},
            "vote": {"type": "nominal", "levels": list(LEVELS["vote"])},
        },
        [table("age"), table("sex"), table("vote"), table("age", "sex")],
        micro,
        name="small",
    )
    return write_study(study, folder)


@pytest.fixture(scope="module")
def study_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return small_study_dir(tmp_path_factory.mktemp("study"))


@pytest.fixture(scope="module")
def fitted(study_path: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    """Run `populace fit` once; return the fit path and what it printed (stdout, stderr)."""
    out = tmp_path_factory.mktemp("fit") / "fit.nc"
    stdout, stderr = io.StringIO(), io.StringIO()
    # capsys is function-scoped, so the module fixture captures for itself.
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        rc = main([
            "fit", str(study_path), "--out", str(out),
            "--draws", "50", "--tune", "50", "--chains", "1", "--seed", "1",
        ])  # fmt: skip
    assert rc == 0, stderr.getvalue()
    return out, stdout.getvalue(), stderr.getvalue()


@pytest.fixture(scope="module")
def fit_path(fitted: tuple[Path, str, str]) -> Path:
    return fitted[0]


def generate(fit: Path, out: Path, *extra: str) -> int:
    return main(["generate", str(fit), "--n", "200", "--draws", "3", "--out", str(out), *extra])


def error_line(stderr: str) -> str:
    """The single `populace: error:` line (progress lines may come before it)."""
    lines = [line for line in stderr.splitlines() if line.startswith("populace: error: ")]
    assert len(lines) == 1, stderr
    return lines[0]


@pytest.mark.slow
def test_fit_saves_the_fit_and_reports_in_words(fitted: tuple[Path, str, str]) -> None:
    from populace.inference import load_fit

    path, out, err = fitted
    assert load_fit(path)["posterior"].sizes["draw"] == 50
    for step in ("loading study", "compiling and sampling", "saving"):
        assert step in err, step
    assert " s] " in err  # elapsed seconds on each progress line
    assert "convergence: " in out and "R-hat max" in out and "divergences" in out
    assert "information (census tables and surveys behind each attribute):" in out and "learned from survey(s)" in out
    assert f"fit saved to {path}" in out
    # Neither a Python warning (file:line) nor PyMC's INFO chatter without --verbose.
    assert "Warning:" not in err and "Auto-assigning NUTS" not in err


@pytest.mark.slow
def test_fit_passes_the_options_on(
    study_path: Path,
    fit_path: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],  # captured stderr is no TTY, so progressbar=False
) -> None:
    import populace.inference as inference

    calls: dict[str, object] = {}

    def fake_fit(study: object, **kwargs: object) -> object:
        calls.update(kwargs)  # no sampling: the options are what is tested
        return inference.load_fit(fit_path)

    monkeypatch.setattr(inference, "fit", fake_fit)
    out = tmp_path / "new" / "fit.nc"
    argv = ["fit", str(study_path), "--out", str(out), "--factors", "1", "--seed", "3",
            "--draws", "7", "--tune", "0", "--chains", "3", "--sampler", "pymc", "--backend", "numba"]  # fmt: skip
    assert main(argv) == 0
    assert out.is_file()
    assert calls == {
        "method": "nuts", "sampler": "pymc", "factors": 1, "draws": 7, "tune": 0, "chains": 3,
        "seed": 3, "progressbar": False, "warn": False, "sampler_config": {"backend": "numba"},
    }  # fmt: skip


@pytest.mark.slow
def test_generate_writes_one_row_per_persona_and_draw(
    fit_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "personas.parquet"
    assert generate(fit_path, out) == 0
    assert "wrote 600 rows" in capsys.readouterr().out
    df = pd.read_parquet(out)
    assert sorted(df.columns) == ["age", "draw", "sex", "vote"]
    assert len(df) == 600
    assert pd.api.types.is_integer_dtype(df["draw"])
    assert sorted(df["draw"].unique()) == [0, 1, 2]
    for name, levels in LEVELS.items():
        assert set(df[name].astype(str)) <= set(levels), name


@pytest.mark.slow
def test_generate_partitioned_by_draw_writes_a_dataset_folder(
    fit_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "personas"
    assert generate(fit_path, out, "--partition-by", "draw") == 0
    assert "wrote 600 rows" in capsys.readouterr().out
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.parquet")) == [
        f"draw={d}/part-00000.parquet" for d in range(3)
    ]
    single = tmp_path / "one.parquet"
    assert generate(fit_path, single) == 0
    a, b = pd.read_parquet(out), pd.read_parquet(single)
    assert (a["vote"].astype(str).to_numpy() == b["vote"].astype(str).to_numpy()).all()
    assert generate(fit_path, out, "--partition-by", "draw") == 2  # refuses to overwrite a dataset


@pytest.mark.slow
def test_generate_where_keeps_only_that_level(fit_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "women.parquet"
    assert generate(fit_path, out, "--where", "sex=Female", "--where", "age=old") == 0
    df = pd.read_parquet(out)
    assert len(df) == 600
    assert set(df["sex"].astype(str)) == {"Female"}
    assert set(df["age"].astype(str)) == {"old"}


@pytest.mark.slow
def test_generate_is_reproducible_with_a_seed(fit_path: Path, tmp_path: Path) -> None:
    a, b, c = (tmp_path / f"{k}.parquet" for k in "abc")
    assert generate(fit_path, a, "--seed", "5") == 0
    assert generate(fit_path, b, "--seed", "5") == 0
    assert generate(fit_path, c, "--seed", "6") == 0
    pd.testing.assert_frame_equal(pd.read_parquet(a), pd.read_parquet(b))
    assert not pd.read_parquet(a).equals(pd.read_parquet(c))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("sexFemale", "expected ATTR=LEVEL"),
        ("colour=red", "no attribute 'colour'"),
        ("sex=Other", "'Other' is not a level of sex"),
    ],
)
def test_generate_bad_where_is_a_clean_error(
    fit_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], where: str, message: str
) -> None:
    out = tmp_path / "p.parquet"
    assert generate(fit_path, out, "--where", where) == 2
    err = capsys.readouterr().err
    assert message in error_line(err) and "Traceback" not in err
    assert not out.exists()


def test_bad_study_is_exit_2_naming_the_file(
    study_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(study_path.read_text().replace('type = "nominal"', 'type = "nominall"', 1))
    out = tmp_path / "fit.nc"
    assert main(["fit", str(bad), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert str(bad) in error_line(err)
    assert "Traceback" not in err
    assert not out.exists()


def test_missing_study_file_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.toml"
    assert main(["fit", str(missing), "--out", str(tmp_path / "fit.nc")]) == 2
    assert str(missing) in error_line(capsys.readouterr().err)


def test_missing_fit_file_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.nc"
    assert main(["generate", str(missing), "--n", "10", "--out", str(tmp_path / "p.parquet")]) == 2
    err = capsys.readouterr().err
    assert str(missing) in error_line(err) and "Traceback" not in err


def test_not_a_fit_file_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    junk = tmp_path / "junk.nc"
    junk.write_text("not netcdf")
    assert main(["generate", str(junk), "--n", "10", "--out", str(tmp_path / "p.parquet")]) == 2
    assert "not a readable netCDF fit file" in error_line(capsys.readouterr().err)


def test_usage_errors_are_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert main(["generate", "fit.nc", "--n", "0", "--out", "p.parquet"]) == 2
    assert "must be at least 1" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["fit", "generate", "library", "sbc"])
@pytest.mark.parametrize("seed", ["-1", str(2**63), "abc"])
def test_a_bad_seed_is_a_usage_error_before_any_work(command: str, seed: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = {"fit": ["s.toml", "--out", str(tmp_path / "f.nc")], "generate": ["f.nc", "--n", "5", "--out", str(tmp_path / "p.parquet")],
            "library": ["f.nc", "--n", "5", "--out", str(tmp_path / "lib")], "sbc": ["--out", str(tmp_path / "sbc")]}[command]  # fmt: skip
    assert main([command, *args, "--seed", seed]) == 2
    assert "--seed" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_help_through_the_real_module() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "populace.cli", "--help"], capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
    for command in ("fit", "generate", "demo"):
        assert command in run.stdout


def test_demo_report_compares_census_and_shows_the_crosstab() -> None:
    # Random personas on the bundled study: checks the report's layout, not the model.
    from populace.data import example_study_path
    from populace.demo import demo_report
    from populace.study.shares import census_margin
    from populace.personas import persona_dataset
    from populace.study import load_study

    study = load_study(example_study_path())
    rng = np.random.default_rng(0)
    codes = {a.name: rng.integers(0, a.n_levels, size=(4, 500)) for a in study.attributes}
    text = demo_report(study, persona_dataset(codes, study), diagnostics="R-hat max 1.001", converged=True)
    assert "census N = 14,064" in text and "R-hat max 1.001" in text
    for a in study.attributes:
        assert f"### {a.name}" in text
        shares = census_margin(study, a.name)
        assert shares is not None and shares.sum() == pytest.approx(1.0)
    assert "## Share with abany = Yes, by partyid" in text
    assert "No census table crosses these two" in text
    for level in study.attribute("partyid").levels:
        assert f"| {level} | " in text
    assert text.count(" to ") >= sum(a.n_levels for a in study.attributes) + 7


def test_generate_and_library_default_to_the_package_default_draws():
    from populace.cli import build_parser
    from populace.summarize import DEFAULT_DRAWS

    parser = build_parser()
    for command in (["generate", "FIT", "--n", "5", "--out", "P"], ["library", "FIT", "--n", "5", "--out", "D"]):
        assert parser.parse_args(command).draws == DEFAULT_DRAWS == 100
