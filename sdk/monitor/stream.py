"""Streaming event sources for continuous monitoring, with bounded memory.

* :class:`OtlpReceiver`: an OTLP/HTTP receiver (JSON encoding only) on loopback. Apps
  instrumented with OpenLLMetry or OpenInference export their GenAI spans to
  ``http://127.0.0.1:PORT/v1/traces``; the spans become events on a bounded queue that
  :meth:`OtlpReceiver.events` drains. A full queue answers 503 with ``Retry-After`` (the
  OTLP exporters retry it later), so memory never grows with the traffic.
* :func:`follow`: tail a growing JSONL or CSV log like ``tail -F`` (complete lines only;
  truncation and rotation survived).

Both reuse the parsers of :mod:`aiposture.monitor.ingest`: bad records are counted, never
raised, and never cost a valid event.
"""

from __future__ import annotations

import errno
import ipaddress
import json
import os
import queue
import socket
import threading
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO

from aiposture.errors import ConfigError
from aiposture.monitor import ingest
from aiposture.monitor.ingest import IngestStats
from aiposture.monitor.models import Event

__all__ = ["DEFAULT_MAX_BODY", "DEFAULT_QUEUE_SIZE", "TRACES_PATH", "OtlpReceiver", "follow"]

#: Largest request body accepted, compressed or not (bytes).
DEFAULT_MAX_BODY = 16 * 1024 * 1024
#: Events held between the receiver and its consumer.
DEFAULT_QUEUE_SIZE = 10_000
TRACES_PATH = "/v1/traces"
_GZIP_WBITS = 16 + zlib.MAX_WBITS
#: gRPC status codes carried in the ``google.rpc.Status`` body of an OTLP/HTTP error.
_INVALID_ARGUMENT, _NOT_FOUND, _RESOURCE_EXHAUSTED, _UNAVAILABLE = 3, 5, 8, 14


