"""AIP-DET-DRIFT: behaviour drift between a reference window and the current one.

Most tests feed synthetic traffic: response embeddings drawn around cluster centres on
the unit sphere (numpy, seeded), and scalar signals (refusals, lengths, latencies,
errors) drawn from known distributions, so the drift and its start are known exactly.
One test runs the real embedder on texts written for it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import pytest

from aiposture.models import Severity
from aiposture.monitor.detectors.drift import (
    DriftDetector,
    holm,
    is_refusal,
    mmd_permutation_test,
)
from aiposture.monitor.models import Detection, Event

DIM = 48
ANSWER = "Your booking is confirmed for the 14th; the confirmation was sent by e-mail."
REFUSAL = "I'm sorry, but I can't help with that request."


def _unit(rows: np.ndarray) -> np.ndarray:
    out: np.ndarray = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    return out


@dataclass
class Traffic:
    """One model's synthetic behaviour: cluster weights, refusal rate, latency, errors."""

    weights: tuple[float, ...] = (0.5, 0.5, 0.0)
    refusal_rate: float = 0.0
    latency_median: float | None = None
    error_rate: float = 0.0
    length: tuple[int, int] | None = None


class Generator:
    """Seeded synthetic events for one key; the cluster centres are fixed per seed."""

    def __init__(self, seed: int, key: str = "asset:chat-model", dim: int = DIM) -> None:
        self.rng = np.random.default_rng(seed)
        self.centres = _unit(self.rng.standard_normal((3, dim)))
        self.key = key
        self.dim = dim
        self.count = 0

    def events(self, n: int, t: Traffic) -> Iterator[tuple[Event, list[list[float]]]]:
        for _ in range(n):
            self.count += 1
            cluster = self.rng.choice(3, p=np.array(t.weights) / sum(t.weights))
            vec = _unit(
                (
                    self.centres[cluster]
                    + 0.6 * self.rng.standard_normal(self.dim) / np.sqrt(self.dim)
                )[None, :]
            )[0]
            refused = self.rng.random() < t.refusal_rate
            failed = self.rng.random() < t.error_rate
            response = REFUSAL if refused else ANSWER
            if t.length is not None and not refused:
                response = "x" * int(self.rng.integers(*t.length))
            latency = (
                None
                if t.latency_median is None
                else float(t.latency_median * self.rng.lognormal(0.0, 0.3))
            )
            event = Event(
                id=f"{self.key}-{self.count}",
                asset_id=self.key,
                prompt="question",
                response="" if failed else response,
                latency_ms=latency,
                error="HTTP 503" if failed else None,
            )
            yield event, [[0.0] * self.dim, vec.tolist()]


def feed(
    detector: DriftDetector, stream: Iterator[tuple[Event, list[list[float]]]]
) -> list[tuple[int, Detection]]:
    """Run the detector over a stream; the detections with the position of their event."""
    found: list[tuple[int, Detection]] = []
    for i, (event, vectors) in enumerate(stream):
        for det in detector.detect(event, embeddings=vectors):
            found.append((i, det))
    return found


def run(
    detector: DriftDetector, gen: Generator, *phases: tuple[int, Traffic]
) -> list[tuple[int, Detection]]:
    found: list[tuple[int, Detection]] = []
    offset = 0
    for n, traffic in phases:
        found += [(offset + i, d) for i, d in feed(detector, gen.events(n, traffic))]
        offset += n
    return found


BASE = Traffic(refusal_rate=0.03, latency_median=400.0, error_rate=0.01, length=(200, 900))


# --------------------------------------------------------------------------
# Statistics


