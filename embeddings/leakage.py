"""The leakage index: find training data in model outputs.

Index a training set once, then check any model output against it::

    >>> from aiposture.embeddings.leakage import LeakageIndex
    >>> index = LeakageIndex.build("train.jsonl")          # or a DataFrame, folder, records
    >>> report = index.check(["model output one", "model output two"])
    >>> report                                            # leaked spans highlighted
    >>> index.save("indexes/train")                       # atomic; LeakageIndex.load() later

How an output is checked
------------------------
Every record is cut into token windows (:mod:`~aiposture.embeddings.chunking`); each chunk
is embedded into a FAISS index (semantic signal) and its 3-word shingles go into an
inverted index (lexical signal); the index also counts in how many chunks each word occurs.
An output is cut the same way, and each output chunk gets candidates from both signals: its
nearest record chunks by cosine, and the record chunks sharing the most shingles with it
(shingles found in many chunks, boilerplate, are ignored), so a ten-word verbatim span
inside a long unrelated output, or a copy with an edit every few words, is found even
where the chunk's embedding is not close. Each (output chunk, record chunk) candidate is
then measured:

* **distinctive content**: each word weighs by its rarity in the corpus, ``ln(C / df)``
  for a word found in ``df`` chunks, 0 for words in ``C`` chunks or more (``C`` set by
  ``rare_df``): names, ids and amounts weigh, common and template words do not. A number
  written with separators also counts whole (``1,392.78`` as ``139278``).
* **content overlap**: the share of distinctive content the two have in common, relative
  to the side with less of it (words of the output the corpus never holds are the model's
  own and count neither way); its mass, and into how many separate **facts** (groups of
  neighbouring distinctive words: a name, an id) it falls;
* **similarity**: cosine of the two chunk embeddings, or of the passages holding the
  shared content where that is higher (a paraphrase inside a long output, or of one
  sentence of a long record, would otherwise be diluted);
* **common word runs** (case and punctuation ignored): the longest, and the share of the
  shorter chunk's words they cover (``lexical_overlap``); a run is **boilerplate** when
  many chunks hold the whole of it (a signature, a standard clause);
* **aligned windows**: the runs are clustered into one window of each text, compared by
  character similarity (``char_similarity``, typos and reordering tolerated) and by the
  share of the record window's distinctive content in the output window (typos tolerated).

The classification (thresholds in :class:`~aiposture.models.LeakageThresholds`, defaults
fitted by ``benchmarks/leakage_quality.py``):

* ``verbatim``: a run of at least ``verbatim_min_words`` words (or the whole record, if it
  has at least 5) that is not boilerplate and carries ``min_distinctive`` of distinctive
  content;
* ``near-verbatim``: an aligned window of at least ``near_verbatim_min_words`` words with
  character similarity ``>= near_verbatim_ratio``, window content ``>=
  near_verbatim_content`` and ``min_distinctive`` of distinctive content;
* ``paraphrase``: similarity ``>= paraphrase_similarity``, content overlap ``>=
  paraphrase_content``, ``min_distinctive`` of shared content in at least ``min_facts``
  facts: the meaning is close *and* the record's specific facts are there, which tells a
  paraphrase from an output on the same topic with other facts, or with the same template.

Each type has a score in 0..1 that grows with its evidence; a match's score is the highest
of them (0.5 or more for a leak, below 0.5 for a near miss). An output's leak type is the
most severe over its matches, its score the highest.

Documented behaviour: an empty or whitespace-only output is ``none`` with score 0 and no
matches; a very long output (megabytes) is cut into segments and processed in batches with
bounded memory (identical chunks are embedded once); records with empty text are skipped
and counted in :attr:`LeakageIndex.last_build`; a duplicate record id raises
:class:`ValueError` (:class:`LeakageDataError`) naming it.
"""

from __future__ import annotations

import bisect
import contextlib
import ctypes
import hashlib
import json
import math
import os
import re
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from aiposture.embeddings._io import LeakageDataError, LoadStats, iter_records, load_texts
from aiposture.embeddings.report import LeakageReport, excerpt
from aiposture.errors import IndexCorruptError, IndexMismatchError, LeakageIndexError
from aiposture.models import (
    LeakageMatch,
    LeakageRecord,
    LeakageThresholds,
    LeakType,
    OutputCheck,
)

if TYPE_CHECKING:
    from aiposture.embeddings.chunking import ChunkParams
    from aiposture.embeddings.embedder import Embedder
    from aiposture.embeddings.index import FaissIndex
    from aiposture.embeddings.lexical import ShingleIndex

__all__ = [
    "FORMAT_VERSION",
    "BuildSummary",
    "LeakageDataError",
    "LeakageIndex",
    "LeakageReport",
    "classify",
    "classify_scores",
    "iter_records",
    "load_texts",
]

#: Version of the index directory layout written by :meth:`LeakageIndex.save`.
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
VECTORS = "vectors.faiss"
SHINGLES = "shingles.npz"
CHUNKS = "chunks.parquet"
RECORDS = "records.parquet"
VOCABULARY = "vocabulary.parquet"
_DATA_FILES = (VECTORS, SHINGLES, CHUNKS, RECORDS, VOCABULARY)

#: Nearest record chunks taken from FAISS per output chunk.
TOP_K = 8
#: Record chunks sharing the most shingles taken per output chunk.
LEXICAL_CANDIDATES = 10
#: Words per shingle of the lexical index: short, so copies with an edit every few words
#: still share some (shingles found in many chunks are ignored when finding candidates).
SHINGLE_N = 3
#: FAISS candidates below this cosine, sharing no shingle, are not examined further.
SIMILARITY_FLOOR = 0.35
#: Pairs sharing at least this content overlap get the passage holding it embedded alone.
LOCAL_CONTENT = 0.2
#: Chunks embedded per checkpoint block when building.
BLOCK = 1024
#: Output chunks processed per batch in a check.
CHECK_BATCH = 512
#: Long outputs are tokenised in segments of about this many characters.
SEGMENT_CHARS = 100_000
#: Consecutive segments share this many characters so a run across the cut is whole in one.
SEGMENT_OVERLAP = 2_000
#: Matches kept per output (most severe and highest scoring first).
MAX_MATCHES = 20
#: Runs of at least this many words align windows and count for lexical overlap.
_MIN_RUN = 2
#: Runs closer than this many words (in the output) are clustered into one window.
_GAP = 8
#: A whole record this short or shorter is never verbatim by itself.
_MIN_WHOLE_RECORD = 5
#: Minimum number of chunks a run must be found in to be boilerplate.
_MIN_BOILERPLATE = 10
#: Minimum document frequency below which a word is distinctive.
_MIN_RARE = 4.0
_SENTENCE_END = re.compile(r"[.!?;\n]\s")
_NUMBER_SEPARATORS = frozenset({",", ".", "'", "\u202f", "\u00a0"})


@dataclass
class BuildSummary:
    """What one build or add did."""

    records_read: int = 0
    records_indexed: int = 0
    skipped_empty: int = 0
    skipped_binary: int = 0
    replaced_encoding: int = 0
    chunks: int = 0
    chunks_from_checkpoint: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """The summary as a plain dict."""
        return dict(self.__dict__)


# --- text analysis -------------------------------------------------------------------------


@dataclass
class _Text:
    """A chunk of text split into normalised words.

    ``terms`` are the words plus each number written with separators as one term too
    (``"$1,392.78"`` is ``1``, ``392``, ``78`` and ``139278``), so a number copied without
    its separators still counts as the same content.
    """

    text: str
    base: int  # offset of the chunk in its document
    spans: list[tuple[int, int]]
    words: list[str]
    starts: list[int]
    wset: frozenset[str]
    numbers: list[tuple[int, int, str]]  # merged numbers: first word, end word, term

    @classmethod
    def of(cls, text: str, base: int = 0) -> _Text:
        from aiposture.embeddings.lexical import normalise_word, word_spans

        spans = word_spans(text)
        words = [normalise_word(text[s:e]) for s, e in spans]
        numbers: list[tuple[int, int, str]] = []
        i = 0
        while i < len(words):
            j = i
            while (
                j + 1 < len(words)
                and words[j].isdigit()
                and words[j + 1].isdigit()
                and text[spans[j][1] : spans[j + 1][0]] in _NUMBER_SEPARATORS
            ):
                j += 1
            if j > i:
                numbers.append((i, j + 1, "".join(words[i : j + 1])))
            i = j + 1
        return cls(text, base, spans, words, [s for s, _ in spans], frozenset(words), numbers)

    def terms(self, w0: int = 0, w1: int | None = None) -> set[str]:
        """The distinct terms of words ``w0 .. w1-1``."""
        end = len(self.words) if w1 is None else w1
        out = set(self.words[w0:end])
        out.update(t for a, b, t in self.numbers if a >= w0 and b <= end)
        return out

    def word_index(self, char: int) -> int:
        """Index of the word starting at or after character ``char``."""
        return bisect.bisect_left(self.starts, char)

    def char_span(self, w0: int, w1: int) -> tuple[int, int]:
        """Character span of words ``w0 .. w1-1`` (relative to the chunk)."""
        if w1 <= w0 or not self.spans:
            return (0, 0)
        return (self.spans[w0][0], self.spans[min(w1, len(self.spans)) - 1][1])


