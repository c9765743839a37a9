"""AIP-DET-VOLUME: request volume against an EWMA baseline, population fallback, bursts."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from aiposture.monitor.detectors.volume import VolumeDetector
from aiposture.monitor.models import Detection, Event

DAY0 = datetime(2025, 11, 26, tzinfo=UTC)


def _event(n: int, at: datetime, principal: str = "alice", model: str = "gpt-4o") -> Event:
    return Event(id=f"{principal}-{n}", at=at, principal=principal, model=model, prompt="hi")


def _steady_day(principal: str, seed: int, per_hour: float = 36.0) -> list[Event]:
    """A day of benign use: Poisson arrivals at ``per_hour`` (3 per 5-minute bucket)."""
    rng = random.Random(seed)
    out, t = [], 0.0
    while True:
        t += rng.expovariate(per_hour / 3600.0)
        if t >= 86_400:
            return out
        out.append(_event(len(out), DAY0 + timedelta(seconds=t), principal))


def _run(det: VolumeDetector, events: list[Event]) -> list[Detection]:
    return [d for e in events for d in det.detect(e)]


def _burst(principal: str, start: datetime, count: int, spacing: float) -> list[Event]:
    return [
        _event(10_000 + i, start + timedelta(seconds=i * spacing), principal) for i in range(count)
    ]


def test_steady_benign_traffic_over_a_day_is_not_flagged() -> None:
    det = VolumeDetector()
    events = sorted(
        (e for p in range(5) for e in _steady_day(f"user{p}", seed=p)), key=lambda e: e.at
    )
    assert len(events) > 4000
    assert _run(det, events) == []


def test_volume_spike_after_warm_up_is_flagged_once_with_its_figures() -> None:
    det = VolumeDetector(burst_events=0)
    events = _steady_day("alice", seed=1)[:200]
    assert _run(det, events) == []
    start = events[-1].at + timedelta(minutes=10)
    start = start - timedelta(seconds=start.timestamp() % 300)
    # 120 requests spread over one 5-minute bucket: one every 2.5 seconds.
    found = _run(det, _burst("alice", start, 120, spacing=2.5))
    assert len(found) == 1
    det_ = found[0]
    assert det_.detector == "AIP-DET-VOLUME"
    assert "kind:volume" in det_.tags and "baseline:principal" in det_.tags
    assert "owasp-llm:LLM10" in det_.tags
    f = det_.figures
    assert f["bucket_seconds"] == 300.0
    assert f["observed_count"] == 30.0  # flagged as soon as the floor is reached
    assert 1.0 < f["baseline_mean"] < 6.0
    assert f["z"] == pytest.approx((30 - f["baseline_mean"]) / f["baseline_std"], abs=1e-3)
    assert f["z"] >= 4.0
    assert det_.event_id == "alice-10029"
    assert 0.5 <= det_.score <= 1.0


def test_a_short_burst_is_flagged_once_per_bucket() -> None:
    det = VolumeDetector()
    start = DAY0 + timedelta(hours=3)
    found = _run(det, _burst("bot", start, 60, spacing=0.2))
    assert len(found) == 1
    (d,) = found
    assert "kind:burst" in d.tags
    assert d.figures["burst_events"] == 20.0
    assert d.figures["burst_span_seconds"] == pytest.approx(3.8)
    assert d.event_id == "bot-10019"


def test_warm_up_returns_nothing_without_a_population() -> None:
    det = VolumeDetector(burst_events=0)
    # 11 quiet buckets, then 200 requests in the 12th: too early to judge.
    quiet = [_event(i, DAY0 + timedelta(minutes=5 * i)) for i in range(11)]
    assert _run(det, quiet) == []
    assert _run(det, _burst("alice", DAY0 + timedelta(minutes=55), 200, spacing=1.4)) == []


def test_new_principal_with_a_burst_is_judged_against_the_population() -> None:
    det = VolumeDetector(burst_events=0)
    population = sorted(
        (e for p in range(4) for e in _steady_day(f"user{p}", seed=10 + p)[:150]),
        key=lambda e: e.at,
    )
    assert _run(det, population) == []
    start = population[-1].at + timedelta(minutes=5)
    found = _run(det, _burst("newcomer", start, 100, spacing=2.0))
    assert len(found) == 1
    assert "baseline:population" in found[0].tags
    assert found[0].figures["population_baseline"] == 1.0
    assert found[0].figures["baseline_mean"] < 6.0


def test_heavy_but_regular_principal_is_not_flagged_once_learned() -> None:
    det = VolumeDetector(burst_events=0)
    # 60 requests every bucket, all day: a batch job whose normal is high volume.
    events = [_event(i, DAY0 + timedelta(seconds=5 * i), principal="batch") for i in range(17_280)]
    found = _run(det, events)
    # Only the very first buckets (before the key's own baseline) could fire; none do
    # here since no population exists yet, and the learned baseline absorbs the rest.
    assert found == []


def test_state_stays_bounded_with_ten_thousand_keys() -> None:
    det = VolumeDetector(max_keys=1000)
    for i in range(10_000):
        det.detect(_event(i, DAY0 + timedelta(seconds=i), principal=f"p{i}"))
    assert len(det) == 1000
    # The most recent keys are the ones kept: p9999 is known, p0 was forgotten.
    assert ("p9999", "gpt-4o") in det._keys and ("p0", "gpt-4o") not in det._keys


def test_replay_gives_the_same_detections() -> None:
    events = sorted(
        [
            *_steady_day("alice", seed=3)[:300],
            *_burst("mallory", DAY0 + timedelta(hours=2), 50, 0.1),
        ],
        key=lambda e: e.at,
    )
    first = _run(VolumeDetector(), events)
    second = _run(VolumeDetector(), events)
    assert first and first == second


def test_naive_and_aware_times_fall_in_the_same_bucket() -> None:
    det = VolumeDetector(burst_events=5, burst_seconds=2.0)
    naive = DAY0.replace(tzinfo=None)
    evs = [_event(i, (naive if i % 2 else DAY0) + timedelta(seconds=0.1 * i)) for i in range(5)]
    assert len(_run(det, evs)) == 1


def test_invalid_parameters_are_refused() -> None:
    with pytest.raises(ValueError, match="alpha"):
        VolumeDetector(alpha=0.0)
    with pytest.raises(ValueError, match="positive"):
        VolumeDetector(bucket_seconds=0)
