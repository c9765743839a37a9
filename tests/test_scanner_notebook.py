"""The notebook scanner on notebooks written to disk with nbformat (never executed)."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from nbformat import v3, v4

from aiposture.demo import fake_anthropic_key, fake_openai_key
from aiposture.discovery.base import TargetError
from aiposture.discovery.scanners.notebook import NotebookScanner, python_source
from aiposture.models import AssetKind, EvidenceKind
from aiposture.models import RelationKind as R
from estates_code import Result, scan, target_for, write_notebook

M, S, P, NB = AssetKind.MODEL, AssetKind.AI_SERVICE, AssetKind.PACKAGE, AssetKind.NOTEBOOK


@pytest.fixture
def scanner() -> NotebookScanner:
    return NotebookScanner()


def _nb(scanner: NotebookScanner, root: Path, name: str, cells: list) -> Result:  # type: ignore[type-arg]
    path = write_notebook(root / name, cells)
    return scan(scanner, path, root, project=root)


def test_transformers_model_across_cells_with_cell_and_line_evidence(
    scanner: NotebookScanner, tmp_path: Path
) -> None:
    res = _nb(
        scanner,
        tmp_path / "research",
        "sentiment.ipynb",
        [
            v4.new_markdown_cell("# Sentiment\nWe fine-tune a model from transformers."),
            v4.new_code_cell("%pip install transformers\nfrom transformers import AutoModel"),
            v4.new_code_cell('CHECKPOINT = "distilbert-base-uncased"'),
            v4.new_code_cell("import torch\n\nmodel = AutoModel.from_pretrained(CHECKPOINT)"),
        ],
    )
    nb = res.one(NB, "sentiment.ipynb")
    assert res.names(AssetKind.APPLICATION) == {"research"}
    assert ("research", R.CONTAINS, "sentiment.ipynb") in res.edges()
    assert res.names(P) == {"transformers", "torch"}
    pkg_ev = res.one(P, "transformers").evidence[0]
    assert (pkg_ev.kind, pkg_ev.cell, pkg_ev.line) == (EvidenceKind.NOTEBOOK_CELL, 1, 2)
    model = res.one(M, "distilbert-base-uncased")
    assert model.provider == "huggingface"
    ev = model.evidence[0]
    assert (ev.kind, ev.cell, ev.line, ev.scanner) == (EvidenceKind.NOTEBOOK_CELL, 3, 3, "notebook")
    assert ev.path == str(tmp_path / "research" / "sentiment.ipynb")
    assert ev.snippet == "model = AutoModel.from_pretrained(CHECKPOINT)"
    assert "CHECKPOINT" in (ev.detail or "")
    assert ("sentiment.ipynb", R.USES_MODEL, "distilbert-base-uncased") in res.edges()
    assert ("sentiment.ipynb", R.CALLS_SERVICE, "Hugging Face Hub and Inference") in res.edges()
    assert nb.attributes["path"] == ev.path
    assert res.dangling() == []


def test_key_printed_in_an_output_is_cred_002_and_never_stored(
    scanner: NotebookScanner, tmp_path: Path
) -> None:
    key = fake_anthropic_key()
    res = _nb(
        scanner,
        tmp_path / "research",
        "eval-claude.ipynb",
        [
            v4.new_code_cell(
                'import os\nimport anthropic\nkey = os.environ["ANTHROPIC_API_KEY"]\nprint(key)',
                outputs=[v4.new_output("stream", name="stdout", text=key + "\n")],
            ),
            v4.new_code_cell(
                "client = anthropic.Anthropic(api_key=key)\n"
                "msg = client.messages.create(\n"
                '    model="claude-3-5-haiku-20241022", max_tokens=256,\n'
                '    messages=[{"role": "user", "content": "Summarise Q3 churn."}],\n)'
            ),
        ],
    )
    [finding] = res.findings
    assert finding.rule_id == "AIP-CRED-002"
    ev = finding.evidence[0]
    assert (ev.kind, ev.cell, ev.line) == (EvidenceKind.NOTEBOOK_OUTPUT, 0, 1)
    [cred] = [a for a in res.assets if a.kind is AssetKind.CREDENTIAL]
    assert cred.provider == "anthropic"
    assert (cred.name, R.DECLARED_IN, "eval-claude.ipynb") in res.edges()
    model = res.one(M, "claude-3-5-haiku-20241022")
    assert (model.evidence[0].cell, model.evidence[0].line) == (1, 3)
    blob = res.json()
    assert key not in blob and key[8:40] not in blob


def test_keys_in_code_results_and_tracebacks_are_found(
    scanner: NotebookScanner, tmp_path: Path
) -> None:
    in_code, in_result, in_error = fake_openai_key(), fake_openai_key(), fake_anthropic_key()
    res = _nb(
        scanner,
        tmp_path / "lab",
        "keys.ipynb",
        [
            v4.new_code_cell(f'import openai\n\nopenai.api_key = "{in_code}"'),
            v4.new_code_cell(
                "settings",
                outputs=[
                    v4.new_output(
                        "execute_result",
                        data={"text/plain": f"{{'key': '{in_result}'}}"},
                        execution_count=2,
                    )
                ],
            ),
            v4.new_code_cell(
                "call()",
                outputs=[
                    v4.new_output(
                        "error",
                        ename="AuthenticationError",
                        evalue="bad key",
                        traceback=[
                            "\x1b[0;31m---------------------------------\x1b[0m",
                            f"\x1b[0;31mAuthenticationError\x1b[0m: invalid x-api-key {in_error}",
                        ],
                    )
                ],
            ),
        ],
    )
    got = sorted((f.rule_id, f.evidence[0].cell, f.evidence[0].line) for f in res.findings)
    assert got == [("AIP-CRED-001", 0, 3), ("AIP-CRED-002", 1, 1), ("AIP-CRED-002", 2, 3)]
    blob = res.json()
    for key in (in_code, in_result, in_error):
        assert key not in blob and key[8:40] not in blob


def test_placeholder_keys_in_cells_and_outputs_are_not_credentials(
    scanner: NotebookScanner, tmp_path: Path
) -> None:
    res = _nb(
        scanner,
        tmp_path / "lab",
        "setup.ipynb",
        [
            v4.new_code_cell(
                'import openai\nopenai.api_key = "your-api-key-here"\nprint("sk-...xxxx")',
                outputs=[v4.new_output("stream", name="stdout", text="sk-...xxxx\n")],
            ),
            v4.new_code_cell(
                'import os\nos.environ["OPENAI_API_KEY"] = "<OPENAI_API_KEY>"',
                outputs=[
                    v4.new_output(
                        "execute_result",
                        data={"text/plain": "'your-api-key-here'"},
                        execution_count=1,
                    )
                ],
            ),
        ],
    )
    assert res.names(P) == {"openai"}
    assert res.findings == [] and res.names(AssetKind.CREDENTIAL) == set()


def test_ipython_syntax_and_broken_cells_do_not_hide_the_rest(
    scanner: NotebookScanner, tmp_path: Path
) -> None:
    res = _nb(
        scanner,
        tmp_path / "lab",
        "messy.ipynb",
        [
            v4.new_code_cell("!pip install openai anthropic\n%load_ext autoreload\nimport os"),
            v4.new_code_cell("%%bash\npython -c 'import anthropic'\n"),
            v4.new_code_cell("def broken(:\n    pass\nimport cohere"),
            v4.new_code_cell("%%time\nfrom openai import OpenAI\nOpenAI?"),
            v4.new_code_cell(
                "client = OpenAI()\nfiles = !ls\nfor f in files:\n    !echo {f}\n"
                'client.responses.create(model="gpt-4.1", input="hi")'
            ),
        ],
    )
    assert res.names(P) == {"openai"}, "%%bash and unparsable cells are skipped"
    model = res.one(M, "gpt-4.1")
    assert (model.evidence[0].cell, model.evidence[0].line) == (4, 5)


def test_notebook_without_ai_yields_nothing(scanner: NotebookScanner, tmp_path: Path) -> None:
    res = _nb(
        scanner,
        tmp_path / "finance",
        "report.ipynb",
        [
            v4.new_markdown_cell("We could use openai or anthropic one day: `import openai`."),
            v4.new_code_cell(
                "import pandas as pd\n# from openai import OpenAI\ndf = pd.DataFrame()"
            ),
            v4.new_code_cell('"""import anthropic"""\nx = "https://api.openai.com/v1/models"'),
        ],
    )
    assert res.observations == []


def test_mcp_server_and_http_call_in_a_notebook(scanner: NotebookScanner, tmp_path: Path) -> None:
    res = _nb(
        scanner,
        tmp_path / "lab",
        "tools.ipynb",
        [
            v4.new_code_cell("from fastmcp import FastMCP\nserver = FastMCP('lab-tools')"),
            v4.new_code_cell("@server.tool\ndef add(a: int, b: int) -> int:\n    return a + b"),
            v4.new_code_cell(
                "import requests\n"
                'r = requests.post("https://api.mistral.ai/v1/chat/completions",\n'
                '                  json={"model": "mistral-small-latest", "messages": []})'
            ),
        ],
    )
    server = res.one(AssetKind.MCP_SERVER, "lab-tools")
    assert server.attributes["tools"] == ["add"]
    assert ("lab-tools", R.DECLARED_IN, "tools.ipynb") in res.edges()
    model = res.one(M, "mistral-small-latest")
    assert model.provider == "mistral" and model.evidence[0].cell == 2
    assert ("tools.ipynb", R.CALLS_SERVICE, "Mistral API") in res.edges()


def test_nbformat_3_notebooks_are_read(scanner: NotebookScanner, tmp_path: Path) -> None:
    nb = v3.new_notebook(
        worksheets=[
            v3.new_worksheet(
                cells=[v3.new_code_cell(input='import ollama\nollama.chat(model="llama3")')]
            )
        ]
    )
    path = tmp_path / "old.ipynb"
    path.write_text(v3.writes_json(nb), encoding="utf-8")
    res = scan(scanner, path, tmp_path, project=tmp_path)
    assert res.one(M, "llama3").provider == "ollama"


@pytest.mark.parametrize(
    ("content", "reason", "line"),
    [
        ('{"cells": [ {"cell_type": "code", "source": "imp', "invalid notebook JSON at line 1", 1),
        (
            '{\n  "cells": [\n    {"cell_type": "code",,}\n  ]\n}',
            "invalid notebook JSON at line 3",
            3,
        ),
        (json.dumps({"hello": "world"}), "not a notebook: no 'cells'", None),
        (json.dumps([1, 2, 3]), "not a notebook: the top level is a JSON list", None),
        (json.dumps({"cells": {"a": 1}}), "not a notebook: 'cells' is not a list", None),
    ],
)
def test_invalid_notebooks_are_target_errors(
    scanner: NotebookScanner, tmp_path: Path, content: str, reason: str, line: int | None
) -> None:
    path = tmp_path / "bad.ipynb"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(TargetError) as info:
        scanner.scan(target_for(path, tmp_path))
    assert info.value.reason.startswith(reason)
    assert info.value.line == line


def test_empty_and_binary_files(scanner: NotebookScanner, tmp_path: Path) -> None:
    empty = tmp_path / "empty.ipynb"
    empty.write_bytes(b"")
    assert scanner.scan(target_for(empty, tmp_path)) == []
    binary = tmp_path / "bin.ipynb"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    with pytest.raises(TargetError, match="binary"):
        scanner.scan(target_for(binary, tmp_path))


def test_accepts_notebooks_only(scanner: NotebookScanner) -> None:
    assert scanner.accepts(Path("x/analysis.ipynb")) and scanner.accepts(Path("A.IPYNB"))
    assert not scanner.accepts(Path("analysis.py")) and not scanner.accepts(Path("nb.json"))


def test_python_source_neutralises_ipython_syntax_keeping_lines() -> None:
    src = "%matplotlib inline\nx = 1\n  !ls \\\n  -la\ny = !pwd\nhelp?\n"
    out = python_source(src)
    assert out is not None
    assert out.split("\n") == ["pass", "x = 1", "  pass", "", "pass", "pass", ""]
    assert python_source("%%bash\nls\n") is None
    assert python_source("%%timeit -n 3\nimport openai\n") == "\nimport openai\n"


def test_notebook_written_by_nbformat_round_trips(scanner: NotebookScanner, tmp_path: Path) -> None:
    nb = nbformat.v4.new_notebook(cells=[v4.new_code_cell("import anthropic")])
    path = tmp_path / "rt.ipynb"
    nbformat.write(nb, str(path))
    res = scan(scanner, path, tmp_path, project=tmp_path)
    assert res.names(P) == {"anthropic"}
    assert res.service("anthropic").evidence[0].cell == 0
