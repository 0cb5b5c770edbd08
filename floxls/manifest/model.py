"""The manifest model: every table, key and value of a TOML document with its source range.

Pure data; `floxls.manifest.parser` builds it, `floxls.manifest.checker` judges it, and the
language server and the publish pipeline read it.

Positions are 0-based; `character` counts Unicode code points in the line (Python string
indices). Front ends convert to their own encoding (LSP: UTF-16 by default).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, Literal, TypeAlias


@dataclass(frozen=True, slots=True, order=True)
class Position:
    line: int
    character: int


@dataclass(frozen=True, slots=True)
class Range:
    start: Position
    end: Position

    def contains(self, pos: Position) -> bool:
        """True when `pos` lies inside the range, both ends included."""
        return self.start <= pos <= self.end


class Severity(IntEnum):
    """Same numbers as LSP's DiagnosticSeverity."""

    ERROR = 1
    WARNING = 2
    INFO = 3
    HINT = 4


@dataclass(frozen=True, slots=True)
class TextEdit:
    range: Range
    new_text: str


@dataclass(frozen=True, slots=True)
class Fix:
    """A quick fix: a title for the editor's menu and the edits that apply it."""

    title: str
    edits: tuple[TextEdit, ...]


@dataclass(frozen=True, slots=True)
class Related:
    """Another place that explains a problem (e.g. the first definition of a duplicate key)."""

    range: Range
    message: str


@dataclass(frozen=True, slots=True)
class Problem:
    """One finding. `code` is stable (tests and docs rely on it); `hint` says how to fix it."""

    code: str
    message: str
    range: Range
    severity: Severity = Severity.ERROR
    hint: str | None = None
    fix: Fix | None = None
    related: tuple[Related, ...] = ()


ScalarKind: TypeAlias = Literal["string", "integer", "float", "boolean", "datetime", "date", "time"]
TableKind: TypeAlias = Literal[
    "root",  # the document itself
    "header",  # [a.b]
    "array-item",  # one [[a.b]]
    "implicit",  # a parent created by a header or dotted key, e.g. `build` in [build.x]
    "dotted",  # created by a dotted key, e.g. `x` in `x.command = "..."`
    "inline",  # { ... }
]


@dataclass(slots=True, eq=False)
class Scalar:
    kind: ScalarKind
    value: object  # str, int, float, bool, or datetime/date/time objects
    range: Range


@dataclass(slots=True, eq=False)
class Array:
    items: list[Value]
    range: Range


@dataclass(slots=True, eq=False)
class Table:
    kind: TableKind
    range: Range  # the whole definition: header (or first key) to the end of its last entry
    header_range: Range | None = None  # `[a.b]` / `[[a.b]]` with brackets, for header kinds
    entries: dict[str, Entry] = field(default_factory=dict)


@dataclass(slots=True, eq=False)
class ArrayOfTables:
    tables: list[Table]
    range: Range


Value: TypeAlias = Scalar | Array | Table | ArrayOfTables


@dataclass(slots=True, eq=False)
class Entry:
    """A key in a table and what it holds.

    `key_range` is where this key segment is written (quotes included): in a `key = value`
    line, in a dotted key, or in a table header. For a table named by several headers, it is
    the first one.
    """

    key: str
    path: tuple[str, ...]  # full path from the document root, this key last
    key_range: Range
    value: Value


CursorPart: TypeAlias = Literal["key", "value", "header", "body"]


@dataclass(slots=True)
class Cursor:
    """What is under a position, for hover and completion.

    - part "key": on a key (in a `key = value` line or dotted key); `key_path` is its path.
    - part "value": on or in a value; `key_path` is the key it belongs to.
    - part "header": inside a `[...]` header; `key_path` is the path written up to the cursor.
    - part "body": between entries, where a new key may be typed; `table_path` is the table.
    `prefix` is the word typed so far before the cursor, `word_range` the span a completion
    replaces.
    """

    part: CursorPart
    table_path: tuple[str, ...]
    key_path: tuple[str, ...]
    entry: Entry | None
    prefix: str
    word_range: Range


