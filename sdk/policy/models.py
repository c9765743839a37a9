"""The policy's own data: principals, decisions and the rules of a policy folder.

A policy folder (see :mod:`aiposture.policy.loader`) holds Cedar access-control
policies plus three YAML files, each read into one of the models here:

* ``data_usage.yaml`` -> :class:`DataUsagePolicy` (:class:`DataUsageRule` list and
  data residency per sensitivity);
* ``rate_limits.yaml`` -> :class:`RateLimitFile` (:class:`RateLimitRule` list);
* ``approvals.yaml`` -> :class:`ApprovalFile` (:class:`ApprovalRule` list);
* ``principals.yaml`` -> :class:`PrincipalFile` (:class:`Principal` list).

Every model forbids unknown keys, so a misspelt key is an error, not a silently
ignored rule.
"""

from __future__ import annotations

import fnmatch
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from aiposture.errors import AIPostureError
from aiposture.models import Asset, AssetKind, Environment, Sensitivity, Severity

__all__ = [
    "Action",
    "ApprovalFile",
    "ApprovalRule",
    "CedarPolicy",
    "DataUsagePolicy",
    "DataUsageRule",
    "Decision",
    "DecisionChange",
    "PolicySet",
    "PolicyViolation",
    "Principal",
    "PrincipalFile",
    "PrincipalType",
    "RateLimitFile",
    "RateLimitRule",
    "ResourceSelector",
    "WhatIfReport",
    "sensitivity_rank",
]

_ORDER = [
    Sensitivity.PUBLIC,
    Sensitivity.INTERNAL,
    Sensitivity.CONFIDENTIAL,
    Sensitivity.RESTRICTED,
]


def sensitivity_rank(s: Sensitivity) -> int:
    """public 0 < internal 1 < confidential 2 < restricted 3; unknown -1."""
    return _ORDER.index(s) if s in _ORDER else -1


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def _repr_html_(self) -> str:
        from aiposture import display

        return display.html(self)


class PrincipalType(StrEnum):
    """Who asks: a person, a group, a workload or an AI agent."""

    USER = "user"
    GROUP = "group"
    SERVICE = "service"
    AGENT = "agent"


class Action(StrEnum):
    """What a principal may do to an asset (the Cedar ``Action`` entities)."""

    QUERY = "query"
    DEPLOY = "deploy"
    MODIFY = "modify"
    TRAIN = "train"
    EXPORT = "export"
    APPROVE = "approve"


class Principal(_Strict):
    """Someone or something that acts: its id, type, groups and free attributes.

    ``attributes`` become attributes of the Cedar entity (``principal.department``);
    values must be JSON scalars or lists of them.
    """

    id: str = Field(min_length=1)
    type: PrincipalType = PrincipalType.USER
    groups: tuple[str, ...] = ()
    attributes: dict[str, Any] = Field(default_factory=dict)

    @field_validator("attributes")
    @classmethod
    def _scalar_attributes(cls, v: dict[str, Any]) -> dict[str, Any]:
        reserved = {"name", "type", "groups"}
        for key, value in v.items():
            if key in reserved:
                raise ValueError(f"attribute {key!r} is reserved")
            items = value if isinstance(value, list) else [value]
            if not all(isinstance(x, str | int | bool) for x in items):
                raise ValueError(f"attribute {key!r} must be a string, number, flag or list")
        return v


class PrincipalFile(_Strict):
    """``principals.yaml``: the principals the policy knows."""

    principals: tuple[Principal, ...] = ()


class Decision(_Strict):
    """The answer to one access request.

    Attributes:
        allowed: Whether the action is permitted.
        principal: Who asked.
        action: What they asked to do.
        resource: The asset id it was asked on.
        decided_by: Ids of the Cedar policies that decided (the permits that allowed,
            or the forbids that denied; empty for a default deny).
        reasons: The decision in words, one line per deciding policy.
        errors: Policies that failed to evaluate (Cedar skips them; a deny may come
            from a permit that errored).
    """

    allowed: bool
    principal: str
    action: str
    resource: str
    decided_by: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()


class PolicyViolation(AIPostureError):
    """An action was refused by policy; ``decision`` says which policies and why."""

    def __init__(self, decision: Decision, message: str | None = None) -> None:
        self.decision = decision
        text = message or (
            f"{decision.principal} may not {decision.action} {decision.resource}: "
            + ("; ".join(decision.reasons) or "denied")
        )
        super().__init__(text)


class CedarPolicy(_Strict):
    """One Cedar policy of the folder, with where it was written."""

    id: str = Field(description="The @id annotation, else file:line.")
    file: str
    line: int = Field(ge=1)
    effect: str
    text: str
    #: The policy in Cedar's JSON form (what the engine is built from).
    est: dict[str, Any] = Field(repr=False)


