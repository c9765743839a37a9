"""Builders for the assets scanners report, so every scanner names things alike.

Identity rules live here and only here: two scanners that see the same
model, service, package or project must build the same identity key, or the
inventory splits one asset in two. Each builder returns an
:class:`~aiposture.models.Asset` with one piece of evidence (or none); the
engine merges what several scanners report.
"""

from __future__ import annotations

import hashlib
import re
from urllib.parse import urlsplit

from aiposture.discovery.base import Target
from aiposture.discovery.catalog import PackageInfo, load_catalog
from aiposture.models import (
    Asset,
    AssetKind,
    Evidence,
    Finding,
    Relation,
    RelationKind,
    Severity,
    normalise_key,
)

__all__ = [
    "application",
    "credential",
    "endpoint",
    "exposed_credential_finding",
    "mcp_server",
    "model",
    "notebook",
    "package",
    "purl",
    "relate",
    "secret_fingerprint",
    "service",
]


def _ev(evidence: Evidence | None) -> list[Evidence]:
    return [evidence] if evidence is not None else []


def application(target: Target, evidence: Evidence | None = None) -> Asset:
    """The application (project folder) a file belongs to."""
    path = target.project_path
    return Asset.new(
        AssetKind.APPLICATION,
        target.project_name,
        key=normalise_key("app", path),
        locations=[path],
        attributes={"path": path},
        evidence=_ev(evidence),
    )


def notebook(target: Target, evidence: Evidence | None = None) -> Asset:
    """A Jupyter notebook file."""
    path = target.display_path
    name = target.path.name if target.path is not None else path
    return Asset.new(
        AssetKind.NOTEBOOK,
        name,
        key=normalise_key("notebook", path),
        locations=[path],
        attributes={"path": path},
        evidence=_ev(evidence),
    )


def service(provider_id: str, evidence: Evidence | None = None) -> Asset:
    """The hosted AI service of a provider from the catalogue (``openai`` -> OpenAI API)."""
    prov = load_catalog().provider(provider_id)
    return Asset.new(
        AssetKind.AI_SERVICE,
        prov.service or prov.name,
        key=normalise_key("service", provider_id),
        provider=provider_id,
        attributes={"vendor": prov.name, "hosts": list(prov.hosts)},
        evidence=_ev(evidence),
    )


def model(name: str, provider_id: str | None, evidence: Evidence | None = None) -> Asset:
    """A model by identifier (``gpt-4o``, ``org/name``); provider inferred when not given."""
    ident = name.strip()
    if provider_id is None:
        hit = load_catalog().provider_for_model(ident)
        if hit is not None:
            provider_id = hit.id
        elif re.fullmatch(r"[\w.-]+/[\w.-]+", ident):
            provider_id = "huggingface"
    return Asset.new(
        AssetKind.MODEL,
        ident,
        key=normalise_key("model", provider_id, ident),
        provider=provider_id,
        evidence=_ev(evidence),
    )


def purl(ecosystem: str, name: str, version: str | None) -> str:
    """Package URL (purl) of a package, as CycloneDX wants it."""
    base = (
        f"pkg:{ecosystem}/{name.replace('@', '%40')}"
        if ecosystem == "npm"
        else (f"pkg:{ecosystem}/{re.sub(r'[-_.]+', '-', name).lower()}")
    )
    return f"{base}@{version}" if version else base


def package(
    ecosystem: str,
    name: str,
    version: str | None,
    *,
    info: PackageInfo | None = None,
    specifier: str | None = None,
    evidence: Evidence | None = None,
) -> Asset:
    """An AI package (PyPI or npm).

    Identity is ecosystem, normalised name and exact version: each pinned
    version is its own asset (as in a BOM), and every sighting without an
    exact version (an import in code, a range such as ``>=1.0``) is the one
    unversioned asset of that package, with the range in ``specifier``.
    """
    norm = re.sub(r"[-_.]+", "-", name).lower() if ecosystem == "pypi" else name.lower()
    attrs: dict[str, object] = {"ecosystem": ecosystem}
    if specifier and not version:
        attrs["specifier"] = specifier
    if info is not None:
        attrs["category"] = info.category
    return Asset.new(
        AssetKind.PACKAGE,
        norm,
        key=normalise_key("package", ecosystem, norm, version or "*"),
        provider=info.provider if info is not None else None,
        version=version,
        attributes=attrs,
        evidence=_ev(evidence),
    )


def endpoint(url: str, provider_id: str | None, evidence: Evidence | None = None) -> Asset:
    """A custom AI endpoint (a base URL); userinfo, query and fragment are dropped."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    port = f":{parts.port}" if parts.port else ""
    clean = f"{parts.scheme.lower()}://{host}{port}{parts.path.rstrip('/')}"
    if provider_id is None:
        hit = load_catalog().provider_for_host(f"{host}{port}")
        provider_id = hit.id if hit is not None else None
    return Asset.new(
        AssetKind.ENDPOINT,
        clean,
        key=normalise_key("endpoint", clean),
        provider=provider_id,
        locations=[clean],
        attributes={"url": clean, "host": host},
        evidence=_ev(evidence),
    )


def mcp_server(
    name: str,
    *,
    scope: str,
    transport: str | None = None,
    command: str | None = None,
    url: str | None = None,
    evidence: Evidence | None = None,
) -> Asset:
    """An MCP server, identified by its name within ``scope`` (a project path or config file)."""
    attrs: dict[str, object] = {}
    if transport:
        attrs["transport"] = transport
    if command:
        attrs["command"] = command
    if url:
        attrs["url"] = url
    return Asset.new(
        AssetKind.MCP_SERVER,
        name,
        key=normalise_key("mcp", scope, name),
        attributes=attrs,
        evidence=_ev(evidence),
    )


def secret_fingerprint(secret: str) -> str:
    """A one-way fingerprint of a secret (never store the secret itself)."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()[:16]


def credential(
    secret_type: str,
    fingerprint: str,
    *,
    provider_id: str | None = None,
    evidence: Evidence | None = None,
) -> Asset:
    """A hard-coded credential, known only by type and fingerprint."""
    return Asset.new(
        AssetKind.CREDENTIAL,
        f"{secret_type} ({fingerprint[:8]})",
        key=normalise_key("credential", fingerprint),
        provider=provider_id,
        attributes={"secret_type": secret_type, "fingerprint": fingerprint},
        evidence=_ev(evidence),
    )


def exposed_credential_finding(
    cred: Asset,
    evidence: Evidence,
    *,
    in_output: bool = False,
) -> Finding:
    """The finding for a credential written into code, a notebook or its output."""
    where = f"{evidence.path}:{evidence.cell}:{evidence.line}"
    secret_type = cred.attributes.get("secret_type", "secret")
    if in_output:
        rule, title = "AIP-CRED-002", f"{secret_type} printed in a notebook output"
    else:
        rule, title = "AIP-CRED-001", f"Hard-coded {secret_type}"
    return Finding.new(
        cred.id,
        rule,
        title,
        Severity.HIGH,
        fingerprint=where,
        description=(
            "A live-looking credential is stored in plain text where anyone with read "
            "access to the file can use it. Revoke it, then load it from a secret store."
        ),
        evidence=[evidence],
    )


def relate(
    source: Asset, kind: RelationKind, target: Asset, evidence: Evidence | None = None
) -> Relation:
    """The relation ``source --kind--> target``."""
    return Relation.new(source.id, kind, target.id, evidence=_ev(evidence))
