"""Read-only, filterable views of domain objects, built for notebooks.

``p.assets``, ``p.relations``, ``p.findings`` and ``p.scans`` return these:
iterate them, index them, filter them, show them (``_repr_html_``) or turn
them into a pandas DataFrame (``to_pandas()``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Generic, Self, TypeVar, overload

from pydantic import BaseModel

from aiposture import display
from aiposture.models import (
    Asset,
    AssetRisk,
    Finding,
    FindingStatus,
    Priority,
    Relation,
    ScanRun,
    Severity,
)

if TYPE_CHECKING:
    import pandas as pd

    from aiposture.posture import Posture
    from aiposture.widgets.inventory import InventoryPanel

__all__ = ["AssetList", "FindingList", "ModelList", "RelationList", "RiskList", "ScanList"]

T = TypeVar("T", bound=BaseModel)


class ModelList(Sequence[T], Generic[T]):
    """An immutable list of domain objects with notebook conveniences."""

    #: Columns shown in HTML and put first in DataFrames.
    columns: tuple[str, ...] = ()
    title: str = ""

    def __init__(self, items: Sequence[T], *, posture: Posture | None = None) -> None:
        self._items: tuple[T, ...] = tuple(items)
        #: The posture the items came from, kept through filters so widgets can call it.
        self._posture = posture

    def _derive(self, items: Sequence[T]) -> Self:
        return type(self)(items, posture=self._posture)

    @overload
    def __getitem__(self, index: int) -> T: ...
    @overload
    def __getitem__(self, index: slice) -> Self: ...
    def __getitem__(self, index: int | slice) -> T | Self:
        if isinstance(index, slice):
            return self._derive(self._items[index])
        return self._items[index]

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[T]:
        return iter(self._items)

    def where(self, predicate: Callable[[T], bool]) -> Self:
        """The items for which ``predicate`` is true."""
        return self._derive([x for x in self._items if predicate(x)])

    def filter(self, **criteria: Any) -> Self:
        """Items whose fields equal the given values (a list or set means any of them).

        Example: ``p.assets.filter(kind="model", provider=["openai", "anthropic"])``.

        Raises:
            ValueError: A criterion names no field of these objects.
        """
        if self._items:
            fields = type(self._items[0]).model_fields
            unknown = [k for k in criteria if k not in fields]
            if unknown:
                raise ValueError(
                    f"unknown field(s) {', '.join(unknown)}; fields are: {', '.join(fields)}"
                )

        def match(item: T) -> bool:
            for key, wanted in criteria.items():
                value = getattr(item, key)
                value = getattr(value, "value", value)
                if isinstance(wanted, list | tuple | set | frozenset):
                    options = {getattr(w, "value", w) for w in wanted}
                    if value not in options:
                        return False
                elif value != getattr(wanted, "value", wanted):
                    return False
            return True

        return self.where(match)

    def to_list(self) -> list[dict[str, Any]]:
        """The items as JSON-compatible dicts."""
        return [x.model_dump(mode="json") for x in self._items]

    def to_pandas(self) -> pd.DataFrame:
        """One row per item; nested fields (evidence, attributes) as Python objects."""
        import pandas as pd

        rows = [_row(x) for x in self._items]
        if not rows:
            return pd.DataFrame(columns=list(self.columns))
        frame = pd.DataFrame(rows)
        first = [c for c in self.columns if c in frame.columns]
        return frame[first + [c for c in frame.columns if c not in first]]

    def _repr_html_(self) -> str:
        return display.table_html(self._items, self.columns, title=self.title)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} of {len(self)}>"


def _row(item: BaseModel) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for name in type(item).model_fields:
        value = getattr(item, name)
        row[name] = getattr(value, "value", value)
    if isinstance(item, Asset | Finding | Relation):
        row["evidence_count"] = len(item.evidence)
    return row


class AssetList(ModelList[Asset]):
    """Assets of the inventory."""

    columns = (
        "id",
        "kind",
        "name",
        "provider",
        "version",
        "environment",
        "data_sensitivity",
        "sanctioned",
        "stale",
        "last_seen",
    )
    title = "Assets"

    def widget(self) -> InventoryPanel:
        """These assets as an interactive table (filter, sort, page) with a detail pane.

        Raises:
            ConfigError: The list was not read from a posture (``posture.assets``).
        """
        if self._posture is None:
            from aiposture.errors import ConfigError

            raise ConfigError("widget() needs assets read from a posture: use posture.assets")
        from aiposture.widgets.inventory import InventoryPanel

        return InventoryPanel(self._posture, assets=self)

    def by_kind(self) -> dict[str, int]:
        """Number of assets of each kind."""
        out: dict[str, int] = {}
        for a in self:
            out[a.kind.value] = out.get(a.kind.value, 0) + 1
        return dict(sorted(out.items()))


class RelationList(ModelList[Relation]):
    """Edges of the estate graph."""

    columns = ("source_id", "kind", "target_id", "stale", "last_seen")
    title = "Relations"


class FindingList(ModelList[Finding]):
    """Findings, worst first."""

    columns = ("severity", "rule_id", "title", "asset_id", "status", "stale", "last_seen")
    title = "Findings"

    def at_least(self, severity: Severity | str) -> FindingList:
        """Findings of ``severity`` or worse."""
        rank = Severity(severity).rank
        return self.where(lambda f: f.severity.rank >= rank)

    def for_framework(self, item: str) -> FindingList:
        """Findings tagged with a framework or one of its items.

        ``"owasp-llm"`` matches every OWASP LLM tag, ``"owasp-llm:LLM03"`` one item,
        ``"atlas:AML.T0024"`` a technique and its sub-techniques.

        Raises:
            NotFoundError: ``item`` names no framework or item.
        """
        from aiposture.risk.frameworks import matches

        matches([], item)  # an unknown selector is an error, even on an empty list
        return self.where(lambda f: matches(f.tags, item))

    def current(self) -> FindingList:
        """Findings still seen whose status counts (open or acknowledged)."""
        live = {FindingStatus.OPEN, FindingStatus.ACKNOWLEDGED}
        return self.where(lambda f: not f.stale and f.status in live)


class RiskList(ModelList[AssetRisk]):
    """The risk register: assessed assets, highest risk first."""

    columns = (
        "priority",
        "score",
        "asset_name",
        "asset_kind",
        "likelihood",
        "impact",
        "findings",
        "eu_ai_act_tier",
    )
    title = "Risk register"

    def at_least(self, priority: Priority | str) -> RiskList:
        """Assets of ``priority`` or more urgent."""
        rank = Priority(priority).rank
        return self.where(lambda r: r.priority.rank >= rank)

    def to_pandas(self) -> pd.DataFrame:
        """One row per asset with its four dimension scores and their reasons."""
        import pandas as pd

        rows = []
        for r in self:
            row: dict[str, Any] = {c: getattr(r, c) for c in self.columns}
            row["priority"] = r.priority.value
            row["asset_kind"] = r.asset_kind.value
            row["asset_id"] = r.asset_id
            for d in r.dimensions:
                row[d.dimension.value] = d.score
                row[f"{d.dimension.value}_reasons"] = "; ".join(
                    f"{x.points:+g} {x.text}" for x in d.reasons
                )
            rows.append(row)
        return pd.DataFrame(rows, columns=None if rows else list(self.columns))

    def _repr_html_(self) -> str:
        return display.risk_table_html(list(self), title=self.title)


class ScanList(ModelList[ScanRun]):
    """Scan runs, newest first."""

    columns = ("id", "status", "started_at", "finished_at", "roots", "counts", "errors")
    title = "Scans"
