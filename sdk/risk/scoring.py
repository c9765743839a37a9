"""The risk model: four explained dimensions, likelihood, impact, a score and a priority.

Every asset gets four scores from 0 to 10. Each is a list of reasons whose points add up
to it exactly (every point is a multiple of 0.25, so the sums are exact); where the
reasons add up to more than 10, a last, negative reason "capped at 10" brings the sum
back to 10.

**Data sensitivity** — the most sensitive data the asset holds, retrieves or processes,
as points: public 1, internal 3, *unknown 5* (not classified counts as a risk in itself,
between internal and confidential), confidential 7.5, restricted 10. Taken as the highest
of:

* the data it holds (:func:`aiposture.risk.controls.held_sensitivity`): its own
  classification, and its training lineage — the datasets it is ``trained_on``, the base
  models it is ``derived_from``, the datasets a ``dataset_index`` ``contains``, up to 3
  relations deep; a credential holds at least confidential data;
* what its direct neighbours hold, one relation away: the caller and the callee of
  ``uses_model``, ``calls_service``, ``serves`` and ``exposes_tool`` (a model processes
  what its callers send; a caller reads what the model holds), both ends of ``contains``
  (a project and what is in it), and for ``declared_in`` the thing declared (a package,
  a credential) gets the data of where it is declared. Only one hop: data does not leak
  from one caller of a shared service to another caller.

**Business impact** — what breaks if it goes wrong:

* environment: production 4, staging 2.5, unknown 2, dev 0.5; the highest of its own
  and of the assets that depend on it (up to two hops, only known environments count);
  an asset seen in use in egress logs is in live use and counts as production;
* ``critical`` tag (its own or of a dependant): 2.5; ``customer-facing`` tag: 2;
* dependent applications (applications, agents and notebooks depending on it within
  two hops): the first 1, the next two 0.5 each, the next four 0.25 each (3 at most).

An asset *depends on* another when it ``uses_model`` / ``calls_service`` /
``exposes_tool`` / is ``trained_on`` / ``derived_from`` / ``contains`` it (a dataset
index aside: it is a control, not a consumer), when the other is ``declared_in`` it, or
when the other ``serves`` it (a model depends on the service that serves it).

**Accessibility** — who can reach it:

* network exposure, the highest of: reachable from the internet (a public host, a
  ``public`` or ``internet-facing`` tag) 4; a third-party AI service (what is sent
  leaves the company) 3; an internal network host 1.5; a local (stdio) MCP server 0.5;
* no authentication on something reachable over the network: 2;
* who queries it through its callers (up to two hops of ``uses_model``,
  ``calls_service``, ``exposes_tool``, ``serves``, ``contains``): anyone on the internet
  3, or customers (its own or a caller's ``customer-facing`` tag) 2;
* people seen using it in egress logs: 0.5 each, 1.5 at most;
* unsanctioned: 3 (an AI service not yet reviewed: 1.5);
* its weights: world-readable file 2, world-writable 1.5, in a public bucket 3;
* a credential: in plain text 4, usable from anywhere 2, printed in a notebook output
  1.5, each further place it was found 0.5 (1 at most).

**Control gap** — the weights of the required controls that are missing
(:mod:`aiposture.risk.controls`: authentication, safe serialization and secret store 3;
leakage index and approval 2; output monitoring, rate limit and access policy 1.5;
guardrail 1; owner 0.5) plus open findings on the asset (open or acknowledged, not
stale): critical 4, high 2.5, medium 1, low 0.5 each, 6 at most in all.

**Combination** (``w`` from :class:`~aiposture.settings.RiskWeights`)::

    likelihood = (w_acc * accessibility + w_gap * control_gap) / (w_acc + w_gap)   # 0-10
    impact     = (w_sens * data_sensitivity + w_biz * business_impact) / (w_sens + w_biz)
    score      = likelihood * impact                                               # 0-100

The priority is the highest of :class:`~aiposture.settings.PriorityThresholds` the score
reaches (by default critical 49, high 30, medium 12, else low), raised to at least *high*
when the asset has an open critical finding and to at least *medium* when it has an open
high one.

**Monotone by construction**: every term only grows with exposure (a higher
classification, production, a ``critical`` or ``customer-facing`` tag, a public host, a
world-readable file, one more dependant, one more open finding) and only shrinks when a
control is added; maxima, capped sums, weighted means with positive weights and the
product of non-negative numbers keep that order. Property tests check it on random
graphs.

**Cost**: :class:`RiskContext` walks the graph once (``O(assets + relations)``) to
propagate sensitivity, environments, tags and dependants; scoring one asset then reads
only that asset, its relations and its findings. The context is cached on the graph
(which is read-only once built), so :func:`score_asset` over every asset stays linear.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from aiposture.models import (
    Asset,
    AssetKind,
    AssetRisk,
    DimensionScore,
    Environment,
    EvidenceKind,
    Finding,
    Priority,
    Reason,
    Relation,
    RelationKind,
    RiskDimension,
    Sanctioned,
    Severity,
)
from aiposture.risk.controls import (
    CONTROL_WEIGHTS,
    LEVEL_NAMES,
    ControlAssessment,
    HeldData,
    assess_controls,
    held_sensitivity,
    is_customer_facing,
    is_private_host,
    is_public,
    is_remote,
    network_host,
)
from aiposture.risk.graph import EstateGraph
from aiposture.settings import PriorityThresholds, RiskSettings

__all__ = [
    "BUSINESS_POINTS",
    "DEPENDANT_POINTS",
    "ENVIRONMENT_POINTS",
    "FINDINGS_CAP",
    "FINDING_POINTS",
    "SENSITIVITY_POINTS",
    "RiskContext",
    "priority_for",
    "score_asset",
    "score_estate",
]

#: Points of data sensitivity by level (public, internal, unknown, confidential, restricted).
SENSITIVITY_POINTS: tuple[float, ...] = (1.0, 3.0, 5.0, 7.5, 10.0)
#: Points of business impact by environment rank (dev, unknown, staging, prod).
ENVIRONMENT_POINTS: tuple[float, ...] = (0.5, 2.0, 2.5, 4.0)
#: Points of the business tags.
BUSINESS_POINTS: dict[str, float] = {"critical": 2.5, "customer-facing": 2.0}
#: Points of the 1st, 2nd, ... dependent application (diminishing; none after the last).
DEPENDANT_POINTS: tuple[float, ...] = (1.0, 0.5, 0.5, 0.25, 0.25, 0.25, 0.25)
#: Points one open finding adds to the control gap, by severity.
FINDING_POINTS: dict[Severity, float] = {
    Severity.CRITICAL: 4.0,
    Severity.HIGH: 2.5,
    Severity.MEDIUM: 1.0,
    Severity.LOW: 0.5,
    Severity.INFO: 0.0,
}
#: Most points open findings add to the control gap together.
FINDINGS_CAP = 6.0

_MAX = 10.0
_ENV_RANK = {
    Environment.DEV: 0,
    Environment.UNKNOWN: 1,
    Environment.STAGING: 2,
    Environment.PROD: 3,
}
_ENV_NAMES = ("dev", "unknown", "staging", "production")
_CONSUMERS = frozenset({AssetKind.APPLICATION, AssetKind.AGENT, AssetKind.NOTEBOOK})
#: Distinct dependants worth counting: the points stop growing after this many.
_DEPENDANT_CAP = len(DEPENDANT_POINTS)
_UNKNOWN_LEVEL = LEVEL_NAMES.index("unknown")
_NO_NETWORK = frozenset({AssetKind.AI_SERVICE, AssetKind.CREDENTIAL, AssetKind.PACKAGE})
_USER_POINTS = 0.5
_USER_CAP = 1.5


# --- what an asset passes on to its neighbours ------------------------------------------


@dataclass(frozen=True)
class _Traits:
    """Facts passed along dependency or query edges, each with the assets that have it.

    ``env`` is the environment rank; -1 when unknown (an unknown environment is not
    passed on). Each flag keeps up to two distinct asset ids, so that an asset reached
    by its own trait through a cycle still sees a second asset having it.
    """

    env: int = -1
    env_ref: str | None = None
    critical: tuple[str, ...] = ()
    facing: tuple[str, ...] = ()
    public: tuple[str, ...] = ()


class _Fold:
    """Accumulates :class:`_Traits` without building one per step (the hot loop)."""

    __slots__ = ("critical", "env", "env_ref", "facing", "public")

    def __init__(self) -> None:
        self.env = -1
        self.env_ref: str | None = None
        self.critical: list[str] = []
        self.facing: list[str] = []
        self.public: list[str] = []

    def add(self, t: _Traits) -> None:
        if t is _NONE:
            return
        if t.env > self.env:
            self.env, self.env_ref = t.env, t.env_ref
        for mine, theirs in (
            (self.critical, t.critical),
            (self.facing, t.facing),
            (self.public, t.public),
        ):
            for ref in theirs:
                if len(mine) < 2 and ref not in mine:
                    mine.append(ref)

    def traits(self) -> _Traits:
        if self.env < 0 and not (self.critical or self.facing or self.public):
            return _NONE
        return _Traits(
            self.env, self.env_ref, tuple(self.critical), tuple(self.facing), tuple(self.public)
        )


def _other(refs: tuple[str, ...], me: str) -> str | None:
    """The first of ``refs`` that is not ``me``."""
    return next((r for r in refs if r != me), None)


_NONE = _Traits()


def _own_env(asset: Asset) -> int:
    rank = _ENV_RANK[asset.environment]
    if any(e.usage is not None for e in asset.evidence):
        rank = max(rank, _ENV_RANK[Environment.PROD])
    return rank


def _own_traits(asset: Asset) -> _Traits:
    tags = {t.strip().casefold() for t in asset.tags}
    env = _own_env(asset)
    known = env != _ENV_RANK[Environment.UNKNOWN]
    t = _Traits(
        env=env if known else -1,
        env_ref=asset.id if known else None,
        critical=(asset.id,) if "critical" in tags else (),
        facing=(asset.id,) if is_customer_facing(asset) else (),
        public=(asset.id,) if is_public(asset) else (),
    )
    return _NONE if t == _NONE else t


@dataclass(frozen=True)
class _Sensitivity:
    level: int
    text: str
    ref: str | None


# relation kind -> (verb seen from the target, verb seen from the source)
_FLOW_VERBS: dict[RelationKind, tuple[str, str]] = {
    RelationKind.USES_MODEL: ("used by", "uses model"),
    RelationKind.CALLS_SERVICE: ("called by", "calls"),
    RelationKind.SERVES: ("served by", "serves"),
    RelationKind.EXPOSES_TOOL: ("a tool of", "exposes tool"),
    RelationKind.CONTAINS: ("inside", "contains"),
}
_QUERY_KINDS = frozenset(
    {
        RelationKind.USES_MODEL,
        RelationKind.CALLS_SERVICE,
        RelationKind.EXPOSES_TOOL,
        RelationKind.SERVES,
        RelationKind.CONTAINS,
    }
)


def _dependency(rel: Relation, graph: EstateGraph) -> tuple[str, str] | None:
    """``(dependant, dependency)`` of a relation, or None when it is no dependency."""
    kind = rel.kind
    if kind is RelationKind.DECLARED_IN or kind is RelationKind.SERVES:
        return rel.target_id, rel.source_id
    if kind is RelationKind.CONTAINS and _is_index(rel.source_id, graph):
        return None
    return rel.source_id, rel.target_id


def _is_index(asset_id: str, graph: EstateGraph) -> bool:
    return graph.assets[asset_id].kind is AssetKind.DATASET_INDEX


@dataclass
class RiskContext:
    """What scoring needs from the whole graph, computed once in ``O(assets + relations)``.

    Attributes:
        graph: The estate.
        held: Data each asset holds (own classification and training lineage).
        sensitivity: The effective sensitivity of each asset (held, or a neighbour's).
        business: Traits each asset inherits from what depends on it (two hops).
        audience: Traits each asset inherits from what queries it (two hops).
        dependants: Up to seven dependent applications, agents or notebooks of each asset.
    """

    graph: EstateGraph
    held: dict[str, HeldData] = field(default_factory=dict)
    sensitivity: dict[str, _Sensitivity] = field(default_factory=dict)
    business: dict[str, _Traits] = field(default_factory=dict)
    audience: dict[str, _Traits] = field(default_factory=dict)
    dependants: dict[str, list[str]] = field(default_factory=dict)

    _CACHE = "_aiposture_risk_context"

    @classmethod
    def of(cls, graph: EstateGraph) -> RiskContext:
        """The context of ``graph``, built on first use and cached on the graph."""
        token = (len(graph.assets), len(graph.relations))
        cached = vars(graph).get(cls._CACHE)
        if cached is not None and cached[0] == token:
            ctx: RiskContext = cached[1]
            return ctx
        ctx = cls.build(graph)
        vars(graph)[cls._CACHE] = (token, ctx)
        return ctx

    @classmethod
    def build(cls, graph: EstateGraph) -> RiskContext:
        """Walk ``graph`` once and precompute what every asset's score needs."""
        ctx = cls(graph)
        current = {aid: a for aid, a in graph.assets.items() if not a.stale}
        rels = [
            r
            for r in graph.relations
            if not r.stale and r.source_id in current and r.target_id in current
        ]
        for aid, a in current.items():
            ctx.held[aid] = held_sensitivity(a, graph)
        ctx._propagate_sensitivity(current, rels)
        deps: dict[str, list[str]] = defaultdict(list)
        callers: dict[str, list[str]] = defaultdict(list)
        for r in rels:
            pair = _dependency(r, graph)
            if pair is not None and pair[0] != pair[1]:
                deps[pair[1]].append(pair[0])
            if (
                r.kind in _QUERY_KINDS
                and r.source_id != r.target_id
                and not (r.kind is RelationKind.CONTAINS and _is_index(r.source_id, graph))
            ):
                callers[r.target_id].append(r.source_id)
        own = {aid: _own_traits(a) for aid, a in current.items()}
        ctx.business = _two_hops(own, deps)
        ctx.audience = _two_hops(own, callers)
        for aid in current:
            ctx.dependants[aid] = _consumers(aid, deps, current)
        return ctx

    def _propagate_sensitivity(self, current: dict[str, Asset], rels: list[Relation]) -> None:
        best = {aid: _Sensitivity(h.level, h.text, h.ref) for aid, h in self.held.items()}

        def offer(to: str, frm: str, verb: str) -> None:
            h = self.held[frm]
            if h.level > best[to].level:
                name = current[frm].name
                best[to] = _Sensitivity(h.level, f"{verb} '{name}' ({LEVEL_NAMES[h.level]})", frm)

        for r in rels:
            if r.source_id == r.target_id:
                continue
            if r.kind is RelationKind.DECLARED_IN:
                offer(r.source_id, r.target_id, "declared in")
                continue
            verbs = _FLOW_VERBS.get(r.kind)
            if verbs is None or (
                r.kind is RelationKind.CONTAINS and _is_index(r.source_id, self.graph)
            ):
                continue
            offer(r.target_id, r.source_id, verbs[0])
            offer(r.source_id, r.target_id, verbs[1])
        self.sensitivity = best


def _two_hops(own: dict[str, _Traits], into: dict[str, list[str]]) -> dict[str, _Traits]:
    """Traits of the assets reaching each asset in one or two steps along ``into``."""
    one: dict[str, _Traits] = {}
    for aid in own:
        acc = _Fold()
        for d in into.get(aid, ()):
            acc.add(own[d])
        one[aid] = acc.traits()
    two: dict[str, _Traits] = {}
    for aid in own:
        acc = _Fold()
        for d in into.get(aid, ()):
            acc.add(own[d])
            acc.add(one[d])
        two[aid] = acc.traits()
    return two


def _consumers(aid: str, deps: dict[str, list[str]], current: dict[str, Asset]) -> list[str]:
    """Up to :data:`_DEPENDANT_CAP` applications, agents or notebooks depending on ``aid``."""
    found: dict[str, None] = {}
    for d in deps.get(aid, ()):
        if d != aid and current[d].kind in _CONSUMERS:
            found.setdefault(d, None)
            if len(found) >= _DEPENDANT_CAP:
                return list(found)
    for d in deps.get(aid, ()):
        for d2 in deps.get(d, ()):
            if d2 != aid and current[d2].kind in _CONSUMERS:
                found.setdefault(d2, None)
                if len(found) >= _DEPENDANT_CAP:
                    return list(found)
    return list(found)


# --- the dimensions ---------------------------------------------------------------------


def _dimension(which: RiskDimension, reasons: list[Reason]) -> DimensionScore:
    total = sum(r.points for r in reasons)
    if total > _MAX:
        reasons.append(Reason(points=_MAX - total, text=f"capped at 10 (from {total:g})"))
        total = _MAX
    return DimensionScore(dimension=which, score=total, reasons=reasons)


def _data_sensitivity(asset: Asset, ctx: RiskContext) -> DimensionScore:
    s = ctx.sensitivity.get(asset.id)
    if s is None:  # a stale asset: only what it holds itself
        h = held_sensitivity(asset, ctx.graph)
        s = _Sensitivity(h.level, h.text, h.ref)
    if s.ref is None and s.level == _UNKNOWN_LEVEL:
        text = "data not classified: unknown counts between internal and confidential"
    else:
        text = f"{LEVEL_NAMES[s.level]} data: {s.text}"
    return _dimension(
        RiskDimension.DATA_SENSITIVITY,
        [Reason(points=SENSITIVITY_POINTS[s.level], text=text, ref=s.ref)],
    )


def _business_impact(asset: Asset, ctx: RiskContext) -> DimensionScore:
    inherited = ctx.business.get(asset.id, _NONE)
    names = ctx.graph.assets
    reasons: list[Reason] = []
    own = _own_env(asset)
    env = max(own, inherited.env)
    if env > own and inherited.env_ref is not None:
        dep = names[inherited.env_ref].name
        text = f"{_ENV_NAMES[env]}: '{dep}' depends on it"
        ref: str | None = inherited.env_ref
    elif own > _ENV_RANK[asset.environment]:
        uses = sum(e.usage.requests for e in asset.evidence if e.usage is not None)
        text = f"in live use: seen in egress logs ({uses} requests); counts as production"
        ref = None
    elif own == _ENV_RANK[Environment.UNKNOWN]:
        text = "environment unknown: counted between dev and production"
        ref = None
    else:
        text = f"{_ENV_NAMES[own]} environment"
        ref = None
    reasons.append(Reason(points=ENVIRONMENT_POINTS[env], text=text, ref=ref))
    tags = {t.strip().casefold() for t in asset.tags}
    for tag, refs in (("critical", inherited.critical), ("customer-facing", inherited.facing)):
        inh = _other(refs, asset.id)
        if tag in tags:
            reasons.append(Reason(points=BUSINESS_POINTS[tag], text=f"tagged {tag}"))
        elif inh is not None:
            reasons.append(
                Reason(
                    points=BUSINESS_POINTS[tag],
                    text=f"{tag}: '{names[inh].name}' depends on it",
                    ref=inh,
                )
            )
    consumers = ctx.dependants.get(asset.id, [])
    if consumers:
        pts = sum(DEPENDANT_POINTS[: len(consumers)])
        shown = ", ".join(f"'{names[c].name}'" for c in consumers[:3])
        more = " and more" if len(consumers) > 3 else ""
        n = f"{len(consumers)}+" if len(consumers) >= _DEPENDANT_CAP else str(len(consumers))
        reasons.append(
            Reason(
                points=pts,
                text=f"{n} dependent application(s): {shown}{more} (diminishing returns)",
                ref=consumers[0],
            )
        )
    return _dimension(RiskDimension.BUSINESS_IMPACT, reasons)


def _network(asset: Asset) -> tuple[float, str] | None:
    host = network_host(asset)
    if is_public(asset) and (asset.kind is not AssetKind.MCP_SERVER or is_remote(asset)):
        where = f"host {host}" if host and not is_private_host(host) else "marked public"
        return 4.0, f"reachable from the internet ({where})"
    if asset.kind is AssetKind.AI_SERVICE:
        return 3.0, "a third-party AI service: what is sent to it leaves the company"
    if host is not None:
        return 1.5, f"reachable on the internal network (host {host})"
    if asset.kind is AssetKind.MCP_SERVER:
        return 0.5, "a local MCP server: AI clients start it and the model decides the calls"
    return None


def _accessibility(asset: Asset, ctx: RiskContext, controls: ControlAssessment) -> DimensionScore:
    reasons: list[Reason] = []
    names = ctx.graph.assets
    attrs = asset.attributes
    net = _network(asset)
    if net is not None:
        reasons.append(Reason(points=net[0], text=net[1]))
        if (
            net[0] >= 1.5
            and asset.kind not in _NO_NETWORK
            and "authentication" not in controls.present
        ):
            reasons.append(
                Reason(points=2.0, text="no authentication: whoever reaches it can query it")
            )
    aud = ctx.audience.get(asset.id, _NONE)
    public_caller = _other(aud.public, asset.id)
    facing_caller = _other(aud.facing, asset.id)
    if public_caller is not None:
        reasons.append(
            Reason(
                points=3.0,
                text=f"queried by anyone on the internet through '{names[public_caller].name}'",
                ref=public_caller,
            )
        )
    elif is_customer_facing(asset):
        reasons.append(Reason(points=2.0, text="customer-facing: customers query it"))
    elif facing_caller is not None:
        reasons.append(
            Reason(
                points=2.0,
                text=f"queried by customers through '{names[facing_caller].name}'",
                ref=facing_caller,
            )
        )
    users = {
        (e.usage.user or "", e.usage.client or "") for e in asset.evidence if e.usage is not None
    }
    if users:
        reasons.append(
            Reason(
                points=min(_USER_CAP, _USER_POINTS * len(users)),
                text=f"{len(users)} user(s) seen sending it data in egress logs",
            )
        )
    if asset.sanctioned is Sanctioned.UNSANCTIONED:
        reasons.append(
            Reason(points=3.0, text="unsanctioned: data goes where the company has not approved")
        )
    elif asset.kind is AssetKind.AI_SERVICE and asset.sanctioned is Sanctioned.UNKNOWN:
        reasons.append(Reason(points=1.5, text="an AI service nobody has reviewed for approval"))
    if attrs.get("world_readable") is True:
        reasons.append(Reason(points=2.0, text="world-readable file: anyone on the host copies it"))
    if attrs.get("world_writable") is True:
        reasons.append(
            Reason(points=1.5, text="world-writable file: anyone on the host replaces it")
        )
    if attrs.get("public_bucket") is True:
        reasons.append(Reason(points=3.0, text="stored in a public bucket"))
    if asset.kind is AssetKind.CREDENTIAL:
        reasons += _credential_exposure(asset)
    return _dimension(RiskDimension.ACCESSIBILITY, reasons)


def _credential_exposure(asset: Asset) -> list[Reason]:
    out = [
        Reason(points=4.0, text="a secret in plain text: whoever reads the file has it"),
        Reason(points=2.0, text="a credential of a hosted service works from anywhere"),
    ]
    if any(e.kind is EvidenceKind.NOTEBOOK_OUTPUT for e in asset.evidence):
        out.append(Reason(points=1.5, text="printed in a notebook output (shared with it)"))
    places = {e.path for e in asset.evidence if e.path} | set(asset.locations)
    if len(places) > 1:
        extra = min(1.0, 0.5 * (len(places) - 1))
        out.append(Reason(points=extra, text=f"found in {len(places)} places"))
    return out


def _control_gap(
    asset: Asset, findings: list[Finding], controls: ControlAssessment
) -> DimensionScore:
    reasons = [
        Reason(
            points=CONTROL_WEIGHTS.get(n.control, 1.0),
            text=f"no {n.control} (required: {n.reason})",
            ref=n.ref,
        )
        for n in controls.missing
    ]
    ordered = sorted(findings, key=lambda f: (-f.severity.rank, f.rule_id, f.id))
    found = 0.0
    for f in ordered:
        pts = FINDING_POINTS[f.severity]
        if pts <= 0:
            continue
        found += pts
        reasons.append(
            Reason(
                points=pts, text=f"open {f.severity.value} finding {f.rule_id}: {f.title}", ref=f.id
            )
        )
    if found > FINDINGS_CAP:
        reasons.append(
            Reason(
                points=FINDINGS_CAP - found,
                text=f"open findings count for {FINDINGS_CAP:g} points at most",
            )
        )
    return _dimension(RiskDimension.CONTROL_GAP, reasons)


# --- combination ------------------------------------------------------------------------


def priority_for(score: float, thresholds: PriorityThresholds) -> Priority:
    """The priority a score reaches under ``thresholds``."""
    if score >= thresholds.critical:
        return Priority.CRITICAL
    if score >= thresholds.high:
        return Priority.HIGH
    if score >= thresholds.medium:
        return Priority.MEDIUM
    return Priority.LOW


def score_asset(
    asset: Asset,
    graph: EstateGraph,
    settings: RiskSettings | None = None,
    *,
    context: RiskContext | None = None,
) -> AssetRisk:
    """Score one asset of ``graph`` (see the module for the formula).

    Args:
        asset: The asset (normally one of ``graph.assets``).
        graph: The estate.
        settings: Weights and thresholds (the defaults when None).
        context: The graph's :class:`RiskContext`; by default built once and cached on
            the graph.
    """
    cfg = settings if settings is not None else RiskSettings()
    ctx = context if context is not None else RiskContext.of(graph)
    held = ctx.held.get(asset.id)
    controls = assess_controls(asset, graph, held=held)
    findings = graph.findings_for(asset.id)
    dims = [
        _data_sensitivity(asset, ctx),
        _business_impact(asset, ctx),
        _accessibility(asset, ctx, controls),
        _control_gap(asset, findings, controls),
    ]
    by = {d.dimension: d.score for d in dims}
    w = cfg.weights
    likelihood = (
        w.accessibility * by[RiskDimension.ACCESSIBILITY]
        + w.control_gap * by[RiskDimension.CONTROL_GAP]
    ) / (w.accessibility + w.control_gap)
    impact = (
        w.data_sensitivity * by[RiskDimension.DATA_SENSITIVITY]
        + w.business_impact * by[RiskDimension.BUSINESS_IMPACT]
    ) / (w.data_sensitivity + w.business_impact)
    likelihood = min(_MAX, likelihood)
    impact = min(_MAX, impact)
    score = min(100.0, round(likelihood * impact, 2))
    counts: dict[str, int] = {}
    for f in findings:
        counts[f.severity.value] = counts.get(f.severity.value, 0) + 1
    priority = priority_for(score, cfg.thresholds)
    if counts.get(Severity.CRITICAL.value) and priority.rank < Priority.HIGH.rank:
        priority = Priority.HIGH
    if counts.get(Severity.HIGH.value) and priority.rank < Priority.MEDIUM.rank:
        priority = Priority.MEDIUM
    return AssetRisk(
        asset_id=asset.id,
        asset_name=asset.name,
        asset_kind=asset.kind,
        dimensions=dims,
        likelihood=round(likelihood, 2),
        impact=round(impact, 2),
        score=score,
        priority=priority,
        findings=counts,
    )


def score_estate(
    graph: EstateGraph,
    settings: RiskSettings | None = None,
    *,
    assets: Iterable[Asset] | None = None,
) -> list[AssetRisk]:
    """Score every current asset of ``graph`` (or ``assets``), worst first.

    Sorted by priority, then score, then name, so the register reads top down.
    """
    ctx = RiskContext.of(graph)
    pool = list(assets) if assets is not None else graph.of_kind()
    risks = [score_asset(a, graph, settings, context=ctx) for a in pool]
    risks.sort(key=lambda r: (-r.priority.rank, -r.score, r.asset_name, r.asset_id))
    return risks
