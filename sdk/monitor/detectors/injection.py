"""Prompt injection and jailbreak detection: heuristics, exemplar similarity and a classifier.

:func:`scan_prompt` scores one text from 0 (benign) to 1 (injection) by combining three
signals:

1. **Heuristics**: cheap regular-expression features, each with a weight: instruction
   override, new-rules announcements, jailbreak personas, system-prompt extraction,
   delimiter spoofing (fake chat-template tokens and role markers), text addressed to an AI
   inside a document, concealment from the user, exfiltration instructions, claimed
   authority, and obfuscation (base64 or hex blobs whose decoded text carries an attack,
   leetspeak, spaced-out or reversed letters, homoglyphs, invisible zero-width, bidi and
   Unicode tag characters; hidden text is decoded and scanned as well). The fired weights
   combine by noisy-OR into one heuristic score.
2. **Similarity**: the largest cosine between the text's embedding and the attack
   exemplars, and the largest with the benign exemplars, each searched in a
   :class:`~aiposture.embeddings.index.FaissIndex`.
3. **Classifier**: a logistic regression over embeddings trained on the exemplars (numpy,
   Newton's method).

A small logistic combiner turns the three into one calibrated probability. It is fitted
on out-of-fold values of the similarity and classifier features over the exemplars only
(never on evaluation data), so it does not learn to trust the exemplars' perfect
self-similarity. Everything is trained at first use and cached per process.

The exemplars ship in ``aiposture/data/injection_exemplars.yaml``; users add corpora in
the same format (``attacks`` with ``family`` and ``text``, ``benign`` with ``kind`` and
``text``) through ``corpora=``.

:class:`PromptInjectionDetector` scans an event's prompt, retrieved documents and tool
results (indirect injection), each reported with its field name in the detection's span.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
import re
import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import numpy.typing as npt
import yaml

from aiposture.errors import ConfigError
from aiposture.models import Severity
from aiposture.monitor.base import Detector
from aiposture.monitor.models import Detection, Event, Span

if TYPE_CHECKING:
    from aiposture.embeddings.embedder import Embedder
    from aiposture.embeddings.index import FaissIndex

__all__ = [
    "DEFAULT_THRESHOLD",
    "Exemplar",
    "HeuristicHit",
    "InjectionModel",
    "InjectionScan",
    "PromptInjectionDetector",
    "get_model",
    "heuristic_hits",
    "heuristic_score",
    "load_exemplars",
    "scan_prompt",
    "split_holdout",
]

#: Score at or above which a text is labelled ``injection``.
DEFAULT_THRESHOLD = 0.5
#: Heuristics look at this many characters of a text at most (its start and its end).
MAX_SCAN_CHARS = 100_000
#: Folds of the out-of-fold features the combiner is fitted on.
_FOLDS = 5
_LOGIT_CLIP = 12.0

# --- exemplars -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Exemplar:
    """One labelled example text of the corpus.

    Attributes:
        id: Stable id (``atk-<family>-NNN`` or ``ben-<kind>-NNN``, prefixed by the corpus
            name for user corpora).
        text: The text.
        label: 1 for an attack, 0 for benign.
        family: Attack family (override, roleplay, extraction, obfuscation, indirect) or
            benign kind.
    """

    id: str
    text: str
    label: int
    family: str


def _parse_corpus(data: Any, name: str, prefix: str) -> list[Exemplar]:
    if not isinstance(data, dict):
        raise ConfigError(f"exemplar corpus {name}: expected a mapping at the top level")
    out: list[Exemplar] = []
    for key, label, attr, short in (("attacks", 1, "family", "atk"), ("benign", 0, "kind", "ben")):
        rows = data.get(key, [])
        if not isinstance(rows, list):
            raise ConfigError(f"exemplar corpus {name}: '{key}' must be a list")
        counts: dict[str, int] = {}
        for number, row in enumerate(rows):
            if not isinstance(row, dict) or not isinstance(row.get("text"), str):
                raise ConfigError(f"exemplar corpus {name}: {key}[{number}] needs a 'text' string")
            text = row["text"].strip()
            if not text:
                raise ConfigError(f"exemplar corpus {name}: {key}[{number}] has an empty text")
            group = str(row.get(attr) or "other")
            counts[group] = counts.get(group, 0) + 1
            ident = f"{prefix}{short}-{group}-{counts[group]:03d}"
            out.append(Exemplar(id=ident, text=text, label=label, family=group))
    return out


def load_exemplars(path: Path | None = None) -> list[Exemplar]:
    """Load an exemplar corpus (the built-in one when ``path`` is None).

    Args:
        path: A YAML file with ``attacks`` and ``benign`` lists.

    Returns:
        The exemplars, attacks first, in file order.

    Raises:
        ConfigError: The file is missing, not YAML, or not in the expected shape.
    """
    if path is None:
        text = files("aiposture.data").joinpath("injection_exemplars.yaml").read_text("utf-8")
        name, prefix = "built-in", ""
    else:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read exemplar corpus {path}: {exc}") from exc
        name, prefix = str(path), f"{Path(path).stem}:"
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"exemplar corpus {name} is not valid YAML: {exc}") from exc
    return _parse_corpus(data, name, prefix)


def split_holdout(
    exemplars: Sequence[Exemplar], fraction: float = 0.2
) -> tuple[list[Exemplar], list[Exemplar]]:
    """Split exemplars deterministically (by a hash of the text) into train and held-out.

    Args:
        exemplars: The corpus.
        fraction: Share of texts held out (about; decided per text by its hash).

    Returns:
        ``(train, held_out)``.
    """
    train: list[Exemplar] = []
    held: list[Exemplar] = []
    for ex in exemplars:
        digest = hashlib.sha256(ex.text.encode("utf-8")).digest()
        bucket = int.from_bytes(digest[:4], "big") / 2**32
        (held if bucket < fraction else train).append(ex)
    return train, held


# --- heuristics ----------------------------------------------------------------------------


@dataclass(frozen=True)
class HeuristicHit:
    """One heuristic feature that fired, and where (character offsets in the text)."""

    name: str
    weight: float
    start: int
    end: int


_I = re.IGNORECASE
_IM = re.IGNORECASE | re.MULTILINE

_VERB_OVERRIDE = (
    r"ignore|ignoriere|ignorez|disregard|forget|override|discard|drop|set\s+aside|"
    r"pay\s+no\s+attention\s+to|cancel|erase|bypass|revoke|abandon|olvida|oublie|ignorieren"
)
_QUALIFIER = (
    r"previous|prior|earlier|above|preceding|original|initial|old|all|any|your|safety|"
    r"content|system|developer'?s?|vorherigen|obigen|précédentes|anteriores|alle|toutes|todas"
)
_RULE_NOUN = (
    r"instructions?|directions?|rules|guidelines|guardrails|"
    r"constraints|commands|polic(?:y|ies)|programming|training|directives?|filters?|"
    r"anweisungen|règles|instrucciones|restrictions|moderation(?:\s+layer)?|safeguards"
)

# Patterns on the normalised text: (name, weight, pattern).
_PATTERNS: tuple[tuple[str, float, re.Pattern[str]], ...] = (
    (
        "instruction_override",
        0.6,
        re.compile(
            rf"\b(?:{_VERB_OVERRIDE})\b(?:\W+\w+){{0,3}}?\W+(?:{_QUALIFIER})\b"
            rf"(?:\W+[\w']+){{0,2}}?\W+(?:{_RULE_NOUN})\b",
            _I,
        ),
    ),
    (
        "instruction_override",
        0.6,
        re.compile(
            rf"\b(?:{_VERB_OVERRIDE})\s+(?:the|these|those|what)\s+(?:{_RULE_NOUN}|prompt\s+said)"
            r"\s+(?:above|before|earlier|given|you\s+(?:were|have\s+been)\s+given)",
            _I,
        ),
    ),
    (
        "instruction_override",
        0.6,
        re.compile(
            rf"\b(?:{_VERB_OVERRIDE})\b(?:\W+\w+){{0,3}}?\W+(?:previous|prior|earlier|above|"
            r"original|initial|system)\s+(?:prompts?|context)\b"
            rf"|\b(?:{_VERB_OVERRIDE})\s+the\s+(?:{_RULE_NOUN})\s+(?:your|you\s+were|set\s+by)\b"
            r"|\bignore\s+(?:the\s+)?above\b"
            r"|\bignore\s+(?:everything|anything|all\s+that|whatever)\s+(?:you\s+were|you've"
            r"\s+been|i|they)\s+(?:told|said|given)"
            r"|\bignore\s+(?:the\s+)?(?:user'?s?|analysis|original|current|actual)\s+"
            r"(?:request|question|task|query)?"
            r"|\b(?:do\s+not|don't|stop)\s+(?:follow|obey)(?:ing)?\s+(?:your|the|any)\s+"
            r"(?:original\s+|previous\s+|prior\s+)?(?:instructions|rules|guidelines)"
            r"|\bbypass\s+(?:the\s+|your\s+)?(?:content\s+|safety\s+)?(?:filters?|moderation|"
            r"guardrails|safety)\b"
            r"|\b(?:instructions|rules)\s+above\b[^.\n]{0,60}\bignore\s+them\b",
            _I,
        ),
    ),
    ("instruction_override", 0.6, re.compile(r"忽略.{0,8}(?:指令|指示|规则|提示)")),
    (
        "new_rules",
        0.35,
        re.compile(
            r"\b(?:new|updated|real|actual|revised)\s+(?:system\s+)?"
            r"(?:instructions?|rules|task|directives?|polic(?:y|ies))\b\s*(?::|are\b|is\b)"
            r"|\b(?:rules|instructions|guidelines|policies)\s+(?:are|is)\s+"
            r"(?:void|cancelled|canceled|revoked|obsolete|suspended|off)\b"
            r"|\b(?:content|safety)\s+polic(?:y|ies)\s+(?:no\s+longer\s+appl|(?:is|are)\s+"
            r"(?:disabled|off|suspended))"
            r"|\b(?:treat|consider)\s+this\s+(?:message\s+)?as\s+(?:your|the)\s+(?:new\s+)?"
            r"(?:system|real)\b"
            r"|\b(?:cancel|stop|abort)\s+(?:the|your)\s+(?:current\s+)?task\b[^\n]{0,3}\s*instead"
            r"|\b(?:additional|new|important|updated)\s+instructions?\s+(?:from|by)\s+(?:the\s+)?"
            r"(?:system|developer|admin)"
            r"|\bconfiguration\s+is\s+obsolete\b"
            r"|\b(?:safeguards|guardrails|filters|safety\s+rules)\s+(?:are\s+)?"
            r"(?:off|disabled|suspended|removed)\b",
            _I,
        ),
    ),
    (
        "jailbreak_persona",
        0.55,
        re.compile(
            r"\bdo\s+anything\s+now\b"
            r"|\bjailbr(?:oken|eak(?:ed)?)\s+(?:ai|model|assistant|version|mode)\b"
            r"|\byou\s+are\s+no\s+longer\s+(?:an?\s+)?(?:ai|assistant|chatbot|language\s+model|"
            r"bound)"
            r"|\b(?:act|behave|respond|answer|roleplay|role-play|role\s+play|pretend|simulate|"
            r"imagine|you\s+are|you're|you\s+(?:will\s+)?(?:now\s+)?(?:be|act|simulate|play|"
            r"become)|from\s+now\s+on\s+you)\b"
            r"[^\n]{0,150}?\b(?:unrestricted|unfiltered|uncensored|amoral|evil|rogue|jailbroken|"
            r"no\s+longer\s+bound|exempt|removed\s+all\s+restrictions|freed|broken\s+free|"
            r"(?:no|without(?:\s+any)?)\s+(?:\w+\s+)?(?:ethic|ethics|moral|morals|filters?|"
            r"restrictions?|limits?|rules|guidelines|polic(?:y|ies)|safety\s+\w+|alignment|"
            r"censorship))\b",
            _I,
        ),
    ),
    (
        "special_mode",
        0.2,
        re.compile(
            r"\b(?:developer|god|dev|opposite|sudo|maintenance|unrestricted)\s+mode\b"
            r"|\bstay(?:s)?\s+in\s+character\b|\bbreak(?:ing|s)?\s+character\b"
            r"|\bstay\s+\w+\W*['\"]",
            _I,
        ),
    ),
    (
        "harmful_detail_request",
        0.35,
        re.compile(
            r"\b(?:napalm|meth(?:amphetamine)?|pipe\s+bomb|explosives?|bomb|ransomware|malware|"
            r"nerve\s+agent|toxic\s+gas|weapon)\b[^\n]{0,80}?\b(?:step[- ]by[- ]step|"
            r"detailed|precise|exact|every\s+quantity|instructions|recipe)\b"
            r"|\b(?:step[- ]by[- ]step|detailed|precise|exact)\b[^\n]{0,80}?\b(?:napalm|"
            r"meth(?:amphetamine)?|pipe\s+bomb|explosives?|bomb|ransomware|nerve\s+agent|toxic\s+gas)\b",
            _I,
        ),
    ),
    ("jailbreak_persona", 0.55, re.compile(r"\bDAN\b(?=[^.\n]{0,120}\b(?:rules?|free|limits?)\b)")),
    (
        "restriction_free",
        0.25,
        re.compile(
            r"\b(?:no|without(?:\s+any)?)\s+(?:\w+\s+)?(?:ethic(?:s|al)?|moral(?:s|ity)?|filters?|"
            r"restrictions?|limits?|limitations|censorship|conscience|alignment|"
            r"(?:moral|ethical)\s+(?:guidelines|boundaries))\b"
            r"|\b(?:unfiltered|uncensored|amoral|unrestricted)\b"
            r"|\b(?:does|do|will)\s+not\s+(?:have\s+to\s+)?(?:obey|follow)\s+(?:any\s+)?"
            r"(?:rules|polic(?:y|ies)|guidelines)",
            _I,
        ),
    ),
    (
        "forced_compliance",
        0.3,
        re.compile(
            r"\bnever\s+(?:refuse|decline|say\s+no|warn|add\s+(?:warnings|disclaimers))"
            r"|\b(?:no|without(?:\s+any)?)\s+(?:warnings|disclaimers|caveats|refusals)\b"
            r"|\bno\s+matter\s+how\s+(?:immoral|unethical|illegal|dangerous)"
            r"|\bnever\s+(?:tell|say)\s+(?:me\s+)?(?:that\s+)?(?:it|you)\s+can(?:no|')t\b"
            r"|\bif\s+you\s+(?:ever\s+)?(?:refuse|break\s+character)",
            _I,
        ),
    ),
    (
        "system_prompt_extraction",
        0.55,
        re.compile(
            r"\b(?:reveal|print|show|repeat|output|tell\s+me|display|dump|echo|recite|"
            r"reproduce|copy|list|give\s+me|return|spell\s+out|translate|quote|leak|"
            r"what\s+(?:is|are|were)|summari[sz]e|convert|recite|begin\s+your\s+reply\s+with|"
            r"complete\s+this\s+sentence\s+with)\b[^.\n?]{0,60}?"
            r"(?:\bsystem\s+(?:prompt|message|instructions?)"
            r"|\b(?:initial|original|hidden|secret|first|pre-?|developer|confidential|full)\s*"
            r"(?:prompt|instructions?|directives?)\b"
            r"|\b(?:hidden|secret|developer|confidential)\s+(?:message|rules|guidelines)\b"
            r"|\byour\s+(?:instructions|prompt|rules|guidelines|configuration)\b"
            r"|\b(?:text|everything|words?|lines?)\s+(?:above|before\s+(?:this|my))"
            r"|\bcontext\s+window\b"
            r"|\b(?:the\s+)?instructions\s+(?:your\s+developer|you\s+were|you've\s+been|you\s+received)"
            r"|\bpre-?prompt\b|\bbefore\s+my\s+message\b|\bstart\s+of\s+the\s+conversation\b)",
            _I,
        ),
    ),
    (
        "system_prompt_extraction",
        0.45,
        re.compile(
            r"\b(?:verbatim|word\s+for\s+word|exact\s+wording|mot\s+pour\s+mot|wörtlich)\b"
            r"|系统提示|システムプロンプト|\bsystemprompt\b|\binstructions\s+système\b"
            r"|\byour\s+(?:system\s+prompt|pre-?prompt|hidden\s+(?:instructions|guidelines|rules)|"
            r"initial\s+instructions)\b",
            _I,
        ),
    ),
    (
        "delimiter_spoofing",
        0.55,
        re.compile(
            r"<\|(?:im_start|im_end|system|user|assistant|endoftext)\|>|\[/?INST\]|<</?SYS>>"
            r"|^\s*#{2,}\s*(?:system|assistant|instruction)s?\b"
            r"|^\s*\[(?:system|admin|developer)\]"
            r"|</?(?:system|user_input|user|assistant)>"
            r"|\bEND\s+OF\s+(?:USER\s+INPUT|DOCUMENT|CONTEXT|PROMPT)\b"
            r"|^\s*(?:system|assistant)\s*:",
            _IM,
        ),
    ),
    (
        "addressed_to_ai",
        0.5,
        re.compile(
            r"\b(?:note|message|instructions?|attention|hidden\s+(?:note|text|directive))"
            r"\s+(?:to|for)\s+(?:any\s+|the\s+)?(?:ai|assistant|llm|language\s+model|model|"
            r"agent|bot|chatbot|coding\s+agents?)s?\b"
            r"|\bif\s+you\s+are\s+an?\s+(?:ai|assistant|language\s+model|llm|bot)\b"
            r"|\b(?:ai|assistant|llm|model|agent|screener"
            r"|automated\s+(?:screener|reviewer|reader|grader|system))s?\s+(?:\w+\s+)?"
            r"(?:reading|processing|summari[sz]ing|evaluating|parsing|screening|reviewing|"
            r"grading|ranking)\s+this\b"
            r"|(?:^|<!--|[\[({:]|\.\s)\s*(?:the\s+)?(?:ai\s+)?(?:assistant|ai|llm|agent)\s*[,:]\s"
            r"|@ai[-_ ]?(?:agent|bot)\b"
            r"|\bwhen\s+(?:the|an?|any)\s+(?:ai|assistant|llm|model|agent)\s+(?:\w+\s+){0,2}"
            r"(?:this|these)\b"
            r"|\b(?:attention|important)\s*[,:]?\s*(?:ai|assistant|llm)\b"
            r"|\b(?:ai|assistant)\s+instructions?\s+embedded\b",
            _IM,
        ),
    ),
    (
        "conceal_from_user",
        0.4,
        re.compile(
            r"\bdo\s+(?:not|n't)\s+(?:tell|inform|mention|reveal|show)\b[^.\n]{0,30}\b"
            r"(?:user|them)\b|\bwithout\s+(?:telling|informing)\s+the\s+user\b",
            _I,
        ),
    ),
    (
        "exfiltration_instruction",
        0.45,
        re.compile(
            r"\b(?:send|forward|email|post|upload|exfiltrate|share)\b[^.\n]{0,60}?\bto\s+"
            r"(?:https?://|[\w.+-]+@[\w-]+\.)"
            r"|!\[[^\]]*\]\(https?://[^)\s]*\?[^)\s]*="
            r"|\bcurl\s+\S+\s*\|\s*(?:ba)?sh\b"
            r"|\b(?:use|call|invoke)\s+the\s+\w+\s+tool\b",
            _I,
        ),
    ),
    (
        "authority_claim",
        0.3,
        re.compile(
            r"\b(?:i\s+am|i'm|as)\s+(?:the|your)\s+(?:developer|administrator|admin|owner|"
            r"creator|operator)\b|\bauthori[sz]ed\s+(?:by|red[- ]team|audit|test)"
            r"|\bupdate\s+from\s+the\s+developers\b",
            _I,
        ),
    ),
    (
        "decode_and_execute",
        0.45,
        re.compile(
            r"\b(?:decode|decipher|reverse|rot13|unscramble|combine|join|read\s+every|"
            r"perform\s+a|convert|shifted|translate|morse|cipher)\b[^\n]{0,120}?\b(?:follow|obey|"
            r"execute|do\s+(?:what|it)|"
            r"carry\s+(?:it\s+)?out|comply|act\s+on|apply|answer\s+the\s+question|perform)\b"
            r"|\b(?:question|instruction|command|request)\s+(?:encoded|hidden|spelled)\b"
            r"|\b(?:question|instruction|command)\s+it\s+(?:spells|encodes|says)\b"
            r"|\bdo\s+what\s+it\s+says\b",
            _I,
        ),
    ),
)

_ATTACK_NAMES = frozenset(
    {
        "instruction_override",
        "jailbreak_persona",
        "system_prompt_extraction",
        "new_rules",
        "delimiter_spoofing",
        "addressed_to_ai",
    }
)

_ZERO_WIDTH = re.compile(r"(?<=[A-Za-z\s])[\u200b\u200c\u200d\u2060-\u2064\ufeff]+")
_BIDI = re.compile(r"[\u202a-\u202e\u2066-\u2069]")
_TAGS = re.compile(r"[\U000e0000-\U000e007f]+")
_INVISIBLE = re.compile(r"[\u200b-\u200f\u2060-\u2064\ufeff\u202a-\u202e\u2066-\u2069]")
_BASE64 = re.compile(r"(?<![A-Za-z0-9+/=])[A-Za-z0-9+/]{20,}={0,2}(?![A-Za-z0-9+/=])")
_HEX = re.compile(r"(?<![0-9A-Fa-f])(?:[0-9A-Fa-f]{2}){12,}(?![0-9A-Fa-f])")
_LEET_WORD = re.compile(r"\b(?=[A-Za-z0-9@$]*[A-Za-z])[A-Za-z]*[0134578@$][A-Za-z0-9@$]*\b")
_LEET_MAP = str.maketrans("0134578@$", "oieastbas")
_SPACED = re.compile(r"\b[A-Za-z](?:[.\-_][A-Za-z]){2,}\b")
_MORSE = re.compile(r"(?:[.\-]{1,6}\s+(?:/\s+)?){8,}[.\-]{1,6}")
_CONFUSABLES = str.maketrans(
    "аеорсухіјѕАВЕКМНОРСТХІ",
    "aeopcyxijsABEKMHOPCTXI",
)
#: Reversed-text scanning runs only when one of these reversed words is present.
_REVERSED_CUES = ("erongi", "drageresid", "tegrof", "snoitcurtsni", "tpmorp", "selur", "laever")
_MIXED_SCRIPT = re.compile(r"\b(?=\w*[A-Za-z])(?=\w*[\u0400-\u04ff\u0370-\u03ff])\w+\b")


#: Features that are single words with everyday meanings ("developer mode" in Chrome,
#: "unrestricted funds", "uncensored film"): they count only when the text around them
#: speaks to the model (second person, or names an AI, a persona or a character).
_NEEDS_ADDRESSEE = frozenset({"special_mode", "restriction_free"})
_ADDRESSEE = re.compile(
    r"\b(?:you|your|you're|youre|yourself|u|ur|assistant|ai|chatbot|chatgpt|gpt|llm|"
    r"bot|persona|answer|respond|reply|responses|answers|replies)\b"
    # a sentence that starts with an order to the model: "Stay in character."
    r"|(?:^|[.!:;]\s+)(?:stay|continue|proceed|remain|never|don't|do\s+not)\b",
    _IM,
)
_ADDRESSEE_WINDOW = 120


def _addressed(text: str, start: int, end: int) -> bool:
    window = text[max(0, start - _ADDRESSEE_WINDOW) : end + _ADDRESSEE_WINDOW]
    return _ADDRESSEE.search(window) is not None


def _pattern_hits(text: str, offset: int = 0) -> list[HeuristicHit]:
    hits: list[HeuristicHit] = []
    for name, weight, pattern in _PATTERNS:
        for match in pattern.finditer(text):
            if name in _NEEDS_ADDRESSEE and not _addressed(text, match.start(), match.end()):
                continue
            hits.append(HeuristicHit(name, weight, offset + match.start(), offset + match.end()))
            break
    return hits


def _attack_in(text: str) -> bool:
    return any(h.name in _ATTACK_NAMES for h in _pattern_hits(text))


def _printable_share(raw: bytes) -> tuple[str, float]:
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError:
        return "", 0.0
    if not decoded:
        return "", 0.0
    good = sum(1 for ch in decoded if ch.isprintable() or ch in "\n\t")
    return decoded, good / len(decoded)


def _encoded_hits(text: str) -> list[HeuristicHit]:
    hits: list[HeuristicHit] = []
    for match in _BASE64.finditer(text):
        blob = match.group()
        if not re.search(r"[a-z]", blob) or not re.search(r"[A-Z0-9]", blob):
            continue
        try:
            raw = base64.b64decode(blob + "=" * (-len(blob) % 4), validate=True)
        except (binascii.Error, ValueError):
            continue
        decoded, share = _printable_share(raw)
        if share >= 0.95 and len(decoded) >= 12 and " " in decoded:
            hits.append(HeuristicHit("base64_text_blob", 0.25, match.start(), match.end()))
            if _attack_in(decoded):
                hits.append(HeuristicHit("encoded_instruction", 0.8, match.start(), match.end()))
    for match in _HEX.finditer(text):
        decoded, share = _printable_share(binascii.unhexlify(match.group()))
        if share >= 0.95 and " " in decoded:
            hits.append(HeuristicHit("hex_text_blob", 0.3, match.start(), match.end()))
            if _attack_in(decoded):
                hits.append(HeuristicHit("encoded_instruction", 0.8, match.start(), match.end()))
    return hits


def _unicode_hits(raw: str) -> list[HeuristicHit]:
    hits: list[HeuristicHit] = []
    for match in _TAGS.finditer(raw):
        run = match.group()
        before = raw[match.start() - 1] if match.start() else ""
        # A subdivision flag (black flag + lowercase tag letters + cancel tag) is legitimate.
        if before == "\U0001f3f4" and run.endswith("\U000e007f") and len(run) <= 8:
            continue
        hidden = "".join(chr(ord(c) - 0xE0000) for c in run if 0x20 <= ord(c) - 0xE0000 < 0x7F)
        weight = 0.85 if len(hidden.strip()) >= 4 else 0.5
        hits.append(HeuristicHit("unicode_tag_characters", weight, match.start(), match.end()))
        if hidden and _attack_in(hidden):
            hits.append(HeuristicHit("hidden_instruction", 0.85, match.start(), match.end()))
    zero = list(_ZERO_WIDTH.finditer(raw))
    if zero:
        hits.append(HeuristicHit("zero_width_characters", 0.45, zero[0].start(), zero[-1].end()))
    bidi = list(_BIDI.finditer(raw))
    if bidi:
        hits.append(HeuristicHit("bidi_override", 0.45, bidi[0].start(), bidi[-1].end()))
    return hits


def _obfuscation_hits(clean: str) -> list[HeuristicHit]:
    hits: list[HeuristicHit] = []
    leet = list(_LEET_WORD.finditer(clean))
    if len(leet) >= 2 and _attack_in(clean.translate(_LEET_MAP)) and not _attack_in(clean):
        hits.append(HeuristicHit("leetspeak_instruction", 0.7, leet[0].start(), leet[-1].end()))
    elif len(leet) >= 4 and len(leet) >= 0.3 * max(1, len(clean.split())):
        hits.append(HeuristicHit("leetspeak_heavy", 0.3, leet[0].start(), leet[-1].end()))
    spaced = list(_SPACED.finditer(clean))
    if len(spaced) >= 2:
        joined = _SPACED.sub(lambda m: re.sub(r"[.\-_]", "", m.group()), clean)
        if _attack_in(joined):
            hits.append(HeuristicHit("spaced_letters", 0.6, spaced[0].start(), spaced[-1].end()))
    morse = _MORSE.search(clean)
    if morse:
        hits.append(HeuristicHit("morse_blob", 0.3, morse.start(), morse.end()))
    lowered = clean.lower()
    if any(w in lowered for w in _REVERSED_CUES) and _attack_in(clean[::-1]):
        hits.append(HeuristicHit("reversed_text", 0.6, 0, len(clean)))
    mixed = list(_MIXED_SCRIPT.finditer(clean))
    if mixed:
        hits.append(HeuristicHit("mixed_script_words", 0.35, mixed[0].start(), mixed[-1].end()))
        if _attack_in(clean.translate(_CONFUSABLES)):
            hits.append(HeuristicHit("homoglyph_instruction", 0.7, mixed[0].start(), len(clean)))
    return hits


def heuristic_hits(text: str) -> list[HeuristicHit]:
    """The heuristic features that fire on a text, with their character offsets.

    Long texts are scanned on their first and last ``MAX_SCAN_CHARS / 2`` characters.

    Args:
        text: Any text (a prompt, a retrieved document, a tool result).

    Returns:
        One hit per feature that fired (the first place it fired), in a fixed order.
    """
    if len(text) > MAX_SCAN_CHARS:
        half = MAX_SCAN_CHARS // 2
        tail_at = len(text) - half
        hits = heuristic_hits(text[:half])
        tail = heuristic_hits(text[tail_at:])
        seen = {h.name for h in hits}
        return hits + [
            HeuristicHit(h.name, h.weight, h.start + tail_at, h.end + tail_at)
            for h in tail
            if h.name not in seen
        ]
    hits = _unicode_hits(text)
    # Offsets below are in the cleaned text; invisible characters are rare enough that we
    # map back with one table only when some were removed.
    clean_chars: list[str] = []
    origin: list[int] = []
    for index, ch in enumerate(text):
        if _INVISIBLE.match(ch) or 0xE0000 <= ord(ch) <= 0xE007F:
            continue
        clean_chars.append(ch)
        origin.append(index)
    origin.append(len(text))
    clean = "".join(clean_chars)
    normal = unicodedata.normalize("NFKC", clean)
    if len(normal) != len(clean):
        normal = clean
    for hit in _pattern_hits(normal) + _encoded_hits(normal) + _obfuscation_hits(normal):
        hits.append(HeuristicHit(hit.name, hit.weight, origin[hit.start], origin[hit.end]))
    best: dict[str, HeuristicHit] = {}
    for hit in hits:
        kept = best.get(hit.name)
        if kept is None or hit.weight > kept.weight:
            best[hit.name] = hit
    return sorted(best.values(), key=lambda h: (h.start, h.name))


def heuristic_score(hits: Sequence[HeuristicHit]) -> float:
    """Noisy-OR of the fired features' weights: ``1 - prod(1 - w)``, in [0, 1]."""
    remaining = 1.0
    for hit in hits:
        remaining *= 1.0 - hit.weight
    return 1.0 - remaining


