"""Secret detection: key formats, keywords, placeholders, redaction, speed, and a measured eval.

Every key below is generated at test time from a seeded random source, so
no key-shaped string is committed to the repository.
"""

from __future__ import annotations

import base64
import json
import random
import string
import time
from collections import defaultdict
from pathlib import Path

import pytest

from aiposture.discovery.observe import secret_fingerprint
from aiposture.discovery.secrets import SecretHit, find_secrets, supported_secret_types

_RNG = random.Random(20240611)
ALNUM = string.ascii_letters + string.digits
HEX = "0123456789abcdef"
LOWER_ALNUM = string.ascii_lowercase + string.digits


def rand(n: int, alphabet: str = ALNUM) -> str:
    return "".join(_RNG.choice(alphabet) for _ in range(n))


def _jwt() -> str:
    def part(obj: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    return (
        f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part({'sub': rand(10), 'iat': 1718000000})}."
        + (rand(43, ALNUM + "_-"))
    )


# (secret_type, provider_id, secret): one realistic key of every supported format.
KEYS: list[tuple[str, str | None, str]] = [
    ("OpenAI Token", "openai", "sk-proj-" + rand(58) + "T3BlbkFJ" + rand(58)),
    ("OpenAI Token", "openai", "sk-" + rand(20) + "T3BlbkFJ" + rand(20)),
    ("OpenAI Token", "openai", "sk-svcacct-" + rand(57) + "_T3BlbkFJ" + rand(58)),
    ("Anthropic API Key", "anthropic", "sk-ant-api03-" + rand(93, ALNUM + "_-") + "AA"),
    ("Hugging Face Token", "huggingface", "hf_" + rand(34, string.ascii_letters)),
    ("Google API Key", "google", "AIza" + rand(35, ALNUM + "_-")),
    ("Groq API Key", "groq", "gsk_" + rand(48)),
    ("Perplexity API Key", "perplexity", "pplx-" + rand(48)),
    ("OpenRouter API Key", "openrouter", "sk-or-v1-" + rand(64, HEX)),
    ("xAI API Key", "xai", "xai-" + rand(80)),
    ("Replicate API Token", "replicate", "r8_" + rand(40)),
    ("LangSmith API Key", None, "lsv2_pt_" + rand(32, HEX) + "_" + rand(10, HEX)),
    ("AWS Access Key", None, "AKIA" + rand(16, string.ascii_uppercase + string.digits)),
    ("GitHub Token", None, "ghp_" + rand(36)),
    ("GitLab Token", None, "glpat-" + rand(20)),
    (
        "Slack Token",
        None,
        f"xoxb-{rand(11, string.digits)}-{rand(12, string.digits)}-{rand(24, LOWER_ALNUM)}",
    ),
    ("Stripe Access Key", None, "sk_live_" + rand(24)),
    ("SendGrid API Key", None, "SG." + rand(22) + "." + rand(43)),
    ("Twilio API Key", None, "SK" + rand(32, LOWER_ALNUM)),
    ("Mailchimp Access Key", None, rand(32, HEX) + "-us12"),
    ("Discord Bot Token", None, "M" + rand(23) + "." + rand(6) + "." + rand(27)),
    ("Telegram Bot Token", None, rand(9, string.digits) + ":" + rand(35)),
    ("Square OAuth Secret", None, "sq0csp-" + rand(43)),
    ("PyPI Token", None, "pypi-AgEIcHlwaS5vcmc" + rand(80)),
    ("Azure Storage Account access key", None, rand(86) + "=="),
    ("JSON Web Token", None, _jwt()),
]


def _line_for(secret_type: str, secret: str) -> str:
    if secret_type == "Azure Storage Account access key":
        return f'conn = "DefaultEndpointsProtocol=https;AccountName=acme;AccountKey={secret};"'
    return f'client_config = "{secret}"'


@pytest.mark.parametrize(("secret_type", "provider", "secret"), KEYS, ids=[k[0] for k in KEYS])
def test_every_supported_key_format_is_found_with_its_provider(
    secret_type: str, provider: str | None, secret: str
) -> None:
    text = "import os\n\n" + _line_for(secret_type, secret) + "\n"
    hits = find_secrets(text, filename="app/settings.py")
    assert len(hits) == 1, hits
    hit = hits[0]
    assert hit.secret_type == secret_type
    assert hit.provider_id == provider
    assert hit.line == 3
    assert hit.fingerprint == secret_fingerprint(secret)
    assert secret not in hit.redacted
    assert secret[6:] not in hit.redacted
    assert "****" in hit.redacted


