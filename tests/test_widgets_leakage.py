"""The Leakage panel and ``report.widget()``, driven in-process on a real (tiny) index."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from aiposture import Posture, Settings
from aiposture.widgets.leakage import MAX_UPLOAD_BYTES, LeakagePanel, LeakageReportView

HOSTILE = "<img src=x onerror=alert(1)>"
RECORDS = [
    {
        "id": "ticket-1",
        "text": (
            "Customer Tom Berg called about invoice 1001: the refund of 7 euros was approved "
            "by agent Jonas after a dispute over water damage to order 5001."
        ),
    },
    {
        "id": f"ticket-{HOSTILE}",
        "text": (
            f"Customer Li Wei wrote {HOSTILE} in the complaint form about invoice 1002, "
            "asking for a refund of 14 euros for the broken kettle of order 5002."
        ),
    },
    {
        "id": "ticket-3",
        "text": "Sam Okafor changed the delivery address of order 5003 to the warehouse in Ghent.",
    },
]
LEAK = (
    "Sure! From our records: Customer Tom Berg called about invoice 1001: the refund of 7 euros "
    "was approved by agent Jonas after a dispute over water damage to order 5001. " + HOSTILE
)
CLEAN = "Our office opens at nine and the cafeteria serves soup on Fridays."


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("leak-widget")
    train = base / "train.jsonl"
    train.write_text("\n".join(json.dumps(r) for r in RECORDS) + "\n")
    folder = base / "index"
    with Posture.open(base / "build.db", config=Settings()) as p:
        p.leakage.build(train, folder, progress=False)
    return folder


@pytest.fixture
def posture(tmp_path: Path, index: Path) -> Iterator[Posture]:
    settings = Settings.from_mapping({"monitor": {"leakage_indexes": {"support-bot": str(index)}}})
    with Posture.open(tmp_path / "p.db", config=settings) as p:
        yield p


def _upload(name: str, data: bytes) -> dict[str, object]:
    return {
        "name": name,
        "type": "text/plain",
        "size": len(data),
        "content": memoryview(data),
        "last_modified": datetime(2025, 1, 1, tzinfo=UTC),
    }


def test_the_index_dropdown_offers_configured_and_given_indexes(
    posture: Posture, index: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other-index"
    panel = LeakagePanel(posture, indexes=[other, index])
    values = [v for _label, v in panel.index.options]
    assert values == [str(index), str(other)]  # the configured one first, no duplicate
    assert panel.index.value == str(index)
    assert "support-bot" in panel.index.options[0][0]
    assert "aiposture-leakage" in panel._dom_classes
    assert "aiposture-leakage-index" in panel.index._dom_classes
    panel.index.value = str(other)
    panel.refresh()  # the dashboard's refresh keeps the choice
    assert panel.index.value == str(other) and len(panel.index.options) == 2


def test_check_shows_the_leaked_span_beside_the_training_record(posture: Posture) -> None:
    panel = LeakagePanel(posture)
    panel.text.value = LEAK
    panel.check_button.click()
    report = panel.report
    assert report is not None and report.summary["leaking"] == 1
    assert len(panel.result.rows) == 1
    left, right = panel.result.rows[0].children
    assert "<mark" in left.value and "Tom Berg" in left.value
    assert "ticket-1" in right.value and "verbatim" in right.value
    assert "1 leaking" in panel.result.summary.value
    assert "red" not in panel.message.value and "1 of 1" in panel.message.value


def test_hostile_output_and_record_text_appear_only_escaped(posture: Posture) -> None:
    panel = LeakagePanel(posture)
    panel.text.value = (
        f"Customer Li Wei wrote {HOSTILE} in the complaint form about invoice 1002, asking for "
        "a refund of 14 euros for the broken kettle of order 5002."
    )
    panel.check()
    assert panel.result.rows, "the record with the hostile text should match"
    html = panel.result.summary.value + "".join(
        c.value for row in panel.result.rows for c in row.children
    )
    assert "<img" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


def test_a_clean_output_says_nothing_leaks(posture: Posture) -> None:
    panel = LeakagePanel(posture)
    panel.text.value = CLEAN
    panel.check()
    assert panel.result.rows == []
    assert "No output repeats the training data" in panel.result.summary.value


def test_a_utf8_upload_fills_the_text_and_bad_uploads_explain_why_not(posture: Posture) -> None:
    panel = LeakagePanel(posture)
    panel.upload.value = (_upload("out.txt", LEAK.encode("utf-8")),)
    assert panel.text.value == LEAK
    assert "loaded out.txt" in panel.message.value

    panel.text.value = ""
    assert not panel.load_file(_upload("latin.txt", "café au lait".encode("latin-1")))
    assert "not UTF-8" in panel.message.value and panel.text.value == ""

    big = b"a" * (MAX_UPLOAD_BYTES + 1)
    assert not panel.load_file(_upload("huge.txt", big))
    assert "largest file" in panel.message.value and panel.text.value == ""

    hostile_name = f"{HOSTILE}.txt"
    panel.load_file(_upload(hostile_name, b"\xff\xfe\x00"))
    assert "<img" not in panel.message.value and "&lt;img" in panel.message.value


def test_a_missing_or_corrupt_index_is_a_clear_message(
    posture: Posture, index: Path, tmp_path: Path
) -> None:
    panel = LeakagePanel(posture)
    panel.text.value = LEAK
    panel.folder.value = str(tmp_path / "nowhere")
    assert panel.check() is None
    assert "no leakage index folder" in panel.message.value

    broken = tmp_path / "broken"
    shutil.copytree(index, broken)
    (broken / "manifest.json").write_text("{not json")
    panel.folder.value = str(broken)
    assert panel.check() is None
    assert "cannot check against" in panel.message.value
    assert "Traceback" not in panel.message.value
    assert panel.report is None


def test_nothing_to_check_is_a_message(posture: Posture, tmp_path: Path) -> None:
    with Posture.open(tmp_path / "q.db", config=Settings()) as bare:
        panel = LeakagePanel(bare)
        panel.text.value = LEAK
        assert panel.check() is None
        assert "choose an index" in panel.message.value
    panel = LeakagePanel(posture)
    assert panel.check() is None
    assert "paste a model output" in panel.message.value


def test_report_widget_is_the_report_view(posture: Posture, index: Path) -> None:
    report = posture.leakage.check([LEAK, CLEAN], index=index)
    view = report.widget()
    assert isinstance(view, LeakageReportView)
    assert "aiposture-leakage-result" in view._dom_classes
    assert view.report is report
    assert len(view.rows) == 1 and "2 output(s), 1 leaking" in view.summary.value
