"""Alerts: detections grouped by detector, principal and model within a time window.

A detection becomes part of the newest alert with the same group key (detector,
principal, model) when it falls within ``window`` of that alert's last detection and
the alert is still live (open or acknowledged): the alert's count, last time, score,
severity and recent event ids are updated instead of raising another alert. Outside
the window, or after the alert was resolved, a new alert opens. A detection that
falls within the window of an alert marked false positive is folded into it without
reopening it, so a known false positive does not page anyone again while it lasts.

Severity is the detection's, raised one level (at most to critical) when the model's
asset stands at high or critical priority in the latest risk assessment.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import timedelta

from aiposture import display
from aiposture.models import Priority, Severity, escape
from aiposture.monitor.models import Alert, AlertStatus, Detection, Event
from aiposture.views import ModelList

__all__ = ["AlertList", "alert_html", "escalate", "group_key", "linked_findings", "merge"]

#: How many recent event ids an alert keeps.
MAX_EVENT_IDS = 20
_LIVE = (AlertStatus.OPEN, AlertStatus.ACKNOWLEDGED)
_SEVERITIES = list(Severity)


def group_key(detection: Detection, event: Event) -> str:
    """The key detections are grouped by: detector, principal (none for model-wide
    detections such as drift), and the model."""
    model = event.asset_id or event.model or event.application or "-"
    return f"{detection.detector}|{_principal(detection, event) or '-'}|{model}"


def _principal(detection: Detection, event: Event) -> str | None:
    return None if detection.scope == "model" else event.principal


def escalate(severity: Severity, priority: Priority | None) -> Severity:
    """``severity`` raised one level when the asset is at high or critical priority."""
    if priority is None or priority.rank < Priority.HIGH.rank:
        return severity
    return _SEVERITIES[min(severity.rank + 1, len(_SEVERITIES) - 1)]


def _new(
    key: str, detection: Detection, event: Event, severity: Severity, findings: Sequence[str]
) -> Alert:
    digest = hashlib.sha256(f"{key}|{event.id}|{detection.title}".encode()).hexdigest()
    return Alert(
        id=f"alr-{digest[:16]}",
        group_key=key,
        detector=detection.detector,
        title=detection.title,
        severity=severity,
        score=detection.score,
        principal=_principal(detection, event),
        application=event.application,
        model=event.model,
        asset_id=event.asset_id,
        first_seen=event.at,
        last_seen=event.at,
        event_ids=[event.id],
        evidence=list(detection.evidence)[:10],
        figures=dict(detection.figures),
        tags=list(detection.tags),
        finding_ids=list(findings),
    )


def merge(
    current: Alert | None,
    detection: Detection,
    event: Event,
    *,
    window: timedelta,
    priority: Priority | None = None,
    findings: Sequence[str] = (),
) -> tuple[Alert, bool]:
    """The alert ``detection`` belongs to after it arrives, and whether it is a new one.

    Args:
        current: The newest alert with the detection's group key, if any.
        detection: The detection.
        event: The event it was found in (its time places it in the window).
        window: How far after an alert's last detection a new one still joins it.
        priority: The priority of the model's asset in the latest assessment.
        findings: Open findings on the asset that share a framework item with it.
    """
    key = group_key(detection, event)
    severity = escalate(detection.severity, priority)
    joins = (
        current is not None
        and current.status is not AlertStatus.RESOLVED
        and event.at - current.last_seen <= window
        and event.at >= current.first_seen - window
    )
    if current is None or not joins:
        return _new(key, detection, event, severity, findings), True
    stronger = detection.score > current.score
    ids = [*current.event_ids, event.id][-MAX_EVENT_IDS:]
    update: dict[str, object] = {
        "count": current.count + 1,
        "first_seen": min(current.first_seen, event.at),
        "last_seen": max(current.last_seen, event.at),
        "score": max(current.score, detection.score),
        "event_ids": ids,
        "figures": dict(detection.figures) if detection.figures else current.figures,
        "tags": sorted(set(current.tags) | set(detection.tags)),
        "finding_ids": sorted(set(current.finding_ids) | set(findings)),
    }
    if severity.rank > current.severity.rank:
        update["severity"] = severity
    if stronger:
        update["evidence"] = list(detection.evidence)[:10]
        update["title"] = detection.title
    return current.model_copy(update=update), False


def sort_key(alert: Alert) -> tuple[int, int, float]:
    """Live alerts first, then the most severe, then the most recent."""
    return (
        0 if alert.status in _LIVE else 1,
        -alert.severity.rank,
        -alert.last_seen.timestamp(),
    )


class AlertList(ModelList[Alert]):
    """Monitoring alerts: live first, then the most severe, then the most recent."""

    columns = (
        "severity",
        "status",
        "detector",
        "title",
        "principal",
        "model",
        "count",
        "score",
        "first_seen",
        "last_seen",
        "id",
    )
    title = "Alerts"

    def live(self) -> AlertList:
        """Open and acknowledged alerts."""
        return self.where(lambda a: a.status in _LIVE)

    def at_least(self, severity: Severity | str) -> AlertList:
        """Alerts of ``severity`` or worse."""
        rank = Severity(severity).rank
        return self.where(lambda a: a.severity.rank >= rank)

    def by_detector(self) -> dict[str, int]:
        """Number of alerts of each detector."""
        out: dict[str, int] = {}
        for a in self:
            out[a.detector] = out.get(a.detector, 0) + 1
        return dict(sorted(out.items()))


def _figure(value: float) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def alert_html(alert: Alert) -> str:
    """One alert as HTML: the header, the figures behind it, the evidence, the events."""
    rows = [
        ("status", escape(alert.status.value)),
        ("principal", escape(alert.principal or "")),
        ("model", escape(alert.model or "")),
        ("asset", escape(alert.asset_id or "")),
        ("detections", str(alert.count)),
        ("score", f"{alert.score:.2f}"),
        ("first", escape(f"{alert.first_seen:%Y-%m-%d %H:%M:%S}")),
        ("last", escape(f"{alert.last_seen:%Y-%m-%d %H:%M:%S}")),
        ("frameworks", escape(", ".join(alert.tags))),
        ("findings", escape(", ".join(alert.finding_ids))),
    ]
    if alert.status_by:
        triage = f"{alert.status_by} at {alert.status_at} {alert.status_reason or ''}"
        rows.append(("triaged", escape(triage)))
    figures = ", ".join(f"{escape(k)}={escape(_figure(v))}" for k, v in alert.figures.items())
    if figures:
        rows.append(("figures", figures))
    table = "".join(f"<tr><th class='k'>{k}</th><td>{v}</td></tr>" for k, v in rows if v)
    evidence = "".join(f"<li>{escape(e)}</li>" for e in alert.evidence)
    events = escape(", ".join(alert.event_ids))
    return (
        f"{display._STYLE}<div class='aip'><b class='sev-{escape(alert.severity.value)}'>"
        f"{escape(alert.severity.value)}</b> <b>{escape(alert.title)}</b> "
        f"<span class='k'>{escape(alert.detector)} · {escape(alert.id)}</span>"
        f"<table>{table}</table><ul>{evidence}</ul>"
        f"<div class='k'>events: {events}</div></div>"
    )


def linked_findings(
    detection_tags: Sequence[str], asset_findings: Mapping[str, Sequence[str]]
) -> list[str]:
    """Ids of findings (``{id: tags}``) that share a framework item with a detection."""
    wanted = {t for t in detection_tags if ":" in t}
    return sorted(fid for fid, tags in asset_findings.items() if wanted & set(tags))
