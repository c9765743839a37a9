"""The AI catalogue: providers, AI packages and model-name rules, loaded from data.

The knowledge lives in ``aiposture/data/ai_catalog.yaml``; this module
validates it once and answers the questions scanners ask: which package
provides this import, which provider serves this host or this model name.
"""

from __future__ import annotations

import fnmatch
import re
from functools import cache, cached_property
from importlib.resources import files
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from aiposture.errors import ConfigError

__all__ = ["Catalog", "PackageInfo", "ProviderInfo", "load_catalog"]

Category = Literal[
    "llm_sdk",
    "llm_framework",
    "agent_framework",
    "router",
    "mcp",
    "ml_framework",
    "model_server",
    "model_hub",
    "ml_platform",
    "cloud_sdk",
    "vector_store",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProviderInfo(_Strict):
    """Someone who serves models or an AI API."""

    id: str = ""
    name: str
    service: str | None = None
    hosts: tuple[str, ...] = ()


class PackageInfo(_Strict):
    """An AI package, in PyPI or npm or both."""

    pypi: str | None = None
    npm: str | None = None
    modules: tuple[str, ...] = ()
    provider: str | None = None
    category: Category
    #: Counts as AI only in some uses (boto3: only bedrock/sagemaker clients).
    conditional: bool = False
    #: Wrapper classes that reach another provider than ``provider``.
    classes: dict[str, str] = Field(default_factory=dict)

    @property
    def name(self) -> str:
        """The package's name (PyPI name where it has one)."""
        return self.pypi or self.npm or "?"

    @model_validator(mode="after")
    def _named(self) -> PackageInfo:
        if not (self.pypi or self.npm):
            raise ValueError("a package needs a pypi or an npm name")
        return self


class _ModelRule(_Strict):
    pattern: str
    provider: str


class Catalog(_Strict):
    """The validated catalogue."""

    version: int
    providers: dict[str, ProviderInfo]
    packages: tuple[PackageInfo, ...]
    model_prefixes: tuple[_ModelRule, ...]

    @model_validator(mode="after")
    def _consistent(self) -> Catalog:
        for key, prov in self.providers.items():
            object.__setattr__(prov, "id", key)
        known = set(self.providers)
        for pkg in self.packages:
            for prov_id in [pkg.provider, *pkg.classes.values()]:
                if prov_id is not None and prov_id not in known:
                    raise ValueError(f"package {pkg.name}: unknown provider {prov_id!r}")
        for rule in self.model_prefixes:
            if rule.provider not in known:
                raise ValueError(f"model rule {rule.pattern!r}: unknown provider {rule.provider!r}")
            re.compile(rule.pattern)
        return self

    # -- lookups -----------------------------------------------------------
    @cached_property
    def _by_module(self) -> dict[str, PackageInfo]:
        return {mod: pkg for pkg in self.packages for mod in pkg.modules}

    @cached_property
    def _by_name(self) -> dict[str, dict[str, PackageInfo]]:
        out: dict[str, dict[str, PackageInfo]] = {"pypi": {}, "npm": {}}
        for pkg in self.packages:
            if pkg.pypi:
                out["pypi"][_norm("pypi", pkg.pypi)] = pkg
            if pkg.npm:
                out["npm"][_norm("npm", pkg.npm)] = pkg
        return out

    def package_for_module(self, module: str) -> PackageInfo | None:
        """The package that provides ``module`` (longest dotted-prefix match)."""
        parts = module.split(".")
        index = self._by_module
        for n in range(len(parts), 0, -1):
            hit = index.get(".".join(parts[:n]))
            if hit is not None:
                return hit
        return None

    def package(self, ecosystem: Literal["pypi", "npm"], name: str) -> PackageInfo | None:
        """The AI package called ``name`` in ``ecosystem`` (PyPI names normalised)."""
        return self._by_name[ecosystem].get(_norm(ecosystem, name))

    def provider(self, provider_id: str) -> ProviderInfo:
        """The provider with this id.

        Raises:
            KeyError: Unknown provider id.
        """
        return self.providers[provider_id]

    def provider_for_host(self, host: str) -> ProviderInfo | None:
        """The provider whose API lives at ``host`` (``host`` or ``host:port``)."""
        host = host.lower().rstrip(".")
        bare = host.split(":", 1)[0]
        for prov in self.providers.values():
            for pattern in prov.hosts:
                target = host if ":" in pattern else bare
                if fnmatch.fnmatchcase(target, pattern) or (
                    pattern.startswith("*.") and target == pattern[2:]
                ):
                    return prov
        return None

    def provider_for_model(self, model: str) -> ProviderInfo | None:
        """The provider a model identifier names (``gpt-4o`` -> OpenAI), if any."""
        name = model.strip().lower()
        for prefix in ("models/", "openai/", "azure/", "bedrock/", "vertex_ai/"):
            if name.startswith(prefix) and prefix != "models/":
                name = name[len(prefix) :]
        for rule in self.model_prefixes:
            if re.match(rule.pattern, name, flags=re.IGNORECASE):
                return self.providers[rule.provider]
        return None


def _norm(ecosystem: str, name: str) -> str:
    if ecosystem == "pypi":
        return re.sub(r"[-_.]+", "-", name).lower()
    return name.lower()


@cache
def load_catalog() -> Catalog:
    """The built-in catalogue, validated (loaded once per process).

    Raises:
        ConfigError: The catalogue file is invalid.
    """
    text = files("aiposture.data").joinpath("ai_catalog.yaml").read_text(encoding="utf-8")
    try:
        return Catalog.model_validate(yaml.safe_load(text))
    except (ValidationError, yaml.YAMLError) as exc:
        raise ConfigError(f"ai_catalog.yaml is invalid: {exc}") from exc
