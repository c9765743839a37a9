"""``posture.monitor``: scan prompts, run the detectors over events, store them, alert.

Batch and continuous mode are one loop (:meth:`Monitor.run`): events come from a log
file, an OTLP trace file, a followed file, the OTLP/HTTP receiver or any iterable;
they are linked to inventory assets by model name, run through the detectors in
batches (texts embedded once per batch), stored (redacted by default) with their
detections, and the detections raise or update alerts, all in one transaction per
batch. Memory is bounded by the batch size and the detectors' bounded state.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiposture.errors import ConfigError
from aiposture.monitor.models import Alert, AlertStatus, Detection, Event

if TYPE_CHECKING:
    from aiposture.monitor.alerts import AlertList
    from aiposture.monitor.detectors.injection import InjectionScan
    from aiposture.monitor.engine import DetectorRun
    from aiposture.monitor.eventstore import AlertContext, BatchResult, EventStore
    from aiposture.monitor.ingest import IngestStats
    from aiposture.settings import Settings
    from aiposture.store.base import Store

__all__ = ["Monitor", "MonitorRun"]

_READERS = ("jsonl", "csv", "otlp")
#: Seconds the inventory's model names, risk priorities and findings are reused before
#: they are read again (a long-running monitor sees new assets and assessments).
INVENTORY_TTL = 60.0


@dataclass
class MonitorRun:
    """What one :meth:`Monitor.run` did, with its throughput."""

    events: int = 0
    stored: int = 0
    duplicates: int = 0
    expired: int = 0
    detections: Counter[str] = field(default_factory=Counter)
    new_alerts: list[str] = field(default_factory=list)
    updated_alerts: int = 0
    redactions: Counter[str] = field(default_factory=Counter)
    detector_errors: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def events_per_second(self) -> float:
        """Throughput of the run (events over wall time)."""
        return self.events / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready summary."""
        return {
            "events": self.events,
            "stored": self.stored,
            "duplicates": self.duplicates,
            "expired": self.expired,
            "detections": dict(self.detections),
            "new_alerts": len(self.new_alerts),
            "updated_alerts": self.updated_alerts,
            "redactions": dict(self.redactions),
            "detector_errors": self.detector_errors,
            "skipped": dict(self.skipped),
            "seconds": round(self.seconds, 3),
            "events_per_second": round(self.events_per_second, 1),
        }

    def _repr_html_(self) -> str:
        from aiposture import display

        return display.monitor_run_html(self)

    def __repr__(self) -> str:
        found = sum(self.detections.values())
        return (
            f"MonitorRun({self.events} events, {self.stored} stored, {found} detections, "
            f"{len(self.new_alerts)} new alerts, {self.events_per_second:.0f} events/s)"
        )


