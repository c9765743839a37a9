"""The domain model: derived ids, merging sightings, safe display, views."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from aiposture import (
    Asset,
    AssetKind,
    AssetList,
    Evidence,
    EvidenceKind,
    Finding,
    Relation,
    RelationKind,
    Severity,
)
from aiposture.discovery import observe


def test_ids_derive_from_identity_not_from_display_fields() -> None:
    a = Asset.new(AssetKind.MODEL, "gpt-4o", provider="openai")
    b = Asset.new(AssetKind.MODEL, "GPT-4o ", provider="OpenAI", owner="someone")
    c = Asset.new(AssetKind.MODEL, "gpt-4o", provider="azure_openai")
    assert a.id == b.id
    assert a.id != c.id
    assert Asset.new(AssetKind.DATASET, "gpt-4o", provider="openai").id != a.id


def test_merge_unions_evidence_and_keeps_first_values() -> None:
    e1 = Evidence(kind=EvidenceKind.CODE, path="a.py", line=3)
    e2 = Evidence(kind=EvidenceKind.CODE, path="b.py", line=9)
    a = observe.model("gpt-4o", None, e1)
    b = observe.model("gpt-4o", None, e2).model_copy(
        update={"version": "2024-08-06", "first_seen": a.first_seen - timedelta(days=1)}
    )
    m = a.merge(b).merge(b)
    assert [e.path for e in m.evidence] == ["a.py", "b.py"]
    assert m.version == "2024-08-06" and m.provider == "openai"
    assert m.first_seen == b.first_seen
    with pytest.raises(ValueError, match="cannot merge"):
        a.merge(observe.model("claude-3-opus", None))


def test_relation_and_finding_ids_are_stable() -> None:
    app = Asset.new(AssetKind.APPLICATION, "svc", key="app|/x/svc")
    model = observe.model("gpt-4o", None)
    assert Relation.new(app.id, RelationKind.USES_MODEL, model.id).id == (
        Relation.new(app.id, "uses_model", model.id).id
    )
    f1 = Finding.new(app.id, "AIP-CRED-001", "Hard-coded key", Severity.HIGH, fingerprint="a:1")
    f2 = Finding.new(app.id, "AIP-CRED-001", "other title", "high", fingerprint="a:1")
    assert f1.id == f2.id


def test_invalid_values_are_refused_with_the_field_named() -> None:
    with pytest.raises(ValidationError, match="environment"):
        Asset.new(AssetKind.MODEL, "m", environment="moon")
    with pytest.raises(ValidationError, match="name"):
        Asset.new(AssetKind.MODEL, "")


def test_html_escapes_attacker_controlled_text() -> None:
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    ev = Evidence(kind=EvidenceKind.CODE, path=evil, line=1, snippet=evil)
    a = Asset.new(AssetKind.MODEL, evil, provider=evil, evidence=[ev], tags=[evil])
    for html in (a._repr_html_(), AssetList([a])._repr_html_()):
        assert "<script>" not in html and "<img" not in html
        assert "&lt;script&gt;" in html


def test_views_filter_and_convert_to_pandas() -> None:
    items = AssetList(
        [
            observe.model("gpt-4o", None),
            observe.model("claude-3-opus", None),
            observe.service("openai"),
        ]
    )
    assert len(items.filter(kind="model")) == 2
    assert [a.name for a in items.filter(kind="model", provider=["anthropic"])] == ["claude-3-opus"]
    with pytest.raises(ValueError, match="unknown field"):
        items.filter(colour="red")
    frame = items.to_pandas()
    assert list(frame.columns[:3]) == ["id", "kind", "name"]
    assert set(frame["kind"]) == {"model", "ai_service"}
    assert len(AssetList([]).to_pandas()) == 0
    assert items.by_kind() == {"ai_service": 1, "model": 2}


def test_evidence_snippets_are_kept_short() -> None:
    ev = Evidence(kind=EvidenceKind.CODE, snippet="x" * 1000)
    assert ev.snippet is not None and len(ev.snippet) <= 240
