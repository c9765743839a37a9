"""The egress-log scanner on logs in every format, through the real engine and store."""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from aiposture.discovery import observe
from aiposture.discovery.base import Target, TargetError, TargetKind
from aiposture.discovery.engine import Discovery
from aiposture.discovery.logformats import LogReader, canonical_format, detect_format
from aiposture.discovery.registry import ScannerRegistry
from aiposture.discovery.scanners.egress_logs import (
    RULE_SHADOW_AI,
    UPLOAD_THRESHOLD,
    EgressLogScanner,
)
from aiposture.errors import ConfigError
from aiposture.models import (
    Asset,
    AssetKind,
    EvidenceKind,
    Finding,
    Sanctioned,
    ScanRun,
    Severity,
    Usage,
)
from aiposture.settings import Settings
from aiposture.store import Store, open_store

T0 = 1_714_000_000  # 2024-04-24T23:06:40Z


def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(T0 + seconds, UTC)


def squid_line(
    offset: float,
    client: str,
    size: int,
    method: str,
    url: str,
    user: str = "-",
    code: str = "TCP_TUNNEL/200",
) -> str:
    return (
        f"{T0 + offset:.3f} {120:6d} {client} {code} {size} {method} {url} {user} "
        f"HIER_DIRECT/203.0.113.9 -\n"
    )


SQUID = "".join(
    [
        squid_line(0.1, "10.0.0.5", 5000, "CONNECT", "api.openai.com:443", "alice"),
        squid_line(60.2, "10.0.0.5", 7000, "CONNECT", "eu.api.openai.com:443", "alice"),
        squid_line(
            100, "10.0.0.9", 1500, "POST", "https://claude.ai/api/chat", "bob", "TCP_MISS/200"
        ),
        squid_line(200, "10.0.0.9", 2500, "CONNECT", "claude.ai:443", "bob"),
        '{"ts": 1714000250, "host": "claude.ai", "user": "bob"}\n',  # another format: skipped
        squid_line(300, "10.0.0.7", 900, "GET", "http://www.example.com/", code="TCP_MISS/200"),
        squid_line(400, "10.0.0.7", 800, "CONNECT", "104.18.7.192:443", "carol"),
        "\n",
        squid_line(500, "10.0.0.7", 3000, "CONNECT", "CHAT.OpenAI.com.:443", "carol"),
        squid_line(600, "10.0.0.8", 100, "CONNECT", "notopenai.com:443", "dave"),
        squid_line(700, "10.0.0.8", 100, "CONNECT", "openai.com.evil.net:443", "dave"),
        "garbage that is no log line at all\n",
        f"{T0 + 800} 10 10.0.0.8\n",  # truncated
    ]
)


def usage_of(asset: Asset) -> dict[str, tuple[int, int, int, datetime | None, datetime | None]]:
    """``user@client`` -> (requests, bytes out, bytes in, first seen, last seen)."""
    out = {}
    for ev in asset.evidence:
        assert ev.kind is EvidenceKind.LOG_LINE
        assert ev.usage is not None
        u: Usage = ev.usage
        out[ev.key or ""] = (u.requests, u.bytes_out, u.bytes_in, u.first_seen, u.last_seen)
    return out


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Store]:
    store = open_store(f"sqlite:///{tmp_path / 'posture.db'}")
    try:
        yield store
    finally:
        store.close()


def discover(store: Store, logs: list[Path], settings: Settings | None = None) -> ScanRun:
    reg = ScannerRegistry()
    reg.register(EgressLogScanner)
    return Discovery(store, registry=reg, settings=settings).run([], logs=logs, progress=False)


def services(store: Store) -> dict[str, Asset]:
    return {
        a.attributes["service_id"]: a
        for a in store.assets(kind=AssetKind.AI_SERVICE)
        if not a.stale
    }


def sanctioning(*names: str) -> Settings:
    return Settings.from_mapping({"discovery": {"sanctioned_services": list(names)}})


def scan_direct(
    path: Path, settings: Settings | None = None, fmt: str | None = None
) -> tuple[EgressLogScanner, list[Asset], list[Finding]]:
    scanner = EgressLogScanner(settings)
    extra = {"log_format": fmt} if fmt else {}
    out = list(scanner.scan(Target(kind=TargetKind.LOG, source=str(path), path=path, extra=extra)))
    return (
        scanner,
        [o for o in out if isinstance(o, Asset)],
        [o for o in out if isinstance(o, Finding)],
    )


