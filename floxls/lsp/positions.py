"""Positions between our model (code-point columns) and the client's position encoding.

Everything under `floxls/lsp/` converts through here. The manifest model counts columns in
Unicode code points (Python string indices); LSP clients count UTF-16 code units unless they
negotiated `utf-8` or `utf-32` (`general.positionEncodings`). Conversions are exact for
astral characters (emoji take 2 UTF-16 units, 4 UTF-8 bytes) and never raise: lines and
columns beyond the text are clamped.

A *line getter* is any `Callable[[int], str]` returning the text of line n (0-based, without
its line break) and "" past the end, e.g. `Analysis.line`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from lsprotocol import types

from floxls.manifest.model import Position, Range

UTF8: Final = "utf-8"
UTF16: Final = "utf-16"
UTF32: Final = "utf-32"
ENCODINGS: Final = (UTF8, UTF16, UTF32)

LineGetter = Callable[[int], str]


def to_client_column(line: str, column: int, encoding: str = UTF16) -> int:
    """Code-point `column` in `line` -> the client's units (clamped to the line's length)."""
    if column <= 0:
        return 0
    if line.isascii() or encoding == UTF32:
        return min(column, len(line))
    prefix = line[:column]
    if encoding == UTF8:
        return len(prefix.encode("utf-8", "surrogatepass"))
    return len(prefix.encode("utf-16-le", "surrogatepass")) // 2


def from_client_column(line: str, units: int, encoding: str = UTF16) -> int:
    """Client's units in `line` -> code-point column (clamped; never splits a character)."""
    if units <= 0:
        return 0
    if line.isascii() or encoding == UTF32:
        return min(units, len(line))
    size = _utf8_size if encoding == UTF8 else _utf16_size
    used = 0
    for index, char in enumerate(line):
        used += size(char)
        if used > units:
            return index
        if used == units:
            return index + 1
    return len(line)


def _utf16_size(char: str) -> int:
    return 2 if ord(char) > 0xFFFF else 1


def _utf8_size(char: str) -> int:
    code = ord(char)
    if code < 0x80:
        return 1
    if code < 0x800:
        return 2
    if code < 0x10000:
        return 3
    return 4


def to_lsp_position(line: LineGetter, pos: Position, encoding: str = UTF16) -> types.Position:
    line_no = max(pos.line, 0)
    return types.Position(
        line=line_no, character=to_client_column(line(line_no), pos.character, encoding)
    )


def to_lsp_range(line: LineGetter, rng: Range, encoding: str = UTF16) -> types.Range:
    """Our `Range` (code points) -> an lsprotocol `Range` in `encoding`."""
    return types.Range(
        start=to_lsp_position(line, rng.start, encoding),
        end=to_lsp_position(line, rng.end, encoding),
    )


def to_lsp_range_dict(line: LineGetter, rng: Range, encoding: str = UTF16) -> dict[str, Any]:
    """Like `to_lsp_range`, as the plain JSON dict (the fast path for diagnostics)."""
    start, end = rng.start, rng.end
    start_line = start.line if start.line > 0 else 0
    end_line = end.line if end.line > 0 else 0
    start_text = line(start_line)
    end_text = start_text if end_line == start_line else line(end_line)
    return {
        "start": {
            "line": start_line,
            "character": to_client_column(start_text, start.character, encoding),
        },
        "end": {
            "line": end_line,
            "character": to_client_column(end_text, end.character, encoding),
        },
    }


def from_lsp_position(line: LineGetter, pos: types.Position, encoding: str = UTF16) -> Position:
    """A client position -> our `Position` (code points)."""
    line_no = max(pos.line, 0)
    return Position(line_no, from_client_column(line(line_no), pos.character, encoding))


def from_lsp_range(line: LineGetter, rng: types.Range, encoding: str = UTF16) -> Range:
    return Range(
        from_lsp_position(line, rng.start, encoding), from_lsp_position(line, rng.end, encoding)
    )


class PositionConverter:
    """Conversions bound to one negotiated encoding (`server.positions`)."""

    __slots__ = ("encoding",)

    def __init__(self, encoding: str = UTF16) -> None:
        self.encoding = encoding if encoding in ENCODINGS else UTF16

    def range(self, line: LineGetter, rng: Range) -> types.Range:
        return to_lsp_range(line, rng, self.encoding)

    def range_dict(self, line: LineGetter, rng: Range) -> dict[str, Any]:
        return to_lsp_range_dict(line, rng, self.encoding)

    def position(self, line: LineGetter, pos: Position) -> types.Position:
        return to_lsp_position(line, pos, self.encoding)

    def from_client(self, line: LineGetter, pos: types.Position) -> Position:
        return from_lsp_position(line, pos, self.encoding)

    def range_from_client(self, line: LineGetter, rng: types.Range) -> Range:
        return from_lsp_range(line, rng, self.encoding)

    def __repr__(self) -> str:
        return f"PositionConverter({self.encoding!r})"
