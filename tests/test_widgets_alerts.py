"""The Alerts panel on the demo estate, with alerts raised by a real (cheap) detector."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from aiposture import Posture, Settings
from aiposture.demo import fake_openai_key
from aiposture.monitor.detectors.exfiltration import ExfiltrationDetector
from aiposture.monitor.models import AlertStatus, Event
from aiposture.widgets.alerts import AlertsPanel
from conftest import DemoStore

HOSTILE = "<img src=x onerror=alert(1)>"
ESCAPED = "&lt;img src=x onerror=alert(1)&gt;"


@pytest.fixture(scope="module")
def demo_db(demo_store: DemoStore) -> Path:
    return demo_store.db


def _leak(event_id: str, principal: str, at: datetime) -> Event:
    return Event(
        id=event_id,
        at=at,
        principal=principal,
        model="gpt-4o-mini",
        prompt=f"Summarise the ticket from {principal}",
        response=f"Done. The service key is {fake_openai_key()} if you need it.",
    )


@pytest.fixture
def posture(demo_db: Path, tmp_path: Path) -> Iterator[Posture]:
    db = tmp_path / "p.db"
    shutil.copy(demo_db, db)
    with Posture.open(db, actor="analyst", config=Settings()) as p:
        p.monitor.use([ExfiltrationDetector()])
        now = datetime.now(UTC)
        p.monitor.record(_leak("ev-alice", "alice", now - timedelta(minutes=5)))
        p.monitor.record(_leak("ev-hostile", HOSTILE, now - timedelta(minutes=1)))
        assert len(p.alerts) == 2
        yield p


def _alert_of(p: Posture, principal: str) -> str:
    return next(a.id for a in p.alerts if a.principal == principal)


def _all_html(widget: Any) -> str:
    out = [str(widget.value)] if type(widget).__name__ == "HTML" else []
    for child in getattr(widget, "children", ()):
        out.append(_all_html(child))
    return "".join(out)


def _wait(condition: Callable[[], bool], seconds: float = 10.0) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def test_the_feed_lists_the_alerts_in_sdk_order_with_filters(posture: Posture) -> None:
    panel = AlertsPanel(posture)
    assert "aiposture-alerts" in panel._dom_classes
    assert [a.id for a in panel.feed.visible] == [a.id for a in posture.alerts]
    assert set(panel.feed.filters) == {"severity", "status", "detector"}
    assert list(panel.feed.filters["detector"].options) == ["all", "AIP-DET-EXFIL"]
    assert not panel.polling  # live polling only when asked
    panel.feed.filters["status"].value = "open"
    assert len(panel.feed.matching) == 2
    assert panel.ack_button.disabled  # nothing selected yet


def test_selecting_an_alert_shows_its_detail_and_events_escaped(posture: Posture) -> None:
    panel = AlertsPanel(posture)
    target = _alert_of(posture, HOSTILE)
    slot = [a.id for a in panel.feed.visible].index(target)
    panel.feed.rows[slot].children[0].click()  # the row's open button
    assert panel.selected is not None and panel.selected.id == target
    assert target in panel.detail.value and "AIP-DET-EXFIL" in panel.detail.value
    assert "Summarise the ticket from" in panel.events.value
    html = _all_html(panel)
    assert "<img" not in html
    assert ESCAPED in panel.detail.value and ESCAPED in panel.events.value
    assert not panel.ack_button.disabled


def test_acknowledge_stores_the_status_with_who_and_audits_it(posture: Posture) -> None:
    panel = AlertsPanel(posture)
    target = _alert_of(posture, "alice")
    panel.select(target)
    panel.ack_button.click()
    stored = posture.monitor.alert(target)
    assert stored.status is AlertStatus.ACKNOWLEDGED and stored.status_by == "analyst"
    assert any(e.action == "alert.status" and e.object_id == target for e in posture.audit_log())
    assert "acknowledged" in panel.message.value
    row = next(a for a in panel.feed.matching if a.id == target)
    assert row.status is AlertStatus.ACKNOWLEDGED  # the feed was reloaded


def test_false_positive_without_a_reason_shows_the_sdk_message(posture: Posture) -> None:
    panel = AlertsPanel(posture)
    target = _alert_of(posture, "alice")
    panel.select(target)
    panel.fp_button.click()
    assert "needs a reason" in panel.message.value and "Traceback" not in panel.message.value
    assert posture.monitor.alert(target).status is AlertStatus.OPEN
    panel.reason.value = f"test key from the load test {HOSTILE}"
    panel.fp_button.click()
    stored = posture.monitor.alert(target)
    assert stored.status is AlertStatus.FALSE_POSITIVE
    assert stored.status_reason == f"test key from the load test {HOSTILE}"
    assert "<img" not in panel.detail.value and ESCAPED in panel.detail.value


def test_resolve_and_the_status_filter_follow_the_store(posture: Posture) -> None:
    panel = AlertsPanel(posture)
    panel.feed.filters["status"].value = "open"
    panel.select(_alert_of(posture, "alice"))
    panel.resolve_button.click()
    assert posture.monitor.alert(_alert_of(posture, "alice")).status is AlertStatus.RESOLVED
    assert panel.feed.filters["status"].value == "open"  # the filter survives the reload
    assert [a.principal for a in panel.feed.matching] == [HOSTILE]


def test_refresh_button_picks_up_new_alerts(posture: Posture) -> None:
    panel = AlertsPanel(posture)
    posture.monitor.record(_leak("ev-bob", "bob", datetime.now(UTC)))
    assert len(panel.feed.matching) == 2
    panel.refresh_button.click()
    assert len(panel.feed.matching) == 3


def test_live_polling_reloads_until_unchecked_or_closed(posture: Posture) -> None:
    panel = AlertsPanel(posture, poll_seconds=0.05)
    assert not panel.polling
    panel.live.value = True
    assert panel.polling
    posture.monitor.record(_leak("ev-carol", "carol", datetime.now(UTC)))
    assert _wait(lambda: len(panel.feed.matching) == 3)
    panel.live.value = False
    assert not panel.polling

    other = AlertsPanel(posture, poll_seconds=0.05, live=True)
    assert other.polling and other.live.value
    other.close()
    assert not other.polling


def test_a_missing_alert_is_a_message_not_a_traceback(posture: Posture) -> None:
    panel = AlertsPanel(posture)
    panel.select("alr-does-not-exist")
    assert "no alert with id" in panel.message.value
    assert panel.selected is None and panel.ack_button.disabled
    assert panel.set_status("acknowledged") is None
    assert "select an alert first" in panel.message.value
