"""``%load_ext aiposture``: the magics in a real IPython shell, on a real store and index."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

import aiposture
from aiposture import LeakType, Posture, ScanRun
from aiposture.demo import build_estate
from aiposture.embeddings.report import LeakageReport
from aiposture.views import AssetList

RECORDS = [
    {
        "id": f"note-{i}",
        "text": (
            f"Patient {name} was seen on ward {ward} for a follow-up of the knee surgery; "
            f"the next appointment is booked for week {10 + i} with doctor {doctor}."
        ),
    }
    for i, (name, ward, doctor) in enumerate(
        [("Eva Lind", 3, "Moreau"), ("Karl Weiss", 5, "Haddad"), ("Nora Quist", 2, "Oyelaran")]
    )
]


@pytest.fixture
def shell(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[InteractiveShell]:
    monkeypatch.setenv("AIPOSTURE_DB", f"sqlite:///{tmp_path / 'default.db'}")
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "aiposture")
    yield ip
    from aiposture import magics

    if magics._SESSION.posture is not None:
        magics._SESSION.posture.close()
    magics._SESSION.posture = None
    InteractiveShell.clear_instance()


def test_load_ext_registers_both_magics(shell: InteractiveShell) -> None:
    assert "aiposture" in shell.magics_manager.magics["line"]
    assert "aiposture_check_leakage" in shell.magics_manager.magics["cell"]


def test_scan_a_path_then_list_the_assets_it_found(shell: InteractiveShell, tmp_path: Path) -> None:
    estate = build_estate(tmp_path / "estate")
    shell.run_line_magic("aiposture", f"open {tmp_path / 'mine.db'} --actor tester")
    run = shell.run_line_magic("aiposture", f"scan {estate.root}")
    assert isinstance(run, ScanRun)
    assert run.counts.assets_new > 10
    assets = shell.run_line_magic("aiposture", "assets --kind model")
    assert isinstance(assets, AssetList)
    assert "gpt-4o-mini" in {a.name for a in assets}
    assert all(a.kind.value == "model" for a in assets)
    assert (tmp_path / "mine.db").exists()  # the store named by open, not the default
    assert not (tmp_path / "default.db").exists()


def test_use_binds_a_posture_from_the_notebook(shell: InteractiveShell, tmp_path: Path) -> None:
    p = Posture.open(tmp_path / "nb.db")
    shell.user_ns["p"] = p
    assert shell.run_line_magic("aiposture", "use p") is p
    shell.user_ns["x"] = 42
    with pytest.raises(UsageError, match="'x' is not a Posture"):
        shell.run_line_magic("aiposture", "use x")
    p.close()


def test_bad_arguments_are_one_clear_line(shell: InteractiveShell) -> None:
    with pytest.raises(UsageError, match="invalid choice: 'scna'"):
        shell.run_line_magic("aiposture", "scna /tmp")
    with pytest.raises(UsageError, match="the following arguments are required: paths"):
        shell.run_line_magic("aiposture", "scan")
    with pytest.raises(UsageError, match="No closing quotation"):
        shell.run_line_magic("aiposture", 'scan "/tmp')
    with pytest.raises(UsageError, match="--index"):
        shell.run_cell_magic("aiposture_check_leakage", "", "some text")


def test_check_leakage_cell_on_a_real_index(shell: InteractiveShell, tmp_path: Path) -> None:
    p = aiposture.Posture.open(tmp_path / "leak.db")
    p.leakage.build(RECORDS, tmp_path / "index", dataset="clinic notes")
    shell.user_ns["p"] = p
    shell.run_line_magic("aiposture", "use p")
    leaked = (
        "Patient Karl Weiss was seen on ward 5 for a follow-up of the knee surgery; the next "
        "appointment is booked for week 11 with doctor Haddad."
    )
    report = shell.run_cell_magic(
        "aiposture_check_leakage", f"--index {tmp_path / 'index'}", leaked + "\n"
    )
    assert isinstance(report, LeakageReport)
    assert report[0].leak_type is LeakType.VERBATIM
    assert report[0].matches[0].record_id == "note-1"
    per_line = shell.run_cell_magic(
        "aiposture_check_leakage",
        f"--index {tmp_path / 'index'} --lines",
        "The canteen serves soup on Fridays.\n\n" + leaked,
    )
    assert [r.leak_type for r in per_line] == [LeakType.NONE, LeakType.VERBATIM]
    with pytest.raises(UsageError, match="no text to check"):
        shell.run_cell_magic("aiposture_check_leakage", f"--index {tmp_path / 'index'}", "\n ")
    with pytest.raises(UsageError, match="aiposture:"):
        shell.run_cell_magic("aiposture_check_leakage", f"--index {tmp_path / 'nope'}", "hi")
    p.close()
