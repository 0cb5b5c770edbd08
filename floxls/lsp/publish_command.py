"""`floxls.publish` in the language server: the pipeline in a worker thread, shown to the user.

The pipeline (`floxls.publish.pipeline.run`) is the same one the CLI runs. Here its events
become LSP work-done progress (a server-initiated, cancellable token: begin, one report per
step with a percentage, end), its build log becomes `window/logMessage` lines, and the outcome
a `window/showMessage`: `Published <catalog>/<name> <version>`, or the error with its fix.
`window/workDoneProgress/cancel` cancels through a `CancelToken`. One publish per target at a
time. While the publish feature is off, the user is offered to turn it on
(`window/showMessageRequest`).

Everything that touches the client runs on the event loop; the worker thread hands events
over with `call_soon_threadsafe`.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
import weakref
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.exceptions import JsonRpcException

from floxls.cancel import CancelToken
from floxls.errors import Cancelled, FloxlsError
from floxls.progress import Event

if TYPE_CHECKING:
    from floxls.config import Settings

log = logging.getLogger(__name__)

REQUEST_FAILED = -32803  # LSP's RequestFailed
ENABLE_ACTION = "Enable publishing"
# Where each step starts, in percent of the whole publish (used when an event has no fraction).
STEP_START = {
    "preflight": 0,
    "clone": 5,
    "build": 15,
    "closure": 55,
    "sign": 70,
    "upload": 75,
    "record": 95,
}
REPORT_INTERVAL = 0.1  # seconds between two reports of the same step (byte counters are chatty)
CREATE_TIMEOUT = 10.0  # seconds to wait for the client to accept a progress token


class RequestFailed(JsonRpcException):
    """A command the server understood but refuses to run now (already running, untrusted)."""

    CODE = REQUEST_FAILED


def overrides_from_client(raw: object) -> dict[str, object]:
    """Editor settings -> `load_settings` overrides.

    Accepts `{"publish": {"storeUrl", "signingKey"}, "catalog": {"url"}}`, the same wrapped
    in `{"floxls": {...}}`, and flattened keys (`"publish.storeUrl"`). Anything else is ignored;
    empty strings mean "not set".
    """
    if not isinstance(raw, Mapping):
        return {}
    inner = raw.get("floxls")
    if isinstance(inner, Mapping):
        raw = inner

    def pick(section: str, key: str) -> object:
        sub = raw.get(section)
        if isinstance(sub, Mapping) and key in sub:
            return sub[key]
        return raw.get(f"{section}.{key}")

    out: dict[str, object] = {}
    for section, key, name in (
        ("publish", "storeUrl", "store_url"),
        ("publish", "signingKey", "signing_key"),
        ("catalog", "url", "catalog_url"),
    ):
        value = pick(section, key)
        if isinstance(value, str) and value.strip():
            out[name] = value.strip()
    return out


def client_settings(server: Any) -> Mapping[str, object]:
    raw = getattr(server, "settings", None)
    return raw if isinstance(raw, Mapping) else {}


def is_untrusted(server: Any) -> bool:
    settings = client_settings(server)
    inner = settings.get("floxls")
    if isinstance(inner, Mapping) and inner.get("trusted") is False:
        return True
    return settings.get("trusted") is False


@dataclass(frozen=True, slots=True)
class Target:
    """A validated `floxls.publish` request."""

    uri: str
    path: Path
    env_dir: Path
    name: str

    @property
    def key(self) -> tuple[str, str]:
        return (str(self.env_dir), self.name)


class Publisher:
    """The publishes running in one server, and how each is shown to the client."""

    def __init__(self, server: Any) -> None:
        self._server = server
        self._executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="floxls-publish")
        self.active: dict[tuple[str, str], CancelToken] = {}

    # ---- small client helpers ----------------------------------------------------------

    def _show(self, kind: types.MessageType, message: str) -> None:
        self._server.window_show_message(types.ShowMessageParams(type=kind, message=message))

    def _log(self, kind: types.MessageType, message: str) -> None:
        self._server.window_log_message(types.LogMessageParams(type=kind, message=message))

    def _client_has(self, *path: str) -> bool:
        node: object = getattr(self._server, "client_capabilities", None)
        for attr in path:
            node = getattr(node, attr, None)
        return bool(node)

    def refuse(self, message: str) -> JsonRpcException:
        """Tell the user (Neovim 0.7 drops command errors silently) and make the error reply."""
        self._show(types.MessageType.Warning, message)
        return RequestFailed(message)

    def cancel_all(self) -> None:
        for token in self.active.values():
            token.cancel()

    # ---- the feature gate --------------------------------------------------------------

    async def _ensure_enabled(self, settings: Settings) -> Settings | None:
        """The settings to publish with, after offering to enable the feature; None to stop."""
        from floxls.config import PUBLISH_DISABLED_FIX, enable_publish, load_settings

        if settings.publish_enabled:
            return settings
        message = "floxls: publishing is turned off (the Flox `publish` feature is not enabled)."
        choice: types.MessageActionItem | None = None
        if self._client_has("window", "show_message"):
            params = types.ShowMessageRequestParams(
                type=types.MessageType.Warning,
                message=f"{message} {ENABLE_ACTION} sets features.publish = true in "
                f"{settings.config_file}.",
                actions=[types.MessageActionItem(title=ENABLE_ACTION)],
            )
            try:
                choice = await self._server.window_show_message_request_async(params)
            except Exception:
                log.warning("window/showMessageRequest failed", exc_info=True)
        if choice is None or choice.title != ENABLE_ACTION:
            self._show(types.MessageType.Info, f"{message} To publish, {PUBLISH_DISABLED_FIX}")
            return None
        try:
            path = enable_publish(None)
            settings = load_settings(overrides_from_client(client_settings(self._server)))
        except FloxlsError as exc:
            self._show(types.MessageType.Error, _with_fix(f"floxls: {exc.message}", exc.fix))
            return None
        if settings.publish_enabled:
            self._show(types.MessageType.Info, f"floxls: enabled publishing in {path}")
            return settings
        self._show(
            types.MessageType.Warning,
            f"floxls: set features.publish = true in {path}, but the environment "
            "(FLOX_FEATURES_PUBLISH) still turns publishing off; change it and click Publish again",
        )
        return None

    # ---- the publish -------------------------------------------------------------------

    async def publish(self, target: Target) -> dict[str, object]:
        """Run one publish to its end. Raises RequestFailed when one for the target runs."""
        if target.key in self.active:
            raise self.refuse(
                f"floxls: {target.name} is already publishing; wait for it to finish "
                "or cancel it from its progress notification"
            )
        cancel = CancelToken()
        self.active[target.key] = cancel  # before any await: a second click sees it
        try:
            return await self._publish(target, cancel)
        except asyncio.CancelledError:
            # `$/cancelRequest`, or the loop closing: the worker thread would run on (and
            # keep its temp dir) with nothing left to cancel it.
            cancel.cancel()
            raise
        finally:
            del self.active[target.key]
            from floxls.lsp.git_state import git_state

            git_state(self._server).refresh_all()

    async def _publish(self, target: Target, cancel: CancelToken) -> dict[str, object]:
        from floxls.config import load_settings

        try:
            settings = load_settings(overrides_from_client(client_settings(self._server)))
        except (FloxlsError, ValueError) as exc:
            msg = exc.message if isinstance(exc, FloxlsError) else str(exc)
            fix = exc.fix if isinstance(exc, FloxlsError) else None
            return self._failed(target, msg, fix)
        enabled = await self._ensure_enabled(settings)
        if enabled is None:
            return {"published": False, "error": "the publish feature is off"}
        reporter = _Reporter(self._server, target, cancel)
        await reporter.begin()
        loop = asyncio.get_running_loop()

        def progress(event: Event) -> None:  # in the worker thread
            loop.call_soon_threadsafe(reporter.event, event)

        try:
            result = await loop.run_in_executor(
                self._executor, _run_pipeline, target, enabled, progress, cancel
            )
        except Cancelled:
            reporter.end(f"Publishing {target.name} cancelled")
            self._show(types.MessageType.Warning, f"floxls: publishing {target.name} cancelled")
            return {"published": False, "cancelled": True}
        except FloxlsError as exc:
            reporter.end(f"Publishing {target.name} failed")
            return self._failed(target, exc.message, exc.fix)
        except Exception as exc:
            log.exception("publish of %s crashed", target.name)
            reporter.end(f"Publishing {target.name} failed")
            return self._failed(target, f"internal error: {type(exc).__name__}: {exc}", None)
        text = f"Published {result.install_ref} {result.version}"
        reporter.end(text)
        self._show(types.MessageType.Info, f"{text} — {result.how_to_get}")
        return {
            "published": True,
            "catalog": result.catalog,
            "name": result.name,
            "version": result.version,
            "storeUrl": result.store_url,
            "storePaths": list(result.store_paths),
            "uploaded": list(result.uploaded),
            "skipped": list(result.skipped),
        }

    def _failed(self, target: Target, message: str, fix: str | None) -> dict[str, object]:
        self._show(
            types.MessageType.Error, _with_fix(f"Publishing {target.name} failed: {message}", fix)
        )
        return {"published": False, "error": message, "fix": fix}

    def shutdown(self) -> None:
        self.cancel_all()
        self._executor.shutdown(wait=False)


def _with_fix(message: str, fix: str | None) -> str:
    return f"{message}\nfix: {fix}" if fix else message


def _run_pipeline(target: Target, settings: Settings, progress: Any, cancel: CancelToken) -> Any:
    from floxls.publish.pipeline import PublishRequest, run

    request = PublishRequest(env_dir=target.env_dir, package=target.name, settings=settings)
    return run(request, progress, cancel)


class _Reporter:
    """Work-done progress and log lines for one publish (event loop only)."""

    def __init__(self, server: Any, target: Target, cancel: CancelToken) -> None:
        self._server = server
        self._target = target
        self._cancel = cancel
        self.token: str | None = None
        self._percent = 0
        self._step = ""
        self._last_report = 0.0
        self._ended = False

    async def begin(self) -> None:
        caps = getattr(self._server, "client_capabilities", None)
        window = getattr(caps, "window", None)
        if not getattr(window, "work_done_progress", False):
            return
        token = f"floxls-publish-{uuid.uuid4().hex[:12]}"
        progress = self._server.work_done_progress
        try:
            await asyncio.wait_for(progress.create_async(token), CREATE_TIMEOUT)
        except Exception:
            log.warning("the client did not accept a progress token; publishing without one")
            return
        self.token = token
        fut: Future[Any] | None = progress.tokens.get(token)
        if fut is not None:
            cancel = self._cancel
            fut.add_done_callback(lambda f: cancel.cancel() if f.cancelled() else None)
        progress.begin(
            token,
            types.WorkDoneProgressBegin(
                title=f"Publishing {self._target.name}",
                cancellable=True,
                message="preflight",
                percentage=0,
            ),
        )

    def event(self, event: Event) -> None:
        if self._ended:
            return
        if event.log is not None:
            self._server.window_log_message(
                types.LogMessageParams(
                    type=types.MessageType.Log, message=f"[{self._target.name}] {event.log}"
                )
            )
            return
        if self.token is None:
            return
        if event.fraction is not None:
            percent = int(max(0.0, min(1.0, event.fraction)) * 100)
        else:
            percent = STEP_START.get(event.step, self._percent)
        percent = max(percent, self._percent)  # progress only ever rises
        now = time.monotonic()
        new_step = event.step != self._step
        if not new_step and now - self._last_report < REPORT_INTERVAL and percent < 100:
            return
        self._step, self._percent, self._last_report = event.step, percent, now
        message = f"{event.step}: {event.message}" if event.message else event.step
        self._server.work_done_progress.report(
            self.token, types.WorkDoneProgressReport(message=message, percentage=percent)
        )

    def end(self, message: str) -> None:
        if self._ended:
            return
        self._ended = True
        if self.token is not None:
            self._server.work_done_progress.end(
                self.token, types.WorkDoneProgressEnd(message=message)
            )
            self._server.work_done_progress.tokens.pop(self.token, None)


_PUBLISHERS: weakref.WeakKeyDictionary[Any, Publisher] = weakref.WeakKeyDictionary()


def publisher(server: Any) -> Publisher:
    """The Publisher of `server`, made on first use."""
    pub = _PUBLISHERS.get(server)
    if pub is None:
        pub = _PUBLISHERS[server] = Publisher(server)
    return pub