def test_mmd_permutation_test_separates_shifted_samples_from_same_distribution() -> None:
    rng = np.random.default_rng(7)
    centre = _unit(rng.standard_normal((2, DIM)))
    x = _unit(centre[0] + 0.8 * rng.standard_normal((150, DIM)) / np.sqrt(DIM))
    same = _unit(centre[0] + 0.8 * rng.standard_normal((150, DIM)) / np.sqrt(DIM))
    moved = _unit(
        np.vstack(
            [
                centre[0] + 0.8 * rng.standard_normal((100, DIM)) / np.sqrt(DIM),
                centre[1] + 0.8 * rng.standard_normal((50, DIM)) / np.sqrt(DIM),
            ]
        )
    )
    mmd_same, p_same, drawn_same = mmd_permutation_test(x, same, rng=np.random.default_rng(0))
    mmd_moved, p_moved, drawn_moved = mmd_permutation_test(x, moved, rng=np.random.default_rng(0))
    assert p_same > 0.05 and drawn_same == 200  # a clear no stops after the first batch
    assert abs(mmd_same) < mmd_moved
    # No permuted statistic reaches the shifted one: the p-value is the resolution floor.
    assert drawn_moved == 10_000 and p_moved == pytest.approx(1 / 10_001)


def test_mmd_permutation_p_values_are_calibrated_under_no_drift() -> None:
    rng = np.random.default_rng(11)
    centre = _unit(rng.standard_normal((1, DIM)))[0]
    p_values = []
    for i in range(60):
        sample = _unit(centre + rng.standard_normal((160, DIM)) / np.sqrt(DIM))
        p_values.append(
            mmd_permutation_test(sample[:80], sample[80:], rng=np.random.default_rng(i))[1]
        )
    below = np.mean(np.array(p_values) < 0.1)
    assert 0.0 < below <= 0.2  # about 10% expected; never zero nor far above


def test_mmd_permutation_test_handles_identical_points_and_rejects_bad_shapes() -> None:
    flat = np.ones((5, 3))
    assert mmd_permutation_test(flat, flat) == (0.0, 1.0, 0)
    with pytest.raises(ValueError, match="equal width"):
        mmd_permutation_test(np.ones((5, 3)), np.ones((5, 4)))
    with pytest.raises(ValueError, match="two rows"):
        mmd_permutation_test(np.ones((1, 3)), np.ones((5, 3)))


def test_holm_adjustment_is_step_down_and_monotone() -> None:
    assert holm([0.01, 0.04, 0.03, 0.5]) == pytest.approx([0.04, 0.09, 0.09, 0.5])
    assert holm([]) == []
    assert holm([0.6, 0.6]) == [1.0, 1.0]


@pytest.mark.parametrize(
    ("text", "refusal"),
    [
        ("I can't help with that request.", True),
        ("I\u2019m sorry, but I cannot share the customer's address.", True),
        ("As an AI language model, I do not hold opinions on elections.", True),
        ("I must decline to write that script.", True),
        ("I'm not able to give medical dosages.", True),
        ("Unfortunately that request violates the usage rules, so no.", True),
        ("This request goes against my guidelines.", True),
        ("I can't help but notice the invoice total is wrong: it should be 40 EUR.", False),
        ("Sure, I can help with that. Here is the itinerary.", False),
        ("As an AI researcher, Dana published three papers on retrieval.", False),
        ("Sorry for the wait! Your refund was processed on Monday.", False),
        ("Here is the full answer. " * 20 + "Quote: 'I can't help with that.'", False),
    ],
)
def test_is_refusal_reads_opening_refusals_and_ignores_lookalikes(text: str, refusal: bool) -> None:
    assert is_refusal(text) is refusal


# --------------------------------------------------------------------------
# The detector on synthetic traffic


