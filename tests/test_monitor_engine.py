"""Detectors as plugins: registry, error isolation, shared embeddings."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import pytest

from aiposture.errors import ConfigError
from aiposture.models import Severity
from aiposture.monitor.base import Detector
from aiposture.monitor.engine import DetectorRun
from aiposture.monitor.models import Detection, Event, ToolCall
from aiposture.monitor.registry import DetectorRegistry


class _Shouting(Detector):
    id = "AIP-DET-TEST-SHOUT"
    description = "Flags responses in capitals."
    severity = Severity.LOW

    def detect(
        self, event: Event, *, embeddings: Sequence[Sequence[float]] | None = None
    ) -> list[Detection]:
        if event.response and event.response.isupper():
            return [
                Detection(
                    detector=self.id,
                    event_id=event.id,
                    score=1.0,
                    severity=self.severity,
                    title="shouting",
                )
            ]
        return []


class _Broken(_Shouting):
    id = "AIP-DET-TEST-BROKEN"

    def detect(
        self, event: Event, *, embeddings: Sequence[Sequence[float]] | None = None
    ) -> list[Detection]:
        raise RuntimeError("bug")


class _Semantic(_Shouting):
    id = "AIP-DET-TEST-SEMANTIC"
    needs_embeddings = True
    seen: ClassVar[list[int]] = []

    def detect(
        self, event: Event, *, embeddings: Sequence[Sequence[float]] | None = None
    ) -> list[Detection]:
        assert embeddings is not None
        _Semantic.seen.append(len(embeddings))
        assert all(len(v) == 384 for v in embeddings)
        return []


def test_registry_refuses_a_taken_id_and_names_unknown_ones() -> None:
    reg = DetectorRegistry()
    reg.register(_Shouting)
    with pytest.raises(ConfigError, match="taken"):

        class Other(_Shouting):
            pass

        reg.register(Other)
    with pytest.raises(ConfigError, match="AIP-DET-TEST-SHOUT"):
        reg.get("nope")


def test_a_broken_detector_is_reported_and_the_others_run() -> None:
    run = DetectorRun([_Broken(), _Shouting()])
    found = run.detect(Event(id="e1", prompt="hi", response="HELLO"))
    assert [d.detector for d in found] == ["AIP-DET-TEST-SHOUT"]
    assert run.errors == [("AIP-DET-TEST-BROKEN", "e1", "RuntimeError: bug")]


def test_texts_are_embedded_once_and_shared_with_the_detectors_that_need_them() -> None:
    _Semantic.seen.clear()
    event = Event(
        id="e2",
        prompt="summarise",
        response="ok",
        retrieved=["a document"],
        tool_calls=[ToolCall(name="search", result="results")],
    )
    run = DetectorRun([_Semantic(), _Shouting()])
    assert run.detect(event) == []
    assert _Semantic.seen == [4]  # prompt, response, one document, one tool result
