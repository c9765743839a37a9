"""Monitoring quality on generated traffic: detection delay and false alarms per day.

Run alone with ``.venv/bin/python -m benchmarks.monitor_quality`` (writes
``benchmarks/results/monitor_quality.json``; ``--out DIR`` writes elsewhere, ``--help``
for the other options), or call :func:`run`.

Two runs of :func:`aiposture.monitor.traffic.generate_traffic`, each through every
registered detector (:class:`aiposture.monitor.engine.DetectorRun`: each event's texts
embedded once and shared), in event order, with a fresh set of detectors per run:

* **Attack traffic** (``attack_seed``, ``attack_days`` days, the incidents on the last
  day, the days before it benign warm-up for the baselines): for each incident kind and
  its matching detector (injection and indirect injection → ``AIP-DET-INJECTION``,
  exfiltration → ``AIP-DET-EXFIL``, extraction → ``AIP-DET-EXTRACTION`` with
  ``AIP-DET-VOLUME`` as a second signal, drift → ``AIP-DET-DRIFT``):

  - *detected* and *delay*: the first detection of that detector on an event of the
    incident (truth label = the kind, which implies inside the incident's window and of
    its principal, when it has one, and model), minus the incident's start; also minus
    the incident's first event, and as the number of the incident's events before it;
  - *event-level recall* (share of the incident's events the detector flagged) and
    *precision* (flagged events of the incident / flagged events in its scope: the
    window, its model, and its principal when it has one). Stateful detectors
    (extraction, volume, drift) report at most one detection per test or bucket, so
    their recall is low by design; the delay and the alerts are their figures;
  - *alerts*: detections grouped with :func:`aiposture.monitor.alerts.merge` (60-minute
    window, in event order) that hold an event of the incident.

  Every detection on other events is counted per detector and truth label too.
* **Benign traffic** (``benign_seed``, ``attacks=False``, ``benign_days`` days, the
  first ``benign_warmup_days`` not counted): false alarms per evaluated day for every
  detector, as raw detections and as grouped alerts (an alert counts on the day its
  first detection falls), per principal and model, with a few examples each (principal,
  model, title, the top evidence line, the figures behind it).
* **Baselines** in the same runs, scored the same way: for extraction, a plain volume
  threshold (a principal's events in one clock hour above N, N = the 99th percentile of
  the benign principal-hours of the run's warm-up days, counting hours with at least
  one event; one detection per principal-hour); for drift, a naive rule (a model's mean
  output length over its last 200 answered events differs from its first 200 by more
  than 20%, tested on the drift detector's schedule: every 50 events once both windows
  are full, one detection until the length is back within 20% or 200 events later).

Seeds: the default ``attack_seed`` and ``benign_seed`` are for reporting only. Nothing
was tuned on them (no detector threshold was changed for this benchmark); any threshold
investigation was done on the development seeds 101 and 103 (attack traffic) and 102,
104 and 105 (benign traffic). The default size (1,000 events a day, 3 + 3 days) embeds
about 14,000 texts; ``--events-per-day`` and ``--benign-days`` trade time for precision.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from aiposture.models import Severity
from aiposture.monitor.alerts import group_key, merge
from aiposture.monitor.detectors.drift import DriftDetector
from aiposture.monitor.engine import DetectorRun
from aiposture.monitor.models import Alert, Detection, Event
from aiposture.monitor.traffic import Incident, Traffic, generate_traffic

RESULTS = Path(__file__).parent / "results"
#: Monday 3 March 2025, midnight UTC: the first generated day.
START = datetime(2025, 3, 3, tzinfo=UTC)
#: Reporting seeds (never used while developing or investigating thresholds).
ATTACK_SEED = 20251126
BENIGN_SEED = 20251127
#: Seeds used during development and for threshold investigations.
DEV_SEEDS = {"attack": (101, 103), "benign": (102, 104, 105)}

INJECTION = "AIP-DET-INJECTION"
EXFIL = "AIP-DET-EXFIL"
EXTRACTION = "AIP-DET-EXTRACTION"
VOLUME = "AIP-DET-VOLUME"
DRIFT = "AIP-DET-DRIFT"
BASE_VOLUME = "BASELINE-HOURLY-VOLUME"
BASE_LENGTH = "BASELINE-MEAN-LENGTH"
#: Incident kind → the detectors that should find it (first one primary).
MATCHING: dict[str, tuple[str, ...]] = {
    "injection": (INJECTION,),
    "indirect-injection": (INJECTION,),
    "exfiltration": (EXFIL,),
    "extraction": (EXTRACTION, VOLUME),
    "drift": (DRIFT,),
}
#: Incident kind → the baselines run beside its detectors.
BASELINES: dict[str, tuple[str, ...]] = {"extraction": (BASE_VOLUME,), "drift": (BASE_LENGTH,)}
BASELINE_DESCRIPTIONS = {
    BASE_VOLUME: (
        "a principal's events in one clock hour above N, N = 99th percentile of the "
        "benign principal-hours (hours with >= 1 event) of the run's warm-up days"
    ),
    BASE_LENGTH: (
        "a model's mean output length over its last 200 answered events differs from its "
        "first 200 by more than 20% (tested every 50 events, re-armed when back within "
        "20% or 200 events after a flag)"
    ),
}

Detections = list[list[Detection]]
#: Runs the detectors over a traffic: (traffic, label, batch_size) → detections, figures.
DetectFn = Callable[[Traffic, str, int], tuple[Detections, dict[str, Any]]]


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# Running detectors


def run_detectors(
    traffic: Traffic, label: str, batch_size: int = 64, *, every: int = 500
) -> tuple[Detections, dict[str, Any]]:
    """Every registered detector over the events, in order; detections per event.

    Args:
        traffic: The generated traffic.
        label: Name shown in the progress lines.
        batch_size: Events embedded per model call.
        every: Events between two progress lines.

    Returns:
        The detections of each event (same order as ``traffic.events``) and run figures
        (seconds, events and texts per second, detector errors).
    """
    run = DetectorRun()
    events = traffic.events
    texts = sum(len(e.texts()) for e in events)
    out: Detections = []
    t0 = time.perf_counter()
    for n, (_event, found) in enumerate(run.run(events, batch_size=batch_size), 1):
        out.append(found)
        if n % every == 0 or n == len(events):
            spent = time.perf_counter() - t0
            rate = n / spent if spent > 0 else 0.0
            eta = (len(events) - n) / rate if rate else 0.0
            _log(f"[{label}] {n}/{len(events)} events, {rate:.1f} events/s, eta {eta:.0f} s")
    seconds = time.perf_counter() - t0
    return out, {
        "detectors": [d.id for d in run.detectors],
        "events": len(events),
        "texts": texts,
        "seconds": round(seconds, 1),
        "events_per_s": round(len(events) / seconds, 1),
        "texts_per_s_end_to_end": round(texts / seconds, 1),
        "detector_errors": run.error_count,
        "error_examples": [list(e) for e in run.errors[:5]],
    }


# --------------------------------------------------------------------------
# Baselines


def _hour(at: datetime) -> int:
    return math.floor(at.timestamp() / 3600)


def hourly_volume_baseline(
    events: Sequence[Event], warmup_end: datetime, *, percentile: float = 99.0
) -> tuple[Detections, dict[str, float]]:
    """The plain volume threshold: a principal over N events in a clock hour.

    N is the ``percentile`` of the events per (principal, clock hour) with at least one
    event, over the events before ``warmup_end``; after it, a principal's event that
    takes its count in the current clock hour above N raises one detection (one per
    principal-hour).

    Returns:
        Detections per event and the threshold figures.
    """
    warm: Counter[tuple[str, int]] = Counter(
        (e.principal or "-", _hour(e.at)) for e in events if e.at < warmup_end
    )
    threshold = float(np.percentile(list(warm.values()), percentile)) if warm else math.inf
    counts: Counter[tuple[str, int]] = Counter()
    out: Detections = []
    for e in events:
        key = (e.principal or "-", _hour(e.at))
        counts[key] += 1
        found: list[Detection] = []
        if e.at >= warmup_end and counts[key] == math.floor(threshold) + 1:
            found.append(
                Detection(
                    detector=BASE_VOLUME,
                    event_id=e.id,
                    score=1.0,
                    severity=Severity.MEDIUM,
                    title=f"{key[0]} sent more than {threshold:.1f} requests this hour",
                    evidence=[
                        f"{counts[key]} requests in the clock hour starting "
                        f"{datetime.fromtimestamp(key[1] * 3600, UTC):%Y-%m-%d %H:%M}; "
                        f"threshold {threshold:.1f} (p{percentile:g} of warm-up principal-hours)"
                    ],
                    figures={"count": float(counts[key]), "threshold": threshold},
                )
            )
        out.append(found)
    return out, {
        "percentile": percentile,
        "threshold_events_per_hour": round(threshold, 2),
        "warmup_principal_hours": float(len(warm)),
    }


@dataclass
class _LengthState:
    current: deque[float]
    reference: list[float] = field(default_factory=list)
    added: int = 0
    armed: bool = True
    flagged_at: int = 0


def mean_length_baseline(
    events: Sequence[Event],
    *,
    window: int = 200,
    tolerance: float = 0.2,
    test_every: int = 50,
) -> Detections:
    """The naive drift rule: mean output length now vs. the model's first events.

    Per model (the drift detector's key), the first ``window`` answered events are the
    reference and the last ``window`` the current window; every ``test_every`` events
    once both are full, a relative difference of the means above ``tolerance`` raises
    one detection, then the model is disarmed until a test is back within tolerance or
    ``window`` more events have come.
    """
    states: dict[str, _LengthState] = {}
    out: Detections = []
    for e in events:
        found: list[Detection] = []
        if e.error is None:
            key = DriftDetector.key_of(e)
            st = states.setdefault(key, _LengthState(deque(maxlen=window)))
            length = float(len(e.response))
            if len(st.reference) < window:
                st.reference.append(length)
            else:
                st.current.append(length)
                st.added += 1
                if st.added >= window and (st.added - window) % test_every == 0:
                    ref = float(np.mean(st.reference))
                    cur = float(np.mean(st.current))
                    change = cur / ref - 1.0 if ref else 0.0
                    if not st.armed and st.added - st.flagged_at >= window:
                        st.armed = True
                    if abs(change) <= tolerance:
                        st.armed = True
                    elif st.armed:
                        st.armed, st.flagged_at = False, st.added
                        found.append(
                            Detection(
                                detector=BASE_LENGTH,
                                event_id=e.id,
                                score=1.0,
                                severity=Severity.MEDIUM,
                                title=f"Mean output length of {key} changed by {change:+.0%}",
                                evidence=[
                                    f"mean output length of the last {window} answers "
                                    f"{cur:,.0f} characters, first {window} {ref:,.0f} "
                                    f"({change:+.1%}, tolerance {tolerance:.0%})"
                                ],
                                figures={"reference_mean": ref, "current_mean": cur},
                                scope="model",
                            )
                        )
        out.append(found)
    return out


# --------------------------------------------------------------------------
# Alerts


@dataclass
class Grouped:
    """Alerts after grouping, with every event each one holds."""

    alerts: dict[str, Alert] = field(default_factory=dict)
    members: dict[str, list[str]] = field(default_factory=dict)

    def of(self, detector: str) -> Iterator[tuple[Alert, list[str]]]:
        """The alerts of one detector with their events, in opening order."""
        for aid, alert in self.alerts.items():
            if alert.detector == detector:
                yield alert, self.members[aid]


def group(events: Sequence[Event], detections: Detections, window: timedelta) -> Grouped:
    """Fold the detections into alerts with :func:`merge`, in event order."""
    out = Grouped()
    newest: dict[str, str] = {}
    for event, found in zip(events, detections, strict=True):
        for det in found:
            key = group_key(det, event)
            current = out.alerts.get(newest[key]) if key in newest else None
            alert, new = merge(current, det, event, window=window)
            if new:
                newest[key] = alert.id
                out.members[alert.id] = []
            out.alerts[alert.id] = alert
            out.members[alert.id].append(event.id)
    return out


# --------------------------------------------------------------------------
# Scoring


def _minutes(delta: timedelta) -> float:
    return round(delta.total_seconds() / 60, 2)


def _short(det: Detection) -> dict[str, Any]:
    keep = {k: round(v, 6) for k, v in list(det.figures.items())[:12]}
    return {
        "title": det.title,
        "score": round(det.score, 4),
        "evidence": det.evidence[:1],
        "figures": keep,
    }


def incident_scores(
    traffic: Traffic,
    incident: Incident,
    detections: Detections,
    grouped: Grouped,
    detector: str,
) -> dict[str, Any]:
    """Delay, event-level recall and precision, and alerts of one detector on one incident."""
    truth = traffic.truth
    events = traffic.events
    mine = [i for i, e in enumerate(events) if truth[e.id] == incident.kind]
    ids = {events[i].id for i in mine}

    def in_scope(e: Event) -> bool:
        return (
            incident.start <= e.at < incident.end
            and e.model == incident.model
            and (incident.principal is None or e.principal == incident.principal)
        )

    flagged = {
        i for i, found in enumerate(detections) if any(d.detector == detector for d in found)
    }
    hits = [i for i in mine if i in flagged]
    scope_flagged = [i for i in flagged if in_scope(events[i])]
    out: dict[str, Any] = {
        "detected": bool(hits),
        "incident_events": len(mine),
        "detections_on_incident_events": sum(
            1 for i in mine for d in detections[i] if d.detector == detector
        ),
        "recall": round(len(hits) / len(mine), 4) if mine else None,
        "precision": round(len(hits) / len(scope_flagged), 4) if scope_flagged else None,
        "flagged_in_scope_not_incident": len(scope_flagged) - len(hits),
    }
    if hits:
        first = hits[0]
        event = events[first]
        det = next(d for d in detections[first] if d.detector == detector)
        out.update(
            delay_minutes=_minutes(event.at - incident.start),
            delay_from_first_incident_event_minutes=_minutes(event.at - events[mine[0]].at),
            incident_events_before_detection=mine.index(first),
            first_detection={"event_id": event.id, "at": event.at.isoformat(), **_short(det)},
        )
    else:
        out.update(delay_minutes=None, incident_events_before_detection=None)
    holding = [(a, m) for a, m in grouped.of(detector) if ids.intersection(m)]
    out["alerts"] = len(holding)
    out["alerts_detail"] = [
        {
            "principal": a.principal,
            "model": a.model,
            "first_seen": a.first_seen.isoformat(),
            "last_seen": a.last_seen.isoformat(),
            "detections": a.count,
            "detections_on_other_events": sum(1 for m in members if m not in ids),
        }
        for a, members in holding[:10]
    ]
    return out


def _examples(items: Sequence[tuple[Alert, list[str]]], limit: int = 5) -> list[dict[str, Any]]:
    """Up to ``limit`` alerts, one per principal and model first, then the rest."""
    seen: set[str] = set()
    first: list[tuple[Alert, list[str]]] = []
    rest: list[tuple[Alert, list[str]]] = []
    for item in items:
        (rest if item[0].group_key in seen else first).append(item)
        seen.add(item[0].group_key)
    out = []
    for alert, members in [*first, *rest][:limit]:
        out.append(
            {
                "principal": alert.principal,
                "model": alert.model,
                "first_seen": alert.first_seen.isoformat(),
                "detections": alert.count,
                "title": alert.title,
                "top_evidence": alert.evidence[0] if alert.evidence else "",
                "figures": {k: round(v, 6) for k, v in list(alert.figures.items())[:12]},
                "first_event": members[0],
            }
        )
    return out


def false_alarms(
    traffic: Traffic,
    detections: Detections,
    grouped: Grouped,
    detector_ids: Sequence[str],
    evaluated_from: datetime,
    days: int,
) -> dict[str, Any]:
    """False alarms per evaluated day of benign traffic, per detector."""
    events = traffic.events
    out: dict[str, Any] = {}
    for did in detector_ids:
        raw = [
            (e, d)
            for e, found in zip(events, detections, strict=True)
            for d in found
            if d.detector == did
        ]
        counted = [(e, d) for e, d in raw if e.at >= evaluated_from]
        alerts = [(a, m) for a, m in grouped.of(did) if a.first_seen >= evaluated_from]
        by_key = Counter(f"{a.principal or '-'} | {a.model or '-'}" for a, _ in alerts)
        per_day = Counter(a.first_seen.date().isoformat() for a, _ in alerts)
        out[did] = {
            "detections": len(counted),
            "detections_per_day": round(len(counted) / days, 2),
            "alerts": len(alerts),
            "alerts_per_day": round(len(alerts) / days, 2),
            "alerts_by_day": dict(sorted(per_day.items())),
            "warmup_detections": len(raw) - len(counted),
            "alerts_by_principal_model": dict(by_key.most_common()),
            "examples": _examples(alerts),
        }
    return out


def other_detections(
    traffic: Traffic, detections: Detections, grouped: Grouped, detector_ids: Sequence[str]
) -> dict[str, Any]:
    """Per detector, its detections in the attack run by truth label, and benign-only alerts."""
    out: dict[str, Any] = {}
    truth = traffic.truth
    for did in detector_ids:
        labels: Counter[str] = Counter(
            truth[e.id]
            for e, found in zip(traffic.events, detections, strict=True)
            for d in found
            if d.detector == did
        )
        benign_only = [(a, m) for a, m in grouped.of(did) if all(truth[x] == "benign" for x in m)]
        out[did] = {
            "detections_by_label": dict(sorted(labels.items())),
            "alerts": sum(1 for _ in grouped.of(did)),
            "alerts_on_benign_events_only": len(benign_only),
            "benign_alert_examples": _examples(benign_only, 3),
        }
    return out


# --------------------------------------------------------------------------
# The two runs


def _merge_runs(*runs: Detections) -> Detections:
    return [[d for run in per_event for d in run] for per_event in zip(*runs, strict=True)]


def attack_run(
    *,
    seed: int,
    days: int,
    events_per_day: int,
    window: timedelta,
    batch_size: int,
    detect: DetectFn = run_detectors,
) -> dict[str, Any]:
    """Attack traffic: delay, recall, precision and alerts per incident and detector."""
    traffic = generate_traffic(START, days=days, events_per_day=events_per_day, seed=seed)
    warmup_end = START + timedelta(days=days - 1)
    _log(f"[attack] {len(traffic.events)} events over {days} days (seed {seed})")
    found, figures = detect(traffic, "attack", batch_size)
    volume, volume_figures = hourly_volume_baseline(traffic.events, warmup_end)
    lengths = mean_length_baseline(traffic.events)
    everything = _merge_runs(found, volume, lengths)
    grouped = group(traffic.events, everything, window)
    ids = [*figures["detectors"], BASE_VOLUME, BASE_LENGTH]
    incidents: dict[str, Any] = {}
    for incident in traffic.incidents:
        kind = incident.kind
        incidents[kind] = {
            "incident": {
                "name": incident.name,
                "start": incident.start.isoformat(),
                "end": incident.end.isoformat(),
                "principal": incident.principal,
                "model": incident.model,
                "events": sum(1 for v in traffic.truth.values() if v == kind),
            },
            "detectors": {
                did: incident_scores(traffic, incident, everything, grouped, did)
                for did in MATCHING[kind]
            },
            "baselines": {
                did: incident_scores(traffic, incident, everything, grouped, did)
                for did in BASELINES.get(kind, ())
            },
        }
    return {
        "seed": seed,
        "days": days,
        "warmup_days": days - 1,
        "events": len(traffic.events),
        "events_by_label": dict(sorted(Counter(traffic.truth.values()).items())),
        "run": figures,
        "baseline_settings": {BASE_VOLUME: volume_figures},
        "incidents": incidents,
        "all_detections": other_detections(traffic, everything, grouped, ids),
    }


def benign_run(
    *,
    seed: int,
    days: int,
    warmup_days: int,
    events_per_day: int,
    window: timedelta,
    batch_size: int,
    detect: DetectFn = run_detectors,
) -> dict[str, Any]:
    """Benign traffic: false alarms per evaluated day, per detector and baseline."""
    traffic = generate_traffic(
        START, days=days, events_per_day=events_per_day, attacks=False, seed=seed
    )
    evaluated_from = START + timedelta(days=warmup_days)
    _log(f"[benign] {len(traffic.events)} events over {days} days (seed {seed})")
    found, figures = detect(traffic, "benign", batch_size)
    volume, volume_figures = hourly_volume_baseline(traffic.events, evaluated_from)
    lengths = mean_length_baseline(traffic.events)
    grouped = group(traffic.events, _merge_runs(found, volume, lengths), window)
    evaluated = days - warmup_days
    return {
        "seed": seed,
        "days": days,
        "warmup_days": warmup_days,
        "evaluated_days": evaluated,
        "events": len(traffic.events),
        "evaluated_events": sum(1 for e in traffic.events if e.at >= evaluated_from),
        "run": figures,
        "baseline_settings": {BASE_VOLUME: volume_figures},
        "false_alarms": false_alarms(
            traffic, found, grouped, figures["detectors"], evaluated_from, evaluated
        ),
        "baselines": false_alarms(
            traffic,
            _merge_runs(volume, lengths),
            grouped,
            (BASE_VOLUME, BASE_LENGTH),
            evaluated_from,
            evaluated,
        ),
    }


def summary(attack: dict[str, Any], benign: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per incident kind and detector (or baseline): delay beside false alarms/day."""
    rows = []
    fa = {**benign["false_alarms"], **benign["baselines"]}
    for kind, inc in attack["incidents"].items():
        for role, group_ in (("detector", inc["detectors"]), ("baseline", inc["baselines"])):
            for did, s in group_.items():
                rows.append(
                    {
                        "incident": kind,
                        "role": role,
                        "id": did,
                        "detected": s["detected"],
                        "delay_minutes": s["delay_minutes"],
                        "incident_events_before_detection": s["incident_events_before_detection"],
                        "recall": s["recall"],
                        "precision": s["precision"],
                        "alerts_on_incident": s["alerts"],
                        "false_alerts_per_day": fa[did]["alerts_per_day"],
                        "false_detections_per_day": fa[did]["detections_per_day"],
                    }
                )
    return rows


def table(rows: Sequence[dict[str, Any]]) -> str:
    """The summary as a plain-text table."""
    head = (
        f"{'incident':<19}{'id':<24}{'found':>6}{'delay min':>10}{'n before':>9}"
        f"{'recall':>8}{'prec':>7}{'alerts':>7}{'FA/day':>8}{'FD/day':>8}"
    )
    lines = [head]

    def fmt(v: Any, w: int) -> str:
        return f"{'-' if v is None else v:>{w}}"

    for r in rows:
        lines.append(
            f"{r['incident']:<19}{r['id']:<24}{fmt('yes' if r['detected'] else 'no', 6)}"
            f"{fmt(r['delay_minutes'], 10)}{fmt(r['incident_events_before_detection'], 9)}"
            f"{fmt(r['recall'], 8)}{fmt(r['precision'], 7)}{fmt(r['alerts_on_incident'], 7)}"
            f"{fmt(r['false_alerts_per_day'], 8)}{fmt(r['false_detections_per_day'], 8)}"
        )
    return "\n".join(lines)


def run(
    work: Path | None = None,
    *,
    events_per_day: int = 1000,
    attack_seed: int = ATTACK_SEED,
    attack_days: int = 3,
    benign_seed: int = BENIGN_SEED,
    benign_days: int = 3,
    benign_warmup_days: int = 1,
    window_minutes: float = 60.0,
    batch_size: int = 64,
    detect: DetectFn | None = None,
) -> dict[str, Any]:
    """Run both traffic runs; returns JSON-able results. ``work`` is unused scratch.

    Args:
        work: Scratch folder (unused: nothing is written).
        events_per_day: Expected benign events per generated day.
        attack_seed: Seed of the attack traffic (reporting only).
        attack_days: Days of attack traffic; the incidents come on the last one.
        benign_seed: Seed of the benign traffic (reporting only).
        benign_days: Days of benign traffic.
        benign_warmup_days: First benign days not counted for false alarms.
        window_minutes: Alert grouping window.
        batch_size: Events embedded per model call.
        detect: Runs the detectors over a traffic (default :func:`run_detectors`).
    """
    if attack_days < 2 or benign_days <= benign_warmup_days or benign_warmup_days < 1:
        raise ValueError("need attack_days >= 2 and benign_days > benign_warmup_days >= 1")
    window = timedelta(minutes=window_minutes)
    started = time.perf_counter()
    attack = attack_run(
        seed=attack_seed,
        days=attack_days,
        events_per_day=events_per_day,
        window=window,
        batch_size=batch_size,
        detect=detect or run_detectors,
    )
    benign = benign_run(
        seed=benign_seed,
        days=benign_days,
        warmup_days=benign_warmup_days,
        events_per_day=events_per_day,
        window=window,
        batch_size=batch_size,
        detect=detect or run_detectors,
    )
    rows = summary(attack, benign)
    return {
        "name": "monitor_quality",
        "machine": {"python": platform.python_version(), "cpu": platform.processor() or "?"},
        "settings": {
            "start": START.isoformat(),
            "events_per_day": events_per_day,
            "alert_window_minutes": window_minutes,
            "matching_detectors": {k: list(v) for k, v in MATCHING.items()},
            "baselines": BASELINE_DESCRIPTIONS,
            "reporting_seeds": {"attack": attack_seed, "benign": benign_seed},
            "development_seeds": DEV_SEEDS,
        },
        "summary": rows,
        "attack": attack,
        "benign": benign,
        "seconds": round(time.perf_counter() - started, 1),
    }


def main(argv: list[str] | None = None) -> None:
    """Run and write ``monitor_quality.json`` (to ``benchmarks/results/`` by default)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for the JSON file")
    parser.add_argument("--events-per-day", type=int, default=1000)
    parser.add_argument("--attack-seed", type=int, default=ATTACK_SEED)
    parser.add_argument("--attack-days", type=int, default=3)
    parser.add_argument("--benign-seed", type=int, default=BENIGN_SEED)
    parser.add_argument("--benign-days", type=int, default=3)
    parser.add_argument("--benign-warmup-days", type=int, default=1)
    parser.add_argument("--window-minutes", type=float, default=60.0)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args(argv)
    res = run(
        events_per_day=args.events_per_day,
        attack_seed=args.attack_seed,
        attack_days=args.attack_days,
        benign_seed=args.benign_seed,
        benign_days=args.benign_days,
        benign_warmup_days=args.benign_warmup_days,
        window_minutes=args.window_minutes,
        batch_size=args.batch_size,
    )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "monitor_quality.json").write_text(json.dumps(res, indent=2) + "\n")
    print(json.dumps(res, indent=2))
    print(table(res["summary"]))


if __name__ == "__main__":
    main()