class DataUsageRule(_Strict):
    """Where data of a sensitivity class may go.

    The rule applies to every dataset at least as sensitive as ``sensitivity`` that a
    model is trained on (directly, or through the model it is derived from).

    Attributes:
        id: Stable name of the rule (in findings and reports).
        sensitivity: The lowest data class it applies to.
        allow_third_party: False: never in a model hosted by a third party.
        require_controls: Controls every such model must have (``output-monitoring``
            is recorded as the tag ``control:output-monitoring``).
        allowed_use_cases: When set, the model's use case (tag ``use_case:<x>`` or
            attribute ``use_case``) must be one of these.
        severity: Severity of a violation.
    """

    id: str = Field(min_length=1)
    description: str = ""
    sensitivity: Sensitivity
    allow_third_party: bool = True
    require_controls: tuple[str, ...] = ()
    allowed_use_cases: tuple[str, ...] | None = None
    severity: Severity = Severity.HIGH

    @field_validator("sensitivity")
    @classmethod
    def _known(cls, v: Sensitivity) -> Sensitivity:
        if v is Sensitivity.UNKNOWN:
            raise ValueError(
                "a rule needs a data class: public, internal, confidential or restricted"
            )
        return v

    @model_validator(mode="after")
    def _does_something(self) -> DataUsageRule:
        if self.allow_third_party and not self.require_controls and self.allowed_use_cases is None:
            raise ValueError(
                "the rule restricts nothing: set allow_third_party: false, "
                "require_controls or allowed_use_cases"
            )
        return self


class DataUsagePolicy(_Strict):
    """``data_usage.yaml``: data-usage rules and data residency.

    ``residency`` maps a data class to the regions (shell patterns, ``eu-*``) where
    datasets of that class may live; a dataset's region is its attribute ``region``
    or its tag ``region:<name>``.
    """

    rules: tuple[DataUsageRule, ...] = ()
    residency: dict[Sensitivity, tuple[str, ...]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _unique(self) -> DataUsagePolicy:
        ids = [r.id for r in self.rules]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"rule ids must be unique: {', '.join(dup)}")
        return self

    def allowed_regions(self, sensitivity: Sensitivity) -> tuple[str, ...] | None:
        """Allowed regions for a data class (None when unrestricted)."""
        return self.residency.get(sensitivity)


def _glob(pattern: str, value: str) -> bool:
    return fnmatch.fnmatchcase(value.casefold(), pattern.casefold())


class RateLimitRule(_Strict):
    """A limit on calls of one principal (or group, or type) to one model (or pattern).

    ``principal`` is ``*``, a principal id (shell pattern), ``group:<name>`` or
    ``type:<user|group|service|agent>``; ``model`` is ``*`` or a model name or id
    (shell pattern). A caller may spend ``requests`` (and ``tokens``) per ``window``
    seconds, plus ``burst`` extra requests when the bucket is full.
    """

    id: str = Field(min_length=1)
    principal: str = "*"
    model: str = "*"
    window: int = Field(gt=0, description="Window in seconds.")
    requests: int | None = Field(default=None, ge=1)
    tokens: int | None = Field(default=None, ge=1)
    burst: int = Field(default=0, ge=0)

    @field_validator("principal")
    @classmethod
    def _selector(cls, v: str) -> str:
        if v.startswith("type:") and v[5:] not in {t.value for t in PrincipalType}:
            raise ValueError(f"unknown principal type {v[5:]!r}")
        if not v.strip():
            raise ValueError("an empty principal selector")
        return v

    @model_validator(mode="after")
    def _limits_something(self) -> RateLimitRule:
        if self.requests is None and self.tokens is None:
            raise ValueError("a rate limit needs requests or tokens (or both)")
        return self

    def applies_to(self, principal: Principal, model: str) -> bool:
        """Whether the limit covers ``principal`` calling ``model`` (name or id)."""
        sel = self.principal
        if sel.startswith("group:"):
            who = sel[6:] in principal.groups
        elif sel.startswith("type:"):
            who = principal.type.value == sel[5:]
        else:
            who = _glob(sel, principal.id)
        return who and _glob(self.model, model)


class RateLimitFile(_Strict):
    """``rate_limits.yaml``: the rate limits."""

    limits: tuple[RateLimitRule, ...] = ()


