"""The facade a notebook user types: :class:`Posture`.

    >>> import aiposture
    >>> p = aiposture.Posture.open("sqlite:///posture.db")
    >>> run = p.discover(["./services", "./notebooks"])
    >>> p.assets.filter(kind="model").to_pandas()

Everything here is a few lines over the services (discovery, store,
export); the CLI, the MCP server and the widgets call these same methods.
"""

from __future__ import annotations

import getpass
import os
import socket
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiposture.discovery.registry import ScannerRegistry
from aiposture.errors import ConfigError, NotFoundError
from aiposture.models import (
    Asset,
    AssetKind,
    AuditEntry,
    AuditReport,
    Finding,
    FindingStatus,
    RiskSnapshot,
    ScanRun,
    Severity,
)
from aiposture.settings import Settings
from aiposture.views import AssetList, FindingList, RelationList, RiskList, ScanList

if TYPE_CHECKING:
    import pandas as pd

    from aiposture.leakage import LeakageService
    from aiposture.risk.frameworks import Coverage
    from aiposture.store.base import Store

__all__ = ["DEFAULT_DB", "Posture", "default_actor", "resolve_db_url"]

#: Where the store lives unless told otherwise.
DEFAULT_DB = Path("~/.aiposture/posture.db")


def resolve_db_url(url: str | os.PathLike[str] | None) -> str:
    """The store URL to use: ``url``, else ``$AIPOSTURE_DB``, else the default file."""
    if url is not None:
        return os.fspath(url)
    env = os.environ.get("AIPOSTURE_DB")
    if env:
        return env
    return f"sqlite:///{DEFAULT_DB.expanduser()}"


