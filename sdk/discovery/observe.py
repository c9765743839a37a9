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
    "catalogued_service",
    "credential",
    "endpoint",
    "exposed_credential_finding",
    "hub_dataset",
    "local_model",
    "mcp_server",
    "model",
    "model_file",
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
    package: str | None = None,
    evidence: Evidence | None = None,
) -> Asset:
    """An MCP server.

    Identity follows what the server is, so that the same server configured in several
    clients (or projects) is one asset with several pieces of evidence:

    * a remote server: its URL (scheme, host, port and path; no query or credentials);
    * a server launched from a registry package (``npx -y @scope/pkg@1.2``, ``uvx pkg``,
      a container image): the launcher's ecosystem and the package name without version;
    * anything else (a local script, a server defined in code): its name within ``scope``
      (a project path or configuration file).

    Args:
        name: The name the client gives it (the configuration key).
        scope: Project path or configuration file, for servers known only by name.
        transport: ``stdio``, ``http``, ``sse`` or ``streamable-http``.
        command: The executable launched, for stdio servers.
        url: The server's URL, for remote servers.
        package: ``ecosystem:name`` of the package launched (``npm:@scope/pkg``).
        evidence: Where it was seen.
    """
    attrs: dict[str, object] = {}
    if transport:
        attrs["transport"] = transport
    if command:
        attrs["command"] = command
    if package:
        attrs["package"] = package
    if url:
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").lower()
        port = f":{parts.port}" if parts.port else ""
        clean = f"{parts.scheme.lower()}://{host}{port}{parts.path.rstrip('/')}"
        attrs["url"] = clean
        key = normalise_key("mcp", "url", clean)
    elif package:
        key = normalise_key("mcp", "package", package)
    else:
        key = normalise_key("mcp", scope, name)
    return Asset.new(
        AssetKind.MCP_SERVER,
        name,
        key=key,
        attributes=attrs,
        evidence=_ev(evidence),
    )


def model_file(
    path: str,
    *,
    sha256: str,
    size: int,
    fmt: str,
    framework: str | None = None,
    evidence: Evidence | None = None,
) -> Asset:
    """A model artefact on disk, identified by its content (SHA-256).

    The same bytes found at several paths are one asset with several locations; a file
    rewritten in place is a new artefact (and the old one goes stale).

    Args:
        path: Where it was found (absolute).
        sha256: Hex digest of the whole file.
        size: Size in bytes.
        fmt: The format read from its bytes (``pickle``, ``pytorch-zip``, ``safetensors``,
            ``gguf``, ``onnx``, ...).
        framework: The framework that writes the format (``pytorch``, ``scikit-learn``...).
        evidence: Where it was seen.
    """
    attrs: dict[str, object] = {"sha256": sha256, "size": size, "format": fmt}
    if framework:
        attrs["framework"] = framework
    return Asset.new(
        AssetKind.MODEL_FILE,
        path.rsplit("/", 1)[-1] or path,
        key=normalise_key("model_file", sha256),
        locations=[path],
        attributes=attrs,
        evidence=_ev(evidence),
    )


def catalogued_service(service_id: str, evidence: Evidence | None = None) -> Asset:
    """An AI service from the service catalogue (``aiposture.discovery.services``).

    A service that is also a provider of the AI catalogue (an API that SDKs call) is the
    same asset as :func:`service` builds for it, so code that calls the OpenAI API and
    egress traffic to it meet in one asset.
    """
    from aiposture.discovery.services import load_services

    entry = load_services().get(service_id)
    if entry.provider is not None:
        base = service(entry.provider, evidence)
        attrs = {**base.attributes, "category": entry.category, "service_id": entry.id}
        return base.model_copy(update={"attributes": attrs})
    return Asset.new(
        AssetKind.AI_SERVICE,
        entry.name,
        key=normalise_key("service", entry.id),
        provider=entry.id,
        attributes={
            "vendor": entry.vendor,
            "category": entry.category,
            "service_id": entry.id,
            "domains": list(entry.domains),
        },
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


def local_model(folder: str, *, name: str | None = None, evidence: Evidence | None = None) -> Asset:
    """A model kept in a local folder (not a hub cache), identified by the folder.

    Args:
        folder: The model folder (absolute).
        name: Display name; the folder's name by default.
        evidence: Where it was seen.
    """
    path = folder.rstrip("/") or folder
    return Asset.new(
        AssetKind.MODEL,
        name or path.rsplit("/", 1)[-1] or path,
        key=normalise_key("model", "local", path),
        provider="local",
        locations=[path],
        attributes={"path": path},
        evidence=_ev(evidence),
    )


def hub_dataset(repo_id: str, evidence: Evidence | None = None) -> Asset:
    """A dataset on the Hugging Face Hub (``org/name``, or a legacy bare name)."""
    ident = repo_id.strip()
    return Asset.new(
        AssetKind.DATASET,
        ident,
        key=normalise_key("dataset", "huggingface", ident),
        provider="huggingface",
        evidence=_ev(evidence),
    )
