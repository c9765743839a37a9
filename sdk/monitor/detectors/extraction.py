"""Model extraction by systematic probing: the PRADA test, adapted to text embeddings.

PRADA (Juuti, Szyller, Marchal and Asokan, "PRADA: Protecting against DNN Model
Stealing Attacks", IEEE EuroS&P 2019) watches, per client, the minimum distance from
each new query to the client's earlier queries. A person's queries are spread out
naturally and those distances are close to normally distributed; a client synthesising
queries to copy a model (grid-like probing, small perturbations of seed inputs) bends
the distribution, and the Shapiro-Wilk statistic ``W`` of the distance set ``D`` drops
below a threshold ``delta``.

:class:`ExtractionDetector` applies it to the prompt's embedding (``embeddings[0]``,
all-MiniLM-L6-v2, L2-normalised) per (principal, model):

* keeps the last ``max_history`` query embeddings of the key and appends the minimum
  L2 distance of each new query to them to a bounded distance set ``D``; PRADA's
  per-class growing sets need the target model's predicted class, which a text
  endpoint does not give us, so every query of the key is one set;
* once ``|D| >= min_distances``, re-tests every ``test_every`` new queries (not on every
  event) and reports at most one detection per key and test;
* flags when ``W < delta`` (the PRADA rule), or when the share of ``D`` below
  ``near_distance`` (templated or near-duplicate queries) reaches ``max_templated``.
  With a fixed embedding model the level of ``D`` means something too: synthetic
  queries built from a template with swapped words are normally distributed around a
  small distance, so PRADA's shape test alone misses them (``W`` of 0.95-0.99 on our
  generated traffic) while their near-duplicate rate is far above any person's;
* reports query-space coverage: the share of ``2 ** lsh_bits`` random-hyperplane
  buckets the key's last ``coverage_window`` queries fall into, against the median of
  the other keys' coverage at the same window size (a typical principal).

Choice of ``delta`` = 0.90 and ``near_distance`` = 0.5, from generated traffic: over
300 random orderings of 80 hand-written natural questions, tested at ``|D|`` = 50, 60,
70 and 79 (1,200 tests), ``W`` had a 1% quantile of 0.935 and a minimum of 0.901, and
no minimum distance was below 1.0; grid-like probing over a template gave ``W`` of
0.85-0.87, and a mixed synthetic attacker had 55% of its distances below 0.5.

The score combines the three signals: ``0.5`` exactly at a threshold (``W = delta`` or
templated share ``= max_templated``), rising to 1 as the evidence grows, plus up to 0.1
when coverage differs from the typical principal by a factor of two or more.

Maps to OWASP LLM10 (unbounded consumption, model theft) and MITRE ATLAS AML.T0024
(exfiltration via ML inference API) and AML.T0024.002 (extract ML model).
"""

from __future__ import annotations

import importlib
import math
from collections import OrderedDict, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from statistics import median
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from aiposture.models import Severity
from aiposture.monitor.base import Detector
from aiposture.monitor.models import Detection, Event

__all__ = ["ExtractionDetector"]

_F32 = npt.NDArray[np.float32]
#: Other keys' coverage needed before a "typical principal" exists.
_MIN_REFERENCE_KEYS = 3


def _shapiro_w(values: npt.NDArray[np.float64]) -> float:
    # scipy ships without type hints; loaded lazily and typed as Any.
    stats: Any = importlib.import_module("scipy.stats")
    return float(stats.shapiro(values).statistic)


@dataclass
class _Key:
    """Bounded memory of one (principal, model) key."""

    vectors: _F32
    sq_norms: _F32
    size: int = 0
    head: int = 0
    distances: deque[float] = field(default_factory=deque)
    buckets: deque[int] = field(default_factory=deque)
    times: deque[float] = field(default_factory=deque)
    since_test: int = 0
    coverage: float | None = None

    def add(self, vec: _F32, capacity: int) -> None:
        if self.size < capacity and self.size == len(self.vectors):
            grow = min(capacity, max(16, 2 * len(self.vectors)))
            self.vectors = np.resize(self.vectors, (grow, self.vectors.shape[1]))
            self.sq_norms = np.resize(self.sq_norms, grow)
        slot = self.size if self.size < capacity else self.head
        self.vectors[slot] = vec
        self.sq_norms[slot] = float(vec @ vec)
        if self.size < capacity:
            self.size += 1
        else:
            self.head = (self.head + 1) % capacity


