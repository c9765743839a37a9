"""The guard's added latency per model call, beside the same call unguarded.

The "model" is a local function that returns a fixed 200-token answer at once, so the
figures are the guard's own cost: the Cedar access decision over a generated inventory,
the rate-limit bucket (in process, and shared through a SQLite store), and the secret
scans of a 150-word prompt and a 200-word output. No leakage index (its cost is in the
leakage benchmarks: about 60 ms per 200-token output, mostly embedding).

Run alone: ``.venv/bin/python -m benchmarks.guard_bench`` (prints JSON).
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

_SENTENCE = (
    "the customer asked about the refund for order number and the agent explained that the "
    "policy allows returns within thirty days when the item is unused and the receipt is kept"
)
WORDS = _SENTENCE.split(" ")
CALLS = 2000


def _text(n: int) -> str:
    return " ".join(WORDS[i % len(WORDS)] for i in range(n))


def _latency(fn: Callable[[], object], n: int) -> dict[str, float]:
    for _ in range(20):
        fn()
    times = np.empty(n)
    for i in range(n):
        t0 = time.perf_counter()
        fn()
        times[i] = time.perf_counter() - t0
    return {
        "p50_ms": round(float(np.percentile(times, 50)) * 1e3, 4),
        "p99_ms": round(float(np.percentile(times, 99)) * 1e3, 4),
        "calls": n,
    }


def run(work: Path) -> dict[str, Any]:
    """Measure guarded vs unguarded calls; return the figures."""
    from aiposture.models import Asset, AssetKind
    from aiposture.policy.engine import PolicyEngine
    from aiposture.policy.guard import Guard
    from aiposture.policy.loader import load_policy
    from aiposture.policy.ratelimit import RateLimiter
    from aiposture.store import open_store

    folder = work / "policy"
    folder.mkdir(parents=True)
    (folder / "access.cedar").write_text(
        '@id("support")\npermit(principal in Group::"support", action == Action::"query", '
        "resource is Model);\n"
    )
    (folder / "principals.yaml").write_text("principals:\n  - id: ann\n    groups: [support]\n")
    (folder / "rate_limits.yaml").write_text(
        "limits:\n  - id: generous\n    principal: '*'\n    model: '*'\n"
        "    window: 1\n    requests: 1000000000\n"
    )
    models = [Asset.new(AssetKind.MODEL, f"model-{i}", provider="openai") for i in range(1000)]
    engine = PolicyEngine(load_policy(folder), assets=models)
    ann = engine.principal("ann")
    prompt, answer = _text(150), _text(200)

    def model_call(p: str) -> str:
        return answer

    store = open_store(f"sqlite:///{work / 'bench.db'}")
    try:
        rules = engine.policy_set.rate_limits
        variants = {
            "unguarded (baseline)": lambda: model_call(prompt),
            "guard: access + prompt/output secret scans": _wrap(
                Guard(ann, "model-7", engine=engine), model_call, prompt
            ),
            "guard: + rate limit in process": _wrap(
                Guard(
                    ann,
                    "model-7",
                    engine=engine,
                    limiter=RateLimiter(store, shared=False),
                    rate_rules=rules,
                ),
                model_call,
                prompt,
            ),
            "guard: + rate limit shared through SQLite": _wrap(
                Guard(ann, "model-7", engine=engine, limiter=RateLimiter(store), rate_rules=rules),
                model_call,
                prompt,
            ),
        }
        results = {name: _latency(fn, CALLS) for name, fn in variants.items()}
    finally:
        store.close()
    base = results["unguarded (baseline)"]["p50_ms"]
    for r in results.values():
        r["added_p50_ms"] = round(r["p50_ms"] - base, 4)
    return {
        "name": "guard_latency",
        "inventory_models": len(models),
        "prompt_words": 150,
        "output_words": 200,
        "results": results,
    }


def _wrap(guard: Any, fn: Callable[[str], str], prompt: str) -> Callable[[], object]:
    wrapped = guard(fn)
    return lambda: wrapped(prompt)


def main() -> None:
    """Run alone and print the JSON."""
    with tempfile.TemporaryDirectory() as tmp:
        print(json.dumps(run(Path(tmp)), indent=2))


if __name__ == "__main__":
    main()
