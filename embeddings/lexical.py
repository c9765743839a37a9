"""The lexical signal of the leakage index: hashed word shingles and common word runs.

Words are Unicode word characters (``\\w``, plus the combining marks of the Basic
Multilingual Plane, so a decomposed accent does not split a word), normalised with NFKC and
case folding. Punctuation, spacing and case therefore never break a verbatim match.

* :func:`shingle_hashes` hashes every run of ``n`` consecutive words to a 64-bit value that
  is the same in every process (BLAKE2b of each normalised word, combined by a polynomial
  over the word hashes and a final bit mixer; never Python's ``hash()``).
* :class:`ShingleIndex` is an inverted index from shingle hash to chunk key, held in sorted
  numpy arrays (16 bytes per distinct shingle of a chunk) with a small buffer for additions,
  saved as ``.npz`` without pickle.
* :func:`matching_spans` finds the maximal runs of words two texts share, as character
  spans in both.
"""

from __future__ import annotations

import heapq
import os
import re
import unicodedata
from bisect import bisect_left
from collections.abc import Iterable
from functools import cache
from hashlib import blake2b
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from aiposture.embeddings.index import _IdSet
from aiposture.errors import IndexCorruptError, IndexMismatchError

__all__ = [
    "DEFAULT_SHINGLE",
    "FORMAT_VERSION",
    "ShingleIndex",
    "matching_spans",
    "normalise_word",
    "shingle_hashes",
    "word_spans",
]

#: Words per shingle of :class:`ShingleIndex`.
DEFAULT_SHINGLE = 8
#: Version of the ``.npz`` file written by :meth:`ShingleIndex.save`.
FORMAT_VERSION = 1

_U64 = np.uint64
_PRIME = _U64(0x100000001B3)  # odd multiplier of the polynomial over word hashes
_MIX1 = _U64(0xBF58476D1CE4E5B9)
_MIX2 = _U64(0x94D049BB133111EB)
_S30, _S27, _S31 = _U64(30), _U64(27), _U64(31)
# Postings buffered before they are sorted, and the share of the main arrays a sorted delta
# may reach before it is merged into them.
_PENDING_LIMIT = 1 << 20
_DELTA_SHARE = 4
_DELTA_MIN = 1 << 22
_TOMBSTONE_LIMIT = 1 << 16
# In matching_spans: the positions of one seed shingle in the record that are tried ...
_MAX_SEED_POSITIONS = 32
# ... and the word comparisons it may make (beyond 16 per word of the two texts).
_MAX_STEPS = 2_000_000
# Blocks of the Basic Multilingual Plane that hold combining marks.
_MARK_BLOCKS = (
    (0x0300, 0x2000),
    (0x20D0, 0x2100),
    (0x2CE0, 0x2E00),
    (0x3000, 0x3100),
    (0xA600, 0xAC00),
    (0xFB1E, 0xFB1F),
    (0xFE00, 0xFE30),
)


@cache
def _word_re() -> re.Pattern[str]:
    """``\\w`` plus the combining marks ``\\w`` leaves out (computed once, in milliseconds)."""
    marks = [
        cp
        for lo, hi in _MARK_BLOCKS
        for cp in range(lo, hi)
        if unicodedata.category(chr(cp)).startswith("M") and not chr(cp).isalnum()
    ]
    ranges: list[str] = []
    start = prev = marks[0]
    for cp in [*marks[1:], -1]:
        if cp != prev + 1:
            ranges.append(f"\\u{start:04x}-\\u{prev:04x}" if prev > start else f"\\u{start:04x}")
            start = cp
        prev = cp
    return re.compile(f"[\\w{''.join(ranges)}]+")


def normalise_word(word: str) -> str:
    """A word as it is compared: NFKC, then case-folded.

    Args:
        word: One word as found by :func:`word_spans`.

    Returns:
        The normalised word.
    """
    if word.isascii():
        return word.lower()
    return unicodedata.normalize("NFKC", word).casefold()


# Normalised word (UTF-8) -> its 64-bit hash (a signed int), cleared past the limit.
_HASHES: dict[bytes, int] = {}
_HASHES_LIMIT = 1 << 18
# ASCII bytes: letters, digits and "_" lower-cased, everything else a space.
_ASCII_WORDS = bytes(
    c if chr(c).isascii() and (chr(c).isalnum() or c == ord("_")) else ord(" ") for c in range(256)
).lower()


def _blake(word: bytes) -> int:
    # signed: numpy converts Python ints in the int64 range faster; viewed as uint64 after
    return int.from_bytes(blake2b(word, digest_size=8).digest(), "little", signed=True)


