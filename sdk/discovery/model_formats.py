"""Model file formats, told from their bytes, and read statically.

:func:`inspect_model_file` decides a file's format from its first bytes (never from its
extension), reads what is cheap to read (tensor counts, dtypes, producer, architecture)
and, for every format that carries a pickle, runs the static analyser of
:mod:`aiposture.discovery.pickle_safety` on each stream a loader would unpickle:

* plain pickles (protocols 0-5) and joblib files, plain or compressed (zlib, gzip, bz2,
  xz, lzma, lz4 and joblib's old ``ZF`` files), stepping over the raw numpy array bytes
  joblib writes after each ``NumpyArrayWrapper``;
* PyTorch zip archives (every ``*.pkl`` member: ``data.pkl``, TorchScript's
  ``constants.pkl``) and PyTorch's legacy format (five pickles in sequence);
* numpy ``.npy`` object arrays (a pickle after the header) and ``.npz`` archives;
* zip and tar archives of any of these, recursively.

Other formats are validated and described: safetensors (a header that does not fit the
file, dtypes, shapes and offsets that disagree or overlap are errors), GGUF (version,
counts, ``general.*`` metadata, tensor dtypes), ONNX (``ir_version``, producer, opsets,
parsed from the protobuf by hand), TFLite, HDF5 (a Keras ``Lambda`` layer is flagged),
Keras v3 ``.keras`` archives (``Lambda`` layers with serialized bytecode and modules
imported by the config are flagged) and TensorFlow ``.pb`` files.

Files are streamed: nothing reads a whole multi-gigabyte file into memory, archive
members are read one at a time, and containers are bounded (depth, member count, total
uncompressed bytes, compression ratio): a zip bomb or a truncated archive is a
:class:`ModelFormatError`, never a crash.
"""

from __future__ import annotations

import ast
import bz2
import importlib
import io
import json
import lzma
import os
import struct
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from aiposture.discovery.base import TargetError
from aiposture.discovery.pickle_safety import (
    PickleLimits,
    PickleReader,
    PickleReport,
    ReadError,
    SafeGlobals,
    analyse_pickle,
    analyse_pickles,
    load_safe_globals,
    parse_numpy_descr,
)
from aiposture.models import Severity

__all__ = [
    "FORMATS",
    "ModelFormatError",
    "ModelReport",
    "ScanLimits",
    "UnsafeItem",
    "inspect_model_file",
    "sniff",
]

#: Every format :func:`inspect_model_file` reports, with the framework that writes it.
FORMATS: dict[str, str | None] = {
    "pickle": None,
    "joblib": "joblib",
    "pytorch-zip": "pytorch",
    "pytorch-legacy": "pytorch",
    "torchscript": "pytorch",
    "torchserve-mar": "pytorch",
    "numpy": "numpy",
    "npz": "numpy",
    "safetensors": None,
    "gguf": "llama.cpp",
    "ggml": "llama.cpp",
    "onnx": "onnx",
    "tflite": "tensorflow-lite",
    "hdf5": None,
    "keras": "keras",
    "tf-savedmodel": "tensorflow",
    "tf-graphdef": "tensorflow",
    "zip": None,
    "tar": None,
}

_HEAD = 4096
_MiB = 1 << 20


class ModelFormatError(TargetError):
    """The file cannot be read as a model file; ``partial`` keeps what was found first.

    A pickle that is truncated or malformed after an unsafe global is still unsafe (the
    unpickler would have run it before failing), so the caller reports ``partial``'s
    findings and then the error.
    """

    def __init__(self, reason: str, *, partial: ModelReport | None = None) -> None:
        super().__init__(reason)
        self.partial = partial


@dataclass(frozen=True)
class ScanLimits:
    """Bounds on reading one file.

    Attributes:
        max_depth: Archives nested in archives, at most.
        max_members: Members of one archive, at most.
        max_total_bytes: Uncompressed bytes read from archives and decompressors, in all.
        max_ratio: Largest compression ratio of a member or stream...
        ratio_floor: ...once it has expanded past this many bytes.
        max_json: Largest JSON header or configuration read.
        pickle: Limits of each pickle analysis.
    """

    max_depth: int = 4
    max_members: int = 100_000
    max_total_bytes: int = 64 * 1024 * _MiB
    max_ratio: float = 200.0
    ratio_floor: int = 32 * _MiB
    max_json: int = 100 * _MiB
    pickle: PickleLimits = field(default_factory=PickleLimits)


@dataclass(frozen=True)
class UnsafeItem:
    """Something in the file that runs code when the file is loaded.

    Attributes:
        name: The global (``os.system``) or construct (``keras Lambda layer 'f'``).
        severity: Critical for known code execution, high for anything else unknown.
        reason: What the loader would do.
        where: Archive member and byte offset (``archive/data.pkl@57``).
    """

    name: str
    severity: Severity
    reason: str
    where: str


@dataclass
class ModelReport:
    """What one model file is and whether loading it is safe.

    Attributes:
        format: One of :data:`FORMATS`.
        framework: The framework that writes it, where known.
        attributes: Facts read from the file (counts, dtypes, producer, compression...).
        unsafe: What runs code on load, most severe first.
        globals: Every global the file's pickles import, in order, without duplicates.
        members: Archive members analysed (for archives).
        is_model: False for an archive with no model inside (not a model file).
    """

    format: str
    framework: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    unsafe: list[UnsafeItem] = field(default_factory=list)
    globals: list[str] = field(default_factory=list)
    members: list[str] = field(default_factory=list)
    is_model: bool = True

    @property
    def severity(self) -> Severity | None:
        """The most severe finding's severity, or None when nothing is unsafe."""
        if not self.unsafe:
            return None
        return max((u.severity for u in self.unsafe), key=lambda s: s.rank)

    def sort(self) -> None:
        """Order the unsafe items most severe first, drop repeated globals."""
        self.unsafe.sort(key=lambda u: -u.severity.rank)
        self.globals = list(dict.fromkeys(self.globals))


# --- streams -----------------------------------------------------------------------------


class _Budget:
    def __init__(self, limits: ScanLimits) -> None:
        self.limits = limits
        self.used = 0

    def spend(self, n: int, where: str) -> None:
        self.used += n
        if self.used > self.limits.max_total_bytes:
            raise ModelFormatError(
                f"{where}: archives and compressed streams expand past "
                f"{self.limits.max_total_bytes:,} bytes (decompression bomb?)"
            )


