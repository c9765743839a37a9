"""Helpers the built-in rules share: defensive attribute reads, controls, context, hosts.

Attributes come from scanners of several versions and from people (``update_asset``), so
every read here accepts odd but valid data (a missing key, a string where a list was
expected, a number where a flag was) and never raises.
"""

from __future__ import annotations

import ipaddress
import re
import weakref
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar
from urllib.parse import urlsplit

from aiposture.models import (
    Asset,
    AssetKind,
    Environment,
    Evidence,
    Sensitivity,
    Severity,
)
from aiposture.risk.graph import EstateGraph, Neighbour

__all__ = [
    "CONFIDENTIAL",
    "CONSUMER_KINDS",
    "RESTRICTED",
    "Context",
    "GraphMemo",
    "attr_bool",
    "attr_list",
    "attr_str",
    "bump",
    "cap",
    "context",
    "has_control",
    "has_tag",
    "is_loopback_host",
    "is_public_host",
    "label",
    "pick_evidence",
    "relation_evidence",
    "sensitivity_rank",
    "split_url",
    "words",
]

#: Kinds that use other assets: the deployment context of what they use comes from them.
CONSUMER_KINDS = frozenset({AssetKind.APPLICATION, AssetKind.NOTEBOOK, AssetKind.AGENT})
#: Sensitivity ranks (see :meth:`EstateGraph.sensitivity_rank`).
CONFIDENTIAL = 2
RESTRICTED = 3

_TRUE = frozenset({"true", "yes", "y", "1", "on", "enabled"})
_FALSE = frozenset({"false", "no", "n", "0", "off", "disabled", "none", ""})


def _text(value: object) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str | int | float):
        s = str(value).strip()
        return s or None
    return None


def attr_str(asset: Asset, *keys: str) -> str | None:
    """The first of ``keys`` whose attribute is a non-empty scalar, as a string."""
    attrs = asset.attributes if isinstance(asset.attributes, dict) else {}
    for key in keys:
        s = _text(attrs.get(key))
        if s is not None:
            return s
    return None


def attr_list(asset: Asset, key: str) -> list[str]:
    """An attribute as a list of strings (a lone string is a one-item list)."""
    attrs = asset.attributes if isinstance(asset.attributes, dict) else {}
    value = attrs.get(key)
    items: Iterable[object]
    if isinstance(value, list | tuple | set | frozenset):
        items = value
    elif isinstance(value, dict):
        items = value.keys()
    else:
        items = [value]
    out = []
    for item in items:
        s = _text(item)
        if s is not None:
            out.append(s)
    return out


def attr_bool(asset: Asset, key: str) -> bool | None:
    """An attribute read as a flag (``True``, ``"yes"``, ``1``...); None when absent or odd."""
    attrs = asset.attributes if isinstance(asset.attributes, dict) else {}
    value = attrs.get(key)
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    if isinstance(value, str):
        low = value.strip().casefold()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
    return None


def _tags(asset: Asset) -> set[str]:
    return {t.strip().casefold() for t in asset.tags if isinstance(t, str)}


def has_tag(asset: Asset, *tags: str) -> bool:
    """Whether the asset carries any of ``tags`` (case-insensitive)."""
    have = _tags(asset)
    return any(t.casefold() in have for t in tags)


def has_control(asset: Asset, name: str) -> bool:
    """Whether a control is recorded on the asset.

    A control is the tag ``control:<name>``, or ``name`` listed in the attribute
    ``controls`` (how a later policy module may record it).
    """
    want = name.casefold()
    if f"control:{want}" in _tags(asset):
        return True
    return want in {c.casefold() for c in attr_list(asset, "controls")}


def sensitivity_rank(asset: Asset) -> int:
    """The asset's data sensitivity rank: public 0 ... restricted 3, unknown -1."""
    s = asset.data_sensitivity
    return EstateGraph.sensitivity_rank(s) if isinstance(s, Sensitivity) else -1


def bump(severity: Severity, steps: int = 1) -> Severity:
    """``severity`` raised by ``steps`` levels, at most critical."""
    order = list(Severity)
    return order[min(len(order) - 1, max(0, severity.rank + steps))]


_KIND_NAMES = {
    AssetKind.MCP_SERVER: "MCP server",
    AssetKind.AI_SERVICE: "AI service",
    AssetKind.MODEL_FILE: "model file",
    AssetKind.DATASET_INDEX: "dataset index",
}


def label(asset: Asset) -> str:
    """``kind 'name'`` for messages (``MCP server 'github'``)."""
    kind = _KIND_NAMES.get(asset.kind, asset.kind.value.replace("_", " "))
    return f"{kind} '{asset.name}'"


def cap(text: str) -> str:
    """``text`` with its first letter upper-case (the rest untouched, unlike capitalize)."""
    return text[:1].upper() + text[1:]


