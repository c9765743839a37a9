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
import multiprocessing
import os
import stat
import sys
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from tqdm.auto import tqdm

from aiposture.discovery.base import Observation, Scanner, Target, TargetError, TargetKind
from aiposture.discovery.registry import ScannerRegistry, default_registry
from aiposture.errors import ScanError
from aiposture.models import ScanIssue, ScanRun, ScanStatus, utcnow
from aiposture.settings import Settings
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
#: Below this many files to read, a scan runs in one process.
_POOL_MIN_TASKS = 2000


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
        workers: Processes that read and scan files; by default one for small
            scans and one per core (up to four) from 2,000 changed files on.
        settings: The configuration scanners see (sanctioned services, excludes).
    """

    def __init__(
        self,
        store: Store,
        *,
        registry: ScannerRegistry | None = None,
        actor: str = "aiposture",
        excludes: Iterable[str] = DEFAULT_EXCLUDES,
        workers: int | None = None,
        settings: Settings | None = None,
    ) -> None:
        self.store = store
        self.registry = registry or default_registry()
        self.actor = actor
        self.settings = settings if settings is not None else Settings()
        self.excludes = frozenset(excludes) | frozenset(self.settings.discovery.exclude)
        self.workers = workers
        self.log_format: str | None = None
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
        log_format: str | None = None,
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
            log_format: The format of every log in ``logs`` (see
                :data:`aiposture.discovery.logformats.FORMATS`); detected when None.

        Returns:
            The finished scan run, as stored.

        Raises:
            ScanError: A root or log file does not exist, or nothing to scan.
            ConfigError: An unknown scanner name.
        """
        chosen = self.registry.create(
            list(scanners) if scanners is not None else None, settings=self.settings
        )
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
        self.log_format = log_format
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
            tasks: list[_FileTask] = []
            for path, st in walked.files:
                wanted = [s for s in file_scanners if s.accepts(path)]
                source = str(path)
                present.add(source)
                signature = ",".join(sorted(f"{s.name}@{s.version}" for s in wanted))
                old = known.get(source)
                if (
                    old is not None
                    and old.size == st.st_size
                    and old.mtime_ns == st.st_mtime_ns
                    and old.scanners == signature
                ):
                    run.counts.files_unchanged += 1
                    pending.append(SourceUpdate(source=source, root=str(root), observations=None))
                    flush()
                    continue
                tasks.append(
                    _FileTask(
                        source=source,
                        root=str(root),
                        project=str(self._project_of(path, root)),
                        size=st.st_size,
                        mtime_ns=st.st_mtime_ns,
                        signature=signature,
                        scanners=tuple(s.name for s in wanted),
                        known_sha256=old.sha256 if old is not None else None,
                        known_scanners=old.scanners if old is not None else None,
                    )
                )
            bar = tqdm(
                total=len(walked.files),
                initial=len(walked.files) - len(tasks),
                desc=f"scanning {root.name or root}",
                unit="file",
                disable=not progress,
                file=sys.stderr,
                leave=False,
            )
            by_name = {s.name: s for s in file_scanners}
            for n, result in enumerate(self._execute(tasks, by_name), 1):
                run.errors.extend(result.issues)
                run.warnings.extend(result.warnings)
                run.counts.bytes_read += result.bytes_read
                run.counts.files_scanned += result.scanned
                run.counts.files_unchanged += result.unchanged
                run.counts.files_failed += result.failed
                if result.update is not None:
                    if result.update.observations:
                        note(result.update.observations)
                    pending.append(result.update)
                    flush()
                bar.update(1)
                if on_progress is not None:
                    on_progress(n, len(tasks))
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

    def _execute(
        self, tasks: list[_FileTask], scanners: dict[str, Scanner]
    ) -> Iterator[_FileResult]:
        """Results of ``tasks`` in order: in this process, or in a pool for large scans."""
        workers = self._workers(len(tasks))
        if workers <= 1:
            for task in tasks:
                yield _scan_file(task, scanners)
            return
        ctx = multiprocessing.get_context("spawn")
        names = sorted(scanners)
        with ProcessPoolExecutor(
            max_workers=workers,
            mp_context=ctx,
            initializer=_init_worker,
            initargs=(names, self.settings),
        ) as pool:
            yield from pool.map(_scan_in_worker, tasks, chunksize=32)

    def _workers(self, tasks: int) -> int:
        if self.workers is not None:
            return self.workers
        # A custom registry cannot be rebuilt in a worker process; small scans
        # are faster without the cost of starting workers.
        if self.registry is not default_registry() or tasks < _POOL_MIN_TASKS:
            return 1
        return max(1, min(os.cpu_count() or 1, 4))

    def _scan_log(
        self,
        run: ScanRun,
        log: Path,
        scanners: list[Scanner],
        note: Callable[[Sequence[Observation]], None],
    ) -> SourceUpdate | None:
        try:
            if all(s.streams for s in scanners):
                data = b""
                run.counts.bytes_read += log.stat().st_size
            else:
                data = log.read_bytes()
                run.counts.bytes_read += len(data)
        except OSError as exc:
            run.errors.append(ScanIssue(path=str(log), reason=_os_reason(exc)))
            return None
        extra = {"log_format": self.log_format} if self.log_format else {}
        target = Target(kind=TargetKind.LOG, source=str(log), path=log, data=data, extra=extra)
        observations, issues = _run_scanners(target, scanners, run.warnings)
        run.errors.extend(issues)
        failed = bool(issues)
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
            observations, issues = _run_scanners(target, env_scanners, run.warnings)
            run.errors.extend(issues)
            failed = bool(issues)
            note(observations)
            if not failed:
                yield SourceUpdate(source=target.source, observations=observations)


