"""EU AI Act tier of AI systems, from declared use cases, tags and the estate graph."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from aiposture import AssetKind, Posture
from aiposture.models import Asset, Relation, RelationKind
from aiposture.risk.eu_ai_act import Tier, assess, classify, classify_estate, is_ai_system
from aiposture.risk.frameworks import validate_tags
from aiposture.risk.graph import EstateGraph


def _app(name: str, **fields: object) -> Asset:
    return Asset.new(AssetKind.APPLICATION, name, key=name, **fields)


def _model(name: str, **fields: object) -> Asset:
    return Asset.new(AssetKind.MODEL, name, provider="openai", **fields)


def _uses(src: Asset, dst: Asset) -> Relation:
    return Relation.new(src.id, RelationKind.USES_MODEL, dst.id)


def _classify(
    asset: Asset, *others: Asset, relations: list[Relation] | None = None
) -> tuple[Tier, list[str]]:
    graph = EstateGraph.build([asset, *others], relations or [])
    return classify(asset, graph)


# --- limited risk: transparency --------------------------------------------------------------


def test_a_customer_facing_chatbot_calling_an_llm_has_a_transparency_duty() -> None:
    bot = _app("support-bot", tags=["customer-facing"])
    llm = _model("gpt-4o-mini")
    tier, reasons = _classify(bot, llm, relations=[_uses(bot, llm)])
    assert tier is Tier.LIMITED_RISK
    assert "Article 50(1)" in reasons[0]
    assert "gpt-4o-mini" in reasons[0] and "customer-facing" in reasons[0]


def test_the_llm_behind_a_customer_facing_bot_is_limited_risk_too() -> None:
    bot = _app("support-bot", tags=["customer-facing"])
    llm = _model("gpt-4o-mini")
    tier, reasons = _classify(llm, bot, relations=[_uses(bot, llm)])
    assert tier is Tier.LIMITED_RISK
    assert "support-bot" in reasons[0]


def test_a_customer_facing_app_calling_a_self_hosted_endpoint_has_the_duty() -> None:
    app = _app("assistant", tags=["customer-facing"])
    ep = Asset.new(AssetKind.ENDPOINT, "vllm", key="http://10.0.0.5:8000/v1")
    rel = Relation.new(app.id, RelationKind.CALLS_SERVICE, ep.id)
    tier, reasons = _classify(app, ep, relations=[rel])
    assert tier is Tier.LIMITED_RISK and "endpoint 'vllm'" in reasons[0]


def test_a_customer_facing_app_that_calls_no_model_is_not_given_the_duty() -> None:
    site = _app("shop", tags=["customer-facing"])
    tier, reasons = _classify(site)
    assert tier is Tier.MINIMAL_RISK
    assert "undeclared" in reasons[0]


def test_a_declared_chatbot_use_case_is_limited_risk() -> None:
    tier, reasons = _classify(_app("helpdesk", tags=["use_case:chatbot"]))
    assert tier is Tier.LIMITED_RISK
    assert "'chatbot'" in reasons[0] and "Article 50(1)" in reasons[0]


# --- high risk: Annex III ----------------------------------------------------------------------


def test_a_model_used_for_hiring_is_high_risk_under_annex_iii_point_4() -> None:
    hr = _app("hr-screener", tags=["use_case:recruitment"])
    ranker = _model("ranker")
    tier, reasons = _classify(ranker, hr, relations=[_uses(hr, ranker)])
    assert tier is Tier.HIGH_RISK
    assert "Annex III point 4" in reasons[0]
    assert "hr-screener" in reasons[0] and "recruitment" in reasons[0]


def test_a_use_case_two_hops_away_through_an_endpoint_is_inherited() -> None:
    hr = Asset.new(AssetKind.APPLICATION, "hr", key="hr", tags=["use_case:cv-screening"])
    ep = Asset.new(AssetKind.ENDPOINT, "rank-api", key="rank-api")
    model = _model("ranker")
    rels = [
        Relation.new(hr.id, RelationKind.CALLS_SERVICE, ep.id),
        Relation.new(ep.id, RelationKind.SERVES, model.id),
    ]
    tier, _ = _classify(model, hr, ep, relations=rels)
    assert tier is Tier.HIGH_RISK


def test_a_use_case_in_the_attribute_is_read_as_a_declaration() -> None:
    tier, reasons = _classify(_app("loans", attributes={"use_case": "credit-scoring"}))
    assert tier is Tier.HIGH_RISK
    assert "Annex III point 5" in reasons[0] and "attribute use_case" in reasons[0]


def test_a_list_of_use_cases_is_read_whole() -> None:
    tier, reasons = _classify(
        _app("assist", attributes={"use_case": ["summarisation", "exam-grading"]})
    )
    assert tier is Tier.HIGH_RISK
    assert "Annex III point 3" in reasons[0]


def test_a_keyword_inside_a_longer_use_case_counts_but_a_partial_word_does_not() -> None:
    assert _classify(_app("a", tags=["use_case:automated-cv-screening-v2"]))[0] is Tier.HIGH_RISK
    assert _classify(_app("b", tags=["use_case:airport-baggage-screening"]))[0] is (
        Tier.MINIMAL_RISK
    )
    assert _classify(_app("c", tags=["use_case:Credit_Scoring"]))[0] is Tier.HIGH_RISK


def test_a_carved_out_use_case_stays_out_of_its_area_and_says_so() -> None:
    tier, reasons = _classify(_app("fraud", tags=["use_case:fraud-detection"]))
    assert tier is Tier.MINIMAL_RISK
    assert any("Annex III point 5" in r and "leaves out" in r for r in reasons)
    tier, reasons = _classify(_app("door", tags=["use_case:biometric-verification"]))
    assert tier is Tier.MINIMAL_RISK
    assert "'biometric-verification'" in reasons[0]
    assert any("Annex III point 1" in r and "leaves out" in r for r in reasons[1:])


def test_emotion_recognition_alone_is_high_risk_with_a_disclosure_duty() -> None:
    tier, reasons = _classify(_app("mood", tags=["use_case:emotion-recognition"]))
    assert tier is Tier.HIGH_RISK
    assert "Annex III point 1" in reasons[0]
    assert any("Article 50(3)" in r for r in reasons)


# --- prohibited: Article 5 ------------------------------------------------------------------------


def test_social_scoring_is_a_prohibited_practice() -> None:
    tier, reasons = _classify(_app("citizen-score", attributes={"use_case": "social-scoring"}))
    assert tier is Tier.PROHIBITED
    assert "Article 5(1)(c)" in reasons[0]


def test_emotion_recognition_on_workers_is_prohibited() -> None:
    tier, reasons = _classify(_app("mood", tags=["emotion-recognition", "workplace"]))
    assert tier is Tier.PROHIBITED
    assert "Article 5(1)(f)" in reasons[0] and "workplace" in reasons[0]


def test_emotion_recognition_in_a_hiring_system_is_prohibited() -> None:
    tier, reasons = _classify(
        _app("interviews", tags=["use_case:recruitment", "use_case:emotion-recognition"])
    )
    assert tier is Tier.PROHIBITED
    assert "Article 5(1)(f)" in reasons[0]


def test_the_most_severe_tier_wins_and_every_reason_is_kept() -> None:
    bot = _app("loan-chat", tags=["use_case:chatbot", "use_case:credit-scoring"])
    tier, reasons = _classify(bot)
    assert tier is Tier.HIGH_RISK
    assert "Annex III point 5" in reasons[0]
    assert any("Article 50(1)" in r for r in reasons[1:])


# --- minimal ---------------------------------------------------------------------------------


def test_nothing_declared_is_minimal_and_says_the_use_case_is_undeclared() -> None:
    tier, reasons = _classify(Asset.new(AssetKind.AGENT, "helper", key="helper"))
    assert tier is Tier.MINIMAL_RISK
    assert reasons == [r for r in reasons if "undeclared" in r] and len(reasons) == 1


def test_a_declared_use_case_outside_every_list_is_minimal_and_named() -> None:
    tier, reasons = _classify(_app("wx", tags=["use_case:weather-forecasting"]))
    assert tier is Tier.MINIMAL_RISK
    assert "'weather-forecasting'" in reasons[0] and "matches no" in reasons[0]


def test_business_tags_do_not_trigger_a_tier() -> None:
    tier, _ = _classify(_app("core", tags=["critical", "prod", "mcp-client:claude"]))
    assert tier is Tier.MINIMAL_RISK


# --- scope and estate ------------------------------------------------------------------------


def test_only_current_apps_agents_models_and_ai_services_are_ai_systems() -> None:
    pkg = Asset.new(AssetKind.PACKAGE, "openai", key="pypi|openai")
    old = _app("old", stale=True)
    graph = EstateGraph.build([pkg, old])
    assert not is_ai_system(pkg) and not is_ai_system(old)
    with pytest.raises(ValueError, match="package 'openai' is not an AI system"):
        classify(pkg, graph)


def test_classify_estate_covers_every_ai_system_and_names_valid_items() -> None:
    bot = _app("support-bot", tags=["customer-facing"])
    hr = _app("hr", tags=["use_case:hiring"])
    llm = _model("gpt-4o-mini")
    pkg = Asset.new(AssetKind.PACKAGE, "openai", key="pypi|openai")
    graph = EstateGraph.build([bot, hr, llm, pkg], [_uses(bot, llm), _uses(hr, llm)])
    result = classify_estate(graph)
    assert set(result) == {bot.id, hr.id, llm.id}
    assert result[hr.id].items == ["eu-ai-act:annex-iii-4"]
    # the model serves both: the high-risk use wins, the transparency duty is kept
    assert result[llm.id].tier is Tier.HIGH_RISK
    assert "eu-ai-act:art-50.1" in result[llm.id].items
    for c in result.values():
        assert c.items and validate_tags(c.items) == []
    assert assess(bot, graph).items == ["eu-ai-act:art-50.1"]


def test_tiers_are_ordered_from_minimal_to_prohibited() -> None:
    assert [t.rank for t in Tier] == [0, 1, 2, 3]
    assert Tier.PROHIBITED.rank > Tier.HIGH_RISK.rank > Tier.LIMITED_RISK.rank
    assert Tier.LIMITED_RISK.label == "limited risk with transparency duties"


def test_a_scanned_customer_facing_bot_is_limited_risk(tmp_path: Path) -> None:
    bot = tmp_path / "estate" / "support-bot"
    bot.mkdir(parents=True)
    (bot / "requirements.txt").write_text("openai==1.51.0\n", encoding="utf-8")
    (bot / "bot.py").write_text(
        textwrap.dedent(
            """
            from openai import OpenAI

            client = OpenAI()


            def answer(question: str) -> str:
                reply = client.chat.completions.create(
                    model="gpt-4o-mini",
                    messages=[{"role": "user", "content": question}],
                )
                return reply.choices[0].message.content or ""
            """
        ),
        encoding="utf-8",
    )
    with Posture.open(f"sqlite:///{tmp_path / 'p.db'}", actor="t") as p:
        p.discover([tmp_path / "estate"], progress=False)
        app = next(a for a in p.assets if a.kind is AssetKind.APPLICATION)
        before = EstateGraph.build(p.assets, p.relations, p.findings)
        assert classify(before.assets[app.id], before)[0] is Tier.MINIMAL_RISK
        p.update_asset(app.id, tags=[*app.tags, "customer-facing"])
        graph = EstateGraph.build(p.assets, p.relations, p.findings)
        tier, reasons = classify(graph.assets[app.id], graph)
    assert tier is Tier.LIMITED_RISK
    assert "gpt-4o-mini" in reasons[0]
