"""``populace.evaluation.sbc``: rank statistics, uniformity test, thinning, outputs, CLI.

A full SBC run fits the model hundreds of times (an hour, ``benchmarks/results/
sbc_production``); here the statistics are checked on a conjugate normal model whose
posterior is known exactly. The simulator, the quantities and a short production run
are in ``test_sbc_model.py``.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from populace.evaluation import sbc


def test_rank_statistic_extremes_and_middle() -> None:
    rng = np.random.default_rng(0)
    draws = np.arange(10.0)[:, None] * np.ones((1, 3))  # 0..9 in each of 3 columns
    ranks = sbc.rank_statistic(np.array([-1.0, 4.5, 99.0]), draws, rng)
    assert ranks.tolist() == [0, 5, 10]


def test_rank_statistic_breaks_ties_uniformly() -> None:
    rng = np.random.default_rng(1)
    draws = np.zeros((4, 1))
    ranks = np.array([sbc.rank_statistic(np.zeros(1), draws, rng)[0] for _ in range(5000)])
    counts = np.bincount(ranks, minlength=5)
    assert counts.size == 5 and (np.abs(counts / 5000 - 0.2) < 0.03).all()


def test_uniformity_exact_bins() -> None:
    # ranks 0..9 in 4 bins: values per bin 3, 2, 3, 2
    res = sbc.uniformity_test(np.arange(10), 9, bins=4)
    assert res.counts.tolist() == [3, 2, 3, 2]
    np.testing.assert_allclose(res.expected, [3, 2, 3, 2])
    assert res.chi2 == pytest.approx(0.0) and res.pvalue == pytest.approx(1.0) and res.dof == 3


def test_uniformity_accepts_uniform_and_rejects_skewed() -> None:
    rng = np.random.default_rng(2)
    uniform = rng.integers(0, 100, size=500)
    assert sbc.uniformity_test(uniform, 99).pvalue > 0.01
    skewed = np.minimum(rng.integers(0, 100, size=500), rng.integers(0, 100, size=500))
    assert sbc.uniformity_test(skewed, 99).pvalue < 1e-6
    with pytest.raises(ValueError):
        sbc.uniformity_test(np.array([0, 100]), 99)


def _conjugate_ranks(reps: int, L: int, sd_factor: float, seed: int) -> np.ndarray:
    """SBC of theta ~ N(0, 1), y ~ N(theta, 1): posterior N(y / 2, 1 / 2), its sd times sd_factor."""
    rng = np.random.default_rng(seed)
    theta = rng.normal(size=reps)
    y = theta + rng.normal(size=reps)
    out = []
    for t, yy in zip(theta, y, strict=True):
        post = rng.normal(yy / 2, sd_factor * np.sqrt(0.5), size=(L, 1))
        out.append(sbc.rank_statistic(np.array([t]), post, rng)[0])
    return np.array(out)


def test_sbc_of_a_known_posterior() -> None:
    calibrated = _conjugate_ranks(1000, 49, 1.0, seed=3)
    assert sbc.uniformity_test(calibrated, 49).pvalue > 0.01
    overconfident = _conjugate_ranks(1000, 49, 0.5, seed=4)  # U-shaped histogram
    res = sbc.uniformity_test(overconfident, 49)
    assert res.pvalue < 1e-6 and res.counts[0] > res.expected[0] and res.counts[-1] > res.expected[-1]


def test_default_bins() -> None:
    assert sbc.default_bins(20, 99) == 4
    assert sbc.default_bins(50, 99) == 10
    assert sbc.default_bins(1000, 99) == 20
    assert sbc.default_bins(5, 99) == 2
    assert sbc.default_bins(100, 3) == 4  # never more bins than rank values


def test_thin_index() -> None:
    # ESS 60 of 150 draws: step ceil(150 / 60) = 3, the last 49 draws at that spacing
    keep, step = sbc.thin_index(150, 49, 60.0)
    assert step == 3 and keep.tolist() == list(range(5, 150, 3))
    # ESS 40: step 4 would need 193 draws, so the 49 are spread over the chain (step 150 // 49)
    keep, step = sbc.thin_index(150, 49, 40.0)
    assert step == 3 and len(keep) == 49 and keep[0] == 0 and keep[-1] == 149
    with pytest.raises(ValueError, match="n_ranks"):
        sbc.thin_index(10, 11, 10.0)


def test_ess_counts_disagreeing_chains() -> None:
    """ESS is computed over the chains: two chains stuck in different places count as few
    draws even when each mixes well alone."""
    from populace.evaluation.sbc.run import _ess_bulk

    rng = np.random.default_rng(0)
    mixed = rng.normal(size=(2, 500, 1))
    stuck = mixed + np.array([0.0, 4.0])[:, None, None]
    ess_mixed, ess_stuck = _ess_bulk(mixed)[0], _ess_bulk(stuck)[0]
    assert ess_mixed > 600  # about 1,000 independent draws
    assert ess_stuck < 20


def _fake_ranks(reps: int = 30, L: int = 19) -> pd.DataFrame:
    rng = np.random.default_rng(5)
    rows = []
    for rep in range(reps):
        for q in ("gram[a,b]", "pi[a=a1|b=b1]"):
            rows.append({"rep": rep, "quantity": q, "rank": int(rng.integers(0, L + 1)), "n_ranks": L,
                         "true": 0.1, "post_mean": 0.1, "post_sd": 0.01, "ess_bulk": 50.0, "seconds": 2.0,
                         "divergences": 0.0, "ess_min": 15.0 if rep == 0 else 50.0, "thin": 2})
    df = pd.DataFrame(rows)
    df.attrs.update(failed=["rep 99: FitError: boom"], config="production", reps=reps + 1, method="nuts",
                    draws=40, tune=40, n_sample=300)
    return df


def test_summarize_and_write(tmp_path: Path) -> None:
    pytest.importorskip("arviz_plots")
    df = _fake_ranks()
    table = sbc.summarize(df)
    assert table["quantity"].tolist() == ["gram[a,b]", "pi[a=a1|b=b1]"]
    assert table["pvalue"].between(0, 1).all() and (table["reps"] == 30).all() and (table["bins"] == 6).all()
    paths = sbc.write_sbc(df, tmp_path, command="populace sbc --reps 31")
    assert paths["csv"].exists() and paths["md"].exists()
    plots = {k: p for k, p in paths.items() if k.startswith("plot:")}
    assert set(plots) == {"plot:rank_histograms", "plot:ecdf_diff", "plot:ecdf_coverage"}
    assert all(p.read_bytes()[:4] == b"\x89PNG" for p in plots.values())
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp files left
    md = paths["md"].read_text()
    assert md.splitlines()[0] == "Made by: `populace sbc --reps 31`"
    assert "| gram[a,b] | 30 | 6 |" in md and "| pi[a=a1\\|b=b1] | 30 |" in md  # "|" escaped in the table
    assert "1 failed" in md and "FitError: boom" in md and "ESS_min < L = 19: 1" in md
    assert "0.05/2 = 0.0250" in md
    back = pd.read_csv(paths["csv"])
    assert back["rank"].tolist() == df["rank"].tolist()


def test_pit_tree_is_uniform_for_uniform_ranks() -> None:
    pytest.importorskip("xarray")
    from scipy import stats

    from populace.evaluation.sbc.plots import pit_tree

    rng = np.random.default_rng(8)
    L = 9
    df = pd.DataFrame({"rep": np.arange(2000), "quantity": "q", "rank": rng.integers(0, L + 1, 2000), "n_ranks": L})
    pit = pit_tree(df)["prior_sbc"]["q"].values.ravel()
    # the jittered PIT of uniform discrete ranks is continuous uniform: KS at the 0.1 % level
    assert stats.kstest(pit, "uniform").pvalue > 1e-3
    assert np.array_equal(np.floor(pit * (L + 1)).astype(int), df["rank"].to_numpy())


def test_cli_sbc_wiring(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("arviz_plots")
    from populace.cli import main

    seen = {}

    def fake_run_sbc(**kwargs: object) -> pd.DataFrame:
        seen.update(kwargs)
        return _fake_ranks()

    monkeypatch.setattr(sbc, "run_sbc", fake_run_sbc)
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = main(["sbc", "--config", "small", "--reps", "3", "--n-sample", "50", "--draws", "40",
                     "--tune", "30", "--n-ranks", "19", "--method", "advi", "--seed", "7", "--out", str(tmp_path)])
    assert code == 0
    assert {k: seen[k] for k in ("reps", "n_sample", "draws", "tune", "method", "seed", "n_ranks")} == {
        "reps": 3, "n_sample": 50, "draws": 40, "tune": 30, "method": "advi", "seed": 7, "n_ranks": 19}
    assert seen["config"] is sbc.SMALL
    assert "p = " in out.getvalue()
    md = (tmp_path / "sbc.md").read_text()
    assert md.startswith("Made by: `") and "--config small" in md.splitlines()[0]
    # the production fit's method takes the sampler config's draws and tuning unless given
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assert main(["sbc", "--config", "areas", "--method", "nutpie", "--reps", "3", "--out", str(tmp_path)]) == 0
    assert (seen["method"], seen["draws"], seen["tune"], seen["config"]) == ("nutpie", 1000, 300, sbc.AREAS)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assert main(["sbc", "--draws", "10", "--n-ranks", "11", "--out", str(tmp_path)]) != 0
        assert main(["sbc", "--report-only", "--out", str(tmp_path / "nothing")]) != 0


def test_cli_report_only_rewrites_from_the_csv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("arviz_plots")
    from populace.cli import main

    df = _fake_ranks()
    df = df[df["rep"] != 3]  # a failed replication leaves no rows
    df.to_csv(tmp_path / "sbc_ranks.csv", index=False)
    notes = tmp_path / "notes.md"
    notes.write_text("## Findings\n\nnone\n")
    monkeypatch.setattr(sbc, "run_sbc", lambda **_: pytest.fail("--report-only must not run replications"))
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assert main(["sbc", "--report-only", "--reps", "31", "--out", str(tmp_path), "--notes", str(notes)]) == 0
    md = (tmp_path / "sbc.md").read_text()
    assert "## Findings\n\nnone" in md and "--notes" not in md.splitlines()[0]
    assert "29 replications done (1 failed) of 31" in md and "rep 3: no rows" in md
    assert (tmp_path / "ecdf_diff.png").exists()
