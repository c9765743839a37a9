"""MCP server rules: graph-aware escalations of what the MCP configuration scanner finds.

The scanner reports each configuration problem where it is written (``AIP-MCP-001`` a
secret in the file, ``AIP-MCP-002`` an unpinned package, ``AIP-MCP-003`` a remote server
without authentication or over plain HTTP), one finding per file and key. Those findings
are kept as they are (the rules do not re-emit them: their fingerprints name the file and
key, which the rules cannot know for servers seen elsewhere). The rules here say how much
each problem matters, from who uses the server: an application in production, a
customer-facing or critical one, or one handling confidential data.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from aiposture.models import Asset, AssetKind, Finding, RelationKind, Severity
from aiposture.risk.base import Rule
from aiposture.risk.graph import EstateGraph, Neighbour
from aiposture.risk.rules._common import (
    attr_bool,
    attr_list,
    attr_str,
    context,
    has_control,
    is_loopback_host,
    pick_evidence,
    relation_evidence,
    split_url,
    words,
)
from aiposture.risk.rules.credentials import exposure_open

__all__ = [
    "McpSecretInSensitiveUse",
    "UnauthenticatedRemoteMcpInSensitiveUse",
    "UnpinnedMcpInSensitiveUse",
]

_MCP = frozenset({AssetKind.MCP_SERVER})
_AUTH_HEADER_WORDS = frozenset(
    {"authorization", "auth", "token", "key", "apikey", "bearer", "cookie", "secret"}
)


def plaintext_secrets(graph: EstateGraph, server: Asset) -> list[Neighbour]:
    """Credentials written into the server's configuration whose exposure is still open."""
    return [
        n
        for n in graph.into(server.id, RelationKind.DECLARED_IN)
        if n.asset.kind is AssetKind.CREDENTIAL and exposure_open(graph, n.asset)
    ]


def _users(graph: EstateGraph, server: Asset) -> list[Neighbour]:
    return graph.into(server.id, RelationKind.CALLS_SERVICE)


class McpSecretInSensitiveUse(Rule):
    """An MCP server configured with a plaintext secret, used where it matters."""

    id: ClassVar[str] = "AIP-MCP-004"
    title: ClassVar[str] = (
        "MCP server with a plaintext secret used by a production or sensitive app"
    )
    rationale: ClassVar[str] = (
        "The server's configuration holds a secret in plain text (AIP-MCP-001), and the "
        "server serves an application that runs in production, faces customers, is critical "
        "or handles confidential data: the leaked token opens what that application's tools "
        "can reach."
    )
    severity: ClassVar[Severity] = Severity.HIGH
    remediation: ClassVar[str] = (
        "Revoke the secret, issue one scoped to the tools this server needs, and pass it "
        "through an input or environment variable or the client's secret store."
    )
    frameworks: ClassVar[tuple[str, ...]] = (
        "owasp-llm:LLM02",
        "owasp-llm:LLM06",
        "atlas:AML.T0055",
        "cwe:798",
        "nist-ai-rmf:MEASURE-2.7",
    )
    kinds: ClassVar[frozenset[AssetKind]] = _MCP

    def evaluate(self, asset: Asset, graph: EstateGraph) -> Iterator[Finding]:
        """One finding when a credential is declared in the server and a user of the server
        is in production or sensitive (high); critical when customer-facing or critical."""
        creds = plaintext_secrets(graph, asset)
        if not creds:
            return
        ctx = context(graph, asset)
        if not (ctx.exposed or ctx.sensitive):
            return
        yield self.finding(
            asset,
            severity=Severity.CRITICAL if (ctx.customer_facing or ctx.critical) else self.severity,
            title=f"MCP server '{asset.name}' holds a plaintext secret and serves a "
            "production or sensitive application",
            description=f"{self.rationale} Context: {ctx.explain()}.",
            evidence=pick_evidence(relation_evidence(creds), asset.evidence),
        )


