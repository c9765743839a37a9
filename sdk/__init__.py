"""aiposture: AI Security Posture Management, notebook-first.

Start with::

    import aiposture
    p = aiposture.Posture.open()          # the SQLite store in ~/.aiposture
    p.discover(["~/code"])               # find AI in code, notebooks, manifests
    p.assets                             # filter, .to_pandas(), rich display

Importing this package loads no model and no FAISS.
"""

from __future__ import annotations

from aiposture.errors import (
    AIPostureError,
    AuditChainError,
    ConfigError,
    ExportError,
    IndexCorruptError,
    IndexMismatchError,
    LeakageIndexError,
    NotFoundError,
    ScanError,
    StoreError,
)
from aiposture.models import (
    Asset,
    AssetKind,
    AssetRisk,
    AuditEntry,
    AuditReport,
    DimensionScore,
    Environment,
    Evidence,
    EvidenceKind,
    Finding,
    FindingStatus,
    LeakageMatch,
    LeakageRecord,
    LeakageThresholds,
    LeakType,
    OutputCheck,
    Priority,
    Reason,
    Relation,
    RelationKind,
    RiskDimension,
    RiskScore,
    RiskSnapshot,
    RuleError,
    Sanctioned,
    ScanIssue,
    ScanRun,
    Sensitivity,
    Severity,
    Usage,
)
from aiposture.posture import Posture
from aiposture.settings import Settings
from aiposture.views import AssetList, FindingList, RelationList, RiskList, ScanList

__version__ = "0.1.0.dev0"

__all__ = [
    "AIPostureError",
    "Asset",
    "AssetKind",
    "AssetList",
    "AssetRisk",
    "AuditChainError",
    "AuditEntry",
    "AuditReport",
    "ConfigError",
    "DimensionScore",
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
    "NotFoundError",
    "OutputCheck",
    "Posture",
    "Priority",
    "Reason",
    "Relation",
    "RelationKind",
    "RelationList",
    "RiskDimension",
    "RiskList",
    "RiskScore",
    "RiskSnapshot",
    "RuleError",
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
    "__version__",
]


def load_ipython_extension(ipython: object) -> None:
    """``%load_ext aiposture``: the ``%aiposture`` and ``%%aiposture_check_leakage`` magics."""
    from aiposture.magics import load_ipython_extension as load

    load(ipython)
