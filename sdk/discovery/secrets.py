"""Find hard-coded secrets in text, line by line, keeping only fingerprints.

:func:`find_secrets` is what every scanner calls on a file's (or a notebook
cell's) text. It combines three kinds of detection:

* **Known key formats** — detect-secrets' regular-expression plugins (AWS,
  Azure storage, GitHub, GitLab, Slack, Stripe, Twilio, JWT, private keys,
  basic-auth URLs, SendGrid, Mailchimp, Discord, npm, PyPI, IBM, SoftLayer,
  Square, Telegram, OpenAI, ...) plus our own patterns for AI providers
  detect-secrets does not know (Anthropic, Hugging Face, Google API keys,
  Groq, Perplexity, OpenRouter, xAI, Replicate, LangSmith).
* **Keywords** — a value assigned to a secret-sounding name
  (``api_key = "..."``, ``"password": "..."``, ``HF_TOKEN: ...``), found with
  detect-secrets' ``KeywordDetector`` and our own assignment matcher, then
  filtered hard: the value must look random enough, must not be a reference
  (a path, a URL, a dotted name, an environment variable name, a call), and
  the name must not describe something else (``secret_name``,
  ``token_url``, ``hashed_secret``). In ``.env`` files every assignment counts
  as a keyword, with the strictest randomness bar.
* **Placeholders** are dropped everywhere: ``your-api-key-here``, ``<...>``,
  ``${...}``, ``xxxx``/``****`` runs, ``...``, ``changeme``, ``dummy``,
  ``example``, ``test``, ``fake``, ``placeholder``, runs of one character,
  sequential strings, UUIDs (detect-secrets' heuristic filters), and lines
  marked ``pragma: allowlist secret``.

The secret itself never leaves this module: a :class:`SecretHit` holds its
fingerprint (:func:`aiposture.discovery.observe.secret_fingerprint`) and the
line with every secret on it masked.

Speed: a first pass of cheap literal-led "gate" expressions over the whole
(lower-cased) text finds the few lines that can hold a secret, and which
kinds; only those lines meet those plugins. Plugin instances are built once
per process. Lines longer than :data:`_LONG_LINE` characters only meet the
key-format patterns. About 15-20 MB/s on source trees on one core.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from itertools import pairwise
from pathlib import PurePath
from typing import Any, NamedTuple

from aiposture.discovery.observe import secret_fingerprint

__all__ = ["SecretHit", "find_secrets", "supported_secret_types"]


@dataclass(frozen=True)
class SecretHit:
    """One secret found in a text; never holds the secret itself.

    Attributes:
        secret_type: Kind of secret, as detect-secrets names it
            (``"OpenAI Token"``, ``"AWS Access Key"``, ``"Secret Keyword"``)
            or as this module names the formats it adds
            (``"Anthropic API Key"``, ``"Hugging Face Token"``, ...).
        fingerprint: One-way fingerprint of the secret.
        line: 1-based line of the text the secret is on.
        redacted: That line, stripped, every secret on it masked (first
            characters and ``****``), at most 200 characters.
        provider_id: Catalogue provider the key belongs to, when known.
    """

    secret_type: str
    fingerprint: str
    line: int
    redacted: str
    provider_id: str | None


# --------------------------------------------------------------------------
# Known formats

#: detect-secrets' regular-expression plugins we use (by their secret_type).
#: Left out: the high-entropy string plugins (far too noisy on their own in
#: code full of hashes and base64 blobs), public IP addresses (not a secret)
#: and the keyword plugin (run separately, with filters).
_DS_REGEX_TYPES: tuple[str, ...] = (
    "AWS Access Key",
    "Artifactory Credentials",
    "Azure Storage Account access key",
    "Basic Auth Credentials",
    "Cloudant Credentials",
    "Discord Bot Token",
    "GitHub Token",
    "GitLab Token",
    "IBM COS HMAC Credentials",
    "IBM Cloud IAM Key",
    "JSON Web Token",
    "Mailchimp Access Key",
    "NPM tokens",
    "OpenAI Token",
    "Private Key",
    "PyPI Token",
    "SendGrid API Key",
    "Slack Token",
    "SoftLayer Credentials",
    "Square OAuth Secret",
    "Stripe Access Key",
    "Telegram Bot Token",
    "Twilio API Key",
)

_B = r"(?<![A-Za-z0-9_-])"  # token start: not inside a longer token
_E = r"(?![A-Za-z0-9_-])"  # token end

#: Our own formats: (secret_type, provider_id, pattern). Formats come from the
#: gitleaks rule set (github.com/gitleaks/gitleaks, cmd/generate/config/rules/
#: <file>.go), checked against the providers' documentation where cited.
_OWN_FORMATS: tuple[tuple[str, str | None, str], ...] = (
    # anthropic.go: sk-ant-api03-<93>AA, sk-ant-admin01-<93>AA, sk-ant-oat01-/ort01-<40+>;
    # one pattern for the family, with a 40-character floor on the body.
    ("Anthropic API Key", "anthropic", _B + r"sk-ant-[a-z]{3,5}\d{2}-[A-Za-z0-9_-]{40,}"),
    # openai.go: project, service-account and admin keys; detect-secrets' own
    # OpenAI plugin misses those with "_" or "-" next to the T3BlbkFJ marker.
    (
        "OpenAI Token",
        "openai",
        _B + r"sk-(?:proj|svcacct|admin)-[A-Za-z0-9_-]{20,}T3BlbkFJ[A-Za-z0-9_-]{20,}",
    ),
    # huggingface.go (https://huggingface.co/docs/hub/security-tokens): hf_ + 34 letters,
    # and the retired organisation tokens api_org_ + 34 letters.
    ("Hugging Face Token", "huggingface", _B + r"hf_[A-Za-z]{34}" + _E),
    ("Hugging Face Token", "huggingface", _B + r"api_org_[A-Za-z]{34}" + _E),
    # gcp.go: Google API keys, which Gemini API keys are.
    ("Google API Key", "google", _B + r"AIza[A-Za-z0-9_-]{35}" + _E),
    # groq.go (https://console.groq.com/docs/openai): gsk_ + 48 alphanumerics.
    ("Groq API Key", "groq", _B + r"gsk_[A-Za-z0-9]{48}" + _E),
    # perplexity.go: pplx- + 48 word characters.
    ("Perplexity API Key", "perplexity", _B + r"pplx-[A-Za-z0-9]{48}" + _E),
    # openrouter.go: sk-or-v1- + 64 hex digits.
    ("OpenRouter API Key", "openrouter", _B + r"sk-or-v\d+-[a-f0-9]{64}" + _E),
    # xai.go (https://docs.x.ai/docs/overview): xai- + 80 alphanumerics.
    ("xAI API Key", "xai", _B + r"xai-[A-Za-z0-9]{80}" + _E),
    # replicate.go: r8_ + 40 alphanumerics.
    ("Replicate API Token", "replicate", _B + r"r8_[A-Za-z0-9]{40}" + _E),
    # langsmith.go: lsv2_pt_/lsv2_sk_ + 32 hex + _ + 10 hex.
    ("LangSmith API Key", None, _B + r"lsv2_(?:pt|sk)_[a-f0-9]{32}_[a-f0-9]{10}" + _E),
)

#: Catalogue provider of each key format, where the key belongs to one.
_TYPE_PROVIDER: dict[str, str] = {"OpenAI Token": "openai"}

#: When a line meets a plugin: gates per secret type, expressions searched in
#: the lower-cased text (``_CASE_GATES``: in the text as written). Each gate is
#: implied by the plugin's own patterns (a test checks that every supported
#: format passes), so a line that passes no gate of a type cannot hold that
#: kind of secret. Every gate starts with a literal, which the regular
#: expression engine finds at close to memory speed; one big alternation of
#: them all would be several times slower.
_LOWER_GATES: dict[str, tuple[str, ...]] = {
    "AWS Access Key": ("akia", "asia", "abia", "acca", "a3t", "aws"),
    "Azure Storage Account access key": ("accountkey=",),
    "Basic Auth Credentials": (r"://[^\s/@]+@",),
    "Cloudant Credentials": (
        r"cl(?:oudant|ou)?[_-]?(?:api)?(?:key|pw|pass|token)",
        r"cloudant\.com",
    ),
    "GitHub Token": (r"gh[pousr]_",),
    "GitLab Token": (r"gl(?:pat|dt|ft|soat|rt|cbt|imt|ptt|agent|oas)-", "gr1348941"),
    "IBM COS HMAC Credentials": (r"secret[-_]?(?:access)?[-_]?key",),
    "IBM Cloud IAM Key": (
        r"ibm[\w\-\"'\] ]*(?:key|pwd|pass|token)",
        r"iam[\w\-\"'\] ]*(?:key|pwd|pass|token)",
    ),
    "JSON Web Token": ("eyj",),
    "Mailchimp Access Key": (r"-us\d",),
    "NPM tokens": ("_authtoken",),
    "OpenAI Token": ("t3blbkfj",),
    "Private Key": ("private key", "putty-user"),
    "PyPI Token": ("pypi-ag",),
    "SendGrid API Key": (r"sg\.",),
    "Slack Token": ("xox", r"hooks\.slack"),
    "SoftLayer Credentials": ("softlayer", r"sl[_-]?(?:api)?[_-]?(?:key|pwd|pass|token)"),
    "Square OAuth Secret": ("sq0csp-",),
    "Stripe Access Key": ("k_live_",),
    "Anthropic API Key": ("sk-ant-",),
    "Hugging Face Token": ("hf_", "api_org_"),
    "Google API Key": ("aiza",),
    "Groq API Key": ("gsk_",),
    "Perplexity API Key": ("pplx-",),
    "OpenRouter API Key": ("sk-or-",),
    "xAI API Key": ("xai-",),
    "Replicate API Token": ("r8_",),
    "LangSmith API Key": ("lsv2_",),
    # A random-looking quoted literal (checked further by _assigned_random_literal).
    "Base64 High Entropy String": (r"[\"'][a-z0-9+/_-]{20,}={0,2}[\"']",),
    # A secret-sounding name followed by an assignment, a colon or a call.
    "Secret Keyword": tuple(
        kw + r"[\w.\-\]'\"`]*\s*(?:=|:|\()"
        for kw in ("key", "pass", "pwd", "secret", "token", "contrase", "credential")
    ),
}
_CASE_GATES: dict[str, tuple[str, ...]] = {
    "Artifactory Credentials": (r"AKC[a-zA-Z0-9]{10}", r"AP[0-9A-F][a-zA-Z0-9]{8}"),
    "Discord Bot Token": (r"\.[\w-]{6}\.[\w-]{27}",),
    "Telegram Bot Token": (r":[\w-]{35}",),
    "Twilio API Key": (r"AC[a-z0-9]{32}", r"SK[a-z0-9]{32}"),
}
#: In ``.env`` files every assignment is a keyword candidate.
_ENV_GATE = r"(?m)^[ \t]*(?:export[ \t]+)?[a-z_][\w.]*[ \t]*="


class _Gate(NamedTuple):
    pattern: re.Pattern[str]
    lowered: bool


#: Lines longer than this only meet the key-format patterns (minified code,
#: data lines): the keyword expressions are not worth their cost there.
_LONG_LINE = 4000
_REDACTED_MAX = 200

_PRAGMA = re.compile(r"pragma:\s*allowlist[ -]secret|gitleaks:allow", re.IGNORECASE)
_PRAGMA_NEXTLINE = re.compile(r"pragma:\s*allowlist[ -]nextline[ -]secret", re.IGNORECASE)

# --------------------------------------------------------------------------
# Placeholders and references


def _wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())


_PLACEHOLDER = re.compile(
    r"your|example|sample|dummy|placeholder|change[_-]?me|replace|fake|test|redacted|insert"
    r"|todo|fixme|x{4,}|\*{3,}|\.\.\.|…|#{3,}|<[^>]*>|\{\{|\$\{|%\(|\$\(|%s\b|([#%@])\w+\1",
    re.IGNORECASE,
)
_SAME_CHAR_RUN = re.compile(r"(.)\1{5,}")
#: Values (lower-cased, digits and punctuation removed) that are words, not secrets.
_WEAK_WORDS = _wordset(
    """
    password passwd pass secret secrets admin root user username qwerty letmein foobar foo
    bar abc default token key apikey value none null undefined string str required
    optional hunter tiger postgres mysql guest changeit mypass mypassword demo pw
    """
)
#: The jwt.io sample token's payload ({"sub": "1234567890", "name": "John Doe", ...}).
_JWT_SAMPLE = "eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lI"

_ENV_VAR_NAME = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+|[A-Z]+")
_DOTTED_NAME = re.compile(r"[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)+(?::[A-Za-z_]\w*)?")
_WORDS = re.compile(r"[a-z]+(?:[-_.:/ ][a-z]+)+", re.IGNORECASE)
_SNAKE_NAME = re.compile(r"_*[a-z0-9]+(?:_+[a-z0-9]+){2,}_*")
_CAMEL_PART = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])")
_FILE_EXT = re.compile(
    r"\.(?:json|pem|key|crt|cer|der|p12|pfx|jks|txt|ya?ml|env|ini|cfg|conf|toml|xml|csv|pub|asc"
    r"|gpg|py|js|ts|sh|md|html?)$",
    re.IGNORECASE,
)
_URL = re.compile(r"[a-z][a-z0-9+.-]*://", re.IGNORECASE)
_KEYWORD_IN_VALUE = re.compile(r"passw|secret|token|api_?key|credential", re.IGNORECASE)

#: Name parts that say the value is about a secret, not the secret itself.
_NOT_SECRET_NAME_PARTS = _wordset(
    """
    name names file filename path dir url uri endpoint env var type kind length len size
    count field header param pattern regex format prefix suffix label hint placeholder
    description desc version policy expiry expires ttl timeout max min limit enabled
    required mode location source provider ref arn id ids hash hashed digest checksum
    fingerprint public pub help message msg error prompt link method algorithm alg scheme
    scope scopes audience issuer csrf xsrf mask masked redacted example sample test dummy
    fake
    """
)

#: Provider named in a variable name (``OPENAI_API_KEY`` -> openai); checked in order.
_NAME_PROVIDERS: tuple[tuple[frozenset[str], str], ...] = (
    (frozenset({"aoai"}), "azure_openai"),
    (frozenset({"openai"}), "openai"),
    (frozenset({"anthropic", "claude"}), "anthropic"),
    (frozenset({"cohere", "co"}), "cohere"),
    (frozenset({"mistral", "mistralai", "codestral"}), "mistral"),
    (frozenset({"groq"}), "groq"),
    (frozenset({"vertex", "vertexai"}), "google_vertex"),
    (frozenset({"gemini", "google", "genai", "palm"}), "google"),
    (frozenset({"hf", "huggingface", "huggingfacehub", "hugging"}), "huggingface"),
    (frozenset({"together", "togetherai"}), "together"),
    (frozenset({"fireworks"}), "fireworks"),
    (frozenset({"perplexity", "pplx"}), "perplexity"),
    (frozenset({"deepseek"}), "deepseek"),
    (frozenset({"xai", "grok"}), "xai"),
    (frozenset({"openrouter"}), "openrouter"),
    (frozenset({"replicate"}), "replicate"),
    (frozenset({"voyage", "voyageai"}), "voyage"),
    (frozenset({"deepgram"}), "deepgram"),
)
_PROVIDER_WORDS = frozenset().union(*(words for words, _ in _NAME_PROVIDERS))

#: ``<prefix>_token`` / ``<prefix>_key`` names that hold credentials.
_TOKEN_PREFIXES = _wordset(
    """
    access auth api bearer bot refresh secret session hub github gh gitlab slack discord
    telegram personal oauth client service app admin private npm pypi deploy webhook id
    jwt read write user
    """
)
_KEY_PREFIXES = _wordset(
    """
    access secret signing encryption master subscription app api auth private
    client service account consumer storage
    """
)

#: One assignment of a value to a name: ``name = "v"``, ``"name": "v"``, ``NAME=v``.
_ASSIGNMENT = re.compile(
    r"(?P<name>[A-Za-z_][\w.-]*)[\"'\]]{0,2}\s*(?:=|:=|:|=>)\s*@?(?P<q>[\"'`]?)"
    r"(?P<value>[^\s\"'`]{8,})"
)


#: ``name = "literal"`` (or ``"name": "literal",``) as the whole line.
_ASSIGNED_LITERAL = re.compile(
    r"""\s*(?:export\s+)?["']?(?P<name>[A-Za-z_][\w.-]*)["']?\s*(?::\s*[\w\[\], .|]+)?"""
    r"""\s*(?:=|:)\s*[rbu]?(?P<q>["'])(?P<value>[A-Za-z0-9+/_-]{20,100}={0,2})(?P=q)"""
    r"""\s*[,;]?\s*(?:(?:#|//).*)?"""
)
_NOT_RANDOM_SECRET_NAME_PARTS = _wordset(
    "sha sha1 sha256 sha512 md5 etag nonce salt sentinel integrity revision commit seed uuid guid"
)
_HIGH_ENTROPY = "Base64 High Entropy String"


