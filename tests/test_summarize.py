"""``populace.summarize`` and ``populace summarize``: shares by group over the persona draws."""

from __future__ import annotations

import contextlib
import io
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from populace.errors import PopulaceError
from populace.summarize import DrawsWarning, summarize, summarize_parquet

STATES = ["KS", "OH", "CA"]
PARTIES = ["Dem", "Ind", "Rep"]


def _personas(draws: int = 100, n: int = 600, seed: int = 0) -> pd.DataFrame:
    """Draws whose party shares move from draw to draw (a posterior's spread)."""
    rng = np.random.default_rng(seed)
    frames = []
    for d in range(draws):
        state = rng.choice(STATES, size=n, p=[0.2, 0.3, 0.5])
        dem = np.where(state == "KS", 0.3, 0.5) + rng.normal(0, 0.03)
        u = rng.random(n)
        party = np.where(u < dem, "Dem", np.where(u < dem + 0.1, "Ind", "Rep"))
        frames.append(pd.DataFrame({
            "draw": d,
            "state": pd.Categorical(state, categories=STATES),
            "party": pd.Categorical(party, categories=PARTIES),
        }))
    return pd.concat(frames, ignore_index=True)


def _by_hand(df: pd.DataFrame, state: str, levels: list[str], ci: float = 0.9) -> tuple[float, float, float, int]:
    part = df[df.state == state]
    share = part.groupby("draw").party.apply(lambda s: s.isin(levels).mean()).to_numpy()
    lo, hi = np.quantile(share, [(1 - ci) / 2, (1 + ci) / 2])
    return share.mean(), lo, hi, len(share)


def test_shares_per_group_and_level_are_the_draws_quantiles() -> None:
    df = _personas()
    out = summarize(df, by="state", target="party")
    assert list(out.columns) == ["state", "level", "mean", "lo", "hi", "mcse_mean", "mcse_lo", "mcse_hi", "draws", "personas"]
    assert len(out) == len(STATES) * len(PARTIES) and out.attrs["ci_prob"] == 0.9
    for state in STATES:
        for level in PARTIES:
            row = out[(out.state == state) & (out.level == level)].iloc[0]
            mean, lo, hi, d = _by_hand(df, state, [level])
            assert (row["mean"], row["lo"], row["hi"], row["draws"]) == pytest.approx((mean, lo, hi, d), abs=1e-12)
    # several levels are added per draw, not averaged after
    two = summarize(df, by="state", target="party", level=["Dem", "Ind"], ci_prob=0.8)
    row = two[two.state == "KS"].iloc[0]
    assert row["level"] == "Dem+Ind"
    assert (row["mean"], row["lo"], row["hi"]) == pytest.approx(_by_hand(df, "KS", ["Dem", "Ind"], 0.8)[:3], abs=1e-12)
    # no groups: the whole population
    whole = summarize(df, target="party", level="Rep")
    assert len(whole) == 1 and whole.iloc[0]["personas"] == 600
    assert whole.iloc[0]["mean"] == pytest.approx((df.party == "Rep").groupby(df.draw).mean().mean(), abs=1e-12)


def test_monte_carlo_error_of_the_mean_follows_the_draws_spread() -> None:
    # independent draws: MCSE of the mean = sd / sqrt(D); the sd from 400 draws has a relative
    # standard error of about 1 / sqrt(2 * 400) = 3.5 %, so 15 % is more than 4 of them
    df = _personas(draws=400, n=300, seed=1)
    row = summarize(df, by="state", target="party", level="Dem").set_index("state").loc["CA"]
    share = df[df.state == "CA"].groupby("draw").party.apply(lambda s: (s == "Dem").mean())
    assert row["mcse_mean"] == pytest.approx(share.std(ddof=1) / np.sqrt(400), rel=0.15)
    # the interval's ends are less precise than the mean
    assert row["mcse_lo"] > row["mcse_mean"] and row["mcse_hi"] > row["mcse_mean"]


