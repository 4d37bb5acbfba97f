"""run_demo end to end (quick settings): the files it promises, consistent with each other."""

from pathlib import Path

import numpy as np
import pytest

from populace.demo import QUICK, run_demo

pytestmark = pytest.mark.slow


def test_quick_demo_writes_a_fit_personas_and_a_report_that_agree(tmp_path: Path) -> None:
    from populace.inference import load_fit
    from populace.personas import read_parquet
    from populace.study import load_study
    from populace.study.shares import census_margin

    lines: list[str] = []
    paths = run_demo(tmp_path / "out", quick=True, echo=lines.append, progress=lambda _m: None)
    out = tmp_path / "out"
    assert sorted(p.name for p in out.iterdir()) == ["fit.nc", "personas.parquet", "report.md"]
    assert {k: v for k, v in paths.items() if k != "study"} == {
        "fit": out / "fit.nc", "personas": out / "personas.parquet", "report": out / "report.md"
    }  # fmt: skip
    fit = load_fit(paths["fit"])
    assert fit["posterior"].sizes["draw"] == QUICK.draws and fit["posterior"].sizes["chain"] == QUICK.chains
    df = read_parquet(paths["personas"])
    assert len(df) == QUICK.n * QUICK.persona_draws and sorted(df["draw"].unique()) == list(range(QUICK.persona_draws))
    study = load_study(paths["study"])
    report = paths["report"].read_text()
    for a in study.attributes:
        census = census_margin(study, a.name)
        gen = df[a.name].value_counts(normalize=True).reindex(list(a.levels), fill_value=0).to_numpy()
        # pooled over 5 x 1000 raked personas: multinomial noise only (4 sd)
        assert np.all(np.abs(gen - census) < 4 * np.sqrt(census * (1 - census) / len(df)) + 1e-12), a.name
        assert f"### {a.name}" in report
    assert any(line.startswith("convergence: ") for line in lines)
