"""The one place scanners are registered.

Built-in scanners are listed in :data:`BUILTIN_SCANNERS`; third-party ones
come from the ``aiposture.scanners`` entry-point group. Adding a built-in
scanner means one module under ``discovery/scanners/`` and one line here.
"""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import entry_points

from aiposture.discovery.base import Scanner
from aiposture.errors import ConfigError
from aiposture.settings import Settings

__all__ = ["BUILTIN_SCANNERS", "ScannerRegistry", "default_registry"]

#: ``module:Class`` of every built-in scanner, imported lazily.
BUILTIN_SCANNERS: tuple[str, ...] = (
    "aiposture.discovery.scanners.python_code:PythonCodeScanner",
    "aiposture.discovery.scanners.notebook:NotebookScanner",
    "aiposture.discovery.scanners.docs:DocumentationScanner",
    "aiposture.discovery.scanners.manifests:ManifestScanner",
    "aiposture.discovery.scanners.environment:PythonEnvironmentScanner",
    "aiposture.discovery.scanners.model_folders:ModelFolderScanner",
    "aiposture.discovery.scanners.mcp_config:McpConfigScanner",
    "aiposture.discovery.scanners.model_files:ModelFileScanner",
    "aiposture.discovery.scanners.egress_logs:EgressLogScanner",
)


class ScannerRegistry:
    """Scanners by name; refuses two scanners with one name."""

    def __init__(self) -> None:
        self._by_name: dict[str, type[Scanner]] = {}

    def register(self, cls: type[Scanner]) -> type[Scanner]:
        """Add a scanner class (usable as a decorator).

        Raises:
            ConfigError: Another scanner already has this name, or the class
                lacks its metadata.
        """
        name = getattr(cls, "name", None)
        if not isinstance(name, str) or not name:
            raise ConfigError(f"scanner {cls.__qualname__} has no name")
        if not getattr(cls, "description", None):
            raise ConfigError(f"scanner {name!r} has no description")
        other = self._by_name.get(name)
        if other is not None and other is not cls:
            raise ConfigError(
                f"scanner name {name!r} is taken by {other.__module__}.{other.__qualname__}"
            )
        self._by_name[name] = cls
        return cls

    def names(self) -> list[str]:
        """Registered scanner names, sorted."""
        return sorted(self._by_name)

    def get(self, name: str) -> type[Scanner]:
        """The scanner class called ``name``.

        Raises:
            ConfigError: No scanner has that name.
        """
        try:
            return self._by_name[name]
        except KeyError:
            raise ConfigError(
                f"unknown scanner {name!r}; known: {', '.join(self.names())}"
            ) from None

    def create(
        self, names: list[str] | None = None, *, settings: Settings | None = None
    ) -> list[Scanner]:
        """Instances of the named scanners (all of them by default), given ``settings``."""
        return [self.get(n)(settings) for n in (names if names is not None else self.names())]

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __len__(self) -> int:
        return len(self._by_name)


def _load(spec: str) -> type[Scanner]:
    module, _, attr = spec.partition(":")
    cls = getattr(import_module(module), attr)
    if not (isinstance(cls, type) and issubclass(cls, Scanner)):
        raise ConfigError(f"{spec} is not a Scanner subclass")
    return cls


_default: ScannerRegistry | None = None


def default_registry() -> ScannerRegistry:
    """The registry of built-in and entry-point scanners (built once)."""
    global _default
    if _default is None:
        reg = ScannerRegistry()
        for spec in BUILTIN_SCANNERS:
            reg.register(_load(spec))
        for ep in entry_points(group="aiposture.scanners"):
            loaded = ep.load()
            if not (isinstance(loaded, type) and issubclass(loaded, Scanner)):
                raise ConfigError(f"entry point {ep.name!r} is not a Scanner subclass")
            reg.register(loaded)
        _default = reg
    return _default
