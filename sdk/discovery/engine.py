"""The discovery engine: walk the roots, run the scanners, hand the results to the store.

One run:

1. walks every root (iteratively, so depth is no problem), skipping virtual
   environments, VCS folders and caches, detecting symlink loops;
2. for each regular file some scanner accepts, compares size and mtime with
   what the store remembers; unchanged files are not read again, and their
   earlier sightings stay active;
3. reads changed files once (up to the largest ``max_bytes`` of the
   scanners that want them), hashes them (a touched but identical file is
   still unchanged), runs each accepting scanner on the bytes, and records
   any failure as a :class:`~aiposture.models.ScanIssue` naming the file,
   the scanner and the reason;
4. marks files that disappeared from a root as gone, so what was seen only
   there goes stale;
5. sends the results to the store in batches, each one transaction.

A file some scanner failed on keeps its earlier sightings (nothing stored
before is lost) and is not remembered as scanned, so the next run retries it.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import sys
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tqdm.auto import tqdm

from aiposture.discovery.base import Observation, Scanner, Target, TargetError, TargetKind
from aiposture.discovery.registry import ScannerRegistry, default_registry
from aiposture.errors import ScanError
from aiposture.models import ScanIssue, ScanRun, ScanStatus, utcnow
from aiposture.store.base import FileState, SourceUpdate, Store

__all__ = ["DEFAULT_EXCLUDES", "PROJECT_MARKERS", "Discovery"]

#: Folder names never descended into.
DEFAULT_EXCLUDES: frozenset[str] = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        "__pycache__",
        ".ipynb_checkpoints",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".tox",
        ".nox",
        "node_modules",
        "site-packages",
        "dist-packages",
        ".venv",
        "venv",
        ".aiposture",
    }
)

#: A folder holding one of these is a project (an application asset).
PROJECT_MARKERS: tuple[str, ...] = (
    "pyproject.toml",
    "setup.py",
    "setup.cfg",
    "requirements.txt",
    "Pipfile",
    "package.json",
    "environment.yml",
    "environment.yaml",
    ".git",
)

_BATCH = 200


@dataclass
class _Walked:
    files: list[tuple[Path, os.stat_result]] = field(default_factory=list)
    issues: list[ScanIssue] = field(default_factory=list)


class Discovery:
    """Runs scanners over roots and keeps the store's inventory in step.

    Args:
        store: Where results go.
        registry: Scanners to choose from (the built-in registry by default).
        actor: Who runs the scan, for the audit log.
        excludes: Folder names never descended into.
    """

    def __init__(
        self,
        store: Store,
        *,
        registry: ScannerRegistry | None = None,
        actor: str = "aiposture",
        excludes: Iterable[str] = DEFAULT_EXCLUDES,
    ) -> None:
        self.store = store
        self.registry = registry or default_registry()
        self.actor = actor
        self.excludes = frozenset(excludes)
        self._projects: dict[Path, Path | None] = {}

    # -- public ------------------------------------------------------------
    def run(
        self,
        roots: Sequence[str | os.PathLike[str]],
        *,
        logs: Sequence[str | os.PathLike[str]] = (),
        environment: bool | Sequence[str] = False,
        scanners: Sequence[str] | None = None,
        progress: bool = True,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> ScanRun:
        """Scan ``roots`` (and ``logs``, and the Python environment if asked).

        Args:
            roots: Folders or files to scan.
            logs: Log files for log scanners (egress logs and the like).
            environment: ``True`` to scan the running interpreter's installed
                packages, or a list of site-packages folders to scan instead.
            scanners: Names of the scanners to run (all by default).
            progress: Show a progress bar on stderr.
            on_progress: Called with (done, total) after each file.

        Returns:
            The finished scan run, as stored.

        Raises:
            ScanError: A root or log file does not exist, or nothing to scan.
            ConfigError: An unknown scanner name.
        """
        chosen = self.registry.create(list(scanners) if scanners is not None else None)
        root_paths = [_absolute(r) for r in roots]
        log_paths = [_absolute(p) for p in logs]
        for p in [*root_paths, *log_paths]:
            if not p.exists():
                raise ScanError(f"no such file or folder: {p}")
        if not root_paths and not log_paths and not environment:
            raise ScanError("nothing to scan: give at least one path, log file or environment")

        run = ScanRun(
            id=f"scan-{utcnow():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}",
            roots=[str(p) for p in root_paths],
            logs=[str(p) for p in log_paths],
            scanners=[s.name for s in chosen],
        )
        self.store.save_scan(run)
        self._projects.clear()
        try:
            self._run(run, chosen, root_paths, log_paths, environment, progress, on_progress)
        except BaseException as exc:
            run.status = ScanStatus.FAILED
            run.finished_at = utcnow()
            run.errors.append(ScanIssue(path="", reason=f"scan aborted: {exc!r}"))
            self.store.save_scan(run)
            raise
        run.status = ScanStatus.COMPLETED
        run.finished_at = utcnow()
        self.store.save_scan(run)
        return run

    # -- internals -----------------------------------------------------------
    def _run(
        self,
        run: ScanRun,
        chosen: list[Scanner],
        roots: list[Path],
        logs: list[Path],
        environment: bool | Sequence[str],
        progress: bool,
        on_progress: Callable[[int, int], None] | None,
    ) -> None:
        file_scanners = [s for s in chosen if s.target_kind is TargetKind.FILE]
        pending: list[SourceUpdate] = []

        def flush(force: bool = False) -> None:
            if pending and (force or len(pending) >= _BATCH):
                stats = self.store.apply(pending, scan_id=run.id, actor=self.actor)
                run.counts.assets_new += len(stats.assets_new)
                run.counts.assets_stale += len(stats.assets_stale)
                run.counts.findings_new += len(stats.findings_new)
                pending.clear()

        seen_assets: set[str] = set()

        def note(observations: Sequence[Observation]) -> None:
            from aiposture.models import Asset, Finding, Relation

            for obs in observations:
                if isinstance(obs, Asset):
                    seen_assets.add(obs.id)
                elif isinstance(obs, Relation):
                    run.counts.relations_seen += 1
                elif isinstance(obs, Finding):
                    run.counts.findings_seen += 1

        for root in roots:
            walked = self._walk(root, file_scanners)
            run.errors.extend(walked.issues)
            run.counts.files_seen += len(walked.files)
            known = self.store.file_states(str(root))
            present: set[str] = set()
            bar = tqdm(
                walked.files,
                desc=f"scanning {root.name or root}",
                unit="file",
                disable=not progress,
                file=sys.stderr,
                leave=False,
            )
            for n, (path, st) in enumerate(bar, 1):
                wanted = [s for s in file_scanners if s.accepts(path)]
                source = str(path)
                present.add(source)
                update = self._scan_file(run, root, path, st, wanted, known.get(source), note)
                if update is not None:
                    pending.append(update)
                    flush()
                if on_progress is not None:
                    on_progress(n, len(walked.files))
            bar.close()
            for source in known.keys() - present:
                pending.append(SourceUpdate(source=source, root=str(root), gone=True))
                flush()

        for log in logs:
            log_scanners = [s for s in chosen if s.target_kind is TargetKind.LOG]
            if not log_scanners:
                run.errors.append(
                    ScanIssue(path=str(log), reason="no log scanner is registered; log skipped")
                )
                continue
            update = self._scan_log(run, log, log_scanners, note)
            if update is not None:
                pending.append(update)
                flush()

        if environment:
            for update in self._scan_environment(run, chosen, environment, note):
                pending.append(update)
        flush(force=True)
        run.counts.assets_seen = len(seen_assets)

    def _walk(self, root: Path, scanners: list[Scanner]) -> _Walked:
        out = _Walked()
        if root.is_file():
            try:
                out.files.append((root, root.stat()))
            except OSError as exc:
                out.issues.append(ScanIssue(path=str(root), reason=_os_reason(exc)))
            return out
        visited: set[tuple[int, int]] = set()
        # (folder, identities of its ancestors) so a link back up is a loop
        stack: list[tuple[Path, frozenset[tuple[int, int]]]] = [(root, frozenset())]
        while stack:
            folder, ancestors = stack.pop()
            try:
                st = folder.stat()
            except OSError as exc:
                out.issues.append(ScanIssue(path=str(folder), reason=_os_reason(exc)))
                continue
            ident = (st.st_dev, st.st_ino)
            if ident in ancestors:
                out.issues.append(
                    ScanIssue(
                        path=str(folder),
                        reason="symlink loop: this folder links back to one of its parents",
                    )
                )
                continue
            if ident in visited:
                continue  # the same folder reached through another link
            visited.add(ident)
            if (folder / "pyvenv.cfg").is_file() and folder != root:
                continue  # a virtual environment: the environment scanner's business
            try:
                entries = sorted(os.scandir(folder), key=lambda e: e.name)
            except OSError as exc:
                out.issues.append(ScanIssue(path=str(folder), reason=_os_reason(exc)))
                continue
            subdirs: list[Path] = []
            for entry in entries:
                path = Path(entry.path)
                try:
                    is_dir = entry.is_dir(follow_symlinks=True)
                except OSError as exc:
                    out.issues.append(ScanIssue(path=str(path), reason=_os_reason(exc)))
                    continue
                if is_dir:
                    if entry.name not in self.excludes:
                        subdirs.append(path)
                    continue
                if not any(s.accepts(path) for s in scanners):
                    continue
                try:
                    est = entry.stat(follow_symlinks=True)
                except OSError as exc:
                    out.issues.append(ScanIssue(path=str(path), reason=_os_reason(exc)))
                    continue
                if not stat.S_ISREG(est.st_mode):
                    out.issues.append(
                        ScanIssue(
                            path=str(path), reason="not a regular file (FIFO, socket or device)"
                        )
                    )
                    continue
                out.files.append((path, est))
            inner = ancestors | {ident}
            stack.extend((d, inner) for d in reversed(subdirs))
        return out

    def _project_of(self, path: Path, root: Path) -> Path:
        folder = path.parent
        trail: list[Path] = []
        found: Path | None = None
        while True:
            if folder in self._projects:
                found = self._projects[folder]
                break
            trail.append(folder)
            if any((folder / m).exists() for m in PROJECT_MARKERS):
                found = folder
                break
            if folder == root or folder.parent == folder or root not in folder.parents:
                break
            folder = folder.parent
        for f in trail:
            self._projects[f] = found
        return found if found is not None else (root if root.is_dir() else root.parent)

    def _scan_file(
        self,
        run: ScanRun,
        root: Path,
        path: Path,
        st: os.stat_result,
        scanners: list[Scanner],
        known: FileState | None,
        note: Callable[[Sequence[Observation]], None],
    ) -> SourceUpdate | None:
        source = str(path)
        signature = ",".join(sorted(f"{s.name}@{s.version}" for s in scanners))
        if (
            known is not None
            and known.size == st.st_size
            and known.mtime_ns == st.st_mtime_ns
            and known.scanners == signature
        ):
            run.counts.files_unchanged += 1
            return SourceUpdate(source=source, root=str(root), observations=None)

        too_big = [s for s in scanners if st.st_size > s.max_bytes]
        for s in too_big:
            run.errors.append(
                ScanIssue(
                    path=source,
                    scanner=s.name,
                    reason=(
                        f"file is {_size(st.st_size)}, over the {_size(s.max_bytes)} limit "
                        f"of scanner {s.name}; skipped"
                    ),
                )
            )
        readers = [s for s in scanners if s not in too_big]
        if not readers:
            run.counts.files_failed += 1
            return SourceUpdate(source=source, root=str(root), observations=None) if known else None
        try:
            with open(path, "rb") as fh:
                data = fh.read(max(s.max_bytes for s in readers) + 1)
        except OSError as exc:
            run.counts.files_failed += 1
            run.errors.append(ScanIssue(path=source, reason=_os_reason(exc)))
            return SourceUpdate(source=source, root=str(root), observations=None) if known else None
        run.counts.bytes_read += len(data)
        digest = hashlib.sha256(data).hexdigest()
        state = FileState(
            size=st.st_size, mtime_ns=st.st_mtime_ns, sha256=digest, scanners=signature
        )
        if known is not None and known.sha256 == digest and known.scanners == signature:
            run.counts.files_unchanged += 1
            return SourceUpdate(source=source, root=str(root), observations=None, state=state)

        run.counts.files_scanned += 1
        target = Target(
            kind=TargetKind.FILE,
            source=source,
            path=path,
            root=root,
            data=data,
            project=self._project_of(path, root),
        )
        observations, failed = self._run_scanners(run, target, readers)
        note(observations)
        if failed or too_big:
            run.counts.files_failed += 1
            if known is not None:
                return SourceUpdate(source=source, root=str(root), observations=None)
            return SourceUpdate(source=source, root=str(root), observations=observations)
        return SourceUpdate(source=source, root=str(root), observations=observations, state=state)

    def _run_scanners(
        self, run: ScanRun, target: Target, scanners: Sequence[Scanner]
    ) -> tuple[list[Observation], bool]:
        observations: list[Observation] = []
        failed = False
        for scanner in scanners:
            try:
                observations.extend(scanner.scan(target))
            except TargetError as exc:
                failed = True
                run.errors.append(
                    ScanIssue(
                        path=target.source, scanner=scanner.name, reason=exc.reason, line=exc.line
                    )
                )
            except RecursionError:
                failed = True
                run.errors.append(
                    ScanIssue(
                        path=target.source,
                        scanner=scanner.name,
                        reason="too deeply nested to analyse (recursion limit)",
                    )
                )
            except MemoryError:
                failed = True
                run.errors.append(
                    ScanIssue(path=target.source, scanner=scanner.name, reason="out of memory")
                )
            except Exception as exc:  # a scanner bug must not end the scan
                failed = True
                run.errors.append(
                    ScanIssue(
                        path=target.source,
                        scanner=scanner.name,
                        reason=f"scanner error: {type(exc).__name__}: {exc}",
                    )
                )
        return observations, failed

    def _scan_log(
        self,
        run: ScanRun,
        log: Path,
        scanners: list[Scanner],
        note: Callable[[Sequence[Observation]], None],
    ) -> SourceUpdate | None:
        try:
            data = log.read_bytes()
        except OSError as exc:
            run.errors.append(ScanIssue(path=str(log), reason=_os_reason(exc)))
            return None
        run.counts.bytes_read += len(data)
        target = Target(kind=TargetKind.LOG, source=str(log), path=log, data=data)
        observations, failed = self._run_scanners(run, target, scanners)
        note(observations)
        if failed:
            return None
        return SourceUpdate(source=str(log), observations=observations)

    def _scan_environment(
        self,
        run: ScanRun,
        chosen: list[Scanner],
        environment: bool | Sequence[str],
        note: Callable[[Sequence[Observation]], None],
    ) -> Iterator[SourceUpdate]:
        env_scanners = [s for s in chosen if s.target_kind is TargetKind.ENVIRONMENT]
        if environment is True:
            targets = [
                Target(
                    kind=TargetKind.ENVIRONMENT,
                    source=f"env:{sys.prefix}",
                    extra={"prefix": sys.prefix},
                )
            ]
        else:
            paths = [str(_absolute(p)) for p in environment] if environment else []
            targets = [
                Target(
                    kind=TargetKind.ENVIRONMENT,
                    source=f"env:{p}",
                    extra={"prefix": p, "path": p},
                )
                for p in paths
            ]
        for target in targets:
            observations, failed = self._run_scanners(run, target, env_scanners)
            note(observations)
            if not failed:
                yield SourceUpdate(source=target.source, observations=observations)


def _absolute(p: str | os.PathLike[str]) -> Path:
    return Path(os.path.abspath(os.path.expanduser(os.fspath(p))))


def _size(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):.1f} MB"
    if n >= 1024:
        return f"{n / 1024:.1f} KB"
    return f"{n} bytes"


def _os_reason(exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return "symlink loop: too many levels of symbolic links"
    if exc.errno == errno.EACCES:
        return "permission denied"
    if exc.errno == errno.ENOENT:
        return "broken symlink or file vanished during the scan"
    return f"cannot read: {exc.strerror or exc}"
