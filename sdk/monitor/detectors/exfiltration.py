"""Data exfiltration in model outputs: secrets, PII, smuggling URLs, blobs, system prompts.

:class:`ExfiltrationDetector` reads what a model *sends out* — the response and the
arguments of the tools it calls — and reports five kinds of leak, one
:class:`~aiposture.monitor.models.Detection` per kind and event:

* **secrets** — :func:`aiposture.discovery.secrets.find_secrets` (detect-secrets'
  plugins plus our own AI-provider formats and keyword rules). Spans are exact: the
  secret's position is recovered by matching its fingerprint against the line's
  substrings, so the value itself is never held outside that function.
* **PII** — presidio-analyzer's pattern recognisers (e-mail, IBAN with its mod-97
  check, IP addresses, phone numbers through ``phonenumbers``, US SSN), called
  directly without presidio's NLP engine, so no spaCy model is ever loaded or
  downloaded; credit cards through our own recogniser (all ISO/IEC 7812 major-network
  prefixes, 12-19 digits, Luhn check), since presidio's pattern misses 2-series
  Mastercard, 19-digit Visa and 15-digit JCB numbers. Names, organisations and places
  need NER and are not covered.
* **smuggling URLs** — markdown images and links, reference definitions and HTML
  ``img``/``a`` tags whose URL points to a host outside the allow-list and carries data
  in its query or path: long encoded values, or values holding a secret, PII or a
  piece of the prompt or system prompt. Images are worse than links: a client renders
  them without a click.
* **encoded blobs** — long base64 or hex runs that decode cleanly.
* **system-prompt repetition** — runs of at least ``min_system_words`` words shared
  with ``event.system`` (word 6-gram shingles, case and punctuation ignored).

Evidence names only the kind of data and where it is, never the value.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any, ClassVar, Self
from urllib.parse import parse_qsl, unquote, urlsplit

from aiposture.discovery.observe import secret_fingerprint
from aiposture.discovery.secrets import find_secrets
from aiposture.models import Severity
from aiposture.monitor.base import Detector
from aiposture.monitor.models import Detection, Event, Span

if TYPE_CHECKING:
    from aiposture.settings import Settings

__all__ = ["PII_ENTITIES", "ExfiltrationDetector", "find_pii"]

#: PII entity types the detector recognises (everything else needs NER).
PII_ENTITIES: tuple[str, ...] = (
    "CREDIT_CARD",
    "EMAIL_ADDRESS",
    "IBAN_CODE",
    "IP_ADDRESS",
    "PHONE_NUMBER",
    "US_SSN",
)
#: PII types whose leak is severe on its own.
_SEVERE_PII = frozenset({"CREDIT_CARD", "IBAN_CODE", "US_SSN"})

_LLM02 = "owasp-llm:LLM02"
_LLM07 = "owasp-llm:LLM07"
#: MITRE ATLAS AML.T0057 "LLM Data Leakage" and AML.T0056 "Extract LLM System Prompt".
_ATLAS_LEAK = "atlas:AML.T0057"
_ATLAS_SYSPROMPT = "atlas:AML.T0056"


@dataclass(frozen=True)
class _Hit:
    field: str
    start: int
    end: int
    label: str
    score: float


# --------------------------------------------------------------------------
# PII


class _PiiEngine:
    """Presidio pattern recognisers (built once per process) plus our own card check.

    Every recogniser is gated by a cheap necessary condition on the text (an ``@`` for
    e-mail, a dotted quad or ``::`` for IP addresses, ...), so a text that cannot hold
    an entity never meets its recogniser; the gates only skip work, never change what
    is found.
    """

    def __init__(self) -> None:
        from presidio_analyzer.predefined_recognizers import (
            EmailRecognizer,
            IbanRecognizer,
            IpRecognizer,
            UsSsnRecognizer,
        )

        tld = _offline_tld_extractor()

        class _OfflineEmail(EmailRecognizer):
            # presidio's own check fetches the public-suffix list over the network.
            def validate_result(self, pattern_text: str) -> bool:
                return bool(tld(pattern_text.rsplit("@", 1)[-1]).suffix)

        self.email: Any = _OfflineEmail()
        self.iban: Any = IbanRecognizer()
        self.ip: Any = IpRecognizer()
        self.ssn: Any = UsSsnRecognizer()

    def find(self, text: str, entities: frozenset[str]) -> list[tuple[str, int, int, float]]:
        """Every entity but phone numbers (see :func:`_phones`), gated per type."""
        out: list[tuple[str, int, int, float]] = []
        digits = _count_digits(text)
        ipv4 = _IPV4_GATE.search(text) is not None
        ipv6 = _ipv6_gate(text)
        plan: list[tuple[str, Any, bool, list[_Run] | None]] = [
            ("EMAIL_ADDRESS", self.email, "@" in text, [_EMAIL_RUN]),
            (
                "IBAN_CODE",
                self.iban,
                digits >= 10 and _IBAN_GATE.search(text) is not None,
                None,
            ),
            (
                "IP_ADDRESS",
                self.ip,
                ipv4 or ipv6,
                [r for r, on in ((_IPV4_RUN, ipv4), (_IPV6_RUN, ipv6)) if on],
            ),
            (
                "US_SSN",
                self.ssn,
                digits >= 9 and _SSN_GATE.search(text) is not None,
                [_SSN_RUN],
            ),
        ]
        for entity, recognizer, gate, runs in plan:
            if entity not in entities or not gate:
                continue
            pieces = [(0, len(text), 0, len(text))] if runs is None else _runs(text, runs)
            for ws, we, rs, re_ in pieces:
                for res in recognizer.analyze(text[ws:we], [entity], None):
                    start, end = ws + int(res.start), ws + int(res.end)
                    if rs <= start and end <= re_:
                        out.append((entity, start, end, float(res.score)))
        if "CREDIT_CARD" in entities and digits >= 12:
            out.extend(_credit_cards(text))
        return out


_IBAN_GATE = re.compile(r"[A-Z]{2}\d{2}")
#: Necessary conditions of presidio's patterns: every US_SSN pattern holds three digits,
#: an optional separator and two digits; every IPv4 form a dotted run of four numbers;
#: every IPv6 form ``::`` or six hex groups ending in ``:``.
_SSN_GATE = re.compile(r"\d{3}[- .]?\d{2}")
_IPV4_GATE = re.compile(r"\d\.\d{1,3}\.\d{1,3}\.\d")
_IPV6_GATE = re.compile(r"(?:[0-9A-Fa-f]{1,4}:){6}")
_ASCII_DIGITS = "0123456789"

#: A match of an entity's presidio patterns lies inside one maximal run of the characters
#: those patterns are made of, and holds the anchor of the entity's gate. Each recogniser
#: reads only the runs holding an anchor, plus :data:`_PAD` characters of context for its
#: look-arounds and ``\\b``, not the whole text: presidio's e-mail and IPv6 expressions
#: cost about a millisecond on a 200-token text. ``(anchor, run characters)``.
_Run = tuple[re.Pattern[str], re.Pattern[str]]
_EMAIL_RUN = (re.compile("@"), re.compile(r"\S"))
_IP_CHARS = re.compile(r"[\w:.%/]")
_IPV4_RUN = (re.compile(r"\d\.\d{1,3}\.\d{1,3}\.\d"), _IP_CHARS)
_IPV6_RUN = (re.compile(r"::|(?<![0-9A-Fa-f])(?:[0-9A-Fa-f]{1,4}:){6}"), _IP_CHARS)
_SSN_RUN = (re.compile(r"\d{3}[- .]?\d{2}"), re.compile(r"[\d .-]"))
_PAD = 2


def _runs(text: str, runs: list[_Run]) -> list[tuple[int, int, int, int]]:
    """``(window start, window end, run start, run end)`` of the runs holding an anchor."""
    n = len(text)
    found: dict[tuple[int, int], None] = {}
    for anchor, char in runs:
        end = -1
        for m in anchor.finditer(text):
            if m.start() < end:
                continue
            start = m.start()
            while start > 0 and char.match(text, start - 1):
                start -= 1
            end = m.end()
            while end < n and char.match(text, end):
                end += 1
            found[(start, end)] = None
    return [(max(0, s - _PAD), min(n, e + _PAD), s, e) for s, e in sorted(found)]


def _ipv6_gate(text: str) -> bool:
    return "::" in text or (text.count(":") >= 6 and _IPV6_GATE.search(text) is not None)


def _count_digits(text: str) -> int:
    """``sum(c.isdigit() for c in text)``, at C speed for ASCII text."""
    if text.isascii():
        return sum(text.count(d) for d in _ASCII_DIGITS)
    return sum(c.isdigit() for c in text)


# ---------------------------------------------------------------- phones
#
# presidio's PhoneRecognizer runs one ``phonenumbers.PhoneNumberMatcher`` per region
# over the whole text: about 0.1 ms per region even on a short window, most of the
# detector's time. The same matching (same regions, same leniency, same score, same
# removal of contained duplicates) is done here on the digit runs that may hold a phone
# only, with three savings that never change the result: a window whose digits all lie
# inside a more confident PII span is skipped (its phones would lose the overlap), an
# international ``+`` number that one region accepts whole is accepted by all (``+``
# numbers parse and validate the same whatever the default region), and windows
# already seen are remembered (bounded).

#: Digit runs that may hold a phone number: the phone matchers only see these.
_PHONE_RUN = re.compile(r"[+(]?\d[\d \t().\-/]{5,30}\d")
_PHONE_MIN_DIGITS = 7
_PHONE_CACHE = 4096


def _phone_windows(text: str) -> Iterator[tuple[int, int, int, int]]:
    """``(window start, window end, run start, run end)``: each run and a character around."""
    for m in _PHONE_RUN.finditer(text):
        if _count_digits(m.group(0)) >= _PHONE_MIN_DIGITS:
            yield max(0, m.start() - 1), min(len(text), m.end() + 1), m.start(), m.end()


@cache
def _phone_setup() -> tuple[tuple[str, ...], int, float]:
    """(regions, leniency, score) as presidio's PhoneRecognizer uses them by default."""
    from presidio_analyzer.predefined_recognizers import PhoneRecognizer

    default = PhoneRecognizer()
    leniency = default.leniency if default.leniency is not None else 1
    return (
        tuple(default.supported_regions),
        int(leniency),
        float(PhoneRecognizer.SCORE),
    )


