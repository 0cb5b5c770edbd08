"""One publish per (environment, target) at a time, across threads and processes.

An in-process registry answers the language server's "is it running?" cheaply, and an
exclusive `flock` on `<data_dir>/locks/<key>.lock` keeps a CLI publish and an editor
publish of the same target from running at once. The OS drops the flock when a process
dies, so a crash never leaves a stale lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path

from floxls.errors import FloxlsError

_registry_lock = threading.Lock()
_running: set[tuple[str, str]] = set()


def lock_key(env_dir: Path, target: str) -> tuple[str, str]:
    return (str(Path(env_dir).resolve()), target)


def is_publishing(env_dir: Path, target: str) -> bool:
    """True while this process is publishing `target` of `env_dir`."""
    with _registry_lock:
        return lock_key(env_dir, target) in _running


def running() -> list[tuple[str, str]]:
    """(env_dir, target) pairs this process is publishing now."""
    with _registry_lock:
        return sorted(_running)


def _busy(target: str, env_dir: Path) -> FloxlsError:
    return FloxlsError(
        f"a publish of {target} from {env_dir} is already running",
        "wait for it to finish (or cancel it), then publish again",
    )


@contextlib.contextmanager
def publish_lock(env_dir: Path, target: str, lock_dir: Path) -> Iterator[None]:
    """Hold the lock for publishing `target` of `env_dir`; FloxlsError at once when taken."""
    key = lock_key(env_dir, target)
    with _registry_lock:
        if key in _running:
            raise _busy(target, env_dir)
        _running.add(key)
    fd: int | None = None
    try:
        lock_dir.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256("\0".join(key).encode()).hexdigest()[:32]
        path = lock_dir / f"publish-{digest}.lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise _busy(target, env_dir) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()} {key[0]} {target}\n".encode())
        yield
    finally:
        if fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
        with _registry_lock:
            _running.discard(key)
