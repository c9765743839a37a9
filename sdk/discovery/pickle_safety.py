"""Static safety analysis of pickle streams: what loading a pickle would import and call.

Nothing here unpickles, imports or executes what it reads. :func:`analyse_pickle` walks the
opcodes of one pickle with a small symbolic stack machine of its own and resolves every
global the stream would import, the way :class:`pickle.Unpickler` would resolve it:

* ``GLOBAL`` and ``INST`` operands, ``STACK_GLOBAL`` operands tracked through the stack
  and the memo (``MEMOIZE``, ``PUT``, ``GET`` and their binary forms), so memo tricks
  resolve; a ``STACK_GLOBAL`` whose operands are not plain strings pushed by the stream
  cannot be resolved statically and is itself reported as unsafe;
* Python 2 names mapped as the unpickler maps them below protocol 3
  (``commands.Popen`` is reported as ``subprocess.Popen``, ``__builtin__.eval`` as
  ``builtins.eval``);
* names reached by calls the stream makes on globals: ``builtins.getattr(os, "system")``,
  ``importlib.import_module("os")``, ``operator.attrgetter("system")(os)``,
  ``operator.methodcaller("system", ...)(os)`` report ``os.system`` with the chain.

The decision is an allowlist (:func:`load_safe_globals`, data in
``aiposture/data/safe_globals.yaml``): any global not on it makes the stream unsafe, and
is reported by name. Knowledge of dangerous names only grades the severity (critical for
known code-execution names, high for any other unknown name); it never decides.

The analysis is bounded: opcode count, memo size, stack and mark depth and the length of
any operand kept are all limited, operands longer than the file are a clear error
(checked before anything is read), large byte operands are skipped rather than read, and
a truncated stream is reported with the byte offset. Limits and malformed input end the
walk with :attr:`PickleReport.error` set; what was found up to that point is kept,
because the real unpickler would have run it before failing.
"""

from __future__ import annotations

import io
import re
import struct
from _compat_pickle import IMPORT_MAPPING, NAME_MAPPING
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from importlib.resources import files
from typing import BinaryIO

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from aiposture.errors import ConfigError
from aiposture.models import Severity

__all__ = [
    "GlobalRef",
    "PickleLimits",
    "PickleReader",
    "PickleReport",
    "ReadError",
    "SafeGlobals",
    "UnsafeGlobal",
    "analyse_pickle",
    "analyse_pickles",
    "load_safe_globals",
    "parse_numpy_descr",
    "unsafe_names",
]

# --- the allowlist ---------------------------------------------------------------------

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DOTTED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")