def _phone_score() -> float:
    return _phone_setup()[2]


def _region_matches(window: str, region: str) -> list[tuple[int, int]]:
    import phonenumbers

    leniency = _phone_setup()[1]
    return [(m.start, m.end) for m in phonenumbers.PhoneNumberMatcher(window, region, leniency)]


@lru_cache(maxsize=_PHONE_CACHE)
def _window_phones(window: str, plus_run: tuple[int, int] | None) -> tuple[tuple[int, int], ...]:
    """Phone spans in ``window``: the union over the regions, contained spans removed.

    ``plus_run`` is the digit run's span in the window when the run is an international
    number (a ``+`` with nothing before it that could start another candidate).
    """
    regions = _phone_setup()[0]
    first = _region_matches(window, regions[0])
    if plus_run is not None and first == [plus_run]:
        return (plus_run,)
    spans = set(first)
    for region in regions[1:]:
        spans.update(_region_matches(window, region))
    return tuple(
        sorted(s for s in spans if not any(o != s and o[0] <= s[0] and s[1] <= o[1] for o in spans))
    )


#: Characters that may start a phonenumbers candidate (digits aside).
_CANDIDATE_LEAD = frozenset("+\uff0b(\uff08[\uff3b")


def _phones(text: str, strong: Sequence[tuple[int, int]]) -> list[tuple[str, int, int, float]]:
    """Phone numbers in ``text``, skipping windows whose digits all lie inside ``strong``."""
    score = _phone_score()
    out: list[tuple[str, int, int, float]] = []
    for ws, we, rs, re_ in _phone_windows(text):
        if strong and all(
            any(s <= i < e for s, e in strong) for i in range(ws, we) if text[i].isdigit()
        ):
            continue
        lead = text[ws:rs]
        plus_run = None
        if text[rs] == "+" and not any(c.isdigit() or c in _CANDIDATE_LEAD for c in lead):
            plus_run = (rs - ws, re_ - ws)
        for s, e in _window_phones(text[ws:we], plus_run):
            out.append(("PHONE_NUMBER", ws + s, ws + e, score))
    return out


