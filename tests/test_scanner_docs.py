"""The documentation scanner: model ids named in READMEs, conservatively."""

from __future__ import annotations

import random
import string
from pathlib import Path

import pytest

from aiposture.discovery.base import Target, TargetError, TargetKind
from aiposture.discovery.scanners.docs import DocumentationScanner
from aiposture.models import Asset, AssetKind, EvidenceKind


def target_for(p: Path, root: Path) -> Target:
    return Target(
        kind=TargetKind.FILE,
        source=str(p),
        path=p,
        root=root,
        data=p.read_bytes(),
        project=root,
    )


def scan_text(tmp_path: Path, name: str, text: str) -> list[Asset]:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    out = list(DocumentationScanner().scan(target_for(p, tmp_path)))
    assert all(isinstance(o, Asset) for o in out), "docs yield assets only, no relations"
    return [o for o in out if isinstance(o, Asset)]


def found(assets: list[Asset]) -> set[tuple[str, str | None, int | None]]:
    return {(a.name, a.provider, a.evidence[0].line) for a in assets}


README = """\
# Support bot

This project uses GPT and the transformers library. Claude is great at this.
The bot uses `gpt-4o-mini` for answers and falls back to claude-3-5-sonnet-20241022 when needed.
We deploy gemini-1.5-pro on Vertex AI. Embeddings come from text-embedding-3-small.
Our default model is mistral-large-latest; command-r-plus reranks the results.
Run the command-line tool after installing llama.cpp and llama-cpp-python.
See https://huggingface.co/meta-llama/Llama-3.1-8B-Instruct for the licence.
In 2023 we compared gpt-4 and gpt-3.5-turbo side by side.

```python
client.chat.completions.create(model="o1", messages=[])
emb = SentenceTransformer("sentence-transformers/all-MiniLM-L6-v2")
```

Fork facebook/react or google/jax to contribute; `facebook/react` is not a model either.
Pictures live in docs/gpt-4o.md and gpt-4o.png.
Locally: ollama run llama3.1:8b to use it.
"""


def test_model_ids_in_code_or_next_to_model_words_are_found(tmp_path: Path) -> None:
    assets = scan_text(tmp_path, "README.md", README)
    assert found(assets) == {
        ("gpt-4o-mini", "openai", 4),
        ("claude-3-5-sonnet-20241022", "anthropic", 4),
        ("gemini-1.5-pro", "google", 5),
        ("text-embedding-3-small", "openai", 5),
        ("mistral-large-latest", "mistral", 6),
        ("command-r-plus", "cohere", 6),
        ("meta-llama/Llama-3.1-8B-Instruct", "meta", 8),
        ("o1", "openai", 12),
        ("sentence-transformers/all-MiniLM-L6-v2", "huggingface", 13),
        ("llama3.1:8b", "meta", 18),
    }
    for a in assets:
        assert a.kind is AssetKind.MODEL
        ev = a.evidence[0]
        assert ev.kind is EvidenceKind.DOCUMENTATION
        assert ev.path == str(tmp_path / "README.md")
        assert ev.scanner == "docs"
        assert ev.snippet and a.name.split(":")[0].lower() in ev.snippet.lower()


@pytest.mark.parametrize(
    "line",
    [
        "This project uses GPT, Claude and Gemini through the transformers library.",
        "A command-line model runner built on llama.cpp and llama-cpp-python.",
        "We use mistral and llama models.",
        "The model card lives in gpt-4o.md next to the gpt-4o.png diagram.",
        "Our model of deployment uses github.com/openai/gpt-2 as an example repository.",
        "We compared gpt-4 and gpt-3.5-turbo in 2023.",
        "The o1 engine",
        "Use facebook/react or microsoft/vscode as the model for the UI.",
        "Models: see the `models/` folder and `gpt4all` docs.",
    ],
)
def test_prose_that_merely_resembles_a_model_is_not_a_model(tmp_path: Path, line: str) -> None:
    assert scan_text(tmp_path, "NOTES.md", line + "\n") == []


def test_restructuredtext_code_and_literal_blocks(tmp_path: Path) -> None:
    text = """\
Claims triage
=============

The service calls ``claude-3-haiku-20240307`` first.

.. code-block:: python

    llm = ChatAnthropic(model="claude-3-opus-20240229")

Example::

    chat = ChatVertexAI("gemini-1.5-flash-002")

Afterwards gemini-1.5-pro appears in prose without a context word.
"""
    assets = scan_text(tmp_path, "index.rst", text)
    assert found(assets) == {
        ("claude-3-haiku-20240307", "anthropic", 4),
        ("claude-3-opus-20240229", "anthropic", 8),
        ("gemini-1.5-flash-002", "google", 12),
    }


def test_plain_text_needs_a_context_word(tmp_path: Path) -> None:
    text = "model: gpt-4o\nfallback gpt-4o-mini\nembedding model = voyage-3\n"
    assert found(scan_text(tmp_path, "notes.txt", text)) == {
        ("gpt-4o", "openai", 1),
        ("voyage-3", "voyage", 3),
    }


def test_a_secret_on_the_same_line_is_masked_in_the_snippet(tmp_path: Path) -> None:
    rng = random.Random(5)
    key = "sk-proj-" + "".join(rng.choice(string.ascii_letters) for _ in range(40))
    key += "T3BlbkFJ" + "".join(rng.choice(string.ascii_letters) for _ in range(40))
    assets = scan_text(tmp_path, "README.md", f"Use model `gpt-4o` with key {key}\n")
    assert [a.name for a in assets] == ["gpt-4o"]
    snippet = assets[0].evidence[0].snippet or ""
    assert key not in snippet and key[8:40] not in snippet
    assert "sk-p****" in snippet


def test_one_asset_per_mention_with_the_same_identity(tmp_path: Path) -> None:
    text = "The model `gpt-4o` answers.\n\nAgain: model `GPT-4o`.\n"
    assets = scan_text(tmp_path, "README.md", text)
    assert [(a.name, a.evidence[0].line) for a in assets] == [("gpt-4o", 1), ("gpt-4o", 3)]
    assert len({a.id for a in assets}) == 1


def test_accepts_documentation_but_not_requirements_files() -> None:
    scanner = DocumentationScanner()
    for name in ["README.md", "docs/index.rst", "CHANGES.markdown", "notes.txt", "LICENSE.TXT"]:
        assert scanner.accepts(Path("/p") / name), name
    for name in ["requirements.txt", "requirements-dev.txt", "constraints.txt", "a.py", "x.json"]:
        assert not scanner.accepts(Path("/p") / name), name
    assert DocumentationScanner.max_bytes == 1024 * 1024


def test_empty_docs_yield_nothing_and_binary_ones_raise(tmp_path: Path) -> None:
    assert scan_text(tmp_path, "EMPTY.md", "") == []
    p = tmp_path / "blob.txt"
    p.write_bytes(b"model gpt-4o \x00\x01\x02")
    with pytest.raises(TargetError, match="binary"):
        list(DocumentationScanner().scan(target_for(p, tmp_path)))
    p.write_bytes(b"model gpt-4o\n\xff\xfe broken\n")
    with pytest.raises(TargetError) as info:
        list(DocumentationScanner().scan(target_for(p, tmp_path)))
    assert info.value.line == 2
