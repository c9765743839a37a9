"""Static analysis of Python source for AI usage, shared by the code and notebook scanners.

Nothing here imports or runs the code it reads: source is parsed with
:mod:`ast` and interpreted symbolically. A file is read in two passes:

1. :class:`_Binder` records, for every scope (module, class, function), what
   each name is assigned (so that ``model=MODEL`` can be resolved to the
   literal ``MODEL = "gpt-4o"``, a parameter default, ``os.getenv("M", "x")``
   and the like) and which functions exist;
2. :class:`Analyzer` walks the code once, tracking what each name refers to
   (an imported SDK module, a client built from it, an HTTP session, an MCP
   server) as a :class:`Ref`, and reports what it sees to a :class:`Report`:
   imports of AI packages, calls that reach a provider, model identifiers,
   custom endpoints, plain HTTP calls to AI APIs, MCP servers and agents.

Function bodies are analysed after the code of the scope that defines them
(as they run later), or earlier when a call to them is met, so module-level
clients and constants are known inside functions whatever the order of
definitions.

The OpenAI Agents SDK is imported as ``agents``, a name many projects use
for their own code. It counts only when the file imports from it a name only
that SDK exports (``Runner``, ``function_tool``, ``ModelSettings``, ... — see
:data:`AGENTS_SDK_NAMES`) or one of its sub-modules (``agents.mcp``, ...),
and no local ``agents`` module shadows it. ``from agents import Agent``
alone is not enough.

A top-level import counts as third-party only when the project has no module
of that name of its own (``name.py`` or ``name/__init__.py`` at the project
root, under ``src/`` or beside the file); relative imports never count.
"""

from __future__ import annotations

import ast
import itertools
import re
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from threading import Lock
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from aiposture.discovery import observe
from aiposture.discovery.base import Observation, Target
from aiposture.discovery.catalog import PackageInfo, load_catalog
from aiposture.discovery.secrets import SecretHit
from aiposture.models import (
    Asset,
    AssetKind,
    Evidence,
    EvidenceKind,
    Finding,
    Relation,
    RelationKind,
    normalise_key,
)

__all__ = [
    "AGENTS_SDK_NAMES",
    "Analyzer",
    "Report",
    "Site",
    "Unit",
    "might_use_ai",
    "split_lines",
]

# --------------------------------------------------------------------------
# Tables

#: Names only the OpenAI Agents SDK exports from ``agents`` (see module docstring).
AGENTS_SDK_NAMES: frozenset[str] = frozenset(
    {
        "Runner",
        "function_tool",
        "handoff",
        "ModelSettings",
        "RunConfig",
        "RunContextWrapper",
        "GuardrailFunctionOutput",
        "input_guardrail",
        "output_guardrail",
        "InputGuardrail",
        "OutputGuardrail",
        "InputGuardrailTripwireTriggered",
        "OutputGuardrailTripwireTriggered",
        "set_default_openai_key",
        "set_default_openai_client",
        "set_default_openai_api",
        "set_tracing_disabled",
        "set_tracing_export_api_key",
        "OpenAIChatCompletionsModel",
        "OpenAIResponsesModel",
        "WebSearchTool",
        "FileSearchTool",
        "ComputerTool",
        "CodeInterpreterTool",
        "HostedMCPTool",
        "ImageGenerationTool",
        "LocalShellTool",
        "SQLiteSession",
        "ItemHelpers",
        "gen_trace_id",
        "enable_verbose_stdout_logging",
        "AgentOutputSchema",
        "MaxTurnsExceeded",
        "ModelBehaviorError",
        "RunResultStreaming",
        "TResponseInputItem",
        "MessageOutputItem",
        "ToolCallOutputItem",
    }
)
_AGENTS_SDK_SUBMODULES: frozenset[str] = frozenset(
    {"mcp", "extensions", "voice", "realtime", "tracing", "models", "model_settings"}
)
_AGENTS_PYPI = "openai-agents"

#: boto3 client services that are AI, and the provider each reaches.
_AWS_AI_SERVICES: dict[str, str] = {
    "bedrock-runtime": "aws_bedrock",
    "bedrock": "aws_bedrock",
    "bedrock-agent": "aws_bedrock",
    "bedrock-agent-runtime": "aws_bedrock",
    "sagemaker-runtime": "aws_sagemaker",
}

#: Keyword arguments that name a model (on calls into an AI package).
_MODEL_KWS: frozenset[str] = frozenset(
    {
        "model",
        "model_name",
        "model_id",
        "modelId",
        "model_name_or_path",
        "pretrained_model_name_or_path",
        "deployment_name",
        "azure_deployment",
        "deployment_id",
        "engine",
        "repo_id",
        "llm",
        "EndpointName",
        "endpoint_name",
    }
)
#: Keys of literal dicts (config lists, request bodies) that name a model.
_MODEL_DICT_KEYS: frozenset[str] = frozenset({"model", "model_id", "modelId"})
#: Keyword arguments (and dict keys) that give a custom endpoint.
_ENDPOINT_KWS: frozenset[str] = frozenset(
    {
        "base_url",
        "api_base",
        "openai_api_base",
        "azure_endpoint",
        "endpoint",
        "endpoint_url",
        "server_url",
        "inference_server_url",
        "host",
    }
)
_ENDPOINT_CATEGORIES = frozenset(
    {"llm_sdk", "llm_framework", "router", "agent_framework", "model_hub", "cloud_sdk"}
)
_FRAMEWORKS = frozenset({"router", "llm_framework", "agent_framework"})
#: Package categories whose mere import reaches the package's provider.
_LOCAL_CATEGORIES = frozenset({"ml_framework", "vector_store", "mcp"})

#: Callables that take a model identifier positionally: name -> (index, packages or None = any).
_POSITIONAL_MODEL: dict[str, tuple[int, frozenset[str] | None]] = {
    "from_pretrained": (0, None),
    "SentenceTransformer": (0, frozenset({"sentence-transformers"})),
    "CrossEncoder": (0, frozenset({"sentence-transformers"})),
    "SparseEncoder": (0, frozenset({"sentence-transformers"})),
    "GenerativeModel": (0, frozenset({"google-generativeai", "google-cloud-aiplatform"})),
    "pipeline": (1, frozenset({"transformers"})),
    "hf_hub_download": (0, frozenset({"huggingface-hub"})),
    "snapshot_download": (0, frozenset({"huggingface-hub"})),
    "InferenceClient": (0, frozenset({"huggingface-hub"})),
    "AsyncInferenceClient": (0, frozenset({"huggingface-hub"})),
    "chat": (0, frozenset({"ollama"})),
    "generate": (0, frozenset({"ollama"})),
    "embed": (0, frozenset({"ollama"})),
    "embeddings": (0, frozenset({"ollama"})),
    "pull": (0, frozenset({"ollama"})),
    "completion": (0, frozenset({"litellm"})),
    "acompletion": (0, frozenset({"litellm"})),
    "embedding": (0, frozenset({"litellm"})),
    "aembedding": (0, frozenset({"litellm"})),
    "text_completion": (0, frozenset({"litellm"})),
    "image_generation": (0, frozenset({"litellm"})),
    "transcription": (0, frozenset({"litellm"})),
    "speech": (0, frozenset({"litellm"})),
    "LLM": (0, frozenset({"vllm"})),
    "load": (0, frozenset({"spacy", "flair"})),
    "init_chat_model": (0, frozenset({"langchain"})),
    "init_embeddings": (0, frozenset({"langchain"})),
    "Agent": (0, frozenset({"pydantic-ai"})),
    "create_react_agent": (0, frozenset({"langgraph"})),
}
_GENSIM_DOWNLOADER = "gensim.downloader.load"
_FLAIR_EMBEDDINGS = re.compile(r"^(?:Transformer\w*|Flair|Word|Sentence\w*)Embeddings$")

#: Provider aliases used in ``provider/model`` (LiteLLM) and ``provider:model``
#: (LangChain ``init_chat_model``, PydanticAI) model strings.
_PROVIDER_ALIASES: dict[str, str] = {
    "openai": "openai",
    "azure": "azure_openai",
    "azure_ai": "azure_openai",
    "azure_openai": "azure_openai",
    "anthropic": "anthropic",
    "bedrock": "aws_bedrock",
    "bedrock_converse": "aws_bedrock",
    "sagemaker": "aws_sagemaker",
    "vertex_ai": "google_vertex",
    "vertex_ai_beta": "google_vertex",
    "google_vertexai": "google_vertex",
    "google-vertex": "google_vertex",
    "gemini": "google",
    "google_genai": "google",
    "google-gla": "google",
    "cohere": "cohere",
    "cohere_chat": "cohere",
    "mistral": "mistral",
    "mistralai": "mistral",
    "groq": "groq",
    "ollama": "ollama",
    "ollama_chat": "ollama",
    "huggingface": "huggingface",
    "together_ai": "together",
    "together": "together",
    "fireworks_ai": "fireworks",
    "fireworks": "fireworks",
    "perplexity": "perplexity",
    "deepseek": "deepseek",
    "xai": "xai",
    "openrouter": "openrouter",
    "replicate": "replicate",
    "voyage": "voyage",
}
_PREFIXED_MODEL = re.compile(r"^([A-Za-z][\w-]*)([:/])(.+)$")
#: Packages whose model strings are LiteLLM's ``provider/model``.
_SLASH_PREFIXED = frozenset({"litellm", "crewai"})

#: Agent classes (or factory functions) by package.
_AGENT_CLASSES: dict[str, frozenset[str]] = {
    "Agent": frozenset({"crewai", _AGENTS_PYPI, "pydantic-ai", "google-adk"}),
    "LlmAgent": frozenset({"google-adk"}),
    "AssistantAgent": frozenset({"pyautogen", "autogen-agentchat"}),
    "ConversableAgent": frozenset({"pyautogen", "autogen-agentchat"}),
    "UserProxyAgent": frozenset({"pyautogen", "autogen-agentchat"}),
    "CodeExecutorAgent": frozenset({"autogen-agentchat"}),
    "CodeAgent": frozenset({"smolagents"}),
    "ToolCallingAgent": frozenset({"smolagents"}),
    "create_react_agent": frozenset({"langgraph", "langchain"}),
    "create_agent": frozenset({"langchain"}),
    "ClaudeSDKClient": frozenset({"claude-agent-sdk"}),
    "query": frozenset({"claude-agent-sdk"}),
}
_AGENT_MODEL_KWS = ("model", "llm", "model_client", "llm_config", "options")

#: HTTP libraries: callable name -> index of the URL argument.
_HTTP_ROOTS = frozenset(
    {"requests", "httpx", "aiohttp", "urllib", "urllib3", "http", "websockets", "websocket"}
)
_HTTP_URL_ARG: dict[str, int] = {
    "get": 0,
    "post": 0,
    "put": 0,
    "patch": 0,
    "delete": 0,
    "head": 0,
    "options": 0,
    "request": 1,
    "stream": 1,
    "urlopen": 0,
    "urlretrieve": 0,
    "Request": 0,
    "connect": 0,
    "ws_connect": 0,
    "create_connection": 0,
    "WebSocketApp": 0,
}
_HTTP_CLIENTS = frozenset({"Client", "AsyncClient", "Session", "session", "ClientSession"})
_HTTP_CONNECTIONS = {"HTTPSConnection": "https", "HTTPConnection": "http"}
#: Paths of OpenAI-compatible APIs: a call to one on an unknown host is a custom AI endpoint.
_COMPAT_PATH = re.compile(r"/(?:chat/completions|v1/completions|v1/embeddings|v1/responses)/?$")
#: Where an API path ends and the operation starts (the endpoint is what comes before).
_API_OPERATION = re.compile(
    r"/(?:chat/completions|completions|embeddings|responses|messages|moderations|"
    r"images/\w+|audio/\w+|models(?:/.*)?|deployments/.*|model/.*|api/(?:generate|chat|embed|"
    r"embeddings|tags|pull)|invocations)/?$"
)
_PATH_MODELS: dict[str, re.Pattern[str]] = {
    "huggingface": re.compile(r"/models/([\w.-]+(?:/[\w.-]+)?)/?$"),
    "google": re.compile(r"/models/([\w.-]+):"),
    "google_vertex": re.compile(r"/models/([\w.@-]+):"),
    "azure_openai": re.compile(r"/deployments/([\w.-]+)/"),
    "aws_bedrock": re.compile(r"/model/([^/]+)/"),
}

