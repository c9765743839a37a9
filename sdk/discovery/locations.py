"""Where a user's AI lives outside project folders: MCP client files and model caches.

``aiposture scan --user-locations`` (``Posture.discover(user_locations=True)``) adds these
to the roots, so one command inventories a workstation: every MCP client configuration of
the current user and the Hugging Face cache.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

from aiposture.discovery.mcp_clients import user_config_paths

__all__ = ["hf_cache_dir", "user_locations"]


def hf_cache_dir(home: Path, env: Mapping[str, str] = os.environ) -> Path:
    """The Hugging Face hub cache folder, honouring ``HF_HUB_CACHE``, ``HF_HOME`` and XDG."""
    if env.get("HF_HUB_CACHE"):
        return Path(env["HF_HUB_CACHE"]).expanduser()
    if env.get("HF_HOME"):
        return Path(env["HF_HOME"]).expanduser() / "hub"
    cache = Path(env["XDG_CACHE_HOME"]).expanduser() if env.get("XDG_CACHE_HOME") else None
    return (cache or home / ".cache") / "huggingface" / "hub"


def user_locations(
    home: Path | None = None,
    *,
    platform: str = sys.platform,
    env: Mapping[str, str] = os.environ,
) -> list[Path]:
    """The existing user-level AI locations of one user: MCP client files, the HF cache.

    Args:
        home: The user's home folder (default: the current user's).
        platform: As :data:`sys.platform` names it.
        env: Environment variables (``APPDATA``, ``XDG_CONFIG_HOME``, ``HF_HOME``...).

    Returns:
        Files and folders that exist, in a stable order, without duplicates.
    """
    home = home if home is not None else Path.home()
    found = [*user_config_paths(home, platform=platform, env=env), hf_cache_dir(home, env)]
    out: list[Path] = []
    for path in found:
        if path.exists() and path not in out:
            out.append(path)
    return out
