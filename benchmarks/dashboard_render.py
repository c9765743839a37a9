"""The dashboard on a 10,000-asset estate: time to first render, and the interactions.

In one run, on the same machine:

1. generate the seeded 10,000-asset estate of the risk benchmark (five relations per
   asset, findings where scanners would raise them), write it into a real SQLite store
   as discovery does, and assess it once, so the Inventory tab has risk to show;
2. **baseline**: what a data scientist does without the dashboard: read the same assets
   (``posture.assets``), make the DataFrame (``to_pandas()``) and render its notebook HTML
   (pandas' ``_repr_html_``, which truncates to 60 rows as a notebook does);
3. **first render**: ``posture.dashboard()`` built from the same store, then the complete
   state the front end needs to draw it: the widget models of the dashboard, serialised
   to JSON as the kernel sends them (``ipywidgets.embed.embed_data``). This is the Python
   side of the first render, everything before the browser draws; the browser test
   shows the browser side renders it;
4. **interactions** on the open dashboard: typing a search that filters the 10,000
   rows, picking a filter, sorting by a column, the next page, opening an asset's
   detail (evidence, findings and the neighbourhood picture), opening the Risk tab.

Each timing is the best of a few rounds (the machine may be shared); the first render is
also reported for its first round, when nothing is cached. Target: first render under
3 s for 10,000 assets.

Run alone: ``.venv/bin/python -m benchmarks.dashboard_render`` (prints JSON).
"""

from __future__ import annotations

import json
import platform
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from benchmarks.risk_assess import _write

ASSETS = 10_000
ROUNDS = 3


def _walk(widget: Any) -> Iterator[Any]:
    yield widget
    for child in getattr(widget, "children", ()) or ():
        yield from _walk(child)


def _find(root: Any, css: str) -> Any:
    for w in _walk(root):
        if css in getattr(w, "_dom_classes", ()):
            return w
    raise LookupError(f"no widget with class {css}")


def _timed(fn: Callable[[], Any], rounds: int = ROUNDS) -> tuple[float, float, Any]:
    """(first, best) seconds over ``rounds`` calls, and the last result."""
    times = []
    out: Any = None
    for _ in range(rounds):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return times[0], min(times), out


def run(work: Path, n: int = ASSETS) -> dict[str, Any]:
    """Build, store and assess the estate in ``work``; time the baseline and the dashboard."""
    from ipywidgets.embed import dependency_state, embed_data

    from aiposture import Posture

    db = work / "dashboard.db"
    written = _write(db, n)
    with Posture.open(db, actor="bench") as p:
        t0 = time.perf_counter()
        p.assess()
        assess_s = time.perf_counter() - t0

        def baseline() -> int:
            return len(p.assets.to_pandas()._repr_html_())

        def first_render() -> tuple[Any, int]:
            dash = p.dashboard(reviewer="bench")
            data = embed_data(views=[dash], state=dependency_state([dash]))
            return dash, len(json.dumps(data["manager_state"]))

        base_first, base_best, html_chars = _timed(baseline)
        dash_first, dash_best, (dash, state_chars) = _timed(first_render)

        table = _find(dash, "aiposture-assets")
        search = _find(table, "aiposture-table-search")
        status = _find(table, "aiposture-table-status")
        filters = [w for w in _walk(table) if "aiposture-table-filter" in w._dom_classes]
        sort = next(w for w in _walk(table) if "aiposture-table-sort" in w._dom_classes)
        nxt = _find(table, "aiposture-table-next")
        opener = _find(table, "aiposture-row-open")

        def type_search() -> str:
            search.value = ""
            search.value = "model"
            return str(status.value)

        def pick_filter() -> str:
            search.value = ""
            f = filters[0]
            options = [o for o in f.options if str(o if not isinstance(o, tuple) else o[0])]
            f.value = options[1][1] if isinstance(options[1], tuple) else options[1]
            shown = str(status.value)
            f.value = options[0][1] if isinstance(options[0], tuple) else options[0]
            return shown

        def sort_column() -> str:
            sort.click()
            return str(status.value)

        def next_page() -> str:
            nxt.click()
            return str(status.value)

        def open_detail() -> int:
            opener.click()
            detail = _find(dash, "aiposture-asset-detail")
            return sum(len(str(getattr(w, "value", ""))) for w in _walk(detail))

        def open_risk_tab() -> int:
            dash.show("risk")
            dash.show("inventory")
            return 1

        search.value = ""
        interactions: dict[str, Any] = {}
        for name, fn in (
            ("search_typed", type_search),
            ("filter_picked", pick_filter),
            ("sorted", sort_column),
            ("next_page", next_page),
            ("detail_opened", open_detail),
        ):
            first, best, shown = _timed(fn)
            interactions[name] = {
                "ms_first": round(first * 1000, 1),
                "ms_best": round(best * 1000, 1),
                "shown": shown,
            }
        t0 = time.perf_counter()
        open_risk_tab()
        interactions["risk_tab_first_open"] = {"ms": round((time.perf_counter() - t0) * 1000, 1)}
    return {
        "name": "dashboard_render",
        "assets": n,
        "estate": written,
        "assess_seconds": round(assess_s, 2),
        "rounds": ROUNDS,
        "baseline": {
            "what": "posture.assets.to_pandas()._repr_html_() (the DataFrame a notebook shows)",
            "seconds_first": round(base_first, 3),
            "seconds_best": round(base_best, 3),
            "html_chars": html_chars,
        },
        "first_render": {
            "what": "posture.dashboard() + its widget state serialised as the kernel sends it",
            "seconds_first": round(dash_first, 3),
            "seconds_best": round(dash_best, 3),
            "state_chars": state_chars,
            "target_seconds": 3.0,
            "meets_target": dash_first < 3.0,
        },
        "ratio_first_render_to_baseline": round(dash_best / base_best, 2) if base_best else None,
        "interactions": interactions,
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
    }


def main() -> None:
    """Run in a scratch folder and print the JSON."""
    work = Path(tempfile.mkdtemp(prefix="aiposture-bench-dashboard-"))
    try:
        print(json.dumps(run(work), indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
