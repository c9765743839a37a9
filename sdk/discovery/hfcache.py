"""Pure helpers for Hugging Face artefacts on disk: hub caches, model cards and configs.

Nothing here imports or runs what it reads: files are parsed as YAML (``yaml.safe_load``
only) or JSON, with size caps, and every parse failure is a
:class:`~aiposture.discovery.base.TargetError` that names the file and, where known, the
line.

The hub cache
=============

``huggingface_hub`` (and every library built on it: transformers, diffusers, datasets,
sentence-transformers, vLLM...) keeps downloads under ``$HF_HUB_CACHE`` (by default
``~/.cache/huggingface/hub``), one folder per repository::

    <cache>/models--<org>--<name>/        (also datasets--..., spaces--...)
        refs/main                         a branch or tag: the commit it points to (40 hex)
        refs/pr/1                         pull-request refs live in sub-folders
        snapshots/<commit>/config.json    one folder per cached revision; files are
        snapshots/<commit>/README.md      symlinks into blobs/ (copies on Windows)
        blobs/<etag>                      the bytes, named by hash
        .no_exist/<commit>/<file>         empty markers for files the Hub does not have

A repository id is the folder name after the type with ``--`` for ``/``
(``models--bert-base-cased`` is the legacy id ``bert-base-cased``). Snapshots hold only
the files some library asked for: ``from_pretrained`` fetches configs, weights and
tokenizer files but not the model card, so a cached model often has no ``README.md``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from aiposture.discovery.base import TargetError

__all__ = [
    "MAX_FRONT_MATTER_BYTES",
    "MAX_JSON_BYTES",
    "AdapterConfig",
    "CachedRepo",
    "DiffusersPipeline",
    "HubRef",
    "ModelCard",
    "ModelConfig",
    "SentenceTransformersInfo",
    "card_attributes",
    "hub_ref_from_path",
    "is_commit",
    "looks_like_hub_id",
    "parse_adapter_config",
    "parse_json",
    "parse_model_card",
    "parse_model_config",
    "parse_model_index",
    "parse_sentence_transformers",
    "read_cached_repo",
    "read_front_matter",
    "repo_from_folder_name",
]

#: Largest JSON file parsed (model configs are a few KB; id2label tables make some ~1 MB).
MAX_JSON_BYTES = 4 * 1024 * 1024
#: Largest YAML front matter parsed.
MAX_FRONT_MATTER_BYTES = 256 * 1024
#: Longest list kept from a card or config (datasets, tags, languages...).
MAX_ITEMS = 100
#: Longest string kept from a card or config.
MAX_STR = 300
_MAX_REF_BYTES = 256
_MAX_REFS = 1000
_MAX_SNAPSHOTS = 1000

_REPO_TYPES = {"models": "model", "datasets": "dataset", "spaces": "space"}
_REPO_FOLDER = re.compile(r"^(models|datasets|spaces)--(.+)$")
_ID_PART = re.compile(r"^[A-Za-z0-9_.][\w.-]*$")
_COMMIT = re.compile(r"^[0-9a-f]{40}$")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]{0,95}/[A-Za-z0-9_.][\w.-]{0,95}$")
_BARE_ID = re.compile(r"^[A-Za-z0-9][\w.-]{0,95}$")
_TOP_KEY = re.compile(r"^([A-Za-z_][\w-]*)\s*:")


def is_commit(text: str) -> bool:
    """Whether ``text`` is a full git commit hash (40 lower-case hex digits)."""
    return _COMMIT.fullmatch(text) is not None


def looks_like_hub_id(text: str, *, allow_bare: bool = False) -> bool:
    """Whether ``text`` has the shape of a Hub repository id.

    Args:
        text: The candidate (``org/name``, or a legacy bare name such as ``gpt2``).
        allow_bare: Accept a bare name without an organisation; off where a bare word
            is as likely a relative folder (``output``) as a legacy model id.
    """
    s = text.strip()
    if not s or "--" in s or ".." in s or s.endswith((".", "-")):
        return False
    if _HUB_ID.fullmatch(s):
        return True
    return allow_bare and _BARE_ID.fullmatch(s) is not None


def repo_from_folder_name(name: str) -> tuple[str, str] | None:
    """``(repo type, repo id)`` of a cache folder name, or ``None`` if it is not one.

    ``models--org--name`` -> ``("model", "org/name")``; ``datasets--squad`` ->
    ``("dataset", "squad")``.
    """
    m = _REPO_FOLDER.fullmatch(name)
    if m is None:
        return None
    parts = m.group(2).split("--")
    if len(parts) > 2 or not all(_ID_PART.fullmatch(p) for p in parts):
        return None
    return _REPO_TYPES[m.group(1)], "/".join(parts)


# --- the cache layout ------------------------------------------------------------------


@dataclass(frozen=True)
class HubRef:
    """Where a path sits in a hub cache.

    Attributes:
        repo_type: ``model``, ``dataset`` or ``space``.
        repo_id: ``org/name`` (or a legacy bare name).
        repo_folder: The ``models--org--name`` folder.
        revision: The commit of the snapshot the path is in, or the commit a ref file
            points to (``None`` when a ref file does not hold a commit).
        branches: Names of the refs (``main``, ``pr/1``...) that point to ``revision``.
        snapshot: The snapshot folder, for paths inside ``snapshots/``.
        file: The path inside the snapshot (POSIX, ``unet/config.json``), if any.
        ref: The ref's name, for a path inside ``refs/``.
    """

    repo_type: str
    repo_id: str
    repo_folder: Path
    revision: str | None
    branches: tuple[str, ...] = ()
    snapshot: Path | None = None
    file: str | None = None
    ref: str | None = None


@dataclass(frozen=True)
class CachedRepo:
    """What a cached repository holds: its refs and its snapshots.

    Attributes:
        refs: Ref name -> commit, for every ref file that holds a commit hash.
        snapshots: Commit -> snapshot folder.
        current: The revision that stands for the repository: the one ``main`` points
            to when it is cached, else the only snapshot, else the newest one.
    """

    repo_type: str
    repo_id: str
    folder: Path
    refs: dict[str, str] = field(default_factory=dict)
    snapshots: dict[str, Path] = field(default_factory=dict)
    current: str | None = None

    def branches_of(self, commit: str | None) -> tuple[str, ...]:
        """Names of the refs that point to ``commit``, sorted."""
        if commit is None:
            return ()
        return tuple(sorted(n for n, c in self.refs.items() if c == commit))

    def revisions(self) -> list[dict[str, Any]]:
        """The cached revisions as JSON data: commit, refs and snapshot folder."""
        out: list[dict[str, Any]] = []
        for commit in sorted(self.snapshots):
            out.append(
                {
                    "commit": commit,
                    "refs": list(self.branches_of(commit)),
                    "path": str(self.snapshots[commit]),
                }
            )
        return out


def _find_repo_index(parts: tuple[str, ...]) -> int | None:
    for i in range(len(parts) - 2, -1, -1):
        if parts[i + 1] in ("snapshots", "refs") and repo_from_folder_name(parts[i]):
            return i
    return None


def hub_ref_from_path(path: str | os.PathLike[str]) -> HubRef | None:
    """Where ``path`` sits in a hub cache, or ``None`` if it is not in a snapshot or refs.

    The path is made absolute but symlinks are not resolved (snapshot files are links
    into ``blobs/``; the link's own path is what says which repository and revision it
    belongs to). Blobs and ``.no_exist`` markers are not part of a snapshot: ``None``.
    Ref files are read (a few bytes each) to name the branches of a revision.
    """
    parts = Path(os.path.abspath(os.fspath(path))).parts
    i = _find_repo_index(parts)
    if i is None:
        return None
    found = repo_from_folder_name(parts[i])
    assert found is not None
    repo_type, repo_id = found
    folder = Path(*parts[: i + 1])
    refs = _read_refs(folder)
    if parts[i + 1] == "refs":
        if len(parts) < i + 3:
            return None
        name = "/".join(parts[i + 2 :])
        commit = refs.get(name)
        return HubRef(
            repo_type,
            repo_id,
            folder,
            commit,
            branches=tuple(sorted(n for n, c in refs.items() if commit and c == commit)),
            ref=name,
        )
    if len(parts) < i + 3:
        return None
    revision = parts[i + 2]
    inner = "/".join(parts[i + 3 :]) or None
    return HubRef(
        repo_type,
        repo_id,
        folder,
        revision,
        branches=tuple(sorted(n for n, c in refs.items() if c == revision)),
        snapshot=Path(*parts[: i + 3]),
        file=inner,
    )


def _read_small(path: Path, limit: int) -> bytes | None:
    try:
        with open(path, "rb") as fh:
            return fh.read(limit + 1)
    except OSError:
        return None


def _read_refs(folder: Path) -> dict[str, str]:
    refs: dict[str, str] = {}
    base = folder / "refs"
    if not base.is_dir():
        return refs
    count = 0
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames.sort()
        for fname in sorted(filenames):
            count += 1
            if count > _MAX_REFS:
                return refs
            raw = _read_small(Path(dirpath) / fname, _MAX_REF_BYTES)
            if raw is None or len(raw) > _MAX_REF_BYTES:
                continue
            commit = raw.decode("ascii", errors="replace").strip()
            if is_commit(commit):
                rel = os.path.relpath(os.path.join(dirpath, fname), base)
                refs[rel.replace(os.sep, "/")] = commit
    return refs


def _list_snapshots(folder: Path) -> dict[str, Path]:
    snaps: dict[str, Path] = {}
    try:
        with os.scandir(folder / "snapshots") as it:
            for entry in it:
                if len(snaps) >= _MAX_SNAPSHOTS:
                    break
                try:
                    if entry.is_dir(follow_symlinks=True):
                        snaps[entry.name] = Path(entry.path)
                except OSError:
                    continue
    except OSError:
        return {}
    return dict(sorted(snaps.items()))


def _newest(snaps: dict[str, Path]) -> str:
    def mtime(commit: str) -> tuple[float, str]:
        try:
            return (snaps[commit].stat().st_mtime, commit)
        except OSError:
            return (0.0, commit)

    return max(snaps, key=mtime)


def read_cached_repo(ref: HubRef) -> CachedRepo:
    """The refs and snapshots of the repository ``ref`` belongs to (reads only ref files)."""
    refs = _read_refs(ref.repo_folder)
    snaps = _list_snapshots(ref.repo_folder)
    current: str | None
    if refs.get("main") in snaps:
        current = refs["main"]
    elif len(snaps) == 1:
        current = next(iter(snaps))
    elif snaps:
        current = _newest(snaps)
    else:
        current = refs.get("main")
    return CachedRepo(ref.repo_type, ref.repo_id, ref.repo_folder, refs, snaps, current)


# --- JSON --------------------------------------------------------------------------------


def _decode(data: bytes, filename: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise TargetError(
            f"{filename}: not valid UTF-8 at byte {exc.start} (line {line})", line=line
        ) from exc


def parse_json(data: bytes, filename: str, *, limit: int = MAX_JSON_BYTES) -> Any:
    """Parse a JSON file's bytes.

    Raises:
        TargetError: Too large, not UTF-8, or not valid JSON (with the line and column).
    """
    if len(data) > limit:
        raise TargetError(f"{filename}: {len(data)} bytes, over the {limit}-byte JSON limit")
    text = _decode(data, filename)
    if not text.strip():
        raise TargetError(f"{filename}: empty file, no JSON", line=1)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise TargetError(
            f"{filename}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}",
            line=exc.lineno,
        ) from exc


def _str(value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    s = str(value).strip()
    return s[:MAX_STR] if s else None


def _str_list(value: object) -> tuple[str, ...]:
    items: list[object] = list(value) if isinstance(value, list | tuple) else [value]
    out: list[str] = []
    for item in items:
        s = _str(item)
        if s is not None and s not in out:
            out.append(s)
        if len(out) >= MAX_ITEMS:
            break
    return tuple(out)


# --- config.json ------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelConfig:
    """What a model's ``config.json`` says about it.

    Attributes:
        is_model: The file has the shape of a model configuration (transformers,
            diffusers component or timm), not some other tool's ``config.json``.
        architectures: Model classes (``LlamaForCausalLM``).
        model_type: The transformers model type (``llama``).
        name_or_path: ``_name_or_path``: the id or folder the model was loaded from
            before it was saved (a fine-tuned model's base, often).
        torch_dtype: The weights' dtype (``torch_dtype``, or ``dtype`` in newer files).
        transformers_version: The transformers version that wrote the file.
        class_name: ``_class_name`` of a diffusers component (``UNet2DConditionModel``).
        diffusers_version: ``_diffusers_version`` of a diffusers component.
    """

    is_model: bool
    architectures: tuple[str, ...] = ()
    model_type: str | None = None
    name_or_path: str | None = None
    torch_dtype: str | None = None
    transformers_version: str | None = None
    class_name: str | None = None
    diffusers_version: str | None = None


_MODEL_CONFIG_KEYS = frozenset(
    {"architectures", "model_type", "transformers_version", "_name_or_path", "_diffusers_version"}
)


def parse_model_config(data: bytes, filename: str = "config.json") -> ModelConfig:
    """Read a ``config.json``.

    Raises:
        TargetError: The bytes are not a JSON file (a file that is JSON but not a model
            configuration is ``ModelConfig(is_model=False)``).
    """
    raw = parse_json(data, filename)
    if not isinstance(raw, dict):
        return ModelConfig(is_model=False)
    timm = isinstance(raw.get("architecture"), str) and (
        "num_classes" in raw or "pretrained_cfg" in raw
    )
    is_model = bool(_MODEL_CONFIG_KEYS & raw.keys()) or timm
    if not is_model:
        return ModelConfig(is_model=False)
    archs = _str_list(raw.get("architectures")) if raw.get("architectures") is not None else ()
    if not archs and timm:
        archs = _str_list(raw.get("architecture"))
    return ModelConfig(
        is_model=True,
        architectures=archs,
        model_type=_str(raw.get("model_type")),
        name_or_path=_str(raw.get("_name_or_path")),
        torch_dtype=_str(raw.get("torch_dtype")) or _str(raw.get("dtype")),
        transformers_version=_str(raw.get("transformers_version")),
        class_name=_str(raw.get("_class_name")),
        diffusers_version=_str(raw.get("_diffusers_version")),
    )


# --- PEFT adapters -----------------------------------------------------------------------


@dataclass(frozen=True)
class AdapterConfig:
    """A PEFT ``adapter_config.json``: an adapter trained on top of a base model.

    Attributes:
        base_model: ``base_model_name_or_path``: the base model's id or folder.
        revision: The base model's revision, when the adapter pins one.
        peft_type: ``LORA``, ``IA3``, ``PREFIX_TUNING``...
        task_type: ``CAUSAL_LM``, ``SEQ_CLS``...
    """

    base_model: str | None
    revision: str | None = None
    peft_type: str | None = None
    task_type: str | None = None


def parse_adapter_config(
    data: bytes, filename: str = "adapter_config.json"
) -> AdapterConfig | None:
    """Read a PEFT adapter configuration; ``None`` if the JSON is not one.

    Raises:
        TargetError: The bytes are not a JSON file.
    """
    raw = parse_json(data, filename)
    if not isinstance(raw, dict) or not ({"base_model_name_or_path", "peft_type"} & raw.keys()):
        return None
    return AdapterConfig(
        base_model=_str(raw.get("base_model_name_or_path")),
        revision=_str(raw.get("revision")),
        peft_type=_str(raw.get("peft_type")),
        task_type=_str(raw.get("task_type")),
    )


# --- sentence-transformers and diffusers --------------------------------------------------


@dataclass(frozen=True)
class SentenceTransformersInfo:
    """A sentence-transformers model's ``modules.json`` or ``config_sentence_transformers.json``.

    Attributes:
        modules: Module classes in pipeline order (from ``modules.json``).
        versions: Library versions that saved it (from ``config_sentence_transformers.json``).
    """

    modules: tuple[str, ...] = ()
    versions: dict[str, str] = field(default_factory=dict)


def parse_sentence_transformers(data: bytes, filename: str) -> SentenceTransformersInfo | None:
    """Read ``modules.json`` or ``config_sentence_transformers.json``; ``None`` if not one.

    Raises:
        TargetError: The bytes are not a JSON file.
    """
    raw = parse_json(data, filename)
    if filename.lower() == "modules.json":
        if not isinstance(raw, list) or not raw:
            return None
        types: list[str] = []
        for item in raw[:MAX_ITEMS]:
            if not isinstance(item, dict) or not isinstance(item.get("type"), str):
                return None
            types.append(item["type"][:MAX_STR])
        if not any(t.startswith("sentence_transformers") for t in types):
            return None
        return SentenceTransformersInfo(modules=tuple(types))
    if not isinstance(raw, dict):
        return None
    versions = raw.get("__version__")
    if not isinstance(versions, dict):
        return None
    clean = {str(k)[:MAX_STR]: s for k, v in list(versions.items())[:MAX_ITEMS] if (s := _str(v))}
    return SentenceTransformersInfo(versions=clean)


@dataclass(frozen=True)
class DiffusersPipeline:
    """A diffusers ``model_index.json``: a pipeline and its components.

    Attributes:
        class_name: The pipeline class (``StableDiffusionXLPipeline``).
        diffusers_version: The diffusers version that saved it.
        name_or_path: ``_name_or_path``, when recorded.
        components: Component name -> ``library.Class`` (``unet`` -> ``diffusers.UNet2D...``).
    """

    class_name: str | None
    diffusers_version: str | None = None
    name_or_path: str | None = None
    components: dict[str, str] = field(default_factory=dict)


def parse_model_index(data: bytes, filename: str = "model_index.json") -> DiffusersPipeline | None:
    """Read a diffusers ``model_index.json``; ``None`` if the JSON is not one.

    Raises:
        TargetError: The bytes are not a JSON file.
    """
    raw = parse_json(data, filename)
    if not isinstance(raw, dict) or not ({"_class_name", "_diffusers_version"} & raw.keys()):
        return None
    components: dict[str, str] = {}
    for key, value in raw.items():
        if key.startswith("_") or len(components) >= MAX_ITEMS:
            continue
        if isinstance(value, list) and len(value) == 2:
            lib, cls = _str(value[0]), _str(value[1])
            if lib and cls:
                components[str(key)[:MAX_STR]] = f"{lib}.{cls}"
    return DiffusersPipeline(
        class_name=_str(raw.get("_class_name")),
        diffusers_version=_str(raw.get("_diffusers_version")),
        name_or_path=_str(raw.get("_name_or_path")),
        components=components,
    )


# --- model cards -------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelCard:
    """The metadata of a model (or dataset) card: the YAML front matter of its README.

    Attributes:
        has_front_matter: The file starts with a ``---`` block.
        license: ``license`` (several are joined with ``, ``).
        license_name: ``license_name``, the name of an ``other`` licence.
        license_link: ``license_link``.
        datasets: ``datasets``: Hub ids of the training datasets.
        base_models: ``base_model`` (a string, or a list for merges).
        base_model_relation: ``base_model_relation`` (``finetune``, ``adapter``,
            ``merge``, ``quantized``).
        language: ``language`` codes.
        pipeline_tag: ``pipeline_tag`` (``text-generation``...).
        library_name: ``library_name`` (``transformers``, ``peft``...).
        tags: ``tags``.
        model_name: ``model_name``, or the first ``model-index`` entry's name.
        eval_datasets: Datasets named in ``model-index`` results (evaluation, not
            training).
        lines: Line in the file of each top-level key, for evidence.
    """

    has_front_matter: bool
    license: str | None = None
    license_name: str | None = None
    license_link: str | None = None
    datasets: tuple[str, ...] = ()
    base_models: tuple[str, ...] = ()
    base_model_relation: str | None = None
    language: tuple[str, ...] = ()
    pipeline_tag: str | None = None
    library_name: str | None = None
    tags: tuple[str, ...] = ()
    model_name: str | None = None
    eval_datasets: tuple[str, ...] = ()
    lines: dict[str, int] = field(default_factory=dict)

    @property
    def declared_license(self) -> str | None:
        """The licence the card declares: ``license_name`` for ``other``, ``None`` if none.

        ``unknown`` (a Hub licence id that means exactly that) counts as none.
        """
        lic = self.license
        if lic is None or lic.lower() in ("unknown", "none", "null", ""):
            return None
        if lic.lower() == "other" and self.license_name:
            return self.license_name
        return lic


def read_front_matter(
    text: str, filename: str, *, truncated: bool = False
) -> tuple[dict[str, Any] | None, int]:
    """The YAML metadata block at the top of a Markdown file, and the line it starts on.

    The block sits between a first line ``---`` (blank lines before it are allowed)
    and the next line ``---`` (or ``...``).

    Args:
        text: The Markdown file (or its head).
        filename: The file's name, for error messages.
        truncated: ``text`` is only the head of the file (a block that does not close
            within it is too large, not unclosed).

    Returns:
        ``(metadata, first line of the YAML)``; ``(None, 0)`` when the file has no
        front matter. An empty block is ``{}``.

    Raises:
        TargetError: The block is never closed, too large, not valid YAML (with the
            file's line), or not a mapping.
    """
    lines = text.splitlines()
    start = 0
    while start < len(lines) and not lines[start].strip():
        start += 1
    if start >= len(lines) or lines[start].rstrip() != "---":
        return None, 0
    opened = start + 1  # 1-based line of the opening ---
    end: int | None = None
    size = 0
    for j in range(start + 1, len(lines)):
        if lines[j].rstrip() in ("---", "..."):
            end = j
            break
        size += len(lines[j]) + 1
        if size > MAX_FRONT_MATTER_BYTES or (truncated and j == len(lines) - 1):
            raise TargetError(
                f"{filename}: front matter opened at line {opened} is over "
                f"{MAX_FRONT_MATTER_BYTES // 1024} KB",
                line=opened,
            )
    if end is None:
        raise TargetError(
            f"{filename}: front matter opened at line {opened} is never closed with ---",
            line=opened,
        )
    first = opened + 1
    block = "\n".join(lines[start + 1 : end])
    try:
        loaded = yaml.safe_load(block)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = first + mark.line if mark is not None else opened
        problem = exc.problem or exc.context or "syntax error"
        raise TargetError(
            f"{filename}: invalid YAML front matter at line {line}: {problem}", line=line
        ) from exc
    except (yaml.YAMLError, ValueError, TypeError, OverflowError) as exc:
        raise TargetError(
            f"{filename}: invalid YAML front matter (lines {first}-{end}): {exc}", line=first
        ) from exc
    if loaded is None:
        return {}, first
    if not isinstance(loaded, dict):
        raise TargetError(
            f"{filename}: front matter at line {first} is a {type(loaded).__name__}, "
            "not a mapping of keys",
            line=first,
        )
    return loaded, first


def _key_lines(text: str, first: int) -> dict[str, int]:
    out: dict[str, int] = {}
    for n, line in enumerate(text.splitlines()[first - 1 :], first):
        if line.rstrip() in ("---", "..."):
            break
        m = _TOP_KEY.match(line)
        if m is not None:
            out.setdefault(m.group(1), n)
    return out


def _eval_datasets(model_index: object) -> tuple[str | None, tuple[str, ...]]:
    if not isinstance(model_index, list):
        return None, ()
    name: str | None = None
    found: list[str] = []
    for entry in model_index[:MAX_ITEMS]:
        if not isinstance(entry, dict):
            continue
        name = name or _str(entry.get("name"))
        results = entry.get("results")
        for result in results[:MAX_ITEMS] if isinstance(results, list) else []:
            ds = result.get("dataset") if isinstance(result, dict) else None
            if isinstance(ds, dict):
                ident = _str(ds.get("type")) or _str(ds.get("name"))
                if ident and ident not in found and len(found) < MAX_ITEMS:
                    found.append(ident)
    return name, tuple(found)


def parse_model_card(
    text: str, filename: str = "README.md", *, truncated: bool = False
) -> ModelCard:
    """Read the metadata of a model card (``README.md`` of a model repository).

    Args:
        text: The card (or its head: the front matter is at the top).
        filename: The file's name, for error messages.
        truncated: ``text`` is only the head of the file.

    Raises:
        TargetError: The front matter is malformed (see :func:`read_front_matter`).
    """
    meta, first = read_front_matter(text, filename, truncated=truncated)
    if meta is None:
        return ModelCard(has_front_matter=False)
    lic = _str_list(meta.get("license"))
    index_name, evals = _eval_datasets(meta.get("model-index"))
    return ModelCard(
        has_front_matter=True,
        license=", ".join(lic) if lic else None,
        license_name=_str(meta.get("license_name")),
        license_link=_str(meta.get("license_link")),
        datasets=_str_list(meta.get("datasets")) if meta.get("datasets") is not None else (),
        base_models=(
            _str_list(meta.get("base_model")) if meta.get("base_model") is not None else ()
        ),
        base_model_relation=_str(meta.get("base_model_relation")),
        language=_str_list(meta.get("language")) if meta.get("language") is not None else (),
        pipeline_tag=_str(meta.get("pipeline_tag")),
        library_name=_str(meta.get("library_name")),
        tags=_str_list(meta.get("tags")) if meta.get("tags") is not None else (),
        model_name=_str(meta.get("model_name")) or index_name,
        eval_datasets=evals,
        lines=_key_lines(text, first),
    )


def card_attributes(card: ModelCard) -> dict[str, Any]:
    """The attributes a card gives its model or dataset asset (JSON values only)."""
    attrs: dict[str, Any] = {"license": card.declared_license}
    if card.license is not None and card.license != card.declared_license:
        attrs["license_id"] = card.license
    if card.license_link:
        attrs["license_link"] = card.license_link
    optional: Mapping[str, object] = {
        "datasets": list(card.datasets),
        "base_model": list(card.base_models),
        "base_model_relation": card.base_model_relation,
        "language": list(card.language),
        "pipeline_tag": card.pipeline_tag,
        "library": card.library_name,
        "card_tags": list(card.tags),
        "model_name": card.model_name,
        "eval_datasets": list(card.eval_datasets),
    }
    attrs.update({k: v for k, v in optional.items() if v})
    return attrs
