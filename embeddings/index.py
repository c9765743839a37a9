"""The vector index of the leakage index: FAISS behind a small interface.

:class:`FaissIndex` searches by inner product (cosine on normalised vectors) and changes
its FAISS index with its size:

* up to ``flat_limit`` vectors, an exact ``IndexFlatIP`` wrapped in ``IndexIDMap2``;
* above it, an ``IndexIVFFlat`` (inner product) with ``nlist`` about ``4·sqrt(N)`` lists,
  trained by spherical k-means on a sample of the vectors, searched with ``nprobe`` lists.

The defaults come from ``benchmarks/leakage_scale.py`` (see BENCHMARKS.md): the IVF index
keeps recall@1 against exact search at 0.99 or more on leaked queries while searching 1M
vectors well within the latency target.

Memory: FAISS holds the only copy of the vectors (``4·d`` bytes each, 1,536 for 384
dimensions), plus 8 bytes of id per vector here; the flat index adds the id map of
``IndexIDMap2`` (about 50 bytes per vector) and the IVF index its centroids (``4·d·nlist``
bytes in all). An IVF index loaded from disk takes about its file size (1,556 bytes per
vector at 1M); one built in memory also carries the spare capacity of its growing lists
(measured: 2,200 bytes per vector at 1M). When the index changes kind (crossing
``flat_limit``, growing to four times the size it was trained at, or shrinking far below
it) the vectors are read back out of FAISS and the new index is built from them, which
briefly needs about twice the memory.

Persistence is one file: a fixed header (magic, format version, kind, sizes, a SHA-256
digest), the sorted ids, then the FAISS index as ``faiss.write_index`` writes it. The digest
is checked before FAISS reads a byte, since FAISS can crash on damaged input. No pickle.

``faiss`` is imported on first use, so importing this module stays light.
"""

from __future__ import annotations

import hashlib
import math
import os
import struct
import sys
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from aiposture.errors import IndexCorruptError, IndexMismatchError

__all__ = [
    "DEFAULT_FLAT_LIMIT",
    "DEFAULT_MIN_NPROBE",
    "DEFAULT_NPROBE_FRACTION",
    "FORMAT_VERSION",
    "FaissIndex",
    "VectorIndex",
    "default_nprobe",
    "nlist_for",
]

#: Largest number of vectors searched exactly. At 100k an exact search of one query takes
#: about 15 ms on one core (30 ms for the two windows of a 200-token output) and grows
#: linearly; the IVF index above it answers in 1-5 ms at 1M with recall@1 of 1.0 on leaked
#: queries (benchmarks/leakage_scale.py).
DEFAULT_FLAT_LIMIT = 100_000
#: ``nprobe`` is this fraction of ``nlist`` ... (at 1M, 8 lists of 2,636 already gave
#: recall@1 >= 0.994 on leaked, paraphrased and fresh queries and 16 gave >= 0.998; the
#: default probes about 21-32 lists there, a margin for embeddings less clustered than the
#: benchmark's that keeps the batched search well over 20 times faster than brute force)
DEFAULT_NPROBE_FRACTION = 1 / 128
#: ... and at least this many lists.
DEFAULT_MIN_NPROBE = 16
#: Smallest ``flat_limit`` accepted: an IVF index over fewer vectors gains nothing.
MIN_FLAT_LIMIT = 256
#: FAISS asks for at least 39 training points per list.
MIN_POINTS_PER_LIST = 39
#: Training sample: this many points per list (capped at the number of vectors).
TRAIN_POINTS_PER_LIST = 39
#: k-means iterations when training the IVF lists.
TRAIN_ITERATIONS = 8
#: The IVF index is retrained when it grows to this many times the size it was trained at,
#: or shrinks below the size it was trained at divided by this.
RETRAIN_FACTOR = 4
#: Version of the file written by :meth:`FaissIndex.save`.
FORMAT_VERSION = 1

_MAGIC = b"AIPVIDX\x00"
# magic, version, ~version (so a damaged version is not taken for a newer format), kind,
# dimension, count, nlist, nprobe, flat_limit, trained_size, ids bytes, faiss bytes, digest
_HEADER = struct.Struct("<8sIIIIQIIQQQQ32s")
_VERSION_MASK = 0xFFFFFFFF
_KIND_FLAT = 0
_KIND_IVF = 1
_KINDS = {_KIND_FLAT: "flat", _KIND_IVF: "ivf"}
_MAX_DIMENSION = 1 << 16
_MAX_NPROBE = 1 << 24
_IO_BLOCK = 1 << 22


