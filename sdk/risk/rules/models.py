"""Rules on model artefacts: unsafe deserialization, file permissions, formats.

They read the facts the model-file scanner records on ``model_file`` assets
(``format``, ``unsafe``, ``unsafe_globals``, ``world_readable``, ``world_writable``,
``extension_mismatch``) and the graph around them (the application that contains a file,
the model it belongs to, that model's training data).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from aiposture.models import Asset, AssetKind, Finding, RelationKind, Severity
from aiposture.risk.base import Rule
from aiposture.risk.graph import EstateGraph
from aiposture.risk.rules._common import (
    CONFIDENTIAL,
    RESTRICTED,
    attr_bool,
    attr_list,
    attr_str,
    bump,
    cap,
    context,
    label,
    pick_evidence,
    sensitivity_rank,
)

__all__ = [
    "ModelFileExtensionMismatch",
    "PickleModelInProduction",
    "UnsafeModelDeserialization",
    "WorldReadableSensitiveWeights",
    "WorldWritableModelFile",
]

#: Formats whose loading unpickles (runs whatever the file says) by design.
PICKLE_FORMATS = frozenset(
    {"pickle", "joblib", "pytorch-zip", "pytorch-legacy", "torchscript", "torchserve-mar"}
)
_MODEL_FILE = frozenset({AssetKind.MODEL_FILE})


def _format(asset: Asset) -> str:
    return (attr_str(asset, "format") or "").casefold()


def _runs_code(asset: Asset) -> bool:
    """The file's format unpickles, or the scanner found code that loading runs."""
    return (
        _format(asset) in PICKLE_FORMATS
        or attr_bool(asset, "unsafe") is True
        or bool(attr_list(asset, "unsafe_globals"))
    )


def _normal_tag(tag: str) -> str:
    """``cwe:CWE-502`` (as some scanners write it) as ``cwe:502``."""
    head, _, item = tag.partition(":")
    if head == "cwe" and item.upper().startswith("CWE-"):
        return f"cwe:{item[4:]}"
    return tag


def _grade(name: str) -> Severity:
    """Severity of one unsafe global name (``posix.system``) from the shipped allowlist."""
    from aiposture.discovery.pickle_safety import load_safe_globals

    module, dot, attr = name.rpartition(".")
    if not dot or not module or not attr:
        return Severity.HIGH
    try:
        return load_safe_globals().severity(module, attr)
    except Exception:  # a broken data file must not stop the rule
        return Severity.HIGH


class UnsafeModelDeserialization(Rule):
    """A model file whose loading runs code (the scanner's ``AIP-MODEL-001``, re-emitted)."""

    id: ClassVar[str] = "AIP-MODEL-001"
    title: ClassVar[str] = "Unsafe deserialization: loading the model file runs code"
    rationale: ClassVar[str] = (
        "The file imports or runs callables that are not plain data (os.system, eval, a Keras "
        "Lambda layer...): whoever loads it with pickle, torch.load or joblib.load runs that "
        "code with the loader's rights. Planted model files are a known supply-chain attack."
    )
    severity: ClassVar[Severity] = Severity.HIGH
    remediation: ClassVar[str] = (
        "Do not load the file. Get the model from its publisher in a format that holds only "
        "tensors (safetensors, GGUF, ONNX), or load it with torch.load(weights_only=True) "
        "after checking its origin, and delete the untrusted copy."
    )
    frameworks: ClassVar[tuple[str, ...]] = (
        "owasp-llm:LLM03",
        "owasp-llm:LLM04",
        "atlas:AML.T0010.003",
        "atlas:AML.T0011.000",
        "cwe:502",
        "nist-ai-rmf:MEASURE-2.7",
    )
    kinds: ClassVar[frozenset[AssetKind]] = _MODEL_FILE

    def evaluate(self, asset: Asset, graph: EstateGraph) -> Iterator[Finding]:
        """Mirror the scanner's finding (same id); build it from the attributes without one.

        The fingerprint is the scanner's: the sorted unsafe names joined by commas, so a
        rule finding and a scanner finding on the same file are one finding.
        """
        mirrored = False
        for f in graph.findings_for(asset.id, active=False):
            if f.rule_id != self.id or f.stale:
                continue
            mirrored = True
            yield self.finding(
                asset,
                fingerprint=f.fingerprint,
                title=f.title,
                severity=f.severity,
                description=f.description,
                evidence=f.evidence,
                tags=[_normal_tag(t) for t in f.tags],
            )
        if mirrored:
            return
        names = list(dict.fromkeys(attr_list(asset, "unsafe_globals")))
        if not names:
            return
        severity = max((_grade(n) for n in names), key=lambda s: s.rank)
        shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        yield self.finding(
            asset,
            fingerprint=",".join(sorted(names))[:1000],
            title=f"Unsafe deserialization: loading {asset.name} runs code ({shown})"[:300],
            severity=severity,
            description=(
                f"Loading this {_format(asset) or 'model'} file imports or runs "
                f"{', '.join(names[:20])}. {self.rationale}"
            ),
            evidence=pick_evidence(asset.evidence),
        )