class _Chained(io.RawIOBase):
    """Bytes already read (a sniffed head) followed by the rest of a stream."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self._head = memoryview(head)
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buf: Any) -> int:
        view = memoryview(buf).cast("B")
        if self._head:
            n = min(len(view), len(self._head))
            view[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._rest.read(len(view))
        view[: len(data)] = data
        return len(data)


class _Decompressing(io.RawIOBase):
    """A decompressing, budgeted, ratio-checked reader over a compressed stream."""

    def __init__(
        self,
        raw: BinaryIO,
        make: Callable[[], Any],
        kind: str,
        budget: _Budget,
        where: str,
    ) -> None:
        self._raw = raw
        self._make = make
        self._dec = make()
        self._kind = kind
        self._budget = budget
        self._where = where
        self._pending = b""
        self._in = 0
        self._out = 0
        self._eof = False

    def readable(self) -> bool:
        return True

    def _fill(self) -> None:
        while not self._pending and not self._eof:
            if self._dec.eof:
                rest = self._dec.unused_data or self._raw.read(256 * 1024)
                if not rest or self._kind in ("zlib", "lzma"):
                    self._eof = True  # trailing bytes after a zlib stream are ignored, as zlib does
                    return
                self._in += 0 if self._dec.unused_data else len(rest)
                self._dec = self._make()  # a concatenated stream (multi-member gzip, bz2, xz)
                self._feed(rest)
                continue
            chunk = self._raw.read(256 * 1024)
            if not chunk:
                raise ModelFormatError(
                    f"{self._where}: {self._kind} stream is truncated at compressed "
                    f"byte {self._in:,}"
                )
            self._in += len(chunk)
            self._feed(chunk)

    def _feed(self, chunk: bytes) -> None:
        try:
            out = self._dec.decompress(chunk)
        except (zlib.error, OSError, EOFError, lzma.LZMAError, ValueError) as exc:
            raise ModelFormatError(
                f"{self._where}: corrupt {self._kind} stream near compressed byte "
                f"{self._in:,} ({exc})"
            ) from None
        self._out += len(out)
        self._budget.spend(len(out), self._where)
        lim = self._budget.limits
        if self._out > lim.ratio_floor and self._out > lim.max_ratio * max(self._in, 1):
            raise ModelFormatError(
                f"{self._where}: {self._kind} stream expands more than {lim.max_ratio:.0f}x "
                f"({self._in:,} bytes to over {self._out:,}): decompression bomb"
            )
        self._pending += out

    def readinto(self, buf: Any) -> int:
        view = memoryview(buf).cast("B")
        self._fill()
        n = min(len(view), len(self._pending))
        view[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n


class _Lz4Frame:
    """A small LZ4 frame decoder (used when the ``lz4`` package is not installed)."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._hist = bytearray()
        self._state = "header"
        self._flags = 0
        self._block_checksum = False
        self._content_checksum = False
        self.eof = False
        self.unused_data = b""

    def decompress(self, data: bytes) -> bytes:
        self._buf += data
        out = bytearray()
        while not self.eof:
            if self._state == "header":
                if len(self._buf) < 7:
                    break
                if bytes(self._buf[:4]) != b"\x04\x22\x4d\x18":
                    raise ValueError("bad LZ4 frame magic")
                flg = self._buf[4]
                size = 7 + (8 if flg & 0x08 else 0) + (4 if flg & 0x01 else 0)
                if len(self._buf) < size:
                    break
                self._flags = flg
                self._block_checksum = bool(flg & 0x10)
                self._content_checksum = bool(flg & 0x04)
                del self._buf[:size]
                self._state = "block"
            elif self._state == "block":
                if len(self._buf) < 4:
                    break
                word = int.from_bytes(self._buf[:4], "little")
                if word == 0:
                    tail = 4 + (4 if self._content_checksum else 0)
                    if len(self._buf) < tail:
                        break
                    del self._buf[:tail]
                    self.eof = True
                    self.unused_data = bytes(self._buf)
                    break
                n = word & 0x7FFFFFFF
                if n > 4 * _MiB:
                    raise ValueError("LZ4 block larger than 4 MiB")
                need = 4 + n + (4 if self._block_checksum else 0)
                if len(self._buf) < need:
                    break
                block = bytes(self._buf[4 : 4 + n])
                del self._buf[:need]
                chunk = block if word & 0x80000000 else self._block(block)
                out += chunk
                self._hist = (self._hist + chunk)[-65536:]
        return bytes(out)

    def _block(self, src: bytes) -> bytes:
        dst = bytearray(self._hist if not self._flags & 0x20 else b"")
        start = len(dst)
        i, n = 0, len(src)
        while i < n:
            token = src[i]
            i += 1
            lit = token >> 4
            if lit == 15:
                while True:
                    b = src[i]
                    i += 1
                    lit += b
                    if b != 255:
                        break
            dst += src[i : i + lit]
            i += lit
            if i >= n:
                break
            off = src[i] | (src[i + 1] << 8)
            i += 2
            mlen = token & 15
            if mlen == 15:
                while True:
                    b = src[i]
                    i += 1
                    mlen += b
                    if b != 255:
                        break
            mlen += 4
            if off == 0 or off > len(dst):
                raise ValueError("LZ4 match offset out of range")
            pos = len(dst) - off
            if mlen <= off:
                dst += dst[pos : pos + mlen]
            else:
                for k in range(mlen):
                    dst.append(dst[pos + k])
        return bytes(dst[start:])


def _lz4_decompressor() -> Any:
    try:
        frame = importlib.import_module("lz4.frame")
    except ImportError:
        return _Lz4Frame()
    return frame.LZ4FrameDecompressor()


_COMPRESSIONS: dict[str, Callable[[], Any]] = {
    "gzip": lambda: zlib.decompressobj(31),
    "zlib": lambda: zlib.decompressobj(15),
    "bz2": bz2.BZ2Decompressor,
    "xz": lambda: lzma.LZMADecompressor(format=lzma.FORMAT_XZ),
    "lzma": lambda: lzma.LZMADecompressor(format=lzma.FORMAT_ALONE),
    "lz4": _lz4_decompressor,
}


def _read_head(stream: BinaryIO, n: int = _HEAD) -> bytes:
    out = b""
    while len(out) < n:
        chunk = stream.read(n - len(out))
        if not chunk:
            break
        out += chunk
    return out


def _buffered(raw: io.RawIOBase) -> BinaryIO:
    return io.BufferedReader(raw, buffer_size=256 * 1024)


# --- sniffing --------------------------------------------------------------------------

_LEGACY_TORCH = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19"
_HDF5 = b"\x89HDF\r\n\x1a\n"
_PROTO01_FIRST = set(b"(]})cNIKJSVXUTFGMLldPi")


