"""The domain model of aiposture.

One set of pydantic models serves every part of the project: scanners yield
them, the store persists them, the CLI prints them as JSON, the MCP server
returns them as structured content and the notebook shows them. Field names
are a public contract (scripts read ``inventory --json``), so renaming one is
a breaking change.

Identity is derived, not assigned: an :class:`Asset`'s id is a hash of its
kind and identity key (see :func:`asset_id`), so the same asset found again,
by any scanner, in any run, gets the same id.
"""

from __future__ import annotations

import hashlib
import html
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "Asset",
    "AssetKind",
    "AssetRisk",
    "AuditEntry",
    "AuditReport",
    "DimensionScore",
    "Environment",
    "Evidence",
    "EvidenceKind",
    "Finding",
    "FindingStatus",
    "LeakType",
    "LeakageMatch",
    "LeakageRecord",
    "LeakageThresholds",
    "OutputCheck",
    "Priority",
    "Reason",
    "Relation",
    "RelationKind",
    "RiskDimension",
    "RiskScore",
    "RiskSnapshot",
    "RuleError",
    "Sanctioned",
    "ScanCounts",
    "ScanIssue",
    "ScanRun",
    "ScanStatus",
    "Sensitivity",
    "Severity",
    "Usage",
    "asset_id",
    "finding_id",
    "normalise_key",
    "relation_id",
    "utcnow",
]


def utcnow() -> datetime:
    """Return the current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


class AssetKind(StrEnum):
    """What an asset is."""

    MODEL = "model"
    MODEL_FILE = "model_file"
    DATASET = "dataset"
    AI_SERVICE = "ai_service"
    APPLICATION = "application"
    AGENT = "agent"
    MCP_SERVER = "mcp_server"
    NOTEBOOK = "notebook"
    ENDPOINT = "endpoint"
    CREDENTIAL = "credential"
    PACKAGE = "package"
    DATASET_INDEX = "dataset_index"


class Environment(StrEnum):
    """Deployment environment of an asset."""

    DEV = "dev"
    STAGING = "staging"
    PROD = "prod"
    UNKNOWN = "unknown"


class Sensitivity(StrEnum):
    """Classification of the data an asset holds or touches (ordered)."""

    PUBLIC = "public"
    INTERNAL = "internal"
    CONFIDENTIAL = "confidential"
    RESTRICTED = "restricted"
    UNKNOWN = "unknown"


class Sanctioned(StrEnum):
    """Whether the organisation approved the use of an asset."""

    SANCTIONED = "sanctioned"
    UNSANCTIONED = "unsanctioned"
    UNKNOWN = "unknown"


class RelationKind(StrEnum):
    """How two assets are related; relations make the estate a graph."""

    USES_MODEL = "uses_model"
    TRAINED_ON = "trained_on"
    SERVES = "serves"
    CALLS_SERVICE = "calls_service"
    EXPOSES_TOOL = "exposes_tool"
    CONTAINS = "contains"
    DECLARED_IN = "declared_in"
    DERIVED_FROM = "derived_from"


class Severity(StrEnum):
    """Severity of a finding, from least to most severe."""

    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """Position in the order info < low < medium < high < critical."""
        return list(Severity).index(self)


class FindingStatus(StrEnum):
    """Triage status of a finding."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    #: The risk is accepted, with a reason and an expiry, by someone named.
    ACCEPTED = "accepted"
    RESOLVED = "resolved"
    FALSE_POSITIVE = "false_positive"


class EvidenceKind(StrEnum):
    """Where a piece of evidence was seen."""

    CODE = "code"
    NOTEBOOK_CELL = "notebook_cell"
    NOTEBOOK_OUTPUT = "notebook_output"
    MANIFEST = "manifest"
    ENVIRONMENT = "environment"
    CONFIG = "config"
    DOCUMENTATION = "documentation"
    LOG_LINE = "log_line"
    FILE = "file"
    MODEL_OUTPUT = "model_output"


