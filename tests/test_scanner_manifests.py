"""The manifest scanner: AI packages in requirements, pyproject, Pipfile, conda, npm and locks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aiposture.discovery.base import Target, TargetError, TargetKind
from aiposture.discovery.scanners.manifests import ManifestScanner, is_requirements_file
from aiposture.models import Asset, AssetKind, EvidenceKind, Relation, RelationKind


def target_for(p: Path, root: Path) -> Target:
    return Target(
        kind=TargetKind.FILE,
        source=str(p),
        path=p,
        root=root,
        data=p.read_bytes(),
        project=root,
    )


def scan(p: Path, root: Path) -> tuple[list[Asset], list[Relation]]:
    out = list(ManifestScanner().scan(target_for(p, root)))
    assets = [o for o in out if isinstance(o, Asset)]
    relations = [o for o in out if isinstance(o, Relation)]
    return assets, relations


def packages(
    assets: list[Asset],
) -> dict[str, tuple[str | None, str | None, int | None, str | None]]:
    """name -> (version, specifier, line, evidence key) of every package asset."""
    out = {}
    for a in assets:
        if a.kind is AssetKind.PACKAGE:
            ev = a.evidence[0]
            assert ev.kind is EvidenceKind.MANIFEST
            out[a.name] = (a.version, a.attributes.get("specifier"), ev.line, ev.key)
    return out


def write(root: Path, name: str, text: str) -> Path:
    p = root / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text, encoding="utf-8")
    return p


REQUIREMENTS = """\
# Core runtime of the support bot
-r base.txt
-c constraints.txt
--index-url https://pypi.org/simple

openai==1.40.0  # pinned after the 1.39 regression
anthropic>=0.30,<1 ; python_version >= "3.9"
langchain[openai]~=0.2.10
requests==2.32.3
numpy
transformers==4.44.2 \\
    --hash=sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef \\
    --hash=sha256:fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210
torch @ https://download.pytorch.org/whl/cpu/torch-2.3.1%2Bcpu-cp311-cp311-linux_x86_64.whl
-e git+https://github.com/acme/internal-lib.git#egg=internal-lib
this is not a requirement line !!
tiktoken===0.7.0
"""


def test_requirements_file_pins_ranges_extras_markers_hashes_and_urls(tmp_path: Path) -> None:
    p = write(tmp_path, "requirements.txt", REQUIREMENTS)
    assets, relations = scan(p, tmp_path)
    found = packages(assets)
    assert found == {
        "openai": ("1.40.0", None, 6, "requirements"),
        "anthropic": (None, "<1,>=0.30", 7, "requirements"),
        "langchain": (None, "~=0.2.10", 8, "requirements"),
        "transformers": ("4.44.2", None, 11, "requirements"),
        "torch": (None, "@ url", 14, "requirements"),
        "tiktoken": ("0.7.0", None, 17, "requirements"),
    }
    apps = [a for a in assets if a.kind is AssetKind.APPLICATION]
    assert len(apps) == 1 and apps[0].name == tmp_path.name
    pkg_ids = {a.id for a in assets if a.kind is AssetKind.PACKAGE}
    assert {r.source_id for r in relations} == pkg_ids
    assert all(r.kind is RelationKind.DECLARED_IN and r.target_id == apps[0].id for r in relations)
    openai = next(a for a in assets if a.name == "openai")
    assert openai.provider == "openai"
    assert openai.version == "1.40.0" and openai.attributes["ecosystem"] == "pypi"
    assert openai.evidence[0].snippet == "openai==1.40.0  # pinned after the 1.39 regression"


def test_requirements_snippets_hide_credentials_in_index_urls(tmp_path: Path) -> None:
    text = "openai @ git+https://deploy:s3cretT0ken@git.acme.io/mirror/openai-python.git\n"
    p = write(tmp_path, "requirements-ai.txt", text)
    assets, _ = scan(p, tmp_path)
    pkg = next(a for a in assets if a.kind is AssetKind.PACKAGE)
    assert "s3cretT0ken" not in (pkg.evidence[0].snippet or "")
    assert "****@git.acme.io" in (pkg.evidence[0].snippet or "")


PYPROJECT = """\
[build-system]
requires = ["hatchling"]

[project]
name = "claims-triage"
version = "0.3.0"
dependencies = [
    "fastapi>=0.110",
    "anthropic==0.34.1",
    "langchain-anthropic>=0.1.20",
]

