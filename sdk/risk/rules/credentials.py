"""Credential rules, on the graph around the ``credential`` assets scanners find.

Scanners already report every plaintext secret (``AIP-CRED-001``, ``AIP-CRED-002``,
``AIP-MCP-001``, one finding per place). These rules look at what the secret is for and
who holds it: an AI key in a production or sensitive application, one key pasted into
several projects, a key for a service the organisation has not sanctioned.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import ClassVar

from aiposture.models import Asset, AssetKind, Finding, RelationKind, Sanctioned, Severity
from aiposture.risk.base import Rule
from aiposture.risk.graph import ACTIVE_STATUSES, EstateGraph, Neighbour
from aiposture.risk.rules._common import (
    GraphMemo,
    attr_str,
    bump,
    context,
    pick_evidence,
    relation_evidence,
    words,
)

__all__ = [
    "CredentialForUnsanctionedService",
    "CredentialSharedAcrossProjects",
    "ExposedAICredentialInProduction",
]

_CRED = frozenset({AssetKind.CREDENTIAL})
#: Scanner rules that report a credential written in plain text.
EXPOSURE_RULES = frozenset({"AIP-CRED-001", "AIP-CRED-002", "AIP-MCP-001"})
#: Words of secret types that name an AI provider (``OpenAI Token``, ``Hugging Face Token``).
_AI_WORDS = frozenset(
    {
        "openai",
        "anthropic",
        "hugging",
        "huggingface",
        "hf",
        "cohere",
        "mistral",
        "groq",
        "gemini",
        "replicate",
        "together",
        "perplexity",
        "deepseek",
        "xai",
        "openrouter",
        "voyage",
        "deepgram",
        "elevenlabs",
        "langsmith",
        "langchain",
        "pinecone",
    }
)
_AGENTIC = frozenset({AssetKind.MCP_SERVER, AssetKind.AGENT})


def _holders(graph: EstateGraph, cred: Asset) -> list[Neighbour]:
    return graph.out(cred.id, RelationKind.DECLARED_IN)


def is_ai_credential(graph: EstateGraph, cred: Asset) -> bool:
    """A key of an AI provider, or one given to an MCP server or agent."""
    if cred.provider:
        return True
    if any(n.asset.kind in _AGENTIC for n in _holders(graph, cred)):
        return True
    return bool(_AI_WORDS.intersection(words(attr_str(cred, "secret_type") or cred.name)))


def exposure_open(graph: EstateGraph, cred: Asset) -> bool:
    """False when every scanner finding of its exposure was resolved, accepted or dismissed
    (someone dealt with it); True otherwise, also when no such finding is in the graph."""
    found = [
        f
        for f in graph.findings_for(cred.id, active=False)
        if f.rule_id in EXPOSURE_RULES and not f.stale
    ]
    return not found or any(f.status in ACTIVE_STATUSES for f in found)


class ExposedAICredentialInProduction(Rule):
    """An AI credential in plain text where a leak costs most."""

    id: ClassVar[str] = "AIP-CRED-003"
    title: ClassVar[str] = "AI credential exposed in a production or sensitive application"
    rationale: ClassVar[str] = (
        "The key is written in plain text in an application that runs in production, faces "
        "customers, is critical or handles confidential data. Whoever reads the file can "
        "call the AI service as that application: run up the bill, read the files, "
        "fine-tunes and conversation logs stored with the provider, or impersonate it."
    )
    severity: ClassVar[Severity] = Severity.HIGH
    remediation: ClassVar[str] = (
        "Revoke the key now, issue a new one scoped to this application, load it from a "
        "secret manager at run time, and remove the old value from the repository history."
    )
    frameworks: ClassVar[tuple[str, ...]] = (
        "owasp-llm:LLM02",
        "owasp-llm:LLM10",
        "atlas:AML.T0055",
        "cwe:798",
        "nist-ai-rmf:MEASURE-2.7",
    )
    kinds: ClassVar[frozenset[AssetKind]] = _CRED

    def evaluate(self, asset: Asset, graph: EstateGraph) -> Iterator[Finding]:
        """One finding for an AI credential held by a production, customer-facing or
        critical asset (critical), or by one handling confidential data (high)."""
        if not is_ai_credential(graph, asset) or not exposure_open(graph, asset):
            return
        ctx = context(graph, asset)
        if not (ctx.exposed or ctx.sensitive):
            return
        kind = attr_str(asset, "secret_type") or "AI credential"
        yield self.finding(
            asset,
            severity=Severity.CRITICAL if ctx.exposed else self.severity,
            title=f"{kind} exposed in plain text where {ctx.why[0]}"
            if ctx.why
            else f"{kind} exposed in plain text",
            description=f"{self.rationale} Context: {ctx.explain()}.",
            evidence=pick_evidence(asset.evidence),
        )


def _project(graph: EstateGraph, holder: Asset) -> Asset | None:
    """The project a holder belongs to: an application, a notebook's application, an agent."""
    if holder.kind is AssetKind.APPLICATION or holder.kind is AssetKind.AGENT:
        return holder
    if holder.kind is AssetKind.NOTEBOOK:
        for n in graph.into(holder.id, RelationKind.CONTAINS):
            if n.asset.kind is AssetKind.APPLICATION:
                return n.asset
        return holder
    return None


