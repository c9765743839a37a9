"""The Inventory panel: every asset in a paged table, and one asset's detail.

The table has the asset's name, kind, provider, environment, data sensitivity,
whether it is sanctioned, and its risk priority and score from the latest
assessment, with a filter on each category. Opening a row shows the asset's
fields, evidence, findings and its neighbourhood in the estate graph. Everything
is read through :class:`~aiposture.posture.Posture`; every untrusted string is
escaped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from aiposture.errors import AIPostureError
from aiposture.models import Asset, AssetRisk, Finding, Priority, RiskScore, escape
from aiposture.tables import Column, Table
from aiposture.widgets._base import (
    STYLE,
    VBox,
    add_classes,
    badge,
    html_widget,
    ipywidgets,
    level_column,
    rows_html,
)
from aiposture.widgets.graph import neighbourhood_svg
from aiposture.widgets.table import PagedTable

if TYPE_CHECKING:
    from aiposture.posture import Posture
    from aiposture.views import AssetList

__all__ = ["InventoryPanel", "asset_detail_html"]

W = ipywidgets()

#: Evidence and findings listed at most in the detail pane.
MAX_EVIDENCE = 20
MAX_FINDINGS = 30


def _columns(risk: Mapping[str, RiskScore]) -> list[Column[Asset]]:
    def prio(a: Asset) -> Priority | None:
        r = risk.get(a.id)
        return r.priority if r is not None else None

    def score(a: Asset) -> float | None:
        r = risk.get(a.id)
        return r.score if r is not None else None

    return [
        Column("name", "Name", lambda a: a.name, width="240px"),
        Column("kind", "Kind", lambda a: a.kind, width="110px", filterable=True),
        Column("provider", "Provider", lambda a: a.provider, width="110px", filterable=True),
        Column(
            "environment", "Environment", lambda a: a.environment, width="100px", filterable=True
        ),
        Column(
            "sensitivity",
            "Sensitivity",
            lambda a: a.data_sensitivity,
            width="100px",
            filterable=True,
        ),
        Column("sanctioned", "Sanctioned", lambda a: a.sanctioned, width="100px", filterable=True),
        level_column("risk", "Risk", prio, levels=Priority),
        Column("score", "Score", score, width="80px", searchable=False),
    ]


def _risk_html(r: AssetRisk) -> str:
    dims = "".join(
        f"<tr><th class='k'>{escape(d.dimension.value)}</th><td>{d.score:g}</td><td>"
        + escape("; ".join(f"{x.points:+g} {x.text}" for x in d.reasons if x.points))
        + "</td></tr>"
        for d in r.dimensions
    )
    tier = (
        f"<div>EU AI Act tier: <b>{escape(r.eu_ai_act_tier)}</b></div>" if r.eu_ai_act_tier else ""
    )
    return (
        f"<h4>Risk {badge(r.priority.value, r.priority.value)} "
        f"<span class='k'>score {r.score:.1f} · likelihood {r.likelihood:.1f} · "
        f"impact {r.impact:.1f}</span></h4><table>{dims}</table>{tier}"
    )


def _evidence_html(asset: Asset) -> str:
    if not asset.evidence:
        return "<h4>Evidence</h4><div class='k'>none recorded</div>"
    rows = "".join(
        f"<tr><td>{escape(e.kind.value)}</td><td><code>{escape(e.where)}</code></td>"
        f"<td>{escape(e.detail or '')}</td><td><code>{escape(e.snippet or '')}</code></td></tr>"
        for e in asset.evidence[:MAX_EVIDENCE]
    )
    more = len(asset.evidence) - MAX_EVIDENCE
    extra = f"<div class='k'>+{more} more</div>" if more > 0 else ""
    return f"<h4>Evidence ({len(asset.evidence)})</h4><table>{rows}</table>{extra}"


def _findings_html(findings: Sequence[Finding]) -> str:
    if not findings:
        return "<h4>Findings</h4><div class='k'>none</div>"
    rows = "".join(
        f"<tr><td>{badge(f.severity.value, f.severity.value)}</td>"
        f"<td><code>{escape(f.rule_id)}</code></td><td>{escape(f.title)}</td>"
        f"<td>{escape(f.status.value)}{' (stale)' if f.stale else ''}</td></tr>"
        for f in findings[:MAX_FINDINGS]
    )
    more = len(findings) - MAX_FINDINGS
    extra = f"<div class='k'>+{more} more</div>" if more > 0 else ""
    return f"<h4>Findings ({len(findings)})</h4><table>{rows}</table>{extra}"


def asset_detail_html(asset: Asset, risk: AssetRisk | None, findings: Sequence[Finding]) -> str:
    """The detail of one asset as escaped HTML: fields, risk, evidence, findings."""
    fields: list[tuple[str, str]] = [
        ("id", f"<code>{escape(asset.id)}</code>"),
        ("kind", escape(asset.kind.value)),
    ]
    for label, value in (
        ("provider", asset.provider),
        ("version", asset.version),
        ("owner", asset.owner),
        ("environment", asset.environment.value),
        ("data sensitivity", asset.data_sensitivity.value),
        ("sanctioned", asset.sanctioned.value),
        ("tags", ", ".join(asset.tags)),
        ("locations", ", ".join(asset.locations[:5])),
        ("attributes", ", ".join(f"{k}={v}" for k, v in list(asset.attributes.items())[:10])),
        ("first seen", asset.first_seen.strftime("%Y-%m-%d %H:%M")),
        ("last seen", asset.last_seen.strftime("%Y-%m-%d %H:%M")),
    ):
        if value:
            fields.append((escape(label), escape(value)))
    if asset.stale:
        fields.append(("stale", "yes: no longer seen by the last scans"))
    head = (
        f"<h3 class='aiposture-asset-title'>{escape(asset.name)} "
        f"<span class='k'>{escape(asset.kind.value)}</span></h3>"
    )
    risk_html = (
        _risk_html(risk) if risk is not None else "<h4>Risk</h4><div class='k'>not assessed</div>"
    )
    return f"{head}{rows_html(fields)}{risk_html}{_evidence_html(asset)}{_findings_html(findings)}"


class InventoryPanel(VBox):  # type: ignore[misc]
    """The asset inventory: a paged, filterable, sortable table and a detail pane.

    Args:
        posture: Where the assets, risks, findings and relations come from.
        assets: Show only these assets (``posture.assets.filter(...)``); every asset
            by default. :meth:`refresh` re-reads the same assets by id.
        page_size: Rows per page.

    Attributes:
        table: The :class:`~aiposture.widgets.table.PagedTable` of assets.
        detail: The detail pane (``aiposture-asset-detail``).
        graph: The ``HTML`` holding the neighbourhood picture (``aiposture-graph``).
        selected: The asset shown in the detail pane, if any.
    """

    def __init__(
        self, posture: Posture, *, assets: AssetList | None = None, page_size: int = 25
    ) -> None:
        super().__init__()
        add_classes(self, "aiposture-inventory")
        self.posture = posture
        self._subset: frozenset[str] | None = (
            frozenset(a.id for a in assets) if assets is not None else None
        )
        self._all: dict[str, Asset] | None = None
        self._risk: dict[str, RiskScore] = {}
        self.selected: Asset | None = None
        items = self._load(assets)
        self.table = PagedTable(
            Table(items, _columns(self._risk)),
            page_size=page_size,
            on_open=self.show_asset,
            css="aiposture-assets",
        )
        self.summary = html_widget(self._summary_html(items), "aiposture-inventory-summary")
        self.info = html_widget(
            "<span class='k'>Open an asset (its name) to see its evidence, findings and "
            "relations.</span>",
            "aiposture-asset-info",
        )
        self.graph = html_widget("", "aiposture-graph")
        self.neighbour_picker = add_classes(
            W.Dropdown(
                options=[("neighbours…", "")],
                value="",
                description="Go to",
                style={"description_width": "initial"},
                layout=W.Layout(width="auto", max_width="420px", display="none"),
            ),
            "aiposture-neighbour-select",
        )
        self.neighbour_picker.observe(self._go_to_neighbour, names="value")
        self.detail = add_classes(
            W.VBox([self.info, self.neighbour_picker, self.graph]), "aiposture-asset-detail"
        )
        self.children = (html_widget(STYLE), self.summary, self.table, self.detail)

    # -- loading ------------------------------------------------------------------------
    def _load(self, given: AssetList | None = None) -> list[Asset]:
        self._risk.clear()
        self._risk.update(self.posture.risk_scores())
        if given is not None:
            self._all = None
            return list(given)
        everything = list(self.posture.assets)
        self._all = {a.id: a for a in everything}
        if self._subset is None:
            return everything
        return [a for a in everything if a.id in self._subset]

    def _assets_by_id(self) -> dict[str, Asset]:
        if self._all is None:
            self._all = {a.id: a for a in self.posture.assets}
        return self._all

    def _summary_html(self, items: Sequence[Asset]) -> str:
        prio: dict[str, int] = {}
        for a in items:
            r = self._risk.get(a.id)
            if r is not None:
                prio[r.priority.value] = prio.get(r.priority.value, 0) + 1
        parts = [f"<b>{len(items)}</b> assets"]
        parts += [
            f"{n} {badge(p.value, p.value)}"
            for p in reversed(Priority)
            if (n := prio.get(p.value, 0))
        ]
        if not self._risk:
            parts.append("<span class='k'>not assessed yet: run posture.assess()</span>")
        return " · ".join(parts)

    def refresh(self) -> None:
        """Re-read the assets and risks, keeping the table's search, filters and sort."""
        items = self._load()
        self.table.set_items(items)
        self.summary.value = self._summary_html(items)
        if self.selected is not None:
            current = self._assets_by_id().get(self.selected.id)
            if current is not None:
                self.show_asset(current)

    # -- detail -------------------------------------------------------------------------
    def show_asset(self, asset: Asset | str) -> None:
        """Show one asset (an :class:`Asset`, or its id or name) in the detail pane."""
        try:
            if isinstance(asset, str):
                asset = self._assets_by_id().get(asset) or self.posture.asset(asset)
            findings = list(self.posture.findings_for(asset.id))
            relations = list(self.posture.neighbours(asset.id))
            risk = self.posture.risk(asset.id)
        except AIPostureError as exc:
            self.info.value = f"<div class='aiposture-error'>{escape(exc)}</div>"
            return
        self.selected = asset
        by_id = self._assets_by_id()
        self.info.value = asset_detail_html(asset, risk, findings)
        self.graph.value = (
            f"<h4>Relations ({len(relations)})</h4>{neighbourhood_svg(asset, relations, by_id)}"
        )
        others = dict.fromkeys(
            r.target_id if r.source_id == asset.id else r.source_id for r in relations
        )
        options = [("neighbours…", "")] + [
            (f"{by_id[i].name} ({by_id[i].kind.value})" if i in by_id else i, i)
            for i in others
            if i != asset.id
        ]
        self.neighbour_picker.unobserve(self._go_to_neighbour, names="value")
        try:
            self.neighbour_picker.options = options
            self.neighbour_picker.value = ""
        finally:
            self.neighbour_picker.observe(self._go_to_neighbour, names="value")
        self.neighbour_picker.layout.display = None if len(options) > 1 else "none"

    def _go_to_neighbour(self, change: Mapping[str, Any]) -> None:
        if change.get("new"):
            self.show_asset(str(change["new"]))
