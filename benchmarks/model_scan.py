"""Model-file scanning: aiposture's throughput and detection beside picklescan (and modelscan
and fickling where present), on the same generated files in the same run.

1. Generates a corpus in ``work``: aiposture's malicious set (written from raw pickle
   opcodes by ``tests/model_fixtures.py``: each trick as a plain pickle, inside PyTorch
   zip and legacy files, joblib files with numpy arrays interleaved, npy, zip, tar, Keras),
   its benign set (numpy, torch state dicts, scikit-learn via joblib, safetensors, ONNX,
   GGUF, written by the real libraries) and a bulk of larger benign files (a few hundred
   files, a few hundred MB).
2. Scans it with aiposture (the real scanner through :class:`Discovery`, a fresh SQLite
   store, one process; and the bare analyser, :func:`inspect_model_file`), with
   picklescan's Python API, with fickling's scanner API when importable, and with the
   ``modelscan`` CLI when one is found (``$MODELSCAN`` or ``/tmp/modelscan-venv``; it pins
   an older ``rich`` than aiposture, so it lives in a venv of its own).
3. Records, per file, which tools flagged it, so the comparison is reproducible.

No tool here loads a scanned file: all of them read pickles statically.

Run alone: ``.venv/bin/python -m benchmarks.model_scan`` (prints the JSON).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
import zipfile
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

_TESTS = Path(__file__).resolve().parents[1] / "tests"


def _fixtures() -> Any:
    if str(_TESTS) not in sys.path:
        sys.path.insert(0, str(_TESTS))
    import model_fixtures

    return model_fixtures


def _bulk(folder: Path, files: int, seed: int = 11) -> list[Path]:
    """Larger benign files of the common formats (a few hundred MB in all)."""
    import joblib
    import numpy as np
    import torch
    from safetensors.numpy import save_file

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    out: list[Path] = []
    for i in range(files):
        rows = int(rng.integers(128, 1024))
        arr = rng.standard_normal((rows, 256), dtype=np.float32)
        kind = i % 6
        if kind == 0:
            p = folder / f"bulk_{i:04d}.pt"
            torch.save({"w": torch.from_numpy(arr), "b": torch.zeros(256)}, p)
        elif kind == 1:
            p = folder / f"bulk_{i:04d}.safetensors"
            save_file({"w": arr, "b": np.zeros(256, dtype=np.float32)}, str(p))
        elif kind == 2:
            p = folder / f"bulk_{i:04d}.joblib"
            joblib.dump({"coef": arr, "intercept": np.zeros(256), "classes": np.arange(3)}, p)
        elif kind == 3:
            p = folder / f"bulk_{i:04d}.npy"
            np.save(p, arr)
        elif kind == 4:
            p = folder / f"bulk_{i:04d}.pkl"
            p.write_bytes(pickle.dumps({"embedding": arr, "vocab": list(range(50))}, protocol=4))
        else:
            p = folder / f"bulk_{i:04d}.bin"
            torch.save({"w": torch.from_numpy(arr)}, p, _use_new_zipfile_serialization=False)
        out.append(p)
    big = rng.standard_normal((10_000, 1_000), dtype=np.float32)  # 40 MB each
    for name, write in (
        ("large_state_dict.pt", lambda p: torch.save({"w": torch.from_numpy(big)}, p)),
        ("large.safetensors", lambda p: save_file({"w": big}, str(p))),
        ("large.joblib", lambda p: joblib.dump({"w": big}, p)),
    ):
        p = folder / name
        write(p)
        out.append(p)
    return out


def _version(dist: str) -> str | None:
    try:
        return version(dist)
    except PackageNotFoundError:
        return None


def _rate(n_files: int, n_bytes: int, seconds: float) -> dict[str, float]:
    return {
        "seconds": round(seconds, 3),
        "files_per_s": round(n_files / seconds, 1),
        "mb_per_s": round(n_bytes / 1e6 / seconds, 1),
    }


# --- the contenders ------------------------------------------------------------------------


def _aiposture(
    corpus: Path, files: list[Path], work: Path
) -> tuple[dict[str, Any], dict[str, str]]:
    from aiposture.discovery.engine import Discovery
    from aiposture.discovery.model_formats import ModelFormatError, inspect_model_file
    from aiposture.discovery.registry import ScannerRegistry
    from aiposture.discovery.scanners.model_files import ModelFileScanner
    from aiposture.store import open_store

    reg = ScannerRegistry()
    reg.register(ModelFileScanner)
    db = work / "model_scan.db"
    if db.exists():
        db.unlink()
    with open_store(f"sqlite:///{db}") as store:
        t0 = time.perf_counter()
        run = Discovery(store, registry=reg, workers=1).run([corpus], progress=False)
        engine_s = time.perf_counter() - t0
        flagged_paths = {
            loc
            for f in store.findings()
            if f.rule_id == "AIP-MODEL-001"
            for loc in store.asset(f.asset_id).locations
        }
    errors = {e.path for e in run.errors}
    verdict: dict[str, str] = {}
    for p in files:
        s = str(p)
        verdict[p.name] = "flagged" if s in flagged_paths else "error" if s in errors else "clean"
    t0 = time.perf_counter()
    for p in files:
        with contextlib.suppress(ModelFormatError):
            inspect_model_file(p)
    bare_s = time.perf_counter() - t0
    total = sum(p.stat().st_size for p in files)
    return (
        {
            "version": _version("aiposture"),
            "through_discovery": {
                **_rate(len(files), total, engine_s),
                "what": "Discovery + ModelFileScanner, one process, SQLite store: walk, "
                "SHA-256 of every file, format detection, static analysis, store writes",
                "files_scanned": run.counts.files_scanned,
                "errors": len(run.errors),
            },
            "analyser_only": {
                **_rate(len(files), total, bare_s),
                "what": "inspect_model_file on each file (no hashing, no store)",
            },
        },
        verdict,
    )


def _picklescan(files: list[Path]) -> tuple[dict[str, Any], dict[str, str]] | None:
    try:
        from picklescan.scanner import scan_file_path
    except ImportError:
        return None
    import logging

    logging.getLogger("picklescan").setLevel(logging.CRITICAL)
    verdict: dict[str, str] = {}
    t0 = time.perf_counter()
    for p in files:
        try:
            sr = scan_file_path(str(p))
        except Exception:
            verdict[p.name] = "error"
            continue
        if sr.infected_files or sr.issues_count:
            verdict[p.name] = "flagged"
        elif sr.scan_err:
            verdict[p.name] = "error"
        else:
            verdict[p.name] = "clean"
    seconds = time.perf_counter() - t0
    total = sum(p.stat().st_size for p in files)
    return {"version": _version("picklescan"), **_rate(len(files), total, seconds)}, verdict


def _fickling(
    files: list[Path],
) -> tuple[dict[str, Any], dict[str, str], dict[str, str]] | None:
    """fickling's scanner API; two verdicts: any severity above LIKELY_SAFE (its own
    ``is_safe``), and only LIKELY_OVERTLY_MALICIOUS or worse."""
    try:
        from fickling.analysis import Severity
        from fickling.loader import scan_file, scan_zip_archive
    except ImportError:
        return None
    strict: dict[str, str] = {}
    overt: dict[str, str] = {}
    t0 = time.perf_counter()
    for p in files:
        try:
            with contextlib.redirect_stdout(io.StringIO()):  # it prints warnings to stdout
                results = _fickling_one(p, scan_file, scan_zip_archive)
        except Exception:
            strict[p.name] = overt[p.name] = "error"
            continue
        worst = max((r.severity for r in results), default=Severity.LIKELY_SAFE)
        errors = any(r.errors for r in results)
        strict[p.name] = (
            "flagged" if worst > Severity.LIKELY_SAFE else "error" if errors else "clean"
        )
        overt[p.name] = (
            "flagged"
            if worst >= Severity.LIKELY_OVERTLY_MALICIOUS
            else "error"
            if errors
            else "clean"
        )
    seconds = time.perf_counter() - t0
    total = sum(p.stat().st_size for p in files)
    stats = {"version": _version("fickling"), **_rate(len(files), total, seconds)}
    return stats, strict, overt


def _fickling_one(p: Path, scan_file: Any, scan_zip_archive: Any) -> list[Any]:
    if zipfile.is_zipfile(p):
        return list(scan_zip_archive(str(p), graceful=True).values())
    return [scan_file(str(p), graceful=True)]


def _modelscan_cli() -> str | None:
    venv = Path(tempfile.gettempdir()) / "modelscan-venv" / "bin" / "modelscan"
    for cand in (os.environ.get("MODELSCAN"), str(venv)):
        if cand and Path(cand).exists():
            return cand
    return shutil.which("modelscan")


def _modelscan(
    corpus: Path, files: list[Path], work: Path
) -> tuple[dict[str, Any], dict[str, str]] | None:
    cli = _modelscan_cli()
    if cli is None:
        return None
    out = work / "modelscan.json"
    t0 = time.perf_counter()
    proc = subprocess.run(
        [cli, "-p", str(corpus), "-r", "json", "-o", str(out)],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    seconds = time.perf_counter() - t0
    if not out.exists():
        return {"error": proc.stderr[-500:]}, {}
    report = json.loads(out.read_text())
    by_name = {p.relative_to(corpus).as_posix(): p.name for p in files}

    def name_of(source: str) -> str | None:
        rel = source.split(":", 1)[0]
        return by_name.get(rel) or by_name.get(Path(rel).name) or Path(rel).name

    flagged = {name_of(i["source"]) for i in report.get("issues", [])}
    errored = {name_of(e.get("source", "")) for e in report.get("errors", [])}
    scanned = {
        name_of(s) for s in report.get("summary", {}).get("scanned", {}).get("scanned_files", [])
    }
    verdict = {}
    for p in files:
        verdict[p.name] = (
            "flagged"
            if p.name in flagged
            else "error"
            if p.name in errored
            else "clean"
            if p.name in scanned
            else "skipped"
        )
    version_out = subprocess.run([cli, "-v"], capture_output=True, text=True, check=False)
    total = sum(p.stat().st_size for p in files)
    return (
        {
            "version": version_out.stdout.strip().split()[-1] if version_out.stdout else None,
            **_rate(len(files), total, seconds),
            "note": "one CLI run over the corpus folder (process start included), in its own venv",
        },
        verdict,
    )


# --- the run -------------------------------------------------------------------------------


def run(work: Path, *, bulk_files: int = 240) -> dict[str, Any]:
    """Generate the corpus in ``work``, scan it with every tool, compare.

    Args:
        work: A scratch folder (the corpus, about 400 MB, is written there).
        bulk_files: How many larger benign files to add to the fixed sets.
    """
    warnings.filterwarnings("ignore")
    fx = _fixtures()
    corpus = work / "corpus"
    if corpus.exists():
        shutil.rmtree(corpus)
    t0 = time.perf_counter()
    malicious = fx.write_malicious(corpus / "malicious")
    benign = fx.write_benign(corpus / "benign")
    bulk = _bulk(corpus / "bulk", bulk_files)
    gen_s = time.perf_counter() - t0
    files = [s.path for s in malicious] + [s.path for s in benign] + bulk
    total = sum(p.stat().st_size for p in files)
    for p in files:  # warm the page cache for every contender alike
        with open(p, "rb") as fh:
            while fh.read(1 << 22):
                pass

    tools: dict[str, Any] = {}
    verdicts: dict[str, dict[str, str]] = {}
    stats, verdicts["aiposture"] = _aiposture(corpus, files, work)
    tools["aiposture"] = stats
    for name, fn in (
        ("picklescan", lambda: _picklescan(files)),
        ("modelscan", lambda: _modelscan(corpus, files, work)),
    ):
        res = fn()
        if res is None:
            tools[name] = {"available": False}
            continue
        tools[name], verdicts[name] = res
    fk = _fickling(files)
    if fk is None:
        tools["fickling"] = {"available": False}
    else:
        tools["fickling"], verdicts["fickling"], verdicts["fickling_overtly_malicious"] = fk

    per_file = []
    for s in malicious:
        per_file.append(
            {
                "file": s.path.name,
                "set": "malicious",
                "kind": s.kind,
                "offending": sorted(s.offending),
                **{t: v.get(s.path.name) for t, v in verdicts.items()},
            }
        )
    for s in benign:
        per_file.append(
            {
                "file": s.path.name,
                "set": "benign",
                "kind": s.kind,
                **{t: v.get(s.path.name) for t, v in verdicts.items()},
            }
        )
    summary: dict[str, Any] = {}
    for tool, v in verdicts.items():
        if not v:
            continue
        missed = [s.path.name for s in malicious if v.get(s.path.name) != "flagged"]
        false_alarms = [
            p.name for p in [s.path for s in benign] + bulk if v.get(p.name) == "flagged"
        ]
        errors = [p.name for p in [s.path for s in benign] + bulk if v.get(p.name) == "error"]
        summary[tool] = {
            "malicious_flagged": f"{len(malicious) - len(missed)}/{len(malicious)}",
            "missed": missed,
            "benign_flagged": f"{len(false_alarms)}/{len(benign) + len(bulk)}",
            "false_alarms": false_alarms,
            "benign_errors": errors,
        }
    return {
        "name": "model_file_scan",
        "corpus": {
            "files": len(files),
            "bytes": total,
            "malicious": len(malicious),
            "benign": len(benign),
            "bulk_benign": len(bulk),
            "generate_seconds": round(gen_s, 1),
        },
        "tools": tools,
        "detection": summary,
        "per_file": per_file,
        "python": sys.version.split()[0],
    }


def main() -> None:
    """Run in a temporary folder and print the JSON."""
    with tempfile.TemporaryDirectory(prefix="aiposture-model-bench-") as tmp:
        print(json.dumps(run(Path(tmp)), indent=2))


if __name__ == "__main__":
    main()
