"""`floxls.publish` end to end: progress, log, result, nix import; cancellation; one at a time.

A real `floxls serve` publishes from a real git repository (with a bare remote) to a
`file://` binary cache with the built-in builder; real `nix` then imports what was published.
"""

from __future__ import annotations

import asyncio
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from floxls.publish.pipeline import nix_copy_command
from tests.support.gitrepo import GitEnv
from tests.support.lsp import frame, read_frame
from tests.support.nixtools import Nix
from tests.test_lsp_publish import Session, isolated_env, session, wait_until

MANIFEST = """\
version = 1

[install]
hello.pkg-path = "hello"

[build.hello]
version = "1.0.0"
command = '''
echo "building hello now"
mkdir -p $out/bin
printf '#!/bin/sh\\necho hello from floxls\\n' > $out/bin/hello
chmod +x $out/bin/hello
echo "built hello"
'''

[build]
slow.command = "echo started; sleep 30; mkdir -p $out"
slow.version = "0.1.0"
"""

PUBLISH_TIMEOUT = 60.0


def make_key(tmp_path: Path) -> tuple[Path, str]:
    from floxls.nix.keys import SecretKey

    key = SecretKey.generate("floxls-test-1")
    path = tmp_path / "cache.sec"
    path.write_text(key.to_text())
    path.chmod(0o600)
    return path, str(key.public())


def settings_for(store: Path, key: Path | None = None) -> dict[str, Any]:
    publish: dict[str, str] = {"storeUrl": store.as_uri()}
    if key is not None:
        publish["signingKey"] = str(key)
    return {"floxls": {"publish": publish, "trusted": True}}


async def publish(s: Session, uri: str, name: str) -> Any:
    return await asyncio.wait_for(
        s.client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="floxls.publish", arguments=[uri, name])
        ),
        PUBLISH_TIMEOUT,
    )


def logged(s: Session, text: str) -> bool:
    return any(text in m.message for m in s.client.log_messages)


def only_token(s: Session) -> Any:
    assert len(s.client.progress_reports) == 1, s.client.progress_reports.keys()
    return next(iter(s.client.progress_reports))


@pytest.mark.slow
@pytest.mark.nix
@pytest.mark.parametrize("client_name", ["vscode", "neovim"])
async def test_publish_reports_progress_and_nix_imports_it(
    client_name: str, tmp_path: Path, make_git_env: Callable[..., GitEnv], nix: Nix
) -> None:
    repo = make_git_env(MANIFEST)
    store = tmp_path / "cache"
    key, public = make_key(tmp_path)
    env = isolated_env(tmp_path)
    # VS Code-style: settings in initializationOptions; Neovim-style: sent later with
    # workspace/didChangeConfiguration (no workspace/configuration involved).
    init = settings_for(store, key) if client_name == "vscode" else {"trusted": True}
    async with session(client_name, env, repo.root, init) as s:
        if client_name == "neovim":
            s.client.workspace_did_change_configuration(
                types.DidChangeConfigurationParams(settings=settings_for(store, key))
            )
        uri = s.open(repo.manifest)
        result = await publish(s, uri, "hello")
        assert result["published"] is True, s.client.messages
        catalog = result["catalog"]
        assert (result["name"], result["version"]) == ("hello", "1.0.0")

        # The progress: created by the server, begin (cancellable), reports, end.
        values = s.client.progress_reports[only_token(s)]
        begin, *reports, end = values
        assert isinstance(begin, types.WorkDoneProgressBegin)
        assert begin.title == "Publishing hello"
        assert begin.cancellable is True
        assert begin.percentage == 0
        assert reports and all(isinstance(r, types.WorkDoneProgressReport) for r in reports)
        steps = [str(r.message).split(":")[0] for r in reports]
        for step in ("preflight", "clone", "build", "closure", "sign", "upload", "record"):
            assert step in steps, steps
        # ... in pipeline order, with percentages that only rise.
        order = ["preflight", "clone", "build", "closure", "sign", "upload", "record"]
        firsts = [steps.index(step) for step in order]
        assert firsts == sorted(firsts)
        percents = [r.percentage for r in reports]
        assert all(p is not None for p in percents)
        assert percents == sorted(percents)  # type: ignore[type-var]
        assert isinstance(end, types.WorkDoneProgressEnd)
        assert end.message == f"Published {catalog}/hello 1.0.0"

        # The build log, line by line, and the outcome.
        assert logged(s, "[hello] building hello now")
        assert logged(s, "[hello] built hello")
        shown = [m for m in s.client.messages if m.message.startswith("Published")]
        assert [(m.type, m.message.split(" — ")[0]) for m in shown] == [
            (types.MessageType.Info, f"Published {catalog}/hello 1.0.0")
        ]

        # Real nix imports it, trusting our key, and gets what the build wrote.
        assert list(store.glob("*.narinfo"))
        (out,) = result["storePaths"]
        # The local catalog is floxls's own, so the message says how to fetch it with nix.
        fetch = shlex.join(nix_copy_command(store.as_uri(), [out], public))
        assert shown[0].message.endswith(f"fetch it with: {fetch}")
        imported = nix.store("imported")
        proc = imported.copy_from(store.as_uri(), [out], trusted_keys=[public])
        assert proc.returncode == 0, proc.stderr
        hello = imported.real(out) / "bin" / "hello"
        assert hello.read_text() == "#!/bin/sh\necho hello from floxls\n"

        # After a publish the git state is refreshed; the server still serves.
        targets = await s.command("floxls.listTargets", uri)
        assert [t["name"] for t in targets] == ["hello", "slow"]


