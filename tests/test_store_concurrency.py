"""Several processes writing one store at the same time lose nothing.

Each worker is a separate interpreter (spawn), opens the store itself (so the
first open, which creates the schema, races too) and applies its batches while
the other does the same.
"""

from __future__ import annotations

import itertools
import multiprocessing
import time
import traceback
from collections.abc import Sequence
from typing import Any

from aiposture.models import Asset, AssetKind, Evidence, EvidenceKind
from aiposture.store import FileState, SourceUpdate, open_store

WORKERS = 2
BATCHES = 50
PER_BATCH = 4
SHARED = Asset.new(AssetKind.PACKAGE, "openai", key="package|pypi|openai|1.0")


def _batch(tag: str, i: int) -> list[SourceUpdate]:
    updates = []
    for j in range(PER_BATCH):
        path = f"/estate/{tag}/b{i}/f{j}.py"
        ev = Evidence(kind=EvidenceKind.CODE, path=path, line=j + 1)
        mine = Asset.new(AssetKind.MODEL, f"{tag}-model-{i}-{j}", provider="openai", evidence=[ev])
        shared = SHARED.model_copy(update={"evidence": [ev]})
        updates.append(
            SourceUpdate(path, "/estate", [mine, shared], FileState(1, i, "0" * 64, "t@1"))
        )
    return updates


def _worker(url: str, tag: str, start: Any, results: Any) -> None:
    try:
        start.wait(timeout=60)
        with open_store(url) as store:
            for i in range(BATCHES):
                store.apply(_batch(tag, i), scan_id=f"scan-{tag}", actor=tag)
                time.sleep(0.001)  # a scanner reading the next files
        results.put((tag, "ok"))
    except BaseException:
        results.put((tag, traceback.format_exc()))


def _run_workers(url: str, tags: Sequence[str]) -> dict[str, str]:
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(len(tags))
    results = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(url, tag, start, results)) for tag in tags]
    for p in procs:
        p.start()
    outcome = dict(results.get(timeout=300) for _ in procs)
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0, f"worker exited with {p.exitcode}"
    return outcome


def _check(url: str, tags: Sequence[str]) -> None:
    outcome = _run_workers(url, tags)
    assert outcome == dict.fromkeys(tags, "ok"), outcome
    with open_store(url) as store:
        names = {a.name for a in store.assets()}
        expected = {
            f"{t}-model-{i}-{j}" for t in tags for i in range(BATCHES) for j in range(PER_BATCH)
        }
        assert names == expected | {"openai"}
        shared = store.asset(SHARED.id)
        assert len(shared.evidence) == len(tags) * BATCHES * PER_BATCH
        assert len(store.file_states("/estate")) == len(tags) * BATCHES * PER_BATCH
        entries = store.audit_log()
        creates = [e.object_id for e in entries if e.action == "asset.create"]
        assert len(creates) == len(set(creates)) == len(expected) + 1
        assert [e.seq for e in entries] == list(range(1, len(entries) + 1))
        # The writers really did take turns, rather than one after the other.
        actors = [e.actor for e in entries if e.action == "asset.create"]
        turns = sum(1 for a, b in itertools.pairwise(actors) if a != b)
        assert turns >= 2, f"the workers did not overlap (turns={turns})"
        report = store.verify_audit()
        assert report.ok, report
        assert report.entries == len(entries)


def test_two_processes_writing_one_new_store_at_once_lose_nothing(store_url: str) -> None:
    # store_url names a database nobody has opened yet: both workers race to create it.
    _check(store_url, ["alpha", "beta"][:WORKERS])
