"""The MCP client configuration scanner: the MCP servers agents and assistants are wired to.

Reads the user-level and project-level configuration files of Claude Desktop,
Claude Code, Cursor, VS Code, Windsurf and Continue (which files, and where
their servers are, is in :mod:`aiposture.discovery.mcp_clients`). JSON files
are read with :mod:`aiposture.discovery.jsonc` (comments and trailing commas
allowed), YAML with ``yaml.safe_load``. Nothing configured is ever run.

For every server it yields one :func:`~aiposture.discovery.observe.mcp_server`
asset. Its identity is what the server *is* (its URL, or the registry package
it is launched from, without version), so the same server configured in
several clients and projects is one asset with one piece of evidence per
configuration (kind ``config``, the file, the line, the key
``mcpServers.<name>`` and the client and scope in the detail). Attributes:
transport (as declared, else inferred), command, arguments (secrets redacted),
URL (no credentials or query), the package specs as written, whether they are
pinned, the *names* of environment variables and headers, clients and scopes.
Tags ``mcp-client:<id>`` and ``mcp-scope:<scope>`` and the file in
``locations`` add up across files.

Who uses the server:

* a project-level file (and a project entry of ``~/.claude.json``): the
  project's application asset ``--calls_service-->`` the server;
* a user-level or managed file: an ``agent`` asset for the client on that
  user's machine (``Cursor (alice)``) ``--calls_service-->`` the server.

Findings (tags name the OWASP Top 10 for LLM applications, 2025, and CWE):

* ``AIP-MCP-001`` (high): a secret written into the configuration (an
  environment value, an argument such as ``--api-key=...``, a header value, a
  URL's userinfo or query token, a key in a URL path), on the credential
  asset (known by fingerprint only; the value is kept nowhere), which is
  ``declared_in`` the server and the application or agent, as every plaintext
  secret aiposture finds is a finding on its credential.
* ``AIP-MCP-002`` (medium): an unpinned package (``npx -y pkg``,
  ``pkg@latest``, a version range, ``uvx pkg`` without ``==``/``@version``, a
  container image without a digest).
* ``AIP-MCP-003`` (high): a remote server with no authentication configured,
  and, separately, a remote server reached over plain ``http://``. Servers on
  a loopback address are not reported (they do not leave the machine).
"""

from __future__ import annotations

import ipaddress
import json
import math
import re
import shlex
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlsplit

import yaml

from aiposture.discovery import observe
from aiposture.discovery.base import Observation, Scanner, Target, TargetError
from aiposture.discovery.jsonc import JSONCError, KeyPath
from aiposture.discovery.jsonc import parse as parse_jsonc
from aiposture.discovery.mcp_clients import ConfigFile, ConfigFormat, classify
from aiposture.discovery.secrets import find_secrets
from aiposture.models import (
    Asset,
    AssetKind,
    Evidence,
    EvidenceKind,
    Finding,
    Relation,
    RelationKind,
    Severity,
    normalise_key,
    ordered_union,
)

__all__ = ["McpConfigScanner"]

_REDACTED = "<redacted>"
_MAX_ITEMS = 256  # arguments, variables or headers read per server
_LIST_ATTRS = ("clients", "scopes", "env", "headers", "package_specs")

_TAGS_SECRET = ["owasp-llm:LLM02", "cwe:798"]
_TAGS_UNPINNED = ["owasp-llm:LLM03", "cwe:1357", "cwe:829"]
_TAGS_NO_AUTH = ["owasp-llm:LLM06", "cwe:306"]
_TAGS_CLEARTEXT = ["owasp-llm:LLM06", "cwe:319"]


class McpConfigScanner(Scanner):
    """MCP servers in the configuration files of MCP clients, with their risks."""

    name: ClassVar[str] = "mcp_config"
    description: ClassVar[str] = (
        "MCP servers configured for Claude Desktop, Claude Code, Cursor, VS Code, Windsurf "
        "and Continue (user and project files), with secrets written into them, unpinned "
        "packages and remote servers without authentication."
    )
    version: ClassVar[str] = "1"
    #: ``~/.claude.json`` also holds Claude Code's history and can grow large.
    max_bytes: ClassVar[int] = 32 * 1024 * 1024

    def accepts(self, path: Path) -> bool:
        """Configuration files of known MCP clients, by name and folder."""
        return classify(path) is not None

    def scan(self, target: Target) -> list[Observation]:
        """Yield the servers of one configuration file, who uses them and the findings.

        Raises:
            TargetError: The file is not UTF-8, not valid JSON (with comments) or
                YAML, or its server list has the wrong type; the reason names the
                line and column.
        """
        if target.path is None:
            return []
        cfg = classify(target.path)
        if cfg is None:
            return []
        text = target.text
        if not text.strip() or not _may_hold_servers(cfg.fmt, text):
            return []
        data, lines = _parse(cfg, text)
        if data is None:
            return []
        if not isinstance(data, dict):
            raise TargetError(
                f"{target.path.name}: expected an object at the top level, "
                f"found {_type_name(data)}",
                line=1,
            )
        report = _Report(self.name, target, cfg)
        for entry in _entries(cfg, data, lines):
            report.server(entry)
        return report.observations()


# --------------------------------------------------------------------------
# Reading the file


def _may_hold_servers(fmt: ConfigFormat, text: str) -> bool:
    """Cheap test that skips the many settings files without MCP servers in them."""
    if fmt is ConfigFormat.VSCODE_SETTINGS:
        return '"mcp' in text
    if fmt is ConfigFormat.CLAUDE_CODE_STATE:
        return "mcpServers" in text
    if fmt is ConfigFormat.CONTINUE_JSON:
        return "modelContextProtocolServer" in text or "mcpServers" in text
    return True


