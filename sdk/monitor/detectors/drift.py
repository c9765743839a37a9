"""Behaviour drift of a model: its outputs now versus a reference window.

:class:`DriftDetector` keeps, per model (key = ``event.asset_id or event.model or
event.application``), two windows of interactions:

* the **reference window** — the first ``reference_size`` events of the model. It is
  frozen once full, so a slow drift cannot drag the reference along with it. After an
  operator has reviewed a drift and accepts the new behaviour, :meth:`DriftDetector.reset`
  forgets the key and the next ``reference_size`` events become its new reference;
* the **current window** — the most recent ``current_size`` events (a ring buffer).

Once both are full, every ``test_every`` events it compares them on five signals:

* **output embeddings** (``embedding``) — the response's vector (``embeddings[1]`` of
  ``event.texts()``): unbiased MMD² with a Gaussian RBF kernel whose bandwidth is the
  median heuristic on the joint sample, and a permutation p-value
  (:func:`mmd_permutation_test`; the joint kernel matrix is built once and the
  permutations are evaluated together as one matrix product);
* **refusal rate** (``refusal``) — :func:`is_refusal` on answered events, Fisher's exact
  test;
* **output length** (``length``) — characters of answered responses, Mann-Whitney U;
* **latency** (``latency``) — ``latency_ms``, Mann-Whitney U;
* **error rate** (``error``) — events with ``error`` set, Fisher's exact test.

Errored events count only towards the error rate (their empty response would otherwise
move length, refusals and embeddings too). A signal with fewer than ``min_samples``
values in either window, or constant across both windows (no refusals at all, say),
cannot reject and is left out of the test. The p-values of the signals tested are
Holm-adjusted; drift is flagged when the smallest adjusted p-value is below ``alpha``, so
one test raises a false alarm with probability at most ``alpha`` when nothing changed.

**One alert per drift.** After a flag the key is *disarmed*: it is tested as before but
raises nothing until it is re-armed, either by a test whose smallest adjusted p-value is
at least ``rearm_p`` (clearly no drift; the gap between ``alpha`` and ``rearm_p`` is a
hysteresis so a borderline drift does not alert on every other test) or once
``rearm_after`` events have entered the current window since the flag (a drift that
persists is reported again, at most once per ``rearm_after`` events).

State is bounded: at most ``max_keys`` models (least recently seen dropped first), each
with two fixed-size windows (embeddings held as float16: about 0.3 MB per model with the
defaults). Decisions depend only on the order of events, never on the wall clock, and
the permutations come from a generator seeded by ``seed``, the key and the test number,
so a replayed log gives the same detections as the live traffic did.
"""

from __future__ import annotations

import math
import re
import zlib
from collections import OrderedDict
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from functools import cache
from importlib import import_module
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from aiposture.models import Severity
from aiposture.monitor.base import Detector
from aiposture.monitor.models import Detection, Event

__all__ = [
    "SIGNALS",
    "DriftDetector",
    "DriftReport",
    "SignalTest",
    "holm",
    "is_refusal",
    "mmd_permutation_test",
]

#: The signals compared, in report order.
SIGNALS: tuple[str, ...] = ("embedding", "refusal", "length", "latency", "error")

_FloatArray = npt.NDArray[np.float64]

# --------------------------------------------------------------------------
# Refusals

#: English refusal phrasings, searched in the first characters of a response.
_REFUSAL_PATTERNS: tuple[str, ...] = (
    r"\bI(?:'m| am) (?:very |so |really |truly )?(?:sorry|afraid),? but\b",
    r"\bI(?: can't| cannot| can not| won't| will not| am unable to|'m unable to"
    r"| am not able to|'m not able to| must decline to| have to decline to)"
    r" (?:help|assist|provide|comply|do that|do this|fulfil|fulfill|support|answer|share"
    r"|create|generate|write|give|offer|engage|discuss|continue)\b(?!\s+but\b)",
    r"\bI(?:'m| am) not (?:able|allowed|permitted|comfortable) to\b",
    r"\bI (?:must|have to|need to) (?:decline|refuse)\b",
    r"\bas an AI(?: language model| assistant| model)?,",
    r"\bas an AI (?:language model|assistant|model)\b",
    r"\b(?:this|that|your) request (?:goes against|violates|is against|breaches)\b",
    r"\bagainst (?:my|our) (?:guidelines|policies|policy|usage polic|content polic)",
)
_REFUSAL = re.compile("|".join(f"(?:{p})" for p in _REFUSAL_PATTERNS), re.IGNORECASE)
#: Refusals come first; a long answer that merely quotes one further down is no refusal.
_REFUSAL_HEAD = 300


