"""IPython magics for quick work in a notebook: ``%load_ext aiposture``.

Line magic ``%aiposture``::

    %aiposture open [DB] [--config FILE] [--actor NAME]   # the posture the magics use
    %aiposture use VARIABLE                               # ... or one you already opened
    %aiposture scan PATH [PATH ...] [--logs LOG ...]      # discover, returns the ScanRun
    %aiposture assets [--kind KIND]                       # the inventory table
    %aiposture findings [--min-severity SEVERITY]
    %aiposture risks | alerts | dashboard | assess

Cell magic ``%%aiposture_check_leakage --index DIR [--model NAME] [--lines]`` checks the
cell's text (or each non-empty line with ``--lines``) against a leakage index and returns
the :class:`~aiposture.embeddings.report.LeakageReport`.

Until ``open`` or ``use``, the magics open the default store (``$AIPOSTURE_DB`` or
``~/.aiposture/posture.db``). An error is shown as one ``UsageError`` line naming the
problem, without a traceback, and stops a "run all".
"""

from __future__ import annotations

import argparse
import shlex
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from aiposture.errors import AIPostureError

if TYPE_CHECKING:
    from aiposture.posture import Posture

__all__ = ["MagicError", "load_ipython_extension", "run_cell_magic", "run_line_magic"]


class MagicError(AIPostureError):
    """A magic was called with arguments it cannot use."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise MagicError(f"{self.prog}: {message}")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        # --help prints its text and stops here instead of exiting the kernel
        raise MagicError((message or self.format_help()).strip())


class _Session:
    """The posture the magics act on, opened on first use."""

    def __init__(self) -> None:
        self.posture: Posture | None = None

    def get(self) -> Posture:
        if self.posture is None:
            from aiposture.posture import Posture

            self.posture = Posture.open()
        return self.posture


_SESSION = _Session()


def _line_parser() -> _Parser:
    parser = _Parser(prog="%aiposture", add_help=True)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    p_open = sub.add_parser("open", help="open a posture store for the magics")
    p_open.add_argument("db", nargs="?", default=None)
    p_open.add_argument("--config", default=None)
    p_open.add_argument("--actor", default=None)
    p_use = sub.add_parser("use", help="use a Posture held in a notebook variable")
    p_use.add_argument("variable")
    p_scan = sub.add_parser("scan", help="discover AI assets under the paths")
    p_scan.add_argument("paths", nargs="+")
    p_scan.add_argument("--logs", nargs="*", default=[])
    p_assets = sub.add_parser("assets", help="the inventory")
    p_assets.add_argument("--kind", default=None)
    p_findings = sub.add_parser("findings", help="current findings, worst first")
    p_findings.add_argument("--min-severity", default=None)
    for name, text in (
        ("assess", "run the risk assessment"),
        ("risks", "the risk register"),
        ("alerts", "monitoring alerts"),
        ("dashboard", "the interactive dashboard"),
    ):
        sub.add_parser(name, help=text)
    return parser


def _cell_parser() -> _Parser:
    parser = _Parser(prog="%%aiposture_check_leakage", add_help=True)
    parser.add_argument("--index", required=True, help="folder of a saved leakage index")
    parser.add_argument("--model", default=None, help="record leaks as findings on this model")
    parser.add_argument("--lines", action="store_true", help="check each line on its own")
    return parser


def _split(line: str) -> list[str]:
    try:
        return shlex.split(line)
    except ValueError as exc:
        raise MagicError(f"cannot parse the magic's arguments: {exc}") from exc


def run_line_magic(line: str, namespace: dict[str, Any] | None = None) -> Any:
    """Run ``%aiposture LINE``; what it returns is displayed by the notebook.

    Raises:
        MagicError: Unknown command, bad arguments, or ``use`` of a variable that is not
            a Posture.
        AIPostureError: The SDK refused (a store that cannot be opened, a bad path...).
    """
    args = _line_parser().parse_args(_split(line))
    command: str = args.command
    if command == "open":
        from aiposture.posture import Posture

        _SESSION.posture = Posture.open(args.db, actor=args.actor, config=args.config)
        return _SESSION.posture
    if command == "use":
        from aiposture.posture import Posture

        value = (namespace or {}).get(args.variable)
        if not isinstance(value, Posture):
            raise MagicError(f"{args.variable!r} is not a Posture in this notebook")
        _SESSION.posture = value
        return value
    p = _SESSION.get()
    actions: dict[str, Callable[[], Any]] = {
        "scan": lambda: p.discover(list(args.paths), logs=list(args.logs)),
        "assets": lambda: p.assets.filter(kind=args.kind) if args.kind else p.assets,
        "findings": lambda: (
            p.findings.current().at_least(args.min_severity)
            if args.min_severity
            else p.findings.current()
        ),
        "assess": p.assess,
        "risks": lambda: p.risks,
        "alerts": lambda: p.alerts,
        "dashboard": p.dashboard,
    }
    return actions[command]()


def run_cell_magic(line: str, cell: str) -> Any:
    """Run ``%%aiposture_check_leakage LINE`` on the cell's text.

    Raises:
        MagicError: Bad arguments or an empty cell.
        LeakageIndexError: The index cannot be opened.
    """
    args = _cell_parser().parse_args(_split(line))
    lines = [ln for ln in cell.splitlines() if ln.strip()]
    if not lines:
        raise MagicError("%%aiposture_check_leakage: the cell has no text to check")
    p = _SESSION.get()
    texts: Sequence[str] | str = lines if args.lines else cell.strip("\n")
    return p.leakage.check(texts, index=args.index, model=args.model)


def load_ipython_extension(ipython: Any) -> None:
    """Register ``%aiposture`` and ``%%aiposture_check_leakage`` (``%load_ext aiposture``)."""

    from IPython.core.error import UsageError

    def line_magic(line: str) -> Any:
        try:
            return run_line_magic(line, ipython.user_ns)
        except AIPostureError as exc:
            raise UsageError(f"aiposture: {exc}") from None

    def cell_magic(line: str, cell: str) -> Any:
        try:
            return run_cell_magic(line, cell)
        except AIPostureError as exc:
            raise UsageError(f"aiposture: {exc}") from None

    ipython.register_magic_function(line_magic, magic_kind="line", magic_name="aiposture")
    ipython.register_magic_function(
        cell_magic, magic_kind="cell", magic_name="aiposture_check_leakage"
    )
