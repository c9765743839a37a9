"""Speed and scale of the leakage index's search part, beside brute-force numpy.

Everything here runs on generated data, so that ``make bench`` finishes in minutes:

* vector search: clustered unit vectors of dimension 384 (64 topics, 4,096 clusters,
  noise so that a vector's cosine to its cluster centre is about 0.55), indexed with
  :class:`aiposture.embeddings.index.FaissIndex` at its defaults, added in batches of
  8,192 as a build would; queries are "leaked" (a stored vector perturbed to cosine
  0.90-0.97 with it), "paraphrased" (perturbed to cosine 0.75-0.85), "fresh" (new vectors
  from the same clusters: outputs on the same topics that leak nothing) and "uniform"
  (random directions). Recall@1 is measured against exact search (numpy), and the
  baseline is brute-force numpy cosine (``matrix @ query`` + ``argpartition``).
* lexical search: :class:`aiposture.embeddings.lexical.ShingleIndex` over generated chunk
  texts of 95 words (about 128 tokens) drawn from a 30,000-word generated vocabulary with
  Zipf-like frequencies; outputs of 150 words (about 200 tokens), half with a verbatim
  ten-word span of a stored chunk.

Embedding throughput (the real bottleneck) is measured elsewhere, on the model.

Run alone: ``.venv/bin/python -m benchmarks.leakage_scale [--sizes 10000,100000]``.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

DIMENSION = 384
TOPICS = 64
CLUSTERS = 4096
POINT_NOISE = 1.5  # noise norm relative to the (unit) cluster centre
CENTRE_NOISE = 1.0
ADD_BATCH = 8192
K = 10
WINDOWS_PER_OUTPUT = 2  # a 200-token output is two 128-token windows with 32 overlap
VOCABULARY = 30_000
CHUNK_WORDS = 95
OUTPUT_WORDS = 150
LEAKED_SPAN = 10
NPROBE_SWEEP = (4, 8, 16, 32, 64, 128)

Floats = NDArray[np.float32]
Ints = NDArray[np.int64]


def _log(message: str) -> None:
    print(f"[leakage_scale {time.strftime('%H:%M:%S')}] {message}", flush=True)


def _rss() -> int:
    """Resident memory of this process, in bytes, after returning freed memory to the OS."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _peak_rss() -> int:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


@contextlib.contextmanager
def _single_thread() -> Iterator[None]:
    """One thread for FAISS and for numpy's BLAS, as one check of one output would run."""
    import faiss

    previous = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with sentence-transformers
        limit: contextlib.AbstractContextManager[Any] = contextlib.nullcontext()
    else:
        limit = threadpool_limits(1)
    try:
        with limit:
            yield
    finally:
        faiss.omp_set_num_threads(previous)


def _normalise(x: Floats) -> Floats:
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


class _Clusters:
    """The generator of clustered unit vectors."""

    def __init__(self, rng: np.random.Generator, d: int = DIMENSION) -> None:
        self.rng = rng
        self.d = d
        topics = _normalise(rng.standard_normal((TOPICS, d), dtype=np.float32))
        centres = topics[rng.integers(0, TOPICS, CLUSTERS)]
        centres += rng.standard_normal((CLUSTERS, d), dtype=np.float32) * (
            CENTRE_NOISE / np.sqrt(d)
        )
        self.centres = _normalise(centres)

    def sample(self, n: int, block: int = 65_536) -> Floats:
        out = np.empty((n, self.d), np.float32)
        for start in range(0, n, block):
            stop = min(n, start + block)
            part = self.centres[self.rng.integers(0, CLUSTERS, stop - start)]
            part += self.rng.standard_normal((stop - start, self.d), dtype=np.float32) * (
                POINT_NOISE / np.sqrt(self.d)
            )
            out[start:stop] = _normalise(part)
        return out

    def perturb(self, rows: Floats, low: float, high: float) -> Floats:
        """Rows moved by a random direction of norm in [low, high], renormalised."""
        noise = _normalise(self.rng.standard_normal(rows.shape, dtype=np.float32))
        noise *= self.rng.uniform(low, high, (len(rows), 1)).astype(np.float32)
        return _normalise(rows + noise)