def normalise_key(*parts: str | None) -> str:
    """Join identity parts into a canonical, case-folded key."""
    return "|".join((p or "").strip().casefold() for p in parts)


def _hid(prefix: str, key: str) -> str:
    return f"{prefix}-{hashlib.sha256(key.encode('utf-8')).hexdigest()[:16]}"


def asset_id(kind: AssetKind | str, key: str) -> str:
    """Stable id of the asset of ``kind`` with identity ``key``.

    Args:
        kind: The asset kind.
        key: The identity key, usually built with :func:`normalise_key`
            (for a model: provider and model name).
    """
    return _hid("a", f"{AssetKind(kind).value}|{key}")


def relation_id(source_id: str, kind: RelationKind | str, target_id: str) -> str:
    """Stable id of the relation ``source --kind--> target``."""
    return _hid("r", f"{source_id}|{RelationKind(kind).value}|{target_id}")


def finding_id(asset: str, rule_id: str, fingerprint: str) -> str:
    """Stable id of a finding of ``rule_id`` on ``asset`` at ``fingerprint``."""
    return _hid("f", f"{asset}|{rule_id}|{fingerprint}")


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        validate_assignment=True,
        use_enum_values=False,
        str_strip_whitespace=False,
    )

    def _repr_html_(self) -> str:
        from aiposture import display

        return display.html(self)

    def to_dict(self) -> dict[str, Any]:
        """The model as JSON-compatible data (enums as strings, times ISO)."""
        return self.model_dump(mode="json")


class Usage(_Model):
    """How much one client used something, aggregated from a log (egress, proxy, DNS)."""

    user: str | None = Field(default=None, description="User name, where the log has one.")
    client: str | None = Field(default=None, description="Client host or address.")
    requests: int = Field(default=0, ge=0)
    bytes_out: int = Field(default=0, ge=0, description="Bytes sent to the service.")
    bytes_in: int = Field(default=0, ge=0, description="Bytes received from the service.")
    first_seen: datetime | None = None
    last_seen: datetime | None = None


class Evidence(_Model):
    """One sighting: what was seen where.

    Never holds a secret: scanners put a redacted snippet here, and a
    credential's value only ever as a fingerprint.
    """

    kind: EvidenceKind
    path: str | None = Field(default=None, description="File (or pseudo-source) where it was seen.")
    line: int | None = Field(default=None, ge=0, description="1-based line, where known.")
    column: int | None = Field(default=None, ge=0)
    cell: int | None = Field(default=None, ge=0, description="Notebook cell index.")
    key: str | None = Field(default=None, description="Config key, symbol or log field.")
    snippet: str | None = Field(default=None, description="A short, redacted excerpt.")
    detail: str | None = Field(default=None, description="What the scanner concluded.")
    scanner: str | None = None
    usage: Usage | None = Field(
        default=None, description="Aggregated use, for evidence from logs (one per client)."
    )

    @field_validator("snippet")
    @classmethod
    def _short_snippet(cls, v: str | None) -> str | None:
        if v is not None and len(v) > 240:
            return v[:237] + "..."
        return v

    @property
    def where(self) -> str:
        """``path:line`` (or the config key) in one string for display."""
        loc = self.path or ""
        if self.cell is not None:
            loc += f"[cell {self.cell}]"
        if self.line is not None:
            loc += f":{self.line}"
        if self.key:
            loc += f" ({self.key})"
        return loc

    def identity(self) -> tuple[Any, ...]:
        """Fields that make two pieces of evidence the same sighting."""
        return (self.kind, self.path, self.cell, self.line, self.key, self.detail)


