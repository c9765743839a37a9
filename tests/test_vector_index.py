"""The FAISS vector index of the leakage index: exact while small, IVF above its limit."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import faiss
import numpy as np
import pytest

from aiposture.embeddings.index import FaissIndex, VectorIndex, nlist_for
from aiposture.errors import IndexCorruptError, IndexMismatchError


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def random_unit(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    return unit(rng.standard_normal((n, d)))


def clustered(rng: np.random.Generator, n: int, d: int, clusters: int = 64) -> np.ndarray:
    centres = random_unit(rng, clusters, d)
    return unit(centres[rng.integers(0, clusters, n)] + rng.standard_normal((n, d)) * 0.15)


def perturbed(rng: np.random.Generator, rows: np.ndarray) -> np.ndarray:
    """Rows moved to a cosine of about 0.9-0.97 with themselves (a leaked, edited copy)."""
    noise = random_unit(rng, len(rows), rows.shape[1])
    return unit(rows + noise * rng.uniform(0.25, 0.48, (len(rows), 1)))


def exact_top1(matrix: np.ndarray, queries: np.ndarray) -> np.ndarray:
    return np.argmax(queries @ matrix.T, axis=1)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(7)


def test_flat_search_is_exact_and_returns_ids_best_first(rng: np.random.Generator) -> None:
    vectors = random_unit(rng, 500, 32)
    ids = np.arange(500, dtype=np.int64) * 5 + 7
    index = FaissIndex(32)
    index.add(ids, vectors)
    assert len(index) == 500 and index.kind == "flat"

    scores, found = index.search(vectors, 5)
    assert scores.shape == found.shape == (500, 5)
    assert found.dtype == np.int64 and scores.dtype == np.float32
    assert (found[:, 0] == ids).all()
    np.testing.assert_allclose(scores[:, 0], 1.0, atol=1e-5)
    assert (np.diff(scores, axis=1) <= 1e-6).all()
    expected = np.argsort(-(vectors @ vectors.T), axis=1)[:, :5]
    assert (found == ids[expected]).all()


def test_a_single_query_row_is_accepted(rng: np.random.Generator) -> None:
    vectors = random_unit(rng, 50, 16)
    index = FaissIndex(16)
    index.add(np.arange(50), vectors)
    _, found = index.search(vectors[3], 2)
    assert found.shape == (1, 2) and found[0, 0] == 3


def test_remove_by_id_drops_vectors_and_ignores_unknown_ids(rng: np.random.Generator) -> None:
    vectors = random_unit(rng, 300, 32)
    index = FaissIndex(32)
    index.add(np.arange(300), vectors)

    assert index.remove(np.array([3, 10, 299, 10_000, 3])) == 3
    assert len(index) == 297
    _, found = index.search(vectors[[3, 10, 299]], 10)
    assert not np.isin(found, [3, 10, 299]).any()
    _, found = index.search(vectors[[4, 11]], 1)
    assert found[:, 0].tolist() == [4, 11]
    assert index.remove([3]) == 0
    assert not index.contains([3, 10]).any() and index.contains([4]).all()


def test_a_removed_id_can_be_added_again(rng: np.random.Generator) -> None:
    vectors = random_unit(rng, 20, 8)
    index = FaissIndex(8)
    index.add(np.arange(10), vectors[:10])
    index.remove([4])
    index.add([4], vectors[15:16])
    _, found = index.search(vectors[15:16], 1)
    assert found[0, 0] == 4 and len(index) == 10


def test_a_duplicate_id_is_refused_and_named(rng: np.random.Generator) -> None:
    vectors = random_unit(rng, 10, 8)
    index = FaissIndex(8)
    index.add(np.arange(5), vectors[:5])
    with pytest.raises(ValueError, match=r"duplicate id 3\b"):
        index.add(np.array([9, 3]), vectors[5:7])
    with pytest.raises(ValueError, match=r"duplicate id 8\b"):
        index.add(np.array([8, 8]), vectors[5:7])
    assert len(index) == 5
    _, found = index.search(vectors[5:7], 1)
    assert not np.isin(found, [8, 9]).any()


@pytest.mark.parametrize(
    ("ids", "vectors", "message"),
    [
        (np.array([-1]), np.ones((1, 8), np.float32), "non-negative"),
        (np.array([1, 2]), np.ones((1, 8), np.float32), "2 ids for 1 vectors"),
        (np.array([1]), np.ones((1, 7), np.float32), r"shape \(n, 8\)"),
        (np.array([1.5]), np.ones((1, 8), np.float32), "integers"),
        (np.array([1]), np.full((1, 8), np.nan, np.float32), "NaN"),
    ],
)
def test_bad_input_to_add_is_refused(ids: np.ndarray, vectors: np.ndarray, message: str) -> None:
    index = FaissIndex(8)
    with pytest.raises(ValueError, match=message):
        index.add(ids, vectors)
    assert len(index) == 0


def test_an_empty_index_returns_no_results() -> None:
    index = FaissIndex(8)
    scores, found = index.search(np.ones((3, 8), np.float32), 4)
    assert found.shape == (3, 4) and (found == -1).all()
    assert np.isneginf(scores).all()
    assert index.search(np.ones((2, 8), np.float32), 0)[1].shape == (2, 0)
    with pytest.raises(ValueError, match="k must be"):
        index.search(np.ones((1, 8), np.float32), -1)


def test_k_beyond_the_stored_count_pads_with_minus_one(rng: np.random.Generator) -> None:
    vectors = random_unit(rng, 3, 8)
    index = FaissIndex(8)
    index.add([10, 11, 12], vectors)
    scores, found = index.search(vectors[:1], 5)
    assert sorted(found[0, :3].tolist()) == [10, 11, 12]
    assert found[0, 3:].tolist() == [-1, -1]
    assert np.isneginf(scores[0, 3:]).all() and np.isfinite(scores[0, :3]).all()


def test_crossing_flat_limit_switches_to_ivf_keeping_recall(rng: np.random.Generator) -> None:
    d = 64
    vectors = clustered(rng, 6000, d)
    ids = np.arange(6000, dtype=np.int64) * 2 + 1
    index = FaissIndex(d, flat_limit=2000)
    index.add(ids[:2000], vectors[:2000])
    assert index.kind == "flat" and index.nlist == 0
    index.add(ids[2000:2500], vectors[2000:2500])
    assert index.kind == "ivf"
    assert index.trained_size == 2500 and index.nlist == nlist_for(2500)
    for start in range(2500, 6000, 700):
        index.add(ids[start : start + 700], vectors[start : start + 700])
    assert len(index) == 6000 and index.kind == "ivf"

    rows = rng.choice(6000, 500, replace=False)
    queries = perturbed(rng, vectors[rows])
    _, found = index.search(queries, 1)
    recall = np.mean(found[:, 0] == ids[exact_top1(vectors, queries)])
    assert recall >= 0.99

    assert index.remove(ids[rows[:100]]) == 100
    _, found = index.search(vectors[rows[:100]], 3)
    assert not np.isin(found, ids[rows[:100]]).any()


def test_ivf_retrains_when_it_grows_four_times_its_trained_size(
    rng: np.random.Generator,
) -> None:
    vectors = clustered(rng, 3000, 16)
    index = FaissIndex(16, flat_limit=300)
    index.add(np.arange(400), vectors[:400])
    assert index.kind == "ivf" and index.trained_size == 400
    index.add(np.arange(400, 1600), vectors[400:1600])
    assert index.trained_size == 400  # 1600 is four times 400: no retraining yet
    index.add(np.arange(1600, 3000), vectors[1600:])
    assert index.trained_size == 3000 and index.nlist == nlist_for(3000)
    _, found = index.search(vectors, 1)
    assert np.mean(found[:, 0] == np.arange(3000)) >= 0.99


def test_ivf_shrinking_to_half_the_limit_goes_back_to_exact(rng: np.random.Generator) -> None:
    vectors = clustered(rng, 1200, 16)
    index = FaissIndex(16, flat_limit=1000)
    index.add(np.arange(1200), vectors)
    assert index.kind == "ivf"
    index.remove(np.arange(600))
    assert index.kind == "ivf" and len(index) == 600
    index.remove(np.arange(600, 700))
    assert index.kind == "flat" and len(index) == 500
    _, found = index.search(vectors[700:], 1)
    assert (found[:, 0] == np.arange(700, 1200)).all()


def test_nprobe_can_be_set_and_is_capped_at_nlist(rng: np.random.Generator) -> None:
    vectors = clustered(rng, 1000, 16)
    index = FaissIndex(16, flat_limit=256, nprobe=3)
    index.add(np.arange(1000), vectors)
    assert index.nprobe == 3
    index.nprobe = 10_000
    assert index.nprobe == index.nlist
    with pytest.raises(ValueError, match="nprobe"):
        index.nprobe = 0


@pytest.mark.parametrize("flat_limit", [100_000, 256], ids=["flat", "ivf"])
def test_save_and_load_round_trip(
    rng: np.random.Generator, tmp_path: Path, flat_limit: int
) -> None:
    vectors = clustered(rng, 1500, 24)
    ids = rng.choice(10**12, 1500, replace=False).astype(np.int64)
    index = FaissIndex(24, flat_limit=flat_limit)
    index.add(ids[:1400], vectors[:1400])
    index.remove(ids[:50])
    path = tmp_path / "vectors.idx"
    index.save(path)

    loaded = VectorIndex.load(path)
    assert isinstance(loaded, FaissIndex)
    assert (loaded.kind, len(loaded), loaded.dimension) == (index.kind, 1350, 24)
    assert (loaded.nlist, loaded.nprobe, loaded.flat_limit) == (
        index.nlist,
        index.nprobe,
        index.flat_limit,
    )
    assert (loaded.ids() == np.sort(ids[50:1400])).all()
    before = index.search(vectors[:200], 5)
    after = loaded.search(vectors[:200], 5)
    assert (before[1] == after[1]).all()
    np.testing.assert_array_equal(before[0], after[0])

    with pytest.raises(ValueError, match="duplicate id"):
        loaded.add(ids[100:101], vectors[100:101])
    loaded.add(ids[1400:], vectors[1400:])
    _, found = loaded.search(vectors[1400:], 1)
    assert (found[:, 0] == ids[1400:]).all()


def test_an_empty_index_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "empty.idx"
    FaissIndex(12).save(path)
    loaded = FaissIndex.load(path)
    assert len(loaded) == 0 and loaded.dimension == 12 and loaded.kind == "flat"
    assert (loaded.search(np.ones((1, 12), np.float32), 2)[1] == -1).all()


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    rng = np.random.default_rng(3)
    index = FaissIndex(4)
    index.add(np.arange(20), random_unit(rng, 20, 4))
    path = tmp_path / "small.idx"
    index.save(path)
    return path


def test_every_truncation_raises_index_corrupt_error_naming_the_file(saved: Path) -> None:
    data = saved.read_bytes()
    for cut in range(len(data)):
        saved.write_bytes(data[:cut])
        with pytest.raises(IndexCorruptError, match=re.escape(str(saved))):
            FaissIndex.load(saved)


def test_every_flipped_byte_raises_index_corrupt_error(saved: Path) -> None:
    data = saved.read_bytes()
    for at in range(len(data)):
        for mask in (0x01, 0x80):
            damaged = bytearray(data)
            damaged[at] ^= mask
            saved.write_bytes(bytes(damaged))
            with pytest.raises(IndexCorruptError, match=re.escape(str(saved))):
                FaissIndex.load(saved)


def test_trailing_bytes_and_foreign_files_are_refused(saved: Path, tmp_path: Path) -> None:
    saved.write_bytes(saved.read_bytes() + b"\0")
    with pytest.raises(IndexCorruptError, match="truncated or extended"):
        FaissIndex.load(saved)
    raw = tmp_path / "raw.faiss"
    faiss.write_index(faiss.IndexFlatIP(4), str(raw))
    with pytest.raises(IndexCorruptError, match="not an aiposture vector index"):
        FaissIndex.load(raw)
    with pytest.raises(IndexCorruptError, match="cannot be read"):
        FaissIndex.load(tmp_path / "missing.idx")


def test_a_newer_format_version_is_a_mismatch(saved: Path) -> None:
    data = bytearray(saved.read_bytes())
    data[8:16] = (99).to_bytes(4, "little") + (99 ^ 0xFFFFFFFF).to_bytes(4, "little")
    saved.write_bytes(bytes(data))
    with pytest.raises(IndexMismatchError, match="format version 99 is newer"):
        FaissIndex.load(saved)


def test_threads_setting_is_restored_after_each_call(rng: np.random.Generator) -> None:
    before = faiss.omp_get_max_threads()
    index = FaissIndex(8, threads=1)
    index.add(np.arange(10), random_unit(rng, 10, 8))
    index.search(random_unit(rng, 2, 8), 3)
    assert faiss.omp_get_max_threads() == before


def test_constructor_refuses_bad_settings() -> None:
    with pytest.raises(ValueError, match="dimension"):
        FaissIndex(0)
    with pytest.raises(ValueError, match="flat_limit"):
        FaissIndex(8, flat_limit=10)
    with pytest.raises(ValueError, match="threads"):
        FaissIndex(8, threads=0)


def test_importing_the_index_modules_does_not_load_faiss() -> None:
    code = (
        "import sys, aiposture.embeddings, aiposture.embeddings.index, "
        "aiposture.embeddings.lexical; print('faiss' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("flat_limit", [100_000, 256], ids=["flat", "ivf"])
def test_reconstruct_returns_the_stored_vectors_and_survives_changes(
    rng: np.random.Generator, tmp_path: Path, flat_limit: int
) -> None:
    vectors = clustered(rng, 1200, 16)
    ids = rng.choice(10**9, 1200, replace=False).astype(np.int64)
    index = FaissIndex(16, flat_limit=flat_limit)
    index.add(ids[:1000], vectors[:1000])
    order = [7, 3, 999, 0]
    np.testing.assert_allclose(index.reconstruct(ids[order]), vectors[order], atol=1e-6)
    assert index.reconstruct(np.array([], np.int64)).shape == (0, 16)

    index.remove(ids[:10])
    with pytest.raises(KeyError, match=str(ids[3])):
        index.reconstruct(ids[[20, 3]])
    index.add(ids[1000:], vectors[1000:])
    np.testing.assert_allclose(index.reconstruct(ids[[1100, 20]]), vectors[[1100, 20]], atol=1e-6)

    index.save(tmp_path / "v.idx")
    loaded = FaissIndex.load(tmp_path / "v.idx")
    assert loaded.kind == index.kind
    np.testing.assert_allclose(
        loaded.reconstruct(ids[[1199, 500]]), vectors[[1199, 500]], atol=1e-6
    )