# --- Squid, through the engine and the store --------------------------------------------------


def test_squid_log_aggregates_per_service_user_and_client(tmp_path: Path, db: Store) -> None:
    log = write(tmp_path / "access.log", SQUID)
    run = discover(db, [log], sanctioning("openai"))
    assert run.errors == []
    found = services(db)
    assert set(found) == {"openai", "claude", "chatgpt"}  # no look-alike, IP or example.com

    openai = found["openai"]
    assert usage_of(openai) == {"alice@10.0.0.5": (2, 0, 12000, at(0.1), at(60.2))}
    assert openai.evidence[0].line == 1
    assert openai.evidence[0].path == str(log)
    assert openai.sanctioned is Sanctioned.SANCTIONED
    assert "api.openai.com" in (openai.evidence[0].detail or "")
    assert "eu.api.openai.com" in (openai.evidence[0].detail or "")

    claude = found["claude"]
    assert usage_of(claude) == {"bob@10.0.0.9": (2, 0, 4000, at(100), at(200))}
    assert claude.evidence[0].line == 3
    assert claude.sanctioned is Sanctioned.UNSANCTIONED

    chatgpt = found["chatgpt"]
    assert usage_of(chatgpt) == {"carol@10.0.0.7": (1, 0, 3000, at(500), at(500))}
    assert chatgpt.evidence[0].line == 9  # the blank line 8 still counts

    findings = {f.asset_id: f for f in db.findings()}
    assert set(findings) == {claude.id, chatgpt.id}
    f = findings[claude.id]
    assert f.rule_id == RULE_SHADOW_AI
    assert f.title == "Shadow AI: Claude used without approval"
    assert f.severity is Severity.MEDIUM
    assert {"owasp-llm:LLM02", "nist-ai-rmf:GOVERN-1.6"} <= set(f.tags)
    assert [e.key for e in f.evidence] == ["bob@10.0.0.9"]


def test_service_from_traffic_is_the_same_asset_as_from_code(tmp_path: Path, db: Store) -> None:
    discover(db, [write(tmp_path / "access.log", SQUID)])
    assert services(db)["openai"].id == observe.service("openai").id


def test_malformed_lines_are_skipped_and_counted_by_reason(tmp_path: Path) -> None:
    log = write(tmp_path / "access.log", SQUID)
    scanner, assets, _ = scan_direct(log)
    assert len(assets) == 3
    stats = scanner.summaries[str(log)]
    assert stats.format == "squid"
    assert stats.lines == 13
    assert stats.empty == 1
    assert dict(stats.skipped) == {"not a Squid access.log line": 3}
    assert stats.records == 9
    assert stats.selected == 5
    assert stats.without_host == 1  # CONNECT to a bare IP address


def test_without_sanctioned_services_everything_seen_is_shadow_ai(
    tmp_path: Path, db: Store
) -> None:
    discover(db, [write(tmp_path / "access.log", SQUID)])
    assert {a.sanctioned for a in services(db).values()} == {Sanctioned.UNSANCTIONED}
    assert len(db.findings()) == 3


def test_sanctioned_by_domain_and_by_id(tmp_path: Path, db: Store) -> None:
    log = write(tmp_path / "access.log", SQUID)
    discover(db, [log], sanctioning("chat.openai.com", "claude", "api.openai.com"))
    assert {a.sanctioned for a in services(db).values()} == {Sanctioned.SANCTIONED}
    assert db.findings() == []


def test_unknown_sanctioned_service_is_a_configuration_error(tmp_path: Path, db: Store) -> None:
    log = write(tmp_path / "access.log", SQUID)
    with pytest.raises(ConfigError, match="'chat-gpt'"):
        discover(db, [log], sanctioning("chat-gpt"))


def test_rescanning_an_unchanged_log_does_not_double_counts(tmp_path: Path, db: Store) -> None:
    log = write(tmp_path / "access.log", SQUID)
    discover(db, [log])
    first = {k: usage_of(a) for k, a in services(db).items()}
    second_run = discover(db, [log])
    assert second_run.counts.findings_new == 0
    assert second_run.counts.assets_new == 0
    assert {k: usage_of(a) for k, a in services(db).items()} == first
    assert len(db.findings()) == 3

    # the log grows: the counts follow the file, not the sum of the two scans
    with open(log, "a", encoding="utf-8") as fh:
        fh.write(squid_line(900, "10.0.0.5", 1000, "CONNECT", "api.openai.com:443", "alice"))
    discover(db, [log])
    assert usage_of(services(db)["openai"]) == {"alice@10.0.0.5": (3, 0, 13000, at(0.1), at(900))}