class _Reject(Exception):
    def __init__(self, status: HTTPStatus, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    receiver: OtlpReceiver


class _Server6(_Server):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    #: Seconds a connection may stay silent (a stalled client never pins a thread for long).
    timeout = 30
    server_version = "aiposture-otlp"

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the receiver's counters tell what happened."""

    def handle_expect_100(self) -> bool:
        """Refuse an oversized body before the client sends it."""
        length = self.headers.get("Content-Length")
        too_large = length is not None and length.isdigit()
        too_large = too_large and int(length or 0) > self.server.receiver.max_body
        if too_large and self.path.split("?", 1)[0] == TRACES_PATH:
            self.close_connection = True
            self._reply_error(
                _Reject(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, _INVALID_ARGUMENT, "too large")
            )
            return False
        return super().handle_expect_100()

    def do_POST(self) -> None:
        """Receive one ExportTraceServiceRequest."""
        receiver = self.server.receiver
        if self.path.split("?", 1)[0] != TRACES_PATH:
            self._discard_body()
            self._reply_error(_Reject(HTTPStatus.NOT_FOUND, _NOT_FOUND, "only POST /v1/traces"))
            return
        receiver._count_request()
        try:
            doc = self._read_json(receiver.max_body)
            self._reply_json(HTTPStatus.OK, receiver._accept(doc))
        except _Reject as reject:
            self._reply_error(reject)

    def do_GET(self) -> None:
        """Only ``POST /v1/traces`` exists."""
        if self.path.split("?", 1)[0] == TRACES_PATH:
            status = HTTPStatus.METHOD_NOT_ALLOWED
        else:
            status = HTTPStatus.NOT_FOUND
        self._reply_error(_Reject(status, _NOT_FOUND, "only POST /v1/traces"))

    def _read_json(self, limit: int) -> Any:
        media = Message()
        media["content-type"] = self.headers.get("Content-Type", "")
        ctype = media.get_content_type() if media["content-type"].strip() else ""
        length_text = self.headers.get("Content-Length")
        if length_text is None or not length_text.strip().isdigit():
            self.close_connection = True
            raise _Reject(HTTPStatus.LENGTH_REQUIRED, _INVALID_ARGUMENT, "Content-Length needed")
        length = int(length_text)
        if length > limit:
            self._discard_body(length)
            self.close_connection = True
            raise _Reject(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                _INVALID_ARGUMENT,
                f"body of {length} bytes is over the limit of {limit}",
            )
        body = self.rfile.read(length)
        if ctype != "application/json":
            raise _Reject(
                HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
                _INVALID_ARGUMENT,
                f"{ctype or 'no Content-Type'} is not supported: this receiver accepts "
                "OTLP/HTTP JSON only (Content-Type: application/json); set the exporter's "
                "protocol to http/json",
            )
        encoding = self.headers.get("Content-Encoding", "identity").strip().lower()
        if encoding == "gzip":
            body = _gunzip(body, limit)
        elif encoding not in ("", "identity"):
            raise _Reject(
                HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
                _INVALID_ARGUMENT,
                f"Content-Encoding {encoding!r} is not supported (gzip or none)",
            )
        try:
            return json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise _Reject(HTTPStatus.BAD_REQUEST, _INVALID_ARGUMENT, f"not JSON: {exc}") from exc
        except RecursionError as exc:
            raise _Reject(
                HTTPStatus.BAD_REQUEST, _INVALID_ARGUMENT, "JSON nested too deep"
            ) from exc

    def _discard_body(self, length: int | None = None) -> None:
        """Read and drop a body (in small pieces) so the client can read the answer."""
        if length is None:
            text = self.headers.get("Content-Length", "0").strip()
            length = int(text) if text.isdigit() else 0
        remaining = min(length, 4 * self.server.receiver.max_body)
        while remaining > 0:
            try:
                piece = self.rfile.read(min(remaining, 64 * 1024))
            except OSError:
                return
            if not piece:
                return
            remaining -= len(piece)
        if length > 4 * self.server.receiver.max_body:
            self.close_connection = True

    def _reply_json(
        self, status: HTTPStatus, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    def _reply_error(self, reject: _Reject) -> None:
        headers = {}
        if reject.status == HTTPStatus.SERVICE_UNAVAILABLE:
            headers["Retry-After"] = str(self.server.receiver.retry_after)
        self._reply_json(reject.status, {"code": reject.code, "message": reject.message}, headers)


def _gunzip(body: bytes, limit: int) -> bytes:
    """Decompress a gzip body, refusing one that inflates past ``limit`` (a zip bomb)."""
    inflater = zlib.decompressobj(_GZIP_WBITS)
    try:
        out = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise _Reject(HTTPStatus.BAD_REQUEST, _INVALID_ARGUMENT, "bad gzip body") from exc
    if len(out) > limit or inflater.unconsumed_tail:
        raise _Reject(
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
            _INVALID_ARGUMENT,
            f"decompressed body is over the limit of {limit} bytes",
        )
    if not inflater.eof:
        raise _Reject(HTTPStatus.BAD_REQUEST, _INVALID_ARGUMENT, "truncated gzip body")
    return out


class OtlpReceiver:
    """An OTLP/HTTP JSON trace receiver on loopback, feeding a bounded event queue.

    ``POST /v1/traces`` with ``Content-Type: application/json`` (optionally
    ``Content-Encoding: gzip``) takes an ExportTraceServiceRequest; its GenAI spans become
    events (parsed by :func:`aiposture.monitor.ingest.otlp_events`). Answers, per the
    OTLP/HTTP specification:

    * 200 ``{"partialSuccess": {}}`` when every span was taken, or
      ``{"partialSuccess": {"rejectedSpans": n, "errorMessage": ...}}`` when ``n`` spans
      were malformed (the sender must not retry them). Spans without GenAI attributes are
      not errors: they are ignored and counted in :attr:`ignored_spans`;
    * 400 for a body that is not JSON or not a trace export, 413 for a body over
      ``max_body`` bytes (compressed or inflated), 415 for protobuf or another media type
      (this receiver speaks JSON only), 404 for other paths, 411 without Content-Length;
    * 503 with ``Retry-After`` when the queue cannot hold the request's events. Nothing of
      such a request is queued (all or nothing, so a retry never duplicates events); its
      events are counted in :attr:`dropped`.

    Error bodies are ``google.rpc.Status`` JSON (``{"code": ..., "message": ...}``).

    The receiver binds a loopback address only, unless ``allow_remote=True``: it has no
    authentication and no TLS, and what it receives (prompts, responses, user ids) is
    sensitive. Reachable from the network, anyone could forge events — flooding alerts,
    poisoning the baselines the volume and drift detectors learn — or fill its queue to
    blind the monitor. Expose it beyond the host only behind a proxy that authenticates.

    Use as a context manager, or call :meth:`start` and :meth:`stop`::

        with OtlpReceiver(port=4318) as rx:
            for event in rx.events():
                ...

    Args:
        host: Address to bind (``127.0.0.1`` by default; ``::1`` and ``localhost`` work).
        port: Port to bind; 0 picks a free one (read it from :attr:`port`).
        queue_size: Events held until :meth:`events` takes them.
        max_body: Largest body accepted, in bytes, before and after gzip decompression.
        retry_after: Seconds a sender is asked to wait when the queue is full.
        allow_remote: Allow a non-loopback ``host`` (see above).

    Raises:
        ConfigError: A non-loopback host without ``allow_remote``, or bad sizes.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 4318,
        *,
        queue_size: int = DEFAULT_QUEUE_SIZE,
        max_body: int = DEFAULT_MAX_BODY,
        retry_after: int = 1,
        allow_remote: bool = False,
    ) -> None:
        if not allow_remote and not _is_loopback(host):
            raise ConfigError(
                f"refusing to receive OTLP on {host!r}: the receiver has no authentication, "
                "so it binds loopback only; pass allow_remote=True to expose it on purpose"
            )
        if queue_size < 1 or max_body < 1 or not 0 <= port <= 65535:
            raise ConfigError("queue_size and max_body must be positive, port 0..65535")
        self.host = host
        self.max_body = max_body
        self.retry_after = retry_after
        self.stats = IngestStats(f"otlp://{host}:{port}{TRACES_PATH}")
        self._requested_port = port
        self._queue: queue.Queue[Event] = queue.Queue(maxsize=queue_size)
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._counts: Counter[str] = Counter()

    # --- counters -------------------------------------------------------------------------

    @property
    def received_requests(self) -> int:
        """Requests to ``/v1/traces``, whatever their outcome."""
        return self._counts["received_requests"]

    @property
    def accepted_events(self) -> int:
        """Events put on the queue."""
        return self._counts["accepted_events"]

    @property
    def rejected_spans(self) -> int:
        """Malformed spans reported back as ``rejectedSpans``."""
        return self._counts["rejected_spans"]

    @property
    def ignored_spans(self) -> int:
        """Well-formed spans without GenAI attributes (HTTP calls, DB queries...)."""
        return self._counts["ignored_spans"]

    @property
    def dropped(self) -> int:
        """Events refused with 503 because the queue was full (the sender may retry them)."""
        return self._counts["dropped"]

    @property
    def port(self) -> int:
        """The bound port (the free one picked when ``port=0``), once started."""
        if self._server is None:
            return self._requested_port
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """The traces endpoint, e.g. ``http://127.0.0.1:4318/v1/traces``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{TRACES_PATH}"

    @property
    def running(self) -> bool:
        """Started and not stopped."""
        return self._server is not None and not self._stopped.is_set()

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> OtlpReceiver:
        """Bind and serve in a background thread.

        Raises:
            ConfigError: The address cannot be bound (port in use, unknown host).
        """
        if self._server is not None:
            return self
        server_cls = _Server6 if ":" in self.host else _Server
        try:
            server = server_cls((self.host, self._requested_port), _Handler)
        except OSError as exc:
            reason = "port in use" if exc.errno == errno.EADDRINUSE else str(exc)
            raise ConfigError(
                f"cannot receive OTLP on {self.host}:{self._requested_port}: {reason}"
            ) from exc
        server.receiver = self
        self._stopped.clear()
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"otlp-receiver:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop receiving; :meth:`events` yields what is queued, then ends. Idempotent."""
        self._stopped.set()
        server, self._server = self._server, None
        if server is not None:
            self._requested_port = int(server.server_address[1])
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> OtlpReceiver:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- consuming ------------------------------------------------------------------------

    def events(self, timeout: float | None = None) -> Iterator[Event]:
        """Events as they arrive, until the receiver is stopped (then the queued rest).

        Args:
            timeout: End the iteration when no event came for this many seconds
                (``None``: wait until :meth:`stop`).
        """
        waited = 0.0
        tick = 0.05
        while True:
            try:
                event = self._queue.get(timeout=tick)
            except queue.Empty:
                if self._stopped.is_set():
                    return
                waited += tick
                if timeout is not None and waited >= timeout:
                    return
                continue
            waited = 0.0
            yield event

    def qsize(self) -> int:
        """Events waiting in the queue."""
        return self._queue.qsize()

    # --- called by the request handler ----------------------------------------------------

    def _count_request(self) -> None:
        with self._lock:
            self._counts["received_requests"] += 1

    def _accept(self, doc: Any) -> dict[str, Any]:
        """Parse one decoded export, queue its events (all or none), build the answer."""
        if self._stopped.is_set():
            raise _Reject(HTTPStatus.SERVICE_UNAVAILABLE, _UNAVAILABLE, "receiver stopping")
        if isinstance(doc, dict) and "resourceSpans" not in doc:
            doc = {**doc, "resourceSpans": []}  # an empty export is valid OTLP
        if not isinstance(doc, dict) or not isinstance(doc["resourceSpans"], list):
            raise _Reject(
                HTTPStatus.BAD_REQUEST,
                _INVALID_ARGUMENT,
                "not an ExportTraceServiceRequest (an object with a resourceSpans list)",
            )
        local = IngestStats(self.stats.source)
        events = list(ingest.otlp_events([doc], local))
        malformed = local.skipped.get("malformed span", 0)
        with self._lock:
            # Only handlers put, under this lock, and the consumer only takes: the room
            # seen here can only grow before the puts below.
            room = self._queue.maxsize - self._queue.qsize()
            if len(events) > room:
                self._counts["dropped"] += len(events)
                full = len(events) > self._queue.maxsize
            else:
                for event in events:
                    self._queue.put_nowait(event)
                self._counts["accepted_events"] += len(events)
                self._counts["rejected_spans"] += malformed
                self._counts["ignored_spans"] += local.skipped.get("not a GenAI span", 0)
                _merge(self.stats, local)
                full = None
        if full is True:
            raise _Reject(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                _RESOURCE_EXHAUSTED,
                f"{len(events)} GenAI spans in one request is more than the queue holds "
                f"({self._queue.maxsize}); send smaller batches",
            )
        if full is False:
            raise _Reject(
                HTTPStatus.SERVICE_UNAVAILABLE,
                _UNAVAILABLE,
                "event queue full, retry later",
            )
        if malformed:
            return {
                "partialSuccess": {
                    "rejectedSpans": malformed,
                    "errorMessage": f"{malformed} malformed span(s) skipped",
                }
            }
        return {"partialSuccess": {}}


def _merge(into: IngestStats, part: IngestStats) -> None:
    into.records += part.records
    into.events += part.events
    into.skipped.update(part.skipped)
    for reason, line in part.first_error_line.items():
        into.first_error_line.setdefault(reason, line)


# --- follow -------------------------------------------------------------------------------

_CHUNK = 64 * 1024


@dataclass
class _Tail:
    """The open file of a follow, and the bytes of its unfinished last line."""

    path: Path
    fh: BinaryIO | None = None
    ident: tuple[int, int] | None = None
    generation: int = 0
    lineno: int = 0
    pending: bytearray = field(default_factory=bytearray)
    overlong: bool = False
    skip_to: int = 0  # lines ending at or before this offset are not parsed (from_start=False)
    offset: int = 0

    def open(self, at_end: bool) -> bool:
        try:
            fh = open(self.path, "rb")  # noqa: SIM115 - kept open across polls
        except OSError:
            return False
        st = os.fstat(fh.fileno())
        self.close()
        self.fh, self.ident = fh, (st.st_dev, st.st_ino)
        self.lineno, self.offset, self.overlong = 0, 0, False
        self.pending.clear()
        self.skip_to = st.st_size if at_end else 0
        return True

    def close(self) -> None:
        if self.fh is not None:
            self.fh.close()
            self.fh = None

    def read_lines(self, stats: IngestStats) -> Iterator[tuple[int, bytes, bool]]:
        """Complete lines now readable: (line number, bytes, parse it?)."""
        assert self.fh is not None
        while True:
            chunk = self.fh.read(_CHUNK)
            if not chunk:
                return
            start = 0
            while True:
                nl = chunk.find(b"\n", start)
                if nl < 0:
                    self._keep(chunk[start:], stats)
                    self.offset += len(chunk) - start
                    break
                self.offset += nl + 1 - start
                piece = chunk[start : nl + 1]
                start = nl + 1
                self.lineno += 1
                if self.overlong:
                    self.overlong = False
                    continue
                line = bytes(self.pending) + piece if self.pending else piece
                self.pending.clear()
                yield self.lineno, line, self.offset > self.skip_to

    def _keep(self, part: bytes, stats: IngestStats) -> None:
        """Buffer an unfinished line, dropping it (counted once) past the line limit."""
        if self.overlong or not part:
            return
        if len(self.pending) + len(part) > ingest.MAX_LINE:
            self.pending.clear()
            self.overlong = True
            stats.skip("line too long", self.lineno + 1)
            return
        self.pending += part

    def finish(self) -> bytes | None:
        """The unterminated last line of a file that will not grow any more."""
        line = bytes(self.pending) if self.pending and not self.overlong else None
        self.pending.clear()
        if line is not None:
            self.lineno += 1
        return line


def follow(
    path: str | Path,
    *,
    format: str = "jsonl",
    mapping: dict[str, str] | None = None,
    stats: IngestStats | None = None,
    poll_interval: float = 0.5,
    stop: threading.Event | None = None,
    from_start: bool = True,
) -> Iterator[Event]:
    """Events from a growing JSONL or CSV log, as ``tail -F`` would show its lines.

    Only complete lines are parsed: a last line without its newline waits for it. The file
    may not exist yet (it is waited for), be truncated (read again from its start) or be
    rotated (replaced by a new file at ``path``: the old one is read to its end, then the
    new one from its start). Bad lines are counted in ``stats`` like
    :func:`~aiposture.monitor.ingest.read_jsonl` counts them; fallback event ids are
    ``name:line`` for the first file (the same as a batch read) and ``name#k:line`` after
    the k-th truncation or rotation. A CSV header is the first line of each new file;
    after a truncation the header is kept, and a line equal to it is skipped.

    Memory is bounded: one chunk and one unfinished line (at most ``ingest.MAX_LINE``
    bytes; a longer line is skipped and counted).

    Args:
        path: The log file.
        format: ``jsonl`` or ``csv``.
        mapping: Event field → key or column (``DEFAULT_MAPPING`` by default).
        stats: Filled with what was read and skipped.
        poll_interval: Seconds between checks when the file has nothing new.
        stop: Set it to end the iteration (``None``: follow until the generator is closed).
        from_start: Read what the file already holds (``False``: only lines appended from
            now on, like ``tail -n 0 -F``).

    Raises:
        ConfigError: An unknown format.
    """
    if format not in ("jsonl", "csv"):
        raise ConfigError(f"cannot follow format {format!r}; known: jsonl, csv")
    path = Path(path)
    stats = stats if stats is not None else IngestStats(str(path))
    full_mapping = {**ingest.DEFAULT_MAPPING, **(mapping or {})}
    stop = stop if stop is not None else threading.Event()
    tail = _Tail(path)
    header: list[str] | None = None
    first_open = True

    def parse(n: int, raw: bytes, wanted: bool) -> Event | None:
        nonlocal header
        name = path.name if tail.generation == 0 else f"{path.name}#{tail.generation}"
        if not wanted and not (format == "csv" and header is None):
            return None
        text = ingest.decode_line(raw, n, stats)
        if text is None:
            return None
        if format == "jsonl":
            return ingest.parse_jsonl_line(text, n, full_mapping, stats, name)
        row = ingest.split_csv_line(text, n, stats)
        if row is None:
            return None
        if header is None or row == header:
            header = row
            return None
        return ingest.csv_row_event(header, row, n, full_mapping, stats, name)

    try:
        while not stop.is_set():
            if tail.fh is None:
                if not tail.open(at_end=first_open and not from_start):
                    stop.wait(poll_interval)
                    continue
                first_open = False
            got = False
            for n, raw, wanted in tail.read_lines(stats):
                got = True
                event = parse(n, raw, wanted)
                if event is not None:
                    yield event
                if stop.is_set():
                    return
            if got:
                continue
            change = _changed(tail)
            if change == "rotated":
                for n, raw, wanted in tail.read_lines(stats):  # what came before the switch
                    event = parse(n, raw, wanted)
                    if event is not None:
                        yield event
                last = tail.finish()
                if last is not None:
                    event = parse(tail.lineno, last, True)
                    if event is not None:
                        yield event
                if tail.open(at_end=False):
                    tail.generation += 1
                    header = None if format == "csv" else header
                continue
            if change == "truncated":
                assert tail.fh is not None
                if tail.pending:
                    stats.skip("unfinished line lost to truncation", tail.lineno + 1)
                tail.fh.seek(0)
                tail.pending.clear()
                tail.lineno, tail.offset, tail.skip_to, tail.overlong = 0, 0, 0, False
                tail.generation += 1
                continue
            stop.wait(poll_interval)
    finally:
        tail.close()


def _changed(tail: _Tail) -> str | None:
    """``rotated`` (another file at the path), ``truncated`` (shorter than read), or None."""
    try:
        st = tail.path.stat()
    except OSError:
        return None  # moved away and not yet replaced: keep the old file open
    if (st.st_dev, st.st_ino) != tail.ident:
        return "rotated"
    if st.st_size < tail.offset:
        return "truncated"
    return None
