"""Publishing from the editor: code lenses, the commands' arguments, settings, the feature gate.

End-to-end through a real `floxls serve` over stdio (pytest-lsp), with VS Code's and Neovim
0.7's client capabilities, in real git repositories (tests.support.gitrepo). Also the home of
the helpers the other `test_lsp_publish_*` modules share (`isolated_env`, `session`, ...).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import LanguageClient
from pytest_lsp.client import make_test_lsp_client

from floxls.lsp.codelens import build_lenses, lens_title
from floxls.lsp.git_state import env_dir_for, short_reason
from floxls.lsp.publish_command import overrides_from_client
from floxls.publish.preflight import Finding
from tests.support.gitrepo import GIT_ENV, GitEnv
from tests.support.lsp import SERVER_COMMAND, capabilities

# Capability sets of tests.support.lsp (pytest-lsp's recorded VS Code 1.65.2 and Neovim 0.7).
CLIENTS = {"vscode": "visual-studio-code", "neovim": "neovim@v0.7"}
SERVER = SERVER_COMMAND
STEP_TIMEOUT = 20.0

# Both table styles: `[build.<name>]` headers and dotted `<name>.command` keys under [build].
BOTH_STYLES = """\
version = 1

[install]
hello.pkg-path = "hello"

[build]
greet.command = "mkdir -p $out && echo hi > $out/greeting"
greet.version = "0.2.0"

[build.hello]
version = "1.0.0"
command = '''
mkdir -p $out/bin
echo 'echo hello' > $out/bin/hello
'''
"""


# ---- helpers shared with the other test_lsp_publish_* modules ----------------------------


def isolated_env(tmp: Path, *, publish: bool = True, **extra: str) -> dict[str, str]:
    """os.environ with HOME, XDG dirs, Flox config/data dirs and TMPDIR under `tmp`."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("FLOX_", "FLOXLS_", "XDG_", "NIX_", "GIT_"))
    }
    for var, sub in (
        ("HOME", "home"),
        ("XDG_CONFIG_HOME", "xdg-config"),
        ("XDG_DATA_HOME", "xdg-data"),
        ("XDG_CACHE_HOME", "xdg-cache"),
        ("XDG_STATE_HOME", "xdg-state"),
        ("FLOX_CONFIG_DIR", "flox-config"),
        ("FLOX_SYSTEM_CONFIG_DIR", "flox-system"),
        ("FLOXLS_DATA_DIR", "floxls-data"),
        ("TMPDIR", "tmp"),
    ):
        path = tmp / "env" / sub
        path.mkdir(parents=True, exist_ok=True)
        env[var] = str(path)
    env.update(GIT_ENV)
    if publish:
        env["FLOX_FEATURES_PUBLISH"] = "true"
    env.update(extra)
    return env


class Session:
    """A started client plus what the tests look at."""

    def __init__(self, client: LanguageClient, init: types.InitializeResult) -> None:
        self.client = client
        self.init = init
        self.registrations: list[types.Registration] = []
        self.message_requests: list[types.ShowMessageRequestParams] = []
        self.answer: str | None = None  # the action to pick in showMessageRequest

    # documents
    def open(self, path: Path) -> str:
        uri = path.as_uri()
        self.client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(
                    uri=uri, language_id="toml", version=1, text=path.read_text()
                )
            )
        )
        return uri

    def save(self, uri: str) -> None:
        self.client.text_document_did_save(
            types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
        )

    def git_changed(self, root: Path) -> None:
        """What an editor's file watcher reports after a commit or push."""
        self.client.workspace_did_change_watched_files(
            types.DidChangeWatchedFilesParams(
                changes=[
                    types.FileEvent(
                        uri=(root / ".git" / "refs" / "heads" / "main").as_uri(),
                        type=types.FileChangeType.Changed,
                    ),
                    types.FileEvent(
                        uri=(root / ".git" / "index").as_uri(), type=types.FileChangeType.Changed
                    ),
                ]
            )
        )

    async def command(self, name: str, *args: Any) -> Any:
        return await asyncio.wait_for(
            self.client.workspace_execute_command_async(
                types.ExecuteCommandParams(command=name, arguments=list(args))
            ),
            STEP_TIMEOUT,
        )

    async def lenses(self, uri: str) -> list[types.CodeLens]:
        result = await asyncio.wait_for(
            self.client.text_document_code_lens_async(
                types.CodeLensParams(text_document=types.TextDocumentIdentifier(uri=uri))
            ),
            STEP_TIMEOUT,
        )
        return list(result or [])

    def warnings(self, uri: str) -> list[types.Diagnostic]:
        return [
            d
            for d in self.client.diagnostics.get(uri, [])
            if d.severity == types.DiagnosticSeverity.Warning
        ]

    def git_codes(self, uri: str) -> set[str]:
        return {str(d.code) for d in self.warnings(uri) if str(d.code) in GIT_CODES}