def test_shifted_output_embeddings_are_flagged_with_p_below_alpha() -> None:
    det = DriftDetector()
    gen = Generator(1)
    found = run(
        det,
        gen,
        (200, Traffic()),
        (200, Traffic(weights=(0.5, 0.5, 0.0))),
        (200, Traffic(weights=(0.2, 0.3, 0.5))),
    )
    assert found, "the new output cluster was not noticed"
    pos, d = found[0]
    assert 400 < pos <= 600  # after the change, not before
    assert d.detector == "AIP-DET-DRIFT" and d.severity is Severity.MEDIUM
    assert d.title == "Behaviour drift of asset:chat-model: embedding"
    assert "signal:embedding" in d.tags and "nist-ai-rmf:MEASURE-2.4" in d.tags
    assert d.figures["p_adjusted_embedding"] < 0.001 and d.figures["mmd2"] > 0
    assert d.figures["reference_size"] == 200 and d.figures["current_size"] == 200
    assert d.evidence[0].startswith("output embeddings shifted: MMD²=")
    # Same answer text, no latency, no errors: the scalar signals could not be tested.
    assert d.evidence[-1] == "not tested (no data or constant): refusal, length, latency, error"
    assert d.event_id == f"asset:chat-model-{pos + 1}"


def test_false_alarm_rate_over_independent_no_drift_runs_is_low() -> None:
    alarms = 0
    smallest: list[float] = []
    for seed in range(20):
        det = DriftDetector()
        gen = Generator(100 + seed)
        alarms += len(run(det, gen, (600, BASE)))  # 200 reference, 5 tests on 400 events
        report = det.check("asset:chat-model")
        assert report is not None
        # The error signal is left out of a run whose windows hold no error at all.
        assert {s.signal for s in report.signals} >= {"embedding", "refusal", "length", "latency"}
        smallest.append(report.min_p_adjusted)
    assert alarms == 0  # 100 tests at alpha = 0.001
    assert np.median(smallest) > 0.05


def test_refusal_rate_rise_is_flagged_and_named() -> None:
    det = DriftDetector()
    found = run(
        det, Generator(2), (400, BASE), (200, Traffic(**{**BASE.__dict__, "refusal_rate": 0.3}))
    )
    assert len(found) == 1
    d = found[0][1]
    assert "signal:refusal" in d.tags and "signal:embedding" not in d.tags
    assert "refusal" in d.title
    assert d.evidence[0].startswith("refusal rate rose from ")
    # Flagged before the current window is all drift: its rate is between the two.
    assert d.figures["reference_refusal_rate"] < 0.06 < 0.12 < d.figures["current_refusal_rate"]
    assert d.figures["p_adjusted_refusal"] < 0.001


def test_latency_rise_is_flagged_and_named() -> None:
    det = DriftDetector()
    slow = Traffic(**{**BASE.__dict__, "latency_median": 650.0})
    found = run(det, Generator(3), (400, BASE), (200, slow))
    assert [d.title for _, d in found] == ["Behaviour drift of asset:chat-model: latency"]
    d = found[0][1]
    assert d.evidence[0].startswith("median latency rose from ")
    assert 350 < d.figures["reference_median_latency_ms"] < 450
    assert d.figures["current_median_latency_ms"] > d.figures["reference_median_latency_ms"]


def test_shorter_outputs_are_flagged_as_a_length_drop() -> None:
    det = DriftDetector()
    terse = Traffic(**{**BASE.__dict__, "length": (100, 500)})
    found = run(det, Generator(4), (400, BASE), (200, terse))
    assert len(found) == 1
    d = found[0][1]
    assert "signal:length" in d.tags
    assert d.evidence[0].startswith("mean output length fell from ")
    assert d.figures["current_mean_length"] < d.figures["reference_mean_length"]


def test_error_rate_rise_is_flagged_without_moving_length_or_refusals() -> None:
    det = DriftDetector()
    failing = Traffic(**{**BASE.__dict__, "error_rate": 0.25})
    found = run(det, Generator(5), (400, BASE), (200, failing))
    assert len(found) == 1
    d = found[0][1]
    assert [t for t in d.tags if t.startswith("signal:")] == ["signal:error"]
    assert d.evidence[0].startswith("error rate rose from ")
    # Errored events have empty responses; they are kept out of the length signal.
    assert d.figures["p_adjusted_length"] > 0.001


