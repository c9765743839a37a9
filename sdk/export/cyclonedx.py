"""Export the inventory as a CycloneDX 1.6 AI-BOM (JSON).

The BOM is meant to be shared: loaded into Dependency-Track or any other
CycloneDX tool, handed to auditors, attached to a release. So it carries the
inventory (what AI is where, and how the parts depend on each other) and,
optionally, the findings, but never a secret and never free-form scanner
output.

Mapping
=======

Every asset becomes one component or one service whose ``bom-ref`` is the
asset id, so the same asset has the same ``bom-ref`` in every export and two
BOMs can be diffed.

================  ==========================================================
asset kind        CycloneDX
================  ==========================================================
model             component ``machine-learning-model``: name, version,
                  supplier and publisher = the provider's name (from the
                  catalogue, else the provider id); a Hugging Face model
                  (provider ``huggingface``, id ``org/name``) also gets the
                  purl ``pkg:huggingface/org/name`` (``@rev`` only for a
                  40-hex commit revision) and a ``model-card`` external
                  reference to its Hub page. cyclonedx-python-lib has no
                  ``modelCard`` model yet, so no inline model card is written.
model_file        component ``machine-learning-model`` with ``hashes`` from
                  the ``sha256`` / ``sha512`` / ``sha1`` / ``md5`` attributes
                  (or an attribute ``hashes`` mapping those names to hex).
dataset           component ``data`` (hashes as for model files).
(any component)   ``licenses`` from a ``license`` attribute (a model card's
                  licence): an SPDX id or expression where it is one, else a
                  named licence (``llama3.2``).
package           component ``library`` with the purl from
                  ``attributes["purl"]`` (built from ``ecosystem``, name and
                  version when missing; an invalid purl is left out).
application,      component ``application``.
notebook, agent
ai_service,       service: name, version, provider (organisation), endpoints
endpoint,         (the ``url`` / ``base_url`` / ``urls`` attributes and the
mcp_server        exact hosts of ``hosts``; userinfo, query and fragment are
                  dropped; IPv6 literals are left out, as the library cannot
                  write them validly), ``authenticated`` from a boolean
                  attribute of that name, ``x-trust-boundary`` (see below) and
                  ``data`` with the asset's data sensitivity as classification.
credential        never exported (see "Secrets" below).
================  ==========================================================

``x-trust-boundary`` is a boolean ``trust_boundary`` attribute when there is
one; else ``false`` when every host of the service is loopback or private,
``true`` for a hosted provider API (an ``ai_service``, or an ``endpoint`` of a
catalogued provider) on a public host, and left out otherwise. A
``trust_zone`` attribute is exported as a property (the library cannot
write the 1.6 ``trustZone`` field).

Every component and service carries these properties, namespaced
``aiposture:``: ``kind``, ``environment``, ``data_sensitivity``,
``sanctioned``, ``owner`` (when known), ``tag`` (one per tag), ``stale``,
``first_seen``, ``last_seen``, ``location`` (one per location, first
:data:`MAX_LOCATIONS`), ``evidence_count``, and the descriptive attributes
in :data:`EXPORTED_ATTRIBUTES` when they are scalars. Components also list
the evidence's file and line as ``evidence.occurrences`` (no snippet).
Components carry the asset's tags as CycloneDX ``tags`` too.

Relations become ``dependencies`` (``ref`` dependsOn ``target``), only when
both ends are in the BOM:

- ``uses_model``, ``calls_service``, ``trained_on``, ``contains``,
  ``exposes_tool``, ``derived_from`` (fine-tuned model from its base): source
  dependsOn target;
- ``serves`` (service serves model): service dependsOn model;
- ``declared_in`` (package declared in app): app dependsOn package.

Findings (when given) become ``vulnerabilities``: ``bom-ref`` the finding id,
``id`` the rule id, source ``aiposture``, one rating with the severity,
``description`` the title, ``detail`` the description, ``created`` /
``updated`` the first and last sighting, ``affects`` the asset's ``bom-ref``,
the triage status as ``analysis.state`` (acknowledged -> ``exploitable``,
resolved -> ``resolved``, false positive -> ``false_positive``; an open
finding has no analysis yet) and the evidence's file and line as
``aiposture:location`` properties.

Secrets
=======

A credential asset is never a component: its name and attributes are not
written at all. A finding on a credential is exported as a vulnerability
whose ``affects`` lists the exported assets related to that credential (for
example the application that contains it), with the rule, title,
description, severity, evidence locations and the first 8 hex characters of
the credential's fingerprint (``aiposture:credential_fingerprint``), never
the credential's other attributes. For every asset only the attributes
named in :data:`EXPORTED_ATTRIBUTES` are written, since others (an MCP
server's command line, for one) can hold tokens; evidence snippets and
details are never written.

Stale assets, relations and findings are left out unless
``include_stale=True``.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit
from uuid import UUID

from cyclonedx.contrib.license.factories import LicenseFactory
from cyclonedx.exception import CycloneDxException
from cyclonedx.model import (
    DataClassification,
    DataFlow,
    ExternalReference,
    ExternalReferenceType,
    HashAlgorithm,
    HashType,
    Property,
    XsUri,
)
from cyclonedx.model.bom import Bom, BomMetaData
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.model.component_evidence import ComponentEvidence, Occurrence
from cyclonedx.model.contact import OrganizationalEntity
from cyclonedx.model.impact_analysis import ImpactAnalysisState
from cyclonedx.model.service import Service
from cyclonedx.model.tool import ToolRepository
from cyclonedx.model.vulnerability import (
    BomTarget,
    Vulnerability,
    VulnerabilityAnalysis,
    VulnerabilityRating,
    VulnerabilitySeverity,
    VulnerabilitySource,
)
from cyclonedx.output import make_outputter
from cyclonedx.schema import OutputFormat, SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from packageurl import PackageURL

from aiposture import __version__
from aiposture.discovery.catalog import load_catalog
from aiposture.errors import ExportError
from aiposture.models import (
    Asset,
    AssetKind,
    Evidence,
    Finding,
    FindingStatus,
    Relation,
    RelationKind,
    Sensitivity,
)

__all__ = [
    "EXPORTED_ATTRIBUTES",
    "MAX_LOCATIONS",
    "PROPERTY_PREFIX",
    "build_bom",
    "to_cyclonedx_json",
    "validate_cyclonedx_json",
    "write_cyclonedx",
]

#: Namespace of every property aiposture writes.
PROPERTY_PREFIX = "aiposture:"
#: How many locations (and evidence occurrences) are written per asset or finding.
MAX_LOCATIONS = 5
#: Attributes written as ``aiposture:<name>`` properties when they are scalars.
EXPORTED_ATTRIBUTES: tuple[str, ...] = (
    "category",
    "ecosystem",
    "specifier",
    "format",
    "framework",
    "task",
    "transport",
    "trust_zone",
    "revision",
    "architecture",
    "model_type",
    "pipeline_tag",
    "size",
    "package",
    "pinned",
    "service_id",
    "source",
    "unsafe",
)

_SCHEMA = SchemaVersion.V1_6
_MAX_OCCURRENCES = 10
_MAX_VALUE = 500

_COMPONENT_TYPES: dict[AssetKind, ComponentType] = {
    AssetKind.MODEL: ComponentType.MACHINE_LEARNING_MODEL,
    AssetKind.MODEL_FILE: ComponentType.MACHINE_LEARNING_MODEL,
    AssetKind.DATASET: ComponentType.DATA,
    AssetKind.DATASET_INDEX: ComponentType.DATA,
    AssetKind.PACKAGE: ComponentType.LIBRARY,
    AssetKind.APPLICATION: ComponentType.APPLICATION,
    AssetKind.NOTEBOOK: ComponentType.APPLICATION,
    AssetKind.AGENT: ComponentType.APPLICATION,
}
_SERVICE_KINDS = frozenset({AssetKind.AI_SERVICE, AssetKind.ENDPOINT, AssetKind.MCP_SERVER})

_REVERSED_RELATIONS = frozenset({RelationKind.DECLARED_IN})

_HASHES: dict[str, tuple[HashAlgorithm, int]] = {
    "sha256": (HashAlgorithm.SHA_256, 64),
    "sha512": (HashAlgorithm.SHA_512, 128),
    "sha1": (HashAlgorithm.SHA_1, 40),
    "md5": (HashAlgorithm.MD5, 32),
}

_ANALYSIS_STATES: dict[FindingStatus, ImpactAnalysisState] = {
    FindingStatus.ACKNOWLEDGED: ImpactAnalysisState.EXPLOITABLE,
    FindingStatus.RESOLVED: ImpactAnalysisState.RESOLVED,
    FindingStatus.FALSE_POSITIVE: ImpactAnalysisState.FALSE_POSITIVE,
}

_HF_ID = re.compile(r"(?:([A-Za-z0-9][\w.-]*)/)?([A-Za-z0-9][\w.-]*)")
_COMMIT = re.compile(r"[0-9a-f]{40}")
_HEX = re.compile(r"[0-9a-fA-F]+")
_SCHEME = re.compile(r"[a-z][a-z0-9+.-]*")
_HOSTNAME = re.compile(
    r"[a-z0-9](?:[a-z0-9_-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9_-]{0,61}[a-z0-9])?)*"
)


def build_bom(
    assets: Sequence[Asset],
    relations: Sequence[Relation],
    findings: Sequence[Finding] = (),
    *,
    include_stale: bool = False,
    serial_number: UUID | None = None,
) -> Bom:
    """Build the CycloneDX BOM of an inventory (see the module docstring for the mapping).

    Args:
        assets: The assets; several sightings of one id are merged.
        relations: Relations between them; those whose ends are not both in
            the BOM are left out.
        findings: Findings to export as vulnerabilities (optional); a later
            finding with the same id replaces an earlier one.
        include_stale: Also export stale assets, relations and findings.
        serial_number: The BOM's serial number; a random UUID by default.

    Returns:
        The BOM, ready for a :mod:`cyclonedx.output` outputter.
    """
    by_id = _merge(assets)
    exported = {
        aid: a
        for aid, a in by_id.items()
        if a.kind != AssetKind.CREDENTIAL and (include_stale or not a.stale)
    }
    nodes: dict[str, Component | Service] = {
        aid: _service(a) if a.kind in _SERVICE_KINDS else _component(a)
        for aid, a in exported.items()
    }
    tool = Component(type=ComponentType.APPLICATION, name="aiposture", version=__version__)
    bom = Bom(
        serial_number=serial_number,
        metadata=BomMetaData(
            tools=ToolRepository(components=[tool]),
            properties=[_prop("include_stale", include_stale)],
        ),
        components=[n for n in nodes.values() if isinstance(n, Component)],
        services=[n for n in nodes.values() if isinstance(n, Service)],
    )

    live = [r for r in relations if include_stale or not r.stale]
    edges: dict[str, set[str]] = {}
    for rel in live:
        src, dst = rel.source_id, rel.target_id
        if rel.kind in _REVERSED_RELATIONS:
            src, dst = dst, src
        if src in nodes and dst in nodes and src != dst:
            edges.setdefault(src, set()).add(dst)
    for src in sorted(edges):
        bom.register_dependency(nodes[src], [nodes[d] for d in sorted(edges[src])])

    for finding in {f.id: f for f in findings}.values():
        owner = by_id.get(finding.asset_id)
        if owner is None or (not include_stale and (finding.stale or owner.stale)):
            continue
        if owner.kind == AssetKind.CREDENTIAL:
            affected = _linked(owner.id, live, nodes)
            bom.vulnerabilities.add(_vulnerability(finding, affected, credential=owner))
        elif owner.id in nodes:
            bom.vulnerabilities.add(_vulnerability(finding, [owner.id]))
    return bom


def to_cyclonedx_json(
    assets: Sequence[Asset],
    relations: Sequence[Relation],
    findings: Sequence[Finding] = (),
    *,
    include_stale: bool = False,
    validate: bool = True,
    serial_number: UUID | None = None,
) -> str:
    """The inventory as a CycloneDX 1.6 JSON document.

    Args:
        assets: The assets to export (credentials are never exported).
        relations: Relations between them.
        findings: Findings to export as vulnerabilities (optional).
        include_stale: Also export stale assets, relations and findings.
        validate: Check the document against the official CycloneDX 1.6
            strict JSON schema (shipped with cyclonedx-python-lib, no
            network access).
        serial_number: The BOM's serial number; a random UUID by default.

    Returns:
        The JSON text, indented by two spaces.

    Raises:
        ExportError: The BOM cannot be serialised or does not validate.
    """
    bom = build_bom(
        assets, relations, findings, include_stale=include_stale, serial_number=serial_number
    )
    try:
        text: str = make_outputter(bom, OutputFormat.JSON, _SCHEMA).output_as_string(indent=2)
    except (CycloneDxException, ValueError, TypeError) as exc:
        raise ExportError(f"cannot serialise the CycloneDX BOM: {exc}") from exc
    if validate:
        validate_cyclonedx_json(text)
    return text


def validate_cyclonedx_json(text: str) -> None:
    """Check a JSON document against the CycloneDX 1.6 strict schema, offline.

    Args:
        text: The JSON document.

    Raises:
        ExportError: The document is not valid JSON or breaks the schema; the
            message names the first problem and where it is.
    """
    try:
        error = _validator().validate_str(text)
    except CycloneDxException as exc:
        raise ExportError(f"cannot validate the CycloneDX BOM: {exc}") from exc
    except ValueError as exc:
        raise ExportError(f"the CycloneDX BOM is not valid JSON: {exc}") from exc
    if error is None:
        return
    data = error.data
    where = getattr(data, "json_path", "$")
    message = str(getattr(data, "message", data))
    if len(message) > 300:
        message = message[:297] + "..."
    raise ExportError(f"the CycloneDX 1.6 BOM does not validate at {where}: {message}")


def write_cyclonedx(
    path: Path | str,
    assets: Sequence[Asset],
    relations: Sequence[Relation],
    findings: Sequence[Finding] = (),
    *,
    include_stale: bool = False,
    validate: bool = True,
    serial_number: UUID | None = None,
) -> Path:
    """Write the CycloneDX 1.6 JSON BOM of an inventory to ``path``.

    The file is replaced atomically, so a reader never sees half a BOM, and
    nothing is written when the BOM does not validate.

    Args:
        path: Where to write; missing parent folders are created.
        assets: The assets to export.
        relations: Relations between them.
        findings: Findings to export as vulnerabilities (optional).
        include_stale: Also export stale assets, relations and findings.
        validate: Validate against the CycloneDX 1.6 schema first.
        serial_number: The BOM's serial number; a random UUID by default.

    Returns:
        The path written.

    Raises:
        ExportError: The BOM does not validate, or the file cannot be written.
    """
    text = to_cyclonedx_json(
        assets,
        relations,
        findings,
        include_stale=include_stale,
        validate=validate,
        serial_number=serial_number,
    )
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            Path(tmp).replace(target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise ExportError(f"cannot write the CycloneDX BOM to {target}: {exc}") from exc
    return target


@cache
def _validator() -> JsonStrictValidator:
    return JsonStrictValidator(_SCHEMA)


def _merge(assets: Iterable[Asset]) -> dict[str, Asset]:
    out: dict[str, Asset] = {}
    for asset in assets:
        seen = out.get(asset.id)
        out[asset.id] = asset if seen is None else seen.merge(asset)
    return out


def _prop(name: str, value: object) -> Property:
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif hasattr(value, "isoformat"):
        text = value.isoformat()
    else:
        text = str(value)
    if len(text) > _MAX_VALUE:
        text = text[: _MAX_VALUE - 3] + "..."
    return Property(name=f"{PROPERTY_PREFIX}{name}", value=text)


def _asset_properties(asset: Asset) -> list[Property]:
    props = [
        _prop("kind", asset.kind.value),
        _prop("environment", asset.environment.value),
        _prop("data_sensitivity", asset.data_sensitivity.value),
        _prop("sanctioned", asset.sanctioned.value),
        _prop("stale", asset.stale),
        _prop("first_seen", asset.first_seen),
        _prop("last_seen", asset.last_seen),
        _prop("evidence_count", len(asset.evidence)),
    ]
    if asset.owner:
        props.append(_prop("owner", asset.owner))
    props.extend(_prop("tag", t) for t in asset.tags)
    props.extend(_prop("location", loc) for loc in asset.locations[:MAX_LOCATIONS])
    for name in EXPORTED_ATTRIBUTES:
        value = asset.attributes.get(name)
        if isinstance(value, str | int | float | bool) and value != "":
            props.append(_prop(name, value))
    return props


def _provider_name(provider_id: str | None) -> str | None:
    if not provider_id:
        return None
    try:
        return load_catalog().provider(provider_id).name
    except KeyError:
        return provider_id


def _organisation(provider_id: str | None) -> OrganizationalEntity | None:
    name = _provider_name(provider_id)
    return OrganizationalEntity(name=name) if name else None


def _hashes(attributes: Mapping[str, Any]) -> list[HashType]:
    found: dict[str, str] = {}
    nested = attributes.get("hashes")
    for source in (nested if isinstance(nested, Mapping) else {}, attributes):
        for key, value in source.items():
            name = str(key).lower().replace("-", "")
            if name in _HASHES and isinstance(value, str):
                found[name] = value.strip().lower()
    out = []
    for name, value in sorted(found.items()):
        alg, length = _HASHES[name]
        if len(value) == length and _HEX.fullmatch(value):
            out.append(HashType(alg=alg, content=value))
    return out


def _package_purl(asset: Asset) -> PackageURL | None:
    raw = asset.attributes.get("purl")
    ecosystem = asset.attributes.get("ecosystem")
    if not isinstance(raw, str) and isinstance(ecosystem, str) and ecosystem:
        from aiposture.discovery.observe import purl

        raw = purl(ecosystem, asset.name, asset.version)
    if not isinstance(raw, str):
        return None
    try:
        return PackageURL.from_string(raw)
    except ValueError:
        return None


def _huggingface_id(asset: Asset) -> tuple[str | None, str] | None:
    if (asset.provider or "").lower() != "huggingface":
        return None
    match = _HF_ID.fullmatch(asset.name.strip())
    if match is None:
        return None
    return match.group(1), match.group(2)


def _model_extras(asset: Asset) -> tuple[PackageURL | None, list[ExternalReference]]:
    hf = _huggingface_id(asset)
    if hf is None:
        return None, []
    namespace, name = hf
    version = (asset.version or "").lower()
    purl = PackageURL(
        type="huggingface",
        namespace=namespace,
        name=name,
        version=version if _COMMIT.fullmatch(version) else None,
    )
    page = (
        f"https://huggingface.co/{namespace}/{name}"
        if namespace
        else (f"https://huggingface.co/{name}")
    )
    card = ExternalReference(
        type=ExternalReferenceType.MODEL_CARD,
        url=XsUri(page),
        comment="Model card on the Hugging Face Hub",
    )
    return purl, [card]


def _occurrences(evidence: Sequence[Evidence]) -> list[Occurrence]:
    out: list[Occurrence] = []
    seen: set[tuple[str, int | None, int | None]] = set()
    for ev in evidence:
        location = ev.path or ev.key
        if not location or (location, ev.line, ev.cell) in seen:
            continue
        seen.add((location, ev.line, ev.cell))
        out.append(
            Occurrence(
                location=location,
                line=ev.line,
                symbol=ev.key if ev.path and ev.key else None,
                additional_context=f"notebook cell {ev.cell}" if ev.cell is not None else None,
            )
        )
        if len(out) >= _MAX_OCCURRENCES:
            break
    return out


def _component(asset: Asset) -> Component:
    ctype = _COMPONENT_TYPES[asset.kind]
    supplier = _organisation(asset.provider)
    purl: PackageURL | None = None
    refs: list[ExternalReference] = []
    if asset.kind == AssetKind.MODEL:
        purl, refs = _model_extras(asset)
    elif asset.kind == AssetKind.PACKAGE:
        purl = _package_purl(asset)
    occurrences = _occurrences(asset.evidence)
    return Component(
        type=ctype,
        name=asset.name,
        bom_ref=asset.id,
        version=asset.version,
        supplier=supplier,
        publisher=supplier.name
        if supplier is not None and ctype is not ComponentType.LIBRARY
        else None,
        purl=purl,
        hashes=_hashes(asset.attributes),
        licenses=_licenses(asset.attributes.get("license")),
        external_references=refs,
        properties=_asset_properties(asset),
        evidence=ComponentEvidence(occurrences=occurrences) if occurrences else None,
        tags=asset.tags,
    )


def _licenses(value: object) -> list[Any]:
    """The ``license`` attribute as CycloneDX licences: an SPDX id or expression, else a name."""
    if not isinstance(value, str) or not value.strip() or value.strip().lower() == "unknown":
        return []
    try:
        return [LicenseFactory().make_from_string(value.strip()[:_MAX_VALUE])]
    except (CycloneDxException, ValueError):
        return []


def _split_host(raw: str) -> tuple[str, int | None] | None:
    try:
        parts = urlsplit(f"//{raw.strip()}")
        return (parts.hostname or "", parts.port) if parts.hostname else None
    except ValueError:
        return None


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _is_local(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    ip = _ip(host)
    return ip is not None and (ip.is_loopback or ip.is_private or ip.is_link_local)


def _netloc(host: str, port: int | None) -> str | None:
    host = host.lower().rstrip(".")
    if _ip(host) is not None:
        if ":" in host:
            # XsUri percent-encodes the brackets of an IPv6 literal, which breaks
            # the schema's iri-reference format: such an endpoint is left out.
            return None
        out = host
    else:
        try:
            ascii_host = host.encode("idna").decode("ascii")
        except UnicodeError:
            return None
        if not _HOSTNAME.fullmatch(ascii_host):
            return None
        out = ascii_host
    return f"{out}:{port}" if port else out


def _clean_url(raw: object) -> tuple[str | None, str] | None:
    """``(url, host)`` of a URL without userinfo, query and fragment.

    None when ``raw`` is no URL with a host; the url part is None when the
    host cannot be written in an endpoint.
    """
    if not isinstance(raw, str):
        return None
    try:
        parts = urlsplit(raw.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = parts.hostname or ""
    if not _SCHEME.fullmatch(scheme) or not host:
        return None
    netloc = _netloc(host, port)
    if netloc is None:
        return None, host.lower()
    path = quote(unquote(parts.path).rstrip("/"), safe="/-._~!$&'()*+,;=:@")
    return f"{scheme}://{netloc}{path}", host.lower()


def _endpoints(asset: Asset) -> tuple[list[str], list[str], list[str]]:
    """Endpoint URLs, host names, and wildcard host patterns of a service."""
    urls: list[str] = []
    hosts: list[str] = []
    patterns: list[str] = []
    raw_urls: list[object] = [asset.attributes.get("url"), asset.attributes.get("base_url")]
    more = asset.attributes.get("urls")
    if isinstance(more, list):
        raw_urls.extend(more)
    for raw in raw_urls:
        cleaned = _clean_url(raw)
        if cleaned is not None:
            url, host = cleaned
            hosts.append(host)
            if url is not None:
                urls.append(url)
    listed = asset.attributes.get("hosts")
    for raw in listed if isinstance(listed, list) else []:
        if not isinstance(raw, str) or not raw.strip():
            continue
        if "*" in raw:
            patterns.append(raw.strip())
            hosts.append(raw.strip().lstrip("*.").lower())
            continue
        split = _split_host(raw)
        if split is None:
            continue
        host, port = split
        hosts.append(host)
        netloc = _netloc(host, port)
        if netloc is not None:
            urls.append(f"{'http' if _is_local(host) else 'https'}://{netloc}")
    return list(dict.fromkeys(urls)), list(dict.fromkeys(hosts)), patterns


def _trust_boundary(asset: Asset, hosts: Sequence[str]) -> bool | None:
    declared = asset.attributes.get("trust_boundary")
    if isinstance(declared, bool):
        return declared
    if not hosts:
        return None
    if all(_is_local(h) for h in hosts):
        return False
    if asset.kind == AssetKind.AI_SERVICE:
        return True
    if asset.kind == AssetKind.ENDPOINT and asset.provider:
        try:
            hosted = bool(load_catalog().provider(asset.provider).hosts)
        except KeyError:
            hosted = False
        return True if hosted else None
    return None


def _service(asset: Asset) -> Service:
    urls, hosts, patterns = _endpoints(asset)
    props = _asset_properties(asset)
    props.extend(_prop("host", p) for p in patterns)
    authenticated = asset.attributes.get("authenticated")
    data = (
        [
            DataClassification(
                flow=DataFlow.BI_DIRECTIONAL, classification=asset.data_sensitivity.value
            )
        ]
        if asset.data_sensitivity != Sensitivity.UNKNOWN
        else None
    )
    return Service(
        name=asset.name,
        bom_ref=asset.id,
        provider=_organisation(asset.provider),
        version=asset.version,
        endpoints=[XsUri(u) for u in urls],
        authenticated=authenticated if isinstance(authenticated, bool) else None,
        x_trust_boundary=_trust_boundary(asset, hosts),
        data=data,
        properties=props,
    )


def _linked(asset_id: str, relations: Iterable[Relation], nodes: Mapping[str, object]) -> list[str]:
    out: set[str] = set()
    for rel in relations:
        if rel.source_id == asset_id and rel.target_id in nodes:
            out.add(rel.target_id)
        elif rel.target_id == asset_id and rel.source_id in nodes:
            out.add(rel.source_id)
    return sorted(out)


def _vulnerability(
    finding: Finding, affected: Sequence[str], *, credential: Asset | None = None
) -> Vulnerability:
    props = [_prop("status", finding.status.value), _prop("stale", finding.stale)]
    if credential is not None:
        props.append(_prop("asset_kind", AssetKind.CREDENTIAL.value))
        fingerprint = credential.attributes.get("fingerprint")
        if isinstance(fingerprint, str) and _HEX.fullmatch(fingerprint[:8]):
            props.append(_prop("credential_fingerprint", fingerprint[:8].lower()))
    props.extend(_prop("tag", t) for t in finding.tags)
    locations = list(dict.fromkeys(e.where for e in finding.evidence if e.where))
    props.extend(_prop("location", loc) for loc in locations[:MAX_LOCATIONS])
    state = _ANALYSIS_STATES.get(finding.status)
    return Vulnerability(
        bom_ref=finding.id,
        id=finding.rule_id,
        source=VulnerabilitySource(name="aiposture"),
        ratings=[
            VulnerabilityRating(
                source=VulnerabilitySource(name="aiposture"),
                severity=VulnerabilitySeverity(finding.severity.value),
            )
        ],
        description=finding.title,
        detail=finding.description,
        created=finding.first_seen,
        updated=finding.last_seen,
        analysis=VulnerabilityAnalysis(state=state) if state is not None else None,
        affects=[BomTarget(ref=ref) for ref in affected],
        properties=props,
    )
