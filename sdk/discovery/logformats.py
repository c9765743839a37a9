"""Egress, proxy and DNS logs, read line by line whatever their format.

Formats (auto-detected from the first non-empty lines, or named):

``csv``
    Comma-, tab-, semicolon- or pipe-separated values with a header row. Columns
    are found by name, case-insensitively, with ``-`` and spaces read as ``_``
    (:data:`FIELD_NAMES` lists every name understood): the destination from
    ``sni``/``server_name``, ``host``/``domain``/``query``, ``url`` or
    ``dest``/``dst``; the user from ``user``/``username``/``src_user``; the client
    from ``client``/``src_ip``/``source``; bytes from ``bytes_out``/``bytes_sent``/
    ``cs_bytes`` and ``bytes_in``/``bytes_received``/``sc_bytes``; the time from
    ``time``/``timestamp``/``date`` (``date`` and ``time`` columns are joined).
``jsonl`` (also ``zeek_json``)
    One JSON object per line, with the same names as keys. A dotted name is
    looked up as a flat key first (Zeek writes ``"id.orig_h"``), then as a path
    into nested objects (ECS writes ``{"url": {"domain": ...}}``).
``squid``
    Squid's native ``access.log``: ``time elapsed client code/status bytes method
    URL user hierarchy/peer type``. ``CONNECT`` lines name ``host:port``. The
    native format records only the bytes sent back to the client (``bytes_in``);
    ``bytes_out`` is 0.
``zeek``
    Zeek's tab-separated logs with their ``#separator``/``#fields`` header:
    ``dns.log`` (``query``), ``ssl.log`` (``server_name``), ``http.log``
    (``host``), ``conn.log`` (addresses and byte counts only).
``w3c``
    W3C extended log files (``#Fields:`` directive), as IIS and Blue Coat write.

The destination of a line is the first of SNI, host name, URL host and
destination that is a name, not an IP address: a line whose destination is an
IP but whose SNI or URL names the service counts for the service.

A line that does not parse in the file's format (a JSON line in a Squid log,
a row with a column too many, a line over 1 MiB) is skipped and counted by
reason in :class:`LogStats`; the read goes on. Files compressed with gzip, bzip2
or xz are read through (recognised by their first bytes), in 1 MiB blocks, so
memory stays flat for any size. Nothing in a log is ever executed or evaluated.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import io
import json
import lzma
import re
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, Final, Generic, TypeVar, cast

from aiposture.discovery.base import TargetError
from aiposture.errors import ConfigError

__all__ = [
    "FIELD_NAMES",
    "FORMATS",
    "IP_ADDRESS",
    "MAX_LINE",
    "HostSelector",
    "LogReader",
    "LogRecord",
    "LogStats",
    "canonical_format",
    "detect_format",
    "url_host",
]

T = TypeVar("T")

#: Formats a log may be read as.
FORMATS: tuple[str, ...] = ("csv", "jsonl", "squid", "zeek", "w3c")
_FORMAT_ALIASES: dict[str, str] = {
    "json": "jsonl",
    "ndjson": "jsonl",
    "zeek_json": "jsonl",
    "zeek-json": "jsonl",
    "zeek_tsv": "zeek",
    "zeek-tsv": "zeek",
    "bro": "zeek",
    "squid_native": "squid",
    "tsv": "csv",
}

#: Field (column or key) names understood, by role, most preferred first.
FIELD_NAMES: dict[str, tuple[str, ...]] = {
    "sni": (
        "sni",
        "server_name",
        "tls_sni",
        "ssl_sni",
        "tls_server_name",
        "tls.client.server_name",
        "tls.server_name",
        "x_cs_sni",
    ),
    "host": (
        "host",
        "http_host",
        "cs_host",
        "http.hostname",
        "http.host",
        "url.domain",
        "url.hostname",
        "destination.domain",
        "server.domain",
        "domain",
        "dest_domain",
        "dst_domain",
        "destination_domain",
        "dest_hostname",
        "destination_hostname",
        "request_host",
        "server_host",
        "fqdn",
        "query",
        "dns_query",
        "query_name",
        "qname",
        "dns.question.name",
        "site",
    ),
    "url": (
        "url",
        "uri",
        "request_url",
        "full_url",
        "cs_uri",
        "url.full",
        "url.original",
        "http.url",
        "http_url",
    ),
    "dest": (
        "dest",
        "dst",
        "destination",
        "dest_host",
        "dst_host",
        "destination_host",
        "remote_host",
        "dest_ip",
        "dst_ip",
        "destination_ip",
        "destination.ip",
        "server_ip",
        "r_ip",
        "id.resp_h",
    ),
    "user": (
        "user",
        "username",
        "user_name",
        "src_user",
        "source_user",
        "cs_username",
        "usr",
        "login",
        "account",
        "principal",
        "user.name",
        "source.user.name",
        "client.user.name",
        "user_email",
        "email",
    ),
    "client": (
        "client",
        "client_host",
        "src_host",
        "source_host",
        "device",
        "device_name",
        "computer",
        "workstation",
        "client_ip",
        "clientip",
        "src_ip",
        "source_ip",
        "c_ip",
        "src",
        "source",
        "source.ip",
        "client.ip",
        "id.orig_h",
        "remote_addr",
    ),
    "bytes_out": (
        "bytes_out",
        "bytes_sent",
        "sent_bytes",
        "out_bytes",
        "cs_bytes",
        "request_bytes",
        "req_bytes",
        "request_size",
        "upload_bytes",
        "bytes_up",
        "tx_bytes",
        "client_bytes",
        "sentbyte",
        "orig_bytes",
        "request_body_len",
        "source.bytes",
        "client.bytes",
        "http.request.bytes",
        "http.request.body.bytes",
    ),
    "bytes_in": (
        "bytes_in",
        "bytes_received",
        "received_bytes",
        "recv_bytes",
        "in_bytes",
        "sc_bytes",
        "response_bytes",
        "resp_bytes",
        "response_size",
        "download_bytes",
        "bytes_down",
        "rx_bytes",
        "server_bytes",
        "rcvdbyte",
        "response_body_len",
        "destination.bytes",
        "server.bytes",
        "http.response.bytes",
        "http.response.body.bytes",
    ),
    "time": (
        "timestamp",
        "time",
        "ts",
        "@timestamp",
        "datetime",
        "date_time",
        "event_time",
        "eventtime",
        "start_time",
        "time_generated",
        "receive_time",
        "_time",
        "event.created",
        "date",
    ),
}
_DESTINATION_ROLES: Final = ("sni", "host", "url", "dest")

_BLOCK: Final = 1 << 20
#: Longest line read; a longer one is skipped (a log line is never this long).
MAX_LINE: Final = 1 << 20
_SAMPLE_LINES: Final = 20

R_LONG: Final = "line longer than 1 MiB"
R_SQUID: Final = "not a Squid access.log line"
R_JSON: Final = "invalid JSON"
R_NOT_OBJECT: Final = "not a JSON object"
R_COLUMNS: Final = "wrong number of columns"
R_QUOTING: Final = "bad CSV quoting"
R_FIELDS: Final = "wrong number of fields"
R_NO_HEADER: Final = "data line before the #fields header"

_SQUID_LINE = re.compile(r"\s*\d+(?:\.\d+)?\s+-?\d+\s+\S+\s+[A-Za-z_]+/\d{1,3}\s+-?\d+\s+\S+\s+\S+")


def canonical_format(name: str) -> str:
    """The format called ``name`` (aliases such as ``json``, ``zeek_json`` accepted).

    Raises:
        ConfigError: No such format.
    """
    key = name.strip().lower()
    key = _FORMAT_ALIASES.get(key, key)
    if key not in FORMATS:
        raise ConfigError(
            f"unknown log format {name!r}; known: {', '.join(FORMATS)} "
            f"(aliases: {', '.join(sorted(_FORMAT_ALIASES))})"
        )
    return key


@dataclass(slots=True)
class LogRecord:
    """One parsed log line that names a destination.

    Attributes:
        line: 1-based line number in the (decompressed) file.
        host: The destination as the line writes it (may hold a port).
        time: Seconds since the epoch (UTC), where the line has a readable time.
        user: The user name, where the log has one.
        client: The client host or address.
        bytes_out: Bytes the client sent (0 where the log does not say).
        bytes_in: Bytes the client received (0 where the log does not say).
    """

    line: int
    host: str
    time: float | None = None
    user: str | None = None
    client: str | None = None
    bytes_out: int = 0
    bytes_in: int = 0

    @property
    def when(self) -> datetime | None:
        """The time as a timezone-aware datetime."""
        return datetime.fromtimestamp(self.time, UTC) if self.time is not None else None


@dataclass
class LogStats:
    """What reading one log did, in numbers.

    Attributes:
        path: The log file.
        format: The format it was read as (``zeek_json`` for JSON lines from Zeek).
        detected: Whether the format was detected (not named).
        lines: Lines read.
        empty: Blank lines.
        meta: Header, directive and comment lines.
        records: Lines parsed.
        without_host: Parsed lines that name no destination host.
        selected: Records handed on (matching the host selector).
        skipped: Lines skipped, by reason.
    """

    path: str
    format: str = ""
    detected: bool = True
    lines: int = 0
    empty: int = 0
    meta: int = 0
    records: int = 0
    without_host: int = 0
    selected: int = 0
    skipped: Counter[str] = field(default_factory=Counter)

    @property
    def skipped_total(self) -> int:
        """Lines skipped, all reasons together."""
        return sum(self.skipped.values())

    def to_dict(self) -> dict[str, Any]:
        """The figures as JSON-compatible data."""
        return {
            "path": self.path,
            "format": self.format,
            "detected": self.detected,
            "lines": self.lines,
            "empty": self.empty,
            "meta": self.meta,
            "records": self.records,
            "without_host": self.without_host,
            "selected": self.selected,
            "skipped": dict(self.skipped),
            "skipped_total": self.skipped_total,
        }


class _Address:
    """The answer a :class:`HostSelector` remembers for an IP address literal."""

    def __repr__(self) -> str:
        return "IP_ADDRESS"


#: Remembered for a destination that is an IP address, not a name: readers look further
#: along the line (SNI, Host, URL) for a name, and drop the line if there is none.
IP_ADDRESS: Final = _Address()


class HostSelector(Generic[T]):
    """Decides which destinations matter, remembering each answer.

    Reading a log asks about the same few thousand hosts millions of times; the
    readers look the raw host up in :attr:`cache` first (one dictionary lookup)
    and call :meth:`resolve` only for a host not seen yet. IP address literals are
    answered :data:`IP_ADDRESS` without asking ``decide``.

    Args:
        decide: Returns what to attach to records of a host name, or None to drop them.
        limit: Most answers remembered; the memory is emptied when full.
    """

    def __init__(self, decide: Callable[[str], T | None], *, limit: int = 200_000) -> None:
        self.cache: dict[str, T | _Address | None] = {}
        self._decide = decide
        self._limit = limit

    def resolve(self, host: str) -> T | _Address | None:
        """Decide about a host not in the cache, and remember the answer."""
        answer = IP_ADDRESS if _is_ip(host) else self._decide(host)
        if len(self.cache) >= self._limit:
            self.cache.clear()
        self.cache[host] = answer
        return answer


_KEEP_ALL: HostSelector[bool] = HostSelector(lambda _host: True, limit=10_000)
_MISS: Final = object()


def url_host(url: str) -> str:
    """The host (with any port) of a URL, or of ``host:port``; ``""`` when there is none."""
    start = url.find("://")
    rest = url[start + 3 :] if start >= 0 else url
    end = rest.find("/")
    if end >= 0:
        rest = rest[:end]
    if "?" in rest:
        rest = rest.partition("?")[0]
    if "#" in rest:
        rest = rest.partition("#")[0]
    if "@" in rest:
        rest = rest.rpartition("@")[2]
    return rest


def _is_ip(host: str) -> bool:
    """Whether ``host`` (maybe with a port) is an IP address literal."""
    if host[:1] == "[":
        return True
    colons = host.count(":")
    if colons > 1:
        return True
    if colons == 1:
        host = host.partition(":")[0]
    return host.replace(".", "").isdigit()


class LogReader:
    """One log file, read as a stream of :class:`LogRecord`.

    Args:
        path: The log file (plain, or gzip, bzip2 or xz compressed).
        fmt: The format (see :data:`FORMATS`); detected from the first lines when None.

    Attributes:
        stats: Figures of the last read.
    """

    def __init__(self, path: str | Path, fmt: str | None = None) -> None:
        self.path = Path(path)
        self.fmt = canonical_format(fmt) if fmt is not None else None
        self.stats = LogStats(path=str(self.path))

    def records(self) -> Iterator[LogRecord]:
        """Every record of the log.

        Raises:
            TargetError: The file cannot be read, is binary or a corrupt compressed
                stream, or its format is not recognised.
        """
        for rec, _ in self.select(_KEEP_ALL):
            yield rec

    def select(self, selector: HostSelector[T]) -> Iterator[tuple[LogRecord, T]]:
        """The records whose host ``selector`` keeps, each with its answer.

        Lines are split only as far as needed to find the destination; a record
        is built only for a kept host, so a log where few lines matter reads at
        close to the speed of splitting it.

        Raises:
            TargetError: As for :meth:`records`.
        """
        self.stats = stats = LogStats(path=str(self.path))
        try:
            with _open_text(self.path) as fh:
                blocks = _blocks(fh, stats)
                first = next(blocks, [])
                fmt = self.fmt
                label = fmt
                if fmt is None:
                    stats.detected = True
                    label = detect_format(first)
                    if label is None:
                        if _first_line_no(first) is None:
                            _count_blank(first, blocks, stats)  # an empty log, or an error
                            return
                        raise TargetError(_unrecognised(first), line=_first_line_no(first))
                    fmt = canonical_format(label)
                else:
                    stats.detected = False
                stats.format = label or fmt
                parser = _PARSERS[fmt]
                stream = _chain(first, blocks)
                yield from parser(stream, stats, selector)
        except OSError as exc:
            raise TargetError(_read_error(exc, stats.lines)) from exc
        except EOFError as exc:
            raise TargetError(
                f"compressed stream ends early (truncated file) after line {stats.lines}",
                line=stats.lines or None,
            ) from exc
        except (lzma.LZMAError, zlib.error) as exc:
            raise TargetError(
                f"corrupt compressed stream after line {stats.lines}: {exc}",
                line=stats.lines or None,
            ) from exc


def _read_error(exc: OSError, lines: int) -> str:
    if isinstance(exc, gzip.BadGzipFile):
        return f"corrupt gzip stream after line {lines}: {exc}"
    return f"cannot read the log: {exc.strerror or exc}"


def _first_line_no(lines: Sequence[str]) -> int | None:
    for n, line in enumerate(lines, 1):
        if line.strip():
            return n
    return None


def _count_blank(first: list[str], rest: Iterator[list[str]], stats: LogStats) -> None:
    """Count the lines of a log that starts with a block of blank lines; all must be blank."""
    for lines in _chain(first, rest):
        for line in lines:
            stats.lines += 1
            if line.strip():
                raise TargetError(_unrecognised([line]), line=stats.lines)
            stats.empty += 1


def _unrecognised(lines: Sequence[str]) -> str:
    sample = next((ln.strip() for ln in lines if ln.strip()), "")
    shown = sample[:80] + ("..." if len(sample) > 80 else "")
    return (
        "unrecognised log format: the first lines are not CSV with a header naming a host "
        "column, JSON lines, a Squid access.log, a Zeek log or a W3C extended log "
        f"(first line: {shown!r}); name the format explicitly"
    )


# --- reading -------------------------------------------------------------------------------


def _open_binary(path: Path, magic: bytes) -> io.BufferedIOBase:
    """The log's bytes, decompressed when its first bytes name gzip, bzip2 or xz."""
    if magic[:2] == b"\x1f\x8b":
        return gzip.open(path, "rb")
    if magic[:3] == b"BZh":
        return bz2.open(path, "rb")
    if magic == b"\xfd7zXZ\x00":
        return lzma.open(path, "rb")
    return open(path, "rb")


