"""Rich display: every public object renders compact, themed, escaped HTML and a short repr.

Objects are built with attacker-controlled text in every string field (asset names,
prompts, reasons, justifications are all untrusted); the HTML must show that text as
text and never as markup.
"""

from __future__ import annotations

import enum
import importlib
import inspect
import types
import typing
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any, TypeVar

import pytest
from pydantic import BaseModel

import aiposture
from aiposture import display
from aiposture.embeddings.leakage import LeakageIndex
from aiposture.embeddings.report import LeakageReport
from aiposture.models import (
    Asset,
    AssetRisk,
    Finding,
    Relation,
    RiskSnapshot,
    ScanIssue,
    ScanRun,
    ScanStatus,
    escape,
)
from aiposture.monitor.alerts import AlertList
from aiposture.monitor.models import Alert
from aiposture.monitor.service import MonitorRun
from aiposture.policy.approvals import ApprovalRequest, ApprovalStatus, ApprovalVote
from aiposture.policy.models import Decision, DecisionChange, WhatIfReport
from aiposture.risk.frameworks import coverage
from aiposture.views import AssetList, FindingList, RelationList, RiskList, ScanList

IMG = "<img src=x onerror=alert(1)>"
SCRIPT = "<script>alert(1)</script>"
SVG = "\"'><svg onload=alert(1)>"
JS_URL = "javascript:alert(document.cookie)"
#: Put into every string field: each attack at once, the image first so that even a
#: shortened field still shows it.
HOSTILE = f"{IMG} {SCRIPT} {SVG} {JS_URL}"
SHOWN = escape(IMG)
AT = datetime(2025, 11, 26, 12, 0, tzinfo=UTC)
M = TypeVar("M", bound=BaseModel)

#: Modules whose public pydantic models are public objects of aiposture.
MODEL_MODULES = [
    "aiposture.models",
    "aiposture.policy.models",
    "aiposture.policy.approvals",
    "aiposture.policy.ratelimit",
    "aiposture.policy.guard",
    "aiposture.monitor.models",
    "aiposture.embeddings.leakage",
    "aiposture.embeddings.report",
]
#: Public result objects that are not pydantic models.
RESULT_CLASSES: list[type] = [
    AssetList,
    FindingList,
    RelationList,
    RiskList,
    ScanList,
    AlertList,
    LeakageReport,
    LeakageIndex,
    MonitorRun,
    aiposture.Posture,
]


# --- building hostile objects ------------------------------------------------------------


def _value(tp: Any, depth: int) -> Any:
    """A valid value of type ``tp`` with HOSTILE in every string it holds."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        real = [a for a in args if a is not type(None)]
        return _value(real[0], depth)
    if origin is typing.Literal:
        return args[0]
    if tp is str:
        return HOSTILE
    if tp is bool:
        return True
    if tp is int:
        return 5
    if tp is float:
        return 0.5
    if tp is datetime:
        return AT
    if tp is Any or tp is object:
        return HOSTILE
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        members = list(tp)
        return next((m for m in members if m.value not in ("unknown", "none")), members[0])
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return build(tp, depth + 1)
    if origin in (list, set, frozenset):
        return origin([_value(args[0], depth)]) if depth < 3 else origin()
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return (_value(args[0], depth),) if depth < 3 else ()
        if all(a is int for a in args):
            return tuple(range(len(args)))
        return tuple(_value(a, depth) for a in args)
    if origin in (dict, typing.Mapping):
        return {_value(args[0], depth): _value(args[1], depth)}
    raise TypeError(f"no hostile value for {tp!r}")


#: Fields whose validation needs a shape (the hostile text goes where it can).
SHAPED: dict[str, dict[str, Any]] = {
    "MCPSettings": {"tokens": {"0" * 64: HOSTILE}},  # keys are token digests
}


def build(cls: type[M], depth: int = 0) -> M:
    """An instance of ``cls`` with every field set and HOSTILE in every string."""
    hints = typing.get_type_hints(cls)
    data = {name: _value(hints[name], depth) for name in cls.model_fields}
    data.update(SHAPED.get(cls.__name__, {}))
    return cls.model_validate(data)


def public_models() -> list[type[BaseModel]]:
    """Every public pydantic model of aiposture's public modules and of ``__all__``."""
    found: dict[str, type[BaseModel]] = {}
    for name in aiposture.__all__:
        obj = getattr(aiposture, name)
        if inspect.isclass(obj) and issubclass(obj, BaseModel):
            found[f"{obj.__module__}.{obj.__qualname__}"] = obj
    for mod_name in MODEL_MODULES:
        mod = importlib.import_module(mod_name)
        for name, obj in vars(mod).items():
            if (
                inspect.isclass(obj)
                and issubclass(obj, BaseModel)
                and obj.__module__ == mod_name
                and not name.startswith("_")
            ):
                found[f"{mod_name}.{obj.__qualname__}"] = obj
    return [found[k] for k in sorted(found)]