#: Method paths that only an SDK client has: used when the receiver cannot be traced.
_OPENAI_COMPATIBLE = ("openai", "groq", "together", "fireworks-ai")
_SDK_SHAPES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("chat.completions.create", _OPENAI_COMPATIBLE),
    ("chat.completions.parse", ("openai",)),
    ("chat.completions.stream", ("openai",)),
    ("completions.create", _OPENAI_COMPATIBLE),
    ("embeddings.create", (*_OPENAI_COMPATIBLE, "mistralai")),
    ("responses.create", ("openai",)),
    ("responses.parse", ("openai",)),
    ("images.generate", ("openai",)),
    ("audio.transcriptions.create", ("openai", "groq")),
    ("messages.create", ("anthropic",)),
    ("messages.stream", ("anthropic",)),
    ("models.generate_content", ("google-genai",)),
    ("generate_content", ("google-generativeai", "google-cloud-aiplatform", "google-genai")),
    ("chat.complete", ("mistralai",)),
    ("invoke_model", ("boto3", "aioboto3")),
    ("invoke_model_with_response_stream", ("boto3", "aioboto3")),
    ("converse", ("boto3", "aioboto3")),
    ("converse_stream", ("boto3", "aioboto3")),
    ("invoke_endpoint", ("boto3", "aioboto3")),
)
_SHAPES_BY_METHOD: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
for _shape in _SDK_SHAPES:
    _SHAPES_BY_METHOD.setdefault(_shape[0].rsplit(".", 1)[-1], []).append(_shape)

#: MCP: classes that define a server, clients that launch or reach one.
_MCP_SERVER_CLASSES = frozenset({"FastMCP", "MCPServer"})
_MCP_STDIO = frozenset({"StdioServerParameters", "StdioServerParams", "MCPServerStdio"})
_MCP_REMOTE: dict[str, str] = {
    "sse_client": "sse",
    "streamablehttp_client": "streamable-http",
    "streamable_http_client": "streamable-http",
    "websocket_client": "websocket",
    "SseServerParams": "sse",
    "StreamableHttpServerParams": "streamable-http",
    "MCPServerSse": "sse",
    "MCPServerSSE": "sse",
    "MCPServerStreamableHttp": "streamable-http",
    "MCPServerStreamableHTTP": "streamable-http",
    "MCPServerHTTP": "streamable-http",
}
_MCP_RUN_TRANSPORT: dict[str, str | None] = {
    "run": None,
    "run_async": None,
    "run_stdio_async": "stdio",
    "run_sse_async": "sse",
    "run_streamable_http_async": "streamable-http",
    "sse_app": "sse",
    "streamable_http_app": "streamable-http",
    "http_app": "streamable-http",
}
_TRANSPORT_NAMES = {
    "http": "streamable-http",
    "streamable_http": "streamable-http",
    "streamable-http": "streamable-http",
    "sse": "sse",
    "stdio": "stdio",
    "websocket": "websocket",
    "ws": "websocket",
}
#: Launcher flags that take a value (skipped when naming a launched server).
_FLAGS_WITH_VALUE = frozenset(
    {
        "--from",
        "--with",
        "--directory",
        "--python",
        "-p",
        "-e",
        "--env",
        "-v",
        "--volume",
        "--name",
        "--network",
        "--env-file",
        "-w",
        "--workdir",
        "-u",
        "--user",
        "--entrypoint",
        "--mount",
        "--platform",
        "--pull",
        "--project",
        "--package",
    }
)
_SUBCOMMANDS = {
    "docker": {"run"},
    "podman": {"run"},
    "uv": {"run", "tool"},
    "npm": {"exec"},
    "pnpm": {"dlx", "exec"},
    "yarn": {"dlx"},
}
_SECRETISH_ARG = re.compile(r"(?i)(key|token|secret|password|passwd|auth)")
_TOKEN_LIKE = re.compile(r"^[A-Za-z0-9_-]{24,}$")

_MODEL_FILE_EXT = re.compile(
    r"\.(?:bin|pt|pth|safetensors|gguf|ggml|onnx|pkl|pickle|joblib|h5|hdf5|keras|ckpt|"
    r"model|json|txt|zip|tar|gz|npz|npy|pb|tflite|mlmodel)$",
    re.IGNORECASE,
)
_MODEL_NAME = re.compile(r"^[A-Za-z0-9][\w.:/@+-]*$")
_MAX_EVIDENCE = 20
_MAX_COMBOS = 8
_MAX_DEPTH = 8
_MAX_PIECES = 256

_REDACTIONS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(
            r"(?i)((?:api[_-]?key|apikey|secret|token|password|passwd|pwd|authorization|"
            r"access[_-]?key|private[_-]?key|credentials?)[\w-]*[\"']?\s*[:=]\s*[fbru]{0,2}"
            r"[\"'])([^\"']{4,})"
        ),
        r"\1****",
    ),
    (re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}"), r"\1****"),
    (re.compile(r"(?i)([?&](?:key|api[_-]?key|token|access_token|sig)=)[^&\"'\s]+"), r"\1****"),
    (re.compile(r"(://[^/\s:@\"']+:)[^@\s\"']+@"), r"\1****@"),
    (re.compile(r"\b(sk-[a-z]{0,8}-?)[A-Za-z0-9_-]{12,}"), r"\1****"),
)

_LINE_SPLIT = re.compile(r"\r\n|\r|\n")


def split_lines(text: str) -> list[str]:
    """Split ``text`` into lines the way the Python tokenizer counts them."""
    return _LINE_SPLIT.split(text)


def redact(line: str) -> str:
    """A line of code stripped, with anything secret-looking masked, at most 200 chars."""
    out = line.strip()
    for rx, repl in _REDACTIONS:
        out = rx.sub(repl, out)
    return out[:200]


_IMPORT_LINE = re.compile(r"^[ \t]*(?:from|import)[ \t]+([^\n#;]*)", re.MULTILINE)
_IMPORT_SPLIT = re.compile(r"[\s,()]+")


@cache
def _prefilter() -> tuple[frozenset[str], tuple[str, ...]]:
    """Top-level modules worth analysing, and fixed pieces of AI API host names."""
    cat = load_catalog()
    roots = {m.split(".")[0] for pkg in cat.packages for m in pkg.modules}
    roots |= _HTTP_ROOTS | {"importlib"}
    hosts: set[str] = set()
    for prov in cat.providers.values():
        for host in prov.hosts:
            piece = max(host.split("*"), key=len).strip(".")
            if "." in piece:
                hosts.add(piece)
    return frozenset(roots), tuple(sorted(hosts))


def might_use_ai(text: str) -> bool:
    """Cheap test: can ``text`` hold anything the analysis looks for?

    True when the text imports an AI or HTTP module, imports dynamically, or
    names the host of an AI API.
    """
    roots, hosts = _prefilter()
    if "__import__" in text or "import_module" in text:
        return True
    for m in _IMPORT_LINE.finditer(text):
        for part in _IMPORT_SPLIT.split(m.group(1)):
            if part.split(".", 1)[0] in roots:
                return True
    return any(h in text for h in hosts)


def _plausible_model(value: str) -> bool:
    v = value.strip()
    if not v or len(v) > 200 or v != value:
        return False
    if "://" in v or v.startswith(("/", ".", "~")) or "\\" in v:
        return False
    if _MODEL_FILE_EXT.search(v):
        return False
    if v.lower().startswith(("your", "<", "my-model", "model-name")):
        return False
    return _MODEL_NAME.match(v) is not None


def _split_provider(value: str, separators: str) -> tuple[str | None, str]:
    """``anthropic/claude-3`` or ``openai:gpt-4o`` -> (provider, model), by ``separators``."""
    m = _PREFIXED_MODEL.match(value)
    if m is not None and m.group(2) in separators:
        prov = _PROVIDER_ALIASES.get(m.group(1).lower())
        if prov is not None:
            return prov, m.group(3)
    return None, value


