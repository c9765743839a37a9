"""The pure-Python table query: search, filters, sorting, choices."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import pytest

from aiposture.tables import ALL, NONE, Column, Table, cell_text


class Colour(StrEnum):
    RED = "red"
    BLUE = "blue"


@dataclass
class Thing:
    name: str
    colour: Colour | None
    size: float | None
    owner: str | None = None


def _table(things: list[Thing]) -> Table[Thing]:
    return Table(
        things,
        [
            Column("name", "Name", lambda t: t.name),
            Column("colour", "Colour", lambda t: t.colour, filterable=True),
            Column("size", "Size", lambda t: t.size, searchable=False),
            Column("owner", "Owner", lambda t: t.owner, filterable=True),
        ],
    )


THINGS = [
    Thing("Alpha model", Colour.RED, 3.0, "ana"),
    Thing("beta service", Colour.BLUE, 10.0),
    Thing("gamma", Colour.RED, None, "bob"),
    Thing("Delta", None, 2.5, "ana"),
]


def test_search_is_case_insensitive_over_searchable_columns_only() -> None:
    t = _table(THINGS)
    assert [x.name for x in t.query(search="ALPHA")] == ["Alpha model"]
    assert [x.name for x in t.query(search="blue")] == ["beta service"]
    # size is not searchable: "10" matches no row
    assert t.query(search="10") == []


def test_every_search_word_must_match() -> None:
    t = _table(THINGS)
    assert [x.name for x in t.query(search="red ana")] == ["Alpha model"]
    assert [x.name for x in t.query(search="  red  ")] == ["Alpha model", "gamma"]


def test_filters_select_exact_cell_text_and_all_keeps_everything() -> None:
    t = _table(THINGS)
    assert [x.name for x in t.query(filters={"colour": "red"})] == ["Alpha model", "gamma"]
    assert len(t.query(filters={"colour": ALL, "owner": None})) == 4
    assert [x.name for x in t.query(filters={"colour": NONE})] == ["Delta"]
    assert [x.name for x in t.query(filters={"colour": "red", "owner": "bob"})] == ["gamma"]


def test_unknown_filter_column_is_an_error() -> None:
    with pytest.raises(KeyError, match="no column 'shape'"):
        _table(THINGS).query(filters={"shape": "round"})


def test_sort_is_numeric_and_puts_empty_cells_last_both_ways() -> None:
    t = _table(THINGS)
    assert [x.size for x in t.query(sort="size")] == [2.5, 3.0, 10.0, None]
    assert [x.size for x in t.query(sort="size", descending=True)] == [10.0, 3.0, 2.5, None]


def test_sort_text_ignores_case() -> None:
    t = _table(THINGS)
    assert [x.name for x in t.query(sort="name")] == [
        "Alpha model",
        "beta service",
        "Delta",
        "gamma",
    ]


def test_custom_sort_key_orders_values() -> None:
    order = {"low": 0, "high": 2, "medium": 1}
    t = Table(
        ["medium", "low", "high"],
        [Column("p", "P", lambda s: s, sort_key=order.__getitem__)],
    )
    assert t.query(sort="p", descending=True) == ["high", "medium", "low"]


def test_choices_are_the_sorted_distinct_texts_with_none_for_empty() -> None:
    t = _table(THINGS)
    assert t.choices("colour") == [NONE, "blue", "red"]
    assert t.choices("owner") == [NONE, "ana", "bob"]


def test_set_items_replaces_rows_and_sort_keys() -> None:
    t = _table(THINGS)
    assert t.query(sort="size")[0].name == "Delta"
    t.set_items([Thing("z", None, 1.0), Thing("y", None, 0.5)])
    assert [x.name for x in t.query(sort="size")] == ["y", "z"]
    assert t.choices("colour") == [NONE]


def test_duplicate_column_keys_are_refused() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        Table([], [Column("a", "A", str), Column("a", "B", str)])


def test_cell_text_of_common_values() -> None:
    assert cell_text(None) == ""
    assert cell_text(Colour.RED) == "red"
    assert cell_text(True) == "yes"
    assert cell_text(2.0 / 3.0) == "0.6667"
    assert cell_text(["a", Colour.BLUE]) == "a, blue"


def test_query_on_ten_thousand_rows_is_fast() -> None:
    import time

    things = [Thing(f"asset-{i}", Colour.RED if i % 2 else None, float(i)) for i in range(10_000)]
    t = _table(things)
    start = time.perf_counter()
    found = t.query(search="asset-99", filters={"colour": "red"}, sort="size", descending=True)
    assert time.perf_counter() - start < 0.5
    assert found[0].name == "asset-9999"
    assert all(x.colour is Colour.RED for x in found)
