"""``populace.evaluation.sbc``: rank statistics and the uniformity test on synthetic ranks.

A full SBC run fits the model many times (minutes); here the statistics are checked on
a conjugate normal model whose posterior is known exactly, and the simulator on one
fixed parameter draw.
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


def _fake_ranks(reps: int = 30, L: int = 19) -> pd.DataFrame:
    rng = np.random.default_rng(5)
    rows = []
    for rep in range(reps):
        for q in ("gram[a,b]", "cell[a1,b1,c1,d1]"):
            rows.append({"rep": rep, "quantity": q, "rank": int(rng.integers(0, L + 1)), "n_ranks": L,
                         "true": 0.1, "post_mean": 0.1, "post_sd": 0.01, "seconds": 2.0,
                         "divergences": 0.0, "ess_min": 50.0})
    df = pd.DataFrame(rows)
    df.attrs.update(failed=["rep 99: FitError: boom"], reps=reps + 1, method="nuts", draws=40, tune=40,
                    n_sample=300, n_pop=1_000_000)
    return df


def test_summarize_and_write(tmp_path: Path) -> None:
    df = _fake_ranks()
    table = sbc.summarize(df)
    assert table["quantity"].tolist() == ["gram[a,b]", "cell[a1,b1,c1,d1]"]
    assert table["pvalue"].between(0, 1).all() and (table["reps"] == 30).all() and (table["bins"] == 6).all()
    paths = sbc.write_sbc(df, tmp_path, command="populace sbc --reps 31")
    assert paths["csv"].exists() and paths["md"].exists()
    hists = [p for k, p in paths.items() if k.startswith("hist:")]
    assert len(hists) == 2 and all(p.read_bytes()[:4] == b"\x89PNG" for p in hists)
    md = paths["md"].read_text()
    assert md.splitlines()[0] == "Made by: `populace sbc --reps 31`"
    assert "| gram[a,b] | 30 | 6 |" in md and "1 failed" in md and "FitError: boom" in md


def test_cli_sbc_wiring(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from populace.cli import main

    seen = {}

    def fake_run_sbc(**kwargs: object) -> pd.DataFrame:
        seen.update(kwargs)
        return _fake_ranks()

    monkeypatch.setattr(sbc, "run_sbc", fake_run_sbc)
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = main(["sbc", "--reps", "3", "--n-sample", "50", "--draws", "40", "--tune", "30",
                     "--method", "advi", "--seed", "7", "--out", str(tmp_path)])
    assert code == 0
    assert {k: seen[k] for k in ("reps", "n_sample", "draws", "tune", "method", "seed")} == {
        "reps": 3, "n_sample": 50, "draws": 40, "tune": 30, "method": "advi", "seed": 7}
    assert "p = " in out.getvalue()
    assert (tmp_path / "sbc.md").read_text().startswith("Made by: `")


# ----------------------------------------------------- the simulator (imports PyMC)


def test_simulated_study_and_quantities() -> None:
    pytest.importorskip("pymc")
    from populace.models.copula import CopulaModel

    params = {
        "loadings_a": np.array([0.8]),
        "loadings_b": np.array([-0.3]),
        "loadings_c": np.array([[0.5], [-1.0]]),
        "loadings_d": np.array([0.6]),
    }
    study = sbc.simulate_study(params, np.random.default_rng(0), n_sample=200, n_pop=100_000)
    assert study.microdata.codes.shape == (200, 4)
    assert all(m.total == 100_000 for m in study.marginals)
    for j, a in enumerate(sbc.ATTRIBUTES):
        assert study.microdata.codes[:, j].max() < a.n_levels
    model = CopulaModel(study, model_config=sbc.SBC_MODEL_CONFIG)
    q = sbc.quantities(model, params)
    lam_a, lam_b = 0.8 / np.sqrt(1.64), -0.3 / np.sqrt(1.09)
    assert q["gram[a,b]"] == pytest.approx(lam_a * lam_b)
    assert q["gram[c=c2,c=c3]"] == pytest.approx(-0.5)  # softmax rows enter unscaled
    assert len([k for k in q if k.startswith("gram[")]) == 15  # 5 loading rows, upper triangle
    cells = [v for k, v in q.items() if k.startswith("cell[")]
    assert len(cells) == len(sbc.CELLS) and all(0 < v < 1 for v in cells)
    # K = 1 quantities do not change when the factor's sign flips
    flipped = {k: -v for k, v in params.items()}
    assert sbc.quantities(model, flipped) == pytest.approx(q)


def test_run_sbc_refuses_the_dirichlet_layer() -> None:
    pytest.importorskip("pymc")
    with pytest.raises(ValueError, match="dirichlet=False"):
        sbc.run_sbc(reps=1, model_config={"dirichlet": True})


def _prior_like(rng: np.random.Generator, size: tuple[int, ...] = ()) -> dict[str, np.ndarray]:
    """Loadings with the shapes and prior sds of the SBC model (K = 1)."""
    return {
        "loadings_a": rng.normal(0, 0.5, size + (1,)),
        "loadings_b": rng.normal(0, 0.5, size + (1,)),
        "loadings_c": rng.normal(0, 0.75, size + (2, 1)),
        "loadings_d": rng.normal(0, 0.5, size + (1,)),
    }


def test_run_sbc_wiring_resume_and_checkpoints(monkeypatch: pytest.MonkeyPatch) -> None:
    """run_sbc end to end with the sampler replaced by prior draws (no data: calibrated)."""
    pytest.importorskip("pymc")
    import sys

    import xarray as xr

    import populace.inference  # noqa: F401 - loads the module below
    fit_module = sys.modules["populace.inference.fit"]  # the package's `fit` shadows its module

    def fake_prior(reps: int, *, seed: int, model_config: object = None) -> list[dict[str, np.ndarray]]:
        rng = np.random.default_rng(seed)
        return [_prior_like(rng) for _ in range(reps)]

    calls: list[int] = []

    def fake_fit(study: object, *, draws: int, seed: int, **_: object) -> xr.DataTree:
        calls.append(seed)
        post = _prior_like(np.random.default_rng(seed), (1, draws))
        dims = {k: ("chain", "draw", "factor") for k in post}
        dims["loadings_c"] = ("chain", "draw", "c_contrast", "factor")
        ds = xr.Dataset({k: (dims[k], v) for k, v in post.items()})
        return xr.DataTree.from_dict({"posterior": ds})

    monkeypatch.setattr(sbc, "prior_draws", fake_prior)
    monkeypatch.setattr(fit_module, "fit", fake_fit)
    seen: list[int] = []
    df = sbc.run_sbc(reps=3, n_sample=50, n_pop=10_000, draws=20, on_rep=lambda part: seen.append(len(part)))
    per_rep = 15 + len(sbc.CELLS)
    assert len(df) == 3 * per_rep and seen == [per_rep, 2 * per_rep, 3 * per_rep]
    assert df["n_ranks"].eq(10).all() and df["rank"].between(0, 10).all()
    assert df.attrs["failed"] == [] and df.attrs["reps"] == 3
    # resuming from the first two replications runs only the third, with the same ranks
    calls.clear()
    again = sbc.run_sbc(reps=3, n_sample=50, n_pop=10_000, draws=20, previous=df[df["rep"] < 2])
    assert len(calls) == 1
    same = again.drop(columns="seconds").reset_index(drop=True)
    pd.testing.assert_frame_equal(same, df.drop(columns="seconds").reset_index(drop=True))
    with pytest.raises(ValueError, match="n_ranks"):
        sbc.run_sbc(reps=3, n_sample=50, n_pop=10_000, draws=40, previous=df)
