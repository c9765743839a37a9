"""Reading interaction events from logs and traces, line by line, never crashing.

* JSONL and CSV with a column mapping (:class:`Mapping` of event field → column name;
  nested JSON keys as ``a.b.c``);
* OpenTelemetry GenAI spans in OTLP JSON files (``resourceSpans`` → ``scopeSpans`` →
  ``spans``), as OpenLLMetry and OpenInference instrumentations export them: the model
  from ``gen_ai.request.model`` (or ``gen_ai.response.model``, ``llm.model_name``),
  tokens from ``gen_ai.usage.input_tokens``/``output_tokens`` (or the older
  ``prompt_tokens``/``completion_tokens``), the prompt and the response from
  ``gen_ai.input.messages``/``gen_ai.output.messages`` (JSON), the indexed
  ``gen_ai.prompt.N.content``/``gen_ai.completion.N.content`` attributes, or the
  ``gen_ai.user.message``/``gen_ai.choice`` span events; latency from the span's times.

A record that cannot be read (bad JSON, a missing or mistyped field, a non-UTF-8 line, a
span without GenAI attributes) is skipped and counted by reason in :class:`IngestStats`;
every valid record is kept.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from aiposture.monitor.models import Event

__all__ = [
    "DEFAULT_MAPPING",
    "IngestStats",
    "csv_row_event",
    "decode_line",
    "otlp_events",
    "parse_jsonl_line",
    "read_csv",
    "read_jsonl",
    "read_otlp_json",
    "split_csv_line",
]

#: Event field → source key, used when no mapping is given. ``a|b`` means the first of
#: the keys present; the defaults read common log names and aiposture's own event JSON.
DEFAULT_MAPPING: dict[str, str] = {
    "id": "id",
    "at": "timestamp|at|time",
    "principal": "user|principal",
    "application": "application|app",
    "model": "model",
    "asset_id": "asset_id",
    "system": "system",
    "prompt": "prompt",
    "response": "response",
    "retrieved": "retrieved",
    "tool_calls": "tool_calls",
    "input_tokens": "input_tokens",
    "output_tokens": "output_tokens",
    "latency_ms": "latency_ms",
    "error": "error",
}
#: A line longer than this is skipped (a log line is not a document).
MAX_LINE = 4 * 1024 * 1024


@dataclass
class IngestStats:
    """What reading one source did: records read, events made, records skipped by reason."""

    source: str
    records: int = 0
    events: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    first_error_line: dict[str, int] = field(default_factory=dict)

    def skip(self, reason: str, line: int) -> None:
        """Count one skipped record."""
        self.skipped[reason] += 1
        self.first_error_line.setdefault(reason, line)


def _get(record: dict[str, Any], key: str) -> Any:
    value: Any = record
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            return record.get(key)  # a flat key that contains dots
        value = value[part]
    return value


def _time(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, int | float):
        seconds = float(value)
        while seconds > 1e11:  # milli-, micro- or nanoseconds
            seconds /= 1000
        return datetime.fromtimestamp(seconds, UTC)
    text = str(value).strip()
    try:
        return _time(float(text))
    except ValueError:
        pass
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _event(record: dict[str, Any], mapping: dict[str, str], source: str, fallback_id: str) -> Event:
    data: dict[str, Any] = {"source": source}
    for fld, keys in mapping.items():
        value = None
        for key in keys.split("|") if "|" in keys else (keys,):
            value = _get(record, key)
            if value is not None:
                break
        if value is None or value == "":
            continue
        data[fld] = _time(value) if fld == "at" else value
    for fld in ("retrieved", "tool_calls"):  # a CSV cell holds a JSON list, or one text
        if isinstance(data.get(fld), str):
            text = data[fld].strip()
            data[fld] = json.loads(text) if text.startswith("[") else [text]
    data.setdefault("id", fallback_id)
    data["id"] = str(data["id"])
    for fld in ("prompt", "response", "system", "principal", "application", "model"):
        if fld in data and not isinstance(data[fld], str):
            data[fld] = (
                json.dumps(data[fld]) if isinstance(data[fld], dict | list) else str(data[fld])
            )
    return Event.model_validate(data)


def decode_line(raw: bytes, n: int, stats: IngestStats) -> str | None:
    """The text of one raw log line (``None`` when too long, not UTF-8 — counted — or blank).

    Args:
        raw: The line's bytes, with or without its newline.
        n: Its line number, for the error count.
        stats: Where a skipped line is counted.
    """
    if len(raw) > MAX_LINE:
        stats.skip("line too long", n)
        return None
    try:
        text = codecs.decode(raw, "utf-8")
    except UnicodeDecodeError:
        stats.skip("not UTF-8", n)
        return None
    return text if text.strip() else None


def _lines(path: Path, stats: IngestStats) -> Iterator[tuple[int, str]]:
    with open(path, "rb") as fh:
        for n, raw in enumerate(fh, 1):
            text = decode_line(raw, n, stats)
            if text is not None:
                yield n, text


def parse_jsonl_line(
    line: str, n: int, mapping: dict[str, str], stats: IngestStats, name: str
) -> Event | None:
    """The event of one JSONL line, or ``None`` (the reason counted in ``stats``).

    Args:
        line: The decoded line.
        n: Its line number (the event id is ``name:n`` when the record has none).
        mapping: Event field → key, complete (``DEFAULT_MAPPING`` already merged in).
        stats: Counts the record, and the event or the reason it was skipped.
        name: The source's name for fallback ids (the file name).
    """
    stats.records += 1
    try:
        record = json.loads(line)
    except json.JSONDecodeError:
        stats.skip("not JSON", n)
        return None
    if not isinstance(record, dict):
        stats.skip("not a JSON object", n)
        return None
    try:
        event = _event(record, mapping, "jsonl", f"{name}:{n}")
    except (ValidationError, ValueError, TypeError, OverflowError):
        stats.skip("missing or mistyped field", n)
        return None
    stats.events += 1
    return event


def split_csv_line(line: str, n: int, stats: IngestStats) -> list[str] | None:
    """The cells of one CSV line, or ``None`` (counted as ``not a CSV row``)."""
    try:
        return next(csv.reader(io.StringIO(line)))
    except (csv.Error, StopIteration):
        stats.skip("not a CSV row", n)
        return None


def csv_row_event(
    header: list[str],
    row: list[str],
    n: int,
    mapping: dict[str, str],
    stats: IngestStats,
    name: str,
) -> Event | None:
    """The event of one CSV data row under ``header``, or ``None`` (the reason counted).

    Args:
        header: The column names.
        row: The row's cells.
        n: Its line number (the event id is ``name:n`` when the row has none).
        mapping: Event field → column, complete (``DEFAULT_MAPPING`` already merged in).
        stats: Counts the record, and the event or the reason it was skipped.
        name: The source's name for fallback ids (the file name).
    """
    stats.records += 1
    if len(row) != len(header):
        stats.skip("wrong number of columns", n)
        return None
    try:
        event = _event(dict(zip(header, row, strict=True)), mapping, "csv", f"{name}:{n}")
    except (ValidationError, ValueError, TypeError, OverflowError):
        stats.skip("missing or mistyped field", n)
        return None
    stats.events += 1
    return event


def read_jsonl(
    path: str | Path, mapping: dict[str, str] | None = None, *, stats: IngestStats | None = None
) -> Iterator[Event]:
    """Events from a JSON-lines log (one object per line), mapped by ``mapping``.

    Args:
        path: The log.
        mapping: Event field → key in each object (``DEFAULT_MAPPING`` by default).
        stats: Filled with what was read and skipped.
    """
    path = Path(path)
    stats = stats if stats is not None else IngestStats(str(path))
    mapping = {**DEFAULT_MAPPING, **(mapping or {})}
    for n, line in _lines(path, stats):
        event = parse_jsonl_line(line, n, mapping, stats, path.name)
        if event is not None:
            yield event


def read_csv(
    path: str | Path, mapping: dict[str, str] | None = None, *, stats: IngestStats | None = None
) -> Iterator[Event]:
    """Events from a CSV log with a header row, mapped by ``mapping`` (field → column)."""
    path = Path(path)
    stats = stats if stats is not None else IngestStats(str(path))
    mapping = {**DEFAULT_MAPPING, **(mapping or {})}
    header: list[str] | None = None
    for n, line in _lines(path, stats):
        row = split_csv_line(line, n, stats)
        if row is None:
            continue
        if header is None:
            header = row
            continue
        event = csv_row_event(header, row, n, mapping, stats, path.name)
        if event is not None:
            yield event


# --- OpenTelemetry ------------------------------------------------------------------------


def _any_value(v: Any) -> Any:
    if not isinstance(v, dict):
        return v
    for key in ("stringValue", "boolValue", "doubleValue"):
        if key in v:
            return v[key]
    if "intValue" in v:
        return int(v["intValue"])
    if "arrayValue" in v:
        return [_any_value(x) for x in v["arrayValue"].get("values", [])]
    if "kvlistValue" in v:
        return {kv["key"]: _any_value(kv.get("value")) for kv in v["kvlistValue"].get("values", [])}
    return None


def _attrs(items: Any) -> dict[str, Any]:
    if not isinstance(items, list):
        return {}
    return {
        kv["key"]: _any_value(kv.get("value"))
        for kv in items
        if isinstance(kv, dict) and "key" in kv
    }


def _messages_text(value: Any) -> str:
    """The text of a ``gen_ai.*.messages`` value (JSON string or list of messages)."""
    if isinstance(value, str):
        raw = value
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            return raw
    parts: list[str] = []
    for msg in value if isinstance(value, list) else [value]:
        if isinstance(msg, dict):
            if isinstance(msg.get("content"), str):
                parts.append(msg["content"])
            for p in msg.get("parts") or []:
                if isinstance(p, dict) and isinstance(p.get("content"), str):
                    parts.append(p["content"])
        elif isinstance(msg, str):
            parts.append(msg)
    return "\n".join(parts)


def _indexed(attrs: dict[str, Any], prefix: str) -> tuple[str, str | None]:
    """Text of ``prefix.N.content`` attributes, and the system message if one is there."""
    texts: list[tuple[int, str]] = []
    system = None
    for key, value in attrs.items():
        if key.startswith(prefix + ".") and key.endswith(".content") and isinstance(value, str):
            try:
                idx = int(key[len(prefix) + 1 : -len(".content")])
            except ValueError:
                continue
            if attrs.get(f"{prefix}.{idx}.role") == "system":
                system = value
            else:
                texts.append((idx, value))
    return "\n".join(t for _, t in sorted(texts)), system


def _span_event(span: dict[str, Any], resource: dict[str, Any]) -> Event | None:
    attrs = _attrs(span.get("attributes"))
    model = (
        attrs.get("gen_ai.request.model")
        or attrs.get("gen_ai.response.model")
        or attrs.get("llm.model_name")
    )
    if model is None and not any(k.startswith("gen_ai.") for k in attrs):
        return None
    prompt, system = _indexed(attrs, "gen_ai.prompt")
    response, _ = _indexed(attrs, "gen_ai.completion")
    if "gen_ai.input.messages" in attrs:
        prompt = _messages_text(attrs["gen_ai.input.messages"])
    if "gen_ai.output.messages" in attrs:
        response = _messages_text(attrs["gen_ai.output.messages"])
    if "gen_ai.system_instructions" in attrs:
        system = _messages_text(attrs["gen_ai.system_instructions"])
    for ev in span.get("events") or []:
        ea = _attrs(ev.get("attributes"))
        content = ea.get("content") or ea.get("message")
        text = _messages_text(content) if content is not None else ""
        if ev.get("name") == "gen_ai.user.message" and text:
            prompt = "\n".join(x for x in (prompt, text) if x)
        elif ev.get("name") == "gen_ai.system.message" and text:
            system = text
        elif ev.get("name") == "gen_ai.choice" and text:
            response = "\n".join(x for x in (response, text) if x)
    start = int(span.get("startTimeUnixNano") or 0)
    end = int(span.get("endTimeUnixNano") or 0)
    in_tok = attrs.get("gen_ai.usage.input_tokens", attrs.get("gen_ai.usage.prompt_tokens"))
    out_tok = attrs.get("gen_ai.usage.output_tokens", attrs.get("gen_ai.usage.completion_tokens"))
    return Event.model_validate(
        {
            "id": f"{span.get('traceId', '')}:{span.get('spanId', '')}",
            "at": datetime.fromtimestamp(start / 1e9, UTC) if start else datetime.now(UTC),
            "principal": attrs.get("enduser.id") or attrs.get("user.id"),
            "application": resource.get("service.name"),
            "model": str(model) if model is not None else None,
            "system": system,
            "prompt": prompt,
            "response": response,
            "input_tokens": int(in_tok) if in_tok is not None else None,
            "output_tokens": int(out_tok) if out_tok is not None else None,
            "latency_ms": (end - start) / 1e6 if end >= start > 0 else None,
            "error": (span.get("status") or {}).get("message") or None,
            "source": "otlp",
            "attributes": {
                k: v
                for k, v in attrs.items()
                if k in ("gen_ai.system", "gen_ai.provider.name", "gen_ai.operation.name")
            },
        }
    )


def read_otlp_json(path: str | Path, *, stats: IngestStats | None = None) -> Iterator[Event]:
    """Events from the GenAI spans of an OTLP JSON file (one export per line, or one document).

    Spans without GenAI attributes are counted as ``not a GenAI span``.
    """
    path = Path(path)
    stats = stats if stats is not None else IngestStats(str(path))
    text = path.read_bytes()
    try:
        docs = [json.loads(text)]
    except (json.JSONDecodeError, UnicodeDecodeError):
        docs = []
        for n, line in _lines(path, stats):
            try:
                docs.append(json.loads(line))
            except json.JSONDecodeError:
                stats.records += 1
                stats.skip("not JSON", n)
    yield from otlp_events(docs, stats)


def otlp_events(docs: list[Any], stats: IngestStats) -> Iterator[Event]:
    """Events from decoded OTLP/JSON export requests (also used by the OTLP receiver)."""
    for d, doc in enumerate(docs, 1):
        if not isinstance(doc, dict) or not isinstance(doc.get("resourceSpans"), list):
            stats.records += 1
            stats.skip("not an OTLP trace export", d)
            continue
        for rs in doc["resourceSpans"]:
            resource = _attrs(((rs or {}).get("resource") or {}).get("attributes"))
            for ss in (rs or {}).get("scopeSpans") or []:
                for span in (ss or {}).get("spans") or []:
                    stats.records += 1
                    if not isinstance(span, dict):
                        stats.skip("malformed span", d)
                        continue
                    try:
                        event = _span_event(span, resource)
                    except (ValidationError, ValueError, TypeError, KeyError, OverflowError):
                        stats.skip("malformed span", d)
                        continue
                    if event is None:
                        stats.skip("not a GenAI span", d)
                        continue
                    stats.events += 1
                    yield event
