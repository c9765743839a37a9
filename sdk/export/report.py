"""A posture report for auditors, in Markdown or self-contained HTML.

:func:`posture_report` writes, from an assessment snapshot, the findings and the assets:

1. a **summary**: assets by priority, open findings by severity, the top risks with the
   reasons that weigh most in their score, and any rule that failed;
2. one section per **framework** (OWASP Top 10 for LLM Applications 2025, MITRE ATLAS,
   NIST AI RMF 1.0, EU AI Act; or only the one asked for) listing every item with its
   status: *open findings*, *addressed* (a control that addresses it is present) or
   *not covered* (see :mod:`aiposture.risk.frameworks`);
3. the **EU AI Act tier** of each AI system with its reasoning (from the snapshot when
   it has them, else classified here);
4. the open findings themselves.

Everything shown comes from scanned files and is untrusted: HTML output escapes every
value and loads nothing from outside (inline CSS, no script); Markdown output
backslash-escapes the characters that would make a value into markup, a link or a
table cell boundary. No evidence snippet is included.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from aiposture.errors import ConfigError
from aiposture.models import (
    Asset,
    AssetRisk,
    Finding,
    FindingStatus,
    Relation,
    RiskSnapshot,
    Severity,
    escape,
    utcnow,
)
from aiposture.risk.eu_ai_act import Tier, classify_estate
from aiposture.risk.frameworks import (
    CoverageStatus,
    coverage,
    estate_controls,
    frameworks,
)
from aiposture.risk.frameworks import framework as get_framework
from aiposture.risk.graph import ACTIVE_STATUSES, EstateGraph

__all__ = ["ReportFormat", "posture_report"]

ReportFormat = Literal["markdown", "html"]

#: Rows of the top-risks table.
TOP_RISKS = 10
#: Reasons shown per top risk.
TOP_REASONS = 3
#: Rows of the open-findings table.
MAX_FINDINGS = 200

_MD_SPECIAL = re.compile(r"([\\`*{}\[\]<>|~&])")
#: An underscore that could open or close emphasis (one inside a word cannot).
_MD_UNDERSCORE = re.compile(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")
_STATUS_MARK = {
    CoverageStatus.OPEN_FINDINGS: "open findings",
    CoverageStatus.ADDRESSED: "addressed",
    CoverageStatus.NOT_COVERED: "not covered",
}

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;color:#1c1917;margin:2rem auto;
max-width:1100px;padding:0 1rem;line-height:1.45;font-size:14px}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.25rem;margin-top:2rem;
border-bottom:1px solid #d6d3d1;padding-bottom:.2rem}h3{font-size:1.05rem;margin-top:1.4rem}
p.meta{color:#57534e;margin-top:0}
table{border-collapse:collapse;margin:.6rem 0 1rem;max-width:100%}
th,td{border:1px solid #e7e5e4;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f5f5f4}td ul{margin:0;padding-left:1.1rem}
.s-critical,.st-open{color:#b91c1c;font-weight:600}.s-high{color:#c2410c;font-weight:600}
.s-medium{color:#a16207}.s-low{color:#1d4ed8}.st-addressed{color:#15803d}
.st-not{color:#78716c}.t-prohibited{color:#b91c1c;font-weight:700}
.t-high-risk{color:#c2410c;font-weight:600}.t-limited-risk{color:#a16207}
.st-open,.st-addressed,.st-not,.t-prohibited,.t-high-risk,.t-limited-risk,.t-minimal-risk
{white-space:nowrap}
"""


# --- a tiny document model, rendered to either format --------------------------------------


@dataclass
class _Cell:
    text: str = ""
    items: list[str] | None = None
    css: str = ""


@dataclass
class _Table:
    headers: list[str]
    rows: list[list[_Cell]] = field(default_factory=list)


@dataclass
class _Section:
    title: str
    level: int = 2
    blocks: list[str | _Table] = field(default_factory=list)


def _md(text: object) -> str:
    flat = " ".join(str(text).split())
    return _MD_UNDERSCORE.sub(r"\\_", _MD_SPECIAL.sub(r"\\\1", flat))


