"""What every binary cache does the same way, given how it reads and writes one key."""

from __future__ import annotations

from floxls.errors import FloxlsError
from floxls.nix import narinfo as narinfo_mod
from floxls.nix.narinfo import NarInfo

CACHE_INFO = "StoreDir: /nix/store\n"


class KeyedCache:
    """narinfo and `nix-cache-info` handling on top of `_read`/`_write`/`has_file`."""

    url: str

    def has_file(self, key: str) -> bool:
        raise NotImplementedError

    def _read(self, key: str) -> bytes | None:
        """The object at `key`, None when there is none."""
        raise NotImplementedError

    def _write(self, key: str, data: bytes) -> None:
        """Put a small object at `key`, atomically."""
        raise NotImplementedError

    def has_narinfo(self, hash_part: str) -> bool:
        return self.has_file(f"{hash_part}.narinfo")

    def put_narinfo(self, info: NarInfo) -> None:
        self._write(f"{info.hash_part}.narinfo", info.render().encode())

    def ensure_cache_info(self) -> None:
        if not self.has_file("nix-cache-info"):
            self._write("nix-cache-info", CACHE_INFO.encode())

    def get_narinfo(self, hash_part: str) -> NarInfo | None:
        data = self._read(f"{hash_part}.narinfo")
        if data is None:
            return None
        try:
            return narinfo_mod.parse(data.decode())
        except (narinfo_mod.NarInfoError, UnicodeDecodeError) as exc:
            raise FloxlsError(
                f"store {self.url}: {hash_part}.narinfo is corrupt: {exc}",
                f"delete {hash_part}.narinfo from the store and publish again",
            ) from None

    def get_nar(self, key: str) -> bytes:
        data = self._read(key)
        if data is None:
            raise FloxlsError(f"store {self.url} has no {key}")
        return data
