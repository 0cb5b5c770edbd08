"""Completion: keys allowed in the table under the cursor (not those already there), section
headers, and enum values (plus install ids for `runtime-packages`)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from lsprotocol import types

from floxls.lsp.hover import plain

if TYPE_CHECKING:
    from floxls.lsp.core import FloxServer
    from floxls.lsp.documents import Analysis
    from floxls.manifest.model import Cursor, Range
    from floxls.manifest.schema import KeySpec

TRIGGER_CHARACTERS = ["[", ".", '"']
_SNIPPET_SPECIAL = re.compile(r"[$}\\,|]")


def _escape_choice(value: str) -> str:
    return _SNIPPET_SPECIAL.sub(lambda m: "\\" + m.group(0), value)


def _documentation(ls: FloxServer, spec: KeySpec) -> types.MarkupContent:
    text = spec.markdown()
    if ls.client.markdown_completion_docs:
        return types.MarkupContent(kind=types.MarkupKind.Markdown, value=text)
    return types.MarkupContent(kind=types.MarkupKind.PlainText, value=plain(text))


def _key_insert(spec: KeySpec, snippets: bool) -> tuple[str, types.InsertTextFormat]:
    name = spec.name
    if not snippets:
        return f"{name} = ", types.InsertTextFormat.PlainText
    shapes = spec.shapes
    if spec.values and "string" in shapes:
        choices = ",".join(_escape_choice(v) for v in spec.values)
        text = f'{name} = "${{1|{choices}|}}"$0'
    elif shapes == frozenset({"string"}):
        text = f'{name} = "$1"$0'
    elif "array" in shapes and "string" not in shapes:
        text = f"{name} = [$1]$0"
    elif shapes == frozenset({"table"}):
        text = f"{name} = {{ $1 }}$0"
    elif shapes == frozenset({"boolean"}):
        text = f"{name} = ${{1|true,false|}}$0"
    else:
        text = f"{name} = $0"
    return text, types.InsertTextFormat.Snippet


def _key_items(
    ls: FloxServer, analysis: Analysis, cursor: Cursor, table_path: tuple[str, ...]
) -> list[types.CompletionItem]:
    from floxls.manifest.model import Table
    from floxls.manifest.schema import children

    table = analysis.manifest.get(*table_path) if table_path else analysis.manifest.root
    present: set[str] = set(table.entries) if isinstance(table, Table) else set()
    if cursor.part == "key" and cursor.entry is not None:
        present.discard(cursor.entry.key)  # the key being edited may be renamed
    rng = ls.positions.range(analysis.line, cursor.word_range)
    items: list[types.CompletionItem] = []
    for spec in children(table_path):
        if spec.name in present:
            continue
        at_root = not table_path
        if at_root and spec.shapes == frozenset({"table"}):
            text, fmt = f"[{spec.name}]", types.InsertTextFormat.PlainText
            kind = types.CompletionItemKind.Module
        else:
            text, fmt = _key_insert(spec, ls.client.snippets)
            kind = types.CompletionItemKind.Property
        items.append(
            types.CompletionItem(
                label=spec.name,
                kind=kind,
                detail=spec.type,
                documentation=_documentation(ls, spec),
                text_edit=types.TextEdit(range=rng, new_text=text),
                insert_text_format=fmt,
                filter_text=spec.name,
            )
        )
    return items


def _header_items(ls: FloxServer, analysis: Analysis, cursor: Cursor) -> list[types.CompletionItem]:
    from floxls.manifest.model import Table
    from floxls.manifest.schema import children

    path = cursor.key_path[:-1]  # the last segment is the one being typed
    rng = ls.positions.range(analysis.line, cursor.word_range)
    items: list[types.CompletionItem] = []
    for spec in children(path):
        if not spec.is_table:
            continue
        existing = analysis.manifest.get(*path, spec.name)
        if isinstance(existing, Table) and existing.kind == "header":
            continue  # defining it twice is an error
        items.append(
            types.CompletionItem(
                label=spec.name,
                kind=types.CompletionItemKind.Module,
                detail=spec.type,
                documentation=_documentation(ls, spec),
                text_edit=types.TextEdit(range=rng, new_text=spec.name),
                insert_text_format=types.InsertTextFormat.PlainText,
            )
        )
    return items


def _value_items(ls: FloxServer, analysis: Analysis, cursor: Cursor) -> list[types.CompletionItem]:
    from floxls.manifest.model import Table
    from floxls.manifest.schema import spec_for

    spec = spec_for(cursor.key_path)
    if spec is None:
        return []
    values: list[tuple[str, str]] = [(v, spec.type) for v in spec.values]
    if spec.items is not None and not values:
        values = [(v, spec.items.type) for v in spec.items.values]
    if cursor.key_path and cursor.key_path[-1] == "runtime-packages":
        install = analysis.manifest.get("install")
        if isinstance(install, Table):
            values = [(name, "install id") for name in install.entries]
    if not values and "boolean" in spec.shapes:
        return [
            types.CompletionItem(
                label=word,
                kind=types.CompletionItemKind.Value,
                text_edit=types.TextEdit(
                    range=ls.positions.range(analysis.line, cursor.word_range), new_text=word
                ),
            )
            for word in ("true", "false")
        ]
    word: Range = cursor.word_range
    line = analysis.line(word.start.line)
    col = word.start.character
    written = line[col : word.end.character] if word.end.line == word.start.line else ""
    rng = ls.positions.range(analysis.line, word)
    if written[:1] in ("'", '"'):  # the range covers a (partial) string with its quotes
        quote = written[0]
        inner = False
    else:
        quote = '"'
        inner = 0 < col <= len(line) and line[col - 1] in "\"'"
    items = []
    for rank, (value, detail) in enumerate(values):
        text = value if inner else f"{quote}{value}{quote}"
        items.append(
            types.CompletionItem(
                label=value,
                kind=types.CompletionItemKind.EnumMember,
                # the schema lists values default first (`off` before `pure`): keep that
                # order rather than the client's alphabetical one
                sort_text=f"{rank:04d}",
                detail=detail,
                documentation=_documentation(ls, spec),
                text_edit=types.TextEdit(range=rng, new_text=text),
                insert_text_format=types.InsertTextFormat.PlainText,
                filter_text=text,
            )
        )
    return items


def register(server: FloxServer) -> None:
    @server.feature(
        types.TEXT_DOCUMENT_COMPLETION,
        types.CompletionOptions(trigger_characters=TRIGGER_CHARACTERS),
    )
    async def completion(ls: FloxServer, params: types.CompletionParams) -> types.CompletionList:
        analysis = await ls.analysis_async(params.text_document.uri)
        pos = ls.positions.from_client(analysis.line, params.position)
        cursor = analysis.manifest.node_at(pos)
        if cursor.part == "header":
            items = _header_items(ls, analysis, cursor)
        elif cursor.part == "value":
            items = _value_items(ls, analysis, cursor)
        elif cursor.part == "key":
            items = _key_items(ls, analysis, cursor, cursor.table_path)
        else:
            items = _key_items(ls, analysis, cursor, cursor.table_path)
        return types.CompletionList(is_incomplete=False, items=items)