GIT_CODES = {
    "not-a-repo",
    "no-commits",
    "untracked-env-files",
    "dirty-files",
    "detached-head",
    "no-upstream",
    "unpushed-commits",
    "nothing-installed",
}


async def wait_until(what: str, cond: Callable[[], bool], timeout: float = STEP_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def session(
    client_name: str,
    env: Mapping[str, str],
    root: Path,
    init_options: object = None,
) -> AsyncIterator[Session]:
    """`floxls serve` with `client_name`'s capabilities, workspace folder `root`."""
    client = make_test_lsp_client()
    holder: dict[str, Session] = {}

    @client.feature(types.CLIENT_REGISTER_CAPABILITY)
    def register(ls: Any, params: types.RegistrationParams) -> None:
        holder["s"].registrations.extend(params.registrations)

    @client.feature(types.WINDOW_SHOW_MESSAGE_REQUEST)
    def message_request(
        ls: Any, params: types.ShowMessageRequestParams
    ) -> types.MessageActionItem | None:
        s = holder["s"]
        s.message_requests.append(params)
        for action in params.actions or []:
            if action.title == s.answer:
                return action
        return None

    @client.feature(types.WORKSPACE_CODE_LENS_REFRESH)
    def lens_refresh(ls: Any, _params: None) -> None:
        return None

    await client.start_io(*SERVER, env=dict(env), cwd=str(root))
    caps = capabilities(CLIENTS[client_name])
    params = types.InitializeParams(
        capabilities=caps,
        root_uri=root.as_uri(),
        workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name=root.name)],
        initialization_options={"trusted": True} if init_options is None else init_options,
    )
    # Created before initialize: the server may register its watcher during `initialized`.
    s = Session(client, types.InitializeResult(capabilities=types.ServerCapabilities()))
    holder["s"] = s
    s.init = await asyncio.wait_for(client.initialize_session(params), STEP_TIMEOUT)
    try:
        yield s
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.shutdown_session(), 10)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.stop(), 10)


# ---- unit tests ------------------------------------------------------------------------


def test_overrides_from_client_maps_every_setting() -> None:
    raw = {
        "publish": {"storeUrl": "file:///tmp/cache", "signingKey": "~/k.sec"},
        "catalog": {"url": "http://127.0.0.1:1"},
        "trusted": True,
    }
    want = {
        "store_url": "file:///tmp/cache",
        "signing_key": "~/k.sec",
        "catalog_url": "http://127.0.0.1:1",
    }
    assert overrides_from_client(raw) == want
    assert overrides_from_client({"floxls": raw}) == want
    assert overrides_from_client({"publish.storeUrl": "s3://b"}) == {"store_url": "s3://b"}
    # Unset, empty or mistyped values are not overrides.
    assert overrides_from_client({"publish": {"storeUrl": "", "signingKey": 3}}) == {}
    assert overrides_from_client(None) == {}
    assert overrides_from_client(["x"]) == {}


def test_overrides_are_accepted_by_load_settings(tmp_path: Path) -> None:
    from floxls.config import load_settings

    env = isolated_env(tmp_path, publish=False)
    raw = {"floxls": {"publish": {"storeUrl": "file:///c", "signingKey": "/k"}}}
    settings = load_settings(overrides_from_client(raw), env)
    assert settings.store_url == "file:///c"
    assert settings.signing_key == Path("/k")
    assert settings.publish_enabled is False


def test_short_reasons() -> None:
    assert short_reason(Finding("unpushed-commits", "x", count=2)) == "2 unpushed commits"
    assert short_reason(Finding("unpushed-commits", "x", count=1)) == "1 unpushed commit"
    assert short_reason(Finding("dirty-files", "x", paths=("a",), count=1)) == "1 uncommitted file"
    assert short_reason(Finding("no-upstream", "x")) == "no upstream"
    assert short_reason(Finding("nothing-installed", "x")) == "nothing installed"
    assert (
        lens_title("hello", "2 unpushed commits") == "Publish hello — blocked: 2 unpushed commits"
    )


def test_env_dir_for() -> None:
    assert env_dir_for(Path("/p/.flox/env/manifest.toml")) == Path("/p")
    assert env_dir_for(Path("/p/manifest.toml")) == Path("/p")