def _parse(cfg: ConfigFile, text: str) -> tuple[Any, dict[KeyPath, int]]:
    if cfg.is_yaml:
        return _parse_yaml(text)
    try:
        return parse_jsonc(text, max_depth=4)
    except JSONCError as exc:
        raise TargetError(
            f"{cfg.path.name}: {exc.reason} at line {exc.line}, column {exc.column}",
            line=exc.line,
        ) from None


def _parse_yaml(text: str) -> tuple[Any, dict[KeyPath, int]]:
    # The error's own text quotes the offending line, which may hold a secret:
    # only its description and position are reported.
    try:
        data = yaml.safe_load(text)
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        what = exc.problem or exc.context or "syntax error"
        if mark is None:
            raise TargetError(f"invalid YAML: {what}") from None
        raise TargetError(
            f"invalid YAML at line {mark.line + 1}, column {mark.column + 1}: {what}",
            line=mark.line + 1,
        ) from None
    except yaml.YAMLError as exc:
        raise TargetError(f"invalid YAML ({type(exc).__name__})") from None
    except RecursionError:
        raise TargetError("YAML nested too deeply") from None
    lines: dict[KeyPath, int] = {}
    if node is not None:
        _yaml_lines(node, (), lines, depth=3)
    return data, lines


def _yaml_lines(node: yaml.Node, path: KeyPath, out: dict[KeyPath, int], depth: int) -> None:
    if depth <= 0:
        return
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value[:_MAX_ITEMS]:
            if isinstance(k, yaml.ScalarNode):
                sub = (*path, str(k.value))
                out.setdefault(sub, k.start_mark.line + 1)
                _yaml_lines(v, sub, out, depth - 1)
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value[:_MAX_ITEMS]):
            sub = (*path, i)
            out.setdefault(sub, v.start_mark.line + 1)
            _yaml_lines(v, sub, out, depth - 1)


def _type_name(value: object) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return "null" if value is None else type(value).__name__


@dataclass(frozen=True)
class _Entry:
    """One server as configured."""

    name: str
    spec: Mapping[str, Any]
    key: str  # dotted path in the file, for evidence
    line: int | None
    scope: str  # user, project, local, managed
    workspace: Path | None  # the project it is configured for, if any


def _entries(cfg: ConfigFile, data: dict[str, Any], lines: dict[KeyPath, int]) -> Iterator[_Entry]:
    scope = cfg.scope.value
    ws = cfg.workspace
    fmt = cfg.fmt
    if fmt is ConfigFormat.MCP_SERVERS:
        key = "mcpServers" if "mcpServers" in data else "servers"
        yield from _collection(data.get(key), (key,), lines, scope, ws)
    elif fmt is ConfigFormat.VSCODE_MCP:
        key = "servers" if "servers" in data else "mcpServers"
        yield from _collection(data.get(key), (key,), lines, scope, ws)
    elif fmt is ConfigFormat.VSCODE_SETTINGS:
        mcp = data.get("mcp")
        if isinstance(mcp, dict):
            yield from _collection(mcp.get("servers"), ("mcp", "servers"), lines, scope, ws)
        yield from _collection(data.get("mcp.servers"), ("mcp.servers",), lines, scope, ws)
    elif fmt is ConfigFormat.CLAUDE_CODE_STATE:
        yield from _collection(data.get("mcpServers"), ("mcpServers",), lines, scope, ws)
        projects = data.get("projects")
        if isinstance(projects, dict):
            for proj, conf in projects.items():
                if isinstance(conf, dict) and conf.get("mcpServers"):
                    yield from _collection(
                        conf["mcpServers"],
                        ("projects", proj, "mcpServers"),
                        lines,
                        "local",
                        Path(proj),
                    )
    elif fmt is ConfigFormat.CONTINUE_JSON:
        exp = data.get("experimental")
        if isinstance(exp, dict):
            path: KeyPath = ("experimental", "modelContextProtocolServers")
            yield from _collection(exp.get(path[1]), path, lines, scope, ws, flatten=True)
            one = exp.get("modelContextProtocolServer")
            if isinstance(one, dict):
                path = ("experimental", "modelContextProtocolServer")
                yield from _collection([one], path, {}, scope, ws, flatten=True)
        yield from _collection(data.get("mcpServers"), ("mcpServers",), lines, scope, ws)
    else:  # Continue YAML config and block files
        if "mcpServers" in data:
            yield from _collection(data["mcpServers"], ("mcpServers",), lines, scope, ws)
        elif fmt is ConfigFormat.CONTINUE_BLOCK and ("command" in data or "url" in data):
            yield _Entry(cfg.path.stem, data, cfg.path.stem, 1, scope, ws)


def _collection(
    container: object,
    path: KeyPath,
    lines: dict[KeyPath, int],
    scope: str,
    ws: Path | None,
    *,
    flatten: bool = False,
) -> Iterator[_Entry]:
    """The servers of a ``{name: spec}`` map or a ``[{name: ..., ...}]`` list."""
    if container is None:
        return
    dotted = ".".join(str(p) for p in path)
    if isinstance(container, dict):
        for name, value in list(container.items())[:_MAX_ITEMS]:
            if isinstance(value, dict) and str(name).strip():
                line = lines.get((*path, name))
                yield _Entry(str(name), value, f"{dotted}.{name}", line, scope, ws)
        return
    if not isinstance(container, list):
        raise TargetError(
            f"{dotted} is {_type_name(container)}; expected an object or a list of servers",
            line=lines.get(path),
        )
    for i, item in enumerate(container[:_MAX_ITEMS]):
        if not isinstance(item, dict):
            continue
        spec: dict[str, Any] = dict(item)
        if flatten and isinstance(item.get("transport"), dict):
            spec = {**item["transport"], **{k: v for k, v in item.items() if k != "transport"}}
        name = spec.get("name") or spec.get("uses") or f"server-{i + 1}"
        label = f"{dotted}.{name}" if spec.get("name") else f"{dotted}[{i}]"
        yield _Entry(str(name), spec, label, lines.get((*path, i)), scope, ws)


