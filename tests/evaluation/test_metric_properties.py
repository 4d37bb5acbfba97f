"""Invariants every metric must keep, on random small studies (hypothesis): a population
duplicated is the same population; the order of the personas inside a set carries no
information; level labels are names, so permuting a level order changes no score. And the
model's data term does not depend on the scale of the survey weights."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from populace.evaluation.metrics import Personas, score
from populace.models.structure import build_structure
from populace.study.spec import Attribute, Marginal, Microdata, Study

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def cases(draw):
    """A study of 2-3 nominal attributes, a population, and 2-4 persona draws."""
    seed = draw(st.integers(0, 2**32 - 1))
    levels = draw(st.lists(st.integers(2, 4), min_size=2, max_size=3))
    rng = np.random.default_rng(seed)
    attrs = tuple(Attribute(f"x{j}", "nominal", tuple(f"l{i}" for i in range(k))) for j, k in enumerate(levels))
    n_pop = draw(st.integers(40, 150))
    pop = np.column_stack([rng.integers(0, k, size=n_pop) for k in levels])
    sample = pop[rng.choice(len(pop), 30, replace=False)]
    census = (Marginal(("x0",), np.bincount(pop[:, 0], minlength=levels[0]).astype(float)),)
    study = Study(attrs, census, Microdata(sample, np.ones(len(sample))), name="p")
    n_draws = draw(st.integers(2, 4))
    codes = np.column_stack([rng.integers(0, k, size=60 * n_draws) for k in levels])
    draws = np.repeat(np.arange(n_draws), 60)
    return study, pop, Personas(codes, draws, n_draws), rng


def _scalars(res: dict) -> dict:
    return {k: v for k, v in res.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


def _same(a: dict, b: dict) -> None:
    sa, sb = _scalars(a), _scalars(b)
    assert sa.keys() == sb.keys()
    for k in sa:
        if isinstance(sa[k], float) and math.isnan(sa[k]):
            assert math.isnan(sb[k]), k
        else:
            assert sb[k] == pytest.approx(sa[k], rel=1e-9, abs=1e-12), k


@SETTINGS
@given(cases())
def test_a_duplicated_population_scores_the_same(case):
    study, pop, pers, _ = case
    _same(score(pers, pop, None, study), score(pers, np.concatenate([pop, pop]), None, study))


@SETTINGS
@given(cases())
def test_the_order_of_the_personas_carries_no_information(case):
    study, pop, pers, rng = case
    order = rng.permutation(len(pers.codes))
    shuffled = Personas(pers.codes[order], pers.draw[order], pers.n_draws)
    _same(score(pers, pop, None, study), score(shuffled, pop, None, study))


@SETTINGS
@given(cases())
def test_permuting_a_level_order_changes_no_score(case):
    study, pop, pers, rng = case
    a = study.attributes[1]
    perm = rng.permutation(a.n_levels)  # new code of old level i is perm[i]
    levels = [None] * a.n_levels
    for old, new in enumerate(perm):
        levels[new] = a.levels[old]
    attrs = (study.attributes[0], Attribute(a.name, a.type, tuple(levels)), *study.attributes[2:])

    def remap(codes):
        out = codes.copy()
        out[:, 1] = perm[codes[:, 1]]
        return out

    other = Study(attrs, study.marginals, Microdata(remap(study.microdata.codes), study.microdata.weights), name="p")
    moved = Personas(remap(pers.codes), pers.draw, pers.n_draws)
    _same(score(pers, pop, None, study), score(moved, remap(pop), None, other))


@SETTINGS
@given(cases(), st.floats(1e-3, 1e3))
def test_the_data_term_does_not_depend_on_the_scale_of_the_weights(case, scale):
    study, _, _, rng = case
    w = rng.uniform(0.5, 3.0, size=study.microdata.n_rows)
    base = build_structure(Study(study.attributes, study.marginals, Microdata(study.microdata.codes, w), name="p"))
    scaled = build_structure(Study(study.attributes, study.marginals, Microdata(study.microdata.codes, w * scale), name="p"))
    np.testing.assert_allclose(scaled.complete.counts, base.complete.counts, rtol=1e-12)
    assert scaled.n_eff == pytest.approx(base.n_eff, rel=1e-12)
