"""The Python code scanner on small, realistic projects written to disk."""

from __future__ import annotations

from pathlib import Path

import pytest

from aiposture.demo import fake_anthropic_key, fake_openai_key
from aiposture.discovery.base import TargetError
from aiposture.discovery.catalog import load_catalog
from aiposture.discovery.scanners import _pyanalysis
from aiposture.discovery.scanners.notebook import NotebookScanner
from aiposture.discovery.scanners.python_code import PythonCodeScanner
from aiposture.models import AssetKind, EvidenceKind
from aiposture.models import RelationKind as R
from estates_code import Result, build_code_estate, scan, scan_tree, target_for, write

M, S, P = AssetKind.MODEL, AssetKind.AI_SERVICE, AssetKind.PACKAGE


@pytest.fixture
def scanner() -> PythonCodeScanner:
    return PythonCodeScanner()


def _scan(scanner: PythonCodeScanner, root: Path, rel: str, code: str) -> Result:
    path = write(root / rel, code)
    return scan(scanner, path, root, project=root)


def _model_line(result: Result, name: str) -> int | None:
    return result.one(M, name).evidence[0].line


# --------------------------------------------------------------------------
# SDKs, models and services


def test_openai_service_with_model_constant_and_default_argument(
    scanner: PythonCodeScanner, tmp_path: Path
) -> None:
    res = _scan(
        scanner,
        tmp_path / "support-bot",
        "bot.py",
        """
        from openai import OpenAI

        MODEL = "gpt-4o-mini"
        client = OpenAI()


        def answer(question: str, model: str = MODEL) -> str:
            reply = client.chat.completions.create(
                model=model,
                messages=[{"role": "user", "content": question}],
            )
            return reply.choices[0].message.content or ""


        def embed(text: str) -> list[float]:
            return client.embeddings.create(model="text-embedding-3-small", input=text).data[0]
        """,
    )
    assert res.names(AssetKind.APPLICATION) == {"support-bot"}
    pkg = res.one(P, "openai")
    assert pkg.version is None and pkg.attributes["ecosystem"] == "pypi"
    assert pkg.evidence[0].line == 1 and pkg.evidence[0].detail == "imports OpenAI from openai"
    assert res.names(M) == {"gpt-4o-mini", "text-embedding-3-small"}
    assert res.providers(M) == {"openai"}
    ev = res.one(M, "gpt-4o-mini").evidence[0]
    assert (ev.kind, ev.line, ev.scanner) == (EvidenceKind.CODE, 9, "python_code")
    assert ev.path == str(tmp_path / "support-bot" / "bot.py")
    assert ev.snippet == "model=model,"
    assert "chat.completions.create" in (ev.detail or "") and "gpt-4o-mini" in (ev.detail or "")
    assert _model_line(res, "text-embedding-3-small") == 16
    svc = res.service("openai")
    assert svc.name == "OpenAI API"
    edges = res.edges()
    assert ("support-bot", R.USES_MODEL, "gpt-4o-mini") in edges
    assert ("support-bot", R.CALLS_SERVICE, "OpenAI API") in edges
    assert ("OpenAI API", R.SERVES, "text-embedding-3-small") in edges
    assert res.dangling() == []


def test_langchain_anthropic_wrapper_records_package_service_and_model(
    scanner: PythonCodeScanner, tmp_path: Path
) -> None:
    res = _scan(
        scanner,
        tmp_path / "claims",
        "triage.py",
        """
        import os

        from langchain_anthropic import ChatAnthropic

        llm = ChatAnthropic(
            model="claude-3-5-sonnet-20241022",
            api_key=os.environ["ANTHROPIC_API_KEY"],
        )


        def triage(claim_text: str) -> str:
            return llm.invoke(f"Classify this insurance claim: {claim_text}").content
        """,
    )
    assert res.names(P) == {"langchain-anthropic"}
    model = res.one(M, "claude-3-5-sonnet-20241022")
    assert model.provider == "anthropic" and model.evidence[0].line == 6
    assert ("claims", R.CALLS_SERVICE, "Anthropic API") in res.edges()
    assert ("Anthropic API", R.SERVES, "claude-3-5-sonnet-20241022") in res.edges()
    assert res.findings == [], "a key read from the environment is not a hard-coded key"


def test_class_override_sends_azure_wrapper_to_azure_not_openai(
    scanner: PythonCodeScanner, tmp_path: Path
) -> None:
    res = _scan(
        scanner,
        tmp_path / "app",
        "llm.py",
        """
        from langchain_openai import AzureChatOpenAI

        llm = AzureChatOpenAI(
            azure_deployment="gpt4o-prod",
            azure_endpoint="https://contoso-eu.openai.azure.com/",
            api_version="2024-06-01",
        )
        """,
    )
    assert res.names(P) == {"langchain-openai"}
    assert {a.provider for a in res.assets if a.kind is S} == {"azure_openai"}
    assert res.one(M, "gpt4o-prod").provider == "azure_openai"
    endpoint = res.one(AssetKind.ENDPOINT, "https://contoso-eu.openai.azure.com")
    assert endpoint.provider == "azure_openai" and endpoint.evidence[0].line == 5
    assert ("app", R.CALLS_SERVICE, "https://contoso-eu.openai.azure.com") in res.edges()


