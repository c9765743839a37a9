"""The rule plugin interface.

A rule is one class with class-level metadata (id, title, rationale, severity,
remediation, framework tags, the asset kinds it looks at) and one main method,
:meth:`Rule.evaluate`, called once per current asset of those kinds with the
estate graph. It yields findings built with :meth:`Rule.finding`, so every finding
carries the rule's title, remediation and framework tags.

A rule whose id is also reported by a scanner (``AIP-MODEL-001``,
``AIP-MCP-002``...) builds the same finding id (asset, rule, fingerprint) as the
scanner, so the two sightings are one finding.

Register a rule in :mod:`aiposture.risk.registry` (or through the
``aiposture.rules`` entry-point group) and add one test: an estate where it fires
and one where it must not.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from typing import ClassVar

from aiposture.models import Asset, AssetKind, Evidence, Finding, Severity
from aiposture.risk.graph import EstateGraph

__all__ = ["Rule"]


class Rule(ABC):
    """Base class of risk rules."""

    #: Stable id, ``AIP-<AREA>-<NNN>``; also the finding's ``rule_id``.
    id: ClassVar[str]
    #: Short title (a finding may give a more specific one).
    title: ClassVar[str]
    #: Why this matters, in a few sentences (shown in reports).
    rationale: ClassVar[str]
    #: Default severity of its findings.
    severity: ClassVar[Severity]
    #: What to do about it.
    remediation: ClassVar[str]
    #: Framework items: ``owasp-llm:LLM03``, ``atlas:AML.T0010``, ``nist-ai-rmf:MANAGE-2.2``,
    #: ``cwe:502``... (validated against the framework data by a test).
    frameworks: ClassVar[tuple[str, ...]] = ()
    #: Asset kinds it is evaluated on (every kind when empty).
    kinds: ClassVar[frozenset[AssetKind]] = frozenset()

    @abstractmethod
    def evaluate(self, asset: Asset, graph: EstateGraph) -> Iterable[Finding]:
        """Yield this rule's findings on ``asset`` (nothing when it does not apply)."""

    def finding(
        self,
        asset: Asset,
        *,
        fingerprint: str = "",
        title: str | None = None,
        severity: Severity | None = None,
        description: str | None = None,
        evidence: Sequence[Evidence] = (),
        tags: Sequence[str] = (),
    ) -> Finding:
        """A finding of this rule on ``asset``, with the rule's metadata filled in."""
        return Finding.new(
            asset.id,
            self.id,
            title or self.title,
            severity or self.severity,
            fingerprint=fingerprint,
            description=description or self.rationale,
            remediation=self.remediation,
            tags=list(dict.fromkeys([*self.frameworks, *tags])),
            evidence=list(evidence),
        )
