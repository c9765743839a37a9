"""Reading training records and model outputs for the leakage index.

Accepted inputs: a pandas DataFrame; a path to a ``.jsonl`` / ``.ndjson`` / ``.json`` /
``.csv`` / ``.parquet`` file; a path to any other file (one record: the whole file); a
folder of text files (one record per file, its id the path relative to the folder); or an
iterable of :class:`~aiposture.models.LeakageRecord`, mappings or ``(id, text)`` /
``(id, text, metadata)`` tuples; a mapping ``{id: text}``; a list of paths.

Documented behaviour on bad input:

* a record with empty or whitespace-only text is not an error: it is skipped by the
  index and counted (``skipped_empty`` of the build summary);
* a JSONL or CSV file with bytes that are not UTF-8 raises :class:`LeakageDataError`
  naming the file and the line: a structured file in another encoding is a mistake to fix;
* a file of a folder (or a single text file) that is not UTF-8 is decoded with
  ``errors="replace"`` and a :class:`UnicodeWarning` names it: one legacy file must not
  stop a build; a file with NUL bytes in its first 8 KiB is binary and skipped (counted);
* a missing id or text field or column raises :class:`LeakageDataError` naming it (and the
  columns that exist); a JSONL line that is not a JSON object names the file and line;
* duplicate record ids are refused by the index (``ValueError`` naming the id).
"""

from __future__ import annotations

import csv
import json
import math
import os
import warnings
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from aiposture.errors import LeakageIndexError
from aiposture.models import LeakageRecord

__all__ = ["LeakageDataError", "LoadStats", "iter_records", "load_texts"]

_KNOWN = ("dataset", "source", "sensitivity")
_TABLE_SUFFIXES = {".jsonl", ".ndjson", ".json", ".csv", ".parquet", ".pq"}
_BINARY_SNIFF = 8192


class LeakageDataError(LeakageIndexError, ValueError):
    """Training data or model outputs cannot be read; the message names the file and line."""


@dataclass
class LoadStats:
    """What reading an input skipped."""

    files_read: int = 0
    skipped_binary: int = 0
    replaced_encoding: int = 0


def _jsonable(value: Any) -> Any:
    """A JSON value for a metadata value (None for missing ones)."""
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item):
        try:
            return _jsonable(item())
        except (TypeError, ValueError):
            pass
    try:
        import pandas as pd

        if pd.isna(value):
            return None
    except (ImportError, TypeError, ValueError):
        pass
    return str(value)


def _record(row: Mapping[str, Any], id_field: str, text_field: str, where: str) -> LeakageRecord:
    """A record from one row; ``where`` names the row in errors (file and line)."""
    if id_field not in row:
        raise LeakageDataError(f"{where}: no {id_field!r} field (fields: {_names(row)})")
    if text_field not in row:
        raise LeakageDataError(f"{where}: no {text_field!r} field (fields: {_names(row)})")
    rid = _jsonable(row[id_field])
    if rid is None or (isinstance(rid, str) and not rid.strip()):
        raise LeakageDataError(f"{where}: the {id_field!r} field is empty")
    if isinstance(rid, dict | list):
        raise LeakageDataError(f"{where}: the {id_field!r} field is not a string or number")
    text = row[text_field]
    if text is None or (isinstance(text, float) and math.isnan(text)):
        text = ""
    if not isinstance(text, str):
        raise LeakageDataError(
            f"{where}: the {text_field!r} field is a {type(text).__name__}, not a string"
        )
    known: dict[str, str | None] = {}
    meta: dict[str, Any] = {}
    for key, value in row.items():
        if key in (id_field, text_field):
            continue
        v = _jsonable(value)
        if key in _KNOWN:
            known[key] = None if v is None else str(v)
        elif v is not None:
            meta[str(key)] = v
    return LeakageRecord(id=str(rid), text=text, metadata=meta, **known)


def _names(row: Mapping[str, Any]) -> str:
    names = [str(k) for k in row]
    return ", ".join(names[:12]) + (", ..." if len(names) > 12 else "") if names else "none"


def _decode_line(raw: bytes, path: Path, lineno: int) -> str:
    try:
        return raw.decode("utf-8-sig" if lineno == 1 else "utf-8")
    except UnicodeDecodeError as exc:
        raise LeakageDataError(
            f"{path}: line {lineno} is not valid UTF-8 (byte 0x{raw[exc.start]:02x} at column "
            f"{exc.start + 1}); convert the file to UTF-8"
        ) from None


