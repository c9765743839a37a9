"""The egress-log scanner: AI services people use, seen in egress, proxy and DNS logs.

Reads a log line by line (:mod:`aiposture.discovery.logformats`: CSV, JSON
lines, Squid, Zeek, W3C; plain or compressed; format detected or named in
``target.extra["log_format"]``), matches each line's destination with the AI
service catalogue (:mod:`aiposture.discovery.services`), and aggregates per
service, user and client: requests, bytes out and in, first and last seen.

For each service seen it yields the service asset
(:func:`~aiposture.discovery.observe.catalogued_service`; the same asset as
code calling the service's API) with one piece of evidence per (user, client):
the first line seen, the key ``user@client`` and the aggregated
:class:`~aiposture.models.Usage`. The asset is sanctioned when the service is
in ``discovery.sanctioned_services`` of the settings, unsanctioned otherwise.

Every unsanctioned service also gets a finding ``AIP-SHADOW-001`` ("Shadow AI:
<service> used without approval"), MEDIUM, or HIGH when the log shows at least
:data:`UPLOAD_THRESHOLD` bytes sent to it in total (data being uploaded, not
just pages read); its evidence names the heaviest users. A log with no AI
traffic yields nothing.

Lines that do not parse are skipped and counted; the counts of each log read
are kept in :attr:`EgressLogScanner.summaries` and logged as a warning.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import ClassVar

from aiposture.discovery import observe
from aiposture.discovery.base import Observation, Scanner, Target, TargetError, TargetKind
from aiposture.discovery.logformats import HostSelector, LogReader, LogStats
from aiposture.discovery.services import ServiceEntry, load_services, normalise_host
from aiposture.errors import ConfigError
from aiposture.models import (
    Asset,
    Evidence,
    EvidenceKind,
    Finding,
    Sanctioned,
    ScanIssue,
    Severity,
)
from aiposture.settings import Settings

__all__ = ["RULE_SHADOW_AI", "UPLOAD_THRESHOLD", "EgressLogScanner"]

log = logging.getLogger(__name__)

#: Rule id of the shadow-AI finding.
RULE_SHADOW_AI = "AIP-SHADOW-001"
#: Bytes sent to an unsanctioned service (over the whole log) from which the finding is
#: HIGH: 10 MB (10,000,000 bytes) is far beyond typed prompts and suggests files or
#: data being uploaded.
UPLOAD_THRESHOLD = 10_000_000
#: Users named in a finding's evidence (the heaviest by bytes sent, then requests).
TOP_USERS = 5
#: Hosts of a service listed in one piece of evidence.
_HOSTS_SHOWN = 5
#: Framework references of the shadow-AI finding: OWASP Top 10 for LLM Applications 2025
#: LLM02 (sensitive information disclosure: data pasted into an outside model), NIST AI RMF
#: GOVERN 1.6 (inventory of AI systems) and GOVERN 6.1 (third-party AI risk policies).
SHADOW_TAGS = (
    "shadow-ai",
    "owasp-llm:LLM02",
    "nist-ai-rmf:GOVERN-1.6",
    "nist-ai-rmf:GOVERN-6.1",
)


@dataclass(slots=True)
class _Tally:
    """Use of one service by one (user, client)."""

    first_line: int
    requests: int = 0
    bytes_out: int = 0
    bytes_in: int = 0
    first: float | None = None
    last: float | None = None
    hosts: set[str] = field(default_factory=set)


class EgressLogScanner(Scanner):
    """AI services (and shadow AI) in egress, proxy and DNS logs."""

    name: ClassVar[str] = "egress_logs"
    description: ClassVar[str] = (
        "AI services seen in egress, proxy and DNS logs (CSV, JSON lines, Squid, Zeek, W3C), "
        "aggregated per service, user and client; unsanctioned services are shadow AI."
    )
    target_kind: ClassVar[TargetKind] = TargetKind.LOG
    version: ClassVar[str] = "1"
    streams: ClassVar[bool] = True
    max_bytes: ClassVar[int] = 1 << 40

    def __init__(self, settings: Settings | None = None) -> None:
        """Read the catalogue and resolve the sanctioned services of ``settings``.

        Raises:
            ConfigError: A sanctioned name is neither a service id nor a catalogued domain.
        """
        super().__init__(settings)
        self.catalogue = load_services()
        self.sanctioned: frozenset[str] = self.catalogue.resolve_sanctioned(
            self.settings.discovery.sanctioned_services
        )
        #: Figures of each log read (path -> stats): lines, format, skipped lines by reason.
        self.summaries: dict[str, LogStats] = {}

    def scan(self, target: Target) -> Iterator[Observation | ScanIssue]:
        """Yield a service asset per AI service in the log, and shadow-AI findings.

        Raises:
            TargetError: The log cannot be read, is binary or corrupt, or its format is
                not recognised (or the named format is unknown).
        """
        if target.path is None:
            raise TargetError("a log target needs a file path")
        try:
            reader = LogReader(target.path, target.extra.get("log_format"))
        except ConfigError as exc:
            raise TargetError(str(exc)) from None
        tallies = self._aggregate(reader)
        stats = reader.stats
        self.summaries[str(target.path)] = stats
        if stats.skipped:
            reasons = ", ".join(f"{reason}: {n}" for reason, n in stats.skipped.most_common())
            log.warning(
                "%s: %d of %d lines skipped (%s)",
                target.path,
                stats.skipped_total,
                stats.lines,
                reasons,
            )
            yield ScanIssue(
                path=str(target.path),
                scanner=self.name,
                reason=f"{stats.skipped_total:,} of {stats.lines:,} lines skipped as "
                f"{stats.format or 'unrecognised'}: {reasons}",
            )
        for service_id in sorted(tallies):
            yield from self._observations(service_id, tallies[service_id], str(target.path))

    def _aggregate(
        self, reader: LogReader
    ) -> dict[str, dict[tuple[str | None, str | None], _Tally]]:
        match = self.catalogue.match

        def decide(host: str) -> tuple[ServiceEntry, str] | None:
            entry = match(host)
            if entry is None:
                return None
            return entry, normalise_host(host) or host

        tallies: dict[tuple[str, str | None, str | None], _Tally] = {}
        for rec, (entry, host) in reader.select(HostSelector(decide)):
            key = (entry.id, rec.user, rec.client)
            tally = tallies.get(key)
            if tally is None:
                tally = tallies[key] = _Tally(first_line=rec.line)
            tally.requests += 1
            tally.bytes_out += rec.bytes_out
            tally.bytes_in += rec.bytes_in
            t = rec.time
            if t is not None:
                if tally.first is None or t < tally.first:
                    tally.first = t
                if tally.last is None or t > tally.last:
                    tally.last = t
            hosts = tally.hosts
            if host not in hosts and len(hosts) < _HOSTS_SHOWN:
                hosts.add(host)
        out: dict[str, dict[tuple[str | None, str | None], _Tally]] = {}
        for (service_id, user, client), tally in tallies.items():
            out.setdefault(service_id, {})[(user, client)] = tally
        return out

    def _observations(
        self,
        service_id: str,
        tallies: dict[tuple[str | None, str | None], _Tally],
        path: str,
    ) -> Iterator[Observation]:
        entry = self.catalogue.get(service_id)
        ranked = sorted(
            tallies.items(),
            key=lambda kv: (-kv[1].requests, kv[0][0] or "", kv[0][1] or ""),
        )
        evidence = [
            self._evidence(entry, user, client, tally, path) for (user, client), tally in ranked
        ]
        sanctioned = entry.id in self.sanctioned
        base = observe.catalogued_service(entry.id, evidence[0])
        asset = base.model_copy(
            update={
                "evidence": evidence,
                "sanctioned": Sanctioned.SANCTIONED if sanctioned else Sanctioned.UNSANCTIONED,
            }
        )
        yield asset
        if not sanctioned:
            yield self._finding(asset, entry, list(tallies.values()), evidence)

    def _evidence(
        self,
        entry: ServiceEntry,
        user: str | None,
        client: str | None,
        tally: _Tally,
        path: str,
    ) -> Evidence:
        hosts = ", ".join(sorted(tally.hosts))
        detail = (
            f"{tally.requests} request{'s' if tally.requests != 1 else ''} to {entry.name} "
            f"({hosts}); {_size(tally.bytes_out)} sent, {_size(tally.bytes_in)} received"
        )
        # one validation of the nested data (the costly part for tens of thousands of users)
        return Evidence.model_validate(
            {
                "kind": EvidenceKind.LOG_LINE,
                "path": path,
                "line": tally.first_line,
                "key": f"{user or '-'}@{client or '-'}",
                "detail": detail,
                "scanner": self.name,
                "usage": {
                    "user": user,
                    "client": client,
                    "requests": tally.requests,
                    "bytes_out": tally.bytes_out,
                    "bytes_in": tally.bytes_in,
                    "first_seen": _dt(tally.first),
                    "last_seen": _dt(tally.last),
                },
            }
        )

    def _finding(
        self,
        asset: Asset,
        entry: ServiceEntry,
        tallies: list[_Tally],
        evidence: list[Evidence],
    ) -> Finding:
        sent = sum(t.bytes_out for t in tallies)
        requests = sum(t.requests for t in tallies)
        users = {(e.usage.user, e.usage.client) for e in evidence if e.usage is not None}
        heavy = sent >= UPLOAD_THRESHOLD
        top = sorted(
            evidence,
            key=lambda e: (
                -(e.usage.bytes_out if e.usage else 0),
                -(e.usage.requests if e.usage else 0),
                e.key or "",
            ),
        )[:TOP_USERS]
        description = (
            f"{entry.name} ({entry.vendor}, {entry.category.replace('_', ' ')}) is not in the "
            f"sanctioned AI services of the configuration, yet this log shows {requests} "
            f"request{'s' if requests != 1 else ''} to it from {len(users)} user/client "
            f"pair{'s' if len(users) != 1 else ''}, {_size(sent)} sent. "
        )
        if heavy:
            description += (
                f"Over {_size(UPLOAD_THRESHOLD)} was sent: data or files are likely being "
                "uploaded to an outside AI service. "
            )
        description += (
            "Review what was shared; then approve the service (add it to "
            "discovery.sanctioned_services) or block it at the proxy."
        )
        return Finding.new(
            asset.id,
            RULE_SHADOW_AI,
            f"Shadow AI: {asset.name} used without approval",
            Severity.HIGH if heavy else Severity.MEDIUM,
            description=description,
            tags=list(SHADOW_TAGS),
            evidence=top,
        )


def _dt(t: float | None) -> datetime | None:
    if t is None:
        return None
    try:
        return datetime.fromtimestamp(t, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _size(n: int) -> str:
    if n >= 1_000_000_000:
        return f"{n / 1e9:.1f} GB"
    if n >= 1_000_000:
        return f"{n / 1e6:.1f} MB"
    if n >= 1_000:
        return f"{n / 1e3:.1f} kB"
    return f"{n} bytes"