def _encode(word: str) -> bytes:
    return normalise_word(word).encode("utf-8", "surrogatepass")


def _normalised_words(text: str) -> list[bytes]:
    """The normalised words of ``text`` (a fast path for ASCII text, same result)."""
    if text.isascii():
        return text.encode("ascii").translate(_ASCII_WORDS).split()
    return [_encode(w) for w in _word_re().findall(text)]


def _hash_words(words: list[bytes]) -> NDArray[np.uint64]:
    """The 64-bit hash of each normalised word."""
    cache = _HASHES
    for _ in range(3):
        try:
            hashes = np.fromiter(map(cache.__getitem__, words), np.int64, count=len(words))
            return hashes.view(_U64)
        except KeyError:
            if len(cache) > _HASHES_LIMIT:
                cache.clear()
            for word in set(words).difference(cache):
                cache[word] = _blake(word)
    return np.fromiter(map(_blake, words), np.int64, count=len(words)).view(
        _U64
    )  # pragma: no cover


def word_spans(text: str) -> list[tuple[int, int]]:
    """The character spans of the words of ``text``.

    Args:
        text: Any text.

    Returns:
        ``(start, end)`` of each word, in order: ``text[start:end]`` is the word.
    """
    return [m.span() for m in _word_re().finditer(text)]


def _mix(x: NDArray[np.uint64]) -> NDArray[np.uint64]:
    """The splitmix64 finaliser, in place."""
    x ^= x >> _S30
    x *= _MIX1
    x ^= x >> _S27
    x *= _MIX2
    x ^= x >> _S31
    return x


def _roll(word_hashes: NDArray[np.uint64], n: int) -> NDArray[np.uint64]:
    """The hash of every run of ``n`` consecutive word hashes."""
    count = len(word_hashes) - n + 1
    if count <= 0:
        return np.empty(0, dtype=_U64)
    acc = word_hashes[:count].copy()
    for j in range(1, n):
        acc *= _PRIME
        acc += word_hashes[j : j + count]
    return _mix(acc)


def _check_n(n: int) -> None:
    if not 1 <= n <= 64:
        raise ValueError(f"shingle length must be between 1 and 64 words, not {n}")


def shingle_hashes(text: str, n: int) -> tuple[NDArray[np.uint64], list[tuple[int, int]]]:
    """The 64-bit hash and the character span of every run of ``n`` words of ``text``.

    Hashes are the same in every process and on every machine (for one Unicode version).

    Args:
        text: Any text.
        n: Words per shingle (1 to 64).

    Returns:
        ``(hashes, spans)``: a uint64 array with one hash per shingle, in order, and the
        ``(start, end)`` characters each shingle covers. A text of fewer than ``n`` words
        has none.
    """
    _check_n(n)
    matches = list(_word_re().finditer(text))
    hashes = _roll(_hash_words([_encode(m.group()) for m in matches]), n)
    spans = [(matches[i].start(), matches[i + n - 1].end()) for i in range(len(hashes))]
    return hashes, spans


def _text_shingles(text: str, n: int) -> NDArray[np.uint64]:
    return _roll(_hash_words(_normalised_words(text)), n)


def _batch_shingles(texts: Iterable[str], n: int) -> tuple[NDArray[np.uint64], NDArray[np.intp]]:
    """The shingle hashes of many texts, one after the other, and how many each has."""
    words: list[bytes] = []
    lengths: list[int] = []
    for text in texts:
        found = _normalised_words(text)
        words.extend(found)
        lengths.append(len(found))
    sizes = np.array(lengths, dtype=np.intp)
    counts = np.maximum(sizes - n + 1, 0)
    starts = np.cumsum(sizes) - sizes
    rolled = _roll(_hash_words(words), n)
    return rolled[_ranges_to_rows(starts, starts + counts)], counts


def _ranges_to_rows(lo: NDArray[np.intp], hi: NDArray[np.intp]) -> NDArray[np.intp]:
    """All row numbers in the half-open ranges ``[lo, hi)``."""
    lengths = hi - lo
    keep = lengths > 0
    lo, lengths = lo[keep], lengths[keep]
    total = int(lengths.sum())
    if total == 0:
        return np.empty(0, dtype=np.intp)
    starts = np.cumsum(lengths) - lengths
    rows: NDArray[np.intp] = np.arange(total, dtype=np.intp) + np.repeat(lo - starts, lengths)
    return rows


