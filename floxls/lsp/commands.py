"""`workspace/executeCommand`: the server's commands, their arguments checked, then dispatched.

- `floxls.publish [uri, name]`: publish a build target (see `publish_command`).
- `floxls.explainBlocked [uri, name]`: say what blocks publishing it, and the fix
  (`window/showMessage`); returns the findings.
- `floxls.enablePublish []`: set `features.publish = true` in the user's flox.toml.
- `floxls.listTargets [uri]`: `[{name, line, blocked}]` for the document's build targets.

Bad arguments (wrong count or types, an unknown target, a URI outside the workspace
folders) get a JSON-RPC "invalid params" error reply; the server carries on.
pygls advertises every registered command in `executeCommandProvider`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams

from floxls.errors import FloxlsError
from floxls.lsp.codelens import (
    EXPLAIN_COMMAND,
    PUBLISH_COMMAND,
    blocked_reason,
    document_findings,
)
from floxls.lsp.git_state import env_dir_for, git_state, uri_to_path
from floxls.lsp.publish_command import Target, is_untrusted, publisher

if TYPE_CHECKING:
    from floxls.lsp.core import FloxServer
    from floxls.manifest.model import BuildTarget, Manifest, Problem

ENABLE_COMMAND = "floxls.enablePublish"
LIST_COMMAND = "floxls.listTargets"
COMMANDS = (PUBLISH_COMMAND, EXPLAIN_COMMAND, ENABLE_COMMAND, LIST_COMMAND)


def _invalid(message: str) -> JsonRpcInvalidParams:
    return JsonRpcInvalidParams(message)


def _expect(command: str, args: tuple[Any, ...], names: tuple[str, ...]) -> list[str]:
    """`args` must be exactly len(names) strings."""
    if len(args) != len(names):
        want = ", ".join(names) or "no arguments"
        raise _invalid(f"{command} takes [{want}], got {len(args)} argument(s)")
    for name, value in zip(names, args, strict=True):
        if not isinstance(value, str) or not value:
            raise _invalid(f"{command}: {name} must be a non-empty string, got {value!r:.60}")
    return list(args)


def _workspace_roots(server: Any) -> list[Path]:
    roots: list[Path] = []
    ws = server.workspace
    for folder in getattr(ws, "folders", {}).values():
        path = uri_to_path(folder.uri)
        if path is not None:
            roots.append(path)
    root_uri = getattr(ws, "root_uri", None)
    if root_uri:
        path = uri_to_path(root_uri)
        if path is not None:
            roots.append(path)
    return roots


def _is_open(server: Any, uri: str) -> bool:
    docs = getattr(server, "documents", None)
    if isinstance(docs, dict) and uri in docs:
        return True
    return uri in getattr(server.workspace, "text_documents", {})


def check_uri(server: Any, command: str, uri: str) -> Path:
    """The manifest's path for `uri`, which must be a file in a workspace folder (or, without
    workspace folders, a document the client has open)."""
    path = uri_to_path(uri)
    if path is None:
        raise _invalid(f"{command}: {uri!r:.100} is not a file:// URI")
    roots = _workspace_roots(server)
    resolved = Path(path).resolve()
    if roots:
        if not any(resolved.is_relative_to(r.resolve()) for r in roots):
            raise _invalid(f"{command}: {path} is outside the workspace folders")
    elif not _is_open(server, uri):
        raise _invalid(f"{command}: {path} is not open and there is no workspace folder")
    return resolved


def analysis_for(server: Any, command: str, uri: str, path: Path) -> tuple[Manifest, list[Problem]]:
    """The open document's analysis when there is one, else the file on disk, analysed."""
    try:
        analysis = server.analysis(uri)
    except Exception:
        analysis = None
    if analysis is not None:
        return analysis.manifest, analysis.problems
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise _invalid(f"{command}: cannot read {path}: {exc.strerror}") from None
    from floxls.manifest import analyze

    return analyze(text)


def find_target(command: str, manifest: Manifest, path: Path, name: str) -> BuildTarget:
    targets = manifest.build_targets()
    for target in targets:
        if target.name == name:
            return target
    known = ", ".join(t.name for t in targets) or "none"
    raise _invalid(f"{command}: no build target {name!r:.80} in {path} (targets: {known})")


