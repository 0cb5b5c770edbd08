"""Problems -> LSP diagnostics; pull diagnostics (`textDocument/diagnostic`).

Push (`textDocument/publishDiagnostics`) is driven by the document sync in `core`; pull is
served here, and only advertised to clients that declare `textDocument.diagnostic` (never
both to one client). Diagnostics are built as plain JSON dicts: this is the keystroke path,
and going through lsprotocol/cattrs would cost more than parsing a small manifest.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from lsprotocol import types

from floxls.lsp.positions import to_lsp_range_dict

if TYPE_CHECKING:
    from floxls.lsp.core import FloxServer
    from floxls.lsp.documents import Analysis
    from floxls.manifest.model import Problem

SOURCE = "floxls"


def to_diagnostics(
    server: FloxServer, analysis: Analysis, extra: Iterable[Problem] = ()
) -> list[dict[str, Any]]:
    """The diagnostics for `analysis.problems` followed by `extra` ones."""
    line = analysis.line
    encoding = server.positions.encoding
    related_ok = server.client.related_information
    uri = analysis.uri
    out: list[dict[str, Any]] = []
    append = out.append
    for problems in (analysis.problems, extra):
        for p in problems:
            message = p.message if not p.hint else f"{p.message}\n{p.hint}"
            diag: dict[str, Any] = {
                "range": to_lsp_range_dict(line, p.range, encoding),
                "severity": int(p.severity),
                "code": p.code,
                "source": SOURCE,
                "message": message,
            }
            if p.related and related_ok:
                diag["relatedInformation"] = [
                    {
                        "location": {
                            "uri": uri,
                            "range": to_lsp_range_dict(line, r.range, encoding),
                        },
                        "message": r.message,
                    }
                    for r in p.related
                ]
            append(diag)
    return out


def register(server: FloxServer) -> None:
    @server.feature(
        types.TEXT_DOCUMENT_DIAGNOSTIC,
        types.DiagnosticOptions(
            identifier=SOURCE, inter_file_dependencies=False, workspace_diagnostics=False
        ),
    )
    async def document_diagnostic(
        ls: FloxServer, params: types.DocumentDiagnosticParams
    ) -> dict[str, Any]:
        uri = params.text_document.uri
        analysis = await ls.analysis_async(uri)
        doc = ls.documents.get(uri)
        items = ls.diagnostics(analysis)
        # A result id per distinct answer, so an unchanged document costs the client nothing.
        key = (analysis.text, tuple(ls.extra_problems.get(uri, ())))
        if doc is not None:
            previous = doc.pull_key
            if (
                previous is not None
                and previous[0] is key[0]
                and previous[1] == key[1]
                and params.previous_result_id is not None
                and params.previous_result_id == doc.result_id
            ):
                return {"kind": "unchanged", "resultId": doc.result_id}
            doc.result_id = ls.next_result_id()
            doc.pull_key = key
            return {"kind": "full", "resultId": doc.result_id, "items": items}
        return {"kind": "full", "items": items}
