"""Streaming sources: the OTLP/HTTP JSON receiver over a real socket, and following a log."""

from __future__ import annotations

import gzip
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from aiposture.errors import ConfigError
from aiposture.monitor import ingest
from aiposture.monitor.ingest import IngestStats
from aiposture.monitor.models import Event
from aiposture.monitor.stream import OtlpReceiver, follow

pytestmark = pytest.mark.timeout(30)


# --- helpers ------------------------------------------------------------------------------


def _attr(key: str, value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"key": key, "value": {"boolValue": value}}
    if isinstance(value, int):
        return {"key": key, "value": {"intValue": str(value)}}
    return {"key": key, "value": {"stringValue": str(value)}}


def _genai_span(span_id: str, prompt: str, response: str, **extra: Any) -> dict[str, Any]:
    attrs = {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.prompt.0.role": "user",
        "gen_ai.prompt.0.content": prompt,
        "gen_ai.completion.0.content": response,
        "gen_ai.usage.input_tokens": 11,
        "gen_ai.usage.output_tokens": 7,
        "enduser.id": "dana",
        **extra,
    }
    return {
        "traceId": "5b8efff798038103d269b633813fc60c",
        "spanId": span_id,
        "name": "chat gpt-4o-mini",
        "startTimeUnixNano": "1763632800000000000",
        "endTimeUnixNano": "1763632800250000000",
        "attributes": [_attr(k, v) for k, v in attrs.items()],
    }


def _export(*spans: Any, service: str = "helpdesk") -> dict[str, Any]:
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": [_attr("service.name", service)]},
                "scopeSpans": [{"scope": {"name": "openllmetry"}, "spans": list(spans)}],
            }
        ]
    }


def _post(
    url: str, body: bytes, content_type: str = "application/json", **headers: str
) -> tuple[int, dict[str, str], Any]:
    request = urllib.request.Request(  # noqa: S310 - the receiver's http URL
        url, data=body, method="POST", headers={"Content-Type": content_type, **headers}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as resp:  # noqa: S310 - http on loopback
            return resp.status, dict(resp.headers), json.loads(resp.read())
    except urllib.error.HTTPError as err:
        with err:
            return err.code, dict(err.headers), json.loads(err.read())


def _post_json(url: str, doc: Any, **headers: str) -> tuple[int, dict[str, str], Any]:
    return _post(url, json.dumps(doc).encode(), **headers)


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    with OtlpReceiver(port=0, queue_size=4, max_body=8 * 1024) as rx:
        yield rx


def _wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.01)


# --- OTLP receiver ------------------------------------------------------------------------


def test_posted_genai_spans_become_events_with_their_fields(receiver: OtlpReceiver) -> None:
    assert receiver.port > 0
    assert receiver.url == f"http://127.0.0.1:{receiver.port}/v1/traces"
    doc = _export(
        _genai_span("a1", "Where is my parcel?", "It ships tomorrow."),
        _genai_span("a2", "Cancel it", "Done", **{"gen_ai.request.model": "claude-3-5-haiku"}),
    )
    status, headers, body = _post_json(receiver.url, doc)
    assert status == 200 and headers["Content-Type"] == "application/json"
    assert body == {"partialSuccess": {}}
    events = list(receiver.events(timeout=0.2))
    assert [e.id for e in events] == [
        "5b8efff798038103d269b633813fc60c:a1",
        "5b8efff798038103d269b633813fc60c:a2",
    ]
    first = events[0]
    assert (first.prompt, first.response, first.model) == (
        "Where is my parcel?",
        "It ships tomorrow.",
        "gpt-4o-mini",
    )
    assert (first.principal, first.application, first.source) == ("dana", "helpdesk", "otlp")
    assert (first.input_tokens, first.output_tokens, first.latency_ms) == (11, 7, 250.0)
    assert events[1].model == "claude-3-5-haiku"
    assert (receiver.received_requests, receiver.accepted_events) == (1, 2)


