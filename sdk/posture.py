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
import threading
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiposture.discovery.registry import ScannerRegistry
from aiposture.errors import ConfigError, NotFoundError
from aiposture.models import (
    Asset,
    AssetKind,
    AssetRisk,
    AuditEntry,
    AuditReport,
    Finding,
    FindingStatus,
    Priority,
    RiskScore,
    RiskSnapshot,
    ScanRun,
    Severity,
)
from aiposture.settings import Settings
from aiposture.views import AssetList, FindingList, RelationList, RiskList, ScanList

if TYPE_CHECKING:
    import pandas as pd

    from aiposture.embeddings.leakage import LeakageIndex
    from aiposture.leakage import LeakageService
    from aiposture.monitor.alerts import AlertList
    from aiposture.monitor.models import Alert
    from aiposture.monitor.service import Monitor
    from aiposture.policy.approvals import ApprovalService
    from aiposture.policy.engine import PolicyEngine
    from aiposture.policy.guard import Guard
    from aiposture.risk.frameworks import Coverage
    from aiposture.store.base import Store
    from aiposture.widgets.dashboard import Dashboard

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
        self._policy: PolicyEngine | None = None
        self._approvals: ApprovalService | None = None
        self._monitor: Monitor | None = None
        self._leakage: LeakageService | None = None
        self._risk_data: tuple[str, dict[str, Any], dict[str, dict[str, Any]]] | None = None
        # lazily built services; the MCP server calls one posture from worker threads
        self._lazy = threading.RLock()

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
            with self._lazy:
                if self._leakage is None:
                    self._leakage = LeakageService(self)
        return self._leakage

    @property
    def assets(self) -> AssetList:
        """Every asset, current and stale."""
        return AssetList(self.store.assets(), posture=self)

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

        if self.settings.policy_folder() is not None:
            self._record_policy_violations()
        return assess(self.store, settings=self.settings.risk, actor=self.actor)

    def _record_policy_violations(self) -> None:
        """Store the data-usage violations of the policy as the ``assessment:policy``
        source's findings (they go stale once fixed)."""
        from aiposture.store.base import SourceUpdate

        engine = self.policy
        engine.refresh()
        found = engine.violations()
        self.store.apply(
            [SourceUpdate(source="assessment:policy", observations=list(found))],
            scan_id="policy",
            actor=self.actor,
        )

    @property
    def risks(self) -> RiskList:
        """The risk register of the latest assessment, highest risk first (empty before one)."""
        latest = self.store.snapshots(limit=1)
        return RiskList(latest[0].risks if latest else [])

    def _latest_snapshot_data(self) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
        """The latest snapshot as stored data, and its risks by asset id (cached per
        snapshot id; both empty before the first assessment)."""
        latest = self.store.latest_snapshot_id()
        if latest is None:
            return {}, {}
        cached = self._risk_data
        if cached is None or cached[0] != latest:
            data = self.store.snapshot_data(latest)
            cached = (latest, data, {r["asset_id"]: r for r in data.get("risks", [])})
            self._risk_data = cached
        return cached[1], cached[2]

    @property
    def assessed_at(self) -> datetime | None:
        """When the latest risk assessment ran (None before the first one)."""
        taken = self._latest_snapshot_data()[0].get("taken_at")
        return datetime.fromisoformat(taken) if isinstance(taken, str) else None

    def risk_scores(self) -> dict[str, RiskScore]:
        """Every assessed asset's priority and score, by asset id, from the latest assessment.

        Much faster than :attr:`risks` on large estates (no reasons are built); empty
        before the first assessment.
        """
        return {
            asset_id: RiskScore(Priority(r["priority"]), float(r["score"]))
            for asset_id, r in self._latest_snapshot_data()[1].items()
        }

    def risk(self, ref: str) -> AssetRisk | None:
        """One asset's assessed risk with its reasons (None if it was not assessed).

        Args:
            ref: The asset's id, or its name when exactly one asset has that name.

        Raises:
            NotFoundError: No asset matches ``ref``.
        """
        data = self._latest_snapshot_data()[1]
        found = data.get(ref) or data.get(self.asset(ref).id)
        return AssetRisk.model_validate(found) if found is not None else None

    def coverage(self, framework: str | None = None, *, as_assessed: bool = False) -> Coverage:
        """Per framework item: the controls that address it, which of them the estate has,
        and the open findings mapped to it (``to_pandas()``, ``_repr_html_``).

        Args:
            framework: ``owasp-llm``, ``atlas``, ``nist-ai-rmf`` or ``eu-ai-act``; all
                when None.
            as_assessed: Take the estate's controls as the latest assessment recorded
                them instead of rebuilding the estate graph now (much faster on a large
                estate; the findings are read as they are now either way). Falls back to
                the current estate before the first assessment.

        Raises:
            NotFoundError: No such framework.
        """
        from aiposture.risk.frameworks import coverage, estate_controls
        from aiposture.risk.graph import EstateGraph

        recorded = self._latest_snapshot_data()[0].get("controls") if as_assessed else None
        if isinstance(recorded, dict):
            controls: dict[str, int] = {str(k): int(v) for k, v in recorded.items()}
        else:
            graph = EstateGraph.build(self.store.assets(), self.store.relations())
            controls = estate_controls(graph)
        return coverage(self.store.findings(), controls, framework)

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

    # -- monitoring ------------------------------------------------------------------
    @property
    def monitor(self) -> Monitor:
        """Detectors over AI traffic: ``scan_prompt``, ``detect``, ``read``, ``run``, with
        stored events and alerts (see :class:`~aiposture.monitor.service.Monitor`)."""
        from aiposture.monitor.service import Monitor

        if self._monitor is None:
            with self._lazy:
                if self._monitor is None:
                    self._monitor = Monitor(self.store, settings=self.settings, actor=self.actor)
        return self._monitor

    @property
    def alerts(self) -> AlertList:
        """Monitoring alerts, live first, then the most severe (``.to_pandas()``)."""
        return self.monitor.alerts

    def set_alert_status(self, alert_id: str, status: str, *, reason: str | None = None) -> Alert:
        """Triage an alert (``acknowledged``, ``resolved``, ``false_positive``, ``open``);
        recorded with who (this posture's actor) and when, and audited."""
        return self.monitor.set_alert_status(alert_id, status, reason=reason)

    # -- policy ----------------------------------------------------------------------
    @property
    def policy(self) -> PolicyEngine:
        """Access decisions, what-if and data-usage violations under the policy folder.

        Raises:
            ConfigError: No policy folder is configured (``[policy] folder``), or it is
                invalid (the message names the file and line).
        """
        if self._policy is None:
            with self._lazy:
                if self._policy is None:
                    from aiposture.policy.engine import PolicyEngine
                    from aiposture.policy.loader import PolicyStore

                    folder = self.settings.policy_folder()
                    if folder is None:
                        raise ConfigError(
                            "no policy folder configured: set [policy] folder in the configuration"
                        )
                    self._policy = PolicyEngine(PolicyStore(folder), self.store)
        return self._policy

    @property
    def approvals(self) -> ApprovalService:
        """The approval workflow under the policy's approval rules and principals."""
        if self._approvals is None:
            with self._lazy:
                if self._approvals is None:
                    from aiposture.policy.approvals import (
                        ApprovalRequirement,
                        ApprovalService,
                        PrincipalInfo,
                        PrincipalType,
                        StaticDirectory,
                    )

                    ps = self.policy.policy_set
                    assets = [a for a in self.store.assets() if not a.stale]
                    requirements = [
                        ApprovalRequirement(
                            action=rule.action.value,
                            resource=a.id,
                            approvers=rule.approvers,
                            group=rule.group,
                            validity_seconds=rule.valid_for,
                        )
                        for rule in ps.approvals
                        for a in assets
                        if rule.resource.matches(a)
                    ]
                    kinds = {t.value for t in PrincipalType}
                    directory = StaticDirectory(
                        {
                            p.id: PrincipalInfo(
                                type=PrincipalType(p.type.value)
                                if p.type.value in kinds
                                else PrincipalType.SERVICE,
                                groups=set(p.groups),
                            )
                            for p in ps.principals
                        }
                    )
                    from aiposture.store.sql import SQLStore

                    if not isinstance(self.store, SQLStore):
                        raise ConfigError("approvals need an SQL store (SQLite or PostgreSQL)")
                    self._approvals = ApprovalService(
                        self.store, requirements, directory, actor=self.actor
                    )
        return self._approvals

    def dashboard(
        self,
        *,
        reviewer: str | None = None,
        indexes: Sequence[str | os.PathLike[str]] = (),
    ) -> Dashboard:
        """The posture as one interactive app: Inventory, Risk, Alerts, Approvals, Leakage.

        Every tab reads and acts through this object's methods (the widgets hold no rules of
        their own); a tab is built the first time it is opened, so the app opens fast on
        large estates.

        Args:
            reviewer: Who decides approvals in the Approvals tab (default: this posture's
                actor). The separation of duties of :attr:`approvals` applies.
            indexes: Leakage index folders offered in the Leakage tab, besides those named
                in the configuration (``[monitor] leakage_indexes``).
        """
        from aiposture.widgets.dashboard import Dashboard

        return Dashboard(self, reviewer=reviewer, indexes=indexes)

    def guard(
        self,
        *,
        principal: str,
        model: str,
        on_violation: str = "raise",
        leakage: LeakageIndex | None = None,
        monitor: bool = True,
    ) -> Guard:
        """Checks around calls of ``principal`` to ``model`` (a context manager and a
        decorator): access, the policy's rate limits (shared through the store), secrets
        in prompts and outputs, training-data leakage when ``leakage`` is given.

        With ``monitor`` (the default) every call, denied ones included, is also a
        monitoring event: the detectors run on it, it is stored and may raise an alert
        (``posture.alerts``). This adds the detectors' time to the call.

        Raises:
            ConfigError: No valid policy folder.
            NotFoundError: ``principal`` is not declared in the policy.
        """
        from aiposture.policy.guard import Guard
        from aiposture.policy.ratelimit import RateLimiter

        engine = self.policy
        return Guard(
            engine.principal(principal),
            model,
            engine=engine,
            limiter=RateLimiter(self.store),
            rate_rules=engine.policy_set.rate_limits,
            leakage=leakage,
            on_violation=on_violation,  # type: ignore[arg-type]
            recorder=self.monitor.record if monitor else None,
        )

    def deploy(self, ref: str, *, principal: str, environment: str = "prod") -> Asset:
        """Deploy a model (set its environment), gated by policy and a valid approval.

        The policy must allow ``principal`` to ``deploy`` the asset, and, where an
        approval rule covers it, an approved, unexpired request by ``principal`` for this
        asset must be in the store; it is consumed. The gate checks the store itself.

        Raises:
            PolicyViolation: The policy denies the deployment.
            ApprovalError: No valid approval is on record.
        """
        from aiposture.policy.models import PolicyViolation

        asset = self.asset(ref)
        decision = self.policy.check(principal, "deploy", asset)
        if not decision.allowed:
            raise PolicyViolation(decision)
        if self.approvals.requirement_for("deploy", asset.id) is not None:
            self.approvals.consume("deploy", asset.id, principal)
        return self.store.update_asset(asset.id, actor=principal, environment=environment)

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

    @property
    def audit(self) -> _Audit:
        """The audit trail: ``log()`` and ``verify()`` (the hash chain, and every approval
        request against the digests the chain recorded)."""
        return _Audit(self)

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
        from aiposture.display import STYLE
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
            f"{STYLE}<div class='aip'><b>Posture</b> "
            f"<code>{escape(_mask(self.store.url))}</code><br>"
            f"{len(assets)} assets, {len(findings)} findings"
            f"<table><tr><th>kind</th><th>assets</th></tr>{rows}</table></div>"
        )

    def __repr__(self) -> str:
        return f"Posture({_mask(self.store.url)!r})"


class _Audit:
    """``posture.audit``: read and verify the audit trail."""

    def __init__(self, posture: Posture) -> None:
        self._p = posture

    def log(self, *, since_seq: int = 0, limit: int | None = None) -> list[AuditEntry]:
        """Audit entries in order."""
        return self._p.audit_log(since_seq=since_seq, limit=limit)

    def verify(self) -> AuditReport:
        """Check the hash chain, then (when a policy is configured) every approval request
        against its audited digests; the first problem found is reported."""
        report = self._p.verify_audit()
        if not report.ok or self._p.settings.policy_folder() is None:
            return report
        return self._p.approvals.verify()

    def __repr__(self) -> str:
        return "<posture.audit: log(), verify()>"


def _mask(url: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url
