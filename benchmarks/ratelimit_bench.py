"""Rate-limit acquires per second: shared through SQLite, in-process fast path, bare baseline.

In one run, on the same machine:

1. **baseline**: a bare ``threading.Lock`` around a dict counter (``d[key] += 1``), the
   least any thread-safe in-process limiter can cost;
2. **fast path**: :class:`RateLimiter` without a store (token bucket in a dict under a lock);
3. **shared**: :class:`RateLimiter` on a real SQLite store file, one serialised write
   transaction (``BEGIN IMMEDIATE``) per acquire, as used when several processes share
   the buckets; measured from one thread and from four threads at once.

Every acquire is admitted (the limit is far above the load), so each contender does the
full work of taking a token; the keys rotate over 16 principals. Each timing is the best
of a few rounds (the machine may be shared).

Run alone: ``.venv/bin/python -m benchmarks.ratelimit_bench`` (prints JSON).
"""

from __future__ import annotations

import json
import platform
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiposture.policy.ratelimit import RateLimit, RateLimiter
from aiposture.store import open_store

KEYS = [f"user{i}|gpt-4o" for i in range(16)]
LIMIT = RateLimit(requests=10**12, window_s=1)
ROUNDS = 3


def _best(fn: Callable[[], int], rounds: int = ROUNDS) -> tuple[float, int]:
    """Best wall time of ``rounds`` runs of ``fn`` and the operations it did."""
    best = float("inf")
    ops = 0
    for _ in range(rounds):
        t0 = time.perf_counter()
        ops = fn()
        best = min(best, time.perf_counter() - t0)
    return best, ops


def _baseline(n: int) -> int:
    lock = threading.Lock()
    counts: dict[str, int] = {}
    for i in range(n):
        key = KEYS[i % len(KEYS)]
        with lock:
            counts[key] = counts.get(key, 0) + 1
    return sum(counts.values())


def _limiter_loop(limiter: RateLimiter, n: int) -> int:
    admitted = 0
    for i in range(n):
        admitted += limiter.acquire(KEYS[i % len(KEYS)], LIMIT).allowed
    return admitted


def _threaded(limiter: RateLimiter, threads: int, each: int) -> int:
    results: list[int] = []
    lock = threading.Lock()

    def work() -> None:
        got = _limiter_loop(limiter, each)
        with lock:
            results.append(got)

    pool = [threading.Thread(target=work) for _ in range(threads)]
    for th in pool:
        th.start()
    for th in pool:
        th.join()
    return sum(results)


def _figure(name: str, seconds: float, ops: int, base_per_s: float) -> dict[str, Any]:
    per_s = ops / seconds
    return {
        "name": name,
        "acquires": ops,
        "seconds": round(seconds, 4),
        "acquires_per_s": round(per_s, 1),
        "us_per_acquire": round(1e6 / per_s, 2),
        "slowdown_vs_baseline": round(base_per_s / per_s, 1),
    }


def run(work: Path, *, in_process: int = 50_000, shared: int = 2_000) -> dict[str, Any]:
    """Measure acquires per second of the three contenders (see the module docstring).

    Args:
        work: Scratch folder for the SQLite store.
        in_process: Acquires per round for the baseline and the fast path.
        shared: Acquires per round through the SQLite store.
    """
    base_s, base_ops = _best(lambda: _baseline(in_process))
    base_per_s = base_ops / base_s
    fast = RateLimiter(None)
    fast_s, fast_ops = _best(lambda: _limiter_loop(fast, in_process))
    with open_store(f"sqlite:///{work / 'ratelimit.db'}") as store:
        limiter = RateLimiter(store)
        limiter.acquire(KEYS[0], LIMIT)  # warm the connection pool
        one_s, one_ops = _best(lambda: _limiter_loop(limiter, shared))
        four_s, four_ops = _best(lambda: _threaded(limiter, 4, shared // 4))
    assert fast_ops == in_process and one_ops == shared and four_ops == shared // 4 * 4
    return {
        "name": "ratelimit",
        "baseline": _figure("threading.Lock + dict counter", base_s, base_ops, base_per_s),
        "fast_path": _figure(
            "RateLimiter in-process (token bucket, dict under a lock)", fast_s, fast_ops, base_per_s
        ),
        "shared_sqlite": _figure(
            "RateLimiter shared through SQLite (one write transaction per acquire)",
            one_s,
            one_ops,
            base_per_s,
        ),
        "shared_sqlite_4_threads": _figure(
            "the same, four threads acquiring at once", four_s, four_ops, base_per_s
        ),
        "rounds": ROUNDS,
    }


if __name__ == "__main__":
    with tempfile.TemporaryDirectory(prefix="aiposture-bench-ratelimit-") as tmp:
        result = run(Path(tmp))
    result["machine"] = {"python": platform.python_version(), "platform": platform.platform()}
    print(json.dumps(result, indent=2))
