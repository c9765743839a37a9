"""Every registered scanner keeps the plugin contract; the registry refuses duplicates."""

from __future__ import annotations

from pathlib import Path

import pytest

from aiposture.discovery.base import Scanner, Target, TargetKind
from aiposture.discovery.registry import ScannerRegistry, default_registry
from aiposture.errors import ConfigError


def test_builtin_scanners_are_registered() -> None:
    names = set(default_registry().names())
    assert {"python_code", "notebook", "docs", "manifests", "python_environment"} <= names


@pytest.mark.parametrize("name", default_registry().names())
def test_scanner_contract(name: str, tmp_path: Path) -> None:
    cls = default_registry().get(name)
    assert cls.name == name
    assert cls.description and cls.description.endswith(".")
    assert isinstance(cls.target_kind, TargetKind)
    assert cls.max_bytes > 0
    scanner = cls()
    if cls.target_kind is TargetKind.FILE:
        # empty input is not an error and yields nothing
        empty = tmp_path / "empty.txt"
        empty.write_bytes(b"")
        target = Target(
            kind=TargetKind.FILE,
            source=str(empty),
            path=empty,
            root=tmp_path,
            data=b"",
            project=tmp_path,
        )
        assert list(scanner.scan(target)) == []


def test_registry_refuses_a_second_scanner_with_a_taken_name() -> None:
    reg = ScannerRegistry()

    class One(Scanner):
        name = "dup"
        description = "First."

        def scan(self, target: Target):  # type: ignore[no-untyped-def]
            return []

    class Two(One):
        description = "Second."

    reg.register(One)
    with pytest.raises(ConfigError, match="taken"):
        reg.register(Two)


def test_unknown_scanner_name_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="python_code"):
        default_registry().get("nope")