def _clean_url(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    return f"{parts.scheme.lower()}://{host.lower()}{port}{parts.path}"


def _host_port(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    return host, (f"{host}:{port}" if port else host)


def _api_base(url: str) -> str:
    """The part of an API URL before the operation (``.../v1/chat/completions`` -> ``.../v1``)."""
    parts = urlsplit(url)
    path = re.split(r":\w+$", parts.path)[0]
    m = _API_OPERATION.search(path)
    base_path = path[: m.start()] if m is not None else ""
    return f"{parts.scheme.lower()}://{_host_port(url)[1]}{base_path.rstrip('/')}"


def _package_module(pkg: PackageInfo, qual: str) -> str:
    """The module of ``pkg`` that ``qual`` lies in (``google.genai.X``: ``google.genai``)."""
    path = qual.replace("()", "")
    hits = [m for m in pkg.modules if path == m or path.startswith(m + ".")]
    return max(hits, key=len) if hits else path.split(".")[0]


def _is_standard_host(provider_id: str, host_port: str) -> bool:
    return host_port in load_catalog().provider(provider_id).hosts


def _has_service(provider_id: str | None) -> bool:
    if provider_id is None:
        return False
    prov = load_catalog().providers.get(provider_id)
    return prov is not None and prov.service is not None


# --------------------------------------------------------------------------
# Local modules shadowing third-party ones

_DIR_CACHE: dict[str, tuple[int, frozenset[str]]] = {}
_DIR_LOCK = Lock()


def _dir_entries(directory: Path) -> frozenset[str]:
    key = str(directory)
    try:
        mtime = directory.stat().st_mtime_ns
    except OSError:
        return frozenset()
    with _DIR_LOCK:
        hit = _DIR_CACHE.get(key)
    if hit is not None and hit[0] == mtime:
        return hit[1]
    try:
        entries = frozenset(p.name for p in directory.iterdir())
    except OSError:
        entries = frozenset()
    with _DIR_LOCK:
        if len(_DIR_CACHE) > 50_000:
            _DIR_CACHE.clear()
        _DIR_CACHE[key] = (mtime, entries)
    return entries


def _has_local_module(directory: Path, name: str) -> bool:
    entries = _dir_entries(directory)
    if f"{name}.py" in entries:
        return True
    return name in entries and (directory / name / "__init__.py").is_file()


# --------------------------------------------------------------------------
# Values


@dataclass(frozen=True)
class ModelUse:
    """A model an object was configured with (name and provider as reported)."""

    name: str
    provider: str | None


class Ref(NamedTuple):
    """What an expression refers to, symbolically.

    ``qual`` is a dotted path from the imported module, with ``()`` for each
    call: ``openai.OpenAI().chat.completions.create``.
    """

    qual: str
    pkg: PackageInfo | None
    provider: str | None = None
    custom: bool = False
    endpoint: tuple[str, str | None] | None = None
    ai: bool = True
    models: tuple[ModelUse, ...] = ()
    server: str | None = None
    aliases: frozenset[str] = frozenset()

    @property
    def names(self) -> list[str]:
        """The dotted path without calls."""
        return self.qual.replace("()", "").split(".")

    @property
    def instance(self) -> bool:
        """Whether this is the result of a call (an object, not a module or class)."""
        return "()" in self.qual


@dataclass(frozen=True)
class Resolved:
    """A string value an expression can have, and the name it came through."""

    value: str
    via: str | None = None


_Binding = tuple[ast.expr, "Scope"] | None


class Scope:
    """A scope's bindings: literal values (pass 1) and references (pass 2)."""

    def __init__(self, kind: str, parent: Scope | None, node: ast.AST | None = None) -> None:
        self.kind = kind
        self.parent = parent
        self.node = node
        self.values: dict[str, list[_Binding]] = {}
        self.attr_values: dict[str, list[_Binding]] = {}
        self.refs: dict[str, Ref] = {}
        self.attr_refs: dict[str, Ref] = {}
        self.functions: dict[str, Scope] = {}
        self.classes: dict[str, Scope] = {}
        self.globals: set[str] = set()
        self.cls: Scope | None = None
        self.self_name: str | None = None
        self.returns: Ref | None = None
        self.pending = False
        self.unit: Unit | None = None

    def module(self) -> Scope:
        """The module scope this scope is in."""
        s = self
        while s.parent is not None:
            s = s.parent
        return s


@dataclass
class Unit:
    """One piece of parsed source: a file, or a notebook cell."""

    tree: ast.Module
    lines: list[str]
    cell: int | None = None


@dataclass(frozen=True)
class Site:
    """Where something was seen: a line (within the cell, for notebooks) of some source."""

    line: int
    cell: int | None
    lines: Sequence[str] = ()


# --------------------------------------------------------------------------
# Walking

#: Nodes with nothing below them worth visiting.
_LEAVES = (
    ast.Constant,
    ast.Name,
    ast.expr_context,
    ast.operator,
    ast.unaryop,
    ast.cmpop,
    ast.boolop,
    ast.alias,
    ast.Pass,
    ast.Break,
    ast.Continue,
)
_BLOCKS = (ast.stmt, ast.excepthandler, ast.match_case, ast.withitem)


class _Visitor(ast.NodeVisitor):
    """A node visitor with cached dispatch that does not descend into leaves."""

    def __init__(self) -> None:
        self._methods: dict[type, Callable[[Any], Any]] = {}

    def visit(self, node: ast.AST) -> Any:
        cls = node.__class__
        method = self._methods.get(cls)
        if method is None:
            found: Callable[[Any], Any] = getattr(self, "visit_" + cls.__name__, self.generic_visit)
            self._methods[cls] = method = found
        return method(node)

    def generic_visit(self, node: ast.AST) -> None:
        for name in node._fields:
            value = getattr(node, name, None)
            if isinstance(value, list):
                for item in value:
                    if isinstance(item, ast.AST) and not isinstance(item, _LEAVES):
                        self.visit(item)
            elif isinstance(value, ast.AST) and not isinstance(value, _LEAVES):
                self.visit(value)

    def visit_BinOp(self, node: ast.BinOp) -> None:
        # Long generated chains (``"a" + "b" + ...``) nest thousands deep on the left.
        rights: list[ast.expr] = []
        cur: ast.expr = node
        while isinstance(cur, ast.BinOp):
            rights.append(cur.right)
            cur = cur.left
        for operand in [cur, *reversed(rights)]:
            if not isinstance(operand, _LEAVES):
                self.visit(operand)


# --------------------------------------------------------------------------
# Pass 1: bindings


class _Binder(_Visitor):
    """Records what each name is assigned in each scope, and the scopes themselves.

    Only statements are walked (assignments live there); expressions are not.
    """

    def __init__(self, module: Scope) -> None:
        super().__init__()
        self.scope = module
        self.scopes: dict[int, Scope] = {}
        self.from_agents: set[str] = set()
        self.agents_submodule = False

    def generic_visit(self, node: ast.AST) -> None:
        if not isinstance(node, ast.Module | ast.stmt | ast.excepthandler | ast.match_case):
            return
        for name in node._fields:
            value = getattr(node, name, None)
            if isinstance(value, list):
                for item in value:
                    if isinstance(item, _BLOCKS):
                        self.visit(item)

    def _add(self, name: str, binding: _Binding) -> None:
        scope = self.scope.module() if name in self.scope.globals else self.scope
        scope.values.setdefault(name, []).append(binding)

    def bind(self, target: ast.expr, value: ast.expr | None) -> None:
        if isinstance(target, ast.Name):
            self._add(target.id, (value, self.scope) if value is not None else None)
        elif isinstance(target, ast.Tuple | ast.List):
            elts = value.elts if isinstance(value, ast.Tuple | ast.List) else None
            if elts is not None and len(elts) == len(target.elts):
                for t, v in zip(target.elts, elts, strict=True):
                    self.bind(t, v)
            else:
                for t in target.elts:
                    self.bind(t, None)
        elif isinstance(target, ast.Starred):
            self.bind(target.value, None)
        elif (
            isinstance(target, ast.Attribute)
            and isinstance(target.value, ast.Name)
            and target.value.id == self.scope.self_name
            and self.scope.cls is not None
        ):
            self.scope.cls.attr_values.setdefault(target.attr, []).append(
                (value, self.scope) if value is not None else None
            )

    def visit_BinOp(self, node: ast.BinOp) -> None:
        return None

    def visit_Assign(self, node: ast.Assign) -> None:
        for t in node.targets:
            self.bind(t, node.value)
        self.visit(node.value)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self.bind(node.target, node.value)
            self.visit(node.value)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self.bind(node.target, None)
        self.visit(node.value)

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        self.bind(node.target, node.value)
        self.visit(node.value)

    def visit_For(self, node: ast.For | ast.AsyncFor) -> None:
        self.bind(node.target, None)
        self.generic_visit(node)

    visit_AsyncFor = visit_For

    def visit_withitem(self, node: ast.withitem) -> None:
        if node.optional_vars is not None:
            self.bind(node.optional_vars, None)
        self.visit(node.context_expr)

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.name:
            self._add(node.name, None)
        self.generic_visit(node)

    def visit_Global(self, node: ast.Global | ast.Nonlocal) -> None:
        if isinstance(node, ast.Global):
            self.scope.globals.update(node.names)

    visit_Nonlocal = visit_Global

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.asname or alias.name.split(".")[0], None)
            if alias.name == "agents" or alias.name.startswith("agents."):
                sub = alias.name.split(".")[1] if "." in alias.name else ""
                self.agents_submodule |= sub in _AGENTS_SDK_SUBMODULES

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        for alias in node.names:
            if alias.name != "*":
                self._add(alias.asname or alias.name, None)
        mod = node.module or ""
        if node.level == 0 and (mod == "agents" or mod.startswith("agents.")):
            parts = mod.split(".")
            if len(parts) > 1 and parts[1] in _AGENTS_SDK_SUBMODULES:
                self.agents_submodule = True
            self.from_agents.update(a.name for a in node.names)

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        for d in node.decorator_list:
            self.visit(d)
        args = node.args
        for expr in [*args.defaults, *(d for d in args.kw_defaults if d is not None)]:
            self.visit(expr)
        outer = self.scope
        self._add(node.name, None)
        fs = Scope("function", outer, node)
        outer.functions[node.name] = fs
        positional = [*args.posonlyargs, *args.args]
        defaults: list[ast.expr | None] = [None] * (len(positional) - len(args.defaults))
        defaults += list(args.defaults)
        for a, default in zip(positional, defaults, strict=True):
            fs.values.setdefault(a.arg, []).append(
                (default, outer) if default is not None else None
            )
        for a, kd in zip(args.kwonlyargs, args.kw_defaults, strict=True):
            fs.values.setdefault(a.arg, []).append((kd, outer) if kd is not None else None)
        for extra in (args.vararg, args.kwarg):
            if extra is not None:
                fs.values.setdefault(extra.arg, []).append(None)
        if (
            outer.kind == "class"
            and positional
            and not any(
                isinstance(d, ast.Name) and d.id == "staticmethod" for d in node.decorator_list
            )
        ):
            fs.cls = outer
            fs.self_name = positional[0].arg
        self.scopes[id(node)] = fs
        self.scope = fs
        for stmt in node.body:
            self.visit(stmt)
        self.scope = outer

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node: ast.Lambda) -> None:
        outer = self.scope
        ls = Scope("function", outer, node)
        for a in [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]:
            ls.values.setdefault(a.arg, []).append(None)
        self.scopes[id(node)] = ls
        self.scope = ls
        self.visit(node.body)
        self.scope = outer

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for d in [*node.decorator_list, *node.bases]:
            self.visit(d)
        outer = self.scope
        self._add(node.name, None)
        cs = Scope("class", outer, node)
        outer.classes[node.name] = cs
        self.scopes[id(node)] = cs
        self.scope = cs
        for stmt in node.body:
            self.visit(stmt)
        self.scope = outer


# --------------------------------------------------------------------------
# Reporting


@dataclass
class _ServerInfo:
    name: str
    site: Site
    lowlevel: bool
    transport: str | None = None
    tools: list[str] = field(default_factory=list)
    resources: list[str] = field(default_factory=list)
    prompts: list[str] = field(default_factory=list)


