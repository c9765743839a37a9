"""Governance rules: ownership, approvals, documentation, licences, lifecycle, use cases.

Business context is read from the assets: ``environment`` (set by people with
``update_asset``), the tags ``customer-facing`` and ``critical``, the use case as tags
``use_case:<name>`` or the attribute ``use_case``, and controls as ``control:<name>`` tags.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import ClassVar

from aiposture.models import Asset, AssetKind, Environment, Finding, Severity
from aiposture.risk.base import Rule
from aiposture.risk.graph import EstateGraph
from aiposture.risk.rules._common import (
    attr_bool,
    attr_list,
    attr_str,
    bump,
    cap,
    context,
    has_control,
    label,
    pick_evidence,
    words,
)

__all__ = [
    "HighRiskUseCaseWithoutOversight",
    "ModelWithoutCardOrLicence",
    "NonCommercialModelInProduction",
    "ProductionAssetWithoutOwner",
    "ProductionWithoutApproval",
    "StaleDependency",
]

_DEPLOYABLE = frozenset(
    {
        AssetKind.APPLICATION,
        AssetKind.AGENT,
        AssetKind.MODEL,
        AssetKind.ENDPOINT,
        AssetKind.MCP_SERVER,
    }
)


def licences(asset: Asset) -> list[str]:
    """The declared licences (a card may list several), without ``unknown``/``none``."""
    found = attr_list(asset, "license") + attr_list(asset, "licence")
    return [x for x in found if x.casefold() not in {"unknown", "none", "other"}]


def _approved(asset: Asset) -> bool:
    return (
        has_control(asset, "approval")
        or attr_bool(asset, "approved") is True
        or bool(attr_str(asset, "approval", "approved_by", "approval_ref"))
    )


class ProductionAssetWithoutOwner(Rule):
    """An AI asset in production with nobody answerable for it."""

    id: ClassVar[str] = "AIP-GOV-001"
    title: ClassVar[str] = "Production AI asset without an owner"
    rationale: ClassVar[str] = (
        "Nobody is named as responsible for an AI asset that production depends on: "
        "findings on it have no one to go to, incidents no one to call, and decisions to "
        "update or retire it are not taken."
    )
    severity: ClassVar[Severity] = Severity.LOW
    remediation: ClassVar[str] = (
        "Name an accountable owner (a team or person) with update_asset(owner=...), and "
        "make ownership a condition of going to production."
    )
    frameworks: ClassVar[tuple[str, ...]] = (
        "owasp-llm:LLM03",
        "nist-ai-rmf:GOVERN-2.1",
        "nist-ai-rmf:GOVERN-1.6",
    )
    kinds: ClassVar[frozenset[AssetKind]] = _DEPLOYABLE | {AssetKind.DATASET}

    def evaluate(self, asset: Asset, graph: EstateGraph) -> Iterator[Finding]:
        """One finding for an asset without ``owner`` that is in production itself or used
        by a production application; medium when customer-facing or critical."""
        if (asset.owner or "").strip():
            return
        ctx = context(graph, asset)
        if not ctx.prod:
            return
        yield self.finding(
            asset,
            severity=bump(self.severity)
            if (ctx.customer_facing or ctx.critical)
            else self.severity,
            title=f"{cap(label(asset))} is in production without an owner",
            description=f"{self.rationale} Context: {ctx.explain()}.",
            evidence=pick_evidence(asset.evidence),
        )


class ProductionWithoutApproval(Rule):
    """Deployed to production with no approval on record."""

    id: ClassVar[str] = "AIP-GOV-002"
    title: ClassVar[str] = "Production deployment without an approval on record"
    rationale: ClassVar[str] = (
        "The AI system runs in production but no go-live decision is recorded: nobody "
        "checked that its risks were assessed, its tests passed and its controls are in "
        "place, and there is nothing to show an auditor."
    )
    severity: ClassVar[Severity] = Severity.MEDIUM
    remediation: ClassVar[str] = (
        "Review the deployment (risk assessment, evaluation results, controls), record the "
        "decision and who took it, and tag the asset control:approval."
    )
    frameworks: ClassVar[tuple[str, ...]] = (
        "owasp-llm:LLM09",
        "owasp-llm:LLM06",
        "nist-ai-rmf:MANAGE-1.1",
        "nist-ai-rmf:GOVERN-1.4",
    )
    kinds: ClassVar[frozenset[AssetKind]] = _DEPLOYABLE

    def evaluate(self, asset: Asset, graph: EstateGraph) -> Iterator[Finding]:
        """One finding for an asset whose own environment is ``prod`` with no approval
        (tag ``control:approval`` or an ``approved``/``approval`` attribute); high when
        customer-facing or critical."""
        if asset.environment is not Environment.PROD or _approved(asset):
            return
        ctx = context(graph, asset)
        yield self.finding(
            asset,
            severity=bump(self.severity)
            if (ctx.customer_facing or ctx.critical)
            else self.severity,
            title=f"{cap(label(asset))} runs in production without an approval on record",
            evidence=pick_evidence(asset.evidence),
        )


_SELF_SOURCED = frozenset({"huggingface", "local"})


class ModelWithoutCardOrLicence(Rule):
    """A downloaded or local model with no model card and no licence known."""

    id: ClassVar[str] = "AIP-GOV-003"
    title: ClassVar[str] = "Model without a model card or declared licence"
    rationale: ClassVar[str] = (
        "Nothing documents the model: its intended use, limits, training data, evaluation "
        "and terms of use are unknown, so nobody can tell whether it fits the use it is put "
        "to or whether that use is allowed."
    )
    severity: ClassVar[Severity] = Severity.LOW
    remediation: ClassVar[str] = (
        "Keep the model card next to the weights (or write one for an in-house model), "
        "record the licence, and check the intended use against yours."
    )
    frameworks: ClassVar[tuple[str, ...]] = (
        "owasp-llm:LLM03",
        "nist-ai-rmf:MAP-4.1",
        "nist-ai-rmf:GOVERN-6.1",
    )
    kinds: ClassVar[frozenset[AssetKind]] = frozenset({AssetKind.MODEL})

    def evaluate(self, asset: Asset, graph: EstateGraph) -> Iterator[Finding]:
        """One finding for a Hub or local model in use (or in production) with neither a
        ``model_card`` nor a ``license`` attribute; medium in production use. A card without
        a licence is the model-folder scanner's ``AIP-MODEL-010``."""
        provider = (asset.provider or "").casefold()
        if provider not in _SELF_SOURCED and attr_str(asset, "source", "path") is None:
            return
        if attr_str(asset, "model_card", "card") is not None:
            return
        if licences(asset):
            return
        ctx = context(graph, asset)
        in_use = ctx.prod or any(
            n.asset.kind in (AssetKind.APPLICATION, AssetKind.NOTEBOOK, AssetKind.AGENT)
            for n in graph.neighbours(asset.id)
        )
        if not in_use:
            return
        yield self.finding(
            asset,
            severity=bump(self.severity) if ctx.exposed else self.severity,
            title=f"Model {asset.name} has no model card and no declared licence",
            evidence=pick_evidence(asset.evidence),
        )


