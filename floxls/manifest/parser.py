"""A hand-written TOML 1.0 parser that builds the manifest model with exact source ranges.

`parse(text)` never raises. Syntax errors become `toml-syntax` problems at the exact spot;
the parser then resumes at the next line (or, inside an unclosed array, at the next line
that looks like a statement), so later content is still modelled. Duplicate keys
(`duplicate-key`) and table redefinitions (`table-redefined`) point at both places.

Speed: tokens are taken by compiled regexes; line starts are computed once and offsets are
turned into positions with a bisect; Position/Range objects are created without going
through the frozen dataclass `__init__`.
"""

from __future__ import annotations

import gc
import re
from bisect import bisect_right
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta, timezone
from itertools import accumulate
from typing import TypeAlias

from floxls.manifest.model import (
    Array,
    ArrayOfTables,
    Entry,
    Manifest,
    Position,
    Problem,
    Range,
    Related,
    Scalar,
    Severity,
    Table,
    Value,
)

__all__ = ["parse"]

# -- fast Position / Range construction ------------------------------------------------------

_new = object.__new__
_set_line: Callable[[Position, int], None] = vars(Position)["line"].__set__
_set_char: Callable[[Position, int], None] = vars(Position)["character"].__set__
_set_start: Callable[[Range, Position], None] = vars(Range)["start"].__set__
_set_end: Callable[[Range, Position], None] = vars(Range)["end"].__set__


def _mkpos(line: int, char: int) -> Position:
    p: Position = _new(Position)
    _set_line(p, line)
    _set_char(p, char)
    return p


def _mkrange(a: Position, b: Position) -> Range:
    r: Range = _new(Range)
    _set_start(r, a)
    _set_end(r, b)
    return r


_plus_one: Callable[[int], int] = (1).__add__
_ZERO = _mkpos(0, 0)
_PLACEHOLDER = _mkrange(_ZERO, _ZERO)

# -- token regexes ------------------------------------------------------------------------------

_NL = re.compile(r"\r\n|\r|\n")
_WS = re.compile(r"[ \t]*")
_BARE = re.compile(r"[A-Za-z0-9_-]+")
_SIMPLE_KV = re.compile(r"([A-Za-z0-9_-]+)[ \t]*=[ \t]*")
_DOT = re.compile(r"[ \t]*\.[ \t]*")
_TAIL = re.compile(r"[ \t]*(#[^\x00-\x08\x0a-\x1f\x7f]*)?")
_BASIC_FAST = re.compile(r'"([^"\\\x00-\x08\x0a-\x1f\x7f]*)"')
_BASIC_CHUNK = re.compile(r'[^"\\\x00-\x08\x0a-\x1f\x7f]*')
_ML_BASIC_CHUNK = re.compile(r'[^"\\\x00-\x08\x0b-\x1f\x7f]*')
_QUOTES = re.compile(r'"*')
_SQUOTES = re.compile(r"'*")
_LITERAL_FAST = re.compile(r"'([^'\x00-\x08\x0a-\x1f\x7f]*)'")
_LITERAL_BODY = re.compile(r"'[^'\x00-\x08\x0a-\x1f\x7f]*")
_ML_BAD = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|\r(?!\n)")
_ESC_LINE = re.compile(r"\\[ \t]*(?:\r?\n)(?:[ \t]|\r?\n)*")
_UNI4 = re.compile(r"[0-9A-Fa-f]{4}")
_UNI8 = re.compile(r"[0-9A-Fa-f]{8}")
_ARRAY_SKIP = re.compile(r"(?:[ \t]+|\r?\n|#[^\x00-\x08\x0a-\x1f\x7f]*)*")
_BOOL = re.compile(r"true|false")
_NUM = re.compile(
    r"0x[0-9A-Fa-f](?:_?[0-9A-Fa-f])*|0o[0-7](?:_?[0-7])*|0b[01](?:_?[01])*"
    r"|[+-]?(?:inf|nan)"
    r"|[+-]?(?:0|[1-9](?:_?[0-9])*)(\.[0-9](?:_?[0-9])*)?([eE][+-]?[0-9](?:_?[0-9])*)?"
)
_DATE = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})"
    r"(?:[Tt ]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]+))?"
    r"(?:([Zz])|([+-])([0-9]{2}):([0-9]{2}))?)?"
)
_TIME = re.compile(r"([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]+))?")
_TOKEN = re.compile(r"[^ \t\r\n,\]}#]+")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_KEYPART = r"""(?:[A-Za-z0-9_-]+|"[^"\r\n]*"|'[^'\r\n]*')"""
# A line that is a statement, not an array item: a table header or `key =`.
_STMT_LIKE = re.compile(
    r"\[\[?[ \t]*(?!(?:true|false|inf|nan)\b)[A-Za-z_][A-Za-z0-9_-]*[ \t]*[.\]]"
    rf"|{_KEYPART}(?:[ \t]*\.[ \t]*{_KEYPART})*[ \t]*=(?!=)"
)