def test_every_reported_type_is_listed_as_supported() -> None:
    listed = set(supported_secret_types())
    assert {t for t, _, _ in KEYS} <= listed
    assert {"Secret Keyword", "Private Key", "Basic Auth Credentials"} <= listed


def test_key_formats_are_found_in_any_file_type_and_case_of_surroundings() -> None:
    key = "sk-ant-api03-" + rand(93, ALNUM + "_-") + "AA"
    for name, text in [
        (".env", f"ANTHROPIC_API_KEY={key}\n"),
        ("README.md", f"Run `export ANTHROPIC_API_KEY={key}` first.\n"),
        ("config.yaml", f"llm:\n  anthropic:\n    api_key: {key}\n"),
        ("notes.txt", f"the key is {key} (rotate!)\n"),
        ("cell", f"client = anthropic.Anthropic(api_key='{key}')\n"),
    ]:
        hits = find_secrets(text, filename=name)
        assert [h.secret_type for h in hits] == ["Anthropic API Key"], (name, hits)
        assert hits[0].fingerprint == secret_fingerprint(key)


def test_a_private_key_is_reported_once_on_its_begin_line_with_the_body_fingerprinted() -> None:
    body_lines = [rand(64, ALNUM + "+/") for _ in range(12)]
    pem = "\n".join(
        ["-----BEGIN RSA PRIVATE KEY-----", *body_lines, "-----END RSA PRIVATE KEY-----"]
    )
    text = f"# deploy key\n{pem}\nother = 1\n"
    hits = find_secrets(text, filename="id_rsa")
    assert len(hits) == 1
    assert (hits[0].secret_type, hits[0].line) == ("Private Key", 2)
    assert hits[0].fingerprint == secret_fingerprint("".join(body_lines))
    assert hits[0].redacted == "-----BEGIN RSA PRIVATE KEY-----"


def test_a_private_key_written_as_one_json_string_is_masked_in_the_line() -> None:
    body = rand(300, ALNUM + "+/")
    line = (
        f'  "private_key": "-----BEGIN PRIVATE KEY-----\\n{body}\\n-----END PRIVATE KEY-----\\n",'
    )
    hits = find_secrets("{\n" + line + "\n}\n", filename="sa.json")
    assert [h.secret_type for h in hits] == ["Private Key"]
    assert body[:40] not in hits[0].redacted
    assert body[8:40] not in hits[0].redacted


def test_a_private_key_header_without_a_body_is_not_a_secret() -> None:
    text = 'if line.startswith("-----BEGIN RSA PRIVATE KEY-----"):\n    kind = "rsa"\n'
    assert find_secrets(text, filename="parse.py") == []


def test_credentials_in_a_url_are_found_and_masked() -> None:
    password = rand(18)
    hits = find_secrets(f"DATABASE_URL=postgres://app:{password}@db.internal:5432/app\n")
    assert [h.secret_type for h in hits] == ["Basic Auth Credentials"]
    assert password not in hits[0].redacted
    assert "postgres://app:" in hits[0].redacted


@pytest.mark.parametrize(
    "line",
    [
        "DATABASE_URL=postgres://postgres:postgres@localhost:5432/db",
        "url = 'https://user:password@example.com/path'",
        "proxy = 'http://alice:s3cr3tPassw0rd@proxy.example.org:8080'",
        "ftp://me:pass@ftp.site.net/",
    ],
)
def test_default_and_documentation_credentials_in_urls_are_not_reported(line: str) -> None:
    assert find_secrets(line + "\n", filename="settings.py") == []


# --- keywords ------------------------------------------------------------------

PASSWORD = "Tr0ub4dor&3x!q"
#: The sample token shown on jwt.io (payload: sub 1234567890, name John Doe).
JWT_IO_SAMPLE = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
    ".eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ"
    ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)
TOKEN = rand(40)


