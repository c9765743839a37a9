"""The detector plugin interface.

A detector is one class with class-level metadata (id, description, framework tags,
default severity) and one main method, :meth:`Detector.detect`, that reads one
:class:`~aiposture.monitor.models.Event` and returns scored
:class:`~aiposture.monitor.models.Detection` objects with evidence. Stateful detectors
(volume baselines, extraction, drift) keep bounded state on the instance.

Register a detector in :mod:`aiposture.monitor.registry` (or through the
``aiposture.detectors`` entry-point group) and add one test file.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar, Self

from aiposture.models import Severity
from aiposture.monitor.models import Detection, Event

if TYPE_CHECKING:
    from aiposture.settings import Settings

__all__ = ["Detector"]


class Detector(ABC):
    """Base class of monitoring detectors."""

    #: Stable id, ``AIP-DET-<AREA>``; also the alert's detector id.
    id: ClassVar[str]
    #: One sentence on what it detects.
    description: ClassVar[str]
    #: Framework items (``owasp-llm:LLM01``, ``atlas:AML.T0051``...).
    frameworks: ClassVar[tuple[str, ...]] = ()
    #: Default severity of its detections.
    severity: ClassVar[Severity] = Severity.MEDIUM
    #: Whether it needs embeddings of the event's texts (shared through ``embeddings``).
    needs_embeddings: ClassVar[bool] = False

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        """An instance configured from ``settings`` (override to read ``[monitor]``)."""
        return cls()

    @abstractmethod
    def detect(
        self, event: Event, *, embeddings: Sequence[Sequence[float]] | None = None
    ) -> list[Detection]:
        """Scored detections for one event (empty when nothing is found).

        Args:
            event: The interaction.
            embeddings: Embeddings of ``event.texts()`` in order, when the detector
                needs them (computed once per event and shared by every detector).
        """
