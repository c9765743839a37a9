"""Supply-chain rules: what is downloaded, at which version, from whom.

* Hub models loaded from code without a pinned revision, or with remote code enabled;
* AI packages declared without an exact version;
* models their provider has retired.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from typing import ClassVar

from aiposture.models import (
    Asset,
    AssetKind,
    Evidence,
    EvidenceKind,
    Finding,
    RelationKind,
    Severity,
    utcnow,
)
from aiposture.risk.base import Rule
from aiposture.risk.graph import EstateGraph, Neighbour
from aiposture.risk.rules._common import (
    CONSUMER_KINDS,
    GraphMemo,
    attr_bool,
    attr_str,
    bump,
    context,
    label,
    pick_evidence,
    relation_evidence,
)

__all__ = [
    "RETIRED_MODELS",
    "HubModelRemoteCode",
    "RetiredModelInUse",
    "UnpinnedAIPackage",
    "UnpinnedHubModel",
]

_COMMIT = re.compile(r"\A[0-9a-f]{40}\Z")
_REVISION_PIN = re.compile(r"""revision\s*[=:]\s*["']?([0-9a-fA-F]{40})\b""")
_REMOTE_CODE = re.compile(r"""trust_remote_code\s*[=:]\s*["']?true\b""", re.IGNORECASE)
_CODE_KINDS = frozenset({EvidenceKind.CODE, EvidenceKind.NOTEBOOK_CELL, EvidenceKind.CONFIG})
_HUB_SOURCES = frozenset({"hf-cache", "huggingface", "hub"})


def _is_hub_model(asset: Asset) -> bool:
    provider = (asset.provider or "").casefold()
    source = (attr_str(asset, "source") or "").casefold()
    return provider == "huggingface" or source in _HUB_SOURCES


def _load_sites(graph: EstateGraph, asset: Asset) -> list[Neighbour]:
    """Current ``uses_model`` relations from code (applications, notebooks, agents)."""
    return [
        n for n in graph.into(asset.id, RelationKind.USES_MODEL) if n.asset.kind in CONSUMER_KINDS
    ]


def _code_text(evidence: list[Evidence]) -> list[str]:
    return [
        text
        for ev in evidence
        if ev.kind in _CODE_KINDS
        for text in (ev.snippet, ev.detail)
        if isinstance(text, str)
    ]


class UnpinnedHubModel(Rule):
    """A Hub model that code downloads at whatever revision is current."""

    id: ClassVar[str] = "AIP-SUPPLY-001"
    title: ClassVar[str] = "Hub model loaded without a pinned revision"
    rationale: ClassVar[str] = (
        "from_pretrained('org/name') without revision= fetches whatever the repository's main "
        "branch holds when the cache is cold: a compromised or changed upload (new weights, "
        "a pickle, custom code) reaches every fresh deployment without review."
    )
    severity: ClassVar[Severity] = Severity.MEDIUM
    remediation: ClassVar[str] = (
        "Pass revision='<40-hex commit>' to every load (from_pretrained, snapshot_download, "
        "SentenceTransformer, pipeline), review upgrades deliberately, or mirror the model "
        "in an internal registry."
    )
    frameworks: ClassVar[tuple[str, ...]] = (
        "owasp-llm:LLM03",
        "owasp-llm:LLM04",
        "atlas:AML.T0010.003",
        "cwe:494",
        "nist-ai-rmf:MANAGE-3.2",
        "nist-ai-rmf:GOVERN-6.1",
    )
    kinds: ClassVar[frozenset[AssetKind]] = frozenset({AssetKind.MODEL})

    def evaluate(self, asset: Asset, graph: EstateGraph) -> Iterator[Finding]:
        """One finding for a Hub model loaded by code when no load site shows a
        ``revision=`` of 40 hex digits (and no ``revision_pinned`` attribute says so)."""
        if not _is_hub_model(asset):
            return
        sites = _load_sites(graph, asset)
        if not sites:
            return
        if attr_bool(asset, "revision_pinned") is True:
            return
        evidence = relation_evidence(sites)
        texts = _code_text([*evidence, *asset.evidence])
        if any(_REVISION_PIN.search(t) for t in texts):
            return
        ctx = context(graph, asset)
        severity = bump(self.severity) if ctx.exposed else self.severity
        users = ", ".join(sorted({label(n.asset) for n in sites})[:5])
        yield self.finding(
            asset,
            severity=severity,
            title=f"Hub model {asset.name} is loaded without a pinned revision",
            description=f"{self.rationale} Loaded by {users}."
            + (f" Context: {ctx.explain()}." if ctx.exposed else ""),
            evidence=pick_evidence(evidence, asset.evidence),
        )


