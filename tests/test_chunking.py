"""Chunking along the real tokenizer of all-MiniLM-L6-v2: windows, overlap and character spans."""

from __future__ import annotations

import itertools
import random

import numpy as np
import pytest

from aiposture.embeddings.chunking import Chunk, ChunkParams, chunk_records, chunk_text
from aiposture.embeddings.embedder import Embedder, get_embedder


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    """The default embedder (its tokenizer sets the token boundaries)."""
    return get_embedder(precision="float32", device="cpu")


_VOCABULARY_TEXT = (
    "the patient record lists an unbelievably long misconfiguration of "
    "cryptographic tokenization pipelines, while customers' invoices (dated "
    "2024-03-01) mention Zürich, naïve café owners and extraordinarily "
    "uncharacteristic behaviour; see https://example.org/a/b?c=d for details."
)

_VOCABULARY = _VOCABULARY_TEXT.split()


def _prose(words: int, seed: int = 0) -> str:
    rng = random.Random(seed)
    out: list[str] = []
    for number in range(words):
        out.append(rng.choice(_VOCABULARY))
        if number % 17 == 16:
            out.append("\n\n" if rng.random() < 0.3 else ".")
    return " ".join(out)


def _tokens_in(chunk: Chunk, offsets: list[tuple[int, int]]) -> list[int]:
    return [i for i, (a, b) in enumerate(offsets) if a >= chunk.start and b <= chunk.end]


def _check_spans(text: str, chunks: list[Chunk], record_id: str = "r") -> None:
    for number, chunk in enumerate(chunks):
        assert chunk.record_id == record_id
        assert chunk.index == number
        assert 0 <= chunk.start < chunk.end <= len(text)
        assert text[chunk.start : chunk.end] == chunk.text
        assert chunk.text == chunk.text.strip()


def test_chunk_offsets_reproduce_the_record_text(embedder: Embedder) -> None:
    text = _prose(600)
    chunks = chunk_text("r", text, embedder.token_offsets(text), ChunkParams(32, 8))
    assert len(chunks) > 10
    _check_spans(text, chunks)
    assert chunks[0].start == 0
    assert chunks[-1].end == len(text.rstrip())


def test_chunks_hold_at_most_window_tokens_and_share_at_least_overlap(
    embedder: Embedder,
) -> None:
    text = _prose(800, seed=1)
    offsets = embedder.token_offsets(text)
    params = ChunkParams(window=40, overlap=10)
    chunks = chunk_text("r", text, offsets, params)
    tokens = [_tokens_in(c, offsets) for c in chunks]
    assert all(1 <= len(t) <= 40 for t in tokens)
    # every token is in some chunk, in order, without a hole
    assert sorted(set().union(*map(set, tokens))) == list(range(len(offsets)))
    for here, after in itertools.pairwise(tokens):
        shared = len(set(here) & set(after))
        assert 10 <= shared <= 10 + 16  # at least the overlap, more only to start on a word
        assert after[0] > here[0]


def test_no_overlap_gives_disjoint_chunks_in_sequence(embedder: Embedder) -> None:
    text = _prose(300, seed=2)
    offsets = embedder.token_offsets(text)
    chunks = chunk_text("r", text, offsets, ChunkParams(window=24, overlap=0))
    for here, after in itertools.pairwise(chunks):
        assert here.end <= after.start
        assert text[here.end : after.start].strip() == ""
    assert sum(len(_tokens_in(c, offsets)) for c in chunks) == len(offsets)


def test_no_chunk_starts_or_ends_inside_a_word(embedder: Embedder) -> None:
    text = _prose(1500, seed=3)
    chunks = chunk_text("r", text, embedder.token_offsets(text), ChunkParams(48, 12))
    assert len(chunks) > 20
    for chunk in chunks:
        assert chunk.start == 0 or text[chunk.start - 1].isspace(), chunk.text[:30]
        assert chunk.end == len(text) or text[chunk.end].isspace(), chunk.text[-30:]


def test_unicode_and_emoji_text_keeps_exact_character_spans(embedder: Embedder) -> None:
    text = (
        "Ünïcödé naïve café 😀🔥 東京タワー 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 e\u0301cole İstanbul ß Ωμέγα 👩‍👩‍👧 "
        "مرحبا بالعالم "
    ) * 12
    offsets = embedder.token_offsets(text)
    pieces = {text[a:b] for a, b in offsets}
    assert {
        "😀🔥",
        "東",
        "𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
        "e\u0301cole",
        "👩\u200d👩\u200d👧",
    } <= pieces  # astral and combining
    chunks = chunk_text("u", text, offsets, ChunkParams(window=30, overlap=6))
    _check_spans(text, chunks, record_id="u")
    covered = np.zeros(len(text), dtype=bool)
    for chunk in chunks:
        covered[chunk.start : chunk.end] = True
    uncovered = {text[i] for i in np.flatnonzero(~covered)}
    assert uncovered <= {" "}


