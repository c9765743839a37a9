"""Real-browser acceptance: Debian Chromium (playwright) drives JupyterLab on loopback.

Run them with ``.venv/bin/pytest -m browser tests/test_browser_dashboard.py``; screenshots
of every step land in ``build/test-artifacts/browser/``.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import nbformat
import pytest

import browser_lab

UNAVAILABLE = browser_lab.unavailable()
pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(UNAVAILABLE is not None, reason=f"skipped: {UNAVAILABLE}"),
]

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = ROOT / "notebooks" / "01_quickstart.ipynb"
HOSTILE = "<img src=x onerror=alert(1)>"
KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}


def _notebook(path: Path, *sources: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = KERNELSPEC
    nb.cells = [nbformat.v4.new_code_cell(textwrap.dedent(s).strip()) for s in sources]
    nbformat.write(nb, path)
    return path


def test_browser_harness_runs_a_notebook_and_clicks_a_widget(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    from playwright.sync_api import expect

    mark = tmp_path / "clicked.txt"
    notebook = _notebook(
        tmp_path / "scratch.ipynb",
        """
        import os
        from html import escape
        from pathlib import Path

        import ipywidgets as w
        import plotly.graph_objects as go

        hostile = "<img src=x onerror=alert(1)>"
        label = w.Label("not clicked")
        label.add_class("aiposture-test-label")
        shown = w.HTML(escape(hostile))
        shown.add_class("aiposture-test-html")
        button = w.Button(description="Press me")
        button.add_class("aiposture-test")

        def clicked(_: w.Button) -> None:
            label.value = "clicked " + hostile
            Path(os.environ["HARNESS_MARK"]).write_text("clicked by the browser")

        button.on_click(clicked)
        chart = w.Output()
        chart.add_class("aiposture-test-chart")
        with chart:
            go.Figure(go.Bar(x=["low", "high"], y=[1, 3])).show(renderer="plotly_mimetype")
        w.VBox([button, label, shown, chart])
        """,
        'print("the harness says", 6 * 7)',
    )
    with browser_lab.LabSession(
        notebook, tmp_path, name=request.node.name, env={"HARNESS_MARK": str(mark)}
    ) as lab:
        page = lab.page
        assert lab.server.kernel_pids(), "the kernel runs as a child of the server"
        lab.run_all()
        button = page.locator(".aiposture-test")
        expect(button).to_be_visible()
        expect(lab.pending_widgets()).to_have_count(0)
        expect(page.get_by_text("the harness says 42")).to_be_visible()
        label = page.locator(".aiposture-test-label")
        expect(label).to_have_text("not clicked")
        expect(page.locator(".aiposture-test-html")).to_have_text(HOSTILE)
        expect(page.locator(".aiposture-test-chart .js-plotly-plot")).to_be_visible()
        lab.screenshot("rendered", button)

        button.click()
        expect(label).to_have_text(f"clicked {HOSTILE}")
        lab.screenshot("clicked", label)

        assert page.locator("img[onerror]").count() == 0
        assert lab.dialogs == []
        assert lab.errors() == []
        kernels = lab.server.kernel_pids()
        server = lab.server

    assert mark.read_text() == "clicked by the browser"
    assert server.process.poll() is not None, "the server is stopped"
    assert not [pid for pid in kernels if browser_lab._alive(pid)], "no kernel is left running"
    assert (browser_lab.ARTIFACTS / f"{lab.name}-clicked.png").stat().st_size > 0


# Appended to the quickstart's copy: an asset whose name is an HTML attack, found the way a
# real one would be (an MCP configuration in a scanned project), then the dashboard reloads.
HOSTILE_CELL = f"""
# added by tests/test_browser_dashboard.py: an asset named like an XSS attack
import json as _json
import os as _os
from pathlib import Path as _Path

