"""The report page in a real browser, and the numbers of its sections, without a NUTS fit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

from populace.report import SECTION_IDS, render_page  # noqa: E402
from populace.report.sections import Section, census_fit, default_groups, default_targets  # noqa: E402
from populace.study import Attribute, make_study  # noqa: E402
from tests.report.browser import open_page  # noqa: E402


def _study():
    attributes = [
        Attribute("region", "nominal", ("N", "S"), role="geography"),
        Attribute("age", "ordinal", ("young", "old")),
        Attribute("vote", "nominal", ("No", "Yes")),
    ]
    marginals = [
        pd.DataFrame({"region": ["N", "N", "S", "S"], "age": ["young", "old"] * 2, "count": [30, 20, 25, 25]}),
        pd.DataFrame({"vote": ["No", "Yes"], "count": [60, 40]}),
    ]
    micro = pd.DataFrame({"region": ["N", "S"] * 5, "age": ["young", "old"] * 5, "vote": ["No", "Yes", "Yes", "No", "No"] * 2})
    return make_study(attributes, marginals, micro)


def _sections() -> list[Section]:
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    table = pd.DataFrame({"a": ["<b>not markup</b>"], "b": [0.5]})
    return [Section(sid, sid.title(), text=[f"text of {sid}"], tables=[("t", table)], figures=[("f", fig)]) for sid in SECTION_IDS]


def test_the_page_loads_in_a_browser_with_every_section_and_image(tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text(render_page(_sections(), title="t <&>"), encoding="utf-8")
    check = open_page(page)
    assert check.console_errors == []
    assert check.broken_images == [] and check.images == len(SECTION_IDS)
    assert check.section_ids == list(SECTION_IDS)
    html = page.read_text()
    assert "&lt;b&gt;not markup&lt;/b&gt;" in html and "<b>not markup</b>" not in html  # user text escaped
    assert "http://" not in html and "https://" not in html  # self-contained


def test_the_browser_check_sees_a_broken_image_and_a_console_error(tmp_path: Path) -> None:
    # The check must be able to fail: a page with both faults.
    page = tmp_path / "bad.html"
    page.write_text(
        '<html><body><section id="x"><img alt="broken" src="data:image/png;base64,AAAA"></section>'
        '<script>console.error("boom")</script></body></html>'
    )
    check = open_page(page)
    assert check.broken_images == ["broken"]
    assert len(check.console_errors) == 1 and "boom" in check.console_errors[0]


def test_census_fit_compares_each_table_cell_with_the_draws() -> None:
    study = _study()
    # Two draws of 4 personas: draw 0 matches vote 60/40 poorly (3 No), draw 1 has 2 No.
    frame = pd.DataFrame(
        {
            "draw": [0] * 4 + [1] * 4,
            "region": ["N", "N", "S", "S"] * 2,
            "age": ["young", "old", "young", "old"] * 2,
            "vote": ["No", "No", "No", "Yes", "No", "No", "Yes", "Yes"],
        }
    )
    cells, tables = census_fit(frame, study, ci_prob=0.9)
    vote = cells[cells["table"] == "vote"].set_index("cell")
    # No: 3/4 and 2/4 in the two draws; the 5 % and 95 % quantiles interpolate between them.
    np.testing.assert_allclose(vote.loc["No", ["census", "mean", "lo", "hi"]].to_numpy(float), [0.6, 0.625, 0.5125, 0.7375])
    assert vote["covered"].tolist() == [True, True]
    ra = cells[cells["table"] == "region x age"].set_index("cell")
    assert list(ra.index) == ["N / young", "N / old", "S / young", "S / old"]
    np.testing.assert_allclose(ra[["census", "mean", "lo", "hi"]].to_numpy(float)[:, 0], [0.3, 0.2, 0.25, 0.25])
    np.testing.assert_allclose(ra[["mean", "lo", "hi"]].to_numpy(float), 0.25)
    assert ra["covered"].tolist() == [False, False, True, True]  # every draw has 1 of 4 per cell
    assert tables["table"].tolist() == ["region x age", "vote"] and tables["cells"].tolist() == [4, 2]
    np.testing.assert_allclose(tables["covered"].to_numpy(float), [0.5, 1.0])


def test_default_targets_are_the_uncrossed_attributes_and_groups_the_geography_first() -> None:
    study = _study()
    assert default_targets(study) == ["vote"]
    assert default_groups(study) == ["region", "age"]