_NC_LICENCE = re.compile(r"(?:^|[-_ ])nc(?:[-_ ]|$)|non-?commercial|research[-_ ]only", re.I)


class NonCommercialModelInProduction(Rule):
    """A model whose licence forbids commercial use, serving production."""

    id: ClassVar[str] = "AIP-GOV-004"
    title: ClassVar[str] = "Model under a non-commercial licence used in production"
    rationale: ClassVar[str] = (
        "The model's licence (CC BY-NC, research-only...) does not allow commercial use, yet "
        "a production or customer-facing system uses it: the organisation may have to pull "
        "the feature or settle a claim."
    )
    severity: ClassVar[Severity] = Severity.MEDIUM
    remediation: ClassVar[str] = (
        "Have legal review the licence; replace the model with one whose licence allows the "
        "use, or obtain a commercial licence from the publisher."
    )
    frameworks: ClassVar[tuple[str, ...]] = (
        "owasp-llm:LLM03",
        "nist-ai-rmf:GOVERN-6.1",
        "nist-ai-rmf:MAP-4.1",
    )
    kinds: ClassVar[frozenset[AssetKind]] = frozenset({AssetKind.MODEL})

    def evaluate(self, asset: Asset, graph: EstateGraph) -> Iterator[Finding]:
        """One finding for a model whose ``license`` reads non-commercial (``cc-by-nc-4.0``,
        ``research-only``) in production, customer-facing or critical use."""
        licence = next((x for x in licences(asset) if _NC_LICENCE.search(x)), None)
        if licence is None:
            return
        ctx = context(graph, asset)
        if not ctx.exposed:
            return
        yield self.finding(
            asset,
            title=f"Model {asset.name} is licensed {licence} and used in production",
            description=f"{self.rationale} Context: {ctx.explain()}.",
            evidence=pick_evidence(asset.evidence),
        )