def _md_cell(cell: _Cell) -> str:
    if cell.items is not None:
        return "<br>".join(_md(i) for i in cell.items) if cell.items else ""
    return _md(cell.text)


def _render_markdown(title: str, meta: list[str], sections: list[_Section]) -> str:
    out = [f"# {_md(title)}", ""]
    out.extend(f"{_md(m)}  " for m in meta)
    out.append("")
    for s in sections:
        out.append(f"{'#' * s.level} {_md(s.title)}")
        out.append("")
        for b in s.blocks:
            if isinstance(b, _Table):
                out.append("| " + " | ".join(_md(h) for h in b.headers) + " |")
                out.append("|" + "---|" * len(b.headers))
                for row in b.rows:
                    out.append("| " + " | ".join(_md_cell(c) for c in row) + " |")
            else:
                out.append(_md(b))
            out.append("")
    return "\n".join(out).rstrip() + "\n"


def _html_cell(cell: _Cell) -> str:
    cls = f' class="{escape(cell.css)}"' if cell.css else ""
    if cell.items is not None:
        inner = (
            "<ul>" + "".join(f"<li>{escape(i)}</li>" for i in cell.items) + "</ul>"
            if cell.items
            else ""
        )
    else:
        inner = escape(cell.text)
    return f"<td{cls}>{inner}</td>"


