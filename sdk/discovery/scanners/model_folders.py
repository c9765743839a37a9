"""The model-folder scanner: Hugging Face hub caches and local model folders.

It reads the small files that describe a model -- ``config.json``, the model card
(``README.md`` / ``model_card.md``), PEFT's ``adapter_config.json``, sentence-transformers'
``modules.json`` and ``config_sentence_transformers.json``, diffusers' ``model_index.json``
-- and the ref files of a hub cache. Weight files are the model-file scanner's business.

Hub caches
==========

A file inside ``<cache>/models--org--name/snapshots/<commit>/`` or ``.../refs/`` is a
sighting of the Hub model ``org/name``: the asset :func:`observe.model` builds for it with
provider ``huggingface``, so the cached copy and a ``from_pretrained("org/name")`` in code
are one asset. Only files at the top of a snapshot are read (``unet/config.json`` of a
diffusers pipeline or ``1_Pooling/config.json`` of a sentence-transformers model describe
a component, not the repository); blobs have no names and ``.no_exist`` markers are empty
placeholders, so neither is read. ``datasets--org--name`` is a dataset asset; spaces are
skipped.

Every file of a repository reports the same repository-level facts, computed from the
cache at scan time (the ``refs`` files and the ``snapshots`` folder names): ``revision``
(the commit ``main`` points to), ``revisions`` (each cached commit, the refs that point to
it and its folder) and ``refs``. Facts read from a file's content (licence, datasets,
architecture...) are taken only from the current revision, so an old snapshot never
overwrites them; the relations an old revision's card names are still reported.

Local folders
=============

Outside a hub cache, a folder is a model folder when it holds a model-shaped
``config.json`` (transformers, diffusers or timm keys), weight files, an adapter or
pipeline description. It becomes a model asset identified by the folder
(:func:`observe.local_model`, provider ``local``). A ``README.md`` counts as a model card
only in a model folder; a ``config.json`` that is not a model configuration is ignored, and
so is a broken one in a folder with nothing else model-like (it is likely some other tool's
file); a broken file of a model folder is a recorded scan error.

Each key of the asset's attributes comes from one kind of file (the card: licence,
datasets, base model, pipeline tag, library; ``config.json``: architecture, model type,
dtype; ``adapter_config.json``: ``peft``; ...), because the store keeps the latest value of
each key.

Relations and findings
======================

* model ``trained_on`` dataset, for each dataset the card names (``datasets:``);
* model ``derived_from`` base model: the card's ``base_model``, the adapter's
  ``base_model_name_or_path``, and (local folders) a ``_name_or_path`` of the shape
  ``org/name``; a base that is a path is a local model;
* ``AIP-MODEL-010`` (low): a model card that declares no licence (``license`` missing or
  ``unknown``), so the terms of use are unknown. A model whose card is not on disk (hub
  downloads usually skip the README) gets no finding: its licence is simply not known here.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from aiposture.discovery import observe
from aiposture.discovery.base import Observation, Scanner, Target, TargetError
from aiposture.discovery.hfcache import (
    MAX_FRONT_MATTER_BYTES,
    MAX_JSON_BYTES,
    CachedRepo,
    HubRef,
    ModelCard,
    ModelConfig,
    card_attributes,
    hub_ref_from_path,
    is_commit,
    looks_like_hub_id,
    parse_adapter_config,
    parse_model_card,
    parse_model_config,
    parse_model_index,
    parse_sentence_transformers,
    read_cached_repo,
    repo_from_folder_name,
)
from aiposture.models import (
    Asset,
    Evidence,
    EvidenceKind,
    Finding,
    Relation,
    RelationKind,
    Severity,
)

__all__ = ["ModelFolderScanner"]

_CARDS = frozenset({"readme.md", "model_card.md"})
_CONFIG = "config.json"
_ADAPTER = "adapter_config.json"
_MODULES = "modules.json"
_ST_CONFIG = "config_sentence_transformers.json"
_MODEL_INDEX = "model_index.json"
_JSON_FILES = frozenset({_CONFIG, _ADAPTER, _MODULES, _ST_CONFIG, _MODEL_INDEX})
#: Files that only a model folder holds (their presence makes a folder one).
_DISTINCT = frozenset({_ADAPTER, _ST_CONFIG, _MODEL_INDEX})
_WEIGHT_SUFFIXES = (
    ".safetensors",
    ".gguf",
    ".ggml",
    ".onnx",
    ".pt",
    ".pth",
    ".ckpt",
    ".h5",
    ".keras",
    ".msgpack",
    ".tflite",
    ".mlmodel",
    ".pdparams",
    ".safetensors.index.json",
)
_WEIGHT_NAMES = frozenset({"pytorch_model.bin", "adapter_model.bin", "saved_model.pb"})
_MAX_LISTED = 10_000
_MAX_REF_READ = 256
#: Enough of a card for the largest front matter read (the rest is prose).
_MAX_CARD_READ = MAX_FRONT_MATTER_BYTES + 64 * 1024
_MAX_SIBLING_CONFIG = 1024 * 1024
_RULE_NO_LICENCE = "AIP-MODEL-010"
#: First path components that name a local folder, not a Hub organisation.
_FOLDER_WORDS = frozenset(
    {
        "output",
        "outputs",
        "out",
        "model",
        "models",
        "checkpoint",
        "checkpoints",
        "ckpt",
        "ckpts",
        "run",
        "runs",
        "result",
        "results",
        "tmp",
        "temp",
        "data",
        "save",
        "saved",
        "saved_models",
        "exp",
        "exps",
        "experiments",
        "workspace",
        "home",
        "mnt",
        "content",
        "kaggle",
        "root",
        "artifacts",
        "artefacts",
    }
)
_CHECKPOINT = re.compile(r"(?:checkpoint|ckpt|step|epoch)[-_]?\d+", re.IGNORECASE)


def _is_weight(name: str) -> bool:
    low = name.lower()
    if low in _WEIGHT_NAMES or low.endswith(_WEIGHT_SUFFIXES):
        return True
    return low.endswith(".bin") and "model" in low


def _plausible_hub_id(text: str, *, allow_bare: bool = False) -> bool:
    """A Hub id, not a training run's output folder (``outputs/checkpoint-500``)."""
    if not looks_like_hub_id(text, allow_bare=allow_bare):
        return False
    org, _, name = text.strip().rpartition("/")
    return org.lower() not in _FOLDER_WORDS and not _CHECKPOINT.fullmatch(name)


