"""Git-state diagnostics in the manifest: they appear and clear as the repository changes.

VS Code's capabilities: the server registers a `.git/` file watcher dynamically and the test
plays the editor's watcher (workspace/didChangeWatchedFiles). Neovim 0.7's: no watcher (it
cannot register one), so a save refreshes.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from lsprotocol import types

from tests.support.gitrepo import GitEnv
from tests.support.lsp import frame, read_frame
from tests.test_lsp_publish import CLIENTS, GIT_CODES, Session, isolated_env, session, wait_until

NOTHING_INSTALLED = """\
version = 1

[build.hello]
command = "mkdir -p $out"
"""


def refresh(s: Session, client_name: str, repo: GitEnv, uri: str) -> None:
    """What the editor does after the repository changed under it."""
    if client_name == "vscode":
        s.git_changed(repo.root)
    else:
        s.save(uri)


def git_messages(s: Session, uri: str) -> dict[str, str]:
    return {str(d.code): d.message for d in s.warnings(uri) if str(d.code) in GIT_CODES}


@pytest.mark.slow
@pytest.mark.parametrize("client_name", CLIENTS)
async def test_git_state_diagnostics_appear_and_clear(
    client_name: str, tmp_path: Path, make_git_env: Callable[..., GitEnv]
) -> None:
    repo = make_git_env()
    async with session(client_name, isolated_env(tmp_path), repo.root) as s:
        uri = s.open(repo.manifest)
        await wait_until("first diagnostics", lambda: uri in s.client.diagnostics)
        # The watcher is registered only where the client can register one dynamically.
        watchers = [r for r in s.registrations if r.method == "workspace/didChangeWatchedFiles"]
        if client_name == "vscode":
            await wait_until("watcher registration", lambda: bool(s.registrations))
            watchers = [r for r in s.registrations if r.method == "workspace/didChangeWatchedFiles"]
            assert len(watchers) == 1
            globs = [w["globPattern"] for w in watchers[0].register_options["watchers"]]
            assert "**/.git/**" in globs
        else:
            assert watchers == []
        # Clean and pushed: nothing to say.
        await wait_until_settled(s)
        assert s.git_codes(uri) == set()

        # Two commits not pushed.
        repo.commit_without_push(2)
        refresh(s, client_name, repo, uri)
        await wait_until(
            "unpushed", lambda: "2 commits" in git_messages(s, uri).get("unpushed-commits", "")
        )
        diag = next(d for d in s.warnings(uri) if d.code == "unpushed-commits")
        assert diag.range.start.line == 0
        assert diag.severity == types.DiagnosticSeverity.Warning

        # Pushed: gone.
        repo.push()
        refresh(s, client_name, repo, uri)
        await wait_until("unpushed cleared", lambda: s.git_codes(uri) == set())

        # A dirty tracked file, named; an untracked file under .flox.
        repo.dirty("README.md")
        repo.untrack(".flox/env/extra.json")
        refresh(s, client_name, repo, uri)
        await wait_until(
            "dirty and untracked",
            lambda: {"dirty-files", "untracked-env-files"} <= s.git_codes(uri),
        )
        msgs = git_messages(s, uri)
        assert "README.md" in msgs["dirty-files"]
        assert ".flox/env/extra.json" in msgs["untracked-env-files"]

        # Committed and pushed: all clear again.
        repo.commit("tidy up")
        refresh(s, client_name, repo, uri)
        await wait_until("all clear", lambda: s.git_codes(uri) == set())

        # A new branch without upstream.
        repo.git("switch", "-q", "-c", "feature")
        refresh(s, client_name, repo, uri)
        await wait_until("no upstream", lambda: "no-upstream" in s.git_codes(uri))
        assert "feature" in git_messages(s, uri)["no-upstream"]
        repo.git("push", "-q", "-u", "origin", "feature")
        refresh(s, client_name, repo, uri)
        await wait_until("upstream set", lambda: s.git_codes(uri) == set())


@pytest.mark.slow
async def test_nothing_installed_and_typing_reuses_the_cache(
    tmp_path: Path, make_git_env: Callable[..., GitEnv]
) -> None:
    repo = make_git_env(NOTHING_INSTALLED)
    async with session("neovim", isolated_env(tmp_path), repo.root) as s:
        uri = s.open(repo.manifest)
        await wait_until("nothing installed", lambda: "nothing-installed" in s.git_codes(uri))
        repo.commit_without_push(1)
        # Typing does not look at git: the cached findings stay as they were...
        for version in range(2, 5):
            s.client.text_document_did_change(
                types.DidChangeTextDocumentParams(
                    text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
                    content_changes=[
                        types.TextDocumentContentChangePartial(
                            range=types.Range(
                                start=types.Position(line=4, character=0),
                                end=types.Position(line=4, character=0),
                            ),
                            text="# typing\n",
                        )
                    ],
                )
            )
        lenses = await s.lenses(uri)  # answered after the didChanges were handled
        assert [lens.range.start.line for lens in lenses] == [2]
        await wait_until_settled(s)
        assert s.git_codes(uri) == {"nothing-installed"}
        # ... and a save refreshes them.
        s.save(uri)
        await wait_until(
            "unpushed after save",
            lambda: s.git_codes(uri) == {"nothing-installed", "unpushed-commits"},
        )


@pytest.mark.slow
async def test_no_git_noise_without_build_targets(
    tmp_path: Path, make_git_env: Callable[..., GitEnv]
) -> None:
    repo = make_git_env('version = 1\n\n[install]\nhello.pkg-path = "hello"\n')
    repo.commit_without_push(1)
    async with session("neovim", isolated_env(tmp_path), repo.root) as s:
        uri = s.open(repo.manifest)
        await wait_until("diagnostics", lambda: uri in s.client.diagnostics)
        await wait_until_settled(s)
        assert s.git_codes(uri) == set()
        assert await s.lenses(uri) == []


async def wait_until_settled(s: Session) -> None:
    """Give the background git refresh a moment (it runs after didOpen)."""
    import asyncio

    await asyncio.sleep(0.5)


def test_server_exits_promptly_when_the_client_goes_away(
    tmp_path: Path, make_git_env: Callable[..., GitEnv]
) -> None:
    """stdin closed without shutdown/exit (the editor was killed) after a git-state refresh:
    the idle git thread must not hold the process for the 30 s grace given to publishes."""
    import subprocess
    import sys
    import time

    repo = make_git_env()
    repo.dirty()

    proc = subprocess.Popen(
        [sys.executable, "-m", "floxls", "serve"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=isolated_env(tmp_path),
    )
    assert proc.stdin is not None and proc.stdout is not None
    uri = repo.manifest.as_uri()
    doc = {"uri": uri, "languageId": "toml", "version": 1, "text": repo.manifest.read_text()}
    for message in (
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"capabilities": {}}},
        {"jsonrpc": "2.0", "method": "initialized", "params": {}},
        {"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": doc}},
    ):
        proc.stdin.write(frame(message))
    proc.stdin.flush()
    try:
        while True:  # until the git-state warning (the refresh ran in the git thread)
            diags = read_frame(proc.stdout).get("params", {}).get("diagnostics", [])
            if any(d.get("code") == "dirty-files" for d in diags):
                break
        proc.stdin.close()
        t0 = time.monotonic()
        proc.wait(20)
        assert time.monotonic() - t0 < 5
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
