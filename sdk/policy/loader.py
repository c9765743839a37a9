"""Read and validate a policy folder; keep the policy in force until a valid one replaces it.

A policy folder holds:

* ``*.cedar`` - access-control policies in the Cedar language (any number of files);
* ``schema.cedarschema`` (Cedar schema syntax) or ``schema.cedarschema.json`` (Cedar
  JSON schema), optional: when present every policy is validated against it (see
  :data:`aiposture.policy.entities.DEFAULT_SCHEMA` for the entity types aiposture
  builds from the inventory);
* ``data_usage.yaml``, ``rate_limits.yaml``, ``approvals.yaml``, ``principals.yaml`` -
  optional, validated with the pydantic models of :mod:`aiposture.policy.models`.

Any problem raises :class:`~aiposture.errors.ConfigError` whose message starts with
``file:line:`` and says what is wrong. Cedar reports parse errors without a position,
so each policy is parsed on its own: the line is that of the failing policy, or of
the unexpected token within it when the message names one.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

import cedarpy
import yaml
from pydantic import BaseModel, ValidationError

from aiposture.errors import ConfigError
from aiposture.policy.models import (
    ApprovalFile,
    CedarPolicy,
    DataUsagePolicy,
    PolicySet,
    PrincipalFile,
    RateLimitFile,
)

__all__ = ["PolicyStore", "load_policy", "split_cedar"]

SCHEMA_FILES = ("schema.cedarschema", "schema.cedarschema.json")
YAML_FILES = ("data_usage.yaml", "rate_limits.yaml", "approvals.yaml", "principals.yaml")
_M = TypeVar("_M", bound=BaseModel)
_TOKEN = re.compile(r"unexpected token `([^`]+)`")


# --- Cedar ------------------------------------------------------------------------------


def split_cedar(text: str) -> Iterator[tuple[int, str]]:
    """Cut Cedar policy text into statements, with the 1-based line each starts on.

    A statement ends at a ``;`` outside strings and ``//`` comments; trailing text
    without one is yielded too (Cedar then reports what is missing).
    """
    i, n, line = 0, len(text), 1
    start: int | None = None
    start_line = 1
    while i < n:
        ch = text[i]
        if ch == "\n":
            line += 1
        elif ch == "/" and text.startswith("//", i):
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        elif not ch.isspace():
            if start is None:
                start, start_line = i, line
            if ch == '"':
                i += 1
                while i < n and text[i] != '"':
                    if text[i] == "\\":
                        i += 1
                    elif text[i] == "\n":
                        line += 1
                    i += 1
            elif ch == ";":
                yield start_line, text[start : i + 1]
                start = None
        i += 1
    if start is not None:
        yield start_line, text[start:]


def _token_line(stmt: str, start_line: int, message: str) -> int:
    m = _TOKEN.search(message)
    if m is None:
        return start_line
    at = stmt.find(m.group(1))
    return start_line if at < 0 else start_line + stmt.count("\n", 0, at)


def _parse_cedar(path: Path, name: str, schema: cedarpy.Schema | None) -> list[CedarPolicy]:
    text = _read(path, name)
    out: list[CedarPolicy] = []
    for line, stmt in split_cedar(text):
        try:
            parsed = json.loads(cedarpy.policies_to_json_str(stmt))
        except ValueError as exc:
            msg = str(exc)
            raise ConfigError(f"{name}:{_token_line(stmt, line, msg)}: {msg}") from None
        if parsed.get("templates"):
            raise ConfigError(f"{name}:{line}: policy templates (?principal) are not supported")
        for est in parsed.get("staticPolicies", {}).values():
            annotations = est.get("annotations") or {}
            pid = annotations.get("id") or f"{name}:{line}"
            out.append(
                CedarPolicy(id=pid, file=name, line=line, effect=est["effect"], text=stmt, est=est)
            )
        if schema is not None:
            result = cedarpy.validate_policies(stmt, schema)
            if not result.validation_passed:
                errs = "; ".join(e.error for e in result.errors) or "does not validate"
                raise ConfigError(f"{name}:{line}: policy does not match the schema: {errs}")
    return out


def _schema(folder: Path) -> tuple[str | None, cedarpy.Schema | None]:
    for name in SCHEMA_FILES:
        path = folder / name
        if not path.is_file():
            continue
        text = _read(path, name)
        try:
            handle = (
                cedarpy.Schema.from_json_str(text)
                if name.endswith(".json")
                else cedarpy.Schema.from_str(text)
            )
        except ValueError as exc:
            raise ConfigError(f"{name}:{_line_of(exc)}: invalid Cedar schema: {exc}") from None
        return text, handle
    return None, None


def _line_of(exc: Exception) -> int:
    m = re.search(r"line (\d+)", str(exc))
    return int(m.group(1)) if m else 1


# --- YAML -------------------------------------------------------------------------------


def _node_line(node: yaml.Node | None, loc: tuple[int | str, ...]) -> int:
    """The line of the YAML node at pydantic location ``loc`` (or its nearest parent)."""
    if node is None:
        return 1
    line = node.start_mark.line + 1
    for part in loc:
        child: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                    child = value
                    line = key.start_mark.line + 1
                    break
        elif (
            isinstance(node, yaml.SequenceNode)
            and isinstance(part, int)
            and 0 <= part < len(node.value)
        ):
            child = node.value[part]
            line = child.start_mark.line + 1
        if child is None:
            break
        node = child
    return line


def _load_yaml(path: Path, name: str, model: type[_M]) -> _M:
    text = _read(path, name)
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data: Any = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise ConfigError(f"{name}:{line}: invalid YAML: {exc.problem or exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{name}: invalid YAML: {exc}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{name}:1: expected a mapping at the top, found {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            where = ".".join(str(p) for p in loc) or "(top)"
            problems.append(f"{name}:{_node_line(node, loc)}: {where}: {err['msg']}")
        raise ConfigError("; ".join(problems)) from None


def _read(path: Path, name: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{name}: not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(f"{name}: cannot be read: {exc.strerror or exc}") from None


# --- the folder -------------------------------------------------------------------------


def load_policy(folder: str | Path) -> PolicySet:
    """Read and validate every file of a policy folder.

    Args:
        folder: The policy folder.

    Returns:
        The validated policy.

    Raises:
        ConfigError: The folder is missing, or a file is invalid (the message names
            the file, the line and the problem).
    """
    root = Path(folder)
    if not root.is_dir():
        raise ConfigError(f"policy folder {root} does not exist")
    digest = hashlib.sha256()
    schema_text, schema = _schema(root)
    cedar: list[CedarPolicy] = []
    seen: dict[str, CedarPolicy] = {}
    for path in sorted(root.glob("*.cedar")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
        for policy in _parse_cedar(path, path.name, schema):
            if policy.id in seen:
                first = seen[policy.id]
                raise ConfigError(
                    f"{policy.file}:{policy.line}: policy id {policy.id!r} is already used "
                    f"at {first.file}:{first.line}"
                )
            seen[policy.id] = policy
            cedar.append(policy)
    if cedar:
        try:
            cedarpy.PolicySet.from_json_str(json.dumps(_cedar_json(cedar)))
        except ValueError as exc:
            raise ConfigError(f"{cedar[0].file}: the policies do not form a set: {exc}") from None

    parts: dict[str, Any] = {}
    for name, model in (
        ("data_usage.yaml", DataUsagePolicy),
        ("rate_limits.yaml", RateLimitFile),
        ("approvals.yaml", ApprovalFile),
        ("principals.yaml", PrincipalFile),
    ):
        path = root / name
        if path.is_file():
            digest.update(name.encode() + b"\0" + path.read_bytes())
            parts[name] = _load_yaml(path, name, model)
    if schema_text is not None:
        digest.update(schema_text.encode())
    data_usage = parts.get("data_usage.yaml", DataUsagePolicy())
    limits: RateLimitFile = parts.get("rate_limits.yaml", RateLimitFile())
    approvals: ApprovalFile = parts.get("approvals.yaml", ApprovalFile())
    principals: PrincipalFile = parts.get("principals.yaml", PrincipalFile())
    _unique("rate_limits.yaml", [r.id for r in limits.limits])
    _unique("approvals.yaml", [r.id for r in approvals.approvals])
    _unique("principals.yaml", [p.id for p in principals.principals])
    return PolicySet(
        folder=str(root),
        cedar=tuple(cedar),
        cedar_schema=schema_text,
        data_usage=data_usage,
        rate_limits=limits.limits,
        approvals=approvals.approvals,
        principals=principals.principals,
        digest=digest.hexdigest(),
    )


def _unique(name: str, ids: list[str]) -> None:
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise ConfigError(f"{name}: ids must be unique, repeated: {', '.join(dup)}")


def _cedar_json(cedar: list[CedarPolicy]) -> dict[str, Any]:
    return {"staticPolicies": {p.id: p.est for p in cedar}, "templates": {}, "templateLinks": []}


class PolicyStore:
    """The policy in force, read from a folder; :meth:`reload` swaps it only when valid.

    Readers take :attr:`current` (one immutable :class:`PolicySet`); a reload builds a
    whole new one and replaces the reference in one step, so a reader never sees half
    a policy, and a folder with any invalid file leaves the policy in force unchanged.
    """

    def __init__(self, folder: str | Path) -> None:
        """Load the folder.

        Raises:
            ConfigError: The folder is invalid (there is no policy in force yet).
        """
        self.folder = Path(folder)
        self._lock = threading.Lock()
        self._current = load_policy(self.folder)

    @property
    def current(self) -> PolicySet:
        """The policy in force."""
        return self._current

    def reload(self) -> PolicySet:
        """Read the folder again and put it in force if every file is valid.

        Returns:
            The policy now in force.

        Raises:
            ConfigError: A file is invalid; the previous policy stays in force.
        """
        with self._lock:
            try:
                fresh = load_policy(self.folder)
            except ConfigError as exc:
                raise ConfigError(
                    f"policy in {self.folder} not reloaded, the previous one stays in force: {exc}"
                ) from None
            self._current = fresh
            return fresh
