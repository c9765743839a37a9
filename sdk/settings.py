"""aiposture's configuration: one validated object, read from a TOML file.

Where it comes from, first match wins:

1. the file named by ``Posture.open(config=...)`` or ``aiposture --config FILE``;
2. the file named by the ``AIPOSTURE_CONFIG`` environment variable;
3. ``aiposture.toml`` in the current folder;
4. ``~/.aiposture/config.toml``;
5. otherwise the defaults below.

An example::

    [discovery]
    # AI services the organisation has approved; every other service seen in
    # egress logs is shadow AI. Ids from the service catalogue
    # (``aiposture.discovery.services``), or domains.
    sanctioned_services = ["openai", "anthropic", "github-copilot"]
    # Folders never descended into, on top of the built-in ones.
    exclude = ["fixtures"]

    [risk.weights]          # how the four dimensions weigh in likelihood and impact
    accessibility = 1.0
    control_gap = 1.0
    data_sensitivity = 1.0
    business_impact = 1.0

    [policy]
    folder = "policy"       # Cedar access policies, data usage, rate limits, approvals

    [risk.thresholds]       # lowest score (0-100) of each priority
    critical = 49
    high = 30
    medium = 12

    [monitor]
    store_text = "redacted"  # full | redacted | none
    retention_days = 30
    alert_window_minutes = 60
    leakage_indexes = { "support-bot" = "indexes/support-train" }
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from aiposture.errors import ConfigError

__all__ = [
    "DiscoverySettings",
    "MCPSettings",
    "PolicySettings",
    "PriorityThresholds",
    "RiskSettings",
    "RiskWeights",
    "Settings",
    "config_path",
]

#: File name looked for in the current folder.
LOCAL_FILE = "aiposture.toml"
#: Environment variable naming the configuration file.
ENV_VAR = "AIPOSTURE_CONFIG"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def _repr_html_(self) -> str:
        from aiposture import display

        return display.html(self)


class DiscoverySettings(_Section):
    """Settings of discovery (``[discovery]``)."""

    sanctioned_services: tuple[str, ...] = Field(
        default=(),
        description="Approved AI services (catalogue ids or domains); others seen in logs "
        "are shadow AI.",
    )
    exclude: tuple[str, ...] = Field(
        default=(), description="Folder names never descended into, besides the built-in ones."
    )

    @field_validator("sanctioned_services", "exclude")
    @classmethod
    def _clean(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        out = []
        for item in v:
            item = item.strip()
            if not item:
                raise ValueError("an empty name")
            out.append(item)
        return tuple(out)


class RiskWeights(_Section):
    """Weights of the dimensions in likelihood and impact (``[risk.weights]``).

    likelihood = weighted mean of accessibility and control gap;
    impact = weighted mean of data sensitivity and business impact.
    """

    data_sensitivity: float = Field(default=1.0, gt=0, le=100)
    business_impact: float = Field(default=1.0, gt=0, le=100)
    accessibility: float = Field(default=1.0, gt=0, le=100)
    control_gap: float = Field(default=1.0, gt=0, le=100)


class PriorityThresholds(_Section):
    """Lowest risk score (0 to 100) of each priority (``[risk.thresholds]``)."""

    critical: float = Field(default=49.0, ge=0, le=100)
    high: float = Field(default=30.0, ge=0, le=100)
    medium: float = Field(default=12.0, ge=0, le=100)

    @model_validator(mode="after")
    def _ordered(self) -> PriorityThresholds:
        if not self.critical >= self.high >= self.medium:
            raise ValueError("thresholds must satisfy critical >= high >= medium")
        return self


class RiskSettings(_Section):
    """Settings of the risk assessment (``[risk]``)."""

    weights: RiskWeights = RiskWeights()
    thresholds: PriorityThresholds = PriorityThresholds()
    disabled_rules: tuple[str, ...] = Field(
        default=(), description="Rule ids not evaluated (each still named in reports)."
    )


class PolicySettings(_Section):
    """Settings of policy enforcement (``[policy]``)."""

    folder: str | None = Field(
        default=None,
        description="The policy folder (Cedar policies, data_usage.yaml, rate_limits.yaml, "
        "approvals.yaml, principals.yaml); relative to the configuration file.",
    )


class MonitorSettings(_Section):
    """Settings of monitoring (``[monitor]``)."""

    store_text: Literal["full", "redacted", "none"] = Field(
        default="redacted",
        description="How prompts and responses are stored: as sent, with secrets, PII and "
        "data-carrying URLs replaced by [REDACTED:TYPE], or not at all.",
    )
    retention_days: float = Field(
        default=30.0, gt=0, description="Events older than this are deleted (alerts are kept)."
    )
    alert_window_minutes: float = Field(
        default=60.0,
        gt=0,
        description="Detections of one detector for one principal and model within this "
        "window of the alert's last one are grouped into that alert.",
    )
    detectors: tuple[str, ...] | None = Field(
        default=None, description="Detector ids to run (all registered ones by default)."
    )
    allowed_hosts: tuple[str, ...] = Field(
        default=(),
        description="Hosts (and their subdomains) that responses may link to or load "
        "images from with data in the URL: the organisation's own sites and CDNs.",
    )
    leakage_indexes: dict[str, str] = Field(
        default_factory=dict,
        description="Model name or asset id -> leakage index folder, checked against that "
        "model's responses (relative to the configuration file).",
    )
    batch_size: int = Field(
        default=256, ge=1, le=100_000, description="Events stored per transaction."
    )


class MCPSettings(_Section):
    """Settings of the MCP server (``[mcp]``).

    Only SHA-256 digests of bearer tokens are stored, never the tokens themselves.
    """

    tokens: dict[str, str] = Field(
        default_factory=dict,
        description="SHA-256 hex digest of a bearer token -> the principal it authenticates "
        "(the MCP server over HTTP).",
    )
    calls_per_minute: int = Field(
        default=120, ge=1, description="Tool calls allowed per principal per minute."
    )
    max_items: int = Field(
        default=100, ge=1, le=10_000, description="The cap on any list a tool returns."
    )
    excerpt_chars: int = Field(
        default=80,
        ge=0,
        le=10_000,
        description="The longest excerpt of matched training data or secret a tool returns.",
    )
    indexes: dict[str, str] = Field(
        default_factory=dict,
        description="Leakage indexes the tools may use, by name -> folder (relative to the "
        "configuration file); tools take the name, never a path.",
    )

    @field_validator("tokens")
    @classmethod
    def _digests(cls, v: dict[str, str]) -> dict[str, str]:
        out: dict[str, str] = {}
        for digest, principal in v.items():
            key = digest.strip().lower()
            if len(key) != 64 or any(c not in "0123456789abcdef" for c in key):
                raise ValueError("keys must be SHA-256 hex digests of tokens, not tokens")
            if not principal.strip():
                raise ValueError(f"an empty principal for digest {key[:12]}...")
            out[key] = principal.strip()
        return out


class Settings(_Section):
    """Everything configurable, validated; immutable.

    Attributes:
        discovery: Discovery settings.
        source: The file the settings were read from (None for the defaults).
    """

    discovery: DiscoverySettings = DiscoverySettings()
    risk: RiskSettings = RiskSettings()
    policy: PolicySettings = PolicySettings()
    monitor: MonitorSettings = MonitorSettings()
    mcp: MCPSettings = MCPSettings()
    source: str | None = Field(default=None, exclude=True)

    def policy_folder(self) -> Path | None:
        """The policy folder, resolved against the configuration file's folder."""
        if self.policy.folder is None:
            return None
        folder = Path(os.path.expanduser(self.policy.folder))
        if not folder.is_absolute() and self.source is not None:
            folder = Path(self.source).parent / folder
        return folder

    def leakage_index_paths(self) -> dict[str, Path]:
        """``monitor.leakage_indexes`` resolved against the configuration file's folder."""
        out: dict[str, Path] = {}
        for model, raw in self.monitor.leakage_indexes.items():
            folder = Path(os.path.expanduser(raw))
            if not folder.is_absolute() and self.source is not None:
                folder = Path(self.source).parent / folder
            out[model] = folder
        return out

    @classmethod
    def load(cls, path: str | os.PathLike[str] | None = None) -> Settings:
        """Read the settings from ``path``, or from the first file found (see the module).

        Raises:
            ConfigError: The file named cannot be read, is not TOML, or holds an unknown
                key or a bad value (the message names the file and the key).
        """
        found = config_path(path)
        if found is None:
            return cls()
        return cls.from_file(found)

    @classmethod
    def from_file(cls, path: Path) -> Settings:
        """Read and validate one TOML file.

        Raises:
            ConfigError: As for :meth:`load`.
        """
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"cannot read configuration {path}: {exc.strerror or exc}") from exc
        except UnicodeDecodeError as exc:
            raise ConfigError(f"configuration {path} is not UTF-8 text") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"configuration {path} is not valid TOML: {exc}") from exc
        return cls.from_mapping(raw, source=str(path))

    @classmethod
    def from_mapping(cls, raw: dict[str, Any], *, source: str | None = None) -> Settings:
        """Validate settings given as a mapping (as a TOML file would give them).

        Raises:
            ConfigError: An unknown key or a bad value, named with its dotted path.
        """
        try:
            return cls.model_validate({**raw, "source": source})
        except ValidationError as exc:
            where = source or "settings"
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
            )
            raise ConfigError(f"{where}: {problems}") from None


def config_path(path: str | os.PathLike[str] | None = None) -> Path | None:
    """The configuration file that :meth:`Settings.load` reads, or None for the defaults.

    Raises:
        ConfigError: ``path`` (or ``AIPOSTURE_CONFIG``) names a file that does not exist.
    """
    if path is not None:
        named = Path(os.path.expanduser(os.fspath(path)))
        if not named.is_file():
            raise ConfigError(f"configuration file not found: {named}")
        return named
    env = os.environ.get(ENV_VAR)
    if env:
        named = Path(os.path.expanduser(env))
        if not named.is_file():
            raise ConfigError(f"{ENV_VAR} names a file that does not exist: {named}")
        return named
    for candidate in (Path.cwd() / LOCAL_FILE, Path.home() / ".aiposture" / "config.toml"):
        if candidate.is_file():
            return candidate
    return None