_SPLIT = re.compile(r"[^0-9a-z]+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def words(text: str) -> list[str]:
    """Lower-case words of an identifier (``send_email``, ``runShell``, ``@org/server-fs``)."""
    return [w for w in _SPLIT.split(_CAMEL.sub(" ", text).casefold()) if w]


# --- deployment context ------------------------------------------------------------------


@dataclass(frozen=True)
class Context:
    """Where an asset is used: its own facts and those of the assets that use it.

    Attributes:
        prod: It or a direct user runs in production.
        customer_facing: It or a direct user carries the ``customer-facing`` tag.
        critical: It or a direct user carries the ``critical`` tag.
        sensitivity: Highest known data sensitivity rank among them (-1 when unknown).
        why: Short phrases naming which asset gave which fact.
    """

    prod: bool = False
    customer_facing: bool = False
    critical: bool = False
    sensitivity: int = -1
    why: tuple[str, ...] = field(default=())

    @property
    def exposed(self) -> bool:
        """In production, customer-facing or critical."""
        return self.prod or self.customer_facing or self.critical

    @property
    def sensitive(self) -> bool:
        """Handles confidential or restricted data."""
        return self.sensitivity >= CONFIDENTIAL

    def explain(self) -> str:
        """The facts as one clause (empty when there are none)."""
        return "; ".join(self.why)


def context(graph: EstateGraph, asset: Asset, *, extra: Sequence[Asset] = ()) -> Context:
    """The deployment context of ``asset``: itself plus the applications, notebooks and
    agents directly related to it (and ``extra`` assets), over current relations."""
    others: dict[str, Asset] = {}
    for n in graph.neighbours(asset.id):
        if n.asset.kind in CONSUMER_KINDS and n.asset.id != asset.id:
            others.setdefault(n.asset.id, n.asset)
    for a in extra:
        if a.id != asset.id:
            others.setdefault(a.id, a)
    prod = customer = critical = False
    rank = -1
    why: list[str] = []
    for a in [asset, *sorted(others.values(), key=lambda o: (o.name, o.id))]:
        facts = []
        if a.environment == Environment.PROD:
            prod = True
            facts.append("in production")
        if has_tag(a, "customer-facing"):
            customer = True
            facts.append("customer-facing")
        if has_tag(a, "critical"):
            critical = True
            facts.append("critical")
        r = sensitivity_rank(a)
        if r >= CONFIDENTIAL:
            facts.append(f"handles {a.data_sensitivity.value} data")
        rank = max(rank, r)
        if facts:
            who = "it is" if a.id == asset.id else f"{label(a)} is"
            why.append(f"{who} {', '.join(facts)}")
    return Context(prod, customer, critical, rank, tuple(why[:5]))


# --- evidence ----------------------------------------------------------------------------


def pick_evidence(*groups: Iterable[Evidence], limit: int = 5) -> list[Evidence]:
    """Up to ``limit`` distinct pieces of evidence, in order, from several sources."""
    out: list[Evidence] = []
    seen: set[tuple[object, ...]] = set()
    for group in groups:
        for ev in group:
            if not isinstance(ev, Evidence):
                continue
            key = ev.identity()
            if key in seen:
                continue
            seen.add(key)
            out.append(ev)
            if len(out) >= limit:
                return out
    return out


def relation_evidence(neighbours: Iterable[Neighbour]) -> list[Evidence]:
    """The evidence of the relations of ``neighbours``, flattened."""
    return [ev for n in neighbours for ev in n.relation.evidence]


# --- hosts -------------------------------------------------------------------------------

_INTERNAL_SUFFIXES = (
    ".localhost",
    ".local",
    ".internal",
    ".intranet",
    ".lan",
    ".corp",
    ".home",
    ".home.arpa",
    ".svc",
    ".cluster.local",
    ".test",
    ".invalid",
)


def split_url(url: str) -> tuple[str, str]:
    """``(scheme, host)`` of a URL, lower-case; empty strings when it does not parse."""
    try:
        parts = urlsplit(url.strip())
        return parts.scheme.lower(), (parts.hostname or "").lower().rstrip(".")
    except ValueError:
        return "", ""


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def is_loopback_host(host: str) -> bool:
    """``localhost`` or a loopback address."""
    h = host.strip().lower().rstrip(".")
    if h == "localhost" or h.endswith(".localhost"):
        return True
    ip = _ip(h)
    return ip is not None and ip.is_loopback


def is_public_host(host: str) -> bool:
    """Whether a host name or address is reachable from the internet, as far as its name
    tells: not loopback, private, link-local, a single label or an internal suffix."""
    h = host.strip().lower().rstrip(".")
    if not h or is_loopback_host(h):
        return False
    ip = _ip(h)
    if ip is not None:
        return ip.is_global
    return "." in h and not h.endswith(_INTERNAL_SUFFIXES)


# --- per-graph memo ----------------------------------------------------------------------

T = TypeVar("T")


class GraphMemo(Generic[T]):
    """A value computed once per graph (an index over all assets), kept for that graph only.

    Rules are called once per asset; an index that needs every asset is built on the first
    call for a graph and reused for the others, so each call stays O(degree).
    """

    def __init__(self, build: Callable[[EstateGraph], T]) -> None:
        self._build = build
        self._graph: weakref.ref[EstateGraph] | None = None
        self._value: T | None = None

    def get(self, graph: EstateGraph) -> T:
        """The value for ``graph`` (built on first use)."""
        if self._graph is None or self._graph() is not graph or self._value is None:
            self._value = self._build(graph)
            self._graph = weakref.ref(graph)
        return self._value