def test_a_log_without_ai_traffic_yields_nothing(tmp_path: Path, db: Store) -> None:
    plain = "".join(
        squid_line(i, "10.9.0.1", 100 + i, "CONNECT", f"www.site{i}.example:443", "zoe")
        for i in range(50)
    )
    log = write(tmp_path / "quiet.log", plain)
    run = discover(db, [log])
    assert run.errors == []
    assert db.assets() == []
    assert db.findings() == []
    assert list(EgressLogScanner().scan(Target(kind=TargetKind.LOG, source="x", path=log))) == []


def test_secrets_in_urls_never_reach_the_store(tmp_path: Path, db: Store) -> None:
    secret = "sk-proj-Zq8XgT2vLm4Hn6Rb1Wc9Yd3Fe5Kj7Pa0"
    text = squid_line(
        1,
        "10.0.0.5",
        900,
        "GET",
        f"http://api.openai.com/v1/models?api_key={secret}",
        "alice",
        "TCP_MISS/200",
    )
    log = write(tmp_path / "access.log", text)
    discover(db, [log])
    assert "openai" in services(db)
    db.close()
    assert secret.encode() not in (tmp_path / "posture.db").read_bytes()


# --- other formats ----------------------------------------------------------------------------

CSV = """\
timestamp,src_ip,user,dest_ip,sni,url,bytes_out,bytes_in
2024-04-25T08:00:00Z,10.1.0.1,"Doe, Jane",104.18.1.1,claude.ai,,1200,3400
2024-04-25T08:05:00Z,10.1.0.1,"Doe, Jane",104.18.1.1,,https://claude.ai/chat,800,600
2024-04-25T08:10:00Z,10.1.0.2,erin,160.79.104.10,,,10,10
2024-04-25T08:15:00Z,10.1.0.2,erin,api.anthropic.com,,,500,700
2024-04-25T08:20:00Z,10.1.0.2,erin,1.1.1.1,api.openai.com,https://1.1.1.1/v1,1,2
bad,row,with,too,few
timestamp,src_ip,user,dest_ip,sni,url,bytes_out,bytes_in
2024-04-25T08:25:00Z,10.1.0.3,frank,"unterminated,,,,
"""


def test_csv_prefers_sni_and_url_hosts_over_ip_destinations(tmp_path: Path) -> None:
    log = write(tmp_path / "egress.csv", CSV)
    scanner, assets, findings = scan_direct(log)
    by_id = {a.attributes["service_id"]: a for a in assets}
    assert set(by_id) == {"claude", "anthropic", "openai"}
    day = datetime(2024, 4, 25, tzinfo=UTC)
    assert usage_of(by_id["claude"]) == {
        "Doe, Jane@10.1.0.1": (
            2,
            2000,
            4000,
            day.replace(hour=8),
            day.replace(hour=8, minute=5),
        )
    }
    assert usage_of(by_id["anthropic"])["erin@10.1.0.2"][:3] == (1, 500, 700)
    assert usage_of(by_id["openai"])["erin@10.1.0.2"][:3] == (1, 1, 2)
    assert len(findings) == 3
    stats = scanner.summaries[str(log)]
    assert stats.format == "csv"
    assert stats.without_host == 1  # only an IP address
    assert stats.meta == 2  # the header and its repetition
    assert stats.skipped_total == 2
    assert stats.skipped["wrong number of columns"] == 1


JSONL = "\n".join(
    [
        json.dumps(
            {
                "@timestamp": "2024-04-25T09:00:00Z",
                "source": {"ip": "10.2.0.1"},
                "user": {"name": "gina"},
                "url": {"domain": "api.anthropic.com"},
                "http": {"request": {"bytes": 6_000_000}, "response": {"bytes": 1000}},
            }
        ),
        json.dumps(
            {
                "@timestamp": "2024-04-25T09:30:00+00:00",
                "source": {"ip": "10.2.0.1"},
                "user": {"name": "gina"},
                "url": {"full": "https://api.anthropic.com/v1/messages"},
                "http": {"request": {"bytes": 5_000_000}, "response": {"bytes": 1000}},
            }
        ),
        json.dumps(
            {
                "@timestamp": 1714038000000,  # milliseconds
                "source": {"ip": "10.2.0.2"},
                "user": {"name": "hank"},
                "destination": {"ip": "1.2.3.4"},
                "tls": {"client": {"server_name": "www.perplexity.ai"}},
            }
        ),
        json.dumps({"ts": 1714035600, "user": "ivan", "client": "10.2.0.3", "host": "example.org"}),
        "not json at all",
        '{"broken": ',
        "[1, 2, 3]",
        "",
    ]
)