def _open_text(path: Path) -> io.TextIOWrapper:
    """The log as text, decompressed; UTF-8 (or UTF-16 with a byte-order mark).

    Raises:
        TargetError: The content is binary (NUL bytes in its first 8 KiB).
    """
    with open(path, "rb") as probe:
        magic = probe.read(6)
    with _open_binary(path, magic) as fh:
        head = fh.read(8192)
    encoding = "utf-8"
    if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        encoding = "utf-16"
    elif b"\x00" in head:
        raise TargetError("binary content (NUL bytes), not a text log")
    raw = cast(BinaryIO, _open_binary(path, magic))  # the decompressors are buffered readers
    return io.TextIOWrapper(raw, encoding=encoding, errors="replace", newline="")


def _blocks(fh: io.TextIOWrapper, stats: LogStats) -> Iterator[list[str]]:
    """Complete lines (without their newline), a block of about 1 MiB at a time.

    An over-long line is replaced by an empty placeholder (so line numbers stay
    true) and counted as skipped, not as empty.
    """
    carry = ""  # the start of a line not finished yet
    skipping = False  # that line is over-long: drop the rest of it
    first = True
    placeholders = 0
    try:
        while True:
            chunk = fh.read(_BLOCK)
            if not chunk:
                break
            if first:
                chunk = chunk.removeprefix("\ufeff")
                first = False
            if "\r" in chunk:
                chunk = chunk.replace("\r\n", "\n")
            parts = chunk.split("\n")
            tail = parts.pop()
            if parts:
                if skipping:
                    parts[0] = ""
                    placeholders += 1
                    skipping = False
                elif carry:
                    parts[0] = carry + parts[0]
                    if len(parts[0]) > MAX_LINE:
                        parts[0] = ""
                        placeholders += 1
                        stats.skipped[R_LONG] += 1
                carry = tail
            elif not skipping:
                carry += tail
            if len(carry) > MAX_LINE:
                carry = ""
                skipping = True
                stats.skipped[R_LONG] += 1
            if parts:
                yield parts
        if carry and not skipping:
            yield [carry]
    finally:
        # the parsers counted the placeholders as blank lines
        stats.empty -= placeholders


