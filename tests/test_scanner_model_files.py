"""The model file scanner: formats from bytes, unsafe files flagged, bad input recorded.

The malicious files are written from raw opcodes by tests/model_fixtures.py; no test
loads any of them (no pickle.load, torch.load or joblib.load on a malicious file).
"""

from __future__ import annotations

import hashlib
import json
import struct
import zipfile
from pathlib import Path

import pytest

from aiposture.discovery.base import Target, TargetError, TargetKind
from aiposture.discovery.engine import Discovery
from aiposture.discovery.model_formats import _Lz4Frame, inspect_model_file
from aiposture.discovery.registry import ScannerRegistry
from aiposture.discovery.scanners.model_files import ModelFileScanner
from aiposture.models import Asset, AssetKind, Finding, Relation, RelationKind, Severity
from aiposture.store import open_store
from model_fixtures import (
    MALICIOUS_PICKLES,
    PAYLOAD_MARKER,
    Sample,
    gguf_bytes,
    proto,
    write_bad_inputs,
    write_benign,
    write_malicious,
)


def _safetensors_bytes(*, overlap: bool = False, shape: list[int] | None = None) -> bytes:
    """Two F32 tensors of 2x2, written by hand (optionally with a header that lies)."""
    header = {
        "__metadata__": {"format": "pt"},
        "a": {"dtype": "F32", "shape": shape or [2, 2], "data_offsets": [0, 16]},
        "b": {"dtype": "F32", "shape": [2, 2], "data_offsets": [8, 24] if overlap else [16, 32]},
    }
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + b"\x00" * 32


def target_for(p: Path, root: Path) -> Target:
    data = p.read_bytes() if p.stat().st_size < 50_000_000 else b""
    return Target(
        kind=TargetKind.FILE,
        source=str(p),
        path=p,
        root=root,
        project=root,
        extra={"sha256": hashlib.sha256(data).hexdigest(), "size": str(p.stat().st_size)},
    )


def scan(p: Path, root: Path) -> list[object]:
    return list(ModelFileScanner().scan(target_for(p, root)))


def split(out: list[object]) -> tuple[list[Asset], list[Relation], list[Finding]]:
    return (
        [o for o in out if isinstance(o, Asset)],
        [o for o in out if isinstance(o, Relation)],
        [o for o in out if isinstance(o, Finding)],
    )


@pytest.fixture(scope="module")
def malicious(tmp_path_factory: pytest.TempPathFactory) -> list[Sample]:
    return write_malicious(tmp_path_factory.mktemp("malicious"))


@pytest.fixture(scope="module")
def benign(tmp_path_factory: pytest.TempPathFactory) -> list[Sample]:
    return write_benign(tmp_path_factory.mktemp("benign"))


def test_the_sets_are_as_large_as_the_acceptance_asks(
    malicious: list[Sample], benign: list[Sample]
) -> None:
    assert len(malicious) >= 15 and len(benign) >= 10
    kinds = {s.kind for s in malicious}
    assert {"pickle", "pytorch-zip", "pytorch-legacy", "joblib"} <= kinds
    assert {"numpy", "pytorch-zip", "joblib", "safetensors", "onnx", "gguf"} <= {
        s.kind for s in benign
    }


def test_every_malicious_file_gets_a_finding_naming_the_offending_globals(
    malicious: list[Sample],
) -> None:
    for sample in malicious:
        assets, _, findings = split(scan(sample.path, sample.path.parent))
        [model] = [a for a in assets if a.kind is AssetKind.MODEL_FILE]
        [finding] = findings
        assert finding.rule_id == "AIP-MODEL-001", sample.path.name
        assert finding.asset_id == model.id
        assert finding.title.startswith(f"Unsafe deserialization: loading {sample.path.name}")
        reported = set(model.attributes["unsafe_globals"])
        assert sample.offending <= reported, (sample.path.name, reported)
        text = finding.description or ""
        for name in sample.offending:
            assert name in text, (sample.path.name, name)
        assert any(name in (e.detail or "") for e in finding.evidence for name in sample.offending)
        assert {"owasp-llm:LLM03", "atlas:AML.T0010", "cwe:502"} <= set(finding.tags)
        assert model.attributes["unsafe"] is True