# Patterns that always match (possibly empty), typed so.
_AlwaysMatch: TypeAlias = Callable[[str, int], re.Match[str]]
_ws: _AlwaysMatch = _WS.match  # type: ignore[assignment]
_tail: _AlwaysMatch = _TAIL.match  # type: ignore[assignment]
_basic_chunk: _AlwaysMatch = _BASIC_CHUNK.match  # type: ignore[assignment]
_ml_basic_chunk: _AlwaysMatch = _ML_BASIC_CHUNK.match  # type: ignore[assignment]
_quotes: _AlwaysMatch = _QUOTES.match  # type: ignore[assignment]
_squotes: _AlwaysMatch = _SQUOTES.match  # type: ignore[assignment]
_array_skip_ws: _AlwaysMatch = _ARRAY_SKIP.match  # type: ignore[assignment]
_SCALAR_END = frozenset(" \t\r\n,]}#")
_SKIPPABLE = frozenset(" \t\r\n#")
_INF_NAN = ("inf", "nan")
_HEX_RUN = re.compile(r"[0-9A-Fa-f]*")
_ESCAPES = {"b": "\b", "t": "\t", "n": "\n", "f": "\f", "r": "\r", '"': '"', "\\": "\\"}

SYNTAX = "toml-syntax"
DUPLICATE = "duplicate-key"
REDEFINED = "table-redefined"
MAX_PROBLEMS = 1000

# A statement record kept for `node_at`:
# (start, end, table path, key segments, value, has `=`, section table)
_Seg: TypeAlias = tuple[str, int, int]
_Stmt: TypeAlias = tuple[int, int, tuple[str, ...], list[_Seg], Value | None, bool, Table]