def _chain(first: list[str], rest: Iterator[list[str]]) -> Iterator[list[str]]:
    if first:
        yield first
    yield from rest


# --- detection -----------------------------------------------------------------------------


def detect_format(lines: Sequence[str]) -> str | None:
    """The format of a log from its first lines, or None when none fits.

    Returns one of :data:`FORMATS`, or ``zeek_json`` for JSON lines written by Zeek.
    A header decides (Zeek ``#fields``, W3C ``#Fields:``, a CSV header naming a
    destination column); otherwise the format most of the first lines have wins.
    """
    sample = []
    for ln in lines:
        text = ln.strip()
        if text:
            sample.append(text)
            if len(sample) == _SAMPLE_LINES:
                break
    if not sample:
        return None
    if any(ln.startswith(("#separator", "#fields")) for ln in sample):
        return "zeek"
    if any(ln.startswith(("#Fields:", "#Software:", "#Version:")) for ln in sample):
        return "w3c"
    body = [ln for ln in sample if not ln.startswith("#")]
    if not body:
        return None
    if _csv_header(body[0]) is not None:
        return "csv"
    json_votes = squid_votes = 0
    zeek_keys = False
    for ln in body:
        if ln.startswith("{"):
            try:
                obj = json.loads(ln)
            except ValueError:
                continue
            if isinstance(obj, dict):
                json_votes += 1
                zeek_keys = zeek_keys or ("id.orig_h" in obj and "uid" in obj)
        elif _SQUID_LINE.match(ln):
            squid_votes += 1
    if json_votes == 0 and squid_votes == 0:
        return None
    if json_votes >= squid_votes:
        return "zeek_json" if zeek_keys else "jsonl"
    return "squid"


