"""The LangChain guard and callback handler, with langchain-core's fake chat models."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("langchain_core")

from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.messages import AIMessage
from langchain_core.prompts import ChatPromptTemplate

from aiposture.demo import fake_openai_key
from aiposture.integrations.langchain import PostureCallbackHandler, guarded
from aiposture.models import Asset, AssetKind
from aiposture.policy.engine import PolicyEngine
from aiposture.policy.guard import Guard
from aiposture.policy.loader import load_policy
from aiposture.policy.models import PolicyViolation


def engine(tmp_path: Path) -> PolicyEngine:
    folder = tmp_path / "policy"
    folder.mkdir()
    (folder / "access.cedar").write_text(
        '@id("bots")\npermit(principal in Group::"bots", action == Action::"query", '
        "resource is Model);\n"
    )
    (folder / "principals.yaml").write_text(
        "principals:\n  - id: svc-bot\n    type: service\n    groups: [bots]\n"
        "  - id: intern\n    groups: [interns]\n"
    )
    model = Asset.new(AssetKind.MODEL, "gpt-4o-mini", provider="openai")
    return PolicyEngine(load_policy(folder), assets=[model])


def test_a_guarded_chain_runs_when_allowed_and_redacts_a_secret_in_the_answer(
    tmp_path: Path,
) -> None:
    e = engine(tmp_path)
    key = fake_openai_key()
    llm = FakeListChatModel(responses=[f"Sure. The key is {key}"])
    prompt = ChatPromptTemplate.from_messages([("human", "{question}")])
    g = Guard(e.principal("svc-bot"), "gpt-4o-mini", engine=e, on_violation="redact")
    handler = PostureCallbackHandler("svc-bot")
    chain = guarded(prompt | llm, g)
    answer = chain.invoke({"question": "What is the key?"}, config={"callbacks": [handler]})
    assert isinstance(answer, AIMessage)
    assert key not in answer.content and answer.content.startswith("Sure.")
    assert [ev.stage for ev in g.events] == ["access", "prompt", "output"]
    assert len(handler.events) == 1 and handler.events[0].principal == "svc-bot"


def test_a_denied_principal_never_reaches_the_model(tmp_path: Path) -> None:
    e = engine(tmp_path)
    llm = FakeListChatModel(responses=["should not be called"])
    g = Guard(e.principal("intern"), "gpt-4o-mini", engine=e)
    with pytest.raises(PolicyViolation, match="intern"):
        guarded(llm, g).invoke("hello")
    assert llm.i == 0  # the fake model's response index never moved


def test_a_secret_in_the_input_stops_the_chain(tmp_path: Path) -> None:
    e = engine(tmp_path)
    llm = FakeListChatModel(responses=["ok"])
    g = Guard(e.principal("svc-bot"), "gpt-4o-mini", engine=e)
    with pytest.raises(PolicyViolation, match="OpenAI Token"):
        guarded(llm, g).invoke(f"my key is {fake_openai_key()}")
    assert llm.i == 0
