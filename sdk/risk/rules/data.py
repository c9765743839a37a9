"""Data rules: what models learned from, whether that data can come back out, and
whether anybody knows where it came from.

A *leakage index* for a dataset is a ``dataset_index`` asset that ``contains`` it (what
``posture.leakage.build`` records); output monitoring and a leakage index can also be
recorded on a model as the tags ``control:output-monitoring`` and
``control:leakage-index``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from aiposture.models import (
    Asset,
    AssetKind,
    Finding,
    RelationKind,
    Sensitivity,
    Severity,
)
from aiposture.risk.base import Rule
from aiposture.risk.graph import EstateGraph, Neighbour
from aiposture.risk.rules._common import (
    CONFIDENTIAL,
    RESTRICTED,
    Context,
    attr_list,
    attr_str,
    bump,
    context,
    has_control,
    label,
    pick_evidence,
    relation_evidence,
    sensitivity_rank,
)

__all__ = [
    "LeakingModelDeployed",
    "ModelClassifiedBelowTrainingData",
    "SensitiveIndexWithoutAccessPolicy",
    "SensitiveTrainingWithoutLeakageControls",
    "UnknownProvenanceTrainingData",
]

_MODEL = frozenset({AssetKind.MODEL})
#: Leakage-check findings that show a model repeating training data (near) verbatim.
LEAK_RULES = frozenset({"AIP-LEAK-001", "AIP-LEAK-002"})


def training_data(graph: EstateGraph, model: Asset) -> list[Neighbour]:
    """``trained_on`` relations of the model and of the models it is derived from."""
    out = list(graph.out(model.id, RelationKind.TRAINED_ON))
    for base in graph.out(model.id, RelationKind.DERIVED_FROM):
        out.extend(graph.out(base.asset.id, RelationKind.TRAINED_ON))
    return out


def has_leakage_index(graph: EstateGraph, dataset: Asset) -> bool:
    """A ``dataset_index`` contains the dataset."""
    return any(
        n.asset.kind is AssetKind.DATASET_INDEX
        for n in graph.into(dataset.id, RelationKind.CONTAINS)
    )


def _served_publicly(graph: EstateGraph, model: Asset) -> bool:
    from aiposture.risk.rules.exposure import is_public, operated_here

    return any(
        n.asset.kind in (AssetKind.ENDPOINT, AssetKind.AI_SERVICE)
        and operated_here(n.asset)
        and is_public(n.asset)
        for n in graph.into(model.id, RelationKind.SERVES)
    )


def _model_context(graph: EstateGraph, model: Asset) -> tuple[Context, bool]:
    """The model's deployment context, and whether a public endpoint of ours serves it."""
    return context(graph, model), _served_publicly(graph, model)


class SensitiveTrainingWithoutLeakageControls(Rule):
    """A model trained on confidential data with nothing watching what it gives back."""

    id: ClassVar[str] = "AIP-DATA-001"
    title: ClassVar[str] = (
        "Model trained on confidential data without output monitoring or leakage index"
    )
    rationale: ClassVar[str] = (
        "Models memorise parts of their training data: with the right prompts they repeat "
        "records verbatim, and their answers reveal whether a given record was in the "
        "training set (membership inference) or let an attacker rebuild it (model "
        "inversion). Without output monitoring or a leakage index, such a leak goes unseen."
    )
    severity: ClassVar[Severity] = Severity.MEDIUM
    remediation: ClassVar[str] = (
        "Build a leakage index of the training data (posture.leakage.build) and check the "
        "model's outputs against it, monitor outputs in production, and consider "
        "de-identifying or differentially private training for the next version."
    )
    frameworks: ClassVar[tuple[str, ...]] = (
        "owasp-llm:LLM02",
        "atlas:AML.T0024.000",
        "atlas:AML.T0024.001",
        "atlas:AML.T0057",
        "nist-ai-rmf:MEASURE-2.10",
        "nist-ai-rmf:MEASURE-2.4",
    )
    kinds: ClassVar[frozenset[AssetKind]] = _MODEL

    def evaluate(self, asset: Asset, graph: EstateGraph) -> Iterator[Finding]:
        """One finding for a model trained (or derived from one trained) on confidential or
        restricted datasets, unless it has output monitoring or a leakage index, or every
        such dataset has a leakage index. Medium; one level more for restricted data and
        one more when in production, customer-facing, critical or publicly served."""
        if has_control(asset, "output-monitoring") or has_control(asset, "leakage-index"):
            return
        sensitive = [
            n for n in training_data(graph, asset) if sensitivity_rank(n.asset) >= CONFIDENTIAL
        ]
        if not sensitive or all(has_leakage_index(graph, n.asset) for n in sensitive):
            return
        rank = max(sensitivity_rank(n.asset) for n in sensitive)
        severity = bump(self.severity) if rank >= RESTRICTED else self.severity
        ctx, public = _model_context(graph, asset)
        if ctx.exposed or public:
            severity = bump(severity)
        names = ", ".join(sorted({f"'{n.asset.name}'" for n in sensitive})[:5])
        level = "restricted" if rank >= RESTRICTED else "confidential"
        yield self.finding(
            asset,
            severity=severity,
            title=f"Model {asset.name} learned {level} data with no leakage controls",
            description=f"{self.rationale} Training data: {names}."
            + (f" Context: {ctx.explain()}." if ctx.why else "")
            + (" A public endpoint serves it." if public else ""),
            evidence=pick_evidence(relation_evidence(sensitive)),
        )


