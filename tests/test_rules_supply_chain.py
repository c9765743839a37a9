"""Supply-chain rules: unpinned Hub models, remote code, unpinned packages, retired models."""

from __future__ import annotations

import textwrap
from datetime import date
from pathlib import Path

import pytest

from aiposture.discovery import observe
from aiposture.discovery.base import Target, TargetKind
from aiposture.discovery.scanners.python_code import PythonCodeScanner
from aiposture.models import (
    Asset,
    AssetKind,
    Environment,
    Evidence,
    EvidenceKind,
    Finding,
    Relation,
    RelationKind,
    Severity,
    normalise_key,
)
from aiposture.risk.base import Rule
from aiposture.risk.graph import EstateGraph
from aiposture.risk.rules import supply_chain
from aiposture.risk.rules.supply_chain import (
    HubModelRemoteCode,
    RetiredModelInUse,
    UnpinnedAIPackage,
    UnpinnedHubModel,
)

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def _graph(*objs: Asset | Relation | Finding) -> EstateGraph:
    return EstateGraph.build(
        [o for o in objs if isinstance(o, Asset)],
        [o for o in objs if isinstance(o, Relation)],
        [o for o in objs if isinstance(o, Finding)],
    )


def _run(rule: Rule, graph: EstateGraph, asset: Asset) -> list[Finding]:
    assert not rule.kinds or asset.kind in rule.kinds
    return list(rule.evaluate(asset, graph))


def _app(name: str = "research", **fields: object) -> Asset:
    return Asset.new(AssetKind.APPLICATION, name, key=normalise_key("app", f"/p/{name}"), **fields)


def _code(snippet: str, line: int = 3) -> Evidence:
    return Evidence(kind=EvidenceKind.CODE, path="/p/x.py", line=line, snippet=snippet)


def _uses(user: Asset, model: Asset, snippet: str) -> Relation:
    return Relation.new(user.id, RelationKind.USES_MODEL, model.id, evidence=[_code(snippet)])


# --- AIP-SUPPLY-001 ------------------------------------------------------------------------


def test_hub_model_loaded_without_revision_is_reported() -> None:
    model = observe.model("acme/sentiment-base", None)
    app = _app()
    rel = _uses(app, model, 'm = AutoModel.from_pretrained("acme/sentiment-base")')
    [finding] = _run(UnpinnedHubModel(), _graph(model, app, rel), model)
    assert finding.severity is Severity.MEDIUM
    assert (
        finding.evidence[0].snippet is not None and "from_pretrained" in finding.evidence[0].snippet
    )
    prod = _app(environment=Environment.PROD)
    rel = _uses(prod, model, 'm = AutoModel.from_pretrained("acme/sentiment-base")')
    [finding] = _run(UnpinnedHubModel(), _graph(model, prod, rel), model)
    assert finding.severity is Severity.HIGH


def test_hub_model_pinned_to_a_commit_is_not_reported() -> None:
    model = observe.model("acme/sentiment-base", None)
    app = _app()
    snippet = f'AutoModel.from_pretrained("acme/sentiment-base", revision="{COMMIT}")'
    assert _run(UnpinnedHubModel(), _graph(model, app, _uses(app, model, snippet)), model) == []
    flagged = model.model_copy(update={"attributes": {"revision_pinned": True}})
    rel = _uses(app, flagged, "AutoModel.from_pretrained('acme/sentiment-base')")
    assert _run(UnpinnedHubModel(), _graph(flagged, app, rel), flagged) == []


def test_a_branch_name_is_not_a_pin_and_hosted_or_unused_models_are_out_of_scope() -> None:
    model = observe.model("acme/sentiment-base", None)
    app = _app()
    rel = _uses(app, model, 'from_pretrained("acme/sentiment-base", revision="main")')
    assert len(_run(UnpinnedHubModel(), _graph(model, app, rel), model)) == 1
    hosted = observe.model("gpt-4o", None)
    rel = _uses(app, hosted, 'client.chat.completions.create(model="gpt-4o")')
    assert _run(UnpinnedHubModel(), _graph(hosted, app, rel), hosted) == []
    cached_only = model.model_copy(update={"attributes": {"source": "hf-cache"}})
    assert _run(UnpinnedHubModel(), _graph(cached_only), cached_only) == []


def _scan_py(tmp_path: Path, name: str, code: str) -> list[object]:
    path = tmp_path / "proj" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(textwrap.dedent(code), encoding="utf-8")
    target = Target(
        kind=TargetKind.FILE,
        source=str(path),
        path=path,
        root=tmp_path,
        data=path.read_bytes(),
        project=path.parent,
    )
    return list(PythonCodeScanner().scan(target))


