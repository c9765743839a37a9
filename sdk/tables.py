"""The query side of the notebook tables, in plain Python (no ipywidgets).

A :class:`Table` holds items (assets, risks, alerts...) and :class:`Column` s that
say how to read each one. :meth:`Table.query` searches, filters and sorts them;
:class:`aiposture.widgets.table.PagedTable` shows the result a page at a time.

    >>> t = Table(posture.assets, [Column("name", "Name", lambda a: a.name)])
    >>> t.query(search="gpt", sort="name")

Cell values are read once per item when the table is built, so a query over
10,000 items is a few list passes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any, Generic, TypeVar

__all__ = ["ALL", "NONE", "Column", "Table", "cell_text"]

T = TypeVar("T")

#: The filter option that keeps every row.
ALL = "all"
#: The filter option (and choice) standing for an empty cell.
NONE = "(none)"


def cell_text(value: object) -> str:
    """The text shown for a cell value (``""`` for None).

    Enums show their value, booleans ``yes``/``no``, floats up to 4 significant
    digits, datetimes to the second, lists comma-separated.
    """
    if value is None:
        return ""
    if type(value) is str:
        return value
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, list | tuple | set | frozenset):
        return ", ".join(cell_text(v) for v in value)
    return str(value)


@dataclass(frozen=True)
class Column(Generic[T]):
    """One column of a :class:`Table`.

    Attributes:
        key: Stable identifier (filters, sorting and CSS classes use it).
        title: Header text.
        get: Reads the cell value from an item.
        width: CSS width of the column in the widget.
        filterable: Offer a dropdown filter over the column's distinct values.
        searchable: The search box looks at this column's text.
        sort_key: Orders the column's values when sorting (default: the values
            themselves, numbers numerically, text case-insensitively).
        html: Renders the cell as HTML in the widget; it MUST escape every
            untrusted part (default: the escaped cell text).
    """

    key: str
    title: str
    get: Callable[[T], Any]
    width: str = "120px"
    filterable: bool = False
    searchable: bool = True
    sort_key: Callable[[Any], Any] | None = None
    html: Callable[[T], str] | None = None


def _default_key(value: object) -> tuple[int, Any]:
    # Mixed types never compare: numbers first, then text; None is handled apart.
    if isinstance(value, bool):
        return (0, int(value))
    if isinstance(value, int | float):
        return (0, value)
    if isinstance(value, datetime):
        return (1, value.timestamp())
    return (2, cell_text(value).casefold())


class Table(Generic[T]):
    """Items and columns, with search, filters and sorting.

    Args:
        items: The rows.
        columns: The columns, the first one naming the row.

    Raises:
        ValueError: No columns, or two columns with the same key.
    """

    def __init__(self, items: Iterable[T], columns: Sequence[Column[T]]) -> None:
        if not columns:
            raise ValueError("a table needs at least one column")
        keys = [c.key for c in columns]
        if len(set(keys)) != len(keys):
            raise ValueError(f"duplicate column keys in {keys}")
        self.columns: tuple[Column[T], ...] = tuple(columns)
        self._index = {c.key: i for i, c in enumerate(self.columns)}
        self.set_items(items)

    def set_items(self, items: Iterable[T]) -> None:
        """Replace the rows (cell values are read now, once)."""
        self.items: list[T] = list(items)
        # column by column: one tight loop per getter is much faster than a row at a time
        by_column = [[c.get(item) for item in self.items] for c in self.columns]
        self._values: list[tuple[Any, ...]] = list(zip(*by_column, strict=True))
        self._texts: list[tuple[str, ...]] = list(
            zip(*([cell_text(v) for v in values] for values in by_column), strict=True)
        )
        searched = [i for i, c in enumerate(self.columns) if c.searchable]
        self._haystack: list[str] = [
            "\x1f".join(texts[i] for i in searched).casefold() for texts in self._texts
        ]
        self._sort_keys: dict[str, list[Any]] = {}

    def __len__(self) -> int:
        return len(self.items)

    def column(self, key: str) -> Column[T]:
        """The column with this key.

        Raises:
            KeyError: No such column.
        """
        try:
            return self.columns[self._index[key]]
        except KeyError:
            raise KeyError(f"no column {key!r}; columns are {list(self._index)}") from None

    def value(self, item_index: int, key: str) -> Any:
        """The cell value of row ``item_index`` (position in :attr:`items`) in column ``key``."""
        return self._values[item_index][self._index[key]]

    def text(self, item_index: int, key: str) -> str:
        """The cell text of row ``item_index`` in column ``key``."""
        return self._texts[item_index][self._index[key]]

    def choices(self, key: str) -> list[str]:
        """The distinct texts of a column, sorted (an empty cell is ``(none)``).

        Raises:
            KeyError: No such column.
        """
        self.column(key)
        col = self._index[key]
        return sorted({row[col] or NONE for row in self._texts}, key=str.casefold)

    def query(
        self,
        search: str = "",
        filters: Mapping[str, str | None] | None = None,
        sort: str | None = None,
        descending: bool = False,
    ) -> list[T]:
        """The items matching ``search`` and ``filters``, sorted.

        Args:
            search: Text that must occur (case-insensitively) in one of the
                searchable columns; each whitespace-separated word must occur.
            filters: Column key to the wanted cell text (``all``, ``""`` or None
                keep every row; ``(none)`` selects empty cells).
            sort: Key of the column to sort by (None keeps the original order).
                Empty cells go last in either direction.
            descending: Sort from the largest value.

        Raises:
            KeyError: A filter or the sort names no column.
        """
        return [self.items[i] for i in self.query_indices(search, filters, sort, descending)]

    def query_indices(
        self,
        search: str = "",
        filters: Mapping[str, str | None] | None = None,
        sort: str | None = None,
        descending: bool = False,
    ) -> list[int]:
        """Like :meth:`query`, but positions in :attr:`items`."""
        rows: Sequence[int] = range(len(self.items))
        wanted = [
            (self._index[self.column(k).key], v)
            for k, v in (filters or {}).items()
            if v not in (None, "", ALL)
        ]
        if wanted:
            texts = self._texts
            rows = [i for i in rows if all((texts[i][c] or NONE) == v for c, v in wanted)]
        words = search.casefold().split()
        if words:
            hay = self._haystack
            rows = [i for i in rows if all(w in hay[i] for w in words)]
        out = list(rows)
        if sort is not None:
            keys = self._keys(sort)
            present = [i for i in out if keys[i] is not None]
            empty = [i for i in out if keys[i] is None]
            present.sort(key=keys.__getitem__, reverse=descending)
            out = present + empty
        return out

    def _keys(self, key: str) -> list[Any]:
        if key not in self._sort_keys:
            column = self.column(key)
            col = self._index[key]
            by = column.sort_key or _default_key
            self._sort_keys[key] = [
                None if row[col] is None or row[col] == "" else by(row[col]) for row in self._values
            ]
        return self._sort_keys[key]