def test_code_execution_globals_are_critical_findings(malicious: list[Sample]) -> None:
    by_name = {s.path.name: s for s in malicious}
    for name in (
        "os_system_global_p0.pkl",
        "torchzip_commands_popen_p2.ckpt",
        "joblib_array_then_os_system.joblib",
    ):
        [finding] = split(scan(by_name[name].path, by_name[name].path.parent))[2]
        assert finding.severity is Severity.CRITICAL, name
    [finding] = split(
        scan(
            by_name["unknown_module_hook.pkl"].path, by_name["unknown_module_hook.pkl"].path.parent
        )
    )[2]
    assert finding.severity is Severity.HIGH


def test_no_benign_file_is_flagged_and_each_is_described(benign: list[Sample]) -> None:
    for sample in benign:
        assets, _, findings = split(scan(sample.path, sample.path.parent))
        assert findings == [], (sample.path.name, findings)
        [model] = [a for a in assets if a.kind is AssetKind.MODEL_FILE]
        assert model.attributes["format"] == sample.kind, sample.path.name
        assert model.attributes["unsafe"] is False
        assert model.attributes["sha256"] == hashlib.sha256(sample.path.read_bytes()).hexdigest()
        assert model.attributes["size"] == sample.path.stat().st_size


def test_frameworks_and_format_facts_are_read_from_the_bytes(benign: list[Sample]) -> None:
    by = {s.path.name: s.path for s in benign}

    def attrs(name: str) -> dict[str, object]:
        [model] = [
            a for a in split(scan(by[name], by[name].parent))[0] if a.kind is AssetKind.MODEL_FILE
        ]
        return model.attributes

    st = attrs("model.safetensors")
    assert st["tensor_count"] == 4 and st["dtypes"] == ["F32"] and st["framework"] == "pytorch"
    gg = attrs("tiny.gguf")
    assert (gg["architecture"], gg["name"], gg["license"]) == ("llama", "tiny-llama", "apache-2.0")
    assert gg["tensor_count"] == 2 and gg["dtypes"] == ["F16", "F32"]
    ox = attrs("model.onnx")
    assert ox["producer_name"] == "aiposture-tests" and ox["nodes"] == 2
    assert isinstance(ox["ir_version"], int) and "ai.onnx" in ox["opsets"]  # type: ignore[operator]
    jb = attrs("forest_zlib.joblib")
    assert jb["framework"] == "scikit-learn" and jb["compression"] == "zlib"
    assert isinstance(jb["joblib_arrays"], int) and jb["joblib_arrays"] > 0
    assert any(g.startswith("sklearn.ensemble") for g in jb["globals"])  # type: ignore[attr-defined]
    assert attrs("pytorch_model.bin")["format"] == "pytorch-legacy"
    assert attrs("state_dict.pt")["framework"] == "pytorch"


def test_the_application_contains_the_model_file(tmp_path: Path) -> None:
    p = tmp_path / "w.safetensors"
    p.write_bytes(_safetensors_bytes())
    assets, relations, _ = split(scan(p, tmp_path))
    model = next(a for a in assets if a.kind is AssetKind.MODEL_FILE)
    app = next(a for a in assets if a.kind is AssetKind.APPLICATION)
    [rel] = relations
    assert (rel.source_id, rel.kind, rel.target_id) == (app.id, RelationKind.CONTAINS, model.id)
    assert model.evidence[0].path == str(p) and model.evidence[0].scanner == "model_files"


def test_an_extension_that_lies_is_noted(malicious: list[Sample], benign: list[Sample]) -> None:
    lying = next(s for s in malicious if s.path.name == "pickle_named_model.bin")
    [model] = [
        a for a in split(scan(lying.path, lying.path.parent))[0] if a.kind is AssetKind.MODEL_FILE
    ]
    assert model.attributes["format"] == "pickle" and model.attributes["extension_mismatch"] is True
    honest = next(s for s in benign if s.path.name == "state_dict.pt")
    [model] = [
        a for a in split(scan(honest.path, honest.path.parent))[0] if a.kind is AssetKind.MODEL_FILE
    ]
    assert model.attributes["extension_mismatch"] is False