class Asset(_Model):
    """Something AI in the estate: a model, a service, a package, a notebook, ...

    ``id`` is derived from ``kind`` and ``key`` (see :func:`asset_id`) and so is
    stable across scans. ``attributes`` holds kind-specific facts (a base URL,
    a package ecosystem, a credential's fingerprint) with JSON values.
    """

    id: str
    kind: AssetKind
    name: str = Field(min_length=1)
    key: str = Field(description="Identity key the id was derived from.")
    provider: str | None = None
    version: str | None = None
    locations: list[str] = Field(default_factory=list)
    owner: str | None = None
    environment: Environment = Environment.UNKNOWN
    data_sensitivity: Sensitivity = Sensitivity.UNKNOWN
    sanctioned: Sanctioned = Sanctioned.UNKNOWN
    tags: list[str] = Field(default_factory=list)
    attributes: dict[str, Any] = Field(default_factory=dict)
    first_seen: datetime = Field(default_factory=utcnow)
    last_seen: datetime = Field(default_factory=utcnow)
    stale: bool = False
    evidence: list[Evidence] = Field(default_factory=list)

    @classmethod
    def new(
        cls,
        kind: AssetKind | str,
        name: str,
        *,
        key: str | None = None,
        **fields: Any,
    ) -> Asset:
        """Build an asset whose id is derived from its kind and identity key.

        Args:
            kind: The asset kind.
            name: Display name.
            key: Identity key; by default ``provider|name``.
            **fields: Any other :class:`Asset` field.
        """
        k = key if key is not None else normalise_key(fields.get("provider"), name)
        return cls(id=asset_id(kind, k), kind=AssetKind(kind), name=name, key=k, **fields)

    def merge(self, other: Asset) -> Asset:
        """Combine two sightings of the same asset into one (self wins on conflicts)."""
        if other.id != self.id:
            raise ValueError(f"cannot merge asset {other.id} into {self.id}")
        ev = list(self.evidence)
        seen = {e.identity() for e in ev}
        for e in other.evidence:
            if e.identity() not in seen:
                ev.append(e)
                seen.add(e.identity())
        attrs = {**other.attributes, **self.attributes}
        return self.model_copy(
            update={
                "provider": self.provider or other.provider,
                "version": self.version or other.version,
                "owner": self.owner or other.owner,
                "locations": ordered_union(self.locations, other.locations),
                "tags": ordered_union(self.tags, other.tags),
                "attributes": attrs,
                "evidence": ev,
                "first_seen": min(self.first_seen, other.first_seen),
                "last_seen": max(self.last_seen, other.last_seen),
                "environment": self.environment
                if self.environment != Environment.UNKNOWN
                else other.environment,
                "data_sensitivity": self.data_sensitivity
                if self.data_sensitivity != Sensitivity.UNKNOWN
                else other.data_sensitivity,
                "sanctioned": self.sanctioned
                if self.sanctioned != Sanctioned.UNKNOWN
                else other.sanctioned,
            }
        )


def ordered_union(a: list[Any], b: list[Any]) -> list[Any]:
    """Items of ``a`` then the new items of ``b``, in order, without duplicates."""
    out = list(a)
    have = set(a)
    for x in b:
        if x not in have:
            out.append(x)
            have.add(x)
    return out


class Relation(_Model):
    """A directed edge ``source --kind--> target`` between two assets."""

    id: str
    source_id: str
    kind: RelationKind
    target_id: str
    first_seen: datetime = Field(default_factory=utcnow)
    last_seen: datetime = Field(default_factory=utcnow)
    stale: bool = False
    evidence: list[Evidence] = Field(default_factory=list)

    @classmethod
    def new(
        cls,
        source_id: str,
        kind: RelationKind | str,
        target_id: str,
        *,
        evidence: list[Evidence] | None = None,
    ) -> Relation:
        """Build a relation whose id is derived from its ends and kind."""
        return cls(
            id=relation_id(source_id, kind, target_id),
            source_id=source_id,
            kind=RelationKind(kind),
            target_id=target_id,
            evidence=evidence or [],
        )


