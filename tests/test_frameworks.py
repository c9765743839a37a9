"""Framework data (OWASP LLM 2025, MITRE ATLAS, NIST AI RMF, EU AI Act), tags and coverage."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from aiposture.errors import ConfigError, NotFoundError
from aiposture.models import (
    Asset,
    AssetKind,
    Evidence,
    EvidenceKind,
    Finding,
    FindingStatus,
    Relation,
    RelationKind,
    Severity,
    Usage,
)
from aiposture.risk import frameworks as fw
from aiposture.risk.frameworks import (
    CONTROLS,
    CoverageStatus,
    controls_of,
    coverage,
    estate_controls,
    framework,
    framework_of,
    frameworks,
    graph_coverage,
    item,
    load_framework_file,
    matches,
    validate_tags,
)
from aiposture.risk.graph import EstateGraph
from aiposture.risk.registry import default_rules

# --- the data ------------------------------------------------------------------------------


def test_every_framework_file_loads_with_its_edition_and_source() -> None:
    loaded = frameworks()
    assert set(loaded) == {"owasp-llm", "atlas", "nist-ai-rmf", "eu-ai-act"}
    for key, f in loaded.items():
        assert f.key == key
        assert f.version and f.source_url.startswith("https://")
        assert re.fullmatch(r"\d{4}(-\d{2}(-\d{2})?)?", f.published)
        for it in f.items:
            assert it.framework == key
            assert it.tag == f"{key}:{it.id}"
            assert it.description.endswith(".")


def test_owasp_llm_2025_lists_its_ten_risks_by_their_names() -> None:
    owasp = framework("owasp-llm")
    assert owasp.version == "2025"
    assert [it.id for it in owasp.items] == [f"LLM{n:02d}" for n in range(1, 11)]
    assert owasp.item("LLM01").name == "Prompt Injection"
    assert owasp.item("LLM03").name == "Supply Chain"
    assert owasp.item("LLM06").name == "Excessive Agency"
    assert owasp.item("LLM10").name == "Unbounded Consumption"


def test_atlas_has_at_least_25_well_formed_technique_ids() -> None:
    atlas = framework("atlas")
    ids = [it.id for it in atlas.items]
    assert len(ids) >= 25
    assert all(re.fullmatch(r"AML\.T\d{4}(\.\d{3})?", i) for i in ids)
    assert atlas.item("AML.T0010").name == "AI Supply Chain Compromise"
    assert atlas.item("AML.T0011.000").parent == "AML.T0011"
    assert "Extract ML Model" in atlas.item("AML.T0024.002").aliases


def test_sub_techniques_sit_under_their_technique() -> None:
    atlas = framework("atlas")
    for it in atlas.items:
        if it.id.count(".") == 2:
            assert it.parent == it.id.rsplit(".", 1)[0]


def test_nist_ai_rmf_has_four_functions_19_categories_and_72_subcategories() -> None:
    nist = framework("nist-ai-rmf")
    kinds: dict[str, list[str]] = {}
    for it in nist.items:
        kinds.setdefault(it.kind, []).append(it.id)
    assert kinds["function"] == ["GOVERN", "MAP", "MEASURE", "MANAGE"]
    assert len(kinds["category"]) == 19
    assert len(kinds["subcategory"]) == 72
    per_function = {
        fn: sum(1 for s in kinds["subcategory"] if s.startswith(fn + "-"))
        for fn in kinds["function"]
    }
    assert per_function == {"GOVERN": 19, "MAP": 18, "MEASURE": 22, "MANAGE": 13}
    assert nist.item("GOVERN-1.6").parent == "GOVERN-1"
    assert "inventory" in nist.item("GOVERN-1.6").controls


def test_eu_ai_act_has_four_tiers_eight_annex_iii_areas_and_eight_banned_practices() -> None:
    eu = framework("eu-ai-act")
    tiers = [it.id for it in eu.items if it.kind == "tier"]
    assert tiers == ["prohibited", "high-risk", "limited-risk", "minimal-risk"]
    areas = [it.id for it in eu.children("annex-iii")]
    assert areas == [f"annex-iii-{n}" for n in range(1, 9)]
    assert len(eu.children("art-5")) == 8
    assert eu.item("annex-iii-4").name.startswith("Employment")
    assert "credit-scoring" in eu.item("annex-iii-5").keywords
    assert "fraud-detection" in eu.item("annex-iii-5").exclusions
    assert [a.id for a in eu.ancestors("annex-iii-4")] == ["annex-iii", "high-risk"]


def test_every_control_named_in_the_data_is_a_known_control() -> None:
    for f in frameworks().values():
        for it in f.items:
            assert set(it.controls) <= set(CONTROLS), it.tag


def test_every_framework_tag_of_a_registered_rule_names_a_real_item() -> None:
    reg = default_rules()
    for rid in reg.ids():
        rule = reg.get(rid)
        assert validate_tags(rule.frameworks) == [], f"{rid} has unknown framework tags"


# --- loading errors ---------------------------------------------------------------------------


_HEAD = textwrap.dedent(
    """
    format: 1
    framework: custom
    name: Custom framework
    version: "1"
    source_url: https://example.org/framework
    published: 2024-01-02
    items:
    """
).lstrip()


def _write(tmp_path: Path, text: str, name: str = "custom.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _items(text: str) -> str:
    """A framework file with the custom head and these items (any indentation)."""
    return _HEAD + textwrap.indent(textwrap.dedent(text).strip() + "\n", "  ")


def test_a_valid_custom_file_loads(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        _items(
            """
      - {id: C1, name: First, description: One thing., controls: [rate-limit]}
      - {id: C1.1, name: Child, description: A finer thing., parent: C1}
    """
        ),
    )
    f = load_framework_file(path)
    assert f.key == "custom" and f.published == "2024-01-02"
    assert f.controls_for("C1") == ["rate-limit"]
    assert [c.id for c in f.children("c1")] == ["C1.1"]


def test_an_unknown_control_is_refused_naming_file_and_item(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        _items("- {id: C1, name: First, description: One., controls: [firewall]}\n"),
    )
    with pytest.raises(ConfigError) as exc:
        load_framework_file(path)
    text = str(exc.value)
    assert "custom.yaml" in text and "'C1'" in text and "firewall" in text


def test_a_duplicate_id_is_refused(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        _items(
            """
      - {id: C1, name: First, description: One.}
      - {id: c1, name: Again, description: Two.}
    """
        ),
    )
    with pytest.raises(ConfigError, match=r"^custom\.yaml: item 'c1': id used twice$"):
        load_framework_file(path)


def test_an_unknown_parent_and_a_parent_cycle_are_refused(tmp_path: Path) -> None:
    orphan = _write(tmp_path, _items("- {id: C1, name: A, description: B., parent: C9}\n"))
    with pytest.raises(ConfigError, match=r"'C1'.*parent 'C9'"):
        load_framework_file(orphan)
    cycle = _write(
        tmp_path,
        _items(
            """
      - {id: C1, name: A, description: B., parent: C2}
      - {id: C2, name: C, description: D., parent: C1}
    """
        ),
        name="cycle.yaml",
    )
    with pytest.raises(ConfigError, match=r"cycle\.yaml.*cycle"):
        load_framework_file(cycle)


def test_a_missing_field_names_the_item_that_lacks_it(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        _items(
            """
      - {id: C1, name: First, description: One.}
      - {id: C2, name: Second}
    """
        ),
    )
    with pytest.raises(ConfigError) as exc:
        load_framework_file(path)
    assert str(exc.value) == "custom.yaml: item 'C2': description: Field required"


def test_broken_yaml_a_list_and_a_missing_file_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_framework_file(_write(tmp_path, "items: [unclosed\n"))
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_framework_file(_write(tmp_path, "- a\n- b\n", name="list.yaml"))
    with pytest.raises(ConfigError, match="cannot read"):
        load_framework_file(tmp_path / "absent.yaml")


def test_keywords_must_be_kebab_case(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        _items("- {id: C1, name: A, description: B., keywords: [Credit Scoring]}\n"),
    )
    with pytest.raises(ConfigError, match="kebab-case"):
        load_framework_file(path)


# --- tags --------------------------------------------------------------------------------------


def test_item_finds_a_tag_whatever_its_case() -> None:
    it = item("ATLAS:aml.t0024.002")
    assert it is not None and it.name == "Extract AI Model" and it.framework == "atlas"
    assert item("owasp-llm:llm03") == framework("owasp-llm").item("LLM03")
    assert item("owasp-llm:LLM11") is None
    assert item("customer-facing") is None
    assert item("nope:X") is None


def test_framework_of_a_tag_is_found_by_its_prefix() -> None:
    found = framework_of("nist-ai-rmf:GOVERN-1.6")
    assert found is not None and found.key == "nist-ai-rmf"
    assert framework_of("cwe:502") is None
    assert framework_of("plain") is None


def test_unknown_framework_raises_not_found() -> None:
    with pytest.raises(NotFoundError, match="owasp-llm"):
        framework("iso-42001")


def test_validate_tags_reports_unknown_items_and_malformed_cwe_only() -> None:
    tags = [
        "owasp-llm:LLM03",
        "atlas:AML.T0011.000",
        "nist-ai-rmf:GOVERN-6.1",
        "eu-ai-act:annex-iii-4",
        "cwe:502",
        "owasp-llm:LLM11",
        "atlas:AML.T9999",
        "nist-ai-rmf:GOVERN-9.9",
        "cwe:CWE-502",
        "customer-facing",
        "mcp-client:claude",
        "owasp-llm:LLM11",
    ]
    assert validate_tags(tags) == [
        "owasp-llm:LLM11",
        "atlas:AML.T9999",
        "nist-ai-rmf:GOVERN-9.9",
        "cwe:CWE-502",
    ]


def test_a_selector_matches_its_framework_an_item_and_the_items_below_it() -> None:
    tags = ["atlas:AML.T0024.002", "cwe:200"]
    assert matches(tags, "atlas")
    assert matches(tags, "atlas:AML.T0024")
    assert matches(tags, "atlas:aml.t0024.002")
    assert not matches(tags, "atlas:AML.T0024.000")
    assert not matches(["atlas:AML.T0024"], "atlas:AML.T0024.002")
    assert not matches(tags, "owasp-llm")
    with pytest.raises(NotFoundError):
        matches(tags, "atlas:AML.T9999")


# --- controls ----------------------------------------------------------------------------------


def test_controls_come_from_tags_owner_model_card_and_safe_formats() -> None:
    model = Asset.new(
        AssetKind.MODEL,
        "credit-model",
        provider="local",
        owner="risk-team",
        tags=["control:Rate-Limit", "customer-facing"],
        attributes={"model_card": "/models/credit/README.md"},
    )
    found = controls_of(model)
    assert {"rate-limit", "owner", "model-card", "inventory"} <= set(found)
    assert "risk-team" in found["owner"]
    safe = Asset.new(
        AssetKind.MODEL_FILE, "m.safetensors", key="m1", attributes={"format": "safetensors"}
    )
    unsafe = Asset.new(AssetKind.MODEL_FILE, "m.pkl", key="m2", attributes={"format": "pickle"})
    assert "safe-serialization" in controls_of(safe)
    assert "safe-serialization" not in controls_of(unsafe)
    assert "owner" not in controls_of(unsafe)


def test_an_mcp_server_is_authenticated_by_its_auth_header_and_pinned_by_its_package() -> None:
    remote = Asset.new(
        AssetKind.MCP_SERVER,
        "kb",
        key="kb",
        attributes={"headers": ["Authorization"], "pinned": True},
    )
    bare = Asset.new(
        AssetKind.MCP_SERVER, "kb2", key="kb2", attributes={"headers": ["X-Trace"], "pinned": False}
    )
    assert {"authentication", "pinned-dependencies"} <= set(controls_of(remote))
    assert not {"authentication", "pinned-dependencies"} & set(controls_of(bare))


def test_a_leakage_index_over_the_training_data_is_a_control_of_the_model() -> None:
    model = Asset.new(AssetKind.MODEL, "claims-llm", provider="local")
    data = Asset.new(AssetKind.DATASET, "claims-2023", key="claims-2023")
    other = Asset.new(AssetKind.DATASET, "other", key="other")
    index = Asset.new(AssetKind.DATASET_INDEX, "claims-index", key="claims-index")
    rels = [Relation.new(model.id, RelationKind.TRAINED_ON, data.id)]
    without = EstateGraph.build([model, data, other, index], rels)
    assert "leakage-index" not in controls_of(model, without)
    with_index = EstateGraph.build(
        [model, data, other, index],
        [*rels, Relation.new(index.id, RelationKind.CONTAINS, data.id)],
    )
    found = controls_of(model, with_index)
    assert "claims-index" in found["leakage-index"]
    wrong_data = EstateGraph.build(
        [model, data, other, index],
        [*rels, Relation.new(index.id, RelationKind.CONTAINS, other.id)],
    )
    assert "leakage-index" not in controls_of(model, wrong_data)


def test_traffic_seen_in_egress_logs_is_egress_monitoring() -> None:
    ev = Evidence(kind=EvidenceKind.LOG_LINE, path="/logs/proxy.log", usage=Usage(requests=3))
    seen = Asset.new(AssetKind.AI_SERVICE, "DeepL", provider="deepl", evidence=[ev])
    assert "egress-monitoring" in controls_of(seen)


def test_estate_controls_count_current_assets_per_control() -> None:
    a = Asset.new(AssetKind.APPLICATION, "a", key="a", owner="x", tags=["control:guardrail"])
    b = Asset.new(AssetKind.APPLICATION, "b", key="b", owner="y")
    gone = Asset.new(AssetKind.APPLICATION, "c", key="c", owner="z", stale=True)
    counts = estate_controls(EstateGraph.build([a, b, gone]))
    assert counts["owner"] == 2
    assert counts["guardrail"] == 1
    assert counts["inventory"] == 2


# --- coverage ----------------------------------------------------------------------------------


def _finding(
    asset: Asset,
    rule: str,
    severity: Severity,
    tags: list[str],
    status: FindingStatus = FindingStatus.OPEN,
    stale: bool = False,
) -> Finding:
    return Finding.new(
        asset.id, rule, f"{rule} on {asset.name}", severity, tags=tags, status=status, stale=stale
    )


@pytest.fixture
def endpoint() -> Asset:
    return Asset.new(AssetKind.ENDPOINT, "scoring-api", key="scoring-api")


def test_a_finding_on_a_sub_technique_counts_for_it_and_its_technique(endpoint: Asset) -> None:
    f = _finding(endpoint, "AIP-EP-001", Severity.HIGH, ["atlas:AML.T0024.002"])
    cov = coverage([f], [], "atlas")
    for tag in ("atlas:AML.T0024.002", "atlas:AML.T0024"):
        row = cov.row(tag)
        assert row.status is CoverageStatus.OPEN_FINDINGS
        assert row.findings["high"] == 1 and row.open_findings == 1
        assert row.finding_ids == (f.id,)
    assert cov.row("atlas:AML.T0024.000").status is CoverageStatus.NOT_COVERED


def test_one_finding_tagged_with_two_children_counts_once_for_the_parent(
    endpoint: Asset,
) -> None:
    f = _finding(
        endpoint, "AIP-EP-002", Severity.MEDIUM, ["atlas:AML.T0024.000", "atlas:AML.T0024.001"]
    )
    row = coverage([f], [], "atlas").row("atlas:AML.T0024")
    assert row.open_findings == 1


def test_accepted_resolved_false_positive_and_stale_findings_are_not_open(
    endpoint: Asset,
) -> None:
    tags = ["owasp-llm:LLM10"]
    closed = [
        _finding(endpoint, "R1", Severity.HIGH, tags, FindingStatus.ACCEPTED),
        _finding(endpoint, "R2", Severity.HIGH, tags, FindingStatus.RESOLVED),
        _finding(endpoint, "R3", Severity.HIGH, tags, FindingStatus.FALSE_POSITIVE),
        _finding(endpoint, "R4", Severity.HIGH, tags, stale=True),
    ]
    assert coverage(closed, [], "owasp-llm").row("owasp-llm:LLM10").open_findings == 0
    acked = _finding(endpoint, "R5", Severity.LOW, tags, FindingStatus.ACKNOWLEDGED)
    row = coverage([*closed, acked], [], "owasp-llm").row("owasp-llm:LLM10")
    assert row.findings["low"] == 1 and row.status is CoverageStatus.OPEN_FINDINGS


def test_an_item_is_addressed_when_one_of_its_controls_is_present() -> None:
    cov = coverage([], {"rate-limit": 3, "guardrail": 0}, "owasp-llm")
    llm10 = cov.row("owasp-llm:LLM10")
    assert llm10.status is CoverageStatus.ADDRESSED
    assert llm10.present == ("rate-limit",)
    assert "authentication" in llm10.missing
    llm01 = cov.row("owasp-llm:LLM01")
    assert llm01.status is CoverageStatus.NOT_COVERED
    assert "guardrail" in llm01.missing


def test_open_findings_win_over_present_controls(endpoint: Asset) -> None:
    f = _finding(endpoint, "R", Severity.CRITICAL, ["owasp-llm:LLM10"])
    row = coverage([f], ["rate-limit"], "owasp-llm").row("owasp-llm:LLM10")
    assert row.status is CoverageStatus.OPEN_FINDINGS
    assert row.present == ("rate-limit",)


def test_a_parent_is_addressed_by_the_controls_of_its_children() -> None:
    row = coverage([], ["inventory"], "nist-ai-rmf").row("nist-ai-rmf:GOVERN-1")
    assert row.status is CoverageStatus.ADDRESSED
    assert "inventory" in row.controls and row.depth == 1


def test_coverage_of_every_framework_has_a_row_per_item_and_a_summary() -> None:
    cov = coverage([], [])
    assert len(cov) == sum(len(f.items) for f in frameworks().values())
    summary = cov.summary()
    assert set(summary) == set(frameworks())
    assert summary["owasp-llm"]["not covered"] == 10
    assert len(cov.for_framework("eu-ai-act")) == len(framework("eu-ai-act").items)


def test_coverage_as_a_dataframe_has_one_row_per_item_with_severity_columns(
    endpoint: Asset,
) -> None:
    f = _finding(endpoint, "R", Severity.CRITICAL, ["owasp-llm:LLM02"])
    df = coverage([f], ["leakage-index"], "owasp-llm").to_pandas()
    assert len(df) == 10
    assert {"item", "status", "present", "missing", "critical", "info"} <= set(df.columns)
    llm02 = df.set_index("item").loc["LLM02"]
    assert llm02["critical"] == 1 and llm02["status"] == "open findings"
    assert llm02["present"] == ["leakage-index"]


def test_coverage_html_shows_each_status() -> None:
    html = coverage([], ["rate-limit"], "owasp-llm")._repr_html_()
    assert "OWASP Top 10 for LLM Applications" in html
    assert "addressed" in html and "not covered" in html
    assert "<script" not in html


def test_graph_coverage_reads_controls_and_findings_from_the_estate(endpoint: Asset) -> None:
    guarded = Asset.new(AssetKind.APPLICATION, "bot", key="bot", tags=["control:guardrail"])
    f = _finding(endpoint, "R", Severity.MEDIUM, ["owasp-llm:LLM10"])
    cov = graph_coverage(EstateGraph.build([guarded, endpoint], findings=[f]), "owasp-llm")
    assert cov.row("owasp-llm:LLM01").status is CoverageStatus.ADDRESSED
    assert cov.row("owasp-llm:LLM10").status is CoverageStatus.OPEN_FINDINGS


def test_coverage_row_of_an_unknown_tag_raises() -> None:
    with pytest.raises(NotFoundError):
        coverage([], [], "owasp-llm").row("owasp-llm:LLM11")
    with pytest.raises(NotFoundError):
        coverage([], [], "nope")


def test_frameworks_module_names_its_files() -> None:
    assert set(fw.FRAMEWORK_FILES) == set(frameworks())