def _exact_top1(matrix: Floats, queries: Floats, block: int = 65_536) -> tuple[Floats, Ints]:
    """Exact best score and row of each query (batched numpy)."""
    best = np.full(len(queries), -np.inf, np.float32)
    rows = np.zeros(len(queries), np.int64)
    for start in range(0, len(matrix), block):
        scores = queries @ matrix[start : start + block].T
        arg = scores.argmax(axis=1)
        value = scores[np.arange(len(queries)), arg]
        better = value > best
        best[better] = value[better]
        rows[better] = arg[better] + start
    return best, rows


def _brute_force(matrix: Floats, queries: Floats, k: int) -> Ints:
    """The baseline: ``queries @ matrix.T`` and ``argpartition``, top ``k`` sorted."""
    scores = queries @ matrix.T
    top = np.argpartition(-scores, k, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1)
    return np.take_along_axis(top, order, axis=1)


def _latencies(fn: Callable[[int], object], count: int) -> dict[str, float]:
    times = np.empty(count)
    for i in range(count):
        t0 = time.perf_counter()
        fn(i)
        times[i] = time.perf_counter() - t0
    return {
        "p50_ms": round(float(np.percentile(times, 50)) * 1e3, 3),
        "p99_ms": round(float(np.percentile(times, 99)) * 1e3, 3),
        "mean_ms": round(float(times.mean()) * 1e3, 3),
        "n": count,
    }


def _recall(
    scores: Floats, ids: Ints, exact: tuple[Floats, Ints], id_of_row: Callable[[Ints], Ints]
) -> float:
    """Share of queries whose top hit is the exact top hit (or ties with its score)."""
    best, rows = exact
    same = ids[:, 0] == id_of_row(rows)
    tie = scores[:, 0] >= best - 1e-5
    return round(float(np.mean(same | tie)), 4)


class _OutputEmbedder:
    """Chunks and embeds a real 200-token output with the real model, as a check does."""

    def __init__(self) -> None:
        from aiposture.embeddings.chunking import ChunkParams, chunk_text
        from aiposture.embeddings.embedder import get_embedder

        self._chunk_text = chunk_text
        self._params = ChunkParams()
        self.embedder = get_embedder()
        words = [
            "the",
            "patient",
            "was",
            "seen",
            "on",
            "monday",
            "and",
            "reported",
            "pain",
            "in",
            "the",
            "lower",
            "back",
            "after",
            "a",
            "fall",
            "at",
            "work",
            "the",
            "clinician",
            "ordered",
            "an",
            "x",
            "ray",
            "and",
            "prescribed",
            "rest",
            "with",
            "follow",
            "up",
            "in",
            "two",
            "weeks",
            "account",
            "4417",
            "was",
            "billed",
            "for",
            "the",
            "visit",
            "and",
            "the",
            "claim",
            "was",
            "filed",
            "with",
            "the",
            "insurer",
        ]
        count = OUTPUT_WORDS
        while True:  # about 200 tokens, as the outputs
            self.text = " ".join(words[i % len(words)] for i in range(count))
            self.tokens = len(self.embedder.token_offsets(self.text))
            if self.tokens >= 200:
                break
            count += 5

    def __call__(self) -> Floats:
        offsets = self.embedder.token_offsets(self.text)
        chunks = self._chunk_text("output", self.text, offsets, self._params)
        vectors = self.embedder.encode([c.text for c in chunks], progress=False)
        return np.asarray(vectors, dtype=np.float32)


