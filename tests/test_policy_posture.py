"""Policy through the Posture facade: a configured folder, approvals, a gated deploy, guard."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from aiposture import AssetKind, ConfigError, Environment, Posture, Settings
from aiposture.policy.approvals import ApprovalError
from aiposture.policy.models import PolicyViolation

ACCESS = """\
@id("ml-deploys")
permit(principal in Group::"ml", action == Action::"deploy", resource);

@id("no-agent-deploy")
forbid(principal is Agent, action == Action::"deploy", resource);

@id("anyone-queries")
permit(principal, action == Action::"query", resource);
"""

PRINCIPALS = """\
principals:
  - id: dev
    groups: [ml]
  - id: lead
    groups: [ml-leads]
  - id: helper-bot
    type: agent
    groups: [ml, ml-leads]
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


@pytest.fixture
def posture(tmp_path: Path) -> Iterator[Posture]:
    folder = tmp_path / "policy"
    folder.mkdir()
    (folder / "access.cedar").write_text(ACCESS)
    (folder / "principals.yaml").write_text(PRINCIPALS)
    (folder / "approvals.yaml").write_text(APPROVALS)
    config = tmp_path / "aiposture.toml"
    config.write_text('[policy]\nfolder = "policy"\n')
    code = tmp_path / "estate" / "app.py"
    code.parent.mkdir()
    code.write_text(
        "from openai import OpenAI\n"
        'OpenAI().chat.completions.create(model="gpt-4o-mini", messages=[])\n'
    )
    with Posture.open(tmp_path / "p.db", actor="dev", config=config) as p:
        p.discover(code.parent, progress=False)
        yield p


def test_without_a_policy_folder_policy_is_a_clear_error(tmp_path: Path) -> None:
    with (
        Posture.open(tmp_path / "q.db", config=Settings()) as p,
        pytest.raises(ConfigError, match=r"\[policy\] folder"),
    ):
        _ = p.policy


def test_a_deploy_needs_the_policy_and_a_valid_approval_that_is_used_once(
    posture: Posture,
) -> None:
    model = next(a for a in posture.assets if a.kind is AssetKind.MODEL)
    with pytest.raises(ApprovalError):
        posture.deploy(model.id, principal="dev")  # no approval on record
    req = posture.approvals.request("deploy", model.id, "dev", "release 1.2 of the bot")
    with pytest.raises(ApprovalError):
        posture.approvals.approve(req.id, "dev", "looks fine")  # self-approval
    with pytest.raises(ApprovalError):
        posture.approvals.approve(req.id, "helper-bot", "ok")  # an agent never approves
    posture.approvals.approve(req.id, "lead", "reviewed the eval results")
    deployed = posture.deploy(model.id, principal="dev")
    assert deployed.environment is Environment.PROD
    with pytest.raises(ApprovalError):
        posture.deploy(model.id, principal="dev")  # the approval was single-use
    with pytest.raises(PolicyViolation, match="helper-bot"):
        posture.deploy(model.id, principal="helper-bot")  # no agent may deploy
    actions = [e.action for e in posture.audit_log() if e.action.startswith("approval.")]
    assert "approval.request" in actions and "approval.approve" in actions
    assert posture.verify_audit().ok


def test_guard_from_the_facade_checks_access(posture: Posture) -> None:
    with posture.guard(principal="dev", model="gpt-4o-mini") as g:
        assert g.before("hello") == "hello"
    assert [e.stage for e in g.events] == ["access", "prompt"]


def test_data_usage_violations_become_findings_of_the_assessment_and_clear_when_fixed(
    tmp_path: Path,
) -> None:
    from aiposture.models import Asset, Relation, RelationKind, Sensitivity
    from aiposture.store.base import SourceUpdate

    folder = tmp_path / "policy"
    folder.mkdir()
    (folder / "access.cedar").write_text(ACCESS)
    (folder / "data_usage.yaml").write_text(
        "rules:\n  - id: confidential-needs-monitoring\n    sensitivity: confidential\n"
        "    require_controls: [output-monitoring]\n"
    )
    config = tmp_path / "aiposture.toml"
    config.write_text('[policy]\nfolder = "policy"\n')
    data = Asset.new(
        AssetKind.DATASET,
        "customer-tickets",
        key="dataset|tickets",
        data_sensitivity=Sensitivity.CONFIDENTIAL,
    )
    model = Asset.new(AssetKind.MODEL, "support-tuned", provider="local")
    with Posture.open(tmp_path / "p.db", actor="dev", config=config) as p:
        p.store.apply(
            [
                SourceUpdate(
                    "/estate/train.py",
                    "/estate",
                    [data, model, Relation.new(model.id, RelationKind.TRAINED_ON, data.id)],
                )
            ],
            scan_id="s1",
            actor="t",
        )
        p.assess()
        found = [f for f in p.findings.current() if f.rule_id == "AIP-POLICY-002"]
        assert [f.asset_id for f in found] == [model.id]
        p.update_asset(model.id, tags=["control:output-monitoring"])
        p.assess()
        assert not [f for f in p.findings.current() if f.rule_id == "AIP-POLICY-002"]


def test_cli_policy_validate_check_and_the_approval_commands(
    posture: Posture, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from aiposture.cli import main

    db = str(tmp_path / "p.db")
    cfg = ["--config", str(tmp_path / "aiposture.toml")]
    assert main(["policy", "validate", str(tmp_path / "policy")]) == 0
    assert "3 Cedar policies" in capsys.readouterr().out
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "broken.cedar").write_text('@id("x")\npermit(principal, action, resource) when {;\n')
    assert main(["policy", "validate", str(bad)]) == 2
    assert "broken.cedar:" in capsys.readouterr().err
    model = next(a for a in posture.assets if a.kind is AssetKind.MODEL)
    check = ["policy", "check", "--principal", "dev", "--action", "deploy"]
    assert main([*cfg, *check, "--resource", model.id, "--db", db]) == 0
    helper = ["policy", "check", "--principal", "helper-bot", "--action", "deploy"]
    assert main([*cfg, *helper, "--resource", model.id, "--db", db]) == 1
    capsys.readouterr()
    req = ["approvals", "request", "--action", "deploy", "--resource", model.id]
    who = ["--requester", "dev", "--justification", "release"]
    assert main([*cfg, *req, *who, "--db", db]) == 0
    rid = capsys.readouterr().out.strip()
    approve = ["approvals", "approve", rid, "--reason", "ok", "--db", db]
    assert main([*cfg, *approve, "--reviewer", "dev"]) == 1  # self-approval refused
    assert main([*cfg, *approve, "--reviewer", "lead"]) == 0
    assert main([*cfg, "approvals", "list", "--status", "approved", "--json", "--db", db]) == 0
    assert rid in capsys.readouterr().out


def test_posture_audit_verify_finds_a_forged_approval_row(posture: Posture, tmp_path: Path) -> None:
    import sqlite3

    model = next(a for a in posture.assets if a.kind is AssetKind.MODEL)
    req = posture.approvals.request("deploy", model.id, "dev", "release")
    assert posture.audit.verify().ok
    with sqlite3.connect(tmp_path / "p.db") as conn:  # an attacker with database access
        conn.execute("UPDATE approval_requests SET status = 'approved' WHERE id = ?", (req.id,))
    report = posture.audit.verify()
    assert not report.ok and req.id in (report.problem or "")
    assert len(posture.audit.log()) > 0