def test_azure_openai_client_from_openai_sdk(scanner: PythonCodeScanner, tmp_path: Path) -> None:
    res = _scan(
        scanner,
        tmp_path / "app",
        "bot.py",
        """
        from openai import AzureOpenAI


        class Bot:
            def answer(self, question: str) -> str:
                return self.client.chat.completions.create(model=self.deployment, messages=[])

            def __init__(self) -> None:
                self.client = AzureOpenAI(azure_endpoint="https://acme.openai.azure.com")
                self.deployment = "chat-prod"
        """,
    )
    assert res.one(M, "chat-prod").provider == "azure_openai"
    assert {a.provider for a in res.assets if a.kind is S} == {"azure_openai"}
    assert ("https://acme.openai.azure.com", R.SERVES, "chat-prod") in res.edges()


def test_bedrock_client_through_a_session_with_model_constant(
    scanner: PythonCodeScanner, tmp_path: Path
) -> None:
    res = _scan(
        scanner,
        tmp_path / "claims",
        "bedrock.py",
        """
        import json

        import boto3

        MODEL_ID = "anthropic.claude-3-sonnet-20240229-v1:0"
        session = boto3.Session(profile_name="prod")
        runtime = session.client(service_name="bedrock-runtime", region_name="eu-west-1")
        s3 = session.client("s3")


        def summarise(text: str) -> str:
            body = json.dumps({"messages": [{"role": "user", "content": text}]})
            return runtime.invoke_model(modelId=MODEL_ID, body=body)
        """,
    )
    assert res.names(P) == {"boto3"}
    svc = res.service("aws_bedrock")
    assert svc.evidence[0].line == 7
    model = res.one(M, "anthropic.claude-3-sonnet-20240229-v1:0")
    assert model.provider == "aws_bedrock" and model.evidence[0].line == 13
    assert "MODEL_ID" in (model.evidence[0].detail or "")
    assert ("Amazon Bedrock", R.SERVES, model.name) in res.edges()


def test_sagemaker_runtime_client_is_ai(scanner: PythonCodeScanner, tmp_path: Path) -> None:
    res = _scan(
        scanner,
        tmp_path / "ml",
        "predict.py",
        """
        import boto3

        smr = boto3.client("sagemaker-runtime")
        smr.invoke_endpoint(EndpointName="fraud-xgb-prod", Body=b"{}")
        """,
    )
    assert res.service("aws_sagemaker").name == "SageMaker Runtime"
    assert res.one(M, "fraud-xgb-prod").provider == "aws_sagemaker"


def test_plain_boto3_is_not_ai(scanner: PythonCodeScanner, tmp_path: Path) -> None:
    res = _scan(
        scanner,
        tmp_path / "billing",
        "upload.py",
        """
        import boto3

        s3 = boto3.client("s3")
        s3.upload_file("invoices.csv", "bucket", "invoices.csv")
        dynamo = boto3.resource("dynamodb")
        """,
    )
    assert res.observations == []


def test_litellm_router_and_completion_take_provider_from_prefix(
    scanner: PythonCodeScanner, tmp_path: Path
) -> None:
    res = _scan(
        scanner,
        tmp_path / "gateway",
        "router.py",
        """
        import litellm
        from litellm import Router

        router = Router(
            model_list=[
                {
                    "model_name": "gpt-4",
                    "litellm_params": {
                        "model": "azure/gpt-4-eu",
                        "api_base": "https://gw-eu.openai.azure.com",
                    },
                },
                {
                    "model_name": "fast",
                    "litellm_params": {"model": "anthropic/claude-3-haiku-20240307"},
                },
            ]
        )
        router.completion(model="gpt-4", messages=[])
        litellm.completion("ollama/llama3", messages=[])
        litellm.completion(model="gpt-4o", messages=[])
        """,
    )
    assert res.names(P) == {"litellm"}
    models = {(a.name, a.provider) for a in res.assets if a.kind is M}
    assert models == {
        ("gpt-4-eu", "azure_openai"),
        ("claude-3-haiku-20240307", "anthropic"),
        ("llama3", "ollama"),
        ("gpt-4o", "openai"),
    }, "router aliases such as 'gpt-4' are not models"
    assert {a.provider for a in res.assets if a.kind is S} == {
        "azure_openai",
        "anthropic",
        "ollama",
        "openai",
    }
    assert res.one(M, "llama3").evidence[0].line == 20
    assert "https://gw-eu.openai.azure.com" in res.names(AssetKind.ENDPOINT)


def test_base_url_points_the_openai_sdk_at_another_provider(
    scanner: PythonCodeScanner, tmp_path: Path
) -> None:
    res = _scan(
        scanner,
        tmp_path / "app",
        "clients.py",
        """
        import openai


        def make_client() -> openai.OpenAI:
            return openai.OpenAI(base_url="https://api.together.xyz/v1")


        together = make_client()
        together.chat.completions.create(model="meta-llama/Llama-3-70b-chat-hf", messages=[])
        local = openai.OpenAI(base_url="http://localhost:8000/v1", api_key="EMPTY")
        local.chat.completions.create(model="Qwen/Qwen2.5-7B-Instruct", messages=[])
        """,
    )
    assert {a.provider for a in res.assets if a.kind is S} == {"together"}, (
        "no client of this file reaches api.openai.com"
    )
    assert res.one(M, "meta-llama/Llama-3-70b-chat-hf").provider == "together"
    endpoint = res.one(AssetKind.ENDPOINT, "http://localhost:8000/v1")
    assert endpoint.provider is None
    assert ("http://localhost:8000/v1", R.SERVES, "Qwen/Qwen2.5-7B-Instruct") in res.edges()
    assert ("app", R.CALLS_SERVICE, "http://localhost:8000/v1") in res.edges()


