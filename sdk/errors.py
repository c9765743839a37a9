"""The exception tree of aiposture.

Every error aiposture raises on purpose derives from :class:`AIPostureError`::

    AIPostureError
    ├── ConfigError          bad settings, a bad URL, a missing model
    ├── StoreError           the store cannot be opened, migrated or written
    │   └── AuditChainError  the audit log's hash chain is broken
    ├── ScanError            a scan as a whole cannot run (a missing root, ...)
    ├── NotFoundError        an id names nothing in the store
    ├── ExportError          an export cannot be built or fails validation
    └── LeakageIndexError    a leakage index cannot be used
        ├── IndexMismatchError  built with another model, precision or a newer format
        └── IndexCorruptError   a file of the index is missing, truncated or altered

Errors about one file during a scan are not raised: they are recorded in the
scan run (:class:`aiposture.models.ScanIssue`) and the scan goes on.
"""

from __future__ import annotations


class AIPostureError(Exception):
    """Base class of every error aiposture raises on purpose."""


class ConfigError(AIPostureError):
    """Settings, arguments or a configuration file are invalid."""


class StoreError(AIPostureError):
    """The store cannot be opened, migrated, read or written."""


class AuditChainError(StoreError):
    """The audit log's hash chain does not verify."""


class ScanError(AIPostureError):
    """A scan cannot run at all (for example a root that does not exist)."""


class NotFoundError(AIPostureError, LookupError):
    """An id or name names nothing in the store."""


class ExportError(AIPostureError):
    """An export cannot be produced or does not validate."""


class LeakageIndexError(AIPostureError):
    """A leakage index cannot be built, loaded or used."""


class IndexMismatchError(LeakageIndexError):
    """The index was built with another embedding model, precision or a newer format."""


class IndexCorruptError(LeakageIndexError):
    """A file of the index is missing, truncated or does not match its checksum."""


__all__ = [
    "AIPostureError",
    "AuditChainError",
    "ConfigError",
    "ExportError",
    "IndexCorruptError",
    "IndexMismatchError",
    "LeakageIndexError",
    "NotFoundError",
    "ScanError",
    "StoreError",
]
