"""Notebook widgets: the dashboard and the panels it is made of.

Importing this package does not import ipywidgets or plotly; each name below is
loaded on first use (``from aiposture.widgets import Dashboard``).
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "AlertsPanel",
    "ApprovalsPanel",
    "Dashboard",
    "InventoryPanel",
    "LeakagePanel",
    "PagedTable",
    "RiskPanel",
]

_WHERE = {
    "AlertsPanel": "alerts",
    "ApprovalsPanel": "approvals",
    "Dashboard": "dashboard",
    "InventoryPanel": "inventory",
    "LeakagePanel": "leakage",
    "PagedTable": "table",
    "RiskPanel": "risk",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