class Report:
    """Turns what the analysis saw into assets, relations and findings for one file.

    Everything a file yields hangs off its *owner*: the application for a
    ``.py`` file, the notebook for an ``.ipynb`` (itself contained in the
    application). Objects seen several times are merged here, keeping at most
    a few pieces of evidence each.
    """

    def __init__(self, target: Target, scanner: str, *, notebook: bool) -> None:
        self.target = target
        self.scanner = scanner
        self.notebook = notebook
        self.path = target.display_path
        self.ev_kind = EvidenceKind.NOTEBOOK_CELL if notebook else EvidenceKind.CODE
        self.app = observe.application(target)
        self.owner = observe.notebook(target) if notebook else self.app
        #: (cell, line) -> the line with its secrets masked.
        self.secret_lines: dict[tuple[int | None, int], str] = {}
        self._assets: dict[str, Asset] = {}
        self._relations: dict[str, Relation] = {}
        self._findings: dict[str, Finding] = {}
        self._first: Evidence | None = None
        self.catalog = load_catalog()

    @property
    def found_ai(self) -> bool:
        """Whether anything AI was reported (credentials aside)."""
        return self._first is not None

    # -- building blocks ----------------------------------------------------
    def snippet(self, site: Site) -> str:
        """The line at ``site``, stripped, with anything secret masked."""
        masked = self.secret_lines.get((site.cell, site.line))
        if masked is not None:
            return masked
        lines = site.lines
        return redact(lines[site.line - 1]) if 0 < site.line <= len(lines) else ""

    def evidence(self, site: Site, detail: str) -> Evidence:
        """Evidence of kind code/notebook_cell at ``site``."""
        ev = Evidence(
            kind=self.ev_kind,
            path=self.path,
            line=site.line,
            cell=site.cell,
            snippet=self.snippet(site) or None,
            detail=detail[:300],
            scanner=self.scanner,
        )
        if self._first is None:
            self._first = ev
        return ev

    def _asset(self, asset: Asset) -> Asset:
        have = self._assets.get(asset.id)
        if have is None:
            self._assets[asset.id] = asset
            return asset
        if len(have.evidence) >= _MAX_EVIDENCE:
            asset = asset.model_copy(update={"evidence": []})
        merged = have.merge(asset)
        self._assets[asset.id] = merged
        return merged

    def _relate(self, source: Asset, kind: RelationKind, target: Asset, ev: Evidence) -> None:
        rel = observe.relate(source, kind, target, ev)
        have = self._relations.get(rel.id)
        if have is None:
            self._relations[rel.id] = rel
        elif len(have.evidence) < _MAX_EVIDENCE and all(
            e.identity() != ev.identity() for e in have.evidence
        ):
            have.evidence.append(ev)

    # -- what the analysis reports -------------------------------------------
    def package(self, pkg: PackageInfo, site: Site, detail: str) -> None:
        """An AI package in use (PyPI, no version)."""
        if pkg.pypi is None:
            return
        ev = self.evidence(site, detail)
        self._asset(observe.package("pypi", pkg.pypi, None, info=pkg, evidence=ev))

    def service(self, provider_id: str, site: Site, detail: str) -> Asset | None:
        """The owner calls the hosted service of ``provider_id``."""
        if not _has_service(provider_id):
            return None
        ev = self.evidence(site, detail)
        svc = self._asset(observe.service(provider_id, ev))
        self._relate(self.owner, RelationKind.CALLS_SERVICE, svc, ev)
        return svc

    def endpoint(self, url: str, provider_id: str | None, site: Site, detail: str) -> Asset:
        """The owner calls a custom endpoint."""
        ev = self.evidence(site, detail)
        ep = self._asset(observe.endpoint(url, provider_id, ev))
        self._relate(self.owner, RelationKind.CALLS_SERVICE, ep, ev)
        return ep

    def model(
        self,
        name: str,
        provider_id: str | None,
        site: Site,
        detail: str,
        *,
        hosted: bool,
        endpoint: tuple[str, str | None] | None = None,
    ) -> Asset:
        """The owner uses a model; its provider's service (or the endpoint) serves it."""
        ev = self.evidence(site, detail)
        mod = self._asset(observe.model(name, provider_id, ev))
        self._relate(self.owner, RelationKind.USES_MODEL, mod, ev)
        if hosted and mod.provider is not None:
            svc = self.service(mod.provider, site, detail)
            if svc is not None:
                self._relate(svc, RelationKind.SERVES, mod, ev)
        if endpoint is not None:
            ep = self.endpoint(endpoint[0], endpoint[1], site, detail)
            self._relate(ep, RelationKind.SERVES, mod, ev)
        return mod

    def mcp_launched(
        self,
        name: str,
        site: Site,
        detail: str,
        *,
        transport: str | None,
        command: str | None = None,
        url: str | None = None,
        env: Sequence[str] = (),
    ) -> None:
        """The owner starts or connects to an MCP server."""
        ev = self.evidence(site, detail)
        srv = observe.mcp_server(
            name,
            scope=self.target.project_path,
            transport=transport,
            command=command,
            url=url,
            evidence=ev,
        )
        if env:
            srv = srv.model_copy(update={"attributes": {**srv.attributes, "env": sorted(env)}})
        srv = self._asset(srv)
        self._relate(self.owner, RelationKind.CALLS_SERVICE, srv, ev)

    def mcp_defined(self, info: _ServerInfo) -> None:
        """An MCP server defined in this file (declared in the owner)."""
        ev = self.evidence(info.site, f"defines MCP server {info.name!r}")
        srv = observe.mcp_server(
            info.name, scope=self.target.project_path, transport=info.transport, evidence=ev
        )
        attrs = dict(srv.attributes)
        attrs["defined_in"] = self.path
        for key, values in (
            ("tools", info.tools),
            ("resources", info.resources),
            ("prompts", info.prompts),
        ):
            if values:
                attrs[key] = sorted(set(values))
        srv = self._asset(srv.model_copy(update={"attributes": attrs}))
        self._relate(srv, RelationKind.DECLARED_IN, self.owner, ev)

    def agent(
        self,
        name: str,
        pkg: PackageInfo,
        cls: str,
        models: Sequence[ModelUse],
        tools: Sequence[str],
        site: Site,
    ) -> None:
        """An agent declared in this file, and the models it uses."""
        ev = self.evidence(site, f"declares {cls} agent {name!r} ({pkg.name})")
        attrs: dict[str, object] = {"framework": pkg.name, "class": cls}
        if tools:
            attrs["tools"] = sorted(set(tools))
        agent = self._asset(
            Asset.new(
                AssetKind.AGENT,
                name,
                key=normalise_key("agent", self.target.project_path, name),
                provider=pkg.provider,
                attributes=attrs,
                evidence=[ev],
            )
        )
        self._relate(agent, RelationKind.DECLARED_IN, self.owner, ev)
        for m in models:
            mod = observe.model(m.name, m.provider)
            self._relate(agent, RelationKind.USES_MODEL, mod, ev)

    def credential(
        self,
        hit: SecretHit,
        *,
        line: int,
        cell: int | None,
        in_output: bool,
        detail: str,
    ) -> None:
        """A hard-coded (or printed) credential: asset, finding and relation."""
        ev = Evidence(
            kind=EvidenceKind.NOTEBOOK_OUTPUT if in_output else self.ev_kind,
            path=self.path,
            line=line,
            cell=cell,
            snippet=hit.redacted or None,
            detail=detail,
            scanner=self.scanner,
        )
        cred = self._asset(
            observe.credential(
                hit.secret_type, hit.fingerprint, provider_id=hit.provider_id, evidence=ev
            )
        )
        finding = observe.exposed_credential_finding(cred, ev, in_output=in_output)
        self._findings.setdefault(finding.id, finding)
        self._relate(cred, RelationKind.DECLARED_IN, self.owner, ev)

    def observations(self) -> list[Observation]:
        """Everything reported, owner first; nothing at all when nothing was reported."""
        if not self._assets and not self._findings:
            return []
        first = self._first
        if first is None:
            cred_ev = next(iter(self._findings.values())).evidence
            first = cred_ev[0] if cred_ev else None
        out: list[Observation] = []
        if self.notebook:
            nb = self.owner.model_copy(update={"evidence": [first] if first else []})
            app_ev = Evidence(
                kind=EvidenceKind.FILE,
                path=self.path,
                detail="notebook in this project",
                scanner=self.scanner,
            )
            app = self.app.model_copy(update={"evidence": [app_ev]})
            out += [app, nb, observe.relate(app, RelationKind.CONTAINS, nb, app_ev)]
        else:
            out.append(self.app.model_copy(update={"evidence": [first] if first else []}))
        out += list(self._assets.values())
        out += list(self._relations.values())
        out += list(self._findings.values())
        return out


# --------------------------------------------------------------------------
# Pass 2: the analysis