class ShingleIndex:
    """An inverted index from ``n``-word shingle hashes to integer chunk keys.

    Each chunk's distinct shingles are stored once (16 bytes each: the hash and the key) in
    arrays sorted by hash; additions go to a buffer that is sorted on the next query and
    merged into the main arrays as it grows. Removal marks keys and drops their postings
    in bulk.

    Not safe to use from several threads at once: a query sorts the addition buffer.

    Args:
        n: Words per shingle.

    Raises:
        ValueError: ``n`` out of range (1 to 64).
    """

    def __init__(self, n: int = DEFAULT_SHINGLE) -> None:
        _check_n(n)
        self.n = n
        self._hashes: NDArray[np.uint64] = np.empty(0, _U64)
        self._keys: NDArray[np.int64] = np.empty(0, np.int64)
        self._delta_hashes: NDArray[np.uint64] = np.empty(0, _U64)
        self._delta_keys: NDArray[np.int64] = np.empty(0, np.int64)
        self._pending: list[tuple[NDArray[np.uint64], NDArray[np.int64]]] = []
        self._pending_size = 0
        self._live = _IdSet()
        self._tombstones: set[int] = set()

    def __len__(self) -> int:
        """Number of chunks in the index (including chunks too short to have a shingle)."""
        return len(self._live)

    @property
    def postings(self) -> int:
        """Number of (shingle, chunk) entries stored, including those of removed chunks."""
        return len(self._hashes) + len(self._delta_hashes) + self._pending_size

    @property
    def nbytes(self) -> int:
        """Bytes held by the index's arrays (postings, buffers and the chunk keys)."""
        pending = sum(h.nbytes + k.nbytes for h, k in self._pending)
        arrays = (self._hashes, self._keys, self._delta_hashes, self._delta_keys)
        return sum(a.nbytes for a in arrays) + pending + 8 * len(self._live)

    def __repr__(self) -> str:
        return f"ShingleIndex(n={self.n}, chunks={len(self)}, postings={self.postings})"

    def keys(self) -> NDArray[np.int64]:
        """Every chunk key in the index, sorted (a copy)."""
        return self._live.array().copy()

    # --- adding and removing --------------------------------------------------------------

    def add(self, chunk_key: int, text: str) -> None:
        """Index the shingles of one chunk.

        Args:
            chunk_key: A key not yet in the index.
            text: The chunk's text (fewer than ``n`` words gives no shingle).

        Raises:
            ValueError: The key is already in the index.
        """
        self.add_many([(chunk_key, text)])

    def add_many(self, items: Iterable[tuple[int, str]]) -> int:
        """Index many chunks at once (faster than :meth:`add` one by one).

        Args:
            items: ``(chunk_key, text)`` pairs with distinct keys not yet in the index.

        Returns:
            The number of chunks added.

        Raises:
            ValueError: A key already in the index or repeated in ``items``; nothing is added.
        """
        pairs = list(items)
        if not pairs:
            return 0
        hashes, counts = _batch_shingles((text for _, text in pairs), self.n)
        keys = np.fromiter((int(key) for key, _ in pairs), dtype=np.int64, count=len(pairs))
        self.add_hashes(keys, hashes, counts)
        return len(pairs)

    def add_hashes(
        self,
        chunk_keys: NDArray[np.int64],
        hashes: NDArray[np.uint64],
        counts: NDArray[np.intp],
    ) -> None:
        """Index chunks given their shingle hashes (as :func:`shingle_hashes` computes).

        Args:
            chunk_keys: Distinct keys not yet in the index, shape ``(m,)``.
            hashes: The shingle hashes of all the chunks, one after the other.
            counts: How many of ``hashes`` belong to each chunk, shape ``(m,)``.

        Raises:
            ValueError: A key already in the index or repeated, or counts that do not add up.
        """
        keys = np.asarray(chunk_keys, dtype=np.int64).reshape(-1)
        hashes = np.asarray(hashes, dtype=_U64).reshape(-1)
        counts = np.asarray(counts, dtype=np.intp).reshape(-1)
        if len(counts) != len(keys) or int(counts.sum()) != len(hashes) or (counts < 0).any():
            raise ValueError("counts must give, for each chunk key, its number of hashes")
        uniq, repeats = np.unique(keys, return_counts=True)
        if (repeats > 1).any():
            raise ValueError(f"chunk key {int(uniq[repeats > 1][0])} is given twice")
        present = self._live.contains(keys)
        if present.any():
            raise ValueError(f"chunk key {int(keys[present][0])} is already in the index")
        if self._tombstones and not self._tombstones.isdisjoint(keys.tolist()):
            self._purge()
        self._live.add(keys)
        if len(hashes):
            self._pending.append((hashes, np.repeat(keys, counts)))
            self._pending_size += len(hashes)
            if self._pending_size >= _PENDING_LIMIT:
                self._flush_pending()

    def remove(self, chunk_keys: Iterable[int]) -> int:
        """Remove chunks by key; unknown keys are ignored.

        Returns:
            The number of chunks removed.
        """
        keys = np.unique(np.fromiter((int(k) for k in chunk_keys), dtype=np.int64))
        keys = keys[self._live.contains(keys)]
        if not len(keys):
            return 0
        self._live.remove(keys)
        self._tombstones.update(keys.tolist())
        if len(self._tombstones) >= _TOMBSTONE_LIMIT:
            self._purge()
        return len(keys)

    # --- the sorted arrays ----------------------------------------------------------------

    def _flush_pending(self) -> None:
        """Sort the buffered postings into the delta arrays (merging them into the main ones
        when the delta grows large)."""
        if self._pending:
            hashes = np.concatenate([h for h, _ in self._pending])
            keys = np.concatenate([k for _, k in self._pending])
            self._pending.clear()
            self._pending_size = 0
            # A chunk's postings are contiguous in the buffer, so a stable sort by hash
            # leaves its repeated shingles side by side.
            order = np.argsort(hashes, kind="stable")
            hashes, keys = hashes[order], keys[order]
            if len(hashes) > 1:  # a chunk's repeated shingles count once
                keep = np.empty(len(hashes), dtype=bool)
                keep[0] = True
                np.not_equal(hashes[1:], hashes[:-1], out=keep[1:])
                keep[1:] |= keys[1:] != keys[:-1]
                hashes, keys = hashes[keep], keys[keep]
            self._delta_hashes, self._delta_keys = _merge(
                self._delta_hashes, self._delta_keys, hashes, keys
            )
        if len(self._delta_hashes) >= max(_DELTA_MIN, len(self._hashes) // _DELTA_SHARE):
            self._merge_delta()

    def _merge_delta(self) -> None:
        if len(self._delta_hashes):
            self._hashes, self._keys = _merge(
                self._hashes, self._keys, self._delta_hashes, self._delta_keys
            )
            self._delta_hashes = np.empty(0, _U64)
            self._delta_keys = np.empty(0, np.int64)

    def _purge(self) -> None:
        """Merge everything into the main arrays and drop the postings of removed chunks."""
        self._flush_pending()
        self._merge_delta()
        if self._tombstones:
            gone = np.fromiter(self._tombstones, dtype=np.int64, count=len(self._tombstones))
            keep = ~np.isin(self._keys, gone)
            self._hashes, self._keys = self._hashes[keep], self._keys[keep]
            self._tombstones.clear()

    # --- querying -------------------------------------------------------------------------

    def query(
        self, text: str, *, min_shared: int = 1, max_chunks_per_shingle: int | None = None
    ) -> dict[int, int]:
        """The chunks that share shingles with ``text``.

        Args:
            text: The text to look up (a model output).
            min_shared: Least number of shared distinct shingles for a chunk to be returned.
            max_chunks_per_shingle: Ignore shingles found in more chunks than this
                (boilerplate); None keeps all.

        Returns:
            ``{chunk_key: number of distinct shingles of text found in that chunk}``.
        """
        return self.query_hashes(
            _text_shingles(text, self.n),
            min_shared=min_shared,
            max_chunks_per_shingle=max_chunks_per_shingle,
        )

    def query_hashes(
        self,
        hashes: NDArray[np.uint64],
        *,
        min_shared: int = 1,
        max_chunks_per_shingle: int | None = None,
    ) -> dict[int, int]:
        """As :meth:`query`, for shingle hashes already computed."""
        wanted = np.unique(np.asarray(hashes, dtype=_U64))
        if not len(wanted):
            return {}
        if self._pending:
            self._flush_pending()
        found: list[NDArray[np.int64]] = []
        lows: list[NDArray[np.intp]] = []
        highs: list[NDArray[np.intp]] = []
        segments = [(self._hashes, self._keys), (self._delta_hashes, self._delta_keys)]
        for seg_hashes, _seg_keys in segments:
            lows.append(np.searchsorted(seg_hashes, wanted, side="left"))
            highs.append(np.searchsorted(seg_hashes, wanted, side="right"))
        if max_chunks_per_shingle is not None:
            df = sum(hi - lo for lo, hi in zip(lows, highs, strict=True))
            frequent = df > max_chunks_per_shingle
            for lo, hi in zip(lows, highs, strict=True):
                hi[frequent] = lo[frequent]
        for (_seg_hashes, seg_keys), lo, hi in zip(segments, lows, highs, strict=True):
            found.append(seg_keys[_ranges_to_rows(lo, hi)])
        keys = np.concatenate(found)
        if self._tombstones and len(keys):
            gone = np.fromiter(self._tombstones, dtype=np.int64, count=len(self._tombstones))
            keys = keys[~np.isin(keys, gone)]
        if not len(keys):
            return {}
        uniq, counts = np.unique(keys, return_counts=True)
        keep = counts >= min_shared
        return dict(zip(uniq[keep].tolist(), counts[keep].tolist(), strict=True))

    # --- persistence ----------------------------------------------------------------------

    def save(self, path: Path) -> None:
        """Write the index to ``path`` as an uncompressed ``.npz`` (flushed and fsynced).

        Writing is not atomic: the leakage index writes into a temporary directory.
        """
        self._purge()
        live = self._live.array()
        meta = np.array([FORMAT_VERSION, self.n, len(live), len(self._hashes)], dtype=np.int64)
        with open(path, "wb") as fh:
            np.savez(fh, meta=meta, hashes=self._hashes, keys=self._keys, live=live)
            fh.flush()
            os.fsync(fh.fileno())

    @classmethod
    def load(cls, path: Path) -> ShingleIndex:
        """Read an index written by :meth:`save` (never unpickling anything).

        Raises:
            IndexCorruptError: The file is missing, truncated, altered or not a shingle
                index (the message names the file).
            IndexMismatchError: The file was written by a newer format version.
        """

        def corrupt(reason: str) -> IndexCorruptError:
            return IndexCorruptError(f"shingle index file {path}: {reason}")

        try:
            with np.load(path, allow_pickle=False) as data:
                if not isinstance(data, np.lib.npyio.NpzFile):
                    raise corrupt("not an .npz archive")
                arrays = {name: data[name] for name in ("meta", "hashes", "keys", "live")}
        except IndexCorruptError:
            raise
        except Exception as exc:  # zipfile and numpy fail in many ways on a damaged file
            raise corrupt(f"cannot be read ({type(exc).__name__}: {exc})") from exc
        meta, hashes, keys, live = (arrays[k] for k in ("meta", "hashes", "keys", "live"))
        if meta.dtype != np.int64 or meta.shape != (4,):
            raise corrupt("the header array is damaged")
        version, n, chunks, postings = (int(v) for v in meta)
        if version > FORMAT_VERSION:
            raise IndexMismatchError(
                f"shingle index file {path}: format version {version} is newer than this "
                f"aiposture reads ({FORMAT_VERSION}); upgrade aiposture"
            )
        if (
            version < 1
            or not 1 <= n <= 64
            or hashes.dtype != _U64
            or keys.dtype != np.int64
            or live.dtype != np.int64
            or hashes.shape != (postings,)
            or keys.shape != (postings,)
            or live.shape != (chunks,)
        ):
            raise corrupt("the arrays do not match their header")
        if (postings > 1 and bool((hashes[1:] < hashes[:-1]).any())) or (
            chunks > 1 and bool((live[1:] <= live[:-1]).any())
        ):
            raise corrupt("the arrays are not sorted")
        self = cls(n)
        self._hashes, self._keys = hashes, keys
        self._live = _IdSet(live)
        return self


def _merge(
    h1: NDArray[np.uint64], k1: NDArray[np.int64], h2: NDArray[np.uint64], k2: NDArray[np.int64]
) -> tuple[NDArray[np.uint64], NDArray[np.int64]]:
    """Merge two arrays sorted by hash (with their keys) in linear time."""
    if not len(h1):
        return h2, k2
    if not len(h2):
        return h1, k1
    at = np.searchsorted(h1, h2, side="right")
    return np.insert(h1, at, h2), np.insert(k1, at, k2)


# --- common word runs ---------------------------------------------------------------------


def _words_and_spans(text: str) -> tuple[list[int], list[tuple[int, int]]]:
    matches = list(_word_re().finditer(text))
    hashes = _hash_words([_encode(m.group()) for m in matches]).tolist()
    return hashes, [m.span() for m in matches]


def matching_spans(
    output: str, record: str, *, min_words: int = 5
) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """The maximal runs of words ``output`` and ``record`` share, as character spans.

    Words are compared normalised (case, punctuation and spacing do not matter). Runs are
    taken longest first; a run overlapping the output part of a longer one keeps only its
    free part, if that is still ``min_words`` long. Runs may overlap in the record.

    The work is bounded for repetitive texts: each ``min_words``-word seed is tried at no
    more than 32 places of the record, and a seed inside a run already found from an
    earlier output word is skipped (a run through it is still found from its later seeds,
    extending backwards, if it reaches ``min_words`` words past the runs found).

    Args:
        output: The model output.
        record: The training text.
        min_words: The shortest run reported.

    Returns:
        ``((out_start, out_end), (rec_start, rec_end))`` per run, longest first (ties in
        output order); ``output[out_start:out_end]`` and ``record[rec_start:rec_end]`` are
        the same words.

    Raises:
        ValueError: ``min_words`` below 1.
    """
    if min_words < 1:
        raise ValueError(f"min_words must be at least 1, not {min_words}")
    a, a_spans = _words_and_spans(output)
    b, b_spans = _words_and_spans(record)
    if len(a) < min_words or len(b) < min_words:
        return []
    seed = min(min_words, 64)
    ga = _roll(np.array(a, dtype=_U64), seed)
    gb = _roll(np.array(b, dtype=_U64), seed)
    order = np.argsort(gb, kind="stable")
    sorted_gb = gb[order]
    lows = np.searchsorted(sorted_gb, ga, side="left").tolist()
    highs = np.searchsorted(sorted_gb, ga, side="right").tolist()
    positions = order.tolist()

    runs: list[tuple[int, int, int]] = []  # (-length, output word, record word)
    covered: dict[int, int] = {}  # diagonal (record - output) -> output word it is covered to
    reach = 0  # output words before this are inside a run found from an earlier word
    na, nb = len(a), len(b)
    budget = _MAX_STEPS + 16 * (na + nb)
    for i, (lo, hi) in enumerate(zip(lows, highs, strict=True)):
        if i < reach or lo == hi:
            # A run through here on another diagonal that reaches `seed` words past the
            # runs found so far is found again, from its later seeds, by extending back.
            continue
        furthest = reach
        for j in positions[lo : min(hi, lo + _MAX_SEED_POSITIONS)]:
            diagonal = j - i
            if covered.get(diagonal, -1) > i or a[i : i + seed] != b[j : j + seed]:
                continue
            start_a, start_b = i, j
            while start_a > 0 and start_b > 0 and a[start_a - 1] == b[start_b - 1]:
                start_a -= 1
                start_b -= 1
            end_a, end_b = i + seed, j + seed
            while end_a < na and end_b < nb and a[end_a] == b[end_b]:
                end_a += 1
                end_b += 1
            covered[diagonal] = end_a
            furthest = max(furthest, end_a)
            budget -= end_a - start_a
            if end_a - start_a >= min_words:
                runs.append((start_a - end_a, start_a, start_b))
        reach = furthest
        if budget < 0:  # pathological repetition: keep what was found
            break

    heapq.heapify(runs)
    taken: list[tuple[int, int]] = []  # output word intervals, sorted, disjoint
    found: list[tuple[int, int, int]] = []
    while runs:
        neg, i, j = heapq.heappop(runs)
        end = i - neg
        pieces = _free_pieces(taken, i, end)
        if pieces == [(i, end)]:
            taken.insert(bisect_left(taken, (i, end)), (i, end))
            found.append((end - i, i, j))
            continue
        for p_start, p_end in pieces:
            if p_end - p_start >= min_words:
                heapq.heappush(runs, (p_start - p_end, p_start, j + p_start - i))
    found.sort(key=lambda run: (-run[0], run[1]))
    return [
        (
            (a_spans[i][0], a_spans[i + length - 1][1]),
            (b_spans[j][0], b_spans[j + length - 1][1]),
        )
        for length, i, j in found
    ]


def _free_pieces(taken: list[tuple[int, int]], start: int, end: int) -> list[tuple[int, int]]:
    """The parts of ``[start, end)`` no interval of ``taken`` covers."""
    pieces: list[tuple[int, int]] = []
    at = start
    k = max(0, bisect_left(taken, (start, start)) - 1)
    while k < len(taken) and taken[k][0] < end:
        t_start, t_end = taken[k]
        if t_end > at:
            if t_start > at:
                pieces.append((at, t_start))
            at = max(at, t_end)
        k += 1
    if at < end:
        pieces.append((at, end))
    return pieces