def _norm_name(name: str) -> str:
    return name.strip().strip('"').strip().lower().replace("-", "_").replace(" ", "_")


_ALL_DESTINATION_NAMES: Final = frozenset(
    name for role in _DESTINATION_ROLES for name in FIELD_NAMES[role]
)


def _csv_header(line: str) -> tuple[str, list[str]] | None:
    """``(delimiter, names)`` when ``line`` is a CSV header naming a destination column."""
    for delim in (",", "\t", ";", "|"):
        if delim not in line:
            continue
        try:
            names = next(csv.reader([line], delimiter=delim))
        except csv.Error:
            continue
        normed = [_norm_name(n) for n in names]
        if len(normed) >= 2 and any(n in _ALL_DESTINATION_NAMES for n in normed):
            return delim, normed
    return None


# --- column plans (CSV, Zeek, W3C) ---------------------------------------------------------


@dataclass(frozen=True)
class _Plan:
    """Where each role is in a row of named columns."""

    width: int
    destinations: tuple[tuple[int, bool], ...]  # (column, holds a URL)
    user: int | None
    client: int | None
    bytes_out: int | None
    bytes_in: int | None
    time: int | None
    date: int | None  # a separate date column, joined before the time

    @classmethod
    def from_names(cls, names: Sequence[str]) -> _Plan:
        index: dict[str, int] = {}
        for pos, name in enumerate(names):
            index.setdefault(name, pos)

        def first(role: str) -> int | None:
            for alias in FIELD_NAMES[role]:
                if alias in index:
                    return index[alias]
            return None

        dest: list[tuple[int, bool]] = []
        for role in _DESTINATION_ROLES:
            for alias in FIELD_NAMES[role]:
                col = index.get(alias)
                if col is not None and all(col != d for d, _ in dest):
                    dest.append((col, role == "url"))
        time_col = first("time")
        date_col = None
        if "date" in index and "time" in index and time_col == index["time"]:
            date_col = index["date"]
        return cls(
            width=len(names),
            destinations=tuple(dest),
            user=first("user"),
            client=first("client"),
            bytes_out=first("bytes_out"),
            bytes_in=first("bytes_in"),
            time=time_col,
            date=date_col,
        )

    def record(self, fields: Sequence[str], line: int, host: str, unset: str = "-") -> LogRecord:
        """The record of a row whose destination is ``host``."""
        rec = LogRecord(line=line, host=host)
        if self.user is not None:
            v = fields[self.user].strip()
            if v and v != unset and v != "-":
                rec.user = v
        if self.client is not None:
            v = fields[self.client].strip()
            if v and v != unset and v != "-":
                rec.client = v
        if self.bytes_out is not None:
            rec.bytes_out = _count_text(fields[self.bytes_out])
        if self.bytes_in is not None:
            rec.bytes_in = _count_text(fields[self.bytes_in])
        if self.time is not None:
            raw = fields[self.time]
            if self.date is not None:
                raw = f"{fields[self.date]} {raw}"
            rec.time = _epoch(raw)
        return rec


