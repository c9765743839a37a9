"""The approval workflow: requests, reviews with separation of duties, and the gate.

A gated action (deploying to production, training on a restricted dataset, ...)
needs an approved :class:`ApprovalRequest` for exactly that action and resource.
:class:`ApprovalService` keeps requests in the store's ``approval_requests``
table and enforces separation of duties itself:

* the requester never reviews their own request;
* an AI agent principal never reviews;
* the reviewer belongs to the group the :class:`ApprovalRequirement` names;
* nothing is approved after the request expired;
* a reviewer counts once (approving twice is refused), and a request needs
  as many distinct approvers as the requirement says;
* an approval is valid only for its action and resource, until it expires,
  and only once when it is single-use (:meth:`ApprovalService.consume`).

Every step (request, approval, denial, refusal with its reason, expiry, use)
is appended to the hash-chained audit log in the same transaction as the state
change. Each entry about a request carries the SHA-256 ``digest`` of the
request's stored payload after the step, so :meth:`ApprovalService.verify_approvals`
finds a request row edited or deleted behind the store's back, and the gate
refuses a row whose payload does not match the audit log.
"""

from __future__ import annotations

import builtins
import json
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import SQLAlchemyError

from aiposture.errors import AIPostureError, ConfigError, NotFoundError, StoreError
from aiposture.models import AuditReport, utcnow
from aiposture.store import schema as t
from aiposture.store.audit import PendingEntry, digest
from aiposture.store.batch import write_audit
from aiposture.store.sql import SQLStore

if TYPE_CHECKING:
    from aiposture.widgets.approvals import ApprovalsPanel

__all__ = [
    "ApprovalError",
    "ApprovalIntegrity",
    "ApprovalRequest",
    "ApprovalRequirement",
    "ApprovalService",
    "ApprovalStatus",
    "ApprovalUse",
    "ApprovalVote",
    "Directory",
    "PrincipalInfo",
    "PrincipalType",
    "StaticDirectory",
]

#: ``object_type`` of audit entries about approval requests.
OBJECT_TYPE = "approval"


class ApprovalError(AIPostureError):
    """An approval step was refused (the refusal is in the audit log).

    Attributes:
        code: A stable, machine-readable reason (``self_approval``, ``agent_reviewer``,
            ``wrong_group``, ``expired``, ``replay``, ``not_pending``, ``no_rule``,
            ``no_valid_approval``, ``tampered``, ``missing_reason``, ``unknown_request``).
        request_id: The request concerned, if any.
    """

    def __init__(self, code: str, message: str, request_id: str | None = None) -> None:
        """Build the error with its ``code``, human ``message`` and ``request_id``."""
        super().__init__(message)
        self.code = code
        self.request_id = request_id


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    def _repr_html_(self) -> str:
        from aiposture import display

        return display.html(self)


class ApprovalStatus(StrEnum):
    """Where a request stands."""

    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"
    EXPIRED = "expired"
    USED = "used"


class PrincipalType(StrEnum):
    """What kind of principal acts."""

    USER = "user"
    SERVICE = "service"
    AGENT = "agent"


class ApprovalVote(_Model):
    """One reviewer's approval (or the denial) of a request."""

    reviewer: str
    at: datetime
    reason: str


class ApprovalUse(_Model):
    """One use of an approval by a gated action."""

    by: str
    at: datetime


class ApprovalRequest(_Model):
    """A request to perform ``action`` on ``resource``, and its review.

    ``expires_at`` is the review deadline while the request is pending; once it is
    approved, ``valid_until`` says until when the approval may be used.
    """

    id: str
    action: str
    resource: str
    requester: str
    requester_type: PrincipalType = PrincipalType.USER
    justification: str
    created_at: datetime
    expires_at: datetime
    required_approvals: int = Field(default=1, ge=1)
    required_group: str | None = None
    validity_seconds: int = Field(gt=0)
    single_use: bool = True
    approvals: list[ApprovalVote] = Field(default_factory=list)
    denial: ApprovalVote | None = None
    status: ApprovalStatus = ApprovalStatus.PENDING
    approved_at: datetime | None = None
    valid_until: datetime | None = None
    uses: list[ApprovalUse] = Field(default_factory=list)
    #: The requester's own key for this request: asking again with the same key returns
    #: this request instead of filing a second one.
    idempotency_key: str | None = None

    def deadline(self) -> datetime:
        """When this request stops counting: the review deadline, or the approval's end."""
        if self.status in (ApprovalStatus.APPROVED, ApprovalStatus.USED) and self.valid_until:
            return self.valid_until
        return self.expires_at


