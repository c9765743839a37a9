"""The JSONC reader: JSON with comments and trailing commas, as editors write it."""

from __future__ import annotations

import json

import pytest

from aiposture.discovery.jsonc import JSONCError, loads, parse, strip

SETTINGS = """\
// Workspace MCP servers
{
  /* the inputs VS Code prompts for
     before starting a server */
  "inputs": [
    {"type": "promptString", "id": "gh-token", "password": true,},
  ],
  "servers": {
    "github": {
      "command": "npx", // launched on demand
      "args": ["-y", "@modelcontextprotocol/server-github",],
    },
    "docs": {"url": "https://docs.example.com/mcp",},
  },
}
"""


def test_comments_and_trailing_commas_are_ignored() -> None:
    assert loads(SETTINGS) == {
        "inputs": [{"type": "promptString", "id": "gh-token", "password": True}],
        "servers": {
            "github": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-github"]},
            "docs": {"url": "https://docs.example.com/mcp"},
        },
    }


def test_comment_markers_and_commas_inside_strings_are_kept() -> None:
    text = r"""{
      "url": "https://host//path/*not a comment*/",  // a comment
      "note": "ends with a comma,]",
      "quoted": "a \" // still the string, }",
      "backslash": "C:\\tools\\",
      "list": ["a,", "b" /* c */ , ],
    }"""
    assert loads(text) == {
        "url": "https://host//path/*not a comment*/",
        "note": "ends with a comma,]",
        "quoted": 'a " // still the string, }',
        "backslash": "C:\\tools\\",
        "list": ["a,", "b"],
    }


def test_strip_keeps_length_and_line_breaks() -> None:
    out = strip(SETTINGS)
    assert len(out) == len(SETTINGS)
    assert [i for i, c in enumerate(out) if c == "\n"] == [
        i for i, c in enumerate(SETTINGS) if c == "\n"
    ]
    assert "launched on demand" not in out and "before starting" not in out
    assert "Workspace" not in out
    assert json.loads(out)["servers"]["docs"]["url"] == "https://docs.example.com/mcp"


def test_plain_json_reads_the_same_as_the_json_module() -> None:
    doc = {"a": [1, 2.5, None, True], "b": {"c": "d\u00e9", "e": []}, "f": 'x\\y"z'}
    text = json.dumps(doc, indent=2)
    assert loads(text) == json.loads(text) == doc


def test_key_lines_name_the_line_of_each_key_down_to_the_depth_asked() -> None:
    _, lines = parse(SETTINGS, max_depth=2)
    assert lines[("inputs",)] == 5
    assert lines[("inputs", 0)] == 6
    assert lines[("servers",)] == 8
    assert lines[("servers", "github")] == 9
    assert lines[("servers", "docs")] == 13
    assert ("servers", "github", "command") not in lines
    _, deeper = parse(SETTINGS, max_depth=3)
    assert deeper[("servers", "github", "command")] == 10
    assert deeper[("servers", "github", "args")] == 11


def test_key_lines_of_keys_with_escapes_and_repeated_keys() -> None:
    text = '{\n"a\\u0062": 1,\n"x": {"k": 1},\n"x": {"k": 2}\n}'
    value, lines = parse(text, max_depth=2)
    assert value == {"ab": 1, "x": {"k": 2}}
    assert lines[("ab",)] == 2
    assert lines[("x",)] == 3  # the first occurrence
    assert lines[("x", "k")] == 3


def test_a_syntax_error_names_the_line_and_column_of_the_original_text() -> None:
    text = '{\n  // two servers\n  "a": {"command": "x"}\n  "b": {}\n}\n'
    with pytest.raises(JSONCError) as info:
        loads(text)
    err = info.value
    assert (err.line, err.column) == (4, 3)
    assert "line 4, column 3" in str(err)
    assert "delimiter" in err.reason


def test_an_unterminated_block_comment_is_an_error_at_its_start() -> None:
    with pytest.raises(JSONCError) as info:
        loads('{\n  "a": 1 /* never closed\n}')
    assert (info.value.line, info.value.column) == (2, 10)
    assert "unterminated" in info.value.reason


def test_an_unterminated_string_is_an_error_not_a_hang() -> None:
    with pytest.raises(JSONCError) as info:
        loads('{"a": "open\n}')
    assert info.value.line == 1


def test_errors_do_not_quote_the_text() -> None:
    secret = "sk-live-1234567890abcdefXYZ"
    with pytest.raises(JSONCError) as info:
        loads('{"key": "' + secret + '" "oops"}')
    assert secret not in str(info.value)


def test_empty_and_comment_only_documents_are_errors() -> None:
    for text in ("", "   ", "// nothing\n/* here */"):
        with pytest.raises(JSONCError):
            loads(text)


def test_deep_nesting_is_an_error_not_a_crash() -> None:
    with pytest.raises(JSONCError):
        loads("[" * 100_000 + "]" * 100_000)