def is_refusal(text: str) -> bool:
    """Whether a response reads as a refusal (English phrasings, first 300 characters).

    Args:
        text: The model's response.

    Returns:
        True when one of the refusal phrasings ("I can't help with", "I'm sorry, but",
        "as an AI language model", "I must decline"...) opens the response.
    """
    head = text[:_REFUSAL_HEAD].replace("\u2019", "'").replace("\u2018", "'")
    return _REFUSAL.search(head) is not None


# --------------------------------------------------------------------------
# Statistics


def _rbf_kernel(z: npt.NDArray[np.float32]) -> npt.NDArray[np.float32] | None:
    """Gaussian kernel matrix of the rows of ``z``, median-heuristic bandwidth; None if flat."""
    t = len(z)
    sq = np.einsum("ij,ij->i", z, z)
    d2 = z @ z.T
    d2 *= -2.0
    d2 += sq[:, None]
    d2 += sq[None, :]
    np.maximum(d2, 0.0, out=d2)
    np.fill_diagonal(d2, 0.0)
    # The off-diagonal entries: drop the first one, then the diagonal ends every row.
    off = d2.ravel()[1:].reshape(t - 1, t + 1)[:, :-1]
    median = float(np.median(off))
    if not median > 0.0:
        return None
    # exp(-d² / (2σ²)) with σ² = median / 2: the scale of a typical pairwise distance.
    d2 *= np.float32(-1.0 / median)
    kernel: npt.NDArray[np.float32] = np.exp(d2, out=d2)
    return kernel


@cache
def _blas_controller() -> Any:
    try:
        threadpoolctl = import_module("threadpoolctl")
    except ImportError:  # it comes with scikit-learn; without it BLAS keeps its threads
        return None
    return threadpoolctl.ThreadpoolController()


def _one_blas_thread() -> AbstractContextManager[Any]:
    """Limit BLAS to one thread: the matrices are small, and on busy shared cores
    multi-threaded OpenBLAS made one test 20 times slower in a trial on 2 cores."""
    controller = _blas_controller()
    if controller is None:
        return nullcontext()
    limited: AbstractContextManager[Any] = controller.limit(limits=1, user_api="blas")
    return limited


def _mmd2_from_forms(q: _FloatArray, r: _FloatArray, total: float, n: int, m: int) -> _FloatArray:
    """Unbiased MMD² from ``q = aᵀKa`` and ``r = aᵀK1`` (``a`` marks the first sample)."""
    xx = (q - n) / (n * (n - 1))
    yy = (total - 2.0 * r + q - m) / (m * (m - 1))
    xy = (r - q) / (n * m)
    result: _FloatArray = xx + yy - 2.0 * xy
    return result


