"""Loading a policy folder: validation with file and line, and atomic reloads."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from aiposture.errors import ConfigError
from aiposture.models import Asset, AssetKind, Environment, Sensitivity
from aiposture.policy.entities import DEFAULT_SCHEMA
from aiposture.policy.loader import PolicyStore, load_policy, split_cedar
from aiposture.policy.models import (
    Action,
    ApprovalRule,
    DataUsageRule,
    Principal,
    PrincipalType,
    RateLimitRule,
)

ACCESS = """\
// Only the fraud team may query models trained on restricted data.
@id("restricted-models-fraud-only")
forbid(principal, action == Action::"query", resource is Model)
when { resource.trained_on == "restricted" }
unless { principal in Group::"fraud" };

permit(principal, action == Action::"query", resource is Model);
"""

DATA_USAGE = """\
rules:
  - id: restricted-never-third-party
    sensitivity: restricted
    allow_third_party: false
residency:
  restricted: [eu-*]
"""

RATE_LIMITS = """\
limits:
  - id: agents
    principal: type:agent
    model: gpt-*
    window: 60
    requests: 10
    burst: 2
"""

APPROVALS = """\
approvals:
  - id: prod-deploy
    action: deploy
    resource:
      environments: [prod]
    approvers: 2
    group: ml-leads
    valid_for: 3600
"""

PRINCIPALS = """\
principals:
  - id: alice
    groups: [fraud]
  - id: deploy-bot
    type: agent
