"""What is under a position: `node_at(manifest, pos) -> Cursor`, for hover and completion.

Works on broken documents too (a half-typed key with no `=` is the common completion case):
it reads the statement spans the parser recorded and the raw line, not only the tree.
"""

from __future__ import annotations

import re
from bisect import bisect_right

from floxls.manifest.model import (
    Array,
    Cursor,
    Entry,
    Manifest,
    Position,
    Range,
    Scalar,
    Table,
    Value,
    walk,
)
from floxls.manifest.parser import _mkpos, _mkrange, _Stmt

__all__ = ["node_at"]

_BODY_BEFORE = re.compile(r"[A-Za-z0-9_-]*\Z")
_BODY_AFTER = re.compile(r"[A-Za-z0-9_-]*")
_VALUE_BEFORE = re.compile(r"[^\s,\[\]{}=]*\Z")
_VALUE_AFTER = re.compile(r"[^\s,\[\]{}=]*")
_HEADER_OPEN = re.compile(r"[ \t]*\[\[?")
_HSEG = re.compile(r"""[ \t]*("(?:[^"\\\r\n]|\\.)*"?|'[^'\r\n]*'?|[^\s.\[\]"'#]*)[ \t]*""")


def _unquote(seg: str) -> str:
    if seg[:1] in "\"'":
        seg = seg[1:]
        if seg[-1:] in "\"'":
            seg = seg[:-1]
    return seg


class _CursorFinder:
    def __init__(self, m: Manifest, pos: Position) -> None:
        self.m = m
        starts = m._starts
        nlines = len(starts) - 1
        line = min(max(pos.line, 0), nlines - 1)
        text = m.line(line)
        col = min(max(pos.character, 0), len(text))
        if pos.line >= nlines:
            col = len(text)
        self.line = line
        self.col = col
        self.lt = text
        self.off = starts[line] + col

    def off_of(self, p: Position) -> int:
        starts = self.m._starts
        if p.line >= len(starts) - 1:
            return len(self.m.text)
        return starts[p.line] + p.character

    def rng(self, a: int, b: int) -> Range:
        starts = self.m._starts
        la = bisect_right(starts, a) - 1
        lb = bisect_right(starts, b) - 1
        return _mkrange(_mkpos(la, a - starts[la]), _mkpos(lb, b - starts[lb]))

    def section(self) -> tuple[str, ...]:
        k = bisect_right(self.m._header_starts, self.off) - 1
        return self.m._headers[k][1] if k >= 0 else ()

    def find(self) -> Cursor:
        m, off = self.m, self.off
        k = bisect_right(m._stmt_starts, off) - 1
        if k >= 0:
            st = m._stmts[k]
            if st[0] <= off <= st[1]:
                return self.in_stmt(st)
        hm = _HEADER_OPEN.match(self.lt)
        if hm is not None and self.col >= hm.end():
            return self.in_header(hm.end())
        return self.body(self.section())

    def body(self, table_path: tuple[str, ...]) -> Cursor:
        before = _BODY_BEFORE.search(self.lt, 0, self.col)
        after = _BODY_AFTER.match(self.lt, self.col)
        a = self.col - (len(before.group()) if before else 0)
        b = after.end() if after else self.col
        line = self.line
        return Cursor(
            "body",
            table_path,
            table_path,
            None,
            self.lt[a : self.col],
            _mkrange(_mkpos(line, a), _mkpos(line, b)),
        )

    def value_token(
        self, table_path: tuple[str, ...], key_path: tuple[str, ...], entry: Entry | None
    ) -> Cursor:
        before = _VALUE_BEFORE.search(self.lt, 0, self.col)
        after = _VALUE_AFTER.match(self.lt, self.col)
        a = self.col - (len(before.group()) if before else 0)
        b = after.end() if after else self.col
        line = self.line
        return Cursor(
            "value",
            table_path,
            key_path,
            entry,
            self.lt[a : self.col],
            _mkrange(_mkpos(line, a), _mkpos(line, b)),
        )

    def in_stmt(self, st: _Stmt) -> Cursor:
        _start, _end, tpath, keys, value, has_eq, table = st
        off = self.off
        names = [k[0] for k in keys]
        text = self.m.text
        for idx, (name, a, b) in enumerate(keys):
            if a <= off <= b:
                tp = tpath + tuple(names[:idx])
                prefix = text[a:off]
                wr = self.rng(a, b)
                if not has_eq:
                    return Cursor("body", tp, tp, None, prefix, wr)
                entry = walk(table, names[: idx + 1])
                return Cursor("key", tp, (*tp, name), entry, prefix, wr)
        if not has_eq:
            if off < keys[0][1]:
                return self.body(tpath)
            return self.body(tpath + tuple(names[:-1]))
        kp = tpath + tuple(names)
        entry = walk(table, names)
        if value is not None:
            vs = self.off_of(value.range.start)
            ve = self.off_of(value.range.end)
            if vs <= off <= ve:
                return self.in_value(value, kp[:-1], kp, entry)
        return self.value_token(kp[:-1], kp, entry)

    def in_value(
        self,
        v: Value,
        table_path: tuple[str, ...],
        key_path: tuple[str, ...],
        entry: Entry | None,
    ) -> Cursor:
        off = self.off
        if type(v) is Scalar:
            a = self.off_of(v.range.start)
            return Cursor("value", table_path, key_path, entry, self.m.text[a:off], v.range)
        if type(v) is Array:
            for item in v.items:
                if self.off_of(item.range.start) <= off <= self.off_of(item.range.end):
                    return self.in_value(item, table_path, key_path, entry)
            return self.value_token(table_path, key_path, entry)
        if type(v) is Table:
            for e in v.entries.values():
                kr = e.key_range
                if self.off_of(kr.start) <= off <= self.off_of(kr.end):
                    a = self.off_of(kr.start)
                    return Cursor("key", e.path[:-1], e.path, e, self.m.text[a:off], kr)
                vr = e.value.range
                if self.off_of(vr.start) <= off <= self.off_of(vr.end):
                    return self.in_value(e.value, e.path[:-1], e.path, e)
            return self.body(key_path)
        return self.value_token(table_path, key_path, entry)

    def in_header(self, j: int) -> Cursor:
        lt, col, line = self.lt, self.col, self.line
        segs: list[tuple[str, int, int]] = []
        while True:
            sm = _HSEG.match(lt, j)
            if sm is None:  # pragma: no cover - the pattern always matches
                break
            segs.append((_unquote(sm.group(1)), sm.start(1), sm.end(1)))
            j = sm.end()
            if j < len(lt) and lt[j] == ".":
                j += 1
                continue
            break
        names = [s[0] for s in segs]
        for idx, (name, a, b) in enumerate(segs):
            if col <= b or (idx == len(segs) - 1 and col <= j):
                if col > b:  # in the spaces after the last segment
                    a = b = col
                    name = ""
                tp = tuple(names[:idx])
                kp = (*tp, name)
                entry = walk(self.m.root, kp) if name else None
                return Cursor(
                    "header",
                    tp,
                    kp,
                    entry,
                    lt[a:col],
                    _mkrange(_mkpos(line, a), _mkpos(line, b)),
                )
        # after the closing bracket: in the table the header opens
        path = tuple(names)
        return Cursor("body", path, path, None, "", _mkrange(_mkpos(line, col), _mkpos(line, col)))


def node_at(manifest: Manifest, pos: Position) -> Cursor:
    """What is under `pos` (see `Cursor`). Never raises on a position outside the text."""
    return _CursorFinder(manifest, pos).find()
