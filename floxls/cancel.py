"""Cancellation shared by the CLI (Ctrl-C) and the language server (work-done cancel)."""

from __future__ import annotations

import threading

from floxls.errors import Cancelled


class CancelToken:
    """Set once from any thread; long work calls `check()` between and inside steps."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        """Raise `Cancelled` if cancellation was asked for."""
        if self._event.is_set():
            raise Cancelled()

    def wait(self, timeout: float) -> bool:
        """Sleep up to `timeout` seconds; True if cancelled meanwhile."""
        return self._event.wait(timeout)
