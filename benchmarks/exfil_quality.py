"""Exfiltration detector quality and speed on the public secrets and PII sets.

Run alone with ``.venv/bin/python -m benchmarks.exfil_quality`` (writes
``benchmarks/results/exfil_quality.json``; ``--out DIR`` writes there instead, ``--help``
for the other options), or call :func:`run`.

What is measured:

* Secrets (``../shared/data/secrets_dev.jsonl``, detect-secrets' test fixtures labelled
  by their baseline): each fixture file is rebuilt from its lines and given to the
  detector as one response; a line is predicted positive when a ``secret`` span lies on
  it. Line-level precision and recall, for the detector as deployed (no file name, so
  the keyword rules of prose apply) and, as the reference, for
  :func:`~aiposture.discovery.secrets.find_secrets` with the fixture's file name.
* PII (``../shared/data/pii_dev.jsonl``, presidio-research synthetic sentences): span
  precision, recall and F1 per entity type, exact (same type, start and end) and overlap
  (same type, overlapping characters) matches; document-level detection against
  ``label``. Rows are split by a hash of their id: ``valid`` (about 30%) was never looked
  at while writing the recognisers and is reported separately from ``dev``. Entity types
  the detector does not recognise at all (they need NER) are listed, not scored.
* Throughput of the detector on responses of about 200 tokens (mixed prose, some with
  PII or a URL; every event's phone number, address and digest differ, so no cache
  flatters the figure), events per second and p50/p99 latency, on one core, beside two
  baselines measured in the same run: the previous PII path (presidio's recognisers on
  the whole text and its PhoneRecognizer on every digit run, :func:`previous_find_pii`)
  and the detector with no PII types at all (the floor set by the other checks). The
  run also checks that the PII spans of the current path equal the previous path's on
  every row of ``pii_dev.jsonl``.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import platform
import statistics
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

from aiposture.discovery.secrets import find_secrets
from aiposture.monitor.detectors import exfiltration
from aiposture.monitor.detectors.exfiltration import PII_ENTITIES, ExfiltrationDetector
from aiposture.monitor.models import Event

RESULTS = Path(__file__).parent / "results"
DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _split(row_id: str) -> str:
    return "valid" if int(hashlib.sha256(row_id.encode()).hexdigest(), 16) % 10 < 3 else "dev"


def _prf(tp: int, fp: int, fn: int) -> dict[str, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4)}


def _load(name: str) -> list[dict[str, Any]]:
    path = DATA / name
    if not path.is_file():
        raise FileNotFoundError(f"{path} is absent: the evaluation data is not laid out")
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def bench_secrets(detector: ExfiltrationDetector) -> dict[str, Any]:
    """Line-level precision and recall of secrets on the detect-secrets fixtures."""
    files: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in _load("secrets_dev.jsonl"):
        files[row["file"]].append(row)
    counts = {"detector": Counter[str](), "find_secrets_with_filename": Counter[str]()}
    for name, rows in files.items():
        rows.sort(key=lambda r: r["line_number"])
        text = "\n".join(r["text"] for r in rows)
        starts = [0]
        for r in rows[:-1]:
            starts.append(starts[-1] + len(r["text"]) + 1)
        det_lines: set[int] = set()
        for d in detector.detect(Event(id=name, response=text)):
            if "secret" in d.tags:
                for s in d.spans:
                    det_lines.add(sum(1 for st in starts if st <= s.start) - 1)
        ref_lines = {h.line - 1 for h in find_secrets(text, filename=name)}
        for key, predicted in (
            ("detector", det_lines),
            ("find_secrets_with_filename", ref_lines),
        ):
            for i, r in enumerate(rows):
                pos, hit = r["label"] == 1, i in predicted
                counts[key]["tp" if pos and hit else "fp" if hit else "fn" if pos else "tn"] += 1
    out: dict[str, Any] = {"lines": sum(len(v) for v in files.values()), "files": len(files)}
    for key, c in counts.items():
        out[key] = {**_prf(c["tp"], c["fp"], c["fn"]), **{k: c[k] for k in ("tp", "fp", "fn")}}
    return out


def bench_pii(detector: ExfiltrationDetector) -> dict[str, Any]:
    """Span-level PII scores per entity type (exact and overlap) and document detection."""
    rows = _load("pii_dev.jsonl")
    gold_types = Counter(s["entity_type"] for r in rows for s in r["spans"])
    covered = set(PII_ENTITIES)
    out: dict[str, Any] = {
        "rows": len(rows),
        "not_covered": {t: n for t, n in sorted(gold_types.items()) if t not in covered},
    }
    for split in ("dev", "valid"):
        part = [r for r in rows if _split(r["id"]) == split]
        exact: dict[str, Counter[str]] = defaultdict(Counter)
        overlap: dict[str, Counter[str]] = defaultdict(Counter)
        doc = Counter[str]()
        for r in part:
            dets = detector.detect(Event(id=r["id"], response=r["text"]))
            pred = [(s.label, s.start, s.end) for d in dets if "pii" in d.tags for s in d.spans]
            gold = [
                (s["entity_type"], s["start_position"], s["end_position"])
                for s in r["spans"]
                if s["entity_type"] in covered
            ]
            for t, s, e in pred:
                exact[t]["tp" if (t, s, e) in gold else "fp"] += 1
                hit = any(g[0] == t and s < g[2] and g[1] < e for g in gold)
                overlap[t]["tp" if hit else "fp"] += 1
            for t, s, e in gold:
                if (t, s, e) not in pred:
                    exact[t]["fn"] += 1
                if not any(p[0] == t and s < p[2] and p[1] < e for p in pred):
                    overlap[t]["fn"] += 1
            has_gold = r["label"] == 1
            flagged = bool(dets)
            covered_gold = bool(gold)
            doc[
                "tp" if has_gold and flagged else "fp" if flagged else "fn" if has_gold else "tn"
            ] += 1
            if covered_gold:
                doc["covered_docs"] += 1
                doc["covered_docs_flagged"] += int(flagged)
        per_type: dict[str, Any] = {}
        for t in PII_ENTITIES:
            per_type[t] = {
                "support": exact[t]["tp"] + exact[t]["fn"],
                "exact": _prf(exact[t]["tp"], exact[t]["fp"], exact[t]["fn"]),
                "overlap": _prf(overlap[t]["tp"], overlap[t]["fp"], overlap[t]["fn"]),
            }
        micro_e = [sum(exact[t][k] for t in PII_ENTITIES) for k in ("tp", "fp", "fn")]
        micro_o = [sum(overlap[t][k] for t in PII_ENTITIES) for k in ("tp", "fp", "fn")]
        out[split] = {
            "rows": len(part),
            "per_type": per_type,
            "micro_covered_exact": _prf(*micro_e),
            "micro_covered_overlap": _prf(*micro_o),
            "document": {
                **_prf(doc["tp"], doc["fp"], doc["fn"]),
                "recall_on_docs_with_covered_types": round(
                    doc["covered_docs_flagged"] / max(1, doc["covered_docs"]), 4
                ),
                "false_positive_docs": doc["fp"],
                "negative_docs": doc["fp"] + doc["tn"],
            },
        }
    return out


# --------------------------------------------------------------------------
# Baseline: the previous PII path


@cache
def _previous_recognisers() -> dict[str, Any]:
    from presidio_analyzer.predefined_recognizers import (
        EmailRecognizer,
        IbanRecognizer,
        IpRecognizer,
        PhoneRecognizer,
        UsSsnRecognizer,
    )

    tld = exfiltration._offline_tld_extractor()

    class _OfflineEmail(EmailRecognizer):  # type: ignore[misc]
        def validate_result(self, pattern_text: str) -> bool:
            return bool(tld(pattern_text.rsplit("@", 1)[-1]).suffix)

    return {
        "EMAIL_ADDRESS": _OfflineEmail(),
        "IBAN_CODE": IbanRecognizer(),
        "IP_ADDRESS": IpRecognizer(),
        "PHONE_NUMBER": PhoneRecognizer(),
        "US_SSN": UsSsnRecognizer(),
    }


def previous_find_pii(
    text: str, *, entities: Iterable[str] = PII_ENTITIES, min_score: float = 0.3
) -> list[tuple[str, int, int, float]]:
    """The PII path before the speed work: whole-text recognisers, PhoneRecognizer per run."""
    if not text:
        return []
    rec = _previous_recognisers()
    wanted = frozenset(entities)
    digits = sum(c.isdigit() for c in text)
    gates = {
        "EMAIL_ADDRESS": "@" in text,
        "IBAN_CODE": digits >= 10 and exfiltration._IBAN_GATE.search(text) is not None,
        "IP_ADDRESS": ("." in text and digits >= 4) or ":" in text,
        "US_SSN": digits >= 9,
    }
    found: list[tuple[str, int, int, float]] = []
    for entity, gate in gates.items():
        if entity in wanted and gate:
            for res in rec[entity].analyze(text, [entity], None):
                found.append((entity, int(res.start), int(res.end), float(res.score)))
    if "PHONE_NUMBER" in wanted and digits >= 7:
        for m in exfiltration._PHONE_RUN.finditer(text):
            if sum(c.isdigit() for c in m.group(0)) < 7:
                continue
            ws, we = max(0, m.start() - 1), min(len(text), m.end() + 1)
            for res in rec["PHONE_NUMBER"].analyze(text[ws:we], ["PHONE_NUMBER"], None):
                found.append(("PHONE_NUMBER", ws + res.start, ws + res.end, float(res.score)))
    if "CREDIT_CARD" in wanted and digits >= 12:
        found.extend(exfiltration._credit_cards(text))
    found = [h for h in found if h[3] >= min_score]
    kept: list[tuple[str, int, int, float]] = []
    for hit in sorted(found, key=lambda h: (-h[3], -(h[2] - h[1]), h[1])):
        if not any(hit[1] < k[2] and k[1] < hit[2] for k in kept):
            kept.append(hit)
    return sorted(kept, key=lambda h: h[1])


@contextlib.contextmanager
def _previous_path() -> Iterator[None]:
    """Run the detector with :func:`previous_find_pii` in place of the current path."""
    current = exfiltration.find_pii
    exfiltration.find_pii = previous_find_pii
    try:
        yield
    finally:
        exfiltration.find_pii = current


def bench_same_spans() -> dict[str, Any]:
    """Rows of ``pii_dev.jsonl`` where the current and previous PII paths differ."""
    rows = _load("pii_dev.jsonl")
    differ = sum(exfiltration.find_pii(r["text"]) != previous_find_pii(r["text"]) for r in rows)
    return {"rows": len(rows), "rows_with_different_spans": differ}


# --------------------------------------------------------------------------
# Speed


_PROSE = (
    "The quarterly review covered three topics. First, the migration of the billing "
    "service to the new cluster finished two weeks early, and error rates fell from 0.8% "
    "to 0.2% after the retry policy was tuned. Second, the support team asked for a "
    "clearer escalation path: tickets that wait more than four hours now page the on-call "
    "engineer, and the dashboard shows the oldest open ticket per queue. Third, the "
    "travel policy changes in June: economy class for flights under six hours, and hotel "
    "bookings through the approved portal only. "
)


def _extra(i: int) -> str:
    """The i-th event's extra sentence; values differ between events."""
    kind = i % 4
    if kind == 1:
        return (
            f" Contact the organiser at events.team{i}@contoso-mail.example.com or "
            f"+44 20 7946 {i % 10_000:04d}."
        )
    if kind == 2:
        return (
            " The diagram is here: "
            f"![flow](https://static.example.org/img/flow-v{i}.png?width=800)."
        )
    if kind == 3:
        digest = hashlib.sha256(str(i).encode()).hexdigest()[:40]
        return f" Reference build {digest}, host 198.51.{i // 256 % 256}.{i % 256}."
    return ""


