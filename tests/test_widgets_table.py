"""PagedTable: a fixed pool of row widgets driven by search, filters, sorting and paging."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from aiposture.tables import Column, Table
from aiposture.widgets.table import PagedTable


@dataclass
class Item:
    name: str
    kind: str
    score: float


def _items(n: int) -> list[Item]:
    return [
        Item(f"item-{i:03d}", ("model", "service", "package")[i % 3], float(i)) for i in range(n)
    ]


def _table(items: list[Item]) -> Table[Item]:
    return Table(
        items,
        [
            Column("name", "Name", lambda x: x.name, width="200px"),
            Column("kind", "Kind", lambda x: x.kind, filterable=True),
            Column("score", "Score", lambda x: x.score),
        ],
    )


def _shown_names(pt: PagedTable) -> list[str]:
    return [
        b.description
        for b, row in zip(pt._buttons, pt.rows, strict=True)
        if row.layout.display != "none"
    ]


def test_first_page_shows_page_size_rows_and_status() -> None:
    pt = PagedTable(_table(_items(57)), css="aiposture-things")
    assert "aiposture-table" in pt._dom_classes and "aiposture-things" in pt._dom_classes
    assert pt.status.value == "1–25 of 57"
    assert _shown_names(pt) == [f"item-{i:03d}" for i in range(25)]
    assert pt.prev_button.disabled and not pt.next_button.disabled


def test_next_and_prev_reuse_the_same_row_widgets() -> None:
    pt = PagedTable(_table(_items(57)))
    pool = [id(r) for r in pt.rows]
    pt.next_button.click()
    pt.next_button.click()
    assert pt.status.value == "51–57 of 57"
    assert _shown_names(pt) == [f"item-{i:03d}" for i in range(50, 57)]
    assert pt.next_button.disabled
    assert [id(r) for r in pt.rows] == pool
    pt.prev_button.click()
    assert pt.status.value == "26–50 of 57"


def test_typing_in_the_search_box_filters_and_returns_to_page_one() -> None:
    pt = PagedTable(_table(_items(57)))
    pt.next_button.click()
    pt.search.value = "ITEM-04"
    assert pt.status.value == "1–10 of 10"
    assert _shown_names(pt) == [f"item-{i:03d}" for i in range(40, 50)]


def test_filter_dropdown_offers_all_then_the_values() -> None:
    pt = PagedTable(_table(_items(57)))
    dd = pt.filters["kind"]
    assert "aiposture-table-filter" in dd._dom_classes
    assert "aiposture-filter-kind" in dd._dom_classes
    assert list(dd.options) == ["all", "model", "package", "service"]
    dd.value = "service"
    assert {x.kind for x in pt.matching} == {"service"}
    assert len(pt.matching) == 19


def test_clicking_a_header_sorts_and_clicking_again_reverses() -> None:
    pt = PagedTable(_table(_items(57)))
    pt.sort_buttons["score"].click()
    assert pt.visible[0].score == 0.0
    pt.sort_buttons["score"].click()
    assert pt.visible[0].score == 56.0
    assert pt.sort_buttons["score"].description.endswith("▼")
    assert pt.sort_buttons["name"].description == "Name"


def test_clicking_a_row_button_opens_that_item() -> None:
    opened: list[Item] = []
    pt = PagedTable(_table(_items(57)), on_open=opened.append)
    pt.next_button.click()
    pt._buttons[3].click()
    assert opened == [pt.visible[3]]
    assert opened[0].name == "item-028"


def test_cells_are_escaped_text() -> None:
    evil = Item("<img src=x onerror=alert(1)>", "<b>bold</b>", 1.0)
    pt = PagedTable(_table([evil]))
    assert pt._buttons[0].description == evil.name  # a Button shows text, never HTML
    html = pt._cells[0].value
    assert "&lt;b&gt;bold&lt;/b&gt;" in html
    assert "<b>" not in html


def test_set_items_keeps_search_filter_and_sort() -> None:
    pt = PagedTable(_table(_items(30)))
    pt.filters["kind"].value = "model"
    pt.sort_buttons["score"].click()
    pt.sort_buttons["score"].click()
    pt.set_items(_items(60))
    assert pt.filters["kind"].value == "model"
    assert pt.visible[0].name == "item-057"
    assert pt.status.value == "1–20 of 20"


def test_set_items_resets_a_filter_whose_value_disappeared() -> None:
    pt = PagedTable(_table(_items(30)))
    pt.filters["kind"].value = "service"
    pt.set_items([Item("only", "model", 1.0)])
    assert pt.filters["kind"].value == "all"
    assert [x.name for x in pt.matching] == ["only"]


def test_no_match_hides_every_row() -> None:
    pt = PagedTable(_table(_items(10)))
    pt.search.value = "nothing like this"
    assert pt.status.value == "0 of 0"
    assert _shown_names(pt) == []
    assert pt.next_button.disabled and pt.prev_button.disabled


def test_bad_page_size_is_refused() -> None:
    with pytest.raises(ValueError, match="page_size"):
        PagedTable(_table(_items(3)), page_size=0)


def test_ten_thousand_rows_build_and_page_quickly() -> None:
    import time

    items = _items(10_000)
    start = time.perf_counter()
    pt = PagedTable(_table(items))
    pt.next_button.click()
    pt.filters["kind"].value = "package"
    pt.sort_buttons["score"].click()
    pt.search.value = "item-99"
    assert time.perf_counter() - start < 2.0
    assert len(pt.rows) == 25
    assert all(x.kind == "package" and "item-99" in x.name for x in pt.matching)
