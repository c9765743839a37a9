"""Risk assessment at scale: 1k, 3k and 10k assets with five relations per asset.

In one run, on the same machine, for each size:

1. generate a seeded synthetic estate (applications, notebooks, agents, models, model
   files, datasets and indexes, AI services, MCP servers, endpoints, credentials and
   packages, in realistic proportions; relations of the kinds scanners report, with
   popular models and services called by many; findings where scanners would raise
   them: unsafe pickles, hard-coded keys, unauthenticated remote MCP servers, unpinned
   packages, shadow AI) and write it into a real SQLite store through
   :meth:`Store.apply` with :class:`SourceUpdate` batches, as discovery does;
2. **baseline**: a plain read of every asset, relation and finding from the store;
3. **(a) graph**: the same read, then :meth:`EstateGraph.build`;
4. **(b) scoring**: :func:`aiposture.risk.scoring.score_estate` on a freshly built graph
   (the per-graph :class:`RiskContext` is built inside the timing);
5. **(c) assessment**: :meth:`Posture.assess` (rules, findings written back, scores, the
   snapshot stored), when the engine exists; otherwise (a) + (b) stand in for it and the
   result says so.

Each timing is the best of a few rounds (the machine may be shared); the assessment,
which writes to the store, is timed on its first and second run. Growth factors are
the 10k time over the 1k time (10x is linear). Scoring is also timed with Python's
garbage collector paused: the collector's passes over a heap that grows with the estate
cost more than linear time in any Python code that allocates (the plain read shows it
too), and the paused figure shows the growth of the scoring itself.

Run alone: ``.venv/bin/python -m benchmarks.risk_assess`` (prints JSON).
"""

from __future__ import annotations

import gc
import json
import platform
import random
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiposture.models import (
    Asset,
    AssetKind,
    Environment,
    Evidence,
    EvidenceKind,
    Finding,
    Relation,
    RelationKind,
    Sanctioned,
    ScanRun,
    ScanStatus,
    Sensitivity,
    Severity,
    Usage,
)
from aiposture.store import SourceUpdate, open_store

SIZES = (1_000, 3_000, 10_000)
RELATIONS_PER_ASSET = 5
ROUNDS = 3
SEED = 20_250_601

#: Share of each kind in the estate.
_KINDS: dict[AssetKind, float] = {
    AssetKind.PACKAGE: 0.30,
    AssetKind.MODEL: 0.14,
    AssetKind.APPLICATION: 0.10,
    AssetKind.NOTEBOOK: 0.08,
    AssetKind.MODEL_FILE: 0.08,
    AssetKind.DATASET: 0.07,
    AssetKind.MCP_SERVER: 0.05,
    AssetKind.CREDENTIAL: 0.05,
    AssetKind.ENDPOINT: 0.04,
    AssetKind.AI_SERVICE: 0.03,
    AssetKind.AGENT: 0.03,
    AssetKind.DATASET_INDEX: 0.03,
}

#: (source kind, relation, target kind, weight): the relations scanners report.
_TEMPLATES: list[tuple[AssetKind, RelationKind, AssetKind, float]] = [
    (AssetKind.APPLICATION, RelationKind.USES_MODEL, AssetKind.MODEL, 12),
    (AssetKind.APPLICATION, RelationKind.CALLS_SERVICE, AssetKind.AI_SERVICE, 6),
    (AssetKind.APPLICATION, RelationKind.CALLS_SERVICE, AssetKind.MCP_SERVER, 4),
    (AssetKind.APPLICATION, RelationKind.CALLS_SERVICE, AssetKind.ENDPOINT, 3),
    (AssetKind.APPLICATION, RelationKind.CONTAINS, AssetKind.NOTEBOOK, 3),
    (AssetKind.APPLICATION, RelationKind.CONTAINS, AssetKind.MODEL_FILE, 4),
    (AssetKind.AGENT, RelationKind.USES_MODEL, AssetKind.MODEL, 3),
    (AssetKind.AGENT, RelationKind.CALLS_SERVICE, AssetKind.MCP_SERVER, 3),
    (AssetKind.NOTEBOOK, RelationKind.USES_MODEL, AssetKind.MODEL, 5),
    (AssetKind.NOTEBOOK, RelationKind.CALLS_SERVICE, AssetKind.AI_SERVICE, 3),
    (AssetKind.AI_SERVICE, RelationKind.SERVES, AssetKind.MODEL, 6),
    (AssetKind.MODEL, RelationKind.TRAINED_ON, AssetKind.DATASET, 5),
    (AssetKind.MODEL, RelationKind.DERIVED_FROM, AssetKind.MODEL, 2),
    (AssetKind.MODEL, RelationKind.CONTAINS, AssetKind.MODEL_FILE, 2),
    (AssetKind.DATASET_INDEX, RelationKind.CONTAINS, AssetKind.DATASET, 2),
    (AssetKind.PACKAGE, RelationKind.DECLARED_IN, AssetKind.APPLICATION, 15),
    (AssetKind.PACKAGE, RelationKind.DECLARED_IN, AssetKind.NOTEBOOK, 3),
    (AssetKind.CREDENTIAL, RelationKind.DECLARED_IN, AssetKind.APPLICATION, 3),
    (AssetKind.CREDENTIAL, RelationKind.DECLARED_IN, AssetKind.NOTEBOOK, 1),
    (AssetKind.CREDENTIAL, RelationKind.DECLARED_IN, AssetKind.MCP_SERVER, 1),
]
_ENVIRONMENTS = {
    Environment.UNKNOWN: 4,
    Environment.DEV: 3,
    Environment.PROD: 2,
    Environment.STAGING: 1,
}
#: Targets that a few of are used by many (a skewed pick).
_POPULAR = frozenset({AssetKind.MODEL, AssetKind.AI_SERVICE, AssetKind.MCP_SERVER})