class _Candidate(NamedTuple):
    secret_type: str
    secret: str
    start: int  # span of the secret in the line (end exclusive)
    end: int
    provider_id: str | None
    specific: bool  # a key format (beats a keyword hit on the same span)


@dataclass(frozen=True)
class _FileContext:
    keyword_regexes: dict[Any, int]
    unquoted_ok: bool
    env_file: bool
    keywords: bool


# --------------------------------------------------------------------------
# Public API


def supported_secret_types() -> list[str]:
    """Every ``secret_type`` :func:`find_secrets` can report, sorted."""
    own = {t for t, _, _ in _OWN_FORMATS}
    return sorted({*_DS_REGEX_TYPES, *own, "Secret Keyword", _HIGH_ENTROPY})


def find_secrets(text: str, *, filename: str = "") -> list[SecretHit]:
    """Find the secrets in ``text``, one :class:`SecretHit` per secret and line.

    Args:
        text: The text to search (a file's content, a notebook cell, ...).
        filename: The file's name or path; its extension picks the keyword
            rules (``.py`` needs quoted values, ``.ini``/``.yaml``/``.env``
            also accept bare ones) and lock and swagger files get no keyword
            detection.

    Returns:
        The hits, ordered by line; a secret that appears on two lines gives
        two hits with the same fingerprint.
    """
    if not text:
        return []
    ctx = _file_context(filename)
    low = text.lower()
    if len(low) != len(text):  # a few non-ASCII letters grow when lower-cased
        low = text.translate(_ASCII_LOWER)
    candidates = _candidate_lines(text, low, ctx)
    hits: list[SecretHit] = []
    lineno = 1
    counted_to = 0
    skip_to = 0  # end of a private-key block already reported
    for start, types in candidates:
        if start < skip_to:
            continue
        end = text.find("\n", start)
        if end < 0:
            end = len(text)
        lineno += text.count("\n", counted_to, start)
        counted_to = start
        line = text[start:end]
        if _allowlisted(text, start, line):
            continue
        cands, block_end = _line_candidates(line, types, text, start, ctx)
        skip_to = max(skip_to, block_end)
        if cands:
            hits.extend(_to_hits(cands, line, lineno))
    return hits


