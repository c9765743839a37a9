"""Controls: which ones an asset has, and which ones its risk requires.

A *control* is a safeguard that lowers the likelihood of a risk turning into harm. Until
policies and monitoring are modelled (later issues), a control is known in three ways:

* a tag ``control:<name>`` on the asset, set by a human (``update_asset(ref, tags=[...])``),
  or the name listed in the asset's ``controls`` attribute (where a policy module may
  record it);
* an attribute a scanner or a human recorded (``owner``, ``rate_limit``, ``approved_by``,
  the authentication headers of an MCP server, the format of a model file);
* the graph: a ``dataset_index`` that ``contains`` every dataset a model is
  ``trained_on`` is a leakage index for that model.

Controls and when they are **present**:

==================== ======================================================================
control              present when
==================== ======================================================================
owner                the asset has an owner
authentication       tag; an MCP server sends an authentication header (``Authorization``,
                     ``X-API-Key``...) or configures OAuth (``auth``/``oauth`` attribute)
rate-limit           tag; a truthy ``rate_limit`` attribute
output-monitoring    tag
leakage-index        tag; a ``dataset_index`` contains every dataset the model is trained on
approval             tag (or tag ``approved``); an ``approved_by``/``approval`` attribute;
                     the asset is sanctioned
access-policy        tag
guardrail            tag
safe-serialization   tag; a model file in a format that cannot run code when loaded
                     (:data:`SAFE_FORMATS`) and not flagged unsafe by the scanner
secret-store         tag (the secret was moved to a secret manager)
==================== ======================================================================

Controls and when they are **required** (the asset's own facts, and the data it holds:
its own classification and that of its training lineage, see :func:`held_sensitivity`):

==================== ======================================================================
control              required of
==================== ======================================================================
owner                every asset
authentication       anything reachable over the network (a URL, a ``public`` or
                     ``internet-facing`` tag) and every customer-facing model, endpoint,
                     application, agent, MCP server or index; not a hosted AI service
                     (the vendor authenticates) nor a local (stdio) MCP server
rate-limit           a public (internet-reachable) or customer-facing one of those
output-monitoring    a public or customer-facing model, endpoint, application or agent;
                     a model (or model file) holding confidential or restricted data
leakage-index        a model (or model file) holding confidential or restricted data
guardrail            a public or customer-facing model, endpoint, application or agent;
                     every agent
approval             every asset in production; every AI service; every agent
access-policy        anything holding confidential or restricted data (credentials and
                     packages aside)
safe-serialization   every model file
secret-store         every credential (it was found in plain text)
==================== ======================================================================

Every rule only adds a requirement when exposure grows and only adds a present control
when a control is added, which keeps the control gap of :mod:`aiposture.risk.scoring`
monotone.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from aiposture.models import (
    Asset,
    AssetKind,
    Environment,
    RelationKind,
    Sanctioned,
    Sensitivity,
)
from aiposture.risk.graph import EstateGraph

__all__ = [
    "CONTROL_NAMES",
    "CONTROL_TAG_PREFIX",
    "CONTROL_WEIGHTS",
    "LEVEL_NAMES",
    "SAFE_FORMATS",
    "ControlAssessment",
    "ControlNote",
    "HeldData",
    "assess_controls",
    "held_sensitivity",
    "is_customer_facing",
    "is_private_host",
    "is_public",
    "is_remote",
    "network_host",
    "present_controls",
    "required_controls",
    "sensitivity_level",
]

#: Tag prefix a human uses to record a control on an asset (``control:rate-limit``).
CONTROL_TAG_PREFIX = "control:"

#: Points each missing control adds to the control gap (0 to 10) in the scoring.
CONTROL_WEIGHTS: Mapping[str, float] = {
    "authentication": 3.0,
    "safe-serialization": 3.0,
    "secret-store": 3.0,
    "leakage-index": 2.0,
    "approval": 2.0,
    "output-monitoring": 1.5,
    "rate-limit": 1.5,
    "access-policy": 1.5,
    "guardrail": 1.0,
    "owner": 0.5,
}

#: Every control this module knows.
CONTROL_NAMES: tuple[str, ...] = tuple(sorted(CONTROL_WEIGHTS))

#: Model file formats whose loading cannot run code (tensors and metadata only).
SAFE_FORMATS = frozenset({"safetensors", "gguf", "ggml", "onnx", "tflite"})

#: Sensitivity as an ordered level: unknown counts between internal and confidential.
_LEVEL = {
    Sensitivity.PUBLIC: 0,
    Sensitivity.INTERNAL: 1,
    Sensitivity.UNKNOWN: 2,
    Sensitivity.CONFIDENTIAL: 3,
    Sensitivity.RESTRICTED: 4,
}
#: The name of each level, by level.
LEVEL_NAMES: tuple[str, ...] = ("public", "internal", "unknown", "confidential", "restricted")
_CONFIDENTIAL = _LEVEL[Sensitivity.CONFIDENTIAL]
#: How many relations deep the training lineage is followed.
LINEAGE_HOPS = 3

_MODEL_KINDS = frozenset({AssetKind.MODEL, AssetKind.MODEL_FILE})
#: Kinds that answer queries (people or programs send them input and read their output).
_SERVING_KINDS = frozenset(
    {
        AssetKind.MODEL,
        AssetKind.ENDPOINT,
        AssetKind.APPLICATION,
        AssetKind.AGENT,
        AssetKind.MCP_SERVER,
        AssetKind.DATASET_INDEX,
    }
)
#: Serving kinds that produce model output (people read what a model wrote).
_OUTPUT_KINDS = frozenset(
    {AssetKind.MODEL, AssetKind.ENDPOINT, AssetKind.APPLICATION, AssetKind.AGENT}
)
_NO_NETWORK_KINDS = frozenset({AssetKind.AI_SERVICE, AssetKind.CREDENTIAL, AssetKind.PACKAGE})
_PUBLIC_TAGS = frozenset({"public", "internet-facing"})
_LOCAL_TRANSPORTS = frozenset({"stdio"})
_AUTH_HEADER = re.compile(
    r"(?i)auth|token|api[-_]?key|secret|cookie|bearer|session|credential|signature"
)
_PRIVATE_SUFFIXES = (".local", ".internal", ".lan", ".corp", ".home.arpa", ".localdomain")


def sensitivity_level(s: Sensitivity) -> int:
    """public 0 < internal 1 < unknown 2 < confidential 3 < restricted 4."""
    return _LEVEL[s]


@dataclass(frozen=True)
class ControlNote:
    """Why a control is present on an asset, or why its risk requires it.

    Attributes:
        control: The control's name (one of :data:`CONTROL_NAMES`).
        reason: A sentence for a human.
        ref: The asset or relation id it rests on, where there is one.
    """

    control: str
    reason: str
    ref: str | None = None


@dataclass(frozen=True)
class ControlAssessment:
    """The controls an asset has and the controls its risk requires, each with a reason."""

    present: dict[str, ControlNote] = field(default_factory=dict)
    required: dict[str, ControlNote] = field(default_factory=dict)

    @property
    def missing(self) -> list[ControlNote]:
        """Required controls that are not present, heaviest first."""
        gone = [n for c, n in self.required.items() if c not in self.present]
        return sorted(gone, key=lambda n: (-CONTROL_WEIGHTS.get(n.control, 1.0), n.control))


@dataclass(frozen=True)
class HeldData:
    """The most sensitive data an asset holds: its level and where it comes from.

    Attributes:
        level: See :func:`sensitivity_level`.
        text: Where the level comes from, for a human.
        ref: The asset whose classification gives the level (None for the asset itself).
    """

    level: int
    text: str
    ref: str | None = None


# --- facts about one asset ------------------------------------------------------------


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().casefold() not in ("", "0", "false", "no", "none", "off")
    return bool(value)


def _tags(asset: Asset) -> set[str]:
    return {t.strip().casefold() for t in asset.tags}


def network_host(asset: Asset) -> str | None:
    """The host an asset is reached at (from its ``url`` or ``host`` attribute), if any."""
    if asset.kind in _NO_NETWORK_KINDS:
        return None
    url = asset.attributes.get("url")
    if isinstance(url, str) and url.strip():
        try:
            host = urlsplit(url.strip()).hostname
        except ValueError:
            host = None
        if host:
            return host.casefold()
    host_attr = asset.attributes.get("host")
    if isinstance(host_attr, str) and host_attr.strip():
        return host_attr.strip().casefold()
    return None


def is_private_host(host: str) -> bool:
    """Whether ``host`` is reachable only from inside (loopback, private ranges, ``.local``)."""
    name = host.strip("[]").rstrip(".").casefold()
    try:
        ip = ipaddress.ip_address(name)
    except ValueError:
        return name == "localhost" or "." not in name or name.endswith(_PRIVATE_SUFFIXES)
    return ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved


def is_public(asset: Asset) -> bool:
    """Reachable from the internet: a public host, a ``public`` tag or attribute."""
    if _tags(asset) & _PUBLIC_TAGS or _truthy(asset.attributes.get("public")):
        return True
    host = network_host(asset)
    return host is not None and not is_private_host(host)


def is_customer_facing(asset: Asset) -> bool:
    """Tagged ``customer-facing``."""
    return "customer-facing" in _tags(asset)


def is_remote(asset: Asset) -> bool:
    """Reached over the network: has a host, or is public (local stdio MCP servers are not)."""
    if asset.kind is AssetKind.MCP_SERVER:
        transport = str(asset.attributes.get("transport") or "").casefold()
        if transport in _LOCAL_TRANSPORTS and network_host(asset) is None:
            return False
    return network_host(asset) is not None or is_public(asset)


def held_sensitivity(asset: Asset, graph: EstateGraph) -> HeldData:
    """The most sensitive data ``asset`` holds: its own classification and its lineage.

    The lineage is what a model was ``trained_on`` and what it is ``derived_from`` (a
    fine-tuned model holds its base model's training data), and the datasets a
    ``dataset_index`` ``contains``, followed up to :data:`LINEAGE_HOPS` relations deep.
    A credential holds at least confidential data: a live secret is confidential by
    nature. Unknown counts between internal and confidential.
    """
    best = _own_held(asset)
    frontier = [asset]
    seen = {asset.id}
    for _ in range(LINEAGE_HOPS):
        nxt: list[Asset] = []
        for a in frontier:
            for n in _lineage(a, graph):
                if n.asset.id in seen:
                    continue
                seen.add(n.asset.id)
                nxt.append(n.asset)
                own = _own_held(n.asset)
                if own.level > best.level:
                    best = HeldData(
                        own.level,
                        f"{_LINEAGE_VERB[n.relation.kind]} '{n.asset.name}' "
                        f"({LEVEL_NAMES[own.level]})",
                        n.asset.id,
                    )
        frontier = nxt
    return best


_LINEAGE_VERB = {
    RelationKind.TRAINED_ON: "trained on",
    RelationKind.DERIVED_FROM: "derived from",
    RelationKind.CONTAINS: "indexes",
}


def _lineage(asset: Asset, graph: EstateGraph) -> list[Any]:
    kinds = [RelationKind.TRAINED_ON, RelationKind.DERIVED_FROM]
    if asset.kind is AssetKind.DATASET_INDEX:
        kinds.append(RelationKind.CONTAINS)
    return graph.out(asset.id, *kinds)


def _own_held(asset: Asset) -> HeldData:
    level = _LEVEL[asset.data_sensitivity]
    if asset.kind is AssetKind.CREDENTIAL and level < _CONFIDENTIAL:
        return HeldData(_CONFIDENTIAL, "a live secret is confidential by nature")
    if asset.data_sensitivity is Sensitivity.UNKNOWN:
        return HeldData(level, "not classified (unknown counts between internal and confidential)")
    return HeldData(level, "its own classification")


# --- present and required -------------------------------------------------------------


def _present(asset: Asset, graph: EstateGraph) -> dict[str, ControlNote]:
    out: dict[str, ControlNote] = {}
    tags = _tags(asset)
    for tag in sorted(tags):
        if tag.startswith(CONTROL_TAG_PREFIX):
            name = tag[len(CONTROL_TAG_PREFIX) :].strip()
            if name:
                out.setdefault(name, ControlNote(name, f"recorded on the asset (tag {tag})"))
    attrs = asset.attributes
    listed = attrs.get("controls")
    if isinstance(listed, list):
        for item in listed:
            if isinstance(item, str) and item.strip():
                name = item.strip().casefold()
                out.setdefault(name, ControlNote(name, "listed in the asset's controls"))
    if asset.owner and asset.owner.strip():
        out.setdefault("owner", ControlNote("owner", f"owned by {asset.owner.strip()}"))
    if "approved" in tags:
        out.setdefault("approval", ControlNote("approval", "tagged approved"))
    for key in ("approved_by", "approval"):
        if _truthy(attrs.get(key)):
            out.setdefault("approval", ControlNote("approval", f"approval on record ({key})"))
    if asset.sanctioned is Sanctioned.SANCTIONED:
        out.setdefault("approval", ControlNote("approval", "sanctioned by the organisation"))
    if _truthy(attrs.get("rate_limit")):
        out.setdefault("rate-limit", ControlNote("rate-limit", "rate limit on record"))
    if _authenticated(asset):
        out.setdefault("authentication", ControlNote("authentication", "authentication configured"))
    if asset.kind is AssetKind.MODEL_FILE:
        fmt = str(attrs.get("format") or "").casefold()
        if fmt in SAFE_FORMATS and not _truthy(attrs.get("unsafe")):
            out.setdefault(
                "safe-serialization",
                ControlNote("safe-serialization", f"stored as {fmt}: loading runs no code"),
            )
    if "leakage-index" not in out:
        index = _leakage_index(asset, graph)
        if index is not None:
            out["leakage-index"] = index
    return out


def _authenticated(asset: Asset) -> bool:
    attrs = asset.attributes
    if any(_truthy(attrs.get(k)) for k in ("auth", "oauth", "authentication")):
        return True
    headers = attrs.get("headers")
    if isinstance(headers, list):
        return any(isinstance(h, str) and _AUTH_HEADER.search(h) for h in headers)
    return False


def _leakage_index(asset: Asset, graph: EstateGraph) -> ControlNote | None:
    """A dataset index covering every dataset the model is trained on, if there is one."""
    trained = graph.out(asset.id, RelationKind.TRAINED_ON)
    if not trained:
        return None
    names = []
    for n in trained:
        covers = [
            i
            for i in graph.into(n.asset.id, RelationKind.CONTAINS)
            if i.asset.kind is AssetKind.DATASET_INDEX
        ]
        if not covers:
            return None
        names.append(covers[0].asset)
    first = names[0]
    more = f" and {len(names) - 1} more" if len(names) > 1 else ""
    return ControlNote(
        "leakage-index",
        f"its training data is indexed for leakage checks ('{first.name}'{more})",
        first.id,
    )


def _required(asset: Asset, held: HeldData) -> dict[str, ControlNote]:
    out: dict[str, ControlNote] = {}
    kind = asset.kind

    def need(name: str, why: str, ref: str | None = None) -> None:
        out.setdefault(name, ControlNote(name, why, ref))

    need("owner", "every asset needs an accountable owner")
    public = is_public(asset)
    facing = is_customer_facing(asset)
    audience = "public" if public else "customer-facing" if facing else ""
    if kind not in _NO_NETWORK_KINDS and is_remote(asset):
        where = network_host(asset) or "the network"
        need("authentication", f"reachable over the network ({where})")
    local = kind is AssetKind.MCP_SERVER and not is_remote(asset)
    if kind in _SERVING_KINDS and audience and not local:
        need("authentication", f"{audience}: outsiders can query it")
        need("rate-limit", f"{audience}: bulk queries can extract the model or run up costs")
    if kind in _OUTPUT_KINDS and audience:
        need("output-monitoring", f"{audience}: what it answers must be watched")
        need("guardrail", f"{audience}: prompt injection and unsafe output")
    if kind is AssetKind.AGENT:
        need("guardrail", "an agent acts on its own")
        need("approval", "an agent acts on its own")
    if kind in _MODEL_KINDS and held.level >= _CONFIDENTIAL:
        label = LEVEL_NAMES[held.level]
        need("leakage-index", f"holds {label} data ({held.text}): memorisation", held.ref)
        need("output-monitoring", f"holds {label} data ({held.text}): leaks in output", held.ref)
    if held.level >= _CONFIDENTIAL and kind not in (AssetKind.CREDENTIAL, AssetKind.PACKAGE):
        need(
            "access-policy",
            f"holds {LEVEL_NAMES[held.level]} data ({held.text}): who may use it",
            held.ref,
        )
    if asset.environment is Environment.PROD:
        need("approval", "in production")
    if kind is AssetKind.AI_SERVICE:
        need("approval", "an outside AI service receives company data")
    if kind is AssetKind.MODEL_FILE:
        need("safe-serialization", "a model file is loaded by people and programs")
    if kind is AssetKind.CREDENTIAL:
        need("secret-store", "a secret found in plain text belongs in a secret manager")
    return out


def assess_controls(
    asset: Asset, graph: EstateGraph, *, held: HeldData | None = None
) -> ControlAssessment:
    """Present and required controls of ``asset``, each with its reason.

    Args:
        asset: The asset.
        graph: The estate it belongs to.
        held: Its :func:`held_sensitivity`, when already known (the scoring passes it).
    """
    data = held if held is not None else held_sensitivity(asset, graph)
    return ControlAssessment(present=_present(asset, graph), required=_required(asset, data))


def present_controls(asset: Asset, graph: EstateGraph) -> set[str]:
    """Names of the controls ``asset`` has (see the module for where each comes from)."""
    return set(_present(asset, graph))


def required_controls(asset: Asset, graph: EstateGraph) -> set[str]:
    """Names of the controls the risk of ``asset`` requires (see the module)."""
    return set(_required(asset, held_sensitivity(asset, graph)))