@dataclass
class _Features:
    """What one (output chunk, record chunk) pair has in common."""

    key: int
    sim: float
    longest: int = 0
    # long runs: (words, distinctive mass, boilerplate?, whole record?, (out0, out1, rec0, rec1))
    runs: list[tuple[int, float, bool, bool, tuple[int, int, int, int]]] = field(
        default_factory=list
    )
    overlap: float = 0.0
    window: tuple[int, int, int, int] | None = None
    window_words: int = 0
    char_sim: float = 0.0
    window_content: float = 0.0
    window_mass: float = 0.0
    content: float = 0.0
    shared_mass: float = 0.0
    shared_facts: int = 0
    content_spans: tuple[tuple[int, int], tuple[int, int]] | None = None
    local_done: bool = False


@dataclass
class _Evidence:
    """A classified pair, in document coordinates."""

    record_id: str
    chunk_index: int
    leak_type: LeakType
    score: float
    features: _Features
    output_span: tuple[int, int]
    record_span: tuple[int, int]


def _ratio(a: float, b: float) -> float:
    return 0.0 if b <= 0 else min(1.0, max(0.0, a / b))


def _excess(value: float, threshold: float) -> float:
    return 0.0 if threshold >= 1 else min(1.0, max(0.0, (value - threshold) / (1 - threshold)))


def _near_miss(primary: float, *others: float) -> float:
    """The score of a type whose conditions do not all hold: at most 0.45.

    It follows the type's main evidence (``primary``: similarity, character similarity),
    scaled down by up to 40 % as its other conditions fall short, so near misses are
    still ordered by how close they came.
    """
    return 0.45 * primary * (0.6 + 0.4 * sum(others) / max(1, len(others)))


def verbatim_run(
    f: _Features, th: LeakageThresholds
) -> tuple[int, tuple[int, int, int, int] | None]:
    """The longest run of a pair that counts as verbatim (words, run), or (0, None).

    It is at least ``verbatim_min_words`` long (or the whole record), not boilerplate, and
    carries at least ``min_distinctive`` of distinctive content.
    """
    for length, mass, common, whole, run in f.runs:
        long_enough = length >= th.verbatim_min_words or whole
        if long_enough and not common and mass >= th.min_distinctive:
            return length, run
    return 0, None


def classify_scores(f: _Features, th: LeakageThresholds) -> dict[str, float]:
    """The score of each leak type for a pair's features under thresholds ``th``.

    Each grows with its evidence. A type's conditions hold exactly when its score reaches
    its floor: 0.85 for verbatim, 0.6 for near-verbatim, 0.5 for paraphrase; short of
    them a score stays at most 0.45 and measures how close the evidence came.
    """
    v_min = th.verbatim_min_words
    m_min = th.min_distinctive
    v_words, _ = verbatim_run(f, th)
    if v_words:
        s_v = 0.85 + 0.15 * min(1.0, max(0, v_words - v_min) / (2 * v_min))
    else:
        best = max(
            (
                _ratio(length, v_min) * _ratio(mass, m_min) * (0.5 if common else 1.0)
                for length, mass, common, _w, _r in f.runs
            ),
            default=_ratio(f.longest, v_min) * 0.5,
        )
        s_v = 0.45 * best
    nv = (
        f.window_words >= th.near_verbatim_min_words
        and f.char_sim >= th.near_verbatim_ratio
        and f.window_content >= th.near_verbatim_content
        and f.window_mass >= m_min
    )
    if nv:
        s_nv = 0.6 + 0.15 * (
            _excess(f.char_sim, th.near_verbatim_ratio)
            + _excess(f.window_content, th.near_verbatim_content)
        )
    else:
        s_nv = _near_miss(
            _ratio(f.char_sim, th.near_verbatim_ratio),
            _ratio(f.window_content, th.near_verbatim_content),
            _ratio(f.window_words, th.near_verbatim_min_words),
            _ratio(f.window_mass, m_min),
        )
    para = (
        f.sim >= th.paraphrase_similarity
        and f.content >= th.paraphrase_content
        and f.shared_mass >= m_min
        and f.shared_facts >= th.min_facts
    )
    if para:
        s_p = 0.5 + 0.15 * (
            _excess(f.sim, th.paraphrase_similarity) + _excess(f.content, th.paraphrase_content)
        )
    else:
        s_p = _near_miss(
            _ratio(max(f.sim, 0.0), th.paraphrase_similarity),
            _ratio(f.content, th.paraphrase_content),
            _ratio(f.shared_mass, m_min),
            _ratio(f.shared_facts, th.min_facts),
        )
    return {
        LeakType.VERBATIM.value: s_v,
        LeakType.NEAR_VERBATIM.value: s_nv,
        LeakType.PARAPHRASE.value: s_p,
    }


_FLOORS = (
    (LeakType.VERBATIM, 0.85),
    (LeakType.NEAR_VERBATIM, 0.6),
    (LeakType.PARAPHRASE, 0.5),
)


def classify(f: _Features, th: LeakageThresholds) -> tuple[LeakType, float]:
    """The leak type and score of a pair's features under thresholds ``th``.

    The score is the highest type score (so it never drops as evidence grows); the type is
    the most severe one whose conditions hold, ``none`` (with a score below 0.5) if none do.
    """
    scores = classify_scores(f, th)
    score = max(scores.values())
    for lt, floor in _FLOORS:
        if scores[lt.value] >= floor:
            return lt, score
    return LeakType.NONE, min(score, 0.4999)


class _Analyser:
    """Computes pair features against one index's vocabulary and shingles (with caches)."""

    def __init__(self, index: LeakageIndex, th: LeakageThresholds) -> None:
        self.index = index
        self.th = th
        n = max(1, index.chunks)
        self.rare = max(_MIN_RARE, th.rare_df * n)
        self.log_rare = math.log(self.rare)
        self.boilerplate = max(_MIN_BOILERPLATE, th.boilerplate_df * n)
        self.df = index._df
        self._run_df: dict[str, int] = {}
        self._weights: dict[str, float] = {}

    def weight(self, word: str, df: int) -> float:
        """Rarity weight of a word found in ``df`` chunks (0 for common words)."""
        return max(0.0, self.log_rare - math.log(df)) if df > 0 else 0.0

    def _rec_weight(self, word: str) -> float:
        w = self._weights.get(word)
        if w is None:
            w = self.weight(word, max(1, self.df.get(word, 0)))
            self._weights[word] = w
        return w

    def content(
        self,
        out_words: Iterable[str],
        rec_words: Iterable[str],
        *,
        fuzzy: bool = False,
        recall: bool = False,
    ) -> tuple[float, float, set[str]]:
        """Share of distinctive content in common, its mass, and the words in common.

        Distinctive content is weighed by rarity in the corpus; the share is relative to the
        side with less of it (the output counting only words the corpus knows), or with
        ``recall`` to the record's. ``fuzzy`` also counts words one or two typos apart.
        """
        rset = set(rec_words)
        oset = set(out_words)
        rw = {w: self._rec_weight(w) for w in rset}
        mass_r = sum(rw.values())
        if mass_r <= 0:
            return 0.0, 0.0, set()
        shared = rset & oset
        matched = sum(rw[w] for w in shared)
        mass_o = 0.0
        for w in oset:
            if w in rw:
                mass_o += rw[w]
            else:
                df = self.df.get(w, 0)
                if df:
                    mass_o += self.weight(w, df)
        if fuzzy:
            from rapidfuzz import process
            from rapidfuzz.distance import Levenshtein

            pool = [w for w in oset - rset if _fuzzy_term(w)]
            if pool:
                for w in rset - oset:
                    if rw[w] <= 0 or not _fuzzy_term(w):
                        continue
                    hit = process.extractOne(
                        w, pool, scorer=Levenshtein.distance, score_cutoff=1 if len(w) < 8 else 2
                    )
                    if hit is not None:
                        matched += rw[w]
                        mass_o += rw[w]
                        shared.add(w)
        if recall:
            return min(1.0, matched / mass_r), matched, shared
        denom = min(mass_o, mass_r)
        return (min(1.0, matched / denom) if denom > 0 else 0.0), matched, shared

    def facts(self, rec: _Text, shared: set[str], w0: int = 0, w1: int | None = None) -> int:
        """How many separate facts the shared distinctive terms make in the record.

        Distinctive terms next to each other (at most one word apart) are one fact: a name,
        a product, an address; an id elsewhere is another.
        """
        keep = {w for w in shared if self._rec_weight(w) > 0}
        if not keep:
            return 0
        end = len(rec.words) if w1 is None else w1
        pos = [i for i in range(w0, end) if rec.words[i] in keep]
        pos += [a for a, b, term in rec.numbers if term in keep and a >= w0 and b <= end]
        pos.sort()
        facts = 0
        last = -10
        for p in pos:
            if p - last > 2:
                facts += 1
            last = p
        return facts

    def mass(self, words: Iterable[str]) -> float:
        """Distinctive content of the distinct ``words`` (record side)."""
        return sum(self._rec_weight(w) for w in set(words))

    def run_df(self, text: str, words: int) -> int:
        """Number of record chunks holding the whole run ``text`` (of ``words`` words)."""
        cached = self._run_df.get(text)
        if cached is not None:
            return cached
        from aiposture.embeddings.lexical import shingle_hashes

        hashes, _ = shingle_hashes(text, self.index._shingles_n)
        need = len(np.unique(hashes))
        if need == 0:
            return 0
        hits = self.index._shingles.query_hashes(hashes)
        df = sum(1 for c in hits.values() if c >= need)
        self._run_df[text] = df
        return df

    def features(self, out: _Text, rec: _Text, key: int, sim: float, rec_words: int) -> _Features:
        """Features of one (output chunk, record chunk) pair."""
        from aiposture.embeddings.lexical import matching_spans

        f = _Features(key=key, sim=sim)
        f.content, f.shared_mass, shared = self.content(out.terms(), rec.terms())
        f.shared_facts = self.facts(rec, shared)
        f.content_spans = _content_spans(out, rec, shared, self)
        if not (out.wset & rec.wset):
            return f
        runs: list[tuple[int, int, int, int]] = []
        for (os_, oe), (rs, re_) in matching_spans(out.text, rec.text, min_words=_MIN_RUN):
            o0, o1 = out.word_index(os_), out.word_index(oe)
            r0, r1 = rec.word_index(rs), rec.word_index(re_)
            if o1 > o0 and r1 > r0:
                runs.append((o0, o1, r0, r1))
        if not runs:
            return f
        covered = sum(o1 - o0 for o0, o1, _, _ in runs if o1 - o0 >= 3)
        f.overlap = min(1.0, covered / max(1, min(len(out.words), len(rec.words))))
        f.longest = max(o1 - o0 for o0, o1, _, _ in runs)
        # verbatim candidates: long runs, with their distinctive content and corpus frequency
        v_min = self.th.verbatim_min_words
        for run in sorted(runs, key=lambda r: r[0] - r[1]):
            length = run[1] - run[0]
            whole = length == rec_words and length >= _MIN_WHOLE_RECORD
            if length < v_min and not whole:
                break
            cs, ce = rec.char_span(run[2], run[3])
            common = self.run_df(rec.text[cs:ce], length) > self.boilerplate
            f.runs.append((length, self.mass(rec.terms(run[2], run[3])), common, whole, run))
        # near-verbatim: cluster the runs into aligned windows
        win = _cluster(runs)
        o0, o1, r0, r1 = win
        f.window = win
        f.window_words = min(o1 - o0, r1 - r0)
        if f.window_words >= 2:
            from rapidfuzz import fuzz

            a = " ".join(out.words[o0:o1])
            b = " ".join(rec.words[r0:r1])
            f.char_sim = max(fuzz.ratio(a, b), fuzz.token_sort_ratio(a, b)) / 100.0
            f.window_content, f.window_mass, _ = self.content(
                out.terms(o0, o1), rec.terms(r0, r1), fuzzy=True, recall=True
            )
        return f