_ASCII_LOWER = {c: c + 32 for c in range(ord("A"), ord("Z") + 1)}


def _candidate_lines(text: str, low: str, ctx: _FileContext) -> list[tuple[int, set[str]]]:
    """Offsets of the lines that pass a gate, in order, with the secret types they passed."""
    lines: dict[int, set[str]] = {}
    for gate, types in _all_gates(ctx.env_file):
        hay = low if gate.lowered else text
        pos = 0
        while True:
            m = gate.pattern.search(hay, pos)
            if m is None:
                break
            lines.setdefault(hay.rfind("\n", 0, m.start()) + 1, set()).update(types)
            nl = hay.find("\n", m.end())
            if nl < 0:
                break
            pos = nl + 1
    return sorted(lines.items())


# --------------------------------------------------------------------------
# Per line


def _line_candidates(
    line: str, types: set[str], text: str, offset: int, ctx: _FileContext
) -> tuple[list[_Candidate], int]:
    """Accepted candidates on one line, and the end of a private-key block it opens."""
    body = line.rstrip("\r")
    cands: list[_Candidate] = []
    block_end = 0
    for kind, plugin in _ds_plugins():
        if kind not in types:
            continue
        for value in _plugin_values(plugin, body):
            if kind == "Private Key":
                cand, block_end = _private_key(body, text, offset)
                if cand is not None:
                    cands.append(cand)
                break
            cand = _format_candidate(kind, value, body)
            if cand is not None:
                cands.append(cand)
    for kind, provider, rx in _own_formats():
        if kind not in types:
            continue
        for fm in rx.finditer(body):
            if not _is_placeholder(fm.group(0)):
                cands.append(_Candidate(kind, fm.group(0), fm.start(), fm.end(), provider, True))
    # Where values must be quoted (code), a line without a quote holds no keyword secret.
    quoted = ctx.unquoted_ok or '"' in body or "'" in body or "`" in body
    if ctx.keywords and quoted and len(body) <= _LONG_LINE:
        if "Secret Keyword" in types:
            cands.extend(_keyword_candidates(body, ctx))
        if _HIGH_ENTROPY in types:
            cands.extend(_assigned_random_literal(body))
    return _dedupe(cands), block_end


