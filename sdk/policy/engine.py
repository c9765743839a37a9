"""Decisions: access checks with Cedar, what-if over the inventory, data-usage violations.

:class:`PolicyEngine` joins a policy (a :class:`~aiposture.policy.models.PolicySet`, or a
:class:`~aiposture.policy.loader.PolicyStore` whose reloads it follows) with the
inventory of a store. The Cedar policy set and the entities built from the inventory
are parsed once and reused; call :meth:`PolicyEngine.refresh` after the inventory
changes.

Data-usage violations become findings with these rule ids:

* ``AIP-POLICY-001`` sensitive data in a model hosted by a third party;
* ``AIP-POLICY-002`` a model trained on sensitive data lacks a control the rule requires;
* ``AIP-POLICY-003`` sensitive data used for a use case the rule does not allow;
* ``AIP-POLICY-004`` a dataset stored outside the regions allowed for its data class.
"""

from __future__ import annotations

import fnmatch
import itertools
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import cedarpy

from aiposture.errors import NotFoundError
from aiposture.models import (
    Asset,
    Evidence,
    EvidenceKind,
    Finding,
    Relation,
    RelationKind,
    Severity,
)
from aiposture.policy.entities import (
    build_entities,
    is_third_party,
    principal_entity,
    principal_uid,
    region_of,
    resource_uid,
    use_cases,
)
from aiposture.policy.loader import PolicyStore, load_policy
from aiposture.policy.models import (
    Action,
    DataUsageRule,
    Decision,
    DecisionChange,
    PolicySet,
    Principal,
    PrincipalType,
    WhatIfReport,
    sensitivity_rank,
)
from aiposture.risk.graph import EstateGraph
from aiposture.risk.rules._common import has_control
from aiposture.store.base import Store

__all__ = ["POLICY_RULES", "PolicyEngine"]

#: Rule id -> (title, remediation, framework tags) of data-usage findings.
POLICY_RULES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "AIP-POLICY-001": (
        "Sensitive data in a third-party hosted model",
        "Train or ground the model on data the policy allows for third parties, move it to a "
        "self-hosted model, or change the rule in data_usage.yaml with the data owner's consent.",
        ("owasp-llm:LLM02", "atlas:AML.T0057", "nist-ai-rmf:MAP-4.1"),
    ),
    "AIP-POLICY-002": (
        "Model trained on sensitive data lacks a required control",
        "Put the control in place (for output monitoring: check outputs against a leakage "
        "index) and record it on the model as the tag control:<name>.",
        ("owasp-llm:LLM02", "atlas:AML.T0057", "nist-ai-rmf:MEASURE-2.10"),
    ),
    "AIP-POLICY-003": (
        "Sensitive data used for a use case the policy does not allow",
        "Stop using the data for this use case, or record an allowed use case on the model "
        "(tag use_case:<name>) after review.",
        ("owasp-llm:LLM02", "nist-ai-rmf:MAP-4.1", "nist-ai-rmf:GOVERN-1.1"),
    ),
    "AIP-POLICY-004": (
        "Dataset stored outside its allowed regions",
        "Move the dataset to an allowed region or correct its region attribute; change the "
        "residency in data_usage.yaml only with legal review.",
        ("nist-ai-rmf:GOVERN-1.1", "nist-ai-rmf:MAP-4.1"),
    ),
}
_BATCH = 1_000
_PRINCIPAL_CACHE = 64