@dataclass(slots=True)
class BuildTarget:
    """A `[build.<name>]` table, or a `<name>.command`-style dotted key under `[build]`."""

    name: str
    entry: Entry  # the `name` entry under build
    lens_range: Range  # where the code lens goes: the header, or the dotted key's line


def walk(table: Table, names: Sequence[str]) -> Entry | None:
    """The entry at `names` under `table` (through an array of tables, its last table)."""
    cur: Value = table
    found: Entry | None = None
    for name in names:
        if isinstance(cur, ArrayOfTables):
            if not cur.tables:
                return None
            cur = cur.tables[-1]
        if not isinstance(cur, Table):
            return None
        found = cur.entries.get(name)
        if found is None:
            return None
        cur = found.value
    return found


class Manifest:
    """A parsed document: its text, the value tree, and the syntax problems found.

    Built by `floxls.manifest.parse`; never mutated afterwards. Lines are split as LSP does
    (at `\\r\\n`, `\\r` and `\\n` only); use `line(n)` rather than `str.splitlines()`, which
    also splits at form feeds and other Unicode separators.
    """

    __slots__ = (
        "_header_starts",
        "_headers",
        "_starts",
        "_stmt_starts",
        "_stmts",
        "problems",
        "root",
        "text",
    )

    def __init__(
        self,
        text: str,
        root: Table,
        problems: list[Problem],
        starts: list[int],
        stmts: list[Any],
        stmt_starts: list[int],
        headers: list[tuple[int, tuple[str, ...]]],
        header_starts: list[int],
    ) -> None:
        self.text = text
        self.root = root
        self.problems = problems
        self._starts = starts  # start offset of each line, then len(text) + 1
        self._stmts = stmts
        self._stmt_starts = stmt_starts
        self._headers = headers
        self._header_starts = header_starts

    # -- text ---------------------------------------------------------------------------

    @property
    def line_count(self) -> int:
        return len(self._starts) - 1

    def line(self, n: int) -> str:
        """Line `n` (0-based) without its terminator; "" when out of range."""
        starts = self._starts
        if n < 0 or n >= len(starts) - 1:
            return ""
        text = self.text
        a = starts[n]
        b = min(starts[n + 1], len(text))
        if b > a and text[b - 1] == "\n":
            b -= 1
        if b > a and text[b - 1] == "\r":
            b -= 1
        return text[a:b]

    def offset(self, pos: Position) -> int:
        """The string index of `pos`, clamped into the document."""
        n = pos.line
        if n < 0:
            return 0
        if n >= len(self._starts) - 1:
            return len(self.text)
        return self._starts[n] + min(max(pos.character, 0), len(self.line(n)))

    def position(self, offset: int) -> Position:
        """The position of a string index."""
        offset = min(max(offset, 0), len(self.text))
        n = bisect_right(self._starts, offset) - 1
        return Position(n, offset - self._starts[n])

    # -- values -------------------------------------------------------------------------

    def entry(self, *path: str) -> Entry | None:
        """The entry at `path` (through an array of tables, its last table), or None."""
        return walk(self.root, path)

    def get(self, *path: str) -> Value | None:
        """The value at `path`; `get()` is the root table."""
        if not path:
            return self.root
        e = self.entry(*path)
        return None if e is None else e.value

    def node_at(self, pos: Position) -> Cursor:
        """What is under `pos`: a key, a value, a header, or a table body (see `Cursor`)."""
        from floxls.manifest.cursor import node_at

        return node_at(self, pos)

    def build_targets(self) -> list[BuildTarget]:
        """Every table under `build`, in document order: `[build.x]`, `x.command = ...`, ..."""
        build = self.root.entries.get("build")
        if build is None or not isinstance(build.value, Table):
            return []
        out: list[BuildTarget] = []
        for name, e in build.value.entries.items():
            v = e.value
            if not isinstance(v, Table):
                continue
            if v.kind == "header" and v.header_range is not None:
                lens = v.header_range
            else:
                n = e.key_range.start.line
                lens = Range(Position(n, 0), Position(n, len(self.line(n))))
            out.append(BuildTarget(name, e, lens))
        out.sort(key=lambda t: (t.lens_range.start.line, t.lens_range.start.character))
        return out
