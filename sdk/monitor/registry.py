"""The one place detectors are registered.

Built-in detectors are listed in :data:`BUILTIN_DETECTORS` as ``module:Class``;
third-party ones come from the ``aiposture.detectors`` entry-point group. Adding a
built-in detector means one module under ``monitor/detectors/``, one line here and one
test file.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import import_module
from importlib.metadata import entry_points
from typing import TYPE_CHECKING

from aiposture.errors import ConfigError
from aiposture.monitor.base import Detector

if TYPE_CHECKING:
    from aiposture.settings import Settings

__all__ = ["BUILTIN_DETECTORS", "DetectorRegistry", "default_detectors"]

#: ``module:Class`` of every built-in detector, imported lazily.
BUILTIN_DETECTORS: tuple[str, ...] = (
    "aiposture.monitor.detectors.drift:DriftDetector",
    "aiposture.monitor.detectors.exfiltration:ExfiltrationDetector",
    "aiposture.monitor.detectors.extraction:ExtractionDetector",
    "aiposture.monitor.detectors.injection:PromptInjectionDetector",
    "aiposture.monitor.detectors.leakage:LeakageDetector",
    "aiposture.monitor.detectors.volume:VolumeDetector",
)


class DetectorRegistry:
    """Detectors by id; refuses two detectors with one id."""

    def __init__(self) -> None:
        self._by_id: dict[str, type[Detector]] = {}

    def register(self, cls: type[Detector]) -> type[Detector]:
        """Add a detector class (usable as a decorator).

        Raises:
            ConfigError: Another detector has this id, or the class lacks its metadata.
        """
        did = getattr(cls, "id", None)
        if not isinstance(did, str) or not did:
            raise ConfigError(f"detector {cls.__qualname__} has no id")
        if not getattr(cls, "description", None):
            raise ConfigError(f"detector {did!r} has no description")
        other = self._by_id.get(did)
        if other is not None and other is not cls:
            raise ConfigError(
                f"detector id {did!r} is taken by {other.__module__}.{other.__qualname__}"
            )
        self._by_id[did] = cls
        return cls

    def ids(self) -> list[str]:
        """Registered detector ids, sorted."""
        return sorted(self._by_id)

    def get(self, did: str) -> type[Detector]:
        """The detector class with id ``did``.

        Raises:
            ConfigError: No detector has that id.
        """
        try:
            return self._by_id[did]
        except KeyError:
            raise ConfigError(f"unknown detector {did!r}; known: {', '.join(self.ids())}") from None

    def create(
        self, ids: Sequence[str] | None = None, *, settings: Settings | None = None
    ) -> list[Detector]:
        """Instances of the named detectors (all of them by default).

        With ``settings``, each is built by its :meth:`~Detector.from_settings`.
        """
        chosen = [self.get(d) for d in (ids if ids is not None else self.ids())]
        if settings is None:
            return [cls() for cls in chosen]
        return [cls.from_settings(settings) for cls in chosen]

    def __len__(self) -> int:
        return len(self._by_id)


def _load(spec: str) -> type[Detector]:
    module, _, attr = spec.partition(":")
    cls = getattr(import_module(module), attr)
    if not (isinstance(cls, type) and issubclass(cls, Detector)):
        raise ConfigError(f"{spec} is not a Detector subclass")
    return cls


_default: DetectorRegistry | None = None


def default_detectors() -> DetectorRegistry:
    """The registry of built-in and entry-point detectors (built once)."""
    global _default
    if _default is None:
        reg = DetectorRegistry()
        for spec in BUILTIN_DETECTORS:
            reg.register(_load(spec))
        for ep in entry_points(group="aiposture.detectors"):
            loaded = ep.load()
            if not (isinstance(loaded, type) and issubclass(loaded, Detector)):
                raise ConfigError(f"entry point {ep.name!r} is not a Detector subclass")
            reg.register(loaded)
        _default = reg
    return _default