def _missing_provenance(ds: Asset) -> list[str]:
    missing = []
    source = (
        ds.provider
        or ds.locations
        or attr_str(ds, "source", "url", "origin", "homepage", "repo_id", "path")
    )
    if not source:
        missing.append("source")
    declared = attr_list(ds, "license") + attr_list(ds, "licence")
    if not [x for x in declared if x.casefold() not in {"unknown", "other", "none"}]:
        missing.append("licence")
    if not (ds.owner or "").strip():
        missing.append("owner")
    return missing


class UnknownProvenanceTrainingData(Rule):
    """Training data nobody can vouch for."""

    id: ClassVar[str] = "AIP-DATA-002"
    title: ClassVar[str] = "Training data of unknown provenance or classification"
    rationale: ClassVar[str] = (
        "A model is trained on a dataset whose origin, terms or keeper are unknown, or whose "
        "sensitivity nobody has classified: poisoned or mislabelled records cannot be traced "
        "back, and the data may carry personal or licensed content the model then repeats."
    )
    severity: ClassVar[Severity] = Severity.LOW
    remediation: ClassVar[str] = (
        "Record the dataset's source, licence and owner, classify its sensitivity "
        "(update_asset), and verify it (checksums, a pinned revision) before training."
    )
    frameworks: ClassVar[tuple[str, ...]] = (
        "owasp-llm:LLM04",
        "atlas:AML.T0020",
        "atlas:AML.T0010.002",
        "nist-ai-rmf:MAP-4.1",
        "nist-ai-rmf:GOVERN-6.1",
    )
    kinds: ClassVar[frozenset[AssetKind]] = frozenset({AssetKind.DATASET})

    def evaluate(self, asset: Asset, graph: EstateGraph) -> Iterator[Finding]:
        """One finding for a dataset a current model is trained on when its source is
        unknown, when neither its licence nor its owner is known, or when its sensitivity
        is unclassified; medium when a model trained on it is in production,
        customer-facing or critical."""
        trainees = [
            n
            for n in graph.into(asset.id, RelationKind.TRAINED_ON)
            if n.asset.kind is AssetKind.MODEL
        ]
        if not trainees:
            return
        missing = _missing_provenance(asset)
        unknown = [m for m in missing if m == "source"]
        if "licence" in missing and "owner" in missing:
            unknown += ["licence", "owner"]
        if asset.data_sensitivity is Sensitivity.UNKNOWN:
            unknown.append("classification")
        if not unknown:
            return
        exposed = any(context(graph, n.asset).exposed for n in trainees)
        models = ", ".join(sorted({f"'{n.asset.name}'" for n in trainees})[:5])
        yield self.finding(
            asset,
            severity=bump(self.severity) if exposed else self.severity,
            title=f"Training dataset {asset.name} has no known {', '.join(unknown)}",
            description=f"{self.rationale} Models trained on it: {models}.",
            evidence=pick_evidence(asset.evidence, relation_evidence(trainees)),
        )


