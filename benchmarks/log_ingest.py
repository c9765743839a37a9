"""Log ingestion: the egress-log scanner on a generated one-million-line proxy log.

In one run, on the same machine and the same files:

1. generate a Squid ``access.log`` and a CSV proxy log of one million lines each
   (seeded): 2,000 users on 1,500 clients, 4,000 ordinary sites (a long tail,
   Zipf-like) and about 6% of requests to 40 AI services (their API hosts,
   subdomains, a few by URL), 80% HTTPS ``CONNECT`` and 20% plain URLs;
2. time a plain read of each file, line by line (the floor any reader pays);
3. time the real scanner (:class:`EgressLogScanner`: format detection, parsing,
   catalogue matching, aggregation, assets and findings) on each file;
4. time a whole discovery run over the Squid log into a SQLite store (engine,
   store and audit log included).

Each timing is the best of a few rounds (the machine may be shared).

Run alone: ``.venv/bin/python -m benchmarks.log_ingest`` (prints JSON).
"""

from __future__ import annotations

import json
import platform
import random
import shutil
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

LINES = 1_000_000
ROUNDS = 3

_AI_HOSTS = [
    "api.openai.com",
    "chatgpt.com",
    "chat.openai.com",
    "claude.ai",
    "api.anthropic.com",
    "gemini.google.com",
    "generativelanguage.googleapis.com",
    "copilot.microsoft.com",
    "api.githubcopilot.com",
    "copilot-proxy.githubusercontent.com",
    "www.perplexity.ai",
    "api.perplexity.ai",
    "poe.com",
    "character.ai",
    "chat.deepseek.com",
    "grok.com",
    "api2.cursor.sh",
    "server.codeium.com",
    "api.tabnine.com",
    "www.midjourney.com",
    "api.stability.ai",
    "api.elevenlabs.io",
    "otter.ai",
    "api.fireflies.ai",
    "app.grammarly.com",
    "capi.grammarly.com",
    "www.deepl.com",
    "api-free.deepl.com",
    "huggingface.co",
    "cdn-lfs.huggingface.co",
    "api.together.xyz",
    "api.groq.com",
    "openrouter.ai",
    "api.mistral.ai",
    "chat.mistral.ai",
    "bedrock-runtime.us-east-1.amazonaws.com",
    "myres.openai.azure.com",
    "monica.im",
    "api.replicate.com",
    "eu.api.openai.com",
]
_TLDS = ["com", "net", "org", "io", "de", "co.uk", "fr", "info"]
_WORDS = [
    "news", "shop", "cloud", "media", "static", "cdn", "mail", "portal", "bank", "travel",
    "sport", "video", "docs", "corp", "intra", "weather", "maps", "health", "market", "games",
]  # fmt: skip


def _sites(rng: random.Random, n: int) -> list[str]:
    out = set()
    while len(out) < n:
        sub = rng.choice(["www", "api", "cdn", "static", "img", "login", "app", ""])
        name = f"{rng.choice(_WORDS)}{rng.randint(1, 9999)}.{rng.choice(_TLDS)}"
        out.add(f"{sub}.{name}" if sub else name)
    return sorted(out)


def generate(path: Path, fmt: str, lines: int = LINES, seed: int = 7) -> dict[str, int]:
    """Write a proxy log of ``lines`` lines in ``fmt`` (``squid`` or ``csv``)."""
    rng = random.Random(seed)
    sites = _sites(rng, 4000)
    weights = [1.0 / (i + 1) ** 0.9 for i in range(len(sites))]  # Zipf-like long tail
    users = [f"user{i:04d}" for i in range(2000)]
    clients = [f"10.{i // 250}.{i % 250}.{rng.randint(2, 250)}" for i in range(1500)]
    user_client = {u: rng.choice(clients) for u in users}
    t = 1_714_000_000.0
    ai = 0
    batch = 50_000
    with open(path, "w", encoding="utf-8") as fh:
        if fmt == "csv":
            fh.write("timestamp,src_ip,user,method,host,url,status,bytes_out,bytes_in\n")
        written = 0
        while written < lines:
            n = min(batch, lines - written)
            picks = rng.choices(sites, weights=weights, k=n)
            out = []
            for host in picks:
                t += rng.random() * 0.05
                user = rng.choice(users)
                client = user_client[user]
                if rng.random() < 0.06:
                    host = rng.choice(_AI_HOSTS)
                    ai += 1
                size_in = rng.randint(200, 60_000)
                size_out = rng.randint(100, 4000)
                if rng.random() < 0.8:
                    method, url, port = "CONNECT", f"{host}:443", ":443"
                else:
                    method = "GET" if rng.random() < 0.8 else "POST"
                    url = f"http://{host}/p/{rng.randint(1, 99999)}?q={rng.randint(1, 999)}"
                    port = ""
                if fmt == "squid":
                    code = "TCP_TUNNEL/200" if method == "CONNECT" else "TCP_MISS/200"
                    peer = f"HIER_DIRECT/203.0.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
                    out.append(
                        f"{t:.3f} {rng.randint(5, 3000):6d} {client} {code} {size_in} "
                        f"{method} {url} {user} {peer} -\n"
                    )
                else:
                    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
                    hostcol = host + port if method == "CONNECT" else host
                    out.append(
                        f"{stamp},{client},{user},{method},{hostcol},{url},200,"
                        f"{size_out},{size_in}\n"
                    )
            fh.writelines(out)
            written += n
    return {"lines": lines, "ai_lines": ai, "bytes": path.stat().st_size}