class ExtractionDetector(Detector):
    """Systematic probing to copy a model: PRADA's distance test plus templating rate.

    Args:
        max_history: Query embeddings kept per key (the earlier queries each new query
            is compared with). 200 keeps a key's memory flat once it has sent 200
            queries; the first test comes at ``min_distances`` queries anyway, and
            templated probing repeats itself well within 200.
        max_distances: Minimum distances kept per key (the set ``D`` tested).
        min_distances: ``|D|`` from which the key is tested (warm-up before that).
        test_every: New queries between two tests of a key.
        delta: Shapiro-Wilk ``W`` below which the distances are not normal (attack).
        near_distance: L2 distance below which a query is a near-duplicate of an
            earlier one (0.5 is a cosine similarity of 0.875 on normalised vectors).
        max_templated: Share of ``D`` below ``near_distance`` that is flagged.
        lsh_bits: Random hyperplanes of the coverage buckets (``2 ** lsh_bits``).
        coverage_window: Latest queries of a key whose coverage is measured.
        min_rate: Queries per hour (over the key's last ``coverage_window`` queries) below
            which a key is not flagged: extraction needs many queries, and templated
            benign traffic (ticket routers, support macros) is slow next to it.
        max_keys: Keys kept (least recently seen are forgotten first).
        max_vectors: Embeddings kept over all keys; least recently seen keys are
            forgotten to stay under it (memory is about ``max_vectors * dim * 4`` bytes).
        seed: Seed of the random hyperplanes (fixed, so verdicts are reproducible).
    """

    id: ClassVar[str] = "AIP-DET-EXTRACTION"
    description: ClassVar[str] = (
        "Model extraction by systematic probing: the PRADA Shapiro-Wilk test on the "
        "minimum distances between a principal's query embeddings, the rate of "
        "templated near-duplicate queries and query-space coverage."
    )
    frameworks: ClassVar[tuple[str, ...]] = (
        "owasp-llm:LLM10",
        "atlas:AML.T0024",
        "atlas:AML.T0024.002",
    )
    severity: ClassVar[Severity] = Severity.HIGH
    needs_embeddings: ClassVar[bool] = True

    def __init__(
        self,
        *,
        max_history: int = 200,
        max_distances: int = 1000,
        min_distances: int = 50,
        test_every: int = 10,
        delta: float = 0.90,
        near_distance: float = 0.5,
        max_templated: float = 0.3,
        lsh_bits: int = 8,
        coverage_window: int = 50,
        min_rate: float = 30.0,
        max_keys: int = 5000,
        max_vectors: int = 100_000,
        seed: int = 20190617,
    ) -> None:
        if min(max_history, max_distances, test_every, max_keys, coverage_window) < 1:
            raise ValueError("sizes must be >= 1")
        if min_distances < 3 or min_distances > max_distances:
            raise ValueError("min_distances must be in [3, max_distances]")
        if not 0.0 < delta <= 1.0 or not 0.0 < max_templated <= 1.0:
            raise ValueError("delta and max_templated must be in (0, 1]")
        if not 1 <= lsh_bits <= 16:
            raise ValueError("lsh_bits must be in [1, 16]")
        self.max_history = max_history
        self.max_distances = max_distances
        self.min_distances = min_distances
        self.test_every = test_every
        self.delta = delta
        self.near_distance = near_distance
        self.max_templated = max_templated
        self.lsh_bits = lsh_bits
        self.coverage_window = coverage_window
        self.min_rate = min_rate
        self.max_keys = max_keys
        self.max_vectors = max(max_vectors, max_history)
        self.seed = seed
        self._keys: OrderedDict[tuple[str, str], _Key] = OrderedDict()
        self._planes: _F32 | None = None
        self._stored = 0

    def __len__(self) -> int:
        """Number of keys currently remembered (never more than ``max_keys``)."""
        return len(self._keys)

    @property
    def stored_vectors(self) -> int:
        """Embeddings held over all keys (never more than ``max_vectors``)."""
        return self._stored

    # ---------------------------------------------------------------- public

    def detect(
        self, event: Event, *, embeddings: Sequence[Sequence[float]] | None = None
    ) -> list[Detection]:
        """Add the prompt's embedding to its key; a detection when a due test fails.

        Raises:
            ValueError: The embedding's dimension differs from earlier ones.
        """
        if not event.prompt.strip() or not embeddings or len(embeddings[0]) == 0:
            return []
        vec = np.asarray(embeddings[0], dtype=np.float32)
        planes = self._hyperplanes(vec.shape[0])
        key = (event.principal or "(anonymous)", event.model or "(unknown model)")
        state = self._touch(key, vec.shape[0])

        if state.size:
            rows, norms = state.vectors[: state.size], state.sq_norms[: state.size]
            sq = norms + float(vec @ vec) - 2.0 * (rows @ vec)
            state.distances.append(math.sqrt(max(float(sq.min()), 0.0)))
        before = state.size
        state.add(vec, self.max_history)
        self._stored += state.size - before
        bits = (vec @ planes) > 0
        state.buckets.append(int(bits @ (1 << np.arange(self.lsh_bits))))
        state.times.append(event.at.timestamp())
        self._evict(keep=key)

        if len(state.buckets) >= self.coverage_window:
            state.coverage = len(set(state.buckets)) / min(self.coverage_window, 2**self.lsh_bits)
        if len(state.distances) < self.min_distances:
            return []
        state.since_test += 1
        if state.since_test < self.test_every and len(state.distances) > self.min_distances:
            return []
        state.since_test = 0
        found = self._test(event, key, state)
        return [found] if found is not None else []

    # ---------------------------------------------------------------- state

    def _hyperplanes(self, dim: int) -> _F32:
        if self._planes is None:
            rng = np.random.default_rng(self.seed)
            self._planes = rng.standard_normal((dim, self.lsh_bits)).astype(np.float32)
        elif self._planes.shape[0] != dim:
            raise ValueError(
                f"prompt embedding has {dim} dimensions, earlier ones had {self._planes.shape[0]}"
            )
        return self._planes

    def _touch(self, key: tuple[str, str], dim: int) -> _Key:
        state = self._keys.get(key)
        if state is None:
            state = _Key(
                vectors=np.empty((0, dim), dtype=np.float32),
                sq_norms=np.empty(0, dtype=np.float32),
                distances=deque(maxlen=self.max_distances),
                buckets=deque(maxlen=self.coverage_window),
                times=deque(maxlen=self.coverage_window),
            )
            self._keys[key] = state
        else:
            self._keys.move_to_end(key)
        return state

    def _evict(self, *, keep: tuple[str, str]) -> None:
        while len(self._keys) > 1 and (
            len(self._keys) > self.max_keys or self._stored > self.max_vectors
        ):
            oldest = next(iter(self._keys))
            if oldest == keep:
                break
            self._stored -= self._keys.pop(oldest).size

    # ---------------------------------------------------------------- test

    def _reference_coverage(self, key: tuple[str, str]) -> float | None:
        others = [s.coverage for k, s in self._keys.items() if k != key and s.coverage]
        return median(others) if len(others) >= _MIN_REFERENCE_KEYS else None

    def _test(self, event: Event, key: tuple[str, str], state: _Key) -> Detection | None:
        dist = np.fromiter(state.distances, dtype=np.float64)
        w = _shapiro_w(dist) if float(dist.std()) > 1e-9 else 0.0
        templated = float((dist < self.near_distance).mean())
        prada = w < self.delta
        many_templated = templated >= self.max_templated
        if not (prada or many_templated):
            return None
        span = state.times[-1] - state.times[0] if len(state.times) > 1 else 0.0
        rate = (len(state.times) - 1) * 3600.0 / span if span > 0 else math.inf
        if rate < self.min_rate:
            return None

        p_score = 0.5 * (1.0 - w) / (1.0 - self.delta) if self.delta < 1.0 else 1.0
        t_score = 0.5 * templated / self.max_templated
        figures = {
            "shapiro_w": round(w, 4),
            "delta": self.delta,
            "distances": float(dist.size),
            "distance_mean": round(float(dist.mean()), 4),
            "distance_std": round(float(dist.std()), 4),
            "templated_rate": round(templated, 4),
            "near_distance": self.near_distance,
            "queries_per_hour": round(rate, 1) if math.isfinite(rate) else 1e9,
            "min_rate": self.min_rate,
        }
        evidence = [
            f"Shapiro-Wilk W = {w:.3f} on {dist.size} minimum query distances "
            f"(mean {dist.mean():.3f}, std {dist.std():.3f}); PRADA threshold {self.delta:g}"
            + (" — not normally distributed" if prada else ""),
            f"{templated:.0%} of queries are within {self.near_distance:g} of an earlier one "
            f"(templated or near-duplicate; threshold {self.max_templated:.0%})",
            f"{rate:.0f} queries per hour over its last {len(state.times)} "
            f"(flagged from {self.min_rate:g})",
        ]
        c_score = 0.0
        if state.coverage is not None:
            figures["coverage"] = round(state.coverage, 4)
            reference = self._reference_coverage(key)
            if reference is not None:
                ratio = state.coverage / reference
                figures["coverage_reference"] = round(reference, 4)
                figures["coverage_ratio"] = round(ratio, 4)
                c_score = 0.1 * min(1.0, abs(math.log2(max(ratio, 1e-6))))
                evidence.append(
                    f"its last {self.coverage_window} queries fall into {state.coverage:.0%} "
                    f"of the coverage buckets they could, a typical principal's into "
                    f"{reference:.0%}"
                )
        score = min(1.0, max(p_score, t_score) + c_score)
        return Detection(
            detector=self.id,
            event_id=event.id,
            score=round(min(1.0, max(0.5, score)), 4),
            severity=self.severity,
            title=f"Model extraction probing by {key[0]} against {key[1]}",
            evidence=evidence,
            tags=[
                *self.frameworks,
                *(["rule:prada"] if prada else []),
                *(["rule:templated"] if many_templated else []),
            ],
            figures=figures,
        )
