"""HTML and text rendering of aiposture objects for notebooks.

Everything shown comes from scanned files and is untrusted: every value is
escaped here, in one place, so no asset name, path or snippet can render as
HTML or run script. ipywidgets are not imported here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from enum import Enum
from typing import Any

from pydantic import BaseModel

from aiposture.models import escape

__all__ = ["model_html", "table_html"]

_STYLE = (
    "<style>"
    ".aip{font-family:var(--jp-ui-font-family,system-ui,sans-serif);font-size:12px;"
    "color:var(--jp-ui-font-color1,inherit);}"
    ".aip table{border-collapse:collapse;}"
    ".aip th,.aip td{padding:2px 8px;text-align:left;vertical-align:top;"
    "border-bottom:1px solid var(--jp-border-color2,rgba(127,127,127,.25));}"
    ".aip th{font-weight:600;}"
    ".aip .k{opacity:.7;}"
    ".aip .sev-critical{color:#d32f2f;font-weight:700}.aip .sev-high{color:#e64a19;font-weight:600}"
    ".aip .sev-medium{color:#f9a825}.aip .sev-low{color:#1976d2}.aip .sev-info{opacity:.7}"
    ".aip code{font-size:11px;}"
    "</style>"
)


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Enum):
        return escape(value.value)
    if isinstance(value, datetime):
        return escape(value.strftime("%Y-%m-%d %H:%M:%S"))
    if isinstance(value, BaseModel):
        return escape(getattr(value, "where", None) or value.model_dump_json())
    if isinstance(value, list | tuple):
        items = [_fmt(v) for v in value[:8]]
        more = f" (+{len(value) - 8} more)" if len(value) > 8 else ""
        return ", ".join(items) + escape(more)
    if isinstance(value, dict):
        return escape(", ".join(f"{k}={v}" for k, v in list(value.items())[:8]))
    return escape(value)


def model_html(obj: BaseModel) -> str:
    """A compact two-column table of a model's fields (evidence listed below)."""
    data = dict(obj)
    title = data.get("name") or data.get("title") or data.get("id") or type(obj).__name__
    rows = []
    evidence = data.pop("evidence", None)
    for key, value in data.items():
        if value in (None, [], {}, ""):
            continue
        cls = f' class="sev-{escape(value.value)}"' if key == "severity" else ""
        rows.append(f'<tr><th class="k">{escape(key)}</th><td{cls}>{_fmt(value)}</td></tr>')
    ev_html = ""
    if evidence:
        ev_rows = "".join(
            f"<tr><td>{escape(e.kind.value)}</td><td><code>{escape(e.where)}</code></td>"
            f"<td>{escape(e.detail or '')}</td><td><code>{escape(e.snippet or '')}</code></td></tr>"
            for e in evidence[:20]
        )
        more = f"<div class='k'>+{len(evidence) - 20} more</div>" if len(evidence) > 20 else ""
        ev_html = (
            "<details><summary>evidence "
            f"({len(evidence)})</summary><table>{ev_rows}</table>{more}</details>"
        )
    return (
        f"{_STYLE}<div class='aip'><b>{escape(type(obj).__name__)}</b> "
        f"{escape(title)}<table>{''.join(rows)}</table>{ev_html}</div>"
    )


def table_html(
    items: Sequence[BaseModel] | Iterable[BaseModel],
    columns: Sequence[str],
    *,
    title: str = "",
    limit: int = 50,
) -> str:
    """An HTML table of models, ``columns`` as headers, at most ``limit`` rows."""
    items = list(items)
    head = "".join(f"<th>{escape(c)}</th>" for c in columns)
    body = []
    for item in items[:limit]:
        cells = []
        for c in columns:
            value = getattr(item, c, None)
            cls = f' class="sev-{escape(value.value)}"' if c == "severity" and value else ""
            cells.append(f"<td{cls}>{_fmt(value)}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    more = (
        f"<div class='k'>showing {limit} of {len(items)}; use .to_pandas() for all</div>"
        if len(items) > limit
        else ""
    )
    return (
        f"{_STYLE}<div class='aip'><b>{escape(title)}</b> "
        f"<span class='k'>({len(items)})</span><table><tr>{head}</tr>{''.join(body)}</table>"
        f"{more}</div>"
    )


def risk_table_html(risks: Sequence[Any], *, title: str = "", limit: int = 50) -> str:
    """The risk register as HTML: priority, score, asset, and the reasons behind each dimension."""
    head = "".join(
        f"<th>{escape(c)}</th>"
        for c in ("priority", "score", "asset", "kind", "likelihood", "impact", "why")
    )
    body = []
    for r in risks[:limit]:
        why = "<br>".join(
            f"<b>{escape(d.dimension.value)} {d.score:g}</b>: "
            + escape("; ".join(f"{x.points:+g} {x.text}" for x in d.reasons if x.points))
            for d in r.dimensions
        )
        body.append(
            f"<tr><td class='sev-{escape(r.priority.value)}'>{escape(r.priority.value)}</td>"
            f"<td>{r.score:.1f}</td><td>{escape(r.asset_name)}</td>"
            f"<td>{escape(r.asset_kind.value)}</td><td>{r.likelihood:.1f}</td>"
            f"<td>{r.impact:.1f}</td><td style='text-align:left'>{why}</td></tr>"
        )
    more = (
        f"<div class='k'>showing {limit} of {len(risks)}; use .to_pandas() for all</div>"
        if len(risks) > limit
        else ""
    )
    return (
        f"{_STYLE}<div class='aip'><b>{escape(title)}</b> "
        f"<span class='k'>({len(risks)})</span><table><tr>{head}</tr>{''.join(body)}</table>"
        f"{more}</div>"
    )
