"""Exposure rules: who can reach a model, over what, and with which protections.

An endpoint or service counts as *operated by the organisation* (and its protections as
the organisation's job) unless its host belongs to a catalogued AI vendor (api.openai.com,
a service of the AI service catalogue); an AI service counts only with the tag
``self-hosted``. It is *public* when tagged ``public`` or ``internet-facing`` or when its
host is a public name or address (not loopback, private, single-label or ``.internal``).
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from typing import ClassVar

from aiposture.models import Asset, AssetKind, Finding, RelationKind, Severity
from aiposture.risk.base import Rule
from aiposture.risk.graph import EstateGraph
from aiposture.risk.rules._common import (
    CONFIDENTIAL,
    CONSUMER_KINDS,
    attr_bool,
    attr_list,
    attr_str,
    bump,
    cap,
    context,
    has_control,
    has_tag,
    is_loopback_host,
    is_public_host,
    label,
    pick_evidence,
    relation_evidence,
    sensitivity_rank,
    split_url,
)

__all__ = [
    "CustomerFacingWithoutGuardrail",
    "PlaintextAIEndpoint",
    "PublicEndpointWithoutAuthentication",
    "PublicEndpointWithoutRateLimit",
]

_SERVING = frozenset({AssetKind.ENDPOINT, AssetKind.AI_SERVICE})
#: Providers that run on the user's own machines (their hosts are not a vendor's).
_LOCAL_PROVIDERS = frozenset({"ollama", "local"})
_NO = frozenset({"", "none", "no", "false", "off", "disabled", "anonymous"})


def endpoints_of(asset: Asset) -> list[tuple[str, str]]:
    """``(scheme, host)`` of every URL or host the asset records."""
    out: list[tuple[str, str]] = []
    for key in ("url", "urls", "base_url", "endpoint"):
        for url in attr_list(asset, key):
            scheme, host = split_url(url)
            if host:
                out.append((scheme, host))
    for key in ("host", "hosts"):
        for host in attr_list(asset, key):
            h = host.strip().lower()
            if "://" in h:
                scheme, h = split_url(h)
                out.append((scheme, h))
            elif h:
                out.append(("", h.split(":", 1)[0] if h.count(":") == 1 else h))
    if asset.kind is AssetKind.ENDPOINT:
        for loc in asset.locations:
            scheme, host = split_url(loc)
            if host:
                out.append((scheme, host))
    return list(dict.fromkeys(out))


@lru_cache(maxsize=4096)
def _vendor_host(host: str) -> bool:
    """A host of a catalogued AI vendor's API or service."""
    from aiposture.discovery.catalog import load_catalog
    from aiposture.discovery.services import load_services

    try:
        prov = load_catalog().provider_for_host(host)
        if prov is not None and prov.id not in _LOCAL_PROVIDERS:
            return True
        return load_services().match(host) is not None
    except Exception:  # a broken catalogue must not stop the rule
        return False


def operated_here(asset: Asset) -> bool:
    """Whether the organisation runs it (not a vendor's API)."""
    if has_tag(asset, "self-hosted") or attr_bool(asset, "self_hosted") is True:
        return True
    if asset.kind is not AssetKind.ENDPOINT:
        return False
    hosts = [h for _, h in endpoints_of(asset) if h]
    return bool(hosts) and not all(_vendor_host(h) for h in hosts)


def is_public(asset: Asset) -> bool:
    """Reachable from the internet, by tag, attribute or host."""
    if has_tag(asset, "public", "internet-facing") or attr_bool(asset, "public") is True:
        return True
    if (attr_str(asset, "exposure") or "").casefold() in {"public", "internet"}:
        return True
    return any(is_public_host(h) for _, h in endpoints_of(asset))


def _flag(asset: Asset, *keys: str) -> bool:
    for key in keys:
        b = attr_bool(asset, key)
        if b is not None:
            if b:
                return True
            continue
        s = attr_str(asset, key)
        if s is not None and s.casefold() not in _NO:
            return True
    return False


def authenticated(asset: Asset) -> bool:
    """An authentication control recorded on it."""
    return has_control(asset, "authentication") or _flag(
        asset, "authentication", "auth", "auth_required"
    )


def rate_limited(asset: Asset) -> bool:
    """A rate limit recorded on it."""
    return has_control(asset, "rate-limit") or _flag(asset, "rate_limit", "rate_limited")


def served_models(graph: EstateGraph, asset: Asset) -> list[Asset]:
    """Models it serves."""
    return [n.asset for n in graph.out(asset.id, RelationKind.SERVES)]


def served_sensitivity(graph: EstateGraph, asset: Asset) -> int:
    """Highest sensitivity of it, the models it serves and their training data."""
    rank = sensitivity_rank(asset)
    for m in served_models(graph, asset):
        rank = max(rank, sensitivity_rank(m))
        for d in graph.out(m.id, RelationKind.TRAINED_ON):
            rank = max(rank, sensitivity_rank(d.asset))
    return rank


