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
    "Severity",
    "StoreError",
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