[project.optional-dependencies]
local = ["torch>=2.2", "sentence-transformers==3.0.1"]
docs = ["mkdocs"]

[dependency-groups]
dev = ["pytest>=8", "openai", {include-group = "lint"}]
lint = ["ruff"]

[tool.poetry.dependencies]
python = "^3.11"
cohere = "^5.5"
mistralai = "1.0.2"
chromadb = { version = ">=0.5", extras = ["server"] }

[tool.poetry.group.ml.dependencies]
scikit-learn = "*"
llama-cpp-python = { git = "https://github.com/abetlen/llama-cpp-python.git" }

[tool.ruff]
line-length = 100
"""


def test_pyproject_pep621_groups_and_poetry_sections(tmp_path: Path) -> None:
    p = write(tmp_path, "pyproject.toml", PYPROJECT)
    assets, relations = scan(p, tmp_path)
    assert packages(assets) == {
        "anthropic": ("0.34.1", None, 9, "project.dependencies"),
        "langchain-anthropic": (None, ">=0.1.20", 10, "project.dependencies"),
        "torch": (None, ">=2.2", 14, "project.optional-dependencies.local"),
        "sentence-transformers": ("3.0.1", None, 14, "project.optional-dependencies.local"),
        "openai": (None, None, 18, "dependency-groups.dev"),
        "cohere": (None, "^5.5", 23, "tool.poetry.dependencies"),
        "mistralai": ("1.0.2", None, 24, "tool.poetry.dependencies"),
        "chromadb": (None, ">=0.5", 25, "tool.poetry.dependencies"),
        "scikit-learn": (None, None, 28, "tool.poetry.group.ml.dependencies"),
        "llama-cpp-python": (None, "git source", 29, "tool.poetry.group.ml.dependencies"),
    }
    assert len(relations) == 10


POETRY_LOCK = """\
# This file is automatically @generated by Poetry 1.8.3 and should not be changed by hand.

[[package]]
name = "annotated-types"
version = "0.7.0"
description = "Reusable constraint types to use with typing.Annotated"
optional = false
python-versions = ">=3.8"
files = []

[[package]]
name = "huggingface-hub"
version = "0.24.5"
description = "Client library to download and publish models on the huggingface.co hub"
optional = false
python-versions = ">=3.8.0"
files = []

[package.dependencies]
filelock = "*"

[[package]]
name = "langchain-core"
version = "0.2.33"
description = "Building applications with LLMs through composability"
optional = false
python-versions = ">=3.8.1,<4.0"
files = []

[metadata]
lock-version = "2.0"
python-versions = "^3.11"
content-hash = "0123abcd"
"""

UV_LOCK = """\
version = 1
requires-python = ">=3.11"

[[package]]
name = "support-bot"
version = "0.1.0"
source = { editable = "." }
dependencies = [{ name = "openai" }]

[[package]]
name = "openai"
version = "1.40.6"
source = { registry = "https://pypi.org/simple" }
dependencies = [{ name = "httpx" }]

[[package]]
name = "httpx"
version = "0.27.0"
source = { registry = "https://pypi.org/simple" }

[[package]]
name = "litellm"
version = "1.43.9"
source = { registry = "https://pypi.org/simple" }
"""


def test_poetry_lock_and_uv_lock_give_exact_versions(tmp_path: Path) -> None:
    p = write(tmp_path, "poetry.lock", POETRY_LOCK)
    assets, _ = scan(p, tmp_path)
    assert packages(assets) == {
        "huggingface-hub": ("0.24.5", None, 12, "package"),
        "langchain-core": ("0.2.33", None, 23, "package"),
    }
    p = write(tmp_path / "svc", "uv.lock", UV_LOCK)
    assets, _ = scan(p, tmp_path / "svc")
    assert packages(assets) == {
        "openai": ("1.40.6", None, 11, "package"),
        "litellm": ("1.43.9", None, 22, "package"),
    }


PIPFILE = """\
[[source]]
url = "https://pypi.org/simple"
verify_ssl = true
name = "pypi"

[packages]
flask = "*"
groq = "==0.9.0"
llama-index = ">=0.10"
ollama = "*"

[dev-packages]
pytest = "*"
langchain-ollama = {version = "~=0.1", index = "pypi"}

