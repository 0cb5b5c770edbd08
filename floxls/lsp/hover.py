"""Hover: the schema's docs for the section or key under the cursor."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from lsprotocol import types

if TYPE_CHECKING:
    from floxls.lsp.core import FloxServer

_MARKUP = re.compile(r"\*\*|`")


def plain(markdown: str) -> str:
    """A readable plain-text version of our (simple) markdown docs."""
    return _MARKUP.sub("", markdown.replace("```toml\n", "").replace("\n```", ""))


def register(server: FloxServer) -> None:
    @server.feature(types.TEXT_DOCUMENT_HOVER)
    async def hover(ls: FloxServer, params: types.HoverParams) -> types.Hover | None:
        from floxls.manifest.schema import spec_for

        analysis = await ls.analysis_async(params.text_document.uri)
        pos = ls.positions.from_client(analysis.line, params.position)
        cursor = analysis.manifest.node_at(pos)
        if cursor.part == "body" or not cursor.key_path:
            return None
        spec = spec_for(cursor.key_path)
        if spec is None:
            return None
        if cursor.part == "key" and cursor.entry is not None:
            rng = cursor.entry.key_range
        else:
            rng = cursor.word_range
        key = cursor.key_path[-1]
        text = spec.markdown(None if key.isdigit() else key)
        if ls.client.markdown_hover:
            contents = types.MarkupContent(kind=types.MarkupKind.Markdown, value=text)
        else:
            contents = types.MarkupContent(kind=types.MarkupKind.PlainText, value=plain(text))
        return types.Hover(contents=contents, range=ls.positions.range(analysis.line, rng))
