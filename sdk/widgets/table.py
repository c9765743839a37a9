"""A searchable, filterable, sortable table widget that pages through many rows.

The rows on screen are a fixed pool of ``page_size`` widgets made once; paging,
searching, filtering and sorting only change their values, so a table of 10,000
items costs the same to display and to drive as one of 25.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from aiposture.tables import ALL, Table
from aiposture.widgets._base import STYLE, VBox, add_classes, escape, html_widget, ipywidgets

__all__ = ["PagedTable"]

W = ipywidgets()

_COMM = object()  # ``Widget.open()`` without an argument opens the widget's comm


def _cells_html(table: Table[Any], index: int) -> str:
    item = table.items[index]
    parts = []
    for col in table.columns[1:]:
        inner = col.html(item) if col.html is not None else escape(table.text(index, col.key))
        parts.append(
            f"<span class='aiposture-cell aiposture-cell-{escape(col.key)}' "
            f"style='display:inline-block;width:{escape(col.width)};overflow:hidden;"
            f"text-overflow:ellipsis;white-space:nowrap;vertical-align:top;"
            f"padding:0 4px;box-sizing:border-box'>{inner}</span>"
        )
    return "".join(parts)


class PagedTable(VBox):  # type: ignore[misc]
    """A table of items a page at a time, with a search box, filters and sortable headers.

    The first column names the row: it is a button that opens the item
    (``on_open(item)``). Everything shown in cells is escaped text, unless a
    column brings its own (escaped) ``html``.

    Args:
        table: The items and columns.
        page_size: Rows per page (the size of the row widget pool).
        on_open: Called with an item when its row's button is clicked.
        css: Extra CSS classes for the root (space-separated).

    Attributes:
        table: The :class:`~aiposture.tables.Table` queried.
        search: The search box (``ipywidgets.Text``).
        filters: A ``Dropdown`` per filterable column key.
        sort_buttons: The header ``Button`` per column key.
        rows: The pool of row ``HBox`` es.
        status: ``HTML`` reading e.g. ``1–25 of 57``.
        prev_button, next_button: Paging buttons.
    """

    def __init__(
        self,
        table: Table[Any],
        *,
        page_size: int = 25,
        on_open: Callable[[Any], None] | None = None,
        css: str = "",
    ) -> None:
        super().__init__()
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        self.table = table
        self.page_size = page_size
        self.on_open = on_open
        self.page = 0
        self.sort_key: str | None = None
        self.descending = False
        self._matching: list[int] = []
        self._quiet = False
        add_classes(self, "aiposture-table", css)

        self.search = add_classes(
            W.Text(
                placeholder="search",
                continuous_update=True,
                layout=W.Layout(width="220px"),
            ),
            "aiposture-table-search",
        )
        self.search.observe(self._changed, names="value")
        self.filters: dict[str, Any] = {}
        for col in table.columns:
            if not col.filterable:
                continue
            dd = add_classes(
                W.Dropdown(
                    options=[ALL, *table.choices(col.key)],
                    value=ALL,
                    description=col.title,
                    style={"description_width": "initial"},
                    layout=W.Layout(width="auto", max_width="240px"),
                ),
                "aiposture-table-filter",
                f"aiposture-filter-{col.key}",
            )
            dd.observe(self._changed, names="value")
            self.filters[col.key] = dd
        toolbar = W.HBox(
            [self.search, *self.filters.values()],
            layout=W.Layout(flex_flow="row wrap", align_items="center"),
        )

        self.sort_buttons: dict[str, Any] = {}
        for i, col in enumerate(table.columns):
            btn = add_classes(
                W.Button(
                    description=col.title,
                    tooltip=f"sort by {col.title}",
                    layout=W.Layout(width=self._first_width if i == 0 else col.width),
                ),
                "aiposture-table-sort",
                f"aiposture-sort-{col.key}",
            )
            btn.on_click(lambda _b, key=col.key: self.sort_by(key))
            self.sort_buttons[col.key] = btn
        header = W.HBox(list(self.sort_buttons.values()))

        name_layout = W.Layout(width=self._first_width, height="26px")
        self.rows: list[Any] = []
        self._buttons: list[Any] = []
        self._cells: list[Any] = []
        for slot in range(page_size):
            btn = add_classes(W.Button(description="", layout=name_layout), "aiposture-row-open")
            btn.on_click(lambda _b, slot=slot: self._open_slot(slot))
            cells = html_widget("", "aiposture-table-cells")
            row = add_classes(W.HBox([btn, cells], layout=W.Layout()), "aiposture-table-row")
            self._buttons.append(btn)
            self._cells.append(cells)
            self.rows.append(row)
        body = W.VBox(self.rows)

        self.prev_button = add_classes(
            W.Button(description="‹ prev", layout=W.Layout(width="70px")), "aiposture-table-prev"
        )
        self.next_button = add_classes(
            W.Button(description="next ›", layout=W.Layout(width="70px")), "aiposture-table-next"
        )
        self.prev_button.on_click(lambda _b: self.set_page(self.page - 1))
        self.next_button.on_click(lambda _b: self.set_page(self.page + 1))
        self.status = html_widget("", "aiposture-table-status")
        footer = W.HBox(
            [self.prev_button, self.status, self.next_button], layout=W.Layout(align_items="center")
        )
        self.children = (html_widget(STYLE), toolbar, header, body, footer)
        self._requery()

    @property
    def _first_width(self) -> str:
        return str(self.table.columns[0].width)

    # -- state ------------------------------------------------------------------------
    @property
    def matching(self) -> list[Any]:
        """Every item passing the search and filters, in the current order."""
        return [self.table.items[i] for i in self._matching]

    @property
    def visible(self) -> list[Any]:
        """The items on the current page."""
        return [self.table.items[i] for i in self._page_indices()]

    @property
    def pages(self) -> int:
        """How many pages the matching items fill (at least 1)."""
        return max(1, -(-len(self._matching) // self.page_size))

    def filter_values(self) -> dict[str, str]:
        """The chosen value of every filter (``all`` when unfiltered)."""
        return {k: str(dd.value) for k, dd in self.filters.items()}

    # -- actions ------------------------------------------------------------------------
    def set_items(self, items: Iterable[Any]) -> None:
        """Show new items, keeping the search, filters, sort and (when it still exists) page."""
        self.table.set_items(items)
        self._quiet = True
        try:
            for key, dd in self.filters.items():
                options = [ALL, *self.table.choices(key)]
                value = dd.value if dd.value in options else ALL
                if list(dd.options) != options:
                    dd.options = options
                dd.value = value
        finally:
            self._quiet = False
        self._requery(keep_page=True)

    def sort_by(self, key: str, descending: bool | None = None) -> None:
        """Sort by column ``key``; without ``descending``, the same column again reverses.

        Raises:
            KeyError: No such column.
        """
        self.table.column(key)
        if descending is None:
            descending = not self.descending if self.sort_key == key else False
        self.sort_key, self.descending = key, descending
        for k, btn in self.sort_buttons.items():
            title = self.table.column(k).title
            arrow = (" ▼" if descending else " ▲") if k == key else ""
            btn.description = title + arrow
        self._requery()

    def set_page(self, page: int) -> None:
        """Show page ``page`` (0-based, clamped to the existing pages)."""
        self.page = min(max(page, 0), self.pages - 1)
        self._render()

    def open(self, item: Any = _COMM) -> None:
        """Open ``item``: call ``on_open(item)``.

        Without an argument this is ``ipywidgets.Widget.open`` (it opens the comm).
        """
        if item is _COMM:
            super().open()
            return
        if self.on_open is not None:
            self.on_open(item)

    # -- internals ------------------------------------------------------------------------
    def _changed(self, _change: object) -> None:
        if not self._quiet:
            self._requery()

    def _requery(self, *, keep_page: bool = False) -> None:
        self._matching = self.table.query_indices(
            self.search.value, self.filter_values(), self.sort_key, self.descending
        )
        self.page = min(self.page, self.pages - 1) if keep_page else 0
        self._render()

    def _page_indices(self) -> Sequence[int]:
        start = self.page * self.page_size
        return self._matching[start : start + self.page_size]

    def _render(self) -> None:
        shown = self._page_indices()
        first = self.table.columns[0]
        for slot, row in enumerate(self.rows):
            if slot < len(shown):
                index = shown[slot]
                name = self.table.text(index, first.key)
                self._buttons[slot].description = name
                self._buttons[slot].tooltip = name
                self._cells[slot].value = _cells_html(self.table, index)
                row.layout.display = None
            else:
                row.layout.display = "none"
        n = len(self._matching)
        start = self.page * self.page_size
        self.status.value = f"{start + 1}–{start + len(shown)} of {n}" if n else "0 of 0"
        self.prev_button.disabled = self.page == 0
        self.next_button.disabled = self.page >= self.pages - 1

    def _open_slot(self, slot: int) -> None:
        shown = self._page_indices()
        if slot < len(shown):
            self.open(self.table.items[shown[slot]])
