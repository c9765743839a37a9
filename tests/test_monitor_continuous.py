"""Continuous and batch monitoring end to end: OTLP receiver, followed log, the CLI."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aiposture import Posture
from aiposture.cli import main
from aiposture.demo import fake_openai_key
from aiposture.models import utcnow
from aiposture.monitor.models import Event
from aiposture.monitor.stream import OtlpReceiver, follow
from aiposture.settings import Settings

FAST = {"monitor": {"detectors": ["AIP-DET-EXFIL", "AIP-DET-VOLUME"], "batch_size": 8}}


def _span(i: int, response: str) -> dict[str, Any]:
    now = time.time_ns()

    def attr(k: str, v: str) -> dict[str, Any]:
        return {"key": k, "value": {"stringValue": v}}

    return {
        "traceId": f"{i:032x}",
        "spanId": f"{i:016x}",
        "name": "chat gpt-4o-mini",
        "startTimeUnixNano": str(now),
        "endTimeUnixNano": str(now + 120_000_000),
        "attributes": [
            attr("gen_ai.request.model", "gpt-4o-mini"),
            attr("gen_ai.prompt.0.content", f"question {i}"),
            attr("gen_ai.completion.0.content", response),
            attr("enduser.id", "dana"),
        ],
    }


def _post(url: str, spans: list[dict[str, Any]]) -> int:
    doc = {"resourceSpans": [{"resource": {}, "scopeSpans": [{"spans": spans}]}]}
    req = urllib.request.Request(  # noqa: S310 - loopback receiver
        url, data=json.dumps(doc).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=5) as resp:  # noqa: S310 - loopback receiver
        return int(resp.status)


@pytest.mark.timeout(120)
def test_otlp_spans_posted_live_are_detected_stored_and_alerted(tmp_path: Path) -> None:
    settings = Settings.from_mapping(FAST)
    with Posture.open(tmp_path / "p.db", config=settings) as p, OtlpReceiver(port=0) as rx:
        leak = f"sure, the key is {fake_openai_key()}"

        started = threading.Event()

        def source() -> Iterator[Event]:
            started.set()  # the monitor is set up and reading
            yield from rx.events(timeout=2.0)

        def send() -> None:
            assert started.wait(60)
            assert _post(rx.url, [_span(1, "hello"), _span(2, leak)]) == 200
            time.sleep(0.5)  # a pause: the first events must not wait for a full batch
            assert _post(rx.url, [_span(3, "fine")]) == 200

        seen: list[int] = []
        sender = threading.Thread(target=send)
        sender.start()
        run = p.monitor.run(source(), max_wait=0.1, on_batch=lambda r: seen.append(r.events))
        sender.join()
    assert run.events == 3 and run.stored == 3
    assert seen[0] < 3, seen  # the first batch went through before the pause ended
    assert run.detections["AIP-DET-EXFIL"] == 1 and len(run.new_alerts) == 1
    assert run.events_per_second > 0


@pytest.mark.timeout(120)
def test_a_followed_log_is_monitored_as_it_grows(tmp_path: Path) -> None:
    log = tmp_path / "live.jsonl"
    log.write_text("")
    stop = threading.Event()
    at = utcnow().isoformat()

    def write() -> None:
        with log.open("a") as fh:
            for i in range(5):
                row = {"id": f"f{i}", "timestamp": at, "user": "u", "prompt": "hi",
                       "response": f"token {fake_openai_key()}" if i == 3 else "ok"}  # fmt: skip
                fh.write(json.dumps(row) + "\n")
                fh.flush()
                time.sleep(0.05)
            fh.write("{not json\n")
        time.sleep(1.0)
        stop.set()

    settings = Settings.from_mapping(FAST)
    with Posture.open(tmp_path / "p.db", config=settings) as p:
        writer = threading.Thread(target=write)
        writer.start()
        run = p.monitor.run(follow(log, poll_interval=0.05, stop=stop), max_wait=0.1)
        writer.join()
        alerts = p.alerts
    assert run.events == 5 and run.stored == 5
    assert [a.detector for a in alerts] == ["AIP-DET-EXFIL"]
    assert alerts[0].event_ids == ["f3"]


def test_cli_monitor_batch_prints_alerts_and_fails_on_severity(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "aiposture.toml"
    config.write_text('[monitor]\ndetectors = ["AIP-DET-EXFIL"]\n')
    log = tmp_path / "chat.jsonl"
    at = utcnow().isoformat()
    rows = [
        {"id": "a", "timestamp": at, "user": "bob", "response": "all good"},
        {"id": "b", "timestamp": at, "user": "bob", "response": f"key {fake_openai_key()}"},
    ]
    log.write_text("\n".join(json.dumps(r) for r in rows) + "\n\xff\xfe broken\n")
    db = str(tmp_path / "p.db")
    code = main(["--config", str(config), "monitor", str(log), "--json", "--db", db])
    summary = json.loads(capsys.readouterr().out)
    assert code == 0
    assert summary["events"] == 2 and summary["skipped"]
    assert [a["detector"] for a in summary["alerts"]] == ["AIP-DET-EXFIL"]
    alert_id = summary["alerts"][0]["id"]
    # replaying the log raises nothing new, so --fail-on passes
    assert (
        main(["--config", str(config), "monitor", str(log), "--fail-on", "high", "--db", db]) == 0
    )
    capsys.readouterr()
    assert main(["alerts", "list", "--json", "--db", db]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [a["id"] for a in listed] == [alert_id] and listed[0]["status"] == "open"
    assert main(["alerts", "false-positive", alert_id, "--db", db]) == 2  # reason required
    assert main(["alerts", "ack", alert_id, "--reason", "looking", "--db", db]) == 0
    assert main(["alerts", "list", "--status", "acknowledged", "--json", "--db", db]) == 0
    assert len(json.loads(capsys.readouterr().out.split("\n", 1)[1])) == 1


def test_cli_monitor_fails_on_a_new_high_alert_and_refuses_bad_usage(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "aiposture.toml"
    config.write_text('[monitor]\ndetectors = ["AIP-DET-EXFIL"]\n')
    log = tmp_path / "chat.jsonl"
    row = {"id": "x", "timestamp": utcnow().isoformat(), "response": f"{fake_openai_key()}"}
    log.write_text(json.dumps(row) + "\n")
    db = str(tmp_path / "p.db")
    assert (
        main(["--config", str(config), "monitor", str(log), "--fail-on", "high", "--db", db]) == 1
    )
    assert main(["monitor", "--db", db]) == 2
    assert main(["monitor", str(log), "--otlp-port", "0", "--db", db]) == 2
    assert main(["monitor", str(tmp_path / "missing.jsonl"), "--db", db]) == 2
    assert main(["monitor", str(log), "--map", "nokey", "--db", db]) == 2
    assert main(["alerts", "list", "--status", "closed", "--db", db]) == 2