def _faiss() -> Any:
    if "faiss" not in sys.modules and "torch" not in sys.modules:
        # FAISS ships its own OpenMP runtime, read once at import: idle threads must
        # sleep on shared cores, as for torch (see embedder._quiet_openmp)
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import faiss

    return faiss


def nlist_for(n: int) -> int:
    """The number of IVF lists for ``n`` vectors: ``round(4·sqrt(n))``, at most ``n // 39``.

    Args:
        n: Number of vectors the index is trained for.

    Returns:
        At least 1.
    """
    return max(1, min(round(4 * math.sqrt(n)), n // MIN_POINTS_PER_LIST))


def default_nprobe(nlist: int) -> int:
    """The default number of lists searched: ``nlist / 128``, at least 16, at most ``nlist``.

    Args:
        nlist: Number of lists of the IVF index.

    Returns:
        The number of lists to probe.
    """
    return min(nlist, max(DEFAULT_MIN_NPROBE, math.ceil(nlist * DEFAULT_NPROBE_FRACTION)))


@contextmanager
def _omp_threads(threads: int | None) -> Iterator[None]:
    """Run FAISS with ``threads`` OpenMP threads (the calling thread's setting), then restore."""
    if threads is None:
        yield
        return
    faiss = _faiss()
    previous = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(threads)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(previous)


class _IdSet:
    """A set of int64 ids: a sorted array plus a small Python set of recent additions.

    Eight bytes per id once merged, and cheap membership tests for whole batches.
    """

    _MERGE_AT = 1 << 15

    def __init__(self, ids: NDArray[np.int64] | None = None) -> None:
        self._sorted: NDArray[np.int64] = (
            np.unique(ids).astype(np.int64) if ids is not None else np.empty(0, np.int64)
        )
        self._recent: set[int] = set()

    def __len__(self) -> int:
        return len(self._sorted) + len(self._recent)

    def contains(self, ids: NDArray[np.int64]) -> NDArray[np.bool_]:
        """Which of ``ids`` are in the set."""
        found = np.zeros(len(ids), dtype=bool)
        if len(self._sorted):
            pos = np.searchsorted(self._sorted, ids)
            inside = pos < len(self._sorted)
            found[inside] = self._sorted[pos[inside]] == ids[inside]
        if self._recent:
            recent = self._recent
            found |= np.fromiter((int(i) in recent for i in ids), dtype=bool, count=len(ids))
        return found

    def add(self, ids: NDArray[np.int64]) -> None:
        """Add ids known to be distinct and absent."""
        if len(self._recent) + len(ids) < self._MERGE_AT:
            self._recent.update(ids.tolist())
            return
        new = np.sort(np.concatenate([np.fromiter(self._recent, np.int64), ids]))
        self._recent.clear()
        self._sorted = np.insert(self._sorted, np.searchsorted(self._sorted, new), new)

    def remove(self, ids: NDArray[np.int64]) -> None:
        """Remove ids known to be present."""
        if self._recent:
            self._recent.difference_update(ids.tolist())
        if len(self._sorted):
            self._sorted = self._sorted[~np.isin(self._sorted, ids)]

    def array(self) -> NDArray[np.int64]:
        """All ids, sorted."""
        if not self._recent:
            return self._sorted
        self._sorted = np.sort(np.concatenate([self._sorted, np.fromiter(self._recent, np.int64)]))
        self._recent.clear()
        return self._sorted


class VectorIndex(ABC):
    """A vector index searched by inner product, addressed by int64 ids.

    Attributes:
        dimension: Length of every vector.
        kind: The index in use: ``"flat"`` (exact) or ``"ivf"`` (approximate).
    """

    dimension: int

    @property
    @abstractmethod
    def kind(self) -> str:
        """``"flat"`` or ``"ivf"``."""

    @abstractmethod
    def add(self, ids: ArrayLike, vectors: ArrayLike) -> None:
        """Add vectors under new ids.

        Args:
            ids: int64 ids, shape ``(n,)``, non-negative and not yet in the index.
            vectors: float32 rows of shape ``(n, dimension)``, L2-normalised.

        Raises:
            ValueError: A duplicate or negative id, or a wrong shape or value.
        """

    @abstractmethod
    def remove(self, ids: ArrayLike) -> int:
        """Remove vectors by id; unknown ids are ignored.

        Returns:
            The number of vectors removed.
        """

    @abstractmethod
    def search(self, queries: ArrayLike, k: int) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
        """The ``k`` best matches of each query.

        Args:
            queries: float32 rows of shape ``(m, dimension)`` (or one row of ``dimension``).
            k: Number of results per query.

        Returns:
            ``(scores, ids)``, both of shape ``(m, k)``, best first: the inner products
            (cosine for normalised vectors) and the ids; where fewer than ``k`` vectors are
            stored, the id is -1 and the score ``-inf``.
        """

    @abstractmethod
    def reconstruct(self, ids: ArrayLike) -> NDArray[np.float32]:
        """The stored vectors of ``ids``, in order; ``KeyError`` names an id not stored."""

    @abstractmethod
    def __len__(self) -> int:
        """Number of vectors stored."""

    @abstractmethod
    def save(self, path: Path) -> None:
        """Write the index to one file (not atomically: the caller replaces directories)."""

    @classmethod
    def load(cls, path: Path) -> VectorIndex:
        """Read an index written by :meth:`save`.

        Raises:
            IndexCorruptError: The file is missing, truncated or damaged.
            IndexMismatchError: The file was written by a newer format.
        """
        return FaissIndex.load(path)


class FaissIndex(VectorIndex):
    """A FAISS index that is exact while small and IVF above ``flat_limit`` vectors.

    Args:
        dimension: Length of every vector.
        flat_limit: Largest number of vectors kept in the exact flat index; above it an IVF
            index is trained from the stored vectors. At least 256.
        nprobe: Lists searched by the IVF index; None follows :func:`default_nprobe`.
        threads: OpenMP threads FAISS uses for this index's work; None leaves FAISS's
            setting (one per core). Searching one query uses one thread either way.

    Searches may run in several threads at once; adding and removing may not run beside
    anything else.

    Raises:
        ValueError: A dimension, limit, nprobe or thread count out of range.
    """

    kinds: ClassVar[tuple[str, ...]] = ("flat", "ivf")

    def __init__(
        self,
        dimension: int,
        *,
        flat_limit: int = DEFAULT_FLAT_LIMIT,
        nprobe: int | None = None,
        threads: int | None = None,
    ) -> None:
        if not 0 < dimension <= _MAX_DIMENSION:
            raise ValueError(f"dimension must be between 1 and {_MAX_DIMENSION}, not {dimension}")
        if flat_limit < MIN_FLAT_LIMIT:
            raise ValueError(f"flat_limit must be at least {MIN_FLAT_LIMIT}, not {flat_limit}")
        if nprobe is not None and not 1 <= nprobe <= _MAX_NPROBE:
            raise ValueError(f"nprobe must be between 1 and {_MAX_NPROBE}, not {nprobe}")
        if threads is not None and threads < 1:
            raise ValueError(f"threads must be at least 1, not {threads}")
        self.dimension = dimension
        self.flat_limit = flat_limit
        self.threads = threads
        self._nprobe_setting = nprobe
        self._index: Any = None
        self._kind = _KIND_FLAT
        self._ids = _IdSet()
        self._trained_size = 0

    # --- properties -----------------------------------------------------------------------

    @property
    def kind(self) -> str:
        """``"flat"`` or ``"ivf"``."""
        return _KINDS[self._kind]

    @property
    def nlist(self) -> int:
        """Number of IVF lists (0 for the flat index)."""
        return int(self._index.nlist) if self._kind == _KIND_IVF else 0

    @property
    def nprobe(self) -> int:
        """Number of IVF lists searched (0 for the flat index)."""
        return int(self._index.nprobe) if self._kind == _KIND_IVF else 0

    @nprobe.setter
    def nprobe(self, value: int) -> None:
        if not 1 <= value <= _MAX_NPROBE:
            raise ValueError(f"nprobe must be between 1 and {_MAX_NPROBE}, not {value}")
        self._nprobe_setting = value
        if self._kind == _KIND_IVF:
            self._index.nprobe = min(value, self.nlist)

    @property
    def trained_size(self) -> int:
        """Number of vectors the IVF index was trained for (0 for the flat index)."""
        return self._trained_size if self._kind == _KIND_IVF else 0

    def __len__(self) -> int:
        return len(self._ids)

    def __repr__(self) -> str:
        extra = f", nlist={self.nlist}, nprobe={self.nprobe}" if self._kind == _KIND_IVF else ""
        return f"FaissIndex(dimension={self.dimension}, n={len(self)}, kind={self.kind!r}{extra})"

    def ids(self) -> NDArray[np.int64]:
        """All ids stored, sorted (a copy)."""
        return self._ids.array().copy()

    def contains(self, ids: ArrayLike) -> NDArray[np.bool_]:
        """Which of ``ids`` are stored."""
        return self._ids.contains(np.asarray(ids, dtype=np.int64).reshape(-1))

    # --- validation -----------------------------------------------------------------------

    def _check_ids(self, ids: ArrayLike) -> NDArray[np.int64]:
        arr = np.asarray(ids)
        if arr.ndim != 1:
            raise ValueError(f"ids must be one-dimensional, not of shape {arr.shape}")
        if len(arr) and not np.issubdtype(arr.dtype, np.integer):
            raise ValueError(f"ids must be integers, not {arr.dtype}")
        return arr.astype(np.int64, copy=False)

    def _check_vectors(self, vectors: ArrayLike, name: str) -> NDArray[np.float32]:
        arr = np.asarray(vectors, dtype=np.float32)
        if arr.ndim == 1 and name == "queries":
            arr = arr.reshape(1, -1)
        if arr.ndim != 2 or arr.shape[1] != self.dimension:
            raise ValueError(
                f"{name} must have shape (n, {self.dimension}), not {np.shape(vectors)}"
            )
        if not np.isfinite(arr).all():
            raise ValueError(f"{name} contain NaN or infinite values")
        return np.ascontiguousarray(arr)

    # --- building -------------------------------------------------------------------------

    def _new_flat(self, ids: NDArray[np.int64], vectors: NDArray[np.float32]) -> Any:
        faiss = _faiss()
        index = faiss.IndexIDMap2(faiss.IndexFlatIP(self.dimension))
        if len(ids):
            index.add_with_ids(vectors, ids)
        return index

    def _new_ivf(self, ids: NDArray[np.int64], vectors: NDArray[np.float32]) -> Any:
        faiss = _faiss()
        n = len(ids)
        nlist = nlist_for(n)
        quantizer = faiss.IndexFlatIP(self.dimension)
        index = faiss.IndexIVFFlat(quantizer, self.dimension, nlist, faiss.METRIC_INNER_PRODUCT)
        index.cp.niter = TRAIN_ITERATIONS
        index.cp.spherical = True
        index.cp.seed = 1234
        sample_size = min(n, TRAIN_POINTS_PER_LIST * nlist)
        index.cp.max_points_per_centroid = max(256, TRAIN_POINTS_PER_LIST)
        if sample_size < n:
            rng = np.random.default_rng(n)
            rows = np.sort(rng.choice(n, size=sample_size, replace=False))
            index.train(np.ascontiguousarray(vectors[rows]))
        else:
            index.train(vectors)
        index.add_with_ids(vectors, ids)
        nprobe = self._nprobe_setting or default_nprobe(nlist)
        index.nprobe = min(nprobe, nlist)
        self._trained_size = n
        return index

    def _contents(
        self,
        extra_ids: NDArray[np.int64] | None = None,
        extra_vectors: NDArray[np.float32] | None = None,
    ) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
        """Every (id, vector) stored, read back out of FAISS, followed by the extra ones."""
        faiss = _faiss()
        index = self._index
        n = int(index.ntotal) if index is not None else 0
        extra = len(extra_ids) if extra_ids is not None else 0
        out_ids = np.empty(n + extra, np.int64)
        out_vectors = np.empty((n + extra, self.dimension), np.float32)
        if extra_ids is not None and extra_vectors is not None:
            out_ids[n:] = extra_ids
            out_vectors[n:] = extra_vectors
        if n == 0:
            return out_ids, out_vectors
        if self._kind == _KIND_FLAT:
            out_ids[:n] = faiss.vector_to_array(index.id_map)
            index.index.reconstruct_n(0, n, out_vectors[:n])
            return out_ids, out_vectors
        invlists = index.invlists
        code_size = int(index.code_size)
        at = 0
        for lst in range(int(index.nlist)):
            size = int(invlists.list_size(lst))
            if size == 0:
                continue
            ids_ptr = invlists.get_ids(lst)
            out_ids[at : at + size] = faiss.rev_swig_ptr(ids_ptr, size)
            invlists.release_ids(lst, ids_ptr)
            codes_ptr = invlists.get_codes(lst)
            codes = faiss.rev_swig_ptr(codes_ptr, size * code_size)
            out_vectors[at : at + size] = codes.view(np.float32).reshape(size, self.dimension)
            invlists.release_codes(lst, codes_ptr)
            at += size
        if at != n:  # pragma: no cover - FAISS's lists disagree with its count
            raise IndexCorruptError(f"the IVF lists hold {at} vectors, the index counts {n}")
        return out_ids, out_vectors

    def _rebuild(self, ids: NDArray[np.int64], vectors: NDArray[np.float32], kind: int) -> None:
        self._index = None  # let FAISS free the old index before the new one is built
        if kind == _KIND_FLAT:
            self._index = self._new_flat(ids, vectors)
            self._trained_size = 0
        else:
            self._index = self._new_ivf(ids, vectors)
        self._kind = kind

    def add(self, ids: ArrayLike, vectors: ArrayLike) -> None:
        """Add vectors under new ids; may switch the index to IVF or retrain it.

        Args:
            ids: int64 ids, shape ``(n,)``, non-negative and not yet in the index.
            vectors: float32 rows of shape ``(n, dimension)``, L2-normalised.

        Raises:
            ValueError: A duplicate or negative id (named), or a wrong shape or value.
        """
        id_arr = self._check_ids(ids)
        vec_arr = self._check_vectors(vectors, "vectors")
        if len(id_arr) != len(vec_arr):
            raise ValueError(f"{len(id_arr)} ids for {len(vec_arr)} vectors")
        if not len(id_arr):
            return
        if (id_arr < 0).any():
            raise ValueError(f"ids must be non-negative, got {int(id_arr[id_arr < 0][0])}")
        uniq, counts = np.unique(id_arr, return_counts=True)
        if (counts > 1).any():
            raise ValueError(f"duplicate id {int(uniq[counts > 1][0])} in the batch")
        present = self._ids.contains(id_arr)
        if present.any():
            raise ValueError(f"duplicate id {int(id_arr[present][0])}: already in the index")
        total = len(self) + len(id_arr)
        with _omp_threads(self.threads):
            if self._index is None:
                kind = _KIND_FLAT if total <= self.flat_limit else _KIND_IVF
                self._rebuild(id_arr, vec_arr, kind)
            elif total <= (
                self.flat_limit if self._kind == _KIND_FLAT else RETRAIN_FACTOR * self._trained_size
            ):
                self._index.add_with_ids(vec_arr, id_arr)
            else:
                self._rebuild(*self._contents(id_arr, vec_arr), _KIND_IVF)
        self._ids.add(id_arr)

    def remove(self, ids: ArrayLike) -> int:
        """Remove vectors by id; unknown ids are ignored.

        An IVF index that shrinks to half of ``flat_limit`` goes back to the exact flat
        index; one that shrinks far below the size it was trained at is retrained.

        Returns:
            The number of vectors removed.
        """
        id_arr = np.unique(self._check_ids(ids))
        id_arr = id_arr[self._ids.contains(id_arr)]
        if not len(id_arr) or self._index is None:
            return 0
        with _omp_threads(self.threads):
            removed = int(self._index.remove_ids(id_arr))
            if removed != len(id_arr):  # pragma: no cover - FAISS and the id set disagree
                raise IndexCorruptError(
                    f"the vector index removed {removed} of {len(id_arr)} ids it should hold"
                )
            self._ids.remove(id_arr)
            n = len(self)
            if self._kind == _KIND_IVF and (
                n <= self.flat_limit // 2 or n * RETRAIN_FACTOR < self._trained_size
            ):
                kind = _KIND_FLAT if n <= self.flat_limit else _KIND_IVF
                self._rebuild(*self._contents(), kind)
        return removed

    # --- searching ------------------------------------------------------------------------

    def search(self, queries: ArrayLike, k: int) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
        """The ``k`` best matches of each query by inner product.

        Args:
            queries: float32 rows of shape ``(m, dimension)`` (or one row of ``dimension``).
            k: Number of results per query (0 or more).

        Returns:
            ``(scores, ids)``, both of shape ``(m, k)``, best first; where fewer than ``k``
            vectors are stored (or, for IVF, held by the lists searched), the id is -1 and
            the score ``-inf``.

        Raises:
            ValueError: A negative ``k``, or queries of the wrong shape or with NaN.
        """
        if k < 0:
            raise ValueError(f"k must be 0 or more, not {k}")
        q = self._check_vectors(queries, "queries")
        m = len(q)
        if self._index is None or len(self) == 0 or k == 0 or m == 0:
            return (
                np.full((m, k), -np.inf, dtype=np.float32),
                np.full((m, k), -1, dtype=np.int64),
            )
        with _omp_threads(self.threads):
            scores, ids = self._index.search(q, k)
        scores = np.asarray(scores, dtype=np.float32)
        ids = np.asarray(ids, dtype=np.int64)
        scores[ids < 0] = -np.inf
        return scores, ids

    def reconstruct(self, ids: ArrayLike) -> NDArray[np.float32]:
        """The stored vectors of ``ids``, in the order given.

        The flat index reads them directly; an IVF index keeps an id → list map from the
        first call on (about 16 bytes per vector, and saved with the index).

        Args:
            ids: One-dimensional integer ids, each stored.

        Returns:
            float32 rows of shape ``(len(ids), dimension)``.

        Raises:
            KeyError: An id that is not stored (the first one is named).
            ValueError: ids that are not a one-dimensional integer array.
        """
        id_arr = self._check_ids(ids)
        out = np.empty((len(id_arr), self.dimension), np.float32)
        if not len(id_arr):
            return out
        present = self._ids.contains(id_arr)
        if not present.all():
            raise KeyError(f"id {int(id_arr[~present][0])} is not in the vector index")
        index = self._index
        if self._kind == _KIND_IVF:
            faiss = _faiss()
            if int(index.direct_map.type) != int(faiss.DirectMap.Hashtable):
                index.set_direct_map_type(faiss.DirectMap.Hashtable)
        for row, key in enumerate(id_arr):
            out[row] = index.reconstruct(int(key))
        return out

    # --- persistence ----------------------------------------------------------------------

    def save(self, path: Path) -> None:
        """Write the index to one file at ``path`` (flushed and fsynced).

        The file holds a header with a SHA-256 digest, the sorted ids and the FAISS index.
        Writing is not atomic: the leakage index writes into a temporary directory.
        """
        faiss = _faiss()
        path = Path(path)
        ids = np.ascontiguousarray(self._ids.array(), dtype="<i8")
        body = hashlib.sha256()
        with open(path, "wb") as fh:
            fh.write(b"\0" * _HEADER.size)
            id_bytes = ids.tobytes()
            body.update(id_bytes)
            fh.write(id_bytes)
            written = 0

            def write(chunk: bytes) -> int:
                nonlocal written
                body.update(chunk)
                fh.write(chunk)
                written += len(chunk)
                return len(chunk)

            index = self._index
            if index is None:
                index = self._new_flat(ids, np.empty((0, self.dimension), np.float32))
            faiss.write_index(index, faiss.PyCallbackIOWriter(write))
            fields = (
                _MAGIC,
                FORMAT_VERSION,
                FORMAT_VERSION ^ _VERSION_MASK,
                self._kind,
                self.dimension,
                len(ids),
                self.nlist,
                self._nprobe_setting or 0,
                self.flat_limit,
                self._trained_size,
                len(id_bytes),
                written,
            )
            header = _HEADER.pack(*fields, _digest(fields, body.digest()))
            fh.seek(0)
            fh.write(header)
            fh.flush()
            os.fsync(fh.fileno())

    @classmethod
    def load(cls, path: Path, *, threads: int | None = None) -> FaissIndex:
        """Read an index written by :meth:`save`, verifying it before FAISS reads it.

        Args:
            path: The file.
            threads: As for the constructor.

        Raises:
            IndexCorruptError: The file is missing, truncated, altered or not an index file
                (the message names the file).
            IndexMismatchError: The file was written by a newer format version.
        """
        path = Path(path)
        try:
            fh = open(path, "rb")  # noqa: SIM115 - closed below, the reader needs it open
        except OSError as exc:
            raise IndexCorruptError(f"vector index file {path}: cannot be read ({exc})") from exc
        with fh:
            return cls._read(path, fh, threads)

    @classmethod
    def _read(cls, path: Path, fh: BinaryIO, threads: int | None) -> FaissIndex:
        faiss = _faiss()

        def corrupt(reason: str) -> IndexCorruptError:
            return IndexCorruptError(f"vector index file {path}: {reason}")

        size = os.fstat(fh.fileno()).st_size
        raw = fh.read(_HEADER.size)
        if not raw.startswith(_MAGIC) and not (len(raw) < len(_MAGIC) and _MAGIC.startswith(raw)):
            raise corrupt("not an aiposture vector index (bad magic bytes)")
        if len(raw) < _HEADER.size:
            raise corrupt(f"truncated ({size} bytes, shorter than its header)")
        *fields, digest = _HEADER.unpack(raw)
        _, version, version_check, kind, dimension, count, nlist, nprobe = fields[:8]
        flat_limit, trained, ids_len, faiss_len = fields[8:]
        if version ^ _VERSION_MASK != version_check:
            raise corrupt("the header is damaged (format version)")
        if version > FORMAT_VERSION:
            raise IndexMismatchError(
                f"vector index file {path}: format version {version} is newer than this "
                f"aiposture reads ({FORMAT_VERSION}); upgrade aiposture"
            )
        if version < 1 or kind not in _KINDS or not 0 < dimension <= _MAX_DIMENSION:
            raise corrupt("the header is damaged")
        if ids_len != 8 * count or _HEADER.size + ids_len + faiss_len != size:
            raise corrupt(
                f"truncated or extended: {size} bytes where the header announces "
                f"{_HEADER.size + ids_len + faiss_len}"
            )
        body = hashlib.sha256()
        remaining = size - _HEADER.size
        while remaining:
            block = fh.read(min(_IO_BLOCK, remaining))
            if not block:
                raise corrupt("truncated while reading")
            body.update(block)
            remaining -= len(block)
        if _digest(tuple(fields), body.digest()) != digest:
            raise corrupt("checksum mismatch: the file was altered or damaged")

        fh.seek(_HEADER.size)
        ids = np.frombuffer(fh.read(ids_len), dtype="<i8").astype(np.int64)
        if count and (ids[0] < 0 or (np.diff(ids) <= 0).any()):
            raise corrupt("the ids are not sorted and distinct")
        left = faiss_len

        def read(n: int) -> bytes:
            nonlocal left
            chunk = fh.read(min(n, left))
            left -= len(chunk)
            return chunk

        try:
            index = faiss.read_index(faiss.PyCallbackIOReader(read))
        except RuntimeError as exc:  # pragma: no cover - the digest matched
            raise corrupt(f"FAISS cannot read it ({exc})") from exc
        self = cls(dimension, flat_limit=max(flat_limit, MIN_FLAT_LIMIT), threads=threads)
        self._nprobe_setting = nprobe or None
        expected = faiss.IndexIDMap2 if kind == _KIND_FLAT else faiss.IndexIVFFlat
        if (
            not isinstance(index, expected)
            or index.d != dimension
            or index.ntotal != count
            or index.metric_type != faiss.METRIC_INNER_PRODUCT
            or (kind == _KIND_IVF and index.nlist != nlist)
        ):
            raise corrupt("the FAISS index does not match its header")
        self._index = index if count or kind == _KIND_IVF else None
        self._kind = kind
        self._trained_size = trained
        self._ids = _IdSet(ids)
        return self


def _digest(fields: tuple[Any, ...], body_digest: bytes) -> bytes:
    """SHA-256 over the header fields and the digest of the body."""
    return hashlib.sha256(_HEADER.pack(*fields, b"\0" * 32) + body_digest).digest()