def _count_text(v: str) -> int:
    try:
        return max(int(v), 0)
    except ValueError:
        return _count(v)


def _text(v: object, unset: str = "-") -> str | None:
    if v is None or isinstance(v, bool | dict | list):
        return None
    s = str(v).strip()
    return s if s and s != unset and s != "-" else None


def _count(v: object) -> int:
    if isinstance(v, bool):
        return 0
    if isinstance(v, int):
        return max(v, 0)
    if isinstance(v, float):
        return max(int(v), 0) if v == v else 0
    if isinstance(v, str):
        try:
            return max(int(v), 0)
        except ValueError:
            try:
                f = float(v)
            except ValueError:
                return 0
            return max(int(f), 0) if f == f and f not in (float("inf"), float("-inf")) else 0
    return 0


_time_memo: dict[str, float | None] = {}


def _epoch(v: object) -> float | None:
    """Seconds since the epoch from a number (s, ms, us or ns) or a date-time string."""
    if v is None or isinstance(v, bool):
        return None
    if isinstance(v, int | float):
        x = float(v)
    elif isinstance(v, str):
        s = v.strip()
        if not s or s == "-":
            return None
        memo = _time_memo.get(s, _MISS)
        if memo is not _MISS:
            return memo  # type: ignore[return-value]
        value = _parse_time(s)
        if len(_time_memo) > 4096:
            _time_memo.clear()
        _time_memo[s] = value
        return value
    else:
        return None
    return _scale(x)


