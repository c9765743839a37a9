"""Run detectors over events, embedding each event's texts once for all that need it."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from aiposture.monitor.base import Detector
from aiposture.monitor.models import Detection, Event
from aiposture.monitor.registry import DetectorRegistry, default_detectors

__all__ = ["DetectorRun", "run_detectors"]


class DetectorRun:
    """Detectors ready to run, with the embedder loaded only if one of them needs it.

    A detector that raises on an event is reported in ``errors`` (detector id, event id,
    error) and the others go on.
    """

    def __init__(
        self,
        detectors: Sequence[Detector] | None = None,
        *,
        registry: DetectorRegistry | None = None,
    ) -> None:
        reg = registry if registry is not None else default_detectors()
        self.detectors = list(detectors) if detectors is not None else reg.create()
        self._needs = any(d.needs_embeddings for d in self.detectors)
        self.errors: list[tuple[str, str, str]] = []

    def detect(self, event: Event) -> list[Detection]:
        """Every detection of every detector on one event."""
        vectors: list[list[float]] | None = None
        if self._needs:
            from aiposture.embeddings.embedder import get_embedder

            vectors = get_embedder().encode(event.texts()).tolist()
        out: list[Detection] = []
        for d in self.detectors:
            try:
                out.extend(d.detect(event, embeddings=vectors if d.needs_embeddings else None))
            except Exception as exc:  # one broken detector must not stop monitoring
                self.errors.append((d.id, event.id, f"{type(exc).__name__}: {exc}"))
        return out

    def run(self, events: Iterable[Event]) -> Iterator[tuple[Event, list[Detection]]]:
        """Each event with its detections, in order, with bounded memory."""
        for event in events:
            yield event, self.detect(event)


def run_detectors(events: Iterable[Event], detectors: Sequence[Detector]) -> list[Detection]:
    """All detections of ``detectors`` over ``events`` (a convenience for notebooks)."""
    run = DetectorRun(detectors)
    return [d for _, found in run.run(events) for d in found]
