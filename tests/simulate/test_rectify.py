"""rectify(): the tidy result, baselines, groups, warnings and bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from populace.errors import InputError, PopulaceError
from populace.simulate import COLUMNS, RectifyWarning, rectify
from populace.simulate.inputs import count_personas, read_persona_counts
from populace.simulate.ppi import ppi_mean, summarize_draws

LEVELS = np.array(["no", "yes"])


def _inputs(seed: int = 0, draws: int = 5, per_draw: int = 2000, n: int = 200):
    """Personas over sex with an LLM answer, and humans whose truth depends on sex too."""
    rng = np.random.default_rng(seed)
    sex = rng.choice(["F", "M"], size=draws * per_draw)
    llm = LEVELS[(rng.random(len(sex)) < np.where(sex == "F", 0.7, 0.4)).astype(int)]
    personas = pd.DataFrame({"draw": np.repeat(np.arange(draws), per_draw), "sex": sex, "llm": llm})
    hsex = rng.choice(["F", "M"], size=n)
    truth = (rng.random(n) < np.where(hsex == "F", 0.6, 0.3)).astype(int)
    hllm = np.where(rng.random(n) < 0.8, truth, 1 - truth)
    humans = pd.DataFrame({"sex": hsex, "llm": LEVELS[hllm], "truth": LEVELS[truth], "w": rng.uniform(1, 2, n)})
    return personas, humans


def _run(personas, humans, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning expected unless a test says so
        return rectify(personas, humans, answer="llm", truth="truth", **kw)


def test_tidy_result_and_baselines():
    personas, humans = _inputs()
    res = _run(personas, humans, by="sex")
    assert list(res.columns[: len(COLUMNS)]) == COLUMNS
    assert set(res.method) == {"ppi", "llm_only", "human_only"}
    assert set(res.group) == {"(all)", "F", "M"}
    assert len(res) == 3 * 2 * 3  # groups x levels x methods
    assert (res.lo90 <= res.estimate).all() and (res.estimate <= res.hi90).all()
    # llm_only: mean of the per-draw shares, their 5 % and 95 % quantiles
    share = personas.assign(v=personas.llm == "yes").groupby("draw").v.mean()
    row = res.query("group == '(all)' and level == 'yes' and method == 'llm_only'").iloc[0]
    np.testing.assert_allclose([row.estimate, row.lo90, row.hi90], [share.mean(), *share.quantile([0.05, 0.95])], rtol=1e-12)
    # human_only: the humans' share with a Wilson interval (statsmodels as the reference)
    from statsmodels.stats.proportion import proportion_confint

    for group, part in [("(all)", humans), ("M", humans[humans.sex == "M"])]:
        k = int((part.truth == "yes").sum())
        row = res.query("group == @group and level == 'yes' and method == 'human_only'").iloc[0]
        np.testing.assert_allclose(row.estimate, k / len(part), rtol=1e-12)
        np.testing.assert_allclose([row.lo90, row.hi90], proportion_confint(k, len(part), alpha=0.1, method="wilson"), rtol=1e-10)


def test_group_estimates_use_the_groups_personas_and_humans():
    personas, humans = _inputs(1)
    res = _run(personas, humans, by="sex")
    overall_lam = res.query("group == '(all)' and method == 'ppi'").set_index("level").lam
    for g in ("F", "M"):
        p, h = personas[personas.sex == g], humans[humans.sex == g]
        alone = _run(p, h)
        got = res[(res.group == g) & (res.method != "ppi")].drop(columns="group").reset_index(drop=True)
        expect = alone[alone.method != "ppi"].drop(columns="group").reset_index(drop=True)
        pd.testing.assert_frame_equal(got, expect)
        for level in ("no", "yes"):  # ppi: the group's data with the level's lambda from all humans
            draws = summarize_draws((p.llm == level).to_numpy(float), p.draw.to_numpy())
            r = ppi_mean((h.truth == level).to_numpy(float), (h.llm == level).to_numpy(float), draws, lam=overall_lam[level])
            row = res.query("group == @g and level == @level and method == 'ppi'").iloc[0]
            np.testing.assert_allclose([row.estimate, row.lo90, row.hi90, row.lam], [r.estimate, r.lo, r.hi, r.lam], rtol=1e-12)


def test_weights_change_the_estimate_as_a_weighted_mean():
    personas, humans = _inputs(2)
    res = _run(personas, humans, weight="w")
    human = res.query("level == 'yes' and method == 'human_only'").iloc[0]
    w = humans.w.to_numpy()
    np.testing.assert_allclose(human.estimate, w @ (humans.truth == "yes") / w.sum(), rtol=1e-12)
    unweighted = _run(personas, humans).query("level == 'yes' and method == 'ppi'").iloc[0]
    assert res.query("level == 'yes' and method == 'ppi'").iloc[0].estimate != unweighted.estimate


def test_plain_ppi_is_lambda_one():
    personas, humans = _inputs(3)
    res = _run(personas, humans, lam=1.0).query("method == 'ppi'")
    assert (res.lam == 1.0).all()
    llm = _run(personas, humans).query("method == 'llm_only'").set_index("level").estimate
    y = humans.truth.to_numpy()[:, None] == res.level.to_numpy()
    f = humans.llm.to_numpy()[:, None] == res.level.to_numpy()
    np.testing.assert_allclose(res.estimate, llm[res.level].to_numpy() + y.mean(0) - f.mean(0), rtol=1e-12)


def test_small_group_and_flat_level_are_nan_with_a_warning():
    personas, humans = _inputs(4)
    humans = pd.concat([humans[humans.sex == "F"], humans[humans.sex == "M"].head(4)])
    with pytest.warns(RectifyWarning, match="sex = 'M': 4 humans"):
        res = rectify(personas, humans, answer="llm", truth="truth", by="sex")
    m = res[res.group == "M"]
    assert m[m.method != "llm_only"].estimate.isna().all()
    assert m[m.method == "llm_only"].estimate.notna().all()
    # a level no human gives (the LLM gives it to some): no variation, NaN not a zero-width interval
    personas.loc[:10, "llm"] = "maybe"
    humans.loc[humans.index[:3], "llm"] = "maybe"
    with pytest.warns(RectifyWarning, match="do not vary for level.*'maybe'"):
        res = rectify(personas, humans, answer="llm", truth="truth")
    assert res.query("level == 'maybe' and method == 'ppi'").estimate.isna().all()
    assert res.query("level == 'yes' and method == 'ppi'").estimate.notna().all()


def test_one_draw_warns():
    personas, humans = _inputs(5, draws=1)
    with pytest.warns(RectifyWarning, match="one posterior draw"):
        rectify(personas, humans, answer="llm", truth="truth")


def test_parquet_is_read_in_batches_with_the_same_counts(tmp_path):
    personas, _ = _inputs(6)
    personas["llm"] = personas.llm.astype("category")
    path = tmp_path / "p.parquet"
    personas.to_parquet(path)
    streamed = read_persona_counts(path, answer="llm", by="sex", batch_rows=777)
    whole = count_personas(personas, answer="llm", by="sex")
    np.testing.assert_array_equal(streamed.counts, whole.counts)
    assert streamed.levels == whole.levels == ["no", "yes"] and streamed.groups == ["F", "M"]
    # a hive-partitioned dataset (as `populace generate --partition-by draw` writes): draw from the path
    folder = tmp_path / "ds"
    for d, part in personas.groupby("draw"):
        (folder / f"draw={d}").mkdir(parents=True)
        part.drop(columns="draw").to_parquet(folder / f"draw={d}" / "part-00000.parquet")
    np.testing.assert_array_equal(read_persona_counts(folder, answer="llm", by="sex").counts, whole.counts)


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda p, h: (p.drop(columns="llm"), h), r"personas, column 'llm': has no column"),
        (lambda p, h: (p, h.drop(columns="truth")), r"humans, column 'truth': has no column"),
        (lambda p, h: (p.iloc[:0], h), r"personas: has no rows"),
        (lambda p, h: (p, h.iloc[:0]), r"humans: has no rows"),
        (lambda p, h: (p.assign(draw=p.draw + 0.5), h), r"personas, column 'draw': row 1: draw 0.5 is not an integer"),
        (
            lambda p, h: (p, h.assign(truth=h.truth.where(h.index != 3, "Yes"))),
            r"humans, line 5, column 'truth': 'Yes' is not among",
        ),
        (lambda p, h: (p, h.assign(llm=h.llm.where(h.index != 0, ""))), r"humans, line 2, column 'llm': is empty"),
        (lambda p, h: (p.assign(llm=p.llm.where(p.index != 9, None)), h), r"personas, column 'llm': row 10 is empty"),
    ],
)
def test_bad_input_names_file_and_column(change, match):
    personas, humans = change(*_inputs(7))
    with pytest.raises(InputError, match=match):
        rectify(personas, humans, answer="llm", truth="truth")


def test_bad_group_and_weight():
    personas, humans = _inputs(8)
    with pytest.raises(PopulaceError, match=r"humans, line 3, column 'sex': 'X' is not among the values of 'sex'"):
        rectify(personas, humans.assign(sex=humans.sex.where(humans.index != 1, "X")), answer="llm", truth="truth", by="sex")
    with pytest.raises(InputError, match=r"humans, line 2, column 'w': weight '-1.0' is not a positive number"):
        rectify(personas, humans.assign(w=humans.w.where(humans.index != 0, -1.0)), answer="llm", truth="truth", weight="w")