class StaleDependency(Rule):
    """A current asset still related to one that is no longer seen."""

    id: ClassVar[str] = "AIP-GOV-005"
    title: ClassVar[str] = "Stale asset still reachable"
    rationale: ClassVar[str] = (
        "An asset that discovery no longer sees (a removed model file, a decommissioned "
        "endpoint or server) is still related to a current one by a relation seen in the "
        "latest scan: something still points at it, so it may not be gone, or a consumer "
        "will fail or fall back to something unreviewed."
    )
    severity: ClassVar[Severity] = Severity.LOW
    remediation: ClassVar[str] = (
        "Check whether the stale asset still exists: remove the reference to it and "
        "decommission it properly, or rescan the place it now lives."
    )
    frameworks: ClassVar[tuple[str, ...]] = (
        "owasp-llm:LLM03",
        "nist-ai-rmf:GOVERN-1.6",
        "nist-ai-rmf:GOVERN-1.7",
    )

    def evaluate(self, asset: Asset, graph: EstateGraph) -> Iterator[Finding]:
        """One finding per stale asset reached from a current asset by a current relation
        (either direction), on the current asset; medium in production use."""
        if asset.stale:
            return
        hits = [
            n
            for n in (*graph.out(asset.id, current=False), *graph.into(asset.id, current=False))
            if n.asset.stale and not n.relation.stale
        ]
        if not hits:
            return
        ctx = context(graph, asset)
        for n in {n.asset.id: n for n in hits}.values():
            yield self.finding(
                asset,
                fingerprint=n.asset.id,
                severity=bump(self.severity) if ctx.exposed else self.severity,
                title=f"{cap(label(asset))} still relates to stale {label(n.asset)} "
                f"({n.relation.kind.value})",
                evidence=pick_evidence(n.relation.evidence, n.asset.evidence),
            )


_A1 = "biometric identification, categorisation or emotion recognition (Annex III 1)"
_A2 = "critical infrastructure (Annex III 2)"
_A3 = "education and vocational training (Annex III 3)"
_A4 = "employment and worker management (Annex III 4)"
_A5 = "access to essential private and public services (Annex III 5)"
_A6 = "law enforcement (Annex III 6)"
_A7 = "migration, asylum and border control (Annex III 7)"
_A8 = "administration of justice and democratic processes (Annex III 8)"