def _scale(x: float) -> float | None:
    if x != x or x in (float("inf"), float("-inf")) or x < 0:
        return None
    if x > 1e17:
        x /= 1e9
    elif x > 1e14:
        x /= 1e6
    elif x > 1e11:
        x /= 1e3
    return x


def _parse_time(s: str) -> float | None:
    if s.replace(".", "", 1).isdigit():
        return _scale(float(s))
    text = s.strip("[]")
    dt: datetime | None = None
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        for fmt in ("%d/%b/%Y:%H:%M:%S %z", "%d/%b/%Y:%H:%M:%S", "%Y/%m/%d %H:%M:%S"):
            try:
                dt = datetime.strptime(text, fmt)
                break
            except ValueError:
                continue
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    try:
        return dt.timestamp()
    except (OverflowError, OSError, ValueError):
        return None


# --- parsers -------------------------------------------------------------------------------

_Parser = Callable[
    [Iterable[list[str]], LogStats, HostSelector[Any]], Iterator[tuple[LogRecord, Any]]
]


def _parse_squid(
    blocks: Iterable[list[str]], stats: LogStats, selector: HostSelector[T]
) -> Iterator[tuple[LogRecord, T]]:
    # The hot loop of log ingestion: one split per line (the fields after the user
    # stay joined), the host cut from the URL with C-level string methods, one
    # dictionary lookup; a record is built only for a selected host.
    cache_get = selector.cache.get
    resolve = selector.resolve
    n = empty = bad = nohost = selected = 0
    try:
        for lines in blocks:
            start = n + 1
            for n, line in enumerate(lines, start):
                f = line.split(None, 7)
                if len(f) < 7 or "/" not in f[3]:
                    if f:
                        bad += 1
                    else:
                        empty += 1
                    continue
                host = f[6]
                if "/" in host:
                    start = host.find("://")
                    if start >= 0:
                        host = host[start + 3 :]
                    host = host.partition("/")[0]
                    if "?" in host or "@" in host:
                        host = url_host(host)
                    if not host:
                        nohost += 1
                        continue
                got = cache_get(host, _MISS)
                if got is _MISS:
                    got = resolve(host)
                if got is None:
                    continue
                if got is IP_ADDRESS:
                    nohost += 1
                    continue
                selected += 1
                rec = LogRecord(line=n, host=host, client=f[2])
                try:
                    rec.bytes_in = max(int(f[4]), 0)
                except ValueError:
                    rec.bytes_in = 0
                try:
                    rec.time = _scale(float(f[0]))
                except ValueError:
                    rec.time = None
                if len(f) > 7:
                    user = f[7].split(None, 1)[0]
                    if user != "-":
                        rec.user = user
                yield rec, cast(T, got)
    finally:
        stats.lines += n
        stats.empty += empty
        stats.records += n - empty - bad
        stats.without_host += nohost
        stats.selected += selected
        if bad:
            stats.skipped[R_SQUID] += bad


def _parse_csv(
    blocks: Iterable[list[str]], stats: LogStats, selector: HostSelector[T]
) -> Iterator[tuple[LogRecord, T]]:
    cache_get = selector.cache.get
    resolve = selector.resolve
    n = empty = meta = parsed = nohost = selected = 0
    bad = quoting = 0
    header: list[str] | None = None
    raw_header: list[str] = []
    plan: _Plan | None = None
    dest: tuple[tuple[int, bool], ...] = ()
    unset = "-"
    delim = ","
    width = 0
    try:
        for lines in blocks:
            for line in lines:
                n += 1
                if plan is None:
                    stripped = line.strip()
                    if not stripped:
                        empty += 1
                        continue
                    if stripped.startswith("#"):
                        meta += 1
                        continue
                    found = _csv_header(stripped)
                    if found is None:
                        raise TargetError(
                            "CSV header names no destination column (looked for "
                            + ", ".join(sorted(_ALL_DESTINATION_NAMES))
                            + ")",
                            line=n,
                        )
                    delim, header = found
                    raw_header = next(csv.reader([stripped], delimiter=delim))
                    plan = _Plan.from_names(header)
                    width = plan.width
                    dest = plan.destinations
                    meta += 1
                    continue
                if '"' in line:
                    try:
                        fields = next(csv.reader([line], delimiter=delim, strict=True))
                    except (csv.Error, StopIteration):
                        quoting += 1
                        continue
                else:
                    if not line or line.isspace():
                        empty += 1
                        continue
                    fields = line.split(delim)
                if len(fields) != width:
                    if not fields or (len(fields) == 1 and not fields[0].strip()):
                        empty += 1
                    else:
                        bad += 1
                    continue
                if fields == raw_header:
                    meta += 1
                    continue
                parsed += 1
                host = None
                got: Any = None
                for col, is_url in dest:
                    v = fields[col]
                    if not v or v == unset:
                        continue
                    if is_url:
                        v = url_host(v)
                        if not v:
                            continue
                    got = cache_get(v, _MISS)
                    if got is _MISS:
                        got = resolve(v)
                    if got is not IP_ADDRESS:
                        host = v
                        break
                if host is None:
                    nohost += 1
                    continue
                if got is None:
                    continue
                selected += 1
                yield plan.record(fields, n, host), cast(T, got)
    finally:
        stats.lines += n
        stats.empty += empty
        stats.meta += meta
        stats.records += parsed
        stats.without_host += nohost
        stats.selected += selected
        if bad:
            stats.skipped[R_COLUMNS] += bad
        if quoting:
            stats.skipped[R_QUOTING] += quoting