[requires]
python_version = "3.11"
"""

PIPFILE_LOCK = {
    "_meta": {"hash": {"sha256": "ab" * 32}, "pipfile-spec": 6, "requires": {}, "sources": []},
    "default": {
        "flask": {"hashes": [], "version": "==3.0.3"},
        "groq": {"hashes": [], "markers": "python_version >= '3.7'", "version": "==0.9.0"},
        "llama-index": {"hashes": [], "version": "==0.10.65"},
    },
    "develop": {"langchain-ollama": {"hashes": [], "version": "==0.1.1"}},
}


def test_pipfile_and_pipfile_lock(tmp_path: Path) -> None:
    p = write(tmp_path, "Pipfile", PIPFILE)
    assets, _ = scan(p, tmp_path)
    assert packages(assets) == {
        "groq": ("0.9.0", None, 8, "packages"),
        "llama-index": (None, ">=0.10", 9, "packages"),
        "ollama": (None, None, 10, "packages"),
        "langchain-ollama": (None, "~=0.1", 14, "dev-packages"),
    }
    p = write(tmp_path, "Pipfile.lock", json.dumps(PIPFILE_LOCK, indent=4))
    assets, _ = scan(p, tmp_path)
    found = packages(assets)
    assert {k: v[0] for k, v in found.items()} == {
        "groq": "0.9.0",
        "llama-index": "0.10.65",
        "langchain-ollama": "0.1.1",
    }
    text = p.read_text().splitlines()
    for name, (_, _, line, _) in found.items():
        assert line is not None and f'"{name}"' in text[line - 1]
    assert found["langchain-ollama"][3] == "develop"


ENVIRONMENT_YML = """\
name: vision-lab
channels:
  - pytorch
  - conda-forge
dependencies:
  - python=3.11
  - pytorch::pytorch=2.3.1
  - conda-forge::transformers>=4.40
  - numpy
  - pip
  - pip:
      - openai==1.35.0
      - "langgraph>=0.1"
      - --extra-index-url https://example.org/simple
