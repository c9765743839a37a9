"""The approval workflow: separation of duties, the gate, expiry and tamper evidence.

Every test runs on a SQLite file and on the real PostgreSQL server (``store`` fixture).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import create_engine, select, text, update
from sqlalchemy.engine import Engine

from aiposture.errors import NotFoundError
from aiposture.models import AuditEntry
from aiposture.policy.approvals import (
    ApprovalError,
    ApprovalRequest,
    ApprovalRequirement,
    ApprovalService,
    ApprovalStatus,
    PrincipalInfo,
    PrincipalType,
    StaticDirectory,
)
from aiposture.store import SQLStore, Store
from aiposture.store import schema as t

START = datetime(2030, 1, 1, 9, 0, tzinfo=UTC)
PROD_MODEL = "model:fraud-scorer"


class Clock:
    """A settable clock for the service."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def people() -> StaticDirectory:
    release = {"release-managers"}
    return StaticDirectory(
        {
            "alice": PrincipalInfo(groups={"ml-engineers"}),
            "bob": PrincipalInfo(groups=release),
            "carol": PrincipalInfo(groups=release),
            "erin": PrincipalInfo(groups=release),
            "dave": PrincipalInfo(groups={"data-governance"}),
            "deploy-bot": PrincipalInfo(type=PrincipalType.SERVICE, groups={"ml-engineers"}),
            # An agent that was (wrongly) put in the reviewing group.
            "copilot": PrincipalInfo(type=PrincipalType.AGENT, groups=release),
        }
    )


RULES = [
    ApprovalRequirement(
        action="deploy",
        resource="model:*",
        approvers=2,
        group="release-managers",
        validity_seconds=3600,
        review_seconds=86_400,
    ),
    ApprovalRequirement(
        action="train",
        resource="dataset:restricted-*",
        approvers=1,
        group="data-governance",
        validity_seconds=600,
        single_use=False,
    ),
]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def approvals(store: Store, clock: Clock) -> ApprovalService:
    assert isinstance(store, SQLStore)
    return ApprovalService(store, RULES, people(), clock=clock)


@pytest.fixture
def db(store_url: str) -> Iterator[Engine]:
    """A direct connection to the store's database, as an attacker with DB access has."""
    engine = create_engine(store_url)
    yield engine
    engine.dispose()


def entries(store: Store, action: str | None = None) -> list[AuditEntry]:
    return [e for e in store.audit_log() if action is None or e.action == action]


def refusals(store: Store) -> list[tuple[str, str, str]]:
    """(actor, code, object id) of every audited refusal, in order."""
    return [(e.actor, e.details["code"], e.object_id) for e in entries(store, "approval.refuse")]


def deploy_request(approvals: ApprovalService, requester: str = "alice") -> ApprovalRequest:
    return approvals.request("deploy", PROD_MODEL, requester, "quarterly retrain passed eval")


def approved(approvals: ApprovalService, requester: str = "alice") -> ApprovalRequest:
    req = deploy_request(approvals, requester)
    approvals.approve(req.id, "bob", "eval report reviewed")
    return approvals.approve(req.id, "carol", "rollback plan reviewed")


# --- the happy path ---------------------------------------------------------------------


def test_two_distinct_approvers_from_the_group_approve_a_request(
    approvals: ApprovalService, store: Store
) -> None:
    req = deploy_request(approvals)
    assert (req.status, req.required_approvals, req.required_group) == (
        ApprovalStatus.PENDING,
        2,
        "release-managers",
    )
    assert req.expires_at == START + timedelta(days=1)

    first = approvals.approve(req.id, "bob", "eval report reviewed")
    assert first.status is ApprovalStatus.PENDING
    assert approvals.valid_approval("deploy", PROD_MODEL) is None

    done = approvals.approve(req.id, "carol", "rollback plan reviewed")
    assert done.status is ApprovalStatus.APPROVED
    assert [v.reviewer for v in done.approvals] == ["bob", "carol"]
    assert done.valid_until == START + timedelta(hours=1)
    assert approvals.get(req.id) == done
    gate = approvals.valid_approval("deploy", PROD_MODEL, "alice")
    assert gate is not None and gate.id == req.id

    trail = entries(store)
    assert [(e.action, e.actor) for e in trail] == [
        ("approval.request", "alice"),
        ("approval.approve", "bob"),
        ("approval.approve", "carol"),
    ]
    assert trail[0].details["justification"] == "quarterly retrain passed eval"
    assert trail[2].details["status"] == "approved"
    assert store.verify_audit().ok
    assert approvals.verify_approvals().ok


