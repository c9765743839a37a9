"""HTML and text rendering of aiposture objects for notebooks and terminals.

Everything shown comes from scanned files, prompts, model outputs and policy files and
is untrusted: every value is escaped here, in one place (:func:`aiposture.models.escape`),
so no asset name, path, prompt or reason can render as HTML or run script. Values are
only ever element text, never an attribute, a link or a style: a ``javascript:`` URL is
shown as words. The one style block (:data:`STYLE`) reads JupyterLab's ``--jp-*`` theme
variables with fallbacks, and colours severities and badges so they read on light and
dark backgrounds alike. ipywidgets are not imported here.

Every model's ``_repr_html_`` calls :func:`html`, which picks the specialised view of the
object's class (a decision's verdict, an approval's status, a scan's counts...) or falls
back to :func:`model_html`. The ``*_text`` functions are the concise terminal reprs of
the big objects (a scan run, a risk snapshot, a what-if report).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from aiposture.models import escape

if TYPE_CHECKING:
    from aiposture.embeddings.leakage import LeakageIndex
    from aiposture.models import AssetRisk, AuditReport, OutputCheck, RiskSnapshot, ScanRun
    from aiposture.monitor.detectors.injection import InjectionScan
    from aiposture.monitor.models import Detection, Event
    from aiposture.monitor.service import MonitorRun
    from aiposture.policy.approvals import ApprovalIntegrity, ApprovalRequest
    from aiposture.policy.models import Decision, DecisionChange, WhatIfReport

__all__ = [
    "STYLE",
    "approval_html",
    "asset_risk_html",
    "audit_report_html",
    "decision_html",
    "detection_html",
    "event_html",
    "html",
    "injection_scan_html",
    "integrity_html",
    "leakage_index_html",
    "model_html",
    "monitor_run_html",
    "output_check_html",
    "risk_table_html",
    "scan_run_html",
    "scan_run_text",
    "snapshot_html",
    "snapshot_text",
    "table_html",
    "whatif_html",
    "whatif_text",
]

#: Longest untrusted text shown inline before it is shortened.
TEXT_LIMIT = 400

# Severity and badge colours are mid-tone: legible as text on white and on JupyterLab's
# dark background; badges put white text on a saturated fill, the same in both themes.
STYLE = (
    "<style>"
    ".aip{font-family:var(--jp-ui-font-family,system-ui,sans-serif);"
    "font-size:var(--jp-ui-font-size1,12px);color:var(--jp-ui-font-color1,inherit);"
    "line-height:1.4;}"
    ".aip table{border-collapse:collapse;margin:2px 0 4px 0;color:inherit;font-size:inherit;}"
    ".aip th,.aip td{padding:2px 8px;text-align:left;vertical-align:top;"
    "border-bottom:1px solid var(--jp-border-color2,rgba(127,127,127,.25));}"
    ".aip th{font-weight:600;}"
    ".aip .k{color:var(--jp-ui-font-color2,inherit);opacity:.8;font-weight:400;}"
    ".aip code{font-family:var(--jp-code-font-family,monospace);font-size:11px;}"
    ".aip .txt{white-space:pre-wrap;word-break:break-word;max-height:10em;overflow:auto;"
    "margin:2px 0;padding:2px 6px;border-radius:3px;"
    "background:var(--jp-layout-color2,rgba(127,127,127,.1));}"
    ".aip ul{margin:2px 0;padding-left:18px;}"
    ".aip .b{display:inline-block;padding:0 7px;border-radius:9px;font-size:11px;"
    "font-weight:600;color:#fff;background:#6b7280;}"
    ".aip .b-ok{background:#2e7d32}.aip .b-bad{background:#c62828}"
    ".aip .b-warn{background:#b45309}.aip .b-info{background:#1565c0}"
    ".aip .b-muted{background:#6b7280}"
    ".aip .sev-critical{color:#e53935;font-weight:700}"
    ".aip .sev-high{color:#ef6c00;font-weight:600}"
    ".aip .sev-medium{color:#b8860b;font-weight:600}"
    ".aip .sev-low{color:#1e88e5}.aip .sev-info{opacity:.75}"
    ".aip .b.sev-critical{color:#fff;background:#c62828}"
    ".aip .b.sev-high{color:#fff;background:#d84315}"
    ".aip .b.sev-medium{color:#fff;background:#a16207}"
    ".aip .b.sev-low{color:#fff;background:#1565c0}"
    ".aip .b.sev-info{color:#fff;background:#6b7280;opacity:1}"
    "</style>"
)
# Kept for callers written against the first version of this module.
_STYLE = STYLE

_SEVERITY_CLASSES = {"critical", "high", "medium", "low", "info"}


# --- building blocks -----------------------------------------------------------------------


def _wrap(inner: str) -> str:
    return f"{STYLE}<div class='aip'>{inner}</div>"


def _text(value: object, limit: int = TEXT_LIMIT) -> str:
    """Escaped text, shortened to ``limit`` characters with the rest counted."""
    s = str(value)
    if len(s) > limit:
        return escape(s[:limit]) + f"<span class='k'> … (+{len(s) - limit} chars)</span>"
    return escape(s)


def _when(value: datetime | None) -> str:
    return "" if value is None else escape(value.strftime("%Y-%m-%d %H:%M:%S"))


def _sev_class(value: object) -> str:
    v = str(getattr(value, "value", value))
    return f"sev-{v}" if v in _SEVERITY_CLASSES else ""


def _badge(text: object, kind: str = "muted") -> str:
    """A pill of ``text``; ``kind`` is ok, bad, warn, info, muted or a ``sev-*`` class."""
    cls = kind if kind.startswith("sev-") else f"b-{kind}"
    return f"<span class='b {cls}'>{escape(text)}</span>"


def _sev_badge(severity: object) -> str:
    v = str(getattr(severity, "value", severity))
    return _badge(v, _sev_class(v) or "muted")


def _rows(rows: Iterable[tuple[str, str]]) -> str:
    """A two-column table; keys are our own words, values already HTML. Empty rows go."""
    body = "".join(f"<tr><th class='k'>{escape(k)}</th><td>{v}</td></tr>" for k, v in rows if v)
    return f"<table>{body}</table>" if body else ""


def _list(items: Sequence[object], limit: int = 20) -> str:
    if not items:
        return ""
    li = "".join(f"<li>{_text(x)}</li>" for x in items[:limit])
    return f"<ul>{li}</ul>{_more(limit, len(items))}"


def _more(shown: int, total: int, hint: str = "") -> str:
    if total <= shown:
        return ""
    return f"<div class='k'>showing {shown} of {total}{escape(hint)}</div>"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _head(kind: str, title: object, *badges: str, sub: str = "") -> str:
    extra = " ".join(b for b in badges if b)
    sub_html = f" <span class='k'>{sub}</span>" if sub else ""
    return f"<div>{extra} <b>{escape(kind)}</b> {_text(title, 200)}{sub_html}</div>"


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Enum):
        return escape(value.value)
    if isinstance(value, datetime):
        return _when(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return escape(f"{value:.4g}")
    if isinstance(value, BaseModel):
        label = getattr(value, "where", None) or getattr(value, "id", None)
        return _text(label if label else value.model_dump_json(), 200)
    if isinstance(value, list | tuple | set | frozenset):
        seq = list(value)
        items = [_fmt(v) for v in seq[:8]]
        more = f" (+{len(seq) - 8} more)" if len(seq) > 8 else ""
        return ", ".join(items) + escape(more)
    if isinstance(value, Mapping):
        pairs = list(value.items())
        text = ", ".join(f"{getattr(k, 'value', k)}={v}" for k, v in pairs[:8])
        more = f" (+{len(pairs) - 8} more)" if len(pairs) > 8 else ""
        return _text(text + more, 300)
    return _text(value)


def _evidence_html(evidence: Sequence[Any]) -> str:
    if not evidence:
        return ""
    rows = []
    for e in evidence[:20]:
        if isinstance(e, BaseModel) and hasattr(e, "where"):
            rows.append(
                f"<tr><td>{_fmt(getattr(e, 'kind', ''))}</td><td><code>{_text(e.where, 200)}"
                f"</code></td><td>{_text(getattr(e, 'detail', None) or '', 200)}</td>"
                f"<td><code>{_text(getattr(e, 'snippet', None) or '', 200)}</code></td></tr>"
            )
        else:
            rows.append(f"<tr><td>{_fmt(e)}</td></tr>")
    more = _more(20, len(evidence))
    return (
        f"<details><summary>evidence ({len(evidence)})</summary>"
        f"<table>{''.join(rows)}</table>{more}</details>"
    )


# --- generic views -------------------------------------------------------------------------


def model_html(obj: BaseModel) -> str:
    """A compact two-column table of a model's fields (evidence listed below, folded)."""
    data = dict(obj)
    title = data.get("name") or data.get("title") or data.get("id") or ""
    evidence = data.pop("evidence", None)
    rows = []
    for key, value in data.items():
        if value is None or (isinstance(value, list | tuple | dict | str) and not value):
            continue
        sev = _sev_class(value) if key in ("severity", "priority") else ""
        cls = f' class="{sev}"' if sev else ""
        rows.append(f'<tr><th class="k">{escape(key)}</th><td{cls}>{_fmt(value)}</td></tr>')
    return _wrap(
        f"<b>{escape(type(obj).__name__)}</b> {_text(title, 200)}"
        f"<table>{''.join(rows)}</table>{_evidence_html(evidence or [])}"
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
            sev = _sev_class(value) if c in ("severity", "priority") and value else ""
            cls = f' class="{sev}"' if sev else ""
            cells.append(f"<td{cls}>{_fmt(value)}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    more = _more(limit, len(items), "; use .to_pandas() for all")
    return _wrap(
        f"<b>{escape(title)}</b> <span class='k'>({len(items)})</span>"
        f"<table><tr>{head}</tr>{''.join(body)}</table>{more}"
    )


def risk_table_html(risks: Sequence[AssetRisk], *, title: str = "", limit: int = 50) -> str:
    """The risk register as HTML: priority, score, asset, and the reasons behind each dimension."""
    head = "".join(
        f"<th>{escape(c)}</th>"
        for c in ("priority", "score", "asset", "kind", "likelihood", "impact", "why")
    )
    body = []
    for r in risks[:limit]:
        why = "<br>".join(
            f"<b>{escape(d.dimension.value)} {d.score:g}</b>: "
            + _text("; ".join(f"{x.points:+g} {x.text}" for x in d.reasons if x.points), 300)
            for d in r.dimensions
        )
        body.append(
            f"<tr><td>{_sev_badge(r.priority)}</td>"
            f"<td>{r.score:.1f}</td><td>{_text(r.asset_name, 200)}</td>"
            f"<td>{escape(r.asset_kind.value)}</td><td>{r.likelihood:.1f}</td>"
            f"<td>{r.impact:.1f}</td><td>{why}</td></tr>"
        )
    more = _more(limit, len(risks), "; use .to_pandas() for all")
    return _wrap(
        f"<b>{escape(title)}</b> <span class='k'>({len(risks)})</span>"
        f"<table><tr>{head}</tr>{''.join(body)}</table>{more}"
    )


# --- inventory, scans, risk, audit ---------------------------------------------------------


def scan_run_html(run: ScanRun) -> str:
    """A scan run: status, roots, duration, the non-zero counts, errors and warnings."""
    status = run.status.value
    kind = {"completed": "ok", "failed": "bad"}.get(status, "info")
    dur = run.duration_s
    counts = [(k, escape(v)) for k, v in run.counts.model_dump().items() if v]
    issues = "".join(
        f"<tr><td><code>{_text(i.path, 200)}</code></td><td>{escape(i.line or '')}</td>"
        f"<td>{_text(i.scanner or '', 80)}</td><td>{_text(i.reason, 300)}</td></tr>"
        for i in run.errors[:20]
    )
    err = (
        f"<details><summary>errors ({len(run.errors)})</summary><table>"
        f"<tr><th>path</th><th>line</th><th>scanner</th><th>reason</th></tr>{issues}</table>"
        f"{_more(20, len(run.errors))}</details>"
        if run.errors
        else ""
    )
    warn = (
        f"<details><summary>warnings ({len(run.warnings)})</summary>"
        f"{_list([f'{w.path}: {w.reason}' for w in run.warnings])}</details>"
        if run.warnings
        else ""
    )
    info = _rows(
        [
            ("roots", _fmt(run.roots)),
            ("logs", _fmt(run.logs)),
            ("started", _when(run.started_at)),
            ("took", "" if dur is None else f"{dur:.1f} s"),
            *counts,
        ]
    )
    return _wrap(
        _head(
            "Scan",
            run.id,
            _badge(status, kind),
            _badge(_plural(len(run.errors), "error"), "bad") if run.errors else "",
        )
        + info
        + err
        + warn
    )


def scan_run_text(run: ScanRun) -> str:
    """One line: id, status, assets and findings seen, errors."""
    c = run.counts
    return (
        f"ScanRun({run.id!r}, {run.status.value}, {c.files_scanned} files scanned, "
        f"{c.assets_seen} assets ({c.assets_new} new), {c.findings_seen} findings, "
        f"{len(run.errors)} errors, {len(run.warnings)} warnings)"
    )


def asset_risk_html(risk: AssetRisk) -> str:
    """One asset's risk: priority, score, likelihood x impact, each dimension with reasons."""
    dims = "".join(
        f"<tr><th class='k'>{escape(d.dimension.value)}</th><td>{d.score:g}</td><td>"
        + "<br>".join(
            f"{x.points:+g} {_text(x.text, 300)}"
            + (f" <code>{_text(x.ref, 80)}</code>" if x.ref else "")
            for x in d.reasons
        )
        + "</td></tr>"
        for d in risk.dimensions
    )
    findings = ", ".join(f"{escape(v)} {escape(k)}" for k, v in risk.findings.items() if v)
    tier = ""
    if risk.eu_ai_act_tier:
        tier = escape(risk.eu_ai_act_tier) + _list(risk.eu_ai_act_reasons, 5)
    return _wrap(
        _head(
            "Risk",
            risk.asset_name,
            _sev_badge(risk.priority),
            sub=f"{escape(risk.asset_kind.value)} · <code>{escape(risk.asset_id)}</code>",
        )
        + _rows(
            [
                ("score", f"{risk.score:.1f} / 100"),
                ("likelihood", f"{risk.likelihood:.1f}"),
                ("impact", f"{risk.impact:.1f}"),
                ("findings", findings),
                ("EU AI Act", tier),
            ]
        )
        + (f"<table>{dims}</table>" if dims else "")
    )


def snapshot_html(snap: RiskSnapshot, *, limit: int = 10) -> str:
    """A risk snapshot: when, by whom, assets by priority, then the top of the register."""
    prio = " ".join(_sev_badge(k) + f" {n}" for k, n in snap.by_priority().items() if n)
    findings = ", ".join(f"{escape(v)} {escape(k)}" for k, v in snap.findings.items() if v)
    errors = _list([f"{e.rule_id} on {e.asset_id or '-'}: {e.error}" for e in snap.rule_errors], 10)
    top = sorted(snap.risks, key=lambda r: -r.score)[:limit]
    register = risk_table_html(top, title=f"top {len(top)} of {len(snap.risks)}") if top else ""
    return (
        _wrap(
            _head("Risk snapshot", snap.id, sub=f"{_when(snap.taken_at)} {escape(snap.actor)}")
            + _rows(
                [
                    ("assets", f"{len(snap.risks)} {prio}"),
                    ("open findings", findings),
                    ("rules run", escape(snap.rules_run)),
                    ("rule errors", f"{len(snap.rule_errors)}{errors}" if errors else ""),
                    ("took", f"{snap.seconds:.2f} s"),
                ]
            )
        )
        + register
    )


def snapshot_text(snap: RiskSnapshot) -> str:
    """One line: id, time, assets by priority, rule errors."""
    prio = ", ".join(f"{n} {k}" for k, n in snap.by_priority().items() if n)
    return (
        f"RiskSnapshot({snap.id!r}, {snap.taken_at:%Y-%m-%d %H:%M}, {len(snap.risks)} assets"
        f"{': ' + prio if prio else ''}, {len(snap.rule_errors)} rule errors)"
    )


def audit_report_html(report: AuditReport) -> str:
    """The verdict on the audit chain."""
    badge = _badge("chain intact", "ok") if report.ok else _badge("chain broken", "bad")
    return _wrap(
        _head("Audit", "", badge)
        + _rows(
            [
                ("entries", escape(report.entries)),
                ("first bad entry", escape(report.first_bad_seq or "")),
                ("problem", _text(report.problem or "")),
            ]
        )
    )


def output_check_html(check: OutputCheck) -> str:
    """One output's leakage verdict and its matches (record excerpts escaped)."""
    kind = {"none": "ok", "paraphrase": "warn"}.get(check.leak_type.value, "bad")
    rows = "".join(
        f"<tr><td>{escape(m.leak_type.value)}</td><td><code>{_text(m.record_id, 120)}</code>"
        f"</td><td>{m.score:.2f}</td><td>{escape(m.output_span)}</td>"
        f"<td>{_text(m.record_excerpt, 200)}</td></tr>"
        for m in check.matches[:10]
    )
    table = (
        "<table><tr><th>leak</th><th>record</th><th>score</th><th>output span</th>"
        f"<th>record excerpt</th></tr>{rows}</table>{_more(10, len(check.matches))}"
        if rows
        else ""
    )
    return _wrap(
        _head(
            "Output check",
            check.id,
            _badge(check.leak_type.value, kind),
            sub=f"score {check.score:.2f} · {check.text_length} chars",
        )
        + table
    )


def leakage_index_html(index: LeakageIndex) -> str:
    """A leakage index: counts, the embedding model, chunking and thresholds."""
    m = index.manifest
    thresholds = ", ".join(f"{k}={v}" for k, v in m.get("thresholds", {}).items())
    return _wrap(
        _head("Leakage index", "", sub=f"{index.records} records · {index.chunks} chunks")
        + _rows(
            [
                ("model", _text(f"{m['model']['name']} ({m['model']['precision']})", 200)),
                ("chunking", _fmt(m.get("chunking", {}))),
                ("vectors", _fmt(m.get("vector_index", {}))),
                ("thresholds", _text(thresholds, 400)),
                ("created", _text(m.get("created_at", ""), 40)),
            ]
        )
    )


# --- policy and approvals ------------------------------------------------------------------


def decision_html(decision: Decision) -> str:
    """An access decision: allowed or denied, the request, the deciding policies, why."""
    verdict = _badge("allowed", "ok") if decision.allowed else _badge("denied", "bad")
    by = ", ".join(f"<code>{_text(p, 120)}</code>" for p in decision.decided_by)
    if not by and not decision.allowed:
        by = "<span class='k'>no policy permits it (default deny)</span>"
    return _wrap(
        _head(
            "Decision", f"{decision.principal} → {decision.action} → {decision.resource}", verdict
        )
        + _rows(
            [
                ("principal", _text(decision.principal, 200)),
                ("action", _text(decision.action, 80)),
                ("resource", f"<code>{_text(decision.resource, 200)}</code>"),
                ("decided by", by),
                ("reasons", _list(decision.reasons, 10)),
                ("errors", _list(decision.errors, 10)),
            ]
        )
    )


def _changes_table(changes: Sequence[DecisionChange], limit: int) -> str:
    rows = "".join(
        f"<tr><td>{_text(c.principal, 120)}</td><td>{_text(c.action, 60)}</td>"
        f"<td>{_text(c.resource_name, 120)} <span class='k'>{_text(c.resource_kind, 40)}</span>"
        f"</td><td>{_text(', '.join(c.before_by) or '-', 200)}</td>"
        f"<td>{_text(', '.join(c.after_by) or '-', 200)}</td></tr>"
        for c in changes[:limit]
    )
    return (
        "<table><tr><th>principal</th><th>action</th><th>resource</th><th>before, by</th>"
        f"<th>after, by</th></tr>{rows}</table>{_more(limit, len(changes))}"
    )


def whatif_html(report: WhatIfReport, *, limit: int = 25) -> str:
    """What a draft policy changes: the newly allowed and newly denied requests."""
    allowed, denied = report.newly_allowed, report.newly_denied
    parts = [
        _head(
            "What-if",
            "",
            _badge(f"{len(allowed)} newly allowed", "warn" if allowed else "muted"),
            _badge(f"{len(denied)} newly denied", "info" if denied else "muted"),
            sub=f"{report.evaluated} requests evaluated"
            + (" (stopped early at the bound)" if report.truncated else ""),
        )
    ]
    if allowed:
        parts.append("<div><b>newly allowed</b></div>" + _changes_table(allowed, limit))
    if denied:
        parts.append("<div><b>newly denied</b></div>" + _changes_table(denied, limit))
    if not report.changes:
        parts.append("<div class='k'>The draft changes no decision.</div>")
    return _wrap("".join(parts))


def whatif_text(report: WhatIfReport) -> str:
    """One line: requests evaluated, decisions changed each way."""
    return (
        f"WhatIfReport({report.evaluated} evaluated, {len(report.changes)} changes: "
        f"{len(report.newly_allowed)} newly allowed, {len(report.newly_denied)} newly denied"
        f"{', truncated' if report.truncated else ''})"
    )


_APPROVAL_BADGE = {
    "pending": "warn",
    "approved": "ok",
    "denied": "bad",
    "expired": "muted",
    "used": "info",
}


def approval_html(req: ApprovalRequest) -> str:
    """An approval request: status, who asks to do what to which resource, why, the votes."""
    status = req.status.value
    votes = "".join(
        f"<li>{_badge('approved', 'ok')} {_text(v.reviewer, 120)} "
        f"<span class='k'>{_when(v.at)}</span> {_text(v.reason, 300)}</li>"
        for v in req.approvals
    )
    if req.denial is not None:
        d = req.denial
        votes += (
            f"<li>{_badge('denied', 'bad')} {_text(d.reviewer, 120)} "
            f"<span class='k'>{_when(d.at)}</span> {_text(d.reason, 300)}</li>"
        )
    need = f"{len(req.approvals)} of {req.required_approvals}"
    if req.required_group:
        need += f" from group {_text(req.required_group, 80)}"
    uses = ", ".join(f"{_text(u.by, 80)} {_when(u.at)}" for u in req.uses[:10])
    return _wrap(
        _head("Approval", req.id, _badge(status, _APPROVAL_BADGE.get(status, "muted")))
        + _rows(
            [
                (
                    "requester",
                    f"{_text(req.requester, 120)} "
                    f"<span class='k'>{escape(req.requester_type.value)}</span>",
                ),
                ("action", _text(req.action, 80)),
                ("resource", f"<code>{_text(req.resource, 200)}</code>"),
                ("justification", f"<div class='txt'>{_text(req.justification)}</div>"),
                ("approvals", need),
                ("votes", f"<ul>{votes}</ul>" if votes else ""),
                ("created", _when(req.created_at)),
                ("review by", _when(req.expires_at) if status == "pending" else ""),
                ("valid until", _when(req.valid_until)),
                ("single use", "yes" if req.single_use else "no"),
                ("uses", uses),
            ]
        )
    )


def integrity_html(report: ApprovalIntegrity) -> str:
    """The check of stored approval requests against the audit log."""
    badge = _badge("consistent", "ok") if report.ok else _badge("tampered", "bad")
    return _wrap(
        _head("Approval integrity", "", badge, sub=f"{report.checked} requests checked")
        + _list(report.problems, 20)
    )


# --- monitoring ----------------------------------------------------------------------------


def event_html(event: Event) -> str:
    """One interaction: who, which model, the prompt and response (shortened), tool calls."""
    tools = "".join(
        f"<tr><td><code>{_text(t.name, 80)}</code></td><td>{_text(t.arguments, 200)}</td>"
        f"<td>{_text(t.result, 200)}</td></tr>"
        for t in event.tool_calls[:10]
    )
    tokens = ""
    if event.input_tokens is not None or event.output_tokens is not None:
        tokens = f"{event.input_tokens or 0} in / {event.output_tokens or 0} out"
    return _wrap(
        _head("Event", event.id, sub=f"{_when(event.at)} · {escape(event.source)}")
        + _rows(
            [
                ("principal", _text(event.principal or "", 120)),
                ("application", _text(event.application or "", 120)),
                ("model", _text(event.model or "", 120)),
                ("asset", _text(event.asset_id or "", 120)),
                ("system", f"<div class='txt'>{_text(event.system)}</div>" if event.system else ""),
                ("prompt", f"<div class='txt'>{_text(event.prompt)}</div>" if event.prompt else ""),
                (
                    "response",
                    f"<div class='txt'>{_text(event.response)}</div>" if event.response else "",
                ),
                ("retrieved", _list(event.retrieved, 5)),
                ("tool calls", f"<table>{tools}</table>" if tools else ""),
                ("tokens", tokens),
                ("latency", f"{event.latency_ms:.0f} ms" if event.latency_ms is not None else ""),
                ("error", _text(event.error or "")),
            ]
        )
    )


def _figures(figures: Mapping[str, float]) -> str:
    return ", ".join(f"{escape(k)}={v:.3g}" for k, v in list(figures.items())[:12])


def detection_html(det: Detection) -> str:
    """What a detector found in one event: severity, score, evidence, figures, spans."""
    spans = ", ".join(
        f"{escape(s.field)}[{s.start}:{s.end}] {_text(s.label, 60)}" for s in det.spans[:10]
    )
    return _wrap(
        _head(
            "Detection",
            det.title,
            _sev_badge(det.severity),
            sub=f"{escape(det.detector)} · event <code>{_text(det.event_id, 80)}</code>",
        )
        + _rows(
            [
                ("score", f"{det.score:.2f}"),
                ("scope", escape(det.scope)),
                ("figures", _figures(det.figures)),
                ("spans", spans),
                ("frameworks", _text(", ".join(det.tags), 300)),
            ]
        )
        + _list(det.evidence, 10)
    )


def monitor_run_html(run: MonitorRun) -> str:
    """One monitor run: events, alerts raised, detections per detector, throughput."""
    dets = ", ".join(f"{escape(k)} {v}" for k, v in run.detections.most_common(10))
    red = ", ".join(f"{escape(k)} {v}" for k, v in run.redactions.most_common(10))
    skipped = ", ".join(f"{escape(k)} {v}" for k, v in list(run.skipped.items())[:10])
    alerts = _badge(
        _plural(len(run.new_alerts), "new alert"), "warn" if run.new_alerts else "muted"
    )
    return _wrap(
        _head("Monitor run", "", alerts, sub=f"{run.events} events · {run.events_per_second:.0f}/s")
        + _rows(
            [
                ("stored", escape(run.stored)),
                ("duplicates", escape(run.duplicates or "")),
                ("expired", escape(run.expired or "")),
                ("detections", dets),
                ("alerts updated", escape(run.updated_alerts or "")),
                ("redactions", red),
                ("detector errors", escape(run.detector_errors or "")),
                ("skipped", skipped),
                ("took", f"{run.seconds:.2f} s"),
            ]
        )
    )


def injection_scan_html(scan: InjectionScan) -> str:
    """A prompt-injection verdict: label, score, the heuristics and exemplars behind it."""
    kind = "bad" if scan.label == "injection" else "ok"
    return _wrap(
        _head(
            "Injection scan",
            scan.field or "",
            _badge(scan.label, kind),
            sub=f"score {scan.score:.2f}",
        )
        + _rows([("figures", _figures(scan.figures))])
        + _list(scan.evidence, 10)
    )


# --- dispatch ------------------------------------------------------------------------------

_VIEWS: dict[str, Callable[[Any], str]] = {
    "aiposture.models.ScanRun": scan_run_html,
    "aiposture.models.AssetRisk": asset_risk_html,
    "aiposture.models.RiskSnapshot": snapshot_html,
    "aiposture.models.AuditReport": audit_report_html,
    "aiposture.models.OutputCheck": output_check_html,
    "aiposture.policy.models.Decision": decision_html,
    "aiposture.policy.models.WhatIfReport": whatif_html,
    "aiposture.policy.approvals.ApprovalRequest": approval_html,
    "aiposture.policy.approvals.ApprovalIntegrity": integrity_html,
    "aiposture.monitor.models.Event": event_html,
    "aiposture.monitor.models.Detection": detection_html,
}


def html(obj: BaseModel) -> str:
    """The notebook view of a model: its class's specialised view, else :func:`model_html`."""
    cls = type(obj)
    view = _VIEWS.get(f"{cls.__module__}.{cls.__qualname__}")
    return view(obj) if view is not None else model_html(obj)
