"""The lexical signal of the leakage index: word shingles, the shingle index, common runs."""

from __future__ import annotations

import io
import json
import os
import random
import re
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from aiposture.embeddings import lexical
from aiposture.embeddings.lexical import (
    ShingleIndex,
    matching_spans,
    shingle_hashes,
    word_spans,
)
from aiposture.errors import IndexCorruptError, IndexMismatchError

RECORD = (
    "Patient 4471 was admitted on the third of March with acute pancreatitis; the attending "
    "physician prescribed fluids, analgesia and a low-fat diet before discharge."
)
LEAKED = "attending physician prescribed fluids, analgesia and a low-fat diet"  # ten words


def filler(seed: int, words: int) -> str:
    """Unrelated text of made-up words."""
    rng = random.Random(seed)
    letters = "abcdefghijklmnopqrstuvwxyz"
    vocab = ["".join(rng.choice(letters) for _ in range(rng.randint(3, 9))) for _ in range(400)]
    return " ".join(rng.choice(vocab) for _ in range(words))


def words_of(text: str, span: tuple[int, int]) -> list[str]:
    piece = text[span[0] : span[1]]
    return [piece[s:e].casefold() for s, e in word_spans(piece)]


# --- words and shingles -------------------------------------------------------------------


def test_word_spans_are_the_character_spans_of_unicode_words() -> None:
    text = "Hello, wörld! Don't stop_here: 42 — ÉTÉ."
    assert [text[s:e] for s, e in word_spans(text)] == [
        "Hello",
        "wörld",
        "Don",
        "t",
        "stop_here",
        "42",
        "ÉTÉ",
    ]
    assert word_spans("  ... !? ") == []


def test_a_decomposed_accent_stays_inside_its_word() -> None:
    composed, decomposed = "un café noir ici", "un cafe\u0301 noir ici"
    assert [decomposed[s:e] for s, e in word_spans(decomposed)][1] == "cafe\u0301"
    assert (shingle_hashes(composed, 2)[0] == shingle_hashes(decomposed, 2)[0]).all()


def test_shingles_cover_every_run_of_n_words_with_its_span() -> None:
    text = "one two, three four five"
    hashes, spans = shingle_hashes(text, 3)
    assert hashes.dtype == np.uint64 and len(hashes) == 3
    assert [text[s:e] for s, e in spans] == [
        "one two, three",
        "two, three four",
        "three four five",
    ]
    assert len(set(hashes.tolist())) == 3


def test_shingles_ignore_case_punctuation_spacing_and_width() -> None:
    a = shingle_hashes("The QUICK brown fox — jumps!", 3)[0]
    b = shingle_hashes("the quick,\n\tbrown   FOX jumps", 3)[0]
    c = shingle_hashes("ｔｈｅ quick brown fox jumps", 3)[0]  # fullwidth letters (NFKC)
    d = shingle_hashes("the quick brown fox leaps", 3)[0]
    assert (a == b).all() and (a == c).all()
    assert (a[:2] == d[:2]).all() and a[2] != d[2]


def test_undecodable_bytes_kept_as_surrogates_do_not_break_hashing() -> None:
    text = b"caf\xe9 au lait tous les matins".decode("utf-8", "surrogateescape")
    hashes, spans = shingle_hashes(text, 3)
    assert len(hashes) == 4 and text[spans[0][0] : spans[0][1]] == "caf\udce9 au lait"
    index = ShingleIndex(3)
    index.add(1, text)
    assert index.query(text) == {1: 4}
    assert len(matching_spans(text, text, min_words=3)) == 1


def test_texts_shorter_than_a_shingle_have_none() -> None:
    hashes, spans = shingle_hashes("only four words here", 5)
    assert len(hashes) == 0 and spans == []
    assert len(shingle_hashes("", 1)[0]) == 0
    with pytest.raises(ValueError, match="shingle length"):
        shingle_hashes("text", 0)