def test_build_lenses_from_the_model() -> None:
    from floxls.lsp.codelens import converter_for
    from floxls.manifest import parse

    manifest = parse(BOTH_STYLES + '\n[build."😀x"]\ncommand = "true"\n')
    lenses = build_lenses(manifest, "file:///m", None, converter_for(None, manifest))
    got = [(lens.command.title, lens.command.command, lens.range.start.line) for lens in lenses]
    assert got == [
        ("Publish greet", "floxls.publish", 6),
        ("Publish hello", "floxls.publish", 9),
        ("Publish 😀x — blocked: invalid package name", "floxls.explainBlocked", 16),
    ]
    # UTF-16: the emoji is two code units.
    assert lenses[2].range.end.character == len('[build."😀x"]') + 1
    blocked = build_lenses(
        manifest, "file:///m", "1 unpushed commit", converter_for(None, manifest)
    )
    assert {lens.command.command for lens in blocked} == {"floxls.explainBlocked"}


def test_a_name_ending_in_a_newline_is_blocked_like_preflight_blocks_it() -> None:
    from floxls.lsp.codelens import converter_for
    from floxls.manifest import parse
    from floxls.publish.preflight import target_findings

    text = 'version = 1\n[install]\nx.pkg-path = "x"\n[build."hi\\n"]\ncommand = "true"\n'
    manifest = parse(text)
    assert [t.name for t in manifest.build_targets()] == ["hi\n"]
    (lens,) = build_lenses(manifest, "file:///m", None, converter_for(None, manifest))
    assert lens.command.command == "floxls.explainBlocked"
    assert [f.code for f in target_findings(manifest, "hi\n")] == ["invalid-target-name"]


# ---- end to end --------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("client_name", CLIENTS)
async def test_lenses_for_both_table_styles(
    client_name: str, tmp_path: Path, make_git_env: Callable[..., GitEnv]
) -> None:
    repo = make_git_env(BOTH_STYLES)
    async with session(client_name, isolated_env(tmp_path), repo.root) as s:
        provider = s.init.capabilities.execute_command_provider
        assert provider is not None
        assert {
            "floxls.publish",
            "floxls.explainBlocked",
            "floxls.enablePublish",
            "floxls.listTargets",
        } <= set(provider.commands)
        assert s.init.capabilities.code_lens_provider is not None
        uri = s.open(repo.manifest)
        lenses = await s.lenses(uri)
        got = [
            (c.command.title, c.command.command, list(c.command.arguments or []))
            for c in lenses
            if c.command
        ]
        assert got == [
            ("Publish greet", "floxls.publish", [uri, "greet"]),
            ("Publish hello", "floxls.publish", [uri, "hello"]),
        ]
        # The lens sits on the dotted key's line and on the header.
        assert [lens.range.start.line for lens in lenses] == [6, 9]
        assert lenses[1].range.start.character == 0
        assert lenses[1].range.end.character == len("[build.hello]")

        targets = await s.command("floxls.listTargets", uri)
        assert targets == [
            {"name": "greet", "line": 6, "blocked": None},
            {"name": "hello", "line": 9, "blocked": None},
        ]

        # A commit that is not pushed: after a save, the lenses say why and explain on click.
        repo.commit_without_push(2)
        s.save(uri)
        # (wait for the count: the refresh after didOpen may have caught the first commit)
        await wait_until(
            "unpushed warning",
            lambda: any("2 commits" in d.message for d in s.warnings(uri)),
        )
        lenses = await s.lenses(uri)
        assert [c.command.title for c in lenses if c.command] == [
            "Publish greet — blocked: 2 unpushed commits",
            "Publish hello — blocked: 2 unpushed commits",
        ]
        assert all(c.command and c.command.command == "floxls.explainBlocked" for c in lenses)
        explained = await s.command("floxls.explainBlocked", uri, "hello")
        assert explained["blocked"] is True
        assert explained["findings"][0]["code"] == "unpushed-commits"
        await wait_until(
            "explanation", lambda: any("git push" in m.message for m in s.client.messages)
        )

        # An error typed into the manifest blocks every target before anything git says
        # (preflight refuses a manifest with errors), without waiting for a save.
        s.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
                content_changes=[
                    types.TextDocumentContentChangeWholeDocument(
                        text=BOTH_STYLES + 'sandbox = "purest"\n'
                    )
                ],
            )
        )
        lenses = await s.lenses(uri)
        assert [c.command.title for c in lenses if c.command] == [
            "Publish greet — blocked: 1 manifest error",
            "Publish hello — blocked: 1 manifest error",
        ]
        explained = await s.command("floxls.explainBlocked", uri, "hello")
        assert [f["code"] for f in explained["findings"]] == [
            "manifest-errors",
            "unpushed-commits",
        ]
        assert "on line 16" in explained["findings"][0]["message"]
        targets = await s.command("floxls.listTargets", uri)
        assert {t["blocked"] for t in targets} == {"1 manifest error"}


