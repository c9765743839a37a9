"""Reading events from JSONL, CSV and OTLP JSON: valid records kept, bad ones counted."""

from __future__ import annotations

import json
from pathlib import Path

from aiposture.monitor.ingest import IngestStats, read_csv, read_jsonl, read_otlp_json
from aiposture.monitor.models import Event


def test_jsonl_with_a_mapping_keeps_every_valid_line_and_counts_the_rest(tmp_path: Path) -> None:
    log = tmp_path / "chat.jsonl"
    good = {
        "rid": "r1",
        "ts": "2026-11-20T10:00:00Z",
        "who": {"name": "ann"},
        "llm": "gpt-4o-mini",
        "q": "Hello",
        "a": "Hi there",
        "tok_in": 12,
    }
    lines = [
        json.dumps(good).encode(),
        b"{not json",
        json.dumps([1, 2]).encode(),
        json.dumps({**good, "rid": "r2", "tok_in": "many"}).encode(),
        b"\xff\xfe broken bytes",
        b"",
        json.dumps({**good, "rid": "r3", "ts": 1763632800123}).encode(),
    ]
    log.write_bytes(b"\n".join(lines) + b"\n")
    stats = IngestStats(str(log))
    mapping = {
        "id": "rid",
        "at": "ts",
        "principal": "who.name",
        "model": "llm",
        "prompt": "q",
        "response": "a",
        "input_tokens": "tok_in",
    }
    events = list(read_jsonl(log, mapping, stats=stats))
    assert [e.id for e in events] == ["r1", "r3"]
    assert events[0].principal == "ann" and events[0].input_tokens == 12
    assert events[1].at.year == 2025 and events[1].source == "jsonl"
    assert dict(stats.skipped) == {
        "not JSON": 1,
        "not a JSON object": 1,
        "missing or mistyped field": 1,
        "not UTF-8": 1,
    }
    assert stats.first_error_line["not JSON"] == 2
    assert (stats.records, stats.events) == (5, 2)


def test_csv_with_a_header_and_bad_rows(tmp_path: Path) -> None:
    log = tmp_path / "calls.csv"
    log.write_text(
        "id,timestamp,user,model,prompt,response,latency_ms\n"
        'c1,2026-11-20T10:00:00Z,bob,claude-3-5-haiku,"Hi, there","Hello"\n'.replace(
            '"Hello"\n', '"Hello",120.5\n'
        )
        + "c2,2026-11-20T10:01:00Z,bob,claude-3-5-haiku,short row\n"
        + "c3,yesterday,bob,claude-3-5-haiku,a,b,1\n"
    )
    stats = IngestStats(str(log))
    events = list(read_csv(log, stats=stats))
    assert [(e.id, e.prompt, e.latency_ms) for e in events] == [("c1", "Hi, there", 120.5)]
    assert dict(stats.skipped) == {"wrong number of columns": 1, "missing or mistyped field": 1}


def _span(**attrs: object) -> dict[str, object]:
    def value(v: object) -> dict[str, object]:
        if isinstance(v, bool):
            return {"boolValue": v}
        if isinstance(v, int):
            return {"intValue": str(v)}
        return {"stringValue": str(v)}

    return {
        "traceId": "t1",
        "spanId": f"s{len(attrs)}",
        "name": "chat",
        "startTimeUnixNano": "1763632800000000000",
        "endTimeUnixNano": "1763632800450000000",
        "attributes": [{"key": k, "value": value(v)} for k, v in attrs.items()],
    }


def test_otlp_genai_spans_become_events_and_other_spans_are_counted(tmp_path: Path) -> None:
    openllmetry = _span(
        **{
            "gen_ai.system": "openai",
            "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.prompt.0.role": "system",
            "gen_ai.prompt.0.content": "You are a support bot.",
            "gen_ai.prompt.1.role": "user",
            "gen_ai.prompt.1.content": "Where is my order?",
            "gen_ai.completion.0.content": "It ships tomorrow.",
            "gen_ai.usage.prompt_tokens": 21,
            "gen_ai.usage.completion_tokens": 6,
            "enduser.id": "cust-17",
        }
    )
    semconv = _span(
        **{
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": "claude-3-5-haiku",
            "gen_ai.input.messages": json.dumps(
                [{"role": "user", "parts": [{"type": "text", "content": "Summarise this"}]}]
            ),
            "gen_ai.output.messages": json.dumps(
                [{"role": "assistant", "parts": [{"type": "text", "content": "A summary"}]}]
            ),
            "gen_ai.usage.input_tokens": 40,
        }
    )
    http = _span(**{"http.method": "GET"})
    export = {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": "bot"}}]
                },
                "scopeSpans": [{"spans": [openllmetry, semconv, http, "junk"]}],
            }
        ]
    }
    path = tmp_path / "traces.json"
    path.write_text(json.dumps(export) + "\n" + "{broken\n")
    stats = IngestStats(str(path))
    events = list(read_otlp_json(path, stats=stats))
    first, second = events
    assert (first.model, first.system, first.prompt, first.response) == (
        "gpt-4o-mini",
        "You are a support bot.",
        "Where is my order?",
        "It ships tomorrow.",
    )
    assert (first.input_tokens, first.output_tokens, first.principal) == (21, 6, "cust-17")
    assert first.application == "bot" and first.latency_ms == 450.0
    assert (second.prompt, second.response, second.input_tokens) == (
        "Summarise this",
        "A summary",
        40,
    )
    assert dict(stats.skipped) == {"not a GenAI span": 1, "malformed span": 1, "not JSON": 1}


def test_aiposture_event_json_reads_back_with_the_default_mapping(tmp_path: Path) -> None:
    from aiposture.monitor.models import ToolCall

    original = Event(
        id="e-1",
        principal="ann",
        application="hr",
        model="llama",
        prompt="p",
        response="r",
        retrieved=["doc one"],
        tool_calls=[ToolCall(name="lookup", arguments="{}", result="ok")],
        latency_ms=12.5,
        error="timeout",
        source="jsonl",
    )
    log = tmp_path / "events.jsonl"
    log.write_text(original.model_dump_json() + "\n")
    (back,) = list(read_jsonl(log))
    assert back == original


def test_csv_list_cells_hold_json_lists_or_one_text(tmp_path: Path) -> None:
    log = tmp_path / "events.csv"
    log.write_text('id,prompt,retrieved\na,q,"[""d1"", ""d2""]"\nb,q,just one doc\n')
    events = {e.id: e for e in read_csv(log)}
    assert events["a"].retrieved == ["d1", "d2"] and events["b"].retrieved == ["just one doc"]
