"""The Risk panel: a heat map of assets by likelihood and impact, the risk register,
and the coverage of a compliance framework.

The numbers come from the latest assessment (``posture.risks``) and
``posture.coverage(framework, as_assessed=True)``; nothing is scored here. Asset names
in hover text and cells are escaped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from aiposture.errors import AIPostureError
from aiposture.models import AssetRisk, Priority, escape
from aiposture.tables import Column, Table
from aiposture.widgets._base import (
    STYLE,
    VBox,
    add_classes,
    badge,
    html_widget,
    ipywidgets,
    level_column,
    plotly_go,
    show_figure,
)
from aiposture.widgets.table import PagedTable

if TYPE_CHECKING:
    from aiposture.posture import Posture
    from aiposture.risk.frameworks import Coverage, CoverageRow

__all__ = ["BINS", "FRAMEWORKS", "RiskPanel", "heat_counts", "heatmap_figure"]

W = ipywidgets()

#: The frameworks offered, as (label, key of ``posture.coverage``).
FRAMEWORKS: tuple[tuple[str, str], ...] = (
    ("OWASP Top 10 for LLM applications", "owasp-llm"),
    ("MITRE ATLAS", "atlas"),
    ("NIST AI RMF", "nist-ai-rmf"),
    ("EU AI Act", "eu-ai-act"),
)
#: Bins of the heat map axes (likelihood and impact are 0 to 10).
BINS = 5
#: Asset names listed in a heat map cell's hover text at most.
HOVER_NAMES = 6


def _bin(value: float) -> int:
    return min(int(value * BINS / 10), BINS - 1)


def _bin_label(i: int) -> str:
    width = 10 // BINS
    return f"{i * width}–{(i + 1) * width}"


def heat_counts(risks: Sequence[AssetRisk]) -> tuple[list[list[int]], list[list[list[str]]]]:
    """Assets per (impact bin, likelihood bin), and the names in each cell (worst first).

    Returns:
        ``counts[impact][likelihood]`` and ``names[impact][likelihood]``.
    """
    counts = [[0] * BINS for _ in range(BINS)]
    names: list[list[list[str]]] = [[[] for _ in range(BINS)] for _ in range(BINS)]
    for r in sorted(risks, key=lambda r: -r.score):
        i, j = _bin(r.impact), _bin(r.likelihood)
        counts[i][j] += 1
        if len(names[i][j]) < HOVER_NAMES:
            names[i][j].append(r.asset_name)
    return counts, names


def heatmap_figure(risks: Sequence[AssetRisk]) -> Any:
    """A plotly heat map of assets by likelihood (x) and impact (y), counts in the cells.

    Hover text names a few assets of each cell, escaped (plotly renders hover text
    as HTML).
    """
    go = plotly_go()
    counts, names = heat_counts(risks)
    hover = [
        [
            f"likelihood {_bin_label(j)}, impact {_bin_label(i)}<br>"
            f"<b>{counts[i][j]} asset{'' if counts[i][j] == 1 else 's'}</b>"
            + "".join(f"<br>{escape(_short(n))}" for n in names[i][j])
            + ("<br>…" if counts[i][j] > len(names[i][j]) else "")
            for j in range(BINS)
        ]
        for i in range(BINS)
    ]
    labels = [_bin_label(i) for i in range(BINS)]
    text = [[str(c) if c else "" for c in row] for row in counts]
    fig = go.Figure(
        go.Heatmap(
            z=counts,
            x=labels,
            y=labels,
            text=text,
            texttemplate="%{text}",
            hovertext=hover,
            hoverinfo="text",
            colorscale=[[0, "rgba(127,127,127,0.08)"], [0.001, "#fff3b0"], [1, "#d32f2f"]],
            showscale=False,
            xgap=2,
            ygap=2,
        )
    )
    fig.update_layout(
        title={"text": "Assets by likelihood and impact", "font": {"size": 13}},
        xaxis_title="likelihood",
        yaxis_title="impact",
        width=440,
        height=360,
        margin={"l": 60, "r": 10, "t": 40, "b": 50},
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        font={"color": "#888", "size": 11},
    )
    return fig


def _short(name: str, limit: int = 48) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"


def _register_columns() -> list[Column[AssetRisk]]:
    return [
        Column("asset", "Asset", lambda r: r.asset_name, width="240px"),
        Column("kind", "Kind", lambda r: r.asset_kind, width="110px", filterable=True),
        level_column("priority", "Priority", lambda r: r.priority, levels=Priority),
        Column("score", "Score", lambda r: r.score, width="80px", searchable=False),
        Column("likelihood", "Likelihood", lambda r: r.likelihood, width="95px", searchable=False),
        Column("impact", "Impact", lambda r: r.impact, width="80px", searchable=False),
        Column(
            "findings",
            "Findings",
            lambda r: sum(r.findings.values()),
            width="85px",
            searchable=False,
        ),
        Column("eu_tier", "EU AI Act", lambda r: r.eu_ai_act_tier, width="110px", filterable=True),
    ]


def _coverage_columns() -> list[Column[CoverageRow]]:
    return [
        Column(
            "item",
            "Item",
            lambda r: ("  " * r.depth) + r.item.id,
            width="150px",
            sort_key=lambda v: str(v).strip(),
        ),
        Column("name", "Name", lambda r: r.item.name, width="260px"),
        Column("status", "Status", lambda r: r.status.value, width="110px", filterable=True),
        Column("open", "Open findings", lambda r: r.open_findings, width="100px"),
        Column("present", "Controls present", lambda r: list(r.present), width="170px"),
        Column("missing", "Controls missing", lambda r: list(r.missing), width="170px"),
    ]


def _risk_detail_html(r: AssetRisk) -> str:
    dims = "".join(
        f"<tr><th class='k'>{escape(d.dimension.value)}</th><td>{d.score:g}</td><td>"
        + escape("; ".join(f"{x.points:+g} {x.text}" for x in d.reasons if x.points))
        + "</td></tr>"
        for d in r.dimensions
    )
    found = ", ".join(f"{n} {escape(s)}" for s, n in r.findings.items() if n) or "none"
    tier = ""
    if r.eu_ai_act_tier:
        why = "; ".join(r.eu_ai_act_reasons)
        tier = (
            f"<div>EU AI Act tier <b>{escape(r.eu_ai_act_tier)}</b> "
            f"<span class='k'>{escape(why)}</span></div>"
        )
    return (
        f"<h4>{escape(r.asset_name)} <span class='k'>{escape(r.asset_kind.value)}</span> "
        f"{badge(r.priority.value, r.priority.value)}</h4>"
        f"<div>score {r.score:.1f} · likelihood {r.likelihood:.1f} · impact {r.impact:.1f} · "
        f"open findings: {found}</div><table>{dims}</table>{tier}"
    )


def _coverage_summary_html(cov: Coverage) -> str:
    colours = {"open findings": "#e53935", "addressed": "#43a047", "not covered": "#9e9e9e"}
    parts = []
    for _key, counts in cov.summary().items():
        total = sum(counts.values()) or 1
        bar = "".join(
            f"<span title='{escape(status)}: {n}' style='display:inline-block;height:10px;"
            f"width:{300 * n / total:.0f}px;background:{colours.get(status, '#888')}'></span>"
            for status, n in counts.items()
            if n
        )
        legend = " · ".join(
            f"<span style='color:{colours.get(s, '#888')}'>■</span> {n} {escape(s)}"
            for s, n in counts.items()
        )
        parts.append(f"<div>{bar}</div><div class='k'>{legend}</div>")
    return "".join(parts)


class RiskPanel(VBox):  # type: ignore[misc]
    """Heat map, risk register and framework coverage of the latest assessment.

    Args:
        posture: Where the risks and coverage come from.
        framework: The framework shown first (a key of :data:`FRAMEWORKS`).
        page_size: Rows per page of the register.

    Attributes:
        heatmap: The ``Output`` showing the plotly heat map (``.figure`` holds it).
        register: The :class:`PagedTable` of the risk register.
        register_detail: ``HTML`` with the dimension reasons of the risk opened.
        framework: The framework ``Dropdown``.
        coverage_table: The :class:`PagedTable` of the framework's items.
    """

    def __init__(
        self, posture: Posture, *, framework: str = "owasp-llm", page_size: int = 25
    ) -> None:
        super().__init__()
        add_classes(self, "aiposture-risk")
        self.posture = posture
        self.summary = html_widget("", "aiposture-risk-summary")
        self.heatmap = add_classes(W.Output(), "aiposture-heatmap")
        self.heatmap.figure = None
        self.register = PagedTable(
            Table([], _register_columns()),
            page_size=page_size,
            on_open=self.show_risk,
            css="aiposture-risk-register",
        )
        self.register.sort_by("score", descending=True)
        self.register_detail = html_widget("", "aiposture-risk-detail")

        self.framework = add_classes(
            W.Dropdown(
                options=list(FRAMEWORKS),
                value=framework,
                description="Framework",
                style={"description_width": "initial"},
                layout=W.Layout(width="auto"),
            ),
            "aiposture-coverage-framework",
        )
        self.framework.observe(self._framework_changed, names="value")
        self.coverage_summary = html_widget("", "aiposture-coverage-summary")
        self.coverage_table = PagedTable(
            Table([], _coverage_columns()), page_size=page_size, css="aiposture-coverage-table"
        )
        coverage = add_classes(
            W.VBox(
                [
                    html_widget("<h4>Framework coverage</h4>"),
                    self.framework,
                    self.coverage_summary,
                    self.coverage_table,
                ]
            ),
            "aiposture-coverage",
        )
        top = W.HBox([self.heatmap, self.summary], layout=W.Layout(align_items="flex-start"))
        self.children = (
            html_widget(STYLE),
            top,
            html_widget("<h4>Risk register</h4>"),
            self.register,
            self.register_detail,
            coverage,
        )
        self.refresh()

    @property
    def figure(self) -> Any:
        """The plotly heat map figure shown."""
        return self.heatmap.figure

    def refresh(self) -> None:
        """Re-read the latest assessment and the coverage of the chosen framework."""
        risks = list(self.posture.risks)
        self.register.set_items(risks)
        show_figure(self.heatmap, heatmap_figure(risks))
        self.summary.value = self._summary_html(risks)
        self.show_coverage(str(self.framework.value))

    def _summary_html(self, risks: Sequence[AssetRisk]) -> str:
        if not risks:
            return (
                "<div class='k'>No assessment yet: run <code>posture.assess()</code>, "
                "then refresh.</div>"
            )
        by: dict[str, int] = {}
        for r in risks:
            by[r.priority.value] = by.get(r.priority.value, 0) + 1
        rows = "".join(
            f"<tr><td>{badge(p.value, p.value)}</td><td>{by.get(p.value, 0)}</td></tr>"
            for p in reversed(Priority)
        )
        top = "".join(
            f"<li>{escape(_short(r.asset_name))} {badge(r.priority.value, r.priority.value)} "
            f"<span class='k'>{r.score:.1f}</span></li>"
            for r in sorted(risks, key=lambda r: -r.score)[:5]
        )
        return (
            f"<b>{len(risks)}</b> assets assessed<table>{rows}</table>"
            f"<div>Highest risk</div><ol>{top}</ol>"
        )

    def show_risk(self, risk: AssetRisk) -> None:
        """Show the reasons behind one asset's risk under the register."""
        self.register_detail.value = _risk_detail_html(risk)

    def show_coverage(self, framework: str) -> None:
        """Show the coverage of ``framework`` (``owasp-llm``, ``atlas``, ``nist-ai-rmf``,
        ``eu-ai-act``)."""
        if self.framework.value != framework:
            self.framework.value = framework  # its observer calls back here
            return
        try:
            # controls as the latest assessment recorded them, like the register above
            cov = self.posture.coverage(framework, as_assessed=True)
        except AIPostureError as exc:
            self.coverage_summary.value = f"<div class='aiposture-error'>{escape(exc)}</div>"
            self.coverage_table.set_items([])
            return
        self.coverage_summary.value = _coverage_summary_html(cov)
        self.coverage_table.set_items(list(cov))

    def _framework_changed(self, change: Mapping[str, Any]) -> None:
        self.show_coverage(str(change["new"]))