def _looks_like_pickle(head: bytes) -> bool:
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return True
    if not head or head[0] not in _PROTO01_FIRST:
        return False
    rep = analyse_pickle(io.BytesIO(head), joblib=False, limits=PickleLimits(max_opcodes=256))
    if rep.error is None:
        return rep.opcodes >= 2
    return rep.error.startswith("truncated") and rep.opcodes >= 8


def sniff(head: bytes, size: int | None = None) -> str | None:
    """The kind of data ``head`` (a file's first bytes) starts, or None.

    Kinds are formats of :data:`FORMATS`, compressions (``gzip``, ``bz2``, ``xz``,
    ``lzma``, ``lz4``, ``zlib``), ``joblib-zfile`` and ``protobuf`` (told apart later).
    """
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "zip"
    if head.startswith(b"\x93NUMPY"):
        return "numpy"
    if head.startswith(b"GGUF"):
        return "gguf"
    if head[:4] in (b"lmgg", b"fmgg", b"tjgg"):
        return "ggml"
    if len(head) >= 8 and head[4:8] == b"TFL3":
        return "tflite"
    for off in (0, 512, 1024, 2048):
        if head[off : off + 8] == _HDF5:
            return "hdf5"
    if len(head) > 9 and head[8:9] == b"{" and struct.unpack("<Q", head[:8])[0] >= 2:
        return "safetensors"
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if head.startswith(b"BZh") and head[3:4].isdigit():
        return "bz2"
    if head.startswith(b"\xfd7zXZ\x00"):
        return "xz"
    if head.startswith(b"\x04\x22\x4d\x18"):
        return "lz4"
    if head.startswith(b"ZF0x"):
        return "joblib-zfile"
    if head.startswith(b"\x5d\x00\x00"):
        return "lzma"
    if len(head) >= 2 and head[0] == 0x78 and (head[0] * 256 + head[1]) % 31 == 0:
        return "zlib"
    if head[257:262] == b"ustar":
        return "tar"
    if head.startswith(_LEGACY_TORCH):
        return "pytorch-legacy"
    if _looks_like_pickle(head):
        return "pickle"
    if head[:1] in (b"\x08", b"\x0a", b"\x12"):
        return "protobuf"
    return None


# --- the inspection context ------------------------------------------------------------


@dataclass
class _Ctx:
    limits: ScanLimits
    allow: SafeGlobals
    budget: _Budget
    report: ModelReport
    pickle_reports: list[PickleReport] = field(default_factory=list)

    def fail(self, reason: str) -> ModelFormatError:
        self.report.sort()
        return ModelFormatError(reason, partial=self.report)

    def add_pickle(self, rep: PickleReport, where: str) -> None:
        self.pickle_reports.append(rep)
        self.report.globals.extend(rep.global_names())
        for u in rep.unsafe:
            self.report.unsafe.append(
                UnsafeItem(
                    u.name,
                    u.severity,
                    u.reason,
                    f"{where}@{u.offset}" if where else f"byte {u.offset}",
                )
            )
        if rep.error is not None:
            raise self.fail(f"{where or 'pickle'}: {rep.error}")