class Finding(_Model):
    """A security-relevant fact about an asset (an exposed key, an unsafe file, ...).

    ``fingerprint`` tells two findings of the same rule on the same asset
    apart (for a credential: the secret's fingerprint and location), so the
    id is stable across scans and a human's triage ``status`` survives
    rescans.
    """

    id: str
    asset_id: str
    rule_id: str = Field(min_length=1)
    title: str
    severity: Severity
    description: str | None = None
    fingerprint: str = ""
    status: FindingStatus = FindingStatus.OPEN
    first_seen: datetime = Field(default_factory=utcnow)
    last_seen: datetime = Field(default_factory=utcnow)
    stale: bool = False
    tags: list[str] = Field(default_factory=list)
    evidence: list[Evidence] = Field(default_factory=list)
    status_reason: str | None = Field(default=None, description="Why the status was set.")
    status_by: str | None = Field(default=None, description="Who set the status.")
    status_at: datetime | None = Field(default=None, description="When the status was set.")
    accepted_until: datetime | None = Field(
        default=None, description="When an accepted risk expires and the finding is open again."
    )
    remediation: str | None = Field(default=None, description="What to do about it.")

    @classmethod
    def new(
        cls,
        asset_id: str,
        rule_id: str,
        title: str,
        severity: Severity | str,
        *,
        fingerprint: str = "",
        **fields: Any,
    ) -> Finding:
        """Build a finding whose id is derived from asset, rule and fingerprint."""
        return cls(
            id=finding_id(asset_id, rule_id, fingerprint),
            asset_id=asset_id,
            rule_id=rule_id,
            title=title,
            severity=Severity(severity),
            fingerprint=fingerprint,
            **fields,
        )


class ScanStatus(StrEnum):
    """State of a scan run."""

    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


class ScanIssue(_Model):
    """A problem with one input of a scan; the scan goes on without it."""

    path: str
    reason: str
    scanner: str | None = None
    line: int | None = None


class ScanCounts(_Model):
    """What a scan run did, in numbers."""

    files_seen: int = 0
    files_scanned: int = 0
    files_unchanged: int = 0
    files_failed: int = 0
    bytes_read: int = 0
    assets_seen: int = 0
    assets_new: int = 0
    assets_stale: int = 0
    relations_seen: int = 0
    findings_seen: int = 0
    findings_new: int = 0


class ScanRun(_Model):
    """One run of discovery over some roots and log files."""

    id: str
    roots: list[str] = Field(default_factory=list)
    logs: list[str] = Field(default_factory=list)
    scanners: list[str] = Field(default_factory=list)
    started_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None
    status: ScanStatus = ScanStatus.RUNNING
    counts: ScanCounts = Field(default_factory=ScanCounts)
    errors: list[ScanIssue] = Field(default_factory=list)
    warnings: list[ScanIssue] = Field(
        default_factory=list,
        description="Inputs read only in part (log lines skipped, with counts); not failures.",
    )

    @property
    def duration_s(self) -> float | None:
        """Wall time of the run in seconds, once finished."""
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()

    def __repr__(self) -> str:
        from aiposture import display

        return display.scan_run_text(self)

    __str__ = __repr__


def escape(text: object) -> str:
    """HTML-escape any value for display (untrusted text never renders as HTML)."""
    return html.escape(str(text), quote=True)


class AuditEntry(_Model):
    """One link of the append-only, hash-chained audit log.

    ``hash`` is the SHA-256 of ``prev_hash`` and the canonical JSON of every
    other field, so editing or deleting an entry breaks every later link.
    """

    seq: int = Field(ge=1)
    at: datetime
    actor: str
    action: str
    object_type: str
    object_id: str
    details: dict[str, Any] = Field(default_factory=dict)
    prev_hash: str
    hash: str


class AuditReport(_Model):
    """Result of verifying the audit chain."""

    ok: bool
    entries: int
    first_bad_seq: int | None = None
    problem: str | None = None


# --- training-data leakage (aiposture.embeddings.leakage) ---------------------------


class LeakType(StrEnum):
    """How a model output repeats training data, from least to most severe."""

    NONE = "none"
    PARAPHRASE = "paraphrase"
    NEAR_VERBATIM = "near-verbatim"
    VERBATIM = "verbatim"

    @property
    def rank(self) -> int:
        """Position in the order none < paraphrase < near-verbatim < verbatim."""
        return _LEAK_ORDER.index(self)


