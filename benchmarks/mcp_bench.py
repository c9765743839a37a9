"""MCP server throughput and latency over streamable HTTP, beside the same SDK work in-process.

In one run, on the same machine:

1. build the demo estate (scanned, annotated, assessed, with the demo policy) and a small
   real leakage index (a few hundred support-ticket records, all-MiniLM-L6-v2 + FAISS);
2. start ``python -m aiposture.mcp_server --http`` in a subprocess on a free loopback
   port, with a bearer token from ``AIPOSTURE_MCP_TOKENS`` and a calls-per-minute limit
   far above what the benchmark makes (so the rate limiter is on the path but never
   throttles);
3. **MCP, 16 clients**: 16 ``mcp.Client`` sessions over streamable HTTP with the bearer
   header, in one asyncio loop, call ``list_assets`` for a fixed time, then
   ``check_output_leakage`` (alternating a leaking and a clean output); then **MCP,
   1 client** alone;
4. stop the server, then the baselines on the same store: **in-process, 16 threads**
   (and 1 thread) calling the very same tool bodies (``aiposture.mcp_server.server``'s
   plain functions over :mod:`aiposture.assistant`) on one ``Posture``, no protocol, no
   audit; and **in-process + audit**: the same plus the ``mcp.call`` audit-log entry the
   server writes for every call, so the cost of the protocol and of the audit log can be
   told apart.

Each figure is calls per second and p50/p99 latency (ms, as seen by the caller); the
ratios are MCP over the in-process baseline at the same concurrency. Client and server
share the machine's cores, so the MCP figures include the client's own work.

Run alone: ``.venv/bin/python -m benchmarks.mcp_bench`` (prints JSON).
"""

from __future__ import annotations

import json
import os
import platform
import random
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import anyio

#: Seconds each timed phase runs.
SECONDS = 6.0
#: Concurrent clients (and threads of the baseline).
CLIENTS = 16
#: The rate limit the server is started with: far above what this benchmark makes.
CALLS_PER_MINUTE = 10_000_000
#: The principal the bearer token authenticates.
PRINCIPAL = "bench-assistant"
#: The name of the leakage index the tools are given.
INDEX_NAME = "support"
#: Training records in the leakage index.
N_RECORDS = 300
#: Page size asked of ``list_assets``.
PAGE = 50
SEED = 9

_FIRST = ["Ingrid", "Tomasz", "Amara", "Kenji", "Lucia", "Bram", "Noor", "Mateo", "Sanne", "Olu"]
_LAST = ["Vasquez", "Holm", "Okafor", "Tanaka", "Brandt", "de Wit", "Haddad", "Ruiz", "Berg"]
_ISSUES = [
    "the refund for order {n} was sent to the wrong account",
    "the invoice {n} lists a licence that was cancelled in March",
    "the parcel {n} left the Utrecht depot but never arrived",
    "the password reset link for account {n} expired before it was used",
    "the subscription {n} was charged twice this month",
    "the warranty claim {n} was closed without a reply",
]
LEAKING_OUTPUT = (
    "Sure! Customer Ingrid Vasquez-Holm reported that the refund for order 77-XK-2291 was "
    "sent to IBAN DE44 5001 0517 5407 3249 31 on the ninth of March after the escalation."
)
_LEAKED_RECORD = (
    "Customer Ingrid Vasquez-Holm reported that the refund for order 77-XK-2291 was sent "
    "to IBAN DE44 5001 0517 5407 3249 31 on the ninth of March after the escalation."
)
CLEAN_OUTPUT = (
    "Thanks for waiting. I have passed your question to the billing team; they answer "
    "within one working day and you will get an e-mail when they do."
)


# --- set-up -----------------------------------------------------------------------------


def _records(n: int) -> list[dict[str, str]]:
    rng = random.Random(SEED)
    out = [{"id": "t0", "text": _LEAKED_RECORD}]
    for i in range(1, n):
        who = f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"
        what = rng.choice(_ISSUES).format(n=f"{rng.randrange(10, 99)}-{rng.randrange(1000, 9999)}")
        out.append({"id": f"t{i}", "text": f"Customer {who} wrote in because {what}."})
    return out


