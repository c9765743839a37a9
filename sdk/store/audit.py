"""The hash chain of the audit log.

Each entry's ``hash`` is ``sha256(prev_hash + canonical_json(entry))`` where
the canonical JSON holds every other field of the entry (``seq``, ``at``,
``actor``, ``action``, ``object_type``, ``object_id``, ``details``) with
sorted keys and no spaces, and ``at`` in ISO 8601 with microseconds in UTC.
The first entry's ``prev_hash`` is :data:`GENESIS_HASH`. Editing, deleting or
reordering an entry therefore breaks its own hash or the next entry's link.

This module holds the pure functions; :mod:`aiposture.store.sql` appends
entries inside its serialised write transactions.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiposture.models import AuditEntry, AuditReport
from aiposture.store.schema import json_dumps

__all__ = [
    "GENESIS_HASH",
    "PendingEntry",
    "canonical_json",
    "chain",
    "digest",
    "entry_hash",
    "normalise_details",
    "verify_chain",
]

#: ``prev_hash`` of the first entry.
GENESIS_HASH = "0" * 64


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no spaces: the form that is hashed."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def digest(value: Any) -> str:
    """SHA-256 (hex) of the canonical JSON of ``value``."""
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()


def normalise_details(details: dict[str, Any]) -> dict[str, Any]:
    """``details`` as it reads back from the database (so the hash is reproducible).

    Raises:
        TypeError: A value cannot be represented in JSON.
        ValueError: A float is NaN or infinite.
    """
    out: dict[str, Any] = json.loads(json_dumps(details))
    return out


def _iso(at: datetime) -> str:
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def entry_hash(
    *,
    prev_hash: str,
    seq: int,
    at: datetime,
    actor: str,
    action: str,
    object_type: str,
    object_id: str,
    details: dict[str, Any],
) -> str:
    """The hash of one entry, given the hash of the entry before it."""
    body = canonical_json(
        {
            "seq": seq,
            "at": _iso(at),
            "actor": actor,
            "action": action,
            "object_type": object_type,
            "object_id": object_id,
            "details": details,
        }
    )
    return hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest()


@dataclass
class PendingEntry:
    """An audit entry not yet linked into the chain."""

    actor: str
    action: str
    object_type: str
    object_id: str
    details: dict[str, Any] = field(default_factory=dict)


def chain(
    pending: Iterable[PendingEntry], *, last_seq: int, last_hash: str, at: datetime
) -> list[AuditEntry]:
    """Link ``pending`` entries after the entry ``last_seq`` whose hash is ``last_hash``.

    Raises:
        TypeError: A details value cannot be represented in JSON.
        ValueError: A details float is NaN or infinite.
    """
    out: list[AuditEntry] = []
    seq, prev = last_seq, last_hash
    at = at.astimezone(UTC)
    for p in pending:
        seq += 1
        details = normalise_details(p.details)
        h = entry_hash(
            prev_hash=prev,
            seq=seq,
            at=at,
            actor=p.actor,
            action=p.action,
            object_type=p.object_type,
            object_id=p.object_id,
            details=details,
        )
        out.append(
            AuditEntry.model_construct(
                seq=seq,
                at=at,
                actor=p.actor,
                action=p.action,
                object_type=p.object_type,
                object_id=p.object_id,
                details=details,
                prev_hash=prev,
                hash=h,
            )
        )
        prev = h
    return out


@dataclass
class _Verifier:
    expected_seq: int = 1
    prev_hash: str = GENESIS_HASH
    count: int = 0
    report: AuditReport | None = None

    def feed(self, e: AuditEntry) -> bool:
        """Check one entry; False once a problem is found."""
        self.count += 1
        if e.seq != self.expected_seq:
            if e.seq > self.expected_seq:
                missing = (
                    f"entry {self.expected_seq} is missing"
                    if e.seq == self.expected_seq + 1
                    else f"entries {self.expected_seq}..{e.seq - 1} are missing"
                )
                problem = f"{missing} (the next entry is {e.seq}): entries were deleted"
            else:
                problem = f"entry {e.seq} appears after entry {self.expected_seq - 1}: out of order"
            self.report = self._bad(self.expected_seq, problem)
            return False
        if e.prev_hash != self.prev_hash:
            self.report = self._bad(
                e.seq,
                f"entry {e.seq} does not link to the entry before it (prev_hash mismatch): "
                "an earlier entry was deleted, replaced or re-hashed",
            )
            return False
        recomputed = entry_hash(
            prev_hash=e.prev_hash,
            seq=e.seq,
            at=e.at,
            actor=e.actor,
            action=e.action,
            object_type=e.object_type,
            object_id=e.object_id,
            details=e.details,
        )
        if recomputed != e.hash:
            self.report = self._bad(
                e.seq, f"entry {e.seq} does not match its hash: its content was modified"
            )
            return False
        self.expected_seq += 1
        self.prev_hash = e.hash
        return True

    def _bad(self, seq: int, problem: str) -> AuditReport:
        return AuditReport(ok=False, entries=self.count, first_bad_seq=seq, problem=problem)


def verify_chain(entries: Iterable[AuditEntry]) -> AuditReport:
    """Verify entries given in ``seq`` order, from the first one.

    Returns:
        ``ok=True`` with the number of entries, or ``ok=False`` with the
        first bad (or first missing) ``seq`` and what is wrong with it.
    """
    v = _Verifier()
    for e in entries:
        if not v.feed(e):
            assert v.report is not None
            return v.report
    return AuditReport(ok=True, entries=v.count)