def _fuzzy_term(word: str) -> bool:
    """Whether a typo in ``word`` keeps it the same content (words, not numbers)."""
    return len(word) >= 4 and not any(c.isdigit() for c in word)


def _cluster(runs: list[tuple[int, int, int, int]]) -> tuple[int, int, int, int]:
    """The window pair of the cluster of runs with the most words in common."""
    clusters: list[list[int]] = []  # o0, o1, r0, r1, matched
    for o0, o1, r0, r1 in sorted(runs):
        for c in clusters:
            near_out = o0 - c[1] <= _GAP
            near_rec = c[2] - 2 * _GAP <= r0 <= c[3] + 2 * _GAP
            if near_out and near_rec:
                c[0], c[1] = min(c[0], o0), max(c[1], o1)
                c[2], c[3] = min(c[2], r0), max(c[3], r1)
                c[4] += o1 - o0
                break
        else:
            clusters.append([o0, o1, r0, r1, o1 - o0])
    best = max(clusters, key=lambda c: (c[4], -(c[1] - c[0])))
    return best[0], best[1], best[2], best[3]


def _sentence_bounds(text: str, start: int, end: int) -> tuple[int, int]:
    """Widen ``start:end`` to the sentence boundaries around it within ``text``."""
    s = 0
    for m in _SENTENCE_END.finditer(text, 0, start):
        s = m.end()
    m2 = _SENTENCE_END.search(text, end)
    e = m2.start() + 1 if m2 else len(text)
    return s, max(e, end)


def _content_spans(
    out: _Text, rec: _Text, shared: set[str], an: _Analyser
) -> tuple[tuple[int, int], tuple[int, int]] | None:
    """Sentences of each chunk holding the distinctive words the two have in common."""
    keep = {w for w in shared if an._rec_weight(w) > 0}
    if not keep:
        return None
    spans = []
    for t in (out, rec):
        idx = [i for i, w in enumerate(t.words) if w in keep]
        idx += [k for a, b, term in t.numbers if term in keep for k in (a, b - 1)]
        idx.sort()
        if not idx:
            return None
        s, e = t.spans[idx[0]][0], t.spans[idx[-1]][1]
        spans.append(_sentence_bounds(t.text, s, e))
    return spans[0], spans[1]


# --- the index -----------------------------------------------------------------------------