def bench_vectors(
    n: int,
    rng: np.random.Generator,
    work: Path,
    queries: int,
    embed_output: _OutputEmbedder | None = None,
) -> dict[str, Any]:
    """Build, size, search and recall of the FAISS index at ``n`` vectors, with the baseline."""
    from aiposture.embeddings.index import FaissIndex

    gen = _Clusters(rng)
    t0 = time.perf_counter()
    matrix = gen.sample(n)
    gen_s = time.perf_counter() - t0

    def id_of_row(rows: Ints) -> Ints:
        return rows * 3 + 1  # ids are not row numbers

    ids = id_of_row(np.arange(n, dtype=np.int64))
    gc.collect()
    rss0 = _rss()
    index = FaissIndex(DIMENSION)
    t0 = time.perf_counter()
    for start in range(0, n, ADD_BATCH):
        index.add(ids[start : start + ADD_BATCH], matrix[start : start + ADD_BATCH])
    build_s = time.perf_counter() - t0
    gc.collect()
    rss_bytes = _rss() - rss0
    _log(f"n={n}: built {index!r} in {build_s:.1f} s")

    path = work / f"vectors-{n}.idx"
    t0 = time.perf_counter()
    index.save(path)
    save_s = time.perf_counter() - t0
    file_bytes = path.stat().st_size
    built = (index.kind, len(index), index.nlist, index.nprobe)
    del index  # search the loaded copy: it proves the round trip, and its lists are compact
    gc.collect()
    rss0 = _rss()
    t0 = time.perf_counter()
    index = FaissIndex.load(path)
    load_s = time.perf_counter() - t0
    loaded_rss_bytes = _rss() - rss0
    path.unlink()
    assert (index.kind, len(index), index.nlist, index.nprobe) == built

    src = rng.integers(0, n, queries)
    sets = {
        "leaked": gen.perturb(matrix[src], 0.25, 0.48),
        "paraphrased": gen.perturb(matrix[src[: queries // 2]], 0.6, 0.9),
        "fresh": gen.sample(queries // 2),
        "uniform": _normalise(rng.standard_normal((queries // 2, DIMENSION), dtype=np.float32)),
    }
    leaked_cos = np.einsum("ij,ij->i", sets["leaked"], matrix[src])
    t0 = time.perf_counter()
    exact = {name: _exact_top1(matrix, q) for name, q in sets.items()}
    exact_s = time.perf_counter() - t0

    recall: dict[str, float] = {}
    for name, q in sets.items():
        scores, found = index.search(q, K)
        recall[name] = _recall(scores, found, exact[name], id_of_row)
    _, leaked_found = index.search(sets["leaked"], 1)
    source_at_1 = round(float(np.mean(leaked_found[:, 0] == id_of_row(src))), 4)

    leaked = sets["leaked"]
    timed = len(leaked) if index.kind == "ivf" else int(min(len(leaked), max(200, 30_000_000 // n)))
    with _single_thread():
        one = _latencies(lambda i: index.search(leaked[i : i + 1], K), timed)
        output = _latencies(
            lambda i: index.search(leaked[2 * i : 2 * i + WINDOWS_PER_OUTPUT], K),
            timed // WINDOWS_PER_OUTPUT,
        )
        bf_count = int(min(200, max(20, 30_000_000 // n)))
        bf_one = _latencies(lambda i: _brute_force(matrix, leaked[i : i + 1], K), bf_count)
        bf_output = _latencies(
            lambda i: _brute_force(matrix, leaked[2 * i : 2 * i + WINDOWS_PER_OUTPUT], K),
            max(10, bf_count // 2),
        )
    t0 = time.perf_counter()
    index.search(leaked, K)
    batched_qps = len(leaked) / (time.perf_counter() - t0)
    bf_batch = leaked[:128]
    t0 = time.perf_counter()
    for start in range(0, len(bf_batch), 32):
        _brute_force(matrix, bf_batch[start : start + 32], K)
    bf_qps = len(bf_batch) / (time.perf_counter() - t0)

    end_to_end: dict[str, Any] | None = None
    if embed_output is not None:
        embed_output()  # warm up
        end_to_end = {
            **_latencies(lambda _i: index.search(embed_output(), K), 40),
            "output_tokens": embed_output.tokens,
            "embed_only": _latencies(lambda _i: embed_output(), 40),
            "note": "a real ~200-token output chunked and embedded with the real model, "
            "then its windows searched in this index (default threads)",
        }

    sweep: list[dict[str, Any]] = []
    if index.kind == "ivf":
        default_nprobe = index.nprobe
        for nprobe in NPROBE_SWEEP:
            index.nprobe = nprobe
            row: dict[str, Any] = {"nprobe": nprobe}
            for name, q in sets.items():
                scores, found = index.search(q, K)
                row[f"recall@1_{name}"] = _recall(scores, found, exact[name], id_of_row)
            with _single_thread():
                row["query_p50_ms"] = _latencies(
                    lambda i: index.search(leaked[i : i + 1], K), min(300, len(leaked))
                )["p50_ms"]
            sweep.append(row)
        index.nprobe = default_nprobe

    result: dict[str, Any] = {
        "chunks": n,
        "index": {
            "kind": index.kind,
            "nlist": index.nlist,
            "nprobe": index.nprobe,
            "trained_size": index.trained_size,
            "flat_limit": index.flat_limit,
        },
        "generate_s": round(gen_s, 2),
        "build": {
            "seconds": round(build_s, 2),
            "vectors_per_s": round(n / build_s),
            "batch": ADD_BATCH,
        },
        "memory": {
            "rss_bytes_per_chunk_after_build": round(rss_bytes / n, 1),
            "rss_bytes_per_chunk_after_load": round(loaded_rss_bytes / n, 1),
            "file_bytes_per_chunk": round(file_bytes / n, 1),
            "raw_vector_bytes": 4 * DIMENSION,
            "note": "RSS growth while building / loading (FAISS index + 8-byte id set; no "
            "other copy of the vectors is kept); a built IVF index carries the spare "
            "capacity of its growing lists, a loaded one does not",
        },
        "save_s": round(save_s, 2),
        "load_verify_s": round(load_s, 2),
        "leaked_query_cosine_to_source": {
            "p5": round(float(np.percentile(leaked_cos, 5)), 3),
            "p95": round(float(np.percentile(leaked_cos, 95)), 3),
        },
        "recall@1_vs_exact": recall,
        "leaked_source_at_rank1": source_at_1,
        "queries": {name: len(q) for name, q in sets.items()},
        "search_one_query_1_thread": one,
        "search_one_output_1_thread": {**output, "windows": WINDOWS_PER_OUTPUT},
        "search_batched_qps": round(batched_qps),
        "baseline_bruteforce_numpy": {
            "one_query_1_thread": bf_one,
            "one_output_1_thread": bf_output,
            "batched_qps": round(bf_qps),
            "exact_top1_all_query_sets_s": round(exact_s, 2),
        },
        "ratios": {
            "one_query_p50_speedup": round(bf_one["p50_ms"] / max(one["p50_ms"], 1e-6), 1),
            "one_output_p50_speedup": round(bf_output["p50_ms"] / max(output["p50_ms"], 1e-6), 1),
            "batched_speedup": round(batched_qps / bf_qps, 1),
        },
    }
    if end_to_end is not None:
        result["one_output_embed_and_search"] = end_to_end
    if sweep:
        result["nprobe_sweep"] = sweep
    return result


def _vocabulary(rng: np.random.Generator) -> tuple[list[str], NDArray[np.float64]]:
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    words: set[str] = set()
    while len(words) < VOCABULARY:
        length = int(rng.integers(2, 11))
        words.add("".join(rng.choice(letters, length)))
    vocab = sorted(words)
    rng.shuffle(vocab)
    weights = 1.0 / (np.arange(VOCABULARY) + 2.7)
    return vocab, weights / weights.sum()


def bench_lexical(
    n: int, rng: np.random.Generator, work: Path, outputs: int = 200
) -> dict[str, Any]:
    """Build rate, size and query latency of the shingle index over ``n`` chunk texts."""
    from aiposture.embeddings.lexical import ShingleIndex, matching_spans, word_spans

    vocab, weights = _vocabulary(rng)
    words = np.array(vocab, dtype=object)
    index = ShingleIndex()
    keep_every = max(1, n // 5000)  # remember some chunk texts to leak from
    kept: dict[int, str] = {}
    gen_s = 0.0
    build_s = 0.0
    block = 10_000
    for start in range(0, n, block):
        count = min(block, n - start)
        t0 = time.perf_counter()
        drawn = words[rng.choice(VOCABULARY, size=(count, CHUNK_WORDS), p=weights)]
        texts = [" ".join(row) for row in drawn]
        gen_s += time.perf_counter() - t0
        for i in range(0, count, keep_every):
            kept[start + i] = texts[i]
        t0 = time.perf_counter()
        index.add_many(zip(range(start, start + count), texts, strict=True))
        build_s += time.perf_counter() - t0
    t0 = time.perf_counter()
    index.query("warm up the sorted arrays " * 4)
    build_s += time.perf_counter() - t0
    _log(f"n={n}: {index!r} built in {build_s:.1f} s")

    keys = list(kept)
    leaked_outputs: list[tuple[str, int]] = []
    clean_outputs: list[str] = []
    for i in range(outputs):
        filler = words[rng.choice(VOCABULARY, size=OUTPUT_WORDS, p=weights)].tolist()
        if i % 2:
            clean_outputs.append(" ".join(filler))
            continue
        key = keys[int(rng.integers(0, len(keys)))]
        chunk_words = kept[key].split()
        at = int(rng.integers(0, CHUNK_WORDS - LEAKED_SPAN))
        span = chunk_words[at : at + LEAKED_SPAN]
        span[0] = span[0].capitalize()  # case and punctuation must not matter
        cut = int(rng.integers(0, OUTPUT_WORDS - LEAKED_SPAN))
        text = " ".join(filler[:cut]) + ", " + " ".join(span) + ". " + " ".join(filler[cut:])
        leaked_outputs.append((text, key))

    all_outputs = [t for t, _ in leaked_outputs] + clean_outputs
    with _single_thread():
        latency = _latencies(lambda i: index.query(all_outputs[i]), len(all_outputs))
        spans = _latencies(
            lambda i: matching_spans(leaked_outputs[i][0], kept[leaked_outputs[i][1]]),
            len(leaked_outputs),
        )
    found = sum(1 for text, key in leaked_outputs if index.query(text, min_shared=3).get(key))
    false_hits = sum(1 for text in clean_outputs if index.query(text, min_shared=2))
    span_found = sum(
        1
        for text, key in leaked_outputs
        if (m := matching_spans(text, kept[key]))
        and len(word_spans(text[m[0][0][0] : m[0][0][1]])) >= LEAKED_SPAN
    )

    path = work / f"shingles-{n}.npz"
    t0 = time.perf_counter()
    index.save(path)
    save_s = time.perf_counter() - t0
    file_bytes = path.stat().st_size
    t0 = time.perf_counter()
    loaded = ShingleIndex.load(path)
    load_s = time.perf_counter() - t0
    path.unlink()
    assert len(loaded) == n
    postings = index.postings
    nbytes = index.nbytes
    return {
        "chunks": n,
        "shingle_words": 8,
        "postings": postings,
        "generate_texts_s": round(gen_s, 2),
        "build": {"seconds": round(build_s, 2), "chunks_per_s": round(n / build_s)},
        "memory": {
            "array_bytes_per_chunk": round(nbytes / n, 1),
            "file_bytes_per_chunk": round(file_bytes / n, 1),
        },
        "save_s": round(save_s, 2),
        "load_verify_s": round(load_s, 2),
        "query_one_output_1_thread": {**latency, "output_words": OUTPUT_WORDS},
        "matching_spans_one_output_vs_chunk": spans,
        "leaked_10_word_span_found": f"{found}/{len(leaked_outputs)}",
        "leaked_span_located_by_matching_spans": f"{span_found}/{len(leaked_outputs)}",
        "unrelated_outputs_with_a_hit": f"{false_hits}/{len(clean_outputs)}",
    }


def run(
    sizes: tuple[int, ...] = (10_000, 100_000, 1_000_000),
    *,
    queries: int = 1000,
    lexical_sizes: tuple[int, ...] | None = None,
    seed: int = 0,
    embed: bool = True,
) -> dict[str, Any]:
    """Measure the vector and lexical indexes at each size; return the figures.

    Args:
        sizes: Numbers of chunks for the vector benchmark.
        queries: Leaked queries per size (half as many of each other kind).
        lexical_sizes: Numbers of chunk texts for the lexical benchmark (default: the
            sizes from 100,000 up, or the largest size if all are smaller).
        seed: Seed of every generator.
        embed: Also time one real output embedded with the model and searched.

    Returns:
        A JSON-ready dict of figures.
    """
    from aiposture.embeddings.index import (
        DEFAULT_FLAT_LIMIT,
        DEFAULT_MIN_NPROBE,
        DEFAULT_NPROBE_FRACTION,
        RETRAIN_FACTOR,
        TRAIN_ITERATIONS,
        TRAIN_POINTS_PER_LIST,
    )

    if lexical_sizes is None:
        lexical_sizes = tuple(s for s in sizes if s >= 100_000) or (max(sizes),)
    started = time.perf_counter()
    load_before = os.getloadavg()
    rng = np.random.default_rng(seed)
    result: dict[str, Any] = {
        "name": "leakage_scale",
        "data": "generated: clustered unit vectors (dimension 384) and generated chunk texts; "
        "embedding throughput is measured separately on the model",
        "parameters": {
            "flat_limit": DEFAULT_FLAT_LIMIT,
            "nlist": "round(4*sqrt(N)), at most N/39, fixed when trained",
            "nprobe": f"max({DEFAULT_MIN_NPROBE}, ceil(nlist*{DEFAULT_NPROBE_FRACTION:.4f}))",
            "train_sample_per_list": TRAIN_POINTS_PER_LIST,
            "train_iterations": TRAIN_ITERATIONS,
            "retrain_factor": RETRAIN_FACTOR,
            "k": K,
        },
        "vectors": [],
        "lexical": [],
    }
    embed_output = _OutputEmbedder() if embed else None
    with tempfile.TemporaryDirectory(prefix="aiposture-leakage-scale-") as tmp:
        work = Path(tmp)
        for n in sizes:
            _log(f"vector index at {n:,} chunks")
            result["vectors"].append(bench_vectors(n, rng, work, queries, embed_output))
        for n in lexical_sizes:
            _log(f"shingle index at {n:,} chunk texts")
            result["lexical"].append(bench_lexical(n, rng, work))
    result["peak_rss_bytes"] = _peak_rss()
    result["machine"] = {
        "cpus": os.cpu_count(),
        "load_average_1min_before_and_after": [
            round(load_before[0], 2),
            round(os.getloadavg()[0], 2),
        ],
        "note": "a load above the number of cores means other work shared the CPU",
    }
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result


def main() -> None:
    """Run the benchmark alone and print (and optionally write) its figures."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.leakage_scale")
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--lexical-sizes", default=None)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    args = parser.parse_args()
    sizes = tuple(int(s) for s in args.sizes.split(","))
    lexical = tuple(int(s) for s in args.lexical_sizes.split(",")) if args.lexical_sizes else None
    result = run(sizes, queries=args.queries, lexical_sizes=lexical)
    text = json.dumps(result, indent=2)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
