"""The storage boundary: every read and write of aiposture state goes through :class:`Store`.

Scanners never touch the store. The discovery engine hands the store one
:class:`SourceUpdate` per scanned source (a file, or a pseudo-source such as
the Python environment) in batches; the store turns them into rows, keeps
each object's sightings per source, derives staleness, and appends one audit
entry per change, all in one transaction per batch: a batch is applied
completely or not at all.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aiposture.errors import NotFoundError
from aiposture.models import (
    Asset,
    AssetKind,
    AuditEntry,
    AuditReport,
    Finding,
    FindingStatus,
    Relation,
    RiskSnapshot,
    ScanRun,
    Severity,
)

__all__ = ["ApplyStats", "FileState", "SourceUpdate", "Store"]


@dataclass(frozen=True)
class FileState:
    """What a file looked like when it was last scanned (for incremental rescans)."""

    size: int
    mtime_ns: int
    sha256: str
    #: Names and versions of the scanners that read it, e.g. ``"python_code@1,docs@1"``.
    scanners: str


@dataclass
class SourceUpdate:
    """What one scan saw from one source.

    Attributes:
        source: The file path (absolute) or pseudo-source.
        root: The scan root the source lies under (None for pseudo-sources).
        observations: Everything the scanners yielded from it. ``None`` means
            the source is unchanged since its last scan: its earlier
            sightings stay active and are marked seen by this scan.
        state: The file's state to remember, for file sources.
        gone: The source no longer exists: deactivate all its sightings.
    """

    source: str
    root: str | None = None
    observations: Sequence[Asset | Relation | Finding] | None = None
    state: FileState | None = None
    gone: bool = False


@dataclass
class ApplyStats:
    """What applying a batch changed."""

    assets_new: list[str] = field(default_factory=list)
    assets_stale: list[str] = field(default_factory=list)
    findings_new: list[str] = field(default_factory=list)
    audit_entries: int = 0


class Store(ABC):
    """Persistence of the inventory, scan runs and the audit chain."""

    url: str

    # --- scan bookkeeping -------------------------------------------------
    @abstractmethod
    def file_states(self, root: str) -> dict[str, FileState]:
        """Remembered state of every file source under ``root`` (path -> state)."""

    @abstractmethod
    def apply(self, updates: Sequence[SourceUpdate], *, scan_id: str, actor: str) -> ApplyStats:
        """Apply a batch of source updates in one transaction.

        Sightings of each source are replaced by the new observations;
        objects are upserted (identity fields from the first sighting, human
        edits such as owner or a finding's status preserved); assets,
        relations and findings with no active sighting left become stale;
        every change appends an audit entry.

        Raises:
            StoreError: The batch could not be written; nothing of it is kept.
        """

    @abstractmethod
    def save_scan(self, run: ScanRun) -> None:
        """Insert or update a scan run."""

    @abstractmethod
    def scans(self, limit: int | None = None) -> list[ScanRun]:
        """Scan runs, newest first."""

    # --- reads ------------------------------------------------------------
    @abstractmethod
    def assets(
        self,
        *,
        kind: AssetKind | None = None,
        include_stale: bool = True,
    ) -> list[Asset]:
        """All assets (with their evidence), optionally of one kind."""

    @abstractmethod
    def asset(self, asset_id: str) -> Asset:
        """One asset by id.

        Raises:
            NotFoundError: No asset has this id.
        """

    @abstractmethod
    def relations(
        self, *, asset_id: str | None = None, include_stale: bool = True
    ) -> list[Relation]:
        """All relations, or those with ``asset_id`` at either end."""

    @abstractmethod
    def findings(
        self,
        *,
        asset_id: str | None = None,
        min_severity: Severity | None = None,
        include_stale: bool = True,
    ) -> list[Finding]:
        """Findings, worst first."""

    # --- human edits ------------------------------------------------------
    @abstractmethod
    def update_asset(self, asset_id: str, *, actor: str, **fields: object) -> Asset:
        """Set human-owned fields (owner, environment, data_sensitivity, sanctioned, tags).

        Raises:
            NotFoundError: No asset has this id.
            ValueError: A field is not one a human may set, or its value is invalid.
        """

    @abstractmethod
    def set_finding_status(
        self,
        finding_id: str,
        status: FindingStatus,
        *,
        actor: str,
        reason: str | None = None,
        until: datetime | None = None,
    ) -> Finding:
        """Change a finding's triage status, with who, when and why (audited).

        Accepting a risk needs a reason and an expiry (``until``).
        """

    # --- risk snapshots -------------------------------------------------------
    @abstractmethod
    def save_snapshot(self, snapshot: RiskSnapshot) -> None:
        """Store a risk snapshot (audited as ``risk.snapshot``)."""

    @abstractmethod
    def snapshots(self, limit: int | None = None) -> list[RiskSnapshot]:
        """Risk snapshots, newest first."""

    def latest_snapshot_id(self) -> str | None:
        """The id of the newest risk snapshot (None before the first assessment)."""
        latest = self.snapshots(limit=1)
        return latest[0].id if latest else None

    def snapshot_data(self, snapshot_id: str) -> dict[str, Any]:
        """A snapshot as stored JSON data, not validated into models (fast for big ones).

        Raises:
            NotFoundError: No snapshot has this id.
        """
        for s in self.snapshots():
            if s.id == snapshot_id:
                return s.model_dump(mode="json")
        raise NotFoundError(f"no risk snapshot {snapshot_id!r}")

    # --- audit ------------------------------------------------------------
    @abstractmethod
    def audit_log(self, *, since_seq: int = 0, limit: int | None = None) -> list[AuditEntry]:
        """Audit entries in order."""

    @abstractmethod
    def append_audit(
        self,
        actor: str,
        action: str,
        object_type: str,
        object_id: str,
        details: dict[str, Any] | None = None,
    ) -> None:
        """Append one entry to the hash-chained audit log (for actions outside the store,
        such as a call to the MCP server)."""

    @abstractmethod
    def verify_audit(self) -> AuditReport:
        """Recompute the hash chain and report the first broken or missing entry."""

    @abstractmethod
    def close(self) -> None:
        """Release connections."""

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