@pytest.mark.slow
async def test_cancel_mid_build_leaves_nothing_behind(
    tmp_path: Path, make_git_env: Callable[..., GitEnv]
) -> None:
    repo = make_git_env(MANIFEST)
    store = tmp_path / "cache"
    env = isolated_env(tmp_path)
    tmpdir = Path(env["TMPDIR"])
    async with session("vscode", env, repo.root, settings_for(store)) as s:
        uri = s.open(repo.manifest)
        task = asyncio.ensure_future(publish(s, uri, "slow"))
        await wait_until("the build to start", lambda: logged(s, "[slow] started"), 30)
        assert list(tmpdir.glob("floxls-publish-*")), "the publish works in a temp dir"
        token = only_token(s)
        s.client.window_work_done_progress_cancel(types.WorkDoneProgressCancelParams(token=token))
        result = await asyncio.wait_for(task, 15)  # not the 30 s of the sleep
        assert result == {"published": False, "cancelled": True}
        end = s.client.progress_reports[token][-1]
        assert isinstance(end, types.WorkDoneProgressEnd)
        assert "cancelled" in str(end.message)
        assert list(tmpdir.glob("floxls-publish-*")) == []
        assert list(store.glob("*.narinfo")) == []
        assert any("cancelled" in m.message for m in s.client.messages)


@pytest.mark.slow
async def test_second_concurrent_publish_is_refused(
    tmp_path: Path, make_git_env: Callable[..., GitEnv]
) -> None:
    repo = make_git_env(MANIFEST)
    store = tmp_path / "cache"
    async with session("neovim", isolated_env(tmp_path), repo.root, settings_for(store)) as s:
        uri = s.open(repo.manifest)
        first = asyncio.ensure_future(publish(s, uri, "slow"))
        await wait_until("the first publish", lambda: logged(s, "[slow] started"), 30)
        with pytest.raises(JsonRpcException) as info:
            await publish(s, uri, "slow")
        assert "slow is already publishing" in str(info.value)
        assert any(
            m.type == types.MessageType.Warning and "already publishing" in m.message
            for m in s.client.messages
        )
        assert not first.done()
        # Still serving; then cancel the first one.
        assert [t["name"] for t in await s.command("floxls.listTargets", uri)] == [
            "hello",
            "slow",
        ]
        token = only_token(s)
        s.client.window_work_done_progress_cancel(types.WorkDoneProgressCancelParams(token=token))
        assert (await asyncio.wait_for(first, 15))["cancelled"] is True