class WorldWritableModelFile(Rule):
    """A model file any local user can overwrite."""

    id: ClassVar[str] = "AIP-MODEL-002"
    title: ClassVar[str] = "Model file writable by every local user"
    rationale: ClassVar[str] = (
        "Anyone with an account on the machine can replace the weights: a backdoored model "
        "behaves normally except on the attacker's trigger, and a replaced pickle-based file "
        "runs the attacker's code in every process that loads it."
    )
    severity: ClassVar[Severity] = Severity.MEDIUM
    remediation: ClassVar[str] = (
        "Remove write permission for others (chmod o-w), keep model files owned by the "
        "service account that deploys them, and verify their SHA-256 before loading."
    )
    frameworks: ClassVar[tuple[str, ...]] = (
        "owasp-llm:LLM03",
        "owasp-llm:LLM04",
        "atlas:AML.T0018",
        "atlas:AML.T0010.003",
        "cwe:732",
        "nist-ai-rmf:MEASURE-2.7",
    )
    kinds: ClassVar[frozenset[AssetKind]] = _MODEL_FILE

    def evaluate(self, asset: Asset, graph: EstateGraph) -> Iterator[Finding]:
        """One finding when ``world_writable`` is set; higher for code-carrying formats and
        for files of production, customer-facing or critical applications."""
        if attr_bool(asset, "world_writable") is not True:
            return
        severity = self.severity
        why = []
        if _runs_code(asset):
            severity = bump(severity)
            why.append(f"its format ({_format(asset) or 'pickle'}) runs code when loaded")
        ctx = context(graph, asset)
        if ctx.exposed:
            severity = bump(severity)
            why.append(ctx.explain())
        mode = attr_str(asset, "mode")
        yield self.finding(
            asset,
            severity=severity,
            title=f"Model file {asset.name} is writable by every local user"
            + (f" (mode {mode})" if mode else ""),
            description=self.rationale + (f" Severity raised: {'; '.join(why)}." if why else ""),
            evidence=pick_evidence(asset.evidence),
        )


def _weights_sensitivity(graph: EstateGraph, asset: Asset) -> int:
    """Highest sensitivity of the file, the models that contain it, and their training data."""
    rank = sensitivity_rank(asset)
    for n in graph.into(asset.id, RelationKind.CONTAINS):
        if n.asset.kind is not AssetKind.MODEL:
            continue
        rank = max(rank, sensitivity_rank(n.asset))
        for d in graph.out(n.asset.id, RelationKind.TRAINED_ON):
            rank = max(rank, sensitivity_rank(d.asset))
    return rank


class WorldReadableSensitiveWeights(Rule):
    """Weights of a model that learned confidential data, readable by every local user."""

    id: ClassVar[str] = "AIP-MODEL-003"
    title: ClassVar[str] = "Weights of a sensitive model readable by every local user"
    rationale: ClassVar[str] = (
        "A model trained on confidential or restricted data carries that data in its "
        "weights: with a copy, an attacker can extract memorised records or invert the model "
        "offline, with no rate limit or monitoring in the way."
    )
    severity: ClassVar[Severity] = Severity.MEDIUM
    remediation: ClassVar[str] = (
        "Remove read permission for others (chmod o-r), store the weights where only the "
        "serving account can read them, and encrypt them at rest."
    )
    frameworks: ClassVar[tuple[str, ...]] = (
        "owasp-llm:LLM02",
        "atlas:AML.T0025",
        "atlas:AML.T0024.001",
        "cwe:732",
        "nist-ai-rmf:MEASURE-2.10",
    )
    kinds: ClassVar[frozenset[AssetKind]] = _MODEL_FILE

    def evaluate(self, asset: Asset, graph: EstateGraph) -> Iterator[Finding]:
        """One finding when ``world_readable`` is set and the weights are confidential or
        restricted (the file's own classification or its model's training data)."""
        if attr_bool(asset, "world_readable") is not True:
            return
        rank = _weights_sensitivity(graph, asset)
        if rank < CONFIDENTIAL:
            return
        level = "restricted" if rank >= RESTRICTED else "confidential"
        yield self.finding(
            asset,
            severity=Severity.HIGH if rank >= RESTRICTED else self.severity,
            title=f"Weights in {asset.name} ({level} data) are readable by every local user",
            evidence=pick_evidence(asset.evidence),
        )