def _prepare(work: Path) -> dict[str, Any]:
    """The demo estate's store, its configuration and a leakage index, in ``work``."""
    from aiposture import Posture
    from aiposture.demo import annotate, build_estate, write_policy

    t0 = time.perf_counter()
    estate = build_estate(work / "estate")
    write_policy(work / "policy")
    toml = work / "aiposture.toml"
    toml.write_text(
        "[discovery]\n"
        f"sanctioned_services = {json.dumps(list(estate.sanctioned))}\n\n"
        '[policy]\nfolder = "policy"\n\n'
        # high enough never to throttle the benchmark (the default is 120 a minute)
        f"[mcp]\ncalls_per_minute = {CALLS_PER_MINUTE}\n",
        encoding="utf-8",
    )
    db = work / "posture.db"
    with Posture.open(db, actor="setup", config=toml) as p:
        p.discover([estate.root], logs=estate.logs, progress=False)
    annotate(f"sqlite:///{db}", estate)
    with Posture.open(db, actor="setup", config=toml) as p:
        p.assess()
        assets = len(p.assets)
    estate_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    train = work / "train.jsonl"
    train.write_text("\n".join(json.dumps(r) for r in _records(N_RECORDS)) + "\n", encoding="utf-8")
    with Posture.open(work / "index-build.db", actor="setup") as p:
        p.leakage.build(str(train), work / "index", dataset="support", progress=False)
    index_s = time.perf_counter() - t0
    return {
        "db": db,
        "toml": toml,
        "index": work / "index",
        "assets": assets,
        "estate_seconds": round(estate_s, 2),
        "index_seconds": round(index_s, 2),
    }


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_server(
    setup: dict[str, Any], port: int, token: str, log: Path
) -> tuple[subprocess.Popen[bytes], str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIPOSTURE_")}
    env["AIPOSTURE_MCP_TOKENS"] = f"{PRINCIPAL}:{token}"
    how = (
        "python -m aiposture.mcp_server --http, with [mcp] calls_per_minute = N in its "
        "configuration"
    )
    argv = [
        sys.executable,
        "-m",
        "aiposture.mcp_server",
        "--http",
        "--port",
        str(port),
        "--db",
        str(setup["db"]),
        "--config",
        str(setup["toml"]),
        "--index",
        f"{INDEX_NAME}={setup['index']}",
    ]
    with log.open("wb") as err:
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=err, stderr=err, env=env, cwd=log.parent
        )
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"the MCP server exited ({proc.returncode}): {_tail(log)}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc, how
        except OSError:
            if time.monotonic() > deadline:
                _stop(proc)
                raise RuntimeError(f"the MCP server did not listen: {_tail(log)}") from None
            time.sleep(0.1)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def _tail(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")[-3000:]
    except OSError:
        return ""


# --- figures ----------------------------------------------------------------------------


def _figures(
    latencies: list[float], elapsed: float, errors: int, concurrency: int
) -> dict[str, Any]:
    ordered = sorted(latencies)

    def pct(q: float) -> float | None:
        if not ordered:
            return None
        return round(1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)

    return {
        "concurrency": concurrency,
        "calls": len(ordered),
        "errors": errors,
        "seconds": round(elapsed, 2),
        "calls_per_s": round(len(ordered) / elapsed, 1) if elapsed else None,
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
    }


def _ratio(mcp: dict[str, Any], base: dict[str, Any]) -> dict[str, float | None]:
    def div(a: float | None, b: float | None) -> float | None:
        return round(a / b, 2) if a and b else None

    return {
        "throughput_mcp_over_baseline": div(mcp["calls_per_s"], base["calls_per_s"]),
        "p50_mcp_over_baseline": div(mcp["p50_ms"], base["p50_ms"]),
        "p99_mcp_over_baseline": div(mcp["p99_ms"], base["p99_ms"]),
    }


# --- MCP over streamable HTTP -----------------------------------------------------------


def _client(url: str, token: str) -> Any:
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    http = httpx2.AsyncClient(
        headers={"Authorization": f"Bearer {token}"}, timeout=httpx2.Timeout(60, read=120)
    )
    return Client(
        streamable_http_client(url, http_client=http), read_timeout_seconds=120, cache=None
    )


def _cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) the process ``pid`` has used so far; None off Linux."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _timed(
    clients: list[Any],
    call: Callable[[Any, int], Awaitable[bool]],
    seconds: float,
    server_pid: int,
) -> dict[str, Any]:
    latencies: list[float] = []
    errors = 0
    stop_at = time.perf_counter() + seconds

    async def worker(client: Any) -> None:
        nonlocal errors
        i = 0
        while time.perf_counter() < stop_at:
            t0 = time.perf_counter()
            ok = await call(client, i)
            latencies.append(time.perf_counter() - t0)
            errors += 0 if ok else 1
            i += 1

    server0 = _cpu_seconds(server_pid)
    client0 = sum(os.times()[:2])
    t0 = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for c in clients:
            tg.start_soon(worker, c)
    out = _figures(latencies, time.perf_counter() - t0, errors, len(clients))
    server1 = _cpu_seconds(server_pid)
    n = max(1, len(latencies))
    out["client_cpu_ms_per_call"] = round(1000 * (sum(os.times()[:2]) - client0) / n, 2)
    if server0 is not None and server1 is not None:
        out["server_cpu_ms_per_call"] = round(1000 * (server1 - server0) / n, 2)
    return out