def _read_jsonl(path: Path, id_field: str, text_field: str) -> Iterator[LeakageRecord]:
    with open(path, "rb") as fh:
        first = fh.read(64).lstrip(b"\xef\xbb\xbf \t\r\n")
        fh.seek(0)
        if path.suffix.lower() == ".json" and first.startswith(b"["):
            yield from _read_json_array(path, fh.read(), id_field, text_field)
            return
        for lineno, raw in enumerate(fh, 1):
            line = _decode_line(raw, path, lineno).strip()
            if not line:
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise LeakageDataError(
                    f"{path}: line {lineno} is not valid JSON ({exc.msg})"
                ) from None
            if not isinstance(row, dict):
                raise LeakageDataError(f"{path}: line {lineno} is not a JSON object")
            yield _record(row, id_field, text_field, f"{path}: line {lineno}")


def _read_json_array(
    path: Path, data: bytes, id_field: str, text_field: str
) -> Iterator[LeakageRecord]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise LeakageDataError(f"{path}: line {line} is not valid UTF-8") from None
    try:
        rows = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LeakageDataError(f"{path}: line {exc.lineno} is not valid JSON ({exc.msg})") from None
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise LeakageDataError(f"{path}: item {i} is not a JSON object")
        yield _record(row, id_field, text_field, f"{path}: item {i}")


def _read_csv(path: Path, id_field: str, text_field: str) -> Iterator[LeakageRecord]:
    csv.field_size_limit(1 << 30)
    with open(path, "rb") as fh:
        lines = (_decode_line(raw, path, n) for n, raw in enumerate(fh, 1))
        reader = csv.DictReader(lines)
        header = reader.fieldnames or []
        for name in (id_field, text_field):
            if name not in header:
                raise LeakageDataError(
                    f"{path}: no {name!r} column (columns: {', '.join(header) or 'none'})"
                )
        for row in reader:
            if None in row:
                raise LeakageDataError(
                    f"{path}: line {reader.line_num} has more fields than the header"
                )
            clean = {k: (v if v != "" or k == text_field else None) for k, v in row.items()}
            yield _record(clean, id_field, text_field, f"{path}: line {reader.line_num}")


def _read_parquet(path: Path, id_field: str, text_field: str) -> Iterator[LeakageRecord]:
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises several types for a damaged file
        raise LeakageDataError(f"{path}: cannot be read as Parquet ({exc})") from None
    names = pf.schema_arrow.names
    for name in (id_field, text_field):
        if name not in names:
            raise LeakageDataError(
                f"{path}: no {name!r} column (columns: {', '.join(names) or 'none'})"
            )
    row_no = 0
    for batch in pf.iter_batches(batch_size=4096):
        for row in batch.to_pylist():
            yield _record(row, id_field, text_field, f"{path}: row {row_no}")
            row_no += 1


def _read_frame(frame: Any, id_field: str, text_field: str) -> Iterator[LeakageRecord]:
    columns = [str(c) for c in frame.columns]
    for name in (id_field, text_field):
        if name not in columns:
            raise LeakageDataError(
                f"DataFrame: no {name!r} column (columns: {', '.join(columns) or 'none'})"
            )
    for n, row in enumerate(frame.to_dict("records")):
        yield _record(
            {str(k): v for k, v in row.items()}, id_field, text_field, f"DataFrame row {n}"
        )


def _read_text_file(path: Path, rid: str, stats: LoadStats) -> LeakageRecord | None:
    data = path.read_bytes()
    if b"\x00" in data[:_BINARY_SNIFF]:
        stats.skipped_binary += 1
        return None
    stats.files_read += 1
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        stats.replaced_encoding += 1
        warnings.warn(
            f"{path}: not valid UTF-8; undecodable bytes were replaced with U+FFFD",
            UnicodeWarning,
            stacklevel=4,
        )
        text = data.decode("utf-8", errors="replace")
    return LeakageRecord(id=rid, text=text, source=str(path))


def _read_folder(folder: Path, stats: LoadStats) -> Iterator[LeakageRecord]:
    files: list[Path] = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        files.extend(Path(root) / n for n in names if not n.startswith("."))
    for path in sorted(files, key=lambda p: p.relative_to(folder).as_posix()):
        if not path.is_file():
            continue
        rec = _read_text_file(path, path.relative_to(folder).as_posix(), stats)
        if rec is not None:
            yield rec


