"""populace.plot on small synthetic inputs: no NUTS fit, Agg backend."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import xarray as xr

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from populace import plot  # noqa: E402
from populace.summarize import DrawsWarning  # noqa: E402
from populace.summarize import summarize as populace_summarize  # noqa: E402
from populace.personas import persona_dataset, to_frame  # noqa: E402
from populace.study import Attribute, make_study  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def study():
    attributes = [
        Attribute("age", "ordinal", ("young", "old")),
        Attribute("race", "nominal", ("A", "B", "C")),
        Attribute("vote", "nominal", ("No", "Yes")),
    ]
    marginals = [
        pd.DataFrame({"age": ["young", "old"], "count": [60, 40]}),
        pd.DataFrame({"age": ["young"] * 3 + ["old"] * 3, "race": ["A", "B", "C"] * 2, "count": [30, 20, 10, 20, 15, 5]}),
    ]
    rng = np.random.default_rng(0)
    micro = pd.DataFrame(
        {
            "age": rng.choice(["young", "old"], 30),
            "race": rng.choice(["A", "B", "C"], 30),
            "vote": rng.choice(["No", "Yes"], 30),
            "weight": 100 / 30,
        }
    )
    micro.loc[0, "vote"] = None  # one missing answer
    return make_study(attributes, marginals, micro, weight="weight")


def _personas(study, draws=40, n=500, seed=0):
    """Personas whose age/race margins scatter around the census and vote depends on age."""
    rng = np.random.default_rng(seed)
    age = (rng.random((draws, n)) < 0.4 + rng.normal(0, 0.02, (draws, 1))).astype(int)
    race = np.where(rng.random((draws, n)) < 0.5, 0, np.where(rng.random((draws, n)) < 0.7, 1, 2))
    vote = (rng.random((draws, n)) < np.where(age == 1, 0.7, 0.3)).astype(int)
    return persona_dataset({"age": age, "race": race, "vote": vote}, study)


@pytest.fixture(scope="module")
def personas(study):
    return _personas(study)


def _gram_posterior(chains=2, draws=30, seed=0):
    """A fake posterior: loadings of 3 threshold rows and one 2-contrast softmax attribute."""
    rng = np.random.default_rng(seed)
    rows = ["age", "race=B", "race=C", "vote"]
    b = rng.normal(0, 0.1, (chains, draws, 3, 2)) + np.array([[1.0, 0.0], [0.5, 0.5], [-0.8, 0.2]])
    lam_t = b / np.sqrt(1 + (b**2).sum(-1, keepdims=True))  # threshold rows (age, vote, + one spare)
    soft = rng.normal(0, 0.1, (chains, draws, 2, 2)) + np.array([[0.3, -0.2], [0.0, 0.4]])
    lam = np.concatenate([lam_t[..., :1, :], soft, lam_t[..., 1:2, :]], axis=-2)
    gram = lam @ np.swapaxes(lam, -1, -2)
    post = xr.Dataset(
        {
            "loading_gram": (("chain", "draw", "loading_row", "loading_row_bis"), gram),
            "log_concentration": (("chain", "draw"), rng.normal(5, 0.3, (chains, draws))),
        },
        coords={"chain": np.arange(chains), "draw": np.arange(draws), "loading_row": rows, "loading_row_bis": rows},
    )
    return xr.DataTree.from_dict({"posterior": post}), lam


# ----------------------------------------------------------------------------- numbers


def test_crosstab_intervals_row_shares(personas):
    tab = plot.crosstab_intervals(personas, "age", "vote")
    assert list(tab.columns[:2]) == ["age", "vote"]
    assert len(tab) == 4
    # shares of vote within each age sum to one (in the mean, exactly: each draw sums to one)
    sums = tab.groupby("age", observed=True)["mean"].sum().to_numpy()
    np.testing.assert_allclose(sums, 1.0)
    assert (tab["lo"] <= tab["mean"]).all() and (tab["mean"] <= tab["hi"]).all()
    yes_old = tab[(tab.age == "old") & (tab.vote == "Yes")].iloc[0]
    assert 0.6 < yes_old["mean"] < 0.8
    assert yes_old["hi"] - yes_old["lo"] > 0


def test_crosstab_intervals_match_pandas(personas):
    """The interval is the quantile over draws of the per-draw share, computed by hand."""
    df = to_frame(personas)
    per_draw = df[df.age == "young"].groupby("draw").vote.apply(lambda s: (s == "Yes").mean())
    tab = plot.crosstab_intervals(df, "age", outcome="vote=Yes", ci_prob=0.8)
    row = tab[tab.age == "young"].iloc[0]
    assert row["mean"] == pytest.approx(per_draw.mean())
    assert row["lo"] == pytest.approx(per_draw.quantile(0.1))
    assert row["hi"] == pytest.approx(per_draw.quantile(0.9))
    assert row["draws"] == personas.sizes["draw"]


def test_crosstab_outcome_with_reference_and_normalize(personas, study):
    pop = to_frame(personas.isel(draw=[0])).drop(columns="draw")
    tab = plot.crosstab_intervals(personas, "age", "race", outcome=("vote", "Yes"), reference=pop)
    assert {"reference", "covered"} <= set(tab.columns)
    assert tab["covered"].mean() > 0.5
    joint = plot.crosstab_intervals(personas, "age", "race", normalize="all")
    assert joint["mean"].sum() == pytest.approx(1.0)
    col = plot.crosstab_intervals(personas, "age", "race", normalize="col")
    np.testing.assert_allclose(col.groupby("race", observed=True)["mean"].sum(), 1.0)
    with pytest.raises(ValueError, match="normalize"):
        plot.crosstab_intervals(personas, "age", "race", normalize="bogus")
    with pytest.raises(ValueError, match="not a level"):
        plot.crosstab_intervals(personas, "age", outcome="vote=Maybe")


def test_crosstab_census_reference(personas):
    census = pd.DataFrame({"age": ["young", "young", "young", "old", "old", "old"],
                           "race": ["A", "B", "C"] * 2, "count": [30, 20, 10, 20, 15, 5]})
    tab = plot.crosstab_intervals(personas, "age", "race", normalize="all", reference=census)
    assert tab["reference"].sum() == pytest.approx(1.0)
    assert tab.loc[0, "reference"] == pytest.approx(0.3)


def test_empty_group_is_nan_not_error(study):
    ds = _personas(study, draws=5, n=50)
    ds["age"][:] = 0  # nobody old
    tab = plot.crosstab_intervals(ds, "age", outcome="vote=Yes")
    old = tab[tab.age == "old"].iloc[0]
    assert math.isnan(old["mean"]) and old["draws"] == 0


def test_margin_intervals(personas, study):
    tab = plot.margin_intervals(personas, study)
    assert set(tab.attribute) == {"age", "race", "vote"}
    age = tab[tab.attribute == "age"]
    np.testing.assert_allclose(age["census"], [0.6, 0.4])
    race = tab[tab.attribute == "race"]  # from the age x race cross-tab, summed over age
    np.testing.assert_allclose(race["census"], [0.5, 0.35, 0.15])
    assert (race["source"] == "census").all()
    vote = tab[tab.attribute == "vote"]  # no census table: weighted sample share
    assert (vote["source"] == "sample").all()
    assert vote["census"].sum() == pytest.approx(1.0)
    assert tab.loc[tab.attribute == "age", "covered"].all()


def test_latent_correlation_threshold_rows_are_gram(study):
    fit, lam = _gram_posterior()
    corr = plot.latent_correlation(fit)
    assert corr.dims == ("chain", "draw", "loading_row", "loading_row_bis")
    gram = fit["posterior"]["loading_gram"]
    # threshold pair (age, vote): the latent correlation is the gram entry itself
    np.testing.assert_allclose(corr.sel(loading_row="age", loading_row_bis="vote"),
                               gram.sel(loading_row="age", loading_row_bis="vote"))
    np.testing.assert_allclose(np.einsum("...ii->...i", corr.values), 1.0)
    np.testing.assert_allclose(corr.values, np.swapaxes(corr.values, -1, -2))
    assert (np.abs(corr.values) <= 1 + 1e-12).all()
    # softmax contrasts of one attribute share the reference level's noise: positive correlation
    assert float(corr.sel(loading_row="race=B", loading_row_bis="race=C").mean()) > 0.3


def test_invariant_posterior_pairs():
    fit, _ = _gram_posterior()
    dt = plot.invariant_posterior(fit, pairs=2)
    post = dt["posterior"].to_dataset()
    assert set(post.data_vars) == {"log_concentration", "latent_correlation"}
    assert post.sizes["pair"] == 2
    assert "age ~ vote" in list(post["pair"].values)  # the strongest pair
    chosen = plot.invariant_posterior(fit, pairs=["age ~ race=B"])
    assert list(chosen["posterior"]["pair"].values) == ["age ~ race=B"]
    assert plot.invariant_posterior(fit, pairs=None)["posterior"].sizes["pair"] == 6
    with pytest.raises(KeyError, match="unknown pairs"):
        plot.invariant_posterior(fit, pairs=["nope"])


def test_coverage_table(personas, study):
    pop = to_frame(personas.isel(draw=[3])).drop(columns="draw")
    tab = plot.coverage_table(personas, pop, study, probs=(0.5, 0.9))
    assert list(tab.columns) == ["nominal", "empirical", "width", "cells"]
    assert tab["cells"].iloc[0] == 4 + 6 + 6  # age x race, age x vote, race x vote: 16 cells
    assert (tab["width"].diff().dropna() > 0).all()  # wider at higher nominal probability
    assert tab["empirical"].iloc[1] >= tab["empirical"].iloc[0]
    one = plot.coverage_table(personas, pop, study, probs=(0.9,), order=1)
    assert one["cells"].iloc[0] == 2 + 3 + 2


# ------------------------------------------------------------------------------- plots


def test_plot_margins(personas, study):
    fig = plot.plot_margins(personas, study)
    assert isinstance(fig, Figure)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == 3
    assert [t.get_text() for t in visible[0].get_xticklabels()] == ["young", "old"]
    fig.canvas.draw()


def test_plot_crosstab(personas):
    ax = plot.plot_crosstab(personas, "age", "race")
    assert isinstance(ax, Axes)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["A", "B", "C"]
    assert len(ax.get_legend().get_texts()) == 2
    fig, ax2 = plt.subplots()
    out = plot.plot_crosstab(to_frame(personas), "age", outcome="vote=Yes", ax=ax2,
                             reference=to_frame(personas.isel(draw=[0])))
    assert out is ax2
    assert "vote=Yes" in ax2.get_ylabel()
    fig.canvas.draw()


def test_plot_dependence():
    fit, _ = _gram_posterior()
    ax = plot.plot_dependence(fit)
    assert isinstance(ax, Axes)
    texts = [t.get_text() for t in ax.texts]
    assert len(texts) == 4 * 3  # off-diagonal cells
    assert all("±" in t for t in texts)
    ax.figure.canvas.draw()


@pytest.mark.parametrize("kind", ["rank", "trace"])
def test_plot_trace(kind):
    pytest.importorskip("arviz")
    fit, _ = _gram_posterior()
    fig = plot.plot_trace(fit, pairs=3, kind=kind)
    assert isinstance(fig, Figure)
    assert len(fig.axes) >= 4  # log_concentration + 3 pairs, each with two panels
    with pytest.raises(ValueError, match="kind"):
        plot.plot_trace(fit, kind="spaghetti")


def test_plot_trace_one_chain_falls_back_to_trace():
    pytest.importorskip("arviz")
    fit, _ = _gram_posterior(chains=1)
    fig = plot.plot_trace(fit, pairs=2)
    assert isinstance(fig, Figure)
    assert len(fig.axes) >= 3  # log_concentration + 2 pairs


def test_plot_calibration(personas, study):
    pop = to_frame(personas.isel(draw=[0])).drop(columns="draw")
    tab = plot.coverage_table(personas, pop, study)
    ax = plot.plot_calibration(tab)
    assert isinstance(ax, Axes)
    both = plot.plot_calibration({"copula": tab, "raking": tab.assign(empirical=0.1)})
    assert len(both.get_legend().get_texts()) == 3
    stacked = pd.concat([tab.assign(method="a"), tab.assign(method="b")])
    assert len(plot.plot_calibration(stacked).get_legend().get_texts()) == 3


def test_plot_shares_sorts_groups_by_the_first_level_and_wraps_panels(personas):
    with pytest.warns(DrawsWarning):  # the fixture's 40 draws
        table = populace_summarize(personas, by="race", target="age")
    fig = plot.plot_shares(table, by="race", ncols=1)
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in axes] == ["young", "old"]  # one panel per level, one per row
    first = table[table["level"] == "young"].set_index("race")["mean"].sort_values(kind="stable")
    assert [t.get_text() for t in axes[0].get_yticklabels()] == list(first.index)
    with pytest.raises(ValueError, match="group column"):
        plot.plot_shares(table, by=[])


def test_import_is_lazy():
    """Importing populace.plot does not import matplotlib or arviz."""
    import subprocess
    import sys

    code = "import sys, populace.plot; print('matplotlib' in sys.modules, 'arviz' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