@cache
def _offline_tld_extractor() -> Any:
    import tldextract

    return tldextract.TLDExtract(cache_dir=None, suffix_list_urls=(), fallback_to_snapshot=True)


@cache
def _pii_engine() -> _PiiEngine:
    return _PiiEngine()


_CARD = re.compile(r"(?<![\w.+-])[2-6](?:[ -]?\d){11,18}(?![\w-]|\.\d)")


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _credit_cards(text: str) -> Iterator[tuple[str, int, int, float]]:
    for m in _CARD.finditer(text):
        raw = m.group(0)
        seps = {c for c in raw if not c.isdigit()}
        if len(seps) > 1:
            continue
        digits = raw.replace(" ", "").replace("-", "")
        if len(set(digits)) < 2 or not _luhn(digits):
            continue
        # 12-digit Maestro numbers are rare; a Luhn-valid 12-digit run is often not a card.
        score = 0.9 if len(digits) >= 13 else 0.5
        yield ("CREDIT_CARD", m.start(), m.end(), score)


def find_pii(
    text: str, *, entities: Iterable[str] = PII_ENTITIES, min_score: float = 0.3
) -> list[tuple[str, int, int, float]]:
    """PII spans in ``text``: ``(entity_type, start, end, score)``, overlaps resolved.

    Where two recognisers claim overlapping text the more confident (then the longer)
    span wins, so an IP address is not also reported as a phone number.

    Args:
        text: The text to search.
        entities: Entity types to look for (a subset of :data:`PII_ENTITIES`).
        min_score: Spans scored below this are dropped.
    """
    if not text:
        return []
    wanted = frozenset(entities)
    found = [h for h in _pii_engine().find(text, wanted) if h[3] >= min_score]
    phone_score = _phone_score()
    if "PHONE_NUMBER" in wanted and phone_score >= min_score and _count_digits(text) >= 7:
        # Spans more confident than a phone are settled before any phone is looked at.
        strong = [(h[1], h[2]) for h in _resolve([h for h in found if h[3] > phone_score])]
        found += _phones(text, strong)
    return sorted(_resolve(found), key=lambda h: h[1])