def test_unpinned_hub_model_from_a_real_code_scan(tmp_path: Path) -> None:
    loose = _scan_py(
        tmp_path,
        "loose.py",
        """
        from transformers import AutoModel
        m = AutoModel.from_pretrained("acme/loose-model")
        """,
    )
    pinned = _scan_py(
        tmp_path,
        "pinned.py",
        f"""
        from transformers import AutoModel
        m = AutoModel.from_pretrained("acme/pinned-model", revision="{COMMIT}")
        """,
    )
    objs = [o for o in [*loose, *pinned] if isinstance(o, Asset | Relation | Finding)]
    graph = _graph(*objs)
    rule = UnpinnedHubModel()
    fired = {a.name for a in graph.of_kind(AssetKind.MODEL) for _ in _run(rule, graph, a)}
    assert fired == {"acme/loose-model"}


# --- AIP-SUPPLY-004 ------------------------------------------------------------------------


def test_trust_remote_code_is_reported_high() -> None:
    model = observe.model("acme/custom-arch", None)
    app = _app()
    rel = _uses(app, model, 'from_pretrained("acme/custom-arch", trust_remote_code=True)')
    [finding] = _run(HubModelRemoteCode(), _graph(model, app, rel), model)
    assert finding.severity is Severity.HIGH


def test_trust_remote_code_false_or_absent_is_silent() -> None:
    model = observe.model("acme/custom-arch", None)
    app = _app()
    for snippet in (
        'from_pretrained("acme/custom-arch", trust_remote_code=False)',
        'from_pretrained("acme/custom-arch")',
    ):
        rel = _uses(app, model, snippet)
        assert _run(HubModelRemoteCode(), _graph(model, app, rel), model) == []


# --- AIP-SUPPLY-002 ------------------------------------------------------------------------


def _manifest_pkg(name: str, version: str | None, spec: str | None) -> Asset:
    ev = Evidence(kind=EvidenceKind.MANIFEST, path="/p/requirements.txt", line=1, snippet=name)
    return observe.package("pypi", name, version, specifier=spec, evidence=ev)


def test_unpinned_ai_package_is_low_and_medium_in_production() -> None:
    pkg = _manifest_pkg("langchain-openai", None, ">=0.2")
    dev = _app("bot")
    rel = Relation.new(pkg.id, RelationKind.DECLARED_IN, dev.id)
    [finding] = _run(UnpinnedAIPackage(), _graph(pkg, dev, rel), pkg)
    assert finding.severity is Severity.LOW and ">=0.2" in finding.title
    prod = _app("bot", environment=Environment.PROD)
    [finding] = _run(UnpinnedAIPackage(), _graph(pkg, prod, rel), pkg)
    assert finding.severity is Severity.MEDIUM


def test_package_pinned_by_a_lock_file_or_only_imported_is_not_reported() -> None:
    loose = _manifest_pkg("torch", None, ">=2")
    locked = _manifest_pkg("torch", "2.5.1", None)
    app = _app("trainer")
    g = _graph(
        loose,
        locked,
        app,
        Relation.new(loose.id, RelationKind.DECLARED_IN, app.id),
        Relation.new(locked.id, RelationKind.DECLARED_IN, app.id),
    )
    assert _run(UnpinnedAIPackage(), g, loose) == []
    assert _run(UnpinnedAIPackage(), g, locked) == []
    imported = observe.package("pypi", "openai", None, evidence=_code("import openai", 1))
    assert _run(UnpinnedAIPackage(), _graph(imported), imported) == []


# --- AIP-SUPPLY-003 ------------------------------------------------------------------------


def test_retired_model_in_use_is_medium_and_high_in_production() -> None:
    model = observe.model("text-davinci-003", None)
    app = _app("legacy")
    rel = _uses(app, model, 'openai.Completion.create(model="text-davinci-003")')
    [finding] = _run(RetiredModelInUse(), _graph(model, app, rel), model)
    assert finding.severity is Severity.MEDIUM
    assert "2024-01-04" in finding.title and "gpt-3.5-turbo-instruct" in finding.title
    prod = _app("legacy", environment=Environment.PROD)
    [finding] = _run(RetiredModelInUse(), _graph(model, prod, rel), model)
    assert finding.severity is Severity.HIGH


def test_model_id_with_a_router_prefix_is_recognised() -> None:
    model = Asset.new(AssetKind.MODEL, "anthropic/claude-2.1", provider="anthropic")
    app = _app()
    rel = _uses(app, model, 'litellm.completion("anthropic/claude-2.1")')
    assert len(_run(RetiredModelInUse(), _graph(model, app, rel), model)) == 1


def test_deprecated_model_before_its_shutdown_is_low(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(supply_chain.RETIRED_MODELS, "acme-llm-1", (date(2999, 1, 1), "acme-2"))
    model = observe.model("acme-llm-1", "acme")
    app = _app()
    [finding] = _run(RetiredModelInUse(), _graph(model, app, _uses(app, model, "x")), model)
    assert finding.severity is Severity.LOW
    assert "shuts down on 2999-01-01" in finding.title


def test_current_models_and_models_only_named_in_docs_are_not_reported() -> None:
    current = observe.model("gpt-4o", None)
    app = _app()
    assert _run(RetiredModelInUse(), _graph(current, app, _uses(app, current, "x")), current) == []
    doc_only = observe.model("text-davinci-003", None)
    assert _run(RetiredModelInUse(), _graph(doc_only), doc_only) == []
