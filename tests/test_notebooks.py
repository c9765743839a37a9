"""The tutorials in notebooks/ run as they are, in a real Jupyter kernel, and leave the
widgets they promise (read from the widget state the kernel sent to the front end)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
TAB_TITLES = ["Inventory", "Risk", "Alerts", "Approvals", "Leakage"]


class WidgetState:
    """The widget models a notebook left, by id, with their children."""

    def __init__(self, nb: nbformat.NotebookNode) -> None:
        saved = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
        self.models: dict[str, dict[str, Any]] = {
            mid: m["state"] for mid, m in saved.get("state", {}).items()
        }

    def with_class(self, css: str) -> list[dict[str, Any]]:
        return [s for s in self.models.values() if css in s.get("_dom_classes", ())]

    def descendants(self, state: dict[str, Any]) -> Iterator[dict[str, Any]]:
        for ref in state.get("children", ()):
            child = self.models.get(str(ref).removeprefix("IPY_MODEL_"))
            if child is not None:
                yield child
                yield from self.descendants(child)

    def texts(self, state: dict[str, Any]) -> str:
        """Every value and description under ``state``, one per line."""
        parts = []
        for s in [state, *self.descendants(state)]:
            for key in ("value", "description"):
                if isinstance(s.get(key), str):
                    parts.append(s[key])
        return "\n".join(parts)


def _quickstart(w: WidgetState) -> None:
    (dash,) = w.with_class("aiposture-dashboard")
    tabs = [s for s in w.descendants(dash) if s.get("_model_name") == "TabModel"]
    assert tabs and list(tabs[0]["titles"]) == TAB_TITLES
    (inventory,) = w.with_class("aiposture-inventory")
    status = [
        s["value"]
        for s in w.descendants(inventory)
        if "aiposture-table-status" in s.get("_dom_classes", ())
    ]
    shown = re.search(r"of (\d+)", status[0]) if status else None
    assert shown is not None and int(shown.group(1)) > 20, status  # the demo inventory
    assert "gpt-4o-mini" in w.texts(inventory)
    (approvals,) = w.with_class("aiposture-approvals")
    text = w.texts(approvals)
    assert "priya" in text and "marco" in text  # the request, and who reviews it


def _mcp(w: WidgetState) -> None:
    (approvals,) = w.with_class("aiposture-approvals")
    assert "security-copilot" in w.texts(approvals)  # the assistant's request, for a human


def _has(*classes: str) -> Callable[[WidgetState], None]:
    def check(w: WidgetState) -> None:
        for css in classes:
            assert w.with_class(css), f"no widget with class {css}"

    return check


WIDGETS: dict[str, Callable[[WidgetState], None]] = {
    "01_quickstart": _quickstart,
    "02_inventory_and_aibom": _has("aiposture-inventory"),
    "04_leakage_index": _has("aiposture-leakage-result"),
    "05_policy_and_approvals": _has("aiposture-approvals"),
    "06_monitoring": _has("aiposture-dashboard", "aiposture-alerts"),
    "07_mcp_server": _mcp,
}


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_without_errors_and_leaves_its_widgets(
    path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIPOSTURE_TUTORIAL_DIR", str(tmp_path / "work"))
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    errors = [f"{o.get('ename')}: {o.get('evalue')}" for o in outputs if o.output_type == "error"]
    assert not errors
    html = [o for o in outputs if "text/html" in o.get("data", {})]
    assert html, "the tutorial shows rich HTML"
    check = WIDGETS.get(path.stem)
    if check is not None:
        check(WidgetState(nb))


def test_the_tutorials_are_the_documented_set() -> None:
    names = [p.stem for p in NOTEBOOKS]
    assert names == [
        "01_quickstart",
        "02_inventory_and_aibom",
        "03_risk_and_compliance",
        "04_leakage_index",
        "05_policy_and_approvals",
        "06_monitoring",
        "07_mcp_server",
    ]
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in names:
        assert f"notebooks/{name}.ipynb" in readme, f"README does not list {name}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebooks_are_committed_without_outputs(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code
    assert all(not c.outputs and c.execution_count is None for c in code)
    assert "widgets" not in nb.metadata
    text = "".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert len(text.split()) > 250, "a tutorial explains why, not only code"