# --------------------------------------------------------------------------
# Understanding one server


@dataclass(frozen=True)
class _Package:
    """A package a launcher fetches from a registry (or elsewhere)."""

    ecosystem: str  # npm, pypi, oci
    name: str | None  # registry name without version; None for a URL, path or VCS spec
    spec: str  # as written (credentials removed)
    pinned: bool


@dataclass
class _Secret:
    secret_type: str
    fingerprint: str
    provider_id: str | None
    where: str  # key under the server: env.GITHUB_TOKEN, args[3], headers.Authorization, url


@dataclass
class _Server:
    transport: str | None
    command: str | None
    args: list[str]
    url: str | None
    packages: list[_Package]
    env: dict[str, str]
    headers: dict[str, str]
    proxy_headers: dict[str, str]  # given to a bridge in its arguments (checked there)
    auth_configured: bool
    disabled: bool
    uses: str | None


_TRANSPORTS = {
    "stdio": "stdio",
    "sse": "sse",
    "http": "http",
    "https": "http",
    "streamable-http": "streamable-http",
    "streamable_http": "streamable-http",
    "streamablehttp": "streamable-http",
    "streamable": "streamable-http",
    "ws": "websocket",
    "websocket": "websocket",
}
_AUTH_KEYS = ("oauth", "auth", "authentication", "authorization", "headersHelper", "apiKey")
#: Packages that bridge a stdio client to a remote server named by URL.
_REMOTE_PROXIES = frozenset({"mcp-remote"})


def _analyse(spec: Mapping[str, Any]) -> _Server:
    raw_cmd = spec.get("command")
    command = raw_cmd.strip() if isinstance(raw_cmd, str) and raw_cmd.strip() else None
    args = _strings(spec.get("args"))
    if command is not None and not args and " " in command:
        parts = _split(command)
        command, args = parts[0], parts[1:]
    env = _str_map(spec.get("env"))
    headers = _str_map(spec.get("headers"))
    opts = spec.get("requestOptions")
    if isinstance(opts, dict):
        headers.update(_str_map(opts.get("headers")))
    url = next(
        (v.strip() for k in ("url", "serverUrl", "httpUrl") if isinstance(v := spec.get(k), str)),
        None,
    )
    exe, launch_args = _unwrap(command, args)
    packages, extra_env, proxy_url, header_args = _launcher(exe, launch_args)
    for name, value in extra_env.items():
        env.setdefault(name, value)
    if url is None and proxy_url is not None:
        url = proxy_url
    declared = spec.get("type") or spec.get("transport")
    transport = _TRANSPORTS.get(str(declared).lower()) if isinstance(declared, str) else None
    if transport is None and isinstance(declared, str) and declared.strip():
        transport = declared.strip().lower()[:40]
    if transport is None:
        if command is not None:
            transport = "stdio"
        elif url is not None:
            transport = "sse" if url.split("?", 1)[0].rstrip("/").endswith("/sse") else "http"
    auth = any(k in spec and spec[k] not in (None, "", False, {}) for k in _AUTH_KEYS)
    uses = spec.get("uses")
    return _Server(
        transport=transport,
        command=command,
        args=args,
        url=url,
        packages=packages,
        env=env,
        headers=headers,
        proxy_headers=header_args,
        auth_configured=auth,
        disabled=spec.get("disabled") is True or spec.get("enabled") is False,
        uses=uses if isinstance(uses, str) else None,
    )


def _strings(value: object) -> list[str]:
    if not isinstance(value, list):
        return []
    return [str(v) for v in value[:_MAX_ITEMS] if isinstance(v, str | int | float)]


def _str_map(value: object) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    out: dict[str, str] = {}
    for k, v in list(value.items())[:_MAX_ITEMS]:
        if isinstance(v, str | int | float | bool) or v is None:
            out[str(k)] = "" if v is None else str(v)
    return out


def _split(command: str) -> list[str]:
    try:
        parts = shlex.split(command)
    except ValueError:
        parts = command.split()
    return parts or [command]


def _exe_name(command: str) -> str:
    base = re.split(r"[\\/]", command)[-1].lower()
    for suffix in (".cmd", ".exe", ".bat", ".ps1"):
        if base.endswith(suffix):
            return base[: -len(suffix)]
    return base


def _unwrap(command: str | None, args: list[str]) -> tuple[str, list[str]]:
    """The launcher and its arguments, looking through ``cmd /c`` (Windows)."""
    if command is None:
        return "", []
    exe = _exe_name(command)
    if exe == "cmd" and len(args) >= 2 and args[0].lower() in ("/c", "/k"):
        inner = args[1:]
        if len(inner) == 1 and " " in inner[0]:
            inner = _split(inner[0])
        return _exe_name(inner[0]), inner[1:]
    return exe, args


