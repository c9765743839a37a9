"""A small picture of one asset's neighbourhood in the estate graph, as inline SVG.

The asset sits in the centre, its neighbours on a circle around it, each edge
labelled with the relation kind and pointing from source to target. Every label
is escaped (asset names are untrusted). Colours come from ``currentColor`` and
JupyterLab's CSS variables, so the picture reads in light and dark themes. No
ipywidgets or plotly are needed to draw it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from aiposture.models import Asset, Relation, escape

__all__ = ["MAX_NEIGHBOURS", "neighbourhood_svg"]

#: Neighbours drawn at most; the rest are counted under the picture.
MAX_NEIGHBOURS = 16

_LABEL_CHARS = 26
_KIND_COLOURS = {
    "model": "#8e24aa",
    "model_file": "#8e24aa",
    "dataset": "#00897b",
    "dataset_index": "#00897b",
    "ai_service": "#1e88e5",
    "application": "#f4511e",
    "notebook": "#fb8c00",
    "package": "#6d4c41",
    "mcp_server": "#3949ab",
    "endpoint": "#039be5",
    "credential": "#e53935",
}


def _short(text: str, limit: int = _LABEL_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass
class _Neighbour:
    id: str
    outgoing: list[str] = field(default_factory=list)  # relation kinds centre -> neighbour
    incoming: list[str] = field(default_factory=list)  # relation kinds neighbour -> centre


def _group(center_id: str, relations: Iterable[Relation]) -> list[_Neighbour]:
    found: dict[str, _Neighbour] = {}
    for r in relations:
        if r.source_id == center_id and r.target_id != center_id:
            n = found.setdefault(r.target_id, _Neighbour(r.target_id))
            n.outgoing.append(r.kind.value)
        elif r.target_id == center_id and r.source_id != center_id:
            n = found.setdefault(r.source_id, _Neighbour(r.source_id))
            n.incoming.append(r.kind.value)
    return list(found.values())


def _node(x: float, y: float, label: str, full: str, kind: str, *, centre: bool = False) -> str:
    colour = _KIND_COLOURS.get(kind, "currentColor")
    width = 7 * min(len(label), _LABEL_CHARS) + 16
    weight = "700" if centre else "400"
    return (
        f"<g class='aiposture-graph-node'><title>{escape(full)}</title>"
        f"<rect x='{x - width / 2:.1f}' y='{y - 17:.1f}' width='{width:.1f}' height='34' rx='6' "
        f"fill='var(--jp-layout-color1, transparent)' stroke='{colour}' "
        f"stroke-width='{2.5 if centre else 1.5}'/>"
        f"<text x='{x:.1f}' y='{y - 3:.1f}' text-anchor='middle' font-weight='{weight}' "
        f"fill='currentColor'>{escape(label)}</text>"
        f"<text x='{x:.1f}' y='{y + 11:.1f}' text-anchor='middle' font-size='9' "
        f"fill='{colour}'>{escape(kind)}</text></g>"
    )


def neighbourhood_svg(
    center: Asset,
    relations: Iterable[Relation],
    assets: Mapping[str, Asset],
    *,
    limit: int = MAX_NEIGHBOURS,
) -> str:
    """The neighbourhood of ``center`` as an ``<svg>`` element (a string of safe HTML).

    Args:
        center: The asset in the middle.
        relations: Relations with ``center`` at one end (others are ignored).
        assets: Assets by id, to name the neighbours (an unknown id is shown as is).
        limit: Neighbours drawn at most; the others are counted in a note.
    """
    neighbours = sorted(
        _group(center.id, relations),
        key=lambda n: (
            assets[n.id].kind.value if n.id in assets else "~",
            assets[n.id].name.casefold() if n.id in assets else n.id,
        ),
    )
    shown, hidden = neighbours[:limit], len(neighbours) - min(len(neighbours), limit)
    width = 640
    radius_x, radius_y = 230.0, 120.0 if len(shown) > 4 else 90.0
    height = int(2 * radius_y + 80) + (18 if hidden else 0)
    cx, cy = width / 2, radius_y + 40
    edges: list[str] = []
    nodes: list[str] = []
    for i, n in enumerate(shown):
        angle = -math.pi / 2 + 2 * math.pi * i / max(len(shown), 1)
        x, y = cx + radius_x * math.cos(angle), cy + radius_y * math.sin(angle)
        other = assets.get(n.id)
        name = other.name if other is not None else n.id
        kind = other.kind.value if other is not None else "unknown"
        # the edge stops short of both boxes so the arrow head stays visible
        dx, dy = x - cx, y - cy
        dist = math.hypot(dx, dy) or 1.0
        ux, uy = dx / dist, dy / dist
        x1, y1 = cx + ux * 30, cy + uy * 22
        x2, y2 = x - ux * 30, y - uy * 22
        kinds = n.outgoing + n.incoming
        label = ", ".join(dict.fromkeys(kinds))
        for kinds_dir, (a, b, c, d) in (
            (n.outgoing, (x1, y1, x2, y2)),
            (n.incoming, (x2, y2, x1, y1)),
        ):
            if kinds_dir:
                edges.append(
                    f"<line x1='{a:.1f}' y1='{b:.1f}' x2='{c:.1f}' y2='{d:.1f}' "
                    "stroke='currentColor' stroke-opacity='.45' stroke-width='1.2' "
                    "marker-end='url(#aiposture-arrow)'/>"
                )
        mx, my = (x1 + x2) / 2, (y1 + y2) / 2
        edges.append(
            f"<text class='aiposture-graph-edge' x='{mx:.1f}' y='{my - 3:.1f}' "
            f"text-anchor='middle' font-size='9' fill='currentColor' fill-opacity='.75'>"
            f"{escape(_short(label, 34))}</text>"
        )
        nodes.append(_node(x, y, _short(name), name, kind))
    nodes.append(_node(cx, cy, _short(center.name), center.name, center.kind.value, centre=True))
    note = ""
    if hidden:
        note = (
            f"<text x='{width / 2:.0f}' y='{height - 6}' text-anchor='middle' font-size='10' "
            f"fill='currentColor' fill-opacity='.7'>+{hidden} more neighbours not drawn</text>"
        )
    if not shown:
        note = (
            f"<text x='{width / 2:.0f}' y='{cy + 40:.0f}' text-anchor='middle' font-size='10' "
            "fill='currentColor' fill-opacity='.7'>no relations</text>"
        )
    return (
        f"<svg class='aiposture-graph-svg' xmlns='http://www.w3.org/2000/svg' "
        f"viewBox='0 0 {width} {height}' width='{width}' height='{height}' "
        "style='max-width:100%;height:auto;font-family:var(--jp-ui-font-family,sans-serif);"
        "font-size:11px;color:var(--jp-ui-font-color1,currentColor)' role='img' "
        f"aria-label='neighbourhood of {escape(center.name)}'>"
        "<defs><marker id='aiposture-arrow' viewBox='0 0 10 10' refX='9' refY='5' "
        "markerWidth='7' markerHeight='7' orient='auto-start-reverse'>"
        "<path d='M0,0L10,5L0,10z' fill='currentColor' fill-opacity='.6'/></marker></defs>"
        f"{''.join(edges)}{''.join(nodes)}{note}</svg>"
    )
