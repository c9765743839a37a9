"""The dependency-manifest scanner: AI packages a project declares.

Reads the files where Python and JavaScript projects declare their
dependencies, and reports each AI package from the catalogue:

* ``requirements*.txt``, ``*requirements*.in``, ``constraints*.txt`` and any
  ``.txt``/``.in`` file in a ``requirements/`` folder (pip syntax: comments,
  extras, markers, hashes and line continuations are understood; ``-r``/``-c``
  includes and other options are skipped, not followed);
* ``pyproject.toml``: PEP 621 ``[project]`` dependencies and
  optional-dependencies, PEP 735 ``[dependency-groups]``, Poetry
  ``[tool.poetry.dependencies]``, its groups and ``dev-dependencies``;
* ``Pipfile`` and ``Pipfile.lock``, ``poetry.lock``, ``uv.lock``;
* conda ``environment.yml``/``environment.yaml`` (conda dependencies and the
  ``pip:`` sub-list; conda's ``pytorch`` is PyPI's ``torch``);
* ``package.json`` (dependencies, devDependencies, peerDependencies,
  optionalDependencies) and ``package-lock.json``.

For every AI package it yields the package asset (exact version when pinned,
``==1.2.3`` or a lock file's version; otherwise no version and the
specifier), the application the manifest belongs to, and the relation
``package --declared_in--> application``. A dependency alone is weaker
evidence than a call, so no service or model is inferred from it. A manifest
without AI packages yields nothing.

Files are parsed, never executed (``tomllib``, ``json``, ``yaml.safe_load``,
``packaging.requirements``). A line that does not parse is skipped; a file
that does not parse at all raises :class:`TargetError` naming the format and
the line where the parser stopped.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

import yaml
from packaging.requirements import InvalidRequirement, Requirement

from aiposture.discovery import observe
from aiposture.discovery.base import Observation, Scanner, Target, TargetError
from aiposture.discovery.catalog import load_catalog
from aiposture.models import Asset, Evidence, EvidenceKind, RelationKind

__all__ = ["ManifestScanner", "is_requirements_file"]

Ecosystem = Literal["pypi", "npm"]

_REQ_NAME = re.compile(r"(?:.*requirements.*|constraints.*)\.(?:txt|in)", re.IGNORECASE)
_FIXED_NAMES: dict[str, str] = {
    "pyproject.toml": "pyproject",
    "pipfile": "pipfile",
    "pipfile.lock": "pipfile_lock",
    "poetry.lock": "poetry_lock",
    "uv.lock": "uv_lock",
    "environment.yml": "conda",
    "environment.yaml": "conda",
    "package.json": "package_json",
    "package-lock.json": "package_lock",
}
#: conda package names whose PyPI name differs.
_CONDA_TO_PYPI = {
    "pytorch": "torch",
    "pytorch-cpu": "torch",
    "pytorch-gpu": "torch",
    "py-xgboost": "xgboost",
    "tensorflow-gpu": "tensorflow",
}
_EXACT_VERSION = re.compile(r"\d+(?:\.\d+)*(?:[-.+]?[A-Za-z0-9]+)*")
_USERINFO = re.compile(r"(://)[^/@\s]+@")


def is_requirements_file(path: Path) -> bool:
    """Whether ``path`` is a pip requirements or constraints file (by name)."""
    name = path.name
    if _REQ_NAME.fullmatch(name):
        return True
    return path.parent.name.lower() == "requirements" and path.suffix.lower() in (".txt", ".in")


def _kind_of(path: Path) -> str | None:
    fixed = _FIXED_NAMES.get(path.name.lower())
    if fixed is not None:
        # Pipfile is case-sensitive by convention; accept the usual spellings only.
        if fixed.startswith("pipfile") and not path.name.startswith("Pipfile"):
            return None
        return fixed
    return "requirements" if is_requirements_file(path) else None


@dataclass(frozen=True)
class _Dep:
    ecosystem: Ecosystem
    name: str
    version: str | None
    specifier: str | None
    line: int | None
    key: str


class ManifestScanner(Scanner):
    """AI packages declared in requirements, pyproject, Pipfile, lock files and package.json."""

    name: ClassVar[str] = "manifests"
    description: ClassVar[str] = (
        "AI packages declared in Python and JavaScript dependency manifests and lock files."
    )
    version: ClassVar[str] = "1"

    def accepts(self, path: Path) -> bool:
        """Whether ``path`` is a dependency manifest this scanner reads."""
        return _kind_of(path) is not None

    def scan(self, target: Target) -> Iterable[Observation]:
        """Yield AI packages, the application and the ``declared_in`` relations."""
        if target.path is None:
            return []
        kind = _kind_of(target.path)
        if kind is None or not target.data.strip():
            return []
        fmt = _FORMAT_NAMES[kind]
        try:
            text = target.text
        except TargetError as exc:
            raise TargetError(f"{fmt} {target.path.name}: {exc.reason}", line=exc.line) from exc
        deps = list(_PARSERS[kind](text, target.path.name))
        return list(self._observations(target, text, deps))

    def _observations(self, target: Target, text: str, deps: list[_Dep]) -> Iterator[Observation]:
        catalog = load_catalog()
        lines = text.splitlines()
        app: Asset | None = None
        seen: set[tuple[str, str, str | None, str | None, int | None]] = set()
        for dep in deps:
            info = catalog.package(dep.ecosystem, dep.name)
            if info is None or (info.conditional and info.provider is None):
                continue  # boto3 and the like are AI only by what the code does with them
            ident = (dep.ecosystem, dep.name.lower(), dep.version, dep.specifier, dep.line)
            if ident in seen:
                continue
            seen.add(ident)
            snippet = None
            if dep.line is not None and 0 < dep.line <= len(lines):
                snippet = _USERINFO.sub(r"\1****@", lines[dep.line - 1].strip())[:240]
            ev = Evidence(
                kind=EvidenceKind.MANIFEST,
                path=target.display_path,
                line=dep.line,
                key=dep.key,
                snippet=snippet,
                detail=f"{dep.ecosystem} dependency {dep.name}"
                + (f" {dep.version}" if dep.version else f" {dep.specifier or '(any version)'}"),
                scanner=self.name,
            )
            if app is None:
                app = observe.application(
                    target,
                    Evidence(
                        kind=EvidenceKind.MANIFEST,
                        path=target.display_path,
                        detail="project declaring AI dependencies",
                        scanner=self.name,
                    ),
                )
                yield app
            pkg = observe.package(
                dep.ecosystem,
                dep.name,
                dep.version,
                info=info,
                specifier=dep.specifier,
                evidence=ev,
            )
            yield pkg
            yield observe.relate(pkg, RelationKind.DECLARED_IN, app, ev)


# --------------------------------------------------------------------------
# Versions


def _pep508(spec: str, line: int | None, key: str) -> _Dep | None:
    """A PEP 508 requirement string as a dependency; None when it does not parse."""
    try:
        req = Requirement(spec.strip())
    except InvalidRequirement:
        return None
    version, specifier = _split_specifier(str(req.specifier))
    if req.url and specifier is None:
        specifier = "@ url"
    return _Dep("pypi", req.name, version, specifier, line, key)


def _split_specifier(specifier: str) -> tuple[str | None, str | None]:
    """(exact version, None) for ``==1.2.3``/``===1.2.3``, else (None, specifier or None)."""
    spec = specifier.strip()
    m = re.fullmatch(r"===?\s*([^,\s*]+)", spec)
    if m and _EXACT_VERSION.fullmatch(m.group(1)):
        return m.group(1), None
    return None, spec or None


def _loose_version(value: str) -> tuple[str | None, str | None]:
    """Poetry/Pipfile/npm style: a bare version is exact, ``*`` is any."""
    v = value.strip()
    if v in ("", "*", "latest"):
        return None, None
    if _EXACT_VERSION.fullmatch(v):
        return v, None
    if v.startswith("="):
        return _split_specifier(v if v.startswith("==") else "=" + v)
    return None, v


# --------------------------------------------------------------------------
# Finding the line of a dependency in the file text


def _ai(ecosystem: Ecosystem, name: str) -> bool:
    """Whether the catalogue knows the package (only those are worth locating in the text)."""
    return load_catalog().package(ecosystem, name) is not None


def _name_pattern(name: str) -> str:
    parts = re.split(r"[-_.]+", name)
    return r"[-_.]+".join(re.escape(p) for p in parts if p)


def _line_of(text: str, name: str, *, after: int = 0, quoted: bool = False) -> int | None:
    """1-based line of the first mention of ``name`` at or after offset ``after``."""
    body = _name_pattern(name)
    if quoted:
        pat = rf"[\"'](?:node_modules/)?{body}[\"'\[<>=!~;@ ]"
    else:
        pat = rf"(?<![\w.-]){body}(?![\w.-])"
    m = re.compile(pat, re.IGNORECASE).search(text, after)
    if m is None and after:
        m = re.compile(pat, re.IGNORECASE).search(text)
    return text.count("\n", 0, m.start()) + 1 if m else None


def _section_offset(text: str, header: str) -> int:
    m = re.search(rf"^\s*\[{re.escape(header)}\]\s*$", text, re.MULTILINE)
    return m.end() if m else 0


def _json_key_offset(text: str, key: str) -> int:
    m = re.search(rf"\"{re.escape(key)}\"\s*:", text)
    return m.end() if m else 0


# --------------------------------------------------------------------------
# Parsers: (text, filename) -> dependencies. They validate the whole file but
# only return (and only search the text for the line of) catalogue packages.


def _requirements(text: str, filename: str) -> Iterator[_Dep]:
    logical: list[tuple[int, str]] = []
    buf, start = "", 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip()
        if not buf:
            start = number
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        logical.append((start, buf + line))
        buf = ""
    if buf:
        logical.append((start, buf))
    for number, line in logical:
        body = re.split(r"(?:^|\s)#", line, maxsplit=1)[0].strip()
        if not body or body.startswith("-"):
            continue  # options, includes (-r, -c), editables, hashes: not followed
        body = re.split(r"\s+--?[a-z]", body, maxsplit=1)[0]
        dep = _pep508(body, number, "requirements")
        if dep is not None:
            yield dep


def _load_toml(text: str, filename: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"line (\d+)", str(exc))
        if m is not None:
            line: int | None = int(m.group(1))
        elif "end of document" in str(exc):
            line = max(1, len(text.splitlines()))
        else:
            line = None
        raise TargetError(f"invalid TOML in {filename}: {exc}", line=line) from exc


def _load_json(text: str, filename: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise TargetError(
            f"invalid JSON in {filename}: {exc.msg} (line {exc.lineno}, column {exc.colno})",
            line=exc.lineno,
        ) from exc


def _table(data: Any, path: str, filename: str) -> dict[str, Any]:
    """The table at dotted ``path`` (empty when absent); TargetError when it is not a table."""
    node: Any = data
    for part in path.split("."):
        if not isinstance(node, dict):
            return {}
        node = node.get(part, {})
    if not isinstance(node, dict):
        raise TargetError(f"{filename}: [{path}] is not a table")
    return node


def _string_list(value: Any, where: str, filename: str) -> list[str]:
    if not isinstance(value, list):
        raise TargetError(f"{filename}: {where} is not a list")
    return [v for v in value if isinstance(v, str)]


def _pyproject(text: str, filename: str) -> Iterator[_Dep]:
    data = _load_toml(text, filename)
    project = _table(data, "project", filename)
    at = _section_offset(text, "project")
    if "dependencies" in project:
        for spec in _string_list(project["dependencies"], "[project].dependencies", filename):
            yield from _with_line(_pep508(spec, None, "project.dependencies"), text, at)
    optional = project.get("optional-dependencies", {})
    if not isinstance(optional, dict):
        raise TargetError(f"{filename}: [project].optional-dependencies is not a table")
    at_opt = _section_offset(text, "project.optional-dependencies") or at
    for extra, specs in optional.items():
        where = f"project.optional-dependencies.{extra}"
        for spec in _string_list(specs, where, filename):
            yield from _with_line(_pep508(spec, None, where), text, at_opt)
    groups = _table(data, "dependency-groups", filename)
    at_groups = _section_offset(text, "dependency-groups")
    for group, specs in groups.items():
        where = f"dependency-groups.{group}"
        for spec in _string_list(specs, where, filename):
            yield from _with_line(_pep508(spec, None, where), text, at_groups)
    poetry = _table(data, "tool.poetry", filename)
    tables: list[tuple[str, Any]] = [
        ("tool.poetry.dependencies", poetry.get("dependencies", {})),
        ("tool.poetry.dev-dependencies", poetry.get("dev-dependencies", {})),
    ]
    poetry_groups = poetry.get("group", {})
    if isinstance(poetry_groups, dict):
        for group, body in poetry_groups.items():
            if isinstance(body, dict):
                tables.append((f"tool.poetry.group.{group}.dependencies", body.get("dependencies")))
    for where, table in tables:
        if table is None or table == {}:
            continue
        if not isinstance(table, dict):
            raise TargetError(f"{filename}: [{where}] is not a table")
        after = _section_offset(text, where)
        for name, spec in table.items():
            if name.lower() == "python":
                continue
            version, specifier = _poetry_spec(spec)
            if _ai("pypi", name):
                line = _line_of(text, name, after=after)
                yield _Dep("pypi", name, version, specifier, line, where)


def _with_line(dep: _Dep | None, text: str, after: int) -> Iterator[_Dep]:
    if dep is None or not _ai(dep.ecosystem, dep.name):
        return
    line = _line_of(text, dep.name, after=after, quoted=True)
    yield _Dep(dep.ecosystem, dep.name, dep.version, dep.specifier, line, dep.key)


def _poetry_spec(spec: Any) -> tuple[str | None, str | None]:
    if isinstance(spec, str):
        return _loose_version(spec)
    if isinstance(spec, dict):
        version = spec.get("version")
        if isinstance(version, str):
            return _loose_version(version)
        for source in ("git", "path", "url"):
            if isinstance(spec.get(source), str):
                return None, f"{source} source"
        return None, None
    if isinstance(spec, list):  # several constraints by marker: keep them as one specifier
        parts = [str(s.get("version")) for s in spec if isinstance(s, dict) and s.get("version")]
        return None, " | ".join(parts) or None
    return None, None


def _pipfile(text: str, filename: str) -> Iterator[_Dep]:
    data = _load_toml(text, filename)
    for section in ("packages", "dev-packages"):
        table = _table(data, section, filename)
        after = _section_offset(text, section)
        for name, spec in table.items():
            version, specifier = _poetry_spec(spec)
            if _ai("pypi", name):
                line = _line_of(text, name, after=after)
                yield _Dep("pypi", name, version, specifier, line, section)


def _pipfile_lock(text: str, filename: str) -> Iterator[_Dep]:
    data = _load_json(text, filename)
    if not isinstance(data, dict):
        raise TargetError(f"{filename}: top level is not a JSON object")
    for section in ("default", "develop"):
        table = data.get(section, {})
        if not isinstance(table, dict):
            raise TargetError(f"{filename}: {section!r} is not an object")
        after = _json_key_offset(text, section)
        for name, spec in table.items():
            raw = spec.get("version") if isinstance(spec, dict) else None
            version, specifier = _split_specifier(raw) if isinstance(raw, str) else (None, None)
            if not _ai("pypi", name):
                continue
            line = _line_of(text, name, after=after, quoted=True)
            yield _Dep("pypi", name, version, specifier, line, section)


def _toml_lock(text: str, filename: str) -> Iterator[_Dep]:
    """``poetry.lock`` and ``uv.lock``: ``[[package]]`` tables with a name and a version."""
    data = _load_toml(text, filename)
    packages = data.get("package", [])
    if not isinstance(packages, list):
        raise TargetError(f"{filename}: 'package' is not an array of tables")
    for pkg in packages:
        if not isinstance(pkg, dict) or not isinstance(pkg.get("name"), str):
            continue
        source = pkg.get("source")
        if isinstance(source, dict) and ({"virtual", "editable"} & set(source)):
            continue  # the project itself
        version = pkg.get("version")
        name = pkg["name"]
        if not _ai("pypi", name):
            continue
        m = re.search(rf"^name\s*=\s*\"{_name_pattern(name)}\"\s*$", text, re.M | re.I)
        line = text.count("\n", 0, m.start()) + 1 if m else None
        yield _Dep(
            "pypi", name, version if isinstance(version, str) else None, None, line, "package"
        )


def _conda(text: str, filename: str) -> Iterator[_Dep]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        where = f" (line {line})" if line else ""
        raise TargetError(f"invalid YAML in {filename}: {problem}{where}", line=line) from exc
    if data is None:
        return
    if not isinstance(data, dict):
        raise TargetError(f"{filename}: top level is not a mapping")
    deps = data.get("dependencies") or []
    if not isinstance(deps, list):
        raise TargetError(f"{filename}: 'dependencies' is not a list")
    for item in deps:
        if isinstance(item, str):
            dep = _conda_spec(item)
            if dep is not None and _ai("pypi", dep[0]):
                yield _Dep(
                    "pypi",
                    dep[0],
                    dep[1],
                    dep[2],
                    _yaml_item_line(text, item),
                    "dependencies",
                )
        elif isinstance(item, dict) and isinstance(item.get("pip"), list):
            for spec in item["pip"]:
                if isinstance(spec, str) and not spec.strip().startswith("-"):
                    dep508 = _pep508(spec, None, "dependencies.pip")
                    if dep508 is not None and _ai("pypi", dep508.name):
                        line = _yaml_item_line(text, spec)
                        yield _Dep(
                            "pypi", dep508.name, dep508.version, dep508.specifier, line, dep508.key
                        )


def _conda_spec(item: str) -> tuple[str, str | None, str | None] | None:
    """``conda-forge::pytorch=2.1.0=py3.11_0`` -> ("torch", "2.1.0", None)."""
    spec = item.split("::", 1)[-1].strip()
    m = re.fullmatch(r"([A-Za-z0-9][\w.-]*)\s*(.*)", spec)
    if m is None:
        return None
    name, rest = m.group(1), m.group(2).strip()
    name = _CONDA_TO_PYPI.get(name.lower(), name)
    if not rest:
        return name, None, None
    if rest.startswith("=") and not rest.startswith("=="):
        version = rest[1:].split("=", 1)[0].strip()
        if _EXACT_VERSION.fullmatch(version):
            return name, version, None
        return name, None, rest
    version, specifier = _split_specifier(rest)
    return name, version, specifier


def _yaml_item_line(text: str, item: str) -> int | None:
    m = re.search(rf"^\s*-\s*[\"']?{re.escape(item.strip())}[\"']?\s*(?:#.*)?$", text, re.M)
    return text.count("\n", 0, m.start()) + 1 if m else None


_NPM_SECTIONS = ("dependencies", "devDependencies", "peerDependencies", "optionalDependencies")


def _package_json(text: str, filename: str) -> Iterator[_Dep]:
    data = _load_json(text, filename)
    if not isinstance(data, dict):
        raise TargetError(f"{filename}: top level is not a JSON object")
    for section in _NPM_SECTIONS:
        table = data.get(section, {})
        if not isinstance(table, dict):
            raise TargetError(f"{filename}: {section!r} is not an object")
        after = _json_key_offset(text, section)
        for name, spec in table.items():
            version, specifier = _loose_version(spec) if isinstance(spec, str) else (None, None)
            if not _ai("npm", name):
                continue
            line = _line_of(text, name, after=after, quoted=True)
            yield _Dep("npm", name, version, specifier, line, section)


def _package_lock(text: str, filename: str) -> Iterator[_Dep]:
    data = _load_json(text, filename)
    if not isinstance(data, dict):
        raise TargetError(f"{filename}: top level is not a JSON object")
    packages = data.get("packages")
    if isinstance(packages, dict):  # lockfile v2 and v3
        for where, meta in packages.items():
            if not where or not isinstance(meta, dict) or "node_modules/" not in where:
                continue
            name = where.rsplit("node_modules/", 1)[-1]
            version = meta.get("version")
            if not _ai("npm", name):
                continue
            m = re.search(rf"\"{re.escape(where)}\"\s*:", text)
            line = text.count("\n", 0, m.start()) + 1 if m else None
            yield _Dep(
                "npm", name, version if isinstance(version, str) else None, None, line, "packages"
            )
        return
    deps = data.get("dependencies", {})  # lockfile v1
    if isinstance(deps, dict):
        for name, meta in deps.items():
            version = meta.get("version") if isinstance(meta, dict) else None
            if not _ai("npm", name):
                continue
            line = _line_of(text, name, quoted=True)
            yield _Dep(
                "npm",
                name,
                version if isinstance(version, str) else None,
                None,
                line,
                "dependencies",
            )


_PARSERS = {
    "requirements": _requirements,
    "pyproject": _pyproject,
    "pipfile": _pipfile,
    "pipfile_lock": _pipfile_lock,
    "poetry_lock": _toml_lock,
    "uv_lock": _toml_lock,
    "conda": _conda,
    "package_json": _package_json,
    "package_lock": _package_lock,
}
_FORMAT_NAMES = {
    "requirements": "requirements file",
    "pyproject": "pyproject.toml",
    "pipfile": "Pipfile",
    "pipfile_lock": "Pipfile.lock",
    "poetry_lock": "poetry.lock",
    "uv_lock": "uv.lock",
    "conda": "conda environment file",
    "package_json": "package.json",
    "package_lock": "package-lock.json",
}
