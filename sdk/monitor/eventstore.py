"""Stored events and alerts (the ``events`` and ``alerts`` tables of the SQL store).

Events are written in batches, each batch in one serialised transaction together with
the alerts its detections raise or update, so a crash never leaves an alert without
its events or the reverse. Texts are stored as the ``store_text`` setting says (full,
redacted, none); an event id already stored is skipped (replaying a log twice does not
duplicate it); events older than the retention are neither stored nor kept.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy.exc import SQLAlchemyError

from aiposture.errors import NotFoundError, StoreError
from aiposture.models import Priority, utcnow
from aiposture.monitor.alerts import group_key, linked_findings, merge, sort_key
from aiposture.monitor.models import Alert, AlertStatus, Detection, Event
from aiposture.monitor.redact import TextMode, redact_event
from aiposture.store import schema as t
from aiposture.store.audit import PendingEntry
from aiposture.store.base import Store
from aiposture.store.batch import write_audit
from aiposture.store.sql import SQLStore

__all__ = ["AlertContext", "BatchResult", "EventStore", "context_from", "model_assets"]


@dataclass
class AlertContext:
    """What alerting needs from the inventory: asset priorities and open findings."""

    priorities: dict[str, Priority] = field(default_factory=dict)
    findings: dict[str, dict[str, list[str]]] = field(default_factory=dict)


@dataclass
class BatchResult:
    """What one stored batch did."""

    stored: int = 0
    duplicates: int = 0
    expired: int = 0
    new_alerts: list[str] = field(default_factory=list)
    updated_alerts: list[str] = field(default_factory=list)
    redactions: dict[str, int] = field(default_factory=dict)


def _alert_row(alert: Alert) -> dict[str, Any]:
    return {
        "group_key": alert.group_key,
        "detector": alert.detector,
        "severity": alert.severity.value,
        "severity_rank": alert.severity.rank,
        "status": alert.status.value,
        "principal": alert.principal,
        "model": alert.model,
        "asset_id": alert.asset_id,
        "first_seen": alert.first_seen,
        "last_seen": alert.last_seen,
        "count": alert.count,
        "payload": alert.model_dump(mode="json"),
    }


def _first_of_each(
    batch: Sequence[tuple[Event, Sequence[Detection]]], fresh: set[str]
) -> list[tuple[Event, Sequence[Detection]]]:
    """The batch without repeats of a stored event id (the first occurrence stays)."""
    seen: set[str] = set()
    out = []
    for event, found in batch:
        if event.id in fresh:
            if event.id in seen:
                continue
            seen.add(event.id)
        out.append((event, found))
    return out


class EventStore:
    """Events and alerts in a :class:`~aiposture.store.sql.SQLStore`.

    Args:
        store: The store (SQLite file or PostgreSQL).

    Raises:
        StoreError: The store is not a SQL store.
    """

    def __init__(self, store: Store) -> None:
        if not isinstance(store, SQLStore):
            raise StoreError(f"monitoring needs a SQL store, not {type(store).__name__}")
        self._store = store

    def _fail(self, what: str, exc: BaseException) -> StoreError:
        return self._store._fail(what, exc)

    # -- writing -------------------------------------------------------------------
    def write(
        self,
        batch: Sequence[tuple[Event, Sequence[Detection]]],
        *,
        text_mode: TextMode = "redacted",
        window: timedelta = timedelta(hours=1),
        retention: timedelta | None = None,
        context: AlertContext | None = None,
    ) -> BatchResult:
        """Store events with their detections and raise or update their alerts.

        Args:
            batch: Events with what the detectors found in each.
            text_mode: How texts are stored.
            window: The alert grouping window.
            retention: Events older than this (against now) are not stored; their
                detections still raise alerts.
            context: Asset priorities and findings for severities and links.
        """
        ctx = context or AlertContext()
        result = BatchResult()
        cutoff = utcnow() - retention if retention is not None else None
        rows: list[dict[str, Any]] = []
        for event, found in batch:
            if cutoff is not None and event.at < cutoff:
                result.expired += 1
                continue
            stored, counts = redact_event(event, text_mode)
            for k, v in counts.items():
                result.redactions[k] = result.redactions.get(k, 0) + v
            payload = stored.model_dump(mode="json")
            payload["detections"] = [d.model_dump(mode="json") for d in found]
            rows.append(
                {
                    "id": event.id,
                    "at": event.at,
                    "principal": event.principal,
                    "application": event.application,
                    "model": event.model,
                    "asset_id": event.asset_id,
                    "source": event.source,
                    "text_mode": text_mode,
                    "detections": len(found),
                    "payload": payload,
                }
            )
        try:
            with self._store._write() as conn:
                candidates = {r["id"] for r in rows}
                rows = self._new_rows(conn, rows, result)
                if rows:
                    conn.execute(insert(t.events), rows)
                result.stored = len(rows)
                # an event stored before already raised its alerts: replaying a log
                # must not count its detections twice
                fresh = {r["id"] for r in rows}
                todo = [(e, f) for e, f in batch if e.id in fresh or e.id not in candidates]
                self._alerts(conn, _first_of_each(todo, fresh), window, ctx, result)
        except SQLAlchemyError as exc:
            raise self._fail("cannot store monitoring events", exc) from exc
        return result

    @staticmethod
    def _new_rows(
        conn: Connection, rows: list[dict[str, Any]], result: BatchResult
    ) -> list[dict[str, Any]]:
        seen: set[str] = set()
        fresh = []
        for row in rows:  # a batch may repeat an id, too
            if row["id"] in seen:
                result.duplicates += 1
                continue
            seen.add(row["id"])
            fresh.append(row)
        if not fresh:
            return []
        ids = [r["id"] for r in fresh]
        old: set[str] = set()
        for i in range(0, len(ids), 500):
            part = ids[i : i + 500]
            old.update(conn.execute(select(t.events.c.id).where(t.events.c.id.in_(part))).scalars())
        result.duplicates += len(old)
        return [r for r in fresh if r["id"] not in old]

    def _alerts(
        self,
        conn: Connection,
        batch: Sequence[tuple[Event, Sequence[Detection]]],
        window: timedelta,
        ctx: AlertContext,
        result: BatchResult,
    ) -> None:
        a = t.alerts
        current: dict[str, Alert | None] = {}
        stored: set[str] = set()
        changed: dict[str, Alert] = {}
        created: list[str] = []
        for event, found in sorted(batch, key=lambda pair: pair[0].at):
            for det in found:
                key = group_key(det, event)
                if key not in current:
                    row = conn.execute(
                        select(a.c.payload)
                        .where(a.c.group_key == key)
                        .order_by(a.c.last_seen.desc())
                        .limit(1)
                    ).first()
                    loaded = Alert.model_validate(row.payload) if row else None
                    if loaded is not None:
                        stored.add(loaded.id)
                    current[key] = loaded
                asset = event.asset_id
                links = linked_findings(det.tags, ctx.findings.get(asset, {})) if asset else []
                alert, new = merge(
                    current[key],
                    det,
                    event,
                    window=window,
                    priority=ctx.priorities.get(asset) if asset else None,
                    findings=links,
                )
                if new:
                    created.append(alert.id)
                current[key] = alert
                changed[alert.id] = alert
        for alert_id, alert in changed.items():
            if alert_id in stored:
                conn.execute(update(a).where(a.c.id == alert_id).values(**_alert_row(alert)))
                result.updated_alerts.append(alert_id)
            else:
                exists = conn.execute(select(a.c.id).where(a.c.id == alert_id)).first()
                if exists is None:
                    conn.execute(insert(a).values(id=alert_id, **_alert_row(alert)))
                else:  # the same detection replayed: keep the stored alert's state
                    conn.execute(update(a).where(a.c.id == alert_id).values(**_alert_row(alert)))
                (result.new_alerts if alert_id in created else result.updated_alerts).append(
                    alert_id
                )

    def prune(self, retention: timedelta, *, now: datetime | None = None) -> int:
        """Delete events older than ``retention``; the number deleted."""
        cutoff = (now or utcnow()) - retention
        try:
            with self._store._write() as conn:
                gone = conn.execute(delete(t.events).where(t.events.c.at < cutoff)).rowcount
        except SQLAlchemyError as exc:
            raise self._fail("cannot prune monitoring events", exc) from exc
        return int(gone or 0)

    # -- reading -------------------------------------------------------------------
    def count(self) -> int:
        """How many events are stored."""
        with self._store._read() as conn:
            return int(conn.execute(select(func.count()).select_from(t.events)).scalar_one())

    def events(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        principal: str | None = None,
        model: str | None = None,
        ids: Sequence[str] | None = None,
        limit: int | None = None,
    ) -> list[tuple[Event, list[Detection]]]:
        """Stored events (newest first) with their detections."""
        e = t.events
        q = select(e.c.payload).order_by(e.c.at.desc(), e.c.id)
        if since is not None:
            q = q.where(e.c.at >= since)
        if until is not None:
            q = q.where(e.c.at < until)
        if principal is not None:
            q = q.where(e.c.principal == principal)
        if model is not None:
            q = q.where((e.c.model == model) | (e.c.asset_id == model))
        if ids is not None:
            q = q.where(e.c.id.in_(list(ids)))
        if limit is not None:
            q = q.limit(limit)
        with self._store._read() as conn:
            rows = conn.execute(q).all()
        out = []
        for row in rows:
            payload = dict(row.payload)
            found = [Detection.model_validate(d) for d in payload.pop("detections", [])]
            out.append((Event.model_validate(payload), found))
        return out

    def alerts(
        self, *, status: Sequence[AlertStatus | str] | None = None, since: datetime | None = None
    ) -> list[Alert]:
        """Stored alerts, live first, then the most severe, then the most recent."""
        a = t.alerts
        q = select(a.c.payload)
        if status is not None:
            q = q.where(a.c.status.in_([AlertStatus(s).value for s in status]))
        if since is not None:
            q = q.where(a.c.last_seen >= since)
        with self._store._read() as conn:
            found = [Alert.model_validate(r.payload) for r in conn.execute(q)]
        return sorted(found, key=sort_key)

    def alert(self, alert_id: str) -> Alert:
        """One alert.

        Raises:
            NotFoundError: No alert has this id.
        """
        a = t.alerts
        with self._store._read() as conn:
            row = conn.execute(select(a.c.payload).where(a.c.id == alert_id)).first()
        if row is None:
            raise NotFoundError(f"no alert with id {alert_id!r} in the store")
        return Alert.model_validate(row.payload)

    def set_status(
        self,
        alert_id: str,
        status: AlertStatus | str,
        *,
        actor: str,
        reason: str | None = None,
    ) -> Alert:
        """Triage an alert (audited as ``alert.status``; a no-op when unchanged).

        Raises:
            NotFoundError: No alert has this id.
            ValueError: An unknown status, or a false positive without a reason.
        """
        try:
            new = AlertStatus(status)
        except ValueError:
            allowed = ", ".join(s.value for s in AlertStatus)
            raise ValueError(f"invalid alert status {status!r} (allowed: {allowed})") from None
        if new is AlertStatus.FALSE_POSITIVE and not (reason and reason.strip()):
            raise ValueError("marking an alert a false positive needs a reason")
        a = t.alerts
        now = utcnow()
        try:
            with self._store._write() as conn:
                row = conn.execute(select(a.c.payload).where(a.c.id == alert_id)).first()
                if row is None:
                    raise NotFoundError(f"no alert with id {alert_id!r} in the store")
                alert = Alert.model_validate(row.payload)
                if alert.status is new and (reason is None or reason == alert.status_reason):
                    return alert
                details: dict[str, Any] = {"from": alert.status.value, "to": new.value}
                if reason:
                    details["reason"] = reason
                alert = alert.model_copy(
                    update={
                        "status": new,
                        "status_by": actor,
                        "status_at": now,
                        "status_reason": reason,
                    }
                )
                conn.execute(update(a).where(a.c.id == alert_id).values(**_alert_row(alert)))
                entry = PendingEntry(actor, "alert.status", "alert", alert_id, details)
                write_audit(conn, [entry], now)
        except SQLAlchemyError as exc:
            raise self._fail(f"cannot update alert {alert_id}", exc) from exc
        return alert


def context_from(store: Store) -> AlertContext:
    """Asset priorities from the latest risk snapshot and open findings by asset."""
    ctx = AlertContext()
    snaps = store.snapshots(limit=1)
    if snaps:
        ctx.priorities = {r.asset_id: r.priority for r in snaps[0].risks}
    for f in store.findings():
        if f.status.value in ("open", "acknowledged") and not f.stale:
            ctx.findings.setdefault(f.asset_id, {})[f.id] = list(f.tags)
    return ctx


def model_assets(store: Store) -> Mapping[str, str]:
    """Lower-cased model and service names (and keys) to asset ids, models first."""
    from aiposture.models import AssetKind

    out: dict[str, str] = {}
    order = (AssetKind.MODEL, AssetKind.AI_SERVICE, AssetKind.ENDPOINT, AssetKind.APPLICATION)
    assets = store.assets()
    for kind in order:
        for asset in assets:
            if asset.kind is kind and not asset.stale:
                for name in (asset.name, asset.key):
                    out.setdefault(name.lower(), asset.id)
    return out
