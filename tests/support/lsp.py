"""Language-server test support: client capability sets, a client fixture, helpers.

Capability sets come from pytest-lsp's recorded clients: VS Code 1.65.2 and Neovim 0.7.0
(`pytest_lsp.client_capabilities("neovim@v0.7")`). Variants add pull diagnostics (as newer
VS Code declares) or offer UTF-8/UTF-32 positions.
"""

from __future__ import annotations

import asyncio
import copy
import sys
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future
from pathlib import Path
from typing import IO, Any

import pytest
import pytest_lsp
from lsprotocol import types
from lsprotocol.converters import get_converter
from pytest_lsp import ClientServerConfig, LanguageClient

ROOT = Path(__file__).resolve().parents[2]
SERVER_COMMAND = [sys.executable, "-m", "floxls", "serve"]
CLIENTS = ("visual-studio-code", "neovim@v0.7")
_converter = get_converter()


def capabilities(name: str) -> types.ClientCapabilities:
    """A named capability set: "visual-studio-code", "neovim@v0.7", or a variant
    "<name>+pull" (declares textDocument.diagnostic), "<name>+utf8", "<name>+utf32"."""
    base, _, variant = name.partition("+")
    raw: dict[str, Any] = _converter.unstructure(pytest_lsp.client_capabilities(base))
    raw = copy.deepcopy(raw)
    if variant == "pull":
        raw.setdefault("textDocument", {})["diagnostic"] = {
            "dynamicRegistration": False,
            "relatedDocumentSupport": False,
        }
        raw.setdefault("workspace", {})["diagnostics"] = {"refreshSupport": True}
    elif variant == "utf8":
        raw.setdefault("general", {})["positionEncodings"] = ["utf-8", "utf-16"]
    elif variant == "utf32":
        raw.setdefault("general", {})["positionEncodings"] = ["utf-32", "utf-16"]
    elif variant:
        raise ValueError(f"unknown capability variant {variant!r}")
    return _converter.structure(raw, types.ClientCapabilities)


def initialize_params(
    name: str, initialization_options: Any | None = None, root: Path | None = None
) -> types.InitializeParams:
    return types.InitializeParams(
        capabilities=capabilities(name),
        root_uri=root.as_uri() if root else None,
        initialization_options=initialization_options,
    )


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER_COMMAND))  # type: ignore[untyped-decorator]
async def lsp_raw_client(lsp_client: LanguageClient) -> AsyncIterator[None]:
    """A started, *uninitialised* floxls client (the test sends `initialize`).

    Every publishDiagnostics it receives is also kept, in order, in `PUBLISHED[client]`
    (see `published` / `wait_diagnostics`)."""
    fm = lsp_client.protocol.fm
    original = fm.features[types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS]
    log: list[types.PublishDiagnosticsParams] = []
    PUBLISHED[id(lsp_client)] = log

    def record(params: types.PublishDiagnosticsParams) -> Any:
        log.append(params)
        return original(params)

    fm.features[types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS] = record
    # Requests a real editor answers (the git-state feature registers a file watcher; code
    # lenses ask for a refresh).
    for method in (
        types.CLIENT_REGISTER_CAPABILITY,
        types.CLIENT_UNREGISTER_CAPABILITY,
        types.WORKSPACE_CODE_LENS_REFRESH,
        types.WORKSPACE_DIAGNOSTIC_REFRESH,
    ):
        if method not in fm.features:
            fm.features[method] = _answer_null
    yield
    await lsp_client.shutdown_session()
    PUBLISHED.pop(id(lsp_client), None)


PUBLISHED: dict[int, list[types.PublishDiagnosticsParams]] = {}


def _answer_null(params: Any) -> None:
    return None


def published(client: LanguageClient, uri: str) -> list[types.PublishDiagnosticsParams]:
    """Every publishDiagnostics received for `uri`, oldest first."""
    return [p for p in PUBLISHED[id(client)] if p.uri == uri]


def open_doc(client: LanguageClient, uri: str, text: str, version: int = 1) -> None:
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id="toml", version=version, text=text
            )
        )
    )


async def wait_diagnostics(
    client: LanguageClient,
    uri: str,
    predicate: Callable[[types.PublishDiagnosticsParams], bool] | None = None,
    timeout: float = 20.0,
) -> list[types.Diagnostic]:
    """The diagnostics of the first publishDiagnostics for `uri` matching `predicate`
    (received before or after this call), waiting up to `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        for params in published(client, uri):
            if predicate is None or predicate(params):
                return list(params.diagnostics)
        if loop.time() > deadline:
            raise TimeoutError(f"no matching diagnostics for {uri}")
        await asyncio.sleep(0.005)


async def raw_request(client: LanguageClient, msg_id: str, method: str, params: Any) -> Any:
    """Send a request exactly as given (no client-side validation) and await its reply."""
    future: Future[Any] = Future()
    client.protocol._request_futures[msg_id] = future
    client.protocol._send_data({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params})
    return await asyncio.wait_for(asyncio.wrap_future(future), 30)


def send_bytes(client: LanguageClient, data: bytes) -> None:
    """Write raw bytes to the server's stdin (for malformed framing/JSON)."""
    writer = client.protocol.writer
    assert writer is not None
    writer.write(data)


def slow(fn: Any) -> Any:
    return pytest.mark.slow(fn)


# ---- raw stdio, for tests that run `floxls serve` as a plain subprocess ---------------------


def frame(payload: dict[str, Any]) -> bytes:
    """One JSON-RPC message with its Content-Length header."""
    import json

    body = json.dumps(payload).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def read_frame(stream: IO[bytes]) -> dict[str, Any]:
    """The next message the server wrote to `stream`."""
    import json

    length = 0
    while True:
        line = stream.readline()
        assert line, "server closed the connection"
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
        elif line == b"\r\n":
            break
    result: dict[str, Any] = json.loads(stream.read(length))
    return result