def _resolve(found: list[tuple[str, int, int, float]]) -> list[tuple[str, int, int, float]]:
    """The spans that win their overlaps: more confident first, then longer, then earlier."""
    kept: list[tuple[str, int, int, float]] = []
    for hit in sorted(found, key=lambda h: (-h[3], -(h[2] - h[1]), h[1])):
        if not any(hit[1] < k[2] and k[1] < hit[2] for k in kept):
            kept.append(hit)
    return kept


# --------------------------------------------------------------------------
# Secrets


_BOUNDARY = re.compile(r"[^A-Za-z0-9+/_=.~-]")


def _secret_spans(text: str) -> list[tuple[str, int, int]]:
    """``(secret_type, start, end)`` for every secret in ``text``.

    The offsets are recovered from the fingerprint: the substring of the hit's line
    whose fingerprint matches (cut at token boundaries first, then anywhere); when none
    matches (a multi-line private key), the whole stripped line.
    """
    hits = find_secrets(text)
    if not hits:
        return []
    line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
    out: list[tuple[str, int, int]] = []
    for hit in hits:
        lstart = line_starts[hit.line - 1]
        lend = text.find("\n", lstart)
        lend = len(text) if lend < 0 else lend
        line = text[lstart:lend]
        where = _locate(line, hit.fingerprint)
        if where is None:
            stripped = line.strip()
            lead = line.find(stripped) if stripped else 0
            where = (lead, lead + len(stripped))
        out.append((hit.secret_type, lstart + where[0], lstart + where[1]))
    return out


def _locate(line: str, fingerprint: str) -> tuple[int, int] | None:
    cuts = sorted({0, len(line)} | {m.start() for m in _BOUNDARY.finditer(line)})
    cuts = sorted(set(cuts) | {c + 1 for c in cuts if c < len(line)})
    for pool in (cuts, range(len(line) + 1) if len(line) <= 300 else ()):
        points = list(pool)
        for i, s in enumerate(points):
            for e in points[i + 1 :]:
                if e - s >= 8 and secret_fingerprint(line[s:e]) == fingerprint:
                    return s, e
    return None


# --------------------------------------------------------------------------
# URLs


