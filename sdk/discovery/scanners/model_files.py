"""The model file scanner: model artefacts on disk, and whether loading them runs code.

Accepts files by the names model files usually have (``.pt``, ``.pth``, ``.bin``,
``.ckpt``, ``.pkl``, ``.joblib``, ``.safetensors``, ``.gguf``, ``.onnx``, ``.h5``,
``.keras``, ``.tflite``, ``.pb``, ``.npy``, ``.npz``, ``.mar`` and zip and tar archives),
then decides the format from the bytes (:mod:`aiposture.discovery.model_formats`): an
extension often lies, and a mismatch is recorded as ``extension_mismatch``.

Each model file is a ``model_file`` asset identified by its SHA-256 (the same bytes at
two paths are one asset), with its size, format and framework, file mode facts
(``world_readable``, ``world_writable``), the archive members analysed, tensor counts and
dtypes for safetensors and GGUF, and the globals its pickles import. The project's
application ``contains`` it. A file whose loading runs code (a pickle importing a global
that is not on the allowlist, a Keras ``Lambda`` layer carrying bytecode) gets an
``AIP-MODEL-001`` finding naming what runs. Nothing is ever loaded: see
:mod:`aiposture.discovery.pickle_safety`.

Names the scanner does not take: ``.model`` (SentencePiece tokenizers and gensim
pickles share it; the bytes would tell them apart, but a tokenizer in every Hugging
Face folder would be a recorded error), ``.msgpack`` and ``.nemo``.
"""

from __future__ import annotations

import hashlib
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import ClassVar

from aiposture.discovery import observe
from aiposture.discovery.base import Observation, Scanner, Target, TargetError
from aiposture.discovery.model_formats import (
    ModelFormatError,
    ModelReport,
    inspect_model_file,
)
from aiposture.models import Asset, Evidence, EvidenceKind, Finding, RelationKind, Severity

__all__ = ["EXPECTED_FORMATS", "RULE_UNSAFE_DESERIALIZATION", "ModelFileScanner"]

RULE_UNSAFE_DESERIALIZATION = "AIP-MODEL-001"

_PICKLE = frozenset({"pickle", "joblib"})
_TORCH = frozenset({"pytorch-zip", "pytorch-legacy", "torchscript"})

#: Formats each extension is expected to hold; anything else is an extension mismatch.
#: Archives (``.zip``, ``.tar``...) may hold anything.
EXPECTED_FORMATS: dict[str, frozenset[str] | None] = {
    ".pt": _TORCH,
    ".pth": _TORCH,
    ".ckpt": _TORCH,
    ".bin": _TORCH | {"ggml", "gguf"},
    ".pkl": _PICKLE,
    ".pickle": _PICKLE,
    ".pck": _PICKLE,
    ".sav": _PICKLE,
    ".dill": _PICKLE,
    ".joblib": _PICKLE,
    ".h5": frozenset({"hdf5"}),
    ".hdf5": frozenset({"hdf5"}),
    ".keras": frozenset({"keras"}),
    ".onnx": frozenset({"onnx"}),
    ".safetensors": frozenset({"safetensors"}),
    ".gguf": frozenset({"gguf"}),
    ".tflite": frozenset({"tflite"}),
    ".pb": frozenset({"tf-savedmodel", "tf-graphdef"}),
    ".npy": frozenset({"numpy"}),
    ".npz": frozenset({"npz"}),
    ".mar": frozenset({"torchserve-mar"}),
    ".zip": None,
    ".tar": None,
    ".tgz": None,
    ".tar.gz": None,
    ".tar.bz2": None,
    ".tar.xz": None,
    ".pkl.gz": _PICKLE,
    ".pkl.bz2": _PICKLE,
    ".pkl.xz": _PICKLE,
    ".pkl.z": _PICKLE,
    ".pkl.lz4": _PICKLE,
    ".joblib.gz": _PICKLE,
    ".joblib.z": _PICKLE,
}

_TAGS = ["owasp-llm:LLM03", "atlas:AML.T0010", "atlas:AML.T0011.000", "cwe:502"]
_MAX_EVIDENCE = 20
_MAX_LISTED = 100


def _suffix(path: Path) -> str | None:
    name = path.name.lower()
    best: str | None = None
    for ext in EXPECTED_FORMATS:
        if name.endswith(ext) and len(name) > len(ext) and (best is None or len(ext) > len(best)):
            best = ext
    return best