class PickleModelInProduction(Rule):
    """A pickle-based model file serving production."""

    id: ClassVar[str] = "AIP-MODEL-004"
    title: ClassVar[str] = "Pickle-based model file used in production"
    rationale: ClassVar[str] = (
        "Pickle-based formats (pickle, joblib, PyTorch .pt/.bin) run code when loaded: today's "
        "file may be clean, but one substituted file in the deployment path runs code in "
        "production. Formats that hold only tensors remove that class of attack."
    )
    severity: ClassVar[Severity] = Severity.LOW
    remediation: ClassVar[str] = (
        "Convert the model to safetensors (or ONNX, GGUF) and load it with a loader that "
        "cannot run code; until then load PyTorch files with torch.load(weights_only=True)."
    )
    frameworks: ClassVar[tuple[str, ...]] = (
        "owasp-llm:LLM03",
        "atlas:AML.T0011.000",
        "cwe:502",
        "nist-ai-rmf:MEASURE-2.7",
    )
    kinds: ClassVar[frozenset[AssetKind]] = _MODEL_FILE

    def evaluate(self, asset: Asset, graph: EstateGraph) -> Iterator[Finding]:
        """One finding for a pickle-based file (with no unsafe import: that is
        ``AIP-MODEL-001``) in a production, customer-facing or critical context."""
        if _format(asset) not in PICKLE_FORMATS:
            return
        if attr_bool(asset, "unsafe") is True or attr_list(asset, "unsafe_globals"):
            return
        ctx = context(graph, asset)
        if not ctx.exposed:
            return
        severity = bump(self.severity) if (ctx.customer_facing or ctx.critical) else self.severity
        yield self.finding(
            asset,
            severity=severity,
            title=f"Pickle-based model file {asset.name} ({_format(asset)}) used in production",
            description=f"{self.rationale} Context: {ctx.explain()}.",
            evidence=pick_evidence(asset.evidence),
        )


class ModelFileExtensionMismatch(Rule):
    """A model file whose name claims another format than its bytes."""

    id: ClassVar[str] = "AIP-MODEL-005"
    title: ClassVar[str] = "Model file extension does not match its format"
    rationale: ClassVar[str] = (
        "The file's bytes are not the format its extension announces. Tools and people pick "
        "a loader by extension, so a pickle named .safetensors or .onnx gets past reviews "
        "that trust the name; a disguised file is a sign of tampering."
    )
    severity: ClassVar[Severity] = Severity.MEDIUM
    remediation: ClassVar[str] = (
        "Find out where the file came from; replace it with a copy from its publisher, named "
        "for its real format, and do not load it until then."
    )
    frameworks: ClassVar[tuple[str, ...]] = (
        "owasp-llm:LLM03",
        "atlas:AML.T0011.000",
        "atlas:AML.T0010.003",
        "cwe:646",
        "nist-ai-rmf:MEASURE-2.7",
    )
    kinds: ClassVar[frozenset[AssetKind]] = _MODEL_FILE

    def evaluate(self, asset: Asset, graph: EstateGraph) -> Iterator[Finding]:
        """One finding when ``extension_mismatch`` is set; high when the real format runs
        code on load."""
        if attr_bool(asset, "extension_mismatch") is not True:
            return
        ext = attr_str(asset, "extension") or "its extension"
        fmt = _format(asset) or "another format"
        yield self.finding(
            asset,
            severity=Severity.HIGH if _runs_code(asset) else self.severity,
            title=f"{cap(label(asset))} is named {ext} but holds {fmt}",
            evidence=pick_evidence(asset.evidence),
        )
