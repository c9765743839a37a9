"""Rules on model files: unsafe deserialization, permissions, pickle in production, disguise."""

from __future__ import annotations

import hashlib
from pathlib import Path

from aiposture.demo import malicious_pickle, safetensors_bytes
from aiposture.discovery import observe
from aiposture.discovery.base import Target, TargetKind
from aiposture.discovery.scanners.model_files import ModelFileScanner
from aiposture.models import (
    Asset,
    AssetKind,
    Environment,
    Finding,
    Relation,
    RelationKind,
    Sensitivity,
    Severity,
    finding_id,
    normalise_key,
)
from aiposture.risk.base import Rule
from aiposture.risk.graph import EstateGraph
from aiposture.risk.rules.models import (
    ModelFileExtensionMismatch,
    PickleModelInProduction,
    UnsafeModelDeserialization,
    WorldReadableSensitiveWeights,
    WorldWritableModelFile,
)


def _graph(*objs: Asset | Relation | Finding) -> EstateGraph:
    return EstateGraph.build(
        [o for o in objs if isinstance(o, Asset)],
        [o for o in objs if isinstance(o, Relation)],
        [o for o in objs if isinstance(o, Finding)],
    )


def _run(rule: Rule, graph: EstateGraph, asset: Asset) -> list[Finding]:
    assert not rule.kinds or asset.kind in rule.kinds
    return list(rule.evaluate(asset, graph))


def _file(name: str = "m.pkl", fmt: str = "pickle", **attrs: object) -> Asset:
    asset = observe.model_file(
        f"/srv/models/{name}",
        sha256=hashlib.sha256(f"{name}|{fmt}".encode()).hexdigest(),
        size=10,
        fmt=fmt,
    )
    return asset.model_copy(update={"attributes": {**asset.attributes, **attrs}})


def _app(name: str = "bot", **fields: object) -> Asset:
    return Asset.new(
        AssetKind.APPLICATION, name, key=normalise_key("app", f"/srv/{name}"), **fields
    )


def _contains(app: Asset, f: Asset) -> Relation:
    return Relation.new(app.id, RelationKind.CONTAINS, f.id)


# --- AIP-MODEL-001 -------------------------------------------------------------------------


def test_unsafe_deserialization_fires_from_attributes_with_the_scanners_fingerprint() -> None:
    f = _file(unsafe=True, unsafe_globals=["posix.system", "builtins.eval"])
    [finding] = _run(UnsafeModelDeserialization(), _graph(f), f)
    assert finding.fingerprint == "builtins.eval,posix.system"
    assert finding.id == finding_id(f.id, "AIP-MODEL-001", "builtins.eval,posix.system")
    assert finding.severity is Severity.CRITICAL  # posix and builtins.eval run code
    assert "owasp-llm:LLM03" in finding.tags


def test_unsafe_deserialization_grades_unknown_globals_high() -> None:
    f = _file(unsafe=True, unsafe_globals=["acme.models.Custom"])
    [finding] = _run(UnsafeModelDeserialization(), _graph(f), f)
    assert finding.severity is Severity.HIGH


def test_unsafe_deserialization_is_silent_on_a_clean_file() -> None:
    clean = _file("w.safetensors", "safetensors", unsafe=False)
    odd = _file("o.pkl", unsafe="maybe", unsafe_globals=None)
    assert _run(UnsafeModelDeserialization(), _graph(clean, odd), clean) == []
    assert _run(UnsafeModelDeserialization(), _graph(clean, odd), odd) == []


def test_unsafe_deserialization_finding_is_the_scanners_finding(tmp_path: Path) -> None:
    path = tmp_path / "proj" / "fraud.pkl"
    path.parent.mkdir()
    path.write_bytes(malicious_pickle("echo owned"))
    target = Target(kind=TargetKind.FILE, source=str(path), path=path, root=tmp_path, data=b"")
    obs = list(ModelFileScanner().scan(target))
    asset = next(o for o in obs if isinstance(o, Asset) and o.kind is AssetKind.MODEL_FILE)
    scanner_finding = next(o for o in obs if isinstance(o, Finding))

    rule = UnsafeModelDeserialization()
    [alone] = _run(rule, _graph(asset), asset)
    assert alone.id == scanner_finding.id
    assert alone.severity is scanner_finding.severity

    [mirrored] = _run(rule, _graph(asset, scanner_finding), asset)
    assert mirrored.id == scanner_finding.id
    assert mirrored.title == scanner_finding.title
    assert mirrored.evidence == scanner_finding.evidence
    assert "cwe:502" in mirrored.tags
    assert all(t.partition(":")[2][:1].isdigit() for t in mirrored.tags if t.startswith("cwe:"))


# --- AIP-MODEL-002 -------------------------------------------------------------------------


def test_world_writable_pickle_in_production_is_critical() -> None:
    f = _file(world_writable=True, mode="0o666")
    app = _app(environment=Environment.PROD)
    [finding] = _run(WorldWritableModelFile(), _graph(f, app, _contains(app, f)), f)
    assert finding.severity is Severity.CRITICAL
    assert "0o666" in finding.title


def test_world_writable_safetensors_in_dev_is_medium() -> None:
    f = _file("w.safetensors", "safetensors", world_writable=True)
    app = _app(environment=Environment.DEV)
    [finding] = _run(WorldWritableModelFile(), _graph(f, app, _contains(app, f)), f)
    assert finding.severity is Severity.MEDIUM


