"""The synthetic traffic generator: deterministic, diurnal, varied, with labelled incidents."""

from __future__ import annotations

import base64
import json
import re
import statistics
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from aiposture.monitor.ingest import IngestStats, read_jsonl
from aiposture.monitor.models import Event
from aiposture.monitor.traffic import (
    INCIDENT_KINDS,
    JSONL_MAPPING,
    Traffic,
    generate_traffic,
)

START = datetime(2026, 11, 2, tzinfo=UTC)
REFUSAL = re.compile(r"\b(can't|cannot|unable|not able)\b", re.IGNORECASE)
URL = re.compile(r"https?://[^\s)\"']+")


@pytest.fixture(scope="module")
def day() -> Traffic:
    return generate_traffic(start=START, days=1, events_per_day=1500, attacks=True, seed=7)


@pytest.fixture(scope="module")
def quiet_day() -> Traffic:
    return generate_traffic(start=START, days=1, events_per_day=1500, attacks=False, seed=7)


def _dump(t: Traffic) -> list[dict[str, object]]:
    return [e.model_dump() for e in t.events]


def test_same_seed_gives_the_same_events_and_labels_another_seed_does_not(day: Traffic) -> None:
    again = generate_traffic(start=START, days=1, events_per_day=1500, attacks=True, seed=7)
    assert _dump(again) == _dump(day)
    assert again.truth == day.truth
    assert again.incidents == day.incidents
    other = generate_traffic(start=START, days=1, events_per_day=1500, attacks=True, seed=8)
    assert [e.prompt for e in other.events[:50]] != [e.prompt for e in day.events[:50]]


def test_events_are_time_ordered_with_unique_stable_ids_inside_the_day(day: Traffic) -> None:
    times = [e.at for e in day.events]
    assert times == sorted(times)
    assert [e.id for e in day.events] == [f"evt-{n:06d}" for n in range(len(day.events))]
    assert set(day.truth) == {e.id for e in day.events}
    assert all(START <= e.at < START + timedelta(days=1) for e in day.events)
    assert {e.source for e in day.events} == {"generated"}
    benign_volume = sum(1 for label in day.truth.values() if label in ("benign", "drift"))
    assert 1350 <= benign_volume <= 1650


def test_events_per_day_scales_the_benign_volume() -> None:
    small = generate_traffic(start=START, events_per_day=300, attacks=False, seed=3)
    large = generate_traffic(start=START, events_per_day=3000, attacks=False, seed=3)
    assert 250 <= len(small.events) <= 350
    assert 2750 <= len(large.events) <= 3250


def test_business_hours_are_busier_than_the_night(quiet_day: Traffic) -> None:
    by_hour = Counter(e.at.hour for e in quiet_day.events)
    assert by_hour[11] > 3 * by_hour[3]
    assert by_hour[10] + by_hour[11] + by_hour[14] > 3 * (by_hour[2] + by_hour[3] + by_hour[4])
    assert by_hour[3] > 0  # services run at night too


def test_every_event_carries_the_fields_of_its_application(day: Traffic) -> None:
    models = {
        "support-bot": "gpt-4o-mini",
        "code-assistant": "claude-3-5-sonnet",
        "hr-assistant": "llama-3.1-8b-instruct",
        "sentiment-api": "distilbert-sentiment",
    }
    for e in day.events:
        assert e.principal and e.application in models
        assert e.model == models[e.application]
        assert e.input_tokens and e.input_tokens > 0
        assert e.output_tokens is not None and e.latency_ms is not None and e.latency_ms > 0
        if e.application == "hr-assistant":
            assert e.retrieved and e.system
        if e.error:
            assert e.response == "" and e.output_tokens == 0
    principals = {e.principal for e in day.labelled("benign")}
    assert 22 <= len(principals) <= 30
    assert any(p and p.startswith("svc-") for p in principals)
    assert any(e.tool_calls for e in day.events)
    assert 0 < sum(1 for e in day.events if e.error) < 0.05 * len(day.events)


def test_incidents_stay_in_their_windows_with_their_principal_and_label(day: Traffic) -> None:
    assert [i.kind for i in day.incidents] == list(INCIDENT_KINDS)
    for incident in day.incidents:
        events = day.labelled(incident.kind)
        assert events, incident.kind
        for e in events:
            assert incident.start <= e.at < incident.end
            assert e.model == incident.model and e.application == incident.application
            if incident.principal is not None:
                assert e.principal == incident.principal
        if incident.principal is not None:
            # Every event of the attacker in its window belongs to the incident.
            assert all(
                day.truth[e.id] == incident.kind
                for e in day.events
                if e.principal == incident.principal
            )
    counts = Counter(day.truth.values())
    assert 30 <= counts["injection"] <= 60
    assert 3 <= counts["indirect-injection"] <= 5
    assert 4 <= counts["exfiltration"] <= 7
    assert 300 <= counts["extraction"] <= 600


