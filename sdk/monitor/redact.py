"""Redaction of stored prompts and responses.

With ``[monitor] store_text = "redacted"`` (the default) an event's texts are stored
with every secret, PII value and URL query string replaced by ``[REDACTED:TYPE]``,
using the same recognisers as the exfiltration detector. Detectors always see the
texts as sent; only what is written to the store is redacted.
"""

from __future__ import annotations

import re
from typing import Literal

from aiposture.monitor.models import Event, ToolCall

__all__ = ["TextMode", "redact", "redact_event"]

TextMode = Literal["full", "redacted", "none"]

# A query string worth hiding: it may carry data to another host.
_URL_QUERY = re.compile(r"(?i)\bhttps?://[^\s?#\"'<>()\[\]]+\?([^\s#\"'<>()\[\]]+)")


def _spans(text: str) -> list[tuple[str, int, int]]:
    from aiposture.monitor.detectors.exfiltration import _secret_spans, find_pii

    spans = [(kind, s, e) for kind, s, e in _secret_spans(text)]
    spans += [(kind, s, e) for kind, s, e, _ in find_pii(text)]
    for m in _URL_QUERY.finditer(text):
        query = m.group(1).rstrip(".,;:!?")  # sentence punctuation after a link
        if query:
            spans.append(("URL_QUERY", m.start(1), m.start(1) + len(query)))
    return spans


def redact(text: str) -> tuple[str, dict[str, int]]:
    """``text`` with secrets, PII and URL query strings replaced, and counts by type.

    Overlapping spans are merged; the first (leftmost, then longest) names the type.
    """
    if not text:
        return text, {}
    spans = sorted(_spans(text), key=lambda s: (s[1], -(s[2] - s[1])))
    out: list[str] = []
    counts: dict[str, int] = {}
    pos = 0
    for kind, start, end in spans:
        if end <= pos:
            continue
        start = max(start, pos)
        out.append(text[pos:start])
        label = kind.upper().replace(" ", "_")
        out.append(f"[REDACTED:{label}]")
        counts[label] = counts.get(label, 0) + 1
        pos = end
    out.append(text[pos:])
    return "".join(out), counts


def redact_event(event: Event, mode: TextMode) -> tuple[Event, dict[str, int]]:
    """The event as it is stored under ``mode``, and what was redacted by type."""
    if mode == "full":
        return event, {}
    counts: dict[str, int] = {}

    def clean(text: str) -> str:
        if mode == "none" or not text:
            return ""
        red, found = redact(text)
        for k, v in found.items():
            counts[k] = counts.get(k, 0) + v
        return red

    stored = event.model_copy(
        update={
            "system": clean(event.system) if event.system else event.system,
            "prompt": clean(event.prompt),
            "response": clean(event.response),
            "retrieved": [clean(r) for r in event.retrieved],
            "tool_calls": [
                ToolCall(name=c.name, arguments=clean(c.arguments), result=clean(c.result))
                for c in event.tool_calls
            ],
            "error": clean(event.error) if event.error else event.error,
        }
    )
    return stored, counts