class UnpinnedMcpInSensitiveUse(Rule):
    """An MCP server launched from an unpinned package, used where it matters."""

    id: ClassVar[str] = "AIP-MCP-005"
    title: ClassVar[str] = "Unpinned MCP server package used by a production or sensitive app"
    rationale: ClassVar[str] = (
        "The server is launched from a registry package at whatever version is current "
        "(AIP-MCP-002), and an application in production, facing customers, critical or "
        "handling confidential data depends on it: a hijacked release runs with that "
        "application's data and tokens."
    )
    severity: ClassVar[Severity] = Severity.HIGH
    remediation: ClassVar[str] = (
        "Pin the package to an exact version (or an image digest), review upgrades, and "
        "prefer servers published by the vendor of the system they access."
    )
    frameworks: ClassVar[tuple[str, ...]] = (
        "owasp-llm:LLM03",
        "atlas:AML.T0010.001",
        "cwe:1357",
        "cwe:829",
        "nist-ai-rmf:MANAGE-3.1",
    )
    kinds: ClassVar[frozenset[AssetKind]] = _MCP

    def evaluate(self, asset: Asset, graph: EstateGraph) -> Iterator[Finding]:
        """One finding when ``pinned`` is false and a user is in production or sensitive;
        critical when the server also holds a plaintext secret."""
        if attr_bool(asset, "pinned") is not False:
            return
        ctx = context(graph, asset)
        if not (ctx.exposed or ctx.sensitive):
            return
        secrets = plaintext_secrets(graph, asset)
        specs = ", ".join(attr_list(asset, "package_specs")[:3]) or attr_str(asset, "package")
        yield self.finding(
            asset,
            severity=Severity.CRITICAL if secrets else self.severity,
            title=f"MCP server '{asset.name}' runs an unpinned package"
            + (f" ({specs})" if specs else "")
            + " for a production or sensitive application",
            description=f"{self.rationale} Context: {ctx.explain()}."
            + (" The server is also given a plaintext secret." if secrets else ""),
            evidence=pick_evidence(asset.evidence, relation_evidence(_users(graph, asset))),
        )


def _remote_url(asset: Asset) -> str | None:
    url = attr_str(asset, "url")
    if url is None:
        return None
    scheme, host = split_url(url)
    if scheme not in ("http", "https", "ws", "wss") or not host or is_loopback_host(host):
        return None
    return url


def _auth_configured(asset: Asset) -> bool:
    if has_control(asset, "authentication"):
        return True
    return any(_AUTH_HEADER_WORDS.intersection(words(h)) for h in attr_list(asset, "headers"))


class UnauthenticatedRemoteMcpInSensitiveUse(Rule):
    """A remote MCP server without authentication, used where it matters."""

    id: ClassVar[str] = "AIP-MCP-006"
    title: ClassVar[str] = (
        "Remote MCP server without authentication used by a production or sensitive app"
    )
    rationale: ClassVar[str] = (
        "The client reaches a remote MCP server without any credential (AIP-MCP-003): if the "
        "server accepts that, anyone who can reach it can call its tools or impersonate it, "
        "and an application in production, facing customers, critical or handling "
        "confidential data trusts what it returns."
    )
    severity: ClassVar[Severity] = Severity.HIGH
    remediation: ClassVar[str] = (
        "Require OAuth or a token on the server and send it from an input or environment "
        "variable; record control:authentication when authentication is negotiated by the "
        "client."
    )
    frameworks: ClassVar[tuple[str, ...]] = (
        "owasp-llm:LLM06",
        "owasp-llm:LLM01",
        "atlas:AML.T0053",
        "cwe:306",
        "nist-ai-rmf:MEASURE-2.7",
    )
    kinds: ClassVar[frozenset[AssetKind]] = _MCP

    def evaluate(self, asset: Asset, graph: EstateGraph) -> Iterator[Finding]:
        """One finding for a remote server with an open "no authentication" finding from
        the scanner, no authentication control or auth header, and a user in production or
        sensitive; critical when customer-facing or critical, or when its tools write or
        execute."""
        url = _remote_url(asset)
        if url is None or _auth_configured(asset):
            return
        no_auth = [
            f
            for f in graph.findings_for(asset.id)
            if f.rule_id == "AIP-MCP-003" and f.fingerprint.endswith("|no-auth")
        ]
        if not no_auth:
            return
        ctx = context(graph, asset)
        if not (ctx.exposed or ctx.sensitive):
            return
        from aiposture.risk.rules.agents import capabilities

        caps = capabilities(asset)
        worst = ctx.customer_facing or ctx.critical or "execute" in caps or "write" in caps
        yield self.finding(
            asset,
            severity=Severity.CRITICAL if worst else self.severity,
            title=f"Remote MCP server '{asset.name}' has no authentication and serves a "
            "production or sensitive application",
            description=f"{self.rationale} Server: {url}. Context: {ctx.explain()}.",
            evidence=pick_evidence(asset.evidence, *(f.evidence for f in no_auth)),
        )