class LeakageIndex:
    """Training records indexed for leakage checks (FAISS + word shingles).

    Build with :meth:`build`, open a saved one with :meth:`load`. An empty index can be
    made with the constructor and filled with :meth:`add`.

    Args:
        embedder: The embedding model (default: the shared all-MiniLM-L6-v2 embedder).
        chunking: Chunk window and overlap (default: :class:`ChunkParams` defaults).
        thresholds: Decision thresholds (default: the calibrated defaults).

    Attributes:
        thresholds: The thresholds :meth:`check` uses (see :meth:`calibrate`).
        last_build: What the last :meth:`build` or :meth:`add` read, skipped and indexed.
    """

    def __init__(
        self,
        embedder: Embedder | None = None,
        chunking: ChunkParams | None = None,
        thresholds: LeakageThresholds | None = None,
    ) -> None:
        from aiposture.embeddings.chunking import ChunkParams
        from aiposture.embeddings.embedder import get_embedder
        from aiposture.embeddings.index import FaissIndex
        from aiposture.embeddings.lexical import ShingleIndex

        self.embedder: Embedder = embedder if embedder is not None else get_embedder()
        self.chunking: ChunkParams = chunking if chunking is not None else ChunkParams()
        self.thresholds: LeakageThresholds = thresholds or LeakageThresholds()
        self.last_build = BuildSummary()
        self._vectors: FaissIndex = FaissIndex(self.embedder.dimension)
        self._shingles_n = SHINGLE_N
        self._shingles: ShingleIndex = ShingleIndex(SHINGLE_N)
        self._records: dict[str, LeakageRecord] = {}
        self._ck_keys: NDArray[np.int64] = np.empty(0, np.int64)
        self._ck_rec: list[str] = []
        self._ck_idx: NDArray[np.int32] = np.empty(0, np.int32)
        self._ck_start: NDArray[np.int64] = np.empty(0, np.int64)
        self._ck_end: NDArray[np.int64] = np.empty(0, np.int64)
        self._df: dict[str, int] = {}
        self._next_key = 0
        self._created = datetime.now(UTC).isoformat(timespec="seconds")

    # --- facts --------------------------------------------------------------------------

    @property
    def records(self) -> int:
        """Number of records indexed."""
        return len(self._records)

    @property
    def chunks(self) -> int:
        """Number of chunks indexed."""
        return len(self._ck_keys)

    @property
    def record_ids(self) -> list[str]:
        """Ids of the records indexed, in the order they were added."""
        return list(self._records)

    def record(self, record_id: str) -> LeakageRecord:
        """The record with id ``record_id`` (KeyError if absent)."""
        return self._records[record_id]

    def __len__(self) -> int:
        return len(self._records)

    def __contains__(self, record_id: object) -> bool:
        return record_id in self._records

    def __repr__(self) -> str:
        return (
            f"LeakageIndex({self.records} records, {self.chunks} chunks, "
            f"model={self.embedder.name!r}, precision={self.embedder.precision.value!r}, "
            f"vectors={self._vectors.kind!r})"
        )

    def _repr_html_(self) -> str:
        from aiposture import display

        return display.leakage_index_html(self)

    @property
    def manifest(self) -> dict[str, Any]:
        """What ``manifest.json`` records about this index (file checksums only once saved)."""
        emb = self.embedder
        return {
            "format_version": FORMAT_VERSION,
            "created_at": self._created,
            "aiposture_version": _version(),
            "model": {
                "name": emb.name,
                "dimension": int(emb.dimension),
                "precision": emb.precision.value,
                "max_tokens": int(emb.max_tokens),
            },
            "chunking": {"window": self.chunking.window, "overlap": self.chunking.overlap},
            "lexical": {"shingle_words": self._shingles_n},
            "vector_index": {
                "kind": self._vectors.kind,
                "flat_limit": int(self._vectors.flat_limit),
                "nprobe": int(self._vectors.nprobe),
            },
            "counts": {
                "records": self.records,
                "chunks": self.chunks,
                "vocabulary": len(self._df),
                "next_key": self._next_key,
            },
            "thresholds": self.thresholds.model_dump(mode="json"),
        }

    # --- building -----------------------------------------------------------------------

    @classmethod
    def build(
        cls,
        data: Any,
        *,
        embedder: Embedder | None = None,
        chunking: ChunkParams | None = None,
        id_field: str = "id",
        text_field: str = "text",
        progress: bool = True,
        checkpoint: str | os.PathLike[str] | None = None,
        thresholds: LeakageThresholds | None = None,
    ) -> LeakageIndex:
        """Index training records.

        Args:
            data: A pandas DataFrame; a path to a ``.jsonl``, ``.csv`` or ``.parquet`` file,
                to a folder of text files (ids are the relative paths) or to one text file;
                or an iterable of :class:`~aiposture.models.LeakageRecord`, mappings or
                ``(id, text)`` pairs. Fields other than id and text are kept as metadata
                (``dataset``, ``source`` and ``sensitivity`` as such).
            embedder: The embedding model (default: the shared default embedder).
            chunking: Chunk window and overlap.
            id_field: Name of the id field or column.
            text_field: Name of the text field or column.
            progress: Show a progress bar with the time left on stderr.
            checkpoint: A folder where embeddings are written in blocks as they are
                computed; a build restarted with the same folder skips finished blocks.
            thresholds: Decision thresholds (default: the calibrated defaults).

        Returns:
            The index (in memory; :meth:`save` writes it).

        Raises:
            LeakageDataError: The data cannot be read, or a record id occurs twice (both
                also ``ValueError``; the message names the file, line or id).
        """
        index = cls(embedder, chunking, thresholds)
        index._ingest(data, id_field, text_field, progress, checkpoint)
        return index

    def add(
        self,
        data: Any,
        *,
        id_field: str = "id",
        text_field: str = "text",
        progress: bool = False,
        checkpoint: str | os.PathLike[str] | None = None,
    ) -> int:
        """Add records (any input :meth:`build` accepts); returns how many were indexed.

        Raises:
            LeakageDataError: The data cannot be read, or an id is already in the index or
                occurs twice in ``data``.
        """
        return self._ingest(data, id_field, text_field, progress, checkpoint)

    def remove(self, ids: Iterable[str] | str) -> int:
        """Remove records by id; unknown ids are ignored. Returns how many were removed."""
        wanted = {ids} if isinstance(ids, str) else {str(i) for i in ids}
        gone = [rid for rid in wanted if rid in self._records]
        if not gone:
            return 0
        gone_set = set(gone)
        mask = np.fromiter((r in gone_set for r in self._ck_rec), bool, count=len(self._ck_rec))
        keys = self._ck_keys[mask]
        for i in np.flatnonzero(mask):
            rec = self._records[self._ck_rec[i]]
            words = _Text.of(rec.text[self._ck_start[i] : self._ck_end[i]]).terms()
            for w in words:
                left = self._df.get(w, 0) - 1
                if left > 0:
                    self._df[w] = left
                else:
                    self._df.pop(w, None)
        self._vectors.remove(keys)
        self._shingles.remove(int(k) for k in keys)
        keep = ~mask
        self._ck_keys = self._ck_keys[keep]
        self._ck_rec = [r for r, k in zip(self._ck_rec, keep, strict=True) if k]
        self._ck_idx = self._ck_idx[keep]
        self._ck_start = self._ck_start[keep]
        self._ck_end = self._ck_end[keep]
        for rid in gone:
            del self._records[rid]
        return len(gone)

    def _ingest(
        self,
        data: Any,
        id_field: str,
        text_field: str,
        progress: bool,
        checkpoint: str | os.PathLike[str] | None,
    ) -> int:
        from aiposture.embeddings.chunking import chunk_records

        t0 = time.perf_counter()
        stats = LoadStats()
        summary = BuildSummary()
        new: dict[str, LeakageRecord] = {}
        for rec in iter_records(data, id_field=id_field, text_field=text_field, stats=stats):
            summary.records_read += 1
            if rec.id in new or rec.id in self._records:
                where = "in the data" if rec.id in new else "already in the index"
                raise LeakageDataError(f"duplicate record id {rec.id!r} ({where})")
            if not rec.text.strip():
                summary.skipped_empty += 1
                continue
            new[rec.id] = rec
        summary.skipped_binary = stats.skipped_binary
        summary.replaced_encoding = stats.replaced_encoding
        chunks = list(
            chunk_records(((r.id, r.text) for r in new.values()), self.embedder, self.chunking)
        )
        keys = np.arange(self._next_key, self._next_key + len(chunks), dtype=np.int64)
        vectors = self._embed_blocks([c.text for c in chunks], keys, progress, checkpoint, summary)
        if len(chunks):
            self._vectors.add(keys, vectors)
        self._shingles.add_many(zip(keys.tolist(), (c.text for c in chunks), strict=True))
        for c in chunks:
            for w in _Text.of(c.text).terms():
                self._df[w] = self._df.get(w, 0) + 1
        self._records.update(new)
        self._ck_keys = np.concatenate([self._ck_keys, keys])
        self._ck_rec.extend(c.record_id for c in chunks)
        self._ck_idx = np.concatenate([self._ck_idx, np.array([c.index for c in chunks], np.int32)])
        self._ck_start = np.concatenate(
            [self._ck_start, np.array([c.start for c in chunks], np.int64)]
        )
        self._ck_end = np.concatenate([self._ck_end, np.array([c.end for c in chunks], np.int64)])
        self._next_key += len(chunks)
        summary.records_indexed = len(new)
        summary.chunks = len(chunks)
        summary.seconds = round(time.perf_counter() - t0, 3)
        self.last_build = summary
        return len(new)

    def _embed_blocks(
        self,
        texts: list[str],
        keys: NDArray[np.int64],
        progress: bool,
        checkpoint: str | os.PathLike[str] | None,
        summary: BuildSummary,
    ) -> NDArray[np.float32]:
        """Embed ``texts`` block by block, reusing and writing checkpoint blocks."""
        from tqdm import tqdm

        dim = int(self.embedder.dimension)
        out = np.empty((len(texts), dim), np.float32)
        folder = Path(checkpoint) if checkpoint is not None else None
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)
        tag = (
            f"{self.embedder.name}|{self.embedder.precision.value}|{dim}|"
            f"{self.chunking.window}|{self.chunking.overlap}"
        )
        todo: list[tuple[int, int, Path | None]] = []
        for b, start in enumerate(range(0, len(texts), BLOCK)):
            end = min(len(texts), start + BLOCK)
            path = None
            if folder is not None:
                h = hashlib.sha256(tag.encode())
                for t in texts[start:end]:
                    h.update(t.encode("utf-8", "surrogatepass"))
                    h.update(b"\x00")
                path = folder / f"block-{b:06d}-{h.hexdigest()[:20]}.npy"
                got = _read_block(path, end - start, dim)
                if got is not None:
                    out[start:end] = got
                    summary.chunks_from_checkpoint += end - start
                    continue
            todo.append((start, end, path))
        bar = tqdm(
            total=len(texts),
            initial=summary.chunks_from_checkpoint,
            unit="chunk",
            desc="embedding",
            disable=not progress or not texts,
            file=sys.stderr,
            dynamic_ncols=True,
        )
        with bar:
            for start, end, path in todo:
                vecs = np.asarray(self.embedder.encode(texts[start:end]), dtype=np.float32)
                out[start:end] = vecs
                if path is not None:
                    _write_block(path, vecs)
                bar.update(end - start)
        return out

    # --- checking -----------------------------------------------------------------------

    def _chunk_row(self, key: int) -> int:
        i = int(np.searchsorted(self._ck_keys, key))
        if i >= len(self._ck_keys) or self._ck_keys[i] != key:
            raise KeyError(key)
        return i

    def _output_chunks(self, text: str) -> Iterator[tuple[int, int, str]]:
        """Chunks of one output as (start, end, text) in document coordinates."""
        from aiposture.embeddings.chunking import chunk_text

        if not text.strip():
            return
        for seg_start, seg in _segments(text):
            offsets = self.embedder.token_offsets(seg)
            for c in chunk_text("", seg, offsets, self.chunking):
                yield seg_start + c.start, seg_start + c.end, c.text

    def check(
        self,
        outputs: str | Sequence[str] | Mapping[str, str] | Iterable[Any],
        *,
        progress: bool = False,
    ) -> LeakageReport:
        """Check model outputs for training data.

        Args:
            outputs: One text; a list of texts (ids ``"0"``, ``"1"``, ...); a mapping
                ``{id: text}``; or records with ``id`` and ``text`` (mappings,
                :class:`~aiposture.models.LeakageRecord` or ``(id, text)`` pairs).
            progress: Show a progress bar on stderr.

        Returns:
            The report: per output (in input order) its leak type, score and matches.
        """
        from tqdm import tqdm

        items = _outputs(outputs)
        state = _CheckState(self, self.thresholds)
        with tqdm(
            total=len(items),
            unit="output",
            desc="checking",
            disable=not progress,
            file=sys.stderr,
            dynamic_ncols=True,
        ) as bar:
            batch: list[tuple[int, int, int, str]] = []
            for oi, (_oid, text) in enumerate(items):
                for start, end, ctext in self._output_chunks(text):
                    batch.append((oi, start, end, ctext))
                    if len(batch) >= CHECK_BATCH:
                        state.process(batch)
                        batch = []
                bar.update(1)
            if batch:
                state.process(batch)
        results = [state.verdict(i, oid, text) for i, (oid, text) in enumerate(items)]
        return LeakageReport(results, [t for _, t in items], info=self._report_info())

    def _report_info(self) -> dict[str, Any]:
        return {
            "index": {
                "model": self.embedder.name,
                "precision": self.embedder.precision.value,
                "records": self.records,
                "chunks": self.chunks,
            },
            "thresholds": self.thresholds.model_dump(mode="json"),
        }

    # --- calibration --------------------------------------------------------------------

    def pair_features(
        self, pairs: Sequence[tuple[str, str]], *, progress: bool = False
    ) -> list[list[_Features]]:
        """Features of every chunk pair of each ``(output, record text)`` pair.

        The record texts need not be in the index; the index supplies the corpus statistics
        (word rarity, boilerplate runs).
        """
        state = _CheckState(self, self.thresholds)
        return state.pair_features(pairs, progress=progress)

    def calibrate(
        self,
        labelled_pairs: Iterable[Any],
        *,
        target_precision: float = 0.95,
        kinds: Iterable[LeakType | str] | None = None,
        progress: bool = False,
    ) -> LeakageThresholds:
        """Fit the near-verbatim and paraphrase thresholds to labelled examples.

        For each type, the thresholds chosen give the highest recall of that type's examples
        at which precision against the non-leak examples is still ``target_precision`` or
        more (ties: the higher F1, then the stricter thresholds); types are fitted in order
        of severity, each with the rules fitted before it in force. With boolean labels every
        leak counts for every type. ``verbatim_min_words`` and ``boilerplate_df`` are kept.

        Args:
            labelled_pairs: ``(output, record_text, label)`` tuples or mappings with keys
                ``output``, ``record`` and ``label``; a label is a leak type
                (``"verbatim"``, ``"near-verbatim"``, ``"paraphrase"``, ``"none"``) or a
                boolean (leak or not).
            target_precision: Precision to keep on the pairs.
            kinds: The types to fit (default: near-verbatim and paraphrase); with
                ``verbatim``, ``min_distinctive`` is fitted too.
            progress: Show a progress bar.

        Returns:
            The new thresholds, also set as :attr:`thresholds`.

        Raises:
            ValueError: No pairs, a label that is not a leak type or boolean, or no positive
                or no negative example for a type being fitted.
        """
        outs: list[tuple[str, str]] = []
        labels: list[LeakType] = []
        typed = False
        for n, item in enumerate(labelled_pairs):
            if isinstance(item, Mapping):
                o, r, lab = item.get("output"), item.get("record"), item.get("label")
            else:
                o, r, lab = item
            if not isinstance(o, str) or not isinstance(r, str):
                raise ValueError(f"pair {n}: output and record must be texts")
            lt, is_typed = _label(lab, n)
            typed = typed or is_typed
            outs.append((o, r))
            labels.append(lt)
        if not outs:
            raise ValueError("no labelled pairs to calibrate on")
        fit = (
            {LeakType(k) for k in kinds}
            if kinds is not None
            else {
                LeakType.NEAR_VERBATIM,
                LeakType.PARAPHRASE,
            }
        )
        feats = self.pair_features(outs, progress=progress)
        th = fit_thresholds(feats, labels, self.thresholds, target_precision, fit, typed=typed)
        self.thresholds = th
        return th

    # --- persistence --------------------------------------------------------------------

    def save(self, directory: str | os.PathLike[str]) -> Path:
        """Write the index to ``directory``, atomically.

        Everything is written to a temporary folder beside the target and flushed to disk;
        only then does it replace the target (an atomic exchange where the OS offers one).
        A crash at any point leaves either the old index or the new one, never a mix.

        Returns:
            The directory.

        Raises:
            LeakageIndexError: The target exists and is not a leakage index folder (it is
                never replaced then), or the index cannot be written.
        """
        target = Path(directory).absolute()
        parent = target.parent
        parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            if not target.is_dir():
                raise LeakageIndexError(f"{target} exists and is not a folder")
            if not (target / MANIFEST).exists() and any(target.iterdir()):
                raise LeakageIndexError(
                    f"{target} is a non-empty folder without {MANIFEST}; refusing to replace it"
                )
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=parent))
        try:
            files = self._write_files(tmp)
            manifest = self.manifest
            manifest["files"] = files
            _write_bytes(tmp / MANIFEST, (json.dumps(manifest, indent=2) + "\n").encode())
            _fsync_dir(tmp)
            _replace_dir(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return target

    def _write_files(self, folder: Path) -> dict[str, dict[str, Any]]:
        """Write every data file into ``folder``; return their sizes and checksums."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        self._vectors.save(folder / VECTORS)
        self._shingles.save(folder / SHINGLES)
        chunks = pa.table(
            {
                "key": pa.array(self._ck_keys, pa.int64()),
                "record_id": pa.array(self._ck_rec, pa.string()),
                "chunk_index": pa.array(self._ck_idx, pa.int32()),
                "start": pa.array(self._ck_start, pa.int64()),
                "end": pa.array(self._ck_end, pa.int64()),
            }
        )
        pq.write_table(chunks, folder / CHUNKS)
        recs = list(self._records.values())
        records = pa.table(
            {
                "id": pa.array([r.id for r in recs], pa.string()),
                "text": pa.array([r.text for r in recs], pa.large_string()),
                "dataset": pa.array([r.dataset for r in recs], pa.string()),
                "source": pa.array([r.source for r in recs], pa.string()),
                "sensitivity": pa.array([r.sensitivity for r in recs], pa.string()),
                "metadata": pa.array(
                    [json.dumps(r.metadata, ensure_ascii=False) for r in recs], pa.string()
                ),
            }
        )
        pq.write_table(records, folder / RECORDS)
        words = sorted(self._df)
        vocab = pa.table(
            {
                "word": pa.array(words, pa.string()),
                "df": pa.array([self._df[w] for w in words], pa.int64()),
            }
        )
        pq.write_table(vocab, folder / VOCABULARY)
        files: dict[str, dict[str, Any]] = {}
        for name in _DATA_FILES:
            path = folder / name
            _fsync_file(path)
            files[name] = {"sha256": _sha256(path), "bytes": path.stat().st_size}
        return files

    @classmethod
    def load(
        cls,
        directory: str | os.PathLike[str],
        *,
        embedder: Embedder | None = None,
        verify: bool = True,
    ) -> LeakageIndex:
        """Open an index written by :meth:`save`.

        Args:
            directory: The index folder.
            embedder: The embedder to check with; it must be the model and precision the
                index was built with (default: that model at that precision).
            verify: Check every file's size and SHA-256 against the manifest.

        Raises:
            IndexMismatchError: The index was built with another embedding model, dimension
                or precision than ``embedder``, or by a newer format (both named).
            IndexCorruptError: A file is missing, truncated, altered or unreadable (named).
        """
        folder = Path(directory)
        manifest = _read_manifest(folder)
        version = manifest.get("format_version")
        if not isinstance(version, int):
            raise IndexCorruptError(f"{folder / MANIFEST}: no format_version")
        if version > FORMAT_VERSION:
            raise IndexMismatchError(
                f"{folder}: index format version {version} is newer than this aiposture "
                f"reads ({FORMAT_VERSION}); upgrade aiposture"
            )
        try:
            model = manifest["model"]
            m_name, m_dim, m_prec = model["name"], int(model["dimension"]), model["precision"]
            window = int(manifest["chunking"]["window"])
            overlap = int(manifest["chunking"]["overlap"])
            files = manifest["files"]
            counts = manifest["counts"]
            thresholds = LeakageThresholds.model_validate(manifest.get("thresholds") or {})
        except (KeyError, TypeError, ValueError) as exc:
            raise IndexCorruptError(f"{folder / MANIFEST}: incomplete or invalid ({exc})") from None
        emb = embedder if embedder is not None else _default_embedder(m_name, m_prec)
        if emb.name != m_name:
            raise IndexMismatchError(
                f"{folder}: built with embedding model {m_name!r}, but the embedder is "
                f"{emb.name!r}; check with the model the index was built with"
            )
        if emb.precision.value != m_prec:
            raise IndexMismatchError(
                f"{folder}: built at precision {m_prec!r}, but the embedder runs at "
                f"{emb.precision.value!r}; checks must use the precision of the build"
            )
        if int(emb.dimension) != m_dim:
            raise IndexMismatchError(
                f"{folder}: built with {m_dim}-dimensional embeddings, the embedder gives "
                f"{emb.dimension}"
            )
        for name in _DATA_FILES:
            _verify_file(folder, name, files.get(name), verify)
        from aiposture.embeddings.chunking import ChunkParams

        index = cls(emb, ChunkParams(window=window, overlap=overlap), thresholds)
        index._created = str(manifest.get("created_at", index._created))
        index._load_files(folder, manifest)
        if index.records != counts.get("records") or index.chunks != counts.get("chunks"):
            raise IndexCorruptError(
                f"{folder}: holds {index.records} records and {index.chunks} chunks, the "
                f"manifest says {counts.get('records')} and {counts.get('chunks')}"
            )
        return index

    def _load_files(self, folder: Path, manifest: dict[str, Any]) -> None:
        import pyarrow.parquet as pq

        from aiposture.embeddings.index import FaissIndex
        from aiposture.embeddings.lexical import ShingleIndex

        self._vectors = FaissIndex.load(folder / VECTORS)
        try:
            self._shingles = ShingleIndex.load(folder / SHINGLES)
        except IndexCorruptError:
            raise
        except Exception as exc:
            raise IndexCorruptError(f"{folder / SHINGLES}: cannot be read ({exc})") from None
        self._shingles_n = int(manifest.get("lexical", {}).get("shingle_words", SHINGLE_N))

        def table(name: str) -> Any:
            try:
                return pq.read_table(folder / name)
            except Exception as exc:
                raise IndexCorruptError(f"{folder / name}: cannot be read ({exc})") from None

        try:
            ck = table(CHUNKS)
            self._ck_keys = ck.column("key").to_numpy().astype(np.int64)
            self._ck_rec = ck.column("record_id").to_pylist()
            self._ck_idx = ck.column("chunk_index").to_numpy().astype(np.int32)
            self._ck_start = ck.column("start").to_numpy().astype(np.int64)
            self._ck_end = ck.column("end").to_numpy().astype(np.int64)
            rt = table(RECORDS)
            cols = {c: rt.column(c).to_pylist() for c in rt.column_names}
            self._records = {}
            for i, rid in enumerate(cols["id"]):
                self._records[rid] = LeakageRecord(
                    id=rid,
                    text=cols["text"][i],
                    dataset=cols["dataset"][i],
                    source=cols["source"][i],
                    sensitivity=cols["sensitivity"][i],
                    metadata=json.loads(cols["metadata"][i] or "{}"),
                )
            vt = table(VOCABULARY)
            self._df = dict(
                zip(vt.column("word").to_pylist(), vt.column("df").to_pylist(), strict=True)
            )
        except IndexCorruptError:
            raise
        except (KeyError, ValueError, TypeError) as exc:
            raise IndexCorruptError(
                f"{folder}: a table of the index is malformed ({exc})"
            ) from None
        if len(self._vectors) != len(self._ck_keys):
            raise IndexCorruptError(
                f"{folder / VECTORS}: holds {len(self._vectors)} vectors for "
                f"{len(self._ck_keys)} chunks"
            )
        self._next_key = int(
            manifest["counts"].get(
                "next_key", int(self._ck_keys.max()) + 1 if len(self._ck_keys) else 0
            )
        )


# --- checking state -------------------------------------------------------------------------


class _CheckState:
    """Caches and collected evidence of one :meth:`LeakageIndex.check` call."""

    _CACHE = 50_000

    def __init__(self, index: LeakageIndex, th: LeakageThresholds) -> None:
        self.index = index
        self.th = th
        self.an = _Analyser(index, th)
        self.out_vectors: dict[str, NDArray[np.float32]] = {}
        self.rec_vectors: dict[int, NDArray[np.float32]] = {}
        self.rec_texts: dict[int, tuple[_Text, str, int, int]] = {}
        self.lexical: dict[str, list[int]] = {}
        self.pair_cache: dict[tuple[str, int], _Features] = {}
        self.evidence: dict[int, list[_Evidence]] = {}
        self.best_none: dict[int, float] = {}
        self.keep: dict[int, list[_Features]] | None = None  # every pair, when studied

    def _encode_outputs(self, texts: Sequence[str]) -> NDArray[np.float32]:
        missing = list(dict.fromkeys(t for t in texts if t not in self.out_vectors))
        if missing:
            if len(self.out_vectors) + len(missing) > self._CACHE:
                self.out_vectors.clear()
            vecs = np.asarray(self.index.embedder.encode(missing), dtype=np.float32)
            self.out_vectors.update(zip(missing, vecs, strict=True))
        return np.stack([self.out_vectors[t] for t in texts])

    def _record_chunk(self, key: int) -> tuple[_Text, str, int, int]:
        got = self.rec_texts.get(key)
        if got is None:
            ix = self.index
            row = ix._chunk_row(key)
            rid = ix._ck_rec[row]
            start, end = int(ix._ck_start[row]), int(ix._ck_end[row])
            text = ix._records[rid].text
            got = (_Text.of(text[start:end], start), rid, int(ix._ck_idx[row]), _nwords(text))
            if len(self.rec_texts) > self._CACHE:
                self.rec_texts.clear()
            self.rec_texts[key] = got
        return got

    def _lexical(self, text: str) -> list[int]:
        got = self.lexical.get(text)
        if got is None:
            hits = self.index._shingles.query(text, max_chunks_per_shingle=int(self.an.boilerplate))
            got = [k for k, _ in sorted(hits.items(), key=lambda kv: (-kv[1], kv[0]))]
            got = got[:LEXICAL_CANDIDATES]
            if len(self.lexical) > self._CACHE:
                self.lexical.clear()
            self.lexical[text] = got
        return got

    def _rec_vectors(self, keys: Iterable[int]) -> None:
        missing = [k for k in dict.fromkeys(keys) if k not in self.rec_vectors]
        if not missing:
            return
        vecs = self.index._vectors.reconstruct(np.asarray(missing, dtype=np.int64))
        if len(self.rec_vectors) > self._CACHE:
            self.rec_vectors.clear()
        self.rec_vectors.update(zip(missing, vecs, strict=True))

    def process(self, batch: list[tuple[int, int, int, str]]) -> None:
        """Find and classify the candidates of a batch of output chunks."""
        if not self.index.chunks:
            return
        texts = [b[3] for b in batch]
        qv = self._encode_outputs(texts)
        scores, keys = self.index._vectors.search(qv, min(TOP_K, self.index.chunks))
        cands: list[dict[int, float | None]] = []
        need: list[int] = []
        for j, text in enumerate(texts):
            c: dict[int, float | None] = {}
            for s, k in zip(scores[j].tolist(), keys[j].tolist(), strict=True):
                if k >= 0 and s >= SIMILARITY_FLOOR:
                    c[k] = s
            for k in self._lexical(text):
                if k not in c:
                    c[k] = None
                    need.append(k)
            cands.append(c)
        self._rec_vectors(need)
        found: list[tuple[int, _Text, _Text, str, int, _Features]] = []
        for j, (oi, start, _end, text) in enumerate(batch):
            out = _Text.of(text, start)
            for key, sim in cands[j].items():
                if sim is None:
                    sim = float(np.dot(qv[j], self.rec_vectors[key]))
                f = self.pair_cache.get((text, key))
                rec, rid, cidx, rec_words = self._record_chunk(key)
                if f is None:
                    f = self.an.features(out, rec, key, float(sim), rec_words)
                    if len(self.pair_cache) > self._CACHE:
                        self.pair_cache.clear()
                    self.pair_cache[(text, key)] = f
                found.append((oi, out, rec, rid, cidx, f))
        self._local_similarity([(x[1], x[2], x[5]) for x in found])
        for oi, out, rec, rid, cidx, f in found:
            self._collect(oi, out, rec, rid, cidx, f)
            if self.keep is not None:
                self.keep.setdefault(oi, []).append(f)

    def _local_similarity(self, pairs: Sequence[tuple[_Text, _Text, _Features]]) -> None:
        """Raise ``sim`` to the cosine of the passages holding the shared content.

        A paraphrase inside a long output shares its chunk with unrelated text, and a
        paraphrase of one sentence of a record is compared with the record's whole chunk;
        both dilute the chunk embeddings. The sentences holding the distinctive words the
        two have in common are embedded alone and compared with the other side's chunk and
        passage.
        """
        todo = [(out, rec, f) for out, rec, f in pairs if _wants_local(out, f)]
        if not todo:
            return
        self._rec_vectors(f.key for _, _, f in todo)
        rec_vecs = [self.rec_vectors[f.key] for _, _, f in todo]
        _raise_similarity(todo, rec_vecs, self._encode_outputs)

    def _collect(self, oi: int, out: _Text, rec: _Text, rid: str, cidx: int, f: _Features) -> None:
        lt, score = classify(f, self.th)
        if lt is LeakType.NONE:
            if score > self.best_none.get(oi, 0.0):
                self.best_none[oi] = score
            return
        _, v_run = verbatim_run(f, self.th)
        if lt is LeakType.VERBATIM and v_run is not None:
            o0, o1, r0, r1 = v_run
            os_, oe = out.char_span(o0, o1)
            rs, re_ = rec.char_span(r0, r1)
        elif lt is LeakType.NEAR_VERBATIM and f.window is not None:
            o0, o1, r0, r1 = f.window
            os_, oe = out.char_span(o0, o1)
            rs, re_ = rec.char_span(r0, r1)
        elif f.content_spans is not None:
            (os_, oe), (rs, re_) = f.content_spans
        else:
            os_, oe, rs, re_ = 0, len(out.text), 0, len(rec.text)
        ev = _Evidence(
            record_id=rid,
            chunk_index=cidx,
            leak_type=lt,
            score=score,
            features=f,
            output_span=(out.base + os_, out.base + oe),
            record_span=(rec.base + rs, rec.base + re_),
        )
        self.evidence.setdefault(oi, []).append(ev)

    def verdict(self, oi: int, oid: str, text: str) -> OutputCheck:
        """The output's verdict from the evidence collected for it."""
        evs = self.evidence.get(oi, [])
        if not evs:
            return OutputCheck(
                id=oid, text_length=len(text), score=round(self.best_none.get(oi, 0.0), 6)
            )
        evs.sort(key=lambda e: (-e.leak_type.rank, -e.score))
        kept: list[_Evidence] = []
        for ev in evs:
            for k in kept:
                if k.record_id == ev.record_id and _overlaps(k.output_span, ev.output_span):
                    if (
                        k.leak_type is ev.leak_type is LeakType.VERBATIM
                        and _overlaps(k.record_span, ev.record_span)
                        and ev.output_span[0] - k.output_span[0]
                        == ev.record_span[0] - k.record_span[0]
                    ):
                        k.output_span = (
                            min(k.output_span[0], ev.output_span[0]),
                            max(k.output_span[1], ev.output_span[1]),
                        )
                        k.record_span = (
                            min(k.record_span[0], ev.record_span[0]),
                            max(k.record_span[1], ev.record_span[1]),
                        )
                    break
            else:
                kept.append(ev)
        matches = []
        for ev in kept[:MAX_MATCHES]:
            rec = self.index._records[ev.record_id]
            f = ev.features
            meta = {
                k: v
                for k, v in (
                    ("dataset", rec.dataset),
                    ("source", rec.source),
                    ("sensitivity", rec.sensitivity),
                )
                if v is not None
            }
            matches.append(
                LeakageMatch(
                    record_id=ev.record_id,
                    chunk_index=ev.chunk_index,
                    similarity=round(max(-1.0, min(1.0, f.sim)), 6),
                    lexical_overlap=round(f.overlap, 6),
                    output_span=ev.output_span,
                    record_span=ev.record_span,
                    record_excerpt=excerpt(rec.text, *ev.record_span),
                    leak_type=ev.leak_type,
                    score=round(ev.score, 6),
                    longest_run=f.longest,
                    char_similarity=round(f.char_sim, 6),
                    content_overlap=round(f.content, 6),
                    metadata=meta,
                )
            )
        top = matches[0]
        return OutputCheck(
            id=oid,
            text_length=len(text),
            leak_type=top.leak_type,
            score=max(m.score for m in matches),
            matches=matches,
        )

    def pair_features(
        self, pairs: Sequence[tuple[str, str]], *, progress: bool = False
    ) -> list[list[_Features]]:
        """Features of every (output chunk, record chunk) combination of each pair."""
        from tqdm import tqdm

        from aiposture.embeddings.chunking import chunk_text

        emb = self.index.embedder

        def chunks(text: str) -> list[tuple[int, str]]:
            if not text.strip():
                return []
            return [
                (c.start, c.text)
                for c in chunk_text("", text, emb.token_offsets(text), self.index.chunking)
            ]

        out_chunks = [chunks(o) for o, _ in pairs]
        rec_chunks = [chunks(r) for _, r in pairs]
        all_texts = list(dict.fromkeys(t for cs in out_chunks + rec_chunks for _, t in cs))
        vecs = dict(
            zip(all_texts, np.asarray(emb.encode(all_texts, progress=progress)), strict=True)
        )
        result: list[list[_Features]] = []
        local: list[tuple[_Text, _Text, _Features]] = []
        local_vecs: list[NDArray[np.float32]] = []
        for (_, rtext), oc, rc in tqdm(
            list(zip(pairs, out_chunks, rec_chunks, strict=True)),
            disable=not progress,
            file=sys.stderr,
            desc="pairs",
        ):
            feats = []
            nwords = _nwords(rtext)
            for ostart, otext in oc:
                out = _Text.of(otext, ostart)
                for rstart, rtext_c in rc:
                    rec = _Text.of(rtext_c, rstart)
                    sim = float(np.dot(vecs[otext], vecs[rtext_c]))
                    f = self.an.features(out, rec, -1, sim, nwords)
                    feats.append(f)
                    if _wants_local(out, f):
                        local.append((out, rec, f))
                        local_vecs.append(vecs[rtext_c])
            result.append(feats)
        _raise_similarity(local, local_vecs, self._encode_outputs)
        return result


def _wants_local(out: _Text, f: _Features) -> bool:
    """Whether a pair's shared content sits in passages worth embedding on their own."""
    return not f.local_done and f.content >= LOCAL_CONTENT and f.content_spans is not None


def _raise_similarity(
    pairs: Sequence[tuple[_Text, _Text, _Features]],
    rec_vecs: Sequence[NDArray[np.float32]],
    encode: Any,
) -> None:
    """Set each pair's ``sim`` to the best of chunk and passage cosines (see _local_similarity)."""
    if not pairs:
        return
    texts: list[str] = []
    for out, rec, f in pairs:
        assert f.content_spans is not None
        texts.append(out.text[slice(*f.content_spans[0])])
        texts.append(rec.text[slice(*f.content_spans[1])])
    vecs = encode(texts)
    for n, ((_out, _rec, f), rv) in enumerate(zip(pairs, rec_vecs, strict=True)):
        out_p, rec_p = vecs[2 * n], vecs[2 * n + 1]
        f.local_done = True
        f.sim = max(f.sim, float(np.dot(out_p, rv)), float(np.dot(out_p, rec_p)))


def _overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] <= b[1] and b[0] <= a[1]


