"""Generate a synthetic source tree for the scan benchmark (deterministic, seeded)."""

from __future__ import annotations

import json
import random
from pathlib import Path

_PLAIN = '''\
"""Module {n}: helpers for the {topic} service."""
import json
import logging

log = logging.getLogger(__name__)

CONSTANT_{n} = {n}


def handle_{n}(payload: dict) -> dict:
    """Validate and normalise a {topic} payload."""
    out = {{}}
    for key, value in payload.items():
        if isinstance(value, str):
            out[key.lower()] = value.strip()
        else:
            out[key.lower()] = value
    log.debug("handled %s keys", len(out))
    return out


class Store{n}:
    def __init__(self) -> None:
        self.items: list[dict] = []

    def add(self, item: dict) -> None:
        self.items.append(handle_{n}(item))

    def dump(self) -> str:
        return json.dumps(self.items)
'''

_AI = """\
from openai import OpenAI

MODEL = "gpt-4o-mini"
client = OpenAI()


def ask_{n}(question: str, model: str = MODEL) -> str:
    reply = client.chat.completions.create(model=model, messages=[{{"role": "user", "content": question}}])
    return reply.choices[0].message.content or ""
"""

_HF = """\
from transformers import AutoModel

model_{n} = AutoModel.from_pretrained("org{k}/encoder-{k}")
"""

_TOPICS = ["billing", "search", "catalog", "auth", "ingest", "reports", "alerts", "users"]


def generate(root: Path, files: int = 20_000, *, seed: int = 7) -> dict[str, int]:
    """Write ``files`` files under ``root``; returns counts by type."""
    rng = random.Random(seed)
    counts = {"py": 0, "py_ai": 0, "ipynb": 0, "md": 0, "requirements": 0}
    projects = max(1, files // 400)
    for i in range(files):
        project = root / f"project-{i % projects:03d}"
        folder = project / f"pkg{(i // projects) % 12}" / f"sub{(i // (projects * 12)) % 5}"
        folder.mkdir(parents=True, exist_ok=True)
        roll = rng.random()
        topic = rng.choice(_TOPICS)
        if i < projects:
            (project / "requirements.txt").write_text(
                "requests==2.32.3\nopenai==1.51.0\npydantic>=2\n", encoding="utf-8"
            )
            counts["requirements"] += 1
        elif roll < 0.04:
            (folder / f"ai_{i}.py").write_text(_AI.format(n=i), encoding="utf-8")
            counts["py_ai"] += 1
        elif roll < 0.05:
            (folder / f"hf_{i}.py").write_text(_HF.format(n=i, k=i % 50), encoding="utf-8")
            counts["py_ai"] += 1
        elif roll < 0.07:
            nb = {
                "nbformat": 4,
                "nbformat_minor": 5,
                "metadata": {},
                "cells": [
                    {
                        "cell_type": "code",
                        "id": f"c{i}",
                        "metadata": {},
                        "execution_count": None,
                        "outputs": [],
                        "source": _PLAIN.format(n=i, topic=topic),
                    },
                ],
            }
            (folder / f"nb_{i}.ipynb").write_text(json.dumps(nb), encoding="utf-8")
            counts["ipynb"] += 1
        elif roll < 0.12:
            (folder / f"notes_{i}.md").write_text(
                f"# Notes {i}\n\nThe {topic} service keeps its state in PostgreSQL.\n" * 5,
                encoding="utf-8",
            )
            counts["md"] += 1
        else:
            (folder / f"mod_{i}.py").write_text(_PLAIN.format(n=i, topic=topic), encoding="utf-8")
            counts["py"] += 1
    return counts