class _SafeGlobalsFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = Field(ge=1)
    modules: tuple[str, ...] = ()
    globals: dict[str, tuple[str, ...]]
    critical_modules: tuple[str, ...]
    critical_names: dict[str, tuple[str, ...]]

    @field_validator("modules", "critical_modules")
    @classmethod
    def _module_names(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for name in v:
            if not _DOTTED.fullmatch(name):
                raise ValueError(f"not a module name: {name!r}")
        return v

    @field_validator("globals", "critical_names")
    @classmethod
    def _names(cls, v: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        for module, names in v.items():
            if not _DOTTED.fullmatch(module):
                raise ValueError(f"not a module name: {module!r}")
            for name in names:
                if not _DOTTED.fullmatch(name):
                    raise ValueError(f"{module}: not a global name: {name!r}")
        return v


@dataclass(frozen=True)
class SafeGlobals:
    """The allowlist of globals a pickle may import, and the severity grading of the rest.

    Attributes:
        version: Version of the data file.
        names: ``(module, name)`` pairs that are safe.
        modules: Modules every public name of which is a data class (a name without
            dots that does not start with ``_`` is safe there).
        critical_modules: Modules (and their submodules) whose names run code, touch
            files or the network: any of them not allowlisted is critical.
        critical_names: Single names that are critical (``builtins.eval``).
    """

    version: int
    names: frozenset[tuple[str, str]]
    modules: frozenset[str]
    critical_modules: frozenset[str]
    critical_names: frozenset[tuple[str, str]]

    def is_safe(self, module: str, name: str) -> bool:
        """Whether importing ``module.name`` while unpickling is allowed."""
        if (module, name) in self.names:
            return True
        return module in self.modules and _IDENT.fullmatch(name) is not None and name[0] != "_"

    def severity(self, module: str, name: str) -> Severity:
        """Severity of importing ``module.name`` when it is not allowlisted."""
        mapped_module, mapped_name = _py2_to_py3(module, name)
        for mod, nm in {(module, name), (mapped_module, mapped_name)}:
            head = nm.split(".", 1)[0]
            if (mod, nm) in self.critical_names or (mod, head) in self.critical_names:
                return Severity.CRITICAL
            parts = mod.split(".")
            for i in range(1, len(parts) + 1):
                if ".".join(parts[:i]) in self.critical_modules:
                    return Severity.CRITICAL
        return Severity.HIGH


@cache
def load_safe_globals() -> SafeGlobals:
    """The allowlist shipped with aiposture, loaded and validated once.

    Raises:
        ConfigError: The data file is missing or invalid.
    """
    try:
        text = files("aiposture.data").joinpath("safe_globals.yaml").read_text(encoding="utf-8")
        raw = yaml.safe_load(text)
        data = _SafeGlobalsFile.model_validate(raw)
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        raise ConfigError(f"invalid safe_globals.yaml: {exc}") from exc
    return SafeGlobals(
        version=data.version,
        names=frozenset((m, n) for m, names in data.globals.items() for n in names),
        modules=frozenset(data.modules),
        critical_modules=frozenset(data.critical_modules),
        critical_names=frozenset((m, n) for m, names in data.critical_names.items() for n in names),
    )


def _py2_to_py3(module: str, name: str) -> tuple[str, str]:
    if (module, name) in NAME_MAPPING:
        return NAME_MAPPING[(module, name)]
    return IMPORT_MAPPING.get(module, module), name


# --- results ---------------------------------------------------------------------------


@dataclass(frozen=True)
class GlobalRef:
    """One global a pickle imports (or reaches through a call on another global).

    Attributes:
        module: Module, after Python 2 name mapping where the unpickler applies it.
        name: Name within the module (may be dotted).
        opcode: ``GLOBAL``, ``INST``, ``STACK_GLOBAL``, ``EXT`` or, for a reached
            name, the call that reaches it (``builtins.getattr``).
        offset: Byte offset of the opcode in the stream.
        written: The name as written in the stream, when mapping changed it.
    """

    module: str
    name: str
    opcode: str
    offset: int
    written: str | None = None

    @property
    def qualname(self) -> str:
        """``module.name``."""
        return f"{self.module}.{self.name}"


@dataclass(frozen=True)
class UnsafeGlobal:
    """A global that is not allowlisted (or a construct that hides one)."""

    name: str
    severity: Severity
    offset: int
    reason: str


@dataclass
class PickleReport:
    """What one pickle stream imports and whether loading it is safe.

    Attributes:
        protocol: Highest protocol declared by a ``PROTO`` opcode (0 if none).
        opcodes: Number of opcodes read.
        start: Byte offset where the stream starts.
        end: Byte offset just past its ``STOP`` (or where the walk ended).
        globals: Every global imported, in order of first appearance.
        reached: Names reached through calls on globals (getattr chains and the like).
        unsafe: Globals not allowlisted and unresolvable constructs, most severe first.
        error: Why the walk ended early (truncated, malformed, over a limit), if it did.
        result: The symbolic value left by ``STOP`` (a plain ``int``, ``str``... when the
            stream pickles one; used to recognise PyTorch's legacy format).
        joblib_arrays: Number of joblib array payloads skipped.
    """

    protocol: int = 0
    opcodes: int = 0
    start: int = 0
    end: int = 0
    globals: list[GlobalRef] = field(default_factory=list)
    reached: list[GlobalRef] = field(default_factory=list)
    unsafe: list[UnsafeGlobal] = field(default_factory=list)
    error: str | None = None
    result: object = None
    joblib_arrays: int = 0

    @property
    def safe(self) -> bool:
        """No unsafe global was found (an ``error`` is reported separately)."""
        return not self.unsafe

    @property
    def severity(self) -> Severity | None:
        """The most severe unsafe global's severity, or None when safe."""
        if not self.unsafe:
            return None
        return max((u.severity for u in self.unsafe), key=lambda s: s.rank)

    def global_names(self) -> list[str]:
        """Qualified names of the globals imported, without duplicates, in order."""
        return list(dict.fromkeys(g.qualname for g in self.globals))

    def merge(self, other: PickleReport) -> None:
        """Add another stream's findings (a nested stream) to this report."""
        self.globals.extend(other.globals)
        self.reached.extend(other.reached)
        self.unsafe.extend(other.unsafe)
        self.joblib_arrays += other.joblib_arrays
        self.protocol = max(self.protocol, other.protocol)
        self.opcodes += other.opcodes


@dataclass(frozen=True)
class PickleLimits:
    """Bounds on the work and memory one analysis may spend."""

    max_opcodes: int = 20_000_000
    max_memo: int = 1_000_000
    max_stack: int = 1_000_000
    max_marks: int = 100_000
    max_kept_string: int = 1024
    max_line: int = 4096
    max_container_items: int = 64
    max_nesting: int = 4


# --- reading ---------------------------------------------------------------------------


class ReadError(Exception):
    """A stream cannot be read on (truncated, malformed, over a limit)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class PickleReader:
    """A forward reader over a binary stream that knows its offset and never over-reads.

    Args:
        stream: The stream, positioned where the pickle starts.
        size: Bytes available from the stream's current position (None if unknown,
            e.g. a decompressing stream); declared lengths past it are errors at once.
        base: Offset of the stream's current position in the file, for messages.
    """

    _CHUNK = 1 << 20

    def __init__(self, stream: BinaryIO, *, size: int | None = None, base: int = 0) -> None:
        self._f = stream
        self.pos = base
        self._end = base + size if size is not None else None
        #: Offset of the opcode being read, for messages (set by the analyser).
        self.opcode_at: int | None = None
        try:
            self._seekable = stream.seekable()
        except (AttributeError, ValueError, OSError):
            self._seekable = False

    def remaining(self) -> int | None:
        """Bytes left, if known."""
        return None if self._end is None else self._end - self.pos

    def _at(self) -> int:
        return self.opcode_at if self.opcode_at is not None else self.pos

    def _check(self, n: int, what: str) -> None:
        if self._end is not None and self.pos + n > self._end:
            raise ReadError(
                f"truncated at byte {self._end}: {what} at byte {self._at()} needs {n:,} "
                f"bytes, {self._end - self.pos:,} left"
            )

    def read(self, n: int, what: str = "operand") -> bytes:
        """Exactly ``n`` bytes (``n`` is bounded by the caller)."""
        self._check(n, what)
        data = self._f.read(n)
        if len(data) != n:
            end = self.pos + len(data)
            raise ReadError(
                f"truncated at byte {end}: {what} at byte {self._at()} needs {n:,} bytes"
            )
        self.pos += n
        return data

    def skip(self, n: int, what: str = "operand") -> None:
        """Move past ``n`` bytes without keeping them."""
        self._check(n, what)
        if self._seekable and self._end is not None:
            self._f.seek(n, io.SEEK_CUR)
            self.pos += n
            return
        left = n
        while left:
            chunk = self._f.read(min(left, self._CHUNK))
            if not chunk:
                raise ReadError(
                    f"truncated at byte {self.pos + n - left}: {what} at byte {self._at()} "
                    f"needs {n:,} bytes"
                )
            left -= len(chunk)
        self.pos += n

    def readline(self, limit: int, what: str) -> bytes:
        """One line without its newline, at most ``limit`` bytes."""
        start = self.pos
        buf = bytearray()
        while True:
            ch = self._f.read(1)
            if not ch:
                raise ReadError(
                    f"truncated at byte {self.pos}: {what} at byte {start} has no newline"
                )
            self.pos += 1
            if ch == b"\n":
                return bytes(buf)
            buf += ch
            if len(buf) > limit:
                raise ReadError(f"{what} at byte {start} is longer than {limit} bytes")

    def at_eof(self) -> bool:
        """Whether the stream is exhausted (peeks one byte where it must)."""
        if self._end is not None:
            return self.pos >= self._end
        peek = getattr(self._f, "peek", None)
        if peek is not None:
            return not peek(1)
        return False


# --- symbolic values -------------------------------------------------------------------


class _Opaque:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<opaque>"


_OPAQUE = _Opaque()


class _Mark:
    __slots__ = ()


@dataclass(frozen=True, eq=False)
class _Global:
    module: str
    name: str

    @property
    def qualname(self) -> str:
        return f"{self.module}.{self.name}"


@dataclass(frozen=True, eq=False)
class _Module:
    name: str


@dataclass(frozen=True, eq=False)
class _Getter:
    """``operator.attrgetter(path)`` / ``methodcaller(name)`` / ``itemgetter(key)``."""

    kind: str
    via: str
    path: str


@dataclass(eq=False)
class _Obj:
    cls: object
    args: object
    state: object = None


@dataclass(eq=False)
class _Dict:
    items: dict[str, object] = field(default_factory=dict)


_Value = object

_GETATTR = {("builtins", "getattr")}
_IMPORTERS = {
    ("builtins", "__import__"),
    ("importlib", "import_module"),
    ("importlib", "__import__"),
}
_GETTERS = {
    ("operator", "attrgetter"): "attrgetter",
    ("operator", "methodcaller"): "methodcaller",
    ("operator", "itemgetter"): "itemgetter",
    ("_operator", "attrgetter"): "attrgetter",
    ("_operator", "methodcaller"): "methodcaller",
    ("_operator", "itemgetter"): "itemgetter",
}
_JOBLIB_WRAPPERS = {
    ("joblib.numpy_pickle", "NumpyArrayWrapper"),
    ("sklearn.externals.joblib.numpy_pickle", "NumpyArrayWrapper"),
}

#: Called after a BUILD; may read past array payloads and analyse nested streams.
BuildHook = Callable[[object, object, PickleReader, PickleReport], None]


def _text(raw: bytes, what: str, offset: int) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ReadError(f"{what} at byte {offset} is not valid UTF-8") from None


def _int_line(raw: bytes, offset: int) -> object:
    text = raw.decode("ascii", "replace").strip().rstrip("L")
    if text in ("00", "01"):
        return text == "01"
    try:
        value = int(text, 0 if text[:2].lower() in ("0x", "0o", "0b") else 10)
    except ValueError:
        raise ReadError(f"invalid integer literal at byte {offset}") from None
    return value


def _unquote(raw: bytes, offset: int) -> bytes:
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[:1] in (b"'", b'"'):
        return raw[1:-1]
    raise ReadError(f"STRING operand at byte {offset} is not quoted")


class _Machine:
    """The symbolic stack machine for one pickle stream."""

    def __init__(
        self,
        reader: PickleReader,
        allow: SafeGlobals,
        limits: PickleLimits,
        hook: BuildHook | None,
    ) -> None:
        self.r = reader
        self.allow = allow
        self.limits = limits
        self.hook = hook
        self.stack: list[object] = []
        self.marks: list[int] = []
        self.memo: dict[int, object] = {}
        self.report = PickleReport(start=reader.pos)
        self._seen_unsafe: set[tuple[str, int]] = set()

    # -- helpers ----------------------------------------------------------------------
    def push(self, value: object) -> None:
        if len(self.stack) >= self.limits.max_stack:
            raise ReadError(f"pickle bomb: stack deeper than {self.limits.max_stack:,} items")
        self.stack.append(value)

    def pop(self, op: str, offset: int) -> object:
        if not self.stack or (self.marks and len(self.stack) <= self.marks[-1]):
            raise ReadError(f"{op} at byte {offset} pops from an empty stack")
        return self.stack.pop()

    def pop_mark(self, op: str, offset: int) -> list[object]:
        if not self.marks:
            raise ReadError(f"{op} at byte {offset} has no MARK")
        at = self.marks.pop()
        items = self.stack[at:]
        del self.stack[at:]
        return items

    def top(self, op: str, offset: int) -> object:
        if not self.stack or (self.marks and len(self.stack) <= self.marks[-1]):
            raise ReadError(f"{op} at byte {offset} needs a value on the stack")
        return self.stack[-1]

    def memo_put(self, key: int, offset: int) -> None:
        if len(self.memo) >= self.limits.max_memo and key not in self.memo:
            raise ReadError(f"pickle bomb: memo larger than {self.limits.max_memo:,} entries")
        self.memo[key] = self.top("PUT", offset)

    def memo_get(self, key: int, offset: int) -> None:
        try:
            self.push(self.memo[key])
        except KeyError:
            raise ReadError(f"memo key {key} read at byte {offset} was never stored") from None

    def keep_str(self, raw: bytes, offset: int, what: str) -> object:
        if len(raw) > self.limits.max_kept_string:
            return _OPAQUE
        return _text(raw, what, offset)

    def string(self, n: int, offset: int, what: str) -> object:
        if n > self.limits.max_kept_string:
            self.r.skip(n, what)
            return _OPAQUE
        return self.keep_str(self.r.read(n, what), offset, what)

    def unsafe(self, name: str, severity: Severity, offset: int, reason: str) -> None:
        if (name, offset) in self._seen_unsafe:
            return
        self._seen_unsafe.add((name, offset))
        self.report.unsafe.append(UnsafeGlobal(name, severity, offset, reason))

    def make_global(self, module: str, name: str, opcode: str, offset: int) -> _Global:
        written = f"{module}.{name}"
        if self.report.protocol < 3:
            module, name = _py2_to_py3(module, name)
        ref = GlobalRef(
            module, name, opcode, offset, written if written != f"{module}.{name}" else None
        )
        self.report.globals.append(ref)
        if not self.allow.is_safe(module, name):
            sev = self.allow.severity(module, name)
            shown = ref.qualname if ref.written is None else f"{ref.qualname} (written {written})"
            self.unsafe(ref.qualname, sev, offset, f"{opcode} imports {shown}, not allowlisted")
        return _Global(module, name)

    def reach(self, module: str, name: str, via: str, offset: int) -> _Global:
        ref = GlobalRef(module, name, via, offset)
        self.report.reached.append(ref)
        sev = self.allow.severity(module, name)
        if self.allow.is_safe(module, name):
            sev = Severity.HIGH  # an allowlisted name reached through a call is still a call
        self.unsafe(ref.qualname, sev, offset, f"{via} reaches {ref.qualname}")
        return _Global(module, name)

    # -- calls --------------------------------------------------------------------------
    def call(self, func: object, args: object, offset: int) -> object:
        if not isinstance(args, tuple):
            return _Obj(func, args)
        if isinstance(func, _Global):
            key = (func.module, func.name)
            if key in _GETATTR and len(args) >= 2 and isinstance(args[1], str):
                target = args[0]
                if isinstance(target, _Global):
                    return self.reach(
                        target.module, f"{target.name}.{args[1]}", "builtins.getattr", offset
                    )
                if isinstance(target, _Module):
                    return self.reach(target.name, args[1], "builtins.getattr", offset)
            if key in _IMPORTERS and args and isinstance(args[0], str):
                return _Module(args[0])
            kind = _GETTERS.get(key)
            if kind is not None and args and isinstance(args[0], str):
                return _Getter(kind, func.qualname, args[0])
        if isinstance(func, _Getter) and len(args) == 1:
            target = args[0]
            base = (
                (target.module, target.name + ".")
                if isinstance(target, _Global)
                else (target.name, "")
                if isinstance(target, _Module)
                else None
            )
            if base is not None:
                if func.kind == "itemgetter" and isinstance(target, _Global):
                    if target.qualname == "sys.modules":
                        return _Module(func.path)
                    return _OPAQUE
                return self.reach(base[0], base[1] + func.path, func.via, offset)
        return _Obj(func, args)

    # -- the walk -----------------------------------------------------------------------
    def run(self) -> PickleReport:
        rep = self.report
        try:
            self._loop()
        except ReadError as exc:
            rep.error = exc.reason
        rep.end = self.r.pos
        order = {s: s.rank for s in Severity}
        rep.unsafe.sort(key=lambda u: (-order[u.severity], u.offset))
        return rep

    def _loop(self) -> None:
        r, lim, rep = self.r, self.limits, self.report
        unpack = struct.unpack
        while True:
            offset = r.pos
            r.opcode_at = None
            if rep.opcodes >= lim.max_opcodes:
                raise ReadError(f"more than {lim.max_opcodes:,} opcodes; analysis stopped")
            rep.opcodes += 1
            code = r.read(1, "opcode")[0]
            r.opcode_at = offset
            c = chr(code)
            if c == ".":  # STOP
                rep.result = self.stack[-1] if self.stack else None
                return
            if c == "\x95":  # FRAME
                r.read(8, "FRAME length")
            elif c == "\x80":  # PROTO
                proto = r.read(1, "PROTO")[0]
                if proto > 5:
                    raise ReadError(f"unsupported pickle protocol {proto} at byte {offset}")
                rep.protocol = max(rep.protocol, proto)
            elif c == "(":
                if len(self.marks) >= lim.max_marks:
                    raise ReadError(f"pickle bomb: more than {lim.max_marks:,} nested MARKs")
                self.marks.append(len(self.stack))
            elif c == "N":
                self.push(None)
            elif c == "\x88":
                self.push(True)
            elif c == "\x89":
                self.push(False)
            elif c == "K":
                self.push(r.read(1)[0])
            elif c == "M":
                self.push(unpack("<H", r.read(2))[0])
            elif c == "J":
                self.push(unpack("<i", r.read(4))[0])
            elif c == "\x8a":  # LONG1
                n = r.read(1)[0]
                self.push(int.from_bytes(r.read(n), "little", signed=True))
            elif c == "\x8b":  # LONG4
                n = unpack("<i", r.read(4))[0]
                if n < 0:
                    raise ReadError(f"LONG4 at byte {offset} has a negative length")
                if n > 64:
                    r.skip(n, "LONG4")
                    self.push(_OPAQUE)
                else:
                    self.push(int.from_bytes(r.read(n), "little", signed=True))
            elif c == "I":
                self.push(_int_line(r.readline(lim.max_line, "INT"), offset))
            elif c == "L":
                self.push(_int_line(r.readline(lim.max_line, "LONG"), offset))
            elif c == "F":
                r.readline(lim.max_line, "FLOAT")
                self.push(_OPAQUE)
            elif c == "G":
                r.read(8)
                self.push(_OPAQUE)
            elif c == "S":  # STRING: a quoted repr
                raw = _unquote(r.readline(lim.max_line, "STRING"), offset)
                self.push(self.keep_str(raw, offset, "STRING"))
            elif c == "T":  # BINSTRING
                n = unpack("<i", r.read(4))[0]
                if n < 0:
                    raise ReadError(f"BINSTRING at byte {offset} has a negative length")
                self.push(self._latin1(n, offset))
            elif c == "U":  # SHORT_BINSTRING
                self.push(self._latin1(r.read(1)[0], offset))
            elif c == "V":  # UNICODE (raw-unicode-escape)
                raw = r.readline(lim.max_line, "UNICODE")
                self.push(
                    raw.decode("raw-unicode-escape", "replace")
                    if len(raw) <= lim.max_kept_string
                    else _OPAQUE
                )
            elif c == "X":
                self.push(self.string(unpack("<I", r.read(4))[0], offset, "BINUNICODE"))
            elif c == "\x8c":
                self.push(self.string(r.read(1)[0], offset, "SHORT_BINUNICODE"))
            elif c == "\x8d":
                self.push(self.string(unpack("<Q", r.read(8))[0], offset, "BINUNICODE8"))
            elif c == "B":
                r.skip(unpack("<I", r.read(4))[0], "BINBYTES")
                self.push(_OPAQUE)
            elif c == "C":
                r.skip(r.read(1)[0], "SHORT_BINBYTES")
                self.push(_OPAQUE)
            elif c == "\x8e":
                r.skip(unpack("<Q", r.read(8))[0], "BINBYTES8")
                self.push(_OPAQUE)
            elif c == "\x96":
                r.skip(unpack("<Q", r.read(8))[0], "BYTEARRAY8")
                self.push(_OPAQUE)
            elif c == "\x97":  # NEXT_BUFFER (out-of-band data: the loader supplies it)
                self.push(_OPAQUE)
            elif c == "\x98":  # READONLY_BUFFER
                self.top("READONLY_BUFFER", offset)
            elif c == ")":
                self.push(())
            elif c == "]" or c == "\x8f":
                self.push(_OPAQUE)
            elif c == "}":
                self.push(_Dict())
            elif c == "\x85":
                self.push((self.pop("TUPLE1", offset),))
            elif c == "\x86":
                b = self.pop("TUPLE2", offset)
                a = self.pop("TUPLE2", offset)
                self.push((a, b))
            elif c == "\x87":
                c3 = self.pop("TUPLE3", offset)
                b = self.pop("TUPLE3", offset)
                a = self.pop("TUPLE3", offset)
                self.push((a, b, c3))
            elif c == "t":
                items = self.pop_mark("TUPLE", offset)
                self.push(tuple(items) if len(items) <= lim.max_container_items else _OPAQUE)
            elif c == "l" or c == "\x91":  # LIST, FROZENSET
                self.pop_mark("LIST", offset)
                self.push(_OPAQUE)
            elif c == "d":
                items = self.pop_mark("DICT", offset)
                d = _Dict()
                self._set_items(d, items)
                self.push(d)
            elif c == "a":
                self.pop("APPEND", offset)
                self.top("APPEND", offset)
            elif c in "e\x90":  # APPENDS, ADDITEMS
                self.pop_mark("APPENDS", offset)
                self.top("APPENDS", offset)
            elif c == "s":
                v = self.pop("SETITEM", offset)
                k = self.pop("SETITEM", offset)
                target = self.top("SETITEM", offset)
                if isinstance(target, _Dict):
                    self._set_items(target, [k, v])
            elif c == "u":
                items = self.pop_mark("SETITEMS", offset)
                target = self.top("SETITEMS", offset)
                if isinstance(target, _Dict):
                    self._set_items(target, items)
            elif c == "0":
                if self.marks and len(self.stack) == self.marks[-1]:
                    self.marks.pop()
                else:
                    self.pop("POP", offset)
            elif c == "1":
                self.pop_mark("POP_MARK", offset)
            elif c == "2":
                self.push(self.top("DUP", offset))
            elif c == "p":
                key = _int_line(r.readline(lim.max_line, "PUT"), offset)
                self.memo_put(int(key) if isinstance(key, int) else -1, offset)
            elif c == "q":
                self.memo_put(r.read(1)[0], offset)
            elif c == "r":
                self.memo_put(unpack("<I", r.read(4))[0], offset)
            elif c == "\x94":
                self.memo_put(len(self.memo), offset)
            elif c == "g":
                key = _int_line(r.readline(lim.max_line, "GET"), offset)
                self.memo_get(int(key) if isinstance(key, int) else -1, offset)
            elif c == "h":
                self.memo_get(r.read(1)[0], offset)
            elif c == "j":
                self.memo_get(unpack("<I", r.read(4))[0], offset)
            elif c == "c":  # GLOBAL
                module = _text(r.readline(lim.max_line, "GLOBAL module"), "GLOBAL", offset)
                name = _text(r.readline(lim.max_line, "GLOBAL name"), "GLOBAL", offset)
                self.push(self.make_global(module, name, "GLOBAL", offset))
            elif c == "\x93":  # STACK_GLOBAL
                name_v = self.pop("STACK_GLOBAL", offset)
                module_v = self.pop("STACK_GLOBAL", offset)
                if isinstance(module_v, str) and isinstance(name_v, str):
                    self.push(self.make_global(module_v, name_v, "STACK_GLOBAL", offset))
                else:
                    self.unsafe(
                        "<unresolved STACK_GLOBAL>",
                        Severity.CRITICAL,
                        offset,
                        "STACK_GLOBAL operands are computed at load time, not plain strings: "
                        "the imported name cannot be known without running the pickle",
                    )
                    self.push(_Global("?", "?"))
            elif c == "i":  # INST
                module = _text(r.readline(lim.max_line, "INST module"), "INST", offset)
                name = _text(r.readline(lim.max_line, "INST name"), "INST", offset)
                inst_args = self.pop_mark("INST", offset)
                inst_cls = self.make_global(module, name, "INST", offset)
                self.push(self.call(inst_cls, tuple(inst_args), offset))
            elif c == "o":  # OBJ
                items = self.pop_mark("OBJ", offset)
                if not items:
                    raise ReadError(f"OBJ at byte {offset} has no class")
                self.push(self.call(items[0], tuple(items[1:]), offset))
            elif c in "\x82\x83\x84":  # EXT1/2/4: the copyreg extension registry
                size = {"\x82": 1, "\x83": 2, "\x84": 4}[c]
                ext = int.from_bytes(r.read(size), "little")
                self.unsafe(
                    f"<extension code {ext}>",
                    Severity.HIGH,
                    offset,
                    "EXT opcode imports whatever the loading process registered under "
                    f"extension code {ext}; not allowlisted",
                )
                self.push(_OPAQUE)
            elif c == "R":  # REDUCE
                args = self.pop("REDUCE", offset)
                func = self.pop("REDUCE", offset)
                self.push(self.call(func, args, offset))
            elif c == "\x81":  # NEWOBJ
                args = self.pop("NEWOBJ", offset)
                cls = self.pop("NEWOBJ", offset)
                self.push(_Obj(cls, args))
            elif c == "\x92":  # NEWOBJ_EX
                self.pop("NEWOBJ_EX", offset)
                args = self.pop("NEWOBJ_EX", offset)
                cls = self.pop("NEWOBJ_EX", offset)
                self.push(_Obj(cls, args))
            elif c == "b":  # BUILD
                state = self.pop("BUILD", offset)
                obj = self.top("BUILD", offset)
                if isinstance(obj, _Obj):
                    obj.state = state
                if self.hook is not None:
                    self.hook(obj, state, r, rep)
            elif c == "P":  # PERSID
                r.readline(lim.max_line, "PERSID")
                self.push(_OPAQUE)
            elif c == "Q":  # BINPERSID
                self.pop("BINPERSID", offset)
                self.push(_OPAQUE)
            else:
                raise ReadError(f"invalid pickle opcode 0x{code:02x} at byte {offset}")

    def _latin1(self, n: int, offset: int) -> object:
        # Python 2 str: pickle decodes it as ASCII by default; keep it for name resolution.
        if n > self.limits.max_kept_string:
            self.r.skip(n, "BINSTRING")
            return _OPAQUE
        return self.r.read(n, "BINSTRING").decode("latin-1")

    def _set_items(self, d: _Dict, items: list[object]) -> None:
        for i in range(0, len(items) - 1, 2):
            k = items[i]
            if isinstance(k, str) and len(d.items) < self.limits.max_container_items:
                d.items[k] = items[i + 1]


# --- joblib ------------------------------------------------------------------------------


def _dtype_info(dtype: object) -> tuple[int, bool] | None:
    """(itemsize, has_objects) of a pickled ``numpy.dtype`` object, read statically."""
    if not isinstance(dtype, _Obj):
        return None
    args = dtype.args
    if not (isinstance(args, tuple) and args and isinstance(args[0], str)):
        return None
    descr = args[0]
    state = dtype.state
    if isinstance(state, tuple) and len(state) >= 8:
        elsize, flags = state[5], state[7]
        if isinstance(flags, int) and flags & 1:
            return (elsize if isinstance(elsize, int) and elsize > 0 else 8), True
        if isinstance(elsize, int) and elsize > 0:
            return elsize, False
    return parse_numpy_descr(descr)


_DESCR = re.compile(r"[<>|=]?([a-zA-Z?])(\d*)(?:\[\w+\])?")
_KIND_SIZES = {"?": 1, "b": 1, "B": 1, "h": 2, "H": 2, "i": 4, "I": 4, "l": 8, "L": 8}
_KIND_SIZES.update({"q": 8, "Q": 8, "e": 2, "f": 4, "d": 8, "g": 16, "F": 8, "D": 16})


def parse_numpy_descr(descr: str) -> tuple[int, bool] | None:
    """(itemsize, has_objects) of a simple numpy type string such as ``<f8`` or ``|U5``.

    Returns None for a string this reader does not understand.
    """
    m = _DESCR.fullmatch(descr.strip())
    if m is None:
        return None
    kind, digits = m.group(1), m.group(2)
    if kind == "O":
        return 8, True
    if digits:
        n = int(digits)
        return (n * 4 if kind == "U" else n), False
    if kind in ("M", "m"):
        return 8, False
    size = _KIND_SIZES.get(kind)
    return (size, False) if size is not None else None


def _joblib_hook(nested: Callable[[PickleReader], PickleReport]) -> BuildHook:
    """A BUILD hook that steps over the raw array bytes joblib writes after each wrapper."""

    def hook(obj: object, state: object, r: PickleReader, rep: PickleReport) -> None:
        if not (isinstance(obj, _Obj) and isinstance(obj.cls, _Global)):
            return
        if (obj.cls.module, obj.cls.name) not in _JOBLIB_WRAPPERS:
            return
        where = f"joblib array wrapper built at byte {r.pos - 1}"
        if not isinstance(state, _Dict):
            raise ReadError(f"{where}: its state is not a plain dict")
        shape = state.items.get("shape")
        if not (isinstance(shape, tuple) and all(isinstance(x, int) and x >= 0 for x in shape)):
            raise ReadError(f"{where}: its shape cannot be read statically")
        info = _dtype_info(state.items.get("dtype"))
        if info is None:
            raise ReadError(f"{where}: its dtype cannot be read statically")
        itemsize, has_objects = info
        rep.joblib_arrays += 1
        if has_objects:
            # An object array is a whole pickle stream of its own, loaded in turn.
            inner = nested(r)
            rep.merge(inner)
            if inner.error is not None:
                raise ReadError(f"nested object-array pickle: {inner.error}")
            return
        align = state.items.get("numpy_array_alignment_bytes")
        if isinstance(align, int) and align:
            pad = r.read(1, "joblib padding length")[0]
            r.skip(pad, "joblib padding")
        count = 1
        for dim in shape:
            count *= dim
        r.skip(count * itemsize, f"joblib array data ({count:,} x {itemsize} bytes)")

    return hook


# --- entry points ----------------------------------------------------------------------


def analyse_pickle(
    source: BinaryIO | PickleReader,
    *,
    allowlist: SafeGlobals | None = None,
    limits: PickleLimits | None = None,
    joblib: bool = True,
    _depth: int = 0,
) -> PickleReport:
    """Analyse one pickle stream (up to and including its ``STOP``) without loading it.

    Args:
        source: A binary stream positioned at the pickle, or a :class:`PickleReader`.
        allowlist: The safe globals (aiposture's shipped list by default).
        limits: Bounds on the work.
        joblib: Step over the raw array bytes that ``joblib.dump`` interleaves after each
            ``NumpyArrayWrapper`` (what ``joblib.load`` does), and analyse the nested
            streams of object arrays.

    Returns:
        The report; ``error`` says why the walk ended early, if it did.
    """
    allow = allowlist if allowlist is not None else load_safe_globals()
    lim = limits if limits is not None else PickleLimits()
    reader = source if isinstance(source, PickleReader) else PickleReader(source)
    hook: BuildHook | None = None
    if joblib and _depth < lim.max_nesting:

        def nested(r: PickleReader) -> PickleReport:
            return analyse_pickle(r, allowlist=allow, limits=lim, joblib=False, _depth=_depth + 1)

        hook = _joblib_hook(nested)
    return _Machine(reader, allow, lim, hook).run()


def analyse_pickles(
    reader: PickleReader,
    *,
    count: int | None = None,
    allowlist: SafeGlobals | None = None,
    limits: PickleLimits | None = None,
    joblib: bool = True,
) -> Iterator[PickleReport]:
    """Analyse consecutive pickle streams (PyTorch's legacy format writes several).

    Stops after ``count`` streams, at the end of the data, or after a stream that ends
    with an error.
    """
    n = 0
    while count is None or n < count:
        if n and reader.at_eof():
            return
        rep = analyse_pickle(reader, allowlist=allowlist, limits=limits, joblib=joblib)
        yield rep
        n += 1
        if rep.error is not None:
            return


def unsafe_names(reports: Iterable[PickleReport]) -> list[str]:
    """The unsafe names of several reports, without duplicates, most severe first."""
    items = [u for rep in reports for u in rep.unsafe]
    items.sort(key=lambda u: -u.severity.rank)
    return list(dict.fromkeys(u.name for u in items))
