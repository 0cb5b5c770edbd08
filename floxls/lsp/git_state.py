"""Git-state diagnostics: what in the repository would block a publish, shown while editing.

The facts come from `floxls.repo.repo_state` (a handful of `git` processes) and are judged by
`floxls.publish.preflight.git_findings`. That work runs in one background thread, never on
the event loop and never on the keystroke path: a refresh happens when a manifest is opened
or saved, when files under `.git/` (or `.flox/`) change (through a dynamically registered
file watcher, where the client supports one), and after a publish. `didChange` only reuses
what is cached. The results land in `server.extra_problems[uri]` (warnings) and the lens
titles ("blocked: 2 unpushed commits"). The editor setting `"gitState": false` turns it off.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsprotocol import types

from floxls.manifest.model import Position, Problem, Range, Severity
from floxls.progress import plural

if TYPE_CHECKING:
    from floxls.lsp.core import FloxServer
    from floxls.manifest.model import Manifest
    from floxls.publish.preflight import Finding
    from floxls.repo import RepoState

log = logging.getLogger(__name__)

WATCHER_ID = "floxls-git-state-watcher"
WATCH_GLOBS = ("**/.git/**", "**/.flox/**")
SETTLE_SECONDS = 0.05  # a commit touches many files under .git/: let the burst settle first


def env_dir_for(manifest_path: Path) -> Path:
    """The directory holding `.flox` for `<dir>/.flox/env/manifest.toml`, else the file's dir."""
    env = manifest_path.parent
    if env.name == "env" and env.parent.name == ".flox":
        return env.parent.parent
    return env


def uri_to_path(uri: str) -> Path | None:
    from pygls.uris import to_fs_path

    if not uri.startswith("file:"):
        return None
    fs = to_fs_path(uri)
    return Path(fs) if fs else None


def short_reason(finding: Finding) -> str:
    """A few words for a lens title: `2 unpushed commits`, `no upstream`, ..."""
    code, n = finding.code, finding.count
    if code == "unpushed-commits":
        return plural(n, "unpushed commit") if n else "unpushed commits"
    if code == "untracked-env-files":
        return plural(n if n is not None else len(finding.paths), "untracked file")
    if code == "dirty-files":
        return plural(n if n is not None else len(finding.paths), "uncommitted file")
    if code == "manifest-errors":
        return plural(n, "manifest error") if n else "manifest errors"
    return SHORT.get(code) or finding.message.split(";")[0].strip()


SHORT = {
    "not-a-repo": "not in a git repository",
    "no-commits": "no commits",
    "detached-head": "detached HEAD",
    "no-upstream": "no upstream",
    "nothing-installed": "nothing installed",
    "invalid-target-name": "invalid package name",
}
# Findings from `manifest_findings` that belong with the git state (the rest, e.g.
# manifest-errors, are already diagnostics of their own).
MANIFEST_CODES = frozenset({"nothing-installed"})


def problems_from_findings(findings: Iterable[Finding], manifest: Manifest) -> list[Problem]:
    """Warnings anchored on the manifest's first line.

    The first line is where a repository-wide fact belongs, and it stays put while the user
    types below it, so the cached diagnostics never point into the middle of an edit."""
    first = manifest.text.split("\n", 1)[0].rstrip("\r")
    where = Range(Position(0, 0), Position(0, len(first)))
    return [
        Problem(
            code=f.code,
            message=f.message,
            range=where,
            severity=Severity.WARNING,
            hint=f.fix,
        )
        for f in findings
    ]


@dataclass(slots=True)
class _Snapshot:
    """What one refresh learned about one document."""

    uri: str
    state: RepoState | None
    findings: list[Finding]
    problems: list[Problem]