def test_ollama_client_with_custom_host(scanner: PythonCodeScanner, tmp_path: Path) -> None:
    res = _scan(
        scanner,
        tmp_path / "app",
        "chat.py",
        """
        import ollama
        from ollama import Client

        client = Client(host="gpu-box.internal:11434")
        client.chat(model="llama3.1:8b", messages=[])
        ollama.generate("mistral", "hello")
        """,
    )
    endpoint = res.one(AssetKind.ENDPOINT, "http://gpu-box.internal:11434")
    assert endpoint.provider == "ollama"
    assert {(a.name, a.provider) for a in res.assets if a.kind is M} == {
        ("llama3.1:8b", "ollama"),
        ("mistral", "ollama"),
    }


@pytest.mark.parametrize(
    ("code", "package", "model", "provider"),
    [
        (
            "from google import genai\nclient = genai.Client()\n"
            'client.models.generate_content(model="gemini-2.0-flash", contents="hi")\n',
            "google-genai",
            "gemini-2.0-flash",
            "google",
        ),
        (
            "import google.generativeai as genai\n"
            'model = genai.GenerativeModel("gemini-1.5-pro")\n',
            "google-generativeai",
            "gemini-1.5-pro",
            "google",
        ),
        (
            "import vertexai\nfrom vertexai.generative_models import GenerativeModel\n"
            'vertexai.init(project="p")\nm = GenerativeModel("gemini-1.5-flash-002")\n',
            "google-cloud-aiplatform",
            "gemini-1.5-flash-002",
            "google_vertex",
        ),
        (
            "from claude_agent_sdk import ClaudeAgentOptions, query\n"
            'opts = ClaudeAgentOptions(model="claude-sonnet-4-5")\n',
            "claude-agent-sdk",
            "claude-sonnet-4-5",
            "anthropic",
        ),
        (
            'import voyageai\nvo = voyageai.Client()\nvo.embed(["a"], model="voyage-3")\n',
            "voyageai",
            "voyage-3",
            "voyage",
        ),
        (
            "from deepgram import DeepgramClient, PrerecordedOptions\n"
            'options = PrerecordedOptions(model="nova-2", smart_format=True)\n',
            "deepgram-sdk",
            "nova-2",
            "deepgram",
        ),
        (
            "from model2vec import StaticModel\n"
            'model = StaticModel.from_pretrained("minishlab/potion-base-8M")\n',
            "model2vec",
            "minishlab/potion-base-8M",
            "huggingface",
        ),
        (
            'import gensim.downloader as api\nvectors = api.load("glove-wiki-gigaword-100")\n',
            "gensim",
            "glove-wiki-gigaword-100",
            None,
        ),
        (
            "from flair.models import SequenceTagger\n"
            'tagger = SequenceTagger.load("flair/ner-english")\n',
            "flair",
            "flair/ner-english",
            "huggingface",
        ),
        (
            'import cohere\nco = cohere.ClientV2()\nco.chat(model="command-r-plus", messages=[])\n',
            "cohere",
            "command-r-plus",
            "cohere",
        ),
        (
            "from mistralai import Mistral\nclient = Mistral(api_key=k)\n"
            'client.chat.complete(model="mistral-large-latest", messages=[])\n',
            "mistralai",
            "mistral-large-latest",
            "mistral",
        ),
        (
            "from groq import Groq\n"
            'Groq().chat.completions.create(model="llama-3.1-8b-instant", messages=[])\n',
            "groq",
            "llama-3.1-8b-instant",
            "groq",
        ),
        (
            "from llama_index.llms.openai import OpenAI\n"
            'llm = OpenAI(model="gpt-4o-mini", temperature=0)\n',
            "llama-index-llms-openai",
            "gpt-4o-mini",
            "openai",
        ),
        (
            "from sentence_transformers import SentenceTransformer\n"
            'enc = SentenceTransformer("sentence-transformers/all-MiniLM-L6-v2")\n',
            "sentence-transformers",
            "sentence-transformers/all-MiniLM-L6-v2",
            "huggingface",
        ),
        (
            "from huggingface_hub import hf_hub_download\n"
            'hf_hub_download(repo_id="TheBloke/Llama-2-7B-GGUF", filename="m.gguf")\n',
            "huggingface-hub",
            "TheBloke/Llama-2-7B-GGUF",
            "huggingface",
        ),
        (
            'from vllm import LLM\nllm = LLM("mistralai/Mistral-7B-Instruct-v0.2")\n',
            "vllm",
            "mistralai/Mistral-7B-Instruct-v0.2",
            None,
        ),
        (
            "from langchain.chat_models import init_chat_model\n"
            'llm = init_chat_model("claude-3-5-haiku-latest", model_provider="anthropic")\n',
            "langchain",
            "claude-3-5-haiku-latest",
            "anthropic",
        ),
    ],
)
def test_sdks_and_their_models_are_found(
    scanner: PythonCodeScanner,
    tmp_path: Path,
    code: str,
    package: str,
    model: str,
    provider: str | None,
) -> None:
    res = _scan(scanner, tmp_path / "proj", "main.py", code)
    assert package in res.names(P), res.summary()
    found = res.one(M, model)
    if provider is not None:
        assert found.provider == provider
    assert ("proj", R.USES_MODEL, model) in res.edges()
    assert res.dangling() == []