def test_shingle_hashes_are_stable_across_processes() -> None:
    text = "Stable hashes: the same in every process, whatever PYTHONHASHSEED says. Ünïcode too"
    code = (
        "import json, sys; from aiposture.embeddings.lexical import shingle_hashes; "
        "print(json.dumps(shingle_hashes(sys.argv[1], 4)[0].tolist()))"
    )
    runs = [
        subprocess.run(
            [sys.executable, "-c", code, text],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout
        for seed in ("1", "2")
    ]
    here = shingle_hashes(text, 4)[0].tolist()
    assert json.loads(runs[0]) == json.loads(runs[1]) == here
    # Saved indexes depend on these values never changing.
    assert shingle_hashes("a b", 2)[0].tolist() == [GOLDEN_A_B]


GOLDEN_A_B = 15825524868302301372


@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=200))
def test_the_ascii_fast_path_splits_words_like_the_regex(text: str) -> None:
    expected = [lexical._encode(text[s:e]) for s, e in word_spans(text)]
    assert lexical._normalised_words(text) == expected


@given(st.lists(st.text(max_size=60), min_size=1, max_size=6))
def test_batched_shingles_equal_per_text_shingles(texts: list[str]) -> None:
    hashes, counts = lexical._batch_shingles(texts, 3)
    assert counts.tolist() == [len(shingle_hashes(t, 3)[0]) for t in texts]
    expected = [shingle_hashes(t, 3)[0] for t in texts]
    assert hashes.tolist() == np.concatenate(expected).tolist()


# --- the shingle index --------------------------------------------------------------------


def test_a_verbatim_ten_word_span_in_a_long_unrelated_output_is_found() -> None:
    index = ShingleIndex()  # eight-word shingles
    index.add(1, RECORD)
    index.add(2, filler(1, 120))
    index.add(3, "The attending physician was late today, and nobody prescribed anything.")
    output = (
        f"{filler(2, 300)}. As noted: ATTENDING PHYSICIAN PRESCRIBED FLUIDS -- analgesia, "
        f"and a LOW FAT diet! {filler(3, 300)}"
    )
    assert index.query(output) == {1: 3}  # ten words hold three eight-word shingles
    assert index.query(output, min_shared=4) == {}


def test_unrelated_text_matches_nothing() -> None:
    index = ShingleIndex()
    index.add(1, RECORD)
    index.add(2, filler(1, 200))
    assert index.query(filler(9, 400)) == {}
    assert index.query("") == {}


def test_query_counts_distinct_shared_shingles_per_chunk() -> None:
    index = ShingleIndex(3)
    index.add(10, "a b c d e a b c")  # shingles abc bcd cde dea eab abc -> 5 distinct
    index.add(11, "x y z a b c")
    assert index.query("a b c d e") == {10: 3, 11: 1}
    assert index.query("a b c a b c a b c") == {10: 1, 11: 1}
    assert index.postings == 5 + 4


def test_duplicate_chunk_keys_are_refused() -> None:
    index = ShingleIndex(3)
    index.add(5, "one two three")
    with pytest.raises(ValueError, match="chunk key 5 is already"):
        index.add(5, "four five six")
    with pytest.raises(ValueError, match="chunk key 6 is given twice"):
        index.add_many([(6, "a b c"), (6, "d e f")])
    assert len(index) == 1 and index.query("four five six") == {}


def test_removed_chunks_leave_results_and_can_be_added_again() -> None:
    index = ShingleIndex(3)
    index.add_many([(1, "red green blue"), (2, "red green blue yellow"), (3, "cyan magenta key")])
    assert index.remove([1, 99, 1]) == 1
    assert len(index) == 2
    assert index.query("red green blue") == {2: 1}
    index.add(1, "cyan magenta key black")
    assert index.query("red green blue") == {2: 1}
    assert index.query("cyan magenta key") == {1: 1, 3: 1}
    assert index.keys().tolist() == [1, 2, 3]


def test_boilerplate_shingles_can_be_skipped() -> None:
    index = ShingleIndex(3)
    for key in range(5):
        index.add(key, f"all rights reserved unique{key} words{key} here{key}")
    assert len(index.query("all rights reserved")) == 5
    assert index.query("all rights reserved", max_chunks_per_shingle=3) == {}
    assert index.query("unique2 words2 here2", max_chunks_per_shingle=3) == {2: 1}


