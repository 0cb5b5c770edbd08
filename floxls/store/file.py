"""`file:///abs/dir` binary caches. Every write is atomic (temp file + rename or hard link)."""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from pathlib import Path

from floxls.cancel import CancelToken
from floxls.errors import FloxlsError
from floxls.store import ByteProgress
from floxls.store.base import KeyedCache
from floxls.store.url import StoreUrl

_COPY_CHUNK = 4 << 20


class FileStore(KeyedCache):
    """A binary cache in a local directory (created on first write)."""

    def __init__(self, parsed: StoreUrl) -> None:
        assert parsed.path is not None
        self.root = parsed.path
        self.url = parsed.display()
        self.compression = parsed.compression
        self.secret_key_file = parsed.secret_key

    def __repr__(self) -> str:
        return f"FileStore({self.url!r})"

    def _path(self, key: str) -> Path:
        p = (self.root / key).resolve()
        if self.root.resolve() not in p.parents:
            raise FloxlsError(f"invalid key {key!r} for store {self.url}")
        return p

    def _prepare(self, key: str) -> Path:
        dest = self._path(key)
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise FloxlsError(
                f"cannot create {dest.parent} in store {self.url}: {exc.strerror}",
                "check the directory exists and is writable",
            ) from None
        return dest

    def has_file(self, key: str) -> bool:
        return self._path(key).is_file()

    def _write(self, key: str, data: bytes) -> None:
        dest = self._prepare(key)
        try:
            fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".tmp-", suffix=".part")
        except OSError as exc:
            raise FloxlsError(f"cannot write to store {self.url}: {exc.strerror}") from None
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.chmod(tmp, 0o644)
            os.replace(tmp, dest)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def put_nar(
        self,
        local_file: Path,
        key: str,
        progress: ByteProgress | None = None,
        cancel: CancelToken | None = None,
    ) -> None:
        """Place `local_file` at `key`: a hard link when on the same file system, else a
        chunked copy to a temp file renamed into place."""
        dest = self._prepare(key)
        size = local_file.stat().st_size
        if dest.is_file() and dest.stat().st_size == size:
            if progress:
                progress(size)
            return
        try:
            os.link(local_file, dest)
            os.chmod(dest, 0o644)
            if progress:
                progress(size)
            return
        except FileExistsError:
            os.unlink(dest)  # a stale file of another size: replace it below
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP):
                raise FloxlsError(
                    f"cannot write {key} to store {self.url}: {exc.strerror}"
                ) from None
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".tmp-", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out, open(local_file, "rb") as src:
                while chunk := src.read(_COPY_CHUNK):
                    if cancel:
                        cancel.check()
                    out.write(chunk)
                    if progress:
                        progress(len(chunk))
            os.chmod(tmp, 0o644)
            os.replace(tmp, dest)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def _read(self, key: str) -> bytes | None:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            return None
