"""``posture.monitor``: scan prompts, run the detectors over events and logs."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from aiposture.errors import ConfigError
from aiposture.monitor.models import Detection, Event

if TYPE_CHECKING:
    from aiposture.monitor.detectors.injection import InjectionScan
    from aiposture.monitor.engine import DetectorRun
    from aiposture.monitor.ingest import IngestStats

__all__ = ["Monitor"]

_READERS = ("jsonl", "csv", "otlp")


class Monitor:
    """Detectors over live AI traffic (see :mod:`aiposture.monitor`)."""

    def __init__(self) -> None:
        self._run: DetectorRun | None = None

    def scan_prompt(self, text: str, context: str | None = None) -> InjectionScan:
        """Score one text for prompt injection and jailbreak (0 to 1, with a label and the
        evidence: heuristics that fired, nearest exemplars).

        Args:
            text: A prompt, or a retrieved document or tool result (indirect injection).
            context: Where the text comes from (``prompt``, ``retrieved[0]``...).
        """
        from aiposture.monitor.detectors.injection import scan_prompt

        return scan_prompt(text, context)

    def detect(self, event: Event) -> list[Detection]:
        """Every registered detector on one event (texts embedded once, shared)."""
        if self._run is None:
            from aiposture.monitor.engine import DetectorRun

            self._run = DetectorRun()
        return self._run.detect(event)

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

    def run(self, events: Iterable[Event]) -> Iterator[tuple[Event, list[Detection]]]:
        """Each event with its detections, in order, with bounded memory (batch mode)."""
        for event in events:
            yield event, self.detect(event)