class Analyzer(_Visitor):
    """Interprets parsed source symbolically and reports what is AI to a :class:`Report`."""

    def __init__(self, report: Report, target: Target) -> None:
        super().__init__()
        self.report = report
        self.target = target
        self.cat = load_catalog()
        self.module = Scope("module", None)
        self.scope = self.module
        self.unit: Unit | None = None
        self.scopes: dict[int, Scope] = {}
        self._calls: dict[int, Ref | None] = {}
        self._deferred: deque[Scope] = deque()
        self._local_dirs = self._module_dirs(target)
        self._shadow: dict[str, bool] = {}
        self._agents_ok = False
        self._assign_name: str | None = None
        #: AI packages confirmed in use: pypi name -> (package, import site, module).
        self._imported: dict[str, tuple[PackageInfo, Site | None, str]] = {}
        self._pending: dict[str, tuple[Site, str]] = {}
        self._default_uses: dict[str, list[tuple[Site, str]]] = {}
        self._other_uses: set[str] = set()
        self._clients: dict[str, list[Ref]] = {}
        self._servers: dict[str, _ServerInfo] = {}
        self._lowlevel_tools: list[str] = []

    # -- entry point ---------------------------------------------------------
    def run(self, units: Sequence[Unit]) -> None:
        """Analyse ``units`` (a file, or a notebook's cells in order) as one module."""
        binder = _Binder(self.module)
        for u in units:
            binder.visit(u.tree)
        self.scopes = binder.scopes
        self._agents_ok = (
            bool(binder.from_agents & AGENTS_SDK_NAMES) or binder.agents_submodule
        ) and not self._shadowed("agents")
        for u in units:
            self.unit = u
            self.scope = self.module
            for stmt in u.tree.body:
                self.visit(stmt)
        while self._deferred:
            self._run_function(self._deferred.popleft())
        self._finish()

    def _finish(self) -> None:
        for name, (pkg, site, module) in self._imported.items():
            if pkg.provider is None or pkg.category in _LOCAL_CATEGORIES:
                continue
            if name in self._default_uses or name not in self._other_uses:
                if site is not None:
                    self.report.service(pkg.provider, site, f"imports {module}")
                for use_site, detail in self._default_uses.get(name, [])[:_MAX_EVIDENCE]:
                    self.report.service(pkg.provider, use_site, detail)
        if self._lowlevel_tools:
            low = [s for s in self._servers.values() if s.lowlevel]
            if len(low) == 1:
                low[0].tools.extend(self._lowlevel_tools)
        for info in self._servers.values():
            self.report.mcp_defined(info)

    # -- sites and scopes ----------------------------------------------------
    def _site(self, node: ast.AST) -> Site:
        assert self.unit is not None
        return Site(getattr(node, "lineno", 1), self.unit.cell, self.unit.lines)

    @staticmethod
    def _module_dirs(target: Target) -> tuple[Path, ...]:
        dirs: list[Path] = []
        base = target.project or target.root
        if base is not None:
            dirs += [base, base / "src"]
        if target.path is not None:
            dirs.append(target.path.parent)
        return tuple(dict.fromkeys(dirs))

    def _shadowed(self, root: str) -> bool:
        hit = self._shadow.get(root)
        if hit is None:
            hit = any(_has_local_module(d, root) for d in self._local_dirs)
            self._shadow[root] = hit
        return hit

    def _run_function(self, fs: Scope) -> None:
        if not fs.pending:
            return
        fs.pending = False
        node = fs.node
        assert isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        saved = (self.scope, self.unit, self._assign_name)
        self.scope, self.unit, self._assign_name = fs, fs.unit, None
        args = node.args
        for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]:
            if a.annotation is not None:
                ref = self._annotation_ref(a.annotation)
                if ref is not None:
                    fs.refs[a.arg] = ref
        for stmt in node.body:
            self.visit(stmt)
        self.scope, self.unit, self._assign_name = saved

    def _annotation_ref(self, ann: ast.expr) -> Ref | None:
        if isinstance(ann, ast.BinOp):
            return self._annotation_ref(ann.left) or self._annotation_ref(ann.right)
        if isinstance(ann, ast.Subscript):
            inner = ann.slice
            if isinstance(inner, ast.Tuple):
                return self._annotation_ref(inner.elts[0]) if inner.elts else None
            return self._annotation_ref(inner)
        if isinstance(ann, ast.Name | ast.Attribute):
            ref = self._eval(ann)
            if ref is not None and ref.pkg is not None and not ref.instance:
                return ref._replace(qual=ref.qual + "()")
        return None

    # -- literal resolution --------------------------------------------------
    def _lookup_values(self, name: str, scope: Scope) -> list[_Binding] | None:
        s: Scope | None = scope
        first = True
        while s is not None:
            if s.kind == "class" and not first:
                s = s.parent
                continue
            if name in s.globals and s.parent is not None:
                s = s.module()
                first = False
                continue
            if name in s.values:
                return s.values[name]
            first = False
            s = s.parent
        return None

    def _class_of(self, scope: Scope, name: str) -> Scope | None:
        s: Scope | None = scope
        while s is not None:
            if name in s.classes:
                return s.classes[name]
            s = s.parent
        return None

    def _attr_bindings(self, node: ast.Attribute, scope: Scope) -> list[_Binding] | None:
        base = node.value
        if not isinstance(base, ast.Name):
            return None
        cls: Scope | None = None
        if base.id == scope.self_name and scope.cls is not None:
            cls = scope.cls
        else:
            cls = self._class_of(scope, base.id)
        if cls is None:
            return None
        return [*cls.attr_values.get(node.attr, []), *cls.values.get(node.attr, [])]

    def strings(self, expr: ast.expr, scope: Scope | None = None, depth: int = 0) -> list[Resolved]:
        """The literal string values ``expr`` can have (empty when not known)."""
        scope = scope or self.scope
        if depth > _MAX_DEPTH:
            return []
        if isinstance(expr, ast.Constant):
            return [Resolved(expr.value)] if isinstance(expr.value, str) else []
        if isinstance(expr, ast.Name):
            return self._from_bindings(self._lookup_values(expr.id, scope), expr.id, depth)
        if isinstance(expr, ast.Attribute):
            via = f"{ast.unparse(expr)}"
            return self._from_bindings(self._attr_bindings(expr, scope), via, depth)
        if isinstance(expr, ast.JoinedStr) or (
            isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Add)
        ):
            joined: list[Resolved] = []
            for pieces in self._concat(expr, scope, depth) or []:
                known = [x for x in pieces if x is not None]
                if len(known) == len(pieces):
                    joined.append(Resolved("".join(known)))
            return self._unique(joined)
        if isinstance(expr, ast.IfExp):
            body = self.strings(expr.body, scope, depth + 1)
            return self._unique([*body, *self.strings(expr.orelse, scope, depth + 1)])
        if isinstance(expr, ast.BoolOp) and isinstance(expr.op, ast.Or):
            out: list[Resolved] = []
            for v in expr.values:
                out += self.strings(v, scope, depth + 1)
            return self._unique(out)
        if isinstance(expr, ast.Call):
            default = self._getter_default(expr)
            if default is None:
                return []
            via = f"default of {ast.unparse(expr.func)}()"
            return [Resolved(r.value, via) for r in self.strings(default, scope, depth + 1)]
        if isinstance(expr, ast.Subscript):
            container = self._container(expr.value, scope, depth + 1)
            key = self.strings(expr.slice, scope, depth + 1)
            if isinstance(container, ast.Dict) and len(key) == 1:
                for k, v in zip(container.keys, container.values, strict=True):
                    if isinstance(k, ast.Constant) and k.value == key[0].value:
                        return self.strings(v, scope, depth + 1)
        return []

    def _from_bindings(
        self, bindings: list[_Binding] | None, via: str, depth: int
    ) -> list[Resolved]:
        if not bindings:
            return []
        out: list[Resolved] = []
        for b in bindings:
            if b is None:
                continue
            expr, scope = b
            out += [
                Resolved(r.value, via if r.via is None else f"{via} -> {r.via}")
                for r in self.strings(expr, scope, depth + 1)
            ]
        return self._unique(out)

    @staticmethod
    def _unique(values: list[Resolved]) -> list[Resolved]:
        seen: set[str] = set()
        out: list[Resolved] = []
        for r in values:
            if r.value not in seen:
                seen.add(r.value)
                out.append(r)
        return out

    @staticmethod
    def _getter_default(call: ast.Call) -> ast.expr | None:
        """The default of ``os.getenv(k, d)``, ``cfg.get(k, d)``, pydantic's ``Field(d)``."""
        func = call.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        if name not in ("getenv", "get", "Field"):
            return None
        index = 0 if name == "Field" else 1
        if len(call.args) > index:
            return call.args[index]
        for kw in call.keywords:
            if kw.arg == "default":
                return kw.value
        return None

    def _concat(self, expr: ast.expr, scope: Scope, depth: int) -> list[list[str | None]] | None:
        """Possible values of a string concatenation as lists of pieces (``None``: unknown)."""
        pieces: list[list[list[str | None]]] = []
        items: list[ast.expr]
        if depth > _MAX_DEPTH:
            return [[None]]
        if isinstance(expr, ast.JoinedStr):
            items = list(expr.values)
        elif isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Add):
            items = _flatten_add(expr)
        else:
            vals = self.strings(expr, scope, depth + 1)
            return [[v.value] for v in vals] if vals else [[None]]
        if len(items) > _MAX_PIECES:
            return [[None]]
        for item in items:
            if isinstance(item, ast.FormattedValue):
                if item.format_spec is not None or item.conversion not in (-1, 115):
                    pieces.append([[None]])
                    continue
                item = item.value
            if isinstance(item, ast.JoinedStr) or (
                isinstance(item, ast.BinOp) and isinstance(item.op, ast.Add)
            ):
                sub = self._concat(item, scope, depth + 1)
                pieces.append(sub if sub is not None else [[None]])
            else:
                vals = self.strings(item, scope, depth + 1)
                pieces.append([[v.value] for v in vals] if vals else [[None]])
        out: list[list[str | None]] = []
        for combo in itertools.islice(itertools.product(*pieces), _MAX_COMBOS):
            joined: list[str | None] = []
            for part in combo:
                joined += part
            out.append(joined)
        return out

    def urls(self, expr: ast.expr) -> list[str]:
        """URLs ``expr`` can be, cut where an unknown part starts (the host must be known)."""
        combos = self._concat(expr, self.scope, 0) or []
        out: list[str] = []
        for pieces in combos:
            text = ""
            complete = True
            for p in pieces:
                if p is None:
                    complete = False
                    break
                text += p
            m = re.match(r"^(https?|wss?)://([^/?#]*)([/?#].*)?$", text, re.IGNORECASE)
            if m is None or not m.group(2) or "{" in m.group(2):
                continue
            if not complete and m.group(3) is None:
                continue
            if text not in out:
                out.append(text)
        return out

    def _container(
        self, expr: ast.expr, scope: Scope | None = None, depth: int = 0
    ) -> ast.expr | None:
        """The dict/list/tuple literal ``expr`` is, or names (first literal binding)."""
        scope = scope or self.scope
        if isinstance(expr, ast.Dict | ast.List | ast.Tuple):
            return expr
        if depth > _MAX_DEPTH:
            return None
        bindings: list[_Binding] | None = None
        if isinstance(expr, ast.Name):
            bindings = self._lookup_values(expr.id, scope)
        elif isinstance(expr, ast.Attribute):
            bindings = self._attr_bindings(expr, scope)
        elif isinstance(expr, ast.Call) and isinstance(expr.func, ast.Attribute):
            if expr.func.attr == "dumps" and expr.args:
                return self._container(expr.args[0], scope, depth + 1)
            if expr.func.attr == "encode":
                return self._container(expr.func.value, scope, depth + 1)
        for b in bindings or []:
            if b is not None:
                found = self._container(b[0], b[1], depth + 1)
                if found is not None:
                    return found
        return None

    # -- references ------------------------------------------------------------
    def _lookup_ref(self, name: str) -> Ref | None:
        s: Scope | None = self.scope
        first = True
        while s is not None:
            if s.kind == "class" and not first:
                s = s.parent
                continue
            hit = s.refs.get(name)
            if hit is not None:
                return hit
            first = False
            s = s.parent
        return None

    def _bind(self, target: ast.expr, ref: Ref | None) -> None:
        if ref is None:
            return
        if isinstance(target, ast.Name):
            scope = self.scope.module() if target.id in self.scope.globals else self.scope
            scope.refs[target.id] = ref
        elif (
            isinstance(target, ast.Attribute)
            and isinstance(target.value, ast.Name)
            and target.value.id == self.scope.self_name
            and self.scope.cls is not None
        ):
            self.scope.cls.attr_refs[target.attr] = ref

    def _module_ref(self, module: str) -> Ref | None:
        root = module.split(".")[0]
        pkg = self.cat.package_for_module(module)
        if pkg is not None and pkg.pypi is not None:
            if self._shadowed(root):
                return None
            conditional = pkg.conditional and not (pkg.pypi == _AGENTS_PYPI and self._agents_ok)
            provider = pkg.provider
            last = module.rsplit(".", 1)[-1]
            if last in pkg.classes:
                provider = pkg.classes[last]
            return Ref(module, pkg, provider=provider, ai=not conditional)
        if root in _HTTP_ROOTS or root == "importlib":
            return None if self._shadowed(root) else Ref(module, None)
        return None

    def _eval(self, expr: ast.expr) -> Ref | None:
        if isinstance(expr, ast.Name):
            return self._lookup_ref(expr.id)
        if isinstance(expr, ast.Attribute):
            base_node = expr.value
            if (
                isinstance(base_node, ast.Name)
                and base_node.id == self.scope.self_name
                and self.scope.cls is not None
            ):
                return self._self_attr(self.scope.cls, expr.attr)
            base = self._eval(base_node)
            return self._attr(base, expr.attr) if base is not None else None
        if isinstance(expr, ast.Call):
            return self._call(expr)
        if isinstance(expr, ast.Await):
            return self._eval(expr.value)
        if isinstance(expr, ast.NamedExpr):
            ref = self._eval(expr.value)
            self._bind(expr.target, ref)
            return ref
        return None

    def _self_attr(self, cls: Scope, attr: str) -> Ref | None:
        """``self.attr`` in a method; runs the methods that assign it first if needed."""
        hit = cls.attr_refs.get(attr) or cls.refs.get(attr)
        if hit is None:
            for binding in cls.attr_values.get(attr, []):
                if binding is not None and binding[1].pending:
                    self._run_function(binding[1])
            hit = cls.attr_refs.get(attr)
        return hit

    def _attr(self, base: Ref, attr: str) -> Ref | None:
        qual = f"{base.qual}.{attr}"
        pkg = base.pkg
        if pkg is None:
            if not base.instance:
                sub = self._module_ref(qual)
                if sub is not None:
                    return sub
            return base._replace(qual=qual)
        provider = base.provider
        ai = base.ai
        if not base.instance and attr in pkg.classes:
            provider = pkg.classes[attr]
        if (
            not ai
            and pkg.pypi == _AGENTS_PYPI
            and attr in AGENTS_SDK_NAMES
            and not self._shadowed("agents")
        ):
            ai = True
            self._confirm(pkg, None)
        return base._replace(qual=qual, provider=provider, ai=ai)

    def _local_function(self, func: ast.expr) -> Scope | None:
        if isinstance(func, ast.Name):
            s: Scope | None = self.scope
            while s is not None:
                if func.id in s.functions:
                    return s.functions[func.id]
                s = s.parent
        elif (
            isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Name)
            and func.value.id == self.scope.self_name
            and self.scope.cls is not None
        ):
            return self.scope.cls.functions.get(func.attr)
        return None

    # -- package accounting ----------------------------------------------------
    def _confirm(self, pkg: PackageInfo, site: Site | None, module: str | None = None) -> None:
        assert pkg.pypi is not None
        if pkg.pypi in self._imported:
            return
        pending = self._pending.pop(pkg.pypi, None)
        imp_site = pending[0] if pending else site
        mod = module or (pending[1] if pending else pkg.pypi)
        self._imported[pkg.pypi] = (pkg, imp_site, mod)
        if imp_site is not None:
            self.report.package(pkg, imp_site, f"imports {mod}")

    def _on_import(self, ref: Ref, site: Site, module: str, names: Sequence[str] = ()) -> None:
        pkg = ref.pkg
        if pkg is None or pkg.pypi is None:
            return
        detail = f"imports {', '.join(names)} from {module}" if names else f"imports {module}"
        if not ref.ai:
            self._pending.setdefault(pkg.pypi, (site, _package_module(pkg, ref.qual)))
            return
        self._imported.setdefault(pkg.pypi, (pkg, site, _package_module(pkg, ref.qual)))
        self.report.package(pkg, site, detail)
        if not names and ref.provider != pkg.provider and ref.provider is not None:
            self._other_uses.add(pkg.pypi)
            self.report.service(ref.provider, site, detail)

    def _use(self, ref: Ref, site: Site, detail: str) -> None:
        pkg = ref.pkg
        if pkg is None or pkg.pypi is None:
            return
        if pkg.pypi not in self._imported:
            self._confirm(pkg, site)
        if ref.provider == pkg.provider and not ref.custom:
            uses = self._default_uses.setdefault(pkg.pypi, [])
            if len(uses) < _MAX_EVIDENCE:
                uses.append((site, detail))
        else:
            self._other_uses.add(pkg.pypi)
            if ref.provider is not None:
                self.report.service(ref.provider, site, detail)

    # -- visitors ------------------------------------------------------------
    def visit_Import(self, node: ast.Import) -> None:
        site = self._site(node)
        for alias in node.names:
            ref = self._module_ref(alias.name)
            if ref is None:
                continue
            if alias.asname:
                self.scope.refs[alias.asname] = ref
            else:
                root = alias.name.split(".")[0]
                self.scope.refs[root] = self._module_ref(root) or Ref(root, None)
            self._on_import(ref, site, alias.name)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level or not node.module or node.module == "__future__":
            return
        site = self._site(node)
        by_pkg: dict[str, tuple[Ref, list[str]]] = {}
        for alias in node.names:
            full = node.module if alias.name == "*" else f"{node.module}.{alias.name}"
            ref = self._module_ref(full)
            if ref is None:
                continue
            if alias.name != "*":
                self.scope.refs[alias.asname or alias.name] = ref
            if ref.pkg is None or ref.pkg.pypi is None:
                continue
            entry = by_pkg.setdefault(ref.pkg.pypi, (ref, []))
            entry[1].append(alias.name)
            if ref.ai and ref.provider is not None and ref.provider != ref.pkg.provider:
                self._other_uses.add(ref.pkg.pypi)
                self.report.service(ref.provider, site, f"imports {alias.name} from {node.module}")
        for ref, names in by_pkg.values():
            self._on_import(ref, site, node.module, names)

    def visit_Assign(self, node: ast.Assign) -> None:
        single = node.targets[0] if len(node.targets) == 1 else None
        self._assign_name = single.id if isinstance(single, ast.Name) else None
        if isinstance(single, ast.Attribute):
            self._assign_name = single.attr
        ref = self._eval(node.value)
        self._assign_name = None
        for t in node.targets:
            self._bind(t, ref)
            self._module_setting(t, node.value)
        self.visit(node.value)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is None:
            return
        if isinstance(node.target, ast.Name):
            self._assign_name = node.target.id
        ref = self._eval(node.value)
        self._assign_name = None
        self._bind(node.target, ref)
        self.visit(node.value)

    def _module_setting(self, target: ast.expr, value: ast.expr) -> None:
        """``openai.base_url = "..."`` / ``openai.api_type = "azure"`` on an SDK module."""
        if not isinstance(target, ast.Attribute) or not isinstance(target.value, ast.Name):
            return
        base = self._lookup_ref(target.value.id)
        if base is None or base.pkg is None or base.instance:
            return
        site = self._site(target)
        new = base
        if target.attr in ("api_base", "base_url"):
            for url in self.urls(value):
                new = self._set_endpoint(new, url, target.attr, site)
        elif target.attr == "api_type":
            vals = self.strings(value)
            if vals and vals[0].value.lower().startswith("azure"):
                new = new._replace(provider="azure_openai", custom=True)
                self._use(new, site, "sets api_type to Azure")
        if new is not base:
            self.scope.refs[target.value.id] = new

    def visit_With(self, node: ast.With | ast.AsyncWith) -> None:
        for item in node.items:
            ref = self._eval(item.context_expr)
            if item.optional_vars is not None:
                self._bind(item.optional_vars, ref)
            self.visit(item.context_expr)
        for stmt in node.body:
            self.visit(stmt)

    visit_AsyncWith = visit_With

    def visit_Return(self, node: ast.Return) -> None:
        if node.value is not None:
            ref = self._eval(node.value)
            if ref is not None and self.scope.kind == "function" and self.scope.returns is None:
                self.scope.returns = ref
            self.visit(node.value)

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        for d in node.decorator_list:
            self._decorator(d, node)
        for default in [*node.args.defaults, *(d for d in node.args.kw_defaults if d)]:
            self.visit(default)
        fs = self.scopes.get(id(node))
        if fs is not None:
            fs.unit = self.unit
            fs.pending = True
            self._deferred.append(fs)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node: ast.Lambda) -> None:
        ls = self.scopes.get(id(node))
        saved = self.scope
        if ls is not None:
            self.scope = ls
        self.visit(node.body)
        self.scope = saved

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for d in [*node.decorator_list, *node.bases, *(k.value for k in node.keywords)]:
            self.visit(d)
        cs = self.scopes.get(id(node))
        saved = self.scope
        if cs is not None:
            self.scope = cs
        for stmt in node.body:
            self.visit(stmt)
        self.scope = saved

    def visit_Call(self, node: ast.Call) -> None:
        self._call(node)
        self.generic_visit(node)

    def _decorator(self, dec: ast.expr, fn: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        target = dec.func if isinstance(dec, ast.Call) else dec
        ref = self._eval(target)
        self.visit(dec)
        if ref is None or ref.server is None or ref.server not in self._servers:
            return
        kind = ref.names[-1]
        info = self._servers[ref.server]
        name = fn.name
        if isinstance(dec, ast.Call):
            kw = {k.arg: k.value for k in dec.keywords if k.arg}
            given = kw.get("name")
            if kind == "resource" and given is None and dec.args:
                given = dec.args[0]
            vals = self.strings(given) if given is not None else []
            if vals:
                name = vals[0].value
        if kind == "tool":
            info.tools.append(name)
        elif kind == "resource":
            info.resources.append(name)
        elif kind == "prompt":
            info.prompts.append(name)

    # -- calls -----------------------------------------------------------------
    def _call(self, node: ast.Call) -> Ref | None:
        key = id(node)
        if key in self._calls:
            return self._calls[key]
        self._calls[key] = None
        result = self._call_uncached(node)
        self._calls[key] = result
        return result

    def _call_uncached(self, node: ast.Call) -> Ref | None:
        func = node.func
        ref = self._eval(func)
        if ref is None:
            local = self._local_function(func)
            if local is not None:
                self._run_function(local)
                return local.returns
            if isinstance(func, ast.Attribute):
                return self._fallback_call(node, func)
            if isinstance(func, ast.Name) and func.id == "__import__" and node.args:
                return self._dynamic_import(node)
            return None
        if ref.pkg is None:
            if ref.names[-1] == "import_module" and ref.names[0] == "importlib":
                return self._dynamic_import(node)
            return self._http_call(node, ref)
        return self._ai_call(node, ref)

    def _dynamic_import(self, node: ast.Call) -> Ref | None:
        vals = self.strings(node.args[0]) if node.args else []
        if len(vals) != 1:
            return None
        ref = self._module_ref(vals[0].value)
        if ref is not None:
            self._on_import(ref, self._site(node), vals[0].value)
        return ref

    @staticmethod
    def _kwargs(node: ast.Call) -> dict[str, ast.expr]:
        return {kw.arg: kw.value for kw in node.keywords if kw.arg is not None}

    @staticmethod
    def _display(ref: Ref) -> str:
        if "()." in ref.qual:
            return ref.qual.rsplit("().", 1)[1].replace("()", "")
        return ".".join(ref.names[-2:])

    def _set_endpoint(self, ref: Ref, url: str, kw: str, site: Site) -> Ref:
        hp = _host_port(url)[1]
        prov = self.cat.provider_for_host(hp)
        provider: str | None
        if prov is not None:
            provider = prov.id
        elif kw == "azure_endpoint":
            provider = "azure_openai"
        elif ref.provider in ("ollama", "aws_bedrock", "aws_sagemaker", "azure_openai"):
            provider = ref.provider
        else:
            provider = None
        detail = f"{self._display(ref)} with {kw}={_clean_url(url)!r}"
        if provider is not None and prov is not None and _is_standard_host(provider, hp):
            self.report.service(provider, site, detail)
            return ref._replace(provider=provider, custom=provider != ref.provider)
        self.report.endpoint(url, provider, site, detail)
        return ref._replace(provider=provider, custom=True, endpoint=(url, provider))

    def _ai_call(self, node: ast.Call, ref: Ref) -> Ref | None:
        pkg = ref.pkg
        assert pkg is not None and pkg.pypi is not None
        names = ref.names
        last = names[-1]
        kws = self._kwargs(node)
        site = self._site(node)
        if not ref.ai:
            return self._conditional_call(node, ref, kws, site)
        out = ref
        if pkg.category in _ENDPOINT_CATEGORIES:
            for kw in node.keywords:
                if kw.arg not in _ENDPOINT_KWS:
                    continue
                if kw.arg == "host" and ref.provider != "ollama":
                    continue
                for url in self._endpoint_urls(kw.value, kw.arg):
                    out = self._set_endpoint(out, url, kw.arg, self._site(kw.value))
        display = self._display(ref)
        self._use(out, site, f"calls {display}")
        models = self._models(node, out, kws, display)
        if last and last[0].isupper() and out.instance is False:
            clients = self._clients.setdefault(pkg.pypi, [])
            if len(clients) < 8:
                clients.append(out._replace(qual=out.qual + "()"))
        server = self._mcp(node, ref, kws, site)
        self._agent(node, ref, kws, site, models)
        aliases = self._router_aliases(ref, kws)
        return out._replace(
            qual=ref.qual + "()",
            models=tuple(models) or (ref.models if ref.instance else ()),
            server=server,
            aliases=aliases,
        )

    def _endpoint_urls(self, expr: ast.expr, kw: str) -> list[str]:
        urls = self.urls(expr)
        if not urls and kw == "host":
            for v in self.strings(expr):
                if re.match(r"^[\w.-]+(:\d+)?$", v.value):
                    urls.append(f"http://{v.value}")
        return urls

    def _conditional_call(
        self, node: ast.Call, ref: Ref, kws: dict[str, ast.expr], site: Site
    ) -> Ref | None:
        pkg = ref.pkg
        assert pkg is not None
        last = ref.names[-1]
        if pkg.pypi in ("boto3", "aioboto3") and last in ("client", "resource"):
            arg = kws.get("service_name") or (node.args[0] if node.args else None)
            vals = self.strings(arg) if arg is not None else []
            for v in vals:
                provider = _AWS_AI_SERVICES.get(v.value)
                if provider is None:
                    continue
                self._confirm(pkg, site)
                detail = f"creates a {v.value} client"
                self.report.service(provider, site, detail)
                self._other_uses.add(pkg.pypi or "")
                out = Ref(ref.qual + "()", pkg, provider=provider, ai=True)
                if "endpoint_url" in kws:
                    for url in self.urls(kws["endpoint_url"]):
                        out = self._set_endpoint(out, url, "endpoint_url", site)
                self._clients.setdefault(pkg.pypi or "", []).append(out)
                return out
        return Ref(ref.qual + "()", pkg, provider=ref.provider, ai=False)

    def _router_aliases(self, ref: Ref, kws: dict[str, ast.expr]) -> frozenset[str]:
        if ref.pkg is None or ref.pkg.pypi != "litellm" or "model_list" not in kws:
            return ref.aliases if ref.instance else frozenset()
        container = self._container(kws["model_list"])
        names: set[str] = set()
        if isinstance(container, ast.List | ast.Tuple):
            for elt in container.elts:
                d = self._container(elt)
                if isinstance(d, ast.Dict):
                    for k, v in zip(d.keys, d.values, strict=True):
                        if isinstance(k, ast.Constant) and k.value == "model_name":
                            names.update(r.value for r in self.strings(v))
        return frozenset(names)

    # -- models ----------------------------------------------------------------
    def _models(
        self, node: ast.Call, ref: Ref, kws: dict[str, ast.expr], display: str
    ) -> list[ModelUse]:
        pkg = ref.pkg
        assert pkg is not None and pkg.pypi is not None
        names = ref.names
        last = names[-1]
        found: list[ModelUse] = []
        explicit: str | None = None
        if "model_provider" in kws:
            vals = self.strings(kws["model_provider"])
            if vals:
                explicit = _PROVIDER_ALIASES.get(vals[0].value.lower())
        repo_type = self.strings(kws["repo_type"]) if "repo_type" in kws else []
        for kw in node.keywords:
            if kw.arg is None:
                container = self._container(kw.value)
                if container is not None:
                    found += self._models_in(container, ref, display, explicit)
                continue
            if kw.arg in _MODEL_KWS:
                if kw.arg == "repo_id" and repo_type and repo_type[0].value != "model":
                    continue
                vals = self.strings(kw.value)
                if vals:
                    for v in vals:
                        detail = f"calls {display} with {kw.arg}={v.value!r}"
                        if v.via:
                            detail += f" (via {v.via})"
                        found += self._model(v.value, ref, self._site(kw.value), detail, explicit)
                    continue
                inner = self._eval(kw.value)
                if inner is not None:
                    found += list(inner.models)
                    continue
            if isinstance(kw.value, ast.Dict | ast.List | ast.Name) and kw.arg not in (
                "messages",
                "input",
                "prompt",
                "contents",
                "tools",
            ):
                container = self._container(kw.value)
                if container is not None:
                    found += self._models_in(container, ref, display, explicit)
        idx = self._positional_index(pkg, ref, last)
        if idx is not None and idx < len(node.args):
            arg = node.args[idx]
            for v in self.strings(arg):
                detail = f"calls {display}({v.value!r})"
                if v.via:
                    detail += f" (via {v.via})"
                found += self._model(v.value, ref, self._site(arg), detail, explicit)
        return found

    def _positional_index(self, pkg: PackageInfo, ref: Ref, last: str) -> int | None:
        if ".".join(ref.names) == _GENSIM_DOWNLOADER:
            return 0
        if pkg.pypi == "flair" and _FLAIR_EMBEDDINGS.match(last):
            return 0
        rule = _POSITIONAL_MODEL.get(last)
        if rule is None:
            return None
        idx, pkgs = rule
        if pkgs is not None and pkg.pypi not in pkgs:
            return None
        return idx

    def _models_in(
        self, container: ast.expr, ref: Ref, display: str, explicit: str | None, depth: int = 0
    ) -> list[ModelUse]:
        if depth > 4:
            return []
        found: list[ModelUse] = []
        if isinstance(container, ast.Dict):
            for k, v in zip(container.keys, container.values, strict=True):
                key = k.value if isinstance(k, ast.Constant) else None
                if key in _MODEL_DICT_KEYS:
                    for r in self.strings(v):
                        detail = f"calls {display} with {key!r}: {r.value!r} in a config"
                        found += self._model(r.value, ref, self._site(v), detail, explicit)
                elif key in ("api_base", "base_url", "azure_endpoint"):
                    for url in self.urls(v):
                        self._set_endpoint(ref, url, str(key), self._site(v))
                elif key not in ("messages", "content", "prompt"):
                    sub = self._container(v)
                    if sub is not None and sub is not container:
                        found += self._models_in(sub, ref, display, explicit, depth + 1)
        elif isinstance(container, ast.List | ast.Tuple):
            for elt in container.elts[:50]:
                sub = self._container(elt)
                if sub is not None:
                    found += self._models_in(sub, ref, display, explicit, depth + 1)
        return found

    def _model(
        self, value: str, ref: Ref, site: Site, detail: str, explicit: str | None
    ) -> list[ModelUse]:
        if not _plausible_model(value) or value in ref.aliases:
            return []
        pkg = ref.pkg
        assert pkg is not None
        provider, name = explicit, value
        if explicit is None:
            # LiteLLM-style "provider/model" only where LiteLLM reads the string;
            # "provider:model" (LangChain, PydanticAI) where no class names the provider.
            seps = "/" if pkg.pypi in _SLASH_PREFIXED or "LiteLLM" in ref.qual else ""
            if ref.provider is None and pkg.category in _FRAMEWORKS:
                seps += ":"
            if seps:
                provider, name = _split_provider(value, seps)
        if provider is None:
            provider = ref.provider
        if provider in ("google", "google_vertex") and name.startswith("models/"):
            name = name[len("models/") :]
        if not name:
            return []
        # Through an endpoint of unknown provider, no hosted service is claimed.
        hosted = (
            not ref.custom
            or ref.endpoint is None
            or (provider is not None and provider == ref.endpoint[1])
        )
        mod = self.report.model(
            name,
            provider,
            site,
            detail,
            hosted=hosted,
            endpoint=ref.endpoint if ref.custom else None,
        )
        return [ModelUse(mod.name, mod.provider)]

    # -- MCP -------------------------------------------------------------------
    def _mcp(self, node: ast.Call, ref: Ref, kws: dict[str, ast.expr], site: Site) -> str | None:
        pkg = ref.pkg
        assert pkg is not None
        names = ref.names
        last = names[-1]
        path = ".".join(names)
        if (
            not ref.instance
            and pkg.pypi in ("mcp", "fastmcp")
            and (
                last in _MCP_SERVER_CLASSES or (last == "Server" and path.startswith("mcp.server"))
            )
        ):
            arg = kws.get("name") or (node.args[0] if node.args else None)
            vals = self.strings(arg) if arg is not None else []
            name = vals[0].value if vals else self._file_stem()
            key = f"{name}@{len(self._servers)}"
            self._servers[key] = _ServerInfo(name, site, lowlevel=last == "Server")
            return key
        if ref.server is not None and ref.server in self._servers:
            info = self._servers[ref.server]
            if last in _MCP_RUN_TRANSPORT:
                given = kws.get("transport")
                if given is None and node.args and last == "run":
                    given = node.args[0]
                vals = self.strings(given) if given is not None else []
                transport = (
                    _TRANSPORT_NAMES.get(vals[0].value, vals[0].value)
                    if vals
                    else _MCP_RUN_TRANSPORT[last] or "stdio"
                )
                if info.transport is None or info.transport == "stdio":
                    info.transport = transport
            elif last == "add_tool":
                given = kws.get("name")
                vals = self.strings(given) if given is not None else []
                if vals:
                    info.tools.append(vals[0].value)
                elif node.args and isinstance(node.args[0], ast.Name):
                    info.tools.append(node.args[0].id)
            return ref.server if ref.instance else None
        if last == "Tool" and pkg.pypi == "mcp" and "name" in kws:
            vals = self.strings(kws["name"])
            if vals:
                self._lowlevel_tools.append(vals[0].value)
            return None
        if last in _MCP_STDIO and not ref.instance:
            self._mcp_stdio(node, kws, site, last)
        elif last in _MCP_REMOTE and not ref.instance:
            self._mcp_remote(node, kws, site, _MCP_REMOTE[last], last)
        elif last == "Client" and path in ("fastmcp.Client", "fastmcp.client.Client"):
            self._mcp_fastmcp_client(node, kws, site)
        elif last == "MultiServerMCPClient":
            arg = kws.get("connections") or (node.args[0] if node.args else None)
            self._mcp_config_map(arg, site, last)
        elif last == "ClaudeAgentOptions" and "mcp_servers" in kws:
            self._mcp_config_map(kws["mcp_servers"], site, last)
        elif last == "MCPServerAdapter" and node.args:
            cfg = self._container(node.args[0])
            if isinstance(cfg, ast.Dict):
                self._mcp_config(None, cfg, site, last)
        return None

    def _file_stem(self) -> str:
        return self.target.path.stem if self.target.path is not None else "server"

    def _str_list(self, expr: ast.expr | None) -> list[str]:
        if expr is None:
            return []
        container = self._container(expr)
        if not isinstance(container, ast.List | ast.Tuple):
            return []
        out: list[str] = []
        for elt in container.elts[:64]:
            vals = self.strings(elt)
            out.append(vals[0].value if len(vals) == 1 else "?")
        return out

    def _dict_get(self, d: ast.Dict, key: str) -> ast.expr | None:
        for k, v in zip(d.keys, d.values, strict=True):
            if isinstance(k, ast.Constant) and k.value == key:
                return v
        return None

    def _mcp_stdio(self, node: ast.Call, kws: dict[str, ast.expr], site: Site, cls: str) -> None:
        command_expr = kws.get("command") or (node.args[0] if node.args else None)
        args_expr = kws.get("args") or (node.args[1] if len(node.args) > 1 else None)
        env_expr = kws.get("env")
        params = self._container(kws["params"]) if "params" in kws else None
        if isinstance(params, ast.Dict):
            command_expr = self._dict_get(params, "command")
            args_expr = self._dict_get(params, "args")
            env_expr = self._dict_get(params, "env")
        vals = self.strings(command_expr) if command_expr is not None else []
        if not vals:
            return
        given = self.strings(kws["name"]) if "name" in kws else []
        self._launch(
            vals[0].value,
            self._str_list(args_expr),
            env_expr,
            site,
            cls,
            given[0].value if given else None,
        )

    def _launch(
        self,
        command: str,
        args: list[str],
        env_expr: ast.expr | None,
        site: Site,
        cls: str,
        name: str | None,
    ) -> None:
        masked: list[str] = []
        hide_next = False
        for a in args:
            if hide_next or ("=" in a and _SECRETISH_ARG.search(a.split("=", 1)[0])):
                masked.append("****" if hide_next else a.split("=", 1)[0] + "=****")
                hide_next = False
                continue
            if _TOKEN_LIKE.match(a) and re.search(r"\d", a) and re.search(r"[A-Za-z]", a):
                masked.append("****")
                continue
            masked.append(redact(a))
            hide_next = a.startswith("-") and bool(_SECRETISH_ARG.search(a))
        line = " ".join([command, *masked])
        env: list[str] = []
        env_dict = self._container(env_expr) if env_expr is not None else None
        if isinstance(env_dict, ast.Dict):
            env = [
                k.value
                for k in env_dict.keys
                if isinstance(k, ast.Constant) and isinstance(k.value, str)
            ]
        server = name or _stdio_name(command, args)
        self.report.mcp_launched(
            server,
            site,
            f"launches MCP server over stdio with {cls}: {line}"[:300],
            transport="stdio",
            command=line[:500],
            env=env,
        )

    def _mcp_remote(
        self, node: ast.Call, kws: dict[str, ast.expr], site: Site, transport: str, cls: str
    ) -> None:
        url_expr = kws.get("url") or (node.args[0] if node.args else None)
        params = self._container(kws["params"]) if "params" in kws else None
        if isinstance(params, ast.Dict):
            url_expr = self._dict_get(params, "url")
        if url_expr is None:
            return
        given = self.strings(kws["name"]) if "name" in kws else []
        for url in self.urls(url_expr):
            clean = _clean_url(url)
            self.report.mcp_launched(
                given[0].value if given else clean,
                site,
                f"connects to MCP server with {cls}: {clean}",
                transport=transport,
                url=clean,
            )

    def _mcp_fastmcp_client(self, node: ast.Call, kws: dict[str, ast.expr], site: Site) -> None:
        arg = kws.get("transport") or (node.args[0] if node.args else None)
        if arg is None:
            return
        cfg = self._container(arg)
        if isinstance(cfg, ast.Dict):
            servers = self._dict_get(cfg, "mcpServers")
            self._mcp_config_map(servers if servers is not None else cfg, site, "fastmcp.Client")
            return
        for url in self.urls(arg):
            clean = _clean_url(url)
            transport = (
                "sse" if urlsplit(clean).path.rstrip("/").endswith("/sse") else ("streamable-http")
            )
            self.report.mcp_launched(
                clean,
                site,
                f"connects to MCP server with fastmcp.Client: {clean}",
                transport=transport,
                url=clean,
            )
            return
        for v in self.strings(arg):
            if v.value.endswith(".py"):
                self._launch("python", [v.value], None, site, "fastmcp.Client", None)
            elif v.value.endswith((".js", ".mjs")):
                self._launch("node", [v.value], None, site, "fastmcp.Client", None)

    def _mcp_config_map(self, expr: ast.expr | None, site: Site, cls: str) -> None:
        if expr is None:
            return
        d = self._container(expr)
        if not isinstance(d, ast.Dict):
            return
        for k, v in zip(d.keys, d.values, strict=True):
            if not (isinstance(k, ast.Constant) and isinstance(k.value, str)):
                continue
            cfg = self._container(v)
            if isinstance(cfg, ast.Dict):
                self._mcp_config(k.value, cfg, site, cls)

    def _mcp_config(self, name: str | None, cfg: ast.Dict, site: Site, cls: str) -> None:
        command = self._dict_get(cfg, "command")
        if command is not None:
            vals = self.strings(command)
            if vals:
                self._launch(
                    vals[0].value,
                    self._str_list(self._dict_get(cfg, "args")),
                    self._dict_get(cfg, "env"),
                    site,
                    cls,
                    name,
                )
            return
        url_expr = self._dict_get(cfg, "url")
        if url_expr is None:
            return
        transport_expr = self._dict_get(cfg, "transport") or self._dict_get(cfg, "type")
        tvals = self.strings(transport_expr) if transport_expr is not None else []
        transport = _TRANSPORT_NAMES.get(tvals[0].value, tvals[0].value) if tvals else None
        for url in self.urls(url_expr):
            clean = _clean_url(url)
            if transport is None:
                transport = "sse" if clean.rstrip("/").endswith("/sse") else "streamable-http"
            self.report.mcp_launched(
                name or clean,
                site,
                f"connects to MCP server with {cls}: {clean}",
                transport=transport,
                url=clean,
            )

    # -- agents ----------------------------------------------------------------
    def _agent(
        self,
        node: ast.Call,
        ref: Ref,
        kws: dict[str, ast.expr],
        site: Site,
        models: list[ModelUse],
    ) -> None:
        pkg = ref.pkg
        assert pkg is not None
        last = ref.names[-1]
        allowed = _AGENT_CLASSES.get(last)
        if ref.instance or allowed is None or pkg.pypi not in allowed:
            return
        name_expr = kws.get("name")
        if pkg.pypi == "crewai":
            name_expr = kws.get("role") or name_expr
        if name_expr is None and pkg.pypi in ("pyautogen", "autogen-agentchat") and node.args:
            name_expr = node.args[0]
        vals = self.strings(name_expr) if name_expr is not None else []
        if vals:
            name = vals[0].value
        elif self._assign_name:
            name = self._assign_name
        else:
            file = self.target.path.name if self.target.path is not None else "code"
            name = f"{last} ({file}:{site.line})"
        uses = list(models)
        for key in _AGENT_MODEL_KWS:
            if key in kws:
                inner = self._eval(kws[key])
                if inner is not None:
                    uses += [m for m in inner.models if m not in uses]
        if pkg.pypi in ("pydantic-ai", "langgraph", "langchain") and node.args:
            inner = self._eval(node.args[0])
            if inner is not None:
                uses += [m for m in inner.models if m not in uses]
        tools: list[str] = []
        tools_expr = self._container(kws["tools"]) if "tools" in kws else None
        if isinstance(tools_expr, ast.List | ast.Tuple):
            for elt in tools_expr.elts[:64]:
                if isinstance(elt, ast.Name):
                    tools.append(elt.id)
                elif isinstance(elt, ast.Call):
                    tools.append(ast.unparse(elt.func)[:80])
        self.report.agent(name, pkg, last, uses, tools, site)

    # -- HTTP ------------------------------------------------------------------
    def _http_call(self, node: ast.Call, ref: Ref) -> Ref | None:
        names = ref.names
        root, last = names[0], names[-1]
        if root not in _HTTP_ROOTS:
            return Ref(ref.qual + "()", None)
        kws = self._kwargs(node)
        result = Ref(ref.qual + "()", None)
        if last in _HTTP_CONNECTIONS and node.args:
            for v in self.strings(node.args[0]):
                host = v.value.split("/")[0]
                if host:
                    self._report_http(f"{_HTTP_CONNECTIONS[last]}://{host}/", node, kws, root, "")
            return result
        if last in _HTTP_CLIENTS:
            if "base_url" in kws:
                for url in self.urls(kws["base_url"]):
                    self._report_http(url, node, {}, root, "client for")
            return result
        idx = _HTTP_URL_ARG.get(last)
        if idx is None:
            return result
        if last in ("request", "stream") and root == "websockets":
            return result
        url_expr = kws.get("url")
        if url_expr is None and len(node.args) > idx:
            url_expr = node.args[idx]
        if url_expr is None and last in ("request", "stream") and node.args:
            url_expr = node.args[-1]
        if url_expr is None:
            return result
        method = last.upper() if last in ("get", "post", "put", "patch", "delete") else ""
        if last in ("request", "stream") and node.args:
            mvals = self.strings(node.args[0])
            method = mvals[0].value.upper() if mvals else ""
        for url in self.urls(url_expr):
            self._report_http(url, node, kws, root, method)
        return result

    def _report_http(
        self,
        url: str,
        node: ast.Call,
        kws: dict[str, ast.expr],
        lib: str,
        method: str,
        *,
        known_only: bool = False,
    ) -> None:
        host, hp = _host_port(url)
        if not host:
            return
        prov = self.cat.provider_for_host(hp)
        path = urlsplit(url).path
        if prov is None and (known_only or not _COMPAT_PATH.search(path)):
            return
        site = self._site(node)
        clean = _clean_url(url)
        what = f"{method} {clean}".strip() if method != "client for" else f"client for {clean}"
        detail = f"{what} ({lib})"
        provider = prov.id if prov is not None else None
        endpoint: tuple[str, str | None] | None = None
        if provider is not None and _is_standard_host(provider, hp):
            self.report.service(provider, site, detail)
        else:
            base = _api_base(clean)
            self.report.endpoint(base, provider, site, detail)
            if provider is not None:
                self.report.service(provider, site, detail)
            endpoint = (base, provider)
        values: list[tuple[str, ast.AST]] = []
        for key in ("json", "data", "content", "body"):
            if key not in kws:
                continue
            body = self._container(kws[key])
            if isinstance(body, ast.Dict):
                for k, v in zip(body.keys, body.values, strict=True):
                    if isinstance(k, ast.Constant) and k.value in _MODEL_DICT_KEYS:
                        values += [(r.value, v) for r in self.strings(v)]
        rx = _PATH_MODELS.get(provider or "")
        if rx is not None:
            m = rx.search(path)
            if m is not None:
                values.append((m.group(1), node))
        for value, at in values:
            if not _plausible_model(value):
                continue
            self.report.model(
                value,
                provider,
                self._site(at),
                f"{detail} with model {value!r}",
                hosted=provider is not None,
                endpoint=endpoint,
            )

    # -- receivers that cannot be traced -------------------------------------
    def _fallback_call(self, node: ast.Call, func: ast.Attribute) -> Ref | None:
        if func.attr not in _SHAPES_BY_METHOD and func.attr not in _HTTP_URL_ARG:
            return None
        chain: list[str] = []
        cur: ast.expr = func
        while isinstance(cur, ast.Attribute):
            chain.append(cur.attr)
            cur = cur.value
        chain.reverse()
        text = ".".join(chain)
        if func.attr in _HTTP_URL_ARG and func.attr not in ("Request", "WebSocketApp"):
            idx = _HTTP_URL_ARG[func.attr]
            kws = self._kwargs(node)
            url_expr = kws.get("url") or (node.args[idx] if len(node.args) > idx else None)
            if url_expr is not None:
                method = func.attr.upper() if func.attr in ("get", "post", "put") else ""
                for url in self.urls(url_expr):
                    self._report_http(url, node, kws, "HTTP client", method, known_only=True)
        for suffix, candidates in _SHAPES_BY_METHOD.get(func.attr, ()):
            if text != suffix and not text.endswith("." + suffix):
                continue
            for pypi in candidates:
                hit = self._imported.get(pypi)
                if hit is None:
                    continue
                pkg = hit[0]
                clients = self._clients.get(pypi, [])
                if pkg.conditional and not clients:
                    continue
                if clients and all(
                    (c.provider, c.custom, c.endpoint)
                    == (clients[0].provider, clients[0].custom, clients[0].endpoint)
                    for c in clients
                ):
                    base = clients[0]
                else:
                    base = Ref(f"{hit[2]}()", pkg, provider=pkg.provider)
                synthetic = base._replace(qual=f"{pkg.pypi}().{suffix}", models=(), server=None)
                return self._ai_call(node, synthetic)
        return None


def _flatten_add(expr: ast.BinOp) -> list[ast.expr]:
    """The operands of ``a + b + c + ...``, in order, without recursion."""
    items: list[ast.expr] = []
    stack: list[ast.expr] = [expr]
    while stack:
        e = stack.pop()
        if isinstance(e, ast.BinOp) and isinstance(e.op, ast.Add):
            stack += [e.right, e.left]
        else:
            items.append(e)
    return items


def _stdio_name(command: str, args: Sequence[str]) -> str:
    """A launched MCP server's name: the launcher and the package or script it runs."""
    cmd = command.replace("\\", "/").rsplit("/", 1)[-1]
    skip_sub = set(_SUBCOMMANDS.get(cmd, ()))
    it: Iterator[str] = iter(args)
    for a in it:
        if a in skip_sub:
            continue
        if a.startswith("-"):
            if a in _FLAGS_WITH_VALUE:
                next(it, None)
            elif a == "-m":
                mod = next(it, None)
                return f"{cmd} -m {mod}" if mod else cmd
            continue
        return f"{cmd} {a}"
    return cmd
