"""The manifest model: every table, key and value of a TOML document with its source range.

Pure data; `floxls.manifest.parser` builds it, `floxls.manifest.checker` judges it, and the
language server and the publish pipeline read it.

Positions are 0-based; `character` counts Unicode code points in the line (Python string
indices). Front ends convert to their own encoding (LSP: UTF-16 by default).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Literal, TypeAlias


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


ScalarKind: TypeAlias = Literal[
    "string", "integer", "float", "boolean", "datetime", "date", "time"
]
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