def _best(fn: Callable[[], Any], rounds: int = ROUNDS) -> tuple[float, Any]:
    best = float("inf")
    result: Any = None
    for _ in range(rounds):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def _plain_read(path: Path) -> int:
    n = 0
    with open(path, encoding="utf-8", errors="replace") as fh:
        for _line in fh:
            n += 1
    return n


def _scanner(path: Path) -> dict[str, Any]:
    from aiposture.discovery.base import Target, TargetKind
    from aiposture.discovery.scanners.egress_logs import EgressLogScanner
    from aiposture.models import Asset, Finding
    from aiposture.settings import Settings

    settings = Settings.from_mapping(
        {"discovery": {"sanctioned_services": ["openai", "github-copilot", "azure_openai"]}}
    )
    scanner = EgressLogScanner(settings)
    target = Target(kind=TargetKind.LOG, source=str(path), path=path)
    out = list(scanner.scan(target))
    stats = scanner.summaries[str(path)]
    assets = [o for o in out if isinstance(o, Asset)]
    return {
        "services": len(assets),
        "findings": sum(isinstance(o, Finding) for o in out),
        "evidence": sum(len(a.evidence) for a in assets),
        "requests": sum(e.usage.requests for a in assets for e in a.evidence if e.usage),
        "lines": stats.lines,
        "skipped": stats.skipped_total,
        "format": stats.format,
    }


def _figures(seconds: float, lines: int, size: int) -> dict[str, float]:
    return {
        "seconds": round(seconds, 3),
        "lines_per_s": round(lines / seconds),
        "mb_per_s": round(size / 1e6 / seconds, 1),
    }


def run(work: Path) -> dict[str, Any]:
    """Generate the logs under ``work``, measure, and return the figures."""
    work.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {"name": "log_ingest", "lines": LINES, "rounds": ROUNDS}
    for fmt in ("squid", "csv"):
        path = work / f"proxy.{fmt}.log"
        info = generate(path, fmt)
        _plain_read(path)  # warm the page cache
        read_s, _n = _best(partial(_plain_read, path))
        scan_s, scan = _best(partial(_scanner, path))
        assert scan["lines"] == info["lines"] + (fmt == "csv"), scan
        assert scan["requests"] == info["ai_lines"], (scan, info)
        result[fmt] = {
            "log": info,
            "plain_read": {
                "name": "text-mode line iteration, no parsing",
                **_figures(read_s, info["lines"], info["bytes"]),
            },
            "scanner": {**_figures(scan_s, info["lines"], info["bytes"]), **scan},
            "ratio_to_plain_read": round(scan_s / read_s, 2),
        }
    result["discovery_squid"] = _discovery(work, work / "proxy.squid.log")
    result["machine"] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "when": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    return result


def _discovery(work: Path, log: Path) -> dict[str, Any]:
    from aiposture.discovery.engine import Discovery
    from aiposture.discovery.registry import ScannerRegistry
    from aiposture.discovery.scanners.egress_logs import EgressLogScanner
    from aiposture.store import open_store

    reg = ScannerRegistry()
    reg.register(EgressLogScanner)
    store = open_store(f"sqlite:///{work / 'bench.db'}")
    try:
        t0 = time.perf_counter()
        first = Discovery(store, registry=reg).run([], logs=[log], progress=False)
        first_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        Discovery(store, registry=reg).run([], logs=[log], progress=False)
        again_s = time.perf_counter() - t0
        assets = len(store.assets())
    finally:
        store.close()
    size = log.stat().st_size
    return {
        "first_run": _figures(first_s, LINES, size),
        "rescan": _figures(again_s, LINES, size),
        "assets": assets,
        "findings_new": first.counts.findings_new,
        "errors": len(first.errors),
    }


def main() -> None:
    """Run in a temporary folder and print the figures as JSON."""
    work = Path(tempfile.mkdtemp(prefix="aiposture-logbench-"))
    try:
        print(json.dumps(run(work), indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
