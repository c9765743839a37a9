"""The HTTP transport's guards, tried with raw HTTP: bearer tokens, Host and Origin checks,
and the refusals to start without tokens or on a non-loopback address."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from aiposture.errors import ConfigError
from aiposture.mcp_server.auth import StaticTokenVerifier, load_tokens, token_digest
from aiposture.mcp_server.transport import check_http, is_loopback, security_settings
from conftest import DemoStore
from mcp_helpers import (
    PRINCIPAL_A,
    TOKEN_A,
    Setup,
    free_port,
    http_server,
    leakage_index,
    make_setup,
    run_server_to_exit,
    server_env,
)

INITIALIZE: dict[str, Any] = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "raw-http-test", "version": "1"},
    },
}
ANY_ADDRESS = "0.0.0.0"  # noqa: S104 (the server must refuse to listen there)
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory, demo_store: DemoStore) -> Setup:
    index = leakage_index(tmp_path_factory)
    return make_setup(
        tmp_path_factory.mktemp("mcp-security"), demo_store.db, demo_store.estate.sanctioned, index
    )


@pytest.fixture(scope="module")
def port(setup: Setup) -> Iterator[int]:
    port = free_port()
    with http_server(setup, port):
        yield port


def _post(port: int, **headers: str) -> httpx.Response:
    with httpx.Client(timeout=30) as client:
        return client.post(
            f"http://127.0.0.1:{port}/mcp",
            content=json.dumps(INITIALIZE),
            headers={**MCP_HEADERS, **headers},
        )


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --- tokens ------------------------------------------------------------------------------


def test_request_with_the_right_token_is_served(port: int) -> None:
    response = _post(port, **_bearer(TOKEN_A))
    assert response.status_code == 200, response.text
    assert "serverInfo" in response.text


def test_request_without_a_token_is_refused_with_401(port: int) -> None:
    response = _post(port)
    assert response.status_code == 401
    assert "Bearer" in response.headers.get("www-authenticate", "")
    assert "serverInfo" not in response.text


def test_request_with_a_wrong_token_is_refused_with_401(port: int) -> None:
    for token in ("tok-A-9f3b2c7d1e8a4b6X", TOKEN_A + "x", TOKEN_A[:-1], "null"):
        response = _post(port, **_bearer(token))
        assert response.status_code == 401, token


def test_token_digest_sent_as_a_token_is_refused(port: int) -> None:
    # the configuration holds digests: knowing one must not let anybody in
    response = _post(port, **_bearer(hashlib.sha256(TOKEN_A.encode()).hexdigest()))
    assert response.status_code == 401


def test_token_in_another_scheme_or_the_query_is_refused(port: int) -> None:
    assert _post(port, Authorization=f"Basic {TOKEN_A}").status_code == 401
    with httpx.Client(timeout=30) as client:
        response = client.post(
            f"http://127.0.0.1:{port}/mcp?access_token={TOKEN_A}",
            content=json.dumps(INITIALIZE),
            headers=MCP_HEADERS,
        )
    assert response.status_code == 401


# --- DNS rebinding: Host and Origin ---------------------------------------------------------


def test_foreign_origin_is_refused_even_with_a_valid_token(port: int) -> None:
    for origin in ("http://evil.example", f"http://evil.example:{port}", "null"):
        response = _post(port, Origin=origin, **_bearer(TOKEN_A))
        assert response.status_code in (400, 403), origin
        assert "serverInfo" not in response.text


def test_own_origin_is_accepted(port: int) -> None:
    response = _post(port, Origin=f"http://localhost:{port}", **_bearer(TOKEN_A))
    assert response.status_code == 200


def test_foreign_host_is_refused_even_with_a_valid_token(port: int) -> None:
    for host in (f"evil.example:{port}", "evil.example", f"127.0.0.1:{port + 1}"):
        response = _post(port, Host=host, **_bearer(TOKEN_A))
        assert response.status_code in (400, 403, 421), host
        assert "serverInfo" not in response.text


def test_foreign_host_is_refused_before_authentication(port: int) -> None:
    # a rebinding page learns nothing, not even that a token is wanted
    response = _post(port, Host="evil.example")
    assert response.status_code == 421
    assert "www-authenticate" not in response.headers


def test_oversized_request_body_is_refused(port: int) -> None:
    big = dict(INITIALIZE, params={**INITIALIZE["params"], "pad": "x" * (5 * 1024 * 1024)})
    with httpx.Client(timeout=60) as client:
        response = client.post(
            f"http://127.0.0.1:{port}/mcp",
            content=json.dumps(big),
            headers={**MCP_HEADERS, **_bearer(TOKEN_A)},
        )
    assert response.status_code == 413


# --- refusing to start -------------------------------------------------------------------------


def _no_tokens_config(folder: Path) -> Path:
    config = folder / "no-tokens.toml"
    config.write_text("# no [mcp] tokens here\n", encoding="utf-8")
    return config


def test_server_refuses_http_without_tokens(setup: Setup, tmp_path: Path) -> None:
    config = _no_tokens_config(tmp_path)
    result = run_server_to_exit(
        ["--http", "--port", str(free_port()), "--db", str(setup.db), "--config", str(config)]
    )
    assert result.returncode == 2
    assert "token" in result.stderr


def test_server_refuses_a_non_loopback_host_without_allow_remote(setup: Setup) -> None:
    result = run_server_to_exit(
        [
            *("--http", "--host", ANY_ADDRESS, "--port", str(free_port())),
            *("--db", str(setup.db), "--config", str(setup.config)),
        ]
    )
    assert result.returncode == 2
    assert "--allow-remote" in result.stderr and "loopback" in result.stderr


def test_tokens_from_the_environment_authenticate_their_principal(
    setup: Setup, tmp_path: Path
) -> None:
    token = "env-token-5c1d8e2f7a9b3c4d"
    config = _no_tokens_config(tmp_path)
    port = free_port()
    env = server_env(AIPOSTURE_MCP_TOKENS=f"assistant-env:{token}")
    # the later --config wins over the set-up's
    with http_server(setup, port, "--config", str(config), env=env):
        assert _post(port, **_bearer(token)).status_code == 200
        assert _post(port, **_bearer(TOKEN_A)).status_code == 401


# --- the verifier and the token configuration, in process ---------------------------------------


def test_verifier_maps_a_token_to_its_principal_and_nothing_else() -> None:
    verifier = StaticTokenVerifier({TOKEN_A: PRINCIPAL_A, "another-token-123456": "b"})
    access = anyio.run(verifier.verify_token, TOKEN_A)
    assert access is not None and access.client_id == PRINCIPAL_A and access.scopes
    assert anyio.run(verifier.verify_token, TOKEN_A.upper()) is None
    assert anyio.run(verifier.verify_token, "") is None
    assert verifier.principals == [PRINCIPAL_A, "b"]


def test_verifier_over_digests_accepts_the_token_not_the_digest() -> None:
    verifier = StaticTokenVerifier({token_digest(TOKEN_A): PRINCIPAL_A}, hashed=True)
    assert verifier.principal_of(TOKEN_A) == PRINCIPAL_A
    assert verifier.principal_of(token_digest(TOKEN_A)) is None


def test_verifier_refuses_short_tokens_and_empty_principals() -> None:
    with pytest.raises(ConfigError, match="shorter"):
        StaticTokenVerifier({"short": "a"})
    with pytest.raises(ConfigError, match="empty principal"):
        StaticTokenVerifier({TOKEN_A: " "})
    with pytest.raises(ConfigError, match="digest"):
        StaticTokenVerifier({"not-a-digest": "a"}, hashed=True)


def test_tokens_in_the_toml_are_sha256_digests(tmp_path: Path) -> None:
    config = tmp_path / "aiposture.toml"
    config.write_text(f'[mcp]\ntokens = {{ "{token_digest(TOKEN_A)}" = "{PRINCIPAL_A}" }}\n')
    assert load_tokens(config, env="AIPOSTURE_TEST_UNSET") == {token_digest(TOKEN_A): PRINCIPAL_A}


def test_a_raw_token_in_the_toml_is_refused_without_echoing_it(tmp_path: Path) -> None:
    config = tmp_path / "aiposture.toml"
    config.write_text(f'[mcp]\ntokens = {{ "{TOKEN_A}" = "{PRINCIPAL_A}" }}\n')
    with pytest.raises(ConfigError, match="digest") as err:
        load_tokens(config, env="AIPOSTURE_TEST_UNSET")
    assert TOKEN_A not in str(err.value)


def test_environment_tokens_are_read_as_digests(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "aiposture.toml"
    config.write_text("")
    monkeypatch.setenv("AIPOSTURE_TEST_TOKENS", f"{PRINCIPAL_A}:{TOKEN_A}, b:bbbbbbbbbbbbbbbbbbbb")
    tokens = load_tokens(config, env="AIPOSTURE_TEST_TOKENS")
    assert tokens == {token_digest(TOKEN_A): PRINCIPAL_A, token_digest("b" * 20): "b"}
    assert TOKEN_A not in json.dumps(tokens)


def test_malformed_environment_tokens_are_refused_without_echoing_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "aiposture.toml"
    config.write_text("")
    monkeypatch.setenv("AIPOSTURE_TEST_TOKENS", TOKEN_A)  # no principal
    with pytest.raises(ConfigError, match="entry 1") as err:
        load_tokens(config, env="AIPOSTURE_TEST_TOKENS")
    assert TOKEN_A not in str(err.value)


def test_http_set_up_checks() -> None:
    with pytest.raises(ConfigError, match="token"):
        check_http("127.0.0.1", allow_remote=False, tokens={})
    with pytest.raises(ConfigError, match="loopback"):
        check_http("192.168.1.20", allow_remote=False, tokens={"d": "p"})
    check_http("192.168.1.20", allow_remote=True, tokens={"d": "p"})
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback(ANY_ADDRESS) and not is_loopback("example.com")


def test_allowed_hosts_and_origins_are_this_port_only() -> None:
    settings = security_settings("127.0.0.1", 8765)
    assert "127.0.0.1:8765" in settings.allowed_hosts
    assert "localhost:8765" in settings.allowed_hosts
    assert "http://localhost:8765" in settings.allowed_origins
    assert not any("*" in h for h in settings.allowed_hosts + settings.allowed_origins)
    assert settings.enable_dns_rebinding_protection


def test_bad_serve_arguments_are_refused_with_a_clear_message(setup: Setup, tmp_path: Path) -> None:
    base = ["--db", str(setup.db), "--config", str(setup.config)]
    cases = {
        "no-equals-sign": ("--index", "support"),
        "missing-folder": ("--index", f"support={tmp_path / 'nowhere'}"),
        "unknown-toolset": ("--toolsets", "inventory,secrets"),
    }
    results = {name: run_server_to_exit([*base, *args]) for name, args in cases.items()}
    assert all(r.returncode == 2 for r in results.values()), results
    assert "expected NAME=FOLDER" in results["no-equals-sign"].stderr
    assert "no such folder" in results["missing-folder"].stderr
    assert "secrets" in results["unknown-toolset"].stderr