def _pick(rng: random.Random, items: list[Asset], skewed: bool) -> Asset:
    if skewed:
        return items[int(len(items) * rng.random() ** 2.5)]
    return items[rng.randrange(len(items))]


def _weighted(rng: random.Random, options: dict[Any, float]) -> Any:
    return rng.choices(list(options), weights=list(options.values()))[0]


def _asset(rng: random.Random, kind: AssetKind, n: int) -> Asset:
    name = f"{kind.value}-{n:05d}"
    tags: list[str] = []
    attrs: dict[str, Any] = {}
    evidence = [Evidence(kind=EvidenceKind.FILE, path=f"/estate/{kind.value}/{n}", scanner="bench")]
    if rng.random() < 0.1:
        tags.append("customer-facing")
    if rng.random() < 0.05:
        tags.append("critical")
    if rng.random() < 0.2:
        tags.append(f"control:{rng.choice(['rate-limit', 'output-monitoring', 'approval'])}")
    sanctioned = Sanctioned.UNKNOWN
    if kind is AssetKind.MODEL_FILE:
        fmt = _weighted(rng, {"safetensors": 5, "pickle": 3, "pytorch-zip": 2})
        unsafe = fmt != "safetensors" and rng.random() < 0.08
        attrs |= {"format": fmt, "world_readable": rng.random() < 0.5, "unsafe": unsafe}
        if unsafe:
            attrs["unsafe_globals"] = ["posix.system"]
    elif kind is AssetKind.MCP_SERVER:
        if rng.random() < 0.3:
            attrs |= {"transport": "http", "url": f"https://mcp{n}.example.com/mcp"}
            attrs["headers"] = ["Authorization"] if rng.random() < 0.5 else []
        else:
            attrs |= {"transport": "stdio", "command": "npx", "pinned": rng.random() < 0.6}
    elif kind is AssetKind.ENDPOINT:
        host = f"llm{n}.example.com" if rng.random() < 0.3 else f"10.0.{n % 250}.{n % 200}"
        attrs |= {"url": f"https://{host}/v1", "host": host}
    elif kind is AssetKind.AI_SERVICE:
        sanctioned = _weighted(
            rng,
            {Sanctioned.SANCTIONED: 2, Sanctioned.UNSANCTIONED: 1, Sanctioned.UNKNOWN: 1},
        )
        if rng.random() < 0.5:
            evidence.append(
                Evidence(
                    kind=EvidenceKind.LOG_LINE,
                    path="/logs/proxy.log",
                    key=f"user{n % 40}",
                    usage=Usage(user=f"user{n % 40}", requests=rng.randint(1, 500)),
                )
            )
    elif kind is AssetKind.CREDENTIAL:
        attrs |= {"secret_type": "OpenAI Token", "fingerprint": f"{n:016x}"}
    return Asset.new(
        kind,
        name,
        key=f"bench|{name}",
        environment=_weighted(
            rng,
            {
                Environment.UNKNOWN: 4,
                Environment.DEV: 3,
                Environment.PROD: 2,
                Environment.STAGING: 1,
            },
        ),
        data_sensitivity=_weighted(
            rng,
            {
                Sensitivity.UNKNOWN: 9,
                Sensitivity.INTERNAL: 4,
                Sensitivity.PUBLIC: 3,
                Sensitivity.CONFIDENTIAL: 3,
                Sensitivity.RESTRICTED: 1,
            },
        ),
        sanctioned=sanctioned,
        owner=f"team-{n % 17}" if rng.random() < 0.3 else None,
        tags=tags,
        attributes=attrs,
        evidence=evidence,
    )