_hostile = _Path(_os.environ["AIPOSTURE_TUTORIAL_DIR"]) / "hostile-project"
_hostile.mkdir(parents=True, exist_ok=True)
(_hostile / ".mcp.json").write_text(
    _json.dumps({{"mcpServers": {{{HOSTILE!r}: {{"command": "./run-local.sh"}}}}}})
)
p.discover([_hostile], progress=False)
dash.refresh()
p.asset({HOSTILE!r})
"""


def _reviewer(notebook: Path) -> str:
    """The reviewer the quickstart gives its dashboard (a literal, or a name bound to one)."""
    source = "\n".join(c.source for c in nbformat.read(notebook, as_version=4).cells)
    found = re.search(r"dashboard\(\s*reviewer\s*=\s*(?:([\"'])(.+?)\1|(\w+))", source)
    if found is None:
        pytest.fail(f"{notebook.name} does not call p.dashboard(reviewer=...)")
    if found.group(2):
        return found.group(2)
    bound = re.search(rf"^{found.group(3)}\s*=\s*([\"'])(.+?)\1", source, re.MULTILINE)
    if bound is None:
        pytest.fail(f"cannot tell the reviewer {found.group(3)} of {notebook.name}")
    return bound.group(2)


def _total(status: str) -> int:
    found = re.search(r"of\s+([\d,]+)", status)
    assert found, f"the table status {status!r} says how many rows match"
    return int(found.group(1).replace(",", ""))


@pytest.mark.timeout(900)
def test_quickstart_dashboard_filters_opens_and_approves_in_a_real_browser(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    from playwright.sync_api import expect

    import aiposture

    if not QUICKSTART.exists():
        pytest.fail(f"{QUICKSTART} is missing")
    reviewer = _reviewer(QUICKSTART)
    nb = nbformat.read(QUICKSTART, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(HOSTILE_CELL.strip()))
    source = tmp_path / "src" / QUICKSTART.name
    source.parent.mkdir()
    nbformat.write(nb, source)
    work = tmp_path / "tutorial"

    with browser_lab.LabSession(
        source, tmp_path, name=request.node.name, env={"AIPOSTURE_TUTORIAL_DIR": str(work)},
        timeout_s=240,
    ) as lab:  # fmt: skip
        page = lab.page
        lab.run_all(timeout_s=480)
        db, config = work / "posture.db", work / "aiposture.toml"
        assert db.exists(), f"the quickstart keeps its store in $AIPOSTURE_TUTORIAL_DIR: {db}"

        # The dashboard renders, with the demo inventory.
        dashboard = page.locator(".aiposture-dashboard")
        expect(dashboard).to_be_visible()
        expect(lab.pending_widgets()).to_have_count(0)
        dashboard.locator(".lm-TabBar-tab", has_text="Inventory").first.click()
        inventory = dashboard.locator(".aiposture-inventory")
        expect(inventory).to_be_visible()
        status = inventory.locator(".aiposture-table-status").first
        expect(status).to_contain_text("of")
        with aiposture.Posture.open(db, config=config) as p:
            pending = p.approvals.list("pending")
            n_assets = len(list(p.assets))
        assert len(pending) == 1, "the quickstart leaves one request waiting"
        assert _total(status.inner_text()) == n_assets, "the table lists the whole inventory"
        expect(inventory.locator(".aiposture-row-open").first).to_be_visible()
        lab.screenshot("dashboard", dashboard)

        # The search box filters the rows as one types.
        before = status.inner_text()
        inventory.locator(".aiposture-table-search input").first.fill("gpt-4o-mini")
        expect(status).not_to_have_text(before)
        assert 1 <= _total(status.inner_text()) < n_assets
        row = inventory.locator(".aiposture-row-open", has_text="gpt-4o-mini").first
        expect(row).to_be_visible()
        lab.screenshot("filtered", inventory)

        # An asset's detail: its name and the neighbourhood picture.
        row.click()
        detail = inventory.locator(".aiposture-asset-detail")
        expect(detail).to_contain_text("gpt-4o-mini")
        expect(detail.locator("svg").first).to_be_visible()
        lab.screenshot("detail", detail)

        # The reviewer approves the pending request with the button.
        dashboard.locator(".lm-TabBar-tab", has_text="Approvals").first.click()
        approvals = dashboard.locator(".aiposture-approvals")
        expect(approvals).to_be_visible()
        approvals.locator(".aiposture-row-open").first.click()
        expect(approvals.locator(".aiposture-approval-detail")).to_contain_text(
            pending[0].requester
        )
        reason = "Reviewed the evaluation; fine for production"
        approvals.locator(".aiposture-approval-reason").locator("input, textarea").first.fill(
            reason
        )
        approve = approvals.locator(".aiposture-approve").first
        expect(approve).to_be_enabled()
        lab.screenshot("approval-reviewed", approvals)
        approve.click()
        expect(approvals.locator(".aiposture-approval-message")).not_to_be_empty()
        lab.screenshot("approved", approvals)

        # A hostile asset name is shown as text, never as markup.
        dashboard.locator(".lm-TabBar-tab", has_text="Inventory").first.click()
        inventory.locator(".aiposture-table-search input").first.fill("onerror")
        hostile_row = inventory.locator(".aiposture-row-open", has_text="<img src=x onerror")
        expect(hostile_row.first).to_be_visible()
        hostile_row.first.click()
        expect(detail).to_contain_text(HOSTILE)
        # the appended cell's output: the asset's own rich HTML
        expect(
            page.locator(".jp-Notebook .jp-CodeCell").last.locator(".jp-OutputArea")
        ).to_contain_text(HOSTILE)
        lab.screenshot("hostile-name", detail)
        assert page.locator("img[onerror]").count() == 0, "no markup from an asset name runs"
        assert lab.dialogs == [], f"a script ran in the page: {lab.dialogs}"
        assert lab.errors() == []

    # Outside the browser: the approval is in the store and the audit log.
    with aiposture.Posture.open(db, config=config) as p:
        decided = p.approvals.get(pending[0].id)
        assert decided.status.value == "approved"
        assert [v.reviewer for v in decided.approvals] == [reviewer]
        entries = [
            e for e in p.audit_log() if e.action == "approval.approve" and e.object_id == decided.id
        ]
        assert [e.actor for e in entries] == [reviewer]
        assert p.verify_audit().ok
