"""``make bench``: aiposture's benchmarks, each beside a named baseline in the same run.

Results go to ``benchmarks/results/*.json``; BENCHMARKS.md quotes them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import time
from importlib import import_module
from pathlib import Path

from benchmarks.tree import generate

RESULTS = Path(__file__).parent / "results"
#: Every benchmark, in the order ``make bench`` runs them.
ALL = (
    "scan",
    "models",
    "logs",
    "risk",
    "ratelimit",
    "policy",
    "guard",
    "exfil",
    "injection",
    "monitor",
    "monitor_quality",
    "embedding",
    "quality",
    "scale",
    "dashboard",
    "dashboard_browser",
    "mcp",
)


def _walk_and_read(root: Path) -> tuple[int, int]:
    files = 0
    total = 0
    for folder, _dirs, names in os.walk(root):
        for name in names:
            with open(os.path.join(folder, name), "rb") as fh:
                total += len(fh.read())
            files += 1
    return files, total


def bench_scan(files: int, work: Path) -> dict[str, object]:
    """Scan throughput on a generated tree vs. a plain walk-and-read of the same tree."""
    from aiposture import Posture

    tree = work / "tree"
    counts = generate(tree, files)
    _walk_and_read(tree)  # warm the page cache for both contenders
    t0 = time.perf_counter()
    n_files, n_bytes = _walk_and_read(tree)
    base_s = time.perf_counter() - t0

    with Posture.open(f"sqlite:///{work / 'bench.db'}", actor="bench") as p:
        t0 = time.perf_counter()
        first = p.discover([tree], progress=False)
        first_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        again = p.discover([tree], progress=False)
        again_s = time.perf_counter() - t0
        assets = len(p.assets)
    with Posture.open(f"sqlite:///{work / 'bench1.db'}", actor="bench") as p:
        t0 = time.perf_counter()
        single = p.discover([tree], progress=False, workers=1)
        single_s = time.perf_counter() - t0
    mb = n_bytes / 1e6
    return {
        "name": "scan_throughput",
        "tree": {"files": n_files, "bytes": n_bytes, "by_type": counts},
        "baseline": {
            "name": "os.walk + read every file (no parsing)",
            "seconds": round(base_s, 3),
            "files_per_s": round(n_files / base_s, 1),
            "mb_per_s": round(mb / base_s, 2),
        },
        "first_scan": {
            "seconds": round(first_s, 3),
            "files_per_s": round(n_files / first_s, 1),
            "mb_per_s": round(mb / first_s, 2),
            "ratio_to_baseline": round(first_s / base_s, 1),
            "workers": "default (one per core, up to four)",
            "files_scanned": first.counts.files_scanned,
            "errors": len(first.errors),
            "assets": assets,
        },
        "first_scan_one_process": {
            "seconds": round(single_s, 3),
            "files_per_s": round(n_files / single_s, 1),
            "mb_per_s": round(mb / single_s, 2),
            "ratio_to_baseline": round(single_s / base_s, 1),
            "files_scanned": single.counts.files_scanned,
        },
        "incremental_rescan": {
            "seconds": round(again_s, 3),
            "files_per_s": round(n_files / again_s, 1),
            "ratio_to_baseline": round(again_s / base_s, 2),
            "files_unchanged": again.counts.files_unchanged,
        },
    }


def main() -> None:
    """Run the benchmarks and write their results."""
    parser = argparse.ArgumentParser(prog="make bench")
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument(
        "--only",
        choices=ALL,
        action="append",
        help="Run only these benchmarks (repeatable; default: all).",
    )
    parser.add_argument(
        "--results",
        type=Path,
        default=RESULTS,
        help="Folder for the JSON results (default: benchmarks/results).",
    )
    args = parser.parse_args()
    results: Path = args.results
    started = time.perf_counter()
    wanted = set(args.only or ALL)
    results.mkdir(parents=True, exist_ok=True)
    machine = {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "when": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    if "scan" in wanted:
        work = Path(tempfile.mkdtemp(prefix="aiposture-bench-"))
        try:
            result = bench_scan(args.files, work)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        result["machine"] = machine
        (results / "scan_throughput.json").write_text(json.dumps(result, indent=2) + "\n")
        print(json.dumps(result, indent=2))
    # (module, results file, whether run() takes a scratch folder)
    others = {
        "models": ("benchmarks.model_scan", "model_scan.json", True),
        "logs": ("benchmarks.log_ingest", "log_ingest.json", True),
        "risk": ("benchmarks.risk_assess", "risk_assess.json", True),
        "ratelimit": ("benchmarks.ratelimit_bench", "ratelimit.json", True),
        "policy": ("benchmarks.policy_bench", "policy.json", True),
        "guard": ("benchmarks.guard_bench", "guard.json", True),
        "exfil": ("benchmarks.exfil_quality", "exfil_quality.json", True),
        "injection": ("benchmarks.injection_quality", "injection_quality.json", True),
        "monitor": ("benchmarks.monitor_speed", "monitor_speed.json", True),
        "monitor_quality": ("benchmarks.monitor_quality", "monitor_quality.json", True),
        "embedding": ("benchmarks.embedding_speed", "embedding_speed.json", False),
        "quality": ("benchmarks.leakage_quality", "leakage_quality.json", False),
        "scale": ("benchmarks.leakage_scale", "leakage_scale.json", False),
        "dashboard": ("benchmarks.dashboard_render", "dashboard_render.json", True),
        "dashboard_browser": ("benchmarks.dashboard_browser", "dashboard_browser.json", True),
        "mcp": ("benchmarks.mcp_bench", "mcp_bench.json", True),
    }
    for key, (module, filename, scratch) in others.items():
        if key not in wanted:
            continue
        if scratch:
            work = Path(tempfile.mkdtemp(prefix=f"aiposture-bench-{key}-"))
            try:
                figures = import_module(module).run(work)
            finally:
                shutil.rmtree(work, ignore_errors=True)
        else:
            figures = import_module(module).run()
        figures.setdefault("machine", machine)
        (results / filename).write_text(json.dumps(figures, indent=2) + "\n")
        print(f"{key}: wrote {results / filename}")
    print(f"make bench: {time.perf_counter() - started:.0f} s in all")


if __name__ == "__main__":
    main()