@pytest.mark.parametrize(
    ("code", "package"),
    [
        ("import torch\nx = torch.zeros(3)\n", "torch"),
        ("import tensorflow as tf\n", "tensorflow"),
        ("from keras import layers\n", "keras"),
        ("from sklearn.linear_model import LogisticRegression\n", "scikit-learn"),
        ("import xgboost as xgb\nclf = xgb.XGBClassifier()\n", "xgboost"),
        ("from crewai import Crew\n", "crewai"),
        ("import autogen\n", "pyautogen"),
        ("from fastmcp import FastMCP\n", "fastmcp"),
        ("import langchain_core\n", "langchain-core"),
    ],
)
def test_local_frameworks_are_packages_without_a_service(
    scanner: PythonCodeScanner, tmp_path: Path, code: str, package: str
) -> None:
    res = _scan(scanner, tmp_path / "proj", "train.py", code)
    assert res.names(P) == {package}
    assert res.names(S) == set()


# --------------------------------------------------------------------------
# Model names through variables


def test_model_names_resolve_through_literals_in_the_same_module(
    scanner: PythonCodeScanner, tmp_path: Path
) -> None:
    res = _scan(
        scanner,
        tmp_path / "proj",
        "svc.py",
        """
        import os

        from anthropic import Anthropic

        DEFAULT = "claude-3-5-haiku-20241022"
        FALLBACKS = {"big": "claude-3-opus-20240229"}


        class Settings:
            model: str = "claude-3-7-sonnet-20250219"


        client = Anthropic()


        def ask(prompt: str, model: str = DEFAULT) -> None:
            client.messages.create(model=model, max_tokens=10, messages=[])


        def big() -> None:
            chosen = FALLBACKS["big"]
            client.messages.create(model=chosen, max_tokens=10, messages=[])


        def configured() -> None:
            client.messages.create(model=Settings.model, max_tokens=10, messages=[])
            client.messages.create(
                model=os.getenv("CLAUDE_MODEL", "claude-sonnet-4-20250514"),
                max_tokens=10,
                messages=[],
            )


        def unresolvable(version: str, args) -> None:
            client.messages.create(model=f"claude-{version}", max_tokens=10, messages=[])
            client.messages.create(model=args.model, max_tokens=10, messages=[])
            client.messages.create(model=os.environ["M"], max_tokens=10, messages=[])
        """,
    )
    assert res.names(M) == {
        "claude-3-5-haiku-20241022",
        "claude-3-opus-20240229",
        "claude-3-7-sonnet-20250219",
        "claude-sonnet-4-20250514",
    }
    assert _model_line(res, "claude-3-5-haiku-20241022") == 17
    assert _model_line(res, "claude-3-opus-20240229") == 22
    assert "DEFAULT" in (res.one(M, "claude-3-5-haiku-20241022").evidence[0].detail or "")


def test_string_constants_concatenated_from_literals_resolve(
    scanner: PythonCodeScanner, tmp_path: Path
) -> None:
    res = _scan(
        scanner,
        tmp_path / "proj",
        "svc.py",
        """
        from openai import OpenAI

        FAMILY = "gpt-4o"
        SIZE = "mini"
        client = OpenAI()
        client.chat.completions.create(model=f"{FAMILY}-{SIZE}", messages=[])
        client.chat.completions.create(model=FAMILY + "-2024-08-06", messages=[])
        """,
    )
    assert res.names(M) == {"gpt-4o-mini", "gpt-4o-2024-08-06"}


def test_receiver_that_cannot_be_traced_still_counts_for_an_imported_sdk(
    scanner: PythonCodeScanner, tmp_path: Path
) -> None:
    res = _scan(
        scanner,
        tmp_path / "proj",
        "handler.py",
        """
        import anthropic


        def handle(client, text: str) -> str:
            return client.messages.create(model="claude-3-5-haiku-latest", messages=[])
        """,
    )
    assert res.one(M, "claude-3-5-haiku-latest").provider == "anthropic"


# --------------------------------------------------------------------------
# Plain HTTP


def test_plain_http_calls_to_ai_apis(scanner: PythonCodeScanner, tmp_path: Path) -> None:
    res = _scan(
        scanner,
        tmp_path / "ops",
        "summarise.py",
        """
        import json
        import os
        import urllib.request

        import httpx
        import requests

        API = "https://api.anthropic.com/v1/messages"
        GROQ = "https://api.groq.com/openai/v1"


        def claude(text: str) -> dict:
            return requests.post(
                API,
                headers={"x-api-key": os.environ["ANTHROPIC_API_KEY"]},
                json={"model": "claude-3-opus-20240229", "messages": [text]},
            ).json()


        async def gpt(text: str) -> dict:
            payload = {"model": "gpt-4o", "messages": [text]}
            async with httpx.AsyncClient() as client:
                url = "https://api.openai.com/v1/chat/completions"
                return (await client.post(url, json=payload)).json()


        def groq(text: str) -> bytes:
            body = json.dumps({"model": "llama-3.1-8b-instant"}).encode()
            req = urllib.request.Request(f"{GROQ}/chat/completions", data=body)
            return urllib.request.urlopen(req).read()


        def internal(text: str) -> dict:
            return requests.post("https://llm.corp.example/v1/chat/completions", json={}).json()


        def not_ai() -> None:
            requests.get("https://example.com/api/things")
        """,
    )
    assert {a.provider for a in res.assets if a.kind is S} == {"anthropic", "openai", "groq"}
    assert {(a.name, a.provider) for a in res.assets if a.kind is M} == {
        ("claude-3-opus-20240229", "anthropic"),
        ("gpt-4o", "openai"),
        ("llama-3.1-8b-instant", "groq"),
    }
    svc = res.service("anthropic")
    assert svc.evidence[0].line == 13 and "api.anthropic.com" in (svc.evidence[0].detail or "")
    assert res.names(AssetKind.ENDPOINT) == {"https://llm.corp.example/v1"}
    assert res.names(P) == set(), "HTTP libraries are not AI packages"