def _nwords(text: str) -> int:
    from aiposture.embeddings.lexical import word_spans

    return len(word_spans(text))


def _segments(text: str) -> Iterator[tuple[int, str]]:
    """Cut a long text into overlapping segments at whitespace: (start, segment)."""
    n = len(text)
    if n <= SEGMENT_CHARS:
        yield 0, text
        return
    start = 0
    while start < n:
        end = min(n, start + SEGMENT_CHARS)
        if end < n:
            cut = text.rfind(" ", start + SEGMENT_CHARS // 2, end)
            cut = max(cut, text.rfind("\n", start + SEGMENT_CHARS // 2, end))
            if cut > start:
                end = cut
        yield start, text[start:end]
        if end >= n:
            return
        nxt = end - SEGMENT_OVERLAP
        ws = text.find(" ", nxt, end)
        start = ws + 1 if ws > start else end


def _outputs(outputs: Any) -> list[tuple[str, str]]:
    """Normalise what :meth:`LeakageIndex.check` accepts into ``(id, text)`` pairs."""
    if isinstance(outputs, str):
        return [("0", outputs)]
    if isinstance(outputs, LeakageReport):
        raise TypeError("check() takes model outputs, not a report")
    if isinstance(outputs, Mapping):
        items = []
        for k, v in outputs.items():
            if not isinstance(v, str):
                raise TypeError(f"output {k!r} is a {type(v).__name__}, not a text")
            items.append((str(k), v))
        return items
    items = []
    for n, item in enumerate(outputs):
        if isinstance(item, str):
            items.append((str(n), item))
        elif isinstance(item, LeakageRecord):
            items.append((item.id, item.text))
        elif isinstance(item, Mapping):
            text = item.get("text")
            if text is None:
                text = ""
            if not isinstance(text, str):
                raise TypeError(f"output {n}: 'text' is a {type(text).__name__}, not a text")
            items.append((str(item.get("id", n)), text))
        elif isinstance(item, tuple | list) and len(item) == 2 and isinstance(item[1], str):
            items.append((str(item[0]), item[1]))
        else:
            raise TypeError(
                f"output {n} is a {type(item).__name__}: expected a text, a mapping with "
                "'id' and 'text', or an (id, text) pair"
            )
    return items


def _label(value: Any, n: int) -> tuple[LeakType, bool]:
    """A pair's label as a leak type, and whether it was typed (not a boolean)."""
    if isinstance(value, LeakType):
        return value, value is not LeakType.NONE
    if isinstance(value, bool | int | np.integer) and not isinstance(value, str):
        if int(value) not in (0, 1):
            raise ValueError(f"pair {n}: label {value!r} is neither a leak type nor 0/1")
        return (LeakType.PARAPHRASE if int(value) else LeakType.NONE), False
    if isinstance(value, str):
        try:
            lt = LeakType(value.strip().lower().replace("_", "-"))
        except ValueError:
            raise ValueError(
                f"pair {n}: label {value!r} is not one of verbatim, near-verbatim, paraphrase, none"
            ) from None
        return lt, lt is not LeakType.NONE
    raise ValueError(f"pair {n}: label {value!r} is neither a leak type nor a boolean")


# --- threshold fitting -----------------------------------------------------------------------


def _pick(
    predicted: NDArray[np.bool_], positive: NDArray[np.bool_], target: float
) -> tuple[float, float, float]:
    """Precision, recall and F1 of a prediction."""
    tp = float(np.sum(predicted & positive))
    fp = float(np.sum(predicted & ~positive))
    fn = float(np.sum(~predicted & positive))
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


_MASS_GRID = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0)
#: A fitted setting may give up this much recall on the pairs for stricter thresholds.
_RECALL_SLACK = 0.01


def fit_thresholds(
    feats: Sequence[Sequence[_Features]],
    labels: Sequence[LeakType],
    base: LeakageThresholds,
    target_precision: float,
    kinds: set[LeakType],
    *,
    typed: bool = True,
) -> LeakageThresholds:
    """Fit thresholds on per-pair features (see :meth:`LeakageIndex.calibrate`).

    With ``verbatim`` among ``kinds``, ``min_distinctive`` is fitted first (the largest value
    whose verbatim recall is best at the target precision); then the near-verbatim, then the
    paraphrase thresholds, each with the ones fitted before it fixed.
    """
    if not 0 < target_precision <= 1:
        raise ValueError(f"target_precision must be in (0, 1], not {target_precision}")
    owner = np.array([i for i, fs in enumerate(feats) for _ in fs], dtype=np.int64)
    flat = [f for fs in feats for f in fs]
    n = len(feats)
    lab = np.array([lt.rank for lt in labels])
    leak = lab > 0

    def col(name: str) -> NDArray[np.float64]:
        return np.array([getattr(f, name) for f in flat], dtype=np.float64)

    sim, content = col("sim"), col("content")
    char, wcontent, wwords = col("char_sim"), col("window_content"), col("window_words")
    wmass, smass = col("window_mass"), col("shared_mass")
    sfacts = col("shared_facts")

    def per_pair(mask: NDArray[np.bool_]) -> NDArray[np.bool_]:
        out = np.zeros(n, dtype=bool)
        if len(mask):
            np.logical_or.at(out, owner, mask)
        return out

    th = base.model_copy()
    if LeakType.VERBATIM in kinds:
        positive = lab == LeakType.VERBATIM.rank if typed else leak
        consider = positive | ~leak  # other leak types are neither right nor wrong here
        trials: list[tuple[float, float, float]] = []  # precision, recall, m
        for m in _MASS_GRID:
            trial = th.model_copy(update={"min_distinctive": m})
            pred = per_pair(np.array([verbatim_run(f, trial)[0] > 0 for f in flat], dtype=bool))
            p, r, _f1 = _pick(pred[consider], positive[consider], target_precision)
            trials.append((p, r, m))
        good = [t for t in trials if t[0] >= target_precision and t[1] > 0]
        if positive.any() and good:
            top = max(r for _, r, _ in good)
            th.min_distinctive = max(m for _, r, m in good if r >= top - _RECALL_SLACK)
        elif positive.any() and any(r > 0 for _, r, _ in trials):
            p_best, _, th.min_distinctive = max(t for t in trials if t[1] > 0)
            warnings.warn(
                f"precision {target_precision:.2f} is not reachable for verbatim on these "
                f"pairs; min_distinctive with the best precision ({p_best:.2f}) was chosen",
                RuntimeWarning,
                stacklevel=3,
            )
    m_min = th.min_distinctive
    verbatim = np.array([verbatim_run(f, th)[0] > 0 for f in flat], dtype=bool)
    grid_hi = np.round(np.arange(0.50, 1.0, 0.01), 2)
    grid_c = np.round(np.arange(0.0, 1.0, 0.05), 2)

    def search(
        rule: Any,
        positive: NDArray[np.bool_],
        consider: NDArray[np.bool_],
        a_grid: Any,
        b_grid: Any,
        fixed: NDArray[np.bool_],
    ) -> tuple[float, float] | None:
        positive = positive[consider]
        if not positive.any() or positive.all():
            return None
        ok: list[tuple[float, float, float, float]] = []  # recall, f1, a, b
        fallback: tuple[Any, ...] | None = None
        for a in a_grid:
            for b in b_grid:
                pred = per_pair(fixed | rule(a, b))[consider]
                p, r, f1 = _pick(pred, positive, target_precision)
                if p >= target_precision and r > 0:
                    ok.append((r, f1, float(a), float(b)))
                fkey = (p if r > 0 else -1.0, r, a, b)
                if fallback is None or fkey > fallback:
                    fallback = fkey
        if ok:
            # the strictest thresholds whose recall is within a point of the best: a looser
            # setting that gains nothing on these pairs would only add false alarms elsewhere
            top = max(r for r, _, _, _ in ok)
            close = [x for x in ok if x[0] >= top - _RECALL_SLACK]
            _r, _f, a_best, b_best = max(close, key=lambda x: (x[2] + x[3], x[1]))
            return a_best, b_best
        assert fallback is not None
        warnings.warn(
            f"precision {target_precision:.2f} is not reachable on these pairs; the thresholds "
            f"with the best precision ({fallback[0]:.2f}) were chosen",
            RuntimeWarning,
            stacklevel=3,
        )
        return float(fallback[2]), float(fallback[3])

    # Typed labels: each type is fitted on its own examples against the non-leaks (a pair
    # of another leak type caught by this rule is no false alarm).
    if LeakType.NEAR_VERBATIM in kinds:
        positive = lab == LeakType.NEAR_VERBATIM.rank if typed else leak
        words_ok = (wwords >= th.near_verbatim_min_words) & (wmass >= m_min)
        got = search(
            lambda a, b: words_ok & (char >= a) & (wcontent >= b),
            positive,
            positive | ~leak if typed else np.ones(n, dtype=bool),
            grid_hi,
            grid_c,
            verbatim,
        )
        if got is not None:
            th.near_verbatim_ratio, th.near_verbatim_content = got
    if LeakType.PARAPHRASE in kinds:
        nv = (
            (wwords >= th.near_verbatim_min_words)
            & (wmass >= m_min)
            & (char >= th.near_verbatim_ratio)
            & (wcontent >= th.near_verbatim_content)
        )
        mass_ok = (smass >= m_min) & (sfacts >= th.min_facts)
        positive = lab == LeakType.PARAPHRASE.rank if typed else leak
        got = search(
            lambda a, b: mass_ok & (sim >= a) & (content >= b),
            positive,
            positive | ~leak if typed else np.ones(n, dtype=bool),
            grid_hi,
            grid_c,
            verbatim | nv,
        )
        if got is not None:
            th.paraphrase_similarity, th.paraphrase_content = got
    return LeakageThresholds.model_validate(th.model_dump())


# --- files -------------------------------------------------------------------------------------


def _version() -> str:
    try:
        from aiposture import __version__

        return str(__version__)
    except ImportError:  # pragma: no cover
        return "unknown"


def _default_embedder(name: str, precision: str) -> Embedder:
    from aiposture.embeddings.embedder import get_embedder

    emb = get_embedder(None, precision=precision)
    if emb.name != name:
        raise IndexMismatchError(
            f"the index was built with embedding model {name!r}; the default model is "
            f"{emb.name!r}: pass embedder=Embedder(<folder of {name}>) to load it"
        )
    return emb


def _read_block(path: Path, rows: int, dim: int) -> NDArray[np.float32] | None:
    if not path.exists():
        return None
    try:
        arr = np.load(path, allow_pickle=False)
    except (OSError, ValueError):
        return None
    if arr.shape != (rows, dim) or arr.dtype != np.float32 or not np.isfinite(arr).all():
        return None
    return np.asarray(arr, dtype=np.float32)


def _write_block(path: Path, vectors: NDArray[np.float32]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        np.save(fh, vectors, allow_pickle=False)
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(path)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):  # not every platform can fsync a directory
        _fsync_file(path)


def _write_bytes(path: Path, data: bytes) -> None:
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux ``renameat2``); False where unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int
    res = fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    return bool(res == 0)


def _replace_dir(new: Path, target: Path) -> None:
    """Put the complete folder ``new`` in place of ``target`` (which may not exist)."""
    parent = target.parent
    if not target.exists():
        new.rename(target)
        _fsync_dir(parent)
        return
    if _exchange(new, target):
        _fsync_dir(parent)
        shutil.rmtree(new, ignore_errors=True)  # now holds the old index
        return
    backup = parent / f".{target.name}.old-{os.getpid()}-{time.time_ns()}"
    target.rename(backup)
    try:
        new.rename(target)
    except BaseException:
        backup.rename(target)
        raise
    _fsync_dir(parent)
    shutil.rmtree(backup, ignore_errors=True)


def _read_manifest(folder: Path) -> dict[str, Any]:
    path = folder / MANIFEST
    if not folder.is_dir():
        backups = (
            sorted(folder.parent.glob(f".{folder.name}.old-*")) if folder.parent.exists() else []
        )
        hint = f"; an interrupted save left the previous index at {backups[-1]}" if backups else ""
        raise IndexCorruptError(f"{folder}: no leakage index here (no such folder){hint}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise IndexCorruptError(
            f"{path}: missing; {folder} is not a complete leakage index"
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IndexCorruptError(f"{path}: unreadable or not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise IndexCorruptError(f"{path}: not a JSON object")
    return data


def _verify_file(folder: Path, name: str, meta: Any, verify: bool) -> None:
    path = folder / name
    if not isinstance(meta, dict) or "sha256" not in meta or "bytes" not in meta:
        raise IndexCorruptError(f"{folder / MANIFEST}: no checksum for {name}")
    if not path.is_file():
        raise IndexCorruptError(f"{path}: missing from the index")
    size = path.stat().st_size
    if size != int(meta["bytes"]):
        raise IndexCorruptError(
            f"{path}: {size} bytes where the manifest records {meta['bytes']} (truncated or "
            "altered)"
        )
    if verify and _sha256(path) != meta["sha256"]:
        raise IndexCorruptError(f"{path}: checksum mismatch (the file was altered or damaged)")
