"""Persistence of aiposture: the :class:`Store` interface and its SQL implementation.

Open a store with :func:`open_store`: a SQLite file by default
(``~/.aiposture/posture.db``), or PostgreSQL by URL. Every change to the
inventory appends an entry to a hash-chained, append-only audit log.
"""

from __future__ import annotations

from aiposture.store.base import ApplyStats, FileState, SourceUpdate, Store
from aiposture.store.sql import SQLStore, open_store

__all__ = ["ApplyStats", "FileState", "SQLStore", "SourceUpdate", "Store", "open_store"]