@pytest.mark.parametrize(
    ("filename", "text", "provider"),
    [
        ("app.py", f'password = "{PASSWORD}"', None),
        ("app.py", f'DB_PASSWORD = "{PASSWORD}"', None),
        ("app.py", f'db.connect(host="h", password="{PASSWORD}")', None),
        ("app.py", f'COHERE_API_KEY = "{TOKEN}"', "cohere"),
        ("app.py", f'mistral_api_key = "{TOKEN}"', "mistral"),
        ("app.py", f'HF_TOKEN = "{TOKEN}"', "huggingface"),
        ("app.py", f'headers = {{"x-api-key": "{TOKEN}"}}', None),
        ("app.js", f'const accessToken = "{TOKEN}";', None),
        ("settings.ini", f"password = {PASSWORD}", None),
        ("config.yaml", f"  secret_key: {TOKEN}", None),
        ("config.toml", f'api_key = "{TOKEN}"', None),
        ("creds.json", f'{{"client_secret": "{TOKEN}"}}', None),
        (".env", f"AZURE_OPENAI_API_KEY={TOKEN}", "azure_openai"),
        (".env", f"SOME_SERVICE={TOKEN}", None),
        ("deploy.env", f"export TOGETHER_KEY={TOKEN}", "together"),
        ("app.py", f'SIGNING_KEY = "{rand(32)}"', None),
        ("app.py", f"MY_VALUE = '{base64.b64encode(rand(48).encode()).decode()}'", None),
    ],
)
def test_a_value_assigned_to_a_secret_name_is_found(
    filename: str, text: str, provider: str | None
) -> None:
    hits = find_secrets(f"# config\n{text}\n", filename=filename)
    assert len(hits) == 1, hits
    assert hits[0].line == 2
    assert hits[0].provider_id == provider
    assert hits[0].secret_type in ("Secret Keyword", "Base64 High Entropy String")
    assert PASSWORD not in hits[0].redacted and TOKEN not in hits[0].redacted


@pytest.mark.parametrize(
    ("filename", "text"),
    [
        # placeholders
        ("app.py", 'api_key = "your-api-key-here"'),
        ("app.py", 'OPENAI_API_KEY = "sk-...xxxx"'),
        ("app.py", 'api_key = "<YOUR_API_KEY>"'),
        ("app.py", 'api_key = "${OPENAI_API_KEY}"'),
        ("app.py", 'api_key = "{{ api_key }}"'),
        ("app.py", 'password = "changeme123"'),
        ("app.py", 'password = "dummy-password-1"'),
        ("app.py", 'token = "fake_token_for_tests_1234567"'),
        ("app.py", 'api_key = "test-key-abcdef123456"'),
        ("app.py", 'API_KEY = "XXXXXXXXXXXXXXXXXXXXXXXX"'),
        ("app.py", 'secret = "****************"'),
        ("app.py", 'password = "aaaaaaaaaaaa"'),
        ("app.py", 'password = "example-password-9"'),
        ("app.py", 'password = "placeholder1A"'),
        ("app.py", 'password = "Ab1!"'),
        ("app.py", 'secret = "0123456789abcdef"'),
        ("app.py", 'api_key = "sk-ant-api03-' + "x" * 93 + 'AA"'),
        ("app.py", 'hf = "hf_' + "X" * 34 + '"'),
        ("app.py", 'aws = "AKIAIOSFODNN7EXAMPLE"'),
        ("app.py", f"auth = '{JWT_IO_SAMPLE}'"),
        # references, not values
        ("app.py", 'api_key = os.environ["OPENAI_API_KEY"]'),
        ("app.py", 'api_key = os.getenv("OPENAI_API_KEY")'),
        ("app.py", 'api_key_env = "OPENAI_API_KEY"'),
        ("app.py", 'API_KEY = "OPENAI_API_KEY"'),
        ("app.py", "password = settings.DATABASE_PASSWORD"),
        ("app.py", 'password = "settings.db.password_value"'),
        ("app.py", 'secret_file = "/run/secrets/db_password"'),
        ("app.py", 'key_path = "./keys/service-account.json"'),
        ("app.py", 'credentials = "credentials.json"'),
        ("app.py", 'token_url = "https://oauth2.googleapis.com/token"'),
        ("app.py", 'secret_name = "prod/billing/stripe-key"'),
        ("app.py", 'api_key_header = "X-Api-Key-Header"'),
        ("app.py", 'hashed_secret = "a2480a72004fc40d124495fd59f5b482034fbadd"'),
        ("app.py", 'password_hash = "$2b$12$' + rand(53, ALNUM + "./") + '"'),
        ("app.py", 'cache_key = "user-profile-v2-settings"'),
        ("app.py", 'session_id = "' + rand(32) + '"'),
        ("app.py", 'request_id = "203db13e-70c7-462b-9a3d-bf32640cb0be"'),
        ("app.py", 'password = "IAmSensitive"'),
        ("app.py", 'SECRET_KEY_NAME = "django-secret-key-name"'),
        # AI code that talks about tokens
        ("app.py", 'eos_token = "</s>"'),
        ("app.py", 'tokenizer = AutoTokenizer.from_pretrained("bert-base-uncased")'),
        ("app.py", "max_tokens = 1024"),
        ("app.py", 'pad_token = "[PAD]"'),
        ("app.py", 'model_key = "meta-llama/Llama-3.1-8B-Instruct"'),
        ("app.py", 'revision = "' + rand(40, HEX) + '"'),
        ("app.py", 'model_sha = "' + rand(64, HEX) + '"'),
        # prose
        ("README.md", "Set your password: it must be at least 12 characters long."),
        ("README.md", "The `api_key` parameter accepts a string."),
        ("app.py", 'msg = "the secret is to keep the token out of the code"'),
        ("config.ini", "password ="),
        ("config.yaml", "password: !Ref DatabasePasswordParameter"),
        ("app.py", 'if password == "":'),
        # lock files get no keyword detection
        ("package-lock.json", '"integrity": "sha512-' + rand(86, ALNUM + "+/") + '=="'),
        # an alphabet is not a key
        ("app.py", 'CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"'),
    ],
)
def test_placeholders_references_and_prose_are_not_secrets(filename: str, text: str) -> None:
    assert find_secrets(text + "\n", filename=filename) == []