def _read_head(path: Path, limit: int) -> tuple[bytes, bool]:
    """Up to ``limit`` bytes of a file, and whether there was more."""
    try:
        with open(path, "rb") as fh:
            data = fh.read(limit + 1)
    except OSError as exc:
        raise TargetError(f"{path.name}: cannot read: {exc.strerror or exc}") from exc
    return data[:limit], len(data) > limit


def _listdir(folder: Path) -> frozenset[str]:
    names: set[str] = set()
    try:
        with os.scandir(folder) as it:
            for entry in it:
                names.add(entry.name)
                if len(names) >= _MAX_LISTED:
                    break
    except OSError:
        return frozenset()
    return frozenset(names)


@dataclass
class _Out:
    """Observations of one file, each id once (assets merged)."""

    assets: dict[str, Asset] = field(default_factory=dict)
    relations: dict[str, Relation] = field(default_factory=dict)
    findings: dict[str, Finding] = field(default_factory=dict)

    def add(self, asset: Asset) -> Asset:
        old = self.assets.get(asset.id)
        self.assets[asset.id] = asset if old is None else old.merge(asset)
        return self.assets[asset.id]

    def put(self, asset: Asset) -> None:
        """Add the file's main asset; its own values win over any earlier sighting."""
        old = self.assets.get(asset.id)
        self.assets[asset.id] = asset if old is None else asset.merge(old)

    def relate(self, src: Asset, kind: RelationKind, dst: Asset, ev: Evidence) -> None:
        if src.id == dst.id:
            return
        self.add(dst)
        rel = observe.relate(src, kind, dst, ev)
        self.relations.setdefault(rel.id, rel)

    def all(self) -> list[Observation]:
        return [*self.assets.values(), *self.relations.values(), *self.findings.values()]


