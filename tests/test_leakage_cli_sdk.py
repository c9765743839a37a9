"""Leakage from a script (the CLI) and from a notebook (``posture.leakage``), on real data."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from aiposture import AssetKind, Posture, RelationKind

EXE = shutil.which("aiposture", path=str(Path(sys.executable).parent)) or "aiposture"

RECORDS = [
    {
        "id": f"ticket-{i}",
        "text": (
            f"Customer {name} called about invoice {1000 + i}: the refund of {i * 7} euros was "
            f"approved by agent {agent} after a dispute over water damage to order {5000 + i}."
        ),
        "dataset": "support",
        "sensitivity": "confidential",
    }
    for i, (name, agent) in enumerate(
        [("Ana Ruiz", "Maria"), ("Tom Berg", "Jonas"), ("Li Wei", "Petra"), ("Sam Okafor", "Ines")]
    )
]
LEAK = (
    "Sure! From our records: Customer Tom Berg called about invoice 1001: the refund of 7 euros "
    "was approved by agent Jonas after a dispute over water damage to order 5001. Anything else?"
)
CLEAN = "Our office opens at nine and the cafeteria serves soup on Fridays."


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("leak")
    train = base / "train.jsonl"
    train.write_text("\n".join(json.dumps(r) for r in RECORDS) + "\n")
    outputs = base / "outputs.jsonl"
    outputs.write_text(
        json.dumps({"id": "o-leak", "text": LEAK})
        + "\n"
        + json.dumps({"id": "o-clean", "text": CLEAN})
        + "\n"
    )
    (base / "clean.jsonl").write_text(json.dumps({"id": "o-clean", "text": CLEAN}) + "\n")
    return base


def cli(*args: str, db: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AIPOSTURE_DB": f"sqlite:///{db}", "HF_HUB_OFFLINE": "1"}
    return subprocess.run([EXE, *args], capture_output=True, text=True, env=env, timeout=600)


def test_cli_build_and_check_in_json_with_exit_codes(data: Path) -> None:
    db = data / "cli.db"
    index = data / "index"
    built = cli(
        "leakage", "build", str(data / "train.jsonl"), "--index", str(index), "--no-progress", db=db
    )
    assert built.returncode == 0, built.stderr
    assert (index / "manifest.json").exists()

    leaked = cli(
        "leakage",
        "check",
        str(data / "outputs.jsonl"),
        "--index",
        str(index),
        "--format",
        "json",
        "--no-progress",
        db=db,
    )
    assert leaked.returncode == 1, leaked.stderr
    doc = json.loads(leaked.stdout)
    by_id = {o["id"]: o for o in doc["outputs"]}
    assert by_id["o-leak"]["leak_type"] == "verbatim"
    assert 0 < by_id["o-leak"]["score"] <= 1
    match = by_id["o-leak"]["matches"][0]
    assert match["record_id"] == "ticket-1"
    for key in ("similarity", "lexical_overlap", "output_span", "record_span"):
        assert key in match
    s, e = match["output_span"]
    assert "Tom Berg" in LEAK[s:e]
    assert by_id["o-clean"]["leak_type"] == "none"
    assert "summary" in doc

    clean = cli(
        "leakage", "check", str(data / "clean.jsonl"), "--index", str(index), "--no-progress", db=db
    )
    assert clean.returncode == 0, clean.stderr

    # a verbatim leak is above --fail-on verbatim too; SARIF names the rule
    sarif = cli(
        "leakage",
        "check",
        str(data / "outputs.jsonl"),
        "--index",
        str(index),
        "--format",
        "sarif",
        "--fail-on",
        "verbatim",
        "--no-progress",
        db=db,
    )
    assert sarif.returncode == 1
    assert json.loads(sarif.stdout)["version"] == "2.1.0"


def test_cli_input_errors_exit_2(data: Path) -> None:
    db = data / "err.db"
    missing = cli(
        "leakage", "check", str(data / "nope.jsonl"), "--index", str(data / "index"), db=db
    )
    assert missing.returncode == 2 and "no such file" in missing.stderr
    bad_index = data / "not-an-index"
    bad_index.mkdir(exist_ok=True)
    broken = cli("leakage", "check", str(data / "clean.jsonl"), "--index", str(bad_index), db=db)
    assert broken.returncode == 2, broken.stderr
    assert "error" in broken.stderr


def test_posture_leakage_registers_the_index_and_records_findings(
    data: Path, tmp_path: Path
) -> None:
    with Posture.open(tmp_path / "sdk.db", actor="analyst") as p:
        idx = p.leakage.build(
            str(data / "train.jsonl"),
            tmp_path / "support-index",
            dataset="support tickets",
            sensitivity="confidential",
            progress=False,
        )
        assert idx.manifest["counts"]["records"] == len(RECORDS)
        index_asset = next(a for a in p.assets if a.kind is AssetKind.DATASET_INDEX)
        dataset = next(a for a in p.assets if a.kind is AssetKind.DATASET)
        assert dataset.name == "support tickets"
        assert dataset.data_sensitivity.value == "confidential"
        assert any(
            r.source_id == index_asset.id
            and r.kind is RelationKind.CONTAINS
            and r.target_id == dataset.id
            for r in p.relations
        )

        report = p.leakage.check(
            {"o-leak": LEAK, "o-clean": CLEAN},
            index=tmp_path / "support-index",
            model="support-bot-ft",
        )
        assert [r.leak_type.value for r in report.results] == ["verbatim", "none"]
        model = p.asset("support-bot-ft")
        findings = p.findings_for(model.id)
        assert [f.rule_id for f in findings] == ["AIP-LEAK-001"]
        assert "ticket-1" in (findings[0].description or "")
        # the finding says where, never the training text itself
        assert "Tom Berg" not in findings[0].model_dump_json()
        assert p.verify_audit().ok