def test_file_mode_bits_are_recorded(tmp_path: Path) -> None:
    p = tmp_path / "w.safetensors"
    p.write_bytes(_safetensors_bytes())
    p.chmod(0o644)
    [model] = [a for a in split(scan(p, tmp_path))[0] if a.kind is AssetKind.MODEL_FILE]
    assert (model.attributes["world_readable"], model.attributes["world_writable"]) == (True, False)
    p.chmod(0o600)
    [model] = [a for a in split(scan(p, tmp_path))[0] if a.kind is AssetKind.MODEL_FILE]
    assert model.attributes["world_readable"] is False and model.attributes["mode"] == "0o600"


def test_an_archive_without_a_model_yields_nothing(tmp_path: Path) -> None:
    p = tmp_path / "docs.zip"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("README.md", "no model here")
    assert scan(p, tmp_path) == []


def test_bytes_of_no_known_format_are_a_clear_error(tmp_path: Path) -> None:
    p = tmp_path / "firmware.bin"
    p.write_bytes(b"\x7fELF" + b"\x00" * 100)
    with pytest.raises(TargetError, match="not a recognised model format"):
        scan(p, tmp_path)


def test_safetensors_headers_that_lie_are_errors(tmp_path: Path) -> None:
    cases = {
        "too_long.safetensors": struct.pack("<Q", 10**9) + b'{"a": 1}',
        "overlap.safetensors": _safetensors_bytes(overlap=True),
        "shape.safetensors": _safetensors_bytes(shape=[3, 3]),
        "not_json.safetensors": struct.pack("<Q", 8) + b"{not js}",
    }
    for name, data in cases.items():
        p = tmp_path / name
        p.write_bytes(data)
        with pytest.raises(TargetError) as err:
            scan(p, tmp_path)
        assert "safetensors" in err.value.reason or "lying" in err.value.reason, name


def test_a_gguf_header_claiming_more_tensors_than_fit_is_an_error(tmp_path: Path) -> None:
    p = tmp_path / "lying.gguf"
    p.write_bytes(gguf_bytes(lie=True))
    with pytest.raises(TargetError, match=r"lying header"):
        scan(p, tmp_path)


def test_the_pure_python_lz4_decoder_reads_literal_and_match_sequences() -> None:
    # token 0x35: 3 literals, then a match of 5+4=9 bytes at offset 3; a last sequence of
    # 2 literals ends the block
    block = bytes([0x35]) + b"abc" + b"\x03\x00" + bytes([0x20]) + b"xy"
    frame = b"\x04\x22\x4d\x18" + bytes([0x60, 0x40, 0x82])
    frame += struct.pack("<I", len(block)) + block + struct.pack("<I", 0)
    dec = _Lz4Frame()
    assert dec.decompress(frame) == b"abc" + b"abcabcabc" + b"xy"
    assert dec.eof


def test_a_truncated_malicious_pickle_is_flagged_and_recorded(tmp_path: Path) -> None:
    data = next(m.data for m in MALICIOUS_PICKLES if m.name == "posix_system_global_p2")
    p = tmp_path / "cut.pkl"
    p.write_bytes(data[:-1] + b"X\xff\xff\x00\x00ab")
    out: list[object] = []
    with pytest.raises(TargetError, match="truncated at byte"):
        for obs in ModelFileScanner().scan(target_for(p, tmp_path)):
            out.append(obs)
    [finding] = split(out)[2]
    assert "posix.system" in finding.title


# --- through the engine, with a real SQLite store ------------------------------------------


def _registry() -> ScannerRegistry:
    reg = ScannerRegistry()
    reg.register(ModelFileScanner)
    return reg