def _assigned_random_literal(line: str) -> list[_Candidate]:
    """A whole line that assigns a random-looking quoted literal to any name.

    ``SOME_VALUE = "c3VwZXIgbG9u..."``: base64-like, 20 to 100 characters,
    three character classes and a Shannon entropy of at least 4.5 bits per
    character (detect-secrets' default limit for base64 strings). Hex-only
    strings (hashes, ids) and names that say what the value is (``*_id``,
    ``*_hash``, ``sha256``, ...) do not count.
    """
    m = _ASSIGNED_LITERAL.fullmatch(line)
    if m is None:
        return []
    value, parts = m.group("value"), _name_parts(m.group("name"))
    if (
        _entropy(value) < 4.5
        or _char_classes(value) < 3
        or set(parts) & (_NOT_SECRET_NAME_PARTS | _NOT_RANDOM_SECRET_NAME_PARTS)
        or _is_placeholder(value)
        or _is_reference(value)
    ):
        return []
    start = m.start("value")
    return [
        _Candidate(
            _HIGH_ENTROPY, value, start, start + len(value), _provider_from_name(parts), False
        )
    ]


_TOKEN_TAIL = re.compile(r"[A-Za-z0-9_\-+/=.]*")


def _plugin_values(plugin: Any, line: str) -> list[str]:
    try:
        values: list[str] = [v for v in plugin.analyze_string(line) if isinstance(v, str) and v]
    except (ValueError, TypeError, re.error):
        return []
    return list(dict.fromkeys(values))