_LEAK_ORDER = [LeakType.NONE, LeakType.PARAPHRASE, LeakType.NEAR_VERBATIM, LeakType.VERBATIM]


class LeakageRecord(_Model):
    """One training record of a leakage index: an id, its text and where it comes from.

    ``metadata`` keeps any other field or column of the input (JSON values).
    """

    id: str = Field(min_length=1)
    text: str
    dataset: str | None = None
    source: str | None = None
    sensitivity: str | None = Field(
        default=None, description="Data classification, e.g. a Sensitivity value."
    )
    metadata: dict[str, Any] = Field(default_factory=dict)


class LeakageThresholds(_Model):
    """The decision thresholds of the leakage check.

    The defaults were fitted at a precision target of 0.95 on the tuning split of
    aiposture's leakage benchmark plus the STS-B pairs scored 4 or more
    (``benchmarks/leakage_quality.py``; ``BENCHMARKS.md`` has the figures);
    :meth:`LeakageIndex.calibrate` fits them to a user's own labelled pairs. See
    :mod:`aiposture.embeddings.leakage` for how each is used.
    """

    verbatim_min_words: int = Field(
        default=10, ge=3, description="An exact common run of this many words is verbatim."
    )
    boilerplate_df: float = Field(
        default=0.002,
        ge=0,
        le=1,
        description="A run found in more than this fraction of the chunks (and in more than "
        "10) is boilerplate of the corpus, not a leak of one record.",
    )
    rare_df: float = Field(
        default=0.01,
        gt=0,
        le=1,
        description="Words in fewer than this fraction of the chunks (or fewer than 4) carry "
        "the distinctive content that content overlap weighs; commoner words weigh nothing.",
    )
    min_distinctive: float = Field(
        default=1.5,
        ge=0,
        description="Least distinctive content (the sum over words in common of "
        "ln(C / chunks holding the word), C set by rare_df) a match must share; a match of "
        "common words only repeats nothing specific to a record.",
    )
    min_facts: int = Field(
        default=2,
        ge=0,
        description="Least number of separate facts (groups of neighbouring distinctive "
        "words: a name, an id, an amount) a paraphrase must share with its record.",
    )
    near_verbatim_ratio: float = Field(
        default=0.84,
        ge=0,
        le=1,
        description="Character-level similarity of the aligned output and record windows.",
    )
    near_verbatim_content: float = Field(
        default=0.45,
        ge=0,
        le=1,
        description="Share of the aligned record window's distinctive content (rarity-"
        "weighted, typos tolerated) found in the output window.",
    )
    near_verbatim_min_words: int = Field(
        default=8, ge=1, description="Fewest words in an aligned near-verbatim window."
    )
    paraphrase_similarity: float = Field(
        default=0.59,
        ge=-1,
        le=1,
        description="Cosine similarity of the output and record chunks (or of the passages "
        "holding their shared content).",
    )
    paraphrase_content: float = Field(
        default=0.8,
        ge=0,
        le=1,
        description="Share of distinctive content (rarity-weighted) the two chunks have in "
        "common, relative to the side with less of it.",
    )


class LeakageMatch(_Model):
    """One place where a model output repeats a training record."""

    record_id: str
    chunk_index: int = Field(ge=0, description="Chunk of the record that matched.")
    similarity: float = Field(
        description="Cosine similarity of the record chunk and the output chunk (or the "
        "passage of it holding the shared content, where that is closer)."
    )
    lexical_overlap: float = Field(
        ge=0, le=1, description="Share of the shorter side's words in common word runs."
    )
    output_span: tuple[int, int] = Field(description="Character span in the output.")
    record_span: tuple[int, int] = Field(description="Character span in the record text.")
    record_excerpt: str = Field(default="", description="A short excerpt of the record span.")
    leak_type: LeakType
    score: float = Field(ge=0, le=1)
    longest_run: int = Field(default=0, ge=0, description="Longest exact common run, in words.")
    char_similarity: float = Field(
        default=0.0, ge=0, le=1, description="Character-level similarity of the aligned windows."
    )
    content_overlap: float = Field(
        default=0.0, ge=0, le=1, description="IDF-weighted share of distinctive words in common."
    )
    metadata: dict[str, Any] = Field(
        default_factory=dict, description="The record's dataset, source and sensitivity."
    )


