"""The command line, run as a user runs it: the installed console script in a subprocess."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from aiposture.demo import build_estate

EXE = shutil.which("aiposture", path=str(Path(sys.executable).parent)) or "aiposture"


def run(*args: str, db: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AIPOSTURE_DB": f"sqlite:///{db}"}
    proc = subprocess.run([EXE, *args], capture_output=True, text=True, env=env, timeout=300)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


@pytest.fixture(scope="module")
def estate_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("cli")
    estate = build_estate(base / "estate")
    db = base / "cli.db"
    proc = run("scan", str(estate.root), db=db)
    assert "assets seen" in proc.stdout
    return estate.root, db


def test_inventory_json_uses_the_domain_field_names(estate_db: tuple[Path, Path]) -> None:
    _, db = estate_db
    rows = json.loads(run("inventory", "--json", db=db).stdout)
    assert isinstance(rows, list) and rows
    for key in (
        "id",
        "kind",
        "name",
        "provider",
        "version",
        "locations",
        "evidence",
        "tags",
        "findings",
        "first_seen",
        "last_seen",
        "stale",
    ):
        assert key in rows[0], key
    creds = [r for r in rows if r["kind"] == "credential"]
    assert creds and all(r["findings"] for r in creds)


def test_inventory_kind_filter_and_bad_kind(estate_db: tuple[Path, Path]) -> None:
    _, db = estate_db
    rows = json.loads(run("inventory", "--kind", "model", "--json", db=db).stdout)
    assert rows and {r["kind"] for r in rows} == {"model"}
    bad = run("inventory", "--kind", "spaceship", db=db, check=False)
    assert bad.returncode == 2
    assert "unknown asset kind 'spaceship'" in bad.stderr


def test_export_cyclonedx_writes_a_valid_bom(estate_db: tuple[Path, Path], tmp_path: Path) -> None:
    _, db = estate_db
    out = tmp_path / "bom.json"
    run("export", "cyclonedx", "-o", str(out), db=db)
    bom = json.loads(out.read_text())
    assert bom["bomFormat"] == "CycloneDX" and bom["specVersion"] == "1.6"
    assert any(c["type"] == "machine-learning-model" for c in bom["components"])


def test_scan_fail_on_exits_1_when_findings_exist(estate_db: tuple[Path, Path]) -> None:
    root, db = estate_db
    proc = run("scan", str(root), "--fail-on", "high", "--no-progress", db=db, check=False)
    assert proc.returncode == 1
    assert "open finding(s) at or above high" in proc.stderr


def test_scan_of_missing_path_exits_2(tmp_path: Path) -> None:
    proc = run("scan", str(tmp_path / "missing"), db=tmp_path / "x.db", check=False)
    assert proc.returncode == 2
    assert "no such file or folder" in proc.stderr


def test_bad_store_url_exits_3(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    proc = run(
        "inventory", "--db", f"sqlite:///{blocker}/sub/x.db", db=tmp_path / "x.db", check=False
    )
    assert proc.returncode == 3
    assert "error" in proc.stderr


def test_audit_verify_reports_ok(estate_db: tuple[Path, Path]) -> None:
    _, db = estate_db
    report = json.loads(run("audit", "verify", db=db).stdout)
    assert report["ok"] is True and report["entries"] > 0
