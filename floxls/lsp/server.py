"""The floxls language server: `build_server()` and `serve()`.

`FloxServer` (the pygls `LanguageServer` subclass) lives in `floxls.lsp.core` and is exported
here lazily: this module imports no pygls/lsprotocol at top level, so that `serve()` can
answer `initialize` while pygls is still loading (lsprotocol alone takes ~0.3 s to import).

Start-up on stdio: a thread imports pygls and builds the server while the main thread reads
the first message; if it is `initialize`, it is answered at once with the capabilities from
`floxls.lsp.capabilities` (the same ones pygls computes; a test holds them equal), then the
request is replayed into pygls (its reply suppressed) and the normal loop takes over.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
import threading
from typing import IO, TYPE_CHECKING, Any

from floxls import __version__

if TYPE_CHECKING:
    from floxls.lsp.core import FloxServer

log = logging.getLogger("floxls.lsp")

# Feature modules under floxls/lsp/, each with `register(server)`, registered in this order.
FEATURE_MODULES: tuple[str, ...] = (
    "settings",
    "diagnostics",
    "hover",
    "completion",
    "symbols",
    "code_actions",
    "codelens",
    "commands",
    "git_state",
)


def __getattr__(name: str) -> Any:
    if name == "FloxServer":
        from floxls.lsp.core import FloxServer

        return FloxServer
    raise AttributeError(name)


def build_server() -> FloxServer:
    """A fresh server with every feature module registered."""
    import importlib

    from floxls.lsp.core import FloxServer

    server = FloxServer()
    for name in FEATURE_MODULES:
        module = importlib.import_module(f"floxls.lsp.{name}")
        module.register(server)
    return server


def serve(tcp: str | None = None) -> None:
    """Run the server on stdio, or listening on `tcp` ("HOST:PORT")."""
    if tcp is not None:
        host, port = _parse_hostport(tcp)
        server = build_server()
        tune_gc()
        server.start_tcp(host, port)
        _exit_now(0)
    _serve_stdio(sys.stdin.fileno(), sys.stdout.buffer)


def tune_gc() -> None:
    """Keep the cyclic GC off the keystroke path.

    Parsing a big manifest allocates ~10^5 objects; with the default thresholds the
    collector then runs full collections over everything pygls and lsprotocol created at
    start-up, which doubled the time from didChange to publishDiagnostics on a 5,500-line
    manifest. Freeze the start-up objects and collect young objects less often.
    """
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)


def _parse_hostport(value: str) -> tuple[str, int]:
    from floxls.errors import FloxlsError

    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise FloxlsError(f"--tcp wants HOST:PORT, got {value!r}", "e.g. --tcp 127.0.0.1:2087")
    return (host.strip("[]") or "127.0.0.1"), int(port)


# -- fast start-up on stdio -------------------------------------------------------------


def early_initialize_reply(body: bytes) -> tuple[int | str, dict[str, Any]] | None:
    """(id, reply) for an `initialize` request, computed without pygls; else None."""
    from floxls.lsp import capabilities

    try:
        message = json.loads(body)
    except ValueError:
        return None
    if not isinstance(message, dict) or message.get("method") != "initialize":
        return None
    msg_id = message.get("id")
    params = message.get("params")
    if not isinstance(msg_id, int | str) or isinstance(msg_id, bool):
        return None
    if not isinstance(params, dict) or not isinstance(params.get("capabilities"), dict):
        return None
    client = params["capabilities"]
    result = {
        "capabilities": capabilities.server_capabilities(client, FEATURE_MODULES),
        "serverInfo": {"name": "floxls", "version": __version__},
    }
    return msg_id, {"jsonrpc": "2.0", "id": msg_id, "result": result}


def _serve_stdio(stdin_fd: int, stdout: IO[bytes]) -> None:
    from floxls.lsp.stdio import RawReader, read_message, write_message

    stdin = RawReader(stdin_fd)
    built: dict[str, Any] = {}

    def load() -> None:
        try:
            built["server"] = build_server()
        except BaseException as exc:  # reported on the main thread
            built["error"] = exc

    loader = threading.Thread(target=load, name="floxls-load", daemon=True)
    loader.start()
    first = read_message(stdin)
    answered: int | str | None = None
    if first is not None:
        early = early_initialize_reply(first)
        if early is not None:
            answered, reply = early
            write_message(stdout, reply)
    loader.join()
    if "error" in built:
        raise built["error"]
    tune_gc()
    server: FloxServer = built["server"]
    if first is None:
        return
    code = server.start_io_with(stdin, stdout, first, answered)
    _exit_now(code)


def _exit_now(code: int, grace: float = 30.0) -> None:
    """End the process without the interpreter's final garbage collections.

    Those walk every object still alive (feature caches may hold the model of a 10 MB
    manifest: millions of objects, seconds of work) for nothing. Threads that are not
    daemons (e.g. a publish being cancelled, cleaning its temp dir) get `grace` seconds.
    """
    import os
    import time

    deadline = time.monotonic() + grace
    for thread in threading.enumerate():
        if thread is threading.current_thread() or thread.daemon:
            continue
        thread.join(max(deadline - time.monotonic(), 0))
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    logging.shutdown()
    os._exit(code)