def test_world_writable_needs_the_flag() -> None:
    for value in (False, None, "no", 0, ["x"]):
        f = _file(world_writable=value)
        assert _run(WorldWritableModelFile(), _graph(f), f) == [], value


# --- AIP-MODEL-003 -------------------------------------------------------------------------


def _trained(sensitivity: Sensitivity, **file_attrs: object) -> tuple[Asset, EstateGraph]:
    f = _file("weights.safetensors", "safetensors", **file_attrs)
    model = Asset.new(AssetKind.MODEL, "claims-llm", provider="local")
    data = Asset.new(AssetKind.DATASET, "claims", data_sensitivity=sensitivity)
    g = _graph(
        f,
        model,
        data,
        Relation.new(model.id, RelationKind.CONTAINS, f.id),
        Relation.new(model.id, RelationKind.TRAINED_ON, data.id),
    )
    return f, g


def test_world_readable_weights_of_a_model_trained_on_confidential_data() -> None:
    f, g = _trained(Sensitivity.CONFIDENTIAL, world_readable=True)
    [finding] = _run(WorldReadableSensitiveWeights(), g, f)
    assert finding.severity is Severity.MEDIUM
    f, g = _trained(Sensitivity.RESTRICTED, world_readable=True)
    [finding] = _run(WorldReadableSensitiveWeights(), g, f)
    assert finding.severity is Severity.HIGH


def test_world_readable_weights_of_public_data_or_private_files_are_fine() -> None:
    f, g = _trained(Sensitivity.PUBLIC, world_readable=True)
    assert _run(WorldReadableSensitiveWeights(), g, f) == []
    f, g = _trained(Sensitivity.RESTRICTED, world_readable=False)
    assert _run(WorldReadableSensitiveWeights(), g, f) == []


def test_world_readable_file_classified_restricted_by_a_person() -> None:
    f = _file("x.gguf", "gguf", world_readable=True).model_copy(
        update={"data_sensitivity": Sensitivity.RESTRICTED}
    )
    [finding] = _run(WorldReadableSensitiveWeights(), _graph(f), f)
    assert finding.severity is Severity.HIGH


# --- AIP-MODEL-004 -------------------------------------------------------------------------


def test_pickle_model_in_production_is_low_and_medium_when_customer_facing() -> None:
    f = _file("clf.joblib", "joblib", unsafe=False)
    prod = _app(environment=Environment.PROD)
    [finding] = _run(PickleModelInProduction(), _graph(f, prod, _contains(prod, f)), f)
    assert finding.severity is Severity.LOW
    facing = _app(environment=Environment.PROD, tags=["customer-facing"])
    [finding] = _run(PickleModelInProduction(), _graph(f, facing, _contains(facing, f)), f)
    assert finding.severity is Severity.MEDIUM


def test_pickle_model_outside_production_or_safe_format_is_not_reported() -> None:
    dev = _app(environment=Environment.DEV)
    f = _file("clf.joblib", "joblib", unsafe=False)
    assert _run(PickleModelInProduction(), _graph(f, dev, _contains(dev, f)), f) == []
    prod = _app(environment=Environment.PROD)
    s = _file("w.safetensors", "safetensors")
    assert _run(PickleModelInProduction(), _graph(s, prod, _contains(prod, s)), s) == []


def test_pickle_in_production_leaves_unsafe_files_to_model_001() -> None:
    f = _file(unsafe=True, unsafe_globals=["os.system"])
    prod = _app(environment=Environment.PROD)
    assert _run(PickleModelInProduction(), _graph(f, prod, _contains(prod, f)), f) == []


# --- AIP-MODEL-005 -------------------------------------------------------------------------


def test_pickle_disguised_as_safetensors_is_high() -> None:
    f = _file("w.safetensors", "pickle", extension=".safetensors", extension_mismatch=True)
    [finding] = _run(ModelFileExtensionMismatch(), _graph(f), f)
    assert finding.severity is Severity.HIGH
    assert ".safetensors" in finding.title and "pickle" in finding.title


def test_harmless_mismatch_is_medium_and_a_match_is_silent() -> None:
    f = _file("w.bin", "onnx", extension=".bin", extension_mismatch=True)
    [finding] = _run(ModelFileExtensionMismatch(), _graph(f), f)
    assert finding.severity is Severity.MEDIUM
    ok = _file("w.onnx", "onnx", extension=".onnx", extension_mismatch=False)
    assert _run(ModelFileExtensionMismatch(), _graph(ok), ok) == []


def test_extension_mismatch_read_from_a_real_scan(tmp_path: Path) -> None:
    path = tmp_path / "head.safetensors"
    path.write_bytes(malicious_pickle("true"))
    good = tmp_path / "good.safetensors"
    good.write_bytes(safetensors_bytes({"w": ("F32", [2, 2])}))
    rule = ModelFileExtensionMismatch()
    results = {}
    for p in (path, good):
        target = Target(kind=TargetKind.FILE, source=str(p), path=p, root=tmp_path, data=b"")
        asset = next(
            o
            for o in ModelFileScanner().scan(target)
            if isinstance(o, Asset) and o.kind is AssetKind.MODEL_FILE
        )
        results[p.name] = _run(rule, _graph(asset), asset)
    assert [f.severity for f in results["head.safetensors"]] == [Severity.HIGH]
    assert results["good.safetensors"] == []