#: Use-case words (all of a group must appear) that the EU AI Act lists as high-risk in
#: Annex III, with the area. Deliberately narrow: a keyword match is a prompt to review.
HIGH_RISK_USE_CASES: tuple[tuple[frozenset[str], str], ...] = tuple(
    (frozenset(group.split()), area)
    for group, area in (
        ("biometric", _A1),
        ("biometrics", _A1),
        ("face recognition", _A1),
        ("facial recognition", _A1),
        ("emotion recognition", _A1),
        ("critical infrastructure", _A2),
        ("admission", _A3),
        ("admissions", _A3),
        ("exam", _A3),
        ("proctoring", _A3),
        ("student assessment", _A3),
        ("recruitment", _A4),
        ("recruiting", _A4),
        ("hiring", _A4),
        ("candidate screening", _A4),
        ("resume screening", _A4),
        ("cv screening", _A4),
        ("employee monitoring", _A4),
        ("credit scoring", _A5),
        ("creditworthiness", _A5),
        ("credit risk", _A5),
        ("loan", _A5),
        ("lending", _A5),
        ("underwriting", _A5),
        ("insurance pricing", _A5),
        ("public benefits", _A5),
        ("welfare", _A5),
        ("emergency dispatch", _A5),
        ("emergency triage", _A5),
        ("police", _A6),
        ("policing", _A6),
        ("law enforcement", _A6),
        ("migration", _A7),
        ("asylum", _A7),
        ("border control", _A7),
        ("judicial", _A8),
        ("sentencing", _A8),
        ("election", _A8),
        ("elections", _A8),
    )
)


def use_cases(asset: Asset) -> list[str]:
    """The declared use cases: ``use_case:<x>`` tags and the ``use_case`` attribute."""
    out = [
        t.split(":", 1)[1].strip()
        for t in asset.tags
        if isinstance(t, str) and t.casefold().startswith("use_case:")
    ]
    out += attr_list(asset, "use_case") + attr_list(asset, "use_cases")
    return [u for u in dict.fromkeys(out) if u]


def high_risk_area(asset: Asset) -> tuple[str, str] | None:
    """``(use case, Annex III area)`` of the first declared high-risk use case."""
    for uc in use_cases(asset):
        have = set(words(uc))
        for group, area in HIGH_RISK_USE_CASES:
            if group <= have:
                return uc, area
    return None


class HighRiskUseCaseWithoutOversight(Rule):
    """An AI system in an EU AI Act high-risk use case with no human oversight recorded."""

    id: ClassVar[str] = "AIP-GOV-006"
    title: ClassVar[str] = "High-risk AI use case without human oversight on record"
    rationale: ClassVar[str] = (
        "The declared use case is high-risk under the EU AI Act (Annex III: hiring, credit, "
        "insurance, education, biometrics, essential services...). Such systems must be "
        "overseen by people who can understand, override and stop them, with risk "
        "management and logging in place before use."
    )
    severity: ClassVar[Severity] = Severity.HIGH
    remediation: ClassVar[str] = (
        "Put human review of the system's decisions in place, document the risk assessment, "
        "data governance and logging the Act requires, and record the approval (tag "
        "control:approval)."
    )
    frameworks: ClassVar[tuple[str, ...]] = (
        "owasp-llm:LLM09",
        "owasp-llm:LLM06",
        "eu-ai-act:high-risk",
        "eu-ai-act:art-14",
        "nist-ai-rmf:MAP-3.5",
        "nist-ai-rmf:GOVERN-3.2",
    )
    kinds: ClassVar[frozenset[AssetKind]] = frozenset(
        {AssetKind.APPLICATION, AssetKind.AGENT, AssetKind.MODEL, AssetKind.ENDPOINT}
    )

    def evaluate(self, asset: Asset, graph: EstateGraph) -> Iterator[Finding]:
        """One finding for an asset whose declared use case is an Annex III area and that
        has no ``control:approval``."""
        hit = high_risk_area(asset)
        if hit is None or _approved(asset):
            return
        use_case, area = hit
        yield self.finding(
            asset,
            title=f"{cap(label(asset))} is used for {use_case} ({area}) without "
            "human oversight on record",
            evidence=pick_evidence(asset.evidence),
        )