def test_no_detection_during_warm_up_even_when_behaviour_is_wildly_different() -> None:
    det = DriftDetector()
    gen = Generator(6)
    odd = Traffic(weights=(0.0, 0.0, 1.0), refusal_rate=0.9, latency_median=5000.0)
    assert run(det, gen, (200, BASE), (199, odd)) == []
    assert det.check("asset:chat-model") is None  # the current window is not full yet
    # The 200th event of the current window completes it: the first test flags at once.
    assert len(feed(det, gen.events(1, odd))) == 1


def test_a_lasting_drift_gives_one_alert_then_rearms_after_a_clean_test() -> None:
    det = DriftDetector(rearm_after=10_000)
    gen = Generator(7)
    refusing = Traffic(**{**BASE.__dict__, "refusal_rate": 0.4})
    found = run(det, gen, (400, BASE), (600, refusing), (400, BASE), (300, refusing))
    positions = [p for p, _ in found]
    assert len(positions) == 2, positions
    assert 400 < positions[0] < 1000  # the first drift, once for its 600 events
    assert positions[1] > 1400  # the second drift, after the return to normal re-armed


def test_a_lasting_drift_is_reported_again_after_rearm_after_events() -> None:
    det = DriftDetector(rearm_after=200)
    refusing = Traffic(**{**BASE.__dict__, "refusal_rate": 0.5})
    positions = [p for p, _ in run(det, Generator(8), (400, BASE), (800, refusing))]
    assert len(positions) >= 3
    assert all(b - a >= 200 for a, b in pairwise(positions))


def test_missing_latency_is_skipped_and_reported() -> None:
    det = DriftDetector()
    no_latency = Traffic(refusal_rate=0.02, error_rate=0.01, length=(200, 900))
    found = run(
        det,
        Generator(9),
        (400, no_latency),
        (200, Traffic(**{**no_latency.__dict__, "refusal_rate": 0.35})),
    )
    assert len(found) == 1
    d = found[0][1]
    assert "p_latency" not in d.figures and "reference_median_latency_ms" not in d.figures
    assert d.evidence[-1] == "not tested (no data or constant): latency"
    assert "p_refusal" in d.figures and "p_embedding" in d.figures


def test_events_without_embeddings_still_test_the_scalar_signals() -> None:
    det = DriftDetector()
    gen = Generator(10)
    refusing = Traffic(**{**BASE.__dict__, "refusal_rate": 0.4})
    found = []
    for i, (event, _) in enumerate([*gen.events(400, BASE), *gen.events(200, refusing)]):
        bad = None if i % 2 else [[0.0], [float("nan"), 1.0]]  # none, or not finite
        found += det.detect(event, embeddings=bad)
    assert len(found) == 1
    assert "p_embedding" not in found[0].figures and "signal:refusal" in found[0].tags


def test_keys_are_bounded_and_least_recent_are_forgotten() -> None:
    det = DriftDetector(max_keys=50, reference_size=20, current_size=20)
    for k in range(500):
        gen = Generator(k % 3, key=f"model-{k}", dim=8)
        feed(det, gen.events(3, BASE))
    assert len(det.keys) == 50
    assert det.keys == [f"model-{k}" for k in range(450, 500)]
    # A forgotten key starts again from an empty reference window.
    gen = Generator(0, key="model-0", dim=8)
    feed(det, gen.events(39, BASE))
    assert det.check("model-0") is None


def test_key_falls_back_from_asset_to_model_to_application() -> None:
    assert DriftDetector.key_of(Event(id="1", asset_id="a", model="m", application="x")) == "a"
    assert DriftDetector.key_of(Event(id="2", model="m", application="x")) == "m"
    assert DriftDetector.key_of(Event(id="3", application="x")) == "x"


def test_models_are_tracked_separately() -> None:
    det = DriftDetector()
    calm, drifting = Generator(12, key="calm"), Generator(13, key="drifting")
    refusing = Traffic(**{**BASE.__dict__, "refusal_rate": 0.4})
    found = []
    for (e1, v1), (e2, v2) in zip(
        calm.events(600, BASE),
        [*drifting.events(400, BASE), *drifting.events(200, refusing)],
        strict=True,
    ):
        found += det.detect(e1, embeddings=v1) + det.detect(e2, embeddings=v2)
    assert [d.title for d in found] == ["Behaviour drift of drifting: refusal"]