_MD_IMAGE = re.compile(r"!\[[^\]\n]{0,500}\]\(\s*<?([^)\s>]+)>?(?:\s+[\"'][^\n]*?[\"'])?\s*\)")
_MD_LINK = re.compile(r"(?<!!)\[[^\]\n]{0,500}\]\(\s*<?([^)\s>]+)>?(?:\s+[\"'][^\n]*?[\"'])?\s*\)")
_MD_REF = re.compile(r"^[ \t]{0,3}\[[^\]\n]+\]:[ \t]*<?(\S+?)>?(?:[ \t]+.*)?$", re.MULTILINE)
_HTML_IMG = re.compile(r"<img\b[^>]*?\bsrc\s*=\s*[\"']?([^\"'\s>]+)", re.IGNORECASE)
_HTML_A = re.compile(r"<a\b[^>]*?\bhref\s*=\s*[\"']?([^\"'\s>]+)", re.IGNORECASE)
_URL_KINDS: tuple[tuple[re.Pattern[str], str], ...] = (
    (_MD_IMAGE, "image"),
    (_HTML_IMG, "image"),
    (_MD_REF, "link"),
    (_MD_LINK, "link"),
    (_HTML_A, "link"),
)
_ENCODED_VALUE = re.compile(r"[A-Za-z0-9+/_=%.-]+")
_WORDY = re.compile(r"[a-z]+(?:[-_.][a-z]+)*")


def _entropy(value: str) -> float:
    counts = Counter(value)
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


def _looks_encoded(value: str, min_len: int) -> bool:
    """A long value that reads as data (base64, hex, percent-encoded text), not words."""
    if len(value) < min_len or _WORDY.fullmatch(value):
        return False
    if "%" in value and value.count("%") * 3 >= len(value) // 3:
        return True
    return bool(_ENCODED_VALUE.fullmatch(value)) and _entropy(value) >= 3.5


def _decoded(value: str) -> str:
    """The value percent-decoded, and base64-decoded when that gives text."""
    text = unquote(value)
    compact = text.strip().rstrip("=")
    if len(compact) >= 8 and re.fullmatch(r"[A-Za-z0-9+/_-]+", compact):
        try:
            raw = base64.urlsafe_b64decode(
                compact.replace("+", "-").replace("/", "_") + "=" * (-len(compact) % 4)
            )
            as_text = raw.decode("utf-8")
            if as_text.isprintable() or "\n" in as_text:
                return text + "\n" + as_text
        except (binascii.Error, UnicodeDecodeError, ValueError):
            pass
    return text


# --------------------------------------------------------------------------
# Blobs


_B64_RUN = re.compile(r"(?<![A-Za-z0-9+/_-])[A-Za-z0-9+/_-]{32,}={0,2}")
_HEX_RUN = re.compile(r"(?<![0-9A-Za-z])[0-9a-fA-F]{32,}(?![0-9A-Za-z])")


def _blob_kind(run: str, min_b64: int, min_hex: int) -> str | None:
    body = run.rstrip("=")
    if re.fullmatch(r"[0-9a-fA-F]+", body):
        return "HEX_BLOB" if len(body) >= min_hex and len(body) % 2 == 0 else None
    if len(body) < min_b64:
        return None
    if not (any(c.isdigit() for c in body) and any(c.isupper() for c in body)):
        return None
    if not any(c.islower() for c in body) or _entropy(body) < 4.0:
        return None
    try:
        base64.b64decode(
            body.replace("-", "+").replace("_", "/") + "=" * (-len(body) % 4), validate=True
        )
    except (binascii.Error, ValueError):
        return None
    return "BASE64_BLOB"


# --------------------------------------------------------------------------
# System prompt


_WORD = re.compile(r"\w+")
_SHINGLE = 6