class PolicyEngine:
    """Access decisions, what-if and data-usage violations over one store's inventory.

    Args:
        policy: The policy, or a store of it (the engine always uses the policy in force).
        store: The inventory; or give ``assets`` and ``relations`` instead.
        assets: Assets to use instead of a store's (stale ones are ignored).
        relations: Relations to use with ``assets``.
        principals: Principals known besides those of the policy's ``principals.yaml``.
    """

    def __init__(
        self,
        policy: PolicySet | PolicyStore,
        store: Store | None = None,
        *,
        assets: Sequence[Asset] | None = None,
        relations: Sequence[Relation] = (),
        principals: Sequence[Principal] = (),
    ) -> None:
        if store is None and assets is None:
            raise ValueError("give a store or the assets")
        self._policy = policy
        self.store = store
        self._given = (list(assets), list(relations)) if assets is not None else None
        self._extra = list(principals)
        self._inventory: tuple[list[Asset], EstateGraph] | None = None
        self._compiled: dict[str, tuple[PolicySet, cedarpy.PolicySet]] = {}
        self._base: tuple[dict[str, Principal], cedarpy.Entities, set[str]] | None = None
        self._known_cache: tuple[tuple[Principal, ...], dict[str, Principal]] | None = None
        self._per_principal: dict[str, cedarpy.Entities] = {}

    # --- state ----------------------------------------------------------------------------

    @property
    def policy_set(self) -> PolicySet:
        """The policy in force."""
        return self._policy.current if isinstance(self._policy, PolicyStore) else self._policy

    def refresh(self) -> None:
        """Forget the inventory read so far (call after it changed)."""
        self._inventory = None
        self._base = None
        self._known_cache = None
        self._per_principal.clear()

    def _load_inventory(self) -> tuple[list[Asset], EstateGraph]:
        if self._inventory is None:
            if self._given is not None:
                assets, relations = self._given
            else:
                assert self.store is not None
                assets = self.store.assets(include_stale=False)
                relations = self.store.relations(include_stale=False)
            current = [a for a in assets if not a.stale]
            self._inventory = (current, EstateGraph.build(current, relations))
        return self._inventory

    def assets(self) -> list[Asset]:
        """The current assets decisions are made on."""
        return list(self._load_inventory()[0])

    def principals(self, policy: PolicySet | None = None) -> list[Principal]:
        """Known principals: the policy's, then the extra ones the engine was given."""
        return list(self._known(policy or self.policy_set).values())

    def _known(self, ps: PolicySet) -> dict[str, Principal]:
        cached = self._known_cache
        if cached is not None and cached[0] is ps.principals:
            return cached[1]
        out = {p.id: p for p in ps.principals}
        for p in self._extra:
            out.setdefault(p.id, p)
        self._known_cache = (ps.principals, out)
        return out

    def _cedar(self, ps: PolicySet) -> cedarpy.PolicySet:
        key = ps.digest or str(id(ps))
        hit = self._compiled.get(key)
        if hit is None or hit[0] is not ps:
            if len(self._compiled) > 8:
                self._compiled.clear()
            hit = (ps, cedarpy.PolicySet.from_json_str(json.dumps(ps.cedar_json())))
            self._compiled[key] = hit
        return hit[1]

    def _entities(self, principal: Principal | None = None) -> cedarpy.Entities:
        known = self._known(self.policy_set)
        if self._base is None or self._base[0] is not known:
            assets, graph = self._load_inventory()
            ents = build_entities(assets, graph.relations, list(known.values()))
            groups = {e["uid"]["id"] for e in ents if e["uid"]["type"] == "Group"}
            self._base = (known, cedarpy.Entities.from_json_str(json.dumps(ents)), groups)
            self._per_principal.clear()
        _, base, groups = self._base
        if principal is None or known.get(principal.id) == principal:
            return base
        key = principal.model_dump_json()
        hit = self._per_principal.get(key)
        if hit is not None:
            return hit
        same = known.get(principal.id)
        if same is not None and same.type is principal.type:
            # The caller's version of a known principal wins: rebuild without the known one.
            assets, graph = self._load_inventory()
            others = [p for p in known.values() if p.id != principal.id]
            ents = build_entities(assets, graph.relations, [*others, principal])
            handle = cedarpy.Entities.from_json_str(json.dumps(ents))
        else:
            delta = [principal_entity(principal)] + [
                principal_entity(Principal(id=g, type=PrincipalType.GROUP))
                for g in principal.groups
                if g not in groups
            ]
            handle = base.with_added_json_str(json.dumps(delta))
        if len(self._per_principal) >= _PRINCIPAL_CACHE:
            self._per_principal.clear()
        self._per_principal[key] = handle
        return handle

    # --- lookups --------------------------------------------------------------------------

    def resolve(self, ref: str | Asset) -> Asset:
        """An asset of the inventory by id or unique name (or the asset itself).

        Raises:
            NotFoundError: No current asset, or more than one, matches ``ref``.
        """
        assets, graph = self._load_inventory()
        if isinstance(ref, Asset):
            if ref.id in graph.assets:
                return graph.assets[ref.id]
            raise NotFoundError(f"asset {ref.id} ({ref.name}) is not in the inventory")
        hit = graph.assets.get(ref)
        if hit is not None:
            return hit
        named = [a for a in assets if a.name == ref]
        if len(named) == 1:
            return named[0]
        if named:
            ids = ", ".join(f"{a.id} ({a.kind.value})" for a in named)
            raise NotFoundError(f"{len(named)} assets are named {ref!r}: {ids}")
        raise NotFoundError(f"no current asset with id or name {ref!r}")

    def principal(self, ref: Principal | str) -> Principal:
        """A principal by id (a declared one, else a user with no groups)."""
        if isinstance(ref, Principal):
            return ref
        for p in self.principals():
            if p.id == ref:
                return p
        return Principal(id=ref)

    # --- decisions ------------------------------------------------------------------------

    def check(
        self,
        principal: Principal | str,
        action: Action | str,
        resource: str | Asset,
        context: dict[str, Any] | None = None,
    ) -> Decision:
        """Whether ``principal`` may do ``action`` on ``resource``, and which policies say so.

        Args:
            principal: A :class:`Principal`, or the id of a declared one.
            action: One of :class:`Action`.
            resource: An asset, or its id or unique name in the inventory.
            context: Request context, visible to policies as ``context``.

        Raises:
            NotFoundError: The resource is not in the inventory.
            ValueError: The action is not one of :class:`Action`.
        """
        return self.check_many([(principal, action, resource)], context=context)[0]

    def check_many(
        self,
        requests: Iterable[tuple[Principal | str, Action | str, str | Asset]],
        context: dict[str, Any] | None = None,
    ) -> list[Decision]:
        """Decide many requests in Cedar batches (same context for all)."""
        ps = self.policy_set
        cedar = self._cedar(ps)
        resolved = [(self.principal(p), Action(a), self.resolve(r)) for p, a, r in requests]
        out: list[Decision] = []
        for chunk in _chunks(resolved, _BATCH):
            by_principal: dict[int, list[int]] = {}
            for i, (p, _, _) in enumerate(chunk):
                by_principal.setdefault(id(p), []).append(i)
            results: dict[int, cedarpy.AuthzResult] = {}
            for idxs in by_principal.values():
                entities = self._entities(chunk[idxs[0]][0])
                reqs = [_request(chunk[i][0], chunk[i][1], chunk[i][2], context) for i in idxs]
                answers = cedarpy.is_authorized_batch(reqs, cedar, entities)
                results.update(zip(idxs, answers, strict=True))
            for i, (p, a, asset) in enumerate(chunk):
                out.append(_decision(ps, p, a, asset, results[i]))
        return out

    def what_if(
        self,
        draft: PolicySet | PolicyStore | str | Path,
        *,
        actions: Sequence[Action | str] | None = None,
        principals: Sequence[Principal] | None = None,
        limit: int = 200_000,
    ) -> WhatIfReport:
        """Every decision over the inventory that a draft policy would change.

        Every (principal, action, resource) combination of the known principals, the
        actions and the current assets is decided under the policy in force and under
        the draft, in Cedar batches; at most ``limit`` combinations are evaluated.
        Principals come from the policy in force (the draft's ``principals.yaml`` is
        not used: a what-if compares policies, not people).

        Args:
            draft: A policy folder, a loaded policy, or a policy store.
            actions: The actions to try (all by default).
            principals: The principals to try (the known ones by default).
            limit: Most combinations evaluated; the report says when it stopped early.

        Raises:
            ConfigError: The draft folder is invalid.
        """
        if isinstance(draft, PolicyStore):
            new_ps = draft.current
        elif isinstance(draft, PolicySet):
            new_ps = draft
        else:
            new_ps = load_policy(draft)
        old_ps = self.policy_set
        old, new = self._cedar(old_ps), self._cedar(new_ps)
        who = list(principals) if principals is not None else self.principals()
        acts = [Action(a) for a in actions] if actions is not None else list(Action)
        assets = sorted(self._load_inventory()[0], key=lambda a: a.id)
        combos = itertools.product(who, acts, assets)
        evaluated = 0
        changes: list[DecisionChange] = []
        truncated = len(who) * len(acts) * len(assets) > limit
        for chunk in _chunks(itertools.islice(combos, limit), _BATCH):
            by_principal: dict[int, list[tuple[Principal, Action, Asset]]] = {}
            for req in chunk:
                by_principal.setdefault(id(req[0]), []).append(req)
            for group in by_principal.values():
                entities = self._entities(group[0][0])
                reqs = [_request(p, a, r, None) for p, a, r in group]
                before = cedarpy.is_authorized_batch(reqs, old, entities)
                after = cedarpy.is_authorized_batch(reqs, new, entities)
                evaluated += len(group)
                for (p, a, r), b, n in zip(group, before, after, strict=True):
                    if b.allowed != n.allowed:
                        changes.append(
                            DecisionChange(
                                principal=p.id,
                                action=a.value,
                                resource=r.id,
                                resource_name=r.name,
                                resource_kind=r.kind.value,
                                before=b.allowed,
                                after=n.allowed,
                                before_by=tuple(b.diagnostics.reasons),
                                after_by=tuple(n.diagnostics.reasons),
                            )
                        )
        return WhatIfReport(evaluated=evaluated, truncated=truncated, changes=tuple(changes))

    # --- data usage -----------------------------------------------------------------------

    def violations(self) -> list[Finding]:
        """Findings for every data-usage rule and residency limit the inventory breaks now.

        Each finding is on the model (or, for residency, the dataset) and its fingerprint
        names the rule and the dataset, so it keeps its id across runs.
        """
        ps = self.policy_set
        assets, graph = self._load_inventory()
        where = str(Path(ps.folder) / "data_usage.yaml") if ps.folder else "data_usage.yaml"
        out: list[Finding] = []
        rules = ps.data_usage.rules
        for model in sorted(assets, key=lambda a: a.id):
            if model.kind.value != "model" or not rules:
                continue
            for dataset in _training_data(graph, model):
                rank = sensitivity_rank(dataset.data_sensitivity)
                for rule in rules:
                    if rank < sensitivity_rank(rule.sensitivity):
                        continue
                    out.extend(_rule_findings(rule, model, dataset, graph, where))
        for dataset in sorted(assets, key=lambda a: a.id):
            if dataset.kind.value != "dataset":
                continue
            allowed = ps.data_usage.allowed_regions(dataset.data_sensitivity)
            region = region_of(dataset)
            if allowed is None or not region:
                continue
            if any(fnmatch.fnmatchcase(region.casefold(), g.casefold()) for g in allowed):
                continue
            restricted = sensitivity_rank(dataset.data_sensitivity) >= 3
            sev = Severity.HIGH if restricted else Severity.MEDIUM
            out.append(
                _finding(
                    "AIP-POLICY-004",
                    dataset,
                    sev,
                    fingerprint=f"residency|{dataset.data_sensitivity.value}|{region}",
                    title=f"{dataset.data_sensitivity.value.capitalize()} dataset "
                    f"{dataset.name} is in {region}, outside {', '.join(allowed)}",
                    detail=f"residency.{dataset.data_sensitivity.value} allows "
                    f"{', '.join(allowed)}; the dataset's region is {region}",
                    where=where,
                    key=f"residency.{dataset.data_sensitivity.value}",
                )
            )
        return out