"""


def test_conda_environment_with_a_pip_sub_list(tmp_path: Path) -> None:
    p = write(tmp_path, "environment.yml", ENVIRONMENT_YML)
    assets, _ = scan(p, tmp_path)
    assert packages(assets) == {
        "torch": ("2.3.1", None, 7, "dependencies"),
        "transformers": (None, ">=4.40", 8, "dependencies"),
        "openai": ("1.35.0", None, 12, "dependencies.pip"),
        "langgraph": (None, ">=0.1", 13, "dependencies.pip"),
    }


PACKAGE_JSON = """\
{
  "name": "web-assistant",
  "version": "1.0.0",
  "private": true,
  "scripts": {"build": "next build"},
  "dependencies": {
    "next": "14.2.5",
    "@anthropic-ai/sdk": "^0.27.0",
    "@langchain/openai": "0.2.7",
    "ai": "~3.3.0"
  },
  "devDependencies": {
    "typescript": "^5.5.0",
    "openai": "*"
  },
  "peerDependencies": {"@pinecone-database/pinecone": ">=3"}
}
"""


def test_package_json_dependencies_of_every_kind(tmp_path: Path) -> None:
    p = write(tmp_path, "web/package.json", PACKAGE_JSON)
    assets, relations = scan(p, tmp_path / "web")
    assert packages(assets) == {
        "@anthropic-ai/sdk": (None, "^0.27.0", 8, "dependencies"),
        "@langchain/openai": ("0.2.7", None, 9, "dependencies"),
        "ai": (None, "~3.3.0", 10, "dependencies"),
        "openai": (None, None, 14, "devDependencies"),
        "@pinecone-database/pinecone": (None, ">=3", 16, "peerDependencies"),
    }
    sdk = next(a for a in assets if a.name == "@anthropic-ai/sdk")
    assert sdk.attributes["ecosystem"] == "npm" and sdk.provider == "anthropic"
    assert sdk.attributes["ecosystem"] == "npm" and sdk.version is None
    app = next(a for a in assets if a.kind is AssetKind.APPLICATION)
    assert app.name == "web"
    assert len(relations) == 5


def test_package_lock_versions_including_nested_modules(tmp_path: Path) -> None:
    lock = {
        "name": "web-assistant",
        "lockfileVersion": 3,
        "packages": {
            "": {"name": "web-assistant", "dependencies": {"openai": "^4.56.0"}},
            "node_modules/openai": {"version": "4.56.0", "resolved": "https://r/openai.tgz"},
            "node_modules/left-pad": {"version": "1.3.0"},
            "node_modules/x/node_modules/@anthropic-ai/sdk": {"version": "0.20.9"},
        },
    }
    p = write(tmp_path, "package-lock.json", json.dumps(lock, indent=2))
    assets, _ = scan(p, tmp_path)
    assert packages(assets) == {
        "openai": ("4.56.0", None, 11, "packages"),
        "@anthropic-ai/sdk": ("0.20.9", None, 18, "packages"),
    }


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("requirements.txt", "flask==3.0.3\nrequests>=2\n# openai is not used\n"),
        ("pyproject.toml", '[project]\nname = "x"\ndependencies = ["flask", "sqlalchemy>=2"]\n'),
        ("package.json", '{"dependencies": {"react": "^18.0.0"}}'),
        ("environment.yml", "name: x\ndependencies:\n  - numpy\n  - pip:\n    - flask\n"),
        ("poetry.lock", '[[package]]\nname = "flask"\nversion = "3.0.3"\n'),
        ("Pipfile", '[packages]\nflask = "*"\n'),
        ("requirements.txt", "requests==2.32.3\nboto3==1.35.0\n"),
        ("requirements.txt", ""),
        ("package.json", "   \n"),
    ],
)
def test_a_manifest_without_ai_packages_yields_nothing(
    tmp_path: Path, name: str, text: str
) -> None:
    p = write(tmp_path, name, text)
    assert list(ManifestScanner().scan(target_for(p, tmp_path))) == []


@pytest.mark.parametrize(
    ("name", "data", "reason", "line"),
    [
        (
            "pyproject.toml",
            b'[project]\ndependencies = ["openai"\n',
            "invalid TOML in pyproject.toml",
            2,
        ),
        ("uv.lock", b"[[package]\nname = 1\n", "invalid TOML in uv.lock", 1),
        (
            "package.json",
            b'{\n  "dependencies": {"openai": "^4"\n}\n',
            "invalid JSON in package.json",
            4,
        ),
        ("Pipfile.lock", b'{"default": []}', "'default' is not an object", None),
        (
            "environment.yml",
            b"dependencies:\n  - numpy\n - [oops\n",
            "invalid YAML in environment.yml",
            3,
        ),
        ("environment.yaml", b"- just\n- a list\n", "top level is not a mapping", None),
        ("pyproject.toml", b'[project]\ndependencies = "openai"\n', "is not a list", None),
        ("requirements.txt", b"openai==1.0\n\x00\x01\x02binary", "binary content", None),
        ("requirements.txt", b"openai==1.0\ntorch==2.0 \xff\xfe\n", "not valid UTF-8", 2),
    ],
)
def test_bad_manifests_raise_a_target_error_with_the_reason(
    tmp_path: Path, name: str, data: bytes, reason: str, line: int | None
) -> None:
    p = tmp_path / name
    p.write_bytes(data)
    with pytest.raises(TargetError) as info:
        list(ManifestScanner().scan(target_for(p, tmp_path)))
    assert reason in info.value.reason
    assert info.value.line == line


def test_accepts_manifest_names_only() -> None:
    scanner = ManifestScanner()
    for name in [
        "requirements.txt",
        "requirements-dev.txt",
        "dev-requirements.txt",
        "requirements.in",
        "constraints.txt",
        "requirements/base.txt",
        "pyproject.toml",
        "Pipfile",
        "Pipfile.lock",
        "poetry.lock",
        "uv.lock",
        "environment.yml",
        "environment.yaml",
        "package.json",
        "package-lock.json",
    ]:
        assert scanner.accepts(Path("/p") / name), name
    for name in ["README.md", "notes.txt", "MANIFEST.in", "setup.cfg", "tsconfig.json", "x.lock"]:
        assert not scanner.accepts(Path("/p") / name), name
    assert is_requirements_file(Path("req/requirements_gpu.txt"))
    assert not is_requirements_file(Path("docs/requirements.md"))


def test_a_conditional_package_counts_only_with_its_own_provider(tmp_path: Path) -> None:
    # boto3 is AI only by the clients code builds with it; openai-agents is always OpenAI's.
    p = write(tmp_path, "requirements.txt", "boto3==1.35.0\nopenai-agents==0.2.0\n")
    assets, _ = scan(p, tmp_path)
    assert packages(assets) == {"openai-agents": ("0.2.0", None, 2, "requirements")}