def test_requester_type_is_taken_from_the_directory(approvals: ApprovalService) -> None:
    req = deploy_request(approvals, "deploy-bot")
    assert req.requester_type is PrincipalType.SERVICE


def test_list_filters_by_status(approvals: ApprovalService, clock: Clock) -> None:
    a = deploy_request(approvals)
    clock.advance(1)
    b = approved(approvals)
    clock.advance(1)
    c = deploy_request(approvals)
    approvals.deny(c.id, "bob", "change freeze")
    assert [r.id for r in approvals.list()] == [a.id, b.id, c.id]
    assert [r.id for r in approvals.list(ApprovalStatus.PENDING)] == [a.id]
    assert [r.id for r in approvals.list("approved")] == [b.id]
    assert [r.id for r in approvals.list("denied")] == [c.id]
    with pytest.raises(ValueError):
        approvals.list("maybe")


# --- separation of duties: every refusal is refused, audited, and changes nothing --------


def assert_refused(
    approvals: ApprovalService,
    store: Store,
    request_id: str,
    reviewer: str,
    code: str,
    *,
    deny: bool = False,
) -> ApprovalError:
    before = approvals.get(request_id)
    step = approvals.deny if deny else approvals.approve
    with pytest.raises(ApprovalError) as info:
        step(request_id, reviewer, "looks fine")
    assert info.value.code == code
    assert info.value.request_id == request_id
    assert refusals(store)[-1] == (reviewer, code, request_id)
    after = approvals.get(request_id)
    if code != "expired":
        assert after == before
    assert store.verify_audit().ok and approvals.verify_approvals().ok
    return info.value


def test_requester_cannot_approve_their_own_request(
    approvals: ApprovalService, store: Store
) -> None:
    req = deploy_request(approvals, "bob")  # bob is even in the reviewing group
    err = assert_refused(approvals, store, req.id, "bob", "self_approval")
    assert "own request" in str(err)
    assert_refused(approvals, store, req.id, "bob", "self_approval", deny=True)


def test_an_ai_agent_cannot_approve_even_when_in_the_required_group(
    approvals: ApprovalService, store: Store
) -> None:
    req = deploy_request(approvals)
    err = assert_refused(approvals, store, req.id, "copilot", "agent_reviewer")
    assert "AI agent" in str(err)


def test_an_unknown_principal_counts_as_an_agent_and_cannot_approve(
    approvals: ApprovalService, store: Store
) -> None:
    req = deploy_request(approvals)
    assert_refused(approvals, store, req.id, "mallory", "agent_reviewer")


def test_a_reviewer_outside_the_required_group_is_refused(
    approvals: ApprovalService, store: Store
) -> None:
    req = deploy_request(approvals)
    err = assert_refused(approvals, store, req.id, "dave", "wrong_group")
    assert "release-managers" in str(err)
    assert entries(store, "approval.refuse")[-1].details["group"] == "release-managers"


def test_approval_after_the_review_deadline_is_refused_and_the_expiry_audited(
    approvals: ApprovalService, store: Store, clock: Clock
) -> None:
    req = deploy_request(approvals)
    approvals.approve(req.id, "bob", "ok")
    clock.advance(86_400)  # exactly at the deadline: expired
    assert_refused(approvals, store, req.id, "carol", "expired")
    assert approvals.get(req.id).status is ApprovalStatus.EXPIRED
    assert [e.action for e in entries(store)][-2:] == ["approval.expire", "approval.refuse"]
    assert approvals.valid_approval("deploy", PROD_MODEL) is None