def test_jsonl_with_nested_keys_and_a_heavy_upload_is_high(tmp_path: Path) -> None:
    log = write(tmp_path / "proxy.jsonl", JSONL)
    scanner, assets, findings = scan_direct(log, sanctioning("perplexity-ai"))
    by_id = {a.attributes["service_id"]: a for a in assets}
    assert set(by_id) == {"anthropic", "perplexity-ai"}
    gina = usage_of(by_id["anthropic"])["gina@10.2.0.1"]
    assert gina[:3] == (2, 11_000_000, 2000)
    assert gina[3] == datetime(2024, 4, 25, 9, 0, tzinfo=UTC)
    assert gina[4] == datetime(2024, 4, 25, 9, 30, tzinfo=UTC)
    hank = usage_of(by_id["perplexity-ai"])["hank@10.2.0.2"]
    assert hank[3] == datetime.fromtimestamp(1714038000, UTC)
    assert by_id["perplexity-ai"].sanctioned is Sanctioned.SANCTIONED
    assert len(findings) == 1
    assert findings[0].severity is Severity.HIGH
    assert UPLOAD_THRESHOLD < 11_000_000
    assert "uploaded" in (findings[0].description or "")
    stats = scanner.summaries[str(log)]
    assert dict(stats.skipped) == {"not a JSON object": 2, "invalid JSON": 1}
    assert stats.records == 4


ZEEK_DNS = """\
#separator \\x09
#set_separator\t,
#empty_field\t(empty)
#unset_field\t-
#path\tdns
#open\t2024-04-25-10-00-00
#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\ttrans_id\trtt\tquery\tqclass\tqclass_name\tqtype\tqtype_name\trcode\trcode_name\tAA\tTC\tRD\tRA\tZ\tanswers\tTTLs\trejected
#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tcount\tinterval\tstring\tcount\tstring\tcount\tstring\tcount\tstring\tbool\tbool\tbool\tbool\tcount\tvector[string]\tvector[interval]\tbool
1714039200.000000\tCAbc1\t10.3.0.1\t53001\t10.3.0.53\t53\tudp\t1234\t0.010\tapi.openai.com\t1\tC_INTERNET\t1\tA\t0\tNOERROR\tF\tF\tT\tT\t0\t162.159.140.245\t60.000000\tF
1714039260.000000\tCAbc2\t10.3.0.1\t53002\t10.3.0.53\t53\tudp\t1235\t0.010\tapi.openai.com\t1\tC_INTERNET\t28\tAAAA\t0\tNOERROR\tF\tF\tT\tT\t0\t-\t-\tF
1714039300.000000\tCAbc3\t10.3.0.2\t53003\t10.3.0.53\t53\tudp\t1236\t-\tgemini.google.com\t1\tC_INTERNET\t1\tA\t0\tNOERROR\tF\tF\tT\tT\t0\t142.250.1.1\t300.000000\tF
1714039400.000000\tCAbc4\t10.3.0.2\t53004\t10.3.0.53\t53\tudp\t1237\t0.020\twww.wikipedia.org\t1\tC_INTERNET\t1\tA\t0\tNOERROR\tF\tF\tT\tT\t0\t185.15.59.224\t600.000000\tF
1714039500.000000\tCAbc5\tshort line
#close\t2024-04-25-11-00-00
"""


def test_zeek_dns_log_counts_queries_per_client(tmp_path: Path) -> None:
    log = write(tmp_path / "dns.log", ZEEK_DNS)
    scanner, assets, _ = scan_direct(log)
    by_id = {a.attributes["service_id"]: a for a in assets}
    assert set(by_id) == {"openai", "gemini"}
    assert usage_of(by_id["openai"]) == {"-@10.3.0.1": (2, 0, 0, at(39200), at(39260))}
    assert usage_of(by_id["gemini"])["-@10.3.0.2"][0] == 1
    assert by_id["openai"].evidence[0].line == 9
    stats = scanner.summaries[str(log)]
    assert stats.format == "zeek"
    assert stats.meta == 9
    assert dict(stats.skipped) == {"wrong number of fields": 1}