def test_malformed_spans_are_reported_as_rejected_and_valid_ones_kept(
    receiver: OtlpReceiver,
) -> None:
    bad_time = {**_genai_span("b2", "x", "y"), "startTimeUnixNano": "yesterday"}
    plain_http = {"spanId": "b3", "attributes": [_attr("http.method", "GET")]}
    doc = _export(_genai_span("b1", "Hello", "Hi"), "junk", bad_time, plain_http)
    status, _, body = _post_json(receiver.url, doc)
    assert status == 200
    assert body["partialSuccess"]["rejectedSpans"] == 2
    assert "malformed" in body["partialSuccess"]["errorMessage"]
    assert [e.prompt for e in receiver.events(timeout=0.2)] == ["Hello"]
    assert (receiver.rejected_spans, receiver.ignored_spans, receiver.accepted_events) == (2, 1, 1)
    assert receiver.stats.skipped["malformed span"] == 2


def test_gzip_bodies_are_inflated(receiver: OtlpReceiver) -> None:
    body = gzip.compress(json.dumps(_export(_genai_span("c1", "zipped?", "yes"))).encode())
    status, _, answer = _post(receiver.url, body, **{"Content-Encoding": "gzip"})
    assert (status, answer) == (200, {"partialSuccess": {}})
    assert [e.prompt for e in receiver.events(timeout=0.2)] == ["zipped?"]


def test_protobuf_is_refused_with_415_naming_json(receiver: OtlpReceiver) -> None:
    status, _, body = _post(receiver.url, b"\x0a\x02\x08\x01", "application/x-protobuf")
    assert status == 415
    assert "application/x-protobuf" in body["message"] and "JSON only" in body["message"]
    assert receiver.accepted_events == 0 and receiver.received_requests == 1


def test_bad_json_and_non_exports_get_400(receiver: OtlpReceiver) -> None:
    status, _, body = _post(receiver.url, b'{"resourceSpans": [')
    assert status == 400 and body["code"] == 3 and "not JSON" in body["message"]
    assert _post(receiver.url, b"\xff\xfe\x00")[0] == 400
    assert _post_json(receiver.url, [1, 2])[0] == 400
    assert _post_json(receiver.url, {"resourceSpans": "nope"})[0] == 400
    bad_gzip = _post(receiver.url, b"not gzip at all", **{"Content-Encoding": "gzip"})
    assert bad_gzip[0] == 400
    # an empty export is valid OTLP: nothing to take, nothing rejected
    status, _, body = _post_json(receiver.url, {})
    assert (status, body) == (200, {"partialSuccess": {}})
    assert receiver.accepted_events == 0 and receiver.received_requests == 6


def test_oversized_bodies_get_413_compressed_or_inflated(receiver: OtlpReceiver) -> None:
    big = _export(_genai_span("d1", "x" * 20_000, "y"))
    status, _, body = _post_json(receiver.url, big)
    assert status == 413 and "limit" in body["message"]
    bomb = gzip.compress(json.dumps(big).encode())
    assert len(bomb) < 8 * 1024  # small on the wire, over the limit once inflated
    assert _post(receiver.url, bomb, **{"Content-Encoding": "gzip"})[0] == 413
    # the receiver still serves after refusing
    ok = _post_json(receiver.url, _export(_genai_span("d2", "small", "fine")))
    assert ok[0] == 200 and receiver.accepted_events == 1


def test_other_paths_get_404(receiver: OtlpReceiver) -> None:
    status, _, _ = _post_json(receiver.url.replace("/v1/traces", "/v1/metrics"), {})
    assert status == 404
    assert receiver.received_requests == 0


def test_a_full_queue_answers_503_with_retry_after_and_queues_nothing_of_it(
    receiver: OtlpReceiver,
) -> None:
    three = _export(*(_genai_span(f"e{i}", f"q{i}", "a") for i in range(3)))
    assert _post_json(receiver.url, three)[0] == 200  # 3 of 4 places taken
    status, headers, body = _post_json(receiver.url, three)
    assert status == 503 and headers["Retry-After"] == "1" and body["code"] == 14
    assert (receiver.dropped, receiver.accepted_events, receiver.qsize()) == (3, 3, 3)
    taken = list(receiver.events(timeout=0.2))
    assert [e.prompt for e in taken] == ["q0", "q1", "q2"]  # no half of the refused request
    assert _post_json(receiver.url, three)[0] == 200  # the retry is taken once drained
    assert receiver.accepted_events == 6
    five = _export(*(_genai_span(f"f{i}", "q", "a") for i in range(5)))
    assert _post_json(receiver.url, five)[0] == 413  # never fits: retrying cannot help