def _findings(a: Asset) -> list[Finding]:
    ev = a.evidence[:1]
    attrs = a.attributes
    out: list[Finding] = []
    if a.kind is AssetKind.MODEL_FILE and attrs.get("unsafe"):
        out.append(Finding.new(a.id, "AIP-MODEL-001", "Unsafe pickle", Severity.CRITICAL))
    elif a.kind is AssetKind.CREDENTIAL:
        out.append(Finding.new(a.id, "AIP-CRED-001", "Hard-coded key", Severity.HIGH))
    elif a.kind is AssetKind.MCP_SERVER:
        if attrs.get("url") and not attrs.get("headers"):
            out.append(Finding.new(a.id, "AIP-MCP-003", "Remote MCP, no auth", Severity.HIGH))
        if attrs.get("pinned") is False:
            out.append(Finding.new(a.id, "AIP-MCP-002", "Unpinned MCP package", Severity.MEDIUM))
    elif a.kind is AssetKind.AI_SERVICE and a.sanctioned is Sanctioned.UNSANCTIONED:
        out.append(Finding.new(a.id, "AIP-SHADOW-001", "Shadow AI", Severity.MEDIUM))
    return [f.model_copy(update={"evidence": ev}) for f in out]


def generate(n: int, seed: int = SEED) -> tuple[list[Asset], list[Relation], list[Finding]]:
    """A synthetic estate of ``n`` assets, ``5 n`` relations and its findings (seeded)."""
    rng = random.Random(seed + n)
    by_kind: dict[AssetKind, list[Asset]] = {}
    assets: list[Asset] = []
    counts = {k: max(2, round(share * n)) for k, share in _KINDS.items()}
    counts[AssetKind.PACKAGE] += n - sum(counts.values())
    for kind, count in counts.items():
        for i in range(count):
            a = _asset(rng, kind, len(assets) + i)
            by_kind.setdefault(kind, []).append(a)
        assets.extend(by_kind[kind])
    weights = {t: t[3] for t in _TEMPLATES}
    seen: set[tuple[str, RelationKind, str]] = set()
    relations: list[Relation] = []
    want = n * RELATIONS_PER_ASSET
    while len(relations) < want:
        src_kind, rel, dst_kind, _ = _weighted(rng, weights)
        src = _pick(rng, by_kind[src_kind], skewed=False)
        dst = _pick(rng, by_kind[dst_kind], skewed=dst_kind in _POPULAR)
        triple = (src.id, rel, dst.id)
        if src.id == dst.id or triple in seen:
            continue
        seen.add(triple)
        relations.append(Relation.new(src.id, rel, dst.id))
    findings = [f for a in assets for f in _findings(a)]
    return assets, relations, findings


