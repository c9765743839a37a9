"""The frameworks auditors ask about, as versioned data, and the coverage view.

The knowledge lives in ``aiposture/data/frameworks/`` (one YAML file per framework,
with its name, version, source and publication date; the header of ``atlas.yaml``
explains the fields); this module validates the files once and answers:

* which framework item a tag names (:func:`item`, :func:`framework_of`), and which tags
  name nothing (:func:`validate_tags`, used by a test over every rule);
* which controls address an item, and which controls an estate has
  (:func:`controls_of`, :func:`estate_controls`);
* the **coverage** of a framework by an estate (:func:`coverage`): for every item, the
  controls that address it, those present, and the open findings that map to it by
  severity, with a status.

Tags
====

Findings and rules carry framework items as tags ``<framework>:<id>``:
``owasp-llm:LLM03`` (OWASP Top 10 for LLM Applications 2025), ``atlas:AML.T0010``
(MITRE ATLAS), ``nist-ai-rmf:GOVERN-1.6`` (NIST AI RMF 1.0), ``eu-ai-act:annex-iii-4``
(EU AI Act), plus ``cwe:<n>``. Ids are matched without regard to case. An item's
parent (a sub-technique's technique, a subcategory's category) counts every finding
on its children.

Controls
========

Until policies and monitoring are modelled, a control is a tag ``control:<name>`` on
an asset (names in :data:`CONTROLS`), or something the estate shows by itself: a
``dataset_index`` that ``contains`` a dataset a model is ``trained_on`` (leakage
index), an MCP server sending an authentication header (authentication), a model file
in a format that cannot run code (safe serialization), a pinned MCP package, a named
owner, a model card, traffic seen in egress logs (egress monitoring).

Coverage status
===============

``open findings`` when at least one open (or acknowledged) current finding maps to the
item; else ``addressed`` when at least one control that addresses it is present in the
estate; else ``not covered``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from aiposture.errors import ConfigError, NotFoundError
from aiposture.models import Asset, AssetKind, Finding, RelationKind, Severity, escape
from aiposture.risk.graph import ACTIVE_STATUSES, EstateGraph

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "CONTROLS",
    "FRAMEWORK_FILES",
    "Coverage",
    "CoverageRow",
    "CoverageStatus",
    "Framework",
    "FrameworkItem",
    "controls_of",
    "coverage",
    "estate_controls",
    "framework",
    "framework_of",
    "frameworks",
    "graph_coverage",
    "item",
    "load_framework_file",
    "matches",
    "split_tag",
    "validate_tags",
]

#: The controls aiposture knows, by name, with what each one means.
CONTROLS: dict[str, str] = {
    "access-policy": "A policy restricts who may use or query the asset.",
    "rate-limit": "Requests per caller are capped.",
    "output-monitoring": "Model outputs are logged and checked (for leaks, abuse, drift).",
    "leakage-index": "A leakage index of the training data checks outputs for memorised data.",
    "approval": "A named person approved it, or an agent's risky actions need approval.",
    "authentication": "Callers must authenticate.",
    "guardrail": "Inputs and outputs pass a filter (prompt injection, unsafe content).",
    "safe-serialization": "Model files are in a format that cannot run code when loaded.",
    "pinned-dependencies": "Packages, models and tools are pinned to a verified version.",
    "secret-management": "Credentials come from a secret store, not from code or config.",
    "inventory": "The asset is in the AI inventory.",
    "owner": "Someone is named as responsible for the asset.",
    "model-card": "A model card documents purpose, data, limits and evaluation.",
    "data-provenance": "Where training and retrieval data come from is recorded and checked.",
    "human-oversight": "A person can monitor, override or stop the system's decisions.",
    "transparency-notice": "People are told they interact with AI or see AI-made content.",
    "egress-monitoring": "Traffic to AI services is logged and reviewed.",
}

#: Framework data files by tag prefix, in ``aiposture/data/frameworks/``.
FRAMEWORK_FILES: dict[str, str] = {
    "owasp-llm": "owasp_llm_2025.yaml",
    "atlas": "atlas.yaml",
    "nist-ai-rmf": "nist_ai_rmf.yaml",
    "eu-ai-act": "eu_ai_act.yaml",
}

#: Tag prefix of an asset-level control.
CONTROL_TAG = "control:"
#: Model file formats that hold tensors only and run no code when loaded.
SAFE_MODEL_FORMATS = frozenset({"safetensors", "gguf", "onnx"})
#: Header names (lower case) that carry credentials to an MCP server.
AUTH_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "x-api-key", "api-key", "x-auth-token"}
)

_KEBAB = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_PREFIX = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_CWE = re.compile(r"\d+")
_DATE = re.compile(r"\d{4}(?:-\d{2}(?:-\d{2})?)?")


class FrameworkItem(BaseModel):
    """One item of a framework: an OWASP risk, an ATLAS technique, a NIST subcategory...

    Attributes:
        id: The framework's identifier (``LLM03``, ``AML.T0010``, ``GOVERN-1.6``).
        name: The framework's name for it.
        description: One sentence in aiposture's words.
        kind: Grouping (``technique``, ``sub-technique``, ``function``, ``tier``...).
        parent: The item it refines; findings on it count for the parent too.
        controls: Controls (:data:`CONTROLS`) that address it.
        aliases: Earlier names.
        keywords: Use cases that place a system under it (EU AI Act).
        exclusions: Use cases the provision carves out (EU AI Act).
        framework: Tag prefix of its framework (set by the loader).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    description: str = Field(min_length=1)
    kind: str = "item"
    parent: str | None = None
    controls: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    exclusions: tuple[str, ...] = ()
    framework: str = ""

    @field_validator("controls")
    @classmethod
    def _known_controls(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [c for c in v if c not in CONTROLS]
        if unknown:
            raise ValueError(
                f"unknown control(s) {', '.join(unknown)}; known: {', '.join(sorted(CONTROLS))}"
            )
        return v

    @field_validator("keywords", "exclusions")
    @classmethod
    def _kebab_keywords(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        bad = [k for k in v if not _KEBAB.fullmatch(k)]
        if bad:
            raise ValueError(f"keywords must be kebab-case: {', '.join(bad)}")
        return v

    @property
    def tag(self) -> str:
        """The tag findings use for this item (``owasp-llm:LLM03``)."""
        return f"{self.framework}:{self.id}"


class Framework(BaseModel):
    """One framework at one version, with its items.

    Attributes:
        key: Tag prefix (``owasp-llm``, ``atlas``, ``nist-ai-rmf``, ``eu-ai-act``).
        name: Full name.
        version: The edition the data follows.
        source_url: Where the framework is published.
        published: When that edition was published (``YYYY[-MM[-DD]]``).
        notes: Caveats about the data.
        items: Every item, in the file's order.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    format: Literal[1] = 1
    key: str = Field(alias="framework")
    name: str = Field(min_length=1)
    version: str = Field(min_length=1)
    source_url: str = Field(pattern=r"^https://\S+$")
    published: str
    notes: str | None = None
    items: tuple[FrameworkItem, ...] = Field(min_length=1)

    _index: dict[str, FrameworkItem] = PrivateAttr(default_factory=dict)
    _children: dict[str, list[FrameworkItem]] = PrivateAttr(default_factory=dict)

    @field_validator("key")
    @classmethod
    def _prefix(cls, v: str) -> str:
        if not _PREFIX.fullmatch(v):
            raise ValueError(f"framework key {v!r} must be lower-case kebab-case")
        return v

    @field_validator("published", mode="before")
    @classmethod
    def _published(cls, v: Any) -> str:
        text = str(v)
        if not _DATE.fullmatch(text):
            raise ValueError(f"published must be YYYY, YYYY-MM or YYYY-MM-DD, not {text!r}")
        return text

    @model_validator(mode="before")
    @classmethod
    def _stamp_items(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("items"), list):
            key = data.get("framework", data.get("key"))
            data = {
                **data,
                "items": [
                    {**it, "framework": key} if isinstance(it, dict) and key else it
                    for it in data["items"]
                ],
            }
        return data

    @model_validator(mode="after")
    def _consistent(self) -> Framework:
        seen: dict[str, FrameworkItem] = {}
        for it in self.items:
            k = it.id.casefold()
            if k in seen:
                raise ValueError(f"item {it.id!r}: id used twice")
            seen[k] = it
        for it in self.items:
            if it.parent is not None and it.parent.casefold() not in seen:
                raise ValueError(f"item {it.id!r}: parent {it.parent!r} is not an item")
        for it in self.items:
            hops, cur = 0, it
            while cur.parent is not None:
                cur = seen[cur.parent.casefold()]
                hops += 1
                if hops > len(self.items):
                    raise ValueError(f"item {it.id!r}: its parents form a cycle")
        return self

    def model_post_init(self, context: Any, /) -> None:
        """Index items by id and by parent."""
        self._index = {it.id.casefold(): it for it in self.items}
        children: dict[str, list[FrameworkItem]] = {}
        for it in self.items:
            if it.parent is not None:
                children.setdefault(it.parent.casefold(), []).append(it)
        self._children = children

    # --- lookups --------------------------------------------------------------------------

    def get(self, item_id: str) -> FrameworkItem | None:
        """The item with this id (any case), or None."""
        return self._index.get(item_id.strip().casefold())

    def item(self, item_id: str) -> FrameworkItem:
        """The item with this id (any case).

        Raises:
            NotFoundError: The framework has no such item.
        """
        found = self.get(item_id)
        if found is None:
            raise NotFoundError(f"{self.key} has no item {item_id!r}")
        return found

    def __contains__(self, item_id: object) -> bool:
        return isinstance(item_id, str) and self.get(item_id) is not None

    def children(self, item_id: str) -> list[FrameworkItem]:
        """Items whose parent is ``item_id``."""
        return list(self._children.get(item_id.casefold(), ()))

    def ancestors(self, item_id: str) -> list[FrameworkItem]:
        """The parent, grandparent... of an item (nearest first)."""
        out: list[FrameworkItem] = []
        cur = self.get(item_id)
        while cur is not None and cur.parent is not None:
            cur = self.get(cur.parent)
            if cur is not None:
                out.append(cur)
        return out

    def descendants(self, item_id: str) -> list[FrameworkItem]:
        """Every item below ``item_id`` (depth first)."""
        out: list[FrameworkItem] = []
        stack = list(reversed(self.children(item_id)))
        while stack:
            it = stack.pop()
            out.append(it)
            stack.extend(reversed(self.children(it.id)))
        return out

    def depth(self, item_id: str) -> int:
        """0 for a top-level item, 1 for its children, ..."""
        return len(self.ancestors(item_id))

    def controls_for(self, item_id: str) -> list[str]:
        """Controls addressing an item or any item below it, in order of first mention."""
        it = self.item(item_id)
        names = list(it.controls)
        for d in self.descendants(it.id):
            names.extend(d.controls)
        return list(dict.fromkeys(names))

    def tags(self) -> list[str]:
        """The tag of every item."""
        return [it.tag for it in self.items]

    def _repr_html_(self) -> str:
        from aiposture.display import STYLE

        rows = "".join(
            f"<tr><td><code>{escape(it.id)}</code></td><td>{escape(it.name)}</td>"
            f"<td>{escape(it.description)}</td><td>{escape(', '.join(it.controls))}</td></tr>"
            for it in self.items
        )
        return (
            f"{STYLE}<div class='aip'><b>{escape(self.name)}</b> {escape(self.version)} "
            f"<span class='k'>({len(self.items)} items, published {escape(self.published)})</span>"
            "<table><tr><th>id</th><th>name</th><th>description</th><th>controls</th></tr>"
            f"{rows}</table></div>"
        )


# --- loading --------------------------------------------------------------------------------


def _item_label(raw: Any, loc: tuple[int | str, ...]) -> str:
    if len(loc) >= 2 and loc[0] == "items" and isinstance(loc[1], int):
        items = raw.get("items") if isinstance(raw, dict) else None
        if isinstance(items, list) and loc[1] < len(items):
            entry = items[loc[1]]
            if isinstance(entry, dict) and entry.get("id"):
                return f"item {entry['id']!r}"
        return f"item #{loc[1] + 1}"
    return ""


def load_framework_file(path: str | Path | Traversable, *, label: str | None = None) -> Framework:
    """Read and validate one framework file.

    Args:
        path: The YAML file.
        label: Name used in error messages (default: the file name).

    Raises:
        ConfigError: The file cannot be read, is not YAML, or breaks the format; the
            message names the file and, where it can, the item.
    """
    src: Traversable = Path(path) if isinstance(path, str | Path) else path
    name = label or src.name
    try:
        raw = yaml.safe_load(src.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{name}: cannot read framework file: {exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{name}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{name}: a framework file must be a mapping")
    try:
        return Framework.model_validate(raw)
    except ValidationError as exc:
        errors = exc.errors()
        item_errors = any(len(e["loc"]) > 1 and e["loc"][0] == "items" for e in errors)
        problems = []
        for err in errors:
            loc = tuple(err["loc"])
            if item_errors and loc == ("items",) and err["type"] == "too_short":
                continue  # a consequence of the item errors reported below
            where = _item_label(raw, loc)
            field_ = (
                ".".join(str(p) for p in loc[2:] if isinstance(p, str))
                if where
                else ".".join(str(p) for p in loc)
            )
            msg = str(err["msg"]).removeprefix("Value error, ")
            problems.append(": ".join(p for p in (where, field_, msg) if p))
        raise ConfigError(f"{name}: {'; '.join(problems)}") from None


@cache
def frameworks() -> dict[str, Framework]:
    """Every built-in framework by tag prefix (loaded and validated once).

    Raises:
        ConfigError: A data file is missing or invalid, or two files use one prefix.
    """
    folder = files("aiposture.data").joinpath("frameworks")
    out: dict[str, Framework] = {}
    for key, filename in FRAMEWORK_FILES.items():
        fw = load_framework_file(folder.joinpath(filename), label=f"frameworks/{filename}")
        if fw.key != key:
            raise ConfigError(
                f"frameworks/{filename}: declares framework {fw.key!r}, expected {key!r}"
            )
        out[key] = fw
    return out


def framework(key: str) -> Framework:
    """The framework with this tag prefix (``owasp-llm``, ``atlas``...).

    Raises:
        NotFoundError: No framework has that prefix.
    """
    fw = frameworks().get(key.strip().casefold())
    if fw is None:
        raise NotFoundError(f"unknown framework {key!r}; known: {', '.join(frameworks())}")
    return fw


def split_tag(tag: str) -> tuple[str, str] | None:
    """``("owasp-llm", "LLM03")`` for ``owasp-llm:LLM03``; None for a tag without a prefix."""
    prefix, sep, rest = tag.strip().partition(":")
    if not sep or not prefix or not rest:
        return None
    return prefix.casefold(), rest.strip()


def framework_of(tag: str) -> Framework | None:
    """The framework a tag belongs to (by its prefix), or None."""
    parts = split_tag(tag)
    return frameworks().get(parts[0]) if parts else None


def item(tag: str) -> FrameworkItem | None:
    """The framework item a tag names (``atlas:AML.T0010``), or None."""
    parts = split_tag(tag)
    if parts is None:
        return None
    fw = frameworks().get(parts[0])
    return fw.get(parts[1]) if fw is not None else None


def validate_tags(tags: Iterable[str]) -> list[str]:
    """Framework tags that name nothing, in order (empty when all are known).

    A tag with a framework prefix must name an item of that framework; a ``cwe:`` tag
    must be ``cwe:<number>``. Tags without a known prefix (``customer-facing``,
    ``mcp-client:claude``) are not framework tags and are not checked.
    """
    bad: list[str] = []
    for tag in tags:
        parts = split_tag(tag)
        if parts is None:
            continue
        prefix, ident = parts
        if prefix == "cwe":
            if not _CWE.fullmatch(ident):
                bad.append(tag)
        elif prefix in frameworks() and item(tag) is None:
            bad.append(tag)
    return list(dict.fromkeys(bad))


def matches(tags: Iterable[str], selector: str) -> bool:
    """Whether any tag falls under ``selector``.

    ``selector`` is a framework (``owasp-llm``: any of its items) or an item
    (``atlas:AML.T0024``: that item or any item below it, such as ``AML.T0024.002``).

    Raises:
        NotFoundError: The selector names no framework or item.
    """
    sel = selector.strip()
    if ":" not in sel:
        fw = framework(sel)
        return any((p := split_tag(t)) is not None and p[0] == fw.key for t in tags)
    target = item(sel)
    if target is None:
        raise NotFoundError(f"{selector!r} names no framework item")
    fw = framework(target.framework)
    for t in tags:
        it = item(t)
        if it is None or it.framework != fw.key:
            continue
        if it.id == target.id or any(a.id == target.id for a in fw.ancestors(it.id)):
            return True
    return False


# --- controls in the estate -------------------------------------------------------------------


def controls_of(asset: Asset, graph: EstateGraph | None = None) -> dict[str, str]:
    """The controls an asset has, each with how it was found.

    Args:
        asset: The asset.
        graph: The estate graph, for controls shown by relations (leakage index).
    """
    found: dict[str, str] = {"inventory": "in the aiposture inventory"}
    for tag in asset.tags:
        if tag.casefold().startswith(CONTROL_TAG):
            name = tag[len(CONTROL_TAG) :].strip().casefold()
            if name:
                found.setdefault(name, f"tagged {tag}")
    if asset.owner:
        found.setdefault("owner", f"owner {asset.owner}")
    if asset.attributes.get("model_card"):
        found.setdefault("model-card", "has a model card")
    attrs = asset.attributes
    if asset.kind is AssetKind.MODEL_FILE and str(attrs.get("format", "")) in SAFE_MODEL_FORMATS:
        found.setdefault("safe-serialization", f"stored as {attrs['format']}")
    if asset.kind is AssetKind.MCP_SERVER:
        if attrs.get("pinned") is True:
            found.setdefault("pinned-dependencies", "its package is pinned to a version")
        headers = attrs.get("headers")
        if isinstance(headers, list):
            auth = sorted({str(h) for h in headers if str(h).casefold() in AUTH_HEADERS})
            if auth:
                found.setdefault("authentication", f"sends header {auth[0]}")
    if attrs.get("authenticated") is True:
        found.setdefault("authentication", "requires authentication")
    if any(e.usage is not None for e in asset.evidence):
        found.setdefault("egress-monitoring", "its traffic is seen in egress logs")
    if graph is not None and asset.kind in (AssetKind.MODEL, AssetKind.MODEL_FILE):
        for n in graph.out(asset.id, RelationKind.TRAINED_ON):
            for idx in graph.into(n.asset.id, RelationKind.CONTAINS):
                if idx.asset.kind is AssetKind.DATASET_INDEX:
                    found.setdefault(
                        "leakage-index", f"{idx.asset.name} indexes training data {n.asset.name}"
                    )
    return found


def estate_controls(graph: EstateGraph) -> dict[str, int]:
    """How many current assets have each control, by control name."""
    counts: dict[str, int] = {}
    for asset in graph.of_kind():
        for name in controls_of(asset, graph):
            counts[name] = counts.get(name, 0) + 1
    return counts


# --- coverage ----------------------------------------------------------------------------------


class CoverageStatus(StrEnum):
    """Where a framework item stands in an estate."""

    OPEN_FINDINGS = "open findings"
    ADDRESSED = "addressed"
    NOT_COVERED = "not covered"


_SEVERITIES = [s.value for s in reversed(Severity)]


@dataclass(frozen=True)
class CoverageRow:
    """One framework item in the coverage view.

    Attributes:
        framework: Tag prefix of the framework.
        item: The item.
        depth: 0 for a top-level item, 1 below it, ...
        controls: Controls that address the item or an item below it.
        present: Those of ``controls`` the estate has.
        findings: Open findings mapping to it (or to an item below it), by severity.
        finding_ids: Their ids.
        status: Open findings, addressed, or not covered.
    """

    framework: str
    item: FrameworkItem
    depth: int
    controls: tuple[str, ...]
    present: tuple[str, ...]
    findings: dict[str, int]
    finding_ids: tuple[str, ...]
    status: CoverageStatus

    @property
    def open_findings(self) -> int:
        """Number of open findings mapping to the item."""
        return sum(self.findings.values())

    @property
    def missing(self) -> tuple[str, ...]:
        """Controls that would address the item but are absent."""
        return tuple(c for c in self.controls if c not in self.present)


@dataclass
class Coverage:
    """The coverage of one or more frameworks by an estate (see the module docs)."""

    rows: list[CoverageRow] = field(default_factory=list)

    def __iter__(self) -> Iterator[CoverageRow]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def row(self, tag: str) -> CoverageRow:
        """The row of one item, by tag (``owasp-llm:LLM03``).

        Raises:
            NotFoundError: No row for that tag.
        """
        it = item(tag)
        for r in self.rows:
            if it is not None and r.item.tag == it.tag:
                return r
        raise NotFoundError(f"no coverage row for {tag!r}")

    def for_framework(self, key: str) -> Coverage:
        """The rows of one framework."""
        fw = framework(key)
        return Coverage([r for r in self.rows if r.framework == fw.key])

    def summary(self) -> dict[str, dict[str, int]]:
        """Per framework, how many items have each status."""
        out: dict[str, dict[str, int]] = {}
        for r in self.rows:
            counts = out.setdefault(r.framework, {s.value: 0 for s in CoverageStatus})
            counts[r.status.value] += 1
        return out

    def to_pandas(self) -> pd.DataFrame:
        """One row per item: status, controls, present, missing, open findings by severity."""
        import pandas as pd

        records = []
        for r in self.rows:
            rec: dict[str, Any] = {
                "framework": r.framework,
                "item": r.item.id,
                "name": r.item.name,
                "kind": r.item.kind,
                "status": r.status.value,
                "controls": list(r.controls),
                "present": list(r.present),
                "missing": list(r.missing),
                "open_findings": r.open_findings,
            }
            rec.update({s: r.findings.get(s, 0) for s in _SEVERITIES})
            records.append(rec)
        columns = [
            "framework",
            "item",
            "name",
            "kind",
            "status",
            "controls",
            "present",
            "missing",
            "open_findings",
            *_SEVERITIES,
        ]
        return pd.DataFrame.from_records(records, columns=columns)

    def __repr__(self) -> str:
        counts = "; ".join(
            f"{key}: " + ", ".join(f"{n} {s}" for s, n in c.items() if n)
            for key, c in self.summary().items()
        )
        return f"<Coverage of {len(self.rows)} items ({counts})>"

    def _repr_html_(self) -> str:
        from aiposture.display import STYLE

        badge = {
            CoverageStatus.OPEN_FINDINGS: "b-bad",
            CoverageStatus.ADDRESSED: "b-ok",
            CoverageStatus.NOT_COVERED: "b-muted",
        }
        parts = [f"{STYLE}<div class='aip'>"]
        for key, counts in self.summary().items():
            fw = framework(key)
            summary = ", ".join(f"{v} {k}" for k, v in counts.items())
            parts.append(
                f"<p><b>{escape(fw.name)}</b> {escape(fw.version)} "
                f"<span class='k'>({escape(summary)})</span></p>"
                "<table><tr><th>item</th><th>name</th><th>status</th><th>open findings</th>"
                "<th>controls present</th><th>controls missing</th></tr>"
            )
            for r in self.rows:
                if r.framework != key:
                    continue
                sev = ", ".join(f"{v} {k}" for k, v in r.findings.items() if v)
                indent = "&nbsp;&nbsp;" * r.depth
                parts.append(
                    f"<tr><td>{indent}<code>{escape(r.item.id)}</code></td>"
                    f"<td>{escape(r.item.name)}</td>"
                    f"<td><span class='b {badge[r.status]}'>{escape(r.status.value)}</span></td>"
                    f"<td>{escape(sev)}</td><td>{escape(', '.join(r.present))}</td>"
                    f"<td>{escape(', '.join(r.missing))}</td></tr>"
                )
            parts.append("</table>")
        parts.append("</div>")
        return "".join(parts)


def _open(f: Finding) -> bool:
    return not f.stale and f.status in ACTIVE_STATUSES


def coverage(
    findings: Iterable[Finding],
    controls_present: Iterable[str] | Mapping[str, int],
    framework_key: str | None = None,
) -> Coverage:
    """The coverage view of one framework (or all of them) for an estate.

    Args:
        findings: The estate's findings; only open and acknowledged current ones count.
        controls_present: Controls the estate has: names, or names with how many assets
            have them (as :func:`estate_controls` returns; a count of 0 means absent).
        framework_key: A framework's tag prefix; every framework when None.

    Returns:
        One row per item, in each framework's order.

    Raises:
        NotFoundError: ``framework_key`` names no framework.
    """
    if isinstance(controls_present, Mapping):
        present = {str(k) for k, v in controls_present.items() if v}
    else:
        present = {str(c) for c in controls_present}
    selected = [framework(framework_key)] if framework_key else list(frameworks().values())
    wanted = {fw.key for fw in selected}

    # finding ids per item tag, rolled up to every ancestor
    hits: dict[str, dict[str, Finding]] = {}
    for f in findings:
        if not _open(f):
            continue
        for tag in f.tags:
            it = item(tag)
            if it is None or it.framework not in wanted:
                continue
            fw = frameworks()[it.framework]
            for target in (it, *fw.ancestors(it.id)):
                hits.setdefault(target.tag, {})[f.id] = f

    cov = Coverage()
    for fw in selected:
        for it in fw.items:
            addressing = tuple(fw.controls_for(it.id))
            have = tuple(c for c in addressing if c in present)
            mapped = hits.get(it.tag, {})
            by_sev = dict.fromkeys(_SEVERITIES, 0)
            for f in mapped.values():
                by_sev[f.severity.value] += 1
            if mapped:
                status = CoverageStatus.OPEN_FINDINGS
            elif have:
                status = CoverageStatus.ADDRESSED
            else:
                status = CoverageStatus.NOT_COVERED
            cov.rows.append(
                CoverageRow(
                    framework=fw.key,
                    item=it,
                    depth=fw.depth(it.id),
                    controls=addressing,
                    present=have,
                    findings=by_sev,
                    finding_ids=tuple(sorted(mapped)),
                    status=status,
                )
            )
    return cov


def graph_coverage(graph: EstateGraph, framework_key: str | None = None) -> Coverage:
    """:func:`coverage` of an estate graph: its findings and the controls its assets have."""
    return coverage(graph.findings, estate_controls(graph), framework_key)