class GitState:
    """The per-server cache of git findings, and the background refreshes that fill it."""

    def __init__(self, server: Any) -> None:
        self._server = server
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="floxls-git")
        self.findings: dict[str, list[Finding]] = {}
        self.roots: dict[str, Path] = {}
        self.states: dict[Path, RepoState] = {}
        self._queued: set[str] = set()
        self._task: asyncio.Task[None] | None = None
        self.watching = False
        self.watch_requested = False
        self.refresh_count = 0  # for tests and the bench: completed refresh rounds

    @property
    def enabled(self) -> bool:
        """Off when the editor sent `"gitState": false`."""
        settings = getattr(self._server, "settings", None)
        return not (isinstance(settings, dict) and settings.get("gitState") is False)

    def settings_changed(self, _settings: object) -> None:
        if self.enabled:
            self.refresh_all()
            return
        for uri in list(self.findings):
            self.forget(uri)
            if self._server.extra_problems.pop(uri, None) is not None:
                self._server.republish(uri)
        refresh_code_lenses(self._server)

    # ---- reading the cache (event loop, cheap) ----------------------------------------

    def blocked_reason(self, uri: str) -> str | None:
        findings = self.findings.get(uri)
        if not findings:
            return None
        return short_reason(findings[0])

    def explain(self, uri: str) -> list[Finding]:
        return list(self.findings.get(uri, ()))

    # ---- scheduling (event loop) -------------------------------------------------------

    def refresh(self, uris: Iterable[str], *, settle: float = 0.0) -> asyncio.Task[None] | None:
        """Queue `uris` for a refresh; the batch runs in the git thread. Returns the task that
        will have finished the batch (and any queued behind it), None when there is nothing
        to do."""
        if self.enabled:
            self._queued.update(uris)
        if self._task is None or self._task.done():
            if not self._queued:
                return None
            self._task = asyncio.ensure_future(self._drain(settle))
        return self._task

    def refresh_all(self, *, settle: float = 0.0) -> asyncio.Task[None] | None:
        return self.refresh(self._open_uris(), settle=settle)

    def forget(self, uri: str) -> None:
        self.findings.pop(uri, None)
        self.roots.pop(uri, None)
        self._queued.discard(uri)

    def _open_uris(self) -> list[str]:
        docs = getattr(self._server, "documents", None)
        if isinstance(docs, dict):
            return [u for u in docs if isinstance(u, str)]
        try:
            return list(self._server.workspace.text_documents.keys())
        except AttributeError:
            return []

    async def _drain(self, settle: float) -> None:
        if settle:
            await asyncio.sleep(settle)
        loop = asyncio.get_running_loop()
        while self._queued:
            batch = sorted(self._queued)
            self._queued.clear()
            jobs = [(uri, m) for uri in batch if (m := self._manifest_of(uri)) is not None]
            try:
                snaps = await loop.run_in_executor(self._executor, _compute, jobs)
            except Exception:  # never let a git hiccup kill the server
                log.exception("git-state refresh failed")
                continue
            self.refresh_count += 1
            for snap in snaps:
                self._apply(snap)

    def _manifest_of(self, uri: str) -> Manifest | None:
        try:
            analysis = self._server.analysis(uri)
        except Exception:
            return None
        if analysis is None:
            return None
        manifest = getattr(analysis, "manifest", analysis)
        return manifest if hasattr(manifest, "build_targets") else None

    def _apply(self, snap: _Snapshot) -> None:
        if not self.enabled:
            snap.findings, snap.problems = [], []
        if snap.uri not in self._open_uris():
            self.forget(snap.uri)
            return
        old = self.findings.get(snap.uri)
        self.findings[snap.uri] = snap.findings
        if snap.state is not None and snap.state.root is not None:
            self.roots[snap.uri] = snap.state.root
            self.states[snap.state.root] = snap.state  # the last facts, per repository
        if snap.problems:
            self._server.extra_problems[snap.uri] = snap.problems
        else:
            self._server.extra_problems.pop(snap.uri, None)
        self._server.republish(snap.uri)
        if old is None or [f.code for f in old] != [f.code for f in snap.findings]:
            refresh_code_lenses(self._server)

    # ---- the file watcher --------------------------------------------------------------

    def on_watched_files(self, params: types.DidChangeWatchedFilesParams) -> None:
        if any(_under_git_or_flox(c.uri) for c in params.changes):
            self.refresh_all(settle=SETTLE_SECONDS)

    async def register_watcher(self) -> bool:
        """Ask the client to watch `.git/` when it can register watchers dynamically."""
        caps = getattr(self._server, "client_capabilities", None)
        ws = getattr(caps, "workspace", None)
        watched = getattr(ws, "did_change_watched_files", None)
        if not (watched and watched.dynamic_registration):
            return False
        options = types.DidChangeWatchedFilesRegistrationOptions(
            watchers=[types.FileSystemWatcher(glob_pattern=g) for g in WATCH_GLOBS]
        )
        params = types.RegistrationParams(
            registrations=[
                types.Registration(
                    id=WATCHER_ID,
                    method=types.WORKSPACE_DID_CHANGE_WATCHED_FILES,
                    register_options=options,
                )
            ]
        )
        try:
            await self._server.client_register_capability_async(params)
        except Exception:
            log.warning("the client refused the .git watcher; refreshing on open/save only")
            return False
        self.watching = True
        return True

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def _under_git_or_flox(uri: str) -> bool:
    return "/.git/" in uri or uri.endswith("/.git") or "/.flox/" in uri


