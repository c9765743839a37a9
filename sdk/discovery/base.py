"""The scanner plugin interface.

A scanner is one class with class-level metadata and one main method,
:meth:`Scanner.scan`, that reads one :class:`Target` and yields domain objects
(:class:`~aiposture.models.Asset`, :class:`~aiposture.models.Relation`,
:class:`~aiposture.models.Finding`). Ids are derived from identity, so a
scanner never needs to know what is already in the store; the discovery
engine merges what all scanners yield.

Rules every scanner keeps:

* never execute, import or unpickle what it scans: read bytes and parse;
* never put a secret into anything it yields: a fingerprint, the kind and
  the location only;
* raise :class:`TargetError` (or any exception) for a bad input: the engine
  records it against the file and goes on; yield a
  :class:`~aiposture.models.ScanIssue` for input skipped in part (a warning).
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import ClassVar

from aiposture.models import Asset, Finding, Relation, ScanIssue
from aiposture.settings import Settings

__all__ = ["Observation", "Scanner", "Target", "TargetError", "TargetKind"]

Observation = Asset | Relation | Finding


class TargetKind(StrEnum):
    """What a scanner reads."""

    FILE = "file"
    ENVIRONMENT = "environment"
    LOG = "log"


class TargetError(Exception):
    """A scanner cannot read this target; the engine records ``str(exc)`` as the reason."""

    def __init__(self, reason: str, *, line: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.line = line


@dataclass(frozen=True)
class Target:
    """One thing to scan: a file's bytes (already read by the engine) or a pseudo-source.

    Attributes:
        source: Where the observations come from, as stored: an absolute
            file path, or a pseudo-source such as ``env:/usr/lib/python3``.
        path: The file, for file and log targets.
        root: The scan root the file was found under.
        data: The file's bytes (file and log targets; empty for streaming scanners).
        project: The project folder the file belongs to (nearest ancestor
            with a manifest or VCS folder, else the root); scanners name the
            application asset after it.
    """

    kind: TargetKind
    source: str
    path: Path | None = None
    root: Path | None = None
    data: bytes = b""
    project: Path | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @cached_property
    def text(self) -> str:
        """The bytes decoded as UTF-8 (BOM tolerated).

        Raises:
            TargetError: The bytes are not text (NUL bytes or invalid UTF-8).
        """
        if b"\x00" in self.data[:8192]:
            raise TargetError("binary content (NUL bytes) in a text file")
        try:
            return self.data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = self.data[: exc.start].count(b"\n") + 1
            raise TargetError(
                f"not valid UTF-8 at byte {exc.start} (line {line})", line=line
            ) from exc

    @property
    def display_path(self) -> str:
        """The path relative to its root where possible (for evidence)."""
        if self.path is None:
            return self.source
        return str(self.path)

    @property
    def project_name(self) -> str:
        """Name of the project folder (the application the file belongs to)."""
        base = self.project or self.root or (self.path.parent if self.path else None)
        return base.name if base is not None and base.name else "root"

    @property
    def project_path(self) -> str:
        """Absolute path of the project folder, as a string."""
        base = self.project or self.root or (self.path.parent if self.path else Path(os.sep))
        return str(base)


class Scanner(ABC):
    """Base class of discovery scanners.

    Subclasses set the class attributes and implement :meth:`scan`; file
    scanners also override :meth:`accepts`. Register a scanner in
    :mod:`aiposture.discovery.registry` (or through the ``aiposture.scanners``
    entry-point group) and add one test file for it.
    """

    #: Unique name, used in the registry, in evidence and on the CLI.
    name: ClassVar[str]
    #: One sentence on what it finds.
    description: ClassVar[str]
    #: What it reads.
    target_kind: ClassVar[TargetKind] = TargetKind.FILE
    #: Bump when the scanner's output changes, so unchanged files are re-read.
    version: ClassVar[str] = "1"
    #: Largest file it reads; larger files are skipped with a recorded reason.
    max_bytes: ClassVar[int] = 8 * 1024 * 1024
    #: The scanner opens ``target.path`` itself and reads it in pieces (model files of
    #: gigabytes, log files of millions of lines): the engine passes no bytes in
    #: ``target.data``, only the file's SHA-256 in ``target.extra["sha256"]`` (file targets).
    streams: ClassVar[bool] = False

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings if settings is not None else Settings()

    def accepts(self, path: Path) -> bool:
        """Whether this scanner wants to read ``path`` (decided by name, not content)."""
        return False

    @abstractmethod
    def scan(self, target: Target) -> Iterable[Observation | ScanIssue]:
        """Yield the assets, relations and findings seen in ``target``.

        A :class:`~aiposture.models.ScanIssue` yielded is a warning (the target was read
        only in part, such as log lines skipped), recorded in the scan run's ``warnings``.

        Raises:
            TargetError: The target cannot be read or parsed.
        """
