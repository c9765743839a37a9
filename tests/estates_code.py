"""Helpers for the code and notebook scanner tests: write files, scan them, query the results."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbformat import v4

from aiposture.discovery.base import Observation, Scanner, Target, TargetKind
from aiposture.models import Asset, AssetKind, Finding, Relation, RelationKind


def write(path: Path, text: str) -> Path:
    """Write dedented ``text`` to ``path`` (parents created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def write_notebook(path: Path, cells: list[nbformat.NotebookNode]) -> Path:
    """Write a v4 notebook with ``cells`` to ``path``."""
    nb = v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


def target_for(path: Path, root: Path, project: Path | None = None) -> Target:
    """The :class:`Target` the engine would build for ``path``."""
    return Target(
        kind=TargetKind.FILE,
        source=str(path),
        path=path,
        root=root,
        data=path.read_bytes(),
        project=project or path.parent,
    )


@dataclass
class Result:
    """What one scan yielded, with lookups by kind, name and relation."""

    observations: list[Observation]

    @property
    def assets(self) -> list[Asset]:
        return [o for o in self.observations if isinstance(o, Asset)]

    @property
    def relations(self) -> list[Relation]:
        return [o for o in self.observations if isinstance(o, Relation)]

    @property
    def findings(self) -> list[Finding]:
        return [o for o in self.observations if isinstance(o, Finding)]

    def names(self, kind: AssetKind) -> set[str]:
        return {a.name for a in self.assets if a.kind is kind}

    def providers(self, kind: AssetKind) -> set[str | None]:
        return {a.provider for a in self.assets if a.kind is kind}

    def one(self, kind: AssetKind, name: str) -> Asset:
        hits = [a for a in self.assets if a.kind is kind and a.name == name]
        assert len(hits) == 1, f"{kind.value} {name!r}: {len(hits)} found in {self.summary()}"
        return hits[0]

    def service(self, provider: str) -> Asset:
        hits = [a for a in self.assets if a.kind is AssetKind.AI_SERVICE and a.provider == provider]
        assert len(hits) == 1, f"service of {provider}: {self.summary()}"
        return hits[0]

    def edges(self) -> set[tuple[str, RelationKind, str]]:
        by_id = {a.id: a for a in self.assets}
        return {(by_id[r.source_id].name, r.kind, by_id[r.target_id].name) for r in self.relations}

    def dangling(self) -> list[Relation]:
        """Relations whose ends are not among the yielded assets."""
        ids = {a.id for a in self.assets}
        return [r for r in self.relations if r.source_id not in ids or r.target_id not in ids]

    def json(self) -> str:
        return "\n".join(o.model_dump_json() for o in self.observations)

    def summary(self) -> list[str]:
        return sorted(f"{a.kind.value}:{a.name}:{a.provider}" for a in self.assets)


def scan(scanner: Scanner, path: Path, root: Path, project: Path | None = None) -> Result:
    """Run ``scanner`` on ``path`` and wrap what it yields."""
    return Result(list(scanner.scan(target_for(path, root, project))))


@dataclass
class CodeEstate:
    """What :func:`build_code_estate` planted."""

    root: Path
    secrets: list[str]
    models: set[tuple[str, str]]
    services: set[str]
    packages: set[str]
    mcp_servers: set[str]
    trap_files: list[Path]


def build_code_estate(root: Path, openai_key: str, anthropic_key: str) -> CodeEstate:
    """Write a few small AI projects, and trap files that hold no AI, under ``root``."""
    write(
        root / "support-bot" / "bot.py",
        """
        from openai import OpenAI

        MODEL = "gpt-4o-mini"
        client = OpenAI()


        def answer(question: str, model: str = MODEL) -> str:
            reply = client.chat.completions.create(model=model, messages=[])
            return reply.choices[0].message.content or ""
        """,
    )
    write(root / "support-bot" / "settings.py", f'OPENAI_API_KEY = "{openai_key}"\n')
    write(
        root / "claims" / "triage.py",
        """
        from langchain_anthropic import ChatAnthropic

        llm = ChatAnthropic(model="claude-3-5-sonnet-20241022")
        """,
    )
    write(
        root / "claims" / "tools_server.py",
        """
        from mcp.server.fastmcp import FastMCP

        mcp = FastMCP("claims-tools")


        @mcp.tool()
        def lookup_policy(policy_id: str) -> dict:
            return {"policy_id": policy_id}
        """,
    )
    write(
        root / "claims" / "bedrock.py",
        """
        import boto3

        brt = boto3.client("bedrock-runtime")
        brt.converse(modelId="anthropic.claude-3-haiku-20240307-v1:0", messages=[])
        """,
    )
    write(
        root / "gateway" / "router.py",
        """
        from litellm import Router

        router = Router(model_list=[
            {"model_name": "default", "litellm_params": {"model": "groq/llama-3.1-70b-versatile"}},
        ])
        """,
    )
    write(
        root / "ops" / "summarise.py",
        """
        import requests

        API = "https://api.anthropic.com/v1/messages"


        def summarise(text: str) -> dict:
            body = {"model": "claude-3-5-haiku-20241022", "messages": [text]}
            return requests.post(API, json=body, timeout=30).json()
        """,
    )
    write(
        root / "agent-client" / "client.py",
        """
        from mcp import StdioServerParameters

        params = StdioServerParameters(
            command="npx", args=["-y", "@modelcontextprotocol/server-github"]
        )
        """,
    )
    write_notebook(
        root / "research" / "sentiment.ipynb",
        [
            v4.new_code_cell("from transformers import AutoModelForSequenceClassification"),
            v4.new_code_cell(
                'name = "distilbert-base-uncased"\n'
                "clf = AutoModelForSequenceClassification.from_pretrained(name)"
            ),
        ],
    )
    write_notebook(
        root / "research" / "keys.ipynb",
        [
            v4.new_code_cell(
                "import os\nprint(os.environ['ANTHROPIC_API_KEY'])",
                outputs=[v4.new_output("stream", name="stdout", text=anthropic_key + "\n")],
            )
        ],
    )
    traps = [
        write(root / "legacy" / "openai.py", "def complete(p):\n    return p\n"),
        write(root / "legacy" / "main.py", "import openai\nopenai.complete('gpt-4o')\n"),
        write(
            root / "billing" / "invoices.py",
            '"""Not openai. import anthropic"""\n# from openai import OpenAI\nimport decimal\n',
        ),
        write(root / "billing" / "upload.py", "import boto3\nboto3.client('s3').list_buckets()\n"),
        write(root / "billing" / "pkg" / "rel.py", "from .anthropic import Client\nClient()\n"),
        write(root / "billing" / "http.py", "import requests\nrequests.get('https://x.org/a')\n"),
        write_notebook(
            root / "billing" / "report.ipynb",
            [v4.new_markdown_cell("uses `openai`?"), v4.new_code_cell("import pandas as pd")],
        ),
    ]
    return CodeEstate(
        root=root,
        secrets=[openai_key, anthropic_key],
        models={
            ("gpt-4o-mini", "openai"),
            ("claude-3-5-sonnet-20241022", "anthropic"),
            ("anthropic.claude-3-haiku-20240307-v1:0", "aws_bedrock"),
            ("llama-3.1-70b-versatile", "groq"),
            ("claude-3-5-haiku-20241022", "anthropic"),
            ("distilbert-base-uncased", "huggingface"),
        },
        services={"openai", "anthropic", "aws_bedrock", "groq", "huggingface"},
        packages={"openai", "langchain-anthropic", "mcp", "boto3", "litellm", "transformers"},
        mcp_servers={"claims-tools", "npx @modelcontextprotocol/server-github"},
        trap_files=traps,
    )


def scan_tree(scanners: list[Scanner], root: Path) -> dict[Path, Result]:
    """Scan every file under ``root`` with the scanners that accept it; project = top folder."""
    out: dict[Path, Result] = {}
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        project = root / path.relative_to(root).parts[0]
        for s in scanners:
            if s.accepts(path):
                out[path] = scan(s, path, root, project=project)
    return out
