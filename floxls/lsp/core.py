"""The pygls server class: documents, analysis cache, diagnostics plumbing, settings, threads.

Feature modules (`floxls.lsp.<name>.register(server)`) build on what is here; they hold no
state of their own beyond what they hang on the server. Extension points for other features:

- `server.settings` / `server.on_settings_changed` (callbacks get the new settings dict);
- `server.on_shutdown`: callbacks run when the server stops (after `shutdown`, or when the
  client went away without it) -- stop thread pools there, or `exit` waits for them;
- `server.documents[uri]` (`Document`), `server.analysis(uri)` / `await
  server.analysis_async(uri)` (`Analysis`: text, version, Manifest, problems, line getter);
- `server.extra_problems[uri]` merged into the diagnostics; `server.republish(uri)` (thread
  safe) re-sends them;
- `server.positions` (`PositionConverter` for the negotiated encoding);
- `server.run_in_thread(fn, *args)` -> `concurrent.futures.Future`; `server.call_soon(fn,
  *args)` runs fn on the event loop (thread safe).

didOpen/didChange/didSave/didClose are handled as pygls *built-in* features here (so the
text is current before any user handler runs); a feature module may still register its own
`textDocument/didSave` etc. with `@server.feature(...)`: it runs after ours.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import queue
import stat
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import IO, Any, TypeVar

from lsprotocol import types
from pygls.exceptions import (
    JsonRpcContentModified,
    JsonRpcException,
    JsonRpcInternalError,
    JsonRpcInvalidParams,
)
from pygls.lsp.server import LanguageServer

from floxls import __version__
from floxls.lsp import capabilities as caps
from floxls.lsp import settings as settings_mod
from floxls.lsp.documents import Analysis, Document, Lines, apply_change
from floxls.lsp.positions import UTF16, PositionConverter
from floxls.lsp.protocol import FloxProtocol
from floxls.lsp.stdio import RawReader
from floxls.manifest.model import Position, Problem, Range, Severity

log = logging.getLogger("floxls.lsp")

T = TypeVar("T")

# Documents up to this many characters are analysed inline, in the notification handler
# (no hop, no delay); bigger ones in a worker thread, newest version wins.
INLINE_MAX_CHARS = 1_000_000
# Files read from disk for requests about documents that are not open.
DISK_MAX_BYTES = 20_000_000


class UnknownDocument(JsonRpcInvalidParams):
    def __init__(self, uri: str) -> None:
        super().__init__(f"unknown document {uri!r}: open it first (textDocument/didOpen)")


@dataclass(slots=True)
class ClientFeatures:
    """What the client said it supports, as flags the features read."""

    related_information: bool = False
    code_description: bool = False
    markdown_hover: bool = True
    markdown_completion_docs: bool = True
    snippets: bool = False
    hierarchical_symbols: bool = False
    code_action_literals: bool = False
    diagnostic_refresh: bool = False
    label_details: bool = False
    preferred_actions: bool = False


def analyze_text(uri: str, version: int | None, text: str) -> Analysis:
    """parse + check, never raising (a failure becomes one `internal-error` problem)."""
    from floxls.manifest import analyze, parse

    try:
        manifest, problems = analyze(text)
        return Analysis(uri, version, text, manifest, problems, manifest.line)
    except Exception as exc:  # the manifest package promises not to raise; be sure
        log.exception("analysis of %s failed", uri)
        manifest = parse("")
        problems = [
            Problem(
                code="internal-error",
                message=f"floxls could not analyse this document ({type(exc).__name__})",
                range=Range(Position(0, 0), Position(0, 0)),
                severity=Severity.ERROR,
                hint="please report this with the document attached",
            )
        ]
    return Analysis(uri, version, text, manifest, problems, Lines(text))


_Job = tuple[Future[Any], Callable[..., Any], tuple[Any, ...]]


class Worker:
    """One daemon thread running jobs in order (a running analysis cannot be interrupted,
    and must not keep the process alive after `exit`)."""

    def __init__(self, name: str) -> None:
        self._jobs: queue.SimpleQueue[
            tuple[Future[Any], Callable[..., Any], tuple[Any, ...]] | None
        ]
        self._jobs = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        future: Future[T] = Future()
        self._jobs.put((future, fn, args))
        return future

    def stop(self) -> None:
        self._jobs.put(None)

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None:
            future, fn, args = job
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn(*args))
            except BaseException as exc:
                future.set_exception(exc)


class FloxServer(LanguageServer):
    """The floxls language server. See the module docstring for its extension points."""

    protocol: FloxProtocol

    def __init__(self) -> None:
        super().__init__(
            "floxls",
            __version__,
            protocol_cls=FloxProtocol,
            text_document_sync_kind=types.TextDocumentSyncKind.Incremental,
            max_workers=4,
        )
        self.settings: dict[str, Any] = settings_mod.default_settings()
        self.on_settings_changed: list[Callable[[dict[str, Any]], None]] = []
        # Run when the server stops, however it stops (`shutdown`, or the client went away).
        self.on_shutdown: list[Callable[[], None]] = []
        self.documents: dict[str, Document] = {}
        self.extra_problems: dict[str, list[Problem]] = {}
        self.positions = PositionConverter(UTF16)
        self.client = ClientFeatures()
        self.raw_client_capabilities: dict[str, Any] = {}
        self.pull_diagnostics = False
        self.loop: asyncio.AbstractEventLoop | None = None
        self._work_pool: ThreadPoolExecutor | None = None
        self._analysis_worker: Worker | None = None
        self._pending: dict[str, tuple[str, Future[Analysis]]] = {}
        self._result_counter = 0
        self._lock = threading.Lock()

    # -- transport ----------------------------------------------------------------------

    def start_io_with(
        self,
        stdin: RawReader,
        stdout: IO[bytes],
        first: bytes | None = None,
        answered: int | str | None = None,
    ) -> int:
        """Serve on stdio, after `first` (a message body already read from `stdin`); returns
        the exit status.

        `answered`: the id of a request already replied to (the early `initialize`), whose
        pygls reply is dropped. Reads stdin through asyncio's pipe transport when it is a
        pipe or socket (no thread hop per line), else through a thread.
        """
        from pygls.io_ import StdoutWriter, run_async

        self._stop_event = threading.Event()
        self.protocol.set_writer(StdoutWriter(stdout))  # type: ignore[arg-type]
        self.protocol.suppress_response_id = answered

        async def main() -> None:
            self.capture_loop()
            reader = await _async_reader(stdin, self.thread_pool)
            if first is not None:
                self._feed(first)
            assert self._stop_event is not None
            await run_async(
                stop_event=self._stop_event,
                reader=reader,
                protocol=self.protocol,
                logger=log,
                error_handler=self.report_server_error,
            )

        code = 0
        try:
            asyncio.run(main())
        except BrokenPipeError:
            log.error("the client went away; shutting down")
        except KeyboardInterrupt:
            pass
        except SystemExit as exc:  # the `exit` notification: 0 after `shutdown`, else 1
            code = exc.code if isinstance(exc.code, int) else 0
        finally:
            self.shutdown()
        return code

    def _feed(self, body: bytes) -> None:
        try:
            message = json.loads(body, object_hook=self.protocol.structure_message)
            self.protocol.handle_message(message)
        except Exception as exc:
            log.exception("unable to handle the first message")
            self.report_server_error(exc, JsonRpcException)

    # -- initialize / settings ----------------------------------------------------------

    def on_initialize(self, params: types.InitializeParams, raw_caps: dict[str, Any]) -> None:
        self.capture_loop()
        self.raw_client_capabilities = raw_caps
        self.positions = PositionConverter(caps.choose_position_encoding(raw_caps))
        self.pull_diagnostics = caps.wants_pull_diagnostics(raw_caps)
        get = caps.get_path
        self.client = ClientFeatures(
            related_information=bool(
                get(raw_caps, "textDocument", "publishDiagnostics", "relatedInformation")
                or (
                    self.pull_diagnostics
                    and get(raw_caps, "textDocument", "diagnostic", "relatedInformation")
                )
            ),
            code_description=bool(
                get(raw_caps, "textDocument", "publishDiagnostics", "codeDescriptionSupport")
            ),
            markdown_hover="markdown"
            in (get(raw_caps, "textDocument", "hover", "contentFormat") or []),
            markdown_completion_docs="markdown"
            in (
                get(
                    raw_caps,
                    "textDocument",
                    "completion",
                    "completionItem",
                    "documentationFormat",
                )
                or []
            ),
            snippets=bool(
                get(raw_caps, "textDocument", "completion", "completionItem", "snippetSupport")
            ),
            hierarchical_symbols=bool(
                get(
                    raw_caps,
                    "textDocument",
                    "documentSymbol",
                    "hierarchicalDocumentSymbolSupport",
                )
            ),
            code_action_literals=get(
                raw_caps, "textDocument", "codeAction", "codeActionLiteralSupport"
            )
            is not None,
            diagnostic_refresh=bool(get(raw_caps, "workspace", "diagnostics", "refreshSupport")),
            preferred_actions=bool(
                get(raw_caps, "textDocument", "codeAction", "isPreferredSupport")
            ),
            label_details=bool(
                get(
                    raw_caps,
                    "textDocument",
                    "completion",
                    "completionItem",
                    "labelDetailsSupport",
                )
            ),
        )
        if params.initialization_options is not None:
            self.update_settings(params.initialization_options)

    def update_settings(self, raw: object) -> None:
        """Merge settings the editor sent and tell every `on_settings_changed` callback."""
        self.settings = settings_mod.merge(self.settings, raw)
        for callback in list(self.on_settings_changed):
            try:
                callback(self.settings)
            except Exception:
                log.exception("settings callback %r failed", callback)

    # -- threads ------------------------------------------------------------------------

    def capture_loop(self) -> None:
        with contextlib.suppress(RuntimeError):
            self.loop = asyncio.get_running_loop()

    def run_in_thread(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        """Run `fn(*args)` in a worker thread (never the one reading stdin). Await it from a
        coroutine with `asyncio.wrap_future(...)`."""
        if self._work_pool is None:
            self._work_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="floxls-work")
        return self._work_pool.submit(fn, *args)

    def call_soon(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run `fn(*args)` on the event loop soon; safe to call from any thread."""
        loop = self.loop
        if loop is None or loop.is_closed():
            fn(*args)
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            loop.call_soon(fn, *args)
        else:
            loop.call_soon_threadsafe(fn, *args)

    def shutdown(self) -> None:
        for hook in list(self.on_shutdown):
            try:
                hook()
            except Exception:
                log.exception("shutdown hook %r failed", hook)
        if self._work_pool is not None:
            self._work_pool.shutdown(wait=False, cancel_futures=True)
        if self._analysis_worker is not None:
            self._analysis_worker.stop()
        # Drop the documents now, by reference counting: left to the interpreter's final
        # garbage collections, the model of a 10 MB manifest takes seconds to free.
        for pending in self._pending.values():
            pending[1].cancel()
        self._pending.clear()
        self.documents.clear()
        self.extra_problems.clear()
        super().shutdown()  # type: ignore[no-untyped-call]

    # -- documents ----------------------------------------------------------------------

    def did_open(self, params: types.DidOpenTextDocumentParams) -> None:
        item = params.text_document
        doc = Document(item.uri, item.text, item.version, item.language_id or "toml")
        self.documents[item.uri] = doc
        self._mirror_to_workspace(doc, params)
        self._analyse_and_report(doc)

    def did_change(self, params: types.DidChangeTextDocumentParams) -> None:
        uri = params.text_document.uri
        doc = self.documents.get(uri)
        if doc is None:
            log.warning("didChange for a document that is not open: %s", uri)
            return
        text = doc.text
        encoding = self.positions.encoding
        for change in params.content_changes:
            if isinstance(change, types.TextDocumentContentChangePartial):
                r = change.range
                text = apply_change(
                    text,
                    r.start.line,
                    r.start.character,
                    r.end.line,
                    r.end.character,
                    change.text,
                    encoding,
                )
            else:
                text = change.text
        doc.text = text
        doc.version = params.text_document.version
        doc.generation += 1
        self._mirror_to_workspace(doc)
        self._analyse_and_report(doc)

    def did_save(self, params: types.DidSaveTextDocumentParams) -> None:
        doc = self.documents.get(params.text_document.uri)
        if doc is None:
            return
        if params.text is not None and params.text != doc.text:
            doc.text = params.text
            doc.generation += 1
            self._mirror_to_workspace(doc)
        self._analyse_and_report(doc)

    def did_close(self, params: types.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        doc = self.documents.pop(uri, None)
        pending = self._pending.pop(uri, None)
        if pending is not None:
            pending[1].cancel()
        self.protocol.workspace.remove_text_document(uri)
        if doc is not None and not self.pull_diagnostics:
            self._send_diagnostics(uri, None, [])

    def _mirror_to_workspace(
        self, doc: Document, params: types.DidOpenTextDocumentParams | None = None
    ) -> None:
        """Keep pygls' own workspace copy current, for code that reads it."""
        try:
            ws = self.protocol.workspace
            if params is not None:
                ws.put_text_document(params.text_document)
                return
            ws_doc = ws.text_documents.get(doc.uri)
            if ws_doc is not None:
                ws_doc._source = doc.text
                ws_doc.version = doc.version
        except Exception:
            log.debug("could not mirror %s into the pygls workspace", doc.uri, exc_info=True)

    # -- analysis -----------------------------------------------------------------------

    def _analyse_and_report(self, doc: Document) -> None:
        if len(doc.text) <= INLINE_MAX_CHARS:
            analysis = analyze_text(doc.uri, doc.version, doc.text)
            doc.analysis = analysis
            if not self.pull_diagnostics:
                self._publish(doc, analysis)
            return
        self._analyse_in_background(doc)

    def _analyse_in_background(self, doc: Document) -> Future[Analysis]:
        uri, text = doc.uri, doc.text
        pending = self._pending.get(uri)
        if pending is not None:
            if pending[0] is text:
                return pending[1]
            pending[1].cancel()  # not started yet: dropped; running: its result is ignored
        if self._analysis_worker is None:
            self._analysis_worker = Worker("floxls-analysis")
        generation = doc.generation
        future = self._analysis_worker.submit(analyze_text, uri, doc.version, text)
        self._pending[uri] = (text, future)

        def done(fut: Future[Analysis]) -> None:
            if fut.cancelled() or fut.exception() is not None:
                return
            self.call_soon(self._background_done, uri, generation, fut)

        future.add_done_callback(done)
        return future

    def _background_done(self, uri: str, generation: int, fut: Future[Analysis]) -> None:
        pending = self._pending.get(uri)
        if pending is not None and pending[1] is fut:
            del self._pending[uri]
        doc = self.documents.get(uri)
        if doc is None or doc.generation != generation:
            return  # closed or changed meanwhile: stale
        analysis = fut.result()
        doc.analysis = analysis
        if not self.pull_diagnostics:
            self._publish(doc, analysis)
        elif self.client.diagnostic_refresh:
            self.protocol.send_request(types.WORKSPACE_DIAGNOSTIC_REFRESH, None)

    def analysis(self, uri: str) -> Analysis:
        """The analysis of the document's current text (computed now if needed).

        Documents that are not open are read from disk (`file:` URIs); anything else raises
        `UnknownDocument` (an "invalid params" error reply when it escapes a handler).
        """
        doc = self.documents.get(uri)
        if doc is None:
            return self._disk_analysis(uri)
        current = doc.current
        if current is not None:
            return current
        pending = self._pending.get(uri)
        if pending is not None and pending[0] is doc.text:
            raise JsonRpcContentModified("the document is still being analysed; try again")
        analysis = analyze_text(uri, doc.version, doc.text)
        doc.analysis = analysis
        return analysis

    async def analysis_async(self, uri: str) -> Analysis:
        """Like `analysis`, but big documents are analysed off the event loop."""
        for _ in range(3):
            doc = self.documents.get(uri)
            if doc is None:
                return self._disk_analysis(uri)
            current = doc.current
            if current is not None:
                return current
            if len(doc.text) <= INLINE_MAX_CHARS:
                return self.analysis(uri)
            result = await asyncio.wrap_future(self._analyse_in_background(doc))
            if doc.current is None and result.text is doc.text:
                doc.analysis = result
            if doc.current is not None:
                return doc.current
        raise JsonRpcContentModified("the document keeps changing; try again")

    def _disk_analysis(self, uri: str) -> Analysis:
        from pygls.uris import to_fs_path

        path = to_fs_path(uri) if uri.startswith("file:") else None
        if path is None or not os.path.isfile(path):
            raise UnknownDocument(uri)
        try:
            size = os.path.getsize(path)
            if size > DISK_MAX_BYTES:
                raise JsonRpcInvalidParams(f"{path} is too big to analyse ({size} bytes)")
            with open(path, "rb") as fh:
                data = fh.read()
        except OSError as exc:
            raise JsonRpcInvalidParams(f"cannot read {path}: {exc.strerror}") from exc
        try:
            text = data.decode("utf-8")
            bad: Problem | None = None
        except UnicodeDecodeError as exc:
            text = data.decode("utf-8", "replace")
            before = data[: exc.start].decode("utf-8", "replace")
            line = before.count("\n")
            col = len(before) - (before.rfind("\n") + 1)
            bad = Problem(
                code="invalid-utf8",
                message=f"the file is not valid UTF-8 (byte 0x{data[exc.start]:02x})",
                range=Range(Position(line, col), Position(line, col + 1)),
                hint="save the file as UTF-8; Flox cannot read it otherwise",
            )
        analysis = analyze_text(uri, None, text)
        if bad is not None:
            analysis.problems.insert(0, bad)
        return analysis

    # -- diagnostics --------------------------------------------------------------------

    def next_result_id(self) -> str:
        with self._lock:
            self._result_counter += 1
            return str(self._result_counter)

    def diagnostics(self, analysis: Analysis) -> list[dict[str, Any]]:
        """The LSP diagnostics (plain JSON dicts) for an analysis plus extra problems."""
        from floxls.lsp.diagnostics import to_diagnostics

        return to_diagnostics(self, analysis, self.extra_problems.get(analysis.uri, ()))

    def _publish(self, doc: Document, analysis: Analysis) -> None:
        self._send_diagnostics(doc.uri, doc.version, self.diagnostics(analysis))

    def _send_diagnostics(
        self, uri: str, version: int | None, diagnostics: list[dict[str, Any]]
    ) -> None:
        params: dict[str, Any] = {"uri": uri, "diagnostics": diagnostics}
        if version is not None:
            params["version"] = version
        self.protocol._send_data(
            {
                "jsonrpc": "2.0",
                "method": types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS,
                "params": params,
            }
        )

    def republish(self, uri: str) -> None:
        """Re-send the diagnostics of `uri` (e.g. after `extra_problems` changed).

        Safe from any thread. Push clients get a new publishDiagnostics; pull clients a
        `workspace/diagnostic/refresh` when they support it."""
        self.call_soon(self._republish_now, uri)

    def _republish_now(self, uri: str) -> None:
        doc = self.documents.get(uri)
        if doc is None:
            return
        if self.pull_diagnostics:
            if self.client.diagnostic_refresh:
                self.protocol.send_request(types.WORKSPACE_DIAGNOSTIC_REFRESH, None)
            return
        current = doc.current
        if current is None:
            if uri in self._pending:
                return  # the background analysis publishes (with the extras) when done
            current = self.analysis(uri)
        self._publish(doc, current)

    # -- errors -------------------------------------------------------------------------

    def report_server_error(self, error: Exception, source: Any) -> None:
        """Log, never pop up: a failed notification handler is reported in the log.

        pygls also calls this for the JSON-RPC errors it sends as replies on purpose (unknown
        method, invalid params, a handler's `UnknownDocument`): the client has those in the
        reply; they are not internal errors."""
        if isinstance(error, JsonRpcException) and not isinstance(error, JsonRpcInternalError):
            log.debug("error reply (%s): %s", getattr(source, "__name__", source), error)
            return
        log.error("internal error (%s): %s", getattr(source, "__name__", source), error)
        with contextlib.suppress(Exception):
            self.window_log_message(
                types.LogMessageParams(
                    type=types.MessageType.Error,
                    message=f"floxls internal error: {type(error).__name__}: {error}",
                )
            )


async def _async_reader(raw: RawReader, pool: ThreadPoolExecutor) -> Any:
    """An asyncio StreamReader on the fd when it is a pipe/socket/tty, else a thread reader."""
    loop = asyncio.get_running_loop()
    try:
        mode = os.fstat(raw.fd).st_mode
        pipe_like = stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or stat.S_ISCHR(mode)
    except OSError:
        pipe_like = False
    if pipe_like and not raw.eof:
        reader = asyncio.StreamReader(limit=1 << 24, loop=loop)
        leftover = raw.take_buffer()  # bytes already read past the first message
        reader.feed_data(leftover)
        pipe = os.fdopen(os.dup(raw.fd), "rb", buffering=0)
        try:
            await loop.connect_read_pipe(
                lambda: asyncio.StreamReaderProtocol(reader, loop=loop), pipe
            )
        except (OSError, ValueError):
            pipe.close()
            raw.buffer[:0] = leftover
            log.debug("stdin is not usable as an asyncio pipe; reading in a thread")
        else:
            return reader
    from pygls.io_ import StdinAsyncReader

    return StdinAsyncReader(raw, pool)  # type: ignore[arg-type]
