"""The Python code scanner: AI SDKs, models, endpoints, MCP servers, agents and keys in ``.py``.

The file is parsed with :mod:`ast` (never imported or run) and analysed by
:mod:`aiposture.discovery.scanners._pyanalysis`; hard-coded credentials are
found with :func:`aiposture.discovery.secrets.find_secrets`. A file with no
AI in it yields nothing, except that a key of a known AI provider is
reported wherever it is (a ``settings.py`` holding ``OPENAI_API_KEY``).
"""

from __future__ import annotations

import ast
import warnings
from pathlib import Path
from typing import ClassVar

from aiposture.discovery.base import Observation, Scanner, Target, TargetError
from aiposture.discovery.scanners._pyanalysis import (
    Analyzer,
    Report,
    Unit,
    might_use_ai,
    split_lines,
)
from aiposture.discovery.secrets import find_secrets

__all__ = ["PythonCodeScanner", "parse_python"]


def parse_python(text: str, filename: str) -> ast.Module:
    """Parse Python source without running it.

    Raises:
        TargetError: The source has a syntax error or is too deeply nested.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SyntaxWarning for odd escapes, etc.
            return ast.parse(text, filename=filename)
    except SyntaxError as exc:
        line = exc.lineno
        where = f" at line {line}" if line else ""
        raise TargetError(f"syntax error{where}: {exc.msg}", line=line) from None
    except (RecursionError, MemoryError):
        raise TargetError("code too deeply nested to parse") from None
    except ValueError as exc:  # NUL bytes past the first 8 KiB
        raise TargetError(f"cannot parse: {exc}") from None


class PythonCodeScanner(Scanner):
    """Finds AI SDK use, models, endpoints, MCP servers, agents and keys in Python code."""

    name: ClassVar[str] = "python_code"
    description: ClassVar[str] = (
        "Finds AI SDKs, model names, custom endpoints, HTTP calls to AI APIs, MCP servers, "
        "agents and hard-coded keys in Python source, by static analysis."
    )
    version: ClassVar[str] = "1"

    def accepts(self, path: Path) -> bool:
        """``.py`` and ``.pyw`` files."""
        return path.suffix.lower() in (".py", ".pyw")

    def scan(self, target: Target) -> list[Observation]:
        """Analyse one Python file.

        Raises:
            TargetError: The file is not UTF-8 text, has a syntax error, or is
                nested too deeply to analyse.
        """
        text = target.text
        report = Report(target, self.name, notebook=False)
        hits = find_secrets(text, filename=target.display_path)
        for hit in hits:
            report.secret_lines[(None, hit.line)] = hit.redacted
        # Text that cannot hold AI use is not parsed: a syntax error there hides nothing.
        if might_use_ai(text):
            tree = parse_python(text, target.display_path)
            try:
                Analyzer(report, target).run([Unit(tree, split_lines(text))])
            except RecursionError:
                raise TargetError("code too deeply nested to analyse") from None
        for hit in hits:
            if report.found_ai or hit.provider_id is not None:
                report.credential(
                    hit,
                    line=hit.line,
                    cell=None,
                    in_output=False,
                    detail=f"{hit.secret_type} hard-coded in source",
                )
        return report.observations()