def test_http_to_a_non_ai_host_yields_nothing(scanner: PythonCodeScanner, tmp_path: Path) -> None:
    res = _scan(
        scanner,
        tmp_path / "billing",
        "client.py",
        """
        import requests

        BASE = "https://payments.example.com"


        def pay(amount: int) -> None:
            requests.post(f"{BASE}/v1/charges", json={"amount": amount, "model": "x"})
        """,
    )
    assert res.observations == []


# --------------------------------------------------------------------------
# MCP


def test_mcp_server_defined_with_fastmcp(scanner: PythonCodeScanner, tmp_path: Path) -> None:
    res = _scan(
        scanner,
        tmp_path / "claims-triage",
        "claims_triage/tools_server.py",
        """
        from mcp.server.fastmcp import FastMCP

        mcp = FastMCP("claims-tools")


        @mcp.tool()
        def lookup_policy(policy_id: str) -> dict:
            \"\"\"Return the policy record for a policy id.\"\"\"
            return {"policy_id": policy_id}


        @mcp.tool(name="close_claim")
        async def close(claim_id: str) -> None:
            pass


        @mcp.resource("claims://{claim_id}")
        def claim(claim_id: str) -> str:
            return claim_id


        def helper() -> None:
            pass


        if __name__ == "__main__":
            mcp.run(transport="streamable-http")
        """,
    )
    server = res.one(AssetKind.MCP_SERVER, "claims-tools")
    assert server.attributes["tools"] == ["close_claim", "lookup_policy"]
    assert server.attributes["resources"] == ["claims://{claim_id}"]
    assert server.attributes["transport"] == "streamable-http"
    assert server.evidence[0].line == 3
    assert ("claims-tools", R.DECLARED_IN, "claims-triage") in res.edges()
    assert "mcp" in res.names(P)


def test_mcp_low_level_server_and_default_transport(
    scanner: PythonCodeScanner, tmp_path: Path
) -> None:
    res = _scan(
        scanner,
        tmp_path / "srv",
        "server.py",
        """
        import mcp.types as types
        from mcp.server import Server

        server = Server("inventory")


        @server.list_tools()
        async def list_tools() -> list[types.Tool]:
            return [types.Tool(name="count_items", description="", inputSchema={})]
        """,
    )
    server = res.one(AssetKind.MCP_SERVER, "inventory")
    assert server.attributes["tools"] == ["count_items"]


def test_mcp_client_launching_a_server_over_stdio(
    scanner: PythonCodeScanner, tmp_path: Path
) -> None:
    token = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
    res = _scan(
        scanner,
        tmp_path / "agent",
        "client.py",
        f"""
        from mcp import ClientSession, StdioServerParameters
        from mcp.client.stdio import stdio_client

        params = StdioServerParameters(
            command="npx",
            args=["-y", "@modelcontextprotocol/server-github"],
            env={{"GITHUB_PERSONAL_ACCESS_TOKEN": "{token}"}},
        )


        async def main() -> None:
            async with stdio_client(params) as (read, write):
                async with ClientSession(read, write) as session:
                    await session.initialize()
        """,
    )
    server = res.one(AssetKind.MCP_SERVER, "npx @modelcontextprotocol/server-github")
    assert server.attributes["transport"] == "stdio"
    assert server.attributes["command"] == "npx -y @modelcontextprotocol/server-github"
    assert server.attributes["env"] == ["GITHUB_PERSONAL_ACCESS_TOKEN"]
    assert server.evidence[0].line == 4
    assert ("agent", R.CALLS_SERVICE, server.name) in res.edges()
    assert token not in res.json() and token[4:30] not in res.json()


def test_mcp_clients_reaching_remote_servers(scanner: PythonCodeScanner, tmp_path: Path) -> None:
    res = _scan(
        scanner,
        tmp_path / "agent",
        "remote.py",
        """
        from agents.mcp import MCPServerStdio
        from langchain_mcp_adapters.client import MultiServerMCPClient
        from mcp.client.sse import sse_client
        from mcp.client.streamable_http import streamablehttp_client

        URL = "https://mcp.example.com/mcp"


        async def main() -> None:
            async with sse_client("http://localhost:8000/sse") as streams:
                pass
            async with streamablehttp_client(URL) as (r, w, _):
                pass
            fetch = MCPServerStdio(params={"command": "uvx", "args": ["mcp-server-fetch"]})
            multi = MultiServerMCPClient(
                {"math": {"command": "python", "args": ["math_server.py"], "transport": "stdio"}}
            )
        """,
    )
    servers = {a.name: a for a in res.assets if a.kind is AssetKind.MCP_SERVER}
    assert servers["http://localhost:8000/sse"].attributes["transport"] == "sse"
    remote = servers["https://mcp.example.com/mcp"]
    assert remote.attributes == {"transport": "streamable-http", "url": URL_CLEAN}
    assert servers["uvx mcp-server-fetch"].attributes["transport"] == "stdio"
    assert servers["math"].attributes["command"] == "python math_server.py"
    assert "openai-agents" in res.names(P), "agents.mcp is a sub-module only the SDK has"


URL_CLEAN = "https://mcp.example.com/mcp"


# --------------------------------------------------------------------------
# Agents