def test_a_custom_review_time_sets_the_deadline(
    approvals: ApprovalService, store: Store, clock: Clock
) -> None:
    req = approvals.request("deploy", PROD_MODEL, "alice", "hotfix", ttl=timedelta(minutes=5))
    assert req.expires_at == START + timedelta(minutes=5)
    clock.advance(301)
    assert_refused(approvals, store, req.id, "bob", "expired")


def test_the_same_reviewer_cannot_approve_twice(approvals: ApprovalService, store: Store) -> None:
    req = deploy_request(approvals)
    approvals.approve(req.id, "bob", "ok")
    err = assert_refused(approvals, store, req.id, "bob", "replay")
    assert "counts once" in str(err)
    assert len(approvals.get(req.id).approvals) == 1
    assert approvals.valid_approval("deploy", PROD_MODEL) is None


def test_replaying_a_review_on_a_decided_request_is_refused(
    approvals: ApprovalService, store: Store
) -> None:
    done = approved(approvals)
    assert_refused(approvals, store, done.id, "erin", "not_pending")
    assert_refused(approvals, store, done.id, "erin", "not_pending", deny=True)
    denied = deploy_request(approvals)
    approvals.deny(denied.id, "bob", "change freeze")
    assert_refused(approvals, store, denied.id, "carol", "not_pending")


def test_a_review_needs_a_reason(approvals: ApprovalService, store: Store) -> None:
    req = deploy_request(approvals)
    with pytest.raises(ApprovalError) as info:
        approvals.approve(req.id, "bob", "  ")
    assert info.value.code == "missing_reason"
    assert refusals(store) == [("bob", "missing_reason", req.id)]


def test_deny_closes_the_request_with_the_reason(approvals: ApprovalService, store: Store) -> None:
    req = deploy_request(approvals)
    out = approvals.deny(req.id, "carol", "change freeze until Monday")
    assert out.status is ApprovalStatus.DENIED
    assert out.denial is not None and out.denial.reason == "change freeze until Monday"
    last = entries(store)[-1]
    assert (last.action, last.actor, last.details["reason"]) == (
        "approval.deny",
        "carol",
        "change freeze until Monday",
    )
    assert approvals.valid_approval("deploy", PROD_MODEL) is None


def test_reviewing_an_unknown_request_is_not_found_and_audited(
    approvals: ApprovalService, store: Store
) -> None:
    with pytest.raises(NotFoundError, match="apr-nope"):
        approvals.approve("apr-nope", "bob", "ok")
    assert refusals(store) == [("bob", "unknown_request", "apr-nope")]
    with pytest.raises(NotFoundError):
        approvals.get("apr-nope")


def test_a_request_needs_a_rule_and_a_justification(
    approvals: ApprovalService, store: Store
) -> None:
    with pytest.raises(ApprovalError) as info:
        approvals.request("export", PROD_MODEL, "alice", "customer asked")
    assert info.value.code == "no_rule"
    with pytest.raises(ApprovalError) as info:
        approvals.request("deploy", PROD_MODEL, "alice", "")
    assert info.value.code == "missing_reason"
    assert [(a, c) for a, c, _ in refusals(store)] == [
        ("alice", "no_rule"),
        ("alice", "missing_reason"),
    ]
    assert approvals.list() == []


# --- the gate -------------------------------------------------------------------------