def _in_house(graph: EstateGraph, model: Asset) -> bool:
    """A model the organisation built: local, trained on its data, or fine-tuned."""
    if (model.provider or "").casefold() == "local":
        return True
    return bool(graph.out(model.id, RelationKind.TRAINED_ON, RelationKind.DERIVED_FROM))


def _exposed_endpoint(asset: Asset) -> bool:
    return operated_here(asset) and is_public(asset)


class PublicEndpointWithoutAuthentication(Rule):
    """A model endpoint the organisation runs, open to the internet without authentication."""

    id: ClassVar[str] = "AIP-EXPOSE-001"
    title: ClassVar[str] = "Public model endpoint without authentication"
    rationale: ClassVar[str] = (
        "Anyone on the internet can query the model: extract a copy of it through its "
        "answers, probe it for memorised training data, run up compute costs, or use it for "
        "their own ends. Self-hosted inference servers (Ollama, vLLM, TGI) accept anonymous "
        "requests by default."
    )
    severity: ClassVar[Severity] = Severity.HIGH
    remediation: ClassVar[str] = (
        "Put the endpoint behind authentication (an API gateway with keys or OAuth, mTLS) "
        "or take it off the public network, then record the control (tag "
        "control:authentication)."
    )
    frameworks: ClassVar[tuple[str, ...]] = (
        "owasp-llm:LLM10",
        "owasp-llm:LLM02",
        "atlas:AML.T0040",
        "atlas:AML.T0024.002",
        "cwe:306",
        "nist-ai-rmf:MEASURE-2.7",
    )
    kinds: ClassVar[frozenset[AssetKind]] = _SERVING

    def evaluate(self, asset: Asset, graph: EstateGraph) -> Iterator[Finding]:
        """One finding for a public, self-operated endpoint with no authentication control;
        critical when it serves confidential or restricted data."""
        if not _exposed_endpoint(asset) or authenticated(asset):
            return
        sensitive = served_sensitivity(graph, asset) >= CONFIDENTIAL
        yield self.finding(
            asset,
            severity=Severity.CRITICAL if sensitive else self.severity,
            title=f"{cap(label(asset))} is public without authentication",
            description=self.rationale
            + (" It serves a model holding confidential or restricted data." if sensitive else ""),
            evidence=pick_evidence(asset.evidence),
        )


class PublicEndpointWithoutRateLimit(Rule):
    """A public, self-operated model endpoint without a rate limit."""

    id: ClassVar[str] = "AIP-EXPOSE-002"
    title: ClassVar[str] = "Public model endpoint without a rate limit"
    rationale: ClassVar[str] = (
        "Without a rate limit a single client can send the millions of queries that model "
        "extraction, membership inference and denial-of-wallet attacks need, and nobody "
        "notices until the bill arrives."
    )
    severity: ClassVar[Severity] = Severity.MEDIUM
    remediation: ClassVar[str] = (
        "Enforce per-client rate and token quotas at the gateway, alert on unusual volumes, "
        "and record the control (tag control:rate-limit)."
    )
    frameworks: ClassVar[tuple[str, ...]] = (
        "owasp-llm:LLM10",
        "atlas:AML.T0024.002",
        "atlas:AML.T0034",
        "atlas:AML.T0029",
        "cwe:770",
        "nist-ai-rmf:MEASURE-2.7",
    )
    kinds: ClassVar[frozenset[AssetKind]] = _SERVING

    def evaluate(self, asset: Asset, graph: EstateGraph) -> Iterator[Finding]:
        """One finding for a public, self-operated endpoint with no rate-limit control; high
        when it serves an in-house model (worth stealing) or sensitive data."""
        if not _exposed_endpoint(asset) or rate_limited(asset):
            return
        models = served_models(graph, asset)
        valuable = any(_in_house(graph, m) for m in models)
        sensitive = served_sensitivity(graph, asset) >= CONFIDENTIAL
        yield self.finding(
            asset,
            severity=bump(self.severity) if (valuable or sensitive) else self.severity,
            title=f"{cap(label(asset))} is public without a rate limit",
            evidence=pick_evidence(asset.evidence),
        )