ZEEK_SSL_JSON = "\n".join(
    json.dumps(x)
    for x in [
        {
            "ts": 1714042800.5,
            "uid": "C1",
            "id.orig_h": "10.4.0.1",
            "id.orig_p": 50000,
            "id.resp_h": "104.18.32.47",
            "id.resp_p": 443,
            "version": "TLSv13",
            "server_name": "chatgpt.com",
            "established": True,
        },
        {
            "ts": 1714042900.5,
            "uid": "C2",
            "id.orig_h": "10.4.0.1",
            "id.orig_p": 50001,
            "id.resp_h": "140.82.112.21",
            "id.resp_p": 443,
            "server_name": "api.individual.githubcopilot.com",
            "established": True,
        },
        {
            "ts": 1714043000.5,
            "uid": "C3",
            "id.orig_h": "10.4.0.2",
            "id.orig_p": 50002,
            "id.resp_h": "93.184.216.34",
            "id.resp_p": 443,
            "established": True,
        },
    ]
)


def test_zeek_json_ssl_log_uses_the_server_name(tmp_path: Path) -> None:
    log = write(tmp_path / "ssl.log", ZEEK_SSL_JSON)
    scanner, assets, findings = scan_direct(log, sanctioning("github-copilot"))
    by_id = {a.attributes["service_id"]: a for a in assets}
    assert set(by_id) == {"chatgpt", "github-copilot"}
    assert usage_of(by_id["chatgpt"]) == {"-@10.4.0.1": (1, 0, 0, at(42800.5), at(42800.5))}
    assert [f.asset_id for f in findings] == [by_id["chatgpt"].id]
    stats = scanner.summaries[str(log)]
    assert stats.format == "zeek_json"
    assert stats.without_host == 1


W3C_FIELDS = (
    "date time time-taken c-ip cs-username s-action sc-status cs-method cs-uri-scheme "
    "cs-host cs-uri-port cs-uri-path sc-bytes cs-bytes cs(User-Agent)"
)
W3C = "\n".join(
    [
        "#Software: SGOS 6.7.5.1",
        "#Version: 1.0",
        "#Date: 2024-04-25 12:00:00",
        f"#Fields: {W3C_FIELDS}",
        "2024-04-25 12:00:01 35 10.5.0.1 jdoe TCP_TUNNELED 200 CONNECT tcp api.mistral.ai 443 / "
        '4500 1200 "Mozilla/5.0 (X11; Linux x86_64)"',
        "2024-04-25 12:00:05 35 10.5.0.1 jdoe TCP_TUNNELED 200 CONNECT tcp chat.mistral.ai 443 / "
        "4000 300 -",
        "2024-04-25 12:00:09 35 10.5.0.1 jdoe TCP_HIT 200 GET http intranet.corp 80 /x 100 10 -",
        "2024-04-25 12:00:10 35 10.5.0.1",
        "",
    ]
)


def test_w3c_extended_log_joins_date_and_time(tmp_path: Path) -> None:
    log = write(tmp_path / "bluecoat.log", W3C)
    scanner, assets, _ = scan_direct(log)
    by_id = {a.attributes["service_id"]: a for a in assets}
    assert set(by_id) == {"mistral", "le-chat"}
    noon = datetime(2024, 4, 25, 12, 0, 1, tzinfo=UTC)
    assert usage_of(by_id["mistral"]) == {"jdoe@10.5.0.1": (1, 1200, 4500, noon, noon)}
    assert usage_of(by_id["le-chat"])["jdoe@10.5.0.1"][:3] == (1, 300, 4000)
    stats = scanner.summaries[str(log)]
    assert stats.format == "w3c"
    assert dict(stats.skipped) == {"wrong number of fields": 1}


@pytest.mark.parametrize(
    ("name", "compress"),
    [
        ("access.log.1.gz", gzip.compress),
        ("access.log.2.bz2", bz2.compress),
        ("rotated", lzma.compress),
    ],
)
def test_compressed_log_reads_like_the_plain_one(
    tmp_path: Path, name: str, compress: Callable[[bytes], bytes]
) -> None:
    plain = write(tmp_path / "access.log", SQUID)
    packed = tmp_path / name
    packed.write_bytes(compress(SQUID.encode()))
    _, a_plain, f_plain = scan_direct(plain)
    _, a_packed, f_packed = scan_direct(packed)
    assert [(a.id, usage_of(a)) for a in a_plain] == [(a.id, usage_of(a)) for a in a_packed]
    assert [f.id for f in f_plain] == [f.id for f in f_packed]
    assert {e.path for a in a_packed for e in a.evidence} == {str(packed)}