def _format_candidate(kind: str, value: str, line: str) -> _Candidate | None:
    if kind == "Basic Auth Credentials":  # the password, not an equal user name before it
        idx = line.find(f":{value}@")
        idx = idx + 1 if idx >= 0 else -1
    else:
        idx = line.find(value)
    if idx < 0:
        return None
    end = idx + len(value)
    if kind not in ("Basic Auth Credentials", "NPM tokens"):
        # Some plugins stop inside a token (JWT's lazy signature, OpenAI's fixed
        # tail): take the whole token so the fingerprint and the mask cover it.
        tail = _TOKEN_TAIL.match(line, end)
        if tail is not None:
            end = tail.end()
    secret = line[idx:end].rstrip(".")
    end = idx + len(secret)
    if secret.startswith("AccountKey="):
        idx += len("AccountKey=")
        secret = secret[len("AccountKey=") :]
    from detect_secrets.filters.heuristic import is_sequential_string

    if _is_placeholder(secret) or is_sequential_string(secret):
        return None
    if kind == "JSON Web Token" and _JWT_SAMPLE in secret:
        return None
    if kind == "Basic Auth Credentials" and not _plausible_basic_auth(secret, line, end):
        return None
    return _Candidate(kind, secret, idx, end, _TYPE_PROVIDER.get(kind), True)


