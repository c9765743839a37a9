"""The Risk panel on the assessed demo estate: heat map, register, framework coverage."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from aiposture import Posture, Settings
from aiposture.models import AssetKind, AssetRisk, DimensionScore, Priority, RiskDimension
from aiposture.widgets.risk import FRAMEWORKS, RiskPanel, heat_counts, heatmap_figure
from conftest import DemoStore

HOSTILE = "<img src=x onerror=alert(1)>"
ESCAPED = "&lt;img src=x onerror=alert(1)&gt;"


@pytest.fixture(scope="module")
def posture(demo_store: DemoStore, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Posture]:
    p = demo_store.open_copy(tmp_path_factory.mktemp("risk-widget"))
    yield p
    p.close()


def _risk(name: str, likelihood: float, impact: float, score: float) -> AssetRisk:
    return AssetRisk(
        asset_id=f"a-{name}",
        asset_name=name,
        asset_kind=AssetKind.MODEL,
        dimensions=[DimensionScore(dimension=RiskDimension.CONTROL_GAP, score=1)],
        likelihood=likelihood,
        impact=impact,
        score=score,
        priority=Priority.LOW,
    )


def test_heat_counts_bin_likelihood_and_impact() -> None:
    risks = [
        _risk("a", 0.0, 0.0, 1),
        _risk("b", 1.9, 9.9, 2),
        _risk("c", 10.0, 10.0, 9),
        _risk("d", 9.0, 8.0, 5),
    ]
    counts, names = heat_counts(risks)
    assert counts[0][0] == 1
    assert counts[4][0] == 1  # impact 9.9 -> top row, likelihood 1.9 -> first column
    assert counts[4][4] == 2 and names[4][4] == ["c", "d"]  # worst first
    assert sum(map(sum, counts)) == 4


def test_heatmap_hover_text_escapes_names() -> None:
    fig = heatmap_figure([_risk(HOSTILE, 5, 5, 5)])
    hover = [h for row in fig.data[0].hovertext for h in row]
    assert any(ESCAPED in h for h in hover)
    assert not any("<img" in h for h in hover)


def test_panel_shows_every_assessed_asset_in_the_heat_map_and_register(
    posture: Posture,
) -> None:
    panel = RiskPanel(posture)
    risks = list(posture.risks)
    assert "aiposture-risk" in panel._dom_classes
    assert "aiposture-heatmap" in panel.heatmap._dom_classes
    assert sum(map(sum, panel.figure.data[0].z)) == len(risks)
    assert "aiposture-risk-register" in panel.register._dom_classes
    assert len(panel.register.matching) == len(risks)
    scores = [r.score for r in panel.register.matching]
    assert scores == sorted(scores, reverse=True)


def test_opening_a_register_row_explains_the_score(posture: Posture) -> None:
    panel = RiskPanel(posture)
    panel.register.search.value = "fraud_xgb_v2.pkl"
    panel.register.rows[0].children[0].click()
    html = panel.register_detail.value
    assert "fraud_xgb_v2.pkl" in html
    assert "control_gap" in html and "likelihood" in html


def test_register_filters_by_priority(posture: Posture) -> None:
    panel = RiskPanel(posture)
    panel.register.filters["priority"].value = "critical"
    assert panel.register.matching
    assert all(r.priority is Priority.CRITICAL for r in panel.register.matching)


def test_hostile_name_is_escaped_in_the_register(posture: Posture) -> None:
    panel = RiskPanel(posture)
    panel.register.search.value = "onerror"
    assert panel.register.rows[0].children[0].description == HOSTILE
    panel.register.rows[0].children[0].click()
    assert ESCAPED in panel.register_detail.value
    assert "<img" not in panel.register_detail.value
    assert "<img" not in panel.summary.value


def test_framework_dropdown_switches_the_coverage(posture: Posture) -> None:
    panel = RiskPanel(posture)
    assert [v for _, v in panel.framework.options] == [
        "owasp-llm",
        "atlas",
        "nist-ai-rmf",
        "eu-ai-act",
    ]
    assert "aiposture-coverage" in panel.children[-1]._dom_classes
    owasp = posture.coverage("owasp-llm")
    assert len(panel.coverage_table.matching) == len(owasp)
    for _, key in FRAMEWORKS[1:]:
        panel.framework.value = key
        rows = panel.coverage_table.matching
        assert rows and {r.framework for r in rows} == {key}
        assert len(rows) == len(posture.coverage(key))


def test_coverage_status_filter(posture: Posture) -> None:
    panel = RiskPanel(posture)
    panel.coverage_table.filters["status"].value = "open findings"
    rows = panel.coverage_table.matching
    assert rows and all(r.open_findings > 0 for r in rows)


def test_before_any_assessment_the_panel_says_so(tmp_path: Path) -> None:
    with Posture.open(tmp_path / "empty.db", config=Settings()) as p:
        panel = RiskPanel(p)
        assert "posture.assess()" in panel.summary.value
        assert panel.register.status.value == "0 of 0"
        assert sum(map(sum, panel.figure.data[0].z)) == 0
