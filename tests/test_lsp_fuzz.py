"""Protocol fuzzing: `floxls serve` never crashes, hangs or leaks a traceback on bad input.

One real server process (`python -m floxls serve` on stdio, VS Code's capabilities, a
workspace folder in a temporary directory, HOME/XDG dirs there too) gets hypothesis-made
requests and notifications for every method it registers, with params that are valid,
mutated (a leaf replaced by random JSON, a key dropped) or random JSON: wrong types,
missing fields, huge and negative numbers, positions past the end, inverted ranges,
unknown and non-file URIs, lone surrogates and emoji, every advertised command with random
arguments (never a valid publish of a real target), random settings, `$/cancelRequest`
for random ids, unknown methods.

After each example:
- every request got a reply (a result or a JSON-RPC error) within `REPLY_TIMEOUT`, and no
  error is an internal error (-32603: an exception that escaped a handler);
- the server is alive and answers a hover on a document the fuzzer never touches, correctly;
- it sent no `window/logMessage` "internal error" (floxls' report of a failed handler);
- its stderr holds no traceback, except those pygls logs for the JSON-RPC errors it sends
  on purpose (the last line names a `pygls.exceptions.JsonRpc*` exception, or floxls'
  `UnknownDocument`, a subclass of one).
"""

from __future__ import annotations

import os
import queue
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.support.lsp import SERVER_COMMAND, capabilities, frame, read_frame

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

REPLY_TIMEOUT = 10.0
MAX_EXAMPLES = int(os.environ.get("FLOXLS_FUZZ_EXAMPLES", "1000"))

GOOD = (
    'version = 1\n[install]\nhello.pkg-path = "hello"\n'
    '[build.hello]\ncommand = "make"\nsandbox = "off"\n'
    '[vars]\nX = "😀 ok"\n'
)
SENTINEL_TEXT = 'version = 1\n[build.x]\ncommand = "make"\n'

# Methods the fuzzer must not send: they end the session (tested in test_lsp_e2e).
LIFECYCLE = {"initialize", "shutdown", "exit"}


# -- a plain JSON-RPC client over the server's stdio ----------------------------------------