def test_a_dataset_gives_the_same_table_as_its_frame() -> None:
    from populace.personas import persona_dataset, to_frame
    from populace.study.spec import Attribute, Marginal, Microdata, Study

    attrs = (Attribute("state", "nominal", tuple(STATES), role="geography"), Attribute("party", "nominal", tuple(PARTIES)))
    study = Study(attrs, (Marginal(("state",), np.array([20.0, 30.0, 50.0])),), Microdata(np.zeros((1, 2), np.int64), np.ones(1)))
    rng = np.random.default_rng(3)
    ds = persona_dataset({"state": rng.integers(0, 3, (100, 50)), "party": rng.integers(0, 3, (100, 50))}, study)
    pd.testing.assert_frame_equal(summarize(ds, by="state", target="party"), summarize(to_frame(ds), by="state", target="party"))


def test_parquet_is_read_in_batches_to_the_same_table(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.dataset as pads
    import pyarrow.parquet as pq

    df = _personas(draws=100, n=200)
    expect = summarize(df, by="state", target="party")
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), tmp_path / "p.parquet")
    got = summarize_parquet(tmp_path / "p.parquet", by="state", target="party", batch_rows=777)
    pd.testing.assert_frame_equal(got, expect)
    # a folder partitioned by draw and state (as `populace generate --partition-by` writes)
    pads.write_dataset(pa.Table.from_pandas(df, preserve_index=False), tmp_path / "parts", format="parquet",
                       partitioning=["draw", "state"], partitioning_flavor="hive")
    parts = summarize_parquet(tmp_path / "parts", by="state", target="party")  # folder names: sorted groups

    def ordered(t: pd.DataFrame) -> pd.DataFrame:
        return t.assign(state=t.state.astype(str)).sort_values(["level", "state"]).reset_index(drop=True)

    pd.testing.assert_frame_equal(ordered(parts), ordered(expect), check_dtype=False)


def test_too_few_draws_warn_with_the_draws_needed() -> None:
    df = _personas(draws=20)
    with pytest.warns(DrawsWarning, match="20 draws: a 90% interval .* covers about 0.81 .* at least 89 draws"):
        summarize(df, by="state", target="party")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        summarize(_personas(draws=89), target="party")  # (89 - 1) / (89 + 1) * 0.9 = 0.88: enough


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"by": "county", "target": "party"}, "no attribute 'county'; it has state, party"),
        ({"target": "vote"}, "no attribute 'vote'"),
        ({"by": "party", "target": "party"}, "also a group column"),
        ({"target": "party", "level": "Green"}, "no level 'Green' in the personas; it has Dem, Ind, Rep"),
        ({"target": "party", "ci_prob": 1.5}, "between 0 and 1"),
    ],
)
def test_bad_requests_name_the_fix(kwargs: dict, message: str) -> None:
    with pytest.raises(PopulaceError, match=message):
        summarize(_personas(draws=100, n=50), **kwargs)
    with pytest.raises(PopulaceError, match="no 'draw' column"):
        summarize(_personas(draws=100, n=50).drop(columns="draw"), target="party")


def test_cli_writes_the_python_table_and_refuses_bad_input(tmp_path: Path) -> None:
    from populace.cli import main

    df = _personas(draws=100, n=100)
    df.to_parquet(tmp_path / "p.parquet", index=False)
    out = tmp_path / "table.csv"
    with contextlib.redirect_stdout(io.StringIO()):
        code = main(["summarize", str(tmp_path / "p.parquet"), "--by", "state", "--target", "party",
                     "--level", "Dem", "--level", "Ind", "--out", str(out)])
    assert code == 0
    expect = summarize(df, by="state", target="party", level=["Dem", "Ind"])
    got = pd.read_csv(out)
    assert got["state"].tolist() == expect["state"].astype(str).tolist()
    np.testing.assert_allclose(got[["mean", "lo", "hi"]].to_numpy(), expect[["mean", "lo", "hi"]].to_numpy(), rtol=1e-5)
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        assert main(["summarize", str(tmp_path / "missing.parquet"), "--target", "party", "--out", str(tmp_path / "x.csv")]) == 2
        assert main(["summarize", str(tmp_path / "p.parquet"), "--target", "vote", "--out", str(tmp_path / "y.csv")]) == 2
        assert main(["summarize", str(tmp_path / "p.parquet"), "--target", "party", "--ci", "1.5"]) != 0
    assert "no such file" in err.getvalue() and "no attribute 'vote'" in err.getvalue()
    assert not (tmp_path / "x.csv").exists() and not (tmp_path / "y.csv").exists()
