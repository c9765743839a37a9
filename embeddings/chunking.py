"""Token-aware chunking: windows of tokens with overlap, kept as character spans of the record.

A record is tokenised once, with the embedding model's own tokenizer, and cut
into windows of at most ``window`` tokens, neighbouring windows sharing at
least ``overlap`` tokens. Each chunk keeps its character span in the record,
so a match can be shown where it is.

Windows end and start between words, not inside one: a *word* here is a run
of tokens with no gap between them (``unbelievable,`` is ``un ##bel ##ievable
,``), so a chunk never starts on a ``##`` continuation. A run longer than
half the window (or than 16 tokens: a URL, a hash, a line of code or of
CJK text) is cut between any two tokens, as it could not otherwise fit.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from aiposture.embeddings.embedder import Embedder

__all__ = ["Chunk", "ChunkParams", "chunk_records", "chunk_text"]

# Records are tokenised in batches of this many (or this many characters), in parallel.
_BATCH_RECORDS = 256
_BATCH_CHARS = 4 << 20
_MAX_WORD_RUN = 16


@dataclass(frozen=True)
class ChunkParams:
    """How records are cut into chunks.

    Attributes:
        window: Most tokens in a chunk (special tokens not counted). The default,
            128, is the sequence length all-MiniLM-L6-v2 was trained on, and
            ``benchmarks/embedding_speed.py`` measures it embeds as many
            tokens per second as longer windows.
        overlap: Fewest tokens neighbouring chunks share, so that a span of up
            to ``overlap`` tokens is whole in some chunk wherever it falls;
            ``0 <= overlap < window``.

    Raises:
        ValueError: A value is out of range.
    """

    window: int = 128
    overlap: int = 32

    def __post_init__(self) -> None:
        for label, value in (("window", self.window), ("overlap", self.overlap)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"chunk {label} must be an integer, not {value!r}")
        if self.window < 1:
            raise ValueError(f"chunk window must be at least 1 token, not {self.window}")
        if not 0 <= self.overlap < self.window:
            raise ValueError(
                f"chunk overlap must be at least 0 and less than the window ({self.window}), "
                f"not {self.overlap}"
            )

    def check_model(self, max_tokens: int) -> None:
        """Check that a window fits a model's sequence length.

        Args:
            max_tokens: The model's maximum sequence length, special tokens included.

        Raises:
            ValueError: ``window`` is more than ``max_tokens - 2``.
        """
        if self.window > max_tokens - 2:
            raise ValueError(
                f"chunk window of {self.window} tokens does not fit the model: at most "
                f"{max_tokens - 2} (its {max_tokens} tokens less the 2 special tokens)"
            )


@dataclass(frozen=True)
class Chunk:
    """A window of a record.

    Attributes:
        record_id: The record's id.
        index: Position of the chunk within its record, from 0.
        start: Character offset of the chunk's first token in the record.
        end: Character offset just past its last token; ``record[start:end] == text``.
        text: The chunk's text.
    """

    record_id: str
    index: int
    start: int
    end: int
    text: str


def chunk_text(
    record_id: str, text: str, offsets: Sequence[tuple[int, int]], params: ChunkParams
) -> list[Chunk]:
    """Cut one record into chunks along its tokens.

    Args:
        record_id: The record's id, copied into each chunk.
        text: The record's text.
        offsets: The character ``(start, end)`` of each token of ``text``, in
            order (:meth:`Embedder.token_offsets`).
        params: Window and overlap.

    Returns:
        The chunks in order; none for a text without tokens (empty or
        whitespace only), one for a text of at most ``window`` tokens.

    Raises:
        ValueError: ``offsets`` are out of the text or out of order.
    """
    if not offsets or not text.strip():
        return []
    spans = np.asarray(offsets, dtype=np.int64).reshape(-1, 2)
    starts = spans[:, 0]
    ends = spans[:, 1]
    if starts.min() < 0 or ends.max() > len(text) or bool((ends < starts).any()):
        raise ValueError(
            f"token offsets of record {record_id!r} fall outside its {len(text)} characters"
        )
    if bool((starts[1:] < starts[:-1]).any()):
        raise ValueError(f"token offsets of record {record_id!r} are not in text order")
    count = len(spans)
    reach = np.maximum.accumulate(ends)  # end of the text covered by tokens [0, i]
    gap_before = np.empty(count, dtype=bool)
    gap_before[0] = True
    gap_before[1:] = starts[1:] > reach[:-1]
    word = np.cumsum(gap_before) - 1
    long_word = np.bincount(word) > max(1, min(params.window // 2, _MAX_WORD_RUN))
    # where a chunk may begin: at a word, or anywhere inside a word too long to keep whole
    units = np.append(np.flatnonzero(gap_before | long_word[word]), count)

    chunks: list[Chunk] = []
    first = 0
    while True:
        begin = int(units[first])
        last = int(np.searchsorted(units, begin + params.window, side="right")) - 1
        last = max(last, first + 1)
        stop = int(units[last])
        start, end = int(starts[begin]), int(reach[stop - 1])
        chunks.append(Chunk(record_id, len(chunks), start, end, text[start:end]))
        if stop >= count:
            return chunks
        following = int(np.searchsorted(units, stop - params.overlap, side="right")) - 1
        first = max(following, first + 1)


def chunk_records(
    records: Iterable[tuple[str, str]], embedder: Embedder, params: ChunkParams
) -> Iterator[Chunk]:
    """Chunk records, tokenising them in parallel batches with the embedder's tokenizer.

    Args:
        records: ``(record_id, text)`` pairs.
        embedder: Its tokenizer sets the token boundaries; its ``max_tokens``
            bounds the window.
        params: Window and overlap.

    Yields:
        The chunks of every record, record by record, in order.

    Raises:
        ValueError: The window does not fit the model.
        TypeError: A record is not an ``(id, text)`` pair of strings.
    """
    params.check_model(embedder.max_tokens)
    batch: list[tuple[str, str]] = []
    chars = 0
    for record in records:
        try:
            record_id, text = record
        except (TypeError, ValueError):
            raise TypeError(f"a record must be an (id, text) pair, not {record!r:.80}") from None
        if not isinstance(record_id, str) or not isinstance(text, str):
            raise TypeError(
                f"record {record_id!r:.80}: id and text must be str, not "
                f"{type(record_id).__name__} and {type(text).__name__}"
            )
        batch.append((record_id, text))
        chars += len(text)
        if len(batch) >= _BATCH_RECORDS or chars >= _BATCH_CHARS:
            yield from _chunk_batch(batch, embedder, params)
            batch, chars = [], 0
    if batch:
        yield from _chunk_batch(batch, embedder, params)


def _chunk_batch(
    batch: list[tuple[str, str]], embedder: Embedder, params: ChunkParams
) -> Iterator[Chunk]:
    all_offsets = embedder.token_offsets_batch([text for _, text in batch])
    for (record_id, text), offsets in zip(batch, all_offsets, strict=True):
        yield from chunk_text(record_id, text, offsets, params)