def _render_html(title: str, meta: list[str], sections: list[_Section]) -> str:
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        '<p class="meta">' + "<br>".join(escape(m) for m in meta) + "</p>",
    ]
    for s in sections:
        out.append(f"<h{s.level}>{escape(s.title)}</h{s.level}>")
        for b in s.blocks:
            if isinstance(b, _Table):
                head = "".join(f"<th>{escape(h)}</th>" for h in b.headers)
                body = "".join(
                    "<tr>" + "".join(_html_cell(c) for c in row) + "</tr>" for row in b.rows
                )
                out.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
            else:
                out.append(f"<p>{escape(b)}</p>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


# --- content --------------------------------------------------------------------------------


def _fw_label(key: str) -> str:
    fw = frameworks()[key]
    return fw.name if fw.version in fw.name else f"{fw.name} {fw.version}"


def _is_open(f: Finding) -> bool:
    return not f.stale and f.status in ACTIVE_STATUSES


def _severity_counts(findings: Iterable[Finding]) -> dict[str, int]:
    counts = Counter(f.severity.value for f in findings)
    return {s.value: counts.get(s.value, 0) for s in reversed(Severity)}


def _top_reasons(risk: AssetRisk, n: int = TOP_REASONS) -> list[str]:
    scored = [
        (r.points, d.dimension.value.replace("_", " "), r.text)
        for d in risk.dimensions
        for r in d.reasons
        if r.points > 0
    ]
    scored.sort(key=lambda x: -x[0])
    return [f"{dim}: {text} (+{points:g})" for points, dim, text in scored[:n]]


def _summary(
    snapshot: RiskSnapshot | None,
    findings: Sequence[Finding],
    assets: Sequence[Asset],
) -> list[_Section]:
    sec = _Section("Summary")
    current = [a for a in assets if not a.stale]
    sec.blocks.append(f"{len(current)} current assets in the inventory ({len(assets)} in total).")
    if snapshot is not None:
        table = _Table(["Priority", "Assets"])
        for prio, n in snapshot.by_priority().items():
            table.rows.append([_Cell(prio, css=f"s-{prio}"), _Cell(str(n))])
        sec.blocks.append(
            f"Assets by priority, from the assessment of {snapshot.taken_at:%Y-%m-%d %H:%M} UTC:"
        )
        sec.blocks.append(table)
    else:
        sec.blocks.append("No risk assessment was given: assets are not prioritised.")

    open_f = [f for f in findings if _is_open(f)]
    sev = _Table(["Severity", "Open findings"])
    for s, n in _severity_counts(open_f).items():
        sev.rows.append([_Cell(s, css=f"s-{s}"), _Cell(str(n))])
    sec.blocks.append(f"{len(open_f)} open findings, by severity:")
    sec.blocks.append(sev)
    by_status = Counter(f.status.value for f in findings if not f.stale)
    accepted = by_status.get(FindingStatus.ACCEPTED.value, 0)
    false_pos = by_status.get(FindingStatus.FALSE_POSITIVE.value, 0)
    resolved = by_status.get(FindingStatus.RESOLVED.value, 0)
    sec.blocks.append(
        f"Also: {accepted} accepted risks, {false_pos} false positives, {resolved} resolved."
    )

    out = [sec]
    if snapshot is not None and snapshot.risks:
        top = _Section("Top risks", level=3)
        table = _Table(["#", "Asset", "Kind", "Priority", "Score", "Why"])
        ranked = sorted(snapshot.risks, key=lambda r: (-r.score, r.asset_name))[:TOP_RISKS]
        for i, r in enumerate(ranked, 1):
            table.rows.append(
                [
                    _Cell(str(i)),
                    _Cell(r.asset_name),
                    _Cell(r.asset_kind.value),
                    _Cell(r.priority.value, css=f"s-{r.priority.value}"),
                    _Cell(f"{r.score:.1f}"),
                    _Cell(items=_top_reasons(r)),
                ]
            )
        top.blocks.append(table)
        out.append(top)
    if snapshot is not None and snapshot.rule_errors:
        errs = _Section("Rules that failed", level=3)
        table = _Table(["Rule", "Asset", "Error"])
        for e in snapshot.rule_errors:
            table.rows.append([_Cell(e.rule_id), _Cell(e.asset_id or ""), _Cell(e.error)])
        errs.blocks.append(
            "These rules raised an error on an asset; the assessment went on without them."
        )
        errs.blocks.append(table)
        out.append(errs)
    return out


def _framework_sections(
    keys: list[str], findings: Sequence[Finding], graph: EstateGraph
) -> list[_Section]:
    present = estate_controls(graph)
    out: list[_Section] = []
    for key in keys:
        fw = get_framework(key)
        cov = coverage(findings, present, key)
        sec = _Section(_fw_label(key))
        counts = cov.summary().get(key, {})
        sec.blocks.append(
            f"Version {fw.version}, published {fw.published}; source {fw.source_url}. "
            + ", ".join(f"{n} {status}" for status, n in counts.items())
            + "."
        )
        if fw.notes:
            sec.blocks.append(fw.notes)
        table = _Table(["Item", "Name", "Status", "Open findings", "Controls present", "Missing"])
        for row in cov:
            sev = [f"{n} {s}" for s, n in row.findings.items() if n]
            css = {
                CoverageStatus.OPEN_FINDINGS: "st-open",
                CoverageStatus.ADDRESSED: "st-addressed",
                CoverageStatus.NOT_COVERED: "st-not",
            }[row.status]
            indent = ". " * row.depth
            table.rows.append(
                [
                    _Cell(row.item.id),
                    _Cell(indent + row.item.name),
                    _Cell(_STATUS_MARK[row.status], css=css),
                    _Cell(", ".join(sev)),
                    _Cell(", ".join(row.present)),
                    _Cell(", ".join(row.missing)),
                ]
            )
        sec.blocks.append(table)
        out.append(sec)
    return out


def _eu_ai_act_section(snapshot: RiskSnapshot | None, graph: EstateGraph) -> _Section:
    sec = _Section("EU AI Act tier of each AI system")
    rows: list[tuple[str, str, str, list[str]]] = []
    from_snapshot = [
        r for r in (snapshot.risks if snapshot is not None else []) if r.eu_ai_act_tier
    ]
    if from_snapshot:
        for r in from_snapshot:
            rows.append(
                (r.asset_name, r.asset_kind.value, str(r.eu_ai_act_tier), r.eu_ai_act_reasons)
            )
        sec.blocks.append("Tiers as recorded by the assessment.")
    else:
        for aid, c in classify_estate(graph).items():
            a = graph.assets[aid]
            rows.append((a.name, a.kind.value, c.tier.value, c.reasons))
    if not rows:
        sec.blocks.append("No AI system (application, agent, model or AI service) is inventoried.")
        return sec
    order = {t.value: t.rank for t in Tier}
    rows.sort(key=lambda r: (-order.get(r[2], -1), r[0]))
    counts = Counter(r[2] for r in rows)
    sec.blocks.append(
        ", ".join(f"{counts.get(t.value, 0)} {t.label}" for t in reversed(Tier))
        + ". The tier is a triage indication from declared use cases and the estate graph,"
        " not a legal assessment."
    )
    table = _Table(["AI system", "Kind", "Tier", "Reasoning"])
    for name, kind, tier, reasons in rows:
        table.rows.append(
            [_Cell(name), _Cell(kind), _Cell(tier, css=f"t-{tier}"), _Cell(items=list(reasons))]
        )
    sec.blocks.append(table)
    return sec


def _findings_section(
    findings: Sequence[Finding], assets: dict[str, Asset], key: str | None
) -> _Section:
    open_f = [f for f in findings if _is_open(f)]
    if key is not None:
        prefix = f"{key}:"
        open_f = [f for f in open_f if any(t.startswith(prefix) for t in f.tags)]
    open_f.sort(key=lambda f: (-f.severity.rank, f.rule_id, f.asset_id))
    sec = _Section("Open findings")
    if not open_f:
        sec.blocks.append("No open findings.")
        return sec
    table = _Table(["Severity", "Rule", "Finding", "Asset", "Framework items"])
    for f in open_f[:MAX_FINDINGS]:
        a = assets.get(f.asset_id)
        where = f"{a.kind.value} {a.name}" if a is not None else f.asset_id
        tags = [t for t in f.tags if ":" in t and not t.startswith(("control:", "mcp-"))]
        table.rows.append(
            [
                _Cell(f.severity.value, css=f"s-{f.severity.value}"),
                _Cell(f.rule_id),
                _Cell(f.title),
                _Cell(where),
                _Cell(", ".join(tags)),
            ]
        )
    if len(open_f) > MAX_FINDINGS:
        sec.blocks.append(f"The {MAX_FINDINGS} most severe of {len(open_f)} open findings:")
    sec.blocks.append(table)
    return sec


def posture_report(
    snapshot: RiskSnapshot | None,
    findings: Iterable[Finding],
    assets: Iterable[Asset],
    framework: str | None = None,
    format: ReportFormat = "markdown",
    *,
    relations: Iterable[Relation] = (),
    title: str = "AI security posture report",
) -> str:
    """The posture report (see the module docs).

    Args:
        snapshot: The assessment to report (priorities, top risks, EU AI Act tiers), or
            None when the estate has not been assessed.
        findings: The estate's findings (any status; open ones are counted as open).
        assets: The estate's assets.
        framework: One framework's tag prefix (``owasp-llm``, ``atlas``, ``nist-ai-rmf``,
            ``eu-ai-act``), or None for all of them.
        format: ``markdown`` or ``html`` (a self-contained page).
        relations: The estate's relations: they show controls such as a leakage index
            and let the EU AI Act classification see what each system calls.
        title: The report's title.

    Raises:
        ConfigError: ``format`` is not markdown or html.
        NotFoundError: ``framework`` names no framework.
    """
    if format not in ("markdown", "html"):
        raise ConfigError(f"unknown report format {format!r}; use markdown or html")
    keys = [get_framework(framework).key] if framework is not None else list(frameworks())
    finding_list = list(findings)
    asset_list = list(assets)
    graph = EstateGraph.build(asset_list, relations, finding_list)

    meta = [f"Generated {utcnow():%Y-%m-%d %H:%M} UTC by aiposture."]
    if snapshot is not None:
        meta.append(
            f"Assessment {snapshot.id} of {snapshot.taken_at:%Y-%m-%d %H:%M} UTC"
            + (f" by {snapshot.actor}" if snapshot.actor else "")
            + f": {snapshot.rules_run} rules run."
        )
    meta.append("Frameworks: " + "; ".join(_fw_label(k) for k in keys) + ".")

    sections = _summary(snapshot, finding_list, asset_list)
    sections.extend(_framework_sections(keys, finding_list, graph))
    if "eu-ai-act" in keys:
        sections.append(_eu_ai_act_section(snapshot, graph))
    sections.append(
        _findings_section(finding_list, graph.assets, keys[0] if framework is not None else None)
    )
    if format == "html":
        return _render_html(title, meta, sections)
    return _render_markdown(title, meta, sections)