# Options that take a value, per launcher (an option not listed is a flag).
_NPX_VALUES = frozenset(
    {"-p", "--package", "-c", "--call", "--cache", "--registry", "--userconfig"}
)
_UV_VALUES = frozenset(
    {
        "--from",
        "--with",
        "--with-editable",
        "--with-requirements",
        "--python",
        "-p",
        "--index",
        "--index-url",
        "-i",
        "--extra-index-url",
        "--default-index",
        "--find-links",
        "-f",
        "--constraint",
        "-c",
        "--override",
        "--build-constraint",
        "-b",
        "--env-file",
        "--cache-dir",
        "--directory",
        "--project",
        "--config-file",
        "--python-preference",
        "--color",
        "--refresh-package",
        "--reinstall-package",
        "--upgrade-package",
        "-P",
        "--exclude-newer",
        "--prerelease",
        "--resolution",
        "--index-strategy",
        "--keyring-provider",
        "--config-setting",
        "-C",
        "--link-mode",
    }
)
_PIPX_VALUES = frozenset({"--spec", "--python", "--pip-args", "--index-url", "-i"})
_DOCKER_VALUES = frozenset(
    {
        "-e",
        "--env",
        "--env-file",
        "-v",
        "--volume",
        "--mount",
        "--name",
        "-p",
        "--publish",
        "--network",
        "--net",
        "-w",
        "--workdir",
        "-u",
        "--user",
        "--entrypoint",
        "--platform",
        "-l",
        "--label",
        "--add-host",
        "--cpus",
        "-m",
        "--memory",
        "--pull",
        "-h",
        "--hostname",
        "--device",
        "--cap-add",
        "--cap-drop",
        "--security-opt",
        "--tmpfs",
        "--ulimit",
        "--restart",
        "--runtime",
        "--gpus",
        "--ipc",
        "--pid",
        "--shm-size",
        "--log-driver",
        "--log-opt",
        "--dns",
        "--expose",
        "--label-file",
        "--cidfile",
        "--stop-signal",
        "--stop-timeout",
        "--group-add",
        "--memory-swap",
        "--cpu-shares",
        "-c",
        "--userns",
        "--uts",
        "--volumes-from",
        "--link",
        "--health-cmd",
    }
)


@dataclass
class _Opts:
    positional: str | None
    rest: list[str]  # arguments after the positional one
    values: dict[str, list[str]]  # option -> values given


def _options(args: list[str], takes_value: frozenset[str]) -> _Opts:
    """Split launcher arguments into options and the first positional argument."""
    values: dict[str, list[str]] = {}
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--":
            i += 1
            break
        if a.startswith("-") and len(a) > 1:
            opt, eq, val = a.partition("=")
            if opt in takes_value and not eq:
                val = args[i + 1] if i + 1 < len(args) else ""
                i += 1
            values.setdefault(opt, []).append(val)
            i += 1
            continue
        return _Opts(a, args[i + 1 :], values)
    if i < len(args):
        return _Opts(args[i], args[i + 1 :], values)
    return _Opts(None, [], values)


def _launcher(
    exe: str, args: list[str]
) -> tuple[list[_Package], dict[str, str], str | None, dict[str, str]]:
    """Packages launched, environment set by the launcher, proxied URL, ``--header`` values."""
    env: dict[str, str] = {}
    if exe in ("npm", "pnpm", "yarn") and args and args[0] in ("exec", "x", "dlx"):
        exe, args = {"npm": "npx", "pnpm": "pnpx", "yarn": "yarn-dlx"}[exe], args[1:]
    if exe == "uv" and args[:2] in (["tool", "run"], ["tool", "uvx"]):
        exe, args = "uvx", args[2:]
    if exe == "pipx" and args[:1] == ["run"]:
        exe, args = "pipx-run", args[1:]
    if exe in ("docker", "podman", "nerdctl"):
        if args[:2] == ["container", "run"]:
            args = args[1:]
        exe = "oci-run" if args[:1] == ["run"] else exe
        args = args[1:] if exe == "oci-run" else args

    if exe in ("npx", "bunx", "pnpx", "yarn-dlx"):
        o = _options(args, _NPX_VALUES)
        specs = o.values.get("-p", []) + o.values.get("--package", [])
        if not specs and o.positional:
            specs = [o.positional]
        pkgs = [p for p in (_npm_package(s) for s in specs) if p is not None]
        proxied, headers = _proxy(pkgs, o)
        return pkgs, env, proxied, headers
    if exe in ("uvx", "pipx-run"):
        o = _options(args, _UV_VALUES if exe == "uvx" else _PIPX_VALUES)
        main = (o.values.get("--from") or o.values.get("--spec") or [o.positional or ""])[0]
        specs = [main, *o.values.get("--with", [])]
        return [p for p in (_pypi_package(s) for s in specs if s) if p is not None], env, None, {}
    if exe == "oci-run":
        o = _options(args, _DOCKER_VALUES)
        for item in o.values.get("-e", []) + o.values.get("--env", []):
            name, _, value = item.partition("=")
            if name:
                env[name] = value
        image = _oci_package(o.positional) if o.positional else None
        return ([image] if image else []), env, None, {}
    return [], env, None, {}


def _proxy(pkgs: list[_Package], o: _Opts) -> tuple[str | None, dict[str, str]]:
    """The remote URL and headers of an ``mcp-remote`` style bridge."""
    if not pkgs or pkgs[0].name not in _REMOTE_PROXIES:
        return None, {}
    url = next((a for a in o.rest if a.startswith(("http://", "https://"))), None)
    headers: dict[str, str] = {}
    rest = o.rest
    for i, a in enumerate(rest[:-1]):
        if a == "--header":
            name, _, value = rest[i + 1].partition(":")
            if name.strip():
                headers[name.strip()] = value.strip()
    return url, headers