class LeakingModelDeployed(Rule):
    """A model caught repeating training data is still deployed."""

    id: ClassVar[str] = "AIP-DATA-003"
    title: ClassVar[str] = "Model that leaked training data is deployed"
    rationale: ClassVar[str] = (
        "A leakage check found the model repeating training records verbatim or nearly so, "
        "and it still serves production, customers or a critical process: every user can "
        "draw the same records out of it."
    )
    severity: ClassVar[Severity] = Severity.HIGH
    remediation: ClassVar[str] = (
        "Filter outputs against the leakage index now, then retrain or fine-tune without the "
        "leaked records (or with de-duplication and privacy-preserving training); take the "
        "model out of service if the data is restricted."
    )
    frameworks: ClassVar[tuple[str, ...]] = (
        "owasp-llm:LLM02",
        "atlas:AML.T0057",
        "nist-ai-rmf:MANAGE-2.4",
        "nist-ai-rmf:MEASURE-2.10",
    )
    kinds: ClassVar[frozenset[AssetKind]] = _MODEL

    def evaluate(self, asset: Asset, graph: EstateGraph) -> Iterator[Finding]:
        """One finding for a model with open verbatim or near-verbatim leak findings in a
        production, customer-facing, critical or publicly served context; critical when
        customer-facing, publicly served or trained on confidential data."""
        leaks = [f for f in graph.findings_for(asset.id) if f.rule_id in LEAK_RULES]
        if not leaks:
            return
        ctx, public = _model_context(graph, asset)
        if not (ctx.exposed or public):
            return
        data_rank = max(
            (sensitivity_rank(n.asset) for n in training_data(graph, asset)), default=-1
        )
        worst = ctx.customer_facing or public or data_rank >= CONFIDENTIAL
        yield self.finding(
            asset,
            severity=Severity.CRITICAL if worst else self.severity,
            title=f"Model {asset.name} repeats training data ({len(leaks)} leaks) and is deployed",
            description=f"{self.rationale} Context: {ctx.explain() or 'served publicly'}.",
            evidence=pick_evidence(*(f.evidence for f in leaks)),
        )


class SensitiveIndexWithoutAccessPolicy(Rule):
    """An index holding confidential records with no access policy recorded."""

    id: ClassVar[str] = "AIP-DATA-004"
    title: ClassVar[str] = "Index of confidential data without an access policy"
    rationale: ClassVar[str] = (
        "The index keeps the text of confidential or restricted records and their "
        "embeddings (embeddings can be inverted back to text): it is a copy of the data and "
        "needs the same access control as the source."
    )
    severity: ClassVar[Severity] = Severity.MEDIUM
    remediation: ClassVar[str] = (
        "Restrict the index folder to the people and services cleared for the source data, "
        "encrypt it at rest, and record the control (tag control:access-policy)."
    )
    frameworks: ClassVar[tuple[str, ...]] = (
        "owasp-llm:LLM08",
        "owasp-llm:LLM02",
        "cwe:732",
        "nist-ai-rmf:MEASURE-2.10",
    )
    kinds: ClassVar[frozenset[AssetKind]] = frozenset({AssetKind.DATASET_INDEX})

    def evaluate(self, asset: Asset, graph: EstateGraph) -> Iterator[Finding]:
        """One finding for an index of confidential (medium) or restricted (high) data with
        no access-policy control."""
        if has_control(asset, "access-policy"):
            return
        held = graph.out(asset.id, RelationKind.CONTAINS)
        rank = max([sensitivity_rank(asset), *(sensitivity_rank(n.asset) for n in held)])
        if rank < CONFIDENTIAL:
            return
        level = "restricted" if rank >= RESTRICTED else "confidential"
        yield self.finding(
            asset,
            severity=bump(self.severity) if rank >= RESTRICTED else self.severity,
            title=f"Index {asset.name} holds {level} data without an access policy",
            evidence=pick_evidence(asset.evidence, relation_evidence(held)),
        )


class ModelClassifiedBelowTrainingData(Rule):
    """A model classified as less sensitive than the data it learned."""

    id: ClassVar[str] = "AIP-DATA-005"
    title: ClassVar[str] = "Model classified below the sensitivity of its training data"
    rationale: ClassVar[str] = (
        "A model can reproduce what it was trained on, so it is at least as sensitive as its "
        "training data; classified lower, it gets weaker access control, sharing rules and "
        "monitoring than the data it carries."
    )
    severity: ClassVar[Severity] = Severity.MEDIUM
    remediation: ClassVar[str] = (
        "Raise the model's data_sensitivity to that of its most sensitive training dataset "
        "(update_asset) and apply the controls that classification requires."
    )
    frameworks: ClassVar[tuple[str, ...]] = (
        "owasp-llm:LLM02",
        "nist-ai-rmf:MEASURE-2.10",
    )
    kinds: ClassVar[frozenset[AssetKind]] = _MODEL

    def evaluate(self, asset: Asset, graph: EstateGraph) -> Iterator[Finding]:
        """One finding when the model's known classification is below its most sensitive
        (own) training dataset's; high when that dataset is restricted."""
        own = sensitivity_rank(asset)
        if own < 0:
            return
        data = graph.out(asset.id, RelationKind.TRAINED_ON)
        above = [n for n in data if sensitivity_rank(n.asset) > own]
        if not above:
            return
        top = max(above, key=lambda n: sensitivity_rank(n.asset))
        yield self.finding(
            asset,
            severity=bump(self.severity)
            if sensitivity_rank(top.asset) >= RESTRICTED
            else self.severity,
            title=f"Model {asset.name} is {asset.data_sensitivity.value} but learned "
            f"{top.asset.data_sensitivity.value} data from {label(top.asset)}",
            evidence=pick_evidence(relation_evidence(above)),
        )