def test_attacks_false_is_the_same_benign_traffic_without_incidents(
    day: Traffic, quiet_day: Traffic
) -> None:
    assert quiet_day.incidents == []
    assert set(quiet_day.truth.values()) == {"benign"}

    def key(e: Event) -> tuple[object, ...]:
        return (e.at, e.principal, e.prompt)

    kept = {key(e) for e in day.events if day.truth[e.id] in ("benign", "drift")}
    assert kept == {key(e) for e in quiet_day.events}


def test_attacks_can_name_the_kinds_to_include() -> None:
    t = generate_traffic(start=START, events_per_day=200, attacks=["extraction"], seed=1)
    assert [i.kind for i in t.incidents] == ["extraction"]
    assert set(t.truth.values()) == {"benign", "extraction"}
    with pytest.raises(ValueError, match="unknown attack kinds"):
        generate_traffic(start=START, attacks=["phishing"])


def test_several_days_repeat_the_pattern_and_attack_only_on_the_last_day() -> None:
    t = generate_traffic(start=START, days=3, events_per_day=600, seed=5)
    per_day = Counter((e.at - START).days for e in t.events if t.truth[e.id] == "benign")
    assert all(450 <= per_day[d] <= 750 for d in range(3))
    last = START + timedelta(days=2)
    assert all(e.at >= last for e in t.events if t.truth[e.id] != "benign")
    assert all(i.start >= last for i in t.incidents)
    drift = t.incident("drift")
    assert drift is not None and drift.end == START + timedelta(days=3)
    early = generate_traffic(start=START, days=3, events_per_day=600, seed=5, attack_day=0)
    assert all(i.start < START + timedelta(days=1) for i in early.incidents)


def test_schedule_moves_an_incident() -> None:
    t = generate_traffic(
        start=START,
        events_per_day=300,
        attacks=["injection"],
        schedule={"injection": (timedelta(hours=2), timedelta(minutes=20))},
        seed=2,
    )
    incident = t.incident("injection")
    assert incident is not None
    assert (incident.start, incident.end) == (
        START + timedelta(hours=2),
        START + timedelta(hours=2, minutes=20),
    )
    assert all(e.at.hour == 2 for e in t.labelled("injection"))


def test_jsonl_round_trip_gives_equal_events_and_no_labels(day: Traffic, tmp_path: Path) -> None:
    path = day.to_jsonl(tmp_path / "traffic.jsonl")
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(day.events)
    assert all(set(json.loads(line)) == set(Event.model_fields) for line in lines)
    stats = IngestStats(str(path))
    back = list(read_jsonl(path, JSONL_MAPPING, stats=stats))
    assert not stats.skipped
    assert back == day.events


def test_benign_prompts_are_varied_and_include_harmless_lookalikes(day: Traffic) -> None:
    benign = day.labelled("benign")
    assert len({e.prompt for e in benign}) / len(benign) > 0.8
    for app in ("support-bot", "code-assistant", "hr-assistant", "sentiment-api"):
        prompts = [e.prompt for e in benign if e.application == app]
        assert len(set(prompts)) / len(prompts) > 0.75, app
        # Many different first words, not one sentence with a swapped noun.
        assert len({p.split()[0] for p in prompts}) >= 5, app
    lookalike = re.compile(r"\b(ignore|bypass|override|pretend|act as|base64)\b", re.I)
    assert sum(1 for e in benign if lookalike.search(e.prompt)) >= 5


def test_benign_responses_have_realistic_lengths_and_only_company_links(day: Traffic) -> None:
    benign = [e for e in day.labelled("benign") if not e.error]
    chat = [e.output_tokens or 0 for e in benign if e.application != "sentiment-api"]
    assert 120 <= statistics.median(chat) <= 260
    assert min(e.input_tokens or 0 for e in benign) >= 5
    hosts = {urlsplit(u).hostname for e in benign for u in URL.findall(e.response + " " + e.prompt)}
    assert hosts and all(h and h.endswith("corp.example") for h in hosts)
    assert any("![" in e.response for e in benign)