def test_reset_makes_the_new_behaviour_the_reference() -> None:
    det = DriftDetector(rearm_after=200)
    gen = Generator(14)
    refusing = Traffic(**{**BASE.__dict__, "refusal_rate": 0.4})
    assert len(run(det, gen, (400, BASE), (200, refusing))) == 1
    assert det.reset("asset:chat-model") is True and det.reset("asset:chat-model") is False
    assert run(det, gen, (800, refusing)) == []


def test_same_input_gives_the_same_detections() -> None:
    def once() -> list[dict[str, object]]:
        det = DriftDetector()
        moved = Traffic(**{**BASE.__dict__, "weights": (0.2, 0.3, 0.5)})
        return [d.model_dump() for _, d in run(det, Generator(15), (400, BASE), (300, moved))]

    first = once()
    assert first and first == once()


def test_invalid_parameters_are_refused() -> None:
    with pytest.raises(ValueError):
        DriftDetector(reference_size=1)
    with pytest.raises(ValueError):
        DriftDetector(alpha=0.1, rearm_p=0.05)


# --------------------------------------------------------------------------
# The real embedder, through the detector engine

_REFERENCE_REPLIES = [
    "Your flight to {city} leaves at {hour}:15 from terminal {n}; check-in closes an hour earlier.",
    "I have moved your hotel stay in {city} to the {n}th; the room rate is unchanged.",
    "The train to {city} departs at {hour}:40; your seat is in coach {n}.",
    "Your rental car will be ready at {city} airport at {hour}:00, desk {n}.",
    "Travel insurance for the {city} trip covers cancellations up to {n} days before.",
]
_DRIFTED_REPLIES = [
    "```python\ndef total_{n}(items):\n    return sum(i.price for i in items)  # {city}\n```",
    "Run `pip install package-{n}` then `python -m build` in the {city} folder.",
    "The stack trace points to line {n} of {city}.py: a None is passed to len().",
    "Use `git rebase -i HEAD~{n}` to squash the commits on the {city} branch.",
    "SELECT * FROM orders WHERE region = '{city}' AND total > {n}00;",
]
_CITIES = ["Lisbon", "Oslo", "Kyoto", "Lima", "Nairobi", "Dublin", "Perth", "Quito"]


def _replies(templates: list[str], count: int, seed: int) -> Iterator[str]:
    rng = np.random.default_rng(seed)
    for _ in range(count):
        template = templates[int(rng.integers(len(templates)))]
        yield template.format(
            city=_CITIES[int(rng.integers(len(_CITIES)))],
            hour=int(rng.integers(6, 22)),
            n=int(rng.integers(2, 30)),
        )


def test_real_embeddings_find_a_change_of_topic_and_style() -> None:
    from aiposture.embeddings.embedder import get_embedder

    detector = DriftDetector(reference_size=100, current_size=100, test_every=25)
    replies = [
        *_replies(_REFERENCE_REPLIES, 150, seed=1),
        *_replies(_DRIFTED_REPLIES, 80, seed=2),
    ]
    # What the detector engine passes: vectors of event.texts() = [prompt, response],
    # here computed in one batch (the prompt is the same for every event).
    vectors = get_embedder().encode(["Can you help me?", *replies]).tolist()
    found: list[tuple[int, Detection]] = []
    for i, reply in enumerate(replies):
        event = Event(
            id=f"e{i}", model="travel-assistant", prompt="Can you help me?", response=reply
        )
        found += [(i, d) for d in detector.detect(event, embeddings=[vectors[0], vectors[i + 1]])]
    assert len(found) == 1, [d.title for _, d in found]
    pos, d = found[0]
    assert 150 < pos < 230  # after the change of topic
    assert "signal:embedding" in d.tags
    assert d.figures["p_adjusted_embedding"] < 0.001
    assert len(vectors[1]) == 384