def test_the_gate_refuses_without_an_approval_and_accepts_with_one(
    approvals: ApprovalService, store: Store
) -> None:
    with pytest.raises(ApprovalError) as info:
        approvals.consume("deploy", PROD_MODEL, "alice")
    assert info.value.code == "no_valid_approval"
    assert refusals(store) == [("alice", "no_valid_approval", "-")]

    pending = deploy_request(approvals)
    approvals.approve(pending.id, "bob", "ok")  # one of two approvers: not enough
    with pytest.raises(ApprovalError):
        approvals.consume("deploy", PROD_MODEL, "alice")

    approvals.approve(pending.id, "carol", "ok")
    used = approvals.consume("deploy", PROD_MODEL, "alice")
    assert used.id == pending.id and used.status is ApprovalStatus.USED
    assert [(u.by, u.at) for u in used.uses] == [("alice", START)]
    last = entries(store)[-1]
    assert (last.action, last.object_id, last.details["status"]) == (
        "approval.use",
        pending.id,
        "used",
    )


def test_a_consumed_single_use_approval_cannot_be_reused(
    approvals: ApprovalService, store: Store
) -> None:
    approved(approvals)
    approvals.consume("deploy", PROD_MODEL, "alice")
    assert approvals.valid_approval("deploy", PROD_MODEL) is None
    with pytest.raises(ApprovalError) as info:
        approvals.consume("deploy", PROD_MODEL, "alice")
    assert info.value.code == "no_valid_approval"
    assert refusals(store)[-1] == ("alice", "no_valid_approval", "-")


def test_an_approval_is_valid_only_for_its_action_resource_and_requester(
    approvals: ApprovalService, store: Store
) -> None:
    approved(approvals)
    assert approvals.valid_approval("deploy", "model:other") is None
    assert approvals.valid_approval("modify", PROD_MODEL) is None
    assert approvals.valid_approval("deploy", PROD_MODEL, "deploy-bot") is None
    for action, resource, who in [
        ("deploy", "model:other", "alice"),
        ("deploy", PROD_MODEL, "deploy-bot"),
    ]:
        with pytest.raises(ApprovalError):
            approvals.consume(action, resource, who)
    assert approvals.valid_approval("deploy", PROD_MODEL, "alice") is not None


def test_an_approval_expires_after_its_validity(
    approvals: ApprovalService, store: Store, clock: Clock
) -> None:
    req = approved(approvals)
    clock.advance(3599)
    assert approvals.valid_approval("deploy", PROD_MODEL) is not None
    clock.advance(1)
    assert approvals.valid_approval("deploy", PROD_MODEL) is None
    with pytest.raises(ApprovalError):
        approvals.consume("deploy", PROD_MODEL, "alice")
    assert [r.id for r in approvals.list(ApprovalStatus.EXPIRED)] == [req.id]
    expiry = entries(store, "approval.expire")
    assert [(e.object_id, e.details["was"]) for e in expiry] == [(req.id, "approved")]
    assert approvals.expire_due() == 0  # already expired: nothing more to do
    assert approvals.verify().ok


def test_a_multi_use_approval_allows_repeated_use_within_its_validity(
    approvals: ApprovalService, store: Store, clock: Clock
) -> None:
    req = approvals.request("train", "dataset:restricted-claims", "alice", "fraud model v3")
    approvals.approve(req.id, "dave", "DPIA on file")
    approvals.consume("train", "dataset:restricted-claims", "alice")
    again = approvals.consume("train", "dataset:restricted-claims", "alice")
    assert again.status is ApprovalStatus.APPROVED and len(again.uses) == 2
    clock.advance(600)
    with pytest.raises(ApprovalError):
        approvals.consume("train", "dataset:restricted-claims", "alice")


# --- tampering is detected ---------------------------------------------------------------


def history(approvals: ApprovalService) -> tuple[ApprovalRequest, ApprovalRequest]:
    """An approved request and a pending one with a refusal and one approval."""
    done = approved(approvals)
    pending = deploy_request(approvals)
    with pytest.raises(ApprovalError):
        approvals.approve(pending.id, "alice", "mine")
    approvals.approve(pending.id, "bob", "ok")
    return done, pending