def test_discovery_records_bad_input_as_errors_and_stores_no_payload(
    tmp_path: Path, malicious: list[Sample]
) -> None:
    root = tmp_path / "estate"
    (root / "models").mkdir(parents=True)
    (root / "requirements.txt").write_text("torch\n")
    write_bad_inputs(root / "bad")
    for sample in malicious[:6]:
        (root / "models" / sample.path.name).write_bytes(sample.path.read_bytes())
    cut = root / "models" / "cut_payload.pkl"
    cut.write_bytes(proto(2) + b"cos\nsystem\nX\x02\x00\x00\x00id\x85RX\xff\xff\xff\x00ab")
    db = tmp_path / "posture.db"
    with open_store(f"sqlite:///{db}") as store:
        run = Discovery(store, registry=_registry(), workers=1).run([root], progress=False)
        errors = {Path(e.path).name: e.reason for e in run.errors}
        assert "MARK" in errors["bomb.pkl"]
        assert "truncated" in errors["truncated.pt"]
        assert "zip bomb" in errors["bomb.zip"]
        assert "lying header" in errors["lying.safetensors"]
        assert "not a recognised model format" in errors["sparse_model.bin"]
        assert "truncated at byte" in errors["cut_payload.pkl"]
        assert all(e.scanner == "model_files" for e in run.errors)
        findings = store.findings()
        flagged = {
            Path(store.asset(f.asset_id).locations[0]).name
            for f in findings
            if f.rule_id == "AIP-MODEL-001"
        }
        assert {s.path.name for s in malicious[:6]} | {"cut_payload.pkl"} <= flagged
        models = store.assets(kind=AssetKind.MODEL_FILE)
        assert len(models) == 7
    raw = db.read_bytes()
    assert PAYLOAD_MARKER.encode() not in raw
    assert b"echo " not in raw


def test_a_2gb_sparse_file_with_a_pickle_header_is_scanned_in_flat_memory(tmp_path: Path) -> None:
    import resource

    root = tmp_path / "estate"
    root.mkdir()
    p = root / "huge.pkl"
    size = 2 * 1024**3
    head = proto(4) + b"\x8e" + struct.pack("<Q", size - 12)
    with open(p, "wb") as fh:
        fh.write(head)
        fh.truncate(size - 1)
        fh.seek(size - 1)
        fh.write(b".")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    report = inspect_model_file(p)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert report.format == "pickle" and report.unsafe == []
    assert (after - before) * 1024 < 200 * 1024**2  # ru_maxrss is in KiB on Linux


def test_the_scanner_takes_model_file_names_and_leaves_others() -> None:
    scanner = ModelFileScanner()
    taken = ["m.pt", "M.PTH", "x.bin", "a.ckpt", "b.pkl", "c.joblib", "d.safetensors", "e.gguf"]
    taken += ["f.onnx", "g.h5", "h.keras", "i.tflite", "saved_model.pb", "j.npy", "k.npz"]
    taken += ["l.zip", "m.tar.gz", "n.tgz", "o.pkl.gz", "p.mar"]
    for name in taken:
        assert scanner.accepts(Path(name)), name
    for name in ["tokenizer.model", "README.md", "train.py", "config.json", ".pt", "data.csv"]:
        assert not scanner.accepts(Path(name)), name


def test_a_hand_written_onnx_protobuf_is_read_without_the_onnx_package(tmp_path: Path) -> None:
    from model_fixtures import onnx_bytes

    p = tmp_path / "hand.onnx"
    p.write_bytes(onnx_bytes())
    report = inspect_model_file(p)
    assert report.format == "onnx" and report.framework == "onnx"
    assert report.attributes["ir_version"] == 8 and report.attributes["opsets"] == {"ai.onnx": 13}
    assert (report.attributes["nodes"], report.attributes["initializers"]) == (2, 1)


def test_an_empty_model_file_is_no_model_and_no_error(tmp_path: Path) -> None:
    p = tmp_path / "placeholder.pt"
    p.write_bytes(b"")
    assert list(scan(p, tmp_path)) == []