@dataclass(frozen=True, slots=True)
class Resolved:
    target: Target
    build: BuildTarget
    manifest: Manifest
    problems: list[Problem]


def resolve(server: Any, command: str, args: tuple[Any, ...]) -> Resolved:
    uri, name = _expect(command, args, ("uri", "name"))
    path = check_uri(server, command, uri)
    manifest, problems = analysis_for(server, command, uri, path)
    build = find_target(command, manifest, path, name)
    target = Target(uri=uri, path=path, env_dir=env_dir_for(path).resolve(), name=name)
    return Resolved(target, build, manifest, problems)


def register(server: FloxServer) -> None:
    # Also when the client goes away without `shutdown`: cancel running publishes (they
    # clean up) and let the idle pool threads end, or the process lingers at exit.
    server.on_shutdown.append(lambda: publisher(server).shutdown())

    @server.command(PUBLISH_COMMAND)
    async def publish(ls: Any, *args: Any) -> dict[str, object]:
        target = resolve(ls, PUBLISH_COMMAND, args).target
        pub = publisher(ls)
        if is_untrusted(ls):
            raise pub.refuse(
                "floxls: publishing is off in an untrusted workspace (a publish runs the "
                "manifest's build commands); trust the workspace (VS Code: Workspace Trust; "
                "other editors: initializationOptions `trusted = true`), then publish again"
            )
        return await pub.publish(target)

    @server.feature(types.SHUTDOWN)
    def shutdown(ls: Any, *_args: Any) -> None:
        # A running build would otherwise keep the process alive after `exit`.
        publisher(ls).shutdown()
        git_state(ls).shutdown()

    @server.command(EXPLAIN_COMMAND)
    def explain_blocked(ls: Any, *args: Any) -> dict[str, object]:
        found = resolve(ls, EXPLAIN_COMMAND, args)
        target = found.target
        lines: list[str] = []
        items: list[dict[str, object]] = []
        mine = document_findings(found.manifest, found.problems, found.build)
        for f in mine + git_state(ls).explain(target.uri):
            lines.append(f"{f.message}; fix: {f.fix}" if f.fix else f.message)
            items.append({"code": f.code, "message": f.message, "fix": f.fix})
        if lines:
            text = f"Publishing {target.name} is blocked:\n" + "\n".join(f"- {x}" for x in lines)
            kind = types.MessageType.Warning
        else:
            text = f"Nothing known blocks publishing {target.name} now; click Publish {target.name}"
            kind = types.MessageType.Info
        ls.window_show_message(types.ShowMessageParams(type=kind, message=text))
        return {"name": target.name, "blocked": bool(items), "findings": items}

    @server.command(ENABLE_COMMAND)
    def enable_publish_command(ls: Any, *args: Any) -> dict[str, object]:
        _expect(ENABLE_COMMAND, args, ())
        from floxls.config import enable_publish

        try:
            path = enable_publish(None)
        except FloxlsError as exc:
            message = f"floxls: {exc.message}" + (f"\nfix: {exc.fix}" if exc.fix else "")
            ls.window_show_message(
                types.ShowMessageParams(type=types.MessageType.Error, message=message)
            )
            return {"enabled": False, "error": exc.message}
        ls.window_show_message(
            types.ShowMessageParams(
                type=types.MessageType.Info, message=f"floxls: publishing enabled in {path}"
            )
        )
        return {"enabled": True, "path": str(path)}

    @server.command(LIST_COMMAND)
    def list_targets(ls: Any, *args: Any) -> list[dict[str, object]]:
        (uri,) = _expect(LIST_COMMAND, args, ("uri",))
        path = check_uri(ls, LIST_COMMAND, uri)
        manifest, problems = analysis_for(ls, LIST_COMMAND, uri, path)
        repo_reason = git_state(ls).blocked_reason(uri)
        return [
            {
                "name": t.name,
                "line": t.lens_range.start.line,
                "blocked": blocked_reason(t, repo_reason, manifest, problems),
            }
            for t in manifest.build_targets()
        ]
