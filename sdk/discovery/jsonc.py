"""A tolerant reader of JSON with comments and trailing commas (VS Code's "JSONC").

MCP client configurations are often written by hand in editors that accept
``//`` and ``/* */`` comments and a comma after the last member of an object or
array (VS Code, Cursor, Claude Code's ``.mcp.json`` in practice). This module
blanks those out *outside strings* and hands the rest to :func:`json.loads`.

Comments and trailing commas are replaced by spaces, never removed, so every
other character keeps its line and column: errors from :mod:`json` point at
the right place in the original text, and :func:`parse` can report the line
where each key appears (for evidence).

Nothing is evaluated: the text is only tokenised and decoded.
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["JSONCError", "KeyPath", "loads", "parse", "strip"]

#: A path into a document: object keys and array indexes (``("mcpServers", "github")``).
KeyPath = tuple[str | int, ...]


class JSONCError(ValueError):
    """The text is not JSON, even allowing comments and trailing commas.

    Attributes:
        reason: What is wrong, without the text itself (it may hold a secret).
        line: 1-based line of the problem.
        column: 1-based column of the problem.
    """

    def __init__(self, reason: str, *, line: int, column: int) -> None:
        super().__init__(f"{reason} at line {line}, column {column}")
        self.reason = reason
        self.line = line
        self.column = column


# Strings, comment openers and the characters that matter, in one pass.
_STRIP_TOKENS = re.compile(r'"(?:[^"\\\n]|\\.)*"?|//|/\*')
_WS = re.compile(r"[ \t\r\n]*")
# Tokens of the stripped text for locating keys.
_KEY_TOKENS = re.compile(r'"(?:[^"\\\n]|\\.)*"|[{}\[\]:,\n]')


def _line_col(text: str, pos: int) -> tuple[int, int]:
    line = text.count("\n", 0, pos) + 1
    return line, pos - (text.rfind("\n", 0, pos) + 1) + 1


def _blank(chunk: str) -> str:
    """Spaces in place of ``chunk``, keeping its line breaks."""
    return re.sub(r"[^\n]", " ", chunk)


def strip(text: str) -> str:
    """``text`` with comments and trailing commas outside strings replaced by spaces.

    The result has the same length and the same line breaks as ``text``.

    Raises:
        JSONCError: A ``/*`` comment is never closed.
    """
    out: list[str] = []
    pos = 0
    while True:
        m = _STRIP_TOKENS.search(text, pos)
        if m is None:
            break
        start, end = m.span()
        out.append(text[pos:start])
        tok = m.group()
        if tok == "//":
            nl = text.find("\n", end)
            end = len(text) if nl < 0 else nl
            out.append(_blank(text[start:end]))
        elif tok == "/*":
            close = text.find("*/", end)
            if close < 0:
                line, col = _line_col(text, start)
                raise JSONCError("unterminated /* comment", line=line, column=col)
            end = close + 2
            out.append(_blank(text[start:end]))
        else:  # a string, kept as is
            out.append(tok)
        pos = end
    out.append(text[pos:])
    result = "".join(out)
    return _drop_trailing_commas(result) if "," in result else result


def _drop_trailing_commas(text: str) -> str:
    """Blank every comma followed (after blanks only) by ``}`` or ``]``, outside strings."""
    chars: list[str] | None = None
    for m in re.finditer(r'"(?:[^"\\\n]|\\.)*"?|,', text):
        if m.group() != ",":
            continue
        after = _WS.match(text, m.end())
        nxt = after.end() if after else m.end()
        if nxt < len(text) and text[nxt] in "}]":
            if chars is None:
                chars = list(text)
            chars[m.start()] = " "
    return text if chars is None else "".join(chars)


def loads(text: str) -> Any:
    """Decode JSON that may hold comments and trailing commas.

    Raises:
        JSONCError: The text is not valid, naming the line and column.
    """
    value, _ = parse(text, max_depth=0)
    return value


def parse(text: str, *, max_depth: int = 2) -> tuple[Any, dict[KeyPath, int]]:
    """Decode JSONC and find the line of each key down to ``max_depth`` levels.

    Args:
        text: The document.
        max_depth: How deep to record key lines: 1 for the top-level keys, 2 for
            their members too (``("mcpServers", "github")``), and so on; 0 for none.
            Array items are recorded as well, by index, at the line they start.

    Returns:
        The decoded value and a map from key path to 1-based line (the first
        occurrence of a path when a key is repeated).

    Raises:
        JSONCError: The text is not valid, naming the line and column.
    """
    clean = strip(text)
    try:
        value = json.loads(clean)
    except json.JSONDecodeError as exc:
        raise JSONCError(f"invalid JSON: {exc.msg}", line=exc.lineno, column=exc.colno) from None
    except RecursionError:
        raise JSONCError("JSON nested too deeply", line=1, column=1) from None
    lines = key_lines(clean, max_depth=max_depth) if max_depth > 0 else {}
    return value, lines


def key_lines(clean: str, *, max_depth: int) -> dict[KeyPath, int]:
    """Line of each key path in valid, comment-free JSON text (see :func:`parse`)."""
    out: dict[KeyPath, int] = {}
    # One frame per open container: [path, is_object, key or index, expecting a key]
    stack: list[list[Any]] = []
    line = 1
    for m in _KEY_TOKENS.finditer(clean):
        tok = m.group()
        if tok == "\n":
            line += 1
            continue
        top = stack[-1] if stack else None
        if tok[0] == '"':
            if top is not None and top[1] and top[3]:
                key = json.loads(tok)
                top[2] = key
                top[3] = False
                key_path: KeyPath = (*top[0], key)
                if len(key_path) <= max_depth:
                    out.setdefault(key_path, line)
            elif top is not None and not top[1]:
                _note_item(out, top, line, max_depth)
            continue
        if tok in "{[":
            path: KeyPath = ()
            if top is not None:
                if not top[1]:
                    _note_item(out, top, line, max_depth)
                path = (*top[0], top[2])
            stack.append([path, tok == "{", 0 if tok == "[" else None, tok == "{"])
        elif tok in "}]":
            if stack:
                stack.pop()
        elif tok == "," and top is not None:
            if top[1]:
                top[3] = True
            else:
                top[2] += 1
    return out


def _note_item(out: dict[KeyPath, int], frame: list[Any], line: int, max_depth: int) -> None:
    path = (*frame[0], frame[2])
    if len(path) <= max_depth:
        out.setdefault(path, line)
