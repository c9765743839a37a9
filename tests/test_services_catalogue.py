"""The AI service catalogue: its data, its validation and host matching."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from aiposture.discovery import observe
from aiposture.discovery.catalog import load_catalog
from aiposture.discovery.services import (
    CATEGORIES,
    SHARED_DOMAINS,
    ServiceCatalogue,
    load_services,
    normalise_host,
)
from aiposture.errors import ConfigError, NotFoundError
from aiposture.models import AssetKind

# --- the shipped data -----------------------------------------------------------------------


def test_catalogue_has_well_over_a_hundred_services_in_every_family() -> None:
    cat = load_services()
    assert len(cat) >= 130
    by_category: dict[str, int] = {}
    for entry in cat.all():
        by_category[entry.category] = by_category.get(entry.category, 0) + 1
    for needed in (
        "llm_api",
        "chat_assistant",
        "code_assistant",
        "image_generation",
        "video_generation",
        "voice_audio",
        "meeting_assistant",
        "writing_assistant",
        "browser_extension",
        "search_assistant",
        "model_hub",
        "inference_platform",
        "agent_platform",
        "translation",
    ):
        assert by_category.get(needed, 0) >= 2, needed
    assert set(by_category) <= set(CATEGORIES)


def test_no_domain_is_claimed_by_two_services_and_no_shared_domain_is_catalogued() -> None:
    owner: dict[str, str] = {}
    for entry in load_services().all():
        for domain in entry.domains:
            assert domain not in owner, f"{domain} in {owner.get(domain)} and {entry.id}"
            owner[domain] = entry.id
            assert domain not in SHARED_DOMAINS
            assert domain == domain.lower().strip(".")
    for shared in ("googleapis.com", "amazonaws.com", "microsoft.com", "github.com", "google.com"):
        assert shared not in owner


def test_provider_links_are_valid_and_only_a_providers_api_takes_its_id() -> None:
    providers = set(load_catalog().providers)
    linked = set()
    for entry in load_services().all():
        if entry.provider is not None:
            assert entry.provider in providers
            assert entry.id == entry.provider
            linked.add(entry.provider)
        else:
            assert entry.id not in providers
    # every provider with hosts on the internet has its API in the catalogue
    assert {"openai", "anthropic", "google", "aws_bedrock", "azure_openai", "mistral"} <= linked


def test_every_service_builds_an_asset_and_provider_apis_merge_with_code_sightings() -> None:
    cat = load_services()
    ids = set()
    for entry in cat.all():
        asset = observe.catalogued_service(entry.id)
        assert asset.kind is AssetKind.AI_SERVICE
        assert asset.attributes["category"] == entry.category
        ids.add(asset.id)
        if entry.provider is not None:
            assert asset.id == observe.service(entry.provider).id
    assert len(ids) == len(cat)  # no two services collapse into one asset


# --- matching -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "service"),
    [
        ("api.openai.com", "openai"),
        ("eu.api.openai.com", "openai"),
        ("chat.openai.com", "chatgpt"),
        ("chatgpt.com", "chatgpt"),
        ("sora.chatgpt.com", "sora"),  # longer domain wins over chatgpt.com
        ("chat.mistral.ai", "le-chat"),
        ("api.mistral.ai", "mistral"),
        ("codestral.mistral.ai", "mistral"),
        ("api.perplexity.ai", "perplexity"),
        ("www.perplexity.ai", "perplexity-ai"),
        ("claude.ai", "claude"),
        ("api.anthropic.com", "anthropic"),
        ("gemini.google.com", "gemini"),
        ("generativelanguage.googleapis.com", "google"),
        ("copilot-proxy.githubusercontent.com", "github-copilot"),
        ("api.individual.githubcopilot.com", "github-copilot"),
        ("myresource.openai.azure.com", "azure_openai"),
        ("api-free.deepl.com", "deepl"),
        ("cdn-lfs.huggingface.co", "huggingface"),
    ],
)
def test_a_domain_matches_itself_and_its_subdomains_most_specific_first(
    host: str, service: str
) -> None:
    hit = load_services().match(host)
    assert hit is not None and hit.id == service


@pytest.mark.parametrize(
    "host",
    [
        "notopenai.com",
        "openai.com.evil.net",
        "api.openai.com.attacker.io",
        "openai.co",
        "api-openai.com",
        "claude.ai.example",
        "xclaude.ai",
        "com",
        "ai",
        "",
        "example.com",
        "googleapis.com",
        "storage.googleapis.com",
        "s3.amazonaws.com",
        "www.microsoft.com",
        "github.com",
    ],
)
def test_look_alikes_and_shared_hosts_do_not_match(host: str) -> None:
    assert load_services().match(host) is None


@pytest.mark.parametrize(
    "host",
    [
        "API.OpenAI.COM",
        "api.openai.com.",
        "api.openai.com:443",
        "API.OPENAI.COM.:8443",
        "svc@api.openai.com:443",
        " api.openai.com ",
        "api\u3002openai\u3002com",  # ideographic full stops are dots in IDNA
    ],
)
def test_case_ports_trailing_dots_and_user_info_are_ignored(host: str) -> None:
    hit = load_services().match(host)
    assert hit is not None and hit.id == "openai"


def test_ip_addresses_match_nothing() -> None:
    cat = load_services()
    for host in ("104.18.7.192", "104.18.7.192:443", "[2606:4700::6812:7c0]:443", "2606:4700::1"):
        assert cat.match(host) is None


def test_wildcard_patterns_match_one_label_and_not_their_whole_cloud() -> None:
    cat = load_services()
    for host in (
        "bedrock-runtime.us-east-1.amazonaws.com",
        "bedrock-runtime.eu-central-1.amazonaws.com",
        "bedrock-agent-runtime.us-west-2.amazonaws.com",
    ):
        hit = cat.match(host)
        assert hit is not None and hit.id == "aws_bedrock", host
    hit = cat.match("runtime.sagemaker.us-east-1.amazonaws.com")
    assert hit is not None and hit.id == "aws_sagemaker"
    hit = cat.match("us-central1-aiplatform.googleapis.com")
    assert hit is not None and hit.id == "google_vertex"
    hit = cat.match("codewhisperer.us-east-1.amazonaws.com")
    assert hit is not None and hit.id == "amazon-q"
    for host in (
        "bedrock-runtime.amazonaws.com",  # the region label is missing
        "bedrock-runtime.us-east-1.a.amazonaws.com",  # two labels where the pattern has one
        "ec2.us-east-1.amazonaws.com",
        "xbedrock-runtime.us-east-1.amazonaws.com",
        "bedrock-runtime.us-east-1.amazonaws.com.evil.net",
    ):
        assert cat.match(host) is None, host


def test_normalise_host_handles_idna_brackets_and_ports() -> None:
    assert normalise_host("Bücher.Example.") == "xn--bcher-kva.example"
    assert normalise_host("[2001:DB8::1]:443") == "2001:db8::1"
    assert normalise_host("HOST.example:8080") == "host.example"
    assert normalise_host(":443") is None
    assert normalise_host("...") is None


def test_international_domain_matches_in_unicode_and_punycode() -> None:
    cat = ServiceCatalogue.from_data(
        {
            "version": 1,
            "services": [
                {
                    "id": "buecher-ai",
                    "name": "Bücher AI",
                    "vendor": "Bücher",
                    "category": "chat_assistant",
                    "domains": ["xn--bcher-kva.example"],
                }
            ],
        }
    )
    for host in ("bücher.example", "chat.BÜCHER.example:443", "xn--bcher-kva.example"):
        hit = cat.match(host)
        assert hit is not None and hit.id == "buecher-ai", host


def test_get_unknown_id_names_it_and_suggests_close_ids() -> None:
    cat = load_services()
    assert cat.get("claude").name == "Claude"
    with pytest.raises(NotFoundError, match=r"'cluade'.*claude"):
        cat.get("cluade")


def test_sanctioned_names_resolve_from_ids_and_domains() -> None:
    cat = load_services()
    got = cat.resolve_sanctioned(
        ["openai", "github-copilot", "chat.openai.com", "eu.api.anthropic.com", "DeepL.com"]
    )
    assert got == {"openai", "github-copilot", "chatgpt", "anthropic", "deepl"}
    assert cat.resolve_sanctioned([]) == frozenset()


def test_unknown_sanctioned_names_are_all_reported() -> None:
    with pytest.raises(ConfigError) as info:
        load_services().resolve_sanctioned(["openai", "opnai", "intranet.example.com"])
    message = str(info.value)
    assert "'opnai'" in message and "did you mean openai" in message
    assert "'intranet.example.com'" in message
    assert "sanctioned_services" in message


# --- validation -----------------------------------------------------------------------------


def _data() -> dict[str, Any]:
    return {
        "version": 1,
        "services": [
            {
                "id": "openai",
                "name": "OpenAI API",
                "vendor": "OpenAI",
                "category": "llm_api",
                "provider": "openai",
                "domains": ["openai.com"],
            },
            {
                "id": "chatgpt",
                "name": "ChatGPT",
                "vendor": "OpenAI",
                "category": "chat_assistant",
                "domains": ["chatgpt.com", "chat.openai.com"],
            },
        ],
    }


def _broken(change: Any) -> str:
    data = copy.deepcopy(_data())
    change(data)
    with pytest.raises(ConfigError) as info:
        ServiceCatalogue.from_data(data)
    return str(info.value)


def test_the_minimal_catalogue_is_valid() -> None:
    cat = ServiceCatalogue.from_data(_data())
    assert [e.id for e in cat.all()] == ["openai", "chatgpt"]


def test_validation_names_the_entry_at_fault() -> None:
    def dup_id(d: dict[str, Any]) -> None:
        d["services"].append({**d["services"][1], "domains": ["other.example"]})

    assert "'chatgpt' is defined twice" in _broken(dup_id)

    def dup_domain(d: dict[str, Any]) -> None:
        d["services"].append(
            {
                "id": "knockoff",
                "name": "K",
                "vendor": "K",
                "category": "chat_assistant",
                "domains": ["CHATGPT.com."],
            }
        )

    msg = _broken(dup_domain)
    assert "'knockoff'" in msg and "'chatgpt.com'" in msg and "'chatgpt'" in msg

    def bad_category(d: dict[str, Any]) -> None:
        d["services"][1]["category"] = "chatbot"

    msg = _broken(bad_category)
    assert "service #2 ('chatgpt')" in msg and "category" in msg

    def unknown_provider(d: dict[str, Any]) -> None:
        d["services"][0]["provider"] = "openia"
        d["services"][0]["id"] = "openia"

    assert "unknown provider 'openia'" in _broken(unknown_provider)

    def takes_provider_id(d: dict[str, Any]) -> None:
        d["services"][1]["id"] = "anthropic"

    assert "is a provider id" in _broken(takes_provider_id)

    def provider_under_other_id(d: dict[str, Any]) -> None:
        d["services"][0]["id"] = "openai-api"

    assert "use id 'openai'" in _broken(provider_under_other_id)

    def not_kebab(d: dict[str, Any]) -> None:
        d["services"][1]["id"] = "Chat_GPT"

    assert "not kebab-case" in _broken(not_kebab)

    def shared(d: dict[str, Any]) -> None:
        d["services"][1]["domains"] = ["googleapis.com"]

    assert "shared by many services" in _broken(shared)

    def tld_only(d: dict[str, Any]) -> None:
        d["services"][1]["domains"] = ["ai"]

    assert "top-level domain" in _broken(tld_only)

    def loose_pattern(d: dict[str, Any]) -> None:
        d["services"][1]["domains"] = ["chat.*.com"]

    assert "two literal labels" in _broken(loose_pattern)

    def extra_field(d: dict[str, Any]) -> None:
        d["services"][1]["url"] = "https://chatgpt.com"

    assert "url" in _broken(extra_field)

    def no_domains(d: dict[str, Any]) -> None:
        d["services"][1]["domains"] = []

    assert "domains" in _broken(no_domains)

    def version(d: dict[str, Any]) -> None:
        d["version"] = 2

    assert "version 2" in _broken(version)
