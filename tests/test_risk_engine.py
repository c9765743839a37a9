"""The assessment end to end on the scanned demo estate: rules, scores, snapshots, CLI."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import ClassVar

import pytest

from aiposture import AssetKind, FindingStatus, NotFoundError, Posture, Priority, Settings
from aiposture.cli import main
from aiposture.demo import Estate, annotate, build_estate
from aiposture.models import Asset, Finding, Severity
from aiposture.risk.base import Rule
from aiposture.risk.engine import RULES_SOURCE, assess
from aiposture.risk.graph import EstateGraph
from aiposture.risk.registry import RuleRegistry, default_rules


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[Estate, Posture, Path]]:
    estate = build_estate(tmp_path / "estate")
    db = tmp_path / "posture.db"
    settings = Settings.from_mapping(
        {"discovery": {"sanctioned_services": list(estate.sanctioned)}}
    )
    with Posture.open(db, actor="analyst", config=settings) as p:
        p.discover([estate.root], logs=estate.logs, progress=False)
    annotate(f"sqlite:///{db}", estate)
    with Posture.open(db, actor="analyst", config=settings) as p:
        yield estate, p, db


def by_name(p: Posture) -> dict[str, Priority]:
    return {r.asset_name: r.priority for r in p.risks}


def test_the_demo_ranking_is_right_by_hand(demo: tuple[Estate, Posture, Path]) -> None:
    _, p, _ = demo
    snap = p.assess()
    assert snap.rules_run == len(default_rules()) >= 30
    assert snap.rule_errors == []
    prio = by_name(p)
    urgent = {Priority.CRITICAL, Priority.HIGH}
    assert prio["fraud_xgb_v2.pkl"] in urgent  # the malicious pickle
    openai_key = next(n for n in prio if n.startswith("OpenAI Token"))
    assert prio[openai_key] in urgent  # the key pasted into the support bot's settings
    assert prio["ChatGPT"] in urgent  # shadow AI receiving confidential data
    assert prio["embeddings.ipynb"] is Priority.LOW  # a dev notebook with public models
    # the register is sorted worst first
    ranks = [(r.priority.rank, r.score) for r in p.risks]
    assert ranks == sorted(ranks, reverse=True)


def test_every_score_is_explained_by_reasons_that_add_up(
    demo: tuple[Estate, Posture, Path],
) -> None:
    _, p, _ = demo
    p.assess()
    assert len(p.risks) == len([a for a in p.assets if not a.stale])
    for r in p.risks:
        for d in r.dimensions:
            assert sum(x.points for x in d.reasons) == pytest.approx(d.score), (r.asset_name, d)
            assert 0 <= d.score <= 10
        assert 0 <= r.score <= 100


def test_rule_findings_persist_are_stable_and_go_stale_when_fixed(
    demo: tuple[Estate, Posture, Path],
) -> None:
    _, p, _ = demo
    p.assess()
    first = {f.id for f in p.findings.current()}
    p.assess()
    assert {f.id for f in p.findings.current()} == first  # same ids, nothing doubled
    no_owner = [f for f in p.findings.current() if f.rule_id == "AIP-GOV-001"]
    assert no_owner, "a production asset without an owner is a finding"
    target = no_owner[0].asset_id
    p.update_asset(target, owner="claims-eng")
    p.assess()
    gone = [f for f in p.findings if f.rule_id == "AIP-GOV-001" and f.asset_id == target]
    assert gone and all(f.stale for f in gone)
    rule_findings = [f for f in p.findings if f.remediation]
    assert rule_findings and all(f.tags for f in rule_findings)


def test_an_expired_acceptance_is_reopened_by_the_next_assessment(
    demo: tuple[Estate, Posture, Path],
) -> None:
    _, p, _ = demo
    p.assess()
    f = p.findings.current().at_least("high")[0]
    soon = datetime.now(UTC) + timedelta(seconds=1)
    accepted = p.accept_risk(f.id, reason="compensating control until the fix", until=soon)
    assert accepted.status is FindingStatus.ACCEPTED and accepted.status_by == "analyst"
    time.sleep(1.2)
    p.assess()
    reopened = next(x for x in p.findings if x.id == f.id)
    assert reopened.status is FindingStatus.OPEN
    assert "expired" in (reopened.status_reason or "")
    entries = [e for e in p.audit_log() if e.action == "finding.status" and e.object_id == f.id]
    assert [e.details["to"] for e in entries] == ["accepted", "open"]


class _Broken(Rule):
    id = "AIP-TEST-001"
    title = "Always fails"
    rationale = "A rule with a bug."
    severity = Severity.LOW
    remediation = "None."
    kinds: ClassVar[frozenset[AssetKind]] = frozenset({AssetKind.MODEL})

    def evaluate(self, asset: Asset, graph: EstateGraph) -> Iterable[Finding]:
        raise KeyError("attributes")


def test_a_failing_rule_is_reported_and_the_other_rules_run(
    demo: tuple[Estate, Posture, Path],
) -> None:
    _, p, _ = demo
    reg = RuleRegistry()
    reg.register(_Broken)
    for rid in default_rules().ids():
        reg.register(default_rules().get(rid))
    snap = assess(p.store, registry=reg, actor="analyst")
    models = {a.id for a in p.assets if a.kind is AssetKind.MODEL and not a.stale}
    broken = [e for e in snap.rule_errors if e.rule_id == "AIP-TEST-001"]
    assert {e.asset_id for e in broken} == models
    assert all("KeyError" in e.error for e in broken)
    assert any(f.rule_id == "AIP-MODEL-001" for f in p.findings.current())
    assert len(snap.risks) == len([a for a in p.assets if not a.stale])


def test_trend_compares_snapshots(demo: tuple[Estate, Posture, Path]) -> None:
    _, p, _ = demo
    p.assess()
    p.update_asset("research", environment="prod")
    p.assess()
    trend = p.trend()
    assert len(trend) == 2
    assert trend.taken_at.is_monotonic_increasing
    assert {"assets_critical", "findings_high", "mean_score", "mean_score_change"} <= set(trend)
    assert trend.mean_score_change.iloc[1] == pytest.approx(
        trend.mean_score.iloc[1] - trend.mean_score.iloc[0]
    )


def test_cli_assess_and_findings_by_framework_as_sarif(
    demo: tuple[Estate, Posture, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    db = demo[2]
    assert main(["assess", "--db", str(db), "--fail-on", "critical"]) == 1
    out = capsys.readouterr().out
    assert "top" in out and "critical" in out
    assert main(["findings", "--db", str(db), "--framework", "owasp-llm:LLM03", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows and all(any(t.startswith("owasp-llm:LLM03") for t in r["tags"]) for r in rows)
    assert main(["findings", "--db", str(db), "--format", "sarif", "--fail-on", "high"]) == 1
    sarif = json.loads(capsys.readouterr().out)
    assert sarif["version"] == "2.1.0" and sarif["runs"][0]["results"]
    assert main(["findings", "--db", str(db), "--framework", "owasp-llm:LLM99"]) == 2
    assert main(["assess", "--db", str(db), "--fail-on", "urgent"]) == 2


def test_rule_findings_are_the_sightings_of_the_assessment_source(
    demo: tuple[Estate, Posture, Path],
) -> None:
    _, p, db = demo
    p.assess()
    import sqlite3

    with sqlite3.connect(db) as conn:
        sources = {r[0] for r in conn.execute("SELECT DISTINCT source FROM sightings")}
    assert RULES_SOURCE in sources


def test_coverage_and_report_for_auditors(
    demo: tuple[Estate, Posture, Path], tmp_path: Path
) -> None:
    _, p, db = demo
    p.assess()
    cov = p.coverage("owasp-llm").to_pandas()
    assert len(cov) == 10
    llm03 = cov[cov["item"] == "LLM03"].iloc[0]
    assert llm03["open_findings"] >= 1  # the malicious pickle, unpinned packages, ...
    assert llm03["status"] == "open findings"
    md = p.report("owasp-llm")
    assert "LLM03" in md and "fraud_xgb_v2.pkl" in md
    out = tmp_path / "report.html"
    assert main(["report", "--db", str(db), "--format", "html", "-o", str(out)]) == 0
    html = out.read_text()
    assert html.lstrip().lower().startswith("<!doctype html") and "EU AI Act" in html
    assert main(["report", "--db", str(db), "--framework", "nope"]) == 2


def test_risk_scores_and_one_assets_risk_agree_with_the_register(
    demo: tuple[Estate, Posture, Path],
) -> None:
    _, p, _ = demo
    assert p.risk_scores() == {}
    assert p.risk("fraud_xgb_v2.pkl") is None  # not assessed yet
    assert p.assessed_at is None
    snap = p.assess()
    assert p.assessed_at == snap.taken_at
    register = {r.asset_id: r for r in p.risks}
    scores = p.risk_scores()
    assert scores == {i: (r.priority, r.score) for i, r in register.items()}
    pickle = p.asset("fraud_xgb_v2.pkl")
    assert p.risk("fraud_xgb_v2.pkl") == register[pickle.id] == p.risk(pickle.id)
    bot = p.asset("support-bot")
    p.update_asset("support-bot", environment="dev", tags=[])  # a new assessment scores anew
    p.assess()
    again = p.risk_scores()
    assert again == {r.asset_id: (r.priority, r.score) for r in p.risks}
    assert again[bot.id].score < scores[bot.id].score
    with pytest.raises(NotFoundError):
        p.risk("no-such-asset")


def test_coverage_as_assessed_uses_the_controls_the_assessment_recorded(
    demo: tuple[Estate, Posture, Path],
) -> None:
    _, p, _ = demo
    before = p.coverage("owasp-llm", as_assessed=True)  # no assessment yet: computed now
    assert before.to_pandas().equals(p.coverage("owasp-llm").to_pandas())
    snap = p.assess()
    assert snap.controls is not None and snap.controls
    now = p.coverage("owasp-llm")
    assert p.coverage("owasp-llm", as_assessed=True).to_pandas().equals(now.to_pandas())
    # a control added after the assessment is recorded by the next one
    p.update_asset("support-bot", tags=["customer-facing", "control:guardrail"])
    recorded = dict(snap.controls)
    p.assess()
    latest = p.snapshots(limit=1)[0].controls
    assert latest is not None
    assert latest.get("guardrail", 0) == recorded.get("guardrail", 0) + 1