class CredentialSharedAcrossProjects(Rule):
    """One secret written into several projects."""

    id: ClassVar[str] = "AIP-CRED-004"
    title: ClassVar[str] = "Credential shared across several projects"
    rationale: ClassVar[str] = (
        "The same secret is written into several applications: a leak from any of them "
        "exposes all, usage cannot be told apart in the provider's logs, and revoking it "
        "breaks every project at once, so it tends not to be revoked."
    )
    severity: ClassVar[Severity] = Severity.MEDIUM
    remediation: ClassVar[str] = (
        "Issue one key per application with the least scope it needs, store each in a "
        "secret manager, then revoke the shared key."
    )
    frameworks: ClassVar[tuple[str, ...]] = (
        "owasp-llm:LLM02",
        "atlas:AML.T0055",
        "cwe:798",
        "nist-ai-rmf:MEASURE-2.7",
    )
    kinds: ClassVar[frozenset[AssetKind]] = _CRED

    def evaluate(self, asset: Asset, graph: EstateGraph) -> Iterator[Finding]:
        """One finding when the credential is declared in two or more projects; high when
        one of them is in production, customer-facing or critical."""
        holders = _holders(graph, asset)
        projects: dict[str, Asset] = {}
        for n in holders:
            p = _project(graph, n.asset)
            if p is not None:
                projects.setdefault(p.id, p)
        if len(projects) < 2:
            return
        ctx = context(graph, asset, extra=list(projects.values()))
        names = ", ".join(sorted(f"'{p.name}'" for p in projects.values())[:6])
        yield self.finding(
            asset,
            severity=bump(self.severity) if ctx.exposed else self.severity,
            title=f"{asset.name} is written into {len(projects)} projects",
            description=f"{self.rationale} Projects: {names}.",
            evidence=pick_evidence(asset.evidence, relation_evidence(holders), limit=8),
        )


def _services_by_provider(graph: EstateGraph) -> dict[str, list[Asset]]:
    out: dict[str, list[Asset]] = defaultdict(list)
    for svc in graph.of_kind(AssetKind.AI_SERVICE):
        for key in {svc.provider, attr_str(svc, "service_id")}:
            if key:
                out[key.casefold()].append(svc)
    return out


class CredentialForUnsanctionedService(Rule):
    """A key for an AI service the organisation has not sanctioned."""

    id: ClassVar[str] = "AIP-CRED-005"
    title: ClassVar[str] = "Credential for an unsanctioned AI service"
    rationale: ClassVar[str] = (
        "Code holds a key for an AI service that is marked unsanctioned: the service is "
        "built into software, not just tried in a browser, and data flows to a provider "
        "whose terms, retention and security nobody reviewed."
    )
    severity: ClassVar[Severity] = Severity.MEDIUM
    remediation: ClassVar[str] = (
        "Review the service (data processing terms, retention, region) and sanction it, or "
        "move the code to a sanctioned provider; revoke the key either way, it is in plain "
        "text."
    )
    frameworks: ClassVar[tuple[str, ...]] = (
        "owasp-llm:LLM02",
        "owasp-llm:LLM03",
        "cwe:798",
        "nist-ai-rmf:GOVERN-6.1",
    )
    kinds: ClassVar[frozenset[AssetKind]] = _CRED

    def __init__(self) -> None:
        self._services = GraphMemo(_services_by_provider)

    def evaluate(self, asset: Asset, graph: EstateGraph) -> Iterator[Finding]:
        """One finding when a service of the credential's provider is unsanctioned."""
        if not asset.provider:
            return
        services = self._services.get(graph).get(asset.provider.casefold(), [])
        bad = sorted(
            (s for s in services if s.sanctioned is Sanctioned.UNSANCTIONED), key=lambda s: s.id
        )
        if not bad:
            return
        ctx = context(graph, asset)
        yield self.finding(
            asset,
            fingerprint=bad[0].id,
            severity=bump(self.severity) if ctx.exposed else self.severity,
            title=f"{asset.name} is a key for the unsanctioned service {bad[0].name}",
            evidence=pick_evidence(asset.evidence),
        )
