"""Saving and loading leakage indexes: atomic saves, verified loads, clear refusals."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from aiposture.embeddings.embedder import Embedder, get_embedder
from aiposture.embeddings.leakage import (
    CHUNKS,
    MANIFEST,
    RECORDS,
    SHINGLES,
    VECTORS,
    LeakageIndex,
)
from aiposture.errors import IndexCorruptError, IndexMismatchError, LeakageIndexError
from aiposture.models import LeakageThresholds, LeakType

DATA = [
    (
        "r1",
        "Invoice 88213 for Brightwater Analytics was paid late by 19 days; the account "
        "manager Oyelaran waived the fee of $212.50 after a call on 4 March.",
    ),
    (
        "r2",
        "Patient Wilhelmina Szabo, MRN 5512093, reports dizziness on standing since "
        "starting tamsulosin 0.4 mg; Dr. Iwasaki stopped it and booked a review in two weeks.",
    ),
    (
        "r3",
        "# rotate_session_tokens runs every 6 hours on auth-core-3.prod and keeps the "
        "last 2 keys so in-flight sessions survive; owner Florian Dragomir, see PLAT-7731.",
    ),
    (
        "r4",
        "The lease of the Bremen warehouse runs 36 months from 1 July 2024 at EUR 18,400 "
        "a month, rising 3% a year; Pinecrest Foods may leave early on 90 days' notice.",
    ),
]
PROBES = {
    "verbatim": "As noted: the account manager Oyelaran waived the fee of $212.50 after a "
    "call on 4 March, as agreed.",
    "clean": "A quiet walk by the river is the best way to start a Sunday.",
}


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return get_embedder()


@pytest.fixture
def built(embedder: Embedder) -> LeakageIndex:
    return LeakageIndex.build(DATA, embedder=embedder, progress=False)


@pytest.fixture
def saved(built: LeakageIndex, tmp_path: Path) -> Path:
    return built.save(tmp_path / "idx")


def _digests(folder: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.iterdir())
        if p.is_file()
    }


def _siblings(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.parent.iterdir() if p.name != folder.name)


def test_round_trip_gives_identical_results(built: LeakageIndex, saved: Path) -> None:
    loaded = LeakageIndex.load(saved)
    assert loaded.records == built.records and loaded.chunks == built.chunks
    assert loaded.check(PROBES).to_dict() == built.check(PROBES).to_dict()
    assert loaded.check(PROBES).results[0].leak_type is LeakType.VERBATIM
    assert loaded.record("r2") == built.record("r2")


def test_manifest_records_model_chunking_counts_and_checksums(saved: Path) -> None:
    manifest = json.loads((saved / MANIFEST).read_text())
    assert manifest["format_version"] == 1
    assert manifest["model"]["name"] == "all-MiniLM-L6-v2"
    assert manifest["model"]["dimension"] == 384
    assert manifest["model"]["precision"] in {"float32", "bfloat16"}
    assert set(manifest["chunking"]) == {"window", "overlap"}
    assert manifest["counts"]["records"] == 4
    assert manifest["vector_index"]["kind"] == "flat"
    assert LeakageThresholds.model_validate(manifest["thresholds"])
    for name, meta in manifest["files"].items():
        path = saved / name
        assert path.stat().st_size == meta["bytes"]
        assert hashlib.sha256(path.read_bytes()).hexdigest() == meta["sha256"]
    assert sorted(p.name for p in saved.iterdir()) == sorted([MANIFEST, *manifest["files"]])


def test_thresholds_survive_a_round_trip(built: LeakageIndex, tmp_path: Path) -> None:
    built.thresholds = LeakageThresholds(paraphrase_similarity=0.66, paraphrase_content=0.4)
    loaded = LeakageIndex.load(built.save(tmp_path / "t"))
    assert loaded.thresholds == built.thresholds


def _other_model(tmp_path: Path, embedder: Embedder) -> Path:
    """The same weights under another model name: a folder of links and a new README."""
    folder = tmp_path / "other-model"
    folder.mkdir()
    for item in embedder.folder.iterdir():
        if item.name != "README.md":
            (folder / item.name).symlink_to(item)
    (folder / "README.md").write_text("# other-minilm\n\nA renamed copy for tests.\n")
    return folder


def test_load_with_another_model_is_refused_naming_both(
    saved: Path, tmp_path: Path, embedder: Embedder
) -> None:
    other = Embedder(_other_model(tmp_path, embedder), precision=embedder.precision)
    assert other.name != embedder.name
    with pytest.raises(IndexMismatchError) as exc:
        LeakageIndex.load(saved, embedder=other)
    assert embedder.name in str(exc.value) and other.name in str(exc.value)


def test_load_with_another_precision_is_refused_naming_both(
    saved: Path, embedder: Embedder
) -> None:
    other = "bfloat16" if embedder.precision.value == "float32" else "float32"
    with pytest.raises(IndexMismatchError) as exc:
        LeakageIndex.load(saved, embedder=Embedder(precision=other))
    assert other in str(exc.value) and embedder.precision.value in str(exc.value)


def test_newer_format_is_refused(saved: Path) -> None:
    manifest = json.loads((saved / MANIFEST).read_text())
    manifest["format_version"] = 2
    (saved / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(IndexMismatchError, match="format version 2 is newer"):
        LeakageIndex.load(saved)


@pytest.mark.parametrize("name", [VECTORS, SHINGLES, CHUNKS, RECORDS])
def test_truncated_file_is_refused_naming_it_and_left_as_it_was(saved: Path, name: str) -> None:
    path = saved / name
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    before = _digests(saved)
    with pytest.raises(IndexCorruptError, match=name.replace(".", r"\.")):
        LeakageIndex.load(saved)
    assert _digests(saved) == before


@pytest.mark.parametrize("name", [VECTORS, RECORDS])
def test_altered_byte_is_refused_by_its_checksum(saved: Path, name: str) -> None:
    path = saved / name
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    before = _digests(saved)
    with pytest.raises(IndexCorruptError, match=rf"{name.replace('.', '[.]')}.*checksum"):
        LeakageIndex.load(saved)
    assert _digests(saved) == before


def test_missing_file_is_refused_naming_it(saved: Path) -> None:
    (saved / CHUNKS).unlink()
    with pytest.raises(IndexCorruptError, match=r"chunks\.parquet: missing"):
        LeakageIndex.load(saved)
    (saved / MANIFEST).unlink()
    with pytest.raises(IndexCorruptError, match=r"manifest\.json: missing"):
        LeakageIndex.load(saved)
    with pytest.raises(IndexCorruptError, match="no such folder"):
        LeakageIndex.load(saved.parent / "nowhere")


def test_crash_while_writing_leaves_the_old_index_intact(
    built: LeakageIndex, saved: Path, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _digests(saved)
    bigger = LeakageIndex.build([*DATA, ("r5", "A fifth record about ferries.")], embedder=embedder)

    import pyarrow.parquet as pq

    real = pq.write_table
    calls = {"n": 0}

    def failing(table: object, where: object, **kw: object) -> None:
        calls["n"] += 1
        if calls["n"] == 2:  # the records table: the disk fills up half way through
            Path(str(where)).write_bytes(b"PAR1 half")
            raise OSError(28, "No space left on device")
        real(table, where, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(pq, "write_table", failing)
    with pytest.raises(OSError, match="No space left"):
        bigger.save(saved)
    monkeypatch.setattr(pq, "write_table", real)
    assert _digests(saved) == before
    assert _siblings(saved) == []  # no temporary folder left behind
    loaded = LeakageIndex.load(saved)
    assert loaded.records == 4
    assert loaded.check(PROBES).to_dict() == built.check(PROBES).to_dict()


def test_saving_over_an_index_replaces_it_whole(saved: Path, embedder: Embedder) -> None:
    smaller = LeakageIndex.build(DATA[:2], embedder=embedder, progress=False)
    smaller.save(saved)
    loaded = LeakageIndex.load(saved)
    assert loaded.record_ids == ["r1", "r2"]
    assert _siblings(saved) == []


def test_a_folder_that_is_not_an_index_is_never_replaced(
    built: LeakageIndex, tmp_path: Path
) -> None:
    folder = tmp_path / "precious"
    folder.mkdir()
    (folder / "thesis.tex").write_text("years of work")
    with pytest.raises(LeakageIndexError, match="refusing to replace"):
        built.save(folder)
    assert (folder / "thesis.tex").read_text() == "years of work"


def test_add_and_remove_then_save_again(saved: Path, embedder: Embedder) -> None:
    idx = LeakageIndex.load(saved, embedder=embedder)
    assert idx.remove(["r1"]) == 1
    idx.add([("r9", "Ferry timetable: the 07:40 from Tallinn arrives in Helsinki at 09:50.")])
    idx.save(saved)
    again = LeakageIndex.load(saved)
    assert sorted(again.record_ids) == ["r2", "r3", "r4", "r9"]
    assert again.check(PROBES["verbatim"]).results[0].leak_type is LeakType.NONE
    hit = again.check("the 07:40 from Tallinn arrives in Helsinki at 09:50 on weekdays")
    assert hit.results[0].matches[0].record_id == "r9"
    manifest = json.loads((saved / MANIFEST).read_text())
    assert manifest["counts"]["records"] == 4
