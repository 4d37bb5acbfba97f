"""run_demo end to end (quick settings): the files it promises, consistent with each other."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from populace.demo import QUICK, run_demo
from populace.report import SECTION_IDS
from tests.report.browser import open_page

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "out"
    lines: list[str] = []
    paths = run_demo(out, quick=True, echo=lines.append, progress=lambda _m: None)
    return out, paths, lines


def test_quick_demo_writes_a_fit_personas_and_a_report_that_agree(demo) -> None:
    from populace.inference import load_fit
    from populace.personas import read_parquet
    from populace.study import load_study
    from populace.study.shares import census_margin

    out, paths, lines = demo
    assert sorted(p.name for p in out.iterdir()) == ["fit.nc", "personas.parquet", "report.html", "report.md"]
    assert {k: v for k, v in paths.items() if k != "study"} == {
        "fit": out / "fit.nc", "personas": out / "personas.parquet", "report": out / "report.md",
        "report_html": out / "report.html",
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


def test_the_demo_report_opens_in_a_browser_with_every_section(demo) -> None:
    _, paths, _ = demo
    check = open_page(paths["report_html"])
    assert check.console_errors == []
    assert check.broken_images == [] and check.images >= 5  # rank, margins, dependence, shares by group
    assert check.section_ids == list(SECTION_IDS)
    html = paths["report_html"].read_text()
    for name in ("partyid", "abany"):  # the attributes no census table crosses, shown by group
        assert f"{name} by age" in html


def test_populace_report_cli_writes_the_page_with_and_without_personas(demo, tmp_path: Path) -> None:
    from populace.cli import main

    _, paths, _ = demo
    given = tmp_path / "given.html"
    assert main(["report", str(paths["fit"]), "--personas", str(paths["personas"]), "--out", str(given), "--by", "sex"]) == 0
    assert "abany by sex" in given.read_text() and "abany by age" not in given.read_text()
    generated = tmp_path / "generated.html"
    assert main(["report", str(paths["fit"]), "--out", str(generated), "--cards", "2"]) == 0
    assert "generated for this report: 100 posterior draws x 10,000 personas" in generated.read_text()
    assert main(["report", str(paths["fit"]), "--out", str(tmp_path / "x.html"), "--target", "nope"]) == 2
    other = tmp_path / "other.parquet"
    pd.DataFrame({"draw": [0, 1], "colour": ["red", "blue"]}).to_parquet(other)
    assert main(["report", str(paths["fit"]), "--personas", str(other), "--out", str(tmp_path / "x.html")]) == 2
    assert not (tmp_path / "x.html").exists()
