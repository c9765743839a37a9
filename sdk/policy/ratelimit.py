"""Rate limits: token buckets shared between threads and processes through the store.

Each key (usually ``principal|model``) has two buckets: one counts requests, the
other LLM tokens (only when the limit sets ``tokens``).

Semantics of a bucket, for a :class:`RateLimit`:

* **capacity** is ``burst`` if given, else ``requests`` (for the token bucket:
  ``tokens``). A new bucket starts full.
* **refill rate** is ``requests / window_s`` per second (``tokens / window_s``
  for the token bucket), added continuously and capped at the capacity. A burst
  of ``capacity`` calls is admitted at once; after that calls are admitted at
  the refill rate, so over any window at most ``capacity + requests`` calls pass
  and over a long run at most ``requests`` per window.
* **a denied request costs nothing**: nothing is taken from any bucket and the
  state is not written (save to repair a bogus stamp, below). A call that needs
  both buckets takes from both or from neither.
* **clock skew**: elapsed time is never negative (a clock that went backwards
  refills nothing and takes nothing extra), and a bucket's time stamp never moves
  backwards, so two hosts whose clocks disagree cannot refill the same interval
  twice. A stamp more than one window in the future is taken as bogus (a clock
  that jumped) and rebased to now, granting nothing, and the repair is written,
  so a single bad clock cannot freeze a bucket for good.
* the limit is not stored with the bucket: use one key with one limit. A bucket
  holding more than a tightened limit's capacity is cut down to it.

Where the buckets live:

* **shared** (the default with a SQL store): in the ``rate_buckets`` table. Every
  :meth:`RateLimiter.acquire` is one serialised write transaction (SQLite
  ``BEGIN IMMEDIATE``, PostgreSQL advisory lock) that reads the bucket, refills
  it, takes if enough and writes it back, so all threads and processes using the
  same store see one bucket and together never exceed the limit.
* **in-process fast path** (``shared=False``, no store, or an in-memory SQLite
  store): a dict under a :class:`threading.Lock`; the database is not touched.
  Correct for every thread of this limiter, but not across processes or across
  limiter instances.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import SQLAlchemyError

from aiposture.errors import ConfigError
from aiposture.store import schema as t
from aiposture.store.base import Store
from aiposture.store.sql import SQLStore

__all__ = ["BucketKind", "RateDecision", "RateLimit", "RateLimiter"]

BucketKind = Literal["requests", "tokens"]

#: Longest key accepted (keys are principal and model names, never payloads).
MAX_KEY_LENGTH = 1_000
#: Slack for floating-point refill arithmetic (a millionth of a token).
_EPSILON = 1e-6
_PREFIX: dict[BucketKind, str] = {"requests": "req|", "tokens": "tok|"}


class RateLimit(BaseModel):
    """A rate limit: ``requests`` (and optionally LLM ``tokens``) per ``window_s`` seconds.

    Attributes:
        requests: Requests admitted per window (the refill rate is
            ``requests / window_s`` per second).
        window_s: Length of the window in seconds.
        burst: Requests admitted at once from a full bucket (the bucket's
            capacity); ``None`` for ``requests``.
        tokens: LLM tokens admitted per window (capacity and refill of the
            key's token bucket); ``None`` for no token limit.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    requests: int = Field(gt=0)
    window_s: float = Field(gt=0, allow_inf_nan=False)
    burst: int | None = Field(default=None, gt=0)
    tokens: int | None = Field(default=None, gt=0)

    def _repr_html_(self) -> str:
        from aiposture import display

        return display.html(self)

    @property
    def capacity(self) -> int:
        """Capacity of the request bucket: ``burst`` or ``requests``."""
        return self.burst if self.burst is not None else self.requests

    @property
    def rate(self) -> float:
        """Requests added to the bucket per second."""
        return self.requests / self.window_s


class RateDecision(BaseModel):
    """The outcome of one :meth:`RateLimiter.acquire` (or :meth:`RateLimiter.peek`).

    Attributes:
        allowed: Whether the call is admitted (and its cost taken).
        remaining: Whole requests left in the key's request bucket (for
            :meth:`RateLimiter.acquire_tokens`: whole tokens left in its token bucket).
        retry_after_s: Seconds until the same call would be admitted: ``0.0`` when
            allowed, ``None`` when it never can be (its cost exceeds the capacity).
        key: The key the decision is about.
        remaining_tokens: Whole tokens left in the token bucket, when one was involved.
        limited_by: The bucket that refused the call (``None`` when allowed).
    """

    model_config = ConfigDict(frozen=True)

    allowed: bool
    remaining: int
    retry_after_s: float | None
    key: str
    remaining_tokens: int | None = None
    limited_by: BucketKind | None = None

    def _repr_html_(self) -> str:
        from aiposture import display

        return display.html(self)


@dataclass(frozen=True, slots=True)
class _Take:
    """What one call takes from one bucket."""

    kind: BucketKind
    bucket: str  # the stored key
    capacity: float
    rate: float  # per second
    window_s: float
    cost: float


@dataclass(frozen=True, slots=True)
class _Outcome:
    decision: RateDecision
    #: New (tokens, updated_at) per stored key, to write back (only repairs when denied).
    writes: dict[str, tuple[float, float]]


def _settle(
    state: tuple[float, float] | None, now: float, take: _Take
) -> tuple[float, float, bool]:
    """The bucket's level and time stamp at ``now`` (refilled, capped, clock-safe).

    The flag says the stored state was repaired (a corrupt level or a bogus stamp)
    and must be written back even if the call is refused.
    """
    if state is None:
        return take.capacity, now, False
    tokens, stamp = state
    repaired = False
    if not math.isfinite(tokens):
        tokens, repaired = 0.0, True  # a corrupt row fails closed
    if not math.isfinite(stamp) or stamp - now > take.window_s:
        stamp, repaired = now, True  # a clock that jumped far ahead: rebase, grant nothing
    elapsed = max(0.0, now - stamp)
    level = min(take.capacity, max(0.0, tokens) + elapsed * take.rate)
    return level, max(stamp, now), repaired


def _evaluate(
    key: str,
    takes: Sequence[_Take],
    states: dict[str, tuple[float, float]],
    now: float,
    *,
    commit: bool,
) -> _Outcome:
    """Decide a call from the buckets' stored states (pure: no I/O, no clock)."""
    settled = [_settle(states.get(tk.bucket), now, tk) for tk in takes]
    short = [tk for tk, got in zip(takes, settled, strict=True) if got[0] + _EPSILON < tk.cost]
    allowed = not short
    left: dict[BucketKind, int] = {}
    writes: dict[str, tuple[float, float]] = {}
    for tk, (level, stamp, repaired) in zip(takes, settled, strict=True):
        if allowed and commit:
            level = max(0.0, level - tk.cost)
        if commit and (allowed or repaired):
            writes[tk.bucket] = (level, stamp)
        left[tk.kind] = math.floor(level + _EPSILON)
    retry: float | None = 0.0
    if short:
        if any(tk.cost > tk.capacity for tk in short):
            retry = None
        else:
            level_of = {tk.bucket: got[0] for tk, got in zip(takes, settled, strict=True)}
            retry = max((tk.cost - level_of[tk.bucket]) / tk.rate for tk in short)
    main: BucketKind = takes[0].kind
    # Built from checked values: skip validation on this hot path.
    decision = RateDecision.model_construct(
        allowed=allowed,
        remaining=left[main],
        retry_after_s=retry,
        key=key,
        remaining_tokens=left.get("tokens"),
        limited_by=short[0].kind if short else None,
    )
    return _Outcome(decision, writes)


def _check_key(key: str) -> None:
    if not isinstance(key, str) or not key:
        raise ValueError("rate-limit key must be a non-empty string")
    if len(key) > MAX_KEY_LENGTH:
        raise ValueError(f"rate-limit key is {len(key)} characters long (at most {MAX_KEY_LENGTH})")
    if t.clean_text(key) != key:
        raise ValueError("rate-limit key contains NUL characters or unpaired surrogates")


def _check_cost(cost: int, what: str) -> None:
    if isinstance(cost, bool) or not isinstance(cost, int) or cost <= 0:
        raise ValueError(f"{what} must be a positive whole number, not {cost!r}")


def _is_memory_store(store: SQLStore) -> bool:
    return store.dialect == "sqlite" and store.engine.url.database in (None, "", ":memory:")


class RateLimiter:
    """Token-bucket rate limiter, shared through the store or in-process.

    See the module documentation for the semantics. Thread-safe.
    """

    def __init__(
        self,
        store: Store | None,
        *,
        clock: Callable[[], float] = time.time,
        shared: bool = True,
    ) -> None:
        """Limit through ``store`` (or in this process only).

        Args:
            store: The store whose ``rate_buckets`` table holds the shared buckets;
                ``None`` for in-process buckets only.
            clock: Seconds since the epoch (injectable for tests). Shared buckets
                compare stamps written by every process, so all of them need the
                same notion of time (wall-clock time by default).
            shared: ``False`` when this limiter is the only user of its keys: the
                buckets stay in memory and the database is not touched. An
                in-memory SQLite store is never shared.

        Raises:
            ConfigError: ``shared`` with a store that has no SQL transactions.
        """
        self._clock = clock
        self._lock = threading.Lock()
        self._local: dict[str, tuple[float, float]] = {}
        self._store: SQLStore | None = None
        if store is not None and shared:
            if not isinstance(store, SQLStore):
                raise ConfigError(
                    f"a shared rate limiter needs a SQL store, not {type(store).__name__}; "
                    "pass shared=False to keep the buckets in this process"
                )
            if not _is_memory_store(store):
                self._store = store

    @property
    def shared(self) -> bool:
        """Whether the buckets live in the store (``False``: the in-process fast path)."""
        return self._store is not None

    # --- public API ---------------------------------------------------------
    def acquire(
        self, key: str, limit: RateLimit, cost: int = 1, *, tokens: int = 0
    ) -> RateDecision:
        """Take ``cost`` requests (and ``tokens`` LLM tokens) from ``key``'s buckets.

        Tokens are only counted when ``limit.tokens`` is set. The call is admitted
        only if every bucket involved holds enough; then all are charged together,
        otherwise none is.

        Raises:
            ValueError: An empty or unstorable key, or a cost that is not a
                positive whole number (``tokens`` may be 0).
            StoreError: The shared bucket cannot be read or written.
        """
        _check_key(key)
        _check_cost(cost, "cost")
        if tokens != 0:
            _check_cost(tokens, "tokens")
        takes = [self._take("requests", key, limit, cost)]
        if tokens and limit.tokens is not None:
            takes.append(self._take("tokens", key, limit, tokens))
        return self._run(key, takes, commit=True)

    def acquire_tokens(self, key: str, limit: RateLimit, tokens: int) -> RateDecision:
        """Take ``tokens`` LLM tokens from ``key``'s token bucket only.

        Raises:
            ValueError: ``limit`` sets no token limit, a bad key, or ``tokens`` is
                not a positive whole number.
            StoreError: The shared bucket cannot be read or written.
        """
        _check_key(key)
        _check_cost(tokens, "tokens")
        if limit.tokens is None:
            raise ValueError("the rate limit sets no token limit (RateLimit.tokens is None)")
        return self._run(key, [self._take("tokens", key, limit, tokens)], commit=True)

    def peek(self, key: str, limit: RateLimit, cost: int = 1, *, tokens: int = 0) -> RateDecision:
        """What :meth:`acquire` would decide now, without taking anything.

        Raises:
            ValueError: As for :meth:`acquire`.
            StoreError: The shared bucket cannot be read.
        """
        _check_key(key)
        _check_cost(cost, "cost")
        if tokens != 0:
            _check_cost(tokens, "tokens")
        takes = [self._take("requests", key, limit, cost)]
        if tokens and limit.tokens is not None:
            takes.append(self._take("tokens", key, limit, tokens))
        return self._run(key, takes, commit=False)

    def reset(self, key: str) -> None:
        """Forget ``key``'s buckets (both refill to full on next use).

        Raises:
            ValueError: A bad key.
            StoreError: The shared buckets cannot be deleted.
        """
        _check_key(key)
        stored = [_PREFIX["requests"] + key, _PREFIX["tokens"] + key]
        if self._store is None:
            with self._lock:
                for bucket in stored:
                    self._local.pop(bucket, None)
            return
        rb = t.rate_buckets
        try:
            with self._store._write() as conn:
                conn.execute(delete(rb).where(rb.c.key.in_(stored)))
        except SQLAlchemyError as exc:
            raise self._store._fail("cannot reset a rate-limit bucket", exc) from exc

    # --- internals ----------------------------------------------------------
    @staticmethod
    def _take(kind: BucketKind, key: str, limit: RateLimit, cost: int) -> _Take:
        if kind == "requests":
            return _Take(
                kind, _PREFIX[kind] + key, limit.capacity, limit.rate, limit.window_s, cost
            )
        assert limit.tokens is not None
        rate = limit.tokens / limit.window_s
        return _Take(kind, _PREFIX[kind] + key, limit.tokens, rate, limit.window_s, cost)

    def _run(self, key: str, takes: Sequence[_Take], *, commit: bool) -> RateDecision:
        if self._store is None:
            with self._lock:
                outcome = _evaluate(key, takes, self._local, self._clock(), commit=commit)
                self._local.update(outcome.writes)
            return outcome.decision
        return self._run_shared(self._store, key, takes, commit=commit)

    def _run_shared(
        self, store: SQLStore, key: str, takes: Sequence[_Take], *, commit: bool
    ) -> RateDecision:
        rb = t.rate_buckets
        buckets = [tk.bucket for tk in takes]
        query = select(rb.c.key, rb.c.tokens, rb.c.updated_at).where(rb.c.key.in_(buckets))
        try:
            with store._write() if commit else store._read() as conn:
                states = {
                    str(r.key): (float(r.tokens), float(r.updated_at)) for r in conn.execute(query)
                }
                # The clock is read under the lock: stamps then only grow in commit order.
                outcome = _evaluate(key, takes, states, self._clock(), commit=commit)
                for bucket, (level, stamp) in outcome.writes.items():
                    values = {"tokens": level, "updated_at": stamp}
                    if bucket in states:
                        conn.execute(update(rb).where(rb.c.key == bucket).values(**values))
                    else:
                        conn.execute(insert(rb).values(key=bucket, **values))
        except SQLAlchemyError as exc:
            raise store._fail("cannot update a rate-limit bucket", exc) from exc
        return outcome.decision
