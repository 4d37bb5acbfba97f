from __future__ import annotations

import numpy as np
import pytest
from tests.baselines._toy_study import toy_study

from populace.baselines import PEERS, Generator


@pytest.mark.parametrize("name", sorted(PEERS))
def test_peer_interface_returns_draw_by_persona(name: str) -> None:
    study, _ = toy_study()
    gen = PEERS[name]()
    assert isinstance(gen, Generator)
    assert gen.fit(study, seed=0) is gen
    ds = gen.sample_personas(57, draws=3, seed=1)
    assert set(ds.data_vars) == set(study.names)
    for a in study.attributes:
        assert ds[a.name].dims == ("draw", "persona")
        assert ds[a.name].shape == (3, 57)
        v = ds[a.name].values
        assert v.min() >= 0 and v.max() < a.n_levels
    again = PEERS[name]().fit(study, seed=0).sample_personas(57, draws=3, seed=1)
    assert all(np.array_equal(ds[n].values, again[n].values) for n in study.names)


@pytest.mark.parametrize("name", ["bootstrap", "ipf", "bb", "bb_ipf"])
def test_resampling_peers_only_produce_complete_sample_rows(name: str) -> None:
    study, _ = toy_study()
    ds = PEERS[name]().fit(study).sample_personas(500, draws=2, seed=0)
    got = np.stack([ds[n].values.ravel() for n in study.names], axis=1)
    codes = study.microdata.codes
    seen = {tuple(r) for r in codes[(codes >= 0).all(axis=1)]}
    assert {tuple(r) for r in got} <= seen


def test_bayesian_bootstrap_draws_differ() -> None:
    study, _ = toy_study()
    ds = PEERS["bb"]().fit(study).sample_personas(2000, draws=2, seed=0)
    shares = [np.bincount(ds["c"].values[d], minlength=4) / 2000 for d in range(2)]
    assert np.abs(shares[0] - shares[1]).max() > 0.005