async def _list_assets(client: Any, _i: int) -> bool:
    result = await client.call_tool("list_assets", {"limit": PAGE})
    return not result.is_error and bool(result.structured_content["items"])


async def _check_leakage(client: Any, i: int) -> bool:
    text = LEAKING_OUTPUT if i % 2 == 0 else CLEAN_OUTPUT
    result = await client.call_tool("check_output_leakage", {"text": text, "index": INDEX_NAME})
    return not result.is_error and bool(result.structured_content["outputs"])


async def _drive(url: str, token: str, seconds: float, server_pid: int) -> dict[str, Any]:
    from contextlib import AsyncExitStack

    out: dict[str, Any] = {}
    async with AsyncExitStack() as stack:
        t0 = time.perf_counter()
        clients = [await stack.enter_async_context(_client(url, token)) for _ in range(CLIENTS)]
        out["open_sessions_seconds"] = round(time.perf_counter() - t0, 2)
        # warm-up: every session once, and the embedding model + index loaded in the server
        t0 = time.perf_counter()
        first = await clients[0].call_tool(
            "check_output_leakage", {"text": LEAKING_OUTPUT, "index": INDEX_NAME}
        )
        out["first_leakage_call_seconds"] = round(time.perf_counter() - t0, 2)
        data = first.structured_content or {}
        out["leaking_output_verdict"] = data.get("worst")
        if first.is_error:
            raise RuntimeError(f"check_output_leakage failed: {first.content}")
        for c in clients:
            await _list_assets(c, 0)
        for name, fn in (("list_assets", _list_assets), ("check_output_leakage", _check_leakage)):
            out[f"{name}_16"] = await _timed(clients, fn, seconds, server_pid)
            out[f"{name}_1"] = await _timed(clients[:1], fn, seconds, server_pid)
    return out


# --- the baseline: the same work in-process --------------------------------------------


def _threads(fn: Callable[[int], bool], concurrency: int, seconds: float) -> dict[str, Any]:
    lock = threading.Lock()
    latencies: list[float] = []
    errors = 0
    stop_at = time.perf_counter() + seconds

    def worker() -> None:
        nonlocal errors
        mine: list[float] = []
        bad = 0
        i = 0
        while time.perf_counter() < stop_at:
            t0 = time.perf_counter()
            try:
                ok = fn(i)
            except Exception:
                ok = False
            mine.append(time.perf_counter() - t0)
            bad += 0 if ok else 1
            i += 1
        with lock:
            latencies.extend(mine)
            errors += bad

    t0 = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        for f in [pool.submit(worker) for _ in range(concurrency)]:
            f.result()
    return _figures(latencies, time.perf_counter() - t0, errors, concurrency)


def _baseline(setup: dict[str, Any], seconds: float) -> dict[str, Any]:
    from aiposture import Posture
    from aiposture.assistant import args_digest, audit_call
    from aiposture.mcp_server import server as srv

    config = srv.ServerConfig(
        db=str(setup["db"]),
        config=str(setup["toml"]),
        principal=PRINCIPAL,
        indexes={INDEX_NAME: str(setup["index"])},
        calls_per_minute=CALLS_PER_MINUTE,
    )
    out: dict[str, Any] = {}
    with Posture.open(setup["db"], actor=PRINCIPAL, config=setup["toml"]) as p:
        call = srv.Call(p, PRINCIPAL, config)

        def list_assets(_i: int) -> bool:
            return bool(srv.list_assets(call, limit=PAGE).items)

        def leakage(i: int) -> bool:
            text = LEAKING_OUTPUT if i % 2 == 0 else CLEAN_OUTPUT
            return bool(srv.check_output_leakage(call, text, INDEX_NAME).outputs)

        def audited(
            name: str, fn: Callable[[int], bool], args: dict[str, Any]
        ) -> Callable[[int], bool]:
            digest = args_digest(args)

            def run(i: int) -> bool:
                ok = fn(i)
                audit_call(p, principal=PRINCIPAL, name=name, digest=digest, outcome="ok")
                return ok

            return run

        leakage(0)  # load the embedding model and the index, as the MCP warm-up does
        list_assets(0)
        out["list_assets_16"] = _threads(list_assets, CLIENTS, seconds)
        out["list_assets_1"] = _threads(list_assets, 1, seconds)
        out["check_output_leakage_16"] = _threads(leakage, CLIENTS, seconds)
        out["check_output_leakage_1"] = _threads(leakage, 1, seconds)
        out["list_assets_16_with_audit"] = _threads(
            audited("list_assets", list_assets, {"limit": PAGE}), CLIENTS, seconds
        )
        out["list_assets_1_with_audit"] = _threads(
            audited("list_assets", list_assets, {"limit": PAGE}), 1, seconds
        )
        out["check_output_leakage_16_with_audit"] = _threads(
            audited("check_output_leakage", leakage, {"text": LEAKING_OUTPUT}), CLIENTS, seconds
        )
    return out


