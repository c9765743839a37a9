"""The Approvals panel on the demo estate with a real policy folder and SQLite store."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aiposture import AssetKind, Posture, Settings
from aiposture.models import escape
from aiposture.policy.approvals import ApprovalRequest, ApprovalStatus
from aiposture.widgets.approvals import ApprovalsPanel
from conftest import DemoStore

HOSTILE = "<img src=x onerror=alert(1)>"
ESCAPED = "&lt;img src=x onerror=alert(1)&gt;"

PRINCIPALS = f"""\
principals:
  - id: dev
    groups: [ml]
  - id: lead
    groups: [ml-leads]
  - id: analyst
    groups: [ml]
  - id: helper-bot
    type: agent
    groups: [ml, ml-leads]
  - id: '{HOSTILE}'
    groups: [ml]
"""

APPROVALS = """\
approvals:
  - id: prod-deploys
    action: deploy
    resource:
      kinds: [model]
    approvers: 1
    group: ml-leads
    valid_for: 3600
"""

ACCESS = """\
@id("ml-deploys")
permit(principal in Group::"ml", action == Action::"deploy", resource);
"""


@pytest.fixture(scope="module")
def demo_db(demo_store: DemoStore) -> Path:
    return demo_store.db


@pytest.fixture
def config(tmp_path: Path) -> Path:
    folder = tmp_path / "policy"
    folder.mkdir()
    (folder / "access.cedar").write_text(ACCESS)
    (folder / "principals.yaml").write_text(PRINCIPALS)
    (folder / "approvals.yaml").write_text(APPROVALS)
    path = tmp_path / "aiposture.toml"
    path.write_text('[policy]\nfolder = "policy"\n')
    return path


@pytest.fixture
def db(demo_db: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "p.db"
    shutil.copy(demo_db, copy)
    return copy


@pytest.fixture
def lead(db: Path, config: Path) -> Iterator[Posture]:
    with Posture.open(db, actor="lead", config=config) as p:
        yield p


def _model(p: Posture) -> str:
    return next(a.id for a in p.assets if a.kind is AssetKind.MODEL and not a.stale)


def _request(p: Posture, requester: str = "dev", why: str = "release 1.2") -> ApprovalRequest:
    return p.approvals.request("deploy", _model(p), requester, why)


def _open_first_row(panel: ApprovalsPanel) -> None:
    row = panel.queue.rows[0]
    assert "aiposture-table-row" in row._dom_classes
    button = row.children[0]
    assert "aiposture-row-open" in button._dom_classes
    button.click()


def _all_html(widget: Any) -> str:
    """Every HTML value under ``widget``."""
    out = [str(widget.value)] if type(widget).__name__ == "HTML" else []
    for child in getattr(widget, "children", ()):
        out.append(_all_html(child))
    return "".join(out)


def test_an_allowed_reviewer_approves_with_the_button_and_it_is_stored_and_audited(
    lead: Posture,
) -> None:
    req = _request(lead)
    panel = ApprovalsPanel(lead)
    assert "aiposture-approvals" in panel._dom_classes
    assert "reviewing as" in panel.who.value and "lead" in panel.who.value
    assert [r.id for r in panel.queue.visible] == [req.id]
    _open_first_row(panel)
    assert panel.selected is not None and panel.selected.id == req.id
    assert not panel.approve_button.disabled and not panel.deny_button.disabled
    assert "release 1.2" in panel.detail.value and "dev" in panel.detail.value
    panel.reason.value = "eval results reviewed"
    panel.approve_button.click()

    stored = lead.approvals.get(req.id)
    assert stored.status is ApprovalStatus.APPROVED
    assert [v.reviewer for v in stored.approvals] == ["lead"]
    entries = [e for e in lead.audit_log() if e.action == "approval.approve"]
    assert [(e.actor, e.object_id) for e in entries] == [("lead", req.id)]
    assert panel.queue.matching == []  # the queue was reloaded: nothing pending
    assert "approved" in panel.message.value
    assert panel.approve_button.disabled


def test_the_requester_sees_disabled_buttons_and_the_reason_and_the_sdk_refuses_anyway(
    db: Path, config: Path
) -> None:
    with Posture.open(db, actor="dev", config=config) as dev:
        req = _request(dev)
        panel = ApprovalsPanel(dev)  # the reviewer defaults to the posture's actor
        assert "dev" in panel.who.value
        panel.select(req)
        assert panel.approve_button.disabled and panel.deny_button.disabled
        assert "cannot review their own request" in panel.message.value

        panel.reason.value = "looks fine to me"
        assert panel.decide(approve=True) is None  # the handler called anyway
        assert "cannot review their own request" in panel.message.value
        assert dev.approvals.get(req.id).status is ApprovalStatus.PENDING
        refusals = [e for e in dev.audit_log() if e.action == "approval.refuse"]
        assert refusals and refusals[-1].details["code"] == "self_approval"


def test_an_agent_or_unknown_reviewer_cannot_decide(lead: Posture) -> None:
    req = _request(lead)
    for reviewer in ("helper-bot", "nobody-we-know"):
        panel = ApprovalsPanel(lead, reviewer=reviewer)
        panel.select(req.id)
        assert panel.approve_button.disabled
        assert "AI agent" in panel.message.value
    panel = ApprovalsPanel(lead, reviewer="analyst")
    panel.select(req.id)
    assert panel.approve_button.disabled and "not in group" in panel.message.value


def test_deny_needs_a_reason_and_then_denies(lead: Posture) -> None:
    req = _request(lead)
    panel = ApprovalsPanel(lead)
    panel.select(req)
    panel.deny_button.click()  # no reason typed
    assert "reason" in panel.message.value
    assert lead.approvals.get(req.id).status is ApprovalStatus.PENDING
    panel.reason.value = "not before the red-team review"
    panel.deny_button.click()
    stored = lead.approvals.get(req.id)
    assert stored.status is ApprovalStatus.DENIED and stored.denial is not None
    assert stored.denial.reviewer == "lead"
    assert any(e.action == "approval.deny" for e in lead.audit_log())
    assert "denied" in panel.message.value and panel.queue.matching == []


def test_hostile_requester_justification_and_reviewer_appear_only_escaped(
    lead: Posture,
) -> None:
    req = _request(lead, requester=HOSTILE, why=f"ship it {HOSTILE}")
    panel = ApprovalsPanel(lead, reviewer=HOSTILE)
    panel.select(req)
    assert panel.approve_button.disabled  # the requester may not review
    html = _all_html(panel)
    assert "<img" not in html
    assert ESCAPED in panel.detail.value and ESCAPED in panel.who.value
    assert ESCAPED in panel.message.value
    # the queue shows the requester as text too
    assert "<img" not in _all_html(panel.queue)
    assert [r.requester for r in panel.queue.visible] == [HOSTILE]


def test_refresh_picks_up_new_requests_and_a_decided_request_leaves_the_queue(
    lead: Posture,
) -> None:
    panel = ApprovalsPanel(lead)
    assert panel.queue.matching == []
    first = _request(lead)
    second = _request(lead, why="hotfix")
    panel.refresh_button.click()
    assert {r.id for r in panel.queue.matching} == {first.id, second.id}
    lead.approvals.deny(first.id, "lead", "no")
    panel.select(first)  # decided elsewhere: nothing left to decide
    assert panel.approve_button.disabled and "denied" in panel.message.value
    panel.refresh()
    assert [r.id for r in panel.queue.matching] == [second.id]


def test_without_a_policy_folder_the_panel_says_so(db: Path) -> None:
    with Posture.open(db, actor="lead", config=Settings()) as p:
        panel = ApprovalsPanel(p)
        assert "approvals are not available" in panel.message.value
        assert "policy" in panel.message.value
        assert panel.queue.matching == []


def test_approvals_widget_from_the_service_uses_the_posture_actor_or_the_named_reviewer(
    lead: Posture,
) -> None:
    req = _request(lead)
    own = lead.approvals.widget()
    assert isinstance(own, ApprovalsPanel) and own.reviewer == "lead"
    assert [r.id for r in own.queue.visible] == [req.id]
    other = lead.approvals.widget(reviewer="dev")
    other.select(req)
    assert other.approve_button.disabled  # dev requested it: the SDK says no
    assert "cannot review their own request" in other.message.value


def test_the_queue_and_detail_name_the_resource_asset(lead: Posture) -> None:
    req = _request(lead)
    shown = escape(lead.asset(req.resource).name)  # names are attacker-controlled: escaped
    panel = ApprovalsPanel(lead)
    assert panel.queue.table.query()[0].id == req.id
    assert shown in _all_html(panel.queue)  # the resource column shows the asset's name
    panel.select(req)
    assert shown in panel.detail.value and req.resource in panel.detail.value
    bare = lead.approvals.widget()  # from the service alone: the id is shown as it is
    bare.select(req)
    assert req.resource in bare.detail.value
