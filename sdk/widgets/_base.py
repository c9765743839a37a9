"""Helpers shared by the widgets: lazy imports, CSS classes, escaped HTML, plotly output.

ipywidgets and plotly are imported through :func:`ipywidgets` and :func:`plotly_io`
only, so ``import aiposture`` never loads them and a missing install gives one
clear error.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from types import ModuleType
from typing import Any, TypeVar

from aiposture.models import Priority, Severity, escape
from aiposture.tables import Column

T = TypeVar("T")

__all__ = [
    "STYLE",
    "HBox",
    "VBox",
    "add_classes",
    "badge",
    "escape",
    "html_widget",
    "ipywidgets",
    "level_column",
    "plotly_go",
    "plotly_io",
    "show_figure",
]

_HINT = "pip install 'ipywidgets>=8.1' 'plotly>=5.20'"


def _require(name: str, what: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise ImportError(
            f"aiposture {what} need the {name.split('.')[0]} package, which is not "
            f"installed: {_HINT}"
        ) from exc


def ipywidgets() -> Any:
    """The ``ipywidgets`` module.

    Raises:
        ImportError: ipywidgets is not installed (the message says how to install it).
    """
    return _require("ipywidgets", "widgets")


def plotly_go() -> Any:
    """The ``plotly.graph_objects`` module.

    Raises:
        ImportError: plotly is not installed.
    """
    return _require("plotly.graph_objects", "charts")


def plotly_io() -> Any:
    """The ``plotly.io`` module.

    Raises:
        ImportError: plotly is not installed.
    """
    return _require("plotly.io", "charts")


def _boxes() -> tuple[Any, Any]:
    w = ipywidgets()
    return w.VBox, w.HBox


#: ``ipywidgets.VBox`` and ``HBox``, typed ``Any`` so panels can subclass them under
#: mypy (``class Panel(VBox):  # type: ignore[misc]``) without stubs for ipywidgets.
VBox: Any
HBox: Any
VBox, HBox = _boxes()


def add_classes(widget: Any, *classes: str) -> Any:
    """Add CSS classes to a widget (empty names are skipped); returns the widget."""
    for css in classes:
        for name in css.split():
            widget.add_class(name)
    return widget


#: Styles every panel includes once: compact, and readable in light and dark themes
#: (JupyterLab CSS variables with neutral fallbacks; colours that work on both).
STYLE = (
    "<style>"
    ".aiposture-html{font-family:var(--jp-ui-font-family,system-ui,sans-serif);"
    "font-size:12px;color:var(--jp-ui-font-color1,inherit);line-height:1.35}"
    ".aiposture-html table{border-collapse:collapse}"
    ".aiposture-html th,.aiposture-html td{padding:1px 6px;text-align:left;vertical-align:top;"
    "border-bottom:1px solid var(--jp-border-color2,rgba(127,127,127,.25))}"
    ".aiposture-html .k{opacity:.7}"
    ".aiposture-html code{font-size:11px}"
    ".aiposture-sev-critical{color:#e53935;font-weight:700}"
    ".aiposture-sev-high{color:#f4511e;font-weight:600}"
    ".aiposture-sev-medium{color:#f9a825}"
    ".aiposture-sev-low{color:#1e88e5}"
    ".aiposture-sev-info{opacity:.7}"
    ".aiposture-table-row .widget-html{margin:0 2px}"
    ".aiposture-table-row .widget-html-content{white-space:nowrap;overflow:hidden;"
    "text-overflow:ellipsis;line-height:24px}"
    ".aiposture-row-open{text-align:left}"
    "</style>"
)


def html_widget(value: str = "", *classes: str, **kwargs: Any) -> Any:
    """An ``ipywidgets.HTML`` with our base class and ``classes``.

    ``value`` must already be escaped HTML (build it with :func:`escape`).
    """
    w = ipywidgets().HTML(value=value, **kwargs)
    return add_classes(w, "aiposture-html", *classes)


def badge(text: object, level: str | None = None) -> str:
    """Escaped ``text`` in a span coloured by severity/priority ``level``."""
    if level:
        return f"<span class='aiposture-sev-{escape(level)}'>{escape(text)}</span>"
    return escape(text)


def level_column(
    key: str,
    title: str,
    get: Callable[[T], Severity | Priority | None],
    *,
    levels: type[Severity] | type[Priority],
    width: str = "80px",
) -> Column[T]:
    """A filterable column of a severity or priority, shown as a badge, sorted by rank."""

    def html(item: T) -> str:
        level = get(item)
        return badge(level.value, level.value) if level is not None else ""

    return Column(
        key,
        title,
        get,
        width=width,
        filterable=True,
        sort_key=lambda value: levels(value).rank,
        html=html,
    )


def rows_html(rows: Iterable[tuple[str, str]]) -> str:
    """A two-column table of (escaped label, escaped HTML value) pairs."""
    body = "".join(f"<tr><th class='k'>{k}</th><td>{v}</td></tr>" for k, v in rows)
    return f"<table>{body}</table>"


def show_figure(output: Any, figure: Any) -> None:
    """Replace what ``output`` (an ``ipywidgets.Output``) shows with a plotly figure.

    The figure is rendered with the ``plotly_mimetype`` renderer, which works
    offline in JupyterLab and Voila. Outside a kernel nothing is displayed, but
    the figure is kept on ``output.figure`` for inspection.
    """
    output.figure = figure
    if not _in_kernel():
        return
    output.clear_output(wait=True)
    with output:
        plotly_io().show(figure, renderer="plotly_mimetype")


def _in_kernel() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    return get_ipython() is not None