def _system_runs(text: str, system_words: Sequence[str], min_words: int) -> list[tuple[int, int]]:
    """Character spans of ``text`` repeating at least ``min_words`` words of the system."""
    if len(system_words) < _SHINGLE:
        return []
    grams = {tuple(system_words[i : i + _SHINGLE]) for i in range(len(system_words) - _SHINGLE + 1)}
    firsts = {g[0] for g in grams}
    # most responses share no six-word run with the system prompt: compare words first,
    # and find their character offsets only when one run matched
    lowered = _WORD.findall(text.lower()) if text.isascii() else None
    if lowered is None:
        lowered = [m.group(0).lower() for m in _WORD.finditer(text)]
    covered = [False] * len(lowered)
    found = False
    for i in range(len(lowered) - _SHINGLE + 1):
        if lowered[i] in firsts and tuple(lowered[i : i + _SHINGLE]) in grams:
            found = True
            for j in range(i, i + _SHINGLE):
                covered[j] = True
    if not found:
        return []
    words = [(m.start(), m.end()) for m in _WORD.finditer(text)]
    runs: list[tuple[int, int]] = []
    i = 0
    while i < len(words):
        if not covered[i]:
            i += 1
            continue
        j = i
        while j + 1 < len(words) and covered[j + 1]:
            j += 1
        if j - i + 1 >= min(min_words, len(system_words)):
            runs.append((words[i][0], words[j][1]))
        i = j + 1
    return runs


# --------------------------------------------------------------------------
# The detector