_SEMVER = re.compile(r"v?\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?")
_NPM_NAME = re.compile(r"(?:@[a-z0-9][\w.~-]*/)?[a-z0-9][\w.~-]*", re.IGNORECASE)
_PEP440_EXACT = re.compile(
    r"\d+(?:\.\d+)*(?:(?:a|b|rc)\d+)?(?:\.post\d+)?(?:\.dev\d+)?(?:\+[\w.]+)?"
)
_PYPI_SPEC = re.compile(r"([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*(.*)", re.DOTALL)
_COMMIT = re.compile(r"@[0-9a-f]{7,40}(?:#|$)")


def _npm_package(spec: str) -> _Package | None:
    spec = spec.strip()
    if not spec:
        return None
    if _is_source_spec(spec) or spec.startswith(("github:", "gitlab:", "bitbucket:")):
        return _Package("npm", None, _clean_source(spec), bool(_COMMIT.search(spec)))
    body = spec[4:] if spec.startswith("npm:") else spec
    if body.startswith("@"):
        scoped, _, version = body[1:].partition("@")
        name = "@" + scoped
    else:
        name, _, version = body.partition("@")
    if not _NPM_NAME.fullmatch(name):
        return None
    return _Package("npm", name.lower(), spec, bool(_SEMVER.fullmatch(version)))


def _pypi_package(spec: str) -> _Package | None:
    spec = spec.strip()
    if not spec:
        return None
    if _is_source_spec(spec) or " @ " in spec:
        return _Package("pypi", None, _clean_source(spec), bool(_COMMIT.search(spec)))
    m = _PYPI_SPEC.fullmatch(spec)
    if m is None:
        return None
    name, rest = m.group(1), m.group(3).strip()
    pinned = False
    if rest.startswith("==="):
        pinned = bool(rest[3:].strip())
    elif rest.startswith("=="):
        pinned = bool(_PEP440_EXACT.fullmatch(rest[2:].strip()))
    elif rest.startswith("@"):
        pinned = bool(_PEP440_EXACT.fullmatch(rest[1:].strip()))
    return _Package("pypi", re.sub(r"[-_.]+", "-", name).lower(), spec, pinned)


def _oci_package(image: str) -> _Package | None:
    image = image.strip()
    if not image or image.startswith("-"):
        return None
    ref, _, digest = image.partition("@")
    name = ref
    last = ref.rsplit("/", 1)[-1]
    if ":" in last:
        name = ref[: len(ref) - len(last)] + last.split(":", 1)[0]
    return _Package("oci", name.lower(), image, digest.startswith("sha256:"))


def _is_source_spec(spec: str) -> bool:
    """A URL, VCS reference, archive or path rather than a registry name."""
    return (
        "://" in spec
        or spec.startswith(("git+", "git@", "file:", ".", "/", "~", "\\"))
        or re.match(r"[A-Za-z]:[\\/]", spec) is not None
        or spec.endswith((".tgz", ".tar.gz", ".whl", ".zip"))
    )


def _clean_source(spec: str) -> str:
    """A source spec without credentials or query (``git+https://u:t@h/r`` -> ``git+https://h/r``)."""
    return re.sub(r"(://)[^/@\s]*@", r"\1", spec).split("?", 1)[0]


# --------------------------------------------------------------------------
# Secrets


_PLACEHOLDER = re.compile(
    r"\$\{|\{\{|<[^>]*>|%[A-Za-z_][\w]*%|^\$[A-Za-z_]\w*$|x{4,}|\*{3,}|\.\.\.|…"
    r"|your|example|sample|dummy|placeholder|change[_-]?me|replace|fake|redacted|insert|todo",
    re.IGNORECASE,
)
#: ``GITHUB_TOKEN``, ``TOKEN``: the name of a variable, not its value.
_VAR_NAME_VALUE = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+|[A-Z]+")
_SECRET_NAME = re.compile(
    r"(?i)(?:^|[_\-.])(?:token|key|apikey|secret|password|passwd|pwd|pat|credentials?|auth"
    r"|authorization|cookie|signature|sig)(?:$|[_\-.])"
    r"|secret|password|passwd|api[_-]?key|access[_-]?token|auth[_-]?token"
)
_NOT_SECRET_NAME = re.compile(
    r"(?i)(?:^|[_\-.])(?:id|url|uri|file|path|dir|name|host|port|region|user|username|type"
    r"|mode|endpoint|version|expiry|expires|ttl|timeout|header|prefix|env|count|size)$"
)
_AUTH_SCHEME = re.compile(r"(?i)^(?:bearer|basic|token|apikey|api-key)\s+")
_RANDOMISH = re.compile(r"[A-Za-z0-9+/_\-]{20,}={0,2}")
_TOKENISH = re.compile(r"[A-Za-z0-9_\-]{20,}")
_URL_ARG = re.compile(r"[A-Za-z][\w+.-]*://")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)


def _is_placeholder(value: str) -> bool:
    v = value.strip()
    return not v or bool(_PLACEHOLDER.search(v)) or bool(_VAR_NAME_VALUE.fullmatch(v))


def _secret_name(name: str) -> bool:
    """``GITHUB_TOKEN``, ``apiKey``, ``X-API-Key``, ``Authorization``; not ``TOKEN_URL``."""
    snake = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    return bool(_SECRET_NAME.search(snake)) and not _NOT_SECRET_NAME.search(snake)


def _entropy(value: str) -> float:
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in Counter(value).values()) if n else 0.0