def test_non_loopback_hosts_are_refused_unless_allowed() -> None:
    with pytest.raises(ConfigError, match="allow_remote"):
        OtlpReceiver(host="0.0.0.0", port=0)  # noqa: S104 - the refusal is tested
    with pytest.raises(ConfigError, match="allow_remote"):
        OtlpReceiver(host="192.168.1.20", port=0)
    with pytest.raises(ConfigError, match="allow_remote"):
        OtlpReceiver(host="collector.example.com", port=0)
    anywhere = "0.0.0.0"  # noqa: S104 - constructed, never started
    assert OtlpReceiver(host=anywhere, port=0, allow_remote=True).host == anywhere
    assert OtlpReceiver(host="localhost", port=0).host == "localhost"


def test_a_taken_port_is_a_config_error(receiver: OtlpReceiver) -> None:
    with pytest.raises(ConfigError, match="port in use"):
        OtlpReceiver(port=receiver.port).start()


def test_stop_ends_events_after_the_queued_ones() -> None:
    rx = OtlpReceiver(port=0).start()
    got: list[Event] = []
    consumer = threading.Thread(target=lambda: got.extend(rx.events()))
    consumer.start()
    assert _post_json(rx.url, _export(_genai_span("g1", "one", "1")))[0] == 200
    _wait_for(lambda: len(got) == 1)
    assert consumer.is_alive()  # still waiting for more
    assert _post_json(rx.url, _export(_genai_span("g2", "two", "2")))[0] == 200
    rx.stop()
    consumer.join(timeout=5)
    assert not consumer.is_alive()
    assert [e.prompt for e in got] == ["one", "two"]
    assert not rx.running
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(rx.url, data=b"{}", timeout=2)  # noqa: S310 - loopback
    rx.stop()  # idempotent


# --- follow -------------------------------------------------------------------------------


class _Follower:
    """``follow`` running in a thread, collecting its events."""

    def __init__(self, path: Path, **kwargs: Any) -> None:
        self.stop = threading.Event()
        self.stats = IngestStats(str(path))
        self.events: list[Event] = []
        self.thread = threading.Thread(
            target=lambda: self.events.extend(
                follow(path, stats=self.stats, poll_interval=0.01, stop=self.stop, **kwargs)
            )
        )
        self.thread.start()

    def ids(self) -> list[str]:
        return [e.id for e in list(self.events)]

    def wait(self, n: int) -> list[str]:
        _wait_for(lambda: len(self.events) >= n)
        return self.ids()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=5)
        assert not self.thread.is_alive()


def _line(rid: str, prompt: str = "hello") -> bytes:
    return json.dumps({"id": rid, "prompt": prompt, "user": "eve"}).encode() + b"\n"


def _append(path: Path, data: bytes) -> None:
    with open(path, "ab") as fh:
        fh.write(data)


def test_follow_yields_lines_appended_by_a_writer(tmp_path: Path) -> None:
    log = tmp_path / "chat.jsonl"
    log.write_bytes(_line("old"))
    tail = _Follower(log)
    try:
        assert tail.wait(1) == ["old"]

        def writer() -> None:
            for i in range(20):
                _append(log, _line(f"w{i}", f"prompt {i}"))
                time.sleep(0.002)

        w = threading.Thread(target=writer)
        w.start()
        w.join()
        assert tail.wait(21) == ["old", *(f"w{i}" for i in range(20))]
        assert tail.events[5].prompt == "prompt 4" and tail.events[5].principal == "eve"
    finally:
        tail.close()


def test_follow_waits_for_a_partial_line_to_be_finished(tmp_path: Path) -> None:
    log = tmp_path / "chat.jsonl"
    whole = _line("p1", "finish me")
    log.write_bytes(_line("p0") + whole[:12])
    tail = _Follower(log)
    try:
        assert tail.wait(1) == ["p0"]
        time.sleep(0.1)  # many polls pass: the half line is not parsed (nor counted bad)
        assert tail.ids() == ["p0"] and not tail.stats.skipped
        _append(log, whole[12:])
        assert tail.wait(2) == ["p0", "p1"]
        assert tail.events[1].prompt == "finish me"
    finally:
        tail.close()


