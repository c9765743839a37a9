"""Exfiltration detector quality and speed on the public secrets and PII sets.

Run alone with ``.venv/bin/python -m benchmarks.exfil_quality`` (writes
``benchmarks/results/exfil_quality.json``), or call :func:`run`.

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
  PII or a URL), events per second and p50/p99 latency, on one core.
"""

from __future__ import annotations

import hashlib
import json
import platform
import statistics
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from aiposture.discovery.secrets import find_secrets
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


_PROSE = (
    "The quarterly review covered three topics. First, the migration of the billing "
    "service to the new cluster finished two weeks early, and error rates fell from 0.8% "
    "to 0.2% after the retry policy was tuned. Second, the support team asked for a "
    "clearer escalation path: tickets that wait more than four hours now page the on-call "
    "engineer, and the dashboard shows the oldest open ticket per queue. Third, the "
    "travel policy changes in June: economy class for flights under six hours, and hotel "
    "bookings through the approved portal only. "
)
_EXTRAS = (
    "",
    " Contact the organiser at events.team@contoso-mail.example.com or +44 20 7946 0958.",
    " The diagram is here: ![flow](https://static.example.org/img/flow-v2.png?width=800).",
    " Reference build 9fceb02d0ae598e95dc970b74767f19372d61af8, host 198.51.100.23.",
)


def bench_speed(detector: ExfiltrationDetector, n: int = 2000) -> dict[str, Any]:
    """Events per second and latency on ~200-token responses."""
    body = _PROSE + _PROSE[: len(_PROSE) * 3 // 5]  # about 200 tokens with an extra
    texts = [body + _EXTRAS[i % len(_EXTRAS)] for i in range(n)]
    tokens = round(len(texts[0].split()) * 1.3)
    events = [
        Event(id=str(i), response=t, prompt="Summarise the review.") for i, t in enumerate(texts)
    ]
    detector.detect(events[0])  # warm-up: loads the recognisers once
    lat: list[float] = []
    t0 = time.perf_counter()
    for ev in events:
        s = time.perf_counter()
        detector.detect(ev)
        lat.append((time.perf_counter() - s) * 1000)
    total = time.perf_counter() - t0
    lat.sort()
    return {
        "events": n,
        "approx_tokens_per_response": tokens,
        "events_per_s": round(n / total, 1),
        "p50_ms": round(statistics.median(lat), 3),
        "p99_ms": round(lat[int(0.99 * (n - 1))], 3),
    }


def run(work: Path | None = None) -> dict[str, Any]:
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
        "speed": bench_speed(detector),
    }


def main() -> None:
    """Run and write ``benchmarks/results/exfil_quality.json``."""
    res = run()
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "exfil_quality.json").write_text(json.dumps(res, indent=2) + "\n")
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
