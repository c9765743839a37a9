"""The installed-environment scanner: AI packages installed in a Python environment.

The engine calls it once per run (when asked) with a pseudo-target
``env:<prefix>``. By default it reads the running interpreter's installed
distributions (``importlib.metadata.distributions()``); a target whose
``extra["path"]`` holds site-packages folders (or environment prefixes such
as a virtualenv's root, whose ``lib/python*/site-packages`` are used)
separated by ``os.pathsep`` selects another environment
(``distributions(path=[...])``), and ``extra["prefix"]`` names it.

For every installed distribution the catalogue knows as an AI package, it
yields a package asset with the exact installed version (``environment``
evidence pointing at the ``.dist-info`` folder) and the relation
``package --declared_in--> environment``, where the environment is an
application-kind asset of its own (tag ``python-environment``). It reads
metadata files only: nothing installed is ever imported.
"""

from __future__ import annotations

import os
import platform
import re
import sys
from collections.abc import Iterable, Iterator
from importlib import metadata
from pathlib import Path
from typing import ClassVar

from aiposture.discovery import observe
from aiposture.discovery.base import Observation, Scanner, Target, TargetError, TargetKind
from aiposture.discovery.catalog import load_catalog
from aiposture.models import Asset, AssetKind, Evidence, EvidenceKind, RelationKind, normalise_key

__all__ = ["PythonEnvironmentScanner", "environment_asset"]


def environment_asset(prefix: str, python: str | None) -> Asset:
    """The asset standing for one Python environment (an installation prefix)."""
    return Asset.new(
        AssetKind.APPLICATION,
        f"python environment {prefix}",
        key=normalise_key("pyenv", prefix),
        locations=[prefix],
        attributes={"path": prefix, "python": python},
        tags=["python-environment"],
        evidence=[
            Evidence(
                kind=EvidenceKind.ENVIRONMENT,
                path=prefix,
                detail="python environment",
                scanner=PythonEnvironmentScanner.name,
            )
        ],
    )


class PythonEnvironmentScanner(Scanner):
    """AI packages installed in a Python environment, read from their metadata."""

    name: ClassVar[str] = "python_environment"
    description: ClassVar[str] = (
        "AI packages installed in a Python environment, with their exact versions."
    )
    target_kind: ClassVar[TargetKind] = TargetKind.ENVIRONMENT
    version: ClassVar[str] = "1"

    def scan(self, target: Target) -> Iterable[Observation]:
        """Yield the environment's AI packages and their ``declared_in`` relations.

        Raises:
            TargetError: A folder given in ``extra["path"]`` does not exist.
        """
        raw_paths = target.extra.get("path", "")
        paths: list[str] = []
        for p in (p for p in raw_paths.split(os.pathsep) if p):
            if not Path(p).is_dir():
                raise TargetError(f"site-packages folder {p} does not exist")
            paths.extend(_site_dirs(Path(p)))
        if paths:
            dists = list(metadata.distributions(path=paths))
            prefix = target.extra.get("prefix") or _prefix_of(paths[0])
            python = _python_of(paths)
        else:
            dists = list(metadata.distributions())
            prefix = target.extra.get("prefix") or sys.prefix
            python = platform.python_version()
        return list(self._observations(dists, prefix, python))

    def _observations(
        self, dists: list[metadata.Distribution], prefix: str, python: str | None
    ) -> Iterator[Observation]:
        catalog = load_catalog()
        env: Asset | None = None
        seen: set[tuple[str, str]] = set()
        for dist in dists:
            name = _dist_name(dist)
            version = dist.version if isinstance(dist.version, str) else None
            if not name or not version:
                continue
            info = catalog.package("pypi", name)
            ident = (re.sub(r"[-_.]+", "-", name).lower(), version)
            if info is None or ident in seen or (info.conditional and info.provider is None):
                continue  # boto3 and the like are AI only by what code does with them
            seen.add(ident)
            if env is None:
                env = environment_asset(prefix, python)
                yield env
            ev = Evidence(
                kind=EvidenceKind.ENVIRONMENT,
                path=_dist_path(dist),
                detail=f"installed in {prefix}",
                scanner=self.name,
            )
            pkg = observe.package("pypi", name, version, info=info, evidence=ev)
            yield pkg
            yield observe.relate(pkg, RelationKind.DECLARED_IN, env, ev)


def _site_dirs(folder: Path) -> list[str]:
    """The site-packages folders of ``folder``: itself, or those of the prefix it names."""
    if any(c.suffix in (".dist-info", ".egg-info") for c in folder.iterdir()):
        return [str(folder)]
    found = [
        str(d)
        for pattern in (
            "lib/python*/site-packages",
            "lib64/python*/site-packages",
            "Lib/site-packages",
        )
        for d in sorted(folder.glob(pattern))
        if d.is_dir()
    ]
    return found or [str(folder)]


def _dist_name(dist: metadata.Distribution) -> str | None:
    try:
        name = dist.metadata["Name"]
    except (KeyError, OSError, ValueError):
        return None
    return name.strip() if isinstance(name, str) and name.strip() else None


def _dist_path(dist: metadata.Distribution) -> str:
    """The ``.dist-info`` (or ``.egg-info``) folder of a distribution."""
    own = getattr(dist, "_path", None)  # PathDistribution keeps it; no public accessor exists
    if isinstance(own, Path):
        return str(own)
    return str(dist.locate_file(""))


def _prefix_of(site_packages: str) -> str:
    """``/opt/venv`` for ``/opt/venv/lib/python3.11/site-packages``; else the folder itself."""
    p = Path(site_packages)
    for parent in [p, *p.parents]:
        if parent.name.startswith("python") and parent.parent.name in ("lib", "lib64"):
            return str(parent.parent.parent)
        if parent.name.lower() == "lib" and p.name == "site-packages":  # Windows: <prefix>\Lib
            return str(parent.parent)
    return str(p)


def _python_of(paths: list[str]) -> str | None:
    for p in paths:
        m = re.search(r"python(\d+\.\d+)", p)
        if m:
            return m.group(1)
    return None