class ResourceSelector(_Strict):
    """Which assets a rule covers; every field set must match (unset fields match all)."""

    kinds: tuple[AssetKind, ...] = ()
    environments: tuple[Environment, ...] = ()
    min_sensitivity: Sensitivity | None = None
    tags: tuple[str, ...] = Field(default=(), description="All of these tags.")
    name: str | None = Field(default=None, description="Shell pattern on the asset name.")

    def matches(self, asset: Asset) -> bool:
        """Whether ``asset`` is covered."""
        if self.kinds and asset.kind not in self.kinds:
            return False
        if self.environments and asset.environment not in self.environments:
            return False
        if self.min_sensitivity is not None and sensitivity_rank(
            asset.data_sensitivity
        ) < sensitivity_rank(self.min_sensitivity):
            return False
        have = {t.casefold() for t in asset.tags}
        if any(t.casefold() not in have for t in self.tags):
            return False
        return self.name is None or _glob(self.name, asset.name)


class ApprovalRule(_Strict):
    """An action that needs approval before it runs.

    Attributes:
        id: Stable name of the rule.
        action: The gated action.
        resource: Which assets it gates.
        approvers: How many distinct approvers are needed.
        group: The group every approver must belong to.
        valid_for: Seconds an approval stays valid once granted.
    """

    id: str = Field(min_length=1)
    description: str = ""
    action: Action
    resource: ResourceSelector = Field(default_factory=ResourceSelector)
    approvers: int = Field(default=1, ge=1)
    group: str = Field(min_length=1)
    valid_for: int = Field(default=86_400, gt=0)

    def applies_to(self, action: Action | str, asset: Asset) -> bool:
        """Whether doing ``action`` on ``asset`` needs this approval."""
        return Action(action) is self.action and self.resource.matches(asset)


class ApprovalFile(_Strict):
    """``approvals.yaml``: the approval rules."""

    approvals: tuple[ApprovalRule, ...] = ()


class PolicySet(_Strict):
    """Everything one policy folder says, validated.

    Attributes:
        folder: Where it was loaded from (None when built in code).
        cedar: The Cedar access-control policies, in file order.
        cedar_schema: The schema the Cedar policies were validated against, if any.
        data_usage: Data-usage rules and residency.
        rate_limits: Rate limits.
        approvals: Approval rules.
        principals: Principals declared in ``principals.yaml``.
        digest: SHA-256 over every file read (tells two versions apart).
    """

    folder: str | None = None
    cedar: tuple[CedarPolicy, ...] = ()
    cedar_schema: str | None = None
    data_usage: DataUsagePolicy = Field(default_factory=DataUsagePolicy)
    rate_limits: tuple[RateLimitRule, ...] = ()
    approvals: tuple[ApprovalRule, ...] = ()
    principals: tuple[Principal, ...] = ()
    digest: str = ""

    def policy(self, policy_id: str) -> CedarPolicy | None:
        """The Cedar policy with this id."""
        return next((p for p in self.cedar if p.id == policy_id), None)

    def principal(self, principal_id: str) -> Principal | None:
        """The declared principal with this id."""
        return next((p for p in self.principals if p.id == principal_id), None)

    def cedar_json(self) -> dict[str, Any]:
        """The Cedar policies as one Cedar JSON policy set, keyed by policy id."""
        return {
            "staticPolicies": {p.id: p.est for p in self.cedar},
            "templates": {},
            "templateLinks": [],
        }


class DecisionChange(_Strict):
    """One request whose decision a draft policy changes."""

    principal: str
    action: str
    resource: str
    resource_name: str
    resource_kind: str
    before: bool
    after: bool
    before_by: tuple[str, ...] = ()
    after_by: tuple[str, ...] = ()


class WhatIfReport(_Strict):
    """What a draft policy would change: every flipped decision over the inventory.

    Attributes:
        evaluated: Requests evaluated under both policies.
        truncated: True when the bound on requests stopped the evaluation early.
        changes: The requests allowed under one policy and denied under the other.
    """

    evaluated: int
    truncated: bool = False
    changes: tuple[DecisionChange, ...] = ()

    def __repr__(self) -> str:
        from aiposture import display

        return display.whatif_text(self)

    __str__ = __repr__

    @property
    def newly_allowed(self) -> list[DecisionChange]:
        """Requests the draft allows that the policy in force denies."""
        return [c for c in self.changes if c.after and not c.before]

    @property
    def newly_denied(self) -> list[DecisionChange]:
        """Requests the draft denies that the policy in force allows."""
        return [c for c in self.changes if c.before and not c.after]

    def to_frame(self) -> Any:
        """The changes as a pandas DataFrame, one row per changed request."""
        import pandas as pd

        cols = list(DecisionChange.model_fields)
        return pd.DataFrame([c.model_dump() for c in self.changes], columns=cols)