def _literal_secret(value: str) -> bool:
    """Whether a value given to a secret-sounding name looks like a real secret."""
    v = value.strip()
    if len(v) < 8 or _is_placeholder(v) or len(set(v)) <= 3:
        return False
    if v.lower() in ("true", "false", "null", "none") or (v.isdigit() and len(v) < 12):
        return False
    if v.startswith(("/", "./", "../", "~/", "\\\\")) or re.match(r"[A-Za-z]:[\\/]", v):
        return False
    if "://" in v and not re.search(r"://[^/@\s]+:[^/@\s]+@", v):
        return False
    return " " not in v or len(v) >= 24


def _randomish(token: str) -> bool:
    """A long token of mixed letters and digits: a key, not a word, path or hash."""
    if _UUID.fullmatch(token) or re.fullmatch(r"[0-9a-fA-F]+", token):
        return False
    has_digit = any(c.isdigit() for c in token)
    has_alpha = any(c.isalpha() for c in token)
    mixed_case = any(c.islower() for c in token) and any(c.isupper() for c in token)
    return ((has_digit and has_alpha) or mixed_case) and _entropy(token) >= 3.5


class _SecretFinder:
    """Collects the secrets of one server; the values stay in this object only."""

    def __init__(self) -> None:
        self.found: list[_Secret] = []
        self.values: set[str] = set()

    def check(self, name: str | None, value: str, where: str) -> bool:
        """Record ``value`` (given to ``name``) if it is a secret; whether it was."""
        value = _AUTH_SCHEME.sub("", value.strip())
        if _is_placeholder(value):
            return False
        line = f"{json.dumps(name)}: {json.dumps(value)}" if name else value
        hits = find_secrets(line, filename="mcp.json")
        if hits:
            for hit in hits:
                self.found.append(_Secret(hit.secret_type, hit.fingerprint, hit.provider_id, where))
            self.values.add(value)
            return True
        if name is not None and _secret_name(name) and _literal_secret(value):
            fp = observe.secret_fingerprint(value)
            self.found.append(_Secret("Secret Keyword", fp, None, where))
            self.values.add(value)
            return True
        return False


def _find_secrets(server: _Server) -> tuple[list[_Secret], list[str], set[str]]:
    """The secrets of a server, its arguments redacted, and the raw values (not to be kept)."""
    f = _SecretFinder()
    for name, value in server.env.items():
        f.check(name, value, f"env.{name}")
    for name, value in server.headers.items():
        f.check(name, value, f"headers.{name}")
    redacted = list(server.args)
    args = server.args
    for i, a in enumerate(args):
        where = f"args[{i}]"
        if a.startswith("-") and "=" in a:
            opt, _, value = a.partition("=")
            if f.check(opt.lstrip("-"), value, where):
                redacted[i] = f"{opt}={_REDACTED}"
        elif a.startswith("-") and i + 1 < len(args) and not args[i + 1].startswith("-"):
            opt = a.lstrip("-")
            if _secret_name(opt) and f.check(opt, args[i + 1], f"args[{i + 1}]"):
                redacted[i + 1] = _REDACTED
        elif _URL_ARG.match(a):
            _url_secrets(a, f)
        elif re.match(r"[A-Za-z_][\w.-]*\s*:\s*\S", a):
            name, _, value = a.partition(":")
            if f.check(name.strip(), value, where):
                redacted[i] = f"{name.strip()}: {_REDACTED}"
        elif re.match(r"[A-Za-z_]\w*=", a):
            name, _, value = a.partition("=")
            if f.check(name, value, where):
                redacted[i] = f"{name}={_REDACTED}"
        elif f.check(None, a, where):
            redacted[i] = _REDACTED
    if server.command and " " in server.command.strip():
        f.check(None, server.command, "command")
    if server.url:
        _url_secrets(server.url, f)
    return f.found, [_scrub(a, f.values) for a in redacted], f.values


def _url_secrets(url: str, f: _SecretFinder) -> None:
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return
    if password and not _is_placeholder(password) and not f.check("password", password, "url"):
        fp = observe.secret_fingerprint(password)
        f.found.append(_Secret("Basic Auth Credentials", fp, None, "url"))
        f.values.add(password)
    for name, value in parse_qsl(parts.query, keep_blank_values=False)[:_MAX_ITEMS]:
        f.check(name, value, f"url?{name}")
    for segment in parts.path.split("/"):
        random = len(segment) >= 24 and _RANDOMISH.fullmatch(segment) and _randomish(segment)
        if random and not f.check(None, segment, "url"):
            fp = observe.secret_fingerprint(segment)
            f.found.append(_Secret("Secret in URL path", fp, None, "url"))
            f.values.add(segment)


def _scrub(text: str, values: Iterable[str]) -> str:
    """``text`` with every known secret value masked, and any token that looks like a key.

    The second part is a safety net for keys no rule recognised: a run of 20 or
    more letters and digits in both cases, random enough (not a word, path or hash).
    """
    for v in sorted(values, key=len, reverse=True):
        if len(v) >= 4 and v in text:
            text = text.replace(v, _REDACTED)
    return _TOKENISH.sub(lambda m: _REDACTED if _key_like(m.group()) else m.group(), text)


def _key_like(token: str) -> bool:
    classes = (
        any(c.islower() for c in token)
        + any(c.isupper() for c in token)
        + any(c.isdigit() for c in token)
    )
    return classes == 3 and _entropy(token) >= 3.5