def default_actor() -> str:
    """``user@host`` of whoever runs this process (for the audit log)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = f"uid{os.getuid()}" if hasattr(os, "getuid") else "unknown"
    return f"{user}@{socket.gethostname()}"


class Posture:
    """One AI estate's posture: its inventory, scans and audit trail.

    Args:
        store: The store to read and write.
        registry: Scanners available to :meth:`discover` (built-ins by default).
        actor: Recorded in the audit log for changes made through this object.
        settings: The configuration (defaults when not given).
    """

    def __init__(
        self,
        store: Store,
        *,
        registry: ScannerRegistry | None = None,
        actor: str | None = None,
        settings: Settings | None = None,
    ) -> None:
        self.store = store
        self._registry = registry
        self.actor = actor or default_actor()
        self.settings = settings if settings is not None else Settings()
        self._leakage: LeakageService | None = None

    @classmethod
    def open(
        cls,
        url: str | os.PathLike[str] | None = None,
        *,
        actor: str | None = None,
        config: str | os.PathLike[str] | Settings | None = None,
    ) -> Posture:
        """Open (creating if needed) the store at ``url``.

        Args:
            url: ``sqlite:///path``, a file path, or ``postgresql+psycopg://...``;
                defaults to ``$AIPOSTURE_DB`` or ``~/.aiposture/posture.db``.
            actor: Who is acting, for the audit log (default ``user@host``).
            config: A TOML configuration file or :class:`~aiposture.settings.Settings`;
                by default ``$AIPOSTURE_CONFIG``, ``./aiposture.toml`` or
                ``~/.aiposture/config.toml`` when present.

        Raises:
            StoreError: The store cannot be opened or migrated.
            ConfigError: The configuration cannot be read or is invalid.
        """
        from aiposture.store import open_store

        settings = config if isinstance(config, Settings) else Settings.load(config)
        return cls(open_store(resolve_db_url(url)), actor=actor, settings=settings)

    # -- discovery -----------------------------------------------------------
    def discover(
        self,
        paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] = (),
        *,
        logs: Sequence[str | os.PathLike[str]] = (),
        environment: bool | Sequence[str] = False,
        scanners: Sequence[str] | None = None,
        progress: bool = True,
        workers: int | None = None,
        user_locations: bool = False,
        log_format: str | None = None,
    ) -> ScanRun:
        """Find AI assets under ``paths`` and update the inventory.

        Rescans are incremental; assets no longer seen become stale.

        Args:
            paths: Folders or files to scan.
            logs: Log files for log scanners.
            environment: Scan the installed Python packages (``True``) or these
                site-packages folders.
            scanners: Scanner names to run (all by default).
            progress: Show a progress bar.
            workers: Processes that read and scan files (default: one for
                small scans, one per core for large ones).
            user_locations: Also scan the current user's MCP client configuration
                files and Hugging Face cache
                (:func:`aiposture.discovery.locations.user_locations`).
            log_format: The format of the logs (``csv``, ``jsonl``, ``squid``, ``zeek``,
                ``w3c``); detected from each log's first lines when None.

        Returns:
            The scan run, with counts and per-file errors.

        Raises:
            ScanError: A path does not exist, or there is nothing to scan.
            ConfigError: An unknown scanner or log format.
        """
        from aiposture.discovery.engine import Discovery
        from aiposture.discovery.logformats import FORMATS

        if log_format is not None and log_format not in FORMATS:
            raise ConfigError(f"unknown log format {log_format!r}; known: {', '.join(FORMATS)}")

        if isinstance(paths, str | os.PathLike):
            paths = [paths]
        paths = list(paths)
        if user_locations:
            from aiposture.discovery.locations import user_locations as found

            paths += [p for p in found() if p not in paths]
        engine = Discovery(
            self.store,
            registry=self._registry,
            actor=self.actor,
            workers=workers,
            settings=self.settings,
        )
        return engine.run(
            paths,
            logs=logs,
            environment=environment,
            scanners=scanners,
            progress=progress,
            log_format=log_format,
        )

    # -- inventory -------------------------------------------------------------
    @property
    def leakage(self) -> LeakageService:
        """Training-data leakage: build indexes, check outputs, record leaks as findings."""
        from aiposture.leakage import LeakageService

        if self._leakage is None:
            self._leakage = LeakageService(self)
        return self._leakage

    @property
    def assets(self) -> AssetList:
        """Every asset, current and stale."""
        return AssetList(self.store.assets())

    def asset(self, ref: str) -> Asset:
        """One asset by id, or by name when exactly one asset has that name.

        Raises:
            NotFoundError: Nothing, or more than one asset, matches ``ref``.
        """
        try:
            return self.store.asset(ref)
        except NotFoundError:
            matches = [a for a in self.store.assets() if a.name == ref]
            if len(matches) == 1:
                return matches[0]
            if matches:
                ids = ", ".join(f"{a.id} ({a.kind.value})" for a in matches)
                raise NotFoundError(f"{len(matches)} assets are named {ref!r}: {ids}") from None
            raise NotFoundError(f"no asset with id or name {ref!r}") from None

    @property
    def relations(self) -> RelationList:
        """Every relation of the estate graph."""
        return RelationList(self.store.relations())

    def neighbours(self, ref: str) -> RelationList:
        """Relations with the asset ``ref`` at either end."""
        return RelationList(self.store.relations(asset_id=self.asset(ref).id))

    @property
    def findings(self) -> FindingList:
        """Every finding, worst first."""
        return FindingList(self.store.findings())

    def findings_for(self, ref: str, *, min_severity: Severity | None = None) -> FindingList:
        """Findings on one asset."""
        return FindingList(
            self.store.findings(asset_id=self.asset(ref).id, min_severity=min_severity)
        )

    def usage(self, *, include_stale: bool = False) -> pd.DataFrame:
        """AI service use seen in logs: one row per service and (user, client), heaviest first.

        Columns: ``service``, ``service_id``, ``category``, ``sanctioned``, ``user``,
        ``client``, ``requests``, ``bytes_out``, ``bytes_in``, ``first_seen``, ``last_seen``,
        ``log`` (the log file) and ``asset_id``.

        Args:
            include_stale: Also rows of services no longer seen in any current log.
        """
        import pandas as pd

        columns = [
            "service",
            "service_id",
            "category",
            "sanctioned",
            "user",
            "client",
            "requests",
            "bytes_out",
            "bytes_in",
            "first_seen",
            "last_seen",
            "log",
            "asset_id",
        ]
        rows = [
            {
                "service": a.name,
                "service_id": a.attributes.get("service_id", a.provider),
                "category": a.attributes.get("category"),
                "sanctioned": a.sanctioned.value,
                **e.usage.model_dump(),
                "log": e.path,
                "asset_id": a.id,
            }
            for a in self.store.assets(kind=AssetKind.AI_SERVICE)
            if include_stale or not a.stale
            for e in a.evidence
            if e.usage is not None
        ]
        frame = pd.DataFrame(rows, columns=columns)
        return frame.sort_values(
            ["requests", "bytes_out", "service"], ascending=[False, False, True]
        ).reset_index(drop=True)

    @property
    def scans(self) -> ScanList:
        """Scan runs, newest first."""
        return ScanList(self.store.scans())

    def inventory(
        self, *, kind: AssetKind | str | None = None, include_stale: bool = True
    ) -> list[dict[str, Any]]:
        """Assets as JSON-ready dicts with their findings attached (``inventory --json``)."""
        assets = self.store.assets(
            kind=AssetKind(kind) if kind is not None else None, include_stale=include_stale
        )
        by_asset: dict[str, list[Finding]] = {}
        for f in self.store.findings():
            by_asset.setdefault(f.asset_id, []).append(f)
        out = []
        for a in assets:
            row = a.model_dump(mode="json")
            row["findings"] = [f.model_dump(mode="json") for f in by_asset.get(a.id, [])]
            out.append(row)
        return out

    # -- human edits -------------------------------------------------------------
    def update_asset(self, ref: str, **fields: Any) -> Asset:
        """Set owner, environment, data_sensitivity, sanctioned or tags of an asset (audited)."""
        return self.store.update_asset(self.asset(ref).id, actor=self.actor, **fields)

    def set_finding_status(
        self,
        finding_id: str,
        status: FindingStatus | str,
        *,
        reason: str | None = None,
        until: datetime | None = None,
    ) -> Finding:
        """Triage a finding: who, when and why are kept on it and in the audit log.

        Args:
            finding_id: The finding.
            status: ``open``, ``acknowledged``, ``accepted``, ``resolved`` or
                ``false_positive``.
            reason: Why (required to accept).
            until: When an acceptance expires (required to accept); the next assessment
                after it reopens the finding.

        Raises:
            NotFoundError: No such finding.
            ValueError: A bad status, or an acceptance without reason or future expiry.
        """
        return self.store.set_finding_status(
            finding_id, FindingStatus(status), actor=self.actor, reason=reason, until=until
        )

    def accept_risk(self, finding_id: str, *, reason: str, until: datetime) -> Finding:
        """Accept the risk of a finding until ``until``, for ``reason`` (audited)."""
        return self.set_finding_status(
            finding_id, FindingStatus.ACCEPTED, reason=reason, until=until
        )

    # -- risk ------------------------------------------------------------------------
    def assess(self) -> RiskSnapshot:
        """Evaluate every rule and score every asset; store and return a dated snapshot.

        A rule that fails is reported in ``snapshot.rule_errors`` (rule id, asset, error)
        and the assessment goes on.
        """
        from aiposture.risk.engine import assess

        return assess(self.store, settings=self.settings.risk, actor=self.actor)

    @property
    def risks(self) -> RiskList:
        """The risk register of the latest assessment, highest risk first (empty before one)."""
        latest = self.store.snapshots(limit=1)
        return RiskList(latest[0].risks if latest else [])

    def coverage(self, framework: str | None = None) -> Coverage:
        """Per framework item: the controls that address it, which of them the estate has,
        and the open findings mapped to it (``to_pandas()``, ``_repr_html_``).

        Args:
            framework: ``owasp-llm``, ``atlas``, ``nist-ai-rmf`` or ``eu-ai-act``; all
                when None.

        Raises:
            NotFoundError: No such framework.
        """
        from aiposture.risk.frameworks import coverage, estate_controls
        from aiposture.risk.graph import EstateGraph

        graph = EstateGraph.build(self.store.assets(), self.store.relations())
        return coverage(self.store.findings(), estate_controls(graph), framework)

    def report(self, framework: str | None = None, *, format: str = "markdown") -> str:
        """The posture report for auditors, from the latest assessment.

        Args:
            framework: One framework (``owasp-llm``, ``atlas``, ``nist-ai-rmf``,
                ``eu-ai-act``) or all when None.
            format: ``markdown`` or ``html`` (a self-contained page).

        Raises:
            ConfigError: An unknown format.
            NotFoundError: An unknown framework.
        """
        from aiposture.export.report import posture_report

        latest = self.store.snapshots(limit=1)
        return posture_report(
            latest[0] if latest else None,
            self.store.findings(),
            self.store.assets(),
            framework,
            format,  # type: ignore[arg-type]
            relations=self.store.relations(),
        )

    def snapshots(self, limit: int | None = None) -> list[RiskSnapshot]:
        """Stored assessments, newest first."""
        return self.store.snapshots(limit)

    def trend(self) -> pd.DataFrame:
        """One row per assessment, oldest first: assets by priority, open findings by
        severity, the mean and the highest score, and the change from the one before."""
        import pandas as pd

        rows = []
        for snap in reversed(self.store.snapshots()):
            row: dict[str, Any] = {"snapshot": snap.id, "taken_at": snap.taken_at}
            row.update({f"assets_{k}": v for k, v in snap.by_priority().items()})
            for sev in ("critical", "high", "medium", "low", "info"):
                row[f"findings_{sev}"] = snap.findings.get(sev, 0)
            scores = [r.score for r in snap.risks]
            row["mean_score"] = round(sum(scores) / len(scores), 2) if scores else 0.0
            row["max_score"] = max(scores, default=0.0)
            row["rule_errors"] = len(snap.rule_errors)
            rows.append(row)
        frame = pd.DataFrame(rows)
        if not frame.empty:
            frame["mean_score_change"] = frame["mean_score"].diff().fillna(0.0)
        return frame

    # -- export and audit ---------------------------------------------------------
    def export_cyclonedx(
        self, path: str | os.PathLike[str] | None = None, *, include_stale: bool = False
    ) -> str:
        """The inventory as a validated CycloneDX 1.6 JSON AI-BOM (written to ``path`` if given)."""
        from aiposture.export.cyclonedx import to_cyclonedx_json

        text = to_cyclonedx_json(
            self.store.assets(),
            self.store.relations(),
            self.store.findings(),
            include_stale=include_stale,
        )
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    def audit_log(self, *, since_seq: int = 0, limit: int | None = None) -> list[AuditEntry]:
        """Entries of the append-only audit log."""
        return self.store.audit_log(since_seq=since_seq, limit=limit)

    def verify_audit(self) -> AuditReport:
        """Check the audit log's hash chain."""
        return self.store.verify_audit()

    # -- lifecycle ----------------------------------------------------------------
    def close(self) -> None:
        """Release the store's connections."""
        self.store.close()

    def __enter__(self) -> Posture:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _repr_html_(self) -> str:
        from aiposture.models import escape

        assets = self.store.assets()
        kinds: dict[str, int] = {}
        for a in assets:
            kinds[a.kind.value] = kinds.get(a.kind.value, 0) + 1
        findings = self.store.findings()
        rows = "".join(
            f"<tr><td>{escape(k)}</td><td>{n}</td></tr>" for k, n in sorted(kinds.items())
        )
        return (
            "<div class='aip'><b>Posture</b> "
            f"<code>{escape(_mask(self.store.url))}</code><br>"
            f"{len(assets)} assets, {len(findings)} findings"
            f"<table><tr><th>kind</th><th>assets</th></tr>{rows}</table></div>"
        )

    def __repr__(self) -> str:
        return f"Posture({_mask(self.store.url)!r})"


def _mask(url: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url