class ModelFileScanner(Scanner):
    """Model artefacts (pickle, PyTorch, joblib, safetensors, GGUF, ONNX, Keras...) and
    whether loading them runs code."""

    name: ClassVar[str] = "model_files"
    description: ClassVar[str] = (
        "Model files by their bytes (pickle, PyTorch, joblib, safetensors, GGUF, ONNX, Keras, "
        "TFLite, archives), with a static check of what loading them would run."
    )
    version: ClassVar[str] = "1"
    max_bytes: ClassVar[int] = 1 << 40
    streams: ClassVar[bool] = True

    def accepts(self, path: Path) -> bool:
        """Whether ``path`` has a name model files have."""
        return _suffix(path) is not None

    def scan(self, target: Target) -> Iterable[Observation]:
        """Yield the model file, its application's ``contains`` relation and any finding.

        Raises:
            TargetError: The bytes are no known model format, or the file is truncated,
                corrupt, lies in its header or exceeds a limit (anything unsafe found
                before the error is yielded first).
        """
        path = target.path
        if path is None:
            raise TargetError("model file target without a path")
        try:
            if path.stat().st_size == 0:
                return  # an empty placeholder holds no model (the scanner contract)
        except OSError as exc:
            raise TargetError(f"cannot read: {exc.strerror or exc}") from None
        try:
            report = inspect_model_file(path)
        except ModelFormatError as exc:
            if exc.partial is not None and exc.partial.unsafe:
                yield from self._observe(target, path, exc.partial)
            raise TargetError(exc.reason) from None
        if report.is_model:
            yield from self._observe(target, path, report)

    # -- observations ------------------------------------------------------------------
    def _observe(self, target: Target, path: Path, report: ModelReport) -> Iterator[Observation]:
        sha256 = target.extra.get("sha256") or ""
        size = int(target.extra.get("size") or 0)
        if not sha256:
            sha256 = _sha256(path)
        if not size:
            size = path.stat().st_size
        where = target.display_path
        detail = _detail(report)
        evidence = Evidence(kind=EvidenceKind.FILE, path=where, scanner=self.name, detail=detail)
        asset = observe.model_file(
            str(path),
            sha256=sha256,
            size=size,
            fmt=report.format,
            framework=report.framework,
            evidence=evidence,
        )
        attrs = dict(asset.attributes)
        attrs.update(_attributes(path, report))
        asset = asset.model_copy(update={"attributes": attrs})
        yield asset
        app = observe.application(target)
        yield app
        yield observe.relate(app, RelationKind.CONTAINS, asset, evidence)
        if report.unsafe:
            yield _finding(asset, report, where, self.name)


def _sha256(path: Path) -> str:
    """SHA-256 of a whole file in 1 MiB pieces (the engine passes it; direct callers may not)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _detail(report: ModelReport) -> str:
    parts = [report.format]
    if report.framework:
        parts.append(report.framework)
    if report.members:
        parts.append(f"{len(report.members)} members analysed")
    if report.unsafe:
        parts.append(f"unsafe: {', '.join(dict.fromkeys(u.name for u in report.unsafe))}")
    return "; ".join(parts)[:500]


def _attributes(path: Path, report: ModelReport) -> dict[str, object]:
    attrs: dict[str, object] = {}
    for key, value in report.attributes.items():
        if key == "member_formats" and isinstance(value, dict):
            attrs[key] = dict(list(value.items())[:_MAX_LISTED])
        else:
            attrs[key] = value
    ext = _suffix(path)
    attrs["extension"] = ext
    expected = EXPECTED_FORMATS.get(ext) if ext else None
    attrs["extension_mismatch"] = expected is not None and report.format not in expected
    try:
        mode = path.stat().st_mode
    except OSError:
        mode = None
    if mode is not None:
        attrs["mode"] = oct(stat.S_IMODE(mode))
        attrs["world_readable"] = bool(mode & stat.S_IROTH)
        attrs["world_writable"] = bool(mode & stat.S_IWOTH)
    if report.members:
        attrs["members_analysed"] = report.members[:_MAX_LISTED]
    if report.globals:
        attrs["globals"] = report.globals[:_MAX_LISTED]
    attrs["unsafe"] = bool(report.unsafe)
    if report.unsafe:
        attrs["unsafe_globals"] = list(dict.fromkeys(u.name for u in report.unsafe))[:_MAX_LISTED]
    return attrs


def _finding(asset: Asset, report: ModelReport, where: str, scanner: str) -> Finding:
    names = list(dict.fromkeys(u.name for u in report.unsafe))
    severity = report.severity or Severity.HIGH
    shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    title = f"Unsafe deserialization: loading {asset.name} runs code ({shown})"
    description = (
        f"Loading this {report.format} file "
        + ("with pickle, torch.load or joblib.load " if report.globals else "")
        + f"imports or runs {', '.join(names[:20])}: "
        "anyone who could write the file can run code on the machine that loads it. "
        "None of these is on aiposture's allowlist of safe globals. Do not load it; get the "
        "model from its publisher as safetensors (or load with torch.load(weights_only=True)"
        " after checking its origin)."
    )
    evidence = [
        Evidence(
            kind=EvidenceKind.FILE,
            path=where,
            key=u.where,
            detail=f"{u.name} ({u.severity.value}): {u.reason}"[:500],
            scanner=scanner,
        )
        for u in report.unsafe[:_MAX_EVIDENCE]
    ]
    return Finding.new(
        asset.id,
        RULE_UNSAFE_DESERIALIZATION,
        title[:300],
        severity,
        fingerprint=",".join(sorted(names))[:1000],
        description=description,
        tags=list(_TAGS),
        evidence=evidence,
    )