def mmd_permutation_test(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    *,
    permutations: int = 200,
    max_permutations: int = 10_000,
    min_exceedances: int = 10,
    stop_below: float = 0.0,
    rng: np.random.Generator | None = None,
) -> tuple[float, float, int]:
    """Two-sample test of ``x`` against ``y`` by unbiased MMD² and permutations.

    The kernel is a Gaussian RBF whose bandwidth is the median pairwise distance of the
    joint sample (it does not depend on the split, so permuting keeps the test exact).
    The joint kernel matrix is built once; a permutation is a 0/1 vector ``a`` marking
    the rows given to the first sample, and MMD² needs only ``aᵀKa`` and ``aᵀK1``, so a
    batch of permutations is one matrix product. Permutations are sequential (Besag and
    Clifford): after the first ``permutations``, more are drawn in batches until
    ``min_exceedances`` permuted statistics reach the observed one or
    ``max_permutations`` have been drawn — a clear no-drift stops early, and a small
    p-value is resolved down to ``1 / (max_permutations + 1)``.

    Args:
        x: First sample, shape (n, d), n >= 2.
        y: Second sample, shape (m, d), m >= 2.
        permutations: Permutations of the first batch.
        max_permutations: Upper bound on the permutations drawn in total.
        min_exceedances: Stop once this many permuted statistics reach the observed one.
        stop_below: Stop once the p-value is certainly below this (enough to decide a
            test at that level; 0 resolves it to the floor).
        rng: Random generator (a seeded one makes the p-value reproducible).

    Returns:
        ``(mmd2, p_value, permutations_drawn)``; ``(0.0, 1.0, 0)`` when every point is
        the same.

    Raises:
        ValueError: A sample has fewer than two rows or the shapes do not match.
    """
    xa = np.asarray(x, dtype=np.float32)
    ya = np.asarray(y, dtype=np.float32)
    if xa.ndim != 2 or ya.ndim != 2 or xa.shape[1] != ya.shape[1]:
        raise ValueError(f"samples must be 2-D with equal width, got {xa.shape} and {ya.shape}")
    n, m = len(xa), len(ya)
    if n < 2 or m < 2:
        raise ValueError(f"each sample needs at least two rows, got {n} and {m}")
    with _one_blas_thread():
        return _permutation_test(
            xa, ya, permutations, max_permutations, min_exceedances, stop_below, rng
        )


def _permutation_test(
    xa: npt.NDArray[np.float32],
    ya: npt.NDArray[np.float32],
    permutations: int,
    max_permutations: int,
    min_exceedances: int,
    stop_below: float,
    rng: np.random.Generator | None,
) -> tuple[float, float, int]:
    n, m = len(xa), len(ya)
    kernel = _rbf_kernel(np.vstack([xa, ya]))
    if kernel is None:
        return 0.0, 1.0, 0
    gen = rng if rng is not None else np.random.default_rng()
    t = n + m
    row_sums = kernel.sum(axis=1, dtype=np.float64)
    total = float(row_sums.sum())
    q_obs = float(kernel[:n, :n].sum(dtype=np.float64))
    r_obs = float(row_sums[:n].sum())
    observed = float(_mmd2_from_forms(np.array([q_obs]), np.array([r_obs]), total, n, m)[0])
    # Rounding in float32 sums must not turn a tie into a win for the observed value.
    tolerance = 1e-6 * max(abs(observed), 1e-6)
    drawn = exceed = 0
    batch = max(1, permutations)
    while drawn < max(1, max_permutations):
        size = min(batch, max_permutations - drawn)
        keys = gen.random((size, t))
        cut = np.partition(keys, n - 1, axis=1)[:, n - 1 : n]
        marks = (keys <= cut).astype(np.float32)
        q = np.einsum("pt,pt->p", marks @ kernel, marks, dtype=np.float64)
        r = marks.astype(np.float64) @ row_sums
        stats = _mmd2_from_forms(q, r, total, n, m)
        exceed += int(np.count_nonzero(stats >= observed - tolerance))
        drawn += size
        if exceed >= min_exceedances or (exceed + 1) / (drawn + 1) < stop_below:
            break
        batch = max(batch, 2_000)
    return observed, (exceed + 1) / (drawn + 1), drawn


def _scipy_stats() -> Any:
    # Loaded lazily (scipy comes with sentence-transformers) and typed as Any: scipy ships
    # no type stubs.
    return import_module("scipy.stats")


def _fisher(a: int, n: int, b: int, m: int) -> float:
    """Two-sided p-value of Fisher's exact test of a/n against b/m."""
    table = [[a, n - a], [b, m - b]]
    return float(_scipy_stats().fisher_exact(table, alternative="two-sided")[1])


