"""The dashboard on a 10,000-asset estate, measured in a real browser.

The Python-side benchmark (:mod:`benchmarks.dashboard_render`) times what the kernel does;
this one times what a user waits for: from the moment a cell is run in JupyterLab to the
moment its output is drawn in Chromium (playwright drives Debian's Chromium against Lab on
loopback, with the harness of the browser tests).

In one run, in one kernel, on the same store (the seeded 10,000-asset estate of the risk
benchmark, written as discovery does and assessed once):

1. a set-up cell opens the store (``Posture.open``), untimed;
2. **baseline**: a cell showing ``p.assets.to_pandas()``, the DataFrame a data scientist
   would look at without the dashboard; timed until pandas' HTML table is drawn;
3. **first render**: a cell showing ``p.dashboard()``; timed until the Inventory table's
   first row shows an asset name (the widgets' JavaScript loaded, the models synced, the
   rows drawn);
4. **again**: the same dashboard cell run a second time (modules and store warm).

Target: first render under 3 s for 10,000 assets.

Run alone: ``.venv/bin/python -m benchmarks.dashboard_browser`` (prints JSON).
"""

from __future__ import annotations

import json
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import nbformat

from benchmarks.risk_assess import _write

ASSETS = 10_000
TESTS = Path(__file__).resolve().parents[1] / "tests"

_SETUP = """\
import os

import aiposture

p = aiposture.Posture.open(os.environ["AIPOSTURE_BENCH_DB"], actor="bench")
"""
_BASELINE = "p.assets.to_pandas()"
_DASHBOARD = "p.dashboard(reviewer='bench')"

_JS_RUN_CELL = """(index) => {
  const panel = window.__labNotebook;
  window.jupyterapp.shell.activateById(panel.id);
  panel.content.activeCellIndex = index;
  window.__benchRun = {done: false};
  window.jupyterapp.commands.execute('notebook:run-cell').then(
    () => { window.__benchRun.done = true; },
    () => { window.__benchRun.done = true; });
}"""


def _time_cell(lab: Any, index: int, selector: str, timeout_s: float) -> float:
    """Seconds from running cell ``index`` to ``selector`` visible in that cell."""
    page = lab.page
    cell = page.locator(".jp-Notebook .jp-Cell").nth(index)
    t0 = time.perf_counter()
    page.evaluate(_JS_RUN_CELL, index)
    cell.locator(selector).first.wait_for(state="visible", timeout=timeout_s * 1000)
    seconds = time.perf_counter() - t0
    lab.wait_kernel_idle(timeout_s=timeout_s)
    return seconds


def run(work: Path, n: int = ASSETS, timeout_s: float = 180.0) -> dict[str, Any]:
    """Build and assess the estate in ``work``, then time the cells in Lab."""
    sys.path.insert(0, str(TESTS))
    import browser_lab
    from aiposture import Posture

    why_not = browser_lab.unavailable()
    if why_not is not None:
        return {"name": "dashboard_browser", "skipped": why_not}
    db = work / "dashboard.db"
    written = _write(db, n)
    with Posture.open(db, actor="bench") as p:
        p.assess()
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nb.cells = [nbformat.v4.new_code_cell(s) for s in (_SETUP, _BASELINE, _DASHBOARD)]
    path = work / "dashboard_bench.ipynb"
    nbformat.write(nb, path)
    first_row = ".aiposture-assets .aiposture-table-row .aiposture-row-open"
    with browser_lab.LabSession(
        path,
        work,
        name="bench-dashboard-browser",
        env={"AIPOSTURE_BENCH_DB": str(db)},
        timeout_s=timeout_s,
    ) as lab:
        setup_s = _time_cell(lab, 0, ".jp-InputPrompt:has-text('[1]')", timeout_s)
        baseline_s = _time_cell(lab, 1, "table.dataframe", timeout_s)
        first_s = _time_cell(lab, 2, first_row, timeout_s)
        lab.screenshot("dashboard", target=lab.page.locator(".aiposture-dashboard").first)
        again_s = _time_cell(lab, 2, first_row, timeout_s)
        rows = lab.page.locator(first_row).count()
        errors = lab.errors()
    return {
        "name": "dashboard_browser",
        "assets": n,
        "estate": written,
        "setup_seconds": round(setup_s, 2),
        "baseline": {
            "what": "a cell showing p.assets.to_pandas(), until pandas' table is drawn",
            "seconds": round(baseline_s, 3),
        },
        "first_render": {
            "what": "a cell showing p.dashboard(), until the first row of the Inventory "
            "table shows an asset",
            "seconds": round(first_s, 3),
            "target_seconds": 3.0,
            "meets_target": first_s < 3.0,
            "rows_drawn": rows,
        },
        "again_seconds": round(again_s, 3),
        "ratio_first_render_to_baseline": round(first_s / baseline_s, 2),
        "cell_errors": errors,
        "browser": "Debian Chromium, headless, via playwright; JupyterLab on loopback",
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
    }


def main() -> None:
    """Run in a scratch folder and print the JSON."""
    work = Path(tempfile.mkdtemp(prefix="aiposture-bench-dashboard-browser-"))
    try:
        print(json.dumps(run(work), indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
