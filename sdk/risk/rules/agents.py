"""Agent rules: what agents and MCP servers can do, and whether a human approves it.

What a tool can do is read from its name (``send_email``, ``run_shell``, ``delete_file``)
and, for MCP servers launched from a registry package, from the package name
(``@modelcontextprotocol/server-filesystem`` writes files, ``desktop-commander`` runs
commands). An approval step is recorded as the tag ``control:approval``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from aiposture.models import Asset, AssetKind, Finding, RelationKind, Severity
from aiposture.risk.base import Rule
from aiposture.risk.graph import EstateGraph
from aiposture.risk.rules._common import (
    CONFIDENTIAL,
    RESTRICTED,
    attr_list,
    attr_str,
    bump,
    cap,
    context,
    has_control,
    label,
    pick_evidence,
    sensitivity_rank,
    words,
)

__all__ = ["AgentExfiltrationPath", "ExcessiveAgencyWithoutApproval", "capabilities"]

_EXECUTE = frozenset(
    {
        "exec",
        "execute",
        "shell",
        "bash",
        "zsh",
        "sh",
        "powershell",
        "pwsh",
        "cmd",
        "command",
        "commands",
        "commander",
        "terminal",
        "subprocess",
        "eval",
        "repl",
        "interpreter",
        "spawn",
    }
)
_RUNNABLE = frozenset({"code", "python", "script", "javascript", "js", "program", "notebook"})
_WRITE = frozenset(
    {
        "write",
        "delete",
        "remove",
        "rm",
        "drop",
        "truncate",
        "update",
        "create",
        "insert",
        "put",
        "patch",
        "modify",
        "edit",
        "move",
        "rename",
        "commit",
        "push",
        "merge",
        "deploy",
        "kill",
        "terminate",
        "destroy",
        "overwrite",
        "append",
        "transfer",
        "pay",
        "payment",
        "refund",
        "approve",
        "grant",
        "revoke",
        "chmod",
        "chown",
        "mkdir",
        "rmdir",
        "filesystem",
        "github",
        "gitlab",
        "jira",
        "kubernetes",
        "kubectl",
        "terraform",
        "docker",
    }
)
_SEND = frozenset(
    {
        "send",
        "smtp",
        "sms",
        "post",
        "publish",
        "notify",
        "tweet",
        "slack",
        "discord",
        "teams",
        "webhook",
        "share",
        "forward",
        "reply",
        "upload",
    }
)
#: Tools that bring outside content in (indirect prompt injection) or reach any URL.
_EXTERNAL = frozenset(
    {
        "fetch",
        "browse",
        "browser",
        "web",
        "search",
        "scrape",
        "crawl",
        "download",
        "url",
        "http",
        "https",
        "request",
        "puppeteer",
        "playwright",
        "rss",
        "inbox",
    }
)
_MAIL = frozenset({"email", "mail", "gmail", "outlook", "message", "messages"})
_READING = frozenset({"read", "get", "list", "search", "fetch", "receive"})


def _classify(name: str, caps: dict[str, list[str]]) -> None:
    w = set(words(name))
    if w & _EXECUTE or ("run" in w and w & _RUNNABLE):
        caps.setdefault("execute", []).append(name)
    if w & _WRITE:
        caps.setdefault("write", []).append(name)
    if w & _SEND or (w & _MAIL and not w & _READING):
        caps.setdefault("send", []).append(name)
    if w & _EXTERNAL or (w & _MAIL and w & _READING):
        caps.setdefault("external", []).append(name)


def capabilities(asset: Asset) -> dict[str, list[str]]:
    """What an agent's or MCP server's own tools can do, by capability.

    Capabilities: ``execute`` (run commands or code), ``write`` (change or delete data or
    systems), ``send`` (send messages or data out), ``external`` (read outside content or
    reach any URL). Sources: the ``tools`` attribute, and the package an MCP server is
    launched from.
    """
    caps: dict[str, list[str]] = {}
    for tool in attr_list(asset, "tools"):
        _classify(tool, caps)
    if asset.kind is AssetKind.MCP_SERVER:
        pkgs = [attr_str(asset, "package") or "", *attr_list(asset, "package_specs")]
        for pkg in dict.fromkeys(p for p in pkgs if p):
            name = pkg.split(":", 1)[-1]
            _classify(name, caps)
    return {k: list(dict.fromkeys(v)) for k, v in caps.items()}


def _merge(into: dict[str, list[str]], other: dict[str, list[str]], prefix: str) -> None:
    for kind, names in other.items():
        into.setdefault(kind, []).extend(f"{prefix}{n}" for n in names)


def reach(graph: EstateGraph, asset: Asset) -> tuple[dict[str, list[str]], list[Asset]]:
    """Capabilities of an agent (or an application driving tools): its own tools, the tools
    it exposes, and the MCP servers it calls that have no approval step of their own."""
    caps = capabilities(asset)
    servers: list[Asset] = []
    for n in graph.out(asset.id, RelationKind.EXPOSES_TOOL):
        _classify(n.asset.name, caps)
    for n in graph.out(asset.id, RelationKind.CALLS_SERVICE):
        if n.asset.kind is AssetKind.MCP_SERVER and not has_control(n.asset, "approval"):
            servers.append(n.asset)
            _merge(caps, capabilities(n.asset), f"{n.asset.name}: ")
    return caps, servers


class ExcessiveAgencyWithoutApproval(Rule):
    """Tools that change things or run code, with no human approval step."""

    id: ClassVar[str] = "AIP-AGENT-001"
    title: ClassVar[str] = "Agent tools that write or execute without an approval step"
    rationale: ClassVar[str] = (
        "The model decides on its own when to call tools that run commands, change or delete "
        "data, or send messages. A prompt injected through any input (a web page, an e-mail, "
        "a document, a tool result) can make it do so with the agent's rights."
    )
    severity: ClassVar[Severity] = Severity.MEDIUM
    remediation: ClassVar[str] = (
        "Require a human to approve each write, execute or send action (or allow-list the "
        "harmless ones), give the tools least privilege and a sandbox, and record the "
        "control (tag control:approval)."
    )
    frameworks: ClassVar[tuple[str, ...]] = (
        "owasp-llm:LLM06",
        "owasp-llm:LLM01",
        "atlas:AML.T0053",
        "atlas:AML.T0101",
        "nist-ai-rmf:MAP-3.5",
        "nist-ai-rmf:GOVERN-3.2",
    )
    kinds: ClassVar[frozenset[AssetKind]] = frozenset({AssetKind.AGENT, AssetKind.MCP_SERVER})

    def evaluate(self, asset: Asset, graph: EstateGraph) -> Iterator[Finding]:
        """One finding when the asset's tools (an agent's also through the MCP servers it
        calls) can write, send or execute and no approval is recorded: medium, high for
        execution, one level more in production, customer-facing or critical use."""
        if has_control(asset, "approval"):
            return
        if asset.kind is AssetKind.AGENT:
            caps, _ = reach(graph, asset)
        else:
            caps = capabilities(asset)
        acting = {k: v for k, v in caps.items() if k in ("execute", "write", "send")}
        if not acting:
            return
        severity = bump(self.severity) if "execute" in acting else self.severity
        ctx = context(graph, asset)
        if ctx.exposed:
            severity = bump(severity)
        shown = sorted({n for names in acting.values() for n in names})
        listed = ", ".join(shown[:8]) + (f" and {len(shown) - 8} more" if len(shown) > 8 else "")
        yield self.finding(
            asset,
            severity=severity,
            title=f"{cap(label(asset))} can {'/'.join(sorted(acting))} without an approval step",
            description=f"{self.rationale} Tools: {listed}."
            + (f" Context: {ctx.explain()}." if ctx.exposed else ""),
            evidence=pick_evidence(asset.evidence),
        )


class AgentExfiltrationPath(Rule):
    """Sensitive data, untrusted input and a way out, in one agent."""

    id: ClassVar[str] = "AIP-AGENT-002"
    title: ClassVar[str] = "Agent combines sensitive data, untrusted input and an outbound channel"
    rationale: ClassVar[str] = (
        "The agent can read confidential data, takes in content an attacker can write "
        "(customer messages, web pages, e-mails) and has a tool that sends data out (a "
        "message, a request, a URL). One injected instruction is enough to make it send "
        "the data to the attacker."
    )
    severity: ClassVar[Severity] = Severity.HIGH
    remediation: ClassVar[str] = (
        "Break one leg: remove the outbound tool or restrict it to fixed destinations, keep "
        "untrusted content away from the agent that holds the data, or require approval for "
        "every outbound action (tag control:approval)."
    )
    frameworks: ClassVar[tuple[str, ...]] = (
        "owasp-llm:LLM01",
        "owasp-llm:LLM02",
        "owasp-llm:LLM06",
        "atlas:AML.T0051.001",
        "atlas:AML.T0086",
        "nist-ai-rmf:MEASURE-2.7",
    )
    kinds: ClassVar[frozenset[AssetKind]] = frozenset({AssetKind.AGENT, AssetKind.APPLICATION})

    def evaluate(self, asset: Asset, graph: EstateGraph) -> Iterator[Finding]:
        """One finding when the agent (or an application driving MCP tools) handles
        confidential data, is customer-facing or has a tool reading outside content, and
        has a tool that sends data out, with no approval; critical for restricted data."""
        if has_control(asset, "approval"):
            return
        caps, servers = reach(graph, asset)
        if asset.kind is AssetKind.APPLICATION and not servers:
            return
        ctx = context(graph, asset, extra=servers)
        rank = max([ctx.sensitivity, *(sensitivity_rank(s) for s in servers)])
        outbound = caps.get("send", []) + [
            n for n in caps.get("external", []) if n not in caps.get("send", [])
        ]
        untrusted = ctx.customer_facing or bool(caps.get("external"))
        if rank < CONFIDENTIAL or not outbound or not untrusted:
            return
        source = "customer-facing" if ctx.customer_facing else "reads outside content"
        yield self.finding(
            asset,
            severity=Severity.CRITICAL if rank >= RESTRICTED else self.severity,
            title=f"{cap(label(asset))} holds sensitive data, {source} and can send data out",
            description=f"{self.rationale} Outbound tools: {', '.join(sorted(outbound)[:6])}. "
            f"Context: {ctx.explain()}.",
            evidence=pick_evidence(asset.evidence, *(s.evidence for s in servers)),
        )