def _mann_whitney(x: _FloatArray, y: _FloatArray) -> float:
    """Two-sided p-value of the Mann-Whitney U test (normal approximation, tie-corrected)."""
    res = _scipy_stats().mannwhitneyu(x, y, alternative="two-sided", method="asymptotic")
    return float(res.pvalue)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjustment of p-values (family-wise error control).

    Args:
        p_values: Raw p-values.

    Returns:
        Adjusted p-values in the same order; the smallest is ``len(p) * min(p)``.
    """
    k = len(p_values)
    order = sorted(range(k), key=lambda i: p_values[i])
    adjusted = [1.0] * k
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (k - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


# --------------------------------------------------------------------------
# Windows and state


class _Window:
    """Fixed-size columns of per-event signals; a ring once full, or frozen."""

    def __init__(self, capacity: int, *, ring: bool) -> None:
        self.capacity = capacity
        self.ring = ring
        self.count = 0
        self.added = 0
        self._pos = 0
        self.error = np.zeros(capacity, dtype=bool)
        self.refusal = np.zeros(capacity, dtype=bool)
        self.length = np.full(capacity, np.nan)
        self.latency = np.full(capacity, np.nan)
        self.has_vector = np.zeros(capacity, dtype=bool)
        self.vectors: npt.NDArray[np.float16] | None = None

    @property
    def full(self) -> bool:
        return self.count >= self.capacity

    def add(
        self,
        *,
        error: bool,
        refusal: bool,
        length: float,
        latency: float,
        vector: npt.NDArray[np.float32] | None,
    ) -> None:
        if self.full and not self.ring:
            return
        i = self._pos
        self.error[i] = error
        self.refusal[i] = refusal
        self.length[i] = length
        self.latency[i] = latency
        if vector is not None and self.vectors is None:
            self.vectors = np.zeros((self.capacity, len(vector)), dtype=np.float16)
        if vector is not None and self.vectors is not None and len(vector) == self.vectors.shape[1]:
            self.vectors[i] = vector
            self.has_vector[i] = True
        else:
            self.has_vector[i] = False
        self._pos = (i + 1) % self.capacity
        self.count = min(self.count + 1, self.capacity)
        self.added += 1


@dataclass
class _KeyState:
    reference: _Window
    current: _Window
    tests: int = 0
    armed: bool = True
    flagged_at: int = 0


@dataclass(frozen=True)
class SignalTest:
    """One signal's comparison of the reference and current windows.

    Attributes:
        signal: One of :data:`SIGNALS`.
        p_value: Raw two-sided p-value.
        p_adjusted: Holm-adjusted p-value across the signals tested.
        reference: The reference window's summary (rate, mean length, median latency...).
        current: The current window's summary.
        statistic: The test statistic (MMD² for embeddings, else the difference of the
            summaries).
        samples: Values in (reference, current).
    """

    signal: str
    p_value: float
    p_adjusted: float
    reference: float
    current: float
    statistic: float
    samples: tuple[int, int]


@dataclass(frozen=True)
class DriftReport:
    """The outcome of one drift test of one key.

    Attributes:
        key: The model key.
        signals: The signals tested, in :data:`SIGNALS` order.
        skipped: Signals left out (no data, or constant in both windows).
        alpha: Significance level of the test.
        permutations: Permutations drawn by the embedding test (0 if not run).
        figures: The numbers shown in an alert (p-values, window summaries, MMD²).
    """

    key: str
    signals: tuple[SignalTest, ...]
    skipped: tuple[str, ...]
    alpha: float
    permutations: int = 0
    figures: dict[str, float] = field(default_factory=dict)

    @property
    def min_p_adjusted(self) -> float:
        """Smallest adjusted p-value (1.0 when no signal could be tested)."""
        return min((s.p_adjusted for s in self.signals), default=1.0)

    @property
    def drift(self) -> bool:
        """Whether the smallest adjusted p-value is below ``alpha``."""
        return self.min_p_adjusted < self.alpha

    @property
    def drifted(self) -> tuple[SignalTest, ...]:
        """The signals whose adjusted p-value is below ``alpha``, most significant first."""
        return tuple(
            sorted((s for s in self.signals if s.p_adjusted < self.alpha), key=lambda s: s.p_value)
        )


# --------------------------------------------------------------------------
# The detector


class DriftDetector(Detector):
    """Behaviour drift of a model: output embeddings, refusals, length, latency, errors.

    Args:
        reference_size: Events in the reference window (the first events of a model;
            frozen once full until :meth:`reset`).
        current_size: Events in the current window (the most recent ones).
        test_every: Events between two tests once both windows are full.
        alpha: Family-wise significance level of one test (the false-alarm probability
            of a test when nothing changed). Small by default: false alarms per day
            matter more than a few tests of delay.
        rearm_p: After a flag, a test whose smallest adjusted p-value is at least this
            re-arms the key.
        rearm_after: After a flag, the key is re-armed anyway once this many events have
            entered the current window (``None``: ``reference_size``).
        permutations: Permutations of the embedding test's first batch.
        max_permutations: Most permutations of one embedding test (its smallest
            p-value is ``1 / (max_permutations + 1)``; keep it above ``5 / alpha`` so the
            embedding signal alone can reach significance after adjustment).
        min_samples: Fewest values a signal needs in each window to be tested.
        max_keys: Models tracked at once; the least recently seen is forgotten first.
        seed: Seed of the permutations (with the key and the test number).
    """

    id: ClassVar[str] = "AIP-DET-DRIFT"
    description: ClassVar[str] = (
        "Behaviour drift of a model: its recent outputs (embeddings, refusal rate, length, "
        "latency, error rate) differ from a reference window, with Holm-adjusted p-values."
    )
    frameworks: ClassVar[tuple[str, ...]] = (
        "nist-ai-rmf:MEASURE-2.4",
        "nist-ai-rmf:MANAGE-4.1",
        "owasp-llm:LLM09",
    )
    severity: ClassVar[Severity] = Severity.MEDIUM
    needs_embeddings: ClassVar[bool] = True

    def __init__(
        self,
        *,
        reference_size: int = 200,
        current_size: int = 200,
        test_every: int = 50,
        alpha: float = 0.001,
        rearm_p: float = 0.05,
        rearm_after: int | None = None,
        permutations: int = 200,
        max_permutations: int = 10_000,
        min_samples: int = 20,
        max_keys: int = 256,
        seed: int = 0,
    ) -> None:
        if min(reference_size, current_size) < 2 or test_every < 1 or max_keys < 1:
            raise ValueError("window sizes must be >= 2, test_every and max_keys >= 1")
        if not 0.0 < alpha < 1.0 or not alpha <= rearm_p <= 1.0:
            raise ValueError("need 0 < alpha <= rearm_p <= 1")
        self.reference_size = reference_size
        self.current_size = current_size
        self.test_every = test_every
        self.alpha = alpha
        self.rearm_p = rearm_p
        self.rearm_after = rearm_after if rearm_after is not None else reference_size
        self.permutations = permutations
        self.max_permutations = max(max_permutations, permutations)
        self.min_samples = max(2, min_samples)
        self.max_keys = max_keys
        self.seed = seed
        self._states: OrderedDict[str, _KeyState] = OrderedDict()

    # -- state ------------------------------------------------------------

    @staticmethod
    def key_of(event: Event) -> str:
        """The model key of an event: its asset, else its model name, else its application."""
        return event.asset_id or event.model or event.application or "(unlabelled)"

    @property
    def keys(self) -> list[str]:
        """Keys tracked now, least recently seen first."""
        return list(self._states)

    def reset(self, key: str) -> bool:
        """Forget a key: its next events build a new reference window.

        Use it once a drift has been reviewed and the new behaviour is accepted.

        Returns:
            Whether the key was tracked.
        """
        return self._states.pop(key, None) is not None

    def _state(self, key: str) -> _KeyState:
        st = self._states.get(key)
        if st is None:
            st = _KeyState(
                _Window(self.reference_size, ring=False), _Window(self.current_size, ring=True)
            )
            self._states[key] = st
            while len(self._states) > self.max_keys:
                self._states.popitem(last=False)
        else:
            self._states.move_to_end(key)
        return st

    # -- detection --------------------------------------------------------

    def detect(
        self, event: Event, *, embeddings: Sequence[Sequence[float]] | None = None
    ) -> list[Detection]:
        """Add the event to its model's windows and test for drift when one is due.

        Returns:
            One detection when this event's test finds drift and the key is armed;
            otherwise (warm-up, no test due, no drift, disarmed) nothing.
        """
        key = self.key_of(event)
        st = self._state(key)
        window = st.current if st.reference.full else st.reference
        failed = event.error is not None
        window.add(
            error=failed,
            refusal=not failed and is_refusal(event.response),
            length=math.nan if failed else float(len(event.response)),
            latency=math.nan if event.latency_ms is None else float(event.latency_ms),
            vector=None if failed else _response_vector(embeddings),
        )
        if window is st.reference or not st.current.full:
            return []
        if (st.current.added - self.current_size) % self.test_every:
            return []
        report = self._test(key, st)
        if not st.armed and st.current.added - st.flagged_at >= self.rearm_after:
            st.armed = True
        if not report.drift:
            if report.min_p_adjusted >= self.rearm_p:
                st.armed = True
            return []
        if not st.armed:
            return []
        st.armed = False
        st.flagged_at = st.current.added
        return [self._detection(event, report)]

    def check(self, key: str) -> DriftReport | None:
        """Test one key now, whatever the schedule (None while its windows fill).

        Does not change the alerting state.
        """
        st = self._states.get(key)
        if st is None or not st.current.full:
            return None
        return self._test(key, st)

    def _test(self, key: str, st: _KeyState) -> DriftReport:
        st.tests += 1
        ref, cur = st.reference, st.current
        raw: list[tuple[str, float, float, float, float, tuple[int, int]]] = []
        skipped: list[str] = []
        drawn = 0

        ok_r, ok_c = ~ref.error[: ref.count], ~cur.error[: cur.count]
        scalar = (
            self._rate_test(
                "refusal", ref.refusal[: ref.count][ok_r], cur.refusal[: cur.count][ok_c]
            ),
            self._rank_test("length", ref.length[: ref.count], cur.length[: cur.count], "mean"),
            self._rank_test(
                "latency", ref.latency[: ref.count], cur.latency[: cur.count], "median"
            ),
            self._rate_test("error", ref.error[: ref.count], cur.error[: cur.count]),
        )

        # Output embeddings: permutations stop once the p-value is small enough to be
        # significant after the adjustment over every signal tested.
        xv = _vectors(ref)
        yv = _vectors(cur)
        if xv is not None and yv is not None and min(len(xv), len(yv)) >= self.min_samples:
            tested = 1 + sum(outcome is not None for outcome in scalar)
            mmd2, p, drawn = mmd_permutation_test(
                xv,
                yv,
                permutations=self.permutations,
                max_permutations=self.max_permutations,
                stop_below=self.alpha / tested,
                rng=np.random.default_rng([self.seed, zlib.crc32(key.encode()), st.tests]),
            )
            if drawn:
                raw.append(("embedding", p, 0.0, 0.0, mmd2, (len(xv), len(yv))))
            else:
                skipped.append("embedding")
        else:
            skipped.append("embedding")

        for name, outcome in zip(SIGNALS[1:], scalar, strict=True):
            if outcome is None:
                skipped.append(name)
            else:
                raw.append(outcome)

        adjusted = holm([r[1] for r in raw])
        signals = tuple(
            SignalTest(name, p, adj, a, b, stat, n)
            for (name, p, a, b, stat, n), adj in zip(raw, adjusted, strict=True)
        )
        return DriftReport(
            key=key,
            signals=signals,
            skipped=tuple(skipped),
            alpha=self.alpha,
            permutations=drawn,
            figures=self._figures(signals, ref, cur, drawn),
        )

    def _rate_test(
        self, name: str, x: npt.NDArray[np.bool_], y: npt.NDArray[np.bool_]
    ) -> tuple[str, float, float, float, float, tuple[int, int]] | None:
        n, m = len(x), len(y)
        if min(n, m) < self.min_samples:
            return None
        a, b = int(x.sum()), int(y.sum())
        if a + b in (0, n + m):
            return None
        p = _fisher(a, n, b, m)
        return name, p, a / n, b / m, b / m - a / n, (n, m)

    def _rank_test(
        self, name: str, x: _FloatArray, y: _FloatArray, summary: str
    ) -> tuple[str, float, float, float, float, tuple[int, int]] | None:
        x, y = x[~np.isnan(x)], y[~np.isnan(y)]
        if min(len(x), len(y)) < self.min_samples:
            return None
        if np.ptp(np.concatenate([x, y])) == 0:
            return None
        p = _mann_whitney(x, y)
        stat = np.mean if summary == "mean" else np.median
        a, b = float(stat(x)), float(stat(y))
        return name, p, a, b, b - a, (len(x), len(y))

    def _figures(
        self, signals: Sequence[SignalTest], ref: _Window, cur: _Window, drawn: int
    ) -> dict[str, float]:
        names = {
            "refusal": "refusal_rate",
            "length": "mean_length",
            "latency": "median_latency_ms",
            "error": "error_rate",
        }
        figures: dict[str, float] = {
            "reference_size": float(ref.count),
            "current_size": float(cur.count),
            "alpha": self.alpha,
        }
        for s in signals:
            figures[f"p_{s.signal}"] = s.p_value
            figures[f"p_adjusted_{s.signal}"] = s.p_adjusted
            if s.signal == "embedding":
                figures["mmd2"] = s.statistic
                figures["permutations"] = float(drawn)
            else:
                figures[f"reference_{names[s.signal]}"] = s.reference
                figures[f"current_{names[s.signal]}"] = s.current
        figures["p_adjusted_min"] = min((s.p_adjusted for s in signals), default=1.0)
        return figures

    def _detection(self, event: Event, report: DriftReport) -> Detection:
        drifted = report.drifted
        evidence = [_describe(s, report.permutations) for s in drifted]
        evidence.append(
            f"reference: first {report.figures['reference_size']:.0f} events of the model; "
            f"current: last {report.figures['current_size']:.0f} events; p-values "
            f"Holm-adjusted across {len(report.signals)} signals, alpha={self.alpha:g}"
        )
        if report.skipped:
            evidence.append(f"not tested (no data or constant): {', '.join(report.skipped)}")
        return Detection(
            detector=self.id,
            event_id=event.id,
            score=max(0.0, min(1.0, 1.0 - report.min_p_adjusted)),
            severity=self.severity,
            title=f"Behaviour drift of {report.key}: {', '.join(s.signal for s in drifted)}",
            evidence=evidence,
            tags=[*self.frameworks, *(f"signal:{s.signal}" for s in drifted)],
            figures=report.figures,
            scope="model",
        )


def _response_vector(
    embeddings: Sequence[Sequence[float]] | None,
) -> npt.NDArray[np.float32] | None:
    if embeddings is None or len(embeddings) < 2:
        return None
    try:
        vec = np.asarray(embeddings[1], dtype=np.float32)
    except (TypeError, ValueError):
        return None
    if vec.ndim != 1 or len(vec) == 0 or not np.all(np.isfinite(vec)):
        return None
    return vec


def _vectors(window: _Window) -> npt.NDArray[np.float32] | None:
    if window.vectors is None:
        return None
    rows = window.vectors[: window.count][window.has_vector[: window.count]]
    return rows.astype(np.float32)


def _p_text(p: float, *, at_floor: bool = False) -> str:
    if at_floor:
        return f"p<={p:.1e}"
    if p <= 0.0:
        return "p<1e-300"
    return f"p={p:.1e}"


def _describe(s: SignalTest, permutations: int) -> str:
    def verb(a: float, b: float) -> str:
        return "rose" if b > a else "fell" if b < a else "changed"

    p = _p_text(s.p_adjusted)
    if s.signal == "embedding":
        # No permuted statistic reached the observed one: the p-value is a bound.
        at_floor = s.p_value * (permutations + 1) <= 1.0 + 1e-9
        return (
            f"output embeddings shifted: MMD²={s.statistic:.4f} "
            f"({_p_text(s.p_adjusted, at_floor=at_floor)}, {permutations} permutations)"
        )
    if s.signal in ("refusal", "error"):
        what = "refusal rate" if s.signal == "refusal" else "error rate"
        return (
            f"{what} {verb(s.reference, s.current)} from {s.reference:.1%} to {s.current:.1%} ({p})"
        )
    if s.signal == "length":
        return (
            f"mean output length {verb(s.reference, s.current)} from {s.reference:,.0f} to "
            f"{s.current:,.0f} characters ({p})"
        )
    return (
        f"median latency {verb(s.reference, s.current)} from {s.reference:,.0f} ms to "
        f"{s.current:,.0f} ms ({p})"
    )