def inspect_model_file(
    path: str | os.PathLike[str],
    *,
    limits: ScanLimits | None = None,
    allowlist: SafeGlobals | None = None,
) -> ModelReport:
    """Tell a model file's format from its bytes and analyse it without loading it.

    Args:
        path: The file.
        limits: Bounds on the work (the defaults suit multi-gigabyte models).
        allowlist: Safe pickle globals (aiposture's shipped list by default).

    Returns:
        The report: format, framework, attributes, and anything that runs code on load.

    Raises:
        ModelFormatError: The bytes match no known model format, or the file is
            truncated, corrupt, lies in its header or exceeds a limit (``partial`` holds
            what was found before).
    """
    lim = limits if limits is not None else ScanLimits()
    ctx = _Ctx(lim, allowlist or load_safe_globals(), _Budget(lim), ModelReport(format="unknown"))
    p = Path(path)
    try:
        with open(p, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            head = _read_head(fh)
            fh.seek(0)
            kind = sniff(head, size)
            if kind is None:
                raise ModelFormatError(
                    "not a recognised model format (first bytes: "
                    f"{head[:8].hex(' ') or 'empty file'})"
                )
            fmt = _dispatch(ctx, kind, fh, size, head, "", 0, seekable=True)
    except ModelFormatError:
        raise
    except OSError as exc:
        raise ModelFormatError(f"cannot read the file: {exc.strerror or exc}") from exc
    except (struct.error, EOFError) as exc:
        raise ctx.fail(f"truncated or corrupt {ctx.report.format} file ({exc})") from exc
    rep = ctx.report
    rep.format = fmt
    if rep.framework is None:
        rep.framework = _framework(fmt, rep.globals)
    rep.sort()
    return rep


def _framework(fmt: str, globals_: list[str]) -> str | None:
    tops = [g.split(".", 1)[0] for g in globals_]
    for top, name in (
        ("torch", "pytorch"),
        ("sklearn", "scikit-learn"),
        ("xgboost", "xgboost"),
        ("lightgbm", "lightgbm"),
        ("catboost", "catboost"),
        ("transformers", "transformers"),
        ("keras", "keras"),
        ("tensorflow", "tensorflow"),
        ("pandas", "pandas"),
    ):
        if top in tops:
            return name
    if FORMATS.get(fmt):
        return FORMATS[fmt]
    if "numpy" in tops:
        return "numpy"
    return None


def _dispatch(
    ctx: _Ctx,
    kind: str,
    stream: BinaryIO,
    size: int | None,
    head: bytes,
    where: str,
    depth: int,
    *,
    seekable: bool,
) -> str:
    """Analyse ``stream`` (positioned at its start) as ``kind``; returns the format."""
    rep = ctx.report
    if depth == 0:
        rep.format = kind
    archive = kind in ("zip", "tar", "joblib-zfile") or kind in _COMPRESSIONS
    if archive and depth > ctx.limits.max_depth:
        raise ctx.fail(f"{where}: archives nested deeper than {ctx.limits.max_depth}")
    if kind == "zip":
        if not seekable:
            with _spool(ctx, stream, where) as spooled:
                return _zip(ctx, spooled, where, depth)
        return _zip(ctx, stream, where, depth)
    if kind == "tar":
        return _tar(ctx, stream, where, depth)
    if kind in _COMPRESSIONS:
        return _compressed(ctx, kind, stream, where, depth)
    if kind == "joblib-zfile":
        return _zfile(ctx, stream, where, depth)
    if kind == "pytorch-legacy":
        _pickles(ctx, stream, size, where, count=5)
        return "pytorch-legacy"
    if kind == "pickle":
        return _pickle_file(ctx, stream, size, where)
    if kind == "numpy":
        _npy(ctx, stream, size, where)
        return "numpy"
    if kind == "safetensors":
        _safetensors(ctx, stream, size, where)
        return "safetensors"
    if kind == "gguf":
        _gguf(ctx, stream, size, where)
        return "gguf"
    if kind == "ggml":
        rep.attributes["ggml_magic"] = head[:4][::-1].decode("ascii", "replace")
        return "ggml"
    if kind == "tflite":
        return "tflite"
    if kind == "hdf5":
        _hdf5(ctx, stream, where)
        return "hdf5"
    if kind == "protobuf":
        return _protobuf(ctx, stream, size, where)
    raise ctx.fail(f"{where}: not a recognised model format")


# --- pickles -----------------------------------------------------------------------------


def _pickles(ctx: _Ctx, stream: BinaryIO, size: int | None, where: str, *, count: int) -> None:
    reader = PickleReader(stream, size=size)
    n = 0
    for rep in analyse_pickles(reader, count=count, allowlist=ctx.allow, limits=ctx.limits.pickle):
        n += 1
        ctx.add_pickle(rep, where or f"pickle {n}")
    ctx.report.attributes["pickles"] = n
    _pickle_attrs(ctx)


def _pickle_attrs(ctx: _Ctx) -> None:
    reps = ctx.pickle_reports
    if reps:
        ctx.report.attributes["pickle_protocol"] = max(r.protocol for r in reps)
        arrays = sum(r.joblib_arrays for r in reps)
        if arrays:
            ctx.report.attributes["joblib_arrays"] = arrays


def _pickle_file(ctx: _Ctx, stream: BinaryIO, size: int | None, where: str) -> str:
    """A pickle file: the first stream is what ``pickle.load`` and ``joblib.load`` read;
    later streams (objects dumped one after another) are analysed too."""
    reader = PickleReader(stream, size=size)
    first = analyse_pickle(reader, allowlist=ctx.allow, limits=ctx.limits.pickle)
    ctx.add_pickle(first, where)
    extra = 0
    while not reader.at_eof() and extra < 1000:
        rep = analyse_pickle(reader, allowlist=ctx.allow, limits=ctx.limits.pickle)
        if rep.error is not None and not rep.unsafe:
            ctx.report.attributes["trailing_bytes"] = True
            break
        extra += 1
        ctx.add_pickle(rep, where or f"pickle {extra + 1}")
    if extra:
        ctx.report.attributes["pickles"] = extra + 1
    _pickle_attrs(ctx)
    joblib = any(r.joblib_arrays for r in ctx.pickle_reports) or any(
        g.startswith(("joblib.", "sklearn.externals.joblib.")) for g in ctx.report.globals
    )
    return "joblib" if joblib else "pickle"


def _npy(ctx: _Ctx, stream: BinaryIO, size: int | None, where: str) -> None:
    head = _read_head(stream, 10)
    if len(head) < 10:
        raise ctx.fail(f"{where or 'npy'}: truncated numpy header")
    major = head[6]
    if major == 1:
        hlen = struct.unpack("<H", head[8:10])[0]
        start = 10
    elif major in (2, 3):
        hlen = struct.unpack("<I", head[8:10] + _read_head(stream, 2))[0]
        start = 12
    else:
        raise ctx.fail(f"{where or 'npy'}: unknown numpy format version {major}")
    if hlen > 1 * _MiB or (size is not None and start + hlen > size):
        raise ctx.fail(f"{where or 'npy'}: numpy header length {hlen:,} does not fit the file")
    text = _read_head(stream, hlen).decode("latin-1")
    try:
        header = ast.literal_eval(text.strip()) if len(text) <= 65536 else None
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        header = None
    if not isinstance(header, dict) or not {"descr", "shape"} <= set(header):
        raise ctx.fail(f"{where or 'npy'}: numpy header is not a valid dictionary")
    descr, shape = header["descr"], header["shape"]
    if not (isinstance(shape, tuple) and all(isinstance(x, int) and x >= 0 for x in shape)):
        raise ctx.fail(f"{where or 'npy'}: numpy header has an invalid shape")
    info = _descr_info(descr)
    if not where:
        ctx.report.attributes.update({"shape": list(shape), "dtype": str(descr)})
    if info is None:
        return
    itemsize, objects = info
    if objects:
        ctx.report.attributes["object_array"] = True
        left = None if size is None else size - start - hlen
        rep = analyse_pickle(
            PickleReader(stream, size=left, base=start + hlen),
            allowlist=ctx.allow,
            limits=ctx.limits.pickle,
            joblib=False,
        )
        ctx.add_pickle(rep, where)
        _pickle_attrs(ctx)
        return
    count = 1
    for x in shape:
        count *= x
    if size is not None and start + hlen + count * itemsize > size:
        raise ctx.fail(
            f"{where or 'npy'}: truncated: header declares {count * itemsize:,} bytes of data, "
            f"the file holds {size - start - hlen:,}"
        )


def _descr_info(descr: object) -> tuple[int, bool] | None:
    if isinstance(descr, str):
        return parse_numpy_descr(descr)
    if isinstance(descr, list):
        total, objects = 0, False
        for item in descr:
            if not (isinstance(item, tuple) and len(item) >= 2):
                return None
            sub = _descr_info(item[1])
            if sub is None:
                return None
            n = 1
            if len(item) > 2 and isinstance(item[2], tuple):
                for x in item[2]:
                    n *= x if isinstance(x, int) else 1
            total += sub[0] * n
            objects = objects or sub[1]
        return total, objects
    return None


# --- compressed streams and joblib's ZF files -------------------------------------------


def _compressed(ctx: _Ctx, kind: str, stream: BinaryIO, where: str, depth: int) -> str:
    label = where or "file"
    raw = _Decompressing(stream, _COMPRESSIONS[kind], kind, ctx.budget, label)
    inner = _buffered(raw)
    head = _read_head(inner)
    inner_kind = sniff(head)
    if inner_kind is None or inner_kind in _COMPRESSIONS:
        ctx.report.is_model = False
        raise ctx.fail(
            f"{label}: {kind}-compressed data that is not a recognised model format "
            f"(first bytes: {head[:8].hex(' ') or 'empty'})"
        )
    if depth == 0 or not ctx.report.attributes.get("compression"):
        ctx.report.attributes["compression"] = kind
    chained = _buffered(_Chained(head, inner))
    fmt = _dispatch(ctx, inner_kind, chained, None, head, where, depth + 1, seekable=False)
    return "joblib" if fmt == "pickle" and kind in ("zlib", "lz4", "lzma") else fmt


def _zfile(ctx: _Ctx, stream: BinaryIO, where: str, depth: int) -> str:
    """joblib's files before 0.10: ``ZF``, a hex length, zlib data of one pickle."""
    header = _read_head(stream, 2 + 18)
    try:
        int(header[2:].strip().decode("ascii"), 16)
    except ValueError:
        raise ctx.fail(f"{where or 'file'}: joblib ZF header has no length") from None
    nxt = _read_head(stream, 1)
    rest: BinaryIO = stream if nxt == b" " else _buffered(_Chained(nxt, stream))
    raw = _Decompressing(rest, _COMPRESSIONS["zlib"], "zlib", ctx.budget, where or "file")
    ctx.report.attributes["compression"] = "zlib (joblib ZF)"
    _pickles(ctx, _buffered(raw), None, where, count=1)
    return "joblib"


# --- archives ------------------------------------------------------------------------------


class _spool:
    """Copy a non-seekable member into a temporary file (in memory while small)."""

    def __init__(self, ctx: _Ctx, stream: BinaryIO, where: str) -> None:
        self.ctx, self.stream, self.where = ctx, stream, where
        self.tmp: Any = None

    def __enter__(self) -> BinaryIO:
        self.tmp = tempfile.SpooledTemporaryFile(max_size=16 * _MiB)
        while True:
            chunk = self.stream.read(_MiB)
            if not chunk:
                break
            self.ctx.budget.spend(len(chunk), self.where)
            self.tmp.write(chunk)
        self.tmp.seek(0)
        return self.tmp  # type: ignore[no-any-return]

    def __exit__(self, *exc: object) -> None:
        self.tmp.close()


def _zip(ctx: _Ctx, stream: BinaryIO, where: str, depth: int) -> str:
    label = where or "zip"
    try:
        zf = zipfile.ZipFile(stream)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        raise ctx.fail(f"{label}: corrupt or truncated zip archive ({exc})") from None
    with zf:
        infos = [i for i in zf.infolist() if not i.is_dir()]
        lim = ctx.limits
        if len(infos) > lim.max_members:
            raise ctx.fail(
                f"{label}: {len(infos):,} members, over the limit of {lim.max_members:,}"
            )
        declared = sum(i.file_size for i in infos)
        if declared > lim.max_total_bytes - ctx.budget.used:
            raise ctx.fail(
                f"{label}: members expand to {declared:,} bytes, over the limit of "
                f"{lim.max_total_bytes:,} (zip bomb?)"
            )
        for i in infos:
            ratio = i.file_size / max(i.compress_size, 1)
            if i.file_size > lim.ratio_floor and ratio > lim.max_ratio:
                raise ctx.fail(
                    f"{label}: member {i.filename} expands {ratio:,.0f}x "
                    f"({i.compress_size:,} to {i.file_size:,} bytes): zip bomb"
                )
        names = [i.filename for i in infos]
        prefix = _torch_prefix(names)
        try:
            if prefix is not None:
                return _torch_zip(ctx, zf, infos, prefix, where, depth)
            if "config.json" in names and ("model.weights.h5" in names or "metadata.json" in names):
                return _keras(ctx, zf, where)
            return _generic_zip(ctx, zf, infos, where, depth)
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
            raise ctx.fail(f"{label}: corrupt zip member ({exc})") from None


_TORCHSCRIPT_NAMES = ("__torch__.", "torch.jit._pickle.")


def _torch_prefix(names: list[str]) -> str | None:
    for n in names:
        if n == "data.pkl":
            return ""
        if n.endswith("/data.pkl") and n.count("/") == 1:
            return n[: -len("data.pkl")]
    return None


def _member_where(where: str, name: str) -> str:
    return f"{where}!{name}" if where else name


def _torch_zip(
    ctx: _Ctx,
    zf: zipfile.ZipFile,
    infos: list[zipfile.ZipInfo],
    prefix: str,
    where: str,
    depth: int,
) -> str:
    rep = ctx.report
    storages = 0
    rels = [i.filename[len(prefix) :] for i in infos if i.filename.startswith(prefix)]
    code = any(r.startswith("code/") or r.endswith(".py") for r in rels)
    for info in infos:
        rel = info.filename[len(prefix) :] if info.filename.startswith(prefix) else info.filename
        if rel.startswith("data/"):
            storages += 1
            continue
        if rel.endswith(".pkl"):
            loc = _member_where(where, info.filename)
            with zf.open(info) as member:
                pr = analyse_pickle(
                    PickleReader(member, size=info.file_size),  # type: ignore[arg-type]
                    allowlist=ctx.allow,
                    limits=ctx.limits.pickle,
                )
            if code:
                # TorchScript's own loader resolves these to classes compiled from the
                # archive's code/ folder, never to Python imports.
                pr.unsafe = [u for u in pr.unsafe if not u.name.startswith(_TORCHSCRIPT_NAMES)]
            ctx.add_pickle(pr, loc)
            rep.members.append(loc)
    rep.attributes["storages"] = storages
    _pickle_attrs(ctx)
    if code:
        rep.attributes["contains_code"] = True
        return "torchscript"
    return "pytorch-zip"


def _generic_zip(
    ctx: _Ctx, zf: zipfile.ZipFile, infos: list[zipfile.ZipInfo], where: str, depth: int
) -> str:
    rep = ctx.report
    names = [i.filename for i in infos]
    mar = any(n.startswith("MAR-INF/") for n in names)
    npz = bool(infos) and all(n.endswith(".npy") for n in names)
    found = _members(
        ctx, ((i.filename, i.file_size, _zip_opener(zf, i)) for i in infos), where, depth
    )
    code = [n for n in names if n.endswith(".py")]
    if mar:
        rep.attributes["contains_code"] = bool(code)
        return "torchserve-mar"
    if npz and found:
        return "npz"
    if code:
        rep.attributes["python_files"] = len(code)
    if depth == 0 and not found:
        rep.is_model = False
    return "zip"


def _zip_opener(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> Callable[[], Any]:
    return lambda: zf.open(info)


def _members(
    ctx: _Ctx, members: Iterator[tuple[str, int, Callable[[], Any]]], where: str, depth: int
) -> int:
    """Sniff each member and analyse the model files among them; returns how many."""
    rep = ctx.report
    found = 0
    skipped = 0
    for name, _size, opener in members:
        loc = _member_where(where, name)
        with opener() as raw:
            head = _read_head(raw)
            kind = sniff(head, _size)
            if kind is None:
                skipped += 1
                continue
            stream = _buffered(_Chained(head, raw))
            fmt = _dispatch(ctx, kind, stream, _size, head, loc, depth + 1, seekable=False)
        rep.members.append(loc)
        rep.attributes.setdefault("member_formats", {})[loc] = fmt
        found += 1
    if skipped:
        rep.attributes["members_skipped"] = rep.attributes.get("members_skipped", 0) + skipped
    return found


def _const(member: Any) -> Callable[[], Any]:
    return lambda: member


def _tar(ctx: _Ctx, stream: BinaryIO, where: str, depth: int) -> str:
    label = where or "tar"
    rep = ctx.report
    unsafe_paths: list[str] = []

    def walk() -> Iterator[tuple[str, int, Callable[[], Any]]]:
        try:
            with tarfile.open(fileobj=stream, mode="r|") as tf:
                for count, ti in enumerate(tf, 1):
                    if count > ctx.limits.max_members:
                        raise ctx.fail(f"{label}: more than {ctx.limits.max_members:,} members")
                    if ti.name.startswith(("/", "../")) or "/../" in ti.name:
                        unsafe_paths.append(ti.name)
                    if not ti.isfile():
                        continue
                    ctx.budget.spend(ti.size, label)
                    member = tf.extractfile(ti)
                    if member is not None:
                        yield ti.name, ti.size, _const(member)
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise ctx.fail(f"{label}: corrupt or truncated tar archive ({exc})") from None

    found = _members(ctx, walk(), where, depth)
    if unsafe_paths:
        rep.attributes["member_paths_outside_archive"] = unsafe_paths[:20]
    if depth == 0 and not found:
        rep.is_model = False
    return "tar"


# --- Keras ---------------------------------------------------------------------------------

_KERAS_MODULES = ("keras", "tensorflow", "tf_keras", "keras_hub", "keras_nlp", "keras_cv")


def _keras(ctx: _Ctx, zf: zipfile.ZipFile, where: str) -> str:
    info = zf.getinfo("config.json")
    if info.file_size > ctx.limits.max_json:
        raise ctx.fail(
            f"{where or 'keras'}: config.json is larger than {ctx.limits.max_json:,} bytes"
        )
    try:
        config = json.loads(zf.read(info))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise ctx.fail(f"{where or 'keras'}: config.json is not valid JSON ({exc})") from None
    if "metadata.json" in zf.namelist():
        try:
            meta = json.loads(zf.read("metadata.json")[:_MiB])
            if isinstance(meta, dict) and isinstance(meta.get("keras_version"), str):
                ctx.report.attributes["keras_version"] = meta["keras_version"]
        except (json.JSONDecodeError, UnicodeDecodeError):
            pass
    loc = _member_where(where, "config.json")
    ctx.report.members.append(loc)
    ctx.report.unsafe.extend(_keras_config_issues(config, loc, Severity.HIGH))
    return "keras"


def _keras_config_issues(config: object, where: str, lambda_severity: Severity) -> list[UnsafeItem]:
    out: list[UnsafeItem] = []
    stack: list[object] = [config]
    seen = 0
    while stack and seen < 1_000_000:
        node = stack.pop()
        seen += 1
        if isinstance(node, list):
            stack.extend(node)
            continue
        if not isinstance(node, dict):
            continue
        stack.extend(node.values())
        cls = node.get("class_name")
        cfg = node.get("config")
        if cls == "Lambda" and isinstance(cfg, dict):
            fn = cfg.get("function")
            name = cfg.get("name", "?")
            if isinstance(fn, list) or (
                isinstance(fn, dict) and fn.get("class_name") == "__lambda__"
            ):
                out.append(
                    UnsafeItem(
                        f"keras Lambda layer {name!r}",
                        lambda_severity,
                        "the layer's function is serialized Python bytecode, run when the "
                        "model is loaded without safe_mode",
                        where,
                    )
                )
        module = node.get("module")
        if isinstance(module, str) and module.split(".", 1)[0] not in _KERAS_MODULES:
            target = node.get("registered_name") or node.get("class_name") or "?"
            out.append(
                UnsafeItem(
                    f"{module}.{target}",
                    Severity.HIGH,
                    f"the configuration imports module {module} when the model is loaded",
                    where,
                )
            )
    return out


def _hdf5(ctx: _Ctx, stream: BinaryIO, where: str) -> None:
    """Keras HDF5 files keep the model configuration as JSON text in an attribute."""
    markers = {
        b'"class_name": "Lambda"': "lambda",
        b"keras_version": "keras",
        b"model_config": "keras",
    }
    found: set[str] = set()
    tail = b""
    keep = max(len(m) for m in markers)
    while True:
        chunk = stream.read(8 * _MiB)
        if not chunk:
            break
        window = tail + chunk
        for marker, what in markers.items():
            if what not in found and marker in window:
                found.add(what)
        tail = window[-keep:]
    if "keras" in found or "lambda" in found:
        ctx.report.framework = "keras"
    if "lambda" in found:
        ctx.report.unsafe.append(
            UnsafeItem(
                "keras Lambda layer",
                Severity.CRITICAL,
                "the HDF5 model configuration holds a Lambda layer, whose Python bytecode "
                "legacy Keras loaders run when the model is loaded",
                where or "model_config",
            )
        )


# --- safetensors -------------------------------------------------------------------------

_ST_BITS = {
    "BOOL": 8, "U8": 8, "I8": 8, "F8_E5M2": 8, "F8_E4M3": 8, "F8_E8M0": 8, "I16": 16,
    "U16": 16, "F16": 16, "BF16": 16, "I32": 32, "U32": 32, "F32": 32, "F64": 64,
    "I64": 64, "U64": 64, "C64": 64, "F4": 4, "F6_E2M3": 6, "F6_E3M2": 6,
}  # fmt: skip
_ST_FRAMEWORKS = {"pt": "pytorch", "tf": "tensorflow", "flax": "flax", "np": "numpy", "mlx": "mlx"}


def _safetensors(ctx: _Ctx, stream: BinaryIO, size: int | None, where: str) -> None:
    label = where or "safetensors"
    first = _read_head(stream, 8)
    if len(first) < 8:
        raise ctx.fail(f"{label}: truncated safetensors header")
    n = struct.unpack("<Q", first)[0]
    if size is None:
        raise ctx.fail(f"{label}: safetensors needs a known file size")
    if n > size - 8 or n > ctx.limits.max_json:
        raise ctx.fail(
            f"{label}: lying header: it declares a {n:,}-byte JSON header in a {size:,}-byte file"
        )
    raw = _read_head(stream, n)
    try:
        header = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise ctx.fail(f"{label}: safetensors header is not valid JSON ({exc})") from None
    if not isinstance(header, dict):
        raise ctx.fail(f"{label}: safetensors header is not a JSON object")
    meta = header.pop("__metadata__", None)
    if meta is not None and not (
        isinstance(meta, dict) and all(isinstance(v, str) for v in meta.values())
    ):
        raise ctx.fail(f"{label}: safetensors __metadata__ is not a map of strings")
    data_len = size - 8 - n
    spans: list[tuple[int, int, str]] = []
    dtypes: set[str] = set()
    params = 0
    for name, t in header.items():
        if not isinstance(t, dict):
            raise ctx.fail(f"{label}: tensor {name!r} is not described by an object")
        dtype, shape, offs = t.get("dtype"), t.get("shape"), t.get("data_offsets")
        if dtype not in _ST_BITS:
            raise ctx.fail(f"{label}: tensor {name!r} has an unknown dtype {dtype!r}")
        if not (isinstance(shape, list) and all(type(x) is int and x >= 0 for x in shape)):
            raise ctx.fail(f"{label}: tensor {name!r} has an invalid shape")
        if not (
            isinstance(offs, list)
            and len(offs) == 2
            and all(type(x) is int for x in offs)
            and 0 <= offs[0] <= offs[1]
        ):
            raise ctx.fail(f"{label}: tensor {name!r} has invalid data offsets")
        count = 1
        for x in shape:
            count *= x
        if (offs[1] - offs[0]) * 8 != count * _ST_BITS[str(dtype)]:
            raise ctx.fail(
                f"{label}: lying header: tensor {name!r} is {dtype} {shape} "
                f"({count * _ST_BITS[str(dtype)] // 8:,} bytes) but its offsets span "
                f"{offs[1] - offs[0]:,} bytes"
            )
        if offs[1] > data_len:
            raise ctx.fail(
                f"{label}: lying header: tensor {name!r} ends at data byte {offs[1]:,}, "
                f"past the {data_len:,} bytes of data in the file"
            )
        spans.append((offs[0], offs[1], name))
        dtypes.add(str(dtype))
        params += count
    spans.sort()
    end = 0
    for begin, stop, name in spans:
        if begin < end:
            raise ctx.fail(f"{label}: lying header: tensor {name!r} overlaps another tensor")
        end = max(end, stop)
    if end != data_len:
        raise ctx.fail(
            f"{label}: header describes {end:,} bytes of tensor data, the file holds {data_len:,}"
        )
    attrs = ctx.report.attributes
    attrs.update({"tensor_count": len(spans), "dtypes": sorted(dtypes), "parameters": params})
    if meta:
        fmt = meta.get("format")
        if isinstance(fmt, str) and fmt in _ST_FRAMEWORKS:
            ctx.report.framework = _ST_FRAMEWORKS[fmt]
        attrs["metadata_keys"] = sorted(meta)[:50]


# --- GGUF ----------------------------------------------------------------------------------

_GGML_TYPES = {
    0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 6: "Q5_0", 7: "Q5_1", 8: "Q8_0", 9: "Q8_1",
    10: "Q2_K", 11: "Q3_K", 12: "Q4_K", 13: "Q5_K", 14: "Q6_K", 15: "Q8_K", 16: "IQ2_XXS",
    17: "IQ2_XS", 18: "IQ3_XXS", 19: "IQ1_S", 20: "IQ4_NL", 21: "IQ3_S", 22: "IQ2_S",
    23: "IQ4_XS", 24: "I8", 25: "I16", 26: "I32", 27: "I64", 28: "F64", 29: "IQ1_M",
    30: "BF16", 34: "TQ1_0", 35: "TQ2_0", 39: "MXFP4",
}  # fmt: skip
_GGUF_SCALARS = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
_GGUF_KEEP = {
    "general.architecture", "general.name", "general.license", "general.basename",
    "general.size_label", "general.file_type", "general.quantization_version",
}  # fmt: skip


class _Gguf:
    def __init__(self, ctx: _Ctx, reader: PickleReader, size: int, label: str, wide: bool) -> None:
        self.ctx, self.reader, self.size, self.label, self.wide = ctx, reader, size, label, wide

    def u(self, fmt: str) -> int:
        return int(struct.unpack(fmt, self._read(struct.calcsize(fmt)))[0])

    def _read(self, n: int) -> bytes:
        try:
            return self.reader.read(n, "GGUF field")
        except ReadError as exc:
            raise self.ctx.fail(f"{self.label}: {exc.reason}") from None

    def _skip(self, n: int) -> None:
        try:
            self.reader.skip(n, "GGUF value")
        except ReadError as exc:
            raise self.ctx.fail(f"{self.label}: {exc.reason}") from None

    def length(self) -> int:
        return self.u("<Q") if self.wide else self.u("<I")

    def string(self, keep: bool) -> str | None:
        n = self.length()
        if n > self.size:
            raise self.ctx.fail(f"{self.label}: lying header: a {n:,}-byte string in the file")
        if keep and n <= 4096:
            return self._read(n).decode("utf-8", "replace")
        self._skip(n)
        return None

    def value(self, vtype: int, keep: bool) -> object:
        if vtype == 8:
            return self.string(keep)
        if vtype == 9:
            etype = self.u("<I")
            count = self.length()
            if etype in _GGUF_SCALARS:
                self._skip(count * _GGUF_SCALARS[etype])
            elif etype in (8, 9):
                if count > self.size:
                    raise self.ctx.fail(f"{self.label}: lying header: array of {count:,} items")
                for _ in range(count):
                    self.value(etype, False)
            else:
                raise self.ctx.fail(f"{self.label}: unknown GGUF array type {etype}")
            return None
        n = _GGUF_SCALARS.get(vtype)
        if n is None:
            raise self.ctx.fail(f"{self.label}: unknown GGUF value type {vtype}")
        raw = self._read(n)
        fmt = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?"}
        fmt.update({10: "<Q", 11: "<q", 12: "<d"})
        return struct.unpack(fmt[vtype], raw)[0]


def _gguf(ctx: _Ctx, stream: BinaryIO, size: int | None, where: str) -> None:
    label = where or "gguf"
    if size is None:
        raise ctx.fail(f"{label}: GGUF needs a known file size")
    head = _read_head(stream, 8)
    version = struct.unpack("<I", head[4:8])[0] if len(head) == 8 else 0
    if version not in (1, 2, 3):
        raise ctx.fail(f"{label}: unsupported GGUF version {version}")
    g = _Gguf(ctx, PickleReader(stream, size=size - 8, base=8), size, label, version >= 2)
    tensors = g.length()
    kvs = g.length()
    if tensors > size // 24 or kvs > size // 12:
        raise ctx.fail(
            f"{label}: lying header: {tensors:,} tensors and {kvs:,} metadata entries "
            f"cannot fit in {size:,} bytes"
        )
    attrs = ctx.report.attributes
    attrs.update({"gguf_version": version, "tensor_count": tensors, "metadata_count": kvs})
    alignment = 32
    for _ in range(kvs):
        key = g.string(True) or ""
        vtype = g.u("<I")
        val = g.value(vtype, key in _GGUF_KEEP or key == "general.alignment")
        if key in _GGUF_KEEP and val is not None:
            attrs[key.replace("general.", "")] = val
        elif key == "general.alignment" and isinstance(val, int) and val > 0:
            alignment = val
        elif key == "tokenizer.chat_template":
            attrs["chat_template"] = True
    dtypes: set[str] = set()
    offsets: list[int] = []
    for _ in range(tensors):
        g.string(False)
        dims = g.u("<I")
        if dims > 8:
            raise ctx.fail(f"{label}: tensor with {dims} dimensions (corrupt header)")
        for _ in range(dims):
            g.u("<Q")
        ttype = g.u("<I")
        offsets.append(g.u("<Q"))
        dtypes.add(_GGML_TYPES.get(ttype, f"type{ttype}"))
    data_start = -(-g.reader.pos // alignment) * alignment
    if offsets and data_start + max(offsets) > size:
        raise ctx.fail(f"{label}: lying header: a tensor starts past the end of the file")
    attrs["dtypes"] = sorted(dtypes)


# --- protobuf: ONNX, SavedModel, GraphDef ------------------------------------------------


class _Proto:
    def __init__(self, ctx: _Ctx, stream: BinaryIO, size: int, label: str) -> None:
        self.ctx, self.label = ctx, label
        self.r = PickleReader(stream, size=size)

    def varint(self) -> int:
        shift = result = 0
        try:
            while True:
                b = self.r.read(1, "varint")[0]
                result |= (b & 0x7F) << shift
                if not b & 0x80:
                    return result
                shift += 7
                if shift > 63:
                    raise ReadError("varint longer than 10 bytes")
        except ReadError as exc:
            raise _NotProto(exc.reason) from None

    def fields(self, end: int) -> Iterator[tuple[int, int, int]]:
        """(field, wire type, value-or-length) until byte ``end``; LEN values unread."""
        while self.r.pos < end:
            tag = self.varint()
            num, wire = tag >> 3, tag & 7
            if num == 0:
                raise _NotProto("field number 0")
            if wire == 0:
                yield num, wire, self.varint()
            elif wire == 1:
                self.skip(8)
                yield num, wire, 0
            elif wire == 5:
                self.skip(4)
                yield num, wire, 0
            elif wire == 2:
                n = self.varint()
                if self.r.pos + n > end:
                    raise _NotProto("length past the end of its message")
                yield num, wire, n
            else:
                raise _NotProto(f"wire type {wire}")
        if self.r.pos != end:
            raise _NotProto("message overruns its length")

    def skip(self, n: int) -> None:
        try:
            self.r.skip(n)
        except ReadError as exc:
            raise _NotProto(exc.reason) from None

    def text(self, n: int) -> str | None:
        if n > 4096:
            self.skip(n)
            return None
        return self.r.read(n).decode("utf-8", "replace")


class _NotProto(Exception):
    pass


_ONNX_TEXT = {2: "producer_name", 3: "producer_version", 4: "domain"}
_ONNX_FIELDS = {1: 0, 2: 2, 3: 2, 4: 2, 5: 0, 6: 2, 7: 2, 8: 2, 14: 2, 20: 2, 25: 2, 26: 2}


def _protobuf(ctx: _Ctx, stream: BinaryIO, size: int | None, where: str) -> str:
    label = where or "file"
    if size is None:
        raise ctx.fail(f"{label}: protobuf needs a known file size")
    p = _Proto(ctx, stream, size, label)
    seen: dict[int, int] = {}
    info: dict[str, Any] = {}
    opsets: dict[str, int] = {}
    try:
        for num, wire, val in p.fields(size):
            seen.setdefault(num, wire)
            if wire != 2:
                if num == 1 and wire == 0:
                    info["ir_version"] = val
                continue
            if num == 7 and seen.get(1) == 0:
                _onnx_graph(p, p.r.pos + val, info)
            elif num == 8:
                dom, ver = "", 0
                for f, w, v in p.fields(p.r.pos + val):
                    if f == 1 and w == 2:
                        dom = p.text(v) or ""
                    elif f == 2 and w == 0:
                        ver = v
                    elif w == 2:
                        p.skip(v)
                opsets[dom or "ai.onnx"] = ver
            elif num in _ONNX_TEXT and seen.get(1) == 0:
                info[_ONNX_TEXT[num]] = p.text(val)
            else:
                p.skip(val)
    except _NotProto as exc:
        raise ctx.fail(f"{label}: not a recognised model format (not a protobuf: {exc})") from None
    attrs = ctx.report.attributes
    if (
        seen.get(1) == 0
        and seen.get(7) == 2
        and all(_ONNX_FIELDS.get(f) == w for f, w in seen.items())
    ):
        attrs.update({k: v for k, v in info.items() if v not in (None, "")})
        if opsets:
            attrs["opsets"] = opsets
        return "onnx"
    if set(seen) <= {1, 2} and seen.get(2) == 2 and seen.get(1, 0) == 0:
        return "tf-savedmodel"
    if 1 in seen and set(seen) <= {1, 2, 3, 4} and seen[1] == 2:
        return "tf-graphdef"
    raise ctx.fail(f"{label}: not a recognised model format (an unknown protobuf message)")


def _onnx_graph(p: _Proto, end: int, info: dict[str, Any]) -> None:
    nodes = inits = 0
    for f, w, v in p.fields(end):
        if w == 2:
            if f == 1:
                nodes += 1
                p.skip(v)
            elif f == 5:
                inits += 1
                p.skip(v)
            elif f == 2:
                info["graph_name"] = p.text(v)
            else:
                p.skip(v)
    info["nodes"] = nodes
    info["initializers"] = inits
