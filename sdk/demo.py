"""A realistic synthetic AI estate, and the demo that scans it (``make demo``).

``python -m aiposture.demo`` builds the estate in a temporary folder, scans
it into a fresh SQLite store, prints the inventory and the findings, rescans
to show that unchanged files are skipped, and writes a CycloneDX AI-BOM.

The estate is written by :func:`build_estate`, which tests and benchmarks
use too. Its credentials are random strings made at run time in the shape
of real keys (so detectors treat them as live); they are valid for nothing.
"""

from __future__ import annotations

import argparse
import json
import secrets
import string
import sys
import tempfile
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbformat import v4

__all__ = ["Estate", "build_estate", "fake_anthropic_key", "fake_openai_key", "main"]

_ALNUM = string.ascii_letters + string.digits


def _rand(n: int, alphabet: str = _ALNUM) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(n))


def fake_openai_key() -> str:
    """A random string in the shape of an OpenAI project key (valid for nothing)."""
    return f"sk-proj-{_rand(20)}T3BlbkFJ{_rand(20)}"


def fake_anthropic_key() -> str:
    """A random string in the shape of an Anthropic API key (valid for nothing)."""
    return f"sk-ant-api03-{_rand(93, _ALNUM + '-_')}AA"


@dataclass
class Estate:
    """What :func:`build_estate` planted, so callers can check it was found."""

    root: Path
    secrets: list[str] = field(default_factory=list)
    models: set[str] = field(default_factory=set)
    services: set[str] = field(default_factory=set)
    packages: set[str] = field(default_factory=set)
    mcp_servers: set[str] = field(default_factory=set)
    applications: set[str] = field(default_factory=set)
    notebooks: set[str] = field(default_factory=set)
    non_ai_files: list[Path] = field(default_factory=list)


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def _notebook(path: Path, cells: list[nbformat.NotebookNode]) -> Path:
    nb = v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


