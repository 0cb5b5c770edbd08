"""`floxls publish [-d DIR] [--store-url URL] [--signing-key FILE] [PACKAGE]`.

Runs `floxls.publish.pipeline.run` in a worker thread; the main thread shows progress
(a rich display on a terminal, plain lines otherwise) and turns Ctrl-C into a cancel of
the pipeline, which cleans up before it returns.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path
from typing import Any, TextIO

from floxls.cancel import CancelToken
from floxls.errors import Cancelled
from floxls.progress import Event


def _mb(n: int) -> str:
    """A byte count for people: 512 B, 12.3 kB, 4.5 MB, 1.2 GB."""
    if n < 1000:
        return f"{n} B"
    for unit, size in (("GB", 1e9), ("MB", 1e6)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n / 1e3:.1f} kB"


class PlainDisplay:
    """One line per event with a message; byte counts at most once a second per step."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self._last_bytes: dict[str, float] = {}
        self._lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        with self._lock:
            label = event.step
            if event.log is not None:
                self.out.write(f"[{label}] | {event.log}\n")
            elif event.message:
                extra = ""
                if event.done_bytes is not None and event.total_bytes:
                    extra = f" ({_mb(event.done_bytes)} of {_mb(event.total_bytes)})"
                self.out.write(f"[{label}] {event.message}{extra}\n")
            elif event.done_bytes is not None:
                now = time.monotonic()
                if now - self._last_bytes.get(event.step, 0.0) < 1.0:
                    return
                self._last_bytes[event.step] = now
                total = f" of {_mb(event.total_bytes)}" if event.total_bytes else ""
                self.out.write(f"[{label}] {_mb(event.done_bytes)}{total}\n")
            else:
                return
            self.out.flush()

    def close(self) -> None:
        pass


class RichDisplay:
    """A live progress line per step on a terminal; build log lines scroll above it."""

    def __init__(self, out: TextIO) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        self.console = Console(file=out)
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.fields[step]:<9}"),
            TextColumn("{task.description}", markup=False),
            BarColumn(),
            TextColumn("{task.fields[bytes]}", markup=False),
            TimeElapsedColumn(),
            console=self.console,
            transient=False,
        )
        self.tasks: dict[str, Any] = {}
        self.current: str | None = None
        self.progress.start()

    def _task(self, step: str) -> Any:
        if step not in self.tasks:
            if self.current is not None and self.current in self.tasks:
                t = self.tasks[self.current]
                total = self.progress.tasks[t].total
                self.progress.update(t, completed=total or 1, total=total or 1)
            self.tasks[step] = self.progress.add_task("", step=step, total=None, bytes="")
        self.current = step
        return self.tasks[step]

    def __call__(self, event: Event) -> None:
        task = self._task(event.step)
        if event.log is not None:
            from rich.text import Text

            self.progress.console.print(Text(f"  | {event.log}", style="dim"))
            return
        kwargs: dict[str, Any] = {}
        if event.message:
            kwargs["description"] = event.message
        if event.total_bytes:
            kwargs["total"] = event.total_bytes
        if event.done_bytes is not None:
            kwargs["completed"] = event.done_bytes
            total = f" of {_mb(event.total_bytes)}" if event.total_bytes else ""
            kwargs["bytes"] = f"{_mb(event.done_bytes)}{total}"
        if kwargs:
            self.progress.update(task, **kwargs)

    def close(self) -> None:
        if self.current is not None:
            t = self.tasks[self.current]
            total = self.progress.tasks[t].total
            self.progress.update(t, completed=total or 1, total=total or 1)
        self.progress.stop()


def run(args: argparse.Namespace) -> int:
    from floxls.config import load_settings
    from floxls.publish.pipeline import PreflightFailed, PublishRequest, PublishResult
    from floxls.publish.pipeline import run as run_pipeline

    settings = load_settings({"store_url": args.store_url, "signing_key": args.signing_key})
    request = PublishRequest(env_dir=Path(args.dir), package=args.package, settings=settings)
    cancel = CancelToken()
    err = sys.stderr
    display: PlainDisplay | RichDisplay = RichDisplay(err) if err.isatty() else PlainDisplay(err)

    outcome: dict[str, object] = {}
    finished = threading.Event()

    def work() -> None:
        try:
            outcome["result"] = run_pipeline(request, display, cancel)
        except BaseException as exc:
            outcome["error"] = exc
        finally:
            finished.set()

    # The worker is a daemon only so that a second Ctrl-C during clean-up can still end the
    # process; we wait on an Event (not Thread.join, whose state an interrupt can upset).
    worker = threading.Thread(target=work, name="floxls-publish", daemon=True)
    worker.start()
    interrupted = False
    try:
        while not finished.is_set():
            try:
                finished.wait(0.1)
            except KeyboardInterrupt:
                if interrupted:
                    raise
                interrupted = True
                cancel.cancel()
                err.write("floxls: cancelling (cleaning up)...\n")
                err.flush()
    finally:
        display.close()

    error = outcome.get("error")
    if isinstance(error, Cancelled) or (interrupted and error is not None):
        raise Cancelled("publish cancelled; no build was recorded")
    if isinstance(error, PreflightFailed):
        for f in error.findings:
            kind = "error" if f.is_error else "warning"
            err.write(f"floxls: {kind}: {f.message} [{f.code}]\n")
            if f.fix and f.is_error:
                err.write(f"  fix: {f.fix}\n")
        err.flush()
        return 1
    if isinstance(error, BaseException):
        raise error
    result = outcome["result"]
    assert isinstance(result, PublishResult)
    note = "" if result.recorded else " (already in the catalog)"
    sys.stdout.write(
        f"Published {result.install_ref} {result.version}{note} - {result.how_to_get}\n"
    )
    sys.stdout.flush()
    return 0