class _Err(Exception):
    """A syntax error; `partial` is what was parsed of the enclosing value so far."""

    def __init__(
        self,
        message: str,
        start: int,
        end: int,
        resume: int | None = None,
        partial_end: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.start = start
        self.end = end
        self.resume = resume
        self.partial: Value | None = None
        self.partial_end = end if partial_end is None else partial_end


def _bare_or_quoted(name: str) -> str:
    if _BARE.fullmatch(name):
        return name
    out = name.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{out}"'


def _dotted(path: tuple[str, ...] | list[str]) -> str:
    return ".".join(_bare_or_quoted(p) for p in path)


def _show(text: str, limit: int = 40) -> str:
    text = "".join(c if c.isprintable() else f"\\u{ord(c):04X}" for c in text[: limit + 1])
    return text if len(text) <= limit else text[:limit] + "…"


def _describe_char(c: str) -> str:
    if c.isprintable() and not c.isspace():
        return f"`{c}`"
    return f"U+{ord(c):04X}"


class _Parser:
    def __init__(self, text: str) -> None:
        self.s = text
        self.n = n = len(text)
        if "\r" in text:
            starts = [0]
            starts.extend(m.end() for m in _NL.finditer(text))
        else:  # the common case, at C speed
            lengths = map(_plus_one, map(len, text.split("\n")))
            starts = list(accumulate(lengths, initial=0))
            starts.pop()
        starts.append(n + 1)  # sentinel: one past the last line
        self.starts = starts
        self.problems: list[Problem] = []
        self.root = Table("root", _PLACEHOLDER)
        self.table = self.root
        self.tpath: tuple[str, ...] = ()
        self.pending: set[int] = set()  # dotted tables of the current section
        self.sealed: set[int] = set()  # dotted tables of earlier sections
        self.frozen: set[int] = set()  # inline tables and what they contain
        self.tnodes: list[tuple[Table | ArrayOfTables, int, Table | ArrayOfTables | None]] = []
        self.tend: dict[int, int] = {}
        self.stmts: list[_Stmt] = []
        self.stmt_starts: list[int] = []
        self.headers: list[tuple[int, tuple[str, ...]]] = []
        self.header_starts: list[int] = []
        self.hint = 0  # the line of the last range made: most ranges are on the same line

    # -- positions ------------------------------------------------------------------------

    def _pos(self, off: int) -> Position:
        starts = self.starts
        ln = bisect_right(starts, off) - 1
        return _mkpos(ln, off - starts[ln])

    def _rng(self, a: int, b: int) -> Range:
        starts = self.starts
        ln = self.hint
        sa = starts[ln]
        if not (sa <= a < starts[ln + 1]):
            ln = self.hint = bisect_right(starts, a) - 1
            sa = starts[ln]
        p = _new(Position)
        _set_line(p, ln)
        _set_char(p, a - sa)
        q = _new(Position)
        if b < starts[ln + 1]:
            _set_line(q, ln)
            _set_char(q, b - sa)
        else:
            lb = bisect_right(starts, b) - 1
            _set_line(q, lb)
            _set_char(q, b - starts[lb])
        r = _new(Range)
        _set_start(r, p)
        _set_end(r, q)
        return r

    def _line_end(self, off: int) -> int:
        """Offset of the end of the line holding `off` (before its terminator)."""
        starts = self.starts
        ln = bisect_right(starts, off) - 1
        nxt = starts[ln + 1]
        if nxt > self.n:
            return self.n
        s = self.s
        if s[nxt - 1] == "\n" and nxt >= 2 and s[nxt - 2] == "\r":
            return nxt - 2
        return nxt - 1

    def _safe_rng(self, a: int, b: int) -> Range:
        """A range whose ends are clamped inside their lines (for problems)."""
        n = self.n
        a = min(max(a, 0), n)
        b = min(max(b, a), n)
        a = min(a, self._line_end(a))
        le = self._line_end(b)
        if b > le:
            b = le
        return self._rng(a, max(a, b) if b < a else b)

    def _next_line(self, off: int) -> int:
        if off >= self.n:
            return self.n
        ln = bisect_right(self.starts, off) - 1
        return min(self.starts[ln + 1], self.n)

    # -- problems ---------------------------------------------------------------------------

    def _full(self) -> bool:
        """After MAX_PROBLEMS, one last problem says so and the rest are dropped."""
        if len(self.problems) < MAX_PROBLEMS:
            return False
        if len(self.problems) == MAX_PROBLEMS:
            self.problems.append(
                Problem(
                    SYNTAX,
                    f"more than {MAX_PROBLEMS} syntax problems; the rest are not reported",
                    self.problems[-1].range,
                    Severity.ERROR,
                )
            )
        return True

    def _problem(
        self,
        code: str,
        message: str,
        a: int,
        b: int,
        hint: str | None = None,
        related: tuple[Related, ...] = (),
    ) -> None:
        if len(self.problems) >= MAX_PROBLEMS and self._full():
            return
        self.problems.append(
            Problem(code, message, self._safe_rng(a, b), Severity.ERROR, hint, None, related)
        )

    def _problem_rng(
        self, code: str, message: str, rng: Range, hint: str | None, related: Range, rel_msg: str
    ) -> None:
        if len(self.problems) >= MAX_PROBLEMS and self._full():
            return
        self.problems.append(
            Problem(code, message, rng, Severity.ERROR, hint, None, (Related(related, rel_msg),))
        )

    # -- driver -------------------------------------------------------------------------------

    def run(self) -> None:
        s, n = self.s, self.n
        i = 1 if s.startswith("\ufeff") else 0
        ws = _ws
        tail = _tail
        while i < n:
            j = ws(s, i).end()
            try:
                if j < n:
                    c = s[j]
                    if c == "[":
                        j = self._header(j)
                    elif c not in "\n\r#":
                        j = self._keyval(j)
                m = tail(s, j)
                j = m.end()
                if j < n:
                    c = s[j]
                    if c == "\n":
                        j += 1
                    elif c == "\r" and s.startswith("\r\n", j):
                        j += 2
                    elif m.group(1) is not None:
                        raise _Err(
                            f"control character {_describe_char(c)} is not allowed in a comment",
                            j,
                            j + 1,
                        )
                    elif c == "\r":
                        raise _Err("bare carriage return (use LF or CRLF line endings)", j, j + 1)
                    else:
                        # name the whole stray word (`extra`, not `e`) and underline it
                        word = _BARE.match(s, j)
                        end = min(word.end(), j + 40) if word else j + 1
                        found = f"`{s[j:end]}`" if word else _describe_char(c)
                        raise _Err(f"expected the end of the line, found {found}", j, end)
                i = j
            except _Err as e:
                self._problem(SYNTAX, e.message, e.start, e.end)
                r = e.resume if e.resume is not None else self._next_line(e.start)
                i = max(r, i + 1)
        self._finish()

    def _finish(self) -> None:
        tend = self.tend
        rng = self._rng
        for node, start, parent in reversed(self.tnodes):
            end = tend.get(id(node), start)
            node.range = rng(start, end)
            if parent is not None:
                pid = id(parent)
                if tend.get(pid, -1) < end:
                    tend[pid] = end
        self.root.range = self._rng(0, self.n)

    # -- keys --------------------------------------------------------------------------------

    def _key(self, j: int) -> tuple[list[_Seg], int]:
        s, n = self.s, self.n
        keys: list[_Seg] = []
        while True:
            m = _BARE.match(s, j)
            if m is not None:
                b = m.end()
                if b < n and (s[b].isalnum() or ord(s[b]) > 127):
                    bad = _TOKEN.match(s, j)
                    word = bad.group() if bad else s[j:b]
                    raise _Err(
                        f"invalid character {_describe_char(s[b])} in bare key "
                        f"(quote it: {_bare_or_quoted(word.split('=')[0].strip())})",
                        b,
                        b + 1,
                    )
                keys.append((m.group(), j, b))
                j = b
            elif j < n and s[j] == '"':
                fm = _BASIC_FAST.match(s, j)
                if fm is not None:
                    keys.append((fm.group(1), j, fm.end()))
                    j = fm.end()
                else:
                    val, b = self._basic(j)
                    keys.append((val, j, b))
                    j = b
            elif j < n and s[j] == "'":
                fm = _LITERAL_FAST.match(s, j)
                if fm is None:
                    raise self._literal_error(j)
                keys.append((fm.group(1), j, fm.end()))
                j = fm.end()
            else:
                if j >= n or s[j] in "\r\n":
                    what = "the end of the line" if j < n else "the end of the file"
                    raise _Err(f"expected a key, found {what}", j, j)
                if keys:
                    raise _Err(f"expected a key after `.`, found {_describe_char(s[j])}", j, j + 1)
                raise _Err(f"expected a key, found {_describe_char(s[j])}", j, j + 1)
            dm = _DOT.match(s, j)
            if dm is None:
                return keys, j
            j = dm.end()

    # -- statements -------------------------------------------------------------------------

    def _keyval(self, j: int) -> int:
        s = self.s
        start = j
        m = _SIMPLE_KV.match(s, j)
        if m is not None:
            keys: list[_Seg] = [(m.group(1), j, m.end(1))]
            j = m.end()
        else:
            keys, j = self._key(j)
            j = _ws(s, j).end()
            if j >= self.n or s[j] != "=":
                end = self._line_end(start)
                self._add_stmt((start, end, self.tpath, keys, None, False, self.table))
                name = _dotted([k[0] for k in keys])
                if j < self.n and s[j] not in "\r\n#":
                    raise _Err(
                        f"expected `=` after key `{name}`, found {_describe_char(s[j])}",
                        j,
                        j + 1,
                    )
                raise _Err(f"expected `=` after key `{name}`", keys[0][1], keys[-1][2])
            j = _ws(s, j + 1).end()
        table = self.table
        tpath = self.tpath
        path = (*tpath, keys[0][0]) if len(keys) == 1 else tpath + tuple(k[0] for k in keys)
        try:
            value, j = self._value(j, path, "after `=`")
        except _Err as e:
            end = max(self._line_end(e.start), e.partial_end)
            partial = e.partial
            self._add_stmt((start, end, tpath, keys, partial, True, table))
            if partial is not None:
                self._add_kv(table, tpath, keys, partial, e.partial_end, False)
            raise
        self.stmts.append((start, j, tpath, keys, value, True, table))
        self.stmt_starts.append(start)
        if len(keys) == 1:
            name, a, b = keys[0]
            entries = table.entries
            if name not in entries:
                entries[name] = Entry(name, path, self._rng(a, b), value)
                self.tend[id(table)] = j
                return j
        self._add_kv(table, tpath, keys, value, j, False)
        return j

    def _add_stmt(self, st: _Stmt) -> None:
        self.stmts.append(st)
        self.stmt_starts.append(st[0])

    def _add_kv(
        self,
        table: Table,
        tpath: tuple[str, ...],
        keys: list[_Seg],
        value: Value,
        vend: int,
        inline: bool,
    ) -> None:
        cur = table
        path = tpath
        if len(keys) > 1:
            for name, a, b in keys[:-1]:
                path = (*path, name)
                e = cur.entries.get(name)
                if e is None:
                    t = Table("dotted", _PLACEHOLDER)
                    cur.entries[name] = Entry(name, path, self._rng(a, b), t)
                    tid = id(t)
                    if inline:
                        self.frozen.add(tid)
                    else:
                        self.pending.add(tid)
                    self.tnodes.append((t, a, cur))
                    self.tend[tid] = b
                    cur = t
                    continue
                v = e.value
                if type(v) is Table:
                    tid = id(v)
                    if v.kind == "inline" or (not inline and tid in self.frozen):
                        self._problem_rng(
                            REDEFINED,
                            f"cannot add keys to the inline table `{_dotted(path)}`",
                            self._rng(keys[0][1], b),
                            "an inline table is complete as written; add the key inside the braces",
                            e.key_range,
                            "the inline table is defined here",
                        )
                        return
                    if not inline and (v.kind in ("header", "array-item") or tid in self.sealed):
                        first = v.header_range or e.key_range
                        self._problem_rng(
                            REDEFINED,
                            f"table `{_dotted(path)}` is already defined; it cannot be extended "
                            "with dotted keys here",
                            self._rng(keys[0][1], b),
                            "add the key in the table's own section",
                            first,
                            "first defined here",
                        )
                        return
                    if v.kind == "implicit" and not inline:
                        self.pending.add(tid)
                    cur = v
                else:
                    self._problem_rng(
                        DUPLICATE,
                        f"key `{_dotted(path)}` is already defined as a value, so it cannot "
                        "hold sub-keys",
                        self._rng(keys[0][1], b),
                        "remove one of the two definitions",
                        e.key_range,
                        "first defined here",
                    )
                    return
        name, a, b = keys[-1]
        entries = cur.entries
        old = entries.get(name)
        if old is not None:
            full = (*path, name)
            self._problem_rng(
                DUPLICATE,
                f"duplicate key `{_dotted(full[len(tpath) :])}`",
                self._rng(keys[0][1], b),
                "remove one of the two definitions",
                old.key_range,
                "first defined here",
            )
            return
        entries[name] = Entry(name, (*path, name), self._rng(a, b), value)
        self.tend[id(cur)] = vend

    def _header(self, j: int) -> int:
        s, n = self.s, self.n
        hs = j
        aot = s.startswith("[[", j)
        j = _ws(s, j + (2 if aot else 1)).end()
        try:
            keys, j = self._key(j)
        except _Err:
            self._detach(hs, ())
            raise
        j = _ws(s, j).end()
        close = "]]" if aot else "]"
        if s.startswith(close, j):
            he = j + len(close)
            self._open_table(keys, aot, hs, he)
            return he
        # unclosed header: report, but open the table so what follows lands in it
        path = tuple(k[0] for k in keys)
        if j < n and s[j] not in "\r\n#":
            found = _describe_char(s[j])
            self._problem(
                SYNTAX, f"expected `{close}` to close the table header, found {found}", j, j + 1
            )
        else:
            self._problem(
                SYNTAX,
                f"expected `{close}` to close the table header `{_dotted(path)}`",
                hs,
                keys[-1][2],
            )
        self._open_table(keys, aot, hs, keys[-1][2])
        return self._line_end(j)

    def _detach(self, hs: int, path: tuple[str, ...]) -> None:
        self.sealed |= self.pending
        self.pending = set()
        self.table = Table("header", _PLACEHOLDER)
        self.tpath = path
        self.headers.append((hs, path))
        self.header_starts.append(hs)

    def _open_table(self, keys: list[_Seg], aot: bool, hs: int, he: int) -> None:
        self.sealed |= self.pending
        self.pending = set()
        hr = self._rng(hs, he)
        path: tuple[str, ...] = ()
        cur: Table = self.root
        last = len(keys) - 1
        full = tuple(k[0] for k in keys)
        self.headers.append((hs, full))
        self.header_starts.append(hs)
        self.tpath = full
        detached = Table("array-item" if aot else "header", hr, hr)
        self.table = detached
        for idx, (name, a, b) in enumerate(keys):
            path = (*path, name)
            e = cur.entries.get(name)
            if idx < last:
                if e is None:
                    t = Table("implicit", _PLACEHOLDER)
                    cur.entries[name] = Entry(name, path, self._rng(a, b), t)
                    self.tnodes.append((t, a, cur))
                    self.tend[id(t)] = b
                    cur = t
                    continue
                v = e.value
                if type(v) is Table:
                    if id(v) in self.frozen:
                        self._problem_rng(
                            REDEFINED,
                            f"cannot add a table to the inline table `{_dotted(path)}`",
                            hr,
                            "an inline table is complete as written",
                            e.key_range,
                            "the inline table is defined here",
                        )
                        return
                    cur = v
                elif type(v) is ArrayOfTables:
                    cur = v.tables[-1]
                else:
                    self._problem_rng(
                        REDEFINED,
                        f"key `{_dotted(path)}` already holds a value, so it cannot be a table",
                        hr,
                        "rename the table or remove the key",
                        e.key_range,
                        "first defined here",
                    )
                    return
                continue
            # the last segment: the table this header opens
            if e is None:
                if aot:
                    t = Table("array-item", _PLACEHOLDER, hr)
                    arr = ArrayOfTables([t], _PLACEHOLDER)
                    cur.entries[name] = Entry(name, path, self._rng(a, b), arr)
                    self.tnodes.append((arr, hs, cur))
                    self.tnodes.append((t, hs, arr))
                else:
                    t = Table("header", _PLACEHOLDER, hr)
                    cur.entries[name] = Entry(name, path, self._rng(a, b), t)
                    self.tnodes.append((t, hs, cur))
                self.tend[id(t)] = he
                self.table = t
                return
            v = e.value
            if aot:
                if type(v) is ArrayOfTables:
                    t = Table("array-item", _PLACEHOLDER, hr)
                    v.tables.append(t)
                    self.tnodes.append((t, hs, v))
                    self.tend[id(t)] = he
                    self.table = t
                    return
                if type(v) is Array:
                    msg = f"cannot append to `{_dotted(path)}`: it is a static array"
                elif type(v) is Table:
                    msg = f"`{_dotted(path)}` is already defined as a table, not an array of tables"
                else:
                    msg = f"key `{_dotted(path)}` already holds a value"
                first = e.key_range
            else:
                if type(v) is Table and v.kind == "implicit" and id(v) not in self.sealed:
                    v.kind = "header"
                    v.header_range = hr
                    tid = id(v)
                    if self.tend.get(tid, -1) < he:
                        self.tend[tid] = he
                    self.table = v
                    return
                if type(v) is Table:
                    msg = f"table `{_dotted(path)}` is defined twice"
                    first = v.header_range or e.key_range
                elif type(v) is ArrayOfTables:
                    msg = f"`{_dotted(path)}` is an array of tables; use `[[{_dotted(path)}]]`"
                    first = v.tables[0].header_range or e.key_range
                else:
                    msg = f"key `{_dotted(path)}` already holds a value, so it cannot be a table"
                    first = e.key_range
            self._problem_rng(
                REDEFINED,
                msg,
                hr,
                "merge the two definitions into one",
                first,
                "first defined here",
            )
            return

    # -- values ------------------------------------------------------------------------------

    def _value(self, i: int, path: tuple[str, ...], where: str) -> tuple[Value, int]:
        s, n = self.s, self.n
        if i >= n:
            raise _Err(f"expected a value {where}", i, i)
        c = s[i]
        if c == '"':
            if s.startswith('"""', i):
                sv, j = self._ml_basic(i)
            else:
                m = _BASIC_FAST.match(s, i)
                if m is not None:
                    sv, j = m.group(1), m.end()
                else:
                    sv, j = self._basic(i)
            return Scalar("string", sv, self._rng(i, j)), j
        if c == "'":
            if s.startswith("'''", i):
                sv, j = self._ml_literal(i)
            else:
                m = _LITERAL_FAST.match(s, i)
                if m is None:
                    raise self._literal_error(i)
                sv, j = m.group(1), m.end()
            return Scalar("string", sv, self._rng(i, j)), j
        if c == "[":
            return self._array(i, path)
        if c == "{":
            return self._inline(i, path)
        if c == "t" or c == "f":
            m = _BOOL.match(s, i)
            if m is not None:
                j = m.end()
                if j >= n or s[j] in _SCALAR_END:
                    return Scalar("boolean", c == "t", self._rng(i, j)), j
            raise self._bad_value(i, where)
        if "0" <= c <= "9":
            if i + 4 < n and s[i + 4] == "-":
                return self._date(i, where)
            if i + 2 < n and s[i + 2] == ":":
                return self._time(i, where)
        m = _NUM.match(s, i)
        if m is not None:
            j = m.end()
            if j >= n or s[j] in _SCALAR_END:
                text = m.group()
                if m.group(1) is not None or m.group(2) is not None or text[-3:] in _INF_NAN:
                    return Scalar("float", float(text.replace("_", "")), self._rng(i, j)), j
                clean = text.replace("_", "")
                if len(clean) > 2 and clean[0] == "0" and clean[1] in "xob":
                    iv = int(clean[2:], {"x": 16, "o": 8, "b": 2}[clean[1]])
                else:
                    iv = int(clean)
                return Scalar("integer", iv, self._rng(i, j)), j
        raise self._bad_value(i, where)

    def _bad_value(self, i: int, where: str) -> _Err:
        s, n = self.s, self.n
        if i >= n or s[i] in "\r\n#":
            return _Err(f"expected a value {where}", i, i)
        m = _TOKEN.match(s, i)
        if m is None:
            return _Err(f"expected a value {where}, found {_describe_char(s[i])}", i, i + 1)
        tok = m.group()
        if not tok[0].isprintable():
            return _Err(f"control character {_describe_char(tok[0])} is not allowed", i, i + 1)
        if _WORD.fullmatch(tok):
            return _Err(
                f'invalid value `{_show(tok)}`: strings must be quoted, e.g. "{_show(tok)}"',
                i,
                m.end(),
            )
        if tok[:1] in "\"'":
            return _Err(f"invalid value `{_show(tok)}`", i, m.end())
        return _Err(f"invalid value `{_show(tok)}`", i, m.end())

    def _date(self, i: int, where: str) -> tuple[Value, int]:
        s, n = self.s, self.n
        m = _DATE.match(s, i)
        if m is None:
            raise self._bad_value(i, where)
        j = m.end()
        if j < n and s[j] not in _SCALAR_END:
            raise self._bad_value(i, where)
        g = m.groups()
        try:
            d = date(int(g[0]), int(g[1]), int(g[2]))
            if g[3] is None:
                return Scalar("date", d, self._rng(i, j)), j
            frac = g[6]
            micro = int(frac[:6].ljust(6, "0")) if frac else 0
            tz: timezone | None = None
            if g[7] is not None:
                tz = UTC
            elif g[8] is not None:
                hh, mm = int(g[9]), int(g[10])
                if hh > 23 or mm > 59:
                    raise ValueError("offset")
                delta = timedelta(hours=hh, minutes=mm)
                tz = timezone(delta if g[8] == "+" else -delta)
            dt = datetime(d.year, d.month, d.day, int(g[3]), int(g[4]), int(g[5]), micro, tz)
        except ValueError:
            raise _Err(f"invalid date or time `{m.group()}`", i, j) from None
        return Scalar("datetime", dt, self._rng(i, j)), j

    def _time(self, i: int, where: str) -> tuple[Value, int]:
        s, n = self.s, self.n
        m = _TIME.match(s, i)
        if m is None:
            raise self._bad_value(i, where)
        j = m.end()
        if j < n and s[j] not in _SCALAR_END:
            raise self._bad_value(i, where)
        frac = m.group(4)
        try:
            micro = int(frac[:6].ljust(6, "0")) if frac else 0
            t = time(int(m.group(1)), int(m.group(2)), int(m.group(3)), micro)
        except ValueError:
            raise _Err(f"invalid time `{m.group()}`", i, j) from None
        return Scalar("time", t, self._rng(i, j)), j

    # -- strings ------------------------------------------------------------------------------

    def _escape(self, j: int) -> tuple[str, int]:
        """The escape sequence at `j` (which holds the backslash)."""
        s, n = self.s, self.n
        if j + 1 >= n:
            raise _Err("unterminated string", j, j + 1)
        c = s[j + 1]
        esc = _ESCAPES.get(c)
        if esc is not None:
            return esc, j + 2
        if c == "u" or c == "U":
            m = (_UNI4 if c == "u" else _UNI8).match(s, j + 2)
            width = 4 if c == "u" else 8
            if m is None:
                run = _HEX_RUN.match(s, j + 2, j + 2 + width)
                raise _Err(
                    f"invalid unicode escape: `\\{c}` needs {width} hex digits",
                    j,
                    run.end() if run else j + 2,
                )
            cp = int(m.group(), 16)
            if cp > 0x10FFFF or 0xD800 <= cp <= 0xDFFF:
                raise _Err(
                    f"invalid unicode escape `\\{c}{m.group()}`: not a Unicode scalar value",
                    j,
                    m.end(),
                )
            return chr(cp), m.end()
        if c in "\r\n":
            raise _Err("invalid escape: `\\` at the end of a line in a one-line string", j, j + 1)
        raise _Err(f"invalid escape `\\{_show(c)}`", j, j + 2)

    def _basic(self, i: int) -> tuple[str, int]:
        s, n = self.s, self.n
        parts: list[str] = []
        j = i + 1
        chunk = _basic_chunk
        while True:
            m = chunk(s, j)
            parts.append(m.group())
            j = m.end()
            if j >= n:
                raise _Err('unterminated string: missing closing `"`', i, j)
            c = s[j]
            if c == '"':
                return "".join(parts), j + 1
            if c == "\\":
                esc, j = self._escape(j)
                parts.append(esc)
                continue
            if c in "\r\n":
                raise _Err('unterminated string: missing closing `"`', i, j)
            raise _Err(
                f"control character {_describe_char(c)} is not allowed in a string", j, j + 1
            )

    def _ml_basic(self, i: int) -> tuple[str, int]:
        s, n = self.s, self.n
        j = i + 3
        if s.startswith("\n", j):
            j += 1
        elif s.startswith("\r\n", j):
            j += 2
        parts: list[str] = []
        chunk = _ml_basic_chunk
        while True:
            m = chunk(s, j)
            parts.append(m.group())
            j = m.end()
            if j >= n:
                raise _Err(
                    'unterminated multi-line string: missing closing `"""`',
                    i,
                    i + 3,
                    resume=self._next_line(i),
                )
            c = s[j]
            if c == '"':
                k = _quotes(s, j).end() - j
                if k >= 3:
                    if k > 5:
                        raise _Err("too many quotes at the end of a multi-line string", j, j + k)
                    parts.append('"' * (k - 3))
                    return "".join(parts), j + k
                parts.append('"' * k)
                j += k
            elif c == "\\":
                lm = _ESC_LINE.match(s, j)
                if lm is not None:
                    j = lm.end()
                    continue
                esc, j = self._escape(j)
                parts.append(esc)
            elif c == "\r" and s.startswith("\r\n", j):
                parts.append("\r\n")
                j += 2
            else:
                raise _Err(
                    f"control character {_describe_char(c)} is not allowed in a string", j, j + 1
                )

    def _literal_error(self, i: int) -> _Err:
        s, n = self.s, self.n
        m = _LITERAL_BODY.match(s, i)
        j = m.end() if m else i + 1
        if j >= n or s[j] in "\r\n":
            return _Err("unterminated string: missing closing `'`", i, j)
        return _Err(
            f"control character {_describe_char(s[j])} is not allowed in a string", j, j + 1
        )

    def _ml_literal(self, i: int) -> tuple[str, int]:
        s = self.s
        j = i + 3
        if s.startswith("\n", j):
            j += 1
        elif s.startswith("\r\n", j):
            j += 2
        k = s.find("'''", j)
        if k < 0:
            raise _Err(
                "unterminated multi-line string: missing closing `'''`",
                i,
                i + 3,
                resume=self._next_line(i),
            )
        bad = _ML_BAD.search(s, j, k)
        if bad is not None:
            b = bad.start()
            raise _Err(
                f"control character {_describe_char(s[b])} is not allowed in a string", b, b + 1
            )
        q = _squotes(s, k).end() - k
        if q > 5:
            raise _Err("too many quotes at the end of a multi-line string", k, k + q)
        return s[j:k] + "'" * (q - 3), k + q

    # -- arrays and inline tables ---------------------------------------------------------

    def _array_skip(self, j: int, opening: int) -> int:
        s = self.s
        if j < self.n and s[j] not in _SKIPPABLE:
            return j
        k = _array_skip_ws(s, j).end()
        if k > j and k < self.n and s.find("\n", j, k) >= 0 and _STMT_LIKE.match(s, k):
            line_start = self.starts[bisect_right(self.starts, k) - 1]
            raise _Err(
                "unterminated array: missing `]`",
                opening,
                opening + 1,
                resume=line_start,
                partial_end=self._line_end(max(line_start - 1, opening)),
            )
        return k

    def _array(self, i: int, path: tuple[str, ...]) -> tuple[Value, int]:
        s, n = self.s, self.n
        items: list[Value] = []
        j = i + 1
        try:
            while True:
                j = self._array_skip(j, i)
                if j >= n:
                    raise _Err("unterminated array: missing `]`", i, i + 1, resume=n, partial_end=n)
                if s[j] == "]":
                    j += 1
                    break
                v, j = self._value(j, path, "in the array")
                items.append(v)
                j = self._array_skip(j, i)
                if j >= n:
                    raise _Err("unterminated array: missing `]`", i, i + 1, resume=n, partial_end=n)
                c = s[j]
                if c == ",":
                    j += 1
                elif c == "]":
                    j += 1
                    break
                else:
                    raise _Err(
                        f"expected `,` or `]` after an array item, found {_describe_char(c)}",
                        j,
                        j + 1,
                    )
        except _Err as e:
            if e.partial is not None:
                items.append(e.partial)
            e.partial = Array(items, self._safe_rng(i, max(e.partial_end, i + 1)))
            raise
        return Array(items, self._rng(i, j)), j

    def _inline(self, i: int, path: tuple[str, ...]) -> tuple[Value, int]:
        s, n = self.s, self.n
        t = Table("inline", _PLACEHOLDER)
        self.frozen.add(id(t))
        ws = _ws
        j = ws(s, i + 1).end()
        try:
            if j < n and s[j] == "}":
                j += 1
            else:
                while True:
                    keys, j = self._key(j)
                    j = ws(s, j).end()
                    if j >= n or s[j] != "=":
                        name = _dotted([k[0] for k in keys])
                        if j < n and s[j] not in "\r\n":
                            raise _Err(
                                f"expected `=` after key `{name}`, found {_describe_char(s[j])}",
                                j,
                                j + 1,
                            )
                        raise _Err(f"expected `=` after key `{name}`", keys[0][1], keys[-1][2])
                    j = ws(s, j + 1).end()
                    vpath = path + tuple(k[0] for k in keys)
                    v, j = self._value(j, vpath, "after `=`")
                    self._add_kv(t, path, keys, v, j, True)
                    j = ws(s, j).end()
                    c = s[j] if j < n else "\n"
                    if c == ",":
                        comma = j
                        j = ws(s, j + 1).end()
                        if j < n and s[j] == "}":
                            raise _Err(
                                "trailing comma is not allowed in an inline table",
                                comma,
                                comma + 1,
                            )
                        continue
                    if c == "}":
                        j += 1
                        break
                    if c in "\r\n#":
                        raise _Err(
                            "unterminated inline table: missing `}` (an inline table must be "
                            "on one line)",
                            i,
                            i + 1,
                        )
                    raise _Err(
                        f"expected `,` or `}}` in the inline table, found {_describe_char(c)}",
                        j,
                        j + 1,
                    )
        except _Err as e:
            t.range = self._safe_rng(i, max(e.partial_end, e.start, i + 1))
            e.partial = t
            e.partial_end = max(e.partial_end, e.start)
            raise
        t.range = self._rng(i, j)
        return t, j


def parse(text: str) -> Manifest:
    """Parse TOML text into a `Manifest`. Never raises."""
    if not isinstance(text, str):  # defensive: callers should decode first
        text = str(text)
    # The parser allocates many small objects and no cycles; a cyclic-GC pass in the middle
    # (which scans the whole heap of a long-running server) only costs time.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    p = _Parser(text)
    try:
        p.run()
    except RecursionError:
        p.problems.append(
            Problem(SYNTAX, "values are nested too deeply", p._rng(0, 0), Severity.ERROR)
        )
        p._finish()
    finally:
        if gc_was_enabled:
            gc.enable()
    return Manifest(
        text,
        p.root,
        p.problems,
        p.starts,
        p.stmts,
        p.stmt_starts,
        p.headers,
        p.header_starts,
    )
