"""Token-bucket rate limiting: exact under threads and processes, shared through the store."""

from __future__ import annotations

import math
import multiprocessing
import random
import threading
import time
import traceback
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select

from aiposture.errors import ConfigError
from aiposture.policy.ratelimit import RateDecision, RateLimit, RateLimiter
from aiposture.store import SQLStore, Store, open_store
from aiposture.store import schema as t

T0 = 1_700_000_000.0


class Clock:
    """A hand-driven clock (seconds since the epoch)."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def _bucket_rows(store: Store) -> dict[str, tuple[float, float]]:
    assert isinstance(store, SQLStore)
    rb = t.rate_buckets
    with store.engine.connect() as conn:
        rows = conn.execute(select(rb.c.key, rb.c.tokens, rb.c.updated_at)).all()
    return {r.key: (r.tokens, r.updated_at) for r in rows}


def _hammer(limiter: RateLimiter, key: str, limit: RateLimit, threads: int, each: int) -> int:
    """``threads`` threads each try ``each`` acquires at once; returns how many were admitted."""
    start = threading.Barrier(threads)
    admitted: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def work() -> None:
        try:
            start.wait(timeout=30)
            mine = sum(limiter.acquire(key, limit).allowed for _ in range(each))
            with lock:
                admitted.append(mine)
        except BaseException as exc:
            errors.append(exc)

    pool = [threading.Thread(target=work) for _ in range(threads)]
    for th in pool:
        th.start()
    for th in pool:
        th.join(timeout=120)
    assert not errors, errors
    assert len(admitted) == threads
    return sum(admitted)


# --- concurrency: threads -------------------------------------------------------


def test_shared_bucket_admits_exactly_the_limit_under_eight_threads(store: Store) -> None:
    clock = Clock()
    limiter = RateLimiter(store, clock=clock)
    assert limiter.shared
    limit = RateLimit(requests=25, window_s=60)
    assert _hammer(limiter, "alice|gpt-4o", limit, threads=8, each=20) == 25
    assert _bucket_rows(store) == {"req|alice|gpt-4o": (0.0, T0)}
    clock.advance(60)
    assert _hammer(limiter, "alice|gpt-4o", limit, threads=8, each=20) == 25


def test_fast_path_admits_exactly_the_limit_under_eight_threads() -> None:
    clock = Clock()
    limiter = RateLimiter(None, clock=clock)
    limit = RateLimit(requests=37, window_s=10)
    assert _hammer(limiter, "k", limit, threads=8, each=50) == 37
    clock.advance(5)  # half a window refills half the requests
    assert _hammer(limiter, "k", limit, threads=8, each=50) == 18


def test_fast_path_under_real_time_never_exceeds_burst_plus_refill() -> None:
    limiter = RateLimiter(None)
    limit = RateLimit(requests=50, window_s=3600)
    t0 = time.time()
    admitted = _hammer(limiter, "k", limit, threads=8, each=100)
    elapsed = time.time() - t0
    assert 50 <= admitted <= 50 + math.floor(elapsed * limit.rate)


def test_not_shared_keeps_buckets_out_of_the_database(store: Store) -> None:
    limiter = RateLimiter(store, shared=False, clock=Clock())
    assert not limiter.shared
    limit = RateLimit(requests=3, window_s=1)
    assert [limiter.acquire("k", limit).allowed for _ in range(4)] == [True] * 3 + [False]
    assert _bucket_rows(store) == {}


def test_in_memory_store_takes_the_fast_path() -> None:
    with open_store("sqlite:///:memory:") as store:
        limiter = RateLimiter(store, clock=Clock())
        assert not limiter.shared
        limit = RateLimit(requests=2, window_s=1)
        assert [limiter.acquire("k", limit).allowed for _ in range(3)] == [True, True, False]
        assert _bucket_rows(store) == {}


# --- concurrency: processes -----------------------------------------------------

PROC_LIMIT = RateLimit(requests=30, window_s=3600)
PROC_ATTEMPTS = 40


def _proc_worker(url: str, start: Any, results: Any) -> None:
    try:
        with open_store(url) as store:
            limiter = RateLimiter(store)
            start.wait(timeout=120)
            admitted = sum(
                limiter.acquire("shared|model", PROC_LIMIT).allowed for _ in range(PROC_ATTEMPTS)
            )
        results.put(("ok", admitted))
    except BaseException:
        results.put(("error", traceback.format_exc()))


def test_two_processes_sharing_a_store_admit_exactly_the_limit_then_refill(
    store_url: str,
) -> None:
    with open_store(store_url):
        pass  # the schema exists before the workers race for the bucket
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(2)
    results = ctx.Queue()
    procs = [ctx.Process(target=_proc_worker, args=(store_url, start, results)) for _ in range(2)]
    for p in procs:
        p.start()
    outcome = [results.get(timeout=300) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert all(status == "ok" for status, _ in outcome), outcome
    # A one-hour window refills 30 requests an hour: nothing during the burst.
    assert sum(n for _, n in outcome) == PROC_LIMIT.requests

    with open_store(store_url) as store:
        now = RateLimiter(store)
        assert not now.peek("shared|model", PROC_LIMIT).allowed
        half = RateLimiter(store, clock=lambda: time.time() + 1800)
        assert sum(half.acquire("shared|model", PROC_LIMIT).allowed for _ in range(40)) == 15
        later = RateLimiter(store, clock=lambda: time.time() + 1800 + 3600)
        assert sum(later.acquire("shared|model", PROC_LIMIT).allowed for _ in range(40)) == 30


# --- semantics ------------------------------------------------------------------


@pytest.fixture(params=["fast", "shared"])
def limiter_and_clock(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """The same behaviour is required of the in-process and the store-backed buckets."""
    clock = Clock()
    if request.param == "fast":
        yield RateLimiter(None, clock=clock), clock
        return
    with open_store(f"sqlite:///{tmp_path / 'posture.db'}") as store:
        limiter = RateLimiter(store, clock=clock)
        assert limiter.shared
        yield limiter, clock


def test_bucket_refills_at_requests_per_window_up_to_capacity(
    limiter_and_clock: tuple[RateLimiter, Clock],
) -> None:
    limiter, clock = limiter_and_clock
    limit = RateLimit(requests=10, window_s=10)  # one request per second
    first = [limiter.acquire("k", limit) for _ in range(11)]
    assert [d.allowed for d in first] == [True] * 10 + [False]
    assert [d.remaining for d in first[:10]] == list(range(9, -1, -1))
    assert first[10].retry_after_s == pytest.approx(1.0)
    clock.advance(3.5)
    assert sum(limiter.acquire("k", limit).allowed for _ in range(10)) == 3
    clock.advance(1000)  # a long idle refills to capacity, not beyond
    assert limiter.peek("k", limit).remaining == 10
    assert sum(limiter.acquire("k", limit).allowed for _ in range(20)) == 10


def test_burst_is_the_capacity_and_requests_per_window_the_rate(
    limiter_and_clock: tuple[RateLimiter, Clock],
) -> None:
    limiter, clock = limiter_and_clock
    limit = RateLimit(requests=4, window_s=60, burst=2)
    assert [limiter.acquire("k", limit).allowed for _ in range(3)] == [True, True, False]
    clock.advance(15)  # 4 per minute: one every 15 s
    assert [limiter.acquire("k", limit).allowed for _ in range(2)] == [True, False]
    clock.advance(600)
    assert [limiter.acquire("k", limit).allowed for _ in range(3)] == [True, True, False]


def test_denied_call_costs_nothing_in_any_bucket(
    limiter_and_clock: tuple[RateLimiter, Clock],
) -> None:
    limiter, _clock = limiter_and_clock
    limit = RateLimit(requests=3, window_s=60, tokens=1000)
    assert limiter.acquire("k", limit, tokens=800).allowed
    refused = limiter.acquire("k", limit, tokens=300)  # requests left, tokens not
    assert not refused.allowed
    assert refused.limited_by == "tokens"
    assert refused.remaining == 2
    assert refused.remaining_tokens == 200
    assert refused.retry_after_s == pytest.approx(100 / (1000 / 60))
    # The refused call took no request: two more fit, each within the tokens left.
    assert limiter.acquire("k", limit, tokens=100).allowed
    assert limiter.acquire("k", limit, tokens=100).allowed
    last = limiter.acquire("k", limit, tokens=1)
    assert (last.allowed, last.limited_by, last.remaining_tokens) == (False, "requests", 0)


def test_requests_and_tokens_are_separate_buckets_of_one_key(
    limiter_and_clock: tuple[RateLimiter, Clock],
) -> None:
    limiter, _clock = limiter_and_clock
    limit = RateLimit(requests=2, window_s=60, tokens=50)
    assert limiter.acquire_tokens("k", limit, 50).allowed
    assert not limiter.acquire_tokens("k", limit, 1).allowed
    # the request bucket is untouched by token-only charges
    assert [limiter.acquire("k", limit).allowed for _ in range(3)] == [True, True, False]


def test_keys_are_isolated(limiter_and_clock: tuple[RateLimiter, Clock]) -> None:
    limiter, _clock = limiter_and_clock
    limit = RateLimit(requests=2, window_s=60)
    assert [limiter.acquire("alice|m", limit).allowed for _ in range(3)] == [True, True, False]
    assert limiter.peek("bob|m", limit).remaining == 2
    assert limiter.acquire("bob|m", limit).allowed
    assert limiter.acquire("alice|m2", limit).allowed
    assert not limiter.acquire("alice|m", limit).allowed


def test_peek_takes_nothing(limiter_and_clock: tuple[RateLimiter, Clock]) -> None:
    limiter, _clock = limiter_and_clock
    limit = RateLimit(requests=1, window_s=60)
    for _ in range(3):
        assert limiter.peek("k", limit).allowed
    assert limiter.acquire("k", limit).allowed
    assert not limiter.peek("k", limit).allowed


def test_reset_refills_both_buckets_of_the_key_only(
    limiter_and_clock: tuple[RateLimiter, Clock],
) -> None:
    limiter, _clock = limiter_and_clock
    limit = RateLimit(requests=1, window_s=60, tokens=10)
    assert limiter.acquire("a", limit, tokens=10).allowed
    assert limiter.acquire("b", limit).allowed
    limiter.reset("a")
    assert limiter.acquire("a", limit, tokens=10).allowed
    assert not limiter.acquire("b", limit).allowed


def test_clock_going_backwards_neither_refills_nor_drains(
    limiter_and_clock: tuple[RateLimiter, Clock],
) -> None:
    limiter, clock = limiter_and_clock
    limit = RateLimit(requests=10, window_s=10)
    assert sum(limiter.acquire("k", limit).allowed for _ in range(10)) == 10
    clock.advance(-5)  # another host, or an NTP step
    assert not limiter.peek("k", limit).allowed
    clock.advance(5)  # back where the bucket was: still nothing refilled
    assert not limiter.peek("k", limit).allowed
    clock.advance(2)
    assert sum(limiter.acquire("k", limit).allowed for _ in range(5)) == 2


def test_cost_above_capacity_is_never_admitted(
    limiter_and_clock: tuple[RateLimiter, Clock],
) -> None:
    limiter, _clock = limiter_and_clock
    limit = RateLimit(requests=5, window_s=60, tokens=100)
    never = limiter.acquire("k", limit, cost=6)
    assert (never.allowed, never.retry_after_s) == (False, None)
    assert limiter.acquire_tokens("k", limit, 101).retry_after_s is None
    assert limiter.acquire("k", limit, cost=5).allowed  # and nothing was taken


def test_tightened_limit_cuts_the_bucket_to_its_capacity(
    limiter_and_clock: tuple[RateLimiter, Clock],
) -> None:
    limiter, _clock = limiter_and_clock
    assert limiter.acquire("k", RateLimit(requests=100, window_s=60)).allowed  # 99 left
    tight = RateLimit(requests=3, window_s=60)
    assert sum(limiter.acquire("k", tight).allowed for _ in range(10)) == 3


def test_shared_and_fast_path_decide_alike(tmp_path: Path) -> None:
    rng = random.Random(7)
    clock = Clock()
    limit = RateLimit(requests=7, window_s=3, burst=4, tokens=90)
    with open_store(f"sqlite:///{tmp_path / 'p.db'}") as store:
        shared = RateLimiter(store, clock=clock)
        fast = RateLimiter(None, clock=clock)
        for _ in range(300):
            clock.advance(rng.choice([0.0, 0.0, 0.05, 0.3, 1.1, -0.2]))
            key = rng.choice(["a", "b"])
            tokens = rng.choice([0, 5, 40])
            a = shared.acquire(key, limit, tokens=tokens)
            b = fast.acquire(key, limit, tokens=tokens)
            assert a == b


# --- clock skew in stored rows ----------------------------------------------------


def test_stamp_far_in_the_future_is_rebased_without_granting(tmp_path: Path) -> None:
    clock = Clock()
    limit = RateLimit(requests=2, window_s=60)
    with open_store(f"sqlite:///{tmp_path / 'p.db'}") as store:
        assert isinstance(store, SQLStore)
        ahead = RateLimiter(store, clock=lambda: T0 + 10 * 365 * 86400)  # a clock gone wild
        assert ahead.acquire("k", limit).allowed
        assert ahead.acquire("k", limit).allowed
        limiter = RateLimiter(store, clock=clock)
        assert not limiter.acquire("k", limit).allowed  # rebased: nothing granted
        clock.advance(30)  # refills from the rebased stamp
        assert limiter.acquire("k", limit).allowed
        assert not limiter.acquire("k", limit).allowed
        _tokens, stamp = _bucket_rows(store)["req|k"]
        assert stamp == T0 + 30


def test_stamp_slightly_ahead_is_kept_so_no_interval_refills_twice(tmp_path: Path) -> None:
    limit = RateLimit(requests=10, window_s=10)
    with open_store(f"sqlite:///{tmp_path / 'p.db'}") as store:
        fast_host = RateLimiter(store, clock=lambda: T0 + 5)
        slow = Clock()
        slow_host = RateLimiter(store, clock=slow)
        assert sum(fast_host.acquire("k", limit).allowed for _ in range(12)) == 10
        slow.advance(5)  # the slow host reaches the stamp: nothing has elapsed
        assert not slow_host.acquire("k", limit).allowed
        assert _bucket_rows(store)["req|k"][1] == T0 + 5


# --- bad input ------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        {"requests": 0, "window_s": 1},
        {"requests": -3, "window_s": 1},
        {"requests": 5, "window_s": 0},
        {"requests": 5, "window_s": -1},
        {"requests": 5, "window_s": float("nan")},
        {"requests": 5, "window_s": float("inf")},
        {"requests": 5, "window_s": 1, "burst": 0},
        {"requests": 5, "window_s": 1, "tokens": -1},
        {"requests": 5, "window_s": 1, "per": "minute"},
    ],
)
def test_bad_limits_are_refused(fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        RateLimit(**fields)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda rl, lim: rl.acquire("k", lim, cost=0), "cost must be a positive"),
        (lambda rl, lim: rl.acquire("k", lim, cost=-2), "cost must be a positive"),
        (lambda rl, lim: rl.acquire("k", lim, tokens=-5), "tokens must be a positive"),
        (lambda rl, lim: rl.acquire_tokens("k", lim, 0), "tokens must be a positive"),
        (lambda rl, lim: rl.acquire("", lim), "non-empty"),
        (lambda rl, lim: rl.acquire("a\x00b", lim), "NUL"),
        (lambda rl, lim: rl.peek("k" * 1001, lim), "at most 1000"),
        (lambda rl, lim: rl.acquire_tokens("k", lim, 5), "no token limit"),
    ],
)
def test_bad_calls_are_refused_with_the_reason(call: Any, message: str) -> None:
    limiter = RateLimiter(None, clock=Clock())
    with pytest.raises(ValueError, match=message):
        call(limiter, RateLimit(requests=5, window_s=1))
    assert limiter.acquire("k", RateLimit(requests=5, window_s=1)).remaining == 4


def test_shared_limiter_refuses_a_store_without_sql() -> None:
    class NoSQL:
        pass

    with pytest.raises(ConfigError, match="needs a SQL store"):
        RateLimiter(NoSQL(), shared=True)  # type: ignore[arg-type]


def test_tokens_are_ignored_when_the_limit_sets_none() -> None:
    limiter = RateLimiter(None, clock=Clock())
    decision = limiter.acquire("k", RateLimit(requests=1, window_s=1), tokens=10**9)
    assert decision == RateDecision(allowed=True, remaining=0, retry_after_s=0.0, key="k")


def test_bucket_rows_per_key_are_counted(store: Store) -> None:
    limiter = RateLimiter(store, clock=Clock())
    limit = RateLimit(requests=2, window_s=1, tokens=5)
    for key in ("a", "b", "c"):
        limiter.acquire(key, limit, tokens=1)
    assert isinstance(store, SQLStore)
    with store.engine.connect() as conn:
        count = conn.execute(select(func.count()).select_from(t.rate_buckets)).scalar_one()
    assert count == 6
    limiter.reset("b")
    assert sorted(_bucket_rows(store)) == ["req|a", "req|c", "tok|a", "tok|c"]