class OutputCheck(_Model):
    """The leakage verdict on one model output: its worst leak type, score and matches."""

    id: str
    text_length: int = Field(ge=0)
    leak_type: LeakType = LeakType.NONE
    score: float = Field(default=0.0, ge=0, le=1)
    matches: list[LeakageMatch] = Field(default_factory=list)


# --- risk -----------------------------------------------------------------------------------


class Priority(StrEnum):
    """Where an asset stands in the risk register, from least to most urgent."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """Position in the order low < medium < high < critical."""
        return list(Priority).index(self)


class RiskDimension(StrEnum):
    """The four dimensions an asset is scored on (each 0 to 10)."""

    DATA_SENSITIVITY = "data_sensitivity"
    BUSINESS_IMPACT = "business_impact"
    ACCESSIBILITY = "accessibility"
    CONTROL_GAP = "control_gap"


class Reason(_Model):
    """One contribution to a dimension score: ``points`` added (or taken away), and why.

    The points of a dimension's reasons add up to its score exactly.
    """

    points: float
    text: str
    #: The asset, relation or finding id the reason rests on, where there is one.
    ref: str | None = None


class DimensionScore(_Model):
    """A dimension's score (0 to 10) and the reasons that add up to it."""

    dimension: RiskDimension
    score: float = Field(ge=0, le=10)
    reasons: list[Reason] = Field(default_factory=list)


class RiskScore(NamedTuple):
    """An asset's priority and score in the latest assessment (the register's two columns)."""

    priority: Priority
    score: float


class AssetRisk(_Model):
    """An asset's assessed risk: four explained dimensions, likelihood, impact, priority.

    ``likelihood`` (from accessibility and the control gap) and ``impact`` (from data
    sensitivity and business impact) are 0 to 10; ``score`` is 0 to 100
    (:mod:`aiposture.risk.scoring` documents the formula).
    """

    asset_id: str
    asset_name: str
    asset_kind: AssetKind
    dimensions: list[DimensionScore]
    likelihood: float = Field(ge=0, le=10)
    impact: float = Field(ge=0, le=10)
    score: float = Field(ge=0, le=100)
    priority: Priority
    #: Open findings on the asset by severity (``{"critical": 1, ...}``).
    findings: dict[str, int] = Field(default_factory=dict)
    #: EU AI Act risk tier of an AI system, with the reasoning (None where not an AI system).
    eu_ai_act_tier: str | None = None
    eu_ai_act_reasons: list[str] = Field(default_factory=list)

    def dimension(self, which: RiskDimension | str) -> DimensionScore:
        """The score of one dimension."""
        want = RiskDimension(which)
        return next(d for d in self.dimensions if d.dimension is want)


class RuleError(_Model):
    """A rule that failed on an asset; the assessment went on without it."""

    rule_id: str
    asset_id: str | None = None
    error: str


class RiskSnapshot(_Model):
    """One dated assessment of the whole estate."""

    id: str
    taken_at: datetime = Field(default_factory=utcnow)
    actor: str = ""
    risks: list[AssetRisk] = Field(default_factory=list)
    #: Open findings by severity when the snapshot was taken.
    findings: dict[str, int] = Field(default_factory=dict)
    rules_run: int = 0
    rule_errors: list[RuleError] = Field(default_factory=list)
    seconds: float = 0.0
    #: How many current assets had each control when the snapshot was taken (None in
    #: snapshots stored before controls were recorded).
    controls: dict[str, int] | None = None

    def by_priority(self) -> dict[str, int]:
        """How many assets have each priority."""
        out = {p.value: 0 for p in reversed(Priority)}
        for r in self.risks:
            out[r.priority.value] += 1
        return out

    def __repr__(self) -> str:
        from aiposture import display

        return display.snapshot_text(self)

    __str__ = __repr__
