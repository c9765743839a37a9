"""The public surface of ``aiposture`` is pinned: changing it is a deliberate act."""

from __future__ import annotations

import subprocess
import sys

import aiposture

EXPECTED = {
    "AIPostureError",
    "Asset",
    "AssetKind",
    "AssetList",
    "AuditChainError",
    "AuditEntry",
    "AuditReport",
    "ConfigError",
    "Environment",
    "Evidence",
    "EvidenceKind",
    "ExportError",
    "Finding",
    "FindingList",
    "FindingStatus",
    "IndexCorruptError",
    "IndexMismatchError",
    "LeakType",
    "LeakageIndexError",
    "LeakageMatch",
    "LeakageRecord",
    "LeakageThresholds",
    "OutputCheck",
    "NotFoundError",
    "Posture",
    "Relation",
    "RelationKind",
    "RelationList",
    "Sanctioned",
    "ScanError",
    "ScanIssue",
    "ScanList",
    "ScanRun",
    "Sensitivity",
    "Settings",
    "Severity",
    "StoreError",
    "Usage",
    "AssetRisk",
    "DimensionScore",
    "Priority",
    "Reason",
    "RiskDimension",
    "RiskSnapshot",
    "RuleError",
    "RiskList",
    "RiskScore",
    "__version__",
}


def test_all_is_pinned() -> None:
    assert set(aiposture.__all__) == EXPECTED
    for name in aiposture.__all__:
        assert hasattr(aiposture, name), name


def test_errors_share_one_base() -> None:
    for name in (
        "AuditChainError",
        "ConfigError",
        "ExportError",
        "NotFoundError",
        "ScanError",
        "StoreError",
        "IndexCorruptError",
        "IndexMismatchError",
        "LeakageIndexError",
    ):
        assert issubclass(getattr(aiposture, name), aiposture.AIPostureError)


def test_import_loads_no_heavy_module() -> None:
    code = (
        "import sys, aiposture, aiposture.embeddings, aiposture.mcp_server; "
        "heavy = [m for m in ('torch', 'faiss', 'sentence_transformers', 'pandas', 'sqlalchemy',"
        " 'cyclonedx', 'detect_secrets', 'ipywidgets') if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_every_package_folder_is_listed_in_pyproject() -> None:
    import tomllib
    from pathlib import Path

    top = Path(__file__).parent.parent
    config = tomllib.loads((top / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    found = set()
    for folder, name in config["package-dir"].items():
        base = top / name
        for init in base.rglob("__init__.py"):
            rel = init.parent.relative_to(base).parts
            found.add(".".join((folder, *rel)))
    assert found == listed