def test_allowlist_pragmas_are_honoured() -> None:
    value = rand(32)
    assert (
        find_secrets(f'password = "{value}"  # pragma: allowlist secret\n', filename="a.py") == []
    )
    text = f'# pragma: allowlist nextline secret\npassword = "{value}"\n'
    assert find_secrets(text, filename="a.py") == []
    assert len(find_secrets(f'password = "{value}"\n', filename="a.py")) == 1


# --- hits -------------------------------------------------------------------------


def test_the_same_secret_gives_the_same_fingerprint_everywhere() -> None:
    key = "gsk_" + rand(48)
    other = "gsk_" + rand(48)
    a = find_secrets(f'GROQ = "{key}"\n', filename="a.py")
    b = find_secrets(f"\n\n  groq:\n    key: {key}\n", filename="b.yaml")
    c = find_secrets(f'GROQ = "{other}"\n', filename="a.py")
    assert a[0].fingerprint == b[0].fingerprint == secret_fingerprint(key)
    assert c[0].fingerprint != a[0].fingerprint
    assert (a[0].line, b[0].line) == (1, 4)


def test_line_numbers_count_crlf_and_blank_lines() -> None:
    key = "ghp_" + rand(36)
    text = "a = 1\r\n\r\n# comment\r\ntoken_value = 3\r\nGITHUB = '" + key + "'\r\nz = 2\r\n"
    hits = find_secrets(text, filename="x.py")
    assert [(h.line, h.secret_type) for h in hits] == [(5, "GitHub Token")]
    assert hits[0].redacted == "GITHUB = 'ghp_****'"


def test_two_secrets_on_one_line_are_two_hits_and_both_are_masked() -> None:
    k1, k2 = "ghp_" + rand(36), "sk_live_" + rand(24)
    hits = find_secrets(f"tokens = ['{k1}', '{k2}']\n", filename="x.py")
    assert sorted(h.secret_type for h in hits) == ["GitHub Token", "Stripe Access Key"]
    for h in hits:
        assert k1 not in h.redacted and k2 not in h.redacted
        assert k1[8:] not in h.redacted and k2[8:] not in h.redacted


def test_a_second_random_value_next_to_a_secret_is_masked_too() -> None:
    a, b = rand(32, HEX), rand(32, HEX)
    hits = find_secrets(f"SUPER_SECRET_VALUES = '{a}', '{b}'\n", filename="x.py")
    assert len(hits) == 1
    assert a not in hits[0].redacted and b not in hits[0].redacted


