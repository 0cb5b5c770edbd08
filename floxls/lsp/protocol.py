"""pygls' protocol with our document sync, capability tweaks and sturdier error paths.

pygls leaves some malformed traffic unanswered or reports it as an internal error of ours;
every override here answers it the way JSON-RPC wants (found by tests/test_lsp_fuzz.py).
"""

from __future__ import annotations

import logging
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams, JsonRpcInvalidRequest
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.language_server import lsp_method

from floxls.lsp import capabilities as caps

if TYPE_CHECKING:
    from floxls.lsp.core import FloxServer

log = logging.getLogger("floxls.lsp")


_HANDLED = object()  # a message we already answered while deserialising it


def _is_notification(method: object) -> bool:
    """Whether `method` is an LSP notification (its message type has no `id`)."""
    import attrs

    entry = types.METHOD_TO_TYPES.get(method) if isinstance(method, str) else None
    return entry is not None and "id" not in attrs.fields_dict(entry[0])


class FloxProtocol(LanguageServerProtocol):
    """pygls' protocol with our document sync, capability tweaks and sturdier error paths."""

    _server: FloxServer

    def __init__(self, server: FloxServer, converter: Any) -> None:
        super().__init__(server, converter)
        self.suppress_response_id: int | str | None = None

    # -- error paths --------------------------------------------------------------------

    def structure_message(self, data: dict[str, Any]) -> Any:
        method = data.get("method")
        msg_id = data.get("id")
        if "jsonrpc" in data and isinstance(msg_id, int | str) and _is_notification(method):
            # pygls would structure it as the notification (dropping the id): never answered.
            refusal = JsonRpcInvalidRequest(f"{method} is a notification: send it without an id")
            self._send_response(msg_id, error=refusal.to_response_error())
            return _HANDLED
        if "jsonrpc" in data and "method" in data and "params" not in data:
            # JSON-RPC lets a message leave out `params`; pygls' generic message types (used
            # for unknown methods) require the field and would fail with an internal error.
            data = {**data, "params": None}
        try:
            return super().structure_message(data)
        except JsonRpcException as exc:
            if "id" not in data and isinstance(method, str):
                # A notification whose params do not fit: nobody to answer; the client's
                # mistake, not an internal error of ours.
                log.warning("ignoring notification %.100r: its params do not fit", method)
                return _HANDLED
            if isinstance(msg_id, int | str) and isinstance(method, str):
                # A request whose params do not fit: answer it, do not leave it hanging.
                error: JsonRpcException = JsonRpcInvalidParams(f"invalid params for {method}")
                if not isinstance(exc, JsonRpcInvalidParams):
                    error = JsonRpcInvalidRequest(f"cannot read request {method}")
                self._send_response(msg_id, error=error.to_response_error())
                return _HANDLED
            raise

    def handle_message(self, message: Any) -> None:
        if message is _HANDLED:
            return
        if not hasattr(message, "jsonrpc"):
            log.warning("ignoring a message that is not JSON-RPC: %.200r", message)
            return
        super().handle_message(message)

    def _send_response(
        self, msg_id: Any, result: Any | None = None, error: Any | None = None
    ) -> None:
        if self.suppress_response_id is not None and msg_id == self.suppress_response_id:
            # Already answered by the fast start-up path (floxls.lsp.server.serve).
            self.suppress_response_id = None
            return
        super()._send_response(msg_id, result, error)

    def _handle_cancel_notification(self, msg_id: Any) -> None:
        # lsprotocol does not check that the id is an int or string; an object or list
        # would make pygls' lookup raise (unhashable).
        if not isinstance(msg_id, int | str):
            log.warning("ignoring $/cancelRequest with id %.100r", msg_id)
            return
        super()._handle_cancel_notification(msg_id)

    @lsp_method(types.WINDOW_WORK_DONE_PROGRESS_CANCEL)
    def lsp_work_done_progress_cancel(
        self, params: types.WorkDoneProgressCancelParams
    ) -> Generator[Any, Any, None]:
        # As for $/cancelRequest: a token that is not an int or string is never ours.
        if not isinstance(params.token, int | str):
            log.warning("ignoring window/workDoneProgress/cancel for token %.100r", params.token)
            return
        yield from super().lsp_work_done_progress_cancel(params)

    # floxls does not advertise notebookDocumentSync: pygls' built-in notebook handlers
    # (which raise on a notebook they do not know, or a cell change out of range) are off.

    @lsp_method(types.NOTEBOOK_DOCUMENT_DID_OPEN)
    def lsp_notebook_document__did_open(self, params: Any) -> None:
        log.debug("ignoring notebookDocument/didOpen: notebooks are not synced")

    @lsp_method(types.NOTEBOOK_DOCUMENT_DID_CHANGE)
    def lsp_notebook_document__did_change(self, params: Any) -> None:
        log.debug("ignoring notebookDocument/didChange: notebooks are not synced")

    @lsp_method(types.NOTEBOOK_DOCUMENT_DID_CLOSE)
    def lsp_notebook_document__did_close(self, params: Any) -> None:
        log.debug("ignoring notebookDocument/didClose: notebooks are not synced")

    # -- lifecycle ----------------------------------------------------------------------

    @lsp_method(types.INITIALIZE)
    def lsp_initialize(
        self, params: types.InitializeParams
    ) -> Generator[Any, Any, types.InitializeResult]:
        raw_caps = self._converter.unstructure(params.capabilities)
        result = yield from super().lsp_initialize(params)
        server = self._server
        server.on_initialize(params, raw_caps if isinstance(raw_caps, dict) else {})
        encoding = caps.choose_position_encoding(server.raw_client_capabilities)
        result.capabilities.position_encoding = encoding
        if not server.pull_diagnostics:
            result.capabilities.diagnostic_provider = None
        self.server_capabilities = result.capabilities
        return result

    # -- document sync (built-ins: run before any user handler) ---------------------------

    @lsp_method(types.TEXT_DOCUMENT_DID_OPEN)
    def lsp_text_document__did_open(
        self, params: types.DidOpenTextDocumentParams
    ) -> Generator[Any, Any, None]:
        self._server.did_open(params)
        if (user_handler := self.fm.features.get(types.TEXT_DOCUMENT_DID_OPEN)) is not None:
            yield user_handler, (params,), None

    @lsp_method(types.TEXT_DOCUMENT_DID_CHANGE)
    def lsp_text_document__did_change(
        self, params: types.DidChangeTextDocumentParams
    ) -> Generator[Any, Any, None]:
        self._server.did_change(params)
        if (user_handler := self.fm.features.get(types.TEXT_DOCUMENT_DID_CHANGE)) is not None:
            yield user_handler, (params,), None

    @lsp_method(types.TEXT_DOCUMENT_DID_SAVE)
    def lsp_text_document__did_save(
        self, params: types.DidSaveTextDocumentParams
    ) -> Generator[Any, Any, None]:
        self._server.did_save(params)
        if (user_handler := self.fm.features.get(types.TEXT_DOCUMENT_DID_SAVE)) is not None:
            yield user_handler, (params,), None

    @lsp_method(types.TEXT_DOCUMENT_DID_CLOSE)
    def lsp_text_document__did_close(
        self, params: types.DidCloseTextDocumentParams
    ) -> Generator[Any, Any, None]:
        self._server.did_close(params)
        if (user_handler := self.fm.features.get(types.TEXT_DOCUMENT_DID_CLOSE)) is not None:
            yield user_handler, (params,), None
