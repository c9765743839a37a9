"""The environment scanner: AI packages installed in a Python environment, from metadata only."""

from __future__ import annotations

import os
import sys
from importlib import metadata
from pathlib import Path

import pytest

from aiposture.discovery.base import Target, TargetError, TargetKind
from aiposture.discovery.scanners.environment import PythonEnvironmentScanner
from aiposture.models import Asset, AssetKind, EvidenceKind, Relation, RelationKind, normalise_key


def fake_dist(site: Path, name: str, version: str, *, egg: bool = False) -> Path:
    folder = site / (f"{name}-{version}.egg-info" if egg else f"{name}-{version}.dist-info")
    folder.mkdir(parents=True)
    meta = "PKG-INFO" if egg else "METADATA"
    (folder / meta).write_text(
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: test\n",
        encoding="utf-8",
    )
    return folder


@pytest.fixture
def site(tmp_path: Path) -> Path:
    site = tmp_path / "venv" / "lib" / "python3.12" / "site-packages"
    fake_dist(site, "openai", "1.40.0")
    fake_dist(site, "requests", "2.32.3")
    fake_dist(site, "langchain_openai", "0.1.22")
    fake_dist(site, "sentence-transformers", "3.0.1", egg=True)
    # A package module that would blow up if anything imported it.
    (site / "openai").mkdir()
    (site / "openai" / "__init__.py").write_text("raise SystemExit('imported!')\n")
    return site


def scan(target: Target) -> tuple[list[Asset], list[Relation]]:
    out = list(PythonEnvironmentScanner().scan(target))
    return [o for o in out if isinstance(o, Asset)], [o for o in out if isinstance(o, Relation)]


def env_target(*paths: Path, prefix: str | None = None) -> Target:
    extra = {"path": os.pathsep.join(str(p) for p in paths)}
    if prefix:
        extra["prefix"] = prefix
    return Target(kind=TargetKind.ENVIRONMENT, source=f"env:{prefix}", extra=extra)


def test_ai_distributions_of_a_site_packages_folder_with_exact_versions(site: Path) -> None:
    assets, relations = scan(env_target(site))
    pkgs = {a.name: a for a in assets if a.kind is AssetKind.PACKAGE}
    assert {n: a.version for n, a in pkgs.items()} == {
        "openai": "1.40.0",
        "langchain-openai": "0.1.22",
        "sentence-transformers": "3.0.1",
    }
    openai = pkgs["openai"]
    assert openai.provider == "openai"
    assert openai.version == "1.40.0" and openai.attributes["ecosystem"] == "pypi"
    ev = openai.evidence[0]
    assert ev.kind is EvidenceKind.ENVIRONMENT
    assert ev.path == str(site / "openai-1.40.0.dist-info")
    prefix = str(site.parents[2])
    assert ev.detail == f"installed in {prefix}"
    (env,) = [a for a in assets if a.kind is AssetKind.APPLICATION]
    assert env.name == f"python environment {prefix}"
    assert env.key == normalise_key("pyenv", prefix)
    assert env.attributes == {"path": prefix, "python": "3.12"}
    assert env.tags == ["python-environment"]
    assert {(r.source_id, r.kind, r.target_id) for r in relations} == {
        (p.id, RelationKind.DECLARED_IN, env.id) for p in pkgs.values()
    }
    assert "openai" not in sys.modules or sys.modules["openai"].__file__ != str(
        site / "openai" / "__init__.py"
    )


def test_the_prefix_can_be_named_and_several_folders_combined(site: Path, tmp_path: Path) -> None:
    other = tmp_path / "extra-site"
    fake_dist(other, "anthropic", "0.34.1")
    fake_dist(other, "openai", "1.40.0")  # the same distribution twice is one package
    assets, relations = scan(env_target(site, other, prefix="/opt/bots"))
    names = sorted(a.name for a in assets if a.kind is AssetKind.PACKAGE)
    assert names == ["anthropic", "langchain-openai", "openai", "sentence-transformers"]
    env = next(a for a in assets if a.kind is AssetKind.APPLICATION)
    assert env.name == "python environment /opt/bots"
    assert len(relations) == 4


def test_a_virtualenv_prefix_stands_for_its_site_packages(site: Path) -> None:
    prefix = site.parents[2]
    target = Target(
        kind=TargetKind.ENVIRONMENT,
        source=f"env:{prefix}",
        extra={"prefix": str(prefix), "path": str(prefix)},
    )
    assets, _ = scan(target)
    assert sorted(a.name for a in assets if a.kind is AssetKind.PACKAGE) == [
        "langchain-openai",
        "openai",
        "sentence-transformers",
    ]
    env = next(a for a in assets if a.kind is AssetKind.APPLICATION)
    assert env.attributes == {"path": str(prefix), "python": "3.12"}


def test_an_environment_without_ai_packages_yields_nothing(tmp_path: Path) -> None:
    site = tmp_path / "site-packages"
    fake_dist(site, "requests", "2.32.3")
    fake_dist(site, "detect-secrets", "1.5.0")
    fake_dist(site, "boto3", "1.35.0")  # AI only by what code does with it
    assert list(PythonEnvironmentScanner().scan(env_target(site))) == []


def test_a_missing_site_packages_folder_is_a_target_error(tmp_path: Path) -> None:
    with pytest.raises(TargetError, match="does not exist"):
        list(PythonEnvironmentScanner().scan(env_target(tmp_path / "nope")))


def test_a_broken_metadata_folder_is_skipped(tmp_path: Path) -> None:
    site = tmp_path / "site-packages"
    (site / "ghost-1.0.dist-info").mkdir(parents=True)  # no METADATA at all
    fake_dist(site, "groq", "0.9.0")
    assets, _ = scan(env_target(site))
    assert [a.name for a in assets if a.kind is AssetKind.PACKAGE] == ["groq"]


def test_the_running_interpreter_is_the_default_environment() -> None:
    target = Target(
        kind=TargetKind.ENVIRONMENT, source="env:" + sys.prefix, extra={"prefix": sys.prefix}
    )
    assets, relations = scan(target)
    pkgs = {a.name: a for a in assets if a.kind is AssetKind.PACKAGE}
    assert pkgs["torch"].version == metadata.version("torch")
    assert pkgs["torch"].version.startswith("2.13.0")
    assert "detect-secrets" not in pkgs and "pydantic" not in pkgs
    env = next(a for a in assets if a.kind is AssetKind.APPLICATION)
    assert env.attributes["path"] == sys.prefix
    assert env.attributes["python"] == ".".join(map(str, sys.version_info[:3]))
    assert pkgs["torch"].evidence[0].path.endswith(".dist-info")
    assert len(relations) == len(pkgs)


def test_scanner_metadata() -> None:
    assert PythonEnvironmentScanner.name == "python_environment"
    assert PythonEnvironmentScanner.target_kind is TargetKind.ENVIRONMENT
