"""Monitoring speed: events per second through the detectors, beside their baselines.

Run alone with ``.venv/bin/python -m benchmarks.monitor_speed`` (writes
``benchmarks/results/monitor_speed.json``; ``--out DIR`` writes there instead, ``--help``
for the sizes), or call :func:`run` with a scratch folder (``make bench --only monitor``).

Events come from :func:`aiposture.monitor.traffic.generate_traffic` (one day, seed 7,
every incident kind). Its prompts and responses are short (about 25 and 80 tokens), so
each non-empty prompt and response is extended to about 200 tokens (a target drawn
between 180 and 220 per text, counted with the model's tokenizer) by appending benign
filler sentences built from a fixed word list, chosen with a ``random.Random`` seeded by
the event id and the field: the same events every run, every text distinct. Texts
already that long are left as they are; retrieved documents and tool results are left as
generated. All sections measure, in one run, on the same machine:

1. **No detectors** (the loop's floor): ``DetectorRun([])`` over the events, read from a
   JSONL log with :func:`~aiposture.monitor.ingest.read_jsonl` and from memory.
2. **Embedding alone** (what this machine allows): each event's ``texts()`` embedded
   with ``get_embedder().encode`` in batches of 64 events, as the engine groups them.
3. **All registered detectors** (``DetectorRun()``, batches of 64 events): events/s and
   the ratio to (2). Each batch is timed for (2) and (3) back to back, in alternating
   order, so a load change on the shared machine hits both. Per-detector seconds come
   from a timer around each detector's ``detect``. Per-event latency is measured on
   further events with ``DetectorRun.detect`` one event at a time (a batch's time divided
   by its size is not a latency).
4. **Detectors that need no embeddings** only: events/s and the ratio to (1).
5. **The full pipeline**: ``Monitor.run`` (detect, store redacted, alert) into a SQLite
   file opened with ``Posture.open``, with all detectors (128 events by default; its own
   batch size, ``[monitor] batch_size``, 256 events per detector and storage batch; the
   same texts embedded alone right after for the ratio) and with the non-embedding
   detectors only. The monitor's ``detect_batch`` is timed inside the run, so linking,
   redaction, storage and alerting are measured, not inferred.
6. **Memory**: RSS after 10,000 and 100,000 events through every detector, and through
   ``Monitor.run`` with the non-embedding detectors into SQLite. Embedding 100,000
   events with the real model would take hours here, so this section embeds a pool of
   events once with the real model and feeds each detector the pool's vectors by
   cycling it (copies get new ids and a time shifted by one day per cycle), calling each
   detector's ``detect`` in order as the engine does. By default the pool's texts are
   the generator's own (not extended): the injection heuristics cost a few milliseconds
   per 200-token text, which would take 100,000 events far past the time box; the
   state detectors keep does not depend on text length. RSS is read after
   ``gc.collect()`` and glibc's ``malloc_trim(0)``, so memory freed by earlier sections
   (which new allocations would otherwise reuse unseen) does not hide growth; the
   stateful detectors' key and vector counts are reported beside it.
7. **Diagnostics**: the injection detector per event with FAISS's default OpenMP
   threads and with one thread, and its heuristics alone per text.

``OMP_WAIT_POLICY=PASSIVE`` is set when this module is imported (unless already set), as
the embedder does before it loads torch; the JSON records the value in effect and whether
torch or FAISS were loaded before (then it could not apply to them).

The machine is shared with other work: the load average is recorded at the start and
end of each section and should be read beside every figure.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import math
import os
import platform
import random
import resource
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence, Sized
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
#: Whether torch or FAISS (each with its own OpenMP runtime) were loaded before this module:
#: then the wait policy below cannot apply to them any more.
_OPENMP_LOADED_BEFORE = sorted({"torch", "faiss"} & set(sys.modules))
# As the embedder sets it before torch loads (``_quiet_openmp``): idle OpenMP threads sleep
# instead of spinning. Set here, before anything loads torch or FAISS, so that both
# libraries' OpenMP runtimes (they ship separate copies) read it, as in a process where
# the embedder loads first. Without it FAISS's one-query searches took 1.6-24 ms instead
# of 0.1 ms on the busy 2-core machine.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

if TYPE_CHECKING:
    from aiposture.embeddings.embedder import Embedder
    from aiposture.monitor.base import Detector
    from aiposture.monitor.models import Event

RESULTS = Path(__file__).parent / "results"
#: Events per ``DetectorRun`` batch (``DetectorRun.run``'s default).
BATCH = 64
#: Token count prompts and responses are extended to (each text draws a target within
#: ±10% of it).
TOKENS = 200
#: Issue 7's targets.
TARGET_RATIO = 0.80
TARGET_FAST = 2000.0

# Filler for extending texts: ordinary office prose, no digits (phone numbers), no
# names, hosts or trigger words, so it adds work for the detectors but no detections.
_SUBJECTS = (
    "the team", "our customer", "the new supplier", "the finance group", "the courier",
    "the warehouse", "the project lead", "the support desk", "the design group",
    "the marketing team", "the facilities office", "the training group", "our partner",
    "the review board", "the night shift", "the sales office",
)  # fmt: skip
_VERBS = (
    "checked", "updated", "shared", "reviewed", "moved", "planned", "confirmed",
    "described", "compared", "prepared", "approved", "scheduled", "collected", "tested",
    "summarised", "delivered", "postponed", "organised", "measured", "repaired",
)  # fmt: skip
_OBJECTS = (
    "the delivery schedule", "the quarterly budget", "the warranty terms",
    "the packaging samples", "the meeting notes", "the travel plans", "the office layout",
    "the product catalogue", "the shipping labels", "the training material",
    "the customer survey", "the spare parts list", "the holiday calendar",
    "the cleaning rota", "the price list", "the safety checklist", "the invoice template",
    "the onboarding guide", "the kitchen order", "the parking rules",
)  # fmt: skip
_TAILS = (
    "before the end of the week", "after the morning stand-up", "with the regional office",
    "for the spring launch", "as agreed last month", "without any delay",
    "in the shared folder", "during the afternoon", "for the next review",
    "so that everyone can plan ahead", "while the printer was being fixed",
    "because the old version was unclear", "and sent a short summary",
    "and asked for a second opinion", "once the boxes arrived", "ahead of the audit",
)  # fmt: skip


def _filler_sentence(rng: random.Random) -> str:
    words = [rng.choice(_SUBJECTS), rng.choice(_VERBS), rng.choice(_OBJECTS)]
    if rng.random() < 0.8:
        words.append(rng.choice(_TAILS))
    if rng.random() < 0.35:
        words += ["and", rng.choice(_VERBS), rng.choice(_OBJECTS)]
    sentence = " ".join(words)
    return sentence[0].upper() + sentence[1:] + "."


class _Padder:
    """Extends texts to about :data:`TOKENS` tokens with filler (deterministic)."""

    def __init__(self, embedder: Embedder, tokens: int, seed: int) -> None:
        self.embedder = embedder
        self.tokens = tokens
        self.seed = seed
        bank_rng = random.Random(f"filler:{seed}")
        self.bank = [_filler_sentence(bank_rng) for _ in range(400)]
        self.bank_tokens = [embedder.count_tokens(s) for s in self.bank]

    def extend(self, text: str, key: str) -> str:
        if not text.strip():
            return text
        rng = random.Random(f"{self.seed}:{key}")
        target = rng.randint(int(self.tokens * 0.9), int(self.tokens * 1.1))
        have = self.embedder.count_tokens(text)
        if have >= target:
            return text
        parts = [text.rstrip(), "\n\n"]
        first = True
        while have < target:
            i = rng.randrange(len(self.bank))
            parts.append(("" if first else " ") + self.bank[i])
            have += self.bank_tokens[i]
            first = False
        return "".join(parts)

    def event(self, event: Event) -> Event:
        return event.model_copy(
            update={
                "prompt": self.extend(event.prompt, f"{event.id}:prompt"),
                "response": self.extend(event.response, f"{event.id}:response"),
            }
        )


# --- small helpers --------------------------------------------------------------------


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _malloc_trim() -> bool:
    """Give freed heap memory back to the OS (glibc), so RSS shows what is live.

    Without it, memory freed by earlier sections (embedding buffers, parsed events) stays
    in the process and new allocations reuse it: RSS would hide growth.
    """
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    libc.malloc_trim(0)
    return True


def _rss_mb() -> float:
    """Resident set size of this process now, in MB (after a full collection and a
    ``malloc_trim``)."""
    gc.collect()
    _malloc_trim()
    try:
        psutil = importlib.import_module("psutil")
        rss = float(psutil.Process().memory_info().rss)
        return round(rss / 1e6, 1)
    except ImportError:
        with open("/proc/self/statm") as fh:
            pages = int(fh.read().split()[1])
        return round(pages * os.sysconf("SC_PAGE_SIZE") / 1e6, 1)


def _peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3, 1)


def _pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return math.nan
    pos = min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))
    return ordered[pos]


def _stats(values: Sequence[float]) -> dict[str, float]:
    return {
        "mean": round(statistics.fmean(values), 1),
        "p10": round(_pct(values, 10), 1),
        "p50": round(_pct(values, 50), 1),
        "p90": round(_pct(values, 90), 1),
        "max": round(max(values), 1),
    }


def _rate(events: int, seconds: float) -> float:
    return round(events / seconds, 1) if seconds > 0 else 0.0


def _say(message: str) -> None:
    print(f"[monitor_speed] {message}", file=sys.stderr, flush=True)


def _batches(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for first in range(0, len(items), size):
        yield items[first : first + size]


def _timed_detectors(
    detectors: Iterable[Detector], seconds: dict[str, float], calls: dict[str, int]
) -> None:
    """Wrap each detector's ``detect`` (on the instance) with a timer."""
    for det in detectors:
        inner = det.detect
        did = det.id

        def timed(
            event: Event,
            *,
            embeddings: Sequence[Sequence[float]] | None = None,
            _inner: Callable[..., Any] = inner,
            _id: str = did,
        ) -> Any:
            start = time.perf_counter()
            try:
                return _inner(event, embeddings=embeddings)
            finally:
                seconds[_id] += time.perf_counter() - start
                calls[_id] += 1

        setattr(det, "detect", timed)  # noqa: B010 (an instance attribute on purpose)


