"""Shadow-AI rules: AI services in use that the organisation has not approved.

The egress-log scanner already reports each unsanctioned service it sees
(``AIP-SHADOW-001``). These rules add what the graph knows: sensitive data flowing to such
a service, software built on it, and services in use that nobody has decided about.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from aiposture.models import (
    Asset,
    AssetKind,
    Evidence,
    Finding,
    RelationKind,
    Sanctioned,
    Severity,
)
from aiposture.risk.base import Rule
from aiposture.risk.graph import EstateGraph, Neighbour
from aiposture.risk.rules._common import (
    CONFIDENTIAL,
    CONSUMER_KINDS,
    RESTRICTED,
    bump,
    cap,
    context,
    label,
    pick_evidence,
    relation_evidence,
    sensitivity_rank,
)

__all__ = ["SensitiveDataToShadowAI", "SoftwareOnUnsanctionedService", "UndecidedAIService"]

_SERVICES = frozenset({AssetKind.AI_SERVICE, AssetKind.ENDPOINT})


def upload_threshold() -> int:
    """Bytes sent to a service from which the use counts as uploading data (the egress
    scanner's threshold, so both say the same)."""
    try:
        from aiposture.discovery.scanners.egress_logs import UPLOAD_THRESHOLD
    except ImportError:  # pragma: no cover - the scanner ships with the package
        return 10_000_000
    return int(UPLOAD_THRESHOLD)


def _usage_evidence(asset: Asset) -> list[Evidence]:
    return [ev for ev in asset.evidence if ev.usage is not None]


def bytes_sent(asset: Asset) -> int:
    """Bytes sent to the service over all usage evidence (from egress logs)."""
    total = 0
    for ev in _usage_evidence(asset):
        if ev.usage is not None and isinstance(ev.usage.bytes_out, int):
            total += max(0, ev.usage.bytes_out)
    return total


def _callers(graph: EstateGraph, asset: Asset) -> list[Neighbour]:
    return [
        n
        for n in graph.into(asset.id, RelationKind.CALLS_SERVICE)
        if n.asset.kind in CONSUMER_KINDS
    ]


class SensitiveDataToShadowAI(Rule):
    """Confidential data, or bulk uploads, going to an unsanctioned AI service."""

    id: ClassVar[str] = "AIP-SHADOW-002"
    title: ClassVar[str] = "Sensitive data sent to an unsanctioned AI service"
    rationale: ClassVar[str] = (
        "An unsanctioned service receives confidential or restricted data (code or notebooks "
        "that handle such data call it, someone recorded that such data goes there, or the "
        "logs show bulk uploads). The provider may keep, train on or expose that data under "
        "terms nobody reviewed."
    )
    severity: ClassVar[Severity] = Severity.HIGH
    remediation: ClassVar[str] = (
        "Stop the flow: block the service at the proxy or move the callers to a sanctioned "
        "provider, find out what was sent and to which account, ask the provider to delete "
        "it, and offer users an approved alternative."
    )
    frameworks: ClassVar[tuple[str, ...]] = (
        "owasp-llm:LLM02",
        "nist-ai-rmf:GOVERN-1.6",
        "nist-ai-rmf:GOVERN-6.1",
        "nist-ai-rmf:MAP-4.1",
    )
    kinds: ClassVar[frozenset[AssetKind]] = _SERVICES

    def evaluate(self, asset: Asset, graph: EstateGraph) -> Iterator[Finding]:
        """One finding per unsanctioned service that receives confidential data (high),
        restricted data or confidential data in bulk uploads (critical), or bulk uploads of
        unknown data (high)."""
        if asset.sanctioned is not Sanctioned.UNSANCTIONED:
            return
        callers = _callers(graph, asset)
        sensitive = [n for n in callers if sensitivity_rank(n.asset) >= CONFIDENTIAL]
        rank = max(
            [sensitivity_rank(asset), *(sensitivity_rank(n.asset) for n in sensitive)],
            default=-1,
        )
        sent = bytes_sent(asset)
        uploads = sent >= upload_threshold()
        if rank < CONFIDENTIAL and not uploads:
            return
        severity = self.severity
        if rank >= RESTRICTED or (rank >= CONFIDENTIAL and uploads):
            severity = Severity.CRITICAL
        why = []
        if sensitive:
            why.append(
                "called by "
                + ", ".join(sorted(label(n.asset) for n in sensitive)[:5])
                + " (confidential or restricted data)"
            )
        if sensitivity_rank(asset) >= CONFIDENTIAL:
            why.append(f"recorded as receiving {asset.data_sensitivity.value} data")
        if uploads:
            why.append(f"{sent / 1e6:.1f} MB sent to it in the logs")
        top = sorted(
            _usage_evidence(asset),
            key=lambda ev: -(ev.usage.bytes_out if ev.usage is not None else 0),
        )
        yield self.finding(
            asset,
            severity=severity,
            title=f"Sensitive data sent to the unsanctioned service {asset.name}",
            description=f"{self.rationale} Here: {'; '.join(why)}.",
            evidence=pick_evidence(relation_evidence(sensitive), top),
        )


class SoftwareOnUnsanctionedService(Rule):
    """An application, notebook or agent whose code calls an unsanctioned AI service."""

    id: ClassVar[str] = "AIP-SHADOW-003"
    title: ClassVar[str] = "Software built on an unsanctioned AI service"
    rationale: ClassVar[str] = (
        "The service is wired into code, not just tried in a browser: every run sends data to "
        "a provider the organisation has not approved, and the dependency grows with each "
        "release."
    )
    severity: ClassVar[Severity] = Severity.MEDIUM
    remediation: ClassVar[str] = (
        "Review and sanction the service, or move the calls to a sanctioned provider before "
        "the dependency spreads."
    )
    frameworks: ClassVar[tuple[str, ...]] = (
        "owasp-llm:LLM02",
        "owasp-llm:LLM03",
        "nist-ai-rmf:GOVERN-6.1",
        "nist-ai-rmf:MAP-4.1",
    )
    kinds: ClassVar[frozenset[AssetKind]] = CONSUMER_KINDS

    def evaluate(self, asset: Asset, graph: EstateGraph) -> Iterator[Finding]:
        """One finding per unsanctioned service or endpoint the asset calls; high when the
        caller is in production, customer-facing or critical."""
        calls = [
            n
            for n in graph.out(asset.id, RelationKind.CALLS_SERVICE)
            if n.asset.kind in _SERVICES and n.asset.sanctioned is Sanctioned.UNSANCTIONED
        ]
        if not calls:
            return
        ctx = context(graph, asset)
        for n in calls:
            yield self.finding(
                asset,
                fingerprint=n.asset.id,
                severity=bump(self.severity) if ctx.exposed else self.severity,
                title=f"{cap(label(asset))} calls the unsanctioned service {n.asset.name}",
                evidence=pick_evidence(n.relation.evidence),
            )


class UndecidedAIService(Rule):
    """An AI service in use that has been neither sanctioned nor rejected."""

    id: ClassVar[str] = "AIP-SHADOW-004"
    title: ClassVar[str] = "AI service in use without a sanction decision"
    rationale: ClassVar[str] = (
        "Code or people use this AI service, but nobody has recorded whether it is approved: "
        "its data-processing terms, retention and security have not been reviewed, and it "
        "is missing from the list of third-party AI the organisation relies on."
    )
    severity: ClassVar[Severity] = Severity.LOW
    remediation: ClassVar[str] = (
        "Review the service and record the decision (discovery.sanctioned_services in the "
        "settings, or update the asset's sanctioned field)."
    )
    frameworks: ClassVar[tuple[str, ...]] = (
        "owasp-llm:LLM03",
        "nist-ai-rmf:GOVERN-1.6",
        "nist-ai-rmf:GOVERN-6.1",
    )
    kinds: ClassVar[frozenset[AssetKind]] = frozenset({AssetKind.AI_SERVICE})

    def evaluate(self, asset: Asset, graph: EstateGraph) -> Iterator[Finding]:
        """One finding for a service of unknown sanction that has callers or log usage;
        medium when a caller is in production, customer-facing, critical or sensitive."""
        if asset.sanctioned is not Sanctioned.UNKNOWN:
            return
        callers = _callers(graph, asset)
        usage = _usage_evidence(asset)
        if not callers and not usage:
            return
        ctx = context(graph, asset)
        raise_it = ctx.exposed or ctx.sensitive
        yield self.finding(
            asset,
            severity=bump(self.severity) if raise_it else self.severity,
            title=f"{asset.name} is in use without a sanction decision",
            evidence=pick_evidence(relation_evidence(callers), usage),
        )
