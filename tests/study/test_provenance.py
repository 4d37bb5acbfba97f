"""Each attribute's provenance: census-pinned, census-margin or survey-only, naming the tables."""

from __future__ import annotations

import numpy as np

from populace.study.provenance import Kind, provenance
from populace.study.spec import Marginal, Study

from tests.library._study import three_kinds_study


def test_each_kind_on_a_study_where_all_three_occur() -> None:
    prov = provenance(three_kinds_study())
    assert list(prov) == ["age", "sex", "party", "church"]
    # A multi-way table pins the margin too: age has no 1-D table but is census-pinned.
    assert prov["age"].kind is Kind.CENSUS_PINNED
    assert prov["age"].tables == ("census_age__sex.csv",) and prov["age"].crossed_with == ("sex",)
    assert prov["sex"].kind is Kind.CENSUS_PINNED and prov["sex"].crossed_with == ("age",)
    assert prov["party"].kind is Kind.CENSUS_MARGIN
    assert prov["party"].tables == ("census party",)  # no source file: named by its attributes
    assert prov["party"].crossed_with == ()
    assert prov["church"].kind is Kind.SURVEY_ONLY and prov["church"].tables == ()
    assert prov["church"].to_dict() == {"kind": "survey-only", "tables": []}
    assert "survey" in prov["church"].note and "census_age__sex.csv" in prov["age"].note


def test_every_table_that_includes_an_attribute_is_named_in_study_order() -> None:
    base = three_kinds_study()
    extra = Marginal(("party", "age"), np.ones((3, 3)), source="census_party__age.csv")
    study = Study(base.attributes, (*base.marginals, extra), base.microdata)
    prov = provenance(study)
    assert prov["party"].kind is Kind.CENSUS_PINNED  # now crossed with age
    assert prov["party"].tables == ("census party", "census_party__age.csv")
    assert prov["age"].tables == ("census_age__sex.csv", "census_party__age.csv")
    assert prov["age"].crossed_with == ("sex", "party")
