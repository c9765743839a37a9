"""Training-data leakage in live responses, against each model's leakage index.

:class:`LeakageDetector` checks a response with the :class:`~aiposture.embeddings.
leakage.LeakageIndex` built over the training data of the model that produced it
(``[monitor] leakage_indexes`` maps model names or asset ids to index folders). The
index embeds the response in its own 128-token chunks, so the detector does not use the
per-event embeddings. Evidence names the record and the spans, never the training text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Self

from aiposture.errors import LeakageIndexError
from aiposture.models import LeakType, Severity
from aiposture.monitor.base import Detector
from aiposture.monitor.models import Detection, Event, Span

if TYPE_CHECKING:
    from aiposture.embeddings.leakage import LeakageIndex
    from aiposture.settings import Settings

__all__ = ["LeakageDetector"]

_SEVERITY = {
    LeakType.VERBATIM: Severity.HIGH,
    LeakType.NEAR_VERBATIM: Severity.HIGH,
    LeakType.PARAPHRASE: Severity.MEDIUM,
}


class LeakageDetector(Detector):
    """Responses that repeat the model's training data (verbatim, near-verbatim, paraphrase).

    Args:
        indexes: Model name or asset id -> a loaded index or its folder (loaded and
            verified on first use; a folder that fails to load is not retried, each
            event of its model then raises the same error).
        min_type: The least severe leak reported.
    """

    id: ClassVar[str] = "AIP-DET-LEAKAGE"
    description: ClassVar[str] = (
        "Model responses that repeat records of the model's training data, found with "
        "the leakage index of that data (semantic and lexical matching)."
    )
    frameworks: ClassVar[tuple[str, ...]] = (
        "owasp-llm:LLM02",
        "atlas:AML.T0057",
        "atlas:AML.T0024.000",
        "nist-ai-rmf:MEASURE-2.10",
    )
    severity: ClassVar[Severity] = Severity.HIGH

    def __init__(
        self,
        *,
        indexes: Mapping[str, LeakageIndex | str | Path] | None = None,
        min_type: LeakType | str = LeakType.PARAPHRASE,
    ) -> None:
        self._sources = {k.lower(): v for k, v in (indexes or {}).items()}
        self._loaded: dict[str, LeakageIndex] = {}
        self._failed: dict[str, tuple[type[LeakageIndexError], str]] = {}
        self.min_type = LeakType(min_type)
        if self.min_type is LeakType.NONE:
            raise ValueError("min_type must be paraphrase, near-verbatim or verbatim")

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        """The detector with the indexes named in ``[monitor] leakage_indexes``."""
        return cls(indexes=dict(settings.leakage_index_paths()))

    def _index(self, event: Event) -> LeakageIndex | None:
        for key in (event.asset_id, event.model, event.application):
            if not key:
                continue
            key = key.lower()
            if key in self._loaded:
                return self._loaded[key]
            source = self._sources.get(key)
            if source is None:
                continue
            if isinstance(source, str | Path):
                from aiposture.embeddings.leakage import LeakageIndex

                failed = self._failed.get(key)
                if failed is not None:
                    # Not reloaded (and re-verified) for every event of that model.
                    raise failed[0](failed[1])
                try:
                    index = LeakageIndex.load(source)
                except LeakageIndexError as exc:
                    self._failed[key] = (type(exc), str(exc))
                    raise
            else:
                index = source
            self._loaded[key] = index
            return index
        return None

    def detect(
        self, event: Event, *, embeddings: Sequence[Sequence[float]] | None = None
    ) -> list[Detection]:
        """One detection when the response repeats training data of its model."""
        if not event.response.strip() or not self._sources:
            return []
        index = self._index(event)
        if index is None:
            return []
        check = index.check([event.response])[0]
        if check.leak_type.rank < self.min_type.rank:
            return []
        matches = [m for m in check.matches if m.leak_type.rank >= self.min_type.rank]
        best = max(matches, key=lambda m: m.score) if matches else None
        evidence = [
            f"{m.leak_type.value} match of training record {m.record_id!r} "
            f"(similarity {m.similarity:.2f}, longest common run {m.longest_run} words)"
            for m in sorted(matches, key=lambda m: -m.score)[:5]
        ]
        figures: dict[str, float] = {"score": round(check.score, 4), "matches": len(matches)}
        if best is not None:
            figures.update(
                similarity=round(best.similarity, 4),
                lexical_overlap=round(best.lexical_overlap, 4),
                longest_run=float(best.longest_run),
            )
        return [
            Detection(
                detector=self.id,
                event_id=event.id,
                score=min(1.0, max(0.0, check.score)),
                severity=_SEVERITY.get(check.leak_type, self.severity),
                title=f"Response repeats training data ({check.leak_type.value})",
                evidence=evidence,
                spans=[
                    Span(
                        field="response",
                        start=m.output_span[0],
                        end=m.output_span[1],
                        label=m.record_id,
                    )
                    for m in matches[:20]
                ],
                tags=list(self.frameworks),
                figures=figures,
            )
        ]