class Monitor:
    """Detectors over live AI traffic, with stored events and alerts.

    Args:
        store: Where events and alerts are kept (``None``: detection only).
        settings: The ``[monitor]`` configuration and the rest.
        actor: Who triages alerts through this object (audit log).
    """

    def __init__(
        self,
        store: Store | None = None,
        *,
        settings: Settings | None = None,
        actor: str = "aiposture",
    ) -> None:
        from aiposture.settings import Settings

        self.settings = settings if settings is not None else Settings()
        self.actor = actor
        self._store = store
        self._events: EventStore | None = None
        self._run: DetectorRun | None = None
        self._inventory_cache: tuple[float, dict[str, str], AlertContext] | None = None

    # -- detectors -----------------------------------------------------------------
    def scan_prompt(self, text: str, context: str | None = None) -> InjectionScan:
        """Score one text for prompt injection and jailbreak (0 to 1, with a label and the
        evidence: heuristics that fired, nearest exemplars).

        Args:
            text: A prompt, or a retrieved document or tool result (indirect injection).
            context: Where the text comes from (``prompt``, ``retrieved[0]``...).
        """
        from aiposture.monitor.detectors.injection import scan_prompt

        return scan_prompt(text, context)

    @property
    def detectors(self) -> DetectorRun:
        """The detectors this monitor runs (``[monitor] detectors``; all by default)."""
        if self._run is None:
            from aiposture.monitor.engine import DetectorRun

            ids = self.settings.monitor.detectors
            self._run = DetectorRun(ids=list(ids) if ids else None, settings=self.settings)
        return self._run

    def use(self, detectors: Sequence[Any]) -> None:
        """Run these detector instances from now on (their state starts afresh)."""
        from aiposture.monitor.engine import DetectorRun

        self._run = DetectorRun(detectors)

    def detect(self, event: Event) -> list[Detection]:
        """Every detector on one event (texts embedded once, shared); nothing stored."""
        return self.detectors.detect(self._link(event))

    def stream(
        self, events: Iterable[Event], *, batch_size: int = 64
    ) -> Iterator[tuple[Event, list[Detection]]]:
        """Each event with its detections, in order; nothing stored (bounded memory)."""
        return self.detectors.run((self._link(e) for e in events), batch_size=batch_size)

    # -- reading -------------------------------------------------------------------
    def read(
        self,
        path: str | Path,
        *,
        format: str = "jsonl",
        mapping: dict[str, str] | None = None,
        stats: IngestStats | None = None,
    ) -> Iterator[Event]:
        """Events from a log (``jsonl``, ``csv``) or an OTLP JSON trace file (``otlp``).

        Raises:
            ConfigError: An unknown format.
        """
        from aiposture.monitor import ingest

        if format == "jsonl":
            return ingest.read_jsonl(path, mapping, stats=stats)
        if format == "csv":
            return ingest.read_csv(path, mapping, stats=stats)
        if format == "otlp":
            return ingest.read_otlp_json(path, stats=stats)
        raise ConfigError(f"unknown event format {format!r}; known: {', '.join(_READERS)}")

    # -- the loop ------------------------------------------------------------------
    def run(
        self,
        source: Iterable[Event] | str | Path,
        *,
        format: str | None = None,
        mapping: dict[str, str] | None = None,
        limit: int | None = None,
        progress: bool = False,
        on_batch: Callable[[MonitorRun], None] | None = None,
        max_wait: float | None = None,
    ) -> MonitorRun:
        """Detect, store and alert over a source until it ends (batch or continuous mode).

        Args:
            source: A log or trace file (format from ``format`` or the suffix: ``.csv``
                csv, ``.json`` OTLP JSON, otherwise JSONL), or any iterable of events
                (a followed file, the OTLP receiver's ``events()``, a generator).
            format: ``jsonl``, ``csv`` or ``otlp`` for a file.
            mapping: Column mapping for JSONL and CSV.
            limit: Stop after this many events.
            progress: Show a progress bar with the event rate on stderr.
            on_batch: Called with the running totals after each stored batch.
            max_wait: Continuous mode: process a partial batch when no new event came
                for this many seconds (a live source may pause for hours; its events
                must not wait for a full batch). ``None`` for files and lists.

        Returns:
            What the run did: events, detections by detector, new alerts, throughput.
        """
        from tqdm import tqdm

        from aiposture.monitor.engine import batched
        from aiposture.monitor.ingest import IngestStats

        stats: IngestStats | None = None
        if isinstance(source, str | Path):
            path = Path(source)
            fmt = format or _format_of(path)
            stats = IngestStats(source=str(path))
            events: Iterable[Event] = self.read(path, format=fmt, mapping=mapping, stats=stats)
        else:
            events = source
        if limit is not None:
            events = islice(events, limit)
        result = MonitorRun()
        store = self._event_store()
        cfg = self.settings.monitor
        if store is not None:
            store.prune(timedelta(days=cfg.retention_days))
        start = time.perf_counter()
        batches = (
            _timed_batches(events, cfg.batch_size, max_wait)
            if max_wait is not None
            else batched(events, cfg.batch_size)
        )
        with tqdm(unit="event", desc="monitoring", disable=not progress, dynamic_ncols=True) as bar:
            for raw in batches:
                batch = [self._link(e) for e in raw]
                found = self.detectors.detect_batch(batch)
                pairs = list(zip(batch, found, strict=True))
                result.events += len(batch)
                for dets in found:
                    result.detections.update(d.detector for d in dets)
                if store is not None:
                    done = self._write(store, pairs)
                    result.stored += done.stored
                    result.duplicates += done.duplicates
                    result.expired += done.expired
                    result.new_alerts.extend(done.new_alerts)
                    result.updated_alerts += len(done.updated_alerts)
                    result.redactions.update(done.redactions)
                bar.update(len(batch))
                result.seconds = time.perf_counter() - start
                result.detector_errors = self.detectors.error_count
                if on_batch is not None:
                    on_batch(result)
        result.seconds = time.perf_counter() - start
        if stats is not None:
            result.skipped = dict(stats.skipped)
        return result

    def record(self, event: Event) -> list[Detection]:
        """Detect, store and alert on one event (the guard and LangChain handler's sink)."""
        event = self._link(event)
        found = self.detectors.detect(event)
        store = self._event_store()
        if store is not None:
            self._write(store, [(event, found)])
        return found

    def _write(
        self, store: EventStore, pairs: Sequence[tuple[Event, list[Detection]]]
    ) -> BatchResult:
        cfg = self.settings.monitor
        return store.write(
            pairs,
            text_mode=cfg.store_text,
            window=timedelta(minutes=cfg.alert_window_minutes),
            retention=timedelta(days=cfg.retention_days),
            context=self._inventory()[1],
        )

    # -- stored events and alerts --------------------------------------------------
    def _event_store(self) -> EventStore | None:
        if self._store is None:
            return None
        if self._events is None:
            from aiposture.monitor.eventstore import EventStore

            self._events = EventStore(self._store)
        return self._events

    def _need_store(self) -> EventStore:
        store = self._event_store()
        if store is None:
            raise ConfigError("this monitor has no store; open it through Posture.open()")
        return store

    def _inventory(self) -> tuple[dict[str, str], AlertContext]:
        """Model names to asset ids, and priorities and findings for alerts (cached)."""
        from aiposture.monitor.eventstore import context_from, model_assets

        assert self._store is not None
        now = time.monotonic()
        cached = self._inventory_cache
        if cached is None or now - cached[0] > INVENTORY_TTL:
            cached = (now, dict(model_assets(self._store)), context_from(self._store))
            self._inventory_cache = cached
        return cached[1], cached[2]

    def _link(self, event: Event) -> Event:
        if event.asset_id is not None or not event.model or self._store is None:
            return event
        assets = self._inventory()[0]
        name = event.model.lower()
        asset = assets.get(name) or assets.get(name.rsplit("/", 1)[-1])
        return event.model_copy(update={"asset_id": asset}) if asset else event

    @property
    def alerts(self) -> AlertList:
        """Every stored alert: live first, then the most severe, then the most recent."""
        from aiposture.monitor.alerts import AlertList

        return AlertList(self._need_store().alerts())

    def alert(self, alert_id: str) -> Alert:
        """One stored alert (raises ``NotFoundError`` when unknown)."""
        return self._need_store().alert(alert_id)

    def set_alert_status(
        self, alert_id: str, status: AlertStatus | str, *, reason: str | None = None
    ) -> Alert:
        """Triage an alert: ``acknowledged``, ``resolved``, ``false_positive`` (needs a
        reason) or ``open`` again; recorded with who and when, and audited."""
        return self._need_store().set_status(alert_id, status, actor=self.actor, reason=reason)

    def events(
        self,
        *,
        principal: str | None = None,
        model: str | None = None,
        alert: str | None = None,
        limit: int | None = 1000,
    ) -> list[tuple[Event, list[Detection]]]:
        """Stored events (newest first) with their detections; ``alert`` limits them to
        the events an alert keeps."""
        ids = self.alert(alert).event_ids if alert else None
        return self._need_store().events(principal=principal, model=model, ids=ids, limit=limit)

    def prune(self) -> int:
        """Delete events older than the retention setting; how many were deleted."""
        days = self.settings.monitor.retention_days
        return self._need_store().prune(timedelta(days=days))


