"""Run detectors over events, embedding each event's texts once for all that need it."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from typing import TYPE_CHECKING

from aiposture.monitor.base import Detector
from aiposture.monitor.models import Detection, Event
from aiposture.monitor.registry import DetectorRegistry, default_detectors

if TYPE_CHECKING:
    from aiposture.settings import Settings

__all__ = ["DetectorRun", "batched", "run_detectors"]

#: Errors kept on a run (the count goes on past it).
MAX_ERRORS = 1000
#: Characters of each text given to the embedder (far more than its 256 tokens take).
EMBED_CHARS = 8192


class DetectorRun:
    """Detectors ready to run, with the embedder loaded only if one of them needs it.

    Texts of a batch of events are embedded together (one model call per batch, each
    text once) and the vectors handed to every detector that needs them; detectors then
    see the events one by one, in order, so stateful detectors keep their meaning.
    A detector that raises on an event is reported in ``errors`` (detector id, event
    id, error) and the others go on.

    Args:
        detectors: The detectors (default: every registered one).
        registry: Where to take them from.
        ids: Only these detector ids.
        settings: Configuration passed to each detector's ``from_settings``.
    """

    def __init__(
        self,
        detectors: Sequence[Detector] | None = None,
        *,
        registry: DetectorRegistry | None = None,
        ids: Sequence[str] | None = None,
        settings: Settings | None = None,
    ) -> None:
        reg = registry if registry is not None else default_detectors()
        self.detectors = (
            list(detectors) if detectors is not None else reg.create(ids, settings=settings)
        )
        self._needs = any(d.needs_embeddings for d in self.detectors)
        self.errors: list[tuple[str, str, str]] = []
        self.error_count = 0

    @property
    def needs_embeddings(self) -> bool:
        """Whether any detector needs embeddings (then the embedder is loaded)."""
        return self._needs

    def _embed(self, events: Sequence[Event]) -> list[list[list[float]] | None]:
        if not self._needs:
            return [None] * len(events)
        from aiposture.embeddings.embedder import get_embedder

        # the model reads only its first 256 tokens; tokenising a 10 MB prompt to throw
        # most of it away would stall the stream, so texts are cut well past that point
        texts = [[t[:EMBED_CHARS] for t in e.texts()] for e in events]
        flat = [t for ts in texts for t in ts]
        vectors = get_embedder().encode(flat).tolist() if flat else []
        out: list[list[list[float]] | None] = []
        pos = 0
        for ts in texts:
            out.append(vectors[pos : pos + len(ts)])
            pos += len(ts)
        return out

    def _run_one(self, event: Event, vectors: list[list[float]] | None) -> list[Detection]:
        out: list[Detection] = []
        for d in self.detectors:
            try:
                out.extend(d.detect(event, embeddings=vectors if d.needs_embeddings else None))
            except Exception as exc:  # one broken detector must not stop monitoring
                self.error_count += 1
                if len(self.errors) < MAX_ERRORS:
                    self.errors.append((d.id, event.id, f"{type(exc).__name__}: {exc}"))
        return out

    def detect(self, event: Event) -> list[Detection]:
        """Every detection of every detector on one event."""
        return self._run_one(event, self._embed([event])[0])

    def detect_batch(self, events: Sequence[Event]) -> list[list[Detection]]:
        """Detections of each event of a batch (texts embedded in one call)."""
        return [self._run_one(e, v) for e, v in zip(events, self._embed(events), strict=True)]

    def run(
        self, events: Iterable[Event], *, batch_size: int = 64
    ) -> Iterator[tuple[Event, list[Detection]]]:
        """Each event with its detections, in order, holding at most one batch in memory."""
        for batch in batched(events, batch_size):
            yield from zip(batch, self.detect_batch(batch), strict=True)


def batched(events: Iterable[Event], size: int) -> Iterator[list[Event]]:
    """Consecutive lists of at most ``size`` events."""
    it = iter(events)
    while batch := list(islice(it, size)):
        yield batch


def run_detectors(events: Iterable[Event], detectors: Sequence[Detector]) -> list[Detection]:
    """All detections of ``detectors`` over ``events`` (a convenience for notebooks)."""
    run = DetectorRun(detectors)
    return [d for _, found in run.run(events) for d in found]