class PlaintextAIEndpoint(Rule):
    """Prompts, answers and keys sent to an AI endpoint over unencrypted HTTP."""

    id: ClassVar[str] = "AIP-EXPOSE-003"
    title: ClassVar[str] = "AI endpoint reached over plaintext HTTP"
    rationale: ClassVar[str] = (
        "Requests to the endpoint travel unencrypted: the prompts and the data in them, the "
        "model's answers and the API key in the headers can be read and changed by anyone "
        "on the network path."
    )
    severity: ClassVar[Severity] = Severity.MEDIUM
    remediation: ClassVar[str] = (
        "Use https:// (TLS) for the endpoint, or keep the traffic on loopback; rotate any "
        "key that was sent in clear."
    )
    frameworks: ClassVar[tuple[str, ...]] = (
        "owasp-llm:LLM02",
        "cwe:319",
        "nist-ai-rmf:MEASURE-2.7",
    )
    kinds: ClassVar[frozenset[AssetKind]] = frozenset({AssetKind.ENDPOINT})

    def evaluate(self, asset: Asset, graph: EstateGraph) -> Iterator[Finding]:
        """One finding for an ``http://`` (or ``ws://``) endpoint off loopback: low on a
        private network, medium on a public host, one level more when its callers are in
        production, customer-facing, critical or handle confidential data."""
        plain = [
            h for s, h in endpoints_of(asset) if s in ("http", "ws") and not is_loopback_host(h)
        ]
        if not plain:
            return
        severity = self.severity if any(is_public_host(h) for h in plain) else Severity.LOW
        callers = [
            n
            for n in graph.into(asset.id, RelationKind.CALLS_SERVICE)
            if n.asset.kind in CONSUMER_KINDS
        ]
        ctx = context(graph, asset)
        if ctx.exposed or ctx.sensitive:
            severity = bump(severity)
        yield self.finding(
            asset,
            severity=severity,
            title=f"AI endpoint {asset.name} is reached over plaintext HTTP",
            description=self.rationale + (f" Context: {ctx.explain()}." if ctx.why else ""),
            evidence=pick_evidence(relation_evidence(callers), asset.evidence),
        )


_LLM_TARGETS = frozenset({AssetKind.MODEL, AssetKind.AI_SERVICE, AssetKind.ENDPOINT})


class CustomerFacingWithoutGuardrail(Rule):
    """A customer-facing AI application with no input guardrail or output monitoring."""

    id: ClassVar[str] = "AIP-EXPOSE-004"
    title: ClassVar[str] = "Customer-facing AI application without guardrail or output monitoring"
    rationale: ClassVar[str] = (
        "Customers' text reaches the model unfiltered and its answers reach customers "
        "unchecked: prompt injection can override the instructions, leak the system prompt "
        "or data, and wrong or harmful answers go out under the company's name."
    )
    severity: ClassVar[Severity] = Severity.LOW
    remediation: ClassVar[str] = (
        "Add an input guardrail (prompt-injection and policy filter) and monitor outputs "
        "(leakage, toxicity, unsafe links) before they reach users; record them as "
        "control:guardrail and control:output-monitoring."
    )
    frameworks: ClassVar[tuple[str, ...]] = (
        "owasp-llm:LLM01",
        "owasp-llm:LLM05",
        "owasp-llm:LLM07",
        "owasp-llm:LLM09",
        "atlas:AML.T0051",
        "nist-ai-rmf:MEASURE-2.4",
        "nist-ai-rmf:MANAGE-4.1",
    )
    kinds: ClassVar[frozenset[AssetKind]] = frozenset({AssetKind.APPLICATION, AssetKind.AGENT})

    def evaluate(self, asset: Asset, graph: EstateGraph) -> Iterator[Finding]:
        """One finding for a ``customer-facing`` application or agent using a model or AI
        service when a guardrail or output monitoring is missing (on it and on what it
        uses): low for one missing, medium for both, one level more when it handles
        confidential data or can act through tools."""
        if not has_tag(asset, "customer-facing"):
            return
        used = [
            n
            for n in graph.out(asset.id, RelationKind.USES_MODEL, RelationKind.CALLS_SERVICE)
            if n.asset.kind in _LLM_TARGETS
        ]
        if not used:
            return
        holders = [asset, *(n.asset for n in used)]
        missing = [
            c
            for c in ("guardrail", "output-monitoring")
            if not any(has_control(a, c) for a in holders)
        ]
        if not missing:
            return
        severity = self.severity if len(missing) == 1 else bump(self.severity)
        acts = (
            asset.kind is AssetKind.AGENT
            or bool(attr_list(asset, "tools"))
            or bool(graph.out(asset.id, RelationKind.EXPOSES_TOOL))
            or any(
                n.asset.kind is AssetKind.MCP_SERVER
                for n in graph.out(asset.id, RelationKind.CALLS_SERVICE)
            )
        )
        if sensitivity_rank(asset) >= CONFIDENTIAL or acts:
            severity = bump(severity)
        yield self.finding(
            asset,
            severity=severity,
            title=f"Customer-facing {label(asset)} has no {' or '.join(missing)}",
            evidence=pick_evidence(relation_evidence(used), asset.evidence),
        )
