"""The notebook scanner: AI use in Jupyter notebooks' code cells, and keys in cells and outputs.

A notebook is read as JSON (never executed). Its code cells are analysed
as one module, in order, by the same analysis as ``.py`` files: IPython
syntax is neutralised first (lines starting with ``%`` or ``!`` and ``?``
help lines become ``pass``, keeping line numbers; cells under a non-Python
cell magic such as ``%%bash`` are skipped), and a cell that still does not
parse is skipped while the rest is analysed. Evidence names the cell (its
index in the notebook) and the line within it.

Credentials are searched in every code and Markdown cell's source and in
every output (stream text, ``text/plain`` results and error tracebacks); a
key found in an output is finding ``AIP-CRED-002``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from aiposture.discovery.base import Observation, Scanner, Target, TargetError
from aiposture.discovery.scanners._pyanalysis import (
    Analyzer,
    Report,
    Unit,
    might_use_ai,
    split_lines,
)
from aiposture.discovery.scanners.python_code import parse_python
from aiposture.discovery.secrets import SecretHit, find_secrets

__all__ = ["NotebookScanner", "python_source"]

#: Cell magics whose body is Python.
_PYTHON_CELL_MAGICS = frozenset(
    {"python", "python3", "time", "timeit", "capture", "prun", "debug", "memit"}
)
_HELP_LINE = re.compile(r"^\??[\w.]+\?{1,2}\s*$")
_SHELL_ASSIGN = re.compile(r"^[\w.]+\s*=\s*[!%]")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(v for v in value if isinstance(v, str))
    return ""


def python_source(source: str) -> str | None:
    """The Python in a code cell, IPython syntax replaced by ``pass``; ``None`` if not Python.

    Line numbers are kept, so evidence points at the cell's own lines.
    """
    lines = split_lines(source)
    first = next((i for i, ln in enumerate(lines) if ln.strip()), None)
    if first is None:
        return ""
    head = lines[first].strip()
    if head.startswith("%%"):
        magic = head[2:].split(maxsplit=1)[0] if len(head) > 2 else ""
        if magic not in _PYTHON_CELL_MAGICS:
            return None
        lines[first] = ""
    continued = False
    for i, line in enumerate(lines):
        stripped = line.lstrip()
        ipython = continued or (
            stripped.startswith(("%", "!"))
            or _HELP_LINE.match(stripped) is not None
            or _SHELL_ASSIGN.match(stripped) is not None
        )
        if ipython:
            indent = line[: len(line) - len(stripped)]
            lines[i] = "" if continued else indent + "pass"
            continued = stripped.rstrip().endswith("\\")
    return "\n".join(lines)


def _outputs(cell: dict[str, Any]) -> Iterator[tuple[int, str, str]]:
    """(output index, kind, text) of each output of a code cell that can show a secret."""
    outputs = cell.get("outputs")
    if not isinstance(outputs, list):
        return
    for j, out in enumerate(outputs):
        if not isinstance(out, dict):
            continue
        kind = out.get("output_type")
        if kind == "stream":
            yield j, f"{out.get('name', 'stream')} stream", _text(out.get("text"))
        elif kind in ("execute_result", "display_data"):
            data = out.get("data")
            if isinstance(data, dict):
                yield j, str(kind), _text(data.get("text/plain"))
        elif kind == "error":
            trace = out.get("traceback")
            lines = [str(x) for x in trace] if isinstance(trace, list) else []
            text = "\n".join([f"{out.get('ename', '')}: {out.get('evalue', '')}", *lines])
            yield j, "error", _ANSI.sub("", text)


def _load(text: str) -> list[dict[str, Any]]:
    """The notebook's cells, as plain dicts.

    Raises:
        TargetError: Not JSON, or JSON that is not a notebook.
    """
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TargetError(
            f"invalid notebook JSON at line {exc.lineno}: {exc.msg}", line=exc.lineno
        ) from None
    except RecursionError:
        raise TargetError("invalid notebook JSON: nested too deeply") from None
    if not isinstance(raw, dict):
        raise TargetError(f"not a notebook: the top level is a JSON {type(raw).__name__}")
    if "cells" not in raw and "worksheets" in raw:
        import nbformat  # only for old notebooks: its import costs over a second

        try:
            nb = nbformat.convert(nbformat.from_dict(raw), 4)
        except Exception as exc:  # nbformat raises many kinds on malformed old notebooks
            raise TargetError(f"not a notebook: cannot convert from nbformat 3: {exc}") from None
        raw = nb
    cells = raw.get("cells")
    if cells is None:
        raise TargetError("not a notebook: no 'cells'")
    if not isinstance(cells, list):
        raise TargetError("not a notebook: 'cells' is not a list")
    return [c for c in cells if isinstance(c, dict)]


class NotebookScanner(Scanner):
    """Finds AI use in Jupyter notebooks and keys in their cells and outputs."""

    name: ClassVar[str] = "notebook"
    description: ClassVar[str] = (
        "Finds AI SDKs, models, endpoints, MCP servers and agents in Jupyter notebooks' code "
        "cells, and hard-coded or printed keys in cells and outputs, without running them."
    )
    version: ClassVar[str] = "1"

    def accepts(self, path: Path) -> bool:
        """``.ipynb`` files."""
        return path.suffix.lower() == ".ipynb"

    def scan(self, target: Target) -> list[Observation]:
        """Analyse one notebook.

        Raises:
            TargetError: The file is not UTF-8, not JSON, or not a notebook.
        """
        text = target.text
        if not text.strip():
            return []
        cells = _load(text)
        report = Report(target, self.name, notebook=True)
        filename = (target.path.stem if target.path else "notebook") + ".py"
        units: list[Unit] = []
        found: list[tuple[SecretHit, int, bool, str]] = []
        relevant = False
        for idx, cell in enumerate(cells):
            kind = cell.get("cell_type")
            source = _text(cell.get("source"))
            if kind not in ("code", "markdown", "raw"):
                continue
            for hit in find_secrets(source, filename=filename if kind == "code" else "cell.md"):
                report.secret_lines[(idx, hit.line)] = hit.redacted
                found.append((hit, idx, False, f"{hit.secret_type} in a {kind} cell"))
            if kind != "code":
                continue
            for j, out_kind, out_text in _outputs(cell):
                for hit in find_secrets(out_text, filename="output.txt"):
                    found.append(
                        (hit, idx, True, f"{hit.secret_type} printed in output {j} ({out_kind})")
                    )
            code = python_source(source)
            if not code or not code.strip():
                continue
            try:
                tree = parse_python(code, f"{target.display_path}[cell {idx}]")
            except TargetError:
                continue  # one broken cell does not hide the others
            relevant = relevant or might_use_ai(code)
            units.append(Unit(tree, split_lines(source), idx))
        if relevant:
            try:
                Analyzer(report, target).run(units)
            except RecursionError:
                raise TargetError("code too deeply nested to analyse") from None
        for hit, idx, in_output, detail in found:
            if report.found_ai or hit.provider_id is not None:
                report.credential(hit, line=hit.line, cell=idx, in_output=in_output, detail=detail)
        return report.observations()