def _write(db: Path, n: int) -> dict[str, Any]:
    assets, relations, findings = generate(n)
    store = open_store(f"sqlite:///{db}")
    scan_id = f"bench-risk-{n}"
    t0 = time.perf_counter()
    try:
        store.save_scan(ScanRun(id=scan_id, roots=["/estate"], scanners=["bench"]))
        chunk = 200
        updates: list[SourceUpdate] = []
        by_source: dict[int, list[Asset | Relation | Finding]] = {}
        index = {a.id: i // chunk for i, a in enumerate(assets)}
        for a in assets:
            by_source.setdefault(index[a.id], []).append(a)
        for r in relations:
            by_source[index[r.source_id]].append(r)
        for f in findings:
            by_source[index[f.asset_id]].append(f)
        for k, obs in sorted(by_source.items()):
            updates.append(SourceUpdate(source=f"bench://risk/{n}/{k}", observations=obs))
        for i in range(0, len(updates), 10):
            store.apply(updates[i : i + 10], scan_id=scan_id, actor="bench")
        store.save_scan(
            ScanRun(id=scan_id, roots=["/estate"], scanners=["bench"], status=ScanStatus.COMPLETED)
        )
    finally:
        store.close()
    return {
        "assets": len(assets),
        "relations": len(relations),
        "findings": len(findings),
        "write_seconds": round(time.perf_counter() - t0, 2),
    }


def _best(fn: Callable[[], Any], rounds: int = ROUNDS) -> tuple[float, Any]:
    best = float("inf")
    out: Any = None
    for _ in range(rounds):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def _measure(db: Path, n: int) -> dict[str, Any]:
    from aiposture import Posture
    from aiposture.risk.graph import EstateGraph
    from aiposture.risk.scoring import score_estate

    url = f"sqlite:///{db}"
    store = open_store(url)
    try:

        def read() -> tuple[list[Any], list[Any], list[Any]]:
            return store.assets(), store.relations(), store.findings()

        def read_and_build() -> EstateGraph:
            a, r, f = read()
            return EstateGraph.build(a, r, f)

        base_s, (a, r, f) = _best(read)
        graph_s, _ = _best(read_and_build)
        build_only_s, _ = _best(lambda: EstateGraph.build(a, r, f))

        def fresh_score() -> list[Any]:
            return score_estate(EstateGraph.build(a, r, f))

        score_plus_build_s, risks = _best(fresh_score)
        score_s = max(0.0, score_plus_build_s - build_only_s)

        def paused() -> list[Any]:
            g = EstateGraph.build(a, r, f)
            gc.disable()
            try:
                return score_estate(g)
            finally:
                gc.enable()

        paused_s = max(0.0, _best(paused)[0] - build_only_s)
    finally:
        store.close()
    by_priority: dict[str, int] = {}
    for risk in risks:
        by_priority[risk.priority.value] = by_priority.get(risk.priority.value, 0) + 1
    current = len(risks)
    out: dict[str, Any] = {
        "baseline_read": {
            "name": "plain read of all assets, relations and findings from the store",
            "seconds": round(base_s, 3),
            "assets_per_s": round(n / base_s, 1),
        },
        "graph": {
            "what": "(a) read from the store + EstateGraph.build",
            "seconds": round(graph_s, 3),
            "build_only_seconds": round(build_only_s, 3),
            "assets_per_s": round(n / graph_s, 1),
            "ratio_to_baseline": round(graph_s / base_s, 2),
        },
        "scoring": {
            "what": "(b) score_estate: RiskContext + every asset scored",
            "seconds": round(score_s, 3),
            "assets_per_s": round(current / score_s, 1) if score_s else None,
            "assets_scored": current,
            "seconds_gc_paused": round(paused_s, 3),
            "by_priority": by_priority,
        },
    }
    if hasattr(Posture, "assess"):
        with Posture.open(url, actor="bench") as p:
            t0 = time.perf_counter()
            snap = p.assess()
            first = time.perf_counter() - t0
            t0 = time.perf_counter()
            p.assess()
            second = time.perf_counter() - t0
        best = min(first, second)
        out["assessment"] = {
            "what": "(c) Posture.assess(): rules, findings stored, scores, snapshot stored",
            "seconds_first_run": round(first, 3),
            "seconds_second_run": round(second, 3),
            "seconds": round(best, 3),
            "assets_per_s": round(n / best, 1),
            "rules_run": snap.rules_run,
            "rule_errors": len(snap.rule_errors),
            "first_rule_error": snap.rule_errors[0].error if snap.rule_errors else None,
            "ratio_to_baseline": round(best / base_s, 2),
        }
    else:
        total = graph_s + score_s
        out["assessment"] = {
            "what": "Posture.assess() does not exist yet: (a) + (b) stand in for it",
            "seconds": round(total, 3),
            "assets_per_s": round(n / total, 1),
        }
    return out


def run(work: Path, sizes: tuple[int, ...] = SIZES) -> dict[str, Any]:
    """Generate, store and assess each size in ``work``; return the figures."""
    results: dict[str, Any] = {
        "name": "risk_assessment",
        "relations_per_asset": RELATIONS_PER_ASSET,
        "rounds": ROUNDS,
        "sizes": {},
    }
    for n in sizes:
        db = work / f"risk-{n}.db"
        written = _write(db, n)
        figures = _measure(db, n)
        results["sizes"][str(n)] = {"estate": written, **figures}
    lo, hi = str(min(sizes)), str(max(sizes))
    growth: dict[str, Any] = {"from": int(lo), "to": int(hi), "ideal": int(hi) / int(lo)}
    for stage, key in (
        ("baseline_read", "seconds"),
        ("graph", "seconds"),
        ("scoring", "seconds"),
        ("scoring_gc_paused", "seconds_gc_paused"),
        ("assessment", "seconds"),
    ):
        part = stage.removesuffix("_gc_paused")
        a = results["sizes"][lo][part][key]
        b = results["sizes"][hi][part][key]
        growth[stage] = round(b / a, 2) if a else None
    results["growth"] = growth
    results["machine"] = {"python": platform.python_version(), "platform": platform.platform()}
    return results


def main() -> None:
    """Run in a scratch folder and print the JSON."""
    work = Path(tempfile.mkdtemp(prefix="aiposture-bench-risk-"))
    try:
        print(json.dumps(run(work), indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
