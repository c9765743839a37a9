"""AIP-DET-EXTRACTION: PRADA's distance test, templating rate and coverage per principal.

Real all-MiniLM-L6-v2 embeddings of generated traffic (``extraction_traffic``, a few
hundred texts embedded once per module) for the end-to-end verdicts; numpy vectors for
the statistics and the bounds.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from scipy import stats

from aiposture.monitor.detectors.extraction import ExtractionDetector
from aiposture.monitor.detectors.extraction import _Key as ExtractionKey
from aiposture.monitor.models import Detection, Event
from extraction_traffic import BENIGN_QUESTIONS, extraction_queries

ATTACK_COUNT = 250
GRID = [
    f"Is a {s} with {a} {p} worth buying?"
    for s in ("movie", "laptop")
    for a in ("great", "terrible", "okay", "amazing", "awful", "decent", "superb", "average")
    for p in ("price", "service", "battery", "plot", "staff", "sound", "design", "delivery")
][:120]


@pytest.fixture(scope="module")
def vectors() -> dict[str, list[float]]:
    """Embedding of every text the tests send, computed once."""
    from aiposture.embeddings.embedder import get_embedder

    texts = list(dict.fromkeys([*BENIGN_QUESTIONS, *extraction_queries(ATTACK_COUNT), *GRID]))
    encoded = get_embedder().encode(texts)
    return {t: [float(x) for x in v] for t, v in zip(texts, encoded, strict=True)}


def _send(
    det: ExtractionDetector,
    principal: str,
    prompts: Sequence[str],
    vectors: dict[str, list[float]],
) -> list[tuple[int, Detection]]:
    out = []
    for i, prompt in enumerate(prompts):
        event = Event(id=f"{principal}-{i}", principal=principal, model="m", prompt=prompt)
        out.extend((i, d) for d in det.detect(event, embeddings=[vectors[prompt]]))
    return out


def _benign_day(det: ExtractionDetector, vectors: dict[str, list[float]]) -> list[Detection]:
    found = []
    for p in range(6):
        order = random.Random(p).sample(BENIGN_QUESTIONS, len(BENIGN_QUESTIONS))
        found.extend(d for _, d in _send(det, f"user{p}", order, vectors))
    return found


def test_benign_principals_are_not_flagged(vectors: dict[str, list[float]]) -> None:
    det = ExtractionDetector()
    assert _benign_day(det, vectors) == []
    assert len(det) == 6


def test_systematic_probing_is_flagged_with_its_figures(vectors: dict[str, list[float]]) -> None:
    det = ExtractionDetector()
    assert _benign_day(det, vectors) == []
    found = _send(det, "scraper", extraction_queries(ATTACK_COUNT), vectors)
    assert found, "the extraction attempt went unnoticed"
    first_index, first = found[0]
    assert first.detector == "AIP-DET-EXTRACTION"
    assert first.event_id == f"scraper-{first_index}"
    assert "atlas:AML.T0024.002" in first.tags and "owasp-llm:LLM10" in first.tags
    f = first.figures
    for name in ("shapiro_w", "delta", "distances", "distance_mean", "distance_std"):
        assert name in f
    assert f["delta"] == 0.90
    assert f["templated_rate"] >= 0.3 or f["shapiro_w"] < 0.90
    # Natural questions sit about 1.2 apart; the probes sit much closer together.
    assert f["distance_mean"] < 0.9
    # Coverage against the six benign principals, who spread over more buckets.
    assert f["coverage_ratio"] < 1.0
    assert f["coverage_reference"] > f["coverage"]
    assert 0.5 <= first.score <= 1.0
    # Detected well before the end of the attempt.
    assert first_index < 200


def test_grid_probing_fails_the_prada_normality_test(vectors: dict[str, list[float]]) -> None:
    det = ExtractionDetector(max_templated=1.0)  # the PRADA rule alone
    found = _send(det, "grid", GRID, vectors)
    assert found
    assert all("rule:prada" in d.tags and d.figures["shapiro_w"] < 0.90 for _, d in found)


def test_one_detection_at_most_per_test_window(vectors: dict[str, list[float]]) -> None:
    det = ExtractionDetector(max_templated=1.0)
    found = _send(det, "grid", GRID, vectors)
    indexes = [i for i, _ in found]
    # Tests run at |D| = 50 (event 50) and every 10 queries after.
    assert all((i - 50) % 10 == 0 for i in indexes)
    assert len(indexes) == len(set(indexes)) <= (len(GRID) - 50) // 10 + 1


def _unit(rng: np.random.Generator, n: int, dim: int = 32) -> np.ndarray:
    v = rng.standard_normal((n, dim))
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _feed(
    det: ExtractionDetector, principal: str, rows: np.ndarray, spacing: float = 10.0
) -> list[Detection]:
    out = []
    t0 = datetime(2026, 11, 2, 9, tzinfo=UTC)
    for i, v in enumerate(rows):
        at = t0 + timedelta(seconds=spacing * i)
        event = Event(id=f"{principal}-{i}", at=at, principal=principal, prompt=f"q{i}")
        out.extend(det.detect(event, embeddings=[v.tolist()]))
    return out


def test_reported_w_is_the_shapiro_wilk_of_the_minimum_distances() -> None:
    rng = np.random.default_rng(0)
    rows = _unit(rng, 60)
    det = ExtractionDetector(delta=1.0)  # every test reports
    found = _feed(det, "u", rows)
    assert len(found) == 1  # 60 queries: |D| = 59, one test at |D| = 50
    expected = [
        min(float(np.linalg.norm(rows[i] - rows[j])) for j in range(i)) for i in range(1, 51)
    ]
    first = found[0]
    assert first.figures["distances"] == 50.0
    assert first.figures["shapiro_w"] == pytest.approx(stats.shapiro(expected).statistic, abs=1e-4)
    assert first.figures["distance_mean"] == pytest.approx(np.mean(expected), abs=1e-4)
    assert first.figures["distance_std"] == pytest.approx(np.std(expected), abs=1e-4)


def test_random_queries_pass_and_a_lattice_of_probes_fails() -> None:
    rng = np.random.default_rng(1)
    det = ExtractionDetector()
    assert _feed(det, "natural", _unit(rng, 200)) == []
    # Probes on a grid around one seed: most minimum distances are one step,
    # a few are long jumps between grid regions.
    seed = _unit(rng, 1)[0]
    steps = np.eye(32)[:4] * 0.05
    grid = [seed + a * steps[0] + b * steps[1] for a in range(12) for b in range(12)]
    found = _feed(det, "prober", np.array(grid))
    assert found and found[0].figures["shapiro_w"] < 0.90


def test_warm_up_returns_nothing() -> None:
    det = ExtractionDetector(delta=1.0, max_templated=0.01)  # would flag anything tested
    rows = np.tile(_unit(np.random.default_rng(2), 1), (50, 1))
    assert _feed(det, "u", rows) == []  # 50 queries -> |D| = 49 < 50


def test_events_without_a_prompt_or_embeddings_are_skipped() -> None:
    det = ExtractionDetector()
    assert det.detect(Event(id="e", prompt="", response="x"), embeddings=[[1.0, 0.0]]) == []
    assert det.detect(Event(id="e", prompt="hello"), embeddings=None) == []
    assert len(det) == 0


def test_an_embedding_of_another_dimension_is_refused() -> None:
    det = ExtractionDetector()
    det.detect(Event(id="a", prompt="x"), embeddings=[[1.0, 0.0, 0.0]])
    with pytest.raises(ValueError, match="dimensions"):
        det.detect(Event(id="b", prompt="y"), embeddings=[[1.0, 0.0]])


def test_state_stays_bounded_with_ten_thousand_keys() -> None:
    rng = np.random.default_rng(3)
    det = ExtractionDetector(max_keys=500, max_history=100, max_distances=80, max_vectors=2000)
    rows = _unit(rng, 10_000, dim=8)
    for i, v in enumerate(rows):
        det.detect(Event(id=str(i), principal=f"p{i}", prompt="q"), embeddings=[v.tolist()])
    assert len(det) == 500
    _feed(det, "heavy", _unit(rng, 300, dim=8))
    heavy: ExtractionKey = det._keys[("heavy", "(unknown model)")]
    assert heavy.size == 100 and len(heavy.vectors) <= 100
    assert len(heavy.distances) == 80
    assert det.stored_vectors <= 2000
    assert det.stored_vectors == sum(k.size for k in det._keys.values())


def test_replay_gives_the_same_detections() -> None:
    rows = np.repeat(_unit(np.random.default_rng(4), 30), 4, axis=0)
    first = _feed(ExtractionDetector(), "u", rows)
    second = _feed(ExtractionDetector(), "u", rows)
    assert first and first == second
    assert "rule:templated" in first[0].tags


def test_slow_templated_traffic_is_not_flagged_but_the_same_queries_fast_are() -> None:
    rows = np.repeat(_unit(np.random.default_rng(4), 30), 4, axis=0)
    # one query every 5 minutes: 12 an hour, below the 30 an extraction needs
    assert _feed(ExtractionDetector(), "router", rows, spacing=300.0) == []
    fast = _feed(ExtractionDetector(), "router", rows, spacing=10.0)
    assert fast and fast[0].figures["queries_per_hour"] == pytest.approx(360.0)