def _plausible_basic_auth(password: str, line: str, end: int) -> bool:
    user = re.search(r"([^:/@\s]*):$", line[: end - len(password)])
    if user is not None and user.group(1) == password:
        return False  # postgres:postgres@, a default, not a leak
    host = re.match(r"@([\w.-]+)", line[end:])
    if host is not None and re.search(
        r"(?:^|\.)example\.(?:com|org|net)$|\.example$|\.invalid$", host.group(1), re.IGNORECASE
    ):
        return False
    word = re.sub(r"[\d\W_]+", "", password).lower()
    return len(password) >= 6 and word not in _WEAK_WORDS


_PEM_END = re.compile(r"-----END[ A-Z0-9]*-----")
_PEM_NOISE = re.compile(r"\\[nr]|\s|[\"',]")


def _private_key(line: str, text: str, offset: int) -> tuple[_Candidate | None, int]:
    """A private key opened on this line: its body is the secret (not the header)."""
    hdr = re.search(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY[A-Z ]*-----|PuTTY-User-Key-File-\d", line)
    if hdr is None:
        return None, 0
    body_start = offset + hdr.end()
    end_m = _PEM_END.search(text, body_start, body_start + 64_000)
    if end_m is not None:
        raw = text[body_start : end_m.start()]
        block_end = end_m.end()
    else:
        stop = body_start
        for _ in range(40):
            nxt = text.find("\n", stop + 1)
            if nxt < 0:
                stop = len(text)
                break
            stop = nxt
        raw = text[body_start:stop]
        block_end = stop
    body = _PEM_NOISE.sub("", raw)
    if len(body) < 32 or _is_placeholder(body) or len(set(body)) < 10:
        return None, 0
    # The part of the body on the header's own line (a key written as one string).
    in_line_end = min(len(line), (end_m.start() if end_m is not None else block_end) - offset)
    start = hdr.end()
    end = in_line_end if in_line_end > start and line[start:in_line_end].strip() else start
    return _Candidate("Private Key", body, start, end, None, True), block_end


def _keyword_candidates(line: str, ctx: _FileContext) -> list[_Candidate]:
    found: list[tuple[str, str, str]] = []  # (value, name, tier)
    for value in _plugin_values_kw(line, ctx):
        found.append((value, _name_before(line, value), "normal"))
    for m in _ASSIGNMENT.finditer(line):
        quote = m.group("q")
        if not quote and not ctx.unquoted_ok:
            continue
        tier = _name_tier(m.group("name"), ctx)
        if tier is not None:
            value = m.group("value")
            if quote:
                close = line.find(quote, m.start("value"))
                if close < 0:
                    continue
                value = line[m.start("value") : close]
            found.append((value, m.group("name"), tier))
    out: list[_Candidate] = []
    for value, name, tier in found:
        cand = _keyword_candidate(line, value, name, tier)
        if cand is not None:
            out.append(cand)
    return out


def _plugin_values_kw(line: str, ctx: _FileContext) -> list[str]:
    try:
        values = list(_keyword_plugin().analyze_string(line, ctx.keyword_regexes))
    except (ValueError, TypeError, re.error):
        return []
    return [v for v in values if isinstance(v, str) and v]


def _keyword_candidate(line: str, raw: str, name: str, tier: str) -> _Candidate | None:
    idx = line.find(raw)
    if idx < 0:
        return None
    quoted = idx > 0 and line[idx - 1] in "\"'`"
    value = raw
    if not quoted:
        value = re.split(r"\s|[;,#]", value, maxsplit=1)[0].rstrip(").]}")
    elif re.search(r"\s", value):
        return None  # prose in a string, not a secret
    parts = _name_parts(name)
    if not _acceptable_value(value, parts, line, tier):
        return None
    return _Candidate(
        "Secret Keyword", value, idx, idx + len(value), _provider_from_name(parts), False
    )


def _acceptable_value(value: str, name_parts: list[str], line: str, tier: str) -> bool:
    from detect_secrets.filters import heuristic as h

    if len(value) < 8 or not value.isprintable():
        return False
    if set(name_parts) & _NOT_SECRET_NAME_PARTS:
        return False
    if _is_placeholder(value) or _KEYWORD_IN_VALUE.search(value):
        return False
    checks: tuple[Callable[..., bool], ...] = (
        h.is_sequential_string,
        h.is_potential_uuid,
        h.is_templated_secret,
        h.is_prefixed_with_dollar_sign,
        h.is_not_alphanumeric_string,
    )
    if any(check(value) for check in checks) or h.is_likely_id_string(value, line):
        return False
    if _is_reference(value):
        return False
    classes = _char_classes(value)
    entropy = _entropy(value)
    if tier == "strong":
        return len(value) >= 16 and classes >= 2 and entropy >= 3.3
    return entropy >= 2.5 and (classes >= 2 or (len(value) >= 16 and entropy >= 3.5))


def _is_reference(value: str) -> bool:
    """A name, path, URL, call or lookup rather than a literal secret."""
    if _ENV_VAR_NAME.fullmatch(value) or _DOTTED_NAME.fullmatch(value.strip(".")):
        return True
    if _WORDS.fullmatch(value) or _SNAKE_NAME.fullmatch(value) or _is_camel_words(value):
        return True
    if value.startswith(("/", "./", "../", "~/", "\\\\")) or re.match(r"[A-Za-z]:\\", value):
        return True
    if _FILE_EXT.search(value) or _URL.match(value):
        return True
    return bool(re.search(r"[\w.]\(|\)$|\[[^\]]*\]$", value))


def _is_camel_words(value: str) -> bool:
    """``IAmSensitive``, ``notHighEnoughEntropy``: words, not random letters."""
    if not value.isalpha() or value.islower() or value.isupper():
        return False
    parts = _CAMEL_PART.findall(value)
    return (
        sum(map(len, parts)) == len(value)
        and all(re.search("[aeiouyAEIOUY]", p) for p in parts)
        and len(value) / len(parts) >= 3
    )


def _is_placeholder(value: str) -> bool:
    if _PLACEHOLDER.search(value) or _SAME_CHAR_RUN.search(value):
        return True
    if len(set(value)) <= 2 or _has_ascending_run(value, 10):
        return True
    return re.sub(r"[\d\W_]+", "", value).lower() in _WEAK_WORDS


def _has_ascending_run(value: str, length: int) -> bool:
    """``abcdefghij``, ``0123456789``: an alphabet written out, not a random string."""
    run = 1
    for a, b in pairwise(value):
        run = run + 1 if ord(b) == ord(a) + 1 else 1
        if run >= length:
            return True
    return False


def _char_classes(value: str) -> int:
    return (
        any(c.islower() for c in value)
        + any(c.isupper() for c in value)
        + any(c.isdigit() for c in value)
        + any(not c.isalnum() for c in value)
    )


def _entropy(value: str) -> float:
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in Counter(value).values())


