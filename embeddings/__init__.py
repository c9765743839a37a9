"""Embeddings and the training-data leakage index (``aiposture.embeddings``).

    >>> from aiposture.embeddings import LeakageIndex
    >>> idx = LeakageIndex.build("train.jsonl")          # or a DataFrame, CSV, Parquet, folder
    >>> idx.save("indexes/train")
    >>> report = idx.check(["...model output..."])       # .to_pandas(), .to_dict(), rich display

Importing this package loads nothing heavy: the embedding model, torch and
FAISS load on first use (names below are resolved lazily).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aiposture.embeddings.chunking import Chunk, ChunkParams
    from aiposture.embeddings.embedder import Embedder, Precision, get_embedder
    from aiposture.embeddings.leakage import LeakageIndex
    from aiposture.embeddings.report import LeakageReport

__all__ = [
    "Chunk",
    "ChunkParams",
    "Embedder",
    "LeakageIndex",
    "LeakageReport",
    "Precision",
    "get_embedder",
]

_WHERE = {
    "Chunk": "chunking",
    "ChunkParams": "chunking",
    "Embedder": "embedder",
    "Precision": "embedder",
    "get_embedder": "embedder",
    "LeakageIndex": "leakage",
    "LeakageReport": "report",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'aiposture.embeddings' has no attribute {name!r}")
    return getattr(import_module(f"aiposture.embeddings.{module}"), name)
