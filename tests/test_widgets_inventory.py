"""The Inventory panel on the scanned demo estate: table, filters, detail, graph, escaping."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from aiposture import AssetKind, Posture
from aiposture.widgets.graph import neighbourhood_svg
from aiposture.widgets.inventory import InventoryPanel
from conftest import DemoStore

HOSTILE = "<img src=x onerror=alert(1)>"
ESCAPED = "&lt;img src=x onerror=alert(1)&gt;"


@pytest.fixture(scope="module")
def posture(demo_store: DemoStore, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Posture]:
    p = demo_store.open_copy(tmp_path_factory.mktemp("inventory-widget"))
    yield p
    p.close()


def _html_values(widget: Any) -> list[str]:
    """Every HTML value in a widget tree."""
    out = []
    if type(widget).__name__ == "HTML":
        out.append(widget.value)
    for child in getattr(widget, "children", ()):
        out.extend(_html_values(child))
    return out


def _open_row(panel: InventoryPanel, name: str) -> None:
    panel.table.search.value = name
    slot = next(i for i, a in enumerate(panel.table.visible) if a.name == name)
    panel.table.rows[slot].children[0].click()


def test_table_lists_every_asset_with_its_risk(posture: Posture) -> None:
    panel = InventoryPanel(posture)
    assert "aiposture-inventory" in panel._dom_classes
    assert "aiposture-assets" in panel.table._dom_classes
    assert len(panel.table.matching) == len(posture.assets)
    assert panel.table.status.value == f"1–25 of {len(posture.assets)}"
    risk = {r.asset_id: r for r in posture.risks}
    pkl = next(a for a in posture.assets if a.name == "fraud_xgb_v2.pkl")
    index = panel.table.table.items.index(pkl)
    assert panel.table.table.value(index, "risk") is risk[pkl.id].priority
    assert panel.table.table.value(index, "score") == risk[pkl.id].score


def test_search_box_filters_as_you_type(posture: Posture) -> None:
    panel = InventoryPanel(posture)
    panel.table.search.value = "SUPPORT-BOT"
    assert [a.name for a in panel.table.matching] == ["support-bot"]
    assert panel.table.status.value == "1–1 of 1"


def test_filters_offer_each_category(posture: Posture) -> None:
    panel = InventoryPanel(posture)
    assert set(panel.table.filters) == {
        "kind",
        "provider",
        "environment",
        "sensitivity",
        "sanctioned",
        "risk",
    }
    panel.table.filters["kind"].value = "model"
    assert panel.table.matching and all(a.kind is AssetKind.MODEL for a in panel.table.matching)
    panel.table.filters["environment"].value = "prod"
    assert {a.environment.value for a in panel.table.matching} <= {"prod"}
    panel.table.filters["kind"].value = "all"
    panel.table.filters["environment"].value = "all"
    panel.table.filters["sanctioned"].value = "unsanctioned"
    names = {a.name for a in panel.table.matching}
    assert "ChatGPT" in names
    assert all(a.sanctioned.value == "unsanctioned" for a in panel.table.matching)


def test_sorting_by_risk_puts_the_most_urgent_first(posture: Posture) -> None:
    panel = InventoryPanel(posture)
    panel.table.sort_buttons["risk"].click()
    panel.table.sort_buttons["risk"].click()
    first = panel.table.visible[0]
    worst = max(r.priority.rank for r in posture.risks)
    top = {r.asset_id for r in posture.risks if r.priority.rank == worst}
    assert first.id in top


def test_next_page_shows_the_following_assets(posture: Posture) -> None:
    panel = InventoryPanel(posture)
    first_page = panel.table.visible
    panel.table.next_button.click()
    second = panel.table.visible
    assert panel.table.status.value.startswith("26–")
    assert not {a.id for a in first_page} & {a.id for a in second}


def test_opening_a_row_shows_detail_evidence_findings_and_graph(posture: Posture) -> None:
    panel = InventoryPanel(posture)
    _open_row(panel, "support-bot")
    assert panel.selected is not None and panel.selected.name == "support-bot"
    assert "aiposture-asset-detail" in panel.detail._dom_classes
    detail = panel.info.value
    assert "support-bot" in detail
    assert "Evidence (" in detail and "bot.py" in detail
    findings = posture.findings_for(panel.selected.id)
    assert findings and findings[0].rule_id in detail
    graph = panel.graph.value
    assert "aiposture-graph" in panel.graph._dom_classes
    assert "<svg" in graph and "uses_model" in graph and "gpt-4o-mini" in graph


def test_hostile_asset_name_is_escaped_everywhere(posture: Posture) -> None:
    panel = InventoryPanel(posture)
    panel.table.search.value = "onerror"
    assert [a.name for a in panel.table.visible] == [HOSTILE]
    assert panel.table.rows[0].children[0].description == HOSTILE  # Button text, not HTML
    panel.table.rows[0].children[0].click()
    assert ESCAPED in panel.info.value and ESCAPED in panel.graph.value
    for html in _html_values(panel):
        assert "<img" not in html
    # and in its neighbour's picture
    panel.show_asset("support-bot")
    assert ESCAPED in panel.graph.value
    assert all("<img" not in h for h in _html_values(panel))


def test_neighbour_picker_moves_to_a_neighbour(posture: Posture) -> None:
    panel = InventoryPanel(posture)
    panel.show_asset("support-bot")
    options = dict(panel.neighbour_picker.options)
    target = options["gpt-4o-mini (model)"]
    panel.neighbour_picker.value = target
    assert panel.selected is not None and panel.selected.id == target
    assert panel.neighbour_picker.value == ""


def test_unknown_asset_shows_an_error_not_a_crash(posture: Posture) -> None:
    panel = InventoryPanel(posture)
    panel.show_asset("no such asset <b>")
    assert "no asset" in panel.info.value and "&lt;b&gt;" in panel.info.value


def test_a_subset_of_assets_stays_a_subset_on_refresh(posture: Posture) -> None:
    models = posture.assets.filter(kind="model")
    panel = InventoryPanel(posture, assets=models)
    assert {a.id for a in panel.table.matching} == {a.id for a in models}
    panel.table.search.value = "gpt"
    panel.refresh()
    assert panel.table.search.value == "gpt"
    assert panel.table.matching and all(a.kind is AssetKind.MODEL for a in panel.table.matching)


def test_refresh_shows_human_edits(posture: Posture) -> None:
    panel = InventoryPanel(posture)
    panel.show_asset("research")
    posture.update_asset("research", owner="data-team")
    try:
        panel.refresh()
        assert "data-team" in panel.info.value
        research = next(a for a in panel.table.table.items if a.name == "research")
        assert research.owner == "data-team"
    finally:
        posture.update_asset("research", owner=None)


def test_graph_counts_neighbours_beyond_the_limit(posture: Posture) -> None:
    bot = posture.asset("support-bot")
    relations = list(posture.neighbours(bot.id))
    by_id = {a.id: a for a in posture.assets}
    svg = neighbourhood_svg(bot, relations, by_id, limit=2)
    drawn = svg.count("class='aiposture-graph-node'")
    assert drawn == 3  # two neighbours and the centre
    others = {r.source_id if r.target_id == bot.id else r.target_id for r in relations}
    assert f"+{len(others) - 2} more" in svg
