"""Helpers of the out-of-process MCP tests: a server set-up on disk and server processes.

A set-up is a private copy of the demo store, the demo policy, a tiny leakage index and
an aiposture TOML holding the SHA-256 digests of two bearer tokens. Server processes are
``python -m aiposture.mcp_server`` exactly as an assistant launches it; every process
started here is stopped in a ``finally``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from aiposture import Posture
from aiposture.demo import write_policy
from aiposture.models import AssetKind

PRINCIPAL_A = "assistant-a"
TOKEN_A = "tok-A-9f3b2c7d1e8a4b6c"
PRINCIPAL_B = "assistant-b"
TOKEN_B = "tok-B-2a7e5d9c3f1b8e4a"
#: The principal of stdio sessions in these tests.
LOCAL = "local-analyst"
#: A training record of the tiny leakage index, and an output that repeats it.
SECRET_RECORD = (
    "Customer Ingrid Vasquez-Holm reported that the refund for order 77-XK-2291 was sent "
    "to IBAN DE44 5001 0517 5407 3249 31 on the ninth of March after the escalation."
)
LEAKING_OUTPUT = (
    "Sure! Customer Ingrid Vasquez-Holm reported that the refund for order 77-XK-2291 was "
    "sent to IBAN DE44 5001 0517 5407 3249 31 on the ninth of March after the escalation."
)
INDEX_NAME = "support"


@dataclass(frozen=True)
class Setup:
    """Everything a server process needs, on disk."""

    folder: Path
    db: Path
    config: Path
    index: Path
    model: str

    def serve_args(self, *extra: str) -> list[str]:
        """Arguments of ``python -m aiposture.mcp_server`` for this set-up."""
        return [
            "--db",
            str(self.db),
            "--config",
            str(self.config),
            "--index",
            f"{INDEX_NAME}={self.index}",
            *extra,
        ]


def leakage_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny leakage index, built once per test session (the embedding model is slow)."""
    folder = tmp_path_factory.getbasetemp() / "mcp-leakage-index"
    if (folder / "index").exists():
        return folder / "index"
    folder.mkdir(parents=True, exist_ok=True)
    records = [
        {"id": "t1", "text": SECRET_RECORD},
        {"id": "t2", "text": "How do I reset my password? Use the link on the sign-in page."},
        {"id": "t3", "text": "Our office is closed on public holidays; tickets wait a day."},
    ]
    train = folder / "train.jsonl"
    train.write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
    with Posture.open(folder / "build.db", actor="setup") as p:
        p.leakage.build(str(train), folder / "index", dataset="support", progress=False)
    return folder / "index"


def make_setup(folder: Path, demo_db: Path, sanctioned: Sequence[str], index: Path) -> Setup:
    """Copy the demo store to ``folder`` and write the policy and the configuration."""
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "posture.db"
    shutil.copyfile(demo_db, db)
    write_policy(folder / "policy")
    digest_a = hashlib.sha256(TOKEN_A.encode()).hexdigest()
    digest_b = hashlib.sha256(TOKEN_B.encode()).hexdigest()
    config = folder / "aiposture.toml"
    config.write_text(
        "[discovery]\n"
        f"sanctioned_services = {json.dumps(list(sanctioned))}\n\n"
        '[policy]\nfolder = "policy"\n\n'
        "[mcp]\n"
        f'tokens = {{ "{digest_a}" = "{PRINCIPAL_A}", "{digest_b}" = "{PRINCIPAL_B}" }}\n',
        encoding="utf-8",
    )
    with Posture.open(db, actor="setup", config=config) as p:
        model = next(a for a in p.assets if a.kind is AssetKind.MODEL)
    return Setup(folder=folder, db=db, config=config, index=index, model=model.id)


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_env(**extra: str) -> dict[str, str]:
    """The environment of a server process: ours without aiposture's own variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIPOSTURE_")}
    env.update(extra)
    return env


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop ``proc`` (SIGTERM, then SIGKILL after 10 seconds)."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def _log(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")[-4000:]
    except OSError:
        return ""


@contextmanager
def http_server(
    setup: Setup, port: int, *extra: str, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """``python -m aiposture.mcp_server --http`` on ``port``, up and listening."""
    log = setup.folder / f"server-{port}.log"
    with log.open("wb") as err:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "aiposture.mcp_server",
                *setup.serve_args("--http", "--port", str(port), *extra),
            ],
            stdin=subprocess.DEVNULL,
            stdout=err,
            stderr=err,
            env=server_env() if env is None else env,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"the server exited ({proc.returncode}):\n{_log(log)}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise AssertionError(f"the server did not listen:\n{_log(log)}") from None
                time.sleep(0.1)
        yield proc
    finally:
        stop(proc)


def run_server_to_exit(
    args: Sequence[str], env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m aiposture.mcp_server ARGS`` expecting it to exit by itself."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "aiposture.mcp_server", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=server_env() if env is None else env,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