@pytest.mark.slow
def test_client_gone_mid_build_cancels_and_cleans_up(
    tmp_path: Path, make_git_env: Callable[..., GitEnv]
) -> None:
    """The editor dies mid-build (stdin closes, no shutdown): the publish is cancelled, its
    temp dir removed, and the server exits at once (not after the build or a grace period)."""
    import subprocess
    import sys
    import time

    repo = make_git_env(MANIFEST)
    store = tmp_path / "cache"
    env = isolated_env(tmp_path)
    tmpdir = Path(env["TMPDIR"])

    proc = subprocess.Popen(
        [sys.executable, "-m", "floxls", "serve"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        cwd=repo.root,
    )
    assert proc.stdin is not None and proc.stdout is not None
    uri = repo.manifest.as_uri()
    doc = {"uri": uri, "languageId": "toml", "version": 1, "text": repo.manifest.read_text()}
    init = {
        "capabilities": {},
        "rootUri": repo.root.as_uri(),
        "initializationOptions": settings_for(store),
    }
    command = {"command": "floxls.publish", "arguments": [uri, "slow"]}
    for message in (
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": init},
        {"jsonrpc": "2.0", "method": "initialized", "params": {}},
        {"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": doc}},
        {"jsonrpc": "2.0", "id": 2, "method": "workspace/executeCommand", "params": command},
    ):
        proc.stdin.write(frame(message))
    proc.stdin.flush()
    try:
        while True:  # until the build log says the build runs
            msg = read_frame(proc.stdout)
            assert msg.get("id") != 2, msg  # the publish must not have ended
            if "[slow] started" in str(msg.get("params", {}).get("message", "")):
                break
        assert list(tmpdir.glob("floxls-publish-*"))
        proc.stdin.close()
        t0 = time.monotonic()
        proc.wait(40)
        assert time.monotonic() - t0 < 10, "the build ran on after the client left"
        assert list(tmpdir.glob("floxls-publish-*")) == []
        assert list(store.glob("*.narinfo")) == []
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


# ---- failures, and the git state after a publish -------------------------------------------

FAILING = """\
version = 1

[install]
hello.pkg-path = "hello"

[build.broken]
version = "0.1.0"
command = "echo about to fail; exit 7"
"""


def errors_shown(s: Session) -> list[str]:
    return [m.message for m in s.client.messages if m.type == types.MessageType.Error]


def nothing_in_store(store: Path) -> bool:
    nars = list((store / "nar").iterdir()) if (store / "nar").exists() else []
    return list(store.glob("*.narinfo")) == [] and nars == []


@pytest.mark.slow
@pytest.mark.parametrize("client_name", ["vscode", "neovim"])
async def test_failed_build_is_reported_and_the_target_can_be_published_again(
    client_name: str, tmp_path: Path, make_git_env: Callable[..., GitEnv]
) -> None:
    repo = make_git_env(FAILING)
    store = tmp_path / "cache"
    env = isolated_env(tmp_path)
    tmpdir = Path(env["TMPDIR"])
    async with session(client_name, env, repo.root, settings_for(store)) as s:
        uri = s.open(repo.manifest)
        result = await publish(s, uri, "broken")

        # The reply: not published, the error and its fix.
        assert result["published"] is False, result
        assert "the build of broken failed with exit status 7" in result["error"]
        assert "about to fail" in result["error"]  # the end of the build log
        assert result["fix"] == "run the command of [build.broken] in a clean checkout to see why"

        # The progress went as far as the build, and ended.
        token = only_token(s)
        begin, *reports, end = s.client.progress_reports[token]
        assert isinstance(begin, types.WorkDoneProgressBegin)
        steps = [str(r.message).split(":")[0] for r in reports]
        assert "build" in steps, steps
        assert not {"closure", "sign", "upload", "record"} & set(steps), steps
        assert isinstance(end, types.WorkDoneProgressEnd)
        assert end.message == "Publishing broken failed"

        # The build log reached the client; the outcome is one Error naming failure and fix.
        assert logged(s, "[broken] about to fail")
        (shown,) = errors_shown(s)
        assert shown.startswith("Publishing broken failed: the build of broken failed with exit")
        assert "exit status 7" in shown
        assert shown.endswith(
            "\nfix: run the command of [build.broken] in a clean checkout to see why"
        )
        assert not any(m.message.startswith("Published") for m in s.client.messages)

        # Nothing published, nothing left behind.
        assert nothing_in_store(store)
        assert list(tmpdir.iterdir()) == []

        # Still serving; the same target is accepted again (its lock was released) and
        # fails again for the same reason, not as "already publishing".
        assert [t["name"] for t in await s.command("floxls.listTargets", uri)] == ["broken"]
        again = await publish(s, uri, "broken")
        assert again["published"] is False
        assert "exit status 7" in again["error"], again
        assert len(errors_shown(s)) == 2
        assert not any("already" in m.message for m in s.client.messages)
        assert len(s.client.progress_reports) == 2  # a second, complete progress
        assert all(
            isinstance(values[-1], types.WorkDoneProgressEnd)
            for values in s.client.progress_reports.values()
        )
        assert list(tmpdir.iterdir()) == []