def test_a_long_text_is_covered_character_by_character(embedder: Embedder) -> None:
    text = _prose(40_000, seed=4)
    assert len(text) > 200_000
    offsets = embedder.token_offsets(text)
    for params in (ChunkParams(), ChunkParams(window=64, overlap=0)):
        chunks = chunk_text("big", text, offsets, params)
        covered = np.zeros(len(text), dtype=bool)
        for chunk in chunks:
            covered[chunk.start : chunk.end] = True
        missing = [text[i] for i in np.flatnonzero(~covered)]
        assert set(missing) <= {" ", "\n"}, f"{len(missing)} characters in no chunk"
        _check_spans(text, chunks, record_id="big")


def test_a_run_longer_than_the_window_is_cut_inside_it(embedder: Embedder) -> None:
    blob = "x9Q" * 400 + "/" + "ab" * 300  # one 1,800-character token run
    text = f"before {blob} after"
    offsets = embedder.token_offsets(text)
    chunks = chunk_text("blob", text, offsets, ChunkParams(window=32, overlap=4))
    _check_spans(text, chunks, record_id="blob")
    assert all(len(_tokens_in(c, offsets)) <= 32 for c in chunks)
    assert chunks[0].start == 0 and chunks[-1].end == len(text)
    for here, after in itertools.pairwise(chunks):
        assert after.start < here.end  # overlapping, so nothing in between is lost


def test_empty_and_whitespace_text_give_no_chunk(embedder: Embedder) -> None:
    for text in ("", "   ", "\n\t \u3000 \n"):
        assert chunk_text("e", text, embedder.token_offsets(text), ChunkParams()) == []
    assert list(chunk_records([("e", ""), ("w", "  \n ")], embedder, ChunkParams())) == []


def test_a_text_shorter_than_the_window_is_one_chunk(embedder: Embedder) -> None:
    text = "  A short record about a patient.  "
    chunks = chunk_text("s", text, embedder.token_offsets(text), ChunkParams())
    assert chunks == [Chunk("s", 0, 2, len(text) - 2, "A short record about a patient.")]


def test_chunk_records_chunks_each_record_as_chunk_text_does(embedder: Embedder) -> None:
    records = [(f"rec-{i}", _prose(5 + (i * 37) % 400, seed=i)) for i in range(300)]
    records.insert(7, ("blank", "   "))
    params = ChunkParams(window=64, overlap=16)
    chunks = list(chunk_records(iter(records), embedder, params))
    expected = [
        chunk
        for record_id, text in records
        for chunk in chunk_text(record_id, text, embedder.token_offsets(text), params)
    ]
    assert chunks == expected
    assert {c.record_id for c in chunks} == {r for r, _ in records} - {"blank"}


def test_chunk_params_are_validated() -> None:
    assert ChunkParams() == ChunkParams(window=128, overlap=32)
    with pytest.raises(ValueError, match="less than the window"):
        ChunkParams(window=32, overlap=32)
    with pytest.raises(ValueError, match="overlap must be at least 0"):
        ChunkParams(window=32, overlap=-1)
    with pytest.raises(ValueError, match="at least 1 token"):
        ChunkParams(window=0, overlap=0)
    with pytest.raises(ValueError, match="must be an integer"):
        ChunkParams(window=12.5, overlap=2)  # type: ignore[arg-type]


def test_a_window_beyond_the_model_is_refused(embedder: Embedder) -> None:
    assert embedder.max_tokens == 256
    ChunkParams(window=254, overlap=0).check_model(embedder.max_tokens)
    with pytest.raises(ValueError, match="at most 254"):
        list(chunk_records([("r", "text")], embedder, ChunkParams(window=255, overlap=0)))


def test_bad_records_and_offsets_are_refused(embedder: Embedder) -> None:
    with pytest.raises(TypeError, match="record 'r'"):
        list(chunk_records([("r", None)], embedder, ChunkParams()))  # type: ignore[list-item]
    with pytest.raises(TypeError, match=r"\(id, text\) pair"):
        list(chunk_records(["just a string"], embedder, ChunkParams()))  # type: ignore[list-item]
    with pytest.raises(ValueError, match="outside its 5 characters"):
        chunk_text("r", "hello", [(0, 5), (6, 9)], ChunkParams())
    with pytest.raises(ValueError, match="not in text order"):
        chunk_text("r", "hello world", [(6, 11), (0, 5)], ChunkParams())
