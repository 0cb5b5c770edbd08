"""Document symbols: sections, their keys, install ids, build targets (hierarchical), or a
flat list for clients without hierarchical support."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from lsprotocol import types

if TYPE_CHECKING:
    from floxls.lsp.core import FloxServer
    from floxls.lsp.documents import Analysis
    from floxls.manifest.model import Entry, Position, Value

SECTION_KIND = types.SymbolKind.Module
_SECTION_CHILD_KIND = {
    "install": types.SymbolKind.Package,
    "build": types.SymbolKind.Function,
    "vars": types.SymbolKind.Variable,
    "services": types.SymbolKind.Event,
}
# How deep to list keys: sections (1), their entries (2), and a build target's keys (3).
MAX_DEPTH = 3


def _span(entry: Entry) -> tuple[Position, Position]:
    """The whole extent of an entry: its key and value (and, for tables, every child)."""
    from floxls.manifest.model import Table

    start, end = entry.key_range.start, entry.key_range.end
    value = entry.value
    starts = [start, value.range.start]
    ends = [end, value.range.end]
    if isinstance(value, Table):
        for child in value.entries.values():
            s, e = _span(child)
            starts.append(s)
            ends.append(e)
    return min(starts), max(ends)


def _detail(value: Value) -> str:
    from floxls.manifest.model import Array, ArrayOfTables, Scalar, Table

    if isinstance(value, Scalar):
        text = repr(value.value) if value.kind == "string" else str(value.value).lower()
        return text if len(text) <= 40 else text[:37] + "..."
    if isinstance(value, Array):
        return f"array ({len(value.items)})"
    if isinstance(value, ArrayOfTables):
        return f"array of tables ({len(value.tables)})"
    assert isinstance(value, Table)
    return ""


def _kind(entry: Entry, depth: int) -> types.SymbolKind:
    from floxls.manifest.model import Array, Scalar, Table

    if depth == 1:
        return SECTION_KIND if isinstance(entry.value, Table) else types.SymbolKind.Property
    if depth == 2 and entry.path[0] in _SECTION_CHILD_KIND:
        return _SECTION_CHILD_KIND[entry.path[0]]
    value = entry.value
    if isinstance(value, Table):
        return types.SymbolKind.Object
    if isinstance(value, Array):
        return types.SymbolKind.Array
    if isinstance(value, Scalar):
        if value.kind == "string":
            return types.SymbolKind.String
        if value.kind == "boolean":
            return types.SymbolKind.Boolean
        if value.kind in ("integer", "float"):
            return types.SymbolKind.Number
    return types.SymbolKind.Field


def _range(ls: FloxServer, analysis: Analysis, start: Position, end: Position) -> types.Range:
    from floxls.manifest.model import Range

    return ls.positions.range(analysis.line, Range(start, end))


def _symbols(
    ls: FloxServer, analysis: Analysis, entries: dict[str, Entry], depth: int
) -> list[types.DocumentSymbol]:
    from floxls.manifest.model import Table

    out: list[types.DocumentSymbol] = []
    for entry in entries.values():
        start, end = _span(entry)
        children: list[types.DocumentSymbol] | None = None
        if isinstance(entry.value, Table) and depth < MAX_DEPTH:
            children = _symbols(ls, analysis, entry.value.entries, depth + 1)
        out.append(
            types.DocumentSymbol(
                name=entry.key or '""',
                kind=_kind(entry, depth),
                range=_range(ls, analysis, start, end),
                selection_range=ls.positions.range(analysis.line, entry.key_range),
                detail=_detail(entry.value) or None,
                children=children,
            )
        )
    out.sort(key=lambda s: (s.range.start.line, s.range.start.character))
    return out


def _flatten(
    symbols: Sequence[types.DocumentSymbol], uri: str, container: str | None
) -> list[types.SymbolInformation]:
    out: list[types.SymbolInformation] = []
    for s in symbols:
        out.append(
            types.SymbolInformation(
                name=s.name,
                kind=s.kind,
                location=types.Location(uri=uri, range=s.range),
                container_name=container,
            )
        )
        if s.children:
            inner = f"{container}.{s.name}" if container else s.name
            out.extend(_flatten(s.children, uri, inner))
    return out


def document_symbols(ls: FloxServer, analysis: Analysis) -> list[types.DocumentSymbol]:
    return _symbols(ls, analysis, analysis.manifest.root.entries, 1)


def register(server: FloxServer) -> None:
    @server.feature(types.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
    async def symbols(
        ls: FloxServer, params: types.DocumentSymbolParams
    ) -> list[types.DocumentSymbol] | list[types.SymbolInformation]:
        analysis = await ls.analysis_async(params.text_document.uri)
        tree = document_symbols(ls, analysis)
        if ls.client.hierarchical_symbols:
            return tree
        return _flatten(tree, params.text_document.uri, None)
