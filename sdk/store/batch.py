"""Applying one batch of :class:`~aiposture.store.base.SourceUpdate` inside a transaction.

A *sighting* is one object seen in one source, with the evidence the source
gave for it. Objects (assets, relations, findings) are upserted from what the
sources say; their staleness is derived from sightings: an object with no
active sighting left is stale. Sightings are kept so that:

* an object that still has an active sighting shows only active evidence, and
  its inactive sightings are deleted (nothing will ever show them);
* an object that went stale keeps the sightings that were active when it went
  stale, so one can still see where it was last.

Every statement touches many rows: one SELECT per chunk of ids or sources,
bulk INSERTs and UPDATEs, never one query per object.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, Table, bindparam, delete, insert, select, update

from aiposture.models import (
    Asset,
    Environment,
    Evidence,
    Finding,
    Relation,
    Sanctioned,
    Sensitivity,
    ordered_union,
)
from aiposture.store import schema as t
from aiposture.store.audit import GENESIS_HASH, PendingEntry, chain, digest
from aiposture.store.base import ApplyStats, SourceUpdate

__all__ = [
    "ASSET_DATA_FIELDS",
    "HUMAN_FIELDS",
    "asset_fields",
    "chunks",
    "merge_asset_fields",
    "write_audit",
]

#: Fields a human may set with ``update_asset``; a scan never overwrites them once set.
HUMAN_FIELDS: tuple[str, ...] = ("owner", "environment", "data_sensitivity", "sanctioned", "tags")

#: Stored asset columns that describe the asset (not its bookkeeping).
ASSET_DATA_FIELDS: tuple[str, ...] = (
    "kind",
    "name",
    "key",
    "provider",
    "version",
    "owner",
    "environment",
    "data_sensitivity",
    "sanctioned",
    "tags",
    "locations",
    "attributes",
)

#: Values per IN (...) list: far below SQLite's and PostgreSQL's parameter limits.
CHUNK = 900

_T = TypeVar("_T")

_UNKNOWN = {
    "environment": Environment.UNKNOWN.value,
    "data_sensitivity": Sensitivity.UNKNOWN.value,
    "sanctioned": Sanctioned.UNKNOWN.value,
}

_TABLES: dict[str, Table] = {"asset": t.assets, "relation": t.relations, "finding": t.findings}


def chunks(items: Sequence[_T] | Iterable[_T], size: int = CHUNK) -> Iterator[list[_T]]:
    """``items`` in lists of at most ``size``."""
    buf: list[_T] = []
    for item in items:
        buf.append(item)
        if len(buf) >= size:
            yield buf
            buf = []
    if buf:
        yield buf


def asset_fields(a: Asset) -> dict[str, Any]:
    """The stored data columns of an asset, as JSON-compatible values."""
    return {
        "kind": a.kind.value,
        "name": a.name,
        "key": a.key,
        "provider": a.provider,
        "version": a.version,
        "owner": a.owner,
        "environment": a.environment.value,
        "data_sensitivity": a.data_sensitivity.value,
        "sanctioned": a.sanctioned.value,
        "tags": list(a.tags),
        "locations": list(a.locations),
        # Through JSON now, so a stored value compares equal to a rescanned one
        # (tuples become lists) and an unserialisable value fails early.
        "attributes": json.loads(t.json_dumps(a.attributes)),
    }


def merge_asset_fields(
    base: dict[str, Any],
    other: dict[str, Any],
    keep: Iterable[str] = (),
    *,
    refresh: bool = False,
) -> dict[str, Any]:
    """Merge two sightings' data columns the way :meth:`Asset.merge` does: ``base`` wins.

    Identity (kind, name, key) comes from ``base``; provider, version and
    owner from ``base`` unless empty; environment, sensitivity and sanction
    from ``base`` unless unknown; tags and locations are unioned; attributes
    merged with ``base``'s values winning. With ``refresh`` (``other`` is a new
    scan of a stored asset), ``other``'s version, known environment, sensitivity
    and sanction and its attribute values win instead, so a changed configuration or
    revision shows. Fields named in ``keep`` (set by a human) stay exactly as in
    ``base``.
    """
    out = dict(base)
    for f in ("provider", "version", "owner"):
        out[f] = base[f] or other[f]
    if refresh and other["version"]:  # a model's revision moves on
        out["version"] = other["version"]
    for f, unknown in _UNKNOWN.items():
        if refresh:
            out[f] = other[f] if other[f] != unknown else base[f]
        else:
            out[f] = base[f] if base[f] != unknown else other[f]
    out["tags"] = ordered_union(base["tags"], other["tags"])
    out["locations"] = ordered_union(base["locations"], other["locations"])
    if refresh:
        out["attributes"] = {**base["attributes"], **other["attributes"]}
    else:
        out["attributes"] = {**other["attributes"], **base["attributes"]}
    for f in keep:
        out[f] = base[f]
    return out


def _evidence_json(
    evidence: Iterable[Evidence], into: list[dict[str, Any]], seen: set[Any]
) -> None:
    for e in evidence:
        ident = e.identity()
        if ident not in seen:
            seen.add(ident)
            into.append(e.model_dump(mode="json", exclude_none=True))


def write_audit(conn: Connection, pending: Sequence[PendingEntry], at: datetime) -> int:
    """Append ``pending`` to the audit chain (the caller holds the write lock).

    Returns:
        The number of entries written.
    """
    if not pending:
        return 0
    last = conn.execute(
        select(t.audit_log.c.seq, t.audit_log.c.hash).order_by(t.audit_log.c.seq.desc()).limit(1)
    ).first()
    entries = chain(
        pending,
        last_seq=int(last.seq) if last is not None else 0,
        last_hash=str(last.hash) if last is not None else GENESIS_HASH,
        at=at,
    )
    conn.execute(
        insert(t.audit_log),
        [
            {
                "seq": e.seq,
                "at": e.at,
                "actor": e.actor,
                "action": e.action,
                "object_type": e.object_type,
                "object_id": e.object_id,
                "details": e.details,
                "prev_hash": e.prev_hash,
                "hash": e.hash,
            }
            for e in entries
        ],
    )
    return len(entries)


@dataclass
class _Seen:
    """What the replaced sources of a batch say, merged per object."""

    assets: dict[str, dict[str, Any]] = field(default_factory=dict)
    relations: dict[str, Relation] = field(default_factory=dict)
    findings: dict[str, Finding] = field(default_factory=dict)
    sightings: list[dict[str, Any]] = field(default_factory=list)

    def ids(self) -> set[str]:
        return set(self.assets) | set(self.relations) | set(self.findings)


class BatchWriter:
    """Applies one batch on a connection inside the store's write transaction."""

    def __init__(self, conn: Connection, *, scan_id: str, actor: str, now: datetime) -> None:
        self.conn = conn
        self.scan_id = scan_id
        self.actor = actor
        self.now = now
        self.stats = ApplyStats()
        self.audit: list[PendingEntry] = []

    def _log(self, action: str, object_type: str, object_id: str, **details: Any) -> None:
        details.setdefault("scan_id", self.scan_id)
        self.audit.append(PendingEntry(self.actor, action, object_type, object_id, details))

    # --- the batch ------------------------------------------------------------
    def run(self, updates: Sequence[SourceUpdate]) -> ApplyStats:
        """Apply ``updates`` (later updates of one source replace earlier ones)."""
        by_source: dict[str, SourceUpdate] = {}
        for u in updates:
            by_source.pop(u.source, None)
            by_source[u.source] = u
        gone = [u.source for u in by_source.values() if u.gone]
        unchanged = [u.source for u in by_source.values() if not u.gone and u.observations is None]
        replaced = [u for u in by_source.values() if not u.gone and u.observations is not None]

        seen = self._collect(replaced)
        touched = self._deactivate([u.source for u in replaced] + gone)
        if seen.sightings:
            self.conn.execute(insert(t.sightings), seen.sightings)
        existing_ids = self._upsert_assets(seen.assets)
        existing_ids |= self._upsert_relations(seen.relations)
        existing_ids |= self._upsert_findings(seen.findings)
        self._touch_unchanged(unchanged)
        still_active = self._derive_stale(touched, seen.ids())
        self._drop_superseded_sightings(still_active | existing_ids)
        self._save_files(by_source.values())
        self.stats.audit_entries = write_audit(self.conn, self.audit, self.now)
        return self.stats

    def _collect(self, replaced: Sequence[SourceUpdate]) -> _Seen:
        seen = _Seen()
        for u in replaced:
            per_object: dict[str, tuple[str, list[dict[str, Any]], set[Any]]] = {}
            for obs in u.observations or ():
                if isinstance(obs, Asset):
                    typ = "asset"
                    fields = asset_fields(obs)
                    prior = seen.assets.get(obs.id)
                    seen.assets[obs.id] = (
                        fields if prior is None else merge_asset_fields(prior, fields)
                    )
                elif isinstance(obs, Relation):
                    typ = "relation"
                    seen.relations.setdefault(obs.id, obs)
                elif isinstance(obs, Finding):
                    typ = "finding"
                    first = seen.findings.get(obs.id)
                    if first is None:
                        seen.findings[obs.id] = obs
                    elif not set(obs.tags) <= set(first.tags):
                        seen.findings[obs.id] = first.model_copy(
                            update={"tags": ordered_union(first.tags, obs.tags)}
                        )
                else:
                    raise TypeError(
                        f"source {u.source!r}: cannot store a {type(obs).__name__} "
                        "(only Asset, Relation and Finding)"
                    )
                entry = per_object.get(obs.id)
                if entry is None:
                    entry = per_object[obs.id] = (typ, [], set())
                _evidence_json(obs.evidence, entry[1], entry[2])
            for oid, (typ, evidence, _) in per_object.items():
                seen.sightings.append(
                    {
                        "source": u.source,
                        "object_type": typ,
                        "object_id": oid,
                        "evidence": evidence,
                        "scan_id": self.scan_id,
                        "seen_at": self.now,
                        "active": True,
                    }
                )
        return seen

    def _deactivate(self, sources: list[str]) -> set[tuple[str, str]]:
        """Deactivate the active sightings of ``sources``; return the objects they named."""
        s = t.sightings
        touched: set[tuple[str, str]] = set()
        for part in chunks(sources):
            rows = self.conn.execute(
                select(s.c.object_type, s.c.object_id).where(s.c.active, s.c.source.in_(part))
            ).all()
            if rows:
                touched.update((str(r.object_type), str(r.object_id)) for r in rows)
                self.conn.execute(
                    update(s).where(s.c.active, s.c.source.in_(part)).values(active=False)
                )
        return touched

    def _existing(self, table: Table, ids: Iterable[str], *cols: str) -> dict[str, Any]:
        columns = [table.c[c] for c in cols] if cols else [table]
        found: dict[str, Any] = {}
        for part in chunks(list(ids)):
            for row in self.conn.execute(select(*columns).where(table.c.id.in_(part))):
                found[str(row.id)] = row
        return found

    def _touch(self, table: Table, ids: list[str]) -> None:
        for part in chunks(ids):
            self.conn.execute(update(table).where(table.c.id.in_(part)).values(last_seen=self.now))

    # --- assets ---------------------------------------------------------------
    def _upsert_assets(self, seen: dict[str, dict[str, Any]]) -> set[str]:
        if not seen:
            return set()
        a = t.assets
        stored = self._existing(a, seen)
        new_rows: list[dict[str, Any]] = []
        changed_rows: list[dict[str, Any]] = []
        touch: list[str] = []
        for aid, fields in seen.items():
            row = stored.get(aid)
            if row is None:
                new_rows.append(
                    {
                        "id": aid,
                        **fields,
                        "human": [],
                        "first_seen": self.now,
                        "last_seen": self.now,
                        "stale": False,
                    }
                )
                self.stats.assets_new.append(aid)
                self._log(
                    "asset.create",
                    "asset",
                    aid,
                    kind=fields["kind"],
                    name=fields["name"],
                    digest=digest(fields),
                )
                continue
            old = {f: row._mapping[f] for f in ASSET_DATA_FIELDS}
            merged = merge_asset_fields(old, fields, keep=row.human or (), refresh=True)
            diff = [f for f in ASSET_DATA_FIELDS if merged[f] != old[f]]
            if diff or row.stale:
                changed_rows.append({"b_id": aid, **merged, "last_seen": self.now, "stale": False})
            else:
                touch.append(aid)
            if diff:
                self._log("asset.update", "asset", aid, fields=diff, digest=digest(merged))
            if row.stale:
                self._log("asset.unstale", "asset", aid)
        if new_rows:
            self.conn.execute(insert(a), new_rows)
        if changed_rows:
            values: dict[str, Any] = {
                f: bindparam(f) for f in (*ASSET_DATA_FIELDS, "last_seen", "stale")
            }
            self.conn.execute(
                update(a).where(a.c.id == bindparam("b_id")).values(values), changed_rows
            )
        self._touch(a, touch)
        return set(stored)

    # --- relations ------------------------------------------------------------
    def _upsert_relations(self, seen: dict[str, Relation]) -> set[str]:
        if not seen:
            return set()
        r = t.relations
        stored = self._existing(r, seen, "id", "stale")
        new_rows: list[dict[str, Any]] = []
        unstale: list[str] = []
        touch: list[str] = []
        for rid, rel in seen.items():
            row = stored.get(rid)
            if row is None:
                new_rows.append(
                    {
                        "id": rid,
                        "source_id": rel.source_id,
                        "kind": rel.kind.value,
                        "target_id": rel.target_id,
                        "first_seen": self.now,
                        "last_seen": self.now,
                        "stale": False,
                    }
                )
                self._log(
                    "relation.create",
                    "relation",
                    rid,
                    kind=rel.kind.value,
                    source_id=rel.source_id,
                    target_id=rel.target_id,
                )
            elif row.stale:
                unstale.append(rid)
                self._log("relation.unstale", "relation", rid)
            else:
                touch.append(rid)
        if new_rows:
            self.conn.execute(insert(r), new_rows)
        for part in chunks(unstale):
            self.conn.execute(
                update(r).where(r.c.id.in_(part)).values(last_seen=self.now, stale=False)
            )
        self._touch(r, touch)
        return set(stored)

    # --- findings -------------------------------------------------------------
    def _upsert_findings(self, seen: dict[str, Finding]) -> set[str]:
        if not seen:
            return set()
        f = t.findings
        stored = self._existing(f, seen)
        new_rows: list[dict[str, Any]] = []
        changed_rows: list[dict[str, Any]] = []
        touch: list[str] = []
        for fid, fnd in seen.items():
            data: dict[str, Any] = {
                "asset_id": fnd.asset_id,
                "rule_id": fnd.rule_id,
                "title": fnd.title,
                "severity": fnd.severity.value,
                "severity_rank": fnd.severity.rank,
                "description": fnd.description,
                "fingerprint": fnd.fingerprint,
                "tags": list(fnd.tags),
                "remediation": fnd.remediation,
            }
            row = stored.get(fid)
            if row is None:
                new_rows.append(
                    {
                        "id": fid,
                        **data,
                        "status": fnd.status.value,
                        "first_seen": self.now,
                        "last_seen": self.now,
                        "stale": False,
                    }
                )
                self.stats.findings_new.append(fid)
                self._log(
                    "finding.create",
                    "finding",
                    fid,
                    rule_id=fnd.rule_id,
                    severity=fnd.severity.value,
                    asset_id=fnd.asset_id,
                    digest=digest(data),
                )
                continue
            # The scan's rule text and severity are current; the triage status is
            # the human's and the tags accumulate.
            data["tags"] = ordered_union(list(row.tags), data["tags"])
            data["remediation"] = data["remediation"] or row.remediation
            diff = [
                k
                for k in ("title", "severity", "description", "tags", "remediation")
                if data[k] != row._mapping[k]
            ]
            if diff or row.stale:
                changed_rows.append(
                    {
                        "b_id": fid,
                        "title": data["title"],
                        "severity": data["severity"],
                        "severity_rank": data["severity_rank"],
                        "description": data["description"],
                        "tags": data["tags"],
                        "remediation": data["remediation"],
                        "last_seen": self.now,
                        "stale": False,
                    }
                )
            else:
                touch.append(fid)
            if diff:
                self._log("finding.update", "finding", fid, fields=diff, digest=digest(data))
            if row.stale:
                self._log("finding.unstale", "finding", fid)
        if new_rows:
            self.conn.execute(insert(f), new_rows)
        if changed_rows:
            cols = (
                "title",
                "severity",
                "severity_rank",
                "description",
                "tags",
                "remediation",
                "last_seen",
                "stale",
            )
            self.conn.execute(
                update(f)
                .where(f.c.id == bindparam("b_id"))
                .values({c: bindparam(c) for c in cols}),
                changed_rows,
            )
        self._touch(f, touch)
        return set(stored)

    # --- unchanged sources, staleness, files ----------------------------------
    def _touch_unchanged(self, sources: list[str]) -> None:
        s = t.sightings
        for part in chunks(sources):
            rows = self.conn.execute(
                select(s.c.id, s.c.object_type, s.c.object_id).where(
                    s.c.active, s.c.source.in_(part)
                )
            ).all()
            if not rows:
                continue
            for ids in chunks([int(r.id) for r in rows]):
                self.conn.execute(
                    update(s).where(s.c.id.in_(ids)).values(scan_id=self.scan_id, seen_at=self.now)
                )
            for typ, table in _TABLES.items():
                self._touch(table, sorted({str(r.object_id) for r in rows if r.object_type == typ}))

    def _derive_stale(self, touched: set[tuple[str, str]], observed: set[str]) -> set[str]:
        """Mark objects with no active sighting left stale; return the touched ids still active."""
        candidates = {oid: typ for typ, oid in touched if oid not in observed}
        if not candidates:
            return set()
        s = t.sightings
        still: set[str] = set()
        for part in chunks(sorted(candidates)):
            rows = self.conn.execute(
                select(s.c.object_id).distinct().where(s.c.active, s.c.object_id.in_(part))
            )
            still.update(str(r.object_id) for r in rows)
        gone_by_type: dict[str, list[str]] = {}
        for oid in sorted(set(candidates) - still):
            gone_by_type.setdefault(candidates[oid], []).append(oid)
        for typ, ids in gone_by_type.items():
            table = _TABLES[typ]
            for part in chunks(ids):
                fresh = [
                    str(r.id)
                    for r in self.conn.execute(
                        select(table.c.id).where(table.c.id.in_(part), table.c.stale.is_(False))
                    )
                ]
                if not fresh:
                    continue
                self.conn.execute(update(table).where(table.c.id.in_(fresh)).values(stale=True))
                for oid in fresh:
                    self._log(f"{typ}.stale", typ, oid)
                if typ == "asset":
                    self.stats.assets_stale.extend(fresh)
        return still

    def _drop_superseded_sightings(self, ids: set[str]) -> None:
        s = t.sightings
        for part in chunks(sorted(ids)):
            self.conn.execute(delete(s).where(s.c.active.is_(False), s.c.object_id.in_(part)))

    def _save_files(self, updates: Iterable[SourceUpdate]) -> None:
        fl = t.files
        drop = [u.source for u in updates if u.gone]
        wanted = {
            u.source: {
                "path": u.source,
                "root": u.root,
                "size": u.state.size,
                "mtime_ns": u.state.mtime_ns,
                "sha256": u.state.sha256,
                "scanners": u.state.scanners,
            }
            for u in updates
            if not u.gone and u.state is not None
        }
        cols = ("root", "size", "mtime_ns", "sha256", "scanners")
        for part in chunks(list(wanted)):
            for row in self.conn.execute(
                select(fl.c.path, *(fl.c[c] for c in cols)).where(fl.c.path.in_(part))
            ):
                if all(row._mapping[c] == wanted[row.path][c] for c in cols):
                    del wanted[row.path]  # unchanged: keep the row as it is
                else:
                    drop.append(row.path)
        for part in chunks(drop):
            self.conn.execute(delete(fl).where(fl.c.path.in_(part)))
        if wanted:
            self.conn.execute(
                insert(fl), [{**row, "scan_id": self.scan_id} for row in wanted.values()]
            )
