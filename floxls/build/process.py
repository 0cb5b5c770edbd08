"""Run a child process whose output is streamed line by line and which can be cancelled.

The child gets its own process group (session), so cancelling kills everything it started.
Lines are handed to `on_line` in the calling thread, in order.
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from floxls.cancel import CancelToken
from floxls.errors import Cancelled

_EOF = object()


def kill_group(proc: subprocess.Popen[bytes], grace: float = 2.0) -> None:
    """SIGTERM the child's process group, then SIGKILL what is left after `grace` seconds."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=grace)
            # the leader is gone; make sure no member of the group survives it
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            return
        except subprocess.TimeoutExpired:
            continue
    proc.wait()


def run_cancellable(
    cmd: Sequence[str],
    *,
    cwd: Path | str | None = None,
    env: Mapping[str, str] | None = None,
    cancel: CancelToken | None = None,
    on_line: Callable[[str], None] | None = None,
    tail: int = 30,
) -> tuple[int, list[str]]:
    """Run `cmd` (stdout and stderr merged), return (exit status, the last `tail` lines).

    Raises Cancelled (after killing the process group) when `cancel` fires, also when it
    fires from inside `on_line`.
    """
    if cancel is not None:
        cancel.check()
    proc = subprocess.Popen(
        list(cmd),
        cwd=cwd,
        env=dict(env) if env is not None else None,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    lines: queue.Queue[object] = queue.Queue()

    def reader() -> None:
        assert proc.stdout is not None
        try:
            for raw in iter(proc.stdout.readline, b""):
                lines.put(raw.decode("utf-8", "replace").rstrip("\r\n"))
        finally:
            lines.put(_EOF)

    thread = threading.Thread(target=reader, name="floxls-proc-reader", daemon=True)
    thread.start()
    last: deque[str] = deque(maxlen=tail)
    try:
        exited_at: float | None = None
        while True:
            if cancel is not None and cancel.cancelled:
                raise Cancelled()
            try:
                item = lines.get(timeout=0.05)
            except queue.Empty:
                if proc.poll() is not None:
                    now = time.monotonic()
                    exited_at = exited_at or now
                    if now - exited_at > 1.0:
                        # a background child still holds the pipe open: end it
                        kill_group(proc, grace=0.5)
                continue
            if item is _EOF:
                break
            line = str(item)
            last.append(line)
            if on_line is not None:
                on_line(line)
        while proc.poll() is None:
            if cancel is not None and cancel.cancelled:
                raise Cancelled()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=0.05)
        if cancel is not None:
            cancel.check()
        return proc.returncode, list(last)
    except BaseException:
        kill_group(proc)
        raise
    finally:
        thread.join(timeout=5)
        if proc.stdout is not None:
            proc.stdout.close()