def _shares(seconds: dict[str, float], events: int, total: float) -> dict[str, dict[str, float]]:
    return {
        did: {
            "seconds": round(s, 3),
            "ms_per_event": round(1000 * s / events, 3) if events else 0.0,
            "share_of_total": round(s / total, 4) if total > 0 else 0.0,
        }
        for did, s in sorted(seconds.items(), key=lambda kv: -kv[1])
    }


def _cycled(
    pool: Sequence[Event], start: int, count: int, prefix: str, shift: timedelta
) -> Iterator[Event]:
    """Copies of the pool's events with new ids, cycle ``k`` shifted by ``k * shift``."""
    n = len(pool)
    for i in range(start, start + count):
        base = pool[i % n]
        yield base.model_copy(update={"id": f"{prefix}-{i:07d}", "at": base.at + (i // n) * shift})


def _state_sizes(detectors: Sequence[Detector], dim: int = 384) -> dict[str, dict[str, float]]:
    """What stateful detectors hold (keys, stored vectors and their float32 megabytes)."""
    out: dict[str, dict[str, float]] = {}
    for det in detectors:
        entry: dict[str, float] = {}
        if isinstance(det, Sized):
            entry["keys"] = len(det)
        keys = getattr(det, "keys", None)
        if isinstance(keys, list):
            entry["keys"] = len(keys)
        vectors = getattr(det, "stored_vectors", None)
        if isinstance(vectors, int):
            entry["vectors"] = vectors
            entry["vectors_mb"] = round(vectors * dim * 4 / 1e6, 1)
        if entry:
            out[det.id] = entry
    return out


# --- the sections -----------------------------------------------------------------------


def _embed_events(embedder: Embedder, events: Sequence[Event]) -> list[list[list[float]]]:
    """Each event's text embeddings (one ``encode`` call), as the engine hands them out."""
    texts = [e.texts() for e in events]
    flat = [t for ts in texts for t in ts]
    vectors = embedder.encode(flat).tolist() if flat else []
    out: list[list[list[float]]] = []
    pos = 0
    for ts in texts:
        out.append(vectors[pos : pos + len(ts)])
        pos += len(ts)
    return out


def _time_embed(embedder: Embedder, texts: list[str]) -> tuple[float, list[list[float]]]:
    start = time.perf_counter()
    array = embedder.encode(texts)
    seconds = time.perf_counter() - start
    return seconds, array.tolist()


def _time_detect(run: Any, batch: Sequence[Event]) -> tuple[float, int]:
    start = time.perf_counter()
    found = run.detect_batch(batch)
    return time.perf_counter() - start, sum(len(f) for f in found)


def bench_paired(embedder: Embedder, events: Sequence[Event]) -> dict[str, Any]:
    """Embedding alone vs all detectors, batch by batch in alternating order."""
    from aiposture.monitor.engine import DetectorRun

    run_all = DetectorRun()
    seconds: dict[str, float] = defaultdict(float)
    calls: dict[str, int] = defaultdict(int)
    _timed_detectors(run_all.detectors, seconds, calls)
    rows: list[dict[str, float]] = []
    vectors: list[list[list[float]]] = []
    detections = 0
    load_start = _load()
    for number, batch in enumerate(_batches(events, BATCH)):
        texts = [t for e in batch for t in e.texts()]
        before = sum(seconds.values())
        if number % 2 == 0:
            embed_s, flat = _time_embed(embedder, texts)
            detect_s, found = _time_detect(run_all, batch)
        else:
            detect_s, found = _time_detect(run_all, batch)
            embed_s, flat = _time_embed(embedder, texts)
        detections += found
        pos = 0
        for e in batch:
            n = len(e.texts())
            vectors.append(flat[pos : pos + n])
            pos += n
        rows.append(
            {
                "events": len(batch),
                "texts": len(texts),
                "embed_s": embed_s,
                "detect_s": detect_s,
                "detectors_s": sum(seconds.values()) - before,
                "ratio": embed_s / detect_s,
            }
        )
    n = len(events)
    n_texts = sum(int(r["texts"]) for r in rows)
    embed_s = sum(r["embed_s"] for r in rows)
    detect_s = sum(r["detect_s"] for r in rows)
    det_s = sum(seconds.values())
    ratio = embed_s / detect_s
    return {
        "run": run_all,
        "seconds": seconds,
        "calls": calls,
        "vectors": vectors,
        "embedding_alone": {
            "what": "get_embedder().encode(all texts of a batch of 64 events), one call",
            "events": n,
            "texts": n_texts,
            "seconds": round(embed_s, 2),
            "events_per_s": _rate(n, embed_s),
            "texts_per_s": _rate(n_texts, embed_s),
        },
        "all_detectors": {
            "what": "DetectorRun().detect_batch(batch of 64 events): texts embedded once "
            "per batch, then every detector on every event in order",
            "detectors": [d.id for d in run_all.detectors],
            "events": n,
            "seconds": round(detect_s, 2),
            "events_per_s": _rate(n, detect_s),
            "ratio_to_embedding_alone": round(ratio, 3),
            "target_ratio": TARGET_RATIO,
            "target_met": ratio >= TARGET_RATIO,
            "per_batch_ratio": [round(r["ratio"], 3) for r in rows],
            "median_batch_ratio": round(statistics.median(r["ratio"] for r in rows), 3),
            "detections": detections,
            "detector_errors": run_all.error_count,
            "time_split": {
                "detectors_s": round(det_s, 2),
                "embedding_and_plumbing_s": round(detect_s - det_s, 2),
                "detectors_share": round(det_s / detect_s, 4),
            },
            "per_detector": _shares(seconds, n, detect_s),
            "load_average": {"start": load_start, "end": _load()},
        },
    }


def bench_latency(
    run_all: Any, seconds: dict[str, float], events: Sequence[Event]
) -> dict[str, Any]:
    """``DetectorRun.detect`` on single events: p50/p99 in total and for detectors alone."""
    load_start = _load()
    total: list[float] = []
    detectors: list[float] = []
    for event in events:
        before = sum(seconds.values())
        start = time.perf_counter()
        run_all.detect(event)
        total.append(1000 * (time.perf_counter() - start))
        detectors.append(1000 * (sum(seconds.values()) - before))
    return {
        "what": "DetectorRun().detect(event) one event at a time (its texts embedded in one "
        "call, then every detector), continuing the stream of the throughput run",
        "events": len(events),
        "p50_ms": round(_pct(total, 50), 1),
        "p99_ms": round(_pct(total, 99), 1),
        "mean_ms": round(statistics.fmean(total), 1),
        "max_ms": round(max(total), 1),
        "detectors_only_p50_ms": round(_pct(detectors, 50), 2),
        "detectors_only_p99_ms": round(_pct(detectors, 99), 2),
        "load_average": {"start": load_start, "end": _load()},
    }


def _loop(run: Any, source: Iterable[Event]) -> tuple[int, float, int]:
    start = time.perf_counter()
    n = found = 0
    for _event, dets in run.run(source, batch_size=BATCH):
        n += 1
        found += len(dets)
    return n, time.perf_counter() - start, found


def bench_fast(
    events: Sequence[Event], jsonl: Path, fast_ids: Sequence[str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """No detectors and the non-embedding detectors, from a JSONL log and from memory."""
    from aiposture.monitor.engine import DetectorRun
    from aiposture.monitor.ingest import read_jsonl
    from aiposture.monitor.traffic import JSONL_MAPPING

    sources: dict[str, Callable[[], Iterable[Event]]] = {
        "from_jsonl": lambda: read_jsonl(jsonl, JSONL_MAPPING),
        "in_memory": lambda: iter(events),
    }
    load_start = _load()
    out_none: dict[str, Any] = {"what": "DetectorRun([]) over the events, batches of 64"}
    empty = DetectorRun([])
    for name, source in sources.items():
        n, s, _ = _loop(empty, source())
        out_none[name] = {"events": n, "seconds": round(s, 3), "events_per_s": _rate(n, s)}
    out_none["load_average"] = {"start": load_start, "end": _load()}

    load_start = _load()
    out_fast: dict[str, Any] = {
        "what": "DetectorRun(non-embedding detectors) over the same events, batches of 64",
        "detectors": list(fast_ids),
    }
    for name, source in sources.items():
        run = DetectorRun(ids=list(fast_ids))
        seconds: dict[str, float] = defaultdict(float)
        calls: dict[str, int] = defaultdict(int)
        _timed_detectors(run.detectors, seconds, calls)
        n, s, found = _loop(run, source())
        base = out_none[name]["events_per_s"]
        rate = _rate(n, s)
        out_fast[name] = {
            "events": n,
            "seconds": round(s, 3),
            "events_per_s": rate,
            "ratio_to_no_detectors": round(rate / base, 4) if base else 0.0,
            "detections": found,
            "detector_errors": run.error_count,
            "per_detector": _shares(seconds, n, s),
        }
    rate = out_fast["in_memory"]["events_per_s"]
    out_fast["target_events_per_s"] = TARGET_FAST
    out_fast["target_met"] = rate >= TARGET_FAST
    out_fast["target_met_with_jsonl_ingest"] = out_fast["from_jsonl"]["events_per_s"] >= TARGET_FAST
    out_fast["load_average"] = {"start": load_start, "end": _load()}
    return out_none, out_fast


def _posture(path: Path) -> Any:
    from aiposture import Posture
    from aiposture.settings import Settings

    return Posture.open(f"sqlite:///{path}", actor="bench", config=Settings())


def _time_detect_batch(monitor: Any) -> list[float]:
    """Time the monitor's ``detect_batch`` (on its DetectorRun instance); returns the total."""
    run = monitor.detectors
    inner = run.detect_batch
    spent = [0.0]

    def timed(events: Sequence[Event]) -> Any:
        start = time.perf_counter()
        try:
            return inner(events)
        finally:
            spent[0] += time.perf_counter() - start

    setattr(run, "detect_batch", timed)  # noqa: B010 (an instance attribute on purpose)
    return spent


def _split(summary: dict[str, Any], detect_s: float) -> dict[str, Any]:
    events = summary["events"]
    rest = summary["seconds"] - detect_s
    return {
        "detect_batch_s": round(detect_s, 3),
        "link_store_alert_s": round(rest, 3),
        "link_store_alert_ms_per_event": round(1000 * rest / events, 3) if events else 0.0,
        "link_store_alert_share": round(rest / summary["seconds"], 4) if summary["seconds"] else 0,
        "detect_batch_events_per_s": _rate(events, detect_s),
    }


def _db_mb(path: Path) -> float:
    files = [path, path.with_name(path.name + "-wal")]
    return round(sum(f.stat().st_size for f in files if f.exists()) / 1e6, 1)


def bench_monitor(
    embedder: Embedder,
    work: Path,
    events: Sequence[Event],
    fast_events: Sequence[Event],
    fast_ids: Sequence[str],
) -> dict[str, Any]:
    """``Monitor.run`` into SQLite with all detectors and with the non-embedding ones.

    The monitor's ``detect_batch`` is timed inside the run, so the rest of the run's time
    (linking events to assets, redacting, storing, alerting) is measured, not inferred.
    """
    from aiposture.monitor.registry import default_detectors

    out: dict[str, Any] = {}
    load_start = _load()
    with _posture(work / "monitor_all.db") as p:
        size = p.settings.monitor.batch_size
        spent = _time_detect_batch(p.monitor)
        result = p.monitor.run(list(events))
    # the same texts embedded alone, grouped as Monitor.run groups them, right after
    embed_s = 0.0
    for batch in _batches(events, size):
        start = time.perf_counter()
        embedder.encode([t for e in batch for t in e.texts()])
        embed_s += time.perf_counter() - start
    summary = result.as_dict()
    summary["events_per_s"] = summary.pop("events_per_second")
    rate = summary["events_per_s"]
    embed_rate = _rate(len(events), embed_s)
    out["all_detectors"] = {
        "what": "Posture.open(sqlite file).monitor.run(events): every registered detector, "
        f"events stored redacted and alerts raised, {size} events per batch "
        "([monitor] batch_size: Monitor.run hands whole storage batches to detect_batch)",
        "batch_size": size,
        **summary,
        "time_split": _split(summary, spent[0]),
        "embedding_alone_same_batches": {"seconds": round(embed_s, 2), "events_per_s": embed_rate},
        "ratio_to_embedding_alone": round(rate / embed_rate, 3) if embed_rate else 0.0,
        "db_mb": _db_mb(work / "monitor_all.db"),
        "load_average": {"start": load_start, "end": _load()},
    }

    load_start = _load()
    with _posture(work / "monitor_fast.db") as p:
        p.monitor.use(default_detectors().create(list(fast_ids), settings=p.settings))
        spent = _time_detect_batch(p.monitor)
        result = p.monitor.run(list(fast_events))
    summary = result.as_dict()
    summary["events_per_s"] = summary.pop("events_per_second")
    rate = summary["events_per_s"]
    out["no_embedding_detectors"] = {
        "what": "the same pipeline with the non-embedding detectors only",
        "detectors": list(fast_ids),
        **summary,
        "time_split": _split(summary, spent[0]),
        "db_mb": _db_mb(work / "monitor_fast.db"),
        "target_events_per_s": TARGET_FAST,
        "target_met": rate >= TARGET_FAST,
        "load_average": {"start": load_start, "end": _load()},
    }
    return out


def bench_memory(
    work: Path,
    pool: Sequence[Event],
    pool_vectors: Sequence[list[list[float]]],
    checkpoints: Sequence[int],
    fast_ids: Sequence[str],
    faiss_threads: int | None,
    text_kind: str,
) -> dict[str, Any]:
    """RSS at each checkpoint: all detectors on cycled precomputed vectors, and
    ``Monitor.run`` with the non-embedding detectors into SQLite."""
    import faiss

    from aiposture.monitor.registry import default_detectors

    shift = timedelta(days=1)
    marks = sorted(set(checkpoints))
    out: dict[str, Any] = {
        "checkpoints": marks,
        "pool_events": len(pool),
        "pool_texts": text_kind,
        "faiss_omp_threads": faiss_threads or "default",
        "how": "events are copies of a pool cycled with new ids and times shifted one day per "
        "cycle; the pool's texts were embedded once with the real model and each detector's "
        "detect(event, embeddings=...) is called in registry order, as the engine does; "
        "RSS is the process's resident set after gc.collect() and glibc malloc_trim(0) "
        "(psutil), so it includes the model and everything loaded before but not memory "
        "freed by earlier sections; growth between checkpoints is what matters",
        "malloc_trim": _malloc_trim(),
    }
    previous = faiss.omp_get_max_threads()
    if faiss_threads:
        faiss.omp_set_num_threads(faiss_threads)
    try:
        detectors = default_detectors().create()
        rows: list[dict[str, Any]] = []
        rss0 = _rss_mb()
        load_start = _load()
        done = found = errors = 0
        start = time.perf_counter()
        for mark in marks:
            for event in _cycled(pool, done, mark - done, "mem", shift):
                vectors = pool_vectors[done % len(pool)]
                for det in detectors:
                    try:
                        found += len(
                            det.detect(event, embeddings=vectors if det.needs_embeddings else None)
                        )
                    except Exception:  # counted, as the engine does
                        errors += 1
                done += 1
            elapsed = time.perf_counter() - start
            rows.append(
                {
                    "events": done,
                    "rss_mb": _rss_mb(),
                    "peak_rss_mb": _peak_rss_mb(),
                    "seconds": round(elapsed, 1),
                    "events_per_s": _rate(done, elapsed),
                    "detections": found,
                    "detector_errors": errors,
                    "state": _state_sizes(detectors),
                }
            )
            _say(f"memory, all detectors: {done} events, RSS {rows[-1]['rss_mb']} MB")
        extraction = next((d for d in detectors if hasattr(d, "max_vectors")), None)
        out["all_detectors"] = {
            "rss_before_mb": rss0,
            "at": rows,
            "growth_mb_first_to_last": round(rows[-1]["rss_mb"] - rows[0]["rss_mb"], 1),
            "load_average": {"start": load_start, "end": _load()},
        }
        if extraction is not None:
            cap = int(getattr(extraction, "max_vectors", 0))
            dim = len(pool_vectors[0][0]) if pool_vectors and pool_vectors[0] else 384
            out["all_detectors"]["extraction_vector_cap"] = {
                "max_vectors": cap,
                "max_history_per_key": int(getattr(extraction, "max_history", 0)),
                "cap_mb": round(cap * dim * 4 / 1e6, 1),
            }
        del detectors
    finally:
        faiss.omp_set_num_threads(previous)

    rows = []
    load_start = _load()
    with _posture(work / "memory.db") as p:
        p.monitor.use(default_detectors().create(list(fast_ids), settings=p.settings))
        rss0 = _rss_mb()
        done = 0
        seconds = 0.0
        for mark in marks:
            result = p.monitor.run(_cycled(pool, done, mark - done, "store", shift))
            seconds += result.seconds
            done = mark
            rows.append(
                {
                    "events": done,
                    "rss_mb": _rss_mb(),
                    "peak_rss_mb": _peak_rss_mb(),
                    "seconds": round(seconds, 1),
                    "events_per_s": _rate(done, seconds),
                    "stored_this_run": result.stored,
                    "db_mb": _db_mb(work / "memory.db"),
                    "state": _state_sizes(p.monitor.detectors.detectors),
                }
            )
            _say(f"memory, Monitor.run non-embedding: {done} events, RSS {rows[-1]['rss_mb']} MB")
    out["monitor_run_no_embedding_detectors"] = {
        "detectors": list(fast_ids),
        "rss_before_mb": rss0,
        "at": rows,
        "growth_mb_first_to_last": round(rows[-1]["rss_mb"] - rows[0]["rss_mb"], 1),
        "load_average": {"start": load_start, "end": _load()},
    }
    return out


def bench_injection_threads(
    events: Sequence[Event], vectors: Sequence[list[list[float]]]
) -> dict[str, Any]:
    """The injection detector per event with FAISS's default threads and with one."""
    import faiss

    from aiposture.monitor.detectors.injection import PromptInjectionDetector, heuristic_hits

    det = PromptInjectionDetector()
    det.detect(events[0], embeddings=vectors[0])
    default = faiss.omp_get_max_threads()
    best: dict[int, float] = {}
    load_start = _load()
    try:
        for threads in (default, 1, default, 1):
            faiss.omp_set_num_threads(threads)
            start = time.perf_counter()
            for event, vecs in zip(events, vectors, strict=True):
                det.detect(event, embeddings=vecs)
            per = 1000 * (time.perf_counter() - start) / len(events)
            best[threads] = min(best.get(threads, math.inf), per)
    finally:
        faiss.omp_set_num_threads(default)
    texts = [t for e in events for i, t in enumerate(e.texts()) if i != 1 and t.strip()]
    start = time.perf_counter()
    for text in texts:
        heuristic_hits(text)
    heur_ms = 1000 * (time.perf_counter() - start) / len(texts)
    return {
        "what": "PromptInjectionDetector.detect with the events' own vectors, best of two "
        "rounds per setting; FAISS's OpenMP threads set with faiss.omp_set_num_threads",
        "events": len(events),
        "faiss_default_threads": default,
        "ms_per_event_default_threads": round(best[default], 3),
        "ms_per_event_one_thread": round(best[1], 3),
        "heuristics_ms_per_text": round(heur_ms, 3),
        "texts_scanned_per_event": round(len(texts) / len(events), 2),
        "load_average": {"start": load_start, "end": _load()},
    }


# --- the run --------------------------------------------------------------------------


def _token_figures(embedder: Embedder, events: Sequence[Event]) -> dict[str, Any]:
    prompt = [embedder.count_tokens(e.prompt) for e in events if e.prompt.strip()]
    response = [embedder.count_tokens(e.response) for e in events if e.response.strip()]
    extra = [embedder.count_tokens(t) for e in events for t in e.texts()[2:]]
    return {
        "events": len(events),
        "prompt_tokens": _stats(prompt),
        "response_tokens": _stats(response),
        "texts_per_event": round(sum(len(e.texts()) for e in events) / len(events), 2),
        "retrieved_and_tool_texts": len(extra),
        "retrieved_and_tool_tokens_mean": round(statistics.fmean(extra), 1) if extra else 0.0,
    }


def run(
    work: Path,
    *,
    embed_events: int = 256,
    latency_events: int = 100,
    monitor_events: int = 128,
    fast_events: int = 10_000,
    memory_checkpoints: Sequence[int] = (10_000, 100_000),
    memory_pool: int = 256,
    memory_text: str = "generated",
    memory_faiss_threads: int | None = None,
    injection_events: int = 100,
    tokens: int = TOKENS,
    seed: int = 7,
) -> dict[str, Any]:
    """Measure monitoring throughput, latency and memory; return the figures.

    Args:
        work: Scratch folder (JSONL log, SQLite files).
        embed_events: Events of the paired embedding / all-detector run (batches of 64).
        latency_events: Further events timed one at a time through ``detect``.
        monitor_events: Events of the ``Monitor.run`` run with all detectors (the first
            of the paired run's; at most ``embed_events``).
        fast_events: Events of the no-detector and non-embedding runs (the day's
            extended events cycled with new ids).
        memory_checkpoints: Event counts at which RSS is taken.
        memory_pool: Distinct events cycled in the memory section.
        memory_text: ``generated`` (the generator's own texts) or ``extended`` (the
            ~200-token texts of the other sections) in the memory section.
        memory_faiss_threads: FAISS OpenMP threads in the memory section (``None``: the
            default).
        injection_events: Events of the FAISS-threads diagnostic.
        tokens: Prompt and response length to extend texts to.
        seed: Traffic and filler seed.

    Returns:
        A JSON-serialisable dict of figures (see the module docstring).
    """
    from aiposture.embeddings.embedder import get_embedder
    from aiposture.monitor.detectors.injection import get_model
    from aiposture.monitor.registry import default_detectors
    from aiposture.monitor.traffic import generate_traffic

    if memory_text not in ("generated", "extended"):
        raise ValueError("memory_text must be 'generated' or 'extended'")
    started = time.perf_counter()
    load_start = _load()
    work.mkdir(parents=True, exist_ok=True)
    counts = {
        "paired_embedding_and_all_detectors": embed_events,
        "single_event_latency": latency_events,
        "no_detectors_and_non_embedding": fast_events,
        "monitor_run_all_detectors": min(monitor_events, embed_events),
        "monitor_run_non_embedding": fast_events,
        "memory_checkpoints": list(memory_checkpoints),
        "injection_diagnostic": injection_events,
    }
    _say(f"event counts: {json.dumps(counts)}; load average {load_start}")

    setup_start = time.perf_counter()
    embedder = get_embedder()
    embedder.encode(["warm up the model"])
    model_s = time.perf_counter() - setup_start
    import faiss
    import torch

    start = time.perf_counter()
    get_model()  # the injection detector's exemplar index and classifier, built once
    injection_build_s = time.perf_counter() - start

    sampled = embed_events + latency_events
    day_start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    traffic = generate_traffic(
        day_start - timedelta(days=1),
        days=1,
        events_per_day=max(1500, math.ceil(sampled * 1.3)),
        attacks=True,
        seed=seed,
    )
    day = traffic.events
    padder = _Padder(embedder, tokens, seed)
    start = time.perf_counter()
    extended = [padder.event(e) for e in day]
    pad_s = time.perf_counter() - start
    stride = max(1, len(extended) // sampled)
    picked = extended[::stride][:sampled]
    sample, later = picked[:embed_events], picked[embed_events:]
    warm = [extended[min(i * stride + 1, len(extended) - 1)] for i in range(4)]

    fast_ids = [d.id for d in default_detectors().create() if not d.needs_embeddings]
    fast = list(_cycled(extended, 0, fast_events, "fast", timedelta(days=1)))
    jsonl = work / "events.jsonl"
    with open(jsonl, "w", encoding="utf-8") as fh:
        for event in fast:
            fh.write(json.dumps(event.model_dump(mode="json"), ensure_ascii=False) + "\n")

    from aiposture.monitor.engine import DetectorRun

    DetectorRun().detect_batch(warm)  # presidio, detect-secrets and the rest load here
    setup_s = time.perf_counter() - setup_start
    _say(f"setup {setup_s:.0f} s; traffic {len(day)} events; sample {len(sample)}")

    machine = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "torch_threads": torch.get_num_threads(),
        "faiss_omp_threads": faiss.omp_get_max_threads(),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", ""),
        "openmp_libraries_loaded_before_the_benchmark": _OPENMP_LOADED_BEFORE,
        "embedding_model": embedder.name,
        "embedding_precision": embedder.precision.value,
        "embedding_device": embedder.device,
        "embedder_batch_size": embedder.batch_size,
        "when": time.strftime("%Y-%m-%d %H:%M:%S"),
        "shared": "the machine is shared with other work; read each figure with the load "
        "average of its section (2 cores: a load above 2 means waiting for a core)",
    }

    _say("paired embedding-alone / all-detectors run")
    paired = bench_paired(embedder, sample)
    run_all = paired.pop("run")
    vectors = paired.pop("vectors")
    _say(
        f"all detectors {paired['all_detectors']['events_per_s']} ev/s, embedding alone "
        f"{paired['embedding_alone']['events_per_s']} ev/s, ratio "
        f"{paired['all_detectors']['ratio_to_embedding_alone']}"
    )
    _say("single-event latency")
    paired["all_detectors"]["latency_single_event"] = bench_latency(
        run_all, paired.pop("seconds"), later
    )
    paired.pop("calls")
    del run_all

    _say("no detectors and non-embedding detectors")
    none, fast_only = bench_fast(fast, jsonl, fast_ids)
    _say(f"non-embedding detectors {fast_only['in_memory']['events_per_s']} ev/s")

    _say("Monitor.run into SQLite")
    monitor = bench_monitor(
        embedder,
        work,
        sample[:monitor_events],
        fast,
        fast_ids,
    )
    del fast

    _say("injection detector: FAISS threads diagnostic")
    diag = bench_injection_threads(sample[:injection_events], vectors[:injection_events])

    _say("memory")
    if memory_text == "extended":
        pool, pool_vectors = list(sample[:memory_pool]), vectors[:memory_pool]
        embed_pool_s = 0.0
    else:
        pool = [day[i] for i in range(0, len(day), max(1, len(day) // memory_pool))][:memory_pool]
        start = time.perf_counter()
        pool_vectors = []
        for batch in _batches(pool, BATCH):
            pool_vectors += _embed_events(embedder, batch)
        embed_pool_s = time.perf_counter() - start
    memory = bench_memory(
        work,
        pool,
        pool_vectors,
        memory_checkpoints,
        fast_ids,
        memory_faiss_threads,
        memory_text,
    )
    memory["pool_embedding_s"] = round(embed_pool_s, 1)
    memory["pool_tokens"] = _token_figures(embedder, pool)

    all_det = paired["all_detectors"]
    mem_all = memory["all_detectors"]
    mem_store = memory["monitor_run_no_embedding_detectors"]
    return {
        "name": "monitor_speed",
        "machine": machine,
        "load_average": {"start": load_start, "end": _load()},
        "counts": counts,
        "events": {
            "source": "generate_traffic(yesterday 00:00 UTC, days=1, events_per_day="
            f"{max(1500, math.ceil(sampled * 1.3))}, attacks=True, seed={seed}): "
            f"{len(day)} events; the sample takes every {stride}th",
            "extension": f"each non-empty prompt and response extended to a target drawn "
            f"in [{int(tokens * 0.9)}, {int(tokens * 1.1)}] tokens (model tokenizer) by "
            "appending benign filler sentences from a fixed word list after a blank line, "
            "chosen by random.Random(seed:event id:field); longer texts kept; retrieved "
            "documents and tool results as generated",
            "extension_s": round(pad_s, 1),
            "sample": _token_figures(embedder, sample),
        },
        "setup": {
            "model_load_s": round(model_s, 1),
            "injection_model_build_s": round(injection_build_s, 1),
            "total_s": round(setup_s, 1),
        },
        "baseline_no_detectors": none,
        "baseline_embedding_alone": paired["embedding_alone"],
        "all_detectors": all_det,
        "no_embedding_detectors": fast_only,
        "monitor_run_sqlite": monitor,
        "memory": memory,
        "diagnostics": {"injection_faiss_threads": diag},
        "targets": {
            "all_detectors_ratio_to_embedding_alone": {
                "target": f">= {TARGET_RATIO}",
                "measured": all_det["ratio_to_embedding_alone"],
                "met": all_det["target_met"],
            },
            "non_embedding_detectors_events_per_s": {
                "target": f">= {TARGET_FAST:.0f}",
                "measured": fast_only["in_memory"]["events_per_s"],
                "met": fast_only["target_met"],
                "measured_from_jsonl": fast_only["from_jsonl"]["events_per_s"],
                "measured_monitor_run_sqlite": monitor["no_embedding_detectors"]["events_per_s"],
            },
            "memory_growth_mb": {
                "target": "no growth with the event count",
                "all_detectors": mem_all["growth_mb_first_to_last"],
                "monitor_run_no_embedding_detectors": mem_store["growth_mb_first_to_last"],
                "between_events": [memory["checkpoints"][0], memory["checkpoints"][-1]],
            },
        },
        "total_s": round(time.perf_counter() - started, 1),
    }


def main(argv: list[str] | None = None) -> None:
    """Run and write ``monitor_speed.json`` (to ``benchmarks/results/`` by default)."""
    import shutil
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for the JSON file")
    parser.add_argument("--embed-events", type=int, default=256)
    parser.add_argument("--latency-events", type=int, default=100)
    parser.add_argument("--monitor-events", type=int, default=128)
    parser.add_argument("--fast-events", type=int, default=10_000)
    parser.add_argument(
        "--memory",
        type=lambda s: [int(x) for x in s.split(",")],
        default=[10_000, 100_000],
        help="comma-separated event counts at which RSS is taken (default 10000,100000)",
    )
    parser.add_argument("--memory-pool", type=int, default=256)
    parser.add_argument("--memory-text", choices=("generated", "extended"), default="generated")
    parser.add_argument(
        "--memory-faiss-threads", type=int, default=0, help="0 (default) leaves FAISS's setting"
    )
    parser.add_argument("--injection-events", type=int, default=100)
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="aiposture-bench-monitor-"))
    try:
        res = run(
            work,
            embed_events=args.embed_events,
            latency_events=args.latency_events,
            monitor_events=args.monitor_events,
            fast_events=args.fast_events,
            memory_checkpoints=args.memory,
            memory_pool=args.memory_pool,
            memory_text=args.memory_text,
            memory_faiss_threads=args.memory_faiss_threads or None,
            injection_events=args.injection_events,
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "monitor_speed.json").write_text(json.dumps(res, indent=2) + "\n")
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