"""


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "policy"
    write(root, "access.cedar", ACCESS)
    write(root, "data_usage.yaml", DATA_USAGE)
    write(root, "rate_limits.yaml", RATE_LIMITS)
    write(root, "approvals.yaml", APPROVALS)
    write(root, "principals.yaml", PRINCIPALS)
    return root


def test_valid_folder_loads_every_kind_of_policy(folder: Path) -> None:
    ps = load_policy(folder)
    assert [(p.id, p.file, p.line, p.effect) for p in ps.cedar] == [
        ("restricted-models-fraud-only", "access.cedar", 2, "forbid"),
        ("access.cedar:7", "access.cedar", 7, "permit"),
    ]
    assert ps.data_usage.rules[0].allow_third_party is False
    assert ps.data_usage.allowed_regions(Sensitivity.RESTRICTED) == ("eu-*",)
    assert ps.rate_limits[0].requests == 10 and ps.rate_limits[0].burst == 2
    assert ps.approvals[0].approvers == 2 and ps.approvals[0].action is Action.DEPLOY
    assert ps.principal("deploy-bot") == Principal(id="deploy-bot", type=PrincipalType.AGENT)
    assert len(ps.digest) == 64


def test_digest_changes_when_a_file_changes(folder: Path) -> None:
    before = load_policy(folder).digest
    write(folder, "rate_limits.yaml", RATE_LIMITS.replace("requests: 10", "requests: 11"))
    assert load_policy(folder).digest != before


def test_cedar_syntax_error_names_file_and_line(folder: Path) -> None:
    write(
        folder,
        "extra.cedar",
        """\
        permit(principal, action, resource);

        // a comma is missing after principal
        forbid(principal
               action == Action::"export", resource);
        """,
    )
    with pytest.raises(ConfigError, match=r"^extra\.cedar:5: unexpected token `action`"):
        load_policy(folder)


def test_unterminated_cedar_policy_is_refused_at_its_line(folder: Path) -> None:
    write(
        folder,
        "extra.cedar",
        "permit(principal, action, resource)\n\nforbid(principal, action, resource)",
    )
    with pytest.raises(ConfigError, match=r"^extra\.cedar:1: "):
        load_policy(folder)


def test_duplicate_policy_id_is_refused_naming_both_places(folder: Path) -> None:
    write(
        folder,
        "more.cedar",
        '@id("restricted-models-fraud-only")\npermit(principal, action, resource);\n',
    )
    with pytest.raises(ConfigError, match=r"more\.cedar:1: .*already used at access\.cedar:2"):
        load_policy(folder)


def test_policy_against_schema_is_type_checked(folder: Path) -> None:
    write(folder, "schema.cedarschema", DEFAULT_SCHEMA)
    assert len(load_policy(folder).cedar) == 2  # the example policies fit the schema
    write(
        folder,
        "typo.cedar",
        '\n\npermit(principal, action, resource is Model)\n  when { resource.sensitivty == "" };',
    )
    with pytest.raises(ConfigError, match=r"^typo\.cedar:3: .*sensitivty"):
        load_policy(folder)


def test_invalid_schema_file_is_refused(folder: Path) -> None:
    write(folder, "schema.cedarschema", "entity User {")
    with pytest.raises(ConfigError, match=r"^schema\.cedarschema:\d+: invalid Cedar schema"):
        load_policy(folder)


def test_bad_yaml_syntax_names_file_and_line(folder: Path) -> None:
    write(folder, "rate_limits.yaml", "limits:\n  - id: a\n    window: [60\n    requests: 1\n")
    with pytest.raises(ConfigError, match=r"^rate_limits\.yaml:\d+: invalid YAML"):
        load_policy(folder)


def test_unknown_key_names_file_and_line_of_the_key(folder: Path) -> None:
    write(
        folder,
        "data_usage.yaml",
        DATA_USAGE.replace("    allow_third_party", "    alow_third_party"),
    )
    with pytest.raises(
        ConfigError, match=r"^data_usage\.yaml:4: rules\.0\.alow_third_party: Extra inputs"
    ):
        load_policy(folder)


def test_wrong_type_names_file_and_line_of_the_value(folder: Path) -> None:
    write(folder, "approvals.yaml", APPROVALS.replace("approvers: 2", "approvers: many"))
    with pytest.raises(ConfigError, match=r"^approvals\.yaml:6: approvals\.0\.approvers: "):
        load_policy(folder)


def test_rule_that_restricts_nothing_is_refused(folder: Path) -> None:
    write(folder, "data_usage.yaml", "rules:\n  - id: r\n    sensitivity: restricted\n")
    with pytest.raises(ConfigError, match=r"^data_usage\.yaml:2: .*restricts nothing"):
        load_policy(folder)


def test_top_level_list_is_refused(folder: Path) -> None:
    write(folder, "principals.yaml", "- alice\n")
    with pytest.raises(ConfigError, match=r"^principals\.yaml:1: expected a mapping"):
        load_policy(folder)


def test_missing_folder_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_policy(tmp_path / "nope")


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("access.cedar", "permit(principal, action resource);"),
        ("data_usage.yaml", "rules: [\n"),
        (
            "rate_limits.yaml",
            "limits:\n  - id: x\n    window: 60\n    colour: red\n    requests: 1\n",
        ),
        ("approvals.yaml", "approvals:\n  - id: a\n    action: launch\n    group: g\n"),
    ],
)
def test_malformed_file_leaves_the_policy_in_force(folder: Path, name: str, text: str) -> None:
    store = PolicyStore(folder)
    before = store.current
    write(folder, name, text)
    with pytest.raises(ConfigError, match=rf"stays in force: {name.replace('.', '[.]')}:\d+: "):
        store.reload()
    assert store.current is before
    assert store.current.cedar[0].id == "restricted-models-fraud-only"


def test_reload_puts_a_valid_folder_in_force(folder: Path) -> None:
    store = PolicyStore(folder)
    write(folder, "access.cedar", '@id("only")\npermit(principal, action, resource);\n')
    fresh = store.reload()
    assert store.current is fresh
    assert [p.id for p in fresh.cedar] == ["only"]


def test_split_cedar_ignores_semicolons_in_strings_and_comments() -> None:
    text = (
        "// a; comment\npermit(principal, action, resource)\n"
        '  when { resource.name == "a;b" };\n\nforbid(principal, action, resource);'
    )
    parts = list(split_cedar(text))
    assert [line for line, _ in parts] == [2, 5]
    assert parts[0][1].endswith('"a;b" };')


def test_rate_limit_selectors_match_principal_and_model() -> None:
    by_group = RateLimitRule(id="r", principal="group:fraud", model="gpt-*", window=60, requests=5)
    alice = Principal(id="alice", groups=("fraud",))
    bob = Principal(id="bob")
    assert by_group.applies_to(alice, "gpt-4o")
    assert not by_group.applies_to(alice, "claude-3")
    assert not by_group.applies_to(bob, "gpt-4o")
    by_type = RateLimitRule(id="t", principal="type:agent", window=1, tokens=100)
    assert by_type.applies_to(Principal(id="x", type=PrincipalType.AGENT), "any")
    assert not by_type.applies_to(bob, "any")
    with pytest.raises(ValueError, match="requests or tokens"):
        RateLimitRule(id="n", window=1)
    with pytest.raises(ValueError, match="unknown principal type"):
        RateLimitRule(id="n", principal="type:robot", window=1, requests=1)


def test_approval_rule_matches_action_and_resource() -> None:
    rule = ApprovalRule.model_validate(
        {
            "id": "prod",
            "action": "deploy",
            "resource": {"environments": ["prod"], "min_sensitivity": "confidential"},
            "group": "leads",
        }
    )
    prod = Asset.new(
        AssetKind.MODEL,
        "m",
        environment=Environment.PROD,
        data_sensitivity=Sensitivity.RESTRICTED,
    )
    dev = prod.model_copy(update={"environment": Environment.DEV})
    public = prod.model_copy(update={"data_sensitivity": Sensitivity.PUBLIC})
    assert rule.applies_to("deploy", prod)
    assert not rule.applies_to("query", prod)
    assert not rule.applies_to("deploy", dev)
    assert not rule.applies_to("deploy", public)


def test_data_usage_rule_needs_a_known_sensitivity() -> None:
    with pytest.raises(ValueError, match="needs a data class"):
        DataUsageRule(id="x", sensitivity=Sensitivity.UNKNOWN, allow_third_party=False)