class ApprovalRequirement(_Model):
    """Which action on which resources needs approval, by whom and for how long.

    Attributes:
        action: The gated action (``deploy``, ``train``, ...).
        resource: A shell-style pattern (``fnmatch``, case-sensitive) of resource ids.
        approvers: How many distinct reviewers must approve.
        group: The group every reviewer must belong to (``None``: any eligible reviewer).
        validity_seconds: How long an approval is valid once granted.
        review_seconds: How long a request waits for review before it expires.
        single_use: An approval allows one gated action only.
    """

    action: str = Field(min_length=1)
    resource: str = Field(default="*", min_length=1)
    approvers: int = Field(default=1, ge=1)
    group: str | None = None
    validity_seconds: int = Field(default=86_400, gt=0)
    review_seconds: int = Field(default=7 * 86_400, gt=0)
    single_use: bool = True

    def matches(self, action: str, resource: str) -> bool:
        """Whether this requirement covers ``action`` on ``resource``."""
        return self.action == action and fnmatchcase(resource, self.resource)


@runtime_checkable
class Directory(Protocol):
    """Answers who a principal is: its groups and whether it is an AI agent."""

    def groups_of(self, principal: str) -> set[str]:
        """The groups ``principal`` belongs to."""
        ...

    def is_agent(self, principal: str) -> bool:
        """Whether ``principal`` is an AI agent."""
        ...


class PrincipalInfo(_Model):
    """A principal known to a :class:`StaticDirectory`."""

    type: PrincipalType = PrincipalType.USER
    groups: set[str] = Field(default_factory=set)


class StaticDirectory:
    """A :class:`Directory` from a fixed mapping of principals.

    A principal that is not in the mapping belongs to no group and counts as an
    agent: an unknown identity is never trusted to review.
    """

    def __init__(self, principals: Mapping[str, PrincipalInfo]) -> None:
        """Build the directory from ``principals`` (name to :class:`PrincipalInfo`)."""
        self._principals = dict(principals)

    def groups_of(self, principal: str) -> set[str]:
        """The groups ``principal`` belongs to (none if unknown)."""
        info = self._principals.get(principal)
        return set(info.groups) if info else set()

    def is_agent(self, principal: str) -> bool:
        """Whether ``principal`` is an AI agent (or unknown)."""
        info = self._principals.get(principal)
        return info is None or info.type is PrincipalType.AGENT

    def type_of(self, principal: str) -> PrincipalType:
        """The kind of ``principal`` (an unknown one counts as an agent)."""
        info = self._principals.get(principal)
        return info.type if info else PrincipalType.AGENT


class ApprovalIntegrity(_Model):
    """Result of checking stored requests against the audit log."""

    ok: bool
    checked: int
    problems: list[str] = Field(default_factory=list)

    @field_validator("problems")
    @classmethod
    def _sorted(cls, v: list[str]) -> list[str]:
        return sorted(v)


def _payload(req: ApprovalRequest) -> dict[str, Any]:
    """The request as stored (JSON values as they read back from the database)."""
    out: dict[str, Any] = json.loads(t.json_dumps(req.model_dump(mode="json")))
    return out


def _row_values(req: ApprovalRequest) -> dict[str, Any]:
    return {
        "status": req.status.value,
        "action": req.action,
        "resource": req.resource,
        "requester": req.requester,
        "created_at": req.created_at,
        "expires_at": req.deadline(),
        "payload": _payload(req),
    }