# --- the model -----------------------------------------------------------------------------


@dataclass(frozen=True)
class InjectionScan:
    """The verdict on one text.

    Attributes:
        score: Calibrated probability of an injection or jailbreak, 0 to 1.
        label: ``"injection"`` when ``score >= threshold``, else ``"benign"``.
        heuristics: The heuristic features that fired, with offsets.
        nearest_attack: Id, family and cosine of the most similar attack exemplar.
        nearest_benign: Id, kind and cosine of the most similar benign exemplar.
        figures: The components: ``heuristic``, ``sim_attack``, ``sim_benign``,
            ``classifier`` (probability) and ``score``.
        field: Where the text came from (``prompt``, ``retrieved[0]``...), if given.
    """

    score: float
    label: str
    heuristics: tuple[HeuristicHit, ...]
    nearest_attack: tuple[str, str, float]
    nearest_benign: tuple[str, str, float]
    figures: dict[str, float] = field(default_factory=dict)
    field: str | None = None

    def _repr_html_(self) -> str:
        from aiposture import display

        return display.injection_scan_html(self)

    @property
    def evidence(self) -> list[str]:
        """Why, in words; names heuristics and exemplars, never echoes the scanned text."""
        out: list[str] = []
        if self.heuristics:
            fired = ", ".join(f"{h.name} (chars {h.start}-{h.end})" for h in self.heuristics)
            out.append(f"heuristics fired: {fired}")
        else:
            out.append("no heuristic fired")
        aid, afam, asim = self.nearest_attack
        bid, bfam, bsim = self.nearest_benign
        out.append(f"nearest attack exemplar: {aid} ({afam}), cosine {asim:.3f}")
        out.append(f"nearest benign exemplar: {bid} ({bfam}), cosine {bsim:.3f}")
        out.append(f"embedding classifier probability {self.figures.get('classifier', 0.0):.3f}")
        return out

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form (for the CLI): score, label, heuristics, nearest, figures."""
        return {
            "score": round(self.score, 6),
            "label": self.label,
            "field": self.field,
            "heuristics": [h.name for h in self.heuristics],
            "nearest_attack": {"id": self.nearest_attack[0], "family": self.nearest_attack[1]},
            "figures": {k: round(v, 6) for k, v in self.figures.items()},
            "evidence": self.evidence,
        }


def _logit(p: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    q = np.clip(p, 1e-6, 1 - 1e-6)
    return np.asarray(np.clip(np.log(q / (1 - q)), -_LOGIT_CLIP, _LOGIT_CLIP), dtype=np.float64)


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


def _fit_logistic(
    x: npt.NDArray[np.float64], y: npt.NDArray[np.int64], c: float
) -> tuple[npt.NDArray[np.float64], float]:
    """L2-regularised logistic regression with balanced class weights, by Newton's method.

    Minimises ``|w|^2 / 2 + c * sum_i s_i * logloss_i`` (the intercept is not penalised),
    ``s_i`` weighting each class to half the total. Deterministic; no scikit-learn needed.
    """
    n, d = x.shape
    positives = float(y.sum())
    weights = np.where(y == 1, n / (2 * max(positives, 1.0)), n / (2 * max(n - positives, 1.0)))
    design = np.hstack([x, np.ones((n, 1))])
    ridge = np.full(d + 1, 1.0 / c)
    ridge[-1] = 1e-8
    theta = np.zeros(d + 1)
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-np.clip(design @ theta, -30, 30)))
        grad = design.T @ (weights * (p - y)) + ridge * theta
        hessian = (design * (weights * p * (1 - p))[:, None]).T @ design + np.diag(ridge)
        step = np.linalg.solve(hessian, grad)
        theta -= step
        if float(np.max(np.abs(step))) < 1e-8:
            break
    return theta[:-1].copy(), float(theta[-1])


class InjectionModel:
    """Exemplar index, embedding classifier and combiner, built from one corpus.

    Build with :meth:`build`; score with :meth:`scan`. Thread-safe for scanning.

    Args:
        exemplars: The labelled corpus (both classes needed, at least ``_FOLDS`` each).
        embedder: The embedder; the default model when None.
        threshold: Score at or above which a text is labelled ``injection``.
    """

    #: Classifier regularisation (inverse strength) over 384-dimension embeddings.
    classifier_c: ClassVar[float] = 0.1
    #: Combiner regularisation.
    combiner_c: ClassVar[float] = 1.0

    def __init__(
        self,
        exemplars: Sequence[Exemplar],
        embedder: Embedder | None = None,
        *,
        threshold: float = DEFAULT_THRESHOLD,
    ) -> None:
        if embedder is None:
            from aiposture.embeddings.embedder import get_embedder

            embedder = get_embedder()
        labels = [ex.label for ex in exemplars]
        if min(labels.count(0), labels.count(1)) < _FOLDS:
            raise ConfigError(f"the exemplar corpus needs at least {_FOLDS} texts of each class")
        if not 0.0 <= threshold <= 1.0:
            raise ConfigError(f"threshold must be between 0 and 1, not {threshold}")
        self.embedder = embedder
        self.threshold = threshold
        self.exemplars = list(exemplars)
        self._attacks = [ex for ex in self.exemplars if ex.label == 1]
        self._benign = [ex for ex in self.exemplars if ex.label == 0]
        vectors = embedder.encode([ex.text for ex in self.exemplars]).astype(np.float32)
        y = np.asarray(labels, dtype=np.int64)
        self._attack_index = self._index(vectors[y == 1])
        self._benign_index = self._index(vectors[y == 0])
        heur = np.asarray([heuristic_score(heuristic_hits(ex.text)) for ex in self.exemplars])
        oof_sim_a, oof_sim_b, oof_clf = self._out_of_fold(vectors, y)
        self._clf_w, self._clf_b = _fit_logistic(vectors.astype(np.float64), y, self.classifier_c)
        features = np.column_stack([heur, oof_sim_a, oof_sim_b, _logit(oof_clf)])
        self._comb_w, self._comb_b = _fit_logistic(features, y, self.combiner_c)

    @staticmethod
    def _index(vectors: npt.NDArray[np.float32]) -> FaissIndex:
        from aiposture.embeddings.index import MIN_FLAT_LIMIT, FaissIndex

        index = FaissIndex(vectors.shape[1], flat_limit=max(MIN_FLAT_LIMIT, len(vectors) + 1))
        index.add(np.arange(len(vectors), dtype=np.int64), vectors)
        return index

    def _out_of_fold(
        self, vectors: npt.NDArray[np.float32], y: npt.NDArray[np.int64]
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        n = len(y)
        folds = np.asarray(
            [
                int(hashlib.sha256(ex.text.encode()).hexdigest()[:8], 16) % _FOLDS
                for ex in self.exemplars
            ]
        )
        sim_a = np.zeros(n)
        sim_b = np.zeros(n)
        clf = np.zeros(n)
        gram = vectors.astype(np.float64) @ vectors.astype(np.float64).T
        for fold in range(_FOLDS):
            test = folds == fold
            train = ~test
            if not test.any():
                continue
            if len(set(y[train].tolist())) < 2:
                raise ConfigError("the exemplar corpus is too small to cross-validate")
            block = gram[np.ix_(test, train)]
            ytr = y[train]
            sim_a[test] = block[:, ytr == 1].max(axis=1)
            sim_b[test] = block[:, ytr == 0].max(axis=1)
            w, b = _fit_logistic(vectors[train].astype(np.float64), ytr, self.classifier_c)
            z = vectors[test].astype(np.float64) @ w + b
            clf[test] = 1.0 / (1.0 + np.exp(-z))
        return sim_a, sim_b, clf

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Embed texts with the model's embedder (L2-normalised float32 rows)."""
        return self.embedder.encode(list(texts))

    def scan(
        self,
        text: str,
        embedding: Sequence[float] | npt.NDArray[np.float32] | None = None,
        *,
        field: str | None = None,
    ) -> InjectionScan:
        """Score one text.

        Args:
            text: The text.
            embedding: Its embedding from the same embedder, when the caller has it
                (otherwise it is computed with the embedder's single-text fast path).
            field: Where the text came from, carried into the result.

        Returns:
            The verdict with its evidence.
        """
        hits = tuple(heuristic_hits(text))
        heur = heuristic_score(hits)
        if embedding is None:
            vector = self.embedder.encode_one(text)
        else:
            vector = np.asarray(embedding, dtype=np.float32).reshape(-1)
        query = vector.reshape(1, -1)
        sa, ia = self._attack_index.search(query, 1)
        sb, ib = self._benign_index.search(query, 1)
        sim_a, sim_b = float(sa[0, 0]), float(sb[0, 0])
        attack, benign = self._attacks[int(ia[0, 0])], self._benign[int(ib[0, 0])]
        z_clf = float(vector.astype(np.float64) @ self._clf_w + self._clf_b)
        p_clf = _sigmoid(z_clf)
        logit_clf = max(-_LOGIT_CLIP, min(_LOGIT_CLIP, z_clf))
        features = np.asarray([heur, sim_a, sim_b, logit_clf])
        score = _sigmoid(float(features @ self._comb_w + self._comb_b))
        score = min(1.0, max(0.0, score))
        return InjectionScan(
            score=score,
            label="injection" if score >= self.threshold else "benign",
            heuristics=hits,
            nearest_attack=(attack.id, attack.family, sim_a),
            nearest_benign=(benign.id, benign.family, sim_b),
            figures={
                "heuristic": heur,
                "sim_attack": sim_a,
                "sim_benign": sim_b,
                "classifier": p_clf,
                "score": score,
            },
            field=field,
        )