def edit_payload(db: Engine, request_id: str, **changes: Any) -> None:
    a = t.approval_requests
    with db.begin() as conn:
        payload = dict(conn.execute(select(a.c.payload).where(a.c.id == request_id)).one()[0])
        payload.update(changes)
        values: dict[str, Any] = {"payload": payload}
        if "status" in changes:
            values["status"] = changes["status"]
        conn.execute(update(a).where(a.c.id == request_id).values(**values))


def test_a_forged_approval_row_is_found_and_never_passes_the_gate(
    approvals: ApprovalService, store: Store, db: Engine
) -> None:
    _, pending = history(approvals)
    assert approvals.verify().ok
    forged = [{"reviewer": "bob", "at": START.isoformat(), "reason": "x"}] * 2
    edit_payload(
        db,
        pending.id,
        status="approved",
        approvals=forged,
        approved_at=START.isoformat(),
        valid_until=(START + timedelta(days=30)).isoformat(),
    )
    assert store.verify_audit().ok  # the chain itself is intact...
    report = approvals.verify_approvals()
    assert not report.ok
    assert report.problems == [f"request {pending.id}: its payload does not match the audit log"]
    verdict = approvals.verify()
    assert not verdict.ok and pending.id in (verdict.problem or "")
    # ... and the gate does not trust the forged row.
    gate = approvals.valid_approval("deploy", PROD_MODEL)
    assert gate is not None and gate.id != pending.id
    approvals.consume("deploy", PROD_MODEL, "alice")  # uses the real approval
    assert approvals.valid_approval("deploy", PROD_MODEL) is None
    with pytest.raises(ApprovalError) as info:
        approvals.approve(pending.id, "erin", "ok")
    assert info.value.code == "tampered"
    assert refusals(store)[-1] == ("erin", "tampered", pending.id)


def test_a_status_column_edited_without_the_payload_is_found(
    approvals: ApprovalService, db: Engine
) -> None:
    _, pending = history(approvals)
    with db.begin() as conn:
        conn.execute(text("UPDATE approval_requests SET status = 'approved' WHERE id = :i"),
                     {"i": pending.id})  # fmt: skip
    report = approvals.verify_approvals()
    assert report.problems == [f"request {pending.id}: its columns do not match its payload"]
    assert approvals.valid_approval("deploy", PROD_MODEL) is not None  # only the real one
    assert approvals.valid_approval("deploy", PROD_MODEL).id != pending.id  # type: ignore[union-attr]


def test_a_deleted_approval_row_is_found(approvals: ApprovalService, db: Engine) -> None:
    done, _ = history(approvals)
    with db.begin() as conn:
        conn.execute(text("DELETE FROM approval_requests WHERE id = :i"), {"i": done.id})
    report = approvals.verify_approvals()
    assert report.problems == [f"request {done.id}: in the audit log but deleted from the store"]
    assert not approvals.verify().ok


def test_an_inserted_approval_row_without_audit_trail_is_found(
    approvals: ApprovalService, db: Engine
) -> None:
    done, _ = history(approvals)
    a = t.approval_requests
    with db.begin() as conn:
        row = conn.execute(select(a).where(a.c.id == done.id)).one()._asdict()
        payload = dict(row["payload"], id="apr-forged")
        conn.execute(a.insert().values({**row, "id": "apr-forged", "payload": payload}))
    report = approvals.verify_approvals()
    assert report.problems == ["request apr-forged: not in the audit log"]
    assert approvals.valid_approval("deploy", PROD_MODEL).id == done.id  # type: ignore[union-attr]


def drop_audit_guard(db: Engine) -> None:
    with db.begin() as conn:
        if db.dialect.name == "sqlite":
            conn.execute(text("DROP TRIGGER audit_log_no_update"))
            conn.execute(text("DROP TRIGGER audit_log_no_delete"))
        else:
            conn.execute(text("DROP TRIGGER audit_log_no_change ON audit_log"))