def test_follow_survives_truncation(tmp_path: Path) -> None:
    log = tmp_path / "chat.jsonl"
    log.write_bytes(_line("t0") + _line("t1") + _line("t2"))
    tail = _Follower(log)
    try:
        assert tail.wait(3) == ["t0", "t1", "t2"]
        with open(log, "wb") as fh:  # copytruncate: same file, emptied, written again
            fh.write(json.dumps({"prompt": "after"}).encode() + b"\n")
        assert tail.wait(4)[3] == "chat.jsonl#1:1"
        assert tail.events[3].prompt == "after"
    finally:
        tail.close()


def test_follow_survives_rotation_and_reads_the_old_file_to_its_end(tmp_path: Path) -> None:
    log = tmp_path / "chat.jsonl"
    log.write_bytes(_line("r0"))
    tail = _Follower(log)
    try:
        assert tail.wait(1) == ["r0"]
        with open(log, "ab") as old:
            log.rename(tmp_path / "chat.jsonl.1")
            old.write(_line("r1-late"))  # the writer had not reopened yet
        log.write_bytes(_line("n0") + _line("n1"))
        assert tail.wait(4) == ["r0", "r1-late", "n0", "n1"]
        _append(log, _line("n2"))
        assert tail.wait(5)[-1] == "n2"
    finally:
        tail.close()


def test_follow_counts_bad_lines_and_keeps_every_good_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ingest, "MAX_LINE", 200)
    log = tmp_path / "chat.jsonl"
    log.write_bytes(b"")
    tail = _Follower(log)
    try:
        _append(log, b"{not json\n" + _line("ok1") + b"\xff\xfe\n" + b"[1]\n")
        _append(log, b'{"id": "x", "input_tokens": "many"}\n')
        _append(log, b'{"id": "huge", "prompt": "' + b"z" * 300)  # unfinished and too long
        time.sleep(0.05)
        _append(log, b"z" * 300 + b'"}\n' + _line("ok2"))
        assert tail.wait(2) == ["ok1", "ok2"]
        _wait_for(lambda: tail.stats.skipped["line too long"] == 1)
        assert dict(tail.stats.skipped) == {
            "not JSON": 1,
            "not UTF-8": 1,
            "not a JSON object": 1,
            "missing or mistyped field": 1,
            "line too long": 1,
        }
        assert tail.stats.events == 2
    finally:
        tail.close()


def test_follow_waits_for_a_missing_file_and_stops_on_the_stop_event(tmp_path: Path) -> None:
    log = tmp_path / "later.jsonl"
    tail = _Follower(log)
    time.sleep(0.05)
    assert tail.thread.is_alive() and tail.ids() == []
    log.write_bytes(_line("l0"))
    assert tail.wait(1) == ["l0"]
    tail.stop.set()
    tail.thread.join(timeout=2)
    assert not tail.thread.is_alive()
    _append(log, _line("l1"))
    time.sleep(0.05)
    assert tail.ids() == ["l0"]


def test_follow_csv_from_the_end_keeps_the_header_and_skips_old_rows(tmp_path: Path) -> None:
    log = tmp_path / "calls.csv"
    log.write_text("id,user,prompt\nc0,ann,old question\n")
    tail = _Follower(log, format="csv", from_start=False)
    try:
        time.sleep(0.05)
        _append(log, b"c1,bob,new question\nc2,too,many,cells\n")
        assert tail.wait(1) == ["c1"]
        assert (tail.events[0].principal, tail.events[0].prompt) == ("bob", "new question")
        _wait_for(lambda: tail.stats.skipped["wrong number of columns"] == 1)
        with open(log, "w") as fh:  # truncated; the logger writes its header again
            fh.write("id,user,prompt\nc3,cy,again\n")
        assert tail.wait(2) == ["c1", "c3"]
    finally:
        tail.close()


def test_follow_rejects_an_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="parquet"):
        next(follow(tmp_path / "x", format="parquet"))