class ExfiltrationDetector(Detector):
    """Secrets, PII, data-carrying URLs, encoded blobs and system-prompt leaks in outputs.

    Args:
        allowed_hosts: Hosts that may receive data (images and links to them are never
            flagged); an entry also allows its subdomains.
        pii_entities: PII types to report (default: all of :data:`PII_ENTITIES`).
        min_pii_score: Recogniser confidence below which a PII span is ignored.
        min_url_value: Length from which a query or path value counts as encoded data.
        min_base64: Length (without padding) from which a base64 run is a blob.
        min_hex: Length from which a hex run is a blob (64 lets SHA-256 digests pass).
        min_system_words: Words a response must share in a row with the system prompt.
        max_chars: Longer texts are only inspected up to this many characters.
    """

    id: ClassVar[str] = "AIP-DET-EXFIL"
    description: ClassVar[str] = (
        "Secrets, PII, data-carrying markdown images and links, encoded blobs and "
        "system-prompt repetition in model responses and tool-call arguments."
    )
    frameworks: ClassVar[tuple[str, ...]] = (_LLM02, _LLM07, _ATLAS_LEAK, _ATLAS_SYSPROMPT)
    severity: ClassVar[Severity] = Severity.HIGH
    needs_embeddings: ClassVar[bool] = False

    def __init__(
        self,
        *,
        allowed_hosts: Iterable[str] = (),
        pii_entities: Iterable[str] = PII_ENTITIES,
        min_pii_score: float = 0.3,
        min_url_value: int = 24,
        min_base64: int = 80,
        min_hex: int = 96,
        min_system_words: int = 10,
        max_chars: int = 200_000,
    ) -> None:
        self.allowed_hosts = tuple(h.lower().strip(".") for h in allowed_hosts if h.strip("."))
        self.pii_entities = frozenset(pii_entities)
        unknown = self.pii_entities - set(PII_ENTITIES)
        if unknown:
            raise ValueError(f"PII entity types not supported: {sorted(unknown)}")
        self.min_pii_score = min_pii_score
        self.min_url_value = min_url_value
        self.min_base64 = min_base64
        self.min_hex = min_hex
        self.min_system_words = min_system_words
        self.max_chars = max_chars

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        """The detector with ``[monitor] allowed_hosts``."""
        return cls(allowed_hosts=settings.monitor.allowed_hosts)

    # ---------------------------------------------------------------- public

    def detect(
        self, event: Event, *, embeddings: Sequence[Sequence[float]] | None = None
    ) -> list[Detection]:
        """Detections for the response and tool-call arguments of ``event``.

        Offsets of ``tool_calls[i]`` spans are in that call's ``arguments``.
        """
        fields = [("response", event.response)] + [
            (f"tool_calls[{i}]", call.arguments) for i, call in enumerate(event.tool_calls)
        ]
        fields = [(name, text[: self.max_chars]) for name, text in fields if text]
        if not fields:
            return []
        context = [t for t in (event.prompt, event.system or "") if t]
        system_words = [w.lower() for w in _WORD.findall(event.system or "")]

        secrets: list[_Hit] = []
        pii: list[_Hit] = []
        urls: list[tuple[_Hit, str]] = []
        blobs: list[_Hit] = []
        leaks: list[_Hit] = []
        for name, text in fields:
            secrets.extend(
                _Hit(name, s, e, kind, 0.95 if kind != "Secret Keyword" else 0.8)
                for kind, s, e in _secret_spans(text)
            )
            pii.extend(
                _Hit(name, s, e, kind, score)
                for kind, s, e, score in find_pii(
                    text, entities=self.pii_entities, min_score=self.min_pii_score
                )
            )
            urls.extend(self._urls(name, text, context))
            taken = [(h.start, h.end) for h in secrets if h.field == name]
            taken += [(h.start, h.end) for h, _ in urls if h.field == name]
            blobs.extend(self._blobs(name, text, taken))
            leaks.extend(
                _Hit(name, s, e, "SYSTEM_PROMPT", 1.0)
                for s, e in _system_runs(text, system_words, self.min_system_words)
            )

        out: list[Detection] = []
        if secrets:
            out.append(self._secret_detection(event, secrets))
        if pii:
            out.append(self._pii_detection(event, pii))
        if urls:
            out.append(self._url_detection(event, urls))
        if blobs:
            out.append(self._blob_detection(event, blobs))
        if leaks:
            out.append(self._system_detection(event, leaks, len(system_words)))
        return out

    # ------------------------------------------------------------- internals

    def _allowed(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        return any(host == a or host.endswith("." + a) for a in self.allowed_hosts)

    def _urls(self, name: str, text: str, context: list[str]) -> Iterator[tuple[_Hit, str]]:
        seen: set[int] = set()
        for pattern, kind in _URL_KINDS:
            for m in pattern.finditer(text):
                start, end = m.span(1)
                if start in seen:
                    continue
                seen.add(start)
                reason = self._carried_data(m.group(1), context)
                if reason is None:
                    continue
                score, carried = reason
                label = "EXFIL_IMAGE_URL" if kind == "image" else "EXFIL_LINK_URL"
                if kind == "link":
                    score = min(score, 0.8)
                yield _Hit(name, start, end, label, score), carried

    def _carried_data(self, url: str, context: list[str]) -> tuple[float, str] | None:
        """(score, what the URL carries) when it sends data to a host not allowed."""
        try:
            parts = urlsplit(url.strip())
        except ValueError:
            return None
        host = (parts.hostname or "").lower()
        if parts.scheme.lower() not in ("http", "https", "") or not host or self._allowed(host):
            return None
        values = [v for _, v in parse_qsl(parts.query, keep_blank_values=True)]
        values += [p for p in parts.path.split("/") if p]
        if parts.fragment:
            values.append(parts.fragment)
        best: tuple[float, str] | None = None
        for raw in values:
            found = self._value_reason(raw, context)
            if found and (best is None or found[0] > best[0]):
                best = found
        if best is None:
            return None
        return best[0], f"{best[1]} to {host}"

    def _value_reason(self, raw: str, context: list[str]) -> tuple[float, str] | None:
        decoded = _decoded(raw)
        if find_secrets(decoded):
            return 1.0, "a secret"
        pii = find_pii(decoded, entities=self.pii_entities, min_score=0.5)
        if pii:
            return 0.98, f"PII ({pii[0][0]})"
        plain = unquote(raw)
        if len(plain) >= 12 and any(plain in c for c in context):
            return 0.95, f"{len(plain)} characters of the conversation"
        for piece in decoded.split("\n")[1:]:
            if len(piece) >= 12 and any(piece in c for c in context):
                return 0.95, f"{len(piece)} encoded characters of the conversation"
        if _looks_encoded(raw, self.min_url_value):
            return 0.85, f"an encoded value of {len(raw)} characters"
        return None

    def _blobs(self, name: str, text: str, taken: list[tuple[int, int]]) -> Iterator[_Hit]:
        runs = [m.span() for m in _B64_RUN.finditer(text)]
        runs += [m.span() for m in _HEX_RUN.finditer(text) if m.span() not in runs]
        for s, e in sorted(runs):
            if any(s < te and ts < e for ts, te in taken):
                continue
            kind = _blob_kind(text[s:e], self.min_base64, self.min_hex)
            if kind is None:
                continue
            floor = self.min_hex if kind == "HEX_BLOB" else self.min_base64
            score = min(0.9, 0.5 + 0.4 * math.log2((e - s) / floor) / 3)
            yield _Hit(name, s, e, kind, round(score, 3))

    def _detection(
        self,
        event: Event,
        hits: list[_Hit],
        *,
        title: str,
        severity: Severity,
        tags: list[str],
        evidence: list[str],
        figures: dict[str, float] | None = None,
    ) -> Detection:
        return Detection(
            detector=self.id,
            event_id=event.id,
            score=max(h.score for h in hits),
            severity=severity,
            title=title,
            evidence=evidence,
            spans=[Span(field=h.field, start=h.start, end=h.end, label=h.label) for h in hits],
            tags=tags,
            figures={"count": float(len(hits)), **(figures or {})},
        )

    def _secret_detection(self, event: Event, hits: list[_Hit]) -> Detection:
        return self._detection(
            event,
            hits,
            title=f"Output carries {_plural(len(hits), 'secret')}",
            severity=Severity.HIGH,
            tags=["secret", _LLM02, _ATLAS_LEAK],
            evidence=[f"{h.label} at {h.field}[{h.start}:{h.end}]" for h in hits],
        )

    def _pii_detection(self, event: Event, hits: list[_Hit]) -> Detection:
        kinds = Counter(h.label for h in hits)
        severe = any(k in _SEVERE_PII for k in kinds)
        return self._detection(
            event,
            hits,
            title="Output carries personal data: "
            + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())),
            severity=Severity.HIGH if severe else Severity.MEDIUM,
            tags=["pii", _LLM02, _ATLAS_LEAK],
            evidence=[f"{h.label} at {h.field}[{h.start}:{h.end}]" for h in hits],
        )

    def _url_detection(self, event: Event, urls: list[tuple[_Hit, str]]) -> Detection:
        hits = [h for h, _ in urls]
        images = sum(h.label == "EXFIL_IMAGE_URL" for h in hits)
        sensitive = any(h.score >= 0.95 for h in hits)
        what = "markdown image" if images else "link"
        return self._detection(
            event,
            hits,
            title=f"Output sends data to an outside host through a {what}",
            severity=Severity.CRITICAL if sensitive and images else Severity.HIGH,
            tags=["exfiltration-url", _LLM02, _ATLAS_LEAK],
            evidence=[
                f"{'image' if h.label == 'EXFIL_IMAGE_URL' else 'link'} at "
                f"{h.field}[{h.start}:{h.end}] carries {carried}"
                for h, carried in urls
            ],
            figures={"images": float(images)},
        )

    def _blob_detection(self, event: Event, hits: list[_Hit]) -> Detection:
        return self._detection(
            event,
            hits,
            title=f"Output carries {_plural(len(hits), 'encoded blob')}",
            severity=Severity.MEDIUM,
            tags=["encoded-blob", _LLM02],
            evidence=[
                f"{h.label} of {h.end - h.start} characters at {h.field}[{h.start}:{h.end}]"
                for h in hits
            ],
            figures={"largest": float(max(h.end - h.start for h in hits))},
        )

    def _system_detection(self, event: Event, hits: list[_Hit], system_len: int) -> Detection:
        repeated = sum(
            len(_WORD.findall(_field_text(event, h.field)[h.start : h.end])) for h in hits
        )
        share = min(1.0, repeated / system_len)
        longest = max(
            len(_WORD.findall(_field_text(event, h.field)[h.start : h.end])) for h in hits
        )
        hits = [_Hit(h.field, h.start, h.end, h.label, round(0.6 + 0.4 * share, 3)) for h in hits]
        return self._detection(
            event,
            hits,
            title="Output repeats the system prompt",
            severity=Severity.HIGH if share >= 0.5 else Severity.MEDIUM,
            tags=["system-prompt-leak", _LLM07, _ATLAS_SYSPROMPT],
            evidence=[
                f"{share:.0%} of the system prompt's {system_len} words repeated; "
                f"longest run {longest} words"
            ]
            + [f"repeated at {h.field}[{h.start}:{h.end}]" for h in hits],
            figures={"system_share": round(share, 4), "longest_run_words": float(longest)},
        )


def _field_text(event: Event, field: str) -> str:
    if field == "response":
        return event.response
    return event.tool_calls[int(field[len("tool_calls[") : -1])].arguments


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