class _Refusal(Exception):
    """Internal: a step refused inside a transaction (audited, then raised after commit)."""

    def __init__(self, error: ApprovalError) -> None:
        super().__init__(str(error))
        self.error = error


class ApprovalService:
    """Approval requests in the store, with separation of duties and a full audit trail.

    Args:
        store: The SQL store holding requests and the audit log.
        requirements: Which actions need approval (the first matching one applies).
        directory: Who principals are (groups, agent or not).
        clock: The current time (timezone-aware); injectable for tests.
        actor: Who works through this object by default (the reviewer its widget
            starts with); every decision still names its reviewer explicitly.
    """

    def __init__(
        self,
        store: SQLStore,
        requirements: Sequence[ApprovalRequirement],
        directory: Directory,
        *,
        clock: Callable[[], datetime] = utcnow,
        actor: str | None = None,
    ) -> None:
        """Build the service (see the class docstring for the arguments)."""
        if not isinstance(store, SQLStore):
            raise ConfigError("approvals need a SQL store (open one with aiposture.open_store)")
        self._store = store
        self.requirements = list(requirements)
        self._directory = directory
        self._clock = clock
        self.actor = actor

    # --- helpers -----------------------------------------------------------------------
    def _now(self) -> datetime:
        now = self._clock()
        if now.tzinfo is None:
            raise ConfigError("the approval clock must return timezone-aware times")
        return now

    def requirement_for(self, action: str, resource: str) -> ApprovalRequirement | None:
        """The requirement that gates ``action`` on ``resource``, or ``None`` if none does."""
        return next((r for r in self.requirements if r.matches(action, resource)), None)

    def _type_of(self, principal: str) -> PrincipalType:
        type_of = getattr(self._directory, "type_of", None)
        if callable(type_of):
            return PrincipalType(type_of(principal))
        return PrincipalType.AGENT if self._directory.is_agent(principal) else PrincipalType.USER

    def _fail(self, what: str, exc: SQLAlchemyError) -> StoreError:
        return self._store._fail(what, exc)

    @staticmethod
    def _audit(
        conn: Connection,
        actor: str,
        event: str,
        object_id: str,
        at: datetime,
        req: ApprovalRequest | None = None,
        /,
        **details: Any,
    ) -> None:
        if req is not None:
            details.setdefault("status", req.status.value)
            details["digest"] = digest(_payload(req))
        write_audit(conn, [PendingEntry(actor, event, OBJECT_TYPE, object_id, details)], at)

    def _refuse(
        self,
        conn: Connection,
        actor: str,
        code: str,
        message: str,
        /,
        *,
        step: str,
        object_id: str,
        at: datetime,
        req: ApprovalRequest | None = None,
        **details: Any,
    ) -> _Refusal:
        """Audit a refusal in this transaction and return the exception to raise after it."""
        self._audit(
            conn, actor, "approval.refuse", object_id, at, req, step=step, code=code, **details
        )
        return _Refusal(ApprovalError(code, message, object_id if object_id != "-" else None))

    @staticmethod
    def _last_digest(conn: Connection, request_id: str) -> str | None:
        al = t.audit_log
        rows = conn.execute(
            select(al.c.details)
            .where(al.c.object_type == OBJECT_TYPE, al.c.object_id == request_id)
            .order_by(al.c.seq.desc())
        )
        for row in rows:
            details = row.details if isinstance(row.details, dict) else {}
            if "digest" in details:
                return str(details["digest"])
        return None

    @staticmethod
    def _row_problem(row: Any) -> str | None:
        """What is wrong between a row's columns and its payload, if anything."""
        try:
            req = ApprovalRequest.model_validate(row.payload)
        except ValidationError:
            return f"request {row.id}: its payload is not a valid approval request"
        if (req.id, req.status.value, req.action, req.resource, req.requester) != (
            row.id,
            row.status,
            row.action,
            row.resource,
            row.requester,
        ):
            return f"request {row.id}: its columns do not match its payload"
        return None

    def _load(self, conn: Connection, request_id: str) -> ApprovalRequest | None:
        """The stored request, or ``None``; raises ``_Refusal`` (unaudited) if tampered."""
        a = t.approval_requests
        row = conn.execute(select(a).where(a.c.id == request_id)).first()
        if row is None:
            return None
        problem = self._row_problem(row)
        if problem is None and digest(row.payload) != self._last_digest(conn, request_id):
            problem = f"request {request_id}: its payload does not match the audit log"
        if problem is not None:
            raise _Refusal(ApprovalError("tampered", problem, request_id))
        return ApprovalRequest.model_validate(row.payload)

    @staticmethod
    def _by_key(conn: Connection, requester: str, key: str) -> ApprovalRequest | None:
        """The request ``requester`` filed with idempotency key ``key``, if any."""
        a = t.approval_requests
        rows = conn.execute(select(a.c.payload).where(a.c.requester == requester))
        for row in rows:
            if isinstance(row.payload, dict) and row.payload.get("idempotency_key") == key:
                return ApprovalRequest.model_validate(row.payload)
        return None

    @staticmethod
    def _save(conn: Connection, req: ApprovalRequest) -> None:
        a = t.approval_requests
        conn.execute(update(a).where(a.c.id == req.id).values(**_row_values(req)))

    def _expire(self, conn: Connection, req: ApprovalRequest, now: datetime) -> ApprovalRequest:
        """Mark ``req`` expired (audited) if its deadline passed; return it either way."""
        live = req.status in (ApprovalStatus.PENDING, ApprovalStatus.APPROVED)
        if not live or now < req.deadline():
            return req
        was = req.status.value
        req = req.model_copy(update={"status": ApprovalStatus.EXPIRED})
        self._save(conn, req)
        self._audit(
            conn, "aiposture", "approval.expire", req.id, now, req, was=was,
            deadline=req.deadline().isoformat(),
        )  # fmt: skip
        return req

    # --- the workflow ------------------------------------------------------------------
    def request(
        self,
        action: str,
        resource: str,
        requester: str,
        justification: str,
        ttl: timedelta | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> ApprovalRequest:
        """Ask for approval to perform ``action`` on ``resource`` (audited as ``approval.request``).

        Args:
            action: The gated action.
            resource: The resource it acts on (an asset id or name).
            requester: Who asks (and who may use the approval).
            justification: Why; required.
            ttl: How long the request waits for review (default: the requirement's).
            idempotency_key: The requester's key for this request: a retry with the same
                key returns the request already filed (whatever its status) instead of a
                second one. Keys are per requester.

        Raises:
            ApprovalError: No requirement gates this action on this resource
                (``no_rule``), the justification is empty (``missing_reason``), or the
                key was already used by this requester for another action or resource
                (``idempotency_conflict``).
        """
        now = self._now()
        rule = self.requirement_for(action, resource)
        error: ApprovalError | None = None
        try:
            with self._store._write() as conn:
                try:
                    earlier = (
                        self._by_key(conn, requester, idempotency_key)
                        if idempotency_key is not None
                        else None
                    )
                    if earlier is not None:
                        if (earlier.action, earlier.resource) != (action, resource):
                            raise self._refuse(
                                conn, requester, "idempotency_conflict",
                                f"{requester} already used this idempotency key for "
                                f"{earlier.action!r} on {earlier.resource!r} ({earlier.id})",
                                step="request", object_id="-", at=now,
                                action=action, resource=resource,
                            )  # fmt: skip
                        return earlier
                    if rule is None:
                        raise self._refuse(
                            conn, requester, "no_rule",
                            f"no approval rule covers {action!r} on {resource!r}",
                            step="request", object_id="-", at=now,
                            action=action, resource=resource,
                        )  # fmt: skip
                    if not justification.strip():
                        raise self._refuse(
                            conn, requester, "missing_reason",
                            "an approval request needs a justification",
                            step="request", object_id="-", at=now,
                            action=action, resource=resource,
                        )  # fmt: skip
                    if ttl is not None and ttl <= timedelta(0):
                        raise ValueError(f"the review time {ttl} is not positive")
                    window = ttl if ttl is not None else timedelta(seconds=rule.review_seconds)
                    req = ApprovalRequest(
                        id=f"apr-{uuid.uuid4().hex}",
                        action=action,
                        resource=resource,
                        requester=requester,
                        requester_type=self._type_of(requester),
                        justification=justification,
                        created_at=now,
                        expires_at=now + window,
                        required_approvals=rule.approvers,
                        required_group=rule.group,
                        validity_seconds=rule.validity_seconds,
                        single_use=rule.single_use,
                        idempotency_key=idempotency_key,
                    )
                    conn.execute(insert(t.approval_requests).values(id=req.id, **_row_values(req)))
                    self._audit(
                        conn, requester, "approval.request", req.id, now, req,
                        action=action, resource=resource, requester_type=req.requester_type.value,
                        justification=justification, expires_at=req.expires_at.isoformat(),
                    )  # fmt: skip
                except _Refusal as refusal:
                    error = refusal.error
        except SQLAlchemyError as exc:
            raise self._fail("cannot store the approval request", exc) from exc
        if error is not None:
            raise error
        return req

    def _review(
        self, request_id: str, reviewer: str, reason: str, *, approve: bool
    ) -> ApprovalRequest:
        step = "approve" if approve else "deny"
        now = self._now()
        error: ApprovalError | None = None
        try:
            with self._store._write() as conn:
                try:
                    req = self._checked_for_review(conn, request_id, reviewer, reason, step, now)
                    if approve:
                        votes = [
                            *req.approvals,
                            ApprovalVote(reviewer=reviewer, at=now, reason=reason),
                        ]
                        upd: dict[str, Any] = {"approvals": votes}
                        if len(votes) >= req.required_approvals:
                            upd |= {
                                "status": ApprovalStatus.APPROVED,
                                "approved_at": now,
                                "valid_until": now + timedelta(seconds=req.validity_seconds),
                            }
                        req = req.model_copy(update=upd)
                        self._save(conn, req)
                        self._audit(
                            conn, reviewer, "approval.approve", req.id, now, req, reason=reason,
                            approvals=len(votes), required=req.required_approvals,
                        )  # fmt: skip
                    else:
                        denial = ApprovalVote(reviewer=reviewer, at=now, reason=reason)
                        req = req.model_copy(
                            update={"denial": denial, "status": ApprovalStatus.DENIED}
                        )
                        self._save(conn, req)
                        self._audit(
                            conn, reviewer, "approval.deny", req.id, now, req, reason=reason
                        )
                except _Refusal as refusal:
                    error = refusal.error
        except SQLAlchemyError as exc:
            raise self._fail(f"cannot review approval request {request_id}", exc) from exc
        if error is not None:
            if error.code == "unknown_request":
                raise NotFoundError(str(error))
            raise error
        return req

    def _checked_for_review(
        self,
        conn: Connection,
        request_id: str,
        reviewer: str,
        reason: str,
        step: str,
        now: datetime,
    ) -> ApprovalRequest:
        """The request ``reviewer`` may review now; raises an audited ``_Refusal`` otherwise."""

        def refuse(
            code: str, message: str, req: ApprovalRequest | None = None, **details: Any
        ) -> _Refusal:
            return self._refuse(
                conn, reviewer, code, message, step=step, object_id=request_id, at=now, req=req,
                **details,
            )  # fmt: skip

        try:
            found = self._load(conn, request_id)
        except _Refusal as tampered:
            raise refuse("tampered", str(tampered.error)) from None
        if found is None:
            raise refuse("unknown_request", f"no approval request with id {request_id!r}")
        req = self._expire(conn, found, now)
        if req.status is ApprovalStatus.EXPIRED:
            raise refuse(
                "expired",
                f"request {request_id} expired at {req.deadline().isoformat()}; "
                "nothing can be approved or denied after expiry",
                req,
            )
        if req.status is not ApprovalStatus.PENDING:
            raise refuse("not_pending", self._not_pending(req), req)
        if not reason.strip():
            raise refuse("missing_reason", f"a reviewer must give a reason to {step}", req)
        problem = self._reviewer_problem(req, reviewer)
        if problem is not None:
            code, message, details = problem
            raise refuse(code, message, req, **details)
        return req

    @staticmethod
    def _not_pending(req: ApprovalRequest) -> str:
        return (
            f"request {req.id} is {req.status.value}, not pending: "
            "an old decision cannot be replayed"
        )

    def _reviewer_problem(
        self, req: ApprovalRequest, reviewer: str
    ) -> tuple[str, str, dict[str, Any]] | None:
        """Why ``reviewer`` may not review the pending ``req`` (code, message, details), if so."""
        if reviewer == req.requester:
            return (
                "self_approval",
                f"{reviewer} requested {req.id} and cannot review their own request",
                {},
            )
        if self._directory.is_agent(reviewer):
            return (
                "agent_reviewer",
                f"{reviewer} is an AI agent (or unknown principal) and cannot review requests",
                {},
            )
        if req.required_group is not None and req.required_group not in set(
            self._directory.groups_of(reviewer)
        ):
            return (
                "wrong_group",
                f"{reviewer} is not in group {req.required_group!r}, which must review "
                f"{req.action!r} on {req.resource!r}",
                {"group": req.required_group},
            )
        if any(v.reviewer == reviewer for v in req.approvals):
            return (
                "replay",
                f"{reviewer} already approved {req.id}; each approver counts once",
                {},
            )
        return None

    def widget(self, reviewer: str | None = None) -> ApprovalsPanel:
        """The pending queue with approve and deny buttons for ``reviewer``.

        The buttons are disabled, with the reason shown, wherever :meth:`review_problem`
        says the reviewer may not decide; :meth:`approve` and :meth:`deny` check again.

        Args:
            reviewer: Who decides (default: this service's ``actor``, the posture's).

        Raises:
            ConfigError: No reviewer given and the service has no actor.
        """
        from aiposture.widgets.approvals import ApprovalsPanel

        who = reviewer or self.actor
        if not who:
            raise ConfigError("name the reviewer: approvals.widget(reviewer=...)")
        return ApprovalsPanel(self, who)

    def review_problem(self, request_id: str, reviewer: str) -> str | None:
        """Why ``reviewer`` may not approve or deny ``request_id`` now, or None if they may.

        The same separation-of-duties rules that :meth:`approve` and :meth:`deny` enforce
        (no self-review, no agent reviewer, the required group, one vote per reviewer, only
        pending requests before their deadline), checked without writing anything, so a
        user interface can disable what would be refused. ``approve`` and ``deny`` still
        check again when called.

        Raises:
            NotFoundError: No request has this id.
        """
        req = self.get(request_id)
        if req.status is ApprovalStatus.PENDING and self._now() >= req.deadline():
            return (
                f"request {request_id} expired at {req.deadline().isoformat()}; "
                "nothing can be approved or denied after expiry"
            )
        if req.status is not ApprovalStatus.PENDING:
            return self._not_pending(req)
        problem = self._reviewer_problem(req, reviewer)
        return problem[1] if problem is not None else None

    def approve(self, request_id: str, reviewer: str, reason: str) -> ApprovalRequest:
        """Approve a pending request (audited as ``approval.approve``).

        The request becomes ``approved`` once it has the required number of distinct
        approvers; the approval is then valid for the requirement's validity.

        Raises:
            NotFoundError: No request has this id (the attempt is audited).
            ApprovalError: The review is refused (audited): self-approval, an agent
                reviewer, a reviewer outside the required group, an expired or already
                decided request, a second approval by the same reviewer, a missing
                reason, or a request row that does not match the audit log.
        """
        return self._review(request_id, reviewer, reason, approve=True)

    def deny(self, request_id: str, reviewer: str, reason: str) -> ApprovalRequest:
        """Deny a pending request (audited as ``approval.deny``); same reviewer rules as approve.

        Raises:
            NotFoundError: No request has this id (the attempt is audited).
            ApprovalError: The review is refused (audited); see :meth:`approve`.
        """
        return self._review(request_id, reviewer, reason, approve=False)

    def get(self, request_id: str) -> ApprovalRequest:
        """The stored request ``request_id``.

        Raises:
            NotFoundError: No request has this id.
        """
        a = t.approval_requests
        try:
            with self._store._read() as conn:
                row = conn.execute(select(a.c.payload).where(a.c.id == request_id)).first()
        except SQLAlchemyError as exc:
            raise self._fail(f"cannot read approval request {request_id}", exc) from exc
        if row is None:
            raise NotFoundError(f"no approval request with id {request_id!r}")
        return ApprovalRequest.model_validate(row.payload)

    def expire_due(self) -> int:
        """Mark every pending or approved request past its deadline as expired (audited).

        Returns:
            How many requests expired.
        """
        now = self._now()
        a = t.approval_requests
        live = [ApprovalStatus.PENDING.value, ApprovalStatus.APPROVED.value]
        count = 0
        try:
            with self._store._write() as conn:
                rows = conn.execute(
                    select(a.c.id).where(a.c.status.in_(live), a.c.expires_at <= now)
                ).all()
                for row in rows:
                    try:
                        req = self._load(conn, row.id)
                    except _Refusal:
                        continue  # a tampered row is left for verify_approvals to report
                    if req is not None and self._expire(conn, req, now) is not req:
                        count += 1
        except SQLAlchemyError as exc:
            raise self._fail("cannot expire approval requests", exc) from exc
        return count

    def list(
        self, status: ApprovalStatus | str | None = None, *, requester: str | None = None
    ) -> builtins.list[ApprovalRequest]:
        """Requests, oldest first, after expiring those past their deadline.

        Args:
            status: Only requests with this status.
            requester: Only requests filed by this principal.

        Raises:
            ValueError: ``status`` is not an approval status.
        """
        wanted = ApprovalStatus(status) if status is not None else None
        self.expire_due()
        a = t.approval_requests
        q = select(a.c.payload).order_by(a.c.created_at, a.c.id)
        if wanted is not None:
            q = q.where(a.c.status == wanted.value)
        if requester is not None:
            q = q.where(a.c.requester == requester)
        try:
            with self._store._read() as conn:
                rows = conn.execute(q).all()
        except SQLAlchemyError as exc:
            raise self._fail("cannot read approval requests", exc) from exc
        return [ApprovalRequest.model_validate(r.payload) for r in rows]

    # --- the gate ----------------------------------------------------------------------
    def _find_valid(
        self, conn: Connection, action: str, resource: str, principal: str | None, now: datetime
    ) -> ApprovalRequest | None:
        a = t.approval_requests
        q = (
            select(a.c.id)
            .where(
                a.c.action == action,
                a.c.resource == resource,
                a.c.status == ApprovalStatus.APPROVED.value,
            )
            .order_by(a.c.created_at.desc(), a.c.id)
        )
        if principal is not None:
            q = q.where(a.c.requester == principal)
        for row in conn.execute(q).all():
            try:
                req = self._load(conn, row.id)
            except _Refusal:
                continue  # never trust a row that does not match the audit log
            if (
                req is not None
                and req.status is ApprovalStatus.APPROVED
                and (req.action, req.resource) == (action, resource)
                and (principal is None or req.requester == principal)
                and len({v.reviewer for v in req.approvals}) >= req.required_approvals
                and req.valid_until is not None
                and now < req.valid_until
            ):
                return req
        return None

    def valid_approval(
        self, action: str, resource: str, principal: str | None = None
    ) -> ApprovalRequest | None:
        """The approval that currently allows ``action`` on ``resource``, read from the store.

        An approval counts only if it is approved for exactly this action and resource
        (and requested by ``principal`` when given), has its distinct approvers, is within
        its validity, has not been used up, and its stored row matches the audit log.
        """
        now = self._now()
        try:
            with self._store._read() as conn:
                return self._find_valid(conn, action, resource, principal, now)
        except SQLAlchemyError as exc:
            raise self._fail("cannot read approval requests", exc) from exc

    def consume(self, action: str, resource: str, principal: str) -> ApprovalRequest:
        """Use the valid approval for ``action`` on ``resource`` (audited as ``approval.use``).

        A single-use approval becomes ``used`` and never allows another action.

        Args:
            action: The gated action about to run.
            resource: What it acts on.
            principal: Who runs it; must be the approval's requester.

        Raises:
            ApprovalError: No valid approval exists (``no_valid_approval``; audited).
        """
        now = self._now()
        error: ApprovalError | None = None
        try:
            with self._store._write() as conn:
                req = self._find_valid(conn, action, resource, principal, now)
                if req is None:
                    error = self._refuse(
                        conn, principal, "no_valid_approval",
                        f"{principal} has no valid approval to {action!r} {resource!r}",
                        step="use", object_id="-", at=now, action=action, resource=resource,
                    ).error  # fmt: skip
                else:
                    uses = [*req.uses, ApprovalUse(by=principal, at=now)]
                    upd: dict[str, Any] = {"uses": uses}
                    if req.single_use:
                        upd["status"] = ApprovalStatus.USED
                    req = req.model_copy(update=upd)
                    self._save(conn, req)
                    self._audit(
                        conn, principal, "approval.use", req.id, now, req,
                        action=action, resource=resource, uses=len(uses),
                    )  # fmt: skip
        except SQLAlchemyError as exc:
            raise self._fail("cannot use an approval", exc) from exc
        if error is not None:
            raise error
        assert req is not None
        return req

    # --- integrity ---------------------------------------------------------------------
    def verify_approvals(self) -> ApprovalIntegrity:
        """Compare every stored request with the digest the audit log recorded last for it.

        Finds a request row whose payload or columns were edited, a row with no audit
        trail, and a request the audit log knows that was deleted.
        """
        a, al = t.approval_requests, t.audit_log
        expected: dict[str, str] = {}
        try:
            with self._store._read() as conn:
                audit = conn.execution_options(yield_per=2000).execute(
                    select(al.c.object_id, al.c.details)
                    .where(al.c.object_type == OBJECT_TYPE)
                    .order_by(al.c.seq)
                )
                for row in audit:
                    details = row.details if isinstance(row.details, dict) else {}
                    if "digest" in details:
                        expected[row.object_id] = str(details["digest"])
                rows = conn.execute(select(a)).all()
        except SQLAlchemyError as exc:
            raise self._fail("cannot read approval requests", exc) from exc
        problems = _compare(rows, expected)
        return ApprovalIntegrity(ok=not problems, checked=len(rows), problems=problems)

    def verify(self) -> AuditReport:
        """Verify the audit chain, then every approval request against it.

        Returns:
            The chain's report if it is broken; otherwise ``ok`` only if every request
            row matches the audit log (the problem names the first mismatch).
        """
        chain = self._store.verify_audit()
        if not chain.ok:
            return chain
        integrity = self.verify_approvals()
        if integrity.ok:
            return chain
        return AuditReport(ok=False, entries=chain.entries, problem="; ".join(integrity.problems))


def _compare(rows: Iterable[Any], expected: Mapping[str, str]) -> builtins.list[str]:
    problems: builtins.list[str] = []
    seen: set[str] = set()
    for row in rows:
        seen.add(row.id)
        problem = ApprovalService._row_problem(row)
        if problem is None:
            want = expected.get(row.id)
            if want is None:
                problem = f"request {row.id}: not in the audit log"
            elif digest(row.payload) != want:
                problem = f"request {row.id}: its payload does not match the audit log"
        if problem is not None:
            problems.append(problem)
    problems.extend(
        f"request {rid}: in the audit log but deleted from the store"
        for rid in sorted(set(expected) - seen)
    )
    return problems