@pytest.mark.slow
@pytest.mark.parametrize(
    ("client_name", "case"), [("neovim", "relative-store-url"), ("vscode", "malformed-key")]
)
async def test_a_bad_setting_stops_the_publish_before_anything_is_built(
    client_name: str, case: str, tmp_path: Path, make_git_env: Callable[..., GitEnv]
) -> None:
    """Settings the editor cannot check while editing (they are not git state): the publish
    says what is wrong and how to fix it, and builds nothing."""
    repo = make_git_env(MANIFEST)
    store = tmp_path / "cache"
    env = isolated_env(tmp_path)
    tmpdir = Path(env["TMPDIR"])
    secret = "c2VjcmV0LWtleS1ieXRlcy1ub3QtYS1yZWFsLWtleQ"
    if case == "relative-store-url":
        init: dict[str, Any] = {
            "floxls": {"publish": {"storeUrl": "file://relative/path"}, "trusted": True}
        }
        want_error = "store URL 'file://relative/path' is not an absolute path"
        want_fix = "write file:///absolute/dir (three slashes)"
    else:
        key = tmp_path / "bad.sec"
        key.write_text(f"floxls-test-1:{secret}\n")
        key.chmod(0o600)
        init = settings_for(store, key)
        want_error = f"signing key file {key}"
        want_fix = "nix key generate-secret"
    async with session(client_name, env, repo.root, init) as s:
        uri = s.open(repo.manifest)
        result = await publish(s, uri, "hello")
        assert result["published"] is False, result
        assert want_error in result["error"]
        assert want_fix in str(result["fix"])
        (shown,) = errors_shown(s)
        assert shown.startswith("Publishing hello failed: ")
        assert want_error in shown
        assert "\nfix: " in shown and want_fix in shown.split("\nfix: ", 1)[1]
        assert all(secret not in m.message for m in s.client.messages)
        assert all(secret not in m.message for m in s.client.log_messages)

        # Nothing cloned, built or uploaded.
        assert not logged(s, "[hello]")
        begin, *reports, end = s.client.progress_reports[only_token(s)]
        assert isinstance(begin, types.WorkDoneProgressBegin)
        assert {str(r.message).split(":")[0] for r in reports} <= {"preflight"}, reports
        assert isinstance(end, types.WorkDoneProgressEnd)
        assert end.message == "Publishing hello failed"
        assert list(tmpdir.iterdir()) == []
        assert not store.exists()
        # Still serving.
        assert [t["name"] for t in await s.command("floxls.listTargets", uri)] == [
            "hello",
            "slow",
        ]


@pytest.mark.slow
async def test_git_state_is_refreshed_after_a_publish(
    tmp_path: Path, make_git_env: Callable[..., GitEnv]
) -> None:
    """Neovim 0.7 cannot watch files, so nothing but the publish itself can tell the server
    that the repository changed while it ran: the build waits for the test, which adds an
    untracked file under `.flox/` meanwhile (after preflight looked, so the publish succeeds);
    once the publish ends, its refresh shows the warning without a save or a watcher event."""
    go = tmp_path / "go"
    gated = MANIFEST.replace(
        "[build]\n",
        "[build.gated]\n"
        'version = "0.1.0"\n'
        "command = '''\n"
        'echo "waiting for the test"\n'
        f"i=0; while [ ! -e '{go}' ]; do i=$((i+1)); [ $i -gt 600 ] && exit 1; sleep 0.05; done\n"
        "mkdir -p $out && echo done > $out/done\n"
        "'''\n\n[build]\n",
    )
    repo = make_git_env(gated)
    store = tmp_path / "cache"
    async with session("neovim", isolated_env(tmp_path), repo.root, settings_for(store)) as s:
        uri = s.open(repo.manifest)
        await wait_until("first diagnostics", lambda: uri in s.client.diagnostics)
        await asyncio.sleep(0.5)  # the refresh after didOpen
        assert s.git_codes(uri) == set()
        assert not [r for r in s.registrations if r.method == "workspace/didChangeWatchedFiles"]

        task = asyncio.ensure_future(publish(s, uri, "gated"))
        await wait_until("the build to start", lambda: logged(s, "[gated] waiting for the test"))
        extra = repo.untrack(".flox/env/extra.json")
        await asyncio.sleep(0.3)
        assert s.git_codes(uri) == set(), "nothing but the publish may refresh here"
        go.touch()
        result = await task
        assert result["published"] is True, s.client.messages
        assert list(store.glob("*.narinfo"))

        await wait_until("untracked warning", lambda: "untracked-env-files" in s.git_codes(uri), 10)
        (diag,) = [d for d in s.warnings(uri) if d.code == "untracked-env-files"]
        assert extra.name in diag.message
        lenses = await s.lenses(uri)
        assert [c.command.title for c in lenses if c.command] == [
            f"Publish {name} — blocked: 1 untracked file" for name in ("hello", "gated", "slow")
        ]
