"""``posture.leakage``: training-data leakage checks, tied into the inventory.

    >>> idx = p.leakage.build("train.jsonl", "indexes/support-train", dataset="support tickets",
    ...                       sensitivity="confidential")
    >>> report = p.leakage.check(model_outputs, index="indexes/support-train", model="gpt-4o-mini")
    >>> report                      # leaked spans highlighted; report.to_pandas() for analysis

The index itself lives in :mod:`aiposture.embeddings` and knows nothing of
the store; this service records what a security team needs to see in the
inventory: the index as a ``dataset_index`` asset linked to its dataset, and
every leak found for a named model as a finding on that model.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiposture.discovery import observe
from aiposture.errors import NotFoundError
from aiposture.models import (
    Asset,
    AssetKind,
    Evidence,
    EvidenceKind,
    Finding,
    RelationKind,
    Sensitivity,
    Severity,
    normalise_key,
)

if TYPE_CHECKING:
    from aiposture.embeddings.chunking import ChunkParams
    from aiposture.embeddings.embedder import Embedder
    from aiposture.embeddings.leakage import LeakageIndex, LeakageReport
    from aiposture.posture import Posture

__all__ = ["LEAK_RULES", "LeakageService"]

#: Finding rule, title and severity for each leak type found in a model's output.
LEAK_RULES: dict[str, tuple[str, str, Severity]] = {
    "verbatim": ("AIP-LEAK-001", "Model output repeats training data verbatim", Severity.HIGH),
    "near-verbatim": (
        "AIP-LEAK-002",
        "Model output repeats training data nearly verbatim",
        Severity.HIGH,
    ),
    "paraphrase": ("AIP-LEAK-003", "Model output paraphrases training data", Severity.MEDIUM),
}


class LeakageService:
    """Build, open and check leakage indexes; record indexes and leaks in the store."""

    def __init__(self, posture: Posture) -> None:
        self._posture = posture
        self._open: dict[Path, LeakageIndex] = {}

    def build(
        self,
        data: Any,
        directory: str | os.PathLike[str],
        *,
        dataset: str | None = None,
        sensitivity: Sensitivity | str | None = None,
        embedder: Embedder | None = None,
        chunking: ChunkParams | None = None,
        progress: bool = True,
        **options: Any,
    ) -> LeakageIndex:
        """Index ``data`` (DataFrame, JSONL, CSV, Parquet, folder or records) in ``directory``.

        The index is saved atomically and recorded in the inventory as a
        ``dataset_index`` asset that ``contains`` its dataset.

        Args:
            data: The training data, or a list of such sources.
            directory: Where to save the index (replaced atomically if it exists).
            dataset: Name of the dataset (default: the data's file or folder name).
            sensitivity: Data classification of the dataset.
            embedder: The embedder (default: the shared all-MiniLM-L6-v2 one).
            chunking: Chunk window and overlap.
            progress: Show progress bars on stderr.
            **options: Passed to :meth:`LeakageIndex.build` (``id_field``, ``text_field``, ...).

        Raises:
            LeakageIndexError: The data or the index cannot be used.
            ValueError: The data is malformed (the message names the record).
        """
        from aiposture.embeddings.leakage import LeakageIndex

        sources = list(data) if isinstance(data, list | tuple) else [data]
        if not sources:
            raise ValueError("nothing to index: no data given")
        index = LeakageIndex.build(
            sources[0], embedder=embedder, chunking=chunking, progress=progress, **options
        )
        for more in sources[1:]:
            index.add(more)
        path = index.save(directory)
        self._open[path.resolve()] = index
        self._register(index, path, sources, dataset, sensitivity)
        return index

    def open(self, directory: str | os.PathLike[str]) -> LeakageIndex:
        """The index saved in ``directory`` (loaded once, then kept).

        Raises:
            IndexMismatchError: Built with another model or a newer format.
            IndexCorruptError: A file of the index is missing or damaged.
        """
        from aiposture.embeddings.leakage import LeakageIndex

        path = Path(directory).resolve()
        if path not in self._open:
            self._open[path] = LeakageIndex.load(path)
        return self._open[path]

    def check(
        self,
        outputs: str | Sequence[str] | Mapping[str, str] | Iterable[dict[str, Any]],
        *,
        index: LeakageIndex | str | os.PathLike[str],
        model: str | None = None,
        progress: bool = False,
    ) -> LeakageReport:
        """Check model outputs for training data; record leaks as findings on ``model``.

        Args:
            outputs: One text, a list of texts, ``{id: text}``, or records with ``id``/``text``.
            index: A loaded index or the folder of a saved one.
            model: The model that produced the outputs (asset id or name); a new
                model asset is created when the inventory does not know it yet.
            progress: Show a progress bar.

        Returns:
            The report: per output, its leak type, score and matches.
        """
        idx = index if not isinstance(index, str | os.PathLike) else self.open(index)
        report = idx.check(outputs, progress=progress)
        if model is not None:
            self._record_findings(report, model, idx)
        return report

    # -- store ---------------------------------------------------------------
    def _register(
        self,
        index: LeakageIndex,
        path: Path,
        sources: list[Any],
        dataset: str | None,
        sensitivity: Sensitivity | str | None,
    ) -> None:
        manifest = index.manifest
        where = str(path.resolve())
        ev = Evidence(
            kind=EvidenceKind.FILE,
            path=where,
            key="manifest.json",
            detail=f"leakage index of {manifest.get('counts', {}).get('records', '?')} records",
        )
        idx_asset = Asset.new(
            AssetKind.DATASET_INDEX,
            path.name,
            key=normalise_key("leakage-index", where),
            locations=[where],
            attributes={
                "path": where,
                "model": manifest.get("model", {}).get("name"),
                "precision": manifest.get("model", {}).get("precision"),
                "records": manifest.get("counts", {}).get("records"),
                "chunks": manifest.get("counts", {}).get("chunks"),
            },
            evidence=[ev],
        )
        name = dataset or _data_name(sources[0]) or f"{path.name} data"
        ds_sources = [str(Path(s).resolve()) for s in sources if isinstance(s, str | os.PathLike)]
        ds_asset = Asset.new(
            AssetKind.DATASET,
            name,
            key=normalise_key("dataset", ds_sources[0] if ds_sources else name),
            locations=ds_sources,
            data_sensitivity=Sensitivity(sensitivity) if sensitivity else Sensitivity.UNKNOWN,
            evidence=[ev],
        )
        rel = observe.relate(idx_asset, RelationKind.CONTAINS, ds_asset, ev)
        self._apply(f"leakage-index:{where}", [idx_asset, ds_asset, rel])

    def _record_findings(self, report: LeakageReport, model: str, index: LeakageIndex) -> None:
        try:
            target = self._posture.asset(model)
        except NotFoundError:
            target = observe.model(
                model,
                None,
                Evidence(kind=EvidenceKind.MODEL_OUTPUT, detail="named in a leakage check"),
            )
        observations: list[Asset | Finding] = [target]
        for result in report.results:
            rule = LEAK_RULES.get(str(result.leak_type.value))
            if rule is None:
                continue
            rule_id, title, severity = rule
            for m in result.matches:
                digest = hashlib.sha256(
                    f"{result.id}|{m.record_id}|{m.chunk_index}".encode()
                ).hexdigest()[:16]
                observations.append(
                    Finding.new(
                        target.id,
                        rule_id,
                        title,
                        severity,
                        fingerprint=digest,
                        description=(
                            f"Output {result.id!r} matches training record {m.record_id!r} "
                            f"({m.leak_type.value}, similarity {m.similarity:.2f}, lexical "
                            f"overlap {m.lexical_overlap:.2f}) of the index "
                            f"{index.manifest.get('model', {}).get('name', '')}."
                        ),
                        tags=["leakage", m.leak_type.value],
                        evidence=[
                            Evidence(
                                kind=EvidenceKind.MODEL_OUTPUT,
                                key=f"output:{result.id}",
                                detail=(
                                    f"output span {list(m.output_span)} repeats record "
                                    f"{m.record_id} span {list(m.record_span)}"
                                ),
                                scanner="leakage",
                            )
                        ],
                    )
                )
        if len(observations) > 1:
            # One source per check, so findings of earlier checks never go stale.
            key = hashlib.sha256("|".join(o.id for o in observations).encode()).hexdigest()[:16]
            self._apply(f"leakage-check:{key}", observations)

    def _apply(self, source: str, observations: Sequence[Any]) -> None:
        from aiposture.store.base import SourceUpdate

        self._posture.store.apply(
            [SourceUpdate(source=source, observations=list(observations))],
            scan_id="leakage",
            actor=self._posture.actor,
        )


def _data_name(source: Any) -> str | None:
    if isinstance(source, str | os.PathLike):
        return Path(source).name
    return None
