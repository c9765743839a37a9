"""Export findings as SARIF 2.1.0, for CI and code-scanning dashboards.

One log, one run, tool driver ``aiposture``:

* ``tool.driver.rules``: one rule per rule id among the findings, with its title
  (``shortDescription``), rationale (``fullDescription``), remediation (``help``),
  default level, and ``properties``: ``tags`` (the framework tags, so dashboards can
  filter on ``owasp-llm:LLM03``), ``security-severity`` (the 0-10 score GitHub code
  scanning reads: critical 9.5, high 8.0, medium 5.5, low 3.0, info 0.0) and
  ``frameworks`` (each framework item with its name). Metadata comes from the rule
  classes (given, or the registered rules); for ids only a scanner reports, from the
  findings themselves.
* ``results``: one per finding, with ``ruleId``/``ruleIndex``, ``level`` from the
  severity (critical and high: ``error``, medium: ``warning``, low and info:
  ``note``), a message naming the asset, ``locations`` from the evidence (the file as
  ``artifactLocation.uri``, its line and column as ``region``; a notebook cell is named
  in the location's message, not as a line, since a cell's line is no line of the
  file), a logical location naming the asset when no evidence has a file,
  ``partialFingerprints`` from the finding id (stable across scans), ``suppressions``
  for accepted and false-positive findings (with the reason, who and until when), and
  ``properties`` (asset id, kind and name, status, severity, framework tags).

Paths under ``root`` are written relative to it with ``uriBaseId`` ``SRCROOT`` (what
code-scanning upload expects); other paths as ``file://`` URIs.

Secrets: no evidence snippet is exported at all (they are redacted already, but a
SARIF file travels far), nor a credential fingerprint or any attribute.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote

from aiposture.errors import AIPostureError
from aiposture.models import Asset, Evidence, Finding, FindingStatus, Severity

__all__ = [
    "SARIF_SCHEMA",
    "SARIF_VERSION",
    "RuleInfo",
    "findings_to_sarif",
    "to_sarif_json",
]

SARIF_VERSION = "2.1.0"
#: The OASIS schema the log declares.
SARIF_SCHEMA = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
#: ``uriBaseId`` of paths written relative to the export root.
SRCROOT = "SRCROOT"
#: At most this many locations per result.
MAX_LOCATIONS = 10
_FINGERPRINT_KEY = "aiposture/findingId/v1"

_LEVEL = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}
_SECURITY_SEVERITY = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "3.0",
    Severity.INFO: "0.0",
}
_SUPPRESSED = {FindingStatus.ACCEPTED, FindingStatus.FALSE_POSITIVE}
_WORD = re.compile(r"[A-Za-z0-9]+")
_FRAMEWORK_PREFIXES = ("owasp-llm:", "atlas:", "nist-ai-rmf:", "eu-ai-act:", "cwe:")


@dataclass(frozen=True)
class RuleInfo:
    """What SARIF says about a rule.

    Attributes:
        id: Rule id (``AIP-MODEL-001``).
        title: Short title.
        rationale: Why it matters.
        remediation: What to do about it.
        severity: Default severity.
        frameworks: Framework tags (``owasp-llm:LLM03`` ...).
    """

    id: str
    title: str
    rationale: str = ""
    remediation: str = ""
    severity: Severity = Severity.MEDIUM
    frameworks: tuple[str, ...] = ()

    @classmethod
    def of(cls, rule: Any) -> RuleInfo:
        """Metadata of a :class:`aiposture.risk.base.Rule` class or instance."""
        if isinstance(rule, RuleInfo):
            return rule
        return cls(
            id=str(rule.id),
            title=str(rule.title),
            rationale=str(getattr(rule, "rationale", "") or ""),
            remediation=str(getattr(rule, "remediation", "") or ""),
            severity=Severity(getattr(rule, "severity", Severity.MEDIUM)),
            frameworks=tuple(getattr(rule, "frameworks", ()) or ()),
        )

    @classmethod
    def from_finding(cls, finding: Finding) -> RuleInfo:
        """Metadata guessed from a finding, for ids no rule class describes."""
        return cls(
            id=finding.rule_id,
            title=finding.title,
            rationale=finding.description or "",
            remediation=finding.remediation or "",
            severity=finding.severity,
            frameworks=tuple(t for t in finding.tags if t.startswith(_FRAMEWORK_PREFIXES)),
        )


def _registered_rules() -> dict[str, RuleInfo]:
    try:
        from aiposture.risk.registry import default_rules

        reg = default_rules()
        return {rid: RuleInfo.of(reg.get(rid)) for rid in reg.ids()}
    except (AIPostureError, ImportError, AttributeError):
        # A broken third-party rule must not stop an export; findings carry enough.
        return {}


def _rule_table(
    rules_metadata: Mapping[str, Any] | Iterable[Any] | None,
) -> dict[str, RuleInfo]:
    if rules_metadata is None:
        return _registered_rules()
    if isinstance(rules_metadata, Mapping):
        return {str(k): RuleInfo.of(v) for k, v in rules_metadata.items()}
    table: dict[str, RuleInfo] = {}
    for r in rules_metadata:
        info = RuleInfo.of(r)
        table[info.id] = info
    return table


def _pascal(text: str) -> str:
    return "".join(w[:1].upper() + w[1:] for w in _WORD.findall(text)) or "Rule"


def _framework_details(tags: Sequence[str]) -> list[dict[str, str]]:
    from aiposture.risk.frameworks import item

    out: list[dict[str, str]] = []
    for tag in tags:
        it = item(tag)
        if it is not None:
            out.append({"tag": it.tag, "framework": it.framework, "id": it.id, "name": it.name})
        elif tag.startswith("cwe:"):
            out.append({"tag": tag, "framework": "cwe", "id": tag[4:], "name": f"CWE-{tag[4:]}"})
    return out


def _rule_descriptor(info: RuleInfo) -> dict[str, Any]:
    details = _framework_details(info.frameworks)
    help_text = info.remediation or "No remediation is recorded for this rule."
    md_lines = [help_text]
    if details:
        help_text += "\n\nFrameworks: " + "; ".join(f"{d['tag']} ({d['name']})" for d in details)
        md_lines.append("")
        md_lines.append("**Frameworks**")
        md_lines.append("")
        md_lines.extend(f"- `{d['tag']}` {d['name']}" for d in details)
    descriptor: dict[str, Any] = {
        "id": info.id,
        "name": _pascal(info.title),
        "shortDescription": {"text": info.title},
        "fullDescription": {"text": info.rationale or info.title},
        "help": {"text": help_text, "markdown": "\n".join(md_lines)},
        "defaultConfiguration": {"level": _LEVEL[info.severity]},
        "properties": {
            "tags": ["security", *info.frameworks],
            "security-severity": _SECURITY_SEVERITY[info.severity],
            "severity": info.severity.value,
            "frameworks": details,
        },
    }
    return descriptor


def _uri(path: str, root: Path | None) -> tuple[str, str | None]:
    """The artifact URI of ``path`` and its ``uriBaseId`` (None for an absolute URI)."""
    p = Path(path)
    if root is not None and p.is_absolute():
        try:
            rel = p.relative_to(root)
        except ValueError:
            pass
        else:
            return quote(rel.as_posix(), safe="/"), SRCROOT
    if p.is_absolute():
        return p.as_uri(), None
    rel_posix = PurePosixPath(path.replace("\\", "/")).as_posix()
    return quote(rel_posix, safe="/"), (SRCROOT if root is not None else None)


def _location(ev: Evidence, root: Path | None) -> dict[str, Any] | None:
    if not ev.path:
        return None
    uri, base = _uri(ev.path, root)
    artifact: dict[str, Any] = {"uri": uri}
    if base:
        artifact["uriBaseId"] = base
    physical: dict[str, Any] = {"artifactLocation": artifact}
    notes: list[str] = []
    if ev.cell is not None:
        notes.append(f"notebook cell {ev.cell}" + (f", line {ev.line}" if ev.line else ""))
    elif ev.line:
        region: dict[str, Any] = {"startLine": ev.line}
        if ev.column:
            region["startColumn"] = ev.column
        physical["region"] = region
    if ev.key:
        notes.append(f"key {ev.key}")
    loc: dict[str, Any] = {"physicalLocation": physical}
    if notes:
        loc["message"] = {"text": "; ".join(notes)}
    return loc


def _locations(finding: Finding, asset: Asset | None, root: Path | None) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for ev in [*finding.evidence, *(asset.evidence if asset is not None else [])]:
        loc = _location(ev, root)
        if loc is None:
            continue
        key = json.dumps(loc, sort_keys=True)
        if key in seen:
            continue
        seen.add(key)
        out.append(loc)
        if len(out) >= MAX_LOCATIONS:
            break
    if not out:
        name = asset.name if asset is not None else finding.asset_id
        kind = asset.kind.value if asset is not None else "asset"
        out.append(
            {
                "logicalLocations": [
                    {"name": name, "fullyQualifiedName": f"{kind}/{name}", "kind": "resource"}
                ],
                "message": {"text": f"{kind} {name} ({finding.asset_id})"},
            }
        )
    return out


def _suppression(finding: Finding) -> dict[str, Any]:
    parts = []
    if finding.status is FindingStatus.FALSE_POSITIVE:
        parts.append("false positive")
    else:
        parts.append("risk accepted")
    if finding.status_reason:
        parts.append(finding.status_reason)
    if finding.status_by:
        parts.append(f"by {finding.status_by}")
    if finding.accepted_until is not None:
        parts.append(f"until {finding.accepted_until.isoformat()}")
    return {"kind": "external", "status": "accepted", "justification": "; ".join(parts)}


def _message(finding: Finding, asset: Asset | None) -> str:
    where = (
        f"{asset.kind.value} '{asset.name}'" if asset is not None else f"asset {finding.asset_id}"
    )
    text = f"{finding.title} ({where})."
    detail = next((e.detail for e in finding.evidence if e.detail), None)
    if detail:
        text += f" {detail}"
    return text


def findings_to_sarif(
    findings: Iterable[Finding],
    assets: Iterable[Asset] | Mapping[str, Asset],
    rules_metadata: Mapping[str, Any] | Iterable[Any] | None = None,
    *,
    root: str | Path | None = None,
    include_closed: bool = False,
) -> dict[str, Any]:
    """A SARIF 2.1.0 log (as JSON-ready data) of the findings.

    Args:
        findings: The findings to export.
        assets: The assets they are on (to name them and locate evidence).
        rules_metadata: Rule classes, instances or :class:`RuleInfo` (a list, or a
            mapping by id); the registered rules when None. Rule ids it does not
            describe take their metadata from their first finding.
        root: Folder the scan ran on; paths under it become relative (``SRCROOT``).
        include_closed: Also export resolved and stale findings (left out by default).

    Returns:
        The SARIF log: ``{"$schema", "version", "runs": [one run]}``.
    """
    from aiposture import __version__

    by_id = dict(assets) if isinstance(assets, Mapping) else {a.id: a for a in assets}
    known = _rule_table(rules_metadata)
    root_path = Path(root).resolve() if root is not None else None

    kept = [
        f for f in findings if include_closed or not (f.stale or f.status is FindingStatus.RESOLVED)
    ]
    kept.sort(key=lambda f: (-f.severity.rank, f.rule_id, f.asset_id, f.id))

    rule_index: dict[str, int] = {}
    descriptors: list[dict[str, Any]] = []
    results: list[dict[str, Any]] = []
    for f in kept:
        if f.rule_id not in rule_index:
            info = known.get(f.rule_id) or RuleInfo.from_finding(f)
            rule_index[f.rule_id] = len(descriptors)
            descriptors.append(_rule_descriptor(info))
        asset = by_id.get(f.asset_id)
        frameworks = [t for t in f.tags if t.startswith(_FRAMEWORK_PREFIXES)]
        props: dict[str, Any] = {
            "assetId": f.asset_id,
            "status": f.status.value,
            "severity": f.severity.value,
            "frameworks": frameworks,
            "tags": frameworks,
            "firstSeen": f.first_seen.isoformat(),
            "lastSeen": f.last_seen.isoformat(),
        }
        if asset is not None:
            props["assetKind"] = asset.kind.value
            props["assetName"] = asset.name
        result: dict[str, Any] = {
            "ruleId": f.rule_id,
            "ruleIndex": rule_index[f.rule_id],
            "level": _LEVEL[f.severity],
            "message": {"text": _message(f, asset)},
            "locations": _locations(f, asset, root_path),
            "partialFingerprints": {_FINGERPRINT_KEY: f.id},
            "properties": props,
        }
        if f.status in _SUPPRESSED:
            result["suppressions"] = [_suppression(f)]
        results.append(result)

    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "aiposture",
                "version": __version__,
                "rules": descriptors,
            }
        },
        "results": results,
        "columnKind": "unicodeCodePoints",
    }
    if root_path is not None:
        run["originalUriBaseIds"] = {SRCROOT: {"uri": root_path.as_uri() + "/"}}
    return {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": [run]}


def to_sarif_json(
    findings: Iterable[Finding],
    assets: Iterable[Asset] | Mapping[str, Asset],
    rules_metadata: Mapping[str, Any] | Iterable[Any] | None = None,
    *,
    root: str | Path | None = None,
    include_closed: bool = False,
    indent: int | None = 2,
) -> str:
    """:func:`findings_to_sarif` as JSON text."""
    log = findings_to_sarif(
        findings, assets, rules_metadata, root=root, include_closed=include_closed
    )
    return json.dumps(log, indent=indent, ensure_ascii=False)