def _read_path(
    path: Path, id_field: str, text_field: str, stats: LoadStats
) -> Iterator[LeakageRecord]:
    if path.is_dir():
        yield from _read_folder(path, stats)
        return
    if not path.exists():
        raise LeakageDataError(f"{path}: no such file or folder")
    suffix = path.suffix.lower()
    stats.files_read += 1
    if suffix in (".jsonl", ".ndjson", ".json"):
        yield from _read_jsonl(path, id_field, text_field)
    elif suffix == ".csv":
        yield from _read_csv(path, id_field, text_field)
    elif suffix in (".parquet", ".pq"):
        yield from _read_parquet(path, id_field, text_field)
    else:
        stats.files_read -= 1
        rec = _read_text_file(path, path.name, stats)
        if rec is not None:
            yield rec


def _is_frame(data: Any) -> bool:
    return type(data).__name__ == "DataFrame" and hasattr(data, "to_dict")


def iter_records(
    data: Any,
    *,
    id_field: str = "id",
    text_field: str = "text",
    stats: LoadStats | None = None,
) -> Iterator[LeakageRecord]:
    """Every record of ``data``, in order (empty texts included; the index skips them).

    Args:
        data: A DataFrame, a path (file or folder), an iterable of records, mappings,
            ``(id, text)`` or ``(id, text, metadata)`` tuples, a ``{id: text}`` mapping, or
            a list of paths.
        id_field: Name of the id field or column.
        text_field: Name of the text field or column.
        stats: Filled with what was read and skipped.

    Raises:
        LeakageDataError: The data cannot be read (the message names the file, line or
            item and what is wrong).
    """
    st = stats if stats is not None else LoadStats()
    if isinstance(data, str | os.PathLike):
        yield from _read_path(Path(data), id_field, text_field, st)
        return
    if _is_frame(data):
        yield from _read_frame(data, id_field, text_field)
        return
    if isinstance(data, LeakageRecord):
        yield data
        return
    if isinstance(data, Mapping):
        if id_field in data and text_field in data and not isinstance(data[text_field], Mapping):
            yield _record(data, id_field, text_field, "record")
            return
        for key, value in data.items():
            if not isinstance(value, str):
                raise LeakageDataError(
                    f"record {key!r}: the value is a {type(value).__name__}, not a text"
                )
            yield LeakageRecord(id=str(key), text=value)
        return
    if not isinstance(data, Iterable):
        raise LeakageDataError(
            f"cannot read records from a {type(data).__name__}: pass a DataFrame, a path, "
            "or an iterable of records, mappings or (id, text) pairs"
        )
    for n, item in enumerate(data):
        if isinstance(item, LeakageRecord):
            yield item
        elif isinstance(item, os.PathLike):
            yield from _read_path(Path(item), id_field, text_field, st)
        elif isinstance(item, Mapping):
            yield _record(item, id_field, text_field, f"item {n}")
        elif isinstance(item, tuple | list) and len(item) in (2, 3):
            rid, text = item[0], item[1]
            meta = item[2] if len(item) == 3 else {}
            if not isinstance(meta, Mapping):
                raise LeakageDataError(f"item {n}: the third element must be a mapping")
            row = {**{str(k): v for k, v in meta.items()}, id_field: rid, text_field: text}
            yield _record(row, id_field, text_field, f"item {n}")
        elif isinstance(item, str):
            raise LeakageDataError(
                f"item {n} is a bare string: records need an id, pass (id, text) pairs or "
                "mappings (a path must be a pathlib.Path)"
            )
        else:
            raise LeakageDataError(
                f"item {n} is a {type(item).__name__}: expected a LeakageRecord, a mapping "
                "or an (id, text) pair"
            )


def load_texts(data: Any, *, id_field: str = "id", text_field: str = "text") -> dict[str, str]:
    """``{id: text}`` of every record of ``data`` (model outputs for a check).

    Accepts everything :func:`iter_records` accepts: JSONL, CSV or Parquet files with the
    id and text fields, folders or single text files.

    Raises:
        LeakageDataError: The data cannot be read, or an id occurs twice (named).
    """
    out: dict[str, str] = {}
    for rec in iter_records(data, id_field=id_field, text_field=text_field):
        if rec.id in out:
            raise LeakageDataError(f"duplicate id {rec.id!r} in the outputs")
        out[rec.id] = rec.text
    return out