def test_openai_agents_sdk_agent_with_model(scanner: PythonCodeScanner, tmp_path: Path) -> None:
    res = _scan(
        scanner,
        tmp_path / "helpdesk",
        "triage.py",
        """
        from agents import Agent, Runner, function_tool


        @function_tool
        def weather(city: str) -> str:
            return "sunny"


        triage = Agent(name="Triage", instructions="Route", model="gpt-4o-mini", tools=[weather])
        result = Runner.run_sync(triage, "hello")
        """,
    )
    assert res.names(P) == {"openai-agents"}
    agent = res.one(AssetKind.AGENT, "Triage")
    assert agent.attributes["framework"] == "openai-agents"
    assert agent.attributes["tools"] == ["weather"]
    assert agent.key == f"agent|{str(tmp_path / 'helpdesk').casefold()}|triage"
    assert ("Triage", R.USES_MODEL, "gpt-4o-mini") in res.edges()
    assert ("Triage", R.DECLARED_IN, "helpdesk") in res.edges()


def test_crewai_and_autogen_agents(scanner: PythonCodeScanner, tmp_path: Path) -> None:
    res = _scan(
        scanner,
        tmp_path / "crew",
        "crew.py",
        """
        from autogen_agentchat.agents import AssistantAgent
        from autogen_ext.models.openai import OpenAIChatCompletionClient
        from crewai import LLM, Agent

        llm = LLM(model="gpt-4o")
        researcher = Agent(role="Senior Researcher", goal="g", backstory="b", llm=llm)
        writer = Agent(role="Writer", goal="g", llm="anthropic/claude-3-5-sonnet-20241022")
        client = OpenAIChatCompletionClient(model="gpt-4o-mini")
        assistant = AssistantAgent("assistant", model_client=client)
        """,
    )
    edges = res.edges()
    assert ("Senior Researcher", R.USES_MODEL, "gpt-4o") in edges
    assert ("Writer", R.USES_MODEL, "claude-3-5-sonnet-20241022") in edges
    assert ("assistant", R.USES_MODEL, "gpt-4o-mini") in edges
    assert res.one(M, "claude-3-5-sonnet-20241022").provider == "anthropic"


def test_agents_module_alone_is_not_the_openai_sdk(
    scanner: PythonCodeScanner, tmp_path: Path
) -> None:
    generic = _scan(
        scanner,
        tmp_path / "a",
        "bot.py",
        'from agents import Agent\nbot = Agent(name="x", model="gpt-4o")\n',
    )
    assert generic.observations == []
    local = tmp_path / "b"
    write(local / "agents" / "__init__.py", "class Runner: ...\n")
    shadowed = _scan(scanner, local, "main.py", "from agents import Agent, Runner\n")
    assert shadowed.observations == [], "a project's own agents package is not the SDK"


# --------------------------------------------------------------------------
# Traps


def test_sdk_named_only_in_docstrings_comments_and_strings_is_not_usage(
    scanner: PythonCodeScanner, tmp_path: Path
) -> None:
    res = _scan(
        scanner,
        tmp_path / "billing",
        "invoices.py",
        '''
        """Invoice maths. Not to be confused with openai or anthropic usage.

        Example::

            import openai
            openai.OpenAI().chat.completions.create(model="gpt-4o")
        """
        from __future__ import annotations

        import decimal

        # from anthropic import Anthropic
        HELP = "pip install openai; then: from openai import OpenAI"
        URL_IN_TEXT = "see https://api.openai.com/v1/chat/completions"


        def total(lines: list[decimal.Decimal]) -> decimal.Decimal:
            """requests.post("https://api.anthropic.com/v1/messages")"""
            return sum(lines, decimal.Decimal(0))
        ''',
    )
    assert res.observations == []


def test_local_module_named_like_an_sdk_is_not_the_sdk(
    scanner: PythonCodeScanner, tmp_path: Path
) -> None:
    proj = tmp_path / "proj"
    write(proj / "openai.py", "def complete(prompt):\n    return prompt\n")
    write(proj / "src" / "anthropic" / "__init__.py", "class Anthropic: ...\n")
    res = _scan(
        scanner,
        proj,
        "main.py",
        """
        import openai
        from anthropic import Anthropic

        openai.complete("hi")
        Anthropic().messages.create(model="claude-3-opus-20240229")
        """,
    )
    assert res.observations == []
    beside = tmp_path / "other"
    write(beside / "pkg" / "mistralai.py", "x = 1\n")
    res2 = scan(
        scanner,
        write(beside / "pkg" / "use.py", "import mistralai\n"),
        beside,
        project=beside,
    )
    assert res2.observations == []


def test_relative_and_future_imports_are_not_sdks(
    scanner: PythonCodeScanner, tmp_path: Path
) -> None:
    res = _scan(
        scanner,
        tmp_path / "proj",
        "pkg/mod.py",
        """
        from __future__ import annotations

        from . import openai
        from .anthropic import Anthropic
        from ..cohere import Client

        Anthropic().messages.create(model="claude-3-opus-20240229")
        """,
    )
    assert res.observations == []


def test_placeholder_keys_are_not_credentials(scanner: PythonCodeScanner, tmp_path: Path) -> None:
    res = _scan(
        scanner,
        tmp_path / "proj",
        "client.py",
        """
        import os

        from openai import OpenAI

        a = OpenAI(api_key="your-api-key-here")
        b = OpenAI(api_key="sk-...xxxx")
        c = OpenAI(api_key="<OPENAI_API_KEY>")
        d = OpenAI(api_key=os.environ["OPENAI_API_KEY"])
        OPENAI_API_KEY = "sk-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
        """,
    )
    assert res.names(P) == {"openai"}
    assert res.names(AssetKind.CREDENTIAL) == set()
    assert res.findings == []