def _name_before(line: str, value: str) -> str:
    idx = line.find(value)
    m = re.search(r"([A-Za-z_$][\w.$-]*)[^\w]*$", line[: max(idx, 0)])
    return m.group(1) if m else ""


def _name_parts(name: str) -> list[str]:
    last = name.rsplit(".", 1)[-1]
    snake = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", last)
    return [p for p in re.split(r"[_\-\s]+", snake.lower()) if p]


def _name_tier(name: str, ctx: _FileContext) -> str | None:
    """How strict the value test is for ``name``, or None when the name is not secret-ish."""
    parts = _name_parts(name)
    if not parts:
        return None
    if ctx.env_file:
        return "strong"
    last = parts[-1]
    if last in ("token", "key", "credential", "credentials", "apikey"):
        if len(parts) == 1:
            return "normal" if last == "apikey" else "strong"
        prev = parts[-2]
        prefixes = _TOKEN_PREFIXES if last == "token" else _KEY_PREFIXES
        if prev in prefixes or prev in _PROVIDER_WORDS or last == "apikey":
            return "normal"
    return None


def _provider_from_name(parts: list[str]) -> str | None:
    words = set(parts)
    if "azure" in words and "openai" in words:
        return "azure_openai"
    for names, provider in _NAME_PROVIDERS:
        if words & names:
            return provider
    return None


def _dedupe(cands: list[_Candidate]) -> list[_Candidate]:
    """Keep one candidate per span: key formats first, then the longer one."""
    kept: list[_Candidate] = []
    for c in sorted(cands, key=lambda c: (not c.specific, -(c.end - c.start), c.start)):
        if c.end > c.start and any(c.start < k.end and k.start < c.end for k in kept):
            continue
        if any(k.secret == c.secret for k in kept):
            continue
        kept.append(c)
    return sorted(kept, key=lambda c: c.start)


def _to_hits(cands: list[_Candidate], line: str, lineno: int) -> Iterator[SecretHit]:
    redacted = _redact(line, cands)
    for c in cands:
        yield SecretHit(
            secret_type=c.secret_type,
            fingerprint=secret_fingerprint(c.secret),
            line=lineno,
            redacted=redacted,
            provider_id=c.provider_id,
        )


