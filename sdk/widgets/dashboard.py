"""The dashboard: one app with a tab per part of the posture.

Only the Inventory tab is built when the dashboard opens; every other panel is
imported and built the first time its tab is selected, so the dashboard opens
fast on a large estate and a panel that cannot be built (no policy configured,
say) shows why instead of breaking the others.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from aiposture.errors import AIPostureError
from aiposture.models import escape
from aiposture.widgets._base import STYLE, VBox, add_classes, html_widget, ipywidgets

if TYPE_CHECKING:
    from aiposture.posture import Posture

__all__ = ["PANELS", "Dashboard"]

W = ipywidgets()

#: The tabs in order: (attribute name, tab title, module, class).
PANELS: tuple[tuple[str, str, str, str], ...] = (
    ("inventory", "Inventory", "aiposture.widgets.inventory", "InventoryPanel"),
    ("risk", "Risk", "aiposture.widgets.risk", "RiskPanel"),
    ("alerts", "Alerts", "aiposture.widgets.alerts", "AlertsPanel"),
    ("approvals", "Approvals", "aiposture.widgets.approvals", "ApprovalsPanel"),
    ("leakage", "Leakage", "aiposture.widgets.leakage", "LeakagePanel"),
)


class Dashboard(VBox):  # type: ignore[misc]
    """The posture as one app: Inventory, Risk, Alerts, Approvals and Leakage tabs.

    Args:
        posture: What every tab reads and acts through.
        reviewer: Who decides in the Approvals tab (default: ``posture.actor``).
        indexes: Leakage index folders offered in the Leakage tab, besides the
            configured ones.

    Attributes:
        tabs: The ``ipywidgets.Tab``.
        inventory, risk, alerts, approvals, leakage: The panels, None until their
            tab is first selected.
    """

    def __init__(
        self,
        posture: Posture,
        *,
        reviewer: str | None = None,
        indexes: Sequence[str | os.PathLike[str]] = (),
    ) -> None:
        super().__init__()
        add_classes(self, "aiposture-dashboard")
        self.posture = posture
        self.reviewer = reviewer
        self.indexes = tuple(indexes)
        self.inventory: Any = None
        self.risk: Any = None
        self.alerts: Any = None
        self.approvals: Any = None
        self.leakage: Any = None
        self.errors: dict[str, str] = {}
        self._slots = {name: add_classes(W.VBox(), f"aiposture-tab-{name}") for name, *_ in PANELS}
        self.tabs = add_classes(
            W.Tab(
                children=[self._slots[name] for name, *_ in PANELS],
                titles=[title for _, title, *_ in PANELS],
            ),
            "aiposture-tabs",
        )
        self.refresh_button = add_classes(
            W.Button(description="↻ refresh", tooltip="reload every opened tab"),
            "aiposture-dashboard-refresh",
        )
        self.refresh_button.on_click(lambda _b: self.refresh())
        self.header = html_widget(self._header_html(), "aiposture-dashboard-header")
        self.children = (
            html_widget(STYLE),
            W.HBox([self.header, self.refresh_button], layout=W.Layout(align_items="center")),
            self.tabs,
        )
        self.tabs.selected_index = 0
        self._build("inventory")
        self.tabs.observe(self._selected, names="selected_index")

    def _header_html(self) -> str:
        who = self.reviewer or self.posture.actor
        return f"<b>aiposture</b> posture dashboard <span class='k'>· {escape(who)}</span>"

    def _arguments(self, name: str) -> dict[str, Any]:
        if name == "approvals":
            return {"reviewer": self.reviewer}
        if name == "leakage":
            return {"indexes": self.indexes}
        return {}

    def _build(self, name: str) -> Any:
        panel = getattr(self, name)
        if panel is not None:
            return panel
        _, _, module, cls = next(p for p in PANELS if p[0] == name)
        slot = self._slots[name]
        try:
            factory = getattr(importlib.import_module(module), cls)
            panel = factory(self.posture, **self._arguments(name))
        except (AIPostureError, ImportError) as exc:
            self.errors[name] = str(exc)
            slot.children = (
                html_widget(
                    f"<div class='aiposture-panel-error'>This tab is not available: "
                    f"{escape(exc)}</div>",
                    "aiposture-panel-error",
                ),
            )
            return None
        self.errors.pop(name, None)
        setattr(self, name, panel)
        slot.children = (panel,)
        return panel

    def _selected(self, change: Mapping[str, Any]) -> None:
        index = change.get("new")
        if isinstance(index, int) and 0 <= index < len(PANELS):
            self._build(PANELS[index][0])

    def show(self, name: str) -> Any:
        """Select the tab ``name`` (``inventory``, ``risk``, ``alerts``, ``approvals``,
        ``leakage``), building its panel if needed; returns the panel (None if it could
        not be built: the tab then says why, and :attr:`errors` has the reason).

        Raises:
            KeyError: No such tab.
        """
        names = [p[0] for p in PANELS]
        if name not in names:
            raise KeyError(f"no tab {name!r}; tabs are {names}")
        self.tabs.selected_index = names.index(name)
        return self._build(name)

    def refresh(self) -> None:
        """Reload every panel built so far from the SDK; retry tabs that failed."""
        for name, *_ in PANELS:
            panel = getattr(self, name)
            if panel is not None:
                panel.refresh()
            elif name in self.errors:
                self._build(name)
