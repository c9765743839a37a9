"""One assessment of the whole estate: rules, scores, a dated snapshot.

:func:`assess`:

1. reopens accepted risks whose acceptance expired (audited, with the reason);
2. reads the inventory once and builds the :class:`~aiposture.risk.graph.EstateGraph`;
3. evaluates every enabled rule on every current asset of the kinds it looks at; a
   rule that raises is recorded as a :class:`~aiposture.models.RuleError` naming the
   rule and the asset, and the other rules (and the same rule on other assets) go on;
4. stores the rules' findings as the sightings of the pseudo-source
   ``assessment:rules``, so a finding no rule produces any more goes stale, and a
   human's triage status survives (ids derive from asset, rule and fingerprint). A rule
   finding with the id of a scanner's finding keeps the scanner's title, severity and
   text and adds the rule's framework tags and remediation;
5. scores every current asset (:mod:`aiposture.risk.scoring`) and gives each AI system
   its EU AI Act tier (:mod:`aiposture.risk.eu_ai_act`);
6. stores a :class:`~aiposture.models.RiskSnapshot`, highest risk first.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence

from aiposture.models import (
    AssetRisk,
    Finding,
    FindingStatus,
    RiskSnapshot,
    RuleError,
    utcnow,
)
from aiposture.risk.base import Rule
from aiposture.risk.frameworks import estate_controls
from aiposture.risk.graph import ACTIVE_STATUSES, EstateGraph
from aiposture.risk.registry import RuleRegistry, default_rules
from aiposture.settings import RiskSettings
from aiposture.store.base import SourceUpdate, Store

__all__ = ["RULES_SOURCE", "assess", "evaluate_rules"]

#: The pseudo-source whose sightings are the rules' findings.
RULES_SOURCE = "assessment:rules"
#: Who reopens an expired acceptance, in the audit log.
SYSTEM = "aiposture"


def evaluate_rules(
    graph: EstateGraph, rules: Sequence[Rule]
) -> tuple[list[Finding], list[RuleError]]:
    """Every finding the rules yield on the graph, and every failure (rule, asset, error).

    A scanner's finding with the same id keeps its own title, severity and text; the
    rule adds its framework tags and remediation.
    """
    existing = {f.id: f for f in graph.findings}
    out: dict[str, Finding] = {}
    errors: list[RuleError] = []
    for rule in rules:
        for asset in graph.of_kind(*rule.kinds):
            try:
                produced = list(rule.evaluate(asset, graph))
            except Exception as exc:  # one broken rule must not stop the assessment
                errors.append(
                    RuleError(
                        rule_id=rule.id, asset_id=asset.id, error=f"{type(exc).__name__}: {exc}"
                    )
                )
                continue
            for f in produced:
                known = existing.get(f.id)
                if known is not None and known.rule_id == f.rule_id:
                    f = f.model_copy(
                        update={
                            "title": known.title,
                            "severity": known.severity,
                            "description": known.description,
                            "tags": list(dict.fromkeys([*known.tags, *f.tags])),
                            "evidence": known.evidence or f.evidence,
                        }
                    )
                out.setdefault(f.id, f)
    return list(out.values()), errors


def assess(
    store: Store,
    *,
    settings: RiskSettings | None = None,
    actor: str = SYSTEM,
    registry: RuleRegistry | None = None,
    score: Callable[..., AssetRisk] | None = None,
) -> RiskSnapshot:
    """Assess the estate in ``store`` and store the snapshot (see the module).

    Args:
        store: The inventory, where findings and the snapshot are written.
        settings: Weights, thresholds and disabled rules (defaults when None).
        actor: Who runs the assessment, for the audit log.
        registry: The rules (the built-in ones by default).
        score: The scorer (``aiposture.risk.scoring.score_asset`` by default).

    Returns:
        The stored snapshot.
    """
    from aiposture.risk import eu_ai_act
    from aiposture.risk.scoring import score_asset

    started = time.perf_counter()
    settings = settings if settings is not None else RiskSettings()
    scorer = score if score is not None else score_asset
    snapshot_id = f"risk-{utcnow():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
    now = utcnow()

    for f in store.findings():
        if f.status is FindingStatus.ACCEPTED and f.accepted_until and f.accepted_until <= now:
            store.set_finding_status(
                f.id,
                FindingStatus.OPEN,
                actor=SYSTEM,
                reason=f"the acceptance by {f.status_by or 'someone'} expired on "
                f"{f.accepted_until.isoformat()}",
            )

    assets = store.assets()
    relations = store.relations()
    graph = EstateGraph.build(assets, relations, store.findings())
    reg = registry if registry is not None else default_rules()
    rules = [r for r in reg.create() if r.id not in set(settings.disabled_rules)]
    found, errors = evaluate_rules(graph, rules)
    store.apply(
        [SourceUpdate(source=RULES_SOURCE, observations=list(found))],
        scan_id=snapshot_id,
        actor=actor,
    )
    # Score with the findings as stored: their triage status counts.
    findings = store.findings()
    graph = EstateGraph.build(assets, relations, findings)

    risks: list[AssetRisk] = []
    for asset in graph.of_kind():
        try:
            risk = scorer(asset, graph, settings)
        except Exception as exc:  # a scoring bug on one asset must not stop the rest
            errors.append(
                RuleError(
                    rule_id="scoring", asset_id=asset.id, error=f"{type(exc).__name__}: {exc}"
                )
            )
            continue
        try:
            tier, why = eu_ai_act.classify(asset, graph)
        except ValueError:  # not an AI system: no tier
            tier, why = None, []
        except Exception as exc:
            errors.append(
                RuleError(
                    rule_id="eu-ai-act", asset_id=asset.id, error=f"{type(exc).__name__}: {exc}"
                )
            )
            tier, why = None, []
        if tier is not None:
            risk = risk.model_copy(update={"eu_ai_act_tier": tier, "eu_ai_act_reasons": why})
        risks.append(risk)
    risks.sort(key=lambda r: (-r.priority.rank, -r.score, r.asset_name))

    open_counts = Counter(
        f.severity.value for f in findings if not f.stale and f.status in ACTIVE_STATUSES
    )
    snapshot = RiskSnapshot(
        id=snapshot_id,
        taken_at=now,
        actor=actor,
        risks=risks,
        findings=dict(open_counts),
        rules_run=len(rules),
        rule_errors=errors,
        seconds=round(time.perf_counter() - started, 3),
        controls=estate_controls(graph),
    )
    store.save_snapshot(snapshot)
    return snapshot