def test_the_database_refuses_to_edit_approval_audit_entries(
    approvals: ApprovalService, db: Engine
) -> None:
    history(approvals)
    with pytest.raises(Exception, match="append-only"), db.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE action = 'approval.refuse'"))
    assert approvals.verify().ok


def test_an_edited_approval_audit_entry_is_found(
    approvals: ApprovalService, store: Store, db: Engine
) -> None:
    history(approvals)
    drop_audit_guard(db)
    with db.begin() as conn:  # hide who approved
        conn.execute(text("UPDATE audit_log SET actor = 'bob' WHERE seq = 3"))
    report = store.verify_audit()
    assert (report.ok, report.first_bad_seq) == (False, 3)
    assert not approvals.verify().ok


def test_a_deleted_refusal_in_the_audit_log_is_found(
    approvals: ApprovalService, store: Store, db: Engine
) -> None:
    history(approvals)
    refusal = entries(store, "approval.refuse")[-1]
    assert refusal.seq < entries(store)[-1].seq
    drop_audit_guard(db)
    with db.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE seq = :s"), {"s": refusal.seq})
    report = store.verify_audit()
    assert not report.ok and "deleted" in (report.problem or "")
    assert not approvals.verify().ok


# --- asking before acting (what a user interface shows) ------------------------------


def test_review_problem_agrees_with_the_refusals_and_writes_nothing(
    approvals: ApprovalService, store: Store, clock: Clock
) -> None:
    req = deploy_request(approvals, "bob")
    before = len(store.audit_log())
    problems = {who: approvals.review_problem(req.id, who) for who in ("bob", "copilot", "dave")}
    assert problems["bob"] is not None and "own request" in problems["bob"]
    assert problems["copilot"] is not None and "AI agent" in problems["copilot"]
    assert problems["dave"] is not None and "release-managers" in problems["dave"]
    assert approvals.review_problem(req.id, "carol") is None
    assert len(store.audit_log()) == before  # asking is not an attempt: nothing audited
    for who in ("bob", "copilot", "dave"):  # and the SDK still refuses each of them
        with pytest.raises(ApprovalError):
            approvals.approve(req.id, who, "looks fine")
    approvals.approve(req.id, "carol", "eval report reviewed")
    replay = approvals.review_problem(req.id, "carol")
    assert replay is not None and "counts once" in replay
    assert approvals.review_problem(req.id, "erin") is None
    approvals.approve(req.id, "erin", "rollback plan reviewed")
    decided = approvals.review_problem(req.id, "dave")
    assert decided is not None and "not pending" in decided
    late = deploy_request(approvals)
    clock.advance(86_400)
    expired = approvals.review_problem(late.id, "carol")
    assert expired is not None and "expired" in expired
    with pytest.raises(NotFoundError):
        approvals.review_problem("no-such-request", "carol")


def test_a_retried_request_with_the_same_idempotency_key_returns_the_first(
    approvals: ApprovalService, store: Store
) -> None:
    first = approvals.request(
        "deploy", PROD_MODEL, "alice", "release 2.0", idempotency_key="rel-2.0"
    )
    again = approvals.request(
        "deploy", PROD_MODEL, "alice", "release 2.0 (retry)", idempotency_key="rel-2.0"
    )
    assert again.id == first.id and again.justification == "release 2.0"
    assert len(entries(store, "approval.request")) == 1
    # keys are per requester: another principal's identical key files its own request
    other = approvals.request(
        "deploy", PROD_MODEL, "erin", "release 2.0", idempotency_key="rel-2.0"
    )
    assert other.id != first.id
    with pytest.raises(ApprovalError) as info:
        approvals.request("train", "dataset:restricted-x", "alice", "x", idempotency_key="rel-2.0")
    assert info.value.code == "idempotency_conflict"
    assert [r.id for r in approvals.list(requester="alice")] == [first.id]
    assert [r.id for r in approvals.list("pending", requester="erin")] == [other.id]
    assert approvals.verify_approvals().ok
