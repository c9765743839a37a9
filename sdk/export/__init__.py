"""Exports of the inventory for other tools.

:mod:`aiposture.export.cyclonedx` writes a CycloneDX 1.6 AI-BOM (JSON),
validated against the official schema, for Dependency-Track and friends.
"""

from __future__ import annotations

from aiposture.export.cyclonedx import (
    build_bom,
    to_cyclonedx_json,
    validate_cyclonedx_json,
    write_cyclonedx,
)

__all__ = ["build_bom", "to_cyclonedx_json", "validate_cyclonedx_json", "write_cyclonedx"]