def _qual(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


# --- checking HTML -----------------------------------------------------------------------

_ALLOWED_TAGS = {
    "style", "div", "span", "b", "i", "table", "tr", "th", "td", "code", "ul", "li",
    "details", "summary", "br", "mark", "p",
}  # fmt: skip
_VOID = {"br"}


class _Checker(HTMLParser):
    """Collects tags and attributes and checks that tags nest and close."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str]] = []
        self.stack: list[str] = []
        self.problems: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs.extend((k, v or "") for k, v in attrs)
        if tag not in _VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs.extend((k, v or "") for k, v in attrs)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def check_safe_html(out: str) -> _Checker:
    """Assert ``out`` holds no markup from untrusted text and is well formed."""
    assert isinstance(out, str) and out
    low = out.lower()
    for raw in ("<img", "<script", "<svg", "<iframe"):
        assert raw not in low, f"unescaped {raw!r} in the HTML"
    parser = _Checker()
    parser.feed(out)
    parser.close()
    assert not parser.problems, parser.problems
    assert not parser.stack, f"unclosed tags: {parser.stack}"
    assert set(parser.tags) <= _ALLOWED_TAGS, set(parser.tags) - _ALLOWED_TAGS
    for key, value in parser.attrs:
        assert not key.startswith("on"), f"event handler attribute {key}"
        assert key not in ("href", "src", "action", "formaction"), key
        assert "javascript:" not in value.lower(), f"{key}={value!r}"
    return parser


# --- the objects -------------------------------------------------------------------------


def _asset() -> Asset:
    return build(Asset)


def _risk(score: float = 50.0) -> AssetRisk:
    return build(AssetRisk).model_copy(update={"score": score})


@pytest.fixture(scope="module")
def leakage() -> tuple[LeakageIndex, LeakageReport]:
    """A real index over a record holding hostile text, and a real report leaking it."""
    record = (
        f"The customer {IMG} account 4471 was migrated on the ninth of March after "
        f"the outage {SCRIPT} and the refund of {SVG} was approved by the night manager."
    )
    index = LeakageIndex.build([(HOSTILE, record)], progress=False)
    report = index.check([f"As you asked: {record}", HOSTILE])
    return index, report


def _objects(leak: tuple[LeakageIndex, LeakageReport]) -> list[tuple[str, Any]]:
    index, report = leak
    models = [(_qual(c), build(c)) for c in public_models()]
    finding = build(Finding)
    alert = build(Alert)
    run = MonitorRun(
        events=3,
        stored=3,
        detections=Counter({HOSTILE: 2}),
        new_alerts=[HOSTILE],
        redactions=Counter({HOSTILE: 1}),
        skipped={HOSTILE: 1},
        seconds=0.5,
    )
    cov = coverage([finding], {HOSTILE: 1})
    return [
        *models,
        ("AssetList", AssetList([_asset()])),
        ("FindingList", FindingList([finding])),
        ("RelationList", RelationList([build(Relation)])),
        ("RiskList", RiskList([_risk()])),
        ("ScanList", ScanList([build(ScanRun)])),
        ("AlertList", AlertList([alert])),
        ("LeakageReport", report),
        ("LeakageIndex", index),
        ("MonitorRun", run),
        ("Coverage", cov),
    ]


def _render(obj: Any) -> str:
    out = obj._repr_html_()
    assert isinstance(out, str)
    return out


def test_every_public_object_renders_hostile_text_as_escaped_text(
    leakage: tuple[LeakageIndex, LeakageReport],
) -> None:
    objects = _objects(leakage)
    assert len(objects) > 40  # the discovery found the models, not an empty list
    failures = []
    for name, obj in objects:
        try:
            out = _render(obj)
            check_safe_html(out)
        except Exception as exc:
            failures.append(f"{name}: {type(exc).__name__}: {exc}")
            continue
        # An index shows its counts and model, coverage the frameworks' own item names;
        # models with nothing but numbers and enums have no text to show either.
        if isinstance(obj, BaseModel):
            has_text = any(isinstance(v, str) for v in obj.model_dump().values())
        else:
            has_text = name not in ("LeakageIndex", "Coverage")
        if has_text and SHOWN not in out and escape(JS_URL) not in out:
            failures.append(f"{name}: the hostile text is not shown as text")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize(
    "view",
    [
        display.decision_html,
        display.whatif_html,
        display.approval_html,
        display.integrity_html,
        display.scan_run_html,
        display.asset_risk_html,
        display.snapshot_html,
        display.audit_report_html,
        display.output_check_html,
        display.event_html,
        display.detection_html,
    ],
    ids=lambda f: f.__name__,
)
def test_each_specialised_view_is_safe_and_shows_the_text(view: Callable[[Any], str]) -> None:
    hint = next(iter(inspect.signature(view).parameters.values())).annotation
    cls = {_qual(c).rsplit(".", 1)[1]: c for c in public_models()}[hint]
    obj = build(cls)
    out = view(obj)
    check_safe_html(out)
    assert out == _render(obj)  # the model's own view is this one
    if any(isinstance(v, str) for v in obj.model_dump().values()):
        assert SHOWN in out


def test_monitor_run_and_injection_scan_views_are_safe() -> None:
    from aiposture.monitor.detectors.injection import HeuristicHit, InjectionScan

    run = MonitorRun(events=2, detections=Counter({HOSTILE: 1}), new_alerts=["a"], seconds=1)
    out = display.monitor_run_html(run)
    check_safe_html(out)
    assert SHOWN in out and "1 new alert<" in out
    hit_fields = {f: _value(t, 0) for f, t in typing.get_type_hints(HeuristicHit).items()}
    scan = InjectionScan(
        score=0.9,
        label="injection",
        heuristics=(HeuristicHit(**hit_fields),),
        nearest_attack=(HOSTILE, HOSTILE, 0.8),
        nearest_benign=(HOSTILE, HOSTILE, 0.1),
        figures={HOSTILE: 0.5},
        field=HOSTILE,
    )
    out = display.injection_scan_html(scan)
    check_safe_html(out)
    assert SHOWN in out and "injection" in out
    assert scan._repr_html_() == out and run._repr_html_() == display.monitor_run_html(run)
    assert repr(run).startswith("MonitorRun(2 events") and len(repr(run)) < 120


# --- what the specialised views say --------------------------------------------------------


def test_decision_view_says_denied_and_names_the_deciding_policy() -> None:
    denied = Decision(
        allowed=False,
        principal="mallory",
        action="export",
        resource="ast-1",
        decided_by=("forbid-export-restricted",),
        reasons=("restricted data never leaves",),
    )
    out = denied._repr_html_()
    assert "b-bad'>denied<" in out and "allowed<" not in out
    assert "forbid-export-restricted" in out and "restricted data never leaves" in out
    default = Decision(allowed=False, principal="p", action="query", resource="r")
    assert "default deny" in default._repr_html_()
    allowed = Decision(allowed=True, principal="p", action="query", resource="r")
    assert "b-ok'>allowed<" in allowed._repr_html_()


def test_approval_view_shows_status_requester_votes_and_justification() -> None:
    req = ApprovalRequest(
        id="apr-1",
        action="deploy",
        resource="ast-model",
        requester="alice",
        justification="quarterly release",
        created_at=AT,
        expires_at=AT + timedelta(days=7),
        validity_seconds=3600,
        required_approvals=2,
        required_group="ml-leads",
        approvals=[ApprovalVote(reviewer="bob", at=AT, reason="reviewed the card")],
        status=ApprovalStatus.PENDING,
    )
    out = req._repr_html_()
    for text in (
        "pending",
        "alice",
        "deploy",
        "ast-model",
        "quarterly release",
        "bob",
        "reviewed the card",
        "1 of 2",
        "ml-leads",
        "2025-12-03 12:00:00",
    ):
        assert text in out, text


def test_scan_run_view_shows_counts_and_errors() -> None:
    run = ScanRun(
        id="scan-1",
        roots=["/estate"],
        status=ScanStatus.COMPLETED,
        started_at=AT,
        finished_at=AT + timedelta(seconds=3),
        errors=[ScanIssue(path="/estate/bad.json", reason="not JSON", line=3)],
    )
    run.counts.assets_seen = 12
    out = run._repr_html_()
    assert "completed" in out and "1 error<" in out and "not JSON" in out
    assert "assets_seen" in out and ">12<" in out and "3.0 s" in out


def test_whatif_view_lists_newly_allowed_and_denied() -> None:
    change = DecisionChange(
        principal="eve",
        action="query",
        resource="a",
        resource_name="support-bot",
        resource_kind="model",
        before=False,
        after=True,
        after_by=("permit-all",),
    )
    out = WhatIfReport(evaluated=10, changes=(change,))._repr_html_()
    assert "1 newly allowed" in out and "0 newly denied" in out and "support-bot" in out
    assert "changes no decision" in WhatIfReport(evaluated=10)._repr_html_()


def test_long_untrusted_text_is_shortened_in_the_view() -> None:
    from aiposture.monitor.models import Event

    out = Event(id="e", prompt="x" * 50_000)._repr_html_()
    assert len(out) < 8_000 and "+49600 chars" in out


# --- terminal reprs and the theme ----------------------------------------------------------


def test_text_repr_of_big_containers_is_short_and_names_the_count(
    leakage: tuple[LeakageIndex, LeakageReport],
) -> None:
    n = 500
    asset, finding, alert = _asset(), build(Finding), build(Alert)
    issue = ScanIssue(path=HOSTILE, reason=HOSTILE)
    change = build(DecisionChange)
    index, report = leakage
    big: list[tuple[object, str]] = [
        (AssetList([asset] * n), "500"),
        (FindingList([finding] * n), "500"),
        (RiskList([_risk()] * n), "500"),
        (AlertList([alert] * n), "500"),
        (ScanList([build(ScanRun)] * n), "500"),
        (RiskSnapshot(id="snap", taken_at=AT, risks=[_risk()] * n), "500 assets"),
        (ScanRun(id="s", errors=[issue] * n, warnings=[issue] * n), "500 errors"),
        (WhatIfReport(evaluated=9000, changes=(change,) * n), "500 changes"),
        (report, "2 outputs"),
        (index, "1 records"),
    ]
    for obj, count in big:
        for text in (repr(obj), str(obj)):
            assert len(text) < 300, f"{type(obj).__name__}: {len(text)} chars"
            assert count in text, f"{type(obj).__name__}: {text!r}"
            assert "\n" not in text


def test_style_uses_jupyterlab_theme_variables_with_fallbacks() -> None:
    assert "var(--jp-ui-font-color1," in display.STYLE
    assert "var(--jp-border-color2," in display.STYLE
    assert "var(--jp-layout-color2," in display.STYLE
    # every --jp- variable has a fallback, so the HTML also reads outside JupyterLab
    uses = display.STYLE.split("var(--jp-")[1:]
    assert len(uses) >= 5
    assert all("," in use.split(")")[0] for use in uses)
    out = _asset()._repr_html_()
    assert out.startswith(display.STYLE) and "class='aip'" in out


def test_every_public_model_and_result_object_has_a_rich_view() -> None:
    models = public_models()
    names = {_qual(c) for c in models}
    assert {"aiposture.policy.models.Decision", "aiposture.monitor.models.Event"} <= names
    missing = [_qual(c) for c in models if not hasattr(c, "_repr_html_")]
    missing += [c.__name__ for c in RESULT_CLASSES if not hasattr(c, "_repr_html_")]
    assert not missing, f"no _repr_html_: {missing}"
