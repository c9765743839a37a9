"""Unusual request volume per principal and model: EWMA baselines and short bursts.

:class:`VolumeDetector` counts each (principal, model) key's events in fixed time
buckets taken from ``event.at`` (never the wall clock, so a replayed log gives the same
verdicts as live traffic) and raises two kinds of detection:

* **volume** — the running count of the current bucket is far above the key's learned
  baseline: an exponentially weighted moving average (EWMA) of its bucket counts and of
  their variance, where the empty buckets that elapsed between two events count as
  zeros. A count is flagged when ``z = (count - mean) / std >= min_z`` and
  ``count >= min_count``. The standard deviation never drops below the Poisson
  ``sqrt(mean)`` nor below 1, so a perfectly regular key does not turn every extra
  request into an infinite z-score. Until a key has seen ``warmup_buckets`` buckets it
  is judged against the *population* baseline (an EWMA over every key's buckets), so a
  new principal that arrives with a flood is compared with what principals usually
  send; until the population itself is warm, nothing is decided.
* **burst** — ``burst_events`` events of one key within ``burst_seconds`` (sliding
  window). This is an absolute rule and needs no warm-up.

At most one detection per key and bucket is emitted (the first rule that fires), not
one per event. State is bounded: an LRU dict of at most ``max_keys`` keys, each holding
a few numbers and a deque of ``burst_events`` timestamps.

Maps to OWASP LLM10 (unbounded consumption) and MITRE ATLAS AML.T0029 (denial of ML
service) and AML.T0034 (cost harvesting).
"""

from __future__ import annotations

import math
from collections import OrderedDict, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import ClassVar

from aiposture.models import Severity
from aiposture.monitor.base import Detector
from aiposture.monitor.models import Detection, Event

__all__ = ["VolumeDetector"]

#: Longest run of empty buckets folded into a baseline one by one; after that many
#: zeros an EWMA has forgotten everything before (0.9 ** 500 is about 1e-23).
_MAX_EMPTY_STEPS = 500


@dataclass
class _Ewma:
    """Exponentially weighted mean and variance of bucket counts."""

    mean: float = 0.0
    var: float = 0.0
    n: int = 0

    def add(self, x: float, alpha: float) -> None:
        if self.n == 0:
            self.mean, self.var = x, 0.0
        else:
            diff = x - self.mean
            incr = alpha * diff
            self.mean += incr
            self.var = (1.0 - alpha) * (self.var + diff * incr)
        self.n += 1

    def add_zeros(self, count: int, alpha: float) -> None:
        for _ in range(min(count, _MAX_EMPTY_STEPS)):
            self.add(0.0, alpha)
        self.n += max(0, count - _MAX_EMPTY_STEPS)

    def std(self) -> float:
        return max(math.sqrt(max(self.var, 0.0)), math.sqrt(max(self.mean, 0.0)), 1.0)


@dataclass
class _Key:
    """What the detector remembers about one (principal, model) key."""

    bucket: int
    count: int = 0
    flagged: bool = False
    baseline: _Ewma = field(default_factory=_Ewma)
    times: deque[float] = field(default_factory=deque)


def _epoch(at: datetime) -> float:
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.timestamp()


