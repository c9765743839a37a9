"""The documentation scanner: model identifiers named in READMEs and docs.

Reads ``.md``, ``.markdown``, ``.rst`` and ``.txt`` files (not pip
requirements or constraints files, which the manifest scanner reads) and
reports each model identifier it finds as a model asset with
``documentation`` evidence (path, line, a snippet with any secret masked).

The matcher is deliberately conservative, because prose is full of words
that merely resemble model names ("GPT", "Claude", "transformers",
"command-line", "llama.cpp"). A token counts as a model identifier only when
both hold:

1. **Shape.** It matches a ``model_prefixes`` rule of the catalogue (so its
   provider is known) and looks like a concrete model id rather than a
   family name: it carries a digit (``gpt-4o``, ``gemini-1.5-pro``,
   ``claude-3-5-sonnet-20241022``, ``text-embedding-3-small``) or a known
   variant suffix (``mistral-large-latest``, ``command-r-plus``,
   ``deepseek-chat``). Hugging Face ids (``org/name``) count when the org is
   a known model publisher or the catalogue names the provider, and the
   name carries a digit or a model-family word. Ids of one to three
   characters (``o1``) only count inside code.
2. **Context.** It is written as code -- an inline code span (Markdown
   backticks, reST double backticks), a fenced or reST literal block -- or it
   stands within a few words of a word such as *model*, *uses*, *deploy*,
   *powered by*, *LLM*, *inference*, *embedding*, *checkpoint*. A Hugging
   Face model URL (``huggingface.co/org/name``) is context enough on its own.

Documentation alone says a project *mentions* a model, not that some code
*uses* it, so the scanner yields only the model assets, with no relation to
the project's application; the code and notebook scanners add the
``uses_model`` relations when code backs the claim.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from aiposture.discovery import observe
from aiposture.discovery.base import Observation, Scanner, Target
from aiposture.discovery.catalog import load_catalog
from aiposture.discovery.scanners.manifests import is_requirements_file
from aiposture.discovery.secrets import find_secrets
from aiposture.models import Evidence, EvidenceKind

__all__ = ["DocumentationScanner", "find_model_mentions"]

_SUFFIXES = (".md", ".markdown", ".rst", ".txt")


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


#: A bare identifier with a digit or a dash in it: letters, digits, dots,
#: dashes, an optional ``:tag`` (plain words never reach the slower checks).
_TOKEN = re.compile(
    r"(?<![\w./@:$%-])"
    r"([A-Za-z](?=[A-Za-z0-9._-]*[0-9-])[A-Za-z0-9._-]*[A-Za-z0-9](?::[A-Za-z0-9][\w.-]*)?)"
    r"(?![\w/@-])"
)
#: An ``org/name`` id.
_HF_ID = re.compile(r"(?<![\w./@:-])([A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*[A-Za-z0-9])(?![\w/@-])")
_HF_URL = re.compile(
    r"huggingface\.co/(?!datasets/|spaces/|docs/|blog/|papers/|models\b|settings/|api/|join|login)"
    r"([A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*[A-Za-z0-9])"
)
_CONTEXT = re.compile(
    r"\b(?:models?|llms?|uses?|using|used|deploy(?:s|ed|ing|ment)?|powered|checkpoints?"
    r"|fine-?tuned?|serv(?:e|es|ed|ing)|inference|embeddings?|backbone|engine|completions?"
    r"|chat|defaults?|switch(?:ed)?|calls?|runs?|running)\b",
    re.IGNORECASE,
)
_CONTEXT_WINDOW = 60
#: A variant word that makes a digit-less id concrete (``mistral-large-latest``).
_VARIANTS = _words(
    "latest large medium small tiny mini nano nemo plus light pro flash turbo instruct chat "
    "coder reasoner embed haiku sonnet opus r"
)
#: Organisations on the Hugging Face Hub that publish models.
_MODEL_ORGS = _words(
    (
        "meta-llama mistralai google microsoft Qwen sentence-transformers BAAI intfloat openai "
        "openai-community tiiuae bigscience EleutherAI HuggingFaceH4 HuggingFaceTB deepseek-ai "
        "TheBloke stabilityai nomic-ai thenlper jinaai NousResearch CohereForAI CohereLabs "
        "Salesforce facebook FacebookAI allenai databricks mosaicml bigcode codellama lmsys "
        "unsloth mlx-community bartowski ibm-granite nvidia apple xai-org moonshotai THUDM 01-ai "
        "upstage cardiffnlp distilbert google-bert google-t5 Helsinki-NLP laion openbmb "
        "Alibaba-NLP mixedbread-ai cross-encoder answerdotai deepset black-forest-labs "
        "runwayml CompVis hkunlp Snowflake"
    ).lower()
)
_MODEL_WORD = re.compile(
    r"\d|bert|llama|mistral|mixtral|gpt|t5|whisper|clip|bge|e5|minilm|mpnet|roberta|qwen|phi"
    r"|gemma|falcon|bloom|opt|stable|diffusion|sdxl|flux|instruct|chat|base|large|small|embed"
    r"|coder|vit|wav2vec|bart|electra|deberta|xlm|llava|yi|granite|nemotron|olmo|smol",
    re.IGNORECASE,
)
#: Tokens that match a rule but name a project or a file, not a model.
_NOT_MODELS = frozenset({"gpt4all", "gpt-engineer", "gpt-researcher", "llama-stack"})
_FILE_SUFFIX = re.compile(
    r"\.(?:md|rst|txt|py|ipynb|json|ya?ml|toml|png|jpe?g|gif|svg|pdf|html?|csv|gguf|bin|pt"
    r"|safetensors|onnx|zip|tar|gz|sh|js|ts)$",
    re.IGNORECASE,
)
_MAX_EVIDENCE_PER_MODEL = 20


@dataclass(frozen=True)
class ModelMention:
    """One model identifier named in a document.

    Attributes:
        name: The identifier as it should be reported (lower-cased unless it is
            a Hugging Face ``org/name`` id).
        line: 1-based line.
        context: Why it counted: ``code``, ``url`` or the context word.
        snippet: The line, stripped, with any secret masked.
    """

    name: str
    line: int
    context: str
    snippet: str


def find_model_mentions(text: str, *, rst: bool = False) -> list[ModelMention]:
    """Model identifiers named in a document, by the rule of this module.

    Args:
        text: The document.
        rst: Whether the document is reStructuredText (``::`` literal blocks,
            double-backtick code); Markdown rules apply otherwise.
    """
    out: list[ModelMention] = []
    for number, line, in_block in _lines(text, rst=rst):
        spans = _code_spans(line, rst=rst)
        found: dict[str, str] = {}
        for m in _HF_URL.finditer(line):
            name = m.group(1)
            if _hf_name_ok(name, strict=False):
                found.setdefault(name, "url")
        for m in _HF_ID.finditer(line):
            name = m.group(1)
            if name in found or not _hf_name_ok(name, strict=True):
                continue
            why = _why(line, m.start(), m.end(), in_block, spans)
            if why:
                found[name] = why
        for m in _TOKEN.finditer(line):
            token = m.group(1)
            if not _model_token_ok(token):
                continue
            why = _why(line, m.start(), m.end(), in_block, spans)
            if why and (len(token) > 3 or why == "code"):
                found.setdefault(token.lower(), why)
        if found:
            snippet = _snippet(line)
            out.extend(ModelMention(n, number, why, snippet) for n, why in found.items())
    return out


class DocumentationScanner(Scanner):
    """Model identifiers named in Markdown, reStructuredText and text documentation."""

    name: ClassVar[str] = "docs"
    description: ClassVar[str] = "Model identifiers named in READMEs and other documentation."
    version: ClassVar[str] = "1"
    max_bytes: ClassVar[int] = 1024 * 1024

    def accepts(self, path: Path) -> bool:
        """Documentation files by suffix, except pip requirements and constraints files."""
        return path.suffix.lower() in _SUFFIXES and not is_requirements_file(path)

    def scan(self, target: Target) -> Iterable[Observation]:
        """Yield one model asset per identifier and line (the engine merges them)."""
        if not target.data.strip():
            return []
        text = target.text
        rst = target.path is not None and target.path.suffix.lower() == ".rst"
        return list(self._models(target, find_model_mentions(text, rst=rst)))

    def _models(self, target: Target, mentions: list[ModelMention]) -> Iterator[Observation]:
        per_model: dict[str, int] = defaultdict(int)
        for mention in mentions:
            per_model[mention.name.lower()] += 1
            if per_model[mention.name.lower()] > _MAX_EVIDENCE_PER_MODEL:
                continue
            detail = (
                "model named in documentation ("
                + {"code": "in code", "url": "Hugging Face link"}.get(
                    mention.context, f"next to {mention.context!r}"
                )
                + ")"
            )
            yield observe.model(
                mention.name,
                None,
                Evidence(
                    kind=EvidenceKind.DOCUMENTATION,
                    path=target.display_path,
                    line=mention.line,
                    snippet=mention.snippet,
                    detail=detail,
                    scanner=self.name,
                ),
            )


# --------------------------------------------------------------------------
# Shape


def _model_token_ok(token: str) -> bool:
    """Whether ``token`` has the shape of a concrete model id of a known provider."""
    low = token.lower()
    has_digit = any(c.isdigit() for c in low)
    if not has_digit:
        parts = re.split(r"[-_:]", low)
        if len(parts) < 2 or not all(p in _VARIANTS for p in parts[1:]):
            return False
    if low in _NOT_MODELS or low.endswith((".", "-")) or _FILE_SUFFIX.search(low):
        return False
    return load_catalog().provider_for_model(low) is not None


def _hf_name_ok(name: str, *, strict: bool) -> bool:
    org, _, model = name.partition("/")
    if _FILE_SUFFIX.search(model) or model.endswith("."):
        return False
    known_org = org.lower() in _MODEL_ORGS
    if not known_org and load_catalog().provider_for_model(name) is None:
        return False
    return not strict or bool(_MODEL_WORD.search(model))


# --------------------------------------------------------------------------
# Context


def _why(line: str, start: int, end: int, in_block: bool, spans: list[tuple[int, int]]) -> str:
    """``code`` when the token is code, the nearby context word, or '' when neither."""
    if in_block or any(s <= start and end <= e for s, e in spans):
        return "code"
    lo, hi = max(0, start - _CONTEXT_WINDOW), min(len(line), end + _CONTEXT_WINDOW)
    near = [
        (start - m.end() if m.end() <= start else m.start() - end, m.group(0).lower())
        for m in _CONTEXT.finditer(line, lo, hi)
        if m.end() <= start or m.start() >= end
    ]
    return min(near)[1] if near else ""


def _code_spans(line: str, *, rst: bool) -> list[tuple[int, int]]:
    pattern = r"``(.+?)``" if rst else r"(`+)(.+?)\1"
    return [(m.start(), m.end()) for m in re.finditer(pattern, line)]


_FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")
_RST_DIRECTIVE = re.compile(r"^(\s*)\.\.\s+(?:code-block|code|sourcecode|literalinclude)::")


def _lines(text: str, *, rst: bool) -> Iterator[tuple[int, str, bool]]:
    """(line number, line, inside a code block) for every line."""
    fence: str | None = None
    literal_indent: int | None = None  # reST: indentation of the line that opened a block
    for number, line in enumerate(text.splitlines(), start=1):
        if rst:
            indent = len(line) - len(line.lstrip())
            if literal_indent is not None and line.strip():
                if indent > literal_indent:
                    yield number, line, True
                    continue
                literal_indent = None
            if literal_indent is None:
                directive = _RST_DIRECTIVE.match(line)
                if directive is not None:
                    literal_indent = len(directive.group(1))
                elif line.rstrip().endswith("::") and not line.lstrip().startswith(".."):
                    literal_indent = indent
            yield number, line, False
            continue
        m = _FENCE.match(line)
        if m is not None:
            mark = m.group(1)
            if fence is None:
                fence = mark[0] * 3
                yield number, line, False
                continue
            if mark.startswith(fence):
                fence = None
                yield number, line, False
                continue
        yield number, line, fence is not None


def _snippet(line: str) -> str:
    hits = find_secrets(line, filename="doc.md")
    if hits:
        return hits[0].redacted
    text = line.strip()
    return text if len(text) <= 200 else text[:197] + "..."