@pytest.mark.slow
@pytest.mark.parametrize("client_name", CLIENTS)
async def test_bad_arguments_get_error_replies_and_the_server_carries_on(
    client_name: str, tmp_path: Path, make_git_env: Callable[..., GitEnv]
) -> None:
    repo = make_git_env()
    outside = make_git_env()  # another repository, not a workspace folder
    async with session(client_name, isolated_env(tmp_path), repo.root) as s:
        uri = s.open(repo.manifest)
        bad: list[tuple[str, list[Any], str]] = [
            ("floxls.publish", [uri, "nosuch"], "no build target 'nosuch'"),
            ("floxls.publish", [uri], "takes [uri, name]"),
            ("floxls.publish", [uri, 42], "name must be a non-empty string"),
            ("floxls.publish", [{"uri": uri}, "hello"], "uri must be a non-empty string"),
            ("floxls.publish", [], "takes [uri, name]"),
            ("floxls.publish", ["https://example.org/m.toml", "hello"], "not a file:// URI"),
            ("floxls.publish", [outside.manifest.as_uri(), "hello"], "outside the workspace"),
            ("floxls.explainBlocked", [uri, None], "name must be a non-empty string"),
            ("floxls.listTargets", [uri, "extra"], "takes [uri]"),
            ("floxls.enablePublish", ["x"], "takes [no arguments]"),
        ]
        for command, args, expected in bad:
            with pytest.raises(JsonRpcException) as info:
                await s.command(command, *args)
            assert expected in str(info.value), (command, args, str(info.value))
            assert info.value.code == -32602
            # ... and the server still answers.
            targets = await s.command("floxls.listTargets", uri)
            assert [t["name"] for t in targets] == ["hello", "data"]


@pytest.mark.slow
async def test_untrusted_workspace_refuses_to_publish(
    tmp_path: Path, make_git_env: Callable[..., GitEnv]
) -> None:
    repo = make_git_env()
    store = tmp_path / "cache"
    init = {"publish": {"storeUrl": store.as_uri()}, "trusted": False}
    async with session("vscode", isolated_env(tmp_path), repo.root, init) as s:
        uri = s.open(repo.manifest)
        with pytest.raises(JsonRpcException) as info:
            await s.command("floxls.publish", uri, "hello")
        assert "untrusted" in str(info.value)
        assert not store.exists()


@pytest.mark.slow
@pytest.mark.parametrize("answer", ["Enable publishing", None])
async def test_feature_off_offers_to_enable_it(
    answer: str | None, tmp_path: Path, make_git_env: Callable[..., GitEnv]
) -> None:
    repo = make_git_env()
    env = isolated_env(tmp_path, publish=False)
    config = Path(env["FLOX_CONFIG_DIR"]) / "flox.toml"
    original = "# my flox settings\ndisable_metrics = true  # keep this comment\n"
    config.write_text(original)
    store = tmp_path / "cache"
    init = {"floxls": {"publish": {"storeUrl": store.as_uri()}, "trusted": True}}
    async with session("neovim", env, repo.root, init) as s:
        s.answer = answer
        uri = s.open(repo.manifest)
        result = await asyncio.wait_for(s.command("floxls.publish", uri, "hello"), 60)
        assert len(s.message_requests) == 1
        request = s.message_requests[0]
        assert [a.title for a in request.actions or []] == ["Enable publishing"]
        assert str(config) in request.message  # says which file it would change
        if answer is None:
            assert result["published"] is False
            assert config.read_text() == original
            assert any("FLOX_FEATURES_PUBLISH" in m.message for m in s.client.messages)
            assert not list(store.glob("*.narinfo"))
        else:
            text = config.read_text()
            assert text.startswith(original)  # formatting and comments kept
            assert "[features]\npublish = true" in text
            assert result["published"] is True, s.client.messages
            assert list(store.glob("*.narinfo"))
            # Now on: no more questions.
            await s.command("floxls.publish", uri, "hello")
            assert len(s.message_requests) == 1


@pytest.mark.slow
async def test_enable_publish_command(tmp_path: Path, make_git_env: Callable[..., GitEnv]) -> None:
    repo = make_git_env()
    env = isolated_env(tmp_path, publish=False)
    async with session("vscode", env, repo.root) as s:
        result = await s.command("floxls.enablePublish")
        path = Path(env["FLOX_CONFIG_DIR"]) / "flox.toml"
        assert result == {"enabled": True, "path": str(path)}
        assert "publish = true" in path.read_text()
