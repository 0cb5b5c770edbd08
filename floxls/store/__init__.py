"""Binary caches: one interface over `file:///abs/dir` and `s3://bucket[/prefix]`.

`open_store(url)` parses the URL (Nix's syntax and parameters) and returns a `BinaryCache`.
boto3 is imported only when an s3 store is opened.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol, runtime_checkable

from floxls.cancel import CancelToken
from floxls.nix.narinfo import NarInfo
from floxls.store.base import CACHE_INFO
from floxls.store.url import StoreUrl, parse_store_url

ByteProgress = Callable[[int], None]
"""Called with the number of bytes just transferred (an increment, not a total)."""


@runtime_checkable
class BinaryCache(Protocol):
    """A Nix binary cache. Keys are paths relative to the cache root (`nar/x.nar.zst`)."""

    url: str
    """The store URL without credentials."""
    compression: str | None
    """The URL's `compression` parameter, if any."""
    secret_key_file: Path | None
    """The URL's `secret-key` parameter, if any."""

    def has_narinfo(self, hash_part: str) -> bool: ...

    def has_file(self, key: str) -> bool: ...

    def put_nar(
        self,
        local_file: Path,
        key: str,
        progress: ByteProgress | None = None,
        cancel: CancelToken | None = None,
    ) -> None: ...

    def put_narinfo(self, info: NarInfo) -> None: ...

    def ensure_cache_info(self) -> None: ...

    def get_narinfo(self, hash_part: str) -> NarInfo | None: ...

    def get_nar(self, key: str) -> bytes: ...


def open_store(url: str) -> BinaryCache:
    """Open the binary cache at `url`; FloxlsError for a URL we cannot use.

    Opening checks nothing remote; the first operation does (and reports a missing bucket,
    denied credentials or an unreachable endpoint as FloxlsError).
    """
    parsed = parse_store_url(url)
    return open_parsed(parsed)


def open_parsed(parsed: StoreUrl) -> BinaryCache:
    if parsed.scheme == "file":
        from floxls.store.file import FileStore

        return FileStore(parsed)
    from floxls.store.s3 import S3Store

    return S3Store(parsed)


__all__ = ["CACHE_INFO", "BinaryCache", "ByteProgress", "StoreUrl", "open_store"]