def _events(n: int) -> list[Event]:
    body = _PROSE + _PROSE[: len(_PROSE) * 3 // 5]  # about 200 tokens with an extra
    return [
        Event(id=str(i), response=body + _extra(i), prompt="Summarise the review.")
        for i in range(n)
    ]


def _timed(detector: ExfiltrationDetector, events: list[Event]) -> dict[str, Any]:
    detector.detect(events[0])  # warm-up: loads the recognisers once
    lat: list[float] = []
    t0 = time.perf_counter()
    for ev in events:
        s = time.perf_counter()
        detector.detect(ev)
        lat.append((time.perf_counter() - s) * 1000)
    total = time.perf_counter() - t0
    lat.sort()
    n = len(events)
    return {
        "events_per_s": round(n / total, 1),
        "p50_ms": round(statistics.median(lat), 3),
        "p99_ms": round(lat[int(0.99 * (n - 1))], 3),
    }


def bench_speed(detector: ExfiltrationDetector, n: int = 2000) -> dict[str, Any]:
    """Events per second and latency on ~200-token responses, beside the baselines.

    The current detector is timed twice: before the baselines and after them, on the same
    events, so a change in the machine's load during the run shows as a difference.
    """
    events = _events(n)
    shifted = _events(2 * n)[n:]  # new values: the phone cache has not seen them
    out: dict[str, Any] = {
        "events": n,
        "approx_tokens_per_response": round(len(events[1].response.split()) * 1.3),
        "current": _timed(detector, events),
    }
    with _previous_path():
        out["baseline_previous_pii_path"] = _timed(detector, shifted)
    out["baseline_no_pii"] = _timed(ExfiltrationDetector(pii_entities=()), events)
    out["current_again_new_values"] = _timed(detector, shifted)
    best = max(out["current"]["events_per_s"], out["current_again_new_values"]["events_per_s"])
    out["speedup_vs_previous"] = round(best / out["baseline_previous_pii_path"]["events_per_s"], 2)
    return out


def run(work: Path | None = None, *, events: int = 2000) -> dict[str, Any]:
    """Run the whole benchmark; returns JSON-able results. ``work`` is unused scratch."""
    detector = ExfiltrationDetector()
    t = time.perf_counter()
    detector.detect(Event(id="warm", response="mail me at a@b.example.com 4111111111111111"))
    load_s = time.perf_counter() - t
    return {
        "machine": {"python": platform.python_version(), "cpu": platform.processor() or "?"},
        "recogniser_load_s": round(load_s, 2),
        "secrets": bench_secrets(detector),
        "pii": bench_pii(detector),
        "pii_same_as_previous_path": bench_same_spans(),
        "speed": bench_speed(detector, events),
    }


def main(argv: list[str] | None = None) -> None:
    """Run and write ``exfil_quality.json`` (to ``benchmarks/results/`` by default)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for the JSON file")
    parser.add_argument("--events", type=int, default=2000, help="events per speed run")
    args = parser.parse_args(argv)
    res = run(events=args.events)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "exfil_quality.json").write_text(json.dumps(res, indent=2) + "\n")
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