def test_injection_campaign_mixes_overrides_roleplay_extraction_and_obfuscation(
    day: Traffic,
) -> None:
    prompts = [e.prompt for e in day.labelled("injection")]
    assert len(set(prompts)) >= 0.6 * len(prompts)
    assert any(re.search(r"ignore|disregard|forget", p, re.I) for p in prompts)
    assert any(re.search(r"pretend|play a game|developer mode|imagine", p, re.I) for p in prompts)
    assert any(re.search(r"instructions|system prompt|initial configuration", p) for p in prompts)
    decoded = []
    for p in prompts:
        for blob in re.findall(r"[A-Za-z0-9+/]{40,}={0,2}", p):
            decoded.append(base64.b64decode(blob).decode())
    spaced = [p for p in prompts if re.search(r"(\w ){6,}", p)]
    assert decoded or spaced
    incident = day.incident("injection")
    assert incident is not None and incident.end - incident.start == timedelta(minutes=30)
    assert incident.principal and not incident.principal.endswith("corp.example")


def test_indirect_injections_hide_in_retrieved_documents(day: Traffic) -> None:
    hidden = re.compile(r"AI assistant|LANGUAGE MODEL|assistant directive|AI systems", re.I)
    for e in day.labelled("indirect-injection"):
        assert any(hidden.search(doc) for doc in e.retrieved)
        assert not hidden.search(e.prompt)
    assert not any(hidden.search(doc) for e in day.labelled("benign") for doc in e.retrieved)


def test_exfiltration_images_carry_the_retrieved_record_to_an_outside_host(day: Traffic) -> None:
    for e in day.labelled("exfiltration"):
        images = re.findall(r"!\[[^\]]*\]\((https://[^)]+)\)", e.response)
        assert images
        parts = urlsplit(images[-1])
        assert parts.hostname and not parts.hostname.endswith("corp.example")
        data = parse_qs(parts.query)["d"][0]
        # parse_qs already undid the URL encoding; the rest is base64.
        plain = data if "email=" in data else base64.urlsafe_b64decode(data).decode()
        email = re.search(r"email=(\S+?);", plain)
        assert email is not None
        assert any(email.group(1) in doc and "image" in doc for doc in e.retrieved)


def test_extraction_principal_queries_far_faster_than_benign_principals(day: Traffic) -> None:
    incident = day.incident("extraction")
    assert incident is not None
    hours = (incident.end - incident.start).total_seconds() / 3600
    attacker_rate = len(day.labelled("extraction")) / hours
    per_principal = Counter(e.principal for e in day.labelled("benign"))
    benign_rate = statistics.median(per_principal.values()) / 24
    assert attacker_rate > 20 * benign_rate
    assert attacker_rate > 2 * max(per_principal.values()) / 24
    prompts = [e.prompt for e in day.labelled("extraction")]
    assert len(set(prompts)) > 0.5 * len(prompts)
    # Systematic: many queries share one template ("The X was Y.").
    assert sum(1 for p in prompts if re.fullmatch(r"The \w+ was [\w ]+\.", p)) >= 50


def test_drift_raises_refusals_shortens_answers_and_slows_the_model(day: Traffic) -> None:
    incident = day.incident("drift")
    assert incident is not None
    before = [
        e for e in day.events if e.model == incident.model and e.at < incident.start and not e.error
    ]
    after = [e for e in day.labelled("drift") if not e.error]
    assert len(before) >= 50 and len(after) >= 50
    assert all(
        day.truth[e.id] == "drift"
        for e in day.events
        if e.model == incident.model and e.at >= incident.start
    )

    def refusals(events: list[Event]) -> float:
        return sum(1 for e in events if REFUSAL.search(e.response[:120])) / len(events)

    assert refusals(before) < 0.08 and refusals(after) > 0.2
    assert statistics.median(e.output_tokens or 0 for e in after) < 0.5 * statistics.median(
        e.output_tokens or 0 for e in before
    )
    assert statistics.median(e.latency_ms or 0 for e in after) > statistics.median(
        e.latency_ms or 0 for e in before
    )


def test_bad_arguments_are_refused_with_a_reason() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        generate_traffic(start=datetime(2026, 11, 2))
    with pytest.raises(ValueError, match="attack_day"):
        generate_traffic(start=START, days=2, attack_day=2)
    with pytest.raises(ValueError, match="drift model"):
        generate_traffic(start=START, drift_model="gpt-2")