_END = object()


def _timed_batches(events: Iterable[Event], size: int, max_wait: float) -> Iterator[list[Event]]:
    """Batches of at most ``size`` events, cut early when the source pauses ``max_wait``.

    A reader thread moves events into a bounded queue (so a blocking live source never
    holds back events already received); its errors are raised here.
    """
    pending: queue.Queue[object] = queue.Queue(maxsize=size * 2)
    failure: list[BaseException] = []
    halt = threading.Event()

    def pump() -> None:
        try:
            for event in events:
                while not halt.is_set():
                    try:
                        pending.put(event, timeout=0.2)
                        break
                    except queue.Full:
                        continue
                if halt.is_set():
                    return
        except BaseException as exc:  # handed to the consumer, raised there
            failure.append(exc)
        finally:
            pending.put(_END)

    reader = threading.Thread(target=pump, name="aiposture-monitor-reader", daemon=True)
    reader.start()
    try:
        batch: list[Event] = []
        while True:
            try:
                item = pending.get(timeout=max_wait if batch else None)
            except queue.Empty:
                yield batch
                batch = []
                continue
            if item is _END:
                break
            assert isinstance(item, Event)
            batch.append(item)
            if len(batch) >= size:
                yield batch
                batch = []
        if batch:
            yield batch
        if failure:
            raise failure[0]
    finally:
        halt.set()


def _format_of(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix == ".json":
        return "otlp"
    return "jsonl"