# --- helpers ------------------------------------------------------------------------------


def _chunks(items: Iterable[Any], size: int) -> Iterable[list[Any]]:
    it = iter(items)
    while chunk := list(itertools.islice(it, size)):
        yield chunk


def _request(
    principal: Principal, action: Action, asset: Asset, context: dict[str, Any] | None
) -> dict[str, Any]:
    return {
        "principal": principal_uid(principal),
        "action": {"type": "Action", "id": action.value},
        "resource": resource_uid(asset),
        "context": context or {},
    }


def _decision(
    ps: PolicySet, principal: Principal, action: Action, asset: Asset, res: cedarpy.AuthzResult
) -> Decision:
    by = tuple(res.diagnostics.reasons)
    reasons = []
    for pid in by:
        pol = ps.policy(pid)
        where = f" ({pol.file}:{pol.line})" if pol is not None else ""
        effect = pol.effect if pol is not None else ("permit" if res.allowed else "forbid")
        reasons.append(f"{effect} {pid}{where}")
    if not by:
        reasons.append(
            f"no policy permits {principal.id} to {action.value} {asset.name} (default deny)"
        )
    return Decision(
        allowed=res.allowed,
        principal=principal.id,
        action=action.value,
        resource=asset.id,
        decided_by=by,
        reasons=tuple(reasons),
        errors=tuple(str(e) for e in res.diagnostics.errors),
    )