def _safe_url(url: str, secrets: Iterable[str]) -> str | None:
    """The URL without userinfo, query or fragment, secret path segments masked.

    None for a URL that does not parse (a bad port or IPv6 address).
    """
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return None
    path = "/".join(_REDACTED if seg in secrets else seg for seg in parts.path.split("/"))
    return f"{parts.scheme.lower()}://{host.lower()}{port}{path}"


# --------------------------------------------------------------------------
# Remote servers


def _is_loopback(host: str) -> bool:
    host = host.strip("[]").lower()
    if host in ("localhost", "0.0.0.0") or host.endswith(".localhost"):  # noqa: S104
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _authenticated(server: _Server, url: str) -> bool:
    if server.auth_configured:
        return True
    if any(_secret_name(h) for h in [*server.headers, *server.proxy_headers]):
        return True
    if any(_secret_name(n) for n in server.env):
        return True  # the token is handed to the bridge or server through its environment
    try:
        parts = urlsplit(url)
        if parts.username or parts.password:
            return True
        return any(_secret_name(n) for n, _ in parse_qsl(parts.query))
    except ValueError:
        return False


# --------------------------------------------------------------------------
# Building the observations


class _Report:
    """Everything one configuration file yields, merged per object."""

    def __init__(self, scanner: str, target: Target, cfg: ConfigFile) -> None:
        self.scanner = scanner
        self.target = target
        self.cfg = cfg
        self.path = target.display_path
        self.assets: dict[str, Asset] = {}
        self.relations: dict[str, Relation] = {}
        self.findings: dict[str, Finding] = {}

    # -- owners -------------------------------------------------------------
    def _owner(self, entry: _Entry) -> Asset:
        owner_ev = Evidence(
            kind=EvidenceKind.CONFIG,
            path=self.path,
            detail=f"{self.cfg.client.name} MCP configuration ({entry.scope} scope)",
            scanner=self.scanner,
        )
        if entry.workspace is not None:
            target = self.target
            if entry.scope == "local":
                target = replace(self.target, project=entry.workspace)
            return observe.application(target, owner_ev)
        home = self.cfg.home
        where = str(home) if home is not None else self.path
        label = home.name if home is not None else entry.scope
        client = self.cfg.client
        return Asset.new(
            AssetKind.AGENT,
            f"{client.name} ({label})",
            key=normalise_key("agent", "mcp-client", client.id, where),
            locations=[self.path],
            attributes={"client": client.id, "client_name": client.name, "home": where},
            evidence=[owner_ev],
        )

    def _add(self, asset: Asset) -> Asset:
        have = self.assets.get(asset.id)
        if have is None:
            self.assets[asset.id] = asset
            return asset
        merged = have.merge(asset)
        attrs = dict(merged.attributes)
        for name in _LIST_ATTRS:
            a, b = have.attributes.get(name), asset.attributes.get(name)
            if isinstance(a, list) and isinstance(b, list):
                attrs[name] = ordered_union(a, b)
        merged = merged.model_copy(update={"attributes": attrs})
        self.assets[asset.id] = merged
        return merged

    def _relate(self, source: Asset, kind: RelationKind, target: Asset, ev: Evidence) -> None:
        rel = observe.relate(source, kind, target, ev)
        have = self.relations.get(rel.id)
        if have is None:
            self.relations[rel.id] = rel
        elif ev.identity() not in {e.identity() for e in have.evidence}:
            self.relations[rel.id] = have.model_copy(update={"evidence": [*have.evidence, ev]})

    def _finding(self, finding: Finding) -> None:
        self.findings.setdefault(finding.id, finding)

    # -- one server ----------------------------------------------------------
    def server(self, entry: _Entry) -> None:
        server = _analyse(entry.spec)
        secrets, args, raw_values = _find_secrets(server)
        client = self.cfg.client
        where = f" for {entry.workspace}" if entry.workspace is not None else ""
        detail = f"{client.name}, {entry.scope} scope{where}"
        if server.disabled:
            detail += " (disabled)"
        url = _safe_url(server.url, raw_values) if server.url else None
        bad_url = _scrub(_clean_source(server.url), raw_values) if server.url and not url else None
        command = _scrub(server.command, raw_values) if server.command else None
        snippet = (
            url or bad_url or " ".join([command or "", *args]).strip() or server.uses or entry.name
        )
        ev = Evidence(
            kind=EvidenceKind.CONFIG,
            path=self.path,
            line=entry.line,
            key=entry.key,
            snippet=snippet[:240],
            detail=detail,
            scanner=self.scanner,
        )
        main = server.packages[0] if server.packages else None
        package_id = f"{main.ecosystem}:{main.name}" if main and main.name else None
        scope = str(entry.workspace) if entry.workspace is not None else self.path
        asset = observe.mcp_server(
            entry.name,
            scope=scope,
            transport=server.transport,
            command=command,
            url=url,
            package=package_id,
            evidence=ev,
        )
        attrs: dict[str, Any] = dict(asset.attributes)
        if bad_url:
            attrs["url"] = bad_url
            attrs["url_invalid"] = True
        if args:
            attrs["args"] = args
        if server.packages:
            attrs["package_specs"] = [_scrub(p.spec, raw_values) for p in server.packages]
            attrs["pinned"] = all(p.pinned for p in server.packages)
        attrs["env"] = sorted(server.env)
        attrs["headers"] = sorted({*server.headers, *server.proxy_headers})
        attrs["clients"] = [client.id]
        attrs["scopes"] = [entry.scope]
        if server.disabled:
            attrs["disabled"] = True
        if server.uses:
            attrs["uses"] = server.uses
        asset = asset.model_copy(
            update={
                "attributes": attrs,
                "tags": [f"mcp-client:{client.id}", f"mcp-scope:{entry.scope}"],
                "locations": [self.path],
            }
        )
        asset = self._add(asset)
        owner = self._add(self._owner(entry))
        self._relate(owner, RelationKind.CALLS_SERVICE, asset, ev)
        self._secrets(entry, asset, owner, secrets, ev)
        self._unpinned(entry, asset, server, raw_values, ev)
        if server.url:
            self._remote(entry, asset, server, url or "", ev)

    def _secrets(
        self, entry: _Entry, server: Asset, owner: Asset, secrets: list[_Secret], ev: Evidence
    ) -> None:
        seen: set[tuple[str, str]] = set()
        for s in secrets:
            if (s.fingerprint, s.where) in seen:
                continue
            seen.add((s.fingerprint, s.where))
            cred_ev = ev.model_copy(
                update={
                    "key": f"{entry.key}.{s.where}",
                    "snippet": f"{s.where} = {_REDACTED}",
                    "detail": f"{s.secret_type} in the {self.cfg.client.name} configuration of "
                    f"MCP server '{entry.name}'",
                }
            )
            cred = self._add(
                observe.credential(
                    s.secret_type, s.fingerprint, provider_id=s.provider_id, evidence=cred_ev
                )
            )
            self._relate(cred, RelationKind.DECLARED_IN, server, cred_ev)
            self._relate(cred, RelationKind.DECLARED_IN, owner, cred_ev)
            self._finding(
                Finding.new(
                    cred.id,
                    "AIP-MCP-001",
                    f"{s.secret_type} written into the configuration of MCP server '{entry.name}'",
                    Severity.HIGH,
                    fingerprint=f"{self.path}|{entry.key}.{s.where}|{s.fingerprint}",
                    description=(
                        f"A secret is stored in plain text at {entry.key}.{s.where} of "
                        f"{self.path} ({self.cfg.client.name}, {entry.scope} scope); anyone "
                        "who can read the file, or the repository it is committed to, can use "
                        "it. Remediation: revoke the secret, then reference it instead of "
                        "writing it: an input variable (${input:...} in VS Code), an "
                        "environment variable (${VAR}, ${env:VAR}) or the client's secret "
                        "store, and keep the file out of version control."
                    ),
                    tags=list(_TAGS_SECRET),
                    evidence=[cred_ev],
                )
            )

    def _unpinned(
        self, entry: _Entry, server: Asset, srv: _Server, secrets: set[str], ev: Evidence
    ) -> None:
        for p in srv.packages:
            if p.pinned:
                continue
            spec = _scrub(p.spec, secrets)
            how = {
                "npm": "an exact version (@scope/pkg@1.2.3)",
                "pypi": "an exact version (pkg==1.2.3, or pkg@1.2.3 for uvx)",
                "oci": "an image digest (image@sha256:...)",
            }[p.ecosystem]
            self._finding(
                Finding.new(
                    server.id,
                    "AIP-MCP-002",
                    f"MCP server '{entry.name}' runs an unpinned package: {spec}",
                    Severity.MEDIUM,
                    fingerprint=f"{self.path}|{entry.key}|{p.ecosystem}:{p.name or spec}",
                    description=(
                        f"{spec} is fetched from the {p.ecosystem} registry each time the "
                        "client starts the server, at whatever version is current: a "
                        "compromised or hijacked release runs on this machine with the "
                        "user's rights and the secrets given to the server. Remediation: pin "
                        f"{how} and update it deliberately after review."
                    ),
                    tags=list(_TAGS_UNPINNED),
                    evidence=[ev],
                )
            )

    def _remote(self, entry: _Entry, server: Asset, srv: _Server, url: str, ev: Evidence) -> None:
        raw = srv.url or ""
        try:
            parts = urlsplit(raw)
            host = parts.hostname or ""
            scheme = parts.scheme.lower()
        except ValueError:
            return
        if not host or _is_loopback(host) or scheme not in ("http", "https", "ws", "wss"):
            return
        if not _authenticated(srv, raw):
            self._finding(
                Finding.new(
                    server.id,
                    "AIP-MCP-003",
                    f"Remote MCP server '{entry.name}' has no authentication configured",
                    Severity.HIGH,
                    fingerprint=f"{self.path}|{entry.key}|no-auth",
                    description=(
                        f"The client connects to {url} without an Authorization or API-key "
                        "header, an OAuth block or a token: if the server accepts that, "
                        "anyone who can reach it can call its tools. Remediation: require "
                        "authentication on the server (OAuth, or a token sent in a header "
                        "whose value comes from an input or environment variable); if the "
                        "client negotiates OAuth by itself, mark this finding a false positive."
                    ),
                    tags=list(_TAGS_NO_AUTH),
                    evidence=[ev],
                )
            )
        if scheme in ("http", "ws"):
            self._finding(
                Finding.new(
                    server.id,
                    "AIP-MCP-003",
                    f"Remote MCP server '{entry.name}' is reached over plain {scheme}://",
                    Severity.HIGH,
                    fingerprint=f"{self.path}|{entry.key}|cleartext",
                    description=(
                        f"{url} is not encrypted: tool calls, their results and any token "
                        "sent with them can be read and altered on the network. "
                        "Remediation: use https:// (wss://)."
                    ),
                    tags=list(_TAGS_CLEARTEXT),
                    evidence=[ev],
                )
            )

    def observations(self) -> list[Observation]:
        """Assets, then relations, then findings."""
        return [*self.assets.values(), *self.relations.values(), *self.findings.values()]