def test_utf16_log_with_byte_order_mark_is_read(tmp_path: Path) -> None:
    log = tmp_path / "export.csv"
    log.write_bytes(CSV.encode("utf-16"))
    _, assets, _ = scan_direct(log)
    assert {a.attributes["service_id"] for a in assets} == {"claude", "anthropic", "openai"}


def test_named_format_overrides_detection_and_unknown_name_is_an_error(tmp_path: Path) -> None:
    log = write(tmp_path / "access.log", SQUID)
    scanner, assets, _ = scan_direct(log, fmt="squid")
    assert len(assets) == 3
    assert scanner.summaries[str(log)].detected is False
    scanner, assets, _ = scan_direct(log, fmt="jsonl")  # read as JSON: only line 5 parses
    assert [(a.attributes["service_id"], list(usage_of(a))) for a in assets] == [
        ("claude", ["bob@-"])
    ]
    assert assets[0].evidence[0].line == 5
    assert scanner.summaries[str(log)].skipped == {"not a JSON object": 11}
    with pytest.raises(TargetError, match="unknown log format 'syslog'"):
        scan_direct(log, fmt="syslog")


# --- mixed, damaged and hostile input --------------------------------------------------------


def test_mixed_formats_follow_the_majority_and_skip_the_rest(tmp_path: Path) -> None:
    lines = [
        "garbage first line",
        squid_line(1, "10.6.0.1", 100, "CONNECT", "api.groq.com:443", "kim").rstrip("\n"),
        json.dumps({"host": "api.groq.com", "user": "kim"}),
        squid_line(2, "10.6.0.1", 200, "CONNECT", "api.groq.com:443", "kim").rstrip("\n"),
        "2024-04-25T08:00:00Z,10.1.0.1,kim,api.groq.com",
        squid_line(3, "10.6.0.1", 300, "CONNECT", "api.groq.com:443", "kim").rstrip("\n"),
    ]
    assert detect_format(lines) == "squid"
    log = write(tmp_path / "mixed.log", "\n".join(lines) + "\n")
    scanner, assets, _ = scan_direct(log)
    assert usage_of(assets[0]) == {"kim@10.6.0.1": (3, 0, 600, at(1), at(3))}
    assert scanner.summaries[str(log)].skipped == {"not a Squid access.log line": 3}


def test_over_long_line_is_skipped_and_later_line_numbers_stay_true(tmp_path: Path) -> None:
    log = tmp_path / "long.log"
    with open(log, "w", encoding="utf-8") as fh:
        fh.write(squid_line(1, "10.7.0.1", 10, "CONNECT", "www.example.com:443", "lee"))
        fh.write("x" * (3 * 1024 * 1024) + "\n")  # 3 MiB on one line, across blocks
        fh.write(squid_line(2, "10.7.0.1", 10, "CONNECT", "api.cohere.com:443", "lee"))
        fh.write("y" * (2 * 1024 * 1024))  # unfinished at the end of the file
    scanner, assets, _ = scan_direct(log)
    assert [a.attributes["service_id"] for a in assets] == ["cohere"]
    assert assets[0].evidence[0].line == 3
    stats = scanner.summaries[str(log)]
    assert stats.skipped == {"line longer than 1 MiB": 2}
    assert stats.empty == 0
    assert stats.lines == 3