def test_results_match_a_naive_count_through_buffer_merges(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(lexical, "_PENDING_LIMIT", 50)
    monkeypatch.setattr(lexical, "_DELTA_MIN", 120)
    monkeypatch.setattr(lexical, "_TOMBSTONE_LIMIT", 7)
    rng = random.Random(5)
    vocab = [f"w{i}" for i in range(40)]
    index = ShingleIndex(3)
    naive: dict[int, set[int]] = {}
    key = 0
    for step in range(30):
        batch = []
        for _ in range(rng.randint(1, 12)):
            text = " ".join(rng.choice(vocab) for _ in range(rng.randint(0, 25)))
            batch.append((key, text))
            naive[key] = set(shingle_hashes(text, 3)[0].tolist())
            key += 1
        index.add_many(batch)
        if step % 4 == 3:
            gone = rng.sample(sorted(naive), 5)
            assert index.remove(gone) == 5
            for k in gone:
                del naive[k]
        probe = " ".join(rng.choice(vocab) for _ in range(30))
        wanted = set(shingle_hashes(probe, 3)[0].tolist())
        expected = {k: len(v & wanted) for k, v in naive.items() if v & wanted}
        assert index.query(probe) == expected
    assert len(index) == len(naive)


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    index = ShingleIndex(4)
    index.add_many((k, filler(k, 60)) for k in range(50))
    index.add(50, "too short")
    index.remove([7, 8])
    path = tmp_path / "shingles.npz"
    index.save(path)

    loaded = ShingleIndex.load(path)
    assert loaded.n == 4 and len(loaded) == 49
    assert loaded.keys().tolist() == [k for k in range(51) if k not in (7, 8)]
    for k in (0, 7, 20):
        assert loaded.query(filler(k, 60)) == index.query(filler(k, 60))
    assert loaded.query(filler(20, 60)) == {20: 57}
    with pytest.raises(ValueError, match="chunk key 50 is already"):
        loaded.add(50, "again")
    loaded.add(7, "brand new words for key seven")
    assert loaded.query("brand new words for key seven") == {7: 3}


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    index = ShingleIndex(3)
    index.add_many([(1, "one two three four five six"), (2, "alpha beta gamma delta")])
    path = tmp_path / "small.npz"
    index.save(path)
    return path


def test_every_truncation_raises_index_corrupt_error(saved: Path) -> None:
    data = saved.read_bytes()
    for cut in range(len(data)):
        saved.write_bytes(data[:cut])
        with pytest.raises(IndexCorruptError, match=re.escape(str(saved))):
            ShingleIndex.load(saved)


def test_every_flipped_byte_of_array_data_raises_index_corrupt_error(saved: Path) -> None:
    data = saved.read_bytes()
    regions = []
    for info in zipfile.ZipFile(io.BytesIO(data)).infolist():
        at = info.header_offset
        name_len = int.from_bytes(data[at + 26 : at + 28], "little")
        extra_len = int.from_bytes(data[at + 28 : at + 30], "little")
        start = at + 30 + name_len + extra_len
        regions.append(range(start, start + info.compress_size))
    assert len(regions) == 4
    for region in regions:
        for at in region:
            damaged = bytearray(data)
            damaged[at] ^= 0x04
            saved.write_bytes(bytes(damaged))
            with pytest.raises(IndexCorruptError, match=re.escape(str(saved))):
                ShingleIndex.load(saved)


def test_pickled_or_foreign_files_are_refused_without_unpickling(tmp_path: Path) -> None:
    path = tmp_path / "evil.npz"
    with open(path, "wb") as fh:
        np.savez(fh, meta=np.array([object()], dtype=object), hashes=np.zeros(1), keys=[], live=[])
    with pytest.raises(IndexCorruptError, match="cannot be read"):
        ShingleIndex.load(path)
    other = tmp_path / "other.npz"
    with open(other, "wb") as fh:
        np.savez(fh, something=np.arange(3))
    with pytest.raises(IndexCorruptError):
        ShingleIndex.load(other)
    (tmp_path / "text.npz").write_text("not a zip")
    with pytest.raises(IndexCorruptError):
        ShingleIndex.load(tmp_path / "text.npz")
    with pytest.raises(IndexCorruptError, match=r"missing\.npz"):
        ShingleIndex.load(tmp_path / "missing.npz")


def test_unsorted_arrays_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "unsorted.npz"
    with open(path, "wb") as fh:
        np.savez(
            fh,
            meta=np.array([1, 3, 1, 2], dtype=np.int64),
            hashes=np.array([5, 1], dtype=np.uint64),
            keys=np.array([1, 1], dtype=np.int64),
            live=np.array([1], dtype=np.int64),
        )
    with pytest.raises(IndexCorruptError, match="not sorted"):
        ShingleIndex.load(path)


def test_a_newer_format_version_is_a_mismatch(saved: Path) -> None:
    with np.load(saved) as data:
        arrays = {name: data[name] for name in data.files}
    arrays["meta"][0] = 99
    with open(saved, "wb") as fh:
        np.savez(fh, **arrays)
    with pytest.raises(IndexMismatchError, match="format version 99 is newer"):
        ShingleIndex.load(saved)


# --- common word runs ---------------------------------------------------------------------


def test_matching_spans_finds_a_ten_word_span_inside_a_long_unrelated_output() -> None:
    output = (
        f"{filler(2, 400)}. Attending Physician prescribed fluids -- analgesia, and a LOW-fat "
        f"diet. {filler(3, 400)}"
    )
    found = matching_spans(output, RECORD)
    assert len(found) == 1
    out_span, rec_span = found[0]
    expected = [w.casefold() for w in LEAKED.replace(",", "").replace("-", " ").split()]
    assert words_of(output, out_span) == expected
    assert words_of(RECORD, rec_span) == expected
    assert RECORD[rec_span[0] : rec_span[1]] == LEAKED


def test_matching_spans_are_longest_first_and_disjoint_in_the_output() -> None:
    record = "w1 w2 w3 w4 w5 w6 w7 w8 w9 w10 w11 w12 and then x1 x2 x3 x4 x5 x6 x7 finally"
    output = "start x1 x2 x3 x4 x5 x6 x7 middle w1 w2 w3 w4 w5 w6 w7 w8 w9 w10 w11 w12 end"
    found = matching_spans(output, record)
    assert [len(words_of(output, o)) for o, _ in found] == [12, 7]
    for out_span, rec_span in found:
        assert words_of(output, out_span) == words_of(record, rec_span)


def test_an_overlapping_run_keeps_only_its_free_part() -> None:
    record = "a b c d e f g h and elsewhere f g h i j k l"
    output = "a b c d e f g h i j k l"
    found = matching_spans(output, record, min_words=3)
    assert [words_of(output, o) for o, _ in found] == [
        list("abcdefgh"),
        list("ijkl"),
    ]
    assert words_of(record, found[1][1]) == list("ijkl")
    assert record[found[1][1][0] :].startswith("i j k l")
    assert len(matching_spans(output, record, min_words=5)) == 1  # "i j k l" is too short


def test_runs_shorter_than_min_words_and_unrelated_texts_give_nothing() -> None:
    assert matching_spans("one two three four", "one two three four", min_words=5) == []
    assert len(matching_spans("one two three four", "one two three four", min_words=4)) == 1
    assert matching_spans(filler(1, 300), filler(2, 300)) == []
    assert matching_spans("", RECORD) == []
    with pytest.raises(ValueError, match="min_words"):
        matching_spans("a", "a", min_words=0)


def test_repetitive_texts_are_matched_quickly() -> None:
    text = "la " * 20_000
    t0 = time.perf_counter()
    found = matching_spans(text, text)
    assert time.perf_counter() - t0 < 5
    assert found == [((0, len(text) - 1), (0, len(text) - 1))]
    t0 = time.perf_counter()
    found = matching_spans("la " * 3000 + "x", "la " * 5000 + "y")
    assert time.perf_counter() - t0 < 5
    assert found[0][0] == (0, 3 * 3000 - 1)
