"""Code actions: the quick fixes problems carry (`Problem.fix`: "did you mean", add a missing
`command`), as `quickfix` actions with their diagnostic attached."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lsprotocol import types

from floxls.lsp.diagnostics import SOURCE

if TYPE_CHECKING:
    from floxls.lsp.core import FloxServer
    from floxls.manifest.model import Problem


def _overlaps(a: types.Range, b: types.Range) -> bool:
    a_start = (a.start.line, a.start.character)
    a_end = (a.end.line, a.end.character)
    b_start = (b.start.line, b.start.character)
    b_end = (b.end.line, b.end.character)
    return a_start <= b_end and b_start <= a_end


def register(server: FloxServer) -> None:
    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.QuickFix]),
    )
    async def code_actions(
        ls: FloxServer, params: types.CodeActionParams
    ) -> list[types.CodeAction] | None:
        only = params.context.only
        if only and not any(
            types.CodeActionKind.QuickFix.value.startswith(str(getattr(k, "value", k)))
            for k in only
        ):
            return None
        uri = params.text_document.uri
        analysis = await ls.analysis_async(uri)
        line = analysis.line
        sent = params.context.diagnostics or []
        problems: list[Problem] = [*analysis.problems, *ls.extra_problems.get(uri, ())]
        actions: list[types.CodeAction] = []
        for problem in problems:
            if problem.fix is None:
                continue
            rng = ls.positions.range(line, problem.range)
            if not _overlaps(rng, params.range):
                continue
            diagnostic = next(
                (
                    d
                    for d in sent
                    if d.code == problem.code
                    and d.range == rng
                    and (d.source is None or d.source == SOURCE)
                ),
                None,
            )
            if diagnostic is None:
                diagnostic = types.Diagnostic(
                    range=rng,
                    message=problem.message
                    if not problem.hint
                    else f"{problem.message}\n{problem.hint}",
                    severity=types.DiagnosticSeverity(int(problem.severity)),
                    code=problem.code,
                    source=SOURCE,
                )
            edits = [
                types.TextEdit(range=ls.positions.range(line, e.range), new_text=e.new_text)
                for e in problem.fix.edits
            ]
            actions.append(
                types.CodeAction(
                    title=problem.fix.title,
                    kind=types.CodeActionKind.QuickFix,
                    diagnostics=[diagnostic],
                    edit=types.WorkspaceEdit(changes={uri: edits}),
                )
            )
        if len(actions) == 1 and ls.client.preferred_actions:
            actions[0].is_preferred = True
        return actions
