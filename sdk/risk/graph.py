"""The estate as a read-only graph: assets, relations and findings, indexed both ways."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from aiposture.models import (
    Asset,
    AssetKind,
    Finding,
    FindingStatus,
    Relation,
    RelationKind,
    Sensitivity,
    Severity,
)

__all__ = ["ACTIVE_STATUSES", "EstateGraph", "Neighbour"]

#: Finding statuses that still count against an asset.
ACTIVE_STATUSES = frozenset({FindingStatus.OPEN, FindingStatus.ACKNOWLEDGED})

_SENSITIVITY_ORDER = [
    Sensitivity.PUBLIC,
    Sensitivity.INTERNAL,
    Sensitivity.CONFIDENTIAL,
    Sensitivity.RESTRICTED,
]


@dataclass(frozen=True)
class Neighbour:
    """An asset at the other end of a relation."""

    relation: Relation
    asset: Asset


@dataclass
class EstateGraph:
    """Assets, relations and findings of one estate, for rules and scoring.

    Built once per assessment (:meth:`build`); lookups are dict-based, so rules that
    walk a few hops stay linear in the size of the estate.

    Attributes:
        assets: Every asset by id (stale ones included: some rules look at them).
        relations: Every relation (stale ones included).
        findings: Every finding (any status, stale ones included).
    """

    assets: dict[str, Asset] = field(default_factory=dict)
    relations: list[Relation] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    _out: dict[str, list[Neighbour]] = field(default_factory=lambda: defaultdict(list))
    _in: dict[str, list[Neighbour]] = field(default_factory=lambda: defaultdict(list))
    _findings: dict[str, list[Finding]] = field(default_factory=lambda: defaultdict(list))
    _by_kind: dict[AssetKind, list[Asset]] = field(default_factory=lambda: defaultdict(list))

    @classmethod
    def build(
        cls,
        assets: Iterable[Asset],
        relations: Iterable[Relation] = (),
        findings: Iterable[Finding] = (),
    ) -> EstateGraph:
        """Index assets, relations and findings; relations to unknown assets are dropped."""
        g = cls()
        for a in assets:
            g.assets[a.id] = a
            g._by_kind[a.kind].append(a)
        for r in relations:
            src, dst = g.assets.get(r.source_id), g.assets.get(r.target_id)
            if src is None or dst is None:
                continue
            g.relations.append(r)
            g._out[r.source_id].append(Neighbour(r, dst))
            g._in[r.target_id].append(Neighbour(r, src))
        g.add_findings(findings)
        return g

    def add_findings(self, findings: Iterable[Finding]) -> None:
        """Add findings (a rule's, during an assessment); one id is kept once."""
        have = {f.id for f in self.findings}
        for f in findings:
            if f.id in have or f.asset_id not in self.assets:
                continue
            have.add(f.id)
            self.findings.append(f)
            self._findings[f.asset_id].append(f)

    # --- lookups --------------------------------------------------------------------------

    def of_kind(self, *kinds: AssetKind, current: bool = True) -> list[Asset]:
        """Assets of these kinds (all kinds when none given); current ones only by default."""
        pool: Iterable[Asset] = (
            (a for k in kinds for a in self._by_kind.get(k, ())) if kinds else self.assets.values()
        )
        return [a for a in pool if not (current and a.stale)]

    def out(self, asset_id: str, *kinds: RelationKind, current: bool = True) -> list[Neighbour]:
        """Relations leaving ``asset_id`` (of these kinds), with the asset they reach."""
        return [
            n
            for n in self._out.get(asset_id, ())
            if (not kinds or n.relation.kind in kinds)
            and not (current and (n.relation.stale or n.asset.stale))
        ]

    def into(self, asset_id: str, *kinds: RelationKind, current: bool = True) -> list[Neighbour]:
        """Relations arriving at ``asset_id`` (of these kinds), with the asset they come from."""
        return [
            n
            for n in self._in.get(asset_id, ())
            if (not kinds or n.relation.kind in kinds)
            and not (current and (n.relation.stale or n.asset.stale))
        ]

    def neighbours(self, asset_id: str, *kinds: RelationKind) -> list[Neighbour]:
        """Current relations at either end of ``asset_id``."""
        return [*self.out(asset_id, *kinds), *self.into(asset_id, *kinds)]

    def reachable(
        self, asset_id: str, *kinds: RelationKind, reverse: bool = False, limit: int = 10_000
    ) -> Iterator[Asset]:
        """Assets reachable from ``asset_id`` along current relations (breadth first)."""
        seen = {asset_id}
        frontier = [asset_id]
        step = self.into if reverse else self.out
        while frontier and len(seen) <= limit:
            nxt: list[str] = []
            for aid in frontier:
                for n in step(aid, *kinds):
                    if n.asset.id not in seen:
                        seen.add(n.asset.id)
                        nxt.append(n.asset.id)
                        yield n.asset
            frontier = nxt

    def findings_for(
        self, asset_id: str, *, active: bool = True, min_severity: Severity | None = None
    ) -> list[Finding]:
        """Findings on one asset: by default current ones whose status still counts."""
        out = []
        for f in self._findings.get(asset_id, ()):
            if active and (f.stale or f.status not in ACTIVE_STATUSES):
                continue
            if min_severity is not None and f.severity.rank < min_severity.rank:
                continue
            out.append(f)
        return out

    @staticmethod
    def sensitivity_rank(s: Sensitivity) -> int:
        """public 0 < internal 1 < confidential 2 < restricted 3; unknown is -1."""
        return _SENSITIVITY_ORDER.index(s) if s in _SENSITIVITY_ORDER else -1