def test_records_keep_line_numbers_across_read_blocks(tmp_path: Path) -> None:
    filler = squid_line(5, "10.8.0.1", 10, "CONNECT", "www.example.com:443", "max")
    count = (3 * 1024 * 1024) // len(filler)  # several 1 MiB blocks
    log = tmp_path / "big.log"
    with open(log, "w", encoding="utf-8") as fh:
        fh.write(filler * count)
        fh.write(squid_line(6, "10.8.0.1", 10, "CONNECT", "api.deepseek.com:443", "max"))
    reader = LogReader(log)
    hits = [r for r in reader.records() if r.host.startswith("api.deepseek")]
    assert [r.line for r in hits] == [count + 1]
    assert reader.stats.lines == count + 1


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("binary.log", b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 8, "binary content"),
        ("prose.log", b"Dear team,\nplease find the minutes attached.\n", "unrecognised"),
        ("headless.csv", b"when,who,what\n1,2,3\n", "unrecognised"),
        ("zeros.log", b"\x00" * 3_000_000, "binary content"),
    ],
)
def test_unreadable_logs_are_recorded_errors_and_the_scan_finishes(
    tmp_path: Path, db: Store, name: str, content: bytes, reason: str
) -> None:
    bad = tmp_path / name
    bad.write_bytes(content)
    good = write(tmp_path / "access.log", SQUID)
    run = discover(db, [bad, good])
    assert [(e.path, e.scanner) for e in run.errors] == [(str(bad), "egress_logs")]
    assert reason in run.errors[0].reason
    assert set(services(db)) == {"openai", "claude", "chatgpt"}


def test_truncated_gzip_is_a_recorded_error(tmp_path: Path, db: Store) -> None:
    many = "".join(
        squid_line(i, "10.9.0.1", i, "CONNECT", f"host{i}.example:443", "ned") for i in range(3000)
    )
    packed = gzip.compress(many.encode())
    log = tmp_path / "cut.log.gz"
    log.write_bytes(packed[: len(packed) // 2])
    run = discover(db, [log])
    assert len(run.errors) == 1
    assert "truncated" in run.errors[0].reason or "corrupt" in run.errors[0].reason
    assert run.status.value == "completed"


def test_empty_log_yields_nothing_and_no_error(tmp_path: Path, db: Store) -> None:
    log = write(tmp_path / "empty.log", "\n\n")
    run = discover(db, [log])
    assert run.errors == []
    assert db.assets() == []


def test_detection_and_format_names() -> None:
    assert detect_format([]) is None
    assert detect_format(["", "  "]) is None
    assert detect_format(["#separator \\x09", "#fields\tts\tquery"]) == "zeek"
    assert detect_format(["#Version: 1.0", "#Fields: date time cs-host"]) == "w3c"
    assert detect_format(["time;user;Destination Host", "1;a;b"]) == "csv"
    assert detect_format(['{"query": "claude.ai"}', "junk"]) == "jsonl"
    assert detect_format(['{"uid": "C1", "id.orig_h": "10.0.0.1"}']) == "zeek_json"
    assert detect_format(["user,count", "alice,3"]) is None  # no destination column
    assert canonical_format("Zeek_JSON") == "jsonl"
    assert canonical_format("bro") == "zeek"
    with pytest.raises(ConfigError, match="known: csv, jsonl, squid, zeek, w3c"):
        canonical_format("cef")


def test_records_name_only_destinations_that_are_host_names(tmp_path: Path) -> None:
    log = write(tmp_path / "access.log", SQUID)
    reader = LogReader(log)
    hosts = [r.host for r in reader.records()]
    assert "104.18.7.192:443" not in hosts
    assert hosts[:2] == ["api.openai.com:443", "eu.api.openai.com:443"]
    assert "www.example.com" in hosts
    assert reader.stats.selected == len(hosts) == 8


def test_huge_sparse_file_fails_fast_without_reading_it(tmp_path: Path, db: Store) -> None:
    sparse = tmp_path / "sparse.log"
    with open(sparse, "wb") as fh:
        fh.truncate(2 * 1024**3)  # 2 GiB of holes: NUL bytes when read
    run = discover(db, [sparse])
    assert len(run.errors) == 1
    assert "binary content" in run.errors[0].reason


def test_skipped_lines_are_a_scan_warning_with_counts_and_a_named_format_reaches_the_scanner(
    tmp_path: Path, db: Store
) -> None:
    log = write(tmp_path / "access.log", SQUID)
    reg = ScannerRegistry()
    reg.register(EgressLogScanner)
    run = Discovery(db, registry=reg).run([], logs=[log], progress=False)
    assert run.errors == []
    [warning] = run.warnings
    assert warning.path == str(log) and warning.scanner == "egress_logs"
    assert warning.reason == "3 of 13 lines skipped as squid: not a Squid access.log line: 3"
    assert db.scans()[0].warnings == run.warnings  # stored with the run

    run = Discovery(db, registry=reg).run([], logs=[log], progress=False, log_format="jsonl")
    [warning] = run.warnings
    assert warning.reason.startswith("11 of 13 lines skipped as jsonl")
