"""The posture report for auditors, in Markdown and self-contained HTML."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from aiposture.errors import ConfigError, NotFoundError
from aiposture.export.report import posture_report
from aiposture.models import (
    Asset,
    AssetKind,
    AssetRisk,
    DimensionScore,
    Evidence,
    EvidenceKind,
    Finding,
    FindingStatus,
    Priority,
    Reason,
    Relation,
    RelationKind,
    RiskDimension,
    RiskSnapshot,
    RuleError,
    Severity,
)

EVIL = "<script>alert('x')</script>|bot"
SNIPPET = "sk-live-SHOULD-NOT-APPEAR"


def _risk(
    asset: Asset, score: float, priority: Priority, reasons: list[tuple[float, str]]
) -> AssetRisk:
    dims = [
        DimensionScore(
            dimension=RiskDimension.ACCESSIBILITY,
            score=min(10.0, sum(p for p, _ in reasons)),
            reasons=[Reason(points=p, text=t) for p, t in reasons],
        ),
        *(
            DimensionScore(dimension=d, score=0.0)
            for d in RiskDimension
            if d is not RiskDimension.ACCESSIBILITY
        ),
    ]
    return AssetRisk(
        asset_id=asset.id,
        asset_name=asset.name,
        asset_kind=asset.kind,
        dimensions=dims,
        likelihood=5.0,
        impact=5.0,
        score=score,
        priority=priority,
    )


@pytest.fixture
def estate() -> tuple[list[Asset], list[Relation], list[Finding]]:
    bot = Asset.new(AssetKind.APPLICATION, EVIL, key="bot", tags=["customer-facing"])
    llm = Asset.new(AssetKind.MODEL, "gpt-4o-mini", provider="openai")
    hr = Asset.new(AssetKind.APPLICATION, "hr-screener", key="hr", tags=["use_case:recruitment"])
    pkl = Asset.new(AssetKind.MODEL_FILE, "fraud.pkl", key="pkl", attributes={"format": "pickle"})
    guarded = Asset.new(
        AssetKind.ENDPOINT, "scoring-api", key="ep", tags=["control:rate-limit"], owner="ml-ops"
    )
    rels = [
        Relation.new(bot.id, RelationKind.USES_MODEL, llm.id),
        Relation.new(hr.id, RelationKind.USES_MODEL, llm.id),
    ]
    findings = [
        Finding.new(
            pkl.id,
            "AIP-MODEL-001",
            "Unsafe deserialization in fraud.pkl",
            Severity.CRITICAL,
            tags=["owasp-llm:LLM03", "atlas:AML.T0011.000", "cwe:502"],
            evidence=[Evidence(kind=EvidenceKind.FILE, path="/m/fraud.pkl", snippet=SNIPPET)],
        ),
        Finding.new(
            bot.id,
            "AIP-CRED-001",
            f"Hard-coded key in {EVIL}",
            Severity.HIGH,
            tags=["owasp-llm:LLM02", "atlas:AML.T0055"],
        ),
        Finding.new(
            bot.id,
            "AIP-EP-001",
            "Accepted exposure",
            Severity.MEDIUM,
            tags=["owasp-llm:LLM10"],
            status=FindingStatus.ACCEPTED,
        ),
    ]
    return [bot, llm, hr, pkl, guarded], rels, findings


@pytest.fixture
def snapshot(estate: tuple[list[Asset], list[Relation], list[Finding]]) -> RiskSnapshot:
    assets, _, _ = estate
    bot, _llm, _hr, pkl, guarded = assets
    return RiskSnapshot(
        id="snap-1",
        actor="auditor-prep",
        rules_run=31,
        risks=[
            _risk(pkl, 82.0, Priority.CRITICAL, [(6.0, "loading it runs code"), (1.0, "minor")]),
            _risk(bot, 55.5, Priority.HIGH, [(4.0, "public endpoint without auth")]),
            _risk(guarded, 12.0, Priority.LOW, [(1.0, "rate limited")]),
        ],
        rule_errors=[RuleError(rule_id="AIP-BROKEN-001", asset_id=pkl.id, error="boom")],
    )


def test_markdown_summary_counts_priorities_and_open_findings_by_severity(
    estate: tuple[list[Asset], list[Relation], list[Finding]], snapshot: RiskSnapshot
) -> None:
    assets, rels, findings = estate
    md = posture_report(snapshot, findings, assets, relations=rels)
    assert md.startswith("# AI security posture report\n")
    assert "| critical | 1 |" in md  # one critical asset and one critical finding
    assert "| high | 1 |" in md
    assert "| low | 1 |" in md
    assert "2 open findings, by severity" in md
    assert "1 accepted risks" in md
    assert "Assessment snap-1" in md and "auditor-prep" in md and "31 rules run" in md


def test_top_risks_are_ranked_by_score_with_their_heaviest_reasons(
    estate: tuple[list[Asset], list[Relation], list[Finding]], snapshot: RiskSnapshot
) -> None:
    assets, rels, findings = estate
    md = posture_report(snapshot, findings, assets, relations=rels)
    top = md.split("### Top risks", 1)[1].split("###", 1)[0]
    rows = [r for r in top.splitlines() if r.startswith("| 1 ") or r.startswith("| 2 ")]
    assert "fraud.pkl" in rows[0] and "82.0" in rows[0] and "critical" in rows[0]
    assert "loading it runs code (+6)" in rows[0]
    assert rows[0].index("loading it runs code") < rows[0].index("minor")
    assert "public endpoint without auth" in rows[1]


def test_failed_rules_are_reported(
    estate: tuple[list[Asset], list[Relation], list[Finding]], snapshot: RiskSnapshot
) -> None:
    assets, _, findings = estate
    md = posture_report(snapshot, findings, assets)
    assert "Rules that failed" in md and "AIP-BROKEN-001" in md and "boom" in md


def test_each_framework_section_gives_every_item_a_status(
    estate: tuple[list[Asset], list[Relation], list[Finding]],
) -> None:
    assets, rels, findings = estate
    md = posture_report(None, findings, assets, relations=rels)
    for heading in (
        "## OWASP Top 10 for LLM Applications 2025",
        "## MITRE ATLAS",
        "## NIST AI Risk Management Framework 1.0",
        "## EU Artificial Intelligence Act",
    ):
        assert heading in md
    owasp = md.split("## OWASP Top 10", 1)[1].split("\n## ", 1)[0]
    rows = {
        line.split(" | ")[0].strip("| "): line for line in owasp.splitlines() if "| LLM" in line
    }
    assert len(rows) == 10
    assert "open findings" in rows["LLM03"] and "1 critical" in rows["LLM03"]
    assert "open findings" in rows["LLM02"] and "1 high" in rows["LLM02"]
    # the accepted LLM10 finding is not open; the rate limit on the endpoint addresses it
    assert "addressed" in rows["LLM10"] and "rate-limit" in rows["LLM10"]
    assert "not covered" in rows["LLM01"]
    assert "No risk assessment was given" in md


def test_the_eu_ai_act_section_gives_each_ai_system_its_tier_and_reasoning(
    estate: tuple[list[Asset], list[Relation], list[Finding]],
) -> None:
    assets, rels, findings = estate
    md = posture_report(None, findings, assets, relations=rels)
    eu = md.split("## EU AI Act tier of each AI system", 1)[1].split("\n## ", 1)[0]
    hr_row = next(line for line in eu.splitlines() if line.startswith("| hr-screener"))
    assert "high-risk" in hr_row and "Annex III point 4" in hr_row
    bot_row = next(line for line in eu.splitlines() if line.startswith(r"| \<script"))
    assert "limited-risk" in bot_row and "Article 50(1)" in bot_row
    assert "fraud.pkl" not in eu  # a model file is not an AI system
    assert eu.index("hr-screener") < eu.index("alert")  # most severe tier first


def test_tiers_recorded_in_the_snapshot_are_used_as_they_are(
    estate: tuple[list[Asset], list[Relation], list[Finding]], snapshot: RiskSnapshot
) -> None:
    assets, rels, findings = estate
    first = snapshot.risks[0].model_copy(
        update={"eu_ai_act_tier": "prohibited", "eu_ai_act_reasons": ["recorded reason"]}
    )
    snap = snapshot.model_copy(update={"risks": [first, *snapshot.risks[1:]]})
    md = posture_report(snap, findings, assets, relations=rels)
    eu = md.split("## EU AI Act tier of each AI system", 1)[1]
    assert "recorded reason" in eu and "prohibited" in eu
    assert "Tiers as recorded by the assessment" in eu


def test_one_framework_can_be_reported_alone(
    estate: tuple[list[Asset], list[Relation], list[Finding]],
) -> None:
    assets, rels, findings = estate
    md = posture_report(None, findings, assets, "atlas", relations=rels)
    assert "## MITRE ATLAS" in md
    assert "## OWASP" not in md and "## NIST" not in md and "EU AI Act tier" not in md
    open_section = md.split("## Open findings", 1)[1]
    assert "AIP-MODEL-001" in open_section and "AIP-CRED-001" in open_section
    eu = posture_report(None, findings, assets, "eu-ai-act", relations=rels)
    assert "EU AI Act tier of each AI system" in eu
    assert "AIP-MODEL-001" not in eu.split("## Open findings", 1)[1]


def test_unknown_framework_or_format_is_refused(
    estate: tuple[list[Asset], list[Relation], list[Finding]],
) -> None:
    assets, _, findings = estate
    with pytest.raises(NotFoundError):
        posture_report(None, findings, assets, "iso-42001")
    with pytest.raises(ConfigError, match="pdf"):
        posture_report(None, findings, assets, format="pdf")  # type: ignore[arg-type]


def test_markdown_escapes_names_that_would_break_tables_or_render_html(
    estate: tuple[list[Asset], list[Relation], list[Finding]],
) -> None:
    assets, rels, findings = estate
    md = posture_report(None, findings, assets, relations=rels)
    assert "<script>" not in md
    assert r"\<script\>" in md and r"\|bot" in md
    for line in md.splitlines():
        if line.startswith("|") and "alert" in line:
            cells = re.split(r"(?<!\\)\|", line)
            assert len(cells) in (6, 7)  # 4 or 5 columns: no cell was split by the name


def test_no_snippet_appears_in_any_format(
    estate: tuple[list[Asset], list[Relation], list[Finding]], snapshot: RiskSnapshot
) -> None:
    assets, _, findings = estate
    for fmt in ("markdown", "html"):
        assert SNIPPET not in posture_report(snapshot, findings, assets, format=fmt)  # type: ignore[arg-type]


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs.extend(attrs)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_html_is_self_contained_and_escapes_untrusted_text(
    estate: tuple[list[Asset], list[Relation], list[Finding]], snapshot: RiskSnapshot
) -> None:
    assets, rels, findings = estate
    html = posture_report(snapshot, findings, assets, format="html", relations=rels)
    assert html.startswith("<!DOCTYPE html>")
    parsed = _Collector()
    parsed.feed(html)
    assert "script" not in parsed.tags
    assert {"style", "table", "h1", "h2"} <= set(parsed.tags)
    assert "link" not in parsed.tags and "img" not in parsed.tags
    assert not [v for k, v in parsed.attrs if k in ("src", "href")]
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html
    text = "".join(parsed.text)
    assert EVIL in text  # shown as text, exactly
    assert "Annex III point 4" in text and "open findings" in text