class HubModelRemoteCode(Rule):
    """A model loaded with ``trust_remote_code=True``."""

    id: ClassVar[str] = "AIP-SUPPLY-004"
    title: ClassVar[str] = "Model loaded with trust_remote_code enabled"
    rationale: ClassVar[str] = (
        "trust_remote_code=True downloads and runs Python code from the model repository when "
        "the model loads: whoever can push to that repository runs code on this machine."
    )
    severity: ClassVar[Severity] = Severity.HIGH
    remediation: ClassVar[str] = (
        "Use a model supported natively by the library, or review the repository's code, pin "
        "the revision (revision='<commit>') and vendor the code instead of trusting it."
    )
    frameworks: ClassVar[tuple[str, ...]] = (
        "owasp-llm:LLM03",
        "atlas:AML.T0010.003",
        "atlas:AML.T0011.000",
        "cwe:494",
        "nist-ai-rmf:MANAGE-3.2",
    )
    kinds: ClassVar[frozenset[AssetKind]] = frozenset({AssetKind.MODEL})

    def evaluate(self, asset: Asset, graph: EstateGraph) -> Iterator[Finding]:
        """One finding when the evidence of a load site shows ``trust_remote_code=True``."""
        evidence = [*relation_evidence(_load_sites(graph, asset)), *asset.evidence]
        hits = [
            ev
            for ev in evidence
            if ev.kind in _CODE_KINDS
            and any(isinstance(t, str) and _REMOTE_CODE.search(t) for t in (ev.snippet, ev.detail))
        ]
        if not hits:
            return
        ctx = context(graph, asset)
        yield self.finding(
            asset,
            severity=bump(self.severity) if ctx.exposed else self.severity,
            title=f"Model {asset.name} is loaded with trust_remote_code=True",
            evidence=pick_evidence(hits),
        )


def _pinned_declarations(graph: EstateGraph) -> frozenset[tuple[str, str, str]]:
    """``(project id, ecosystem, name)`` of every exact-version package declaration."""
    out = set()
    for rel in graph.relations:
        if rel.kind is not RelationKind.DECLARED_IN or rel.stale:
            continue
        pkg = graph.assets.get(rel.source_id)
        if pkg is None or pkg.kind is not AssetKind.PACKAGE or not pkg.version or pkg.stale:
            continue
        out.add((rel.target_id, attr_str(pkg, "ecosystem") or "", pkg.name))
    return frozenset(out)


class UnpinnedAIPackage(Rule):
    """An AI package a project declares without an exact version."""

    id: ClassVar[str] = "AIP-SUPPLY-002"
    title: ClassVar[str] = "AI package declared without an exact version"
    rationale: ClassVar[str] = (
        "A range (>=1.0) or a bare name installs whatever release is newest at install time: "
        "a hijacked or broken release of an ML framework, LLM SDK or agent framework reaches "
        "the build unreviewed, and two installs of the same project can differ."
    )
    severity: ClassVar[Severity] = Severity.LOW
    remediation: ClassVar[str] = (
        "Pin exact versions (==1.2.3) in a lock file with hashes (pip-compile "
        "--generate-hashes, uv lock, poetry lock) and update them deliberately."
    )
    frameworks: ClassVar[tuple[str, ...]] = (
        "owasp-llm:LLM03",
        "atlas:AML.T0010.001",
        "cwe:1357",
        "nist-ai-rmf:MANAGE-3.1",
    )
    kinds: ClassVar[frozenset[AssetKind]] = frozenset({AssetKind.PACKAGE})

    def __init__(self) -> None:
        self._pinned = GraphMemo(_pinned_declarations)

    def evaluate(self, asset: Asset, graph: EstateGraph) -> Iterator[Finding]:
        """One finding for an unversioned package declared in a manifest of a project that
        pins it nowhere else (an import alone is not a declaration)."""
        if asset.version:
            return
        declared = any(ev.kind is EvidenceKind.MANIFEST for ev in asset.evidence) or bool(
            attr_str(asset, "specifier")
        )
        if not declared:
            return
        apps = [
            n
            for n in graph.out(asset.id, RelationKind.DECLARED_IN)
            if n.asset.kind in CONSUMER_KINDS
        ]
        pinned = self._pinned.get(graph)
        eco = attr_str(asset, "ecosystem") or ""
        loose = [n for n in apps if (n.asset.id, eco, asset.name) not in pinned]
        if apps and not loose:
            return
        ctx = context(graph, asset)
        spec = attr_str(asset, "specifier")
        where = ", ".join(sorted({label(n.asset) for n in loose})[:5])
        manifests = [ev for ev in asset.evidence if ev.kind is EvidenceKind.MANIFEST]
        yield self.finding(
            asset,
            severity=bump(self.severity) if ctx.exposed else self.severity,
            title=f"AI package {asset.name} is declared without an exact version"
            + (f" ({spec})" if spec else ""),
            description=self.rationale + (f" Declared by {where}." if where else ""),
            evidence=pick_evidence(manifests, relation_evidence(loose)),
        )


