"""Open documents: their text (kept in sync incrementally) and the cached analysis.

`server.documents[uri]` is a `Document`; `server.analysis(uri)` returns the `Analysis` of its
current text (parse + check, computed at most once per version). Text edits follow LSP's
line rules (`\\n`, `\\r\\n` and `\\r` end a line) and the negotiated position encoding.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from floxls.lsp.positions import UTF16, LineGetter, from_client_column

if TYPE_CHECKING:
    from floxls.manifest.model import Manifest, Problem

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


class Lines:
    """Line access for a text, split as LSP does (at `\\r\\n`, `\\r`, `\\n`); "" past the end.
    (Analyses use `Manifest.line`, which splits the same way; this is the fallback.)"""

    __slots__ = ("_lines", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self._lines: list[str] | None = None

    def __call__(self, n: int) -> str:
        lines = self._lines
        if lines is None:
            lines = self._lines = _LINE_BREAK.split(self.text)
        return lines[n] if 0 <= n < len(lines) else ""


@dataclass(slots=True, eq=False)
class Analysis:
    """One version of a document, parsed and checked."""

    uri: str
    version: int | None
    text: str
    manifest: Manifest
    problems: list[Problem]
    line: LineGetter = field(repr=False)


@dataclass(slots=True, eq=False)
class Document:
    uri: str
    text: str
    version: int | None = None
    language_id: str = "toml"
    analysis: Analysis | None = None
    # Bumped on every change; lets off-loop work notice it is stale.
    generation: int = 0
    # Result id of the last diagnostics we reported (pull mode), and what it covered.
    result_id: str | None = None
    pull_key: tuple[str, tuple[Problem, ...]] | None = None

    @property
    def current(self) -> Analysis | None:
        """The analysis of the current text, if computed."""
        a = self.analysis
        return a if a is not None and a.text is self.text else None


def offset_at(text: str, line: int, units: int, encoding: str = UTF16) -> int:
    """Index into `text` of an LSP position (clamped into the text)."""
    if line < 0:
        return 0
    start = _line_start(text, line)
    if start is None:
        return len(text)
    match = _LINE_BREAK.search(text, start)
    end = match.start() if match else len(text)
    return start + from_client_column(text[start:end], units, encoding)


def _line_start(text: str, line: int) -> int | None:
    if line == 0:
        return 0
    if "\r" not in text:
        pos = -1
        find = text.find
        for _ in range(line):
            pos = find("\n", pos + 1)
            if pos < 0:
                return None
        return pos + 1
    for n, match in enumerate(_LINE_BREAK.finditer(text), start=1):
        if n == line:
            return match.end()
    return None


def apply_change(
    text: str,
    start_line: int,
    start_units: int,
    end_line: int,
    end_units: int,
    new_text: str,
    encoding: str = UTF16,
) -> str:
    """Replace the LSP range with `new_text`. A reversed range is normalised."""
    start = offset_at(text, start_line, start_units, encoding)
    end = (
        start
        if (end_line, end_units) == (start_line, start_units)
        else (offset_at(text, end_line, end_units, encoding))
    )
    if end < start:
        start, end = end, start
    return text[:start] + new_text + text[end:]