def _parse_zeek(
    blocks: Iterable[list[str]], stats: LogStats, selector: HostSelector[T]
) -> Iterator[tuple[LogRecord, T]]:
    cache_get = selector.cache.get
    resolve = selector.resolve
    n = empty = meta = parsed = nohost = selected = bad = orphan = 0
    sep = "\t"
    unset = "-"
    plan: _Plan | None = None
    dest: tuple[tuple[int, bool], ...] = ()
    try:
        for lines in blocks:
            for line in lines:
                n += 1
                if not line or line.isspace():
                    empty += 1
                    continue
                if line[0] == "#":
                    meta += 1
                    key, _, value = line.partition(sep if not line.startswith("#sep") else " ")
                    if key == "#separator":
                        sep = _unescape(value.strip()) or "\t"
                    elif key == "#unset_field":
                        unset = value
                    elif key == "#fields":
                        plan = _Plan.from_names([_norm_name(x) for x in value.split(sep)])
                        dest = plan.destinations
                    continue
                if plan is None:
                    orphan += 1
                    continue
                fields = line.split(sep)
                if len(fields) != plan.width:
                    bad += 1
                    continue
                parsed += 1
                host = None
                got: Any = None
                for col, is_url in dest:
                    v = fields[col]
                    if not v or v == unset:
                        continue
                    if is_url:
                        v = url_host(v)
                        if not v:
                            continue
                    got = cache_get(v, _MISS)
                    if got is _MISS:
                        got = resolve(v)
                    if got is not IP_ADDRESS:
                        host = v
                        break
                if host is None:
                    nohost += 1
                    continue
                if got is None:
                    continue
                selected += 1
                yield plan.record(fields, n, host, unset), cast(T, got)
    finally:
        stats.lines += n
        stats.empty += empty
        stats.meta += meta
        stats.records += parsed
        stats.without_host += nohost
        stats.selected += selected
        if bad:
            stats.skipped[R_FIELDS] += bad
        if orphan:
            stats.skipped[R_NO_HEADER] += orphan


def _unescape(value: str) -> str:
    """Zeek writes its separator escaped (``\\x09``)."""
    return re.sub(r"\\x([0-9a-fA-F]{2})", lambda m: chr(int(m.group(1), 16)), value)


def _parse_w3c(
    blocks: Iterable[list[str]], stats: LogStats, selector: HostSelector[T]
) -> Iterator[tuple[LogRecord, T]]:
    cache_get = selector.cache.get
    resolve = selector.resolve
    n = empty = meta = parsed = nohost = selected = bad = orphan = quoting = 0
    plan: _Plan | None = None
    dest: tuple[tuple[int, bool], ...] = ()
    unset = "-"
    try:
        for lines in blocks:
            for line in lines:
                n += 1
                if not line or line.isspace():
                    empty += 1
                    continue
                if line[0] == "#":
                    meta += 1
                    if line.startswith("#Fields:"):
                        names = line[len("#Fields:") :].split()
                        plan = _Plan.from_names([_norm_name(x) for x in names])
                        dest = plan.destinations
                    continue
                if plan is None:
                    orphan += 1
                    continue
                if '"' in line:
                    try:
                        fields = [
                            x
                            for x in next(csv.reader([line.strip()], delimiter=" ", strict=True))
                            if x != ""
                        ]
                    except (csv.Error, StopIteration):
                        quoting += 1
                        continue
                else:
                    fields = line.split()
                if len(fields) != plan.width:
                    bad += 1
                    continue
                parsed += 1
                host = None
                got: Any = None
                for col, is_url in dest:
                    v = fields[col]
                    if not v or v == unset:
                        continue
                    if is_url:
                        v = url_host(v)
                        if not v:
                            continue
                    got = cache_get(v, _MISS)
                    if got is _MISS:
                        got = resolve(v)
                    if got is not IP_ADDRESS:
                        host = v
                        break
                if host is None:
                    nohost += 1
                    continue
                if got is None:
                    continue
                selected += 1
                yield plan.record(fields, n, host), cast(T, got)
    finally:
        stats.lines += n
        stats.empty += empty
        stats.meta += meta
        stats.records += parsed
        stats.without_host += nohost
        stats.selected += selected
        if bad:
            stats.skipped[R_FIELDS] += bad
        if orphan:
            stats.skipped[R_NO_HEADER] += orphan
        if quoting:
            stats.skipped[R_QUOTING] += quoting