def _compute(jobs: list[tuple[str, Manifest]]) -> list[_Snapshot]:
    """In the git thread: one `repo_state` per environment directory, findings per document."""
    from floxls.publish.preflight import git_findings, manifest_findings
    from floxls.repo import repo_state

    states: dict[Path, RepoState] = {}
    out: list[_Snapshot] = []
    for uri, manifest in jobs:
        path = uri_to_path(uri)
        if path is None or not manifest.build_targets():
            # Nothing to publish here: git facts would only be noise.
            out.append(_Snapshot(uri, None, [], []))
            continue
        env_dir = env_dir_for(path)
        try:
            state = states.get(env_dir) or repo_state(env_dir)
        except Exception as exc:
            log.warning("git state of %s: %s", env_dir, exc)
            out.append(_Snapshot(uri, None, [], []))
            continue
        states[env_dir] = state
        findings = list(git_findings(state, manifest))
        findings += [f for f in manifest_findings(manifest, ()) if f.code in MANIFEST_CODES]
        out.append(_Snapshot(uri, state, findings, problems_from_findings(findings, manifest)))
    return out


def refresh_code_lenses(server: Any) -> None:
    """Ask the client to re-request code lenses, when it says it can."""
    caps = getattr(server, "client_capabilities", None)
    ws = getattr(caps, "workspace", None)
    lens = getattr(ws, "code_lens", None)
    if lens is not None and lens.refresh_support:
        try:
            server.workspace_code_lens_refresh(None)
        except Exception:
            log.debug("codeLens/refresh failed", exc_info=True)


_STATES: weakref.WeakKeyDictionary[Any, GitState] = weakref.WeakKeyDictionary()


def git_state(server: Any) -> GitState:
    """The GitState of `server`, made on first use."""
    state = _STATES.get(server)
    if state is None:
        state = _STATES[server] = GitState(server)
    return state


def register(server: FloxServer) -> None:
    """Refresh on open and save, on watched `.git/` changes; forget on close."""
    state = git_state(server)
    server.on_settings_changed.append(state.settings_changed)
    server.on_shutdown.append(state.shutdown)

    async def ensure_watcher() -> None:
        if not state.watch_requested:
            state.watch_requested = True
            await state.register_watcher()

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    async def did_open(ls: Any, params: types.DidOpenTextDocumentParams) -> None:
        # The first didOpen comes after `initialized`: a good time to ask for the watcher.
        state.refresh([params.text_document.uri])
        await ensure_watcher()

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: Any, params: types.DidSaveTextDocumentParams) -> None:
        state.refresh([params.text_document.uri])

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: Any, params: types.DidCloseTextDocumentParams) -> None:
        state.forget(params.text_document.uri)
        ls.extra_problems.pop(params.text_document.uri, None)

    @server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    def did_change_watched_files(ls: Any, params: types.DidChangeWatchedFilesParams) -> None:
        state.on_watched_files(params)