def _mask(secret: str) -> str:
    return secret[: min(4, len(secret) // 4)] + "****"


_RANDOM_TOKEN = re.compile(r"[A-Za-z0-9+/_\-]{16,}={0,2}")
_CAMEL_WORDS = re.compile(r"[A-Za-z][a-z]+(?:[A-Z][a-z]+)+")


def _mask_if_random(m: re.Match[str]) -> str:
    token = m.group(0)
    digits_and_letters = any(c.isdigit() for c in token) and any(c.isalpha() for c in token)
    mixed_case = any(c.isupper() for c in token) and any(c.islower() for c in token)
    if (
        (digits_and_letters or mixed_case)
        and _entropy(token) >= 3.0
        and not _CAMEL_WORDS.fullmatch(token)
    ):
        return _mask(token)
    return token


def _redact(line: str, cands: list[_Candidate]) -> str:
    out = line
    first = None
    for c in sorted(cands, key=lambda c: c.start, reverse=True):
        if c.end > c.start:
            out = out[: c.start] + _mask(c.secret) + out[c.end :]
            first = c.start
    for c in sorted(cands, key=lambda c: len(c.secret), reverse=True):
        if len(c.secret) >= 4 and c.secret in out:
            out = out.replace(c.secret, _mask(c.secret))
    # Belt and braces: a second random-looking token on a line that holds a
    # secret (``KEY = "a", "b"``) is likely one too, so it is masked as well.
    out = _RANDOM_TOKEN.sub(_mask_if_random, out)
    lead = len(out) - len(out.lstrip())
    out = out.strip()
    if len(out) <= _REDACTED_MAX:
        return out
    centre = max(0, (first or 0) - lead)
    begin = max(0, min(centre - 80, len(out) - (_REDACTED_MAX - 3)))
    piece = out[begin : begin + _REDACTED_MAX - 6]
    return ("..." if begin > 0 else "") + piece + "..."


def _allowlisted(text: str, start: int, line: str) -> bool:
    if _PRAGMA.search(line):
        return True
    if start == 0:
        return False
    prev_start = text.rfind("\n", 0, start - 1) + 1
    return bool(_PRAGMA_NEXTLINE.search(text, prev_start, start))


# --------------------------------------------------------------------------
# Plugins, built once per process


@cache
def _gates(secret_type: str) -> tuple[_Gate, ...]:
    lowered = secret_type in _LOWER_GATES
    spec = _LOWER_GATES[secret_type] if lowered else _CASE_GATES[secret_type]
    return tuple(_Gate(re.compile(rx), lowered) for rx in spec)


@cache
def _all_gates(env_file: bool) -> tuple[tuple[_Gate, frozenset[str]], ...]:
    """Every distinct gate with the secret types it opens, for the pass over a text."""
    out: dict[tuple[str, bool], tuple[_Gate, set[str]]] = {}
    for secret_type in [*_LOWER_GATES, *_CASE_GATES]:
        for g in _gates(secret_type):
            out.setdefault((g.pattern.pattern, g.lowered), (g, set()))[1].add(secret_type)
    if env_file:
        out[(_ENV_GATE, True)] = (_Gate(re.compile(_ENV_GATE), True), {"Secret Keyword"})
    return tuple((g, frozenset(types)) for g, types in out.values())


@cache
def _ds_plugins() -> tuple[tuple[str, Any], ...]:
    """(secret_type, plugin instance) of the detect-secrets plugins we use."""
    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class

    mapping: dict[str, Any] = get_mapping_from_secret_type_to_class()
    return tuple((t, mapping[t]()) for t in _DS_REGEX_TYPES if t in mapping)


@cache
def _keyword_plugin() -> Any:
    from detect_secrets.plugins.keyword import KeywordDetector

    return KeywordDetector()


@cache
def _own_formats() -> tuple[tuple[str, str | None, re.Pattern[str]], ...]:
    return tuple((t, p, re.compile(rx)) for t, p, rx in _OWN_FORMATS)


_UNQUOTED_TYPES = ("YAML", "CONFIG", "INI", "PROPERTIES", "TOML")


def _file_context(filename: str) -> _FileContext:
    """How to read a file, from its name alone (cached by suffix and kind, not by path)."""
    from detect_secrets.filters.heuristic import is_lock_file, is_swagger_file

    base = PurePath(filename).name
    low = base.lower()
    env_file = (
        low == ".env"
        or low.endswith(".env")
        or (
            low.startswith(".env.")
            and not low.endswith((".example", ".sample", ".template", ".dist", ".tmpl"))
        )
    )
    keywords = not (base and (is_lock_file(base) or is_swagger_file(low)))
    return _context_for(PurePath(low).suffix, env_file, keywords)


@cache
def _context_for(suffix: str, env_file: bool, keywords: bool) -> _FileContext:
    from detect_secrets.plugins.keyword import (
        QUOTES_REQUIRED_DENYLIST_REGEX_TO_GROUP,
        REGEX_BY_FILETYPE,
    )
    from detect_secrets.util.filetype import FileType, determine_file_type

    ftype = determine_file_type("x" + suffix)
    regexes = REGEX_BY_FILETYPE.get(ftype, QUOTES_REQUIRED_DENYLIST_REGEX_TO_GROUP)
    if env_file:
        regexes = REGEX_BY_FILETYPE[FileType.CONFIG]
    return _FileContext(
        keyword_regexes=dict(regexes),
        unquoted_ok=env_file or ftype.name in _UNQUOTED_TYPES,
        env_file=env_file,
        keywords=keywords,
    )
