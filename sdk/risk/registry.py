"""The one place rules are registered.

Built-in rules are listed in :data:`BUILTIN_RULES` as ``module:Class``; third-party
ones come from the ``aiposture.rules`` entry-point group. Adding a built-in rule
means one class in a module under ``risk/rules/``, one line here and one test.
"""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import entry_points

from aiposture.errors import ConfigError
from aiposture.risk.base import Rule

__all__ = ["BUILTIN_RULES", "RuleRegistry", "default_rules"]

#: ``module:Class`` of every built-in rule, imported lazily.
BUILTIN_RULES: tuple[str, ...] = (
    "aiposture.risk.rules.models:UnsafeModelDeserialization",
    "aiposture.risk.rules.models:WorldWritableModelFile",
    "aiposture.risk.rules.models:WorldReadableSensitiveWeights",
    "aiposture.risk.rules.models:PickleModelInProduction",
    "aiposture.risk.rules.models:ModelFileExtensionMismatch",
    "aiposture.risk.rules.supply_chain:UnpinnedHubModel",
    "aiposture.risk.rules.supply_chain:UnpinnedAIPackage",
    "aiposture.risk.rules.supply_chain:RetiredModelInUse",
    "aiposture.risk.rules.supply_chain:HubModelRemoteCode",
    "aiposture.risk.rules.credentials:ExposedAICredentialInProduction",
    "aiposture.risk.rules.credentials:CredentialSharedAcrossProjects",
    "aiposture.risk.rules.credentials:CredentialForUnsanctionedService",
    "aiposture.risk.rules.shadow_ai:SensitiveDataToShadowAI",
    "aiposture.risk.rules.shadow_ai:SoftwareOnUnsanctionedService",
    "aiposture.risk.rules.shadow_ai:UndecidedAIService",
    "aiposture.risk.rules.exposure:PublicEndpointWithoutAuthentication",
    "aiposture.risk.rules.exposure:PublicEndpointWithoutRateLimit",
    "aiposture.risk.rules.exposure:PlaintextAIEndpoint",
    "aiposture.risk.rules.exposure:CustomerFacingWithoutGuardrail",
    "aiposture.risk.rules.data:SensitiveTrainingWithoutLeakageControls",
    "aiposture.risk.rules.data:UnknownProvenanceTrainingData",
    "aiposture.risk.rules.data:LeakingModelDeployed",
    "aiposture.risk.rules.data:SensitiveIndexWithoutAccessPolicy",
    "aiposture.risk.rules.data:ModelClassifiedBelowTrainingData",
    "aiposture.risk.rules.mcp:McpSecretInSensitiveUse",
    "aiposture.risk.rules.mcp:UnpinnedMcpInSensitiveUse",
    "aiposture.risk.rules.mcp:UnauthenticatedRemoteMcpInSensitiveUse",
    "aiposture.risk.rules.agents:ExcessiveAgencyWithoutApproval",
    "aiposture.risk.rules.agents:AgentExfiltrationPath",
    "aiposture.risk.rules.governance:ProductionAssetWithoutOwner",
    "aiposture.risk.rules.governance:ProductionWithoutApproval",
    "aiposture.risk.rules.governance:ModelWithoutCardOrLicence",
    "aiposture.risk.rules.governance:NonCommercialModelInProduction",
    "aiposture.risk.rules.governance:StaleDependency",
    "aiposture.risk.rules.governance:HighRiskUseCaseWithoutOversight",
)


class RuleRegistry:
    """Rules by id; refuses two rules with one id."""

    def __init__(self) -> None:
        self._by_id: dict[str, type[Rule]] = {}

    def register(self, cls: type[Rule]) -> type[Rule]:
        """Add a rule class (usable as a decorator).

        Raises:
            ConfigError: Another rule has this id, or the class lacks its metadata.
        """
        rid = getattr(cls, "id", None)
        if not isinstance(rid, str) or not rid:
            raise ConfigError(f"rule {cls.__qualname__} has no id")
        for attr in ("title", "rationale", "severity", "remediation"):
            if not getattr(cls, attr, None):
                raise ConfigError(f"rule {rid!r} has no {attr}")
        other = self._by_id.get(rid)
        if other is not None and other is not cls:
            raise ConfigError(
                f"rule id {rid!r} is taken by {other.__module__}.{other.__qualname__}"
            )
        self._by_id[rid] = cls
        return cls

    def ids(self) -> list[str]:
        """Registered rule ids, sorted."""
        return sorted(self._by_id)

    def get(self, rid: str) -> type[Rule]:
        """The rule class with id ``rid``.

        Raises:
            ConfigError: No rule has that id.
        """
        try:
            return self._by_id[rid]
        except KeyError:
            raise ConfigError(f"unknown rule {rid!r}; known: {', '.join(self.ids())}") from None

    def create(self, ids: list[str] | None = None) -> list[Rule]:
        """Instances of the named rules (all of them by default)."""
        return [self.get(r)() for r in (ids if ids is not None else self.ids())]

    def __contains__(self, rid: object) -> bool:
        return rid in self._by_id

    def __len__(self) -> int:
        return len(self._by_id)


def _load(spec: str) -> type[Rule]:
    module, _, attr = spec.partition(":")
    cls = getattr(import_module(module), attr)
    if not (isinstance(cls, type) and issubclass(cls, Rule)):
        raise ConfigError(f"{spec} is not a Rule subclass")
    return cls


_default: RuleRegistry | None = None


def default_rules() -> RuleRegistry:
    """The registry of built-in and entry-point rules (built once)."""
    global _default
    if _default is None:
        reg = RuleRegistry()
        for spec in BUILTIN_RULES:
            reg.register(_load(spec))
        for ep in entry_points(group="aiposture.rules"):
            loaded = ep.load()
            if not (isinstance(loaded, type) and issubclass(loaded, Rule)):
                raise ConfigError(f"entry point {ep.name!r} is not a Rule subclass")
            reg.register(loaded)
        _default = reg
    return _default