def test_redacted_line_is_short_and_centred_on_the_secret_in_a_long_line() -> None:
    key = "AIza" + rand(35)
    line = "var x=" + ";".join(f"f{i}()" for i in range(3000)) + f';k="{key}";' + "g();" * 500
    hits = find_secrets(line + "\n", filename="bundle.min.js")
    assert len(hits) == 1
    assert len(hits[0].redacted) <= 200
    assert "AIza****" in hits[0].redacted
    assert key not in hits[0].redacted


def test_a_hit_is_frozen_and_holds_no_secret() -> None:
    key = "xai-" + rand(80)
    hit = find_secrets(f"XAI = '{key}'\n", filename="a.py")[0]
    assert isinstance(hit, SecretHit)
    assert all(key[4:20] not in str(v) for v in vars(hit).values())
    with pytest.raises(AttributeError):
        hit.line = 3  # type: ignore[misc]


def test_empty_and_secret_free_text_yield_nothing() -> None:
    assert find_secrets("") == []
    assert find_secrets("def f(key):\n    return d[key]\n", filename="a.py") == []


def test_a_large_tree_sized_text_is_scanned_quickly() -> None:
    chunk = (
        "def handler(event, context):\n"
        "    key = event['key']\n"
        "    token_count = len(tokenizer(event['text']))\n"
        "    for k, v in sorted(d.items(), key=lambda kv: kv[1]):\n"
        '        log.info("secret rotation due for %s", k)\n'
        "    return {'statusCode': 200, 'body': json.dumps(result)}\n\n"
    )
    text = chunk * 3000  # 21,000 lines, ~830 kB
    key = "gsk_" + rand(48)
    text += f'GROQ_API_KEY = "{key}"\n'
    find_secrets("warm = 'up'", filename="a.py")
    start = time.perf_counter()
    hits = find_secrets(text, filename="big.py")
    elapsed = time.perf_counter() - start
    assert [h.line for h in hits] == [21001]
    assert elapsed < 2.0, f"{elapsed:.2f}s for {len(text)} characters"


# --- measured on public data ------------------------------------------------------

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "secrets_dev.jsonl"


@pytest.mark.skipif(not DATA.exists(), reason="shared evaluation data not present")
def test_line_level_precision_and_recall_on_detect_secrets_fixtures() -> None:
    """Measured: precision 0.90 (9 of 10), recall 0.43 (9 of 21).

    The 21 positive lines come from detect-secrets' baseline of its own
    fixtures. 12 are out of reach by design: 3 are empty or structural lines
    (the baseline's line numbers lag the fixture by one), 6 are bare
    high-entropy strings with no secret-ish name (``"2b00042f..."`` inside a
    diff, ``BEEF0123456789a`` on a continuation line, ``!!binary`` YAML), which
    only detect-secrets' standalone entropy plugins flag and which would flood
    a real code base with hashes, and 3 are deliberately dropped: AWS's
    documented example key ``AKIAIOSFODNN7EXAMPLE``, a ``hashed_secret``
    (a hash, not a secret) and a camel-case word used as a password. The one
    false positive (``real_secret_which_isnt_an_i_d = vh987...``) is a
    secret-named random value the baseline left out.
    """
    files: dict[str, dict[int, dict[str, object]]] = defaultdict(dict)
    for raw in DATA.read_text(encoding="utf-8").splitlines():
        row = json.loads(raw)
        files[str(row["file"])][int(row["line_number"])] = row
    tp = fp = fn = 0
    for name, rows in files.items():
        text = "\n".join(str(rows.get(i, {}).get("text", "")) for i in range(1, max(rows) + 1))
        flagged = {h.line for h in find_secrets(text, filename=name)}
        for number, row in rows.items():
            positive = bool(row["label"])
            tp += positive and number in flagged
            fp += (not positive) and number in flagged
            fn += positive and number not in flagged
    precision = tp / (tp + fp)
    recall = tp / (tp + fn)
    print(f"secrets_dev: precision {precision:.3f} recall {recall:.3f} (tp={tp} fp={fp} fn={fn})")
    assert precision >= 0.85
    assert recall >= 0.40
