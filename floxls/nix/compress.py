"""Compression of NARs as Nix names it: `zstd` (default), `xz`, `none`."""

from __future__ import annotations

import lzma
import os
from typing import Any, BinaryIO, Protocol

from floxls.errors import FloxlsError

COMPRESSIONS = ("zstd", "xz", "none")
EXTENSIONS = {"zstd": ".nar.zst", "xz": ".nar.xz", "none": ".nar"}


class Compressor(Protocol):
    """Write uncompressed bytes in, compressed bytes go to the sink; `close()` finishes."""

    def write(self, data: bytes) -> int: ...
    def close(self) -> None: ...


def check_compression(name: str) -> str:
    """Return `name` if it is a supported compression, else raise FloxlsError."""
    if name not in COMPRESSIONS:
        raise FloxlsError(
            f"unknown compression {name!r}",
            f"use one of: {', '.join(COMPRESSIONS)}",
        )
    return name


def extension(name: str) -> str:
    """File extension of a NAR compressed with `name` (`.nar.zst`, `.nar.xz`, `.nar`)."""
    return EXTENSIONS[check_compression(name)]


class _Plain:
    def __init__(self, sink: BinaryIO) -> None:
        self._sink = sink

    def write(self, data: bytes) -> int:
        self._sink.write(data)
        return len(data)

    def close(self) -> None:
        self._sink.flush()


class _Xz:
    def __init__(self, sink: BinaryIO, preset: int) -> None:
        self._sink = sink
        self._c = lzma.LZMACompressor(format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC64, preset=preset)

    def write(self, data: bytes) -> int:
        out = self._c.compress(data)
        if out:
            self._sink.write(out)
        return len(data)

    def close(self) -> None:
        self._sink.write(self._c.flush())
        self._sink.flush()


ZSTD_JOB_SIZE = 4 << 20
"""Bytes per zstd worker job: small jobs keep memory low (a few MB per worker)."""
ZSTD_MAX_THREADS = 3


def zstd_threads(threads: int) -> int:
    """-1 means one worker per spare CPU (the calling thread reads and hashes), at most
    ZSTD_MAX_THREADS so memory stays bounded on big machines."""
    if threads >= 0:
        return threads
    return max(1, min((os.cpu_count() or 2) - 1, ZSTD_MAX_THREADS))


class _Zstd:
    def __init__(self, sink: BinaryIO, level: int, threads: int) -> None:
        import zstandard

        n = zstd_threads(threads)
        params = zstandard.ZstdCompressionParameters.from_level(
            level, threads=n, job_size=ZSTD_JOB_SIZE if n else 0
        )
        self._w: Any = zstandard.ZstdCompressor(compression_params=params).stream_writer(
            sink, closefd=False, write_return_read=True
        )

    def write(self, data: bytes) -> int:
        return int(self._w.write(data))

    def close(self) -> None:
        self._w.close()


def compressor(
    name: str, sink: BinaryIO, *, level: int | None = None, threads: int = -1
) -> Compressor:
    """A streaming compressor writing to `sink` (which stays open after `close()`).

    zstd uses `threads` worker threads (-1: see `zstd_threads`; 0: none) at `level`
    (default 3, as Nix);
    xz uses preset `level` (default 6, as Nix).
    """
    check_compression(name)
    if name == "zstd":
        return _Zstd(sink, 3 if level is None else level, threads)
    if name == "xz":
        return _Xz(sink, 6 if level is None else level)
    return _Plain(sink)


def decompress(name: str, data: bytes) -> bytes:
    """Decompress a whole (small) NAR; for tests and reading back."""
    check_compression(name)
    if name == "zstd":
        import zstandard

        return bytes(zstandard.ZstdDecompressor().decompressobj().decompress(data))
    if name == "xz":
        return lzma.decompress(data)
    return data