class ModelFolderScanner(Scanner):
    """Models and datasets in Hugging Face hub caches and local model folders."""

    name = "model_folders"
    description = (
        "Hugging Face hub caches and local model folders: model ids, revisions, licences, "
        "training datasets and base models from model cards and configs."
    )
    version = "1"
    #: Reads only the head of a card and at most a few MB of JSON itself, so a huge
    #: README elsewhere is never a "too large" error of this scanner.
    streams = True
    max_bytes = 1 << 62

    def accepts(self, path: Path) -> bool:
        """Model configs and cards by name; in a hub cache, top-of-snapshot files and refs."""
        parts = path.parts if "--" in str(path) else ()
        for i in range(len(parts) - 2, -1, -1):
            found = repo_from_folder_name(parts[i])
            if found is None:
                continue
            if parts[i + 1] not in ("snapshots", "refs"):
                return False  # blobs/, .no_exist/ markers: no names, or empty placeholders
            if parts[i + 1] == "refs":
                return len(parts) > i + 2
            if len(parts) != i + 4:
                return False  # a component in a sub-folder of the snapshot
            low = parts[-1].lower()
            if found[0] == "dataset":
                return low in _CARDS
            return found[0] == "model" and (low in _CARDS or low in _JSON_FILES)
        low = path.name.lower()
        return low in _CARDS or low in _JSON_FILES

    def scan(self, target: Target) -> Iterable[Observation]:
        """Yield the model or dataset a file describes, its datasets and base models."""
        path = target.path
        if path is None:
            return []
        ref = hub_ref_from_path(path)
        is_card = path.name.lower() in _CARDS
        if ref is not None and ref.ref is not None:
            limit = _MAX_REF_READ
        elif is_card:
            limit = _MAX_CARD_READ
        else:
            limit = MAX_JSON_BYTES + 1
        data, truncated = _read_head(path, limit)
        if truncated and is_card:
            data = data[: data.rfind(b"\n") + 1]  # whole lines only
        target = replace(target, data=data)
        if ref is not None:
            return self._scan_hub(target, ref, truncated=truncated)
        return self._scan_local(target, path, truncated=truncated)

    # --- evidence -----------------------------------------------------------------
    def _ev(
        self,
        target: Target,
        kind: EvidenceKind,
        detail: str,
        *,
        key: str | None = None,
        line: int | None = None,
    ) -> Evidence:
        return Evidence(
            kind=kind,
            path=target.display_path,
            line=line,
            key=key,
            detail=detail,
            scanner=self.name,
        )

    # --- hub cache ------------------------------------------------------------------
    def _scan_hub(self, target: Target, ref: HubRef, *, truncated: bool) -> list[Observation]:
        if ref.repo_type == "space":
            return []
        repo = read_cached_repo(ref)
        out = _Out()
        fname = (ref.file or "").lower()
        if ref.ref is not None:
            commit = target.text.strip()
            if not is_commit(commit):
                raise TargetError(
                    f"refs/{ref.ref}: holds {commit[:60]!r}, not a 40-hex commit hash", line=1
                )
            where = repo.snapshots.get(commit)
            detail = f"Hugging Face cache: ref {ref.ref} of {ref.repo_id} points to {commit}"
            ev = self._ev(target, EvidenceKind.CONFIG, detail, key=f"refs/{ref.ref}")
            out.put(self._hub_asset(ref, repo, ev, str(where or repo.folder)))
            return out.all()
        is_current = ref.revision is not None and ref.revision == repo.current
        kind = EvidenceKind.DOCUMENTATION if fname in _CARDS else EvidenceKind.CONFIG
        branches = f" ({', '.join(ref.branches)})" if ref.branches else ""
        detail = (
            f"Hugging Face cache: {ref.repo_type} {ref.repo_id} at revision "
            f"{ref.revision}{branches}, {ref.file}"
        )
        ev = self._ev(target, kind, detail)
        snapshot = str(ref.snapshot) if ref.snapshot is not None else str(repo.folder)
        asset = self._hub_asset(ref, repo, ev, snapshot)
        attrs: dict[str, Any] = {}
        if fname in _CARDS:
            card = parse_model_card(target.text, ref.file or "README.md", truncated=truncated)
            if card.has_front_matter:
                attrs.update(card_attributes(card))
            else:
                attrs["license"] = None
            attrs["model_card"] = str(target.path)
            if ref.repo_type == "model":
                self._card_relations(target, card, asset, out, local_folder=None)
                if is_current:
                    self._licence_finding(target, card, asset, out)
        elif fname == _CONFIG:
            cfg = parse_model_config(target.data, _CONFIG)
            attrs.update(self._config_attrs(target, cfg, out, asset, local_folder=None))
        elif fname == _ADAPTER:
            attrs.update(self._adapter_attrs(target, out, asset, local_folder=None))
        elif fname in (_MODULES, _ST_CONFIG):
            attrs.update(self._st_attrs(target, fname))
        elif fname == _MODEL_INDEX:
            attrs.update(self._pipeline_attrs(target))
        if is_current and attrs:
            asset = asset.model_copy(update={"attributes": {**asset.attributes, **attrs}})
        out.put(asset)
        return out.all()

    def _hub_asset(self, ref: HubRef, repo: CachedRepo, ev: Evidence, location: str) -> Asset:
        attrs: dict[str, Any] = {
            "source": "hf-cache",
            "repo_type": ref.repo_type,
            "cache": str(repo.folder),
            "revision": repo.current,
            "revisions": repo.revisions(),
            "refs": dict(repo.refs),
        }
        if ref.repo_type == "dataset":
            base = observe.hub_dataset(ref.repo_id, ev)
        else:
            base = observe.model(ref.repo_id, "huggingface", ev)
        return base.model_copy(
            update={
                "version": repo.current,
                "locations": [location],
                "attributes": {**base.attributes, **attrs},
            }
        )

    # --- local folders ----------------------------------------------------------------
    def _scan_local(self, target: Target, path: Path, *, truncated: bool) -> list[Observation]:
        folder = path.parent
        names = _listdir(folder)
        strong = bool(_DISTINCT & names) or any(_is_weight(n) for n in names)
        fname = path.name.lower()
        out = _Out()
        kind = EvidenceKind.DOCUMENTATION if fname in _CARDS else EvidenceKind.CONFIG
        detail = f"local model folder {folder}: {path.name}"
        ev = self._ev(target, kind, detail)
        asset = observe.local_model(str(folder), evidence=ev)
        attrs: dict[str, Any] = {"source": "local-folder"}
        if fname in _CARDS:
            hf_style = bool(_DISTINCT & names) or self._model_config_beside(folder, names)
            if not (hf_style or strong):
                return []
            card = parse_model_card(target.text, path.name, truncated=truncated)
            attrs.update(card_attributes(card) if card.has_front_matter else {"license": None})
            attrs["model_card"] = str(path)
            self._card_relations(target, card, asset, out, local_folder=folder)
            if hf_style or card.has_front_matter:
                # a plain README beside a stray weight file is more often the project's
                # README than a model card: no finding for it
                self._licence_finding(target, card, asset, out)
        elif fname == _CONFIG:
            try:
                cfg = parse_model_config(target.data, path.name)
            except TargetError:
                if strong:
                    raise
                return []
            if not cfg.is_model:
                return []
            attrs.update(self._config_attrs(target, cfg, out, asset, local_folder=folder))
        elif fname == _ADAPTER:
            adapter = self._adapter_attrs(target, out, asset, local_folder=folder)
            if not adapter:
                return []
            attrs.update(adapter)
        elif fname in (_MODULES, _ST_CONFIG):
            try:
                st = self._st_attrs(target, fname)
            except TargetError:
                if strong or fname == _ST_CONFIG:
                    raise
                return []
            if not st:
                return []
            attrs.update(st)
        elif fname == _MODEL_INDEX:
            pipe = self._pipeline_attrs(target)
            if not pipe:
                return []
            attrs.update(pipe)
        else:
            return []
        parent = _listdir(folder.parent)
        if _MODEL_INDEX in parent or (_MODULES in parent and ({_ST_CONFIG, _CONFIG} & parent)):
            return []  # a component folder of a diffusers pipeline or sentence-transformers model
        out.put(asset.model_copy(update={"attributes": {**asset.attributes, **attrs}}))
        return out.all()

    @staticmethod
    def _model_config_beside(folder: Path, names: frozenset[str]) -> bool:
        if _CONFIG not in names:
            return False
        cfg_path = folder / _CONFIG
        try:
            if cfg_path.stat().st_size > _MAX_SIBLING_CONFIG:
                return False
            data = cfg_path.read_bytes()
        except OSError:
            return False
        try:
            return parse_model_config(data, _CONFIG).is_model
        except TargetError:
            return False

    # --- file kinds -------------------------------------------------------------------
    def _base_asset(self, ref: str, local_folder: Path | None, ev: Evidence) -> Asset | None:
        """The base model named by ``ref``: a Hub model, or (local folders) a local one."""
        s = ref.strip()
        if not s:
            return None
        if local_folder is not None and not s.startswith(("http://", "https://")):
            candidate = Path(os.path.expanduser(s))
            if candidate.is_absolute():
                return observe.local_model(os.path.normpath(candidate), evidence=ev)
            for base in (local_folder, local_folder.parent):
                if (base / candidate).is_dir():
                    return observe.local_model(os.path.normpath(base / candidate), evidence=ev)
            if s.startswith(("./", "../", ".\\", "..\\")):
                return observe.local_model(os.path.normpath(local_folder / candidate), evidence=ev)
        if _plausible_hub_id(s, allow_bare=True):
            return observe.model(s, "huggingface", ev)
        return None

    def _card_relations(
        self,
        target: Target,
        card: ModelCard,
        model: Asset,
        out: _Out,
        *,
        local_folder: Path | None,
    ) -> None:
        line = card.lines.get("datasets")
        for ds in card.datasets:
            if not looks_like_hub_id(ds, allow_bare=True):
                continue
            ev = self._ev(
                target,
                EvidenceKind.DOCUMENTATION,
                f"model card of {model.name} names training dataset {ds}",
                key="datasets",
                line=line,
            )
            out.relate(model, RelationKind.TRAINED_ON, observe.hub_dataset(ds, ev), ev)
        line = card.lines.get("base_model")
        for base in card.base_models:
            ev = self._ev(
                target,
                EvidenceKind.DOCUMENTATION,
                f"model card of {model.name} names base model {base}"
                + (f" ({card.base_model_relation})" if card.base_model_relation else ""),
                key="base_model",
                line=line,
            )
            dst = self._base_asset(base, local_folder, ev)
            if dst is not None:
                out.relate(model, RelationKind.DERIVED_FROM, dst, ev)

    def _licence_finding(self, target: Target, card: ModelCard, model: Asset, out: _Out) -> None:
        if card.declared_license is not None:
            return
        said = f"license: {card.license}" if card.license else "no license key"
        ev = self._ev(
            target,
            EvidenceKind.DOCUMENTATION,
            f"model card of {model.name} declares no licence ({said})",
            key="license",
            line=card.lines.get("license"),
        )
        finding = Finding.new(
            model.id,
            _RULE_NO_LICENCE,
            "Model without a declared licence",
            Severity.LOW,
            fingerprint="model-card",
            description=(
                "The model card declares no licence, so the terms under which the model may "
                "be used, modified or redistributed are unknown. Find the licence at the "
                "model's source and record it in the card before the model is used."
            ),
            evidence=[ev],
        )
        out.findings.setdefault(finding.id, finding)

    def _config_attrs(
        self,
        target: Target,
        cfg: ModelConfig,
        out: _Out,
        model: Asset,
        *,
        local_folder: Path | None,
    ) -> dict[str, Any]:
        if not cfg.is_model:
            return {}
        attrs: dict[str, Any] = {}
        if cfg.architectures:
            attrs["architecture"] = cfg.architectures[0]
            attrs["architectures"] = list(cfg.architectures)
        elif cfg.class_name:
            attrs["architecture"] = cfg.class_name
        optional = {
            "model_type": cfg.model_type,
            "torch_dtype": cfg.torch_dtype,
            "transformers_version": cfg.transformers_version,
            "diffusers_version": cfg.diffusers_version,
        }
        attrs.update({k: v for k, v in optional.items() if v})
        nop = cfg.name_or_path
        hub_base = nop is not None and _plausible_hub_id(nop)
        if nop and (local_folder is not None or hub_base):
            attrs["name_or_path"] = nop
        if nop and hub_base and nop.lower() != model.name.lower():
            ev = self._ev(
                target,
                EvidenceKind.CONFIG,
                f"config.json of {model.name} was saved from {nop} (_name_or_path)",
                key="_name_or_path",
            )
            dst = self._base_asset(nop, local_folder, ev)
            if dst is not None and dst.provider == "huggingface":
                out.relate(model, RelationKind.DERIVED_FROM, dst, ev)
        return attrs

    def _adapter_attrs(
        self, target: Target, out: _Out, model: Asset, *, local_folder: Path | None
    ) -> dict[str, Any]:
        adapter = parse_adapter_config(target.data, _ADAPTER)
        if adapter is None:
            return {}
        peft: dict[str, Any] = {
            k: v
            for k, v in {
                "peft_type": adapter.peft_type,
                "task_type": adapter.task_type,
                "base_model": adapter.base_model,
                "base_revision": adapter.revision,
            }.items()
            if v
        }
        if adapter.base_model:
            ev = self._ev(
                target,
                EvidenceKind.CONFIG,
                f"{adapter.peft_type or 'PEFT'} adapter {model.name} on base model "
                f"{adapter.base_model}",
                key="base_model_name_or_path",
            )
            dst = self._base_asset(adapter.base_model, local_folder, ev)
            if dst is not None:
                out.relate(model, RelationKind.DERIVED_FROM, dst, ev)
        return {"peft": peft, "adapter": True}

    @staticmethod
    def _st_attrs(target: Target, fname: str) -> dict[str, Any]:
        info = parse_sentence_transformers(target.data, fname)
        if info is None:
            return {}
        if fname == _MODULES:
            return {"sentence_transformers_modules": list(info.modules)}
        return {"sentence_transformers_versions": dict(info.versions)}

    @staticmethod
    def _pipeline_attrs(target: Target) -> dict[str, Any]:
        pipe = parse_model_index(target.data, _MODEL_INDEX)
        if pipe is None:
            return {}
        attrs: dict[str, Any] = {"diffusers_components": dict(pipe.components)}
        if pipe.class_name:
            attrs["diffusers_pipeline"] = pipe.class_name
        if pipe.diffusers_version:
            attrs["diffusers_version"] = pipe.diffusers_version
        return attrs