def test_file_without_ai_yields_nothing(scanner: PythonCodeScanner, tmp_path: Path) -> None:
    res = _scan(
        scanner,
        tmp_path / "billing",
        "store.py",
        """
        import json
        import logging

        import requests

        log = logging.getLogger(__name__)
        model = "gpt-4o"  # a variable named model is not AI


        class Store:
            def __init__(self) -> None:
                self.items: list[dict] = []

            def push(self, url: str) -> None:
                requests.post(url, json={"model": model})
        """,
    )
    assert res.observations == []


# --------------------------------------------------------------------------
# Credentials


def test_hard_coded_key_is_a_credential_and_a_finding_that_never_holds_the_key(
    scanner: PythonCodeScanner, tmp_path: Path
) -> None:
    key = fake_anthropic_key()
    res = _scan(
        scanner,
        tmp_path / "proj",
        "client.py",
        f"""
        import anthropic

        client = anthropic.Anthropic(api_key="{key}")
        client.messages.create(model="claude-3-5-haiku-20241022", max_tokens=5, messages=[])
        """,
    )
    [cred] = [a for a in res.assets if a.kind is AssetKind.CREDENTIAL]
    assert cred.provider == "anthropic"
    [finding] = res.findings
    assert finding.rule_id == "AIP-CRED-001" and finding.asset_id == cred.id
    assert finding.evidence[0].line == 3 and finding.evidence[0].kind is EvidenceKind.CODE
    assert (cred.name, R.DECLARED_IN, "proj") in res.edges()
    blob = res.json()
    assert key not in blob and key[8:40] not in blob
    call = res.one(S, "Anthropic API")
    assert all(key[14:30] not in (e.snippet or "") for e in call.evidence)


def test_ai_key_in_a_settings_file_without_imports_is_reported(
    scanner: PythonCodeScanner, tmp_path: Path
) -> None:
    key = fake_openai_key()
    res = _scan(
        scanner,
        tmp_path / "support-bot",
        "settings.py",
        f'"""Settings of the support bot."""\nOPENAI_API_KEY = "{key}"\nDEFAULT_MODEL = "x"\n',
    )
    assert [f.rule_id for f in res.findings] == ["AIP-CRED-001"]
    assert res.findings[0].evidence[0].line == 2
    assert res.names(AssetKind.APPLICATION) == {"support-bot"}
    assert key not in res.json()


def test_generic_secret_in_a_file_without_ai_is_not_this_scanners_business(
    scanner: PythonCodeScanner, tmp_path: Path
) -> None:
    res = _scan(
        scanner,
        tmp_path / "billing",
        "db.py",
        'DB_PASSWORD = "q8R#m2Lp!vX9zT4w"\nAWS_ACCESS_KEY_ID = "AKIAIOSFODNN7ABCDEFG"\n',
    )
    assert res.observations == []


# --------------------------------------------------------------------------
# Bad input and the plugin contract


def test_syntax_error_is_a_target_error_with_its_line(
    scanner: PythonCodeScanner, tmp_path: Path
) -> None:
    path = write(tmp_path / "p" / "broken.py", "import openai\n\ndef broken(:\n    pass\n")
    with pytest.raises(TargetError, match=r"syntax error at line 3") as info:
        scanner.scan(target_for(path, tmp_path))
    assert info.value.line == 3


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"import openai\nx = " + b"(" * 5000 + b"1" + b")" * 5000 + b"\n", "nested"),
        (b"import openai\nx = " + b"1+" * 200_000 + b"1\n", "nested"),
        ('name = "café"\n'.encode("latin-1"), "UTF-8"),
        (b"import openai\x00\n", "NUL"),
    ],
)
def test_unreadable_code_is_a_target_error(
    scanner: PythonCodeScanner, tmp_path: Path, data: bytes, reason: str
) -> None:
    path = tmp_path / "bad.py"
    path.write_bytes(data)
    with pytest.raises(TargetError, match=reason):
        scanner.scan(target_for(path, tmp_path))


def test_accepts_python_sources_only(scanner: PythonCodeScanner) -> None:
    assert scanner.accepts(Path("a/b.py")) and scanner.accepts(Path("tool.pyw"))
    assert not scanner.accepts(Path("stubs.pyi"))
    assert not scanner.accepts(Path("nb.ipynb")) and not scanner.accepts(Path("x.txt"))


def test_provider_aliases_and_tables_name_catalogue_providers() -> None:
    known = set(load_catalog().providers)
    assert set(_pyanalysis._PROVIDER_ALIASES.values()) <= known
    assert set(_pyanalysis._AWS_AI_SERVICES.values()) <= known
    assert set(_pyanalysis._PATH_MODELS) <= known


@pytest.mark.parametrize(
    ("code", "agent", "model", "provider"),
    [
        (
            'from pydantic_ai import Agent\nsupport = Agent("openai:gpt-4o", name="support")\n',
            "support",
            "gpt-4o",
            "openai",
        ),
        (
            "from google.adk.agents import Agent\n"
            'root_agent = Agent(name="weather", model="gemini-2.0-flash", tools=[get_weather])\n',
            "weather",
            "gemini-2.0-flash",
            "google",
        ),
        (
            "from smolagents import CodeAgent, InferenceClientModel\n"
            'model = InferenceClientModel(model_id="Qwen/Qwen2.5-Coder-32B-Instruct")\n'
            "coder = CodeAgent(tools=[], model=model)\n",
            "coder",
            "Qwen/Qwen2.5-Coder-32B-Instruct",
            "huggingface",
        ),
        (
            "from langgraph.prebuilt import create_react_agent\n"
            'graph = create_react_agent("anthropic:claude-3-7-sonnet-latest", tools=[])\n',
            "graph",
            "claude-3-7-sonnet-latest",
            "anthropic",
        ),
    ],
)
def test_more_agent_frameworks(
    scanner: PythonCodeScanner,
    tmp_path: Path,
    code: str,
    agent: str,
    model: str,
    provider: str,
) -> None:
    res = _scan(scanner, tmp_path / "proj", "agent.py", code)
    assert res.one(M, model).provider == provider
    assert (agent, R.USES_MODEL, model) in res.edges(), res.summary()
    assert (agent, R.DECLARED_IN, "proj") in res.edges()