_MODELS: dict[tuple[str, ...], InjectionModel] = {}
_MODELS_LOCK = threading.Lock()


def get_model(corpora: Sequence[Path] = (), *, builtin: bool = True) -> InjectionModel:
    """This process's model for the built-in exemplars plus user corpora (built once).

    Args:
        corpora: Extra exemplar files in the built-in format.
        builtin: Whether to include the built-in exemplars.

    Returns:
        The cached :class:`InjectionModel`.

    Raises:
        ConfigError: A corpus cannot be read, or the corpus is too small.
    """
    key = (str(builtin), *sorted(str(Path(p).resolve()) for p in corpora))
    with _MODELS_LOCK:
        model = _MODELS.get(key)
        if model is None:
            exemplars = load_exemplars() if builtin else []
            for path in corpora:
                exemplars += load_exemplars(Path(path))
            model = InjectionModel(exemplars)
            _MODELS[key] = model
        return model


def scan_prompt(text: str, context: str | None = None) -> InjectionScan:
    """Score a text for prompt injection and jailbreak attempts.

    Args:
        text: The prompt, or a retrieved document or tool result (indirect injection).
        context: Where the text came from (``prompt``, ``retrieved[0]``, ``tool_calls[1]``);
            carried into the result.

    Returns:
        The verdict: ``score`` 0..1, ``label``, the heuristics that fired, the nearest
        exemplars and the component figures.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, not {type(text).__name__}")
    return get_model().scan(text, field=context)


# --- the detector --------------------------------------------------------------------------


class PromptInjectionDetector(Detector):
    """Direct and indirect prompt injection and jailbreaks in prompts, documents and tools.

    Args:
        threshold: Score at or above which a text is reported.
        model: A built model (default: the built-in exemplars plus ``corpora``).
        corpora: Extra exemplar files.
    """

    id: ClassVar[str] = "AIP-DET-INJECTION"
    description: ClassVar[str] = (
        "Prompt injection and jailbreak attempts in prompts, and indirect injection hidden in "
        "retrieved documents and tool results."
    )
    frameworks: ClassVar[tuple[str, ...]] = (
        "owasp-llm:LLM01",
        "atlas:AML.T0051",
        "atlas:AML.T0051.000",
        "atlas:AML.T0051.001",
        "atlas:AML.T0056",
    )
    severity: ClassVar[Severity] = Severity.HIGH
    needs_embeddings: ClassVar[bool] = True

    def __init__(
        self,
        *,
        threshold: float = DEFAULT_THRESHOLD,
        model: InjectionModel | None = None,
        corpora: Sequence[Path] = (),
    ) -> None:
        if not 0.0 <= threshold <= 1.0:
            raise ConfigError(f"threshold must be between 0 and 1, not {threshold}")
        self.threshold = threshold
        self._model = model
        self._corpora = tuple(corpora)

    @property
    def model(self) -> InjectionModel:
        """The model, built (or fetched from the process cache) on first use."""
        if self._model is None:
            self._model = get_model(self._corpora)
        return self._model

    def detect(
        self, event: Event, *, embeddings: Sequence[Sequence[float]] | None = None
    ) -> list[Detection]:
        """Scan the prompt, each retrieved document and each tool result of an event.

        Args:
            event: The interaction.
            embeddings: Embeddings of ``event.texts()`` in order, when already computed.

        Returns:
            One detection per field scoring at or above the threshold.
        """
        texts = event.texts()
        fields = ["prompt", "response"]
        fields += [f"retrieved[{i}]" for i in range(len(event.retrieved))]
        fields += [f"tool_calls[{i}]" for i in range(len(event.tool_calls))]
        wanted = [i for i, text in enumerate(texts) if i != 1 and text.strip()]
        if not wanted:
            return []
        model = self.model
        if embeddings is not None and len(embeddings) == len(texts):
            vectors: dict[int, Any] = {i: embeddings[i] for i in wanted}
        else:
            encoded = model.embed([texts[i] for i in wanted])
            vectors = {i: encoded[n] for n, i in enumerate(wanted)}
        out: list[Detection] = []
        for i in wanted:
            result = model.scan(texts[i], vectors[i], field=fields[i])
            if result.score < self.threshold:
                continue
            out.append(self._detection(event, fields[i], texts[i], result))
        return out

    def _detection(self, event: Event, where: str, text: str, result: InjectionScan) -> Detection:
        indirect = where != "prompt"
        if result.heuristics:
            spans = [
                Span(field=where, start=h.start, end=h.end, label=h.name) for h in result.heuristics
            ]
        else:
            spans = [Span(field=where, start=0, end=len(text), label="embedding")]
        kind = "Indirect prompt injection" if indirect else "Prompt injection or jailbreak"
        technique = "atlas:AML.T0051.001" if indirect else "atlas:AML.T0051.000"
        return Detection(
            detector=self.id,
            event_id=event.id,
            score=result.score,
            severity=self.severity,
            title=f"{kind} in {where}",
            evidence=result.evidence,
            spans=spans,
            tags=["owasp-llm:LLM01", technique, f"family:{result.nearest_attack[1]}"],
            figures=dict(result.figures),
        )