#: Models their provider has shut down: normalised id -> (shutdown date, replacement).
#: Sources: the providers' deprecation pages (OpenAI "Deprecations", Anthropic "Model
#: deprecations"). Only ids whose shutdown date was announced are listed.
RETIRED_MODELS: dict[str, tuple[date, str]] = {
    # OpenAI: GPT-3 base and InstructGPT models, first-generation embeddings (2024-01-04).
    **{
        m: (date(2024, 1, 4), "gpt-3.5-turbo-instruct")
        for m in (
            "text-davinci-003",
            "text-davinci-002",
            "text-davinci-001",
            "text-curie-001",
            "text-babbage-001",
            "text-ada-001",
            "code-davinci-002",
            "code-cushman-001",
        )
    },
    **{
        m: (date(2024, 1, 4), "text-embedding-3-small")
        for m in (
            "text-similarity-ada-001",
            "text-similarity-babbage-001",
            "text-similarity-curie-001",
            "text-similarity-davinci-001",
            "text-search-ada-doc-001",
            "text-search-ada-query-001",
            "text-search-davinci-doc-001",
            "text-search-davinci-query-001",
        )
    },
    "gpt-3.5-turbo-0301": (date(2024, 6, 13), "gpt-3.5-turbo"),
    "gpt-4-0314": (date(2024, 6, 13), "gpt-4o"),
    "gpt-4-32k-0314": (date(2024, 6, 13), "gpt-4o"),
    "gpt-3.5-turbo-0613": (date(2024, 9, 13), "gpt-3.5-turbo"),
    "gpt-3.5-turbo-16k-0613": (date(2024, 9, 13), "gpt-3.5-turbo"),
    "gpt-4-vision-preview": (date(2024, 12, 6), "gpt-4o"),
    "gpt-4-1106-vision-preview": (date(2024, 12, 6), "gpt-4o"),
    "gpt-4-32k": (date(2025, 6, 6), "gpt-4o"),
    "gpt-4-32k-0613": (date(2025, 6, 6), "gpt-4o"),
    "gpt-4.5-preview": (date(2025, 7, 14), "gpt-4.1"),
    "gpt-4.5-preview-2025-02-27": (date(2025, 7, 14), "gpt-4.1"),
    # Anthropic.
    **{
        m: (date(2024, 11, 6), "claude-haiku-4-5")
        for m in (
            "claude-1.0",
            "claude-1.1",
            "claude-1.2",
            "claude-1.3",
            "claude-instant-1.0",
            "claude-instant-1.1",
            "claude-instant-1.2",
        )
    },
    "claude-2.0": (date(2025, 7, 21), "claude-sonnet-4-5"),
    "claude-2.1": (date(2025, 7, 21), "claude-sonnet-4-5"),
    "claude-3-sonnet-20240229": (date(2025, 7, 21), "claude-sonnet-4-5"),
    "claude-3-5-sonnet-20240620": (date(2025, 10, 22), "claude-sonnet-4-5"),
    "claude-3-5-sonnet-20241022": (date(2025, 10, 22), "claude-sonnet-4-5"),
    "claude-3-opus-20240229": (date(2026, 1, 5), "claude-opus-4-1"),
    "claude-3-7-sonnet-20250219": (date(2026, 2, 19), "claude-sonnet-4-5"),
    "claude-3-5-haiku-20241022": (date(2026, 2, 19), "claude-haiku-4-5"),
}

_PREFIX = re.compile(r"\A(?:models/|openai/|anthropic/|azure/|openai:|anthropic:)", re.IGNORECASE)


def _model_key(name: str) -> str:
    return _PREFIX.sub("", name.strip()).casefold()


class RetiredModelInUse(Rule):
    """Code calls a model its provider has shut down (or announced a shutdown date for)."""

    id: ClassVar[str] = "AIP-SUPPLY-003"
    title: ClassVar[str] = "Deprecated or retired model in use"
    rationale: ClassVar[str] = (
        "A retired model no longer answers (requests fail) and a deprecated one gets no "
        "safety or security updates; a hurried switch to its replacement changes behaviour "
        "without the evaluation the original went through."
    )
    severity: ClassVar[Severity] = Severity.LOW
    remediation: ClassVar[str] = (
        "Move to the provider's recommended replacement, evaluate it on your own test set "
        "(quality, safety, refusals) and pin the new model id."
    )
    frameworks: ClassVar[tuple[str, ...]] = (
        "owasp-llm:LLM03",
        "owasp-llm:LLM09",
        "nist-ai-rmf:MANAGE-3.2",
        "nist-ai-rmf:GOVERN-1.7",
    )
    kinds: ClassVar[frozenset[AssetKind]] = frozenset({AssetKind.MODEL})

    def evaluate(self, asset: Asset, graph: EstateGraph) -> Iterator[Finding]:
        """One finding for a model in :data:`RETIRED_MODELS` that code uses: medium once
        the shutdown date has passed, low before it, one level more in production."""
        entry = RETIRED_MODELS.get(_model_key(asset.name))
        if entry is None:
            return
        sites = _load_sites(graph, asset)
        if not sites:
            return
        shutdown, replacement = entry
        retired = shutdown <= utcnow().date()
        severity = Severity.MEDIUM if retired else self.severity
        ctx = context(graph, asset)
        if ctx.exposed:
            severity = bump(severity)
        state = f"was shut down on {shutdown}" if retired else f"shuts down on {shutdown}"
        yield self.finding(
            asset,
            severity=severity,
            title=f"Model {asset.name} {state}; replacement: {replacement}",
            evidence=pick_evidence(relation_evidence(sites), asset.evidence),
        )
