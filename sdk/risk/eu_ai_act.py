"""EU AI Act risk tier of each AI system, with the reasoning shown.

The tiers, the prohibited practices of Article 5(1), the high-risk areas of Annex III
and the transparency duties of Article 50 live in ``data/frameworks/eu_ai_act.yaml``
with the use-case keywords that place a system under each. :func:`classify` looks at:

* the **declared use case**: the attribute ``use_case`` (a string or a list) and tags
  ``use_case:<x>`` (``use_case:credit-scoring``); plain tags (``chatbot``,
  ``emotion-recognition``) are read as weaker declarations;
* for a model or an AI service, the use cases of the applications, agents, notebooks
  and endpoints that use it (up to two hops back along ``uses_model``,
  ``calls_service`` and ``serves``): a model used for hiring is part of a hiring
  system;
* the graph: a ``customer-facing`` system that calls a model or an AI service (or a
  model that powers one) talks to people, so it has the transparency duty of Article
  50(1); emotion recognition used on workers or students (a workplace or education
  use case, or a tag ``workplace``/``education``) is the practice Article 5(1)(f) bans.

The tier is the most severe one reached: prohibited, then high-risk, then limited risk
with transparency duties, then minimal. Every reason says which declaration or fact
led where. With no declared use case the system is minimal by default and the reason
says the use case is undeclared. This is a triage aid, not a legal assessment (a
provider may show under Article 6(3) that an Annex III system poses no significant
risk; Annex I product-safety systems are not inferred).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache

from aiposture.models import Asset, AssetKind, RelationKind
from aiposture.risk.frameworks import Framework, FrameworkItem, framework
from aiposture.risk.graph import EstateGraph

__all__ = [
    "AI_SYSTEM_KINDS",
    "Classification",
    "Tier",
    "assess",
    "classify",
    "classify_estate",
    "is_ai_system",
]

#: Asset kinds that can be AI systems in the sense of the Act.
AI_SYSTEM_KINDS = frozenset(
    {AssetKind.APPLICATION, AssetKind.AGENT, AssetKind.MODEL, AssetKind.AI_SERVICE}
)
#: Kinds whose use case a model or service inherits from (they use it).
_CONSUMER_KINDS = frozenset(
    {AssetKind.APPLICATION, AssetKind.AGENT, AssetKind.NOTEBOOK, AssetKind.ENDPOINT}
)
_USE_RELATIONS = (RelationKind.USES_MODEL, RelationKind.CALLS_SERVICE, RelationKind.SERVES)
#: Kinds that take on the use cases of the systems using them.
_INHERITING_KINDS = frozenset({AssetKind.MODEL, AssetKind.AI_SERVICE})
#: What a customer-facing system may call that makes it talk through AI.
_AI_TARGETS = frozenset(
    {AssetKind.MODEL, AssetKind.AI_SERVICE, AssetKind.MODEL_FILE, AssetKind.ENDPOINT}
)
#: Tags that put a system's users at work or in education (for Article 5(1)(f)).
_WORK_OR_SCHOOL_TAGS = frozenset(
    {"workplace", "employees", "employee-facing", "hr", "education", "students", "school"}
)
_WORK_OR_SCHOOL_AREAS = frozenset({"annex-iii-3", "annex-iii-4"})
_EMOTION = "emotion-recognition"
_CUSTOMER_FACING = "customer-facing"
_USE_CASE_TAG = re.compile(r"^use[_-]case:", re.IGNORECASE)
_SPLIT = re.compile(r"[^a-z0-9]+")


class Tier(StrEnum):
    """EU AI Act risk tier, from least to most severe."""

    MINIMAL_RISK = "minimal-risk"
    LIMITED_RISK = "limited-risk"
    HIGH_RISK = "high-risk"
    PROHIBITED = "prohibited"

    @property
    def rank(self) -> int:
        """Position in the order minimal < limited < high < prohibited."""
        return list(Tier).index(self)

    @property
    def label(self) -> str:
        """How the tier reads in a sentence."""
        return _TIER_LABEL[self]


_TIER_LABEL = {
    Tier.MINIMAL_RISK: "minimal risk",
    Tier.LIMITED_RISK: "limited risk with transparency duties",
    Tier.HIGH_RISK: "high-risk",
    Tier.PROHIBITED: "a prohibited practice",
}


@dataclass(frozen=True)
class Classification:
    """The tier of one AI system and why.

    Attributes:
        asset_id: The system.
        tier: Its tier.
        reasons: Why, most decisive first.
        items: EU AI Act items that apply (``eu-ai-act:annex-iii-4`` ...), most severe first.
    """

    asset_id: str
    tier: Tier
    reasons: list[str] = field(default_factory=list)
    items: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Declaration:
    use_case: str
    tokens: tuple[str, ...]
    source: str
    strong: bool


@dataclass(frozen=True)
class _Match:
    item: FrameworkItem
    tier: Tier
    reason: str
    keyword: str = ""


def _tokens(text: str) -> tuple[str, ...]:
    return tuple(t for t in _SPLIT.split(text.casefold()) if t)


def _declared(asset: Asset) -> list[_Declaration]:
    """Use cases the asset declares itself: attribute, use_case tags, then plain tags."""
    out: list[_Declaration] = []
    raw = asset.attributes.get("use_case")
    values = raw if isinstance(raw, list) else [raw] if raw is not None else []
    for v in values:
        text = str(v).strip()
        if text:
            out.append(_Declaration(text, _tokens(text), "attribute use_case", True))
    for tag in asset.tags:
        if _USE_CASE_TAG.match(tag):
            text = tag.split(":", 1)[1].strip()
            if text:
                out.append(_Declaration(text, _tokens(text), f"tag {tag}", True))
    for tag in asset.tags:
        if ":" not in tag and tag.strip():
            out.append(_Declaration(tag.strip(), _tokens(tag), f"tag {tag.strip()}", False))
    return out


def _consumers(asset: Asset, graph: EstateGraph) -> list[Asset]:
    """Applications, agents, notebooks and endpoints using a model or service (two hops)."""
    seen = {asset.id}
    frontier = [asset.id]
    found: list[Asset] = []
    for _ in range(2):
        nxt: list[str] = []
        for aid in frontier:
            for n in graph.into(aid, *_USE_RELATIONS):
                if n.asset.id in seen:
                    continue
                seen.add(n.asset.id)
                nxt.append(n.asset.id)
                if n.asset.kind in _CONSUMER_KINDS:
                    found.append(n.asset)
        frontier = nxt
    return found


def _tier_of(fw: Framework, it: FrameworkItem) -> Tier:
    for cur in (it, *fw.ancestors(it.id)):
        if cur.kind == "tier":
            return Tier(cur.id)
    return Tier.MINIMAL_RISK


def _label(it: FrameworkItem) -> str:
    """``Annex III point 4 (Employment, ...)``, ``Article 5(1)(c) (Social scoring)``."""
    ident = it.id
    if m := re.fullmatch(r"annex-iii-(\d+)", ident):
        ref = f"Annex III point {m.group(1)}"
    elif m := re.fullmatch(r"art-(\d+)\.(\d+)\.([a-z])", ident):
        ref = f"Article {m.group(1)}({m.group(2)})({m.group(3)})"
    elif m := re.fullmatch(r"art-(\d+)\.(\d+)", ident):
        ref = f"Article {m.group(1)}({m.group(2)})"
    else:
        return it.name
    return f"{ref} ({it.name})"


@dataclass(frozen=True)
class _Index:
    """Keyword and exclusion phrases (as token tuples) to the items that list them."""

    keywords: dict[tuple[str, ...], list[tuple[FrameworkItem, str]]]
    exclusions: dict[tuple[str, ...], list[tuple[FrameworkItem, str]]]
    longest: int


@cache
def _index() -> _Index:
    fw = framework("eu-ai-act")
    kws: dict[tuple[str, ...], list[tuple[FrameworkItem, str]]] = {}
    excl: dict[tuple[str, ...], list[tuple[FrameworkItem, str]]] = {}
    longest = 1
    for it in fw.items:
        for k in it.keywords:
            kws.setdefault(_tokens(k), []).append((it, k))
            longest = max(longest, len(_tokens(k)))
        for e in it.exclusions:
            excl.setdefault(_tokens(e), []).append((it, e))
            longest = max(longest, len(_tokens(e)))
    return _Index(kws, excl, longest)


def _phrases(tokens: tuple[str, ...], longest: int) -> list[tuple[str, ...]]:
    """Every run of up to ``longest`` consecutive tokens."""
    return [
        tokens[i : i + n]
        for n in range(1, min(longest, len(tokens)) + 1)
        for i in range(len(tokens) - n + 1)
    ]


def _match_declarations(
    fw: Framework, decls: Iterable[_Declaration], via: str = ""
) -> tuple[list[_Match], list[str], set[str]]:
    """Matches of declarations against keyword items, exclusion notes, matched use cases."""
    idx = _index()
    matches: list[_Match] = []
    notes: list[str] = []
    matched: set[str] = set()
    for d in decls:
        phrases = _phrases(d.tokens, idx.longest)
        excluded: dict[str, str] = {}
        found: dict[str, tuple[FrameworkItem, str]] = {}
        for ph in phrases:
            for it, e in idx.exclusions.get(ph, ()):
                excluded.setdefault(it.id, e)
            for it, k in idx.keywords.get(ph, ()):
                found.setdefault(it.id, (it, k))
        for item_id, e in excluded.items():
            it = fw.item(item_id)
            notes.append(
                f"{via}{d.source} declares {d.use_case!r}, which {_label(it)} leaves out "
                f"({e}): not counted under it"
            )
            matched.add(d.use_case)
        for item_id, (it, kw) in found.items():
            if item_id in excluded:
                continue
            tier = _tier_of(fw, it)
            matched.add(d.use_case)
            what = (
                f"declared use case {d.use_case!r} ({d.source})"
                if d.strong
                else f"tag {d.use_case!r}"
            )
            if tier is Tier.MINIMAL_RISK:
                reason = f"{via}{what} is a minimal-risk use"
            else:
                reason = f"{via}{what} falls under {_label(it)}: {tier.label}"
            matches.append(_Match(it, tier, reason, kw))
    return matches, notes, matched


def is_ai_system(asset: Asset, graph: EstateGraph | None = None) -> bool:
    """Whether the asset is an AI system the Act can classify (a current app, agent,
    model or AI service)."""
    return asset.kind in AI_SYSTEM_KINDS and not asset.stale


def assess(asset: Asset, graph: EstateGraph) -> Classification:
    """The tier of an AI system with its reasons and the EU AI Act items that apply.

    Raises:
        ValueError: The asset is not an AI system (see :func:`is_ai_system`).
    """
    if not is_ai_system(asset, graph):
        raise ValueError(
            f"{asset.kind.value} {asset.name!r} is not an AI system the EU AI Act classifies"
            f" (kinds: {', '.join(sorted(k.value for k in AI_SYSTEM_KINDS))}; not stale)"
        )
    fw = framework("eu-ai-act")
    own = _declared(asset)
    matches, notes, matched = _match_declarations(fw, own)

    consumers = _consumers(asset, graph) if asset.kind in _INHERITING_KINDS else []
    inherited_strong: list[_Declaration] = []
    for c in consumers:
        decls = [d for d in _declared(c) if d.strong]
        inherited_strong.extend(decls)
        via = f"used by {c.kind.value} {c.name!r}, whose "
        m2, n2, _ = _match_declarations(fw, decls, via=via)
        matches.extend(m2)
        notes.extend(n2)

    # Article 5(1)(f): emotion recognition on workers or students.
    context_tags = {t.casefold() for t in asset.tags}
    for c in consumers:
        context_tags.update(t.casefold() for t in c.tags)
    emotion = [m for m in matches if m.keyword == _EMOTION]
    work_or_school = sorted(context_tags & _WORK_OR_SCHOOL_TAGS) or sorted(
        {m.item.name for m in matches if m.item.id in _WORK_OR_SCHOOL_AREAS}
    )
    if emotion and work_or_school:
        banned = fw.item("art-5.1.f")
        matches.append(
            _Match(
                banned,
                Tier.PROHIBITED,
                f"emotion recognition is used in a work or education setting "
                f"({', '.join(work_or_school)}): {_label(banned)}, {Tier.PROHIBITED.label}",
            )
        )

    # Article 50(1): customer-facing systems that talk through a model or AI service.
    duty = fw.item("art-50.1")
    if _CUSTOMER_FACING in {t.casefold() for t in asset.tags}:
        ai = [
            n.asset
            for n in graph.out(asset.id, RelationKind.USES_MODEL, RelationKind.CALLS_SERVICE)
            if n.asset.kind in _AI_TARGETS
        ]
        if ai:
            names = ", ".join(f"{a.kind.value} {a.name!r}" for a in ai[:3])
            matches.append(
                _Match(
                    duty,
                    Tier.LIMITED_RISK,
                    f"tagged customer-facing and calls {names}: people who interact with it "
                    f"must be told it is an AI system, {_label(duty)}: {Tier.LIMITED_RISK.label}",
                )
            )
        elif asset.kind in (AssetKind.AGENT, AssetKind.MODEL, AssetKind.AI_SERVICE):
            matches.append(
                _Match(
                    duty,
                    Tier.LIMITED_RISK,
                    f"tagged customer-facing and is itself an AI {asset.kind.value}: people who "
                    f"interact with it must be told it is an AI system, {_label(duty)}: "
                    f"{Tier.LIMITED_RISK.label}",
                )
            )
    facing = [c for c in consumers if _CUSTOMER_FACING in {t.casefold() for t in c.tags}]
    if facing:
        c = facing[0]
        matches.append(
            _Match(
                duty,
                Tier.LIMITED_RISK,
                f"powers customer-facing {c.kind.value} {c.name!r}: the people it talks to must "
                f"be told they interact with an AI system, {_label(duty)}: "
                f"{Tier.LIMITED_RISK.label}",
            )
        )

    return _conclude(asset, fw, own, inherited_strong, matches, notes, matched)


def _conclude(
    asset: Asset,
    fw: Framework,
    own: list[_Declaration],
    inherited: list[_Declaration],
    matches: list[_Match],
    notes: list[str],
    matched: set[str],
) -> Classification:
    tier = max((m.tier for m in matches), key=lambda t: t.rank, default=Tier.MINIMAL_RISK)
    ordered = sorted(matches, key=lambda m: -m.tier.rank)
    reasons = list(dict.fromkeys(m.reason for m in ordered if m.tier is not Tier.MINIMAL_RISK))
    strong = [d for d in own if d.strong]
    if tier is Tier.MINIMAL_RISK:
        minimal = [m.reason for m in ordered if m.tier is Tier.MINIMAL_RISK]
        if minimal:
            reasons.extend(dict.fromkeys(minimal))
        elif not strong and not inherited:
            reasons.append(
                "use case undeclared (no attribute use_case or tag use_case:<x>, and no "
                "sign in its tags or in the systems using it): minimal risk by default; "
                "declare the use case to confirm"
            )
        else:
            declared = [d.use_case for d in (*strong, *inherited)]
            unmatched = [u for u in declared if u not in matched] or declared
            listed = ", ".join(repr(u) for u in dict.fromkeys(unmatched))
            reasons.append(
                f"declared use case {listed} matches no prohibited practice, Annex III "
                "high-risk area or transparency duty: minimal risk"
            )
    reasons.extend(dict.fromkeys(notes))
    items = list(dict.fromkeys(m.item.tag for m in ordered if m.tier is not Tier.MINIMAL_RISK))
    if not items:
        items = [fw.item(tier.value).tag]
    return Classification(asset.id, tier, list(dict.fromkeys(reasons)), items)


def classify(asset: Asset, graph: EstateGraph) -> tuple[Tier, list[str]]:
    """The EU AI Act tier of an AI system and the reasons for it (see the module docs).

    Raises:
        ValueError: The asset is not an AI system (see :func:`is_ai_system`).
    """
    c = assess(asset, graph)
    return c.tier, list(c.reasons)


def classify_estate(graph: EstateGraph) -> dict[str, Classification]:
    """The classification of every current AI system of the graph, by asset id."""
    return {
        a.id: assess(a, graph)
        for a in graph.of_kind(*sorted(AI_SYSTEM_KINDS, key=lambda k: k.value))
        if is_ai_system(a, graph)
    }