def test_wrapper_class_names_the_provider_over_the_model_name(
    scanner: PythonCodeScanner, tmp_path: Path
) -> None:
    res = _scan(
        scanner,
        tmp_path / "proj",
        "hub.py",
        """
        from langchain_community.llms import HuggingFaceHub
        from pydantic import BaseModel, Field


        class Config(BaseModel):
            repo: str = Field("mistralai/Mistral-7B-Instruct-v0.2", description="model")


        llm = HuggingFaceHub(repo_id=Config.repo)
        """,
    )
    model = res.one(M, "mistralai/Mistral-7B-Instruct-v0.2")
    assert model.provider == "huggingface"
    assert res.names(P) == {"langchain-community"}
    assert {a.provider for a in res.assets if a.kind is S} == {"huggingface"}


def test_legacy_module_level_azure_settings(scanner: PythonCodeScanner, tmp_path: Path) -> None:
    res = _scan(
        scanner,
        tmp_path / "proj",
        "legacy.py",
        """
        import openai

        openai.api_type = "azure"
        openai.api_base = "https://legacy-res.openai.azure.com/"
        openai.ChatCompletion.create(engine="gpt35-deploy", messages=[])
        """,
    )
    assert res.one(M, "gpt35-deploy").provider == "azure_openai"
    assert res.names(AssetKind.ENDPOINT) == {"https://legacy-res.openai.azure.com"}
    assert {a.provider for a in res.assets if a.kind is S} == {"azure_openai"}


def test_dynamic_import_of_an_sdk_counts(scanner: PythonCodeScanner, tmp_path: Path) -> None:
    res = _scan(
        scanner,
        tmp_path / "proj",
        "plugin.py",
        """
        import importlib

        sdk = importlib.import_module("anthropic")
        sdk.Anthropic().messages.create(model="claude-3-opus-20240229", messages=[])
        """,
    )
    assert res.names(P) == {"anthropic"}
    assert res.one(M, "claude-3-opus-20240229").evidence[0].line == 4


def test_unnamed_mcp_server_is_named_after_its_file(
    scanner: PythonCodeScanner, tmp_path: Path
) -> None:
    res = _scan(
        scanner,
        tmp_path / "proj",
        "weather_server.py",
        "from fastmcp import FastMCP\nmcp = FastMCP()\nmcp.run()\n",
    )
    server = res.one(AssetKind.MCP_SERVER, "weather_server")
    assert server.attributes["transport"] == "stdio"
    assert server.key == f"mcp|{str(tmp_path / 'proj').casefold()}|weather_server"


def test_evidence_is_capped_for_many_calls(scanner: PythonCodeScanner, tmp_path: Path) -> None:
    calls = "\n".join(
        f'client.chat.completions.create(model="gpt-4o", messages=[{i}])' for i in range(200)
    )
    res = _scan(
        scanner, tmp_path / "proj", "many.py", f"import openai\nclient = openai.OpenAI()\n{calls}\n"
    )
    model = res.one(M, "gpt-4o")
    assert 1 < len(model.evidence) <= 20
    assert all(len(r.evidence) <= 20 for r in res.relations)


# --------------------------------------------------------------------------
# A whole estate


def test_every_planted_item_in_an_estate_is_found_and_traps_yield_nothing(
    tmp_path: Path,
) -> None:
    estate = build_code_estate(tmp_path / "estate", fake_openai_key(), fake_anthropic_key())
    results = scan_tree([PythonCodeScanner(), NotebookScanner()], estate.root)
    merged = Result([o for r in results.values() for o in r.observations])
    assert {(a.name, a.provider) for a in merged.assets if a.kind is M} == estate.models
    assert {a.provider for a in merged.assets if a.kind is S} == estate.services
    assert merged.names(P) == estate.packages
    assert merged.names(AssetKind.MCP_SERVER) == estate.mcp_servers
    assert sorted(f.rule_id for f in merged.findings) == ["AIP-CRED-001", "AIP-CRED-002"]
    assert merged.names(AssetKind.APPLICATION) == {
        "support-bot",
        "claims",
        "gateway",
        "ops",
        "agent-client",
        "research",
    }
    for trap in estate.trap_files:
        assert results[trap].observations == [], trap
    blob = merged.json()
    for secret in estate.secrets:
        assert secret not in blob and secret[8:40] not in blob
    assert merged.dangling() == []


def test_long_generated_expressions_are_analysed_not_rejected(
    scanner: PythonCodeScanner, tmp_path: Path
) -> None:
    concat = " + ".join(f'"part{i}"' for i in range(1200))
    res = _scan(
        scanner,
        tmp_path / "proj",
        "generated.py",
        f"""
        import openai

        BLOB = {concat}
        PREFIX = "gpt-" + "4o" + "-mini"
        openai.OpenAI().chat.completions.create(model=PREFIX, messages=[BLOB])
        """,
    )
    assert res.names(M) == {"gpt-4o-mini"}