@dataclass(frozen=True)
class _FileTask:
    """One changed (or new) file to read and scan; picklable for worker processes."""

    source: str
    root: str
    project: str
    size: int
    mtime_ns: int
    signature: str
    scanners: tuple[str, ...]
    known_sha256: str | None
    known_scanners: str | None


@dataclass
class _FileResult:
    update: SourceUpdate | None
    issues: list[ScanIssue] = field(default_factory=list)
    warnings: list[ScanIssue] = field(default_factory=list)
    bytes_read: int = 0
    scanned: int = 0
    unchanged: int = 0
    failed: int = 0


def _scan_file(task: _FileTask, by_name: dict[str, Scanner]) -> _FileResult:
    """Read one file once, hash it, and run the scanners that want it."""
    source, root = task.source, task.root
    known = task.known_sha256 is not None
    keep = SourceUpdate(source=source, root=root, observations=None) if known else None
    scanners = [by_name[n] for n in task.scanners]
    too_big = [s for s in scanners if task.size > s.max_bytes]
    issues = [
        ScanIssue(
            path=source,
            scanner=s.name,
            reason=(
                f"file is {_size(task.size)}, over the {_size(s.max_bytes)} limit "
                f"of scanner {s.name}; skipped"
            ),
        )
        for s in too_big
    ]
    readers = [s for s in scanners if s not in too_big]
    if not readers:
        return _FileResult(update=keep, issues=issues, failed=1)
    in_memory = [s for s in readers if not s.streams]
    try:
        if in_memory:
            with open(source, "rb") as fh:
                data = fh.read(max(s.max_bytes for s in in_memory) + 1)
            digest = hashlib.sha256(data).hexdigest()
            read = len(data)
            if len(in_memory) < len(readers) and read < task.size:
                digest = _file_sha256(source)  # the streaming scanners report the whole file
        else:
            data = b""
            digest = _file_sha256(source)
            read = task.size
    except OSError as exc:
        issues.append(ScanIssue(path=source, reason=_os_reason(exc)))
        return _FileResult(update=keep, issues=issues, failed=1)
    state = FileState(
        size=task.size, mtime_ns=task.mtime_ns, sha256=digest, scanners=task.signature
    )
    if task.known_sha256 == digest and task.known_scanners == task.signature:
        return _FileResult(
            update=SourceUpdate(source=source, root=root, observations=None, state=state),
            bytes_read=read,
            unchanged=1,
        )
    path = Path(source)
    target = Target(
        kind=TargetKind.FILE,
        source=source,
        path=path,
        root=Path(root),
        data=data,
        project=Path(task.project),
        extra={"sha256": digest, "size": str(task.size)},
    )
    warnings: list[ScanIssue] = []
    observations, errors = _run_scanners(target, readers, warnings)
    issues.extend(errors)
    if issues:
        # Keep what an earlier scan saw; do not remember the file, so it is retried.
        update = keep or SourceUpdate(source=source, root=root, observations=observations)
        return _FileResult(
            update=update,
            issues=issues,
            warnings=warnings,
            bytes_read=read,
            scanned=1,
            failed=1,
        )
    return _FileResult(
        update=SourceUpdate(source=source, root=root, observations=observations, state=state),
        warnings=warnings,
        bytes_read=read,
        scanned=1,
    )


def _run_scanners(
    target: Target, scanners: Sequence[Scanner], warnings: list[ScanIssue] | None = None
) -> tuple[list[Observation], list[ScanIssue]]:
    """Everything the scanners yield for ``target``, and a record of each that failed.

    Warnings the scanners yield go to ``warnings`` (dropped when it is None).
    """
    observations: list[Observation] = []
    issues: list[ScanIssue] = []
    for scanner in scanners:
        try:
            for obs in scanner.scan(target):
                if isinstance(obs, ScanIssue):
                    if warnings is not None:
                        warnings.append(obs)
                else:
                    observations.append(obs)
        except TargetError as exc:
            issues.append(
                ScanIssue(
                    path=target.source, scanner=scanner.name, reason=exc.reason, line=exc.line
                )
            )
        except RecursionError:
            issues.append(
                ScanIssue(
                    path=target.source,
                    scanner=scanner.name,
                    reason="too deeply nested to analyse (recursion limit)",
                )
            )
        except MemoryError:
            issues.append(
                ScanIssue(path=target.source, scanner=scanner.name, reason="out of memory")
            )
        except Exception as exc:  # a scanner bug must not end the scan
            issues.append(
                ScanIssue(
                    path=target.source,
                    scanner=scanner.name,
                    reason=f"scanner error: {type(exc).__name__}: {exc}",
                )
            )
    return observations, issues


_WORKER_SCANNERS: dict[str, Scanner] = {}


def _init_worker(names: list[str], settings: Settings) -> None:
    _WORKER_SCANNERS.update(
        {s.name: s for s in default_registry().create(names, settings=settings)}
    )


def _scan_in_worker(task: _FileTask) -> _FileResult:
    return _scan_file(task, _WORKER_SCANNERS)


def _file_sha256(path: str) -> str:
    """SHA-256 of a whole file, read in 1 MB pieces (memory stays flat for any size)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


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