class VolumeDetector(Detector):
    """Request volume far above a principal's learned baseline, and short bursts.

    Args:
        bucket_seconds: Width of a counting bucket, in seconds of ``event.at``.
        alpha: EWMA smoothing factor of the bucket-count baseline (weight of the newest
            bucket); 0.1 remembers roughly the last 10-20 buckets.
        warmup_buckets: Buckets (empty ones included) a key must have seen before its
            own baseline is trusted; before that the population baseline is used.
        population_warmup_buckets: Buckets the population baseline must have seen, from
            at least ``min_population`` keys, before it judges anyone.
        min_population: Keys that must have contributed to the population baseline.
        min_z: z-score of the bucket count from which volume is flagged.
        min_count: Smallest bucket count ever flagged as volume (absolute floor).
        burst_events: Events within ``burst_seconds`` that make a burst (0 disables).
        burst_seconds: Width of the sliding burst window, in seconds.
        max_keys: Keys kept (least recently seen keys are forgotten first).
    """

    id: ClassVar[str] = "AIP-DET-VOLUME"
    description: ClassVar[str] = (
        "Request volume per principal and model far above its learned EWMA baseline "
        "(or the population's, for new principals), and short request bursts."
    )
    frameworks: ClassVar[tuple[str, ...]] = (
        "owasp-llm:LLM10",
        "atlas:AML.T0029",
        "atlas:AML.T0034",
    )
    severity: ClassVar[Severity] = Severity.MEDIUM
    needs_embeddings: ClassVar[bool] = False

    def __init__(
        self,
        *,
        bucket_seconds: float = 300.0,
        alpha: float = 0.1,
        warmup_buckets: int = 12,
        population_warmup_buckets: int = 24,
        min_population: int = 3,
        min_z: float = 4.0,
        min_count: int = 30,
        burst_events: int = 20,
        burst_seconds: float = 10.0,
        max_keys: int = 5000,
    ) -> None:
        if bucket_seconds <= 0 or burst_seconds <= 0:
            raise ValueError("bucket_seconds and burst_seconds must be positive")
        if not 0.0 < alpha <= 1.0:
            raise ValueError("alpha must be in (0, 1]")
        if max_keys < 1 or burst_events < 0 or min_count < 1:
            raise ValueError("max_keys and min_count must be >= 1, burst_events >= 0")
        self.bucket_seconds = float(bucket_seconds)
        self.alpha = alpha
        self.warmup_buckets = warmup_buckets
        self.population_warmup_buckets = population_warmup_buckets
        self.min_population = min_population
        self.min_z = min_z
        self.min_count = min_count
        self.burst_events = burst_events
        self.burst_seconds = float(burst_seconds)
        self.max_keys = max_keys
        self._keys: OrderedDict[tuple[str, str], _Key] = OrderedDict()
        self._population = _Ewma()
        self._contributors = 0

    def __len__(self) -> int:
        """Number of keys currently remembered (never more than ``max_keys``)."""
        return len(self._keys)

    # ---------------------------------------------------------------- public

    def detect(
        self, event: Event, *, embeddings: Sequence[Sequence[float]] | None = None
    ) -> list[Detection]:
        """Count ``event`` in its key's bucket; a detection when volume or a burst shows."""
        key = (event.principal or "(anonymous)", event.model or "(unknown model)")
        ts = _epoch(event.at)
        bucket = math.floor(ts / self.bucket_seconds)
        state = self._touch(key, bucket)
        if bucket > state.bucket:
            self._close(state, bucket)
        # A late event (clock skew, out-of-order log) counts in the current bucket.
        state.count += 1
        times = state.times
        if self.burst_events:
            times.append(max(ts, times[-1]) if times else ts)
        if state.flagged:
            return []
        found = self._volume(event, key, state) or self._burst(event, key, state)
        if found is None:
            return []
        state.flagged = True
        return [found]

    # ---------------------------------------------------------------- state

    def _touch(self, key: tuple[str, str], bucket: int) -> _Key:
        state = self._keys.get(key)
        if state is None:
            state = _Key(bucket=bucket, times=deque(maxlen=max(self.burst_events, 1)))
            self._keys[key] = state
            while len(self._keys) > self.max_keys:
                self._keys.popitem(last=False)
        else:
            self._keys.move_to_end(key)
        return state

    def _close(self, state: _Key, bucket: int) -> None:
        """Fold the finished bucket and the empty ones after it into the baselines."""
        if state.baseline.n == 0:
            self._contributors += 1
        empty = bucket - state.bucket - 1
        for ewma in (state.baseline, self._population):
            ewma.add(float(state.count), self.alpha)
            ewma.add_zeros(empty, self.alpha)
        state.bucket, state.count, state.flagged = bucket, 0, False

    # ---------------------------------------------------------------- rules

    def _volume(self, event: Event, key: tuple[str, str], state: _Key) -> Detection | None:
        if state.count < self.min_count:
            return None
        if state.baseline.n >= self.warmup_buckets:
            base, scope = state.baseline, "principal"
        elif (
            self._population.n >= self.population_warmup_buckets
            and self._contributors >= self.min_population
        ):
            base, scope = self._population, "population"
        else:
            return None
        std = base.std()
        z = (state.count - base.mean) / std
        if z < self.min_z:
            return None
        score = 0.5 + 0.5 * math.tanh((z - self.min_z) / self.min_z)
        whose = "this principal's" if scope == "principal" else "the population's (new principal)"
        return Detection(
            detector=self.id,
            event_id=event.id,
            score=round(min(1.0, max(0.0, score)), 4),
            severity=self.severity,
            title=f"Unusual request volume from {key[0]} to {key[1]}",
            evidence=[
                f"{state.count} requests in the current {self.bucket_seconds:g}-second bucket",
                f"{whose} baseline is {base.mean:.2f} ± {std:.2f} per bucket "
                f"over {base.n} buckets (z = {z:.1f}, threshold {self.min_z:g})",
            ],
            tags=[*self.frameworks, "kind:volume", f"baseline:{scope}"],
            figures={
                "observed_count": float(state.count),
                "baseline_mean": round(base.mean, 4),
                "baseline_std": round(std, 4),
                "z": round(z, 4),
                "bucket_seconds": self.bucket_seconds,
                "baseline_buckets": float(base.n),
                "population_baseline": 1.0 if scope == "population" else 0.0,
            },
        )

    def _burst(self, event: Event, key: tuple[str, str], state: _Key) -> Detection | None:
        times = state.times
        if not self.burst_events or len(times) < self.burst_events:
            return None
        span = times[-1] - times[0]
        if span > self.burst_seconds:
            return None
        speedup = self.burst_seconds / max(span, 1e-3)
        score = 0.5 + 0.5 * math.tanh(speedup - 1.0)
        return Detection(
            detector=self.id,
            event_id=event.id,
            score=round(min(1.0, max(0.0, score)), 4),
            severity=self.severity,
            title=f"Request burst from {key[0]} to {key[1]}",
            evidence=[
                f"{len(times)} requests within {span:.1f} seconds "
                f"(threshold {self.burst_events} within {self.burst_seconds:g} seconds)",
            ],
            tags=[*self.frameworks, "kind:burst"],
            figures={
                "burst_events": float(len(times)),
                "burst_span_seconds": round(span, 3),
                "burst_window_seconds": self.burst_seconds,
                "observed_count": float(state.count),
                "bucket_seconds": self.bucket_seconds,
            },
        )
