"""Bearer tokens of the MCP server's HTTP transport: each token names one principal.

Tokens come from the configuration file or from an environment variable, never from a
tool argument. The configuration stores only SHA-256 digests of the tokens::

    [mcp]
    tokens = { "<sha256 hex of the token>" = "assistant-a" }

The digest of a token is ``python -c "import hashlib, sys;
print(hashlib.sha256(sys.argv[1].encode()).hexdigest())" TOKEN`` (or :func:`token_digest`).
The environment variable ``AIPOSTURE_MCP_TOKENS`` holds ``principal1:token1,principal2:token2``.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Mapping
from pathlib import Path

from mcp.server.auth.provider import AccessToken

from aiposture.errors import ConfigError
from aiposture.settings import Settings

__all__ = ["ENV_VAR", "SCOPE", "StaticTokenVerifier", "load_tokens", "token_digest"]

#: Environment variable holding ``principal:token`` pairs separated by commas.
ENV_VAR = "AIPOSTURE_MCP_TOKENS"
#: The scope every token of this server carries.
SCOPE = "aiposture"
#: Shortest token accepted (characters); shorter ones are guessable.
MIN_TOKEN_CHARS = 16


def token_digest(token: str) -> str:
    """The SHA-256 hex digest of ``token``: what the configuration file stores."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class StaticTokenVerifier:
    """A token verifier over a fixed set of tokens (the ``mcp`` TokenVerifier protocol).

    The verifier keeps only the tokens' SHA-256 digests; a presented token is hashed
    and compared with every known digest in constant time, so neither the comparison
    nor the lookup reveals through timing how much of a token was right.

    Args:
        tokens: Token -> principal, or (with ``hashed=True``) SHA-256 hex digest of the
            token -> principal.
        hashed: Whether the keys of ``tokens`` are digests already.

    Raises:
        ConfigError: A principal is empty, a token is shorter than 16 characters, or a
            digest is not 64 hex characters.
    """

    def __init__(self, tokens: Mapping[str, str], *, hashed: bool = False) -> None:
        self._digests: list[tuple[bytes, str]] = []
        for key, principal in tokens.items():
            if not principal.strip():
                raise ConfigError("an MCP token maps to an empty principal")
            if hashed:
                digest = key.strip().lower()
                if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
                    raise ConfigError("an MCP token digest is not a SHA-256 hex digest")
            else:
                if len(key) < MIN_TOKEN_CHARS:
                    raise ConfigError(
                        f"the MCP token of {principal!r} is shorter than {MIN_TOKEN_CHARS} "
                        "characters"
                    )
                digest = token_digest(key)
            self._digests.append((bytes.fromhex(digest), principal.strip()))

    @property
    def principals(self) -> list[str]:
        """The principals the tokens authenticate, sorted, without duplicates."""
        return sorted({p for _, p in self._digests})

    def __len__(self) -> int:
        return len(self._digests)

    def principal_of(self, token: str) -> str | None:
        """The principal ``token`` authenticates, or None when it is unknown."""
        presented = hashlib.sha256(token.encode("utf-8")).digest()
        found: str | None = None
        for digest, principal in self._digests:
            # no early exit: every digest is compared whatever matched before
            if hmac.compare_digest(presented, digest):
                found = principal
        return found

    async def verify_token(self, token: str) -> AccessToken | None:
        """The access token of ``token`` (client id = principal), or None when unknown."""
        principal = self.principal_of(token)
        if principal is None:
            return None
        return AccessToken(token=token, client_id=principal, scopes=[SCOPE])


def _parse_env(raw: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for n, pair in enumerate(raw.split(","), start=1):
        pair = pair.strip()
        if not pair:
            continue
        principal, sep, token = pair.partition(":")
        principal, token = principal.strip(), token.strip()
        if not sep or not principal or not token:
            # the text may hold a token: name the position, never the text
            raise ConfigError(f"{ENV_VAR}: entry {n} is not principal:token")
        if len(token) < MIN_TOKEN_CHARS:
            raise ConfigError(
                f"{ENV_VAR}: the token of {principal!r} is shorter than {MIN_TOKEN_CHARS} "
                "characters"
            )
        out[token_digest(token)] = principal
    return out


def load_tokens(
    config_path: str | os.PathLike[str] | None = None, env: str = ENV_VAR
) -> dict[str, str]:
    """The token digests the HTTP transport accepts: SHA-256 hex digest -> principal.

    Reads ``[mcp] tokens`` from the aiposture configuration (``config_path``, or the file
    :meth:`aiposture.settings.Settings.load` would find) and the environment variable
    ``env`` (``principal:token,...``); the variable wins for a token present in both.
    Pass the result to ``StaticTokenVerifier(tokens, hashed=True)``.

    Args:
        config_path: The aiposture TOML file; None looks where ``Settings.load`` looks.
        env: The environment variable to read tokens from.

    Raises:
        ConfigError: The file or the variable is malformed (the message never holds a
            token).
    """
    settings = Settings.load(Path(config_path) if config_path is not None else None)
    tokens = dict(settings.mcp.tokens)
    raw = os.environ.get(env, "")
    if raw.strip():
        tokens.update(_parse_env(raw))
    return tokens
