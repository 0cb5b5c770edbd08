"""Streaming NAR (Nix ARchive) serialisation, byte for byte as `nix-store --dump`.

Memory use is bounded by the chunk size whatever the tree: file contents are read in chunks
and never held whole.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

DEFAULT_CHUNK = 1 << 20


def _str(b: bytes) -> bytes:
    pad = -len(b) % 8
    return len(b).to_bytes(8, "little") + b + b"\0" * pad


_MAGIC = _str(b"nix-archive-1")
_OPEN = _str(b"(")
_CLOSE = _str(b")")
_TYPE = _str(b"type")
_REGULAR = _OPEN + _TYPE + _str(b"regular")
_EXECUTABLE = _str(b"executable") + _str(b"")
_CONTENTS = _str(b"contents")
_SYMLINK = _OPEN + _TYPE + _str(b"symlink") + _str(b"target")
_DIRECTORY = _OPEN + _TYPE + _str(b"directory")
_ENTRY = _str(b"entry") + _OPEN + _str(b"name")
_NODE = _str(b"node")


class NarError(Exception):
    """The tree cannot be serialised (unsupported file type, file changed while read)."""


def iter_nar(path: Path | str, chunk: int = DEFAULT_CHUNK) -> Iterator[bytes]:
    """Yield the NAR serialisation of `path` in pieces of at most about `chunk` bytes.

    Small structural pieces are batched together; file contents are read `chunk` bytes
    at a time. The top-level path itself may be a file, a symlink or a directory.
    """
    buf = bytearray(_MAGIC)
    yield from _node(os.fsencode(path), buf, chunk)
    if buf:
        yield bytes(buf)


def _node(p: bytes, buf: bytearray, chunk: int) -> Iterator[bytes]:
    st = os.lstat(p)
    mode = st.st_mode
    if stat.S_ISREG(mode):
        buf += _REGULAR
        if mode & stat.S_IXUSR:
            buf += _EXECUTABLE
        buf += _CONTENTS
        size = st.st_size
        buf += size.to_bytes(8, "little")
        yield from _contents(p, size, buf, chunk)
        buf += b"\0" * (-size % 8)
        buf += _CLOSE
    elif stat.S_ISLNK(mode):
        buf += _SYMLINK
        buf += _str(os.readlink(p))
        buf += _CLOSE
    elif stat.S_ISDIR(mode):
        buf += _DIRECTORY
        with os.scandir(p) as it:
            names = sorted(e.name for e in it)
        for name in names:
            buf += _ENTRY
            buf += _str(name)
            buf += _NODE
            yield from _node(p + b"/" + name, buf, chunk)
            buf += _CLOSE
        buf += _CLOSE
    else:
        raise NarError(f"cannot archive {os.fsdecode(p)}: not a file, directory or symlink")
    if len(buf) >= chunk:
        yield bytes(buf)
        buf.clear()


def _contents(p: bytes, size: int, buf: bytearray, chunk: int) -> Iterator[bytes]:
    remaining = size
    with open(p, "rb", buffering=0) as f:
        if size <= chunk - len(buf):
            data = f.read(size)
            if len(data) != size:
                raise NarError(f"{os.fsdecode(p)} changed while being archived")
            buf += data
            return
        if buf:
            yield bytes(buf)
            buf.clear()
        while remaining:
            data = f.read(min(chunk, remaining))
            if not data:
                raise NarError(f"{os.fsdecode(p)} changed while being archived")
            remaining -= len(data)
            yield data


def nar_size(path: Path | str) -> int:
    """The exact size of `iter_nar(path)` in bytes, from metadata only (no file is read)."""
    return len(_MAGIC) + _size(os.fsencode(path))


def _padded(n: int) -> int:
    return 8 + n + (-n % 8)


def _size(p: bytes) -> int:
    st = os.lstat(p)
    mode = st.st_mode
    if stat.S_ISREG(mode):
        n = len(_REGULAR) + len(_CONTENTS) + _padded(st.st_size) + len(_CLOSE)
        return n + (len(_EXECUTABLE) if mode & stat.S_IXUSR else 0)
    if stat.S_ISLNK(mode):
        return len(_SYMLINK) + _padded(len(os.readlink(p))) + len(_CLOSE)
    if stat.S_ISDIR(mode):
        n = len(_DIRECTORY) + len(_CLOSE)
        with os.scandir(p) as it:
            names = [e.name for e in it]
        for name in names:
            n += len(_ENTRY) + _padded(len(name)) + len(_NODE) + len(_CLOSE)
            n += _size(p + b"/" + name)
        return n
    raise NarError(f"cannot archive {os.fsdecode(p)}: not a file, directory or symlink")