class RawServer:
    """`floxls serve` as a subprocess; a thread reads its output (answering the requests it
    sends the client with null, as an editor would)."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.workspace = tmp / "ws"
        (self.workspace / ".flox" / "env").mkdir(parents=True)
        self.disk_manifest = self.workspace / ".flox" / "env" / "manifest.toml"
        self.disk_manifest.write_text(GOOD, encoding="utf-8")
        home = tmp / "home"
        home.mkdir()
        env = dict(os.environ)
        env.update(
            HOME=str(home),
            XDG_CONFIG_HOME=str(home / ".config"),
            XDG_DATA_HOME=str(home / ".local" / "share"),
            XDG_CACHE_HOME=str(home / ".cache"),
            FLOX_SYSTEM_CONFIG_DIR="",
            FLOXLS_DATA_DIR=str(home / "data"),
            GIT_CONFIG_NOSYSTEM="1",
        )
        for var in ("FLOX_CONFIG_DIR", "FLOX_FLOXHUB_TOKEN", "FLOX_FEATURES_PUBLISH"):
            env.pop(var, None)
        self.stderr_path = tmp / "stderr.log"
        self._stderr = open(self.stderr_path, "wb")  # noqa: SIM115 (closed in close())
        self.proc = subprocess.Popen(
            SERVER_COMMAND,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=env,
            cwd=tmp,
        )
        self._write_lock = threading.Lock()
        self.replies: dict[Any, dict[str, Any]] = {}
        self.notifications: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
        self._cond = threading.Condition()
        self.closed = False
        self._next_id = 0
        self._stderr_seen = 0
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        try:
            while True:
                msg = read_frame(self.proc.stdout)
                if "method" in msg and "id" in msg:  # a request to the client
                    self.send({"jsonrpc": "2.0", "id": msg["id"], "result": None})
                elif "method" in msg:
                    self.notifications.put(msg)
                else:
                    with self._cond:
                        self.replies[msg.get("id")] = msg
                        self._cond.notify_all()
        except (AssertionError, OSError, ValueError):
            pass
        finally:
            with self._cond:
                self.closed = True
                self._cond.notify_all()

    def send(self, payload: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        data = frame(payload)
        with self._write_lock:
            self.proc.stdin.write(data)
            self.proc.stdin.flush()

    def new_id(self) -> str:
        self._next_id += 1
        return f"fuzz-{self._next_id}"

    def request_async(self, method: str, params: Any = None, *, omit: bool = False) -> str:
        msg_id = self.new_id()
        payload: dict[str, Any] = {"jsonrpc": "2.0", "id": msg_id, "method": method}
        if not omit:
            payload["params"] = params
        self.send(payload)
        return msg_id

    def wait_reply(self, msg_id: Any, timeout: float = REPLY_TIMEOUT) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while msg_id not in self.replies:
                left = deadline - time.monotonic()
                if self.closed:
                    raise AssertionError(f"server closed its output before replying to {msg_id}")
                if left <= 0:
                    raise AssertionError(f"no reply to {msg_id} within {timeout} s")
                self._cond.wait(left)
            return self.replies.pop(msg_id)

    def request(self, method: str, params: Any = None) -> dict[str, Any]:
        return self.wait_reply(self.request_async(method, params))

    def notify(self, method: str, params: Any = None, *, omit: bool = False) -> None:
        payload: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if not omit:
            payload["params"] = params
        self.send(payload)

    def open(self, uri: str, text: str, version: int = 1) -> None:
        self.notify(
            "textDocument/didOpen",
            {"textDocument": {"uri": uri, "languageId": "toml", "version": version, "text": text}},
        )

    def drain_notifications(self) -> list[dict[str, Any]]:
        out = []
        while True:
            try:
                out.append(self.notifications.get_nowait())
            except queue.Empty:
                return out

    def new_stderr(self) -> str:
        with open(self.stderr_path, "rb") as fh:
            fh.seek(self._stderr_seen)
            data = fh.read()
        self._stderr_seen += len(data)
        return data.decode("utf-8", "replace")

    def close(self) -> None:
        try:
            if self.proc.poll() is None:
                reply = self.request("shutdown")
                assert "error" not in reply, reply
                self.notify("exit")
                self.proc.wait(15)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self._stderr.close()


def initialize(server: RawServer) -> dict[str, Any]:
    from lsprotocol.converters import get_converter

    caps = get_converter().unstructure(capabilities("visual-studio-code"))
    root = server.workspace.as_uri()
    reply = server.request(
        "initialize",
        {
            "processId": None,
            "rootUri": root,
            "capabilities": caps,
            "workspaceFolders": [{"uri": root, "name": "ws"}],
            "initializationOptions": {"floxls": {"trusted": True}},
        },
    )
    result = reply.get("result")
    assert isinstance(result, dict), reply
    server.notify("initialized", {})
    return result


# A logged traceback: the log line before it, then the traceback up to its exception line.
_TRACEBACK = re.compile(
    r"(?P<log>[^\n]*)\n(?:The above exception[^\n]*\n\n)?Traceback \(most recent call last\):\n"
    r"(?:[ \t][^\n]*\n|\n)*(?P<error>\S[^\n]*)"
)
# Deliberate error replies (a JSON-RPC error a handler raised on purpose); not -32603.
_EXPECTED_ERROR = re.compile(
    r"^(pygls\.exceptions\.JsonRpc(?!InternalError)\w+|floxls\.lsp\.core\.UnknownDocument)"
    r"(:|$)"
)


def unexpected_tracebacks(stderr: str) -> list[str]:
    """The exception lines of tracebacks in `stderr` that are not expected.

    pygls logs a traceback for input it rejects on purpose: params that do not fit the
    method's type ("Unable to deserialize message", then an invalid-params reply or, for a
    notification, nothing) and errors a handler raised deliberately (a `JsonRpc*` exception,
    sent as the error reply). Any other traceback is an exception that escaped."""
    bad = []
    for m in _TRACEBACK.finditer(stderr):
        if m.group("log").startswith("Unable to deserialize message"):
            continue
        if not _EXPECTED_ERROR.match(m.group("error")):
            bad.append(m.group("error"))
    return bad


def check_healthy(server: RawServer, sentinel_uri: str, context: object) -> None:
    """Alive, answering a hover on the sentinel document correctly, nothing bad logged."""
    assert server.proc.poll() is None, f"server exited ({server.proc.returncode}) after {context}"
    reply = server.request(
        "textDocument/hover",
        {"textDocument": {"uri": sentinel_uri}, "position": {"line": 2, "character": 2}},
    )
    result = reply.get("result")
    assert isinstance(result, dict), f"sentinel hover got {reply!r:.300} after {context!r:.2000}"
    assert "**command**" in result["contents"]["value"], result
    for note in server.drain_notifications():
        if note["method"] == "window/logMessage":
            message = str(note.get("params", {}).get("message", ""))
            assert "internal error" not in message, f"{message} after {context!r:.2000}"
    stderr = server.new_stderr()
    bad = unexpected_tracebacks(stderr)
    assert not bad, f"traceback(s) {bad} after {context!r:.2000}:\n{stderr[-4000:]}"


# -- strategies ------------------------------------------------------------------------------

INTS = st.one_of(
    st.integers(-3, 12),
    st.sampled_from([-1, -(2**31), 2**31 - 1, 2**31, 2**32, 2**53, 2**63, 10**30, -(10**30)]),
)
# Text with emoji, lone surrogates, NUL, line separators, CR.
TEXT = st.one_of(
    st.text(st.characters(exclude_categories=()), max_size=12),
    st.sampled_from(["", "😀", "\ud800", "\udfff😀", "\r", "\r\n", "\u2028", "\x00", "[", "."]),
)
JSON_LEAF = st.one_of(
    st.none(),
    st.booleans(),
    INTS,
    st.floats(allow_nan=False, allow_infinity=False),
    TEXT,
)
JSON_ANY = st.recursive(
    JSON_LEAF,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=8,
)
POSITION = st.fixed_dictionaries({"line": INTS, "character": INTS})
RANGE = st.fixed_dictionaries({"start": POSITION, "end": POSITION})


@st.composite
def doc_text(draw: st.DrawFn) -> str:
    """A manifest, cut, spliced with random text, or random text."""
    base = draw(st.sampled_from([GOOD, SENTINEL_TEXT, "", "[build.\n", 'x = "\n[[install]]\n']))
    if draw(st.booleans()):
        return base
    cut = draw(st.integers(0, len(base)))
    return base[:cut] + draw(TEXT) + base[cut:]


def make_strategies(server: RawServer, sentinel: str, docs: list[str]) -> dict[str, Any]:
    """Valid-looking params for every method (mutated later)."""
    disk_uri = server.disk_manifest.as_uri()
    uri = st.one_of(
        st.sampled_from(docs),
        st.sampled_from(
            [
                disk_uri,
                server.workspace.as_uri(),
                (server.workspace / "missing.toml").as_uri(),
                "file:///",
                "file://",
                "file:///%zz%",
                "file://host/share/manifest.toml",
                "file:///dev/null",
                "untitled:Untitled-1",
                "http://example.com/manifest.toml",
                "vscode-notebook-cell:/x#1",
                "",
                "not a uri",
                "file:///" + "a" * 300,
            ]
        ),
        TEXT,
    ).filter(lambda u: u != sentinel)
    doc_id = st.fixed_dictionaries({"uri": uri})
    versioned = st.fixed_dictionaries({"uri": uri, "version": INTS})
    diagnostic = st.fixed_dictionaries(
        {"range": RANGE, "message": TEXT},
        optional={
            "code": st.one_of(INTS, st.sampled_from(["unknown-key", "build-missing-command"])),
            "source": st.sampled_from(["floxls", "other"]),
            "severity": INTS,
            "data": JSON_ANY,
        },
    )
    change = st.one_of(
        st.fixed_dictionaries({"range": RANGE, "text": TEXT}),
        st.fixed_dictionaries({"range": RANGE, "rangeLength": INTS, "text": TEXT}),
        st.fixed_dictionaries({"text": doc_text()}),
    )
    commands = st.sampled_from(
        ["floxls.publish", "floxls.explainBlocked", "floxls.enablePublish", "floxls.listTargets"]
    )
    setting_value = st.one_of(JSON_ANY, st.sampled_from(["file:///tmp/cache", "s3://b", ""]))
    floxls_settings = st.fixed_dictionaries(
        {},
        optional={
            "publish": st.one_of(
                JSON_ANY,
                st.fixed_dictionaries(
                    {}, optional={"storeUrl": setting_value, "signingKey": setting_value}
                ),
            ),
            "catalog": st.one_of(
                JSON_ANY, st.fixed_dictionaries({}, optional={"url": setting_value})
            ),
            "trusted": JSON_ANY,
        },
    )
    return {
        "textDocument/hover": st.fixed_dictionaries({"textDocument": doc_id, "position": POSITION}),
        "textDocument/completion": st.fixed_dictionaries(
            {"textDocument": doc_id, "position": POSITION},
            optional={
                "context": st.fixed_dictionaries(
                    {"triggerKind": INTS}, optional={"triggerCharacter": TEXT}
                )
            },
        ),
        "textDocument/codeLens": st.fixed_dictionaries({"textDocument": doc_id}),
        "textDocument/documentSymbol": st.fixed_dictionaries({"textDocument": doc_id}),
        "textDocument/diagnostic": st.fixed_dictionaries(
            {"textDocument": doc_id},
            optional={"previousResultId": st.one_of(TEXT, INTS), "identifier": TEXT},
        ),
        "textDocument/codeAction": st.fixed_dictionaries(
            {
                "textDocument": doc_id,
                "range": RANGE,
                "context": st.fixed_dictionaries(
                    {"diagnostics": st.lists(diagnostic, max_size=3)},
                    optional={
                        "only": st.lists(st.sampled_from(["quickfix", "refactor", ""])),
                        "triggerKind": INTS,
                    },
                ),
            }
        ),
        "textDocument/didOpen": st.fixed_dictionaries(
            {
                "textDocument": st.fixed_dictionaries(
                    {
                        "uri": uri,
                        "languageId": st.sampled_from(["toml", "", "python"]),
                        "version": INTS,
                        "text": doc_text(),
                    }
                )
            }
        ),
        "textDocument/didChange": st.fixed_dictionaries(
            {"textDocument": versioned, "contentChanges": st.lists(change, max_size=3)}
        ),
        "textDocument/didSave": st.fixed_dictionaries(
            {"textDocument": doc_id}, optional={"text": doc_text()}
        ),
        "textDocument/didClose": st.fixed_dictionaries({"textDocument": doc_id}),
        "workspace/executeCommand": st.fixed_dictionaries(
            {"command": st.one_of(commands, TEXT)},
            optional={
                "arguments": st.lists(
                    st.one_of(uri, st.sampled_from(["hello", "x", "nope"]), JSON_ANY), max_size=3
                )
            },
        ),
        "workspace/didChangeConfiguration": st.fixed_dictionaries(
            {
                "settings": st.one_of(
                    JSON_ANY, floxls_settings, st.fixed_dictionaries({"floxls": floxls_settings})
                )
            }
        ),
        "workspace/didChangeWatchedFiles": st.fixed_dictionaries(
            {"changes": st.lists(st.fixed_dictionaries({"uri": uri, "type": INTS}), max_size=3)}
        ),
        "workspace/didChangeWorkspaceFolders": st.fixed_dictionaries(
            {
                "event": st.fixed_dictionaries(
                    {
                        "added": st.lists(
                            st.fixed_dictionaries({"uri": uri, "name": TEXT}), max_size=2
                        ),
                        "removed": st.lists(
                            st.fixed_dictionaries({"uri": uri, "name": TEXT}), max_size=2
                        ),
                    }
                )
            }
        ),
        "$/cancelRequest": st.fixed_dictionaries(
            {"id": st.one_of(INTS, TEXT, st.just("fuzz-1"), JSON_ANY)}
        ),
        "$/setTrace": st.fixed_dictionaries(
            {"value": st.one_of(st.sampled_from(["off", "messages", "verbose"]), TEXT)}
        ),
        "initialized": st.just({}),
        "window/workDoneProgress/cancel": st.fixed_dictionaries({"token": JSON_ANY}),
        "notebookDocument/didOpen": st.fixed_dictionaries(
            {
                "notebookDocument": st.fixed_dictionaries(
                    {
                        "uri": uri,
                        "notebookType": TEXT,
                        "version": INTS,
                        "cells": st.lists(
                            st.fixed_dictionaries({"kind": INTS, "document": uri}), max_size=2
                        ),
                    }
                ),
                "cellTextDocuments": st.lists(
                    st.fixed_dictionaries(
                        {"uri": uri, "languageId": TEXT, "version": INTS, "text": doc_text()}
                    ),
                    max_size=2,
                ),
            }
        ),
        "notebookDocument/didChange": st.fixed_dictionaries(
            {"notebookDocument": versioned, "change": JSON_ANY}
        ),
        "notebookDocument/didClose": st.fixed_dictionaries(
            {
                "notebookDocument": doc_id,
                "cellTextDocuments": st.lists(doc_id, max_size=2),
            }
        ),
    }


REQUESTS = {
    "textDocument/hover",
    "textDocument/completion",
    "textDocument/codeLens",
    "textDocument/documentSymbol",
    "textDocument/diagnostic",
    "textDocument/codeAction",
    "workspace/executeCommand",
}
UNKNOWN_METHODS = st.one_of(
    st.sampled_from(["floxls/noSuch", "$/noSuch", "textDocument/rename", "workspace/symbol"]),
    TEXT,
)


def _paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*path, index))


def _mutate(draw: st.DrawFn, value: Any) -> Any:
    """One random change: a node replaced by random JSON, or a key or item dropped."""
    path = draw(st.sampled_from(list(_paths(value))))
    replacement = draw(JSON_ANY)
    if not path:
        return replacement
    parent = value
    for step in path[:-1]:
        parent = parent[step]
    if draw(st.booleans()):
        del parent[path[-1]]
    else:
        parent[path[-1]] = replacement
    return value


def _no_real_publish(params: Any) -> Any:
    """Never a valid publish: the target name of `floxls.publish` is made impossible (a TOML
    key cannot hold a NUL), whatever documents the fuzzer opened."""
    if isinstance(params, dict) and params.get("command") == "floxls.publish":
        args = params.get("arguments")
        if isinstance(args, list) and len(args) >= 2 and isinstance(args[1], str):
            args[1] = "\x00" + args[1]
    return params


@st.composite
def message(draw: st.DrawFn, strategies: dict[str, Any]) -> tuple[str, str, Any, bool]:
    """(kind "request"/"notification", method, params, params omitted)."""
    if draw(st.integers(0, 15)) == 0:
        method = draw(UNKNOWN_METHODS)
        params: Any = draw(JSON_ANY)
    else:
        method = draw(st.sampled_from(sorted(strategies)))
        params = draw(strategies[method])
        for _ in range(draw(st.sampled_from([0, 0, 1, 1, 2]))):
            params = _mutate(draw, params)
    params = _no_real_publish(params)
    usual = "request" if method in REQUESTS else "notification"
    other = "notification" if usual == "request" else "request"
    kind = draw(st.sampled_from([usual] * 7 + [other]))
    omit = draw(st.integers(0, 20)) == 0
    return kind, method, params, omit


# -- the fuzz test ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RawServer]:
    server = RawServer(tmp_path_factory.mktemp("fuzz"))
    try:
        initialize(server)
        yield server
    finally:
        server.close()


def registered_methods() -> set[str]:
    from floxls.lsp.server import build_server

    fm = build_server().protocol.fm
    return set(fm.features) | set(fm.builtin_features)


def test_fuzzer_covers_every_registered_method(fuzz_server: RawServer) -> None:
    strategies = make_strategies(fuzz_server, "file:///s", [])
    missing = registered_methods() - LIFECYCLE - set(strategies)
    assert not missing, f"methods the fuzzer does not send: {sorted(missing)}"


def test_protocol_fuzz(fuzz_server: RawServer) -> None:
    server = fuzz_server
    sentinel = (server.workspace / "sentinel" / "manifest.toml").as_uri()
    docs = [(server.workspace / f"d{i}" / "manifest.toml").as_uri() for i in range(3)]
    server.open(sentinel, SENTINEL_TEXT)
    for uri in docs:
        server.open(uri, GOOD)
    check_healthy(server, sentinel, "start-up")
    strategies = make_strategies(server, sentinel, docs)
    started = time.monotonic()

    @settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],  # the server is stateful: no shrinking
        suppress_health_check=list(HealthCheck),
    )
    @given(st.lists(message(strategies), min_size=1, max_size=6))
    def run(messages: list[tuple[str, str, Any, bool]]) -> None:
        # Fresh copies of the fuzzed documents now and then (the fuzzer closes them).
        if server._next_id % 40 == 0:
            for uri in docs:
                server.open(uri, GOOD)
        pending: list[tuple[str, Any]] = []
        for kind, method, params, omit in messages:
            if kind == "request":
                msg_id = server.request_async(method, params, omit=omit)
                pending.append((msg_id, (method, params)))
            else:
                server.notify(method, params, omit=omit)
        for msg_id, sent in pending:
            reply = server.wait_reply(msg_id)
            assert ("result" in reply) != ("error" in reply), f"{reply!r:.300} to {sent!r:.2000}"
            if "error" in reply:
                code = reply["error"].get("code")
                assert code != -32603, f"internal error {reply!r:.1000} to {sent!r:.2000}"
        check_healthy(server, sentinel, messages)

    run()
    assert time.monotonic() - started < 60


# -- regressions: what the fuzzer found ------------------------------------------------------


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[tuple[RawServer, str]]:
    """A new initialised server with a sentinel document open."""
    server = RawServer(tmp_path)
    try:
        initialize(server)
        sentinel = (server.workspace / "sentinel" / "manifest.toml").as_uri()
        server.open(sentinel, SENTINEL_TEXT)
        check_healthy(server, sentinel, "start-up")
        yield server, sentinel
    finally:
        server.close()


def test_notification_without_params_is_not_an_internal_error(
    fresh: tuple[RawServer, str],
) -> None:
    # JSON-RPC allows leaving out params; pygls' generic notification type required them.
    server, sentinel = fresh
    server.notify("floxls/noSuch", omit=True)
    server.notify("$/noSuch", omit=True)
    check_healthy(server, sentinel, "notifications without params")
    reply = server.wait_reply(server.request_async("floxls/noSuch", omit=True))
    assert reply["error"]["code"] == -32601


def test_notification_with_bad_params_is_dropped_quietly(fresh: tuple[RawServer, str]) -> None:
    # Used to be reported to the editor as "floxls internal error: JsonRpcInvalidParams".
    server, sentinel = fresh
    server.notify("textDocument/didOpen", {"textDocument": {"uri": 5, "text": []}})
    server.notify("textDocument/didChange", {"textDocument": None})
    check_healthy(server, sentinel, "bad didOpen/didChange")


def test_cancel_with_an_id_or_token_that_is_not_int_or_string(
    fresh: tuple[RawServer, str],
) -> None:
    # lsprotocol lets these through; pygls' lookup raised "unhashable type".
    server, sentinel = fresh
    server.notify("$/cancelRequest", {"id": {"a": 1}})
    server.notify("$/cancelRequest", {"id": [1]})
    server.notify("window/workDoneProgress/cancel", {"token": ["a"]})
    server.notify("window/workDoneProgress/cancel", {"token": {}})
    check_healthy(server, sentinel, "cancel with odd ids")


def test_request_to_a_notification_method_gets_an_error_reply(
    fresh: tuple[RawServer, str],
) -> None:
    # pygls structured it as the notification, dropping the id: the client waited forever.
    server, sentinel = fresh
    uri = (server.workspace / "as-request" / "manifest.toml").as_uri()
    for method, params in [
        ("workspace/didChangeConfiguration", {"settings": {}}),
        ("$/setTrace", {"value": "off"}),
        ("$/cancelRequest", {"id": 1}),
        (
            "textDocument/didOpen",
            {"textDocument": {"uri": uri, "languageId": "toml", "version": 1, "text": GOOD}},
        ),
    ]:
        reply = server.request(method, params)
        assert reply["error"]["code"] == -32600, reply
        assert "notification" in reply["error"]["message"]
    # and it was not run: the document is not open
    hover = server.request(
        "textDocument/hover",
        {"textDocument": {"uri": uri}, "position": {"line": 0, "character": 0}},
    )
    assert hover["error"]["code"] == -32602
    check_healthy(server, sentinel, "requests to notification methods")


def test_error_replies_are_not_reported_as_internal_errors(fresh: tuple[RawServer, str]) -> None:
    # Unknown methods and unknown documents get their error reply; the editor's log used to
    # get "floxls internal error: JsonRpcMethodNotFound" besides.
    server, sentinel = fresh
    assert server.request("floxls/noSuch", {})["error"]["code"] == -32601
    unknown = {
        "textDocument": {"uri": "file:///no/such.toml"},
        "position": {"line": 0, "character": 0},
    }
    assert server.request("textDocument/hover", unknown)["error"]["code"] == -32602
    check_healthy(server, sentinel, "error replies")


def test_notebook_notifications_are_ignored(fresh: tuple[RawServer, str]) -> None:
    # floxls does not sync notebooks; pygls' didChange raised KeyError for an unknown one.
    server, sentinel = fresh
    notebook = (server.workspace / "nb.ipynb").as_uri()
    server.notify(
        "notebookDocument/didChange",
        {"notebookDocument": {"uri": notebook, "version": 2}, "change": {}},
    )
    server.notify(
        "notebookDocument/didOpen",
        {
            "notebookDocument": {"uri": notebook, "notebookType": "x", "version": 1, "cells": []},
            "cellTextDocuments": [],
        },
    )
    server.notify(
        "notebookDocument/didChange",
        {
            "notebookDocument": {"uri": notebook, "version": 2},
            "change": {"cells": {"structure": {"array": {"start": 99, "deleteCount": 5}}}},
        },
    )
    check_healthy(server, sentinel, "notebook notifications")
