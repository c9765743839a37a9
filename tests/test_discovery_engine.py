"""The discovery engine on real trees and a real SQLite store: bad input, rescans, staleness."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from aiposture import Asset, AssetKind, Posture, ScanError, Settings
from aiposture.discovery.base import Scanner, Target
from aiposture.discovery.engine import Discovery
from aiposture.discovery.registry import ScannerRegistry
from aiposture.store import open_store

GOOD = (
    "from openai import OpenAI\n"
    "client = OpenAI()\n"
    'client.chat.completions.create(model="gpt-4o", messages=[])\n'
)


@pytest.fixture
def posture(tmp_path: Path) -> Posture:
    p = Posture.open(f"sqlite:///{tmp_path / 'store.db'}", actor="tester")
    yield p
    p.close()


def _models(p: Posture) -> set[str]:
    return {a.name for a in p.assets if a.kind is AssetKind.MODEL and not a.stale}


def _errors(run) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {Path(e.path).name: e.reason for e in run.errors}


def test_bad_inputs_are_recorded_and_the_scan_finishes(tmp_path: Path, posture: Posture) -> None:
    root = tmp_path / "estate"
    root.mkdir()
    (root / "good.py").write_text(GOOD)
    (root / "binary.py").write_bytes(b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 10)
    (root / "latin1.py").write_bytes('name = "café"\n'.encode("latin-1"))
    (root / "broken.ipynb").write_text('{"cells": [ {"cell_type": "code", "source": "imp')
    (root / "not_a_notebook.ipynb").write_text(json.dumps({"hello": "world"}))
    (root / "nested.py").write_text("import openai\nx = " + "(" * 5000 + "1" + ")" * 5000 + "\n")
    (root / "syntax.py").write_text("import openai\ndef broken(:\n    pass\n")
    with open(root / "huge.py", "wb") as fh:  # 100 MB, sparse
        fh.truncate(100 * 1024 * 1024)
    loop = root / "loop"
    loop.mkdir()
    (loop / "back").symlink_to(root, target_is_directory=True)
    (root / "self.py").symlink_to(root / "self.py")
    (root / "dangling.py").symlink_to(root / "nowhere.py")
    os.mkfifo(root / "pipe.py")

    run = posture.discover([root], progress=False)

    errors = _errors(run)
    assert "binary" in errors["binary.py"] or "NUL" in errors["binary.py"]
    assert "UTF-8" in errors["latin1.py"]
    assert "notebook" in errors["broken.ipynb"].lower() or "json" in errors["broken.ipynb"].lower()
    assert "not_a_notebook.ipynb" in errors
    assert "nested.py" in errors
    assert "syntax" in errors["syntax.py"].lower() and "line 2" in errors["syntax.py"]
    assert "100.0 MB" in errors["huge.py"] and "limit" in errors["huge.py"]
    assert "symlink loop" in errors["back"]
    assert "symlink loop" in errors["self.py"]
    assert "dangling.py" in errors
    assert "not a regular file" in errors["pipe.py"]
    assert all(e.path for e in run.errors)
    # the good file was still scanned
    assert "gpt-4o" in _models(posture)
    assert run.status.value == "completed"
    # and the run with its errors is stored
    stored = posture.scans[0]
    assert stored.id == run.id and len(stored.errors) == len(run.errors)


def test_a_file_that_turns_bad_keeps_what_was_stored(tmp_path: Path, posture: Posture) -> None:
    root = tmp_path / "estate"
    root.mkdir()
    nb = root / "analysis.py"
    nb.write_text(GOOD)
    posture.discover([root], progress=False)
    assert "gpt-4o" in _models(posture)

    nb.write_bytes(b"\xff\xfe garbage \x00\x00")
    run = posture.discover([root], progress=False)

    assert "analysis.py" in _errors(run)
    assert "gpt-4o" in _models(posture), "a failed rescan must not drop what was stored"
    assert posture.verify_audit().ok


def test_unreadable_file_is_a_recorded_error(tmp_path: Path) -> None:
    setpriv = shutil.which("setpriv")
    if os.geteuid() == 0 and setpriv is None:
        pytest.skip("root reads any file; setpriv (util-linux) is needed to drop that right")
    root = tmp_path / "estate"
    root.mkdir()
    (root / "ok.py").write_text(GOOD)
    locked = root / "locked.py"
    locked.write_text(GOOD)
    locked.chmod(0o000)
    code = (
        "import json; from aiposture import Posture; "
        f"p = Posture.open({str(tmp_path / 'store.db')!r}, actor='t'); "
        f"r = p.discover([{str(root)!r}], progress=False); "
        "print(json.dumps([e.model_dump() for e in r.errors]))"
    )
    cmd = [sys.executable, "-c", code]
    if os.geteuid() == 0:
        # root keeps its uid but loses the capabilities that bypass file permissions
        cmd = [
            setpriv or "setpriv",
            "--inh-caps=-all",
            "--bounding-set=-dac_override,-dac_read_search",
            *cmd,
        ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    errors = {Path(e["path"]).name: e["reason"] for e in json.loads(proc.stdout)}
    assert errors == {"locked.py": "permission denied"}


def test_rescan_skips_unchanged_files_and_stales_removed_assets(
    tmp_path: Path, posture: Posture
) -> None:
    root = tmp_path / "estate"
    (root / "svc").mkdir(parents=True)
    a = root / "svc" / "a.py"
    b = root / "svc" / "b.py"
    a.write_text(GOOD)
    b.write_text(
        'import anthropic\nanthropic.Anthropic().messages.create(model="claude-3-opus-20240229")\n'
    )

    first = posture.discover([root], progress=False)
    assert first.counts.files_scanned == 2
    ids_before = {a_.name: a_.id for a_ in posture.assets}

    second = posture.discover([root], progress=False)
    assert second.counts.files_scanned == 0
    assert second.counts.files_unchanged == 2
    assert {x.name: x.id for x in posture.assets} == ids_before, "ids are stable across scans"

    # touched but identical: read and hashed, still unchanged
    os.utime(a, ns=(a.stat().st_atime_ns, a.stat().st_mtime_ns + 10_000_000_000))
    third = posture.discover([root], progress=False)
    assert third.counts.files_scanned == 0 and third.counts.files_unchanged == 2

    b.unlink()
    fourth = posture.discover([root], progress=False)
    claude = posture.asset("claude-3-opus-20240229")
    assert claude.stale, "an asset no longer seen is marked stale, not deleted"
    assert claude.id == ids_before["claude-3-opus-20240229"]
    assert fourth.counts.assets_stale >= 1
    assert not posture.asset("gpt-4o").stale

    b.write_text(
        'import anthropic\nanthropic.Anthropic().messages.create(model="claude-3-opus-20240229")\n'
    )
    posture.discover([root], progress=False)
    assert not posture.asset("claude-3-opus-20240229").stale


def test_one_asset_from_many_pieces_of_evidence(tmp_path: Path, posture: Posture) -> None:
    root = tmp_path / "estate"
    (root / "svc").mkdir(parents=True)
    for i in range(3):
        (root / "svc" / f"m{i}.py").write_text(GOOD)
    posture.discover([root], progress=False)
    gpt = [x for x in posture.assets if x.kind is AssetKind.MODEL and x.name == "gpt-4o"]
    assert len(gpt) == 1
    assert {Path(e.path or "").name for e in gpt[0].evidence} >= {"m0.py", "m1.py", "m2.py"}


def test_missing_root_is_a_clear_error(tmp_path: Path, posture: Posture) -> None:
    with pytest.raises(ScanError, match="no such file or folder"):
        posture.discover([tmp_path / "nope"], progress=False)


def test_virtualenvs_and_vcs_folders_are_not_walked(tmp_path: Path, posture: Posture) -> None:
    root = tmp_path / "estate"
    venv = root / "env"
    (venv / "lib").mkdir(parents=True)
    (venv / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (venv / "lib" / "client.py").write_text(GOOD)
    (root / ".git").mkdir()
    (root / ".git" / "hook.py").write_text(GOOD)
    run = posture.discover([root], progress=False)
    assert run.counts.files_seen == 0
    assert len(posture.assets) == 0


def test_an_enormous_source_file_under_the_limit_is_scanned(
    tmp_path: Path, posture: Posture
) -> None:
    root = tmp_path / "estate"
    root.mkdir()
    body = "".join(f"value_{i} = {i}\n" for i in range(300_000))  # about 5 MB
    (root / "generated.py").write_text(GOOD + body)
    run = posture.discover([root], progress=False)
    assert run.errors == []
    assert run.counts.bytes_read > 5_000_000
    assert "gpt-4o" in _models(posture)


def test_worker_processes_find_what_one_process_finds(tmp_path: Path) -> None:
    from aiposture.demo import build_estate

    estate = build_estate(tmp_path / "estate")
    (estate.root / "bad.ipynb").write_text("{not json")
    results = []
    for workers in (1, 2):
        with Posture.open(tmp_path / f"w{workers}.db", actor="t") as p:
            run = p.discover([estate.root], progress=False, workers=workers)
            results.append(
                (
                    sorted((a.id, len(a.evidence)) for a in p.assets),
                    sorted(r.id for r in p.relations),
                    sorted(f.id for f in p.findings),
                    sorted((e.path, e.reason) for e in run.errors),
                    run.counts.files_scanned,
                )
            )
    assert results[0] == results[1]
    assert results[0][0] and results[0][3]


class _Probe(Scanner):
    """Records what the engine hands it; reports one asset per file."""

    name = "probe"
    description = "test scanner that reads the file itself"
    streams = True
    max_bytes = 1 << 40
    seen: ClassVar[list[tuple[bytes, dict[str, str]]]] = []

    def accepts(self, path: Path) -> bool:
        return path.suffix == ".weights"

    def scan(self, target: Target) -> Iterator[Asset]:
        _Probe.seen.append((target.data, dict(target.extra)))
        assert target.path is not None
        with open(target.path, "rb") as fh:
            head = fh.read(4)
        yield Asset.new(
            AssetKind.MODEL_FILE,
            target.path.name,
            key=f"probe|{target.extra['sha256']}",
            attributes={
                "head": head.hex(),
                "sanctioned_setting": list(self.settings.discovery.sanctioned_services),
            },
        )


def test_a_streaming_scanner_gets_the_path_and_the_whole_files_hash_not_its_bytes(
    tmp_path: Path,
) -> None:
    root = tmp_path / "estate"
    root.mkdir()
    big = root / "big.weights"
    with open(big, "wb") as fh:  # 12 MB: over the default 8 MB a reading scanner may take
        fh.write(b"GGUF")
        fh.seek(12 * 1024 * 1024 - 1)
        fh.write(b"\x01")
    reg = ScannerRegistry()
    reg.register(_Probe)
    settings = Settings.from_mapping({"discovery": {"sanctioned_services": ["openai"]}})
    _Probe.seen.clear()
    with open_store(f"sqlite:///{tmp_path / 'p.db'}") as store:
        run = Discovery(store, registry=reg, settings=settings).run([root], progress=False)
        assert run.errors == []
        assert run.counts.bytes_read == big.stat().st_size
        [(data, extra)] = _Probe.seen
        assert data == b""
        assert extra["sha256"] == hashlib.sha256(big.read_bytes()).hexdigest()
        assert extra["size"] == str(big.stat().st_size)
        [asset] = store.assets()
        assert asset.attributes == {"head": b"GGUF".hex(), "sanctioned_setting": ["openai"]}
        # unchanged on a rescan: not handed to the scanner again
        Discovery(store, registry=reg, settings=settings).run([root], progress=False)
        assert len(_Probe.seen) == 1
