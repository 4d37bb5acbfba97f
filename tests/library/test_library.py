"""`populace library`: shards with text + a dataset card whose figures come from the fit."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from populace.cli import main
from populace.errors import FitError, TemplateError
from populace.inference import check_convergence, iter_personas, model_from_fit, write_personas
from populace.library.build import build_library
from populace.library.cards import write_cards
from populace.library.templates import load_template

pytestmark = pytest.mark.slow

N, DRAWS, SEED = 3000, 4, 3


@pytest.fixture(scope="module")
def library(simulated_fit, tmp_path_factory):
    out = tmp_path_factory.mktemp("lib") / "personas"
    info = build_library(simulated_fit, out, N, draws=DRAWS, seed=SEED)
    return out, info


def _card(out: Path) -> tuple[dict, str]:
    text = (out / "README.md").read_text(encoding="utf-8")
    _, head, body = text.split("---\n", 2)
    return yaml.safe_load(head), body


def test_loads_with_datasets_and_pandas(library, simulated) -> None:
    import datasets

    out, info = library
    study, _ = simulated
    ds = datasets.load_dataset("parquet", data_dir=str(out), split="train")
    columns = ["draw", *study.names, "persona_id", "text"]
    assert ds.column_names == columns and ds.num_rows == N * DRAWS == info.rows
    frame = pd.read_parquet(out / "data")
    assert list(frame.columns) == columns and len(frame) == N * DRAWS
    got = ds.to_pandas().sort_values("persona_id", ignore_index=True)
    want = frame.astype({a: str for a in study.names}).sort_values("persona_id", ignore_index=True)
    pd.testing.assert_frame_equal(got, want, check_dtype=False)
    assert sorted(p.name for p in (out / "data").iterdir()) == [f"draw-{d:05d}" for d in range(DRAWS)]
    # The hub-style load (configs in the card's front matter) reads the same rows.
    assert datasets.load_dataset(str(out), split="train").num_rows == N * DRAWS


def test_personas_are_the_generators_and_text_is_the_template(library, simulated_fit, simulated) -> None:
    out, _ = library
    study, _ = simulated
    frame = pd.read_parquet(out / "data").sort_values("persona_id", ignore_index=True)
    assert np.array_equal(frame["persona_id"].to_numpy(), np.arange(N * DRAWS))
    for chunk in iter_personas(simulated_fit, N, draws=DRAWS, seed=SEED):
        rows = frame.iloc[chunk.draw * N : (chunk.draw + 1) * N]
        assert (rows["draw"] == chunk.draw).all()
        for a in study.attributes:
            assert np.array_equal(rows[a.name].astype(str).to_numpy(), np.asarray(a.levels)[chunk.codes[a.name]])
    tpl = load_template(None, study)
    for i in (0, 1234, N * DRAWS - 1):
        row = frame.iloc[i]
        assert row["text"] == tpl.render({a: row[a] for a in study.names})


def test_card_figures_are_the_fits(library, simulated_fit, simulated) -> None:
    out, _ = library
    study, _ = simulated
    head, body = _card(out)
    num = head["populace"]
    diag = check_convergence(simulated_fit, warn=False)
    assert num["convergence"]["max_rhat"] == pytest.approx(diag.max_rhat, rel=1e-12)
    assert num["convergence"]["min_ess_bulk"] == pytest.approx(diag.min_ess_bulk, rel=1e-12)
    assert num["convergence"]["min_ess_tail"] == pytest.approx(diag.min_ess_tail, rel=1e-12)
    assert num["convergence"]["divergences"] == int(simulated_fit["sample_stats"]["diverging"].sum())
    assert num["convergence"]["posterior_samples"] == simulated_fit["posterior"].sizes["chain"] * simulated_fit["posterior"].sizes["draw"]
    w = study.microdata.weights
    assert num["sample"]["rows"] == study.microdata.n_rows
    assert num["sample"]["effective_n"] == pytest.approx(w.sum() ** 2 / (w**2).sum(), rel=1e-12)  # Kish
    assert num["sample"]["weight_sum"] == pytest.approx(w.sum())
    assert num["model"]["model_config"] == json.loads(simulated_fit.attrs["populace_model_config"])
    assert num["model"]["sampler_config"] == json.loads(simulated_fit.attrs["populace_sampler_config"])
    assert [t["attributes"] for t in num["census_tables"]] == [list(m.attributes) for m in study.marginals]
    assert [t["total"] for t in num["census_tables"]] == pytest.approx([m.total for m in study.marginals])
    assert [a["levels"] for a in num["attributes"]] == [list(a.levels) for a in study.attributes]
    assert [f["name"] for f in head["dataset_info"]["features"]] == ["draw", *study.names, "persona_id", "text"]
    assert head["license"] is None and "License: FILL IN" in body
    # The text shows the same figures.
    assert f"R-hat max {diag.max_rhat:.4g}" in body and f"divergences {diag.divergences} of" in body
    assert f"Kish effective n = {num['sample']['effective_n']:.1f}" in body
    assert "Not a benchmark study" in body and "groupby(\"draw\")" in body


def test_card_census_fit_is_recomputed_from_the_shards(library, simulated) -> None:
    out, _ = library
    study, _ = simulated
    num = _card(out)[0]["populace"]
    frame = pd.read_parquet(out / "data")
    for m, row in zip(study.marginals, num["census_fit"], strict=True):
        p = (m.counts / m.counts.sum()).reshape(-1)
        shape = m.counts.shape
        def shares(f: pd.DataFrame) -> np.ndarray:
            idx = tuple(f[a].cat.codes.to_numpy() for a in m.attributes)
            return np.bincount(np.ravel_multi_index(idx, shape), minlength=p.size) / len(f)
        pooled = np.abs(shares(frame) - p).max()
        worst = max(np.abs(shares(g) - p).max() for _, g in frame.groupby("draw"))
        assert row["max_abs_dev_pooled"] == pytest.approx(pooled, abs=1e-12)
        assert row["max_abs_dev_worst_draw"] == pytest.approx(worst, abs=1e-12)
        # Raking pins each draw's population to the census, so what is left is multinomial
        # noise of drawing N * DRAWS personas: sd sqrt(p (1 - p) / (N D)) per cell. 4.5 sd
        # bounds each cell (two-sided 7e-6) over the ~20 cells of the study's tables.
        sd = np.sqrt(p * (1 - p) / (N * DRAWS))
        assert np.all(np.abs(shares(frame) - p) <= 4.5 * sd + 1e-9), m.attributes


def test_generate_then_cards_needs_no_fit(simulated_fit, simulated, tmp_path: Path) -> None:
    study, _ = simulated
    path, _ = write_personas(simulated_fit, tmp_path / "P.parquet", 500, draws=2, seed=1)
    out, rows = write_cards(path, tmp_path / "cards.jsonl")
    cards = [json.loads(line) for line in out.read_text().splitlines()]
    assert rows == len(cards) == 1000
    assert {c["provenance"]["party"]["kind"] for c in cards} == {"census-margin"}
    assert cards[0]["provenance"]["age"] == {"kind": "census-pinned", "tables": ["census age", "census age x sex"]}
    frame = pd.read_parquet(path)
    assert [c["attributes"]["church"] for c in cards] == frame["church"].astype(str).tolist()


def test_bad_input_fails_before_sampling(simulated_fit, tmp_path: Path, capsys) -> None:
    full = tmp_path / "full"
    full.mkdir()
    (full / "x").write_text("")
    with pytest.raises(FitError, match="not an empty folder"):
        build_library(simulated_fit, full, 10, draws=1)
    evil = tmp_path / "evil.j2"
    evil.write_text("{{ ''.__class__.__mro__ }}")
    with pytest.raises(TemplateError, match="Python internal"):
        build_library(simulated_fit, tmp_path / "lib", 10, draws=1, template=evil)
    assert not (tmp_path / "lib").exists()
    with pytest.raises(Exception, match="not a benchmark sample"):
        build_library(simulated_fit, tmp_path / "lib", 10, draws=1, benchmark=tmp_path)


def test_cli_library(simulated_fit, tmp_path: Path, capsys) -> None:
    from populace.inference import save_fit

    fit_path = save_fit(simulated_fit, tmp_path / "fit.nc")
    assert main(["library", str(fit_path), "--n", "200", "--draws", "2", "--out", str(tmp_path / "lib")]) == 0
    assert "wrote a persona library of 400 personas (2 shards, README.md)" in capsys.readouterr().out
    assert model_from_fit(simulated_fit).study.name in (tmp_path / "lib" / "README.md").read_text()


def test_card_sample_figures_follow_unequal_weights(simulated_fit, simulated, tmp_path: Path) -> None:
    """With unequal weights the Kish effective n is below n, and the card must say so."""
    from populace.library.info import LibraryInfo
    from populace.library.datacard import card_numbers
    from populace.study.serialize import study_from_dict, study_to_dict
    from populace.study.spec import Microdata, Study

    study, _ = simulated
    w = np.random.default_rng(0).gamma(2.0, 100.0, study.microdata.n_rows)
    md = Microdata(study.microdata.codes, w, source="s.csv", weight_column="wt")
    weighted = Study(study.attributes, study.marginals, md, name="weighted")
    fit = simulated_fit.copy()
    fit.attrs = dict(simulated_fit.attrs) | {"populace_study": json.dumps(study_to_dict(weighted))}
    assert study_from_dict(json.loads(fit.attrs["populace_study"])).name == "weighted"
    num = card_numbers(fit, LibraryInfo(tmp_path, 1, 1, 0, 1, 1, [], "<default template>"))
    kish = w.sum() ** 2 / (w**2).sum()
    assert kish < 0.8 * len(w)  # gamma(2) weights: Kish n / n = 2 / 3 in expectation
    assert num["sample"]["effective_n"] == pytest.approx(kish, rel=1e-12)
    assert num["sample"]["weight_column"] == "wt"
    assert (num["sample"]["weight_min"], num["sample"]["weight_max"]) == (pytest.approx(w.min()), pytest.approx(w.max()))