def build_estate(root: Path) -> Estate:
    """Write a small company's AI estate under ``root`` and return what was planted."""
    root.mkdir(parents=True, exist_ok=True)
    est = Estate(root=root)
    openai_key = fake_openai_key()
    anthropic_key = fake_anthropic_key()
    est.secrets += [openai_key, anthropic_key]

    # A customer-facing support bot on OpenAI, with a key pasted into its settings.
    bot = root / "support-bot"
    _write(
        bot / "requirements.txt",
        """
        # runtime
        fastapi==0.115.0
        openai==1.51.0
        langchain-openai>=0.2,<0.3
        tiktoken==0.8.0
        """,
    )
    _write(
        bot / "settings.py",
        f"""
        \"\"\"Settings of the support bot.\"\"\"
        OPENAI_API_KEY = "{openai_key}"
        DEFAULT_MODEL = "gpt-4o-mini"
        """,
    )
    _write(
        bot / "bot.py",
        """
        from openai import OpenAI

        from settings import DEFAULT_MODEL, OPENAI_API_KEY

        MODEL = "gpt-4o-mini"
        client = OpenAI(api_key=OPENAI_API_KEY)


        def answer(question: str, model: str = MODEL) -> str:
            reply = client.chat.completions.create(
                model=model,
                messages=[{"role": "user", "content": question}],
            )
            return reply.choices[0].message.content or ""


        def embed(text: str) -> list[float]:
            return client.embeddings.create(model="text-embedding-3-small", input=text).data[0].embedding
        """,
    )
    est.applications.add("support-bot")
    est.models |= {"gpt-4o-mini", "text-embedding-3-small"}
    est.services.add("openai")
    est.packages |= {"openai", "langchain-openai", "tiktoken"}

    # Claims triage on Anthropic through LangChain, with its own MCP server.
    claims = root / "claims-triage"
    _write(
        claims / "pyproject.toml",
        """
        [project]
        name = "claims-triage"
        version = "0.3.0"
        dependencies = [
            "anthropic==0.39.0",
            "langchain-anthropic>=0.3",
            "mcp>=1.2",
            "pydantic>=2",
        ]
        """,
    )
    _write(
        claims / "claims_triage" / "triage.py",
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
    _write(
        claims / "claims_triage" / "tools_server.py",
        """
        from mcp.server.fastmcp import FastMCP

        mcp = FastMCP("claims-tools")


        @mcp.tool()
        def lookup_policy(policy_id: str) -> dict:
            \"\"\"Return the policy record for a policy id.\"\"\"
            return {"policy_id": policy_id}


        if __name__ == "__main__":
            mcp.run()
        """,
    )
    est.applications.add("claims-triage")
    est.models.add("claude-3-5-sonnet-20241022")
    est.services.add("anthropic")
    est.packages |= {"anthropic", "langchain-anthropic", "mcp"}
    est.mcp_servers.add("claims-tools")

    # Research notebooks: Hugging Face models, and a key printed in an output.
    research = root / "research"
    _write(research / "requirements.txt", "sentence-transformers==3.2.1\ntransformers==4.46.0\n")
    _notebook(
        research / "embeddings.ipynb",
        [
            v4.new_markdown_cell("# Ticket similarity\nWe embed support tickets."),
            v4.new_code_cell(
                "from sentence_transformers import SentenceTransformer\n"
                'encoder = SentenceTransformer("sentence-transformers/all-MiniLM-L6-v2")'
            ),
            v4.new_code_cell(
                "from transformers import AutoModelForSequenceClassification\n"
                "clf = AutoModelForSequenceClassification.from_pretrained(\n"
                '    "distilbert-base-uncased-finetuned-sst-2-english"\n)'
            ),
        ],
    )
    eval_nb = [
        v4.new_code_cell(
            'import os\nimport anthropic\nkey = os.environ["ANTHROPIC_API_KEY"]\nprint(key)',
            outputs=[v4.new_output("stream", name="stdout", text=anthropic_key + "\n")],
        ),
        v4.new_code_cell(
            "client = anthropic.Anthropic(api_key=key)\n"
            "msg = client.messages.create(\n"
            '    model="claude-3-5-haiku-20241022", max_tokens=256,\n'
            '    messages=[{"role": "user", "content": "Summarise Q3 churn."}],\n)'
        ),
    ]
    _notebook(research / "eval-claude.ipynb", eval_nb)
    est.applications.add("research")
    est.notebooks |= {"embeddings.ipynb", "eval-claude.ipynb"}
    est.models |= {
        "sentence-transformers/all-MiniLM-L6-v2",
        "distilbert-base-uncased-finetuned-sst-2-english",
        "claude-3-5-haiku-20241022",
    }
    est.services.add("huggingface")
    est.packages |= {"sentence-transformers", "transformers"}

    # A fraud model trained in-house.
    fraud = root / "fraud-model"
    _write(fraud / "requirements.txt", "scikit-learn==1.5.2\nxgboost==2.1.1\npandas==2.2.3\n")
    _write(
        fraud / "train.py",
        """
        import pandas as pd
        import xgboost as xgb
        from sklearn.model_selection import train_test_split


        def train(path: str) -> xgb.XGBClassifier:
            frame = pd.read_parquet(path)
            x_train, _, y_train, _ = train_test_split(frame.drop(columns="label"), frame["label"])
            model = xgb.XGBClassifier(n_estimators=200)
            model.fit(x_train, y_train)
            return model
        """,
    )
    est.applications.add("fraud-model")
    est.packages |= {"scikit-learn", "xgboost"}

    # Shadow AI: a script that posts to Mistral's API with plain HTTP.
    _write(
        root / "ops-scripts" / "summarise_incidents.py",
        """
        import os

        import requests

        API = "https://api.mistral.ai/v1/chat/completions"


        def summarise(text: str) -> str:
            resp = requests.post(
                API,
                headers={"Authorization": f"Bearer {os.environ['MISTRAL_KEY']}"},
                json={"model": "mistral-large-latest", "messages": [{"role": "user", "content": text}]},
                timeout=30,
            )
            return resp.json()["choices"][0]["message"]["content"]
        """,
    )
    est.models.add("mistral-large-latest")
    est.services.add("mistral")

    # Documentation naming a model.
    _write(
        root / "docs" / "architecture.md",
        """
        # Architecture

        The support bot answers with `gpt-4o-mini` and falls back to a human.
        """,
    )

    # Files without AI: nothing may come of them.
    est.non_ai_files += [
        _write(
            root / "billing" / "invoices.py",
            """
            \"\"\"Invoice maths. Not to be confused with openai or anthropic usage.\"\"\"
            import decimal

            # TODO: maybe ask ChatGPT to write the rounding rules
            def total(lines: list[decimal.Decimal]) -> decimal.Decimal:
                return sum(lines, decimal.Decimal(0))
            """,
        ),
        _write(root / "billing" / "requirements.txt", "requests==2.32.3\nboto3==1.35.0\n"),
        _write(root / "billing" / "README.md", "# Billing\nComputes invoices every night.\n"),
    ]
    return est


def main(argv: list[str] | None = None) -> int:
    """Build the demo estate, scan it, print the inventory and findings."""
    parser = argparse.ArgumentParser(prog="python -m aiposture.demo", description=__doc__)
    parser.add_argument("--dir", type=Path, help="Folder for the estate and store (default: temp)")
    args = parser.parse_args(argv)

    from rich.console import Console

    from aiposture.cli import main as cli

    console = Console()
    base = args.dir or Path(tempfile.mkdtemp(prefix="aiposture-demo-"))
    estate = build_estate(base / "estate")
    db = f"sqlite:///{base / 'posture.db'}"
    console.rule("[bold]aiposture demo")
    console.print(f"estate: {estate.root}\nstore:  {db}\n")

    steps: list[tuple[str, list[str]]] = [
        ("1. scan the estate", ["scan", str(estate.root), "--db", db, "--no-progress"]),
        ("2. the inventory", ["inventory", "--db", db]),
        ("3. findings", ["findings", "--db", db]),
        (
            "4. rescan: unchanged files are skipped",
            ["scan", str(estate.root), "--db", db, "--no-progress"],
        ),
        ("5. CycloneDX AI-BOM", ["export", "cyclonedx", "-o", str(base / "bom.json"), "--db", db]),
        ("6. audit chain", ["audit", "verify", "--db", db]),
    ]
    for title, argv_ in steps:
        console.rule(title)
        code = cli(argv_)
        if code != 0:
            console.print(f"[red]step failed with exit code {code}[/red]")
            return code
    bom = json.loads((base / "bom.json").read_text(encoding="utf-8"))
    console.print(
        f"AI-BOM: {len(bom.get('components', []))} components, "
        f"{len(bom.get('services', []))} services -> {base / 'bom.json'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
