"""Code lenses: `Publish <name>` above every build target.

A target is a `[build.<name>]` table or a dotted `<name>.command = ...` key under `[build]`
(`Manifest.build_targets()` finds both). The lens runs `floxls.publish [uri, name]`. When the
cached preflight (git state, the target's name) already knows the publish would fail, the
lens says why — `Publish hello — blocked: 2 unpushed commits` — and runs
`floxls.explainBlocked [uri, name]`, which shows the fix.

Computing lenses reads only what is cached: the parsed manifest and the git findings.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from lsprotocol import types

if TYPE_CHECKING:
    from floxls.lsp.core import FloxServer
    from floxls.manifest.model import BuildTarget, Manifest, Problem, Range
    from floxls.publish.preflight import Finding

PUBLISH_COMMAND = "floxls.publish"
EXPLAIN_COMMAND = "floxls.explainBlocked"

RangeConverter = Callable[["Range"], types.Range]


def document_findings(
    manifest: Manifest, problems: Sequence[Problem], target: BuildTarget
) -> list[Finding]:
    """What in the document itself stops publishing `target`: its name, errors in the
    manifest (preflight refuses both; the git state is the other half, cached by git_state).
    The checker's own error for this target's name is not counted twice."""
    from floxls.publish.preflight import manifest_findings, name_finding

    bad_name = name_finding(target.name)
    if bad_name:
        here = target.entry.key_range
        problems = [
            p for p in problems if not (p.code == "invalid-package-name" and p.range == here)
        ]
    errors = [f for f in manifest_findings(manifest, problems) if f.code == "manifest-errors"]
    return ([bad_name] if bad_name else []) + errors


def blocked_reason(
    target: BuildTarget,
    repo_reason: str | None,
    manifest: Manifest,
    problems: Sequence[Problem] = (),
) -> str | None:
    """The first thing that would stop publishing `target`, in a few words."""
    from floxls.lsp.git_state import short_reason

    found = document_findings(manifest, problems, target)
    return short_reason(found[0]) if found else repo_reason


def lens_title(name: str, reason: str | None) -> str:
    return f"Publish {name}" if reason is None else f"Publish {name} — blocked: {reason}"


def build_lenses(
    manifest: Manifest,
    uri: str,
    repo_reason: str | None,
    to_lsp: RangeConverter,
    problems: Sequence[Problem] = (),
) -> list[types.CodeLens]:
    """One lens per build target, in document order."""
    lenses: list[types.CodeLens] = []
    for target in manifest.build_targets():
        reason = blocked_reason(target, repo_reason, manifest, problems)
        command = types.Command(
            title=lens_title(target.name, reason),
            command=PUBLISH_COMMAND if reason is None else EXPLAIN_COMMAND,
            arguments=[uri, target.name],
        )
        lenses.append(types.CodeLens(range=to_lsp(target.lens_range), command=command))
    return lenses


def converter_for(server: Any, manifest: Manifest) -> RangeConverter:
    """Model ranges -> LSP ranges in the encoding the client negotiated."""
    from floxls.lsp.positions import PositionConverter

    conv = getattr(server, "positions", None)
    if not isinstance(conv, PositionConverter):
        conv = PositionConverter()
    line = manifest.line

    def convert(rng: Range) -> types.Range:
        return conv.range(line, rng)

    return convert


def register(server: FloxServer) -> None:
    from floxls.lsp.git_state import git_state

    @server.feature(types.TEXT_DOCUMENT_CODE_LENS)
    def code_lens(ls: Any, params: types.CodeLensParams) -> list[types.CodeLens] | None:
        uri = params.text_document.uri
        analysis = ls.analysis(uri)
        if analysis is None:
            return None
        manifest = analysis.manifest
        reason = git_state(ls).blocked_reason(uri)
        return build_lenses(manifest, uri, reason, converter_for(ls, manifest), analysis.problems)