# --- JSON lines ----------------------------------------------------------------------------

_Path = tuple[str, ...]


@dataclass(frozen=True)
class _JsonPlan:
    """Where each role is in objects with one set of top-level keys."""

    destinations: tuple[tuple[_Path, bool], ...]
    roles: tuple[tuple[str, tuple[_Path, ...]], ...]  # user, client, bytes, time

    @classmethod
    def for_keys(cls, keys: Iterable[str]) -> _JsonPlan:
        present = set(keys)

        def paths(role: str) -> list[_Path]:
            out: list[_Path] = []
            for alias in FIELD_NAMES[role]:
                if alias in present:
                    out.append((alias,))
                elif "." in alias:
                    parts = tuple(alias.split("."))
                    if parts[0] in present:
                        out.append(parts)
            return out

        dest = tuple((p, role == "url") for role in _DESTINATION_ROLES for p in paths(role))
        roles = tuple(
            (role, tuple(paths(role)))
            for role in ("user", "client", "bytes_out", "bytes_in", "time")
        )
        return cls(destinations=dest, roles=tuple((r, p) for r, p in roles if p))


def _dig(obj: dict[str, Any], path: _Path) -> Any:
    value: Any = obj.get(path[0])
    for part in path[1:]:
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _json_record(obj: dict[str, Any], plan: _JsonPlan, line: int, host: str) -> LogRecord:
    rec = LogRecord(line=line, host=host)
    for role, paths in plan.roles:
        value: Any = None
        for path in paths:
            value = obj.get(path[0]) if len(path) == 1 else _dig(obj, path)
            if (
                value is not None
                and value != ""
                and value != "-"
                and not isinstance(value, dict | list)
            ):
                break
            value = None
        if value is None:
            continue
        if role == "user":
            rec.user = _text(value)
        elif role == "client":
            rec.client = _text(value)
        elif role == "bytes_out":
            rec.bytes_out = _count(value)
        elif role == "bytes_in":
            rec.bytes_in = _count(value)
        else:
            rec.time = _epoch(value)
    return rec


def _parse_jsonl(
    blocks: Iterable[list[str]], stats: LogStats, selector: HostSelector[T]
) -> Iterator[tuple[LogRecord, T]]:
    cache_get = selector.cache.get
    resolve = selector.resolve
    loads = json.loads
    plans: dict[tuple[str, ...], _JsonPlan] = {}
    n = empty = meta = parsed = nohost = selected = invalid = not_object = 0
    try:
        for lines in blocks:
            for line in lines:
                n += 1
                head = line.lstrip()[:1]
                if head != "{":
                    if not head:
                        empty += 1
                    elif head == "#":
                        meta += 1
                    else:
                        not_object += 1
                    continue
                try:
                    obj = loads(line)
                except ValueError:
                    invalid += 1
                    continue
                if not isinstance(obj, dict):
                    not_object += 1
                    continue
                parsed += 1
                keys = tuple(obj)
                plan = plans.get(keys)
                if plan is None:
                    plan = _JsonPlan.for_keys(keys)
                    if len(plans) < 1024:
                        plans[keys] = plan
                host = None
                got: Any = None
                for path, is_url in plan.destinations:
                    v = obj.get(path[0]) if len(path) == 1 else _dig(obj, path)
                    if not isinstance(v, str) or not v or v == "-":
                        continue
                    if is_url:
                        v = url_host(v)
                        if not v:
                            continue
                    got = cache_get(v, _MISS)
                    if got is _MISS:
                        got = resolve(v)
                    if got is not IP_ADDRESS:
                        host = v
                        break
                if host is None:
                    nohost += 1
                    continue
                if got is None:
                    continue
                selected += 1
                yield _json_record(obj, plan, n, host), cast(T, got)
    finally:
        stats.lines += n
        stats.empty += empty
        stats.meta += meta
        stats.records += parsed
        stats.without_host += nohost
        stats.selected += selected
        if invalid:
            stats.skipped[R_JSON] += invalid
        if not_object:
            stats.skipped[R_NOT_OBJECT] += not_object


_PARSERS: dict[str, _Parser] = {
    "squid": _parse_squid,
    "csv": _parse_csv,
    "zeek": _parse_zeek,
    "w3c": _parse_w3c,
    "jsonl": _parse_jsonl,
}