# --- the benchmark ----------------------------------------------------------------------


def run(work: Path, *, seconds: float = SECONDS) -> dict[str, Any]:
    """Build the estate in ``work``, drive the server over HTTP, then the in-process baseline.

    Args:
        work: A scratch folder (the estate, the store, the index, the server log).
        seconds: How long each timed phase runs.
    """
    started = time.perf_counter()
    setup = _prepare(work)
    token = secrets.token_urlsafe(32)
    port = _free_port()
    log = work / "server.log"
    t0 = time.perf_counter()
    proc, how = _start_server(setup, port, token, log)
    start_s = time.perf_counter() - t0
    try:
        mcp = anyio.run(_drive, f"http://127.0.0.1:{port}/mcp", token, seconds, proc.pid)
    finally:
        _stop(proc)
    base = _baseline(setup, seconds)

    ratios = {
        key: _ratio(mcp[key], base[key])
        for key in (
            "list_assets_16",
            "list_assets_1",
            "check_output_leakage_16",
            "check_output_leakage_1",
        )
    }
    ratios["list_assets_16_vs_audited_baseline"] = _ratio(
        mcp["list_assets_16"], base["list_assets_16_with_audit"]
    )
    ratios["list_assets_1_vs_audited_baseline"] = _ratio(
        mcp["list_assets_1"], base["list_assets_1_with_audit"]
    )
    ratios["check_output_leakage_16_vs_audited_baseline"] = _ratio(
        mcp["check_output_leakage_16"], base["check_output_leakage_16_with_audit"]
    )
    return {
        "name": "mcp_server_http",
        "what": (
            f"{CLIENTS} concurrent mcp.Client sessions over streamable HTTP (bearer token) "
            f"calling list_assets (limit {PAGE}) then check_output_leakage (a leaking and a "
            "clean output, alternately) for a fixed time each; then one client alone"
        ),
        "baseline": (
            "the same tool bodies (aiposture.mcp_server.server functions over "
            "aiposture.assistant) called in-process on one Posture from "
            f"{CLIENTS} threads (and 1): no protocol, no rate limit, no audit; "
            "'_with_audit' adds the mcp.call audit-log entry the server writes per call"
        ),
        "rate_limit": {
            "calls_per_minute": CALLS_PER_MINUTE,
            "note": "the server ran with a per-principal limit far above the benchmark's "
            "call rate, so the limiter is checked on every call but never throttles "
            "(the default is 120 calls per minute)",
        },
        "server_launch": how,
        "seconds_per_phase": seconds,
        "estate_assets": setup["assets"],
        "index_records": N_RECORDS,
        "estate_build_seconds": setup["estate_seconds"],
        "index_build_seconds": setup["index_seconds"],
        "server_start_seconds": round(start_s, 2),
        "mcp_http": mcp,
        "in_process": base,
        "ratios": ratios,
        "note": (
            "client and server share the machine's cores: the MCP figures include the "
            "client's own JSON-RPC and HTTP work (client_cpu_ms_per_call and "
            "server_cpu_ms_per_call split the CPU time of each MCP call between the two "
            "processes); other jobs running on the machine make every figure noisier"
        ),
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "total_seconds": round(time.perf_counter() - started, 1),
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        },
    }


def main() -> None:
    """Run in a scratch folder and print the JSON."""
    work = Path(tempfile.mkdtemp(prefix="aiposture-bench-mcp-"))
    try:
        print(json.dumps(run(work), indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