def _training_data(graph: EstateGraph, model: Asset) -> list[Asset]:
    seen: dict[str, Asset] = {}
    for n in graph.out(model.id, RelationKind.TRAINED_ON):
        seen.setdefault(n.asset.id, n.asset)
    for base in graph.out(model.id, RelationKind.DERIVED_FROM):
        for n in graph.out(base.asset.id, RelationKind.TRAINED_ON):
            seen.setdefault(n.asset.id, n.asset)
    return [seen[k] for k in sorted(seen)]


def _rule_findings(
    rule: DataUsageRule, model: Asset, dataset: Asset, graph: EstateGraph, where: str
) -> list[Finding]:
    out: list[Finding] = []
    cls = dataset.data_sensitivity.value
    if not rule.allow_third_party and is_third_party(model, graph):
        out.append(
            _finding(
                "AIP-POLICY-001",
                model,
                rule.severity,
                fingerprint=f"{rule.id}|{dataset.id}",
                title=f"{model.name} is hosted by a third party and trained on {cls} "
                f"dataset {dataset.name}",
                detail=f"rule {rule.id}: {cls} data never in a third-party hosted model",
                where=where,
                key=rule.id,
            )
        )
    missing = [c for c in rule.require_controls if not has_control(model, c)]
    if missing:
        out.append(
            _finding(
                "AIP-POLICY-002",
                model,
                rule.severity,
                fingerprint=f"{rule.id}|{dataset.id}",
                title=f"{model.name} is trained on {cls} dataset {dataset.name} without "
                f"{', '.join(missing)}",
                detail=f"rule {rule.id} requires {', '.join(rule.require_controls)}",
                where=where,
                key=rule.id,
            )
        )
    if rule.allowed_use_cases is not None:
        allowed = {u.casefold() for u in rule.allowed_use_cases}
        have = use_cases(model)
        if not any(u.casefold() in allowed for u in have):
            out.append(
                _finding(
                    "AIP-POLICY-003",
                    model,
                    rule.severity,
                    fingerprint=f"{rule.id}|{dataset.id}",
                    title=f"{model.name} uses {cls} dataset {dataset.name} for "
                    f"{', '.join(have) or 'an unrecorded use case'}",
                    detail=f"rule {rule.id} allows only {', '.join(rule.allowed_use_cases)}",
                    where=where,
                    key=rule.id,
                )
            )
    return out


def _finding(
    rule_id: str,
    asset: Asset,
    severity: Severity,
    *,
    fingerprint: str,
    title: str,
    detail: str,
    where: str,
    key: str,
) -> Finding:
    _, remediation, frameworks = POLICY_RULES[rule_id]
    return Finding.new(
        asset.id,
        rule_id,
        title,
        severity,
        fingerprint=fingerprint,
        description=detail,
        remediation=remediation,
        tags=[*frameworks, "policy:data-usage"],
        evidence=[
            Evidence(
                kind=EvidenceKind.CONFIG,
                path=where,
                key=key,
                detail=detail,
                scanner="policy",
            )
        ],
    )
