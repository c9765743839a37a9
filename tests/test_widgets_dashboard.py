"""The dashboard: five tabs, built lazily, refreshed together; ``import aiposture`` stays light."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from aiposture import Posture
from aiposture.widgets.dashboard import Dashboard
from conftest import DemoStore


@pytest.fixture(scope="module")
def posture(demo_store: DemoStore, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Posture]:
    p = demo_store.open_copy(tmp_path_factory.mktemp("dashboard-widget"))
    yield p
    p.close()


def test_dashboard_has_the_five_tabs_and_builds_only_the_inventory(posture: Posture) -> None:
    d = Dashboard(posture)
    assert "aiposture-dashboard" in d._dom_classes
    assert tuple(d.tabs.titles) == ("Inventory", "Risk", "Alerts", "Approvals", "Leakage")
    assert d.tabs.selected_index == 0
    assert d.inventory is not None and "aiposture-inventory" in d.inventory._dom_classes
    assert d.risk is None and d.alerts is None and d.approvals is None and d.leakage is None
    assert d.inventory.table.status.value == f"1–25 of {len(posture.assets)}"


def test_selecting_the_risk_tab_builds_the_risk_panel(posture: Posture) -> None:
    d = Dashboard(posture)
    d.tabs.selected_index = 1
    assert d.risk is not None and "aiposture-risk" in d.risk._dom_classes
    assert d.tabs.children[1].children == (d.risk,)
    built = d.risk
    d.tabs.selected_index = 0
    d.tabs.selected_index = 1
    assert d.risk is built  # built once


def test_show_selects_and_builds_or_explains(posture: Posture) -> None:
    d = Dashboard(posture)
    for index, name in enumerate(("risk", "alerts", "approvals", "leakage"), start=1):
        panel = d.show(name)
        assert d.tabs.selected_index == index
        slot = d.tabs.children[index]
        if panel is None:  # e.g. approvals without a policy folder: the tab says why
            assert name in d.errors
            assert "aiposture-panel-error" in slot.children[0]._dom_classes
        else:
            assert getattr(d, name) is panel and slot.children == (panel,)


def test_show_an_unknown_tab_is_an_error(posture: Posture) -> None:
    with pytest.raises(KeyError, match="no tab 'billing'"):
        Dashboard(posture).show("billing")


def test_refresh_reloads_the_built_panels(posture: Posture) -> None:
    d = Dashboard(posture)
    d.show("risk")
    table = d.inventory.table
    table.search.value = "research"
    assert "staging" not in table.filters["environment"].options
    posture.update_asset("research", environment="staging")
    try:
        d.refresh_button.click()
        assert table.search.value == "research"
        assert "staging" in table.filters["environment"].options
        table.filters["environment"].value = "staging"
        assert [a.name for a in table.matching] == ["research"]
        assert d.risk.register.matching  # the risk tab was reloaded too, still full
    finally:
        posture.update_asset("research", environment="dev")


def test_posture_dashboard_returns_the_dashboard(posture: Posture) -> None:
    if not hasattr(posture, "dashboard"):
        pytest.skip("Posture.dashboard() is not there yet")
    d = posture.dashboard(reviewer="lead")
    assert isinstance(d, Dashboard) and d.reviewer == "lead"


def test_import_aiposture_loads_neither_ipywidgets_nor_plotly(tmp_path: Path) -> None:
    code = (
        "import sys, aiposture, aiposture.widgets, aiposture.tables;"
        "print(sorted(m for m in ('ipywidgets', 'plotly') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path
    )
    assert out.stdout.strip() == "[]"
