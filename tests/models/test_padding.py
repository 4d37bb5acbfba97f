"""Microdata patterns padded to bucket sizes (``copula.padded``): the arrays' shapes change,
so that JAX reuses a compiled function across samples, and the model does not."""

import numpy as np
import pytensor
import pytest
from pytensor.graph.traversal import graph_inputs

from populace.models import copula
from populace.models.copula import CopulaModel, bucket, expansion_groups, padded
from populace.study.spec import Microdata, Study
from tests.models.test_gradient import _study


def test_buckets_are_fixed_points_19_percent_apart():
    for n in range(1, 20_000):
        b = bucket(n)
        assert b >= n and bucket(b) == b
        if n > 8:
            assert b < n * 2**0.25 + 1
    assert bucket(0) == 0


def test_each_group_is_padded_to_a_bucket_with_zero_count_copies():
    s = CopulaModel(_study()).structure
    assert s.incomplete.counts.size and len(expansion_groups(s.incomplete, s)) > 1
    for pat in (s.complete, s.incomplete):
        got = padded(pat, s)
        assert got.counts.sum() == pytest.approx(pat.counts.sum(), rel=1e-15)
        for rows, *_ in expansion_groups(got, s):
            assert len(rows) == bucket(len(rows))
        # The rows past the originals, group by group, copy a pattern and count nothing.
        orig = {(g, *c) for g, c in zip(pat.geo, pat.codes, strict=True)}
        extra = got.counts == 0
        assert extra.sum() == got.counts.size - pat.counts.size
        assert all((g, *c) in orig for g, c in zip(got.geo[extra], got.codes[extra], strict=True))


def _data_shapes(model):
    shared = [v for v in graph_inputs([model.logp()]) if isinstance(v, pytensor.compile.SharedVariable)]
    return sorted(np.shape(v.get_value()) for v in shared)


def test_padding_leaves_the_log_density_and_gradient_unchanged(monkeypatch):
    """The copies add exact zeros; only the order of the sums' rounding changes, about
    1e-16 per term over some hundred terms, far inside 1e-13 (log density) and 1e-11 of
    the largest gradient entry. A copy counted once, not zero times, moves the log density
    by its log-probability, of order 1."""
    study = _study()
    model = CopulaModel(study, model_config={"factors": 2}).build_model()
    monkeypatch.setattr(copula, "padded", lambda pat, s: pat)
    bare = CopulaModel(study, model_config={"factors": 2}).build_model()
    assert _data_shapes(model) != _data_shapes(bare)
    rng = np.random.default_rng(3)
    fns = [(m.compile_logp(mode="FAST_COMPILE"), m.compile_dlogp(mode="FAST_COMPILE")) for m in (model, bare)]
    for _ in range(3):
        point = {k: v + rng.normal(0, 0.5, np.shape(v)) for k, v in model.initial_point().items()}
        (la, ga), (lb, gb) = [(f(point), g(point)) for f, g in fns]
        np.testing.assert_allclose(la, lb, rtol=1e-13)
        np.testing.assert_allclose(ga, gb, rtol=1e-11, atol=1e-11 * np.abs(gb).max())


def test_samples_of_one_bucket_give_the_same_shapes():
    """Two samples whose pattern counts share buckets give the compiled function arrays of
    the same shapes; complete rows dropped past a bucket's edge do not."""
    study = _study()
    codes, w = study.microdata.codes, study.microdata.weights
    complete = np.flatnonzero((codes >= 0).all(axis=1))

    def without(k):
        keep = np.setdiff1d(np.arange(len(codes)), complete[:k])
        return Study(study.attributes, study.marginals, Microdata(codes[keep], w[keep]), name=f"minus{k}")

    def n_patterns(k):
        return CopulaModel(without(k)).structure.complete.counts.size

    n = n_patterns(0)
    same = next(k for k in range(1, 20) if n_patterns(k) < n)  # fewer patterns, same bucket
    other = next(k for k in range(1, 40) if bucket(n_patterns(k)) < bucket(n))
    assert bucket(n_patterns(same)) == bucket(n)
    shapes = {k: _data_shapes(CopulaModel(without(k), model_config={"factors": 2}).build_model()) for k in (0, same, other)}
    assert shapes[0] == shapes[same] != shapes[other]
