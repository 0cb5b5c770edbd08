"""Upload a closure to a binary cache: the closure, sign and upload steps of a publish.

For each path not already in the store, one streaming pass turns the tree into a NAR,
hashes it (NarHash), compresses it and writes the result to a temp file while hashing that
too (FileHash); memory use stays constant whatever the size. Every NAR is uploaded before
any narinfo, and narinfos go up references-first, so a narinfo never points at a missing
NAR or path. Temp files live in one temp directory removed on every exit path.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from floxls.cancel import CancelToken
from floxls.errors import FloxlsError
from floxls.nix import base32, nar, storepath
from floxls.nix.compress import check_compression, compressor, extension
from floxls.nix.keys import SecretKey, load_secret_key
from floxls.nix.narinfo import NarInfo
from floxls.progress import Event, Progress, ignore, plural
from floxls.store import BinaryCache

CHUNK = 1 << 20
"""Read size for file contents (bounded memory: a few chunks at a time)."""
EVENT_EVERY = 8 << 20
"""Emit a byte-count Event at most once per this many bytes (plus one per path)."""


@dataclass(frozen=True)
class PathToShip:
    """One store path to upload. `source` is where its tree is on disk now (the real
    `/nix/store/...` path, or a staging directory); `references` are full store paths."""

    source: Path
    store_path: str
    references: list[str] = field(default_factory=list)
    deriver: str | None = None
    ca: str | None = None


@dataclass
class ShipResult:
    """`uploaded`/`skipped` are store paths; `narinfos` maps every path (skipped ones
    too, as read back from the store) to its narinfo."""

    uploaded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    narinfos: dict[str, NarInfo] = field(default_factory=dict)


@dataclass(frozen=True)
class Packed:
    """The result of serialising one path into a compressed temp file."""

    file: Path
    nar_sha256: bytes
    nar_size: int
    file_sha256: bytes
    file_size: int


class _ByteProgress:
    """Counts the bytes of one step and reports them, at most every EVENT_EVERY bytes."""

    def __init__(self, step: str, total: int, progress: Progress) -> None:
        self.step, self.total, self.progress = step, total, progress
        self.done = self._last = 0

    def __call__(self, n: int) -> None:
        self.done += n
        if self.done - self._last >= EVENT_EVERY:
            self._last = self.done
            self.progress(Event(self.step, done_bytes=self.done, total_bytes=self.total))

    def say(self, message: str, fraction: float | None = None) -> None:
        self.progress(
            Event(self.step, message, fraction, done_bytes=self.done, total_bytes=self.total)
        )


def nar_hash_of(source: Path, cancel: CancelToken | None = None) -> tuple[bytes, int]:
    """sha256 digest and size of the NAR of `source`, streamed (for CA store paths)."""
    h = hashlib.sha256()
    size = 0
    for piece in nar.iter_nar(source, CHUNK):
        if cancel is not None:
            cancel.check()
        h.update(piece)
        size += len(piece)
    return h.digest(), size


class _HashingFile:
    """A write-only sink that hashes and counts what goes through to `out`."""

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.sha = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.sha.update(data)
        self.size += len(data)
        self.out.write(data)
        return len(data)

    def flush(self) -> None:
        self.out.flush()

    def writable(self) -> bool:
        return True

    def close(self) -> None:  # the owner closes `out`
        pass

    @property
    def closed(self) -> bool:
        return False


def pack(
    source: Path,
    dest: Path,
    compression: str = "zstd",
    *,
    cancel: CancelToken | None = None,
    progress: Callable[[int], None] | None = None,
    threads: int = -1,
) -> Packed:
    """Serialise `source` as a NAR, compressed into `dest`, in one pass.

    `progress` is called with each increment of NAR bytes read.
    """
    check_compression(compression)
    nar_sha = hashlib.sha256()
    nar_size = 0
    with open(dest, "wb", buffering=0) as raw:
        sink = _HashingFile(raw)
        comp = compressor(compression, sink, threads=threads)  # type: ignore[arg-type]
        for piece in nar.iter_nar(source, CHUNK):
            if cancel is not None:
                cancel.check()
            nar_sha.update(piece)
            comp.write(piece)
            nar_size += len(piece)
            if progress is not None:
                progress(len(piece))
        comp.close()
    return Packed(dest, nar_sha.digest(), nar_size, sink.sha.digest(), sink.size)


def _validate(paths: list[PathToShip]) -> None:
    for p in paths:
        if not storepath.is_store_path(p.store_path):
            raise FloxlsError(f"not a valid store path: {p.store_path!r}")
        for r in p.references:
            if not storepath.is_store_path(r):
                raise FloxlsError(f"{p.store_path} has an invalid reference {r!r}")
        if p.deriver is not None and not storepath.is_store_path(
            storepath.STORE_DIR + "/" + storepath.base_name(p.deriver)
        ):
            raise FloxlsError(f"{p.store_path} has an invalid deriver {p.deriver!r}")
        if not os.path.lexists(p.source):
            raise FloxlsError(
                f"the contents of {p.store_path} are missing: {p.source} does not exist"
            )


def _references_first(paths: list[PathToShip]) -> list[PathToShip]:
    by_path = {p.store_path: p for p in paths}
    done: set[str] = set()
    out: list[PathToShip] = []

    def visit(p: PathToShip, stack: set[str]) -> None:
        if p.store_path in done or p.store_path in stack:
            return
        stack.add(p.store_path)
        for r in sorted(p.references):
            if r in by_path and r != p.store_path:
                visit(by_path[r], stack)
        stack.discard(p.store_path)
        done.add(p.store_path)
        out.append(p)

    for p in paths:
        visit(p, set())
    return out


def _check_ca(p: PathToShip, nar_sha: bytes) -> None:
    if p.ca is None or not p.ca.startswith("fixed:r:sha256:"):
        return
    expected = storepath.ca_field(nar_sha)
    path = storepath.ca_path_for_nar(storepath.name_part(p.store_path), nar_sha)
    if p.ca != expected or (not p.references and path != p.store_path):
        raise FloxlsError(
            f"{p.store_path}: its contents at {p.source} do not match its content address",
            "rebuild it; the staged output changed after its store path was computed",
        )


def ship(
    store: BinaryCache,
    paths: list[PathToShip],
    *,
    key: SecretKey | None = None,
    compression: str | None = None,
    progress: Progress = ignore,
    cancel: CancelToken | None = None,
    workdir: Path | None = None,
    threads: int = -1,
) -> ShipResult:
    """Upload `paths` (a closure) to `store`; see the module docstring.

    `compression` defaults to the store URL's `compression` parameter, else zstd; `key`
    defaults to the store URL's `secret-key` file, else narinfos go up unsigned.
    Everything is validated before the store is touched. Raises FloxlsError / Cancelled.
    """
    cancel = cancel or CancelToken()
    comp = check_compression(compression or store.compression or "zstd")
    if key is None and store.secret_key_file is not None:
        key = load_secret_key(store.secret_key_file)
    _validate(paths)
    unique = list({p.store_path: p for p in paths}.values())
    result = ShipResult()

    progress(Event("closure", f"checking {plural(len(unique), 'path')} in {store.url}"))
    todo: list[PathToShip] = []
    for p in unique:
        cancel.check()
        if store.has_narinfo(storepath.hash_part(p.store_path)):
            result.skipped.append(p.store_path)
        else:
            todo.append(p)
    for s in result.skipped:
        cancel.check()
        info = store.get_narinfo(storepath.hash_part(s))
        if info is not None:
            result.narinfos[s] = info
    if not todo:
        progress(Event("upload", "everything is already in the store", fraction=1.0))
        return result
    store.ensure_cache_info()

    with tempfile.TemporaryDirectory(prefix="floxls-ship-", dir=workdir) as tmp:
        packed: dict[str, tuple[Packed, str]] = {}
        packing = _ByteProgress("closure", sum(nar.nar_size(p.source) for p in todo), progress)

        for i, p in enumerate(todo):
            cancel.check()
            name = storepath.base_name(p.store_path)
            packing.say(f"packing {name}")
            result_p = pack(
                p.source,
                Path(tmp) / f"{i}.nar",
                comp,
                cancel=cancel,
                progress=packing,
                threads=threads,
            )
            _check_ca(p, result_p.nar_sha256)
            file_key = f"nar/{base32.encode(result_p.file_sha256)}{extension(comp)}"
            packed[p.store_path] = (result_p, file_key)
            result.narinfos[p.store_path] = NarInfo(
                store_path=p.store_path,
                url=file_key,
                compression=comp,
                file_hash="sha256:" + base32.encode(result_p.file_sha256),
                file_size=result_p.file_size,
                nar_hash="sha256:" + base32.encode(result_p.nar_sha256),
                nar_size=result_p.nar_size,
                references=sorted(storepath.base_name(r) for r in p.references),
                deriver=storepath.base_name(p.deriver) if p.deriver else None,
                ca=p.ca,
            )
        packing.total = packing.done
        packing.say(f"packed {plural(len(todo), 'path')}")

        if key is not None:
            for n, p in enumerate(todo, 1):
                cancel.check()
                info = result.narinfos[p.store_path]
                info.sigs.append(key.sign(info.fingerprint()))
                progress(
                    Event(
                        "sign",
                        f"signed {storepath.base_name(p.store_path)}",
                        fraction=n / len(todo),
                    )
                )
        else:
            progress(Event("sign", "no signing key: uploading unsigned narinfos"))

        uploading = _ByteProgress(
            "upload", sum(pk.file_size for pk, _ in packed.values()), progress
        )

        for p in todo:
            cancel.check()
            pk, file_key = packed[p.store_path]
            uploading.say(f"uploading {storepath.base_name(p.store_path)}")
            store.put_nar(pk.file, file_key, progress=uploading, cancel=cancel)
            os.unlink(pk.file)
        for p in _references_first(todo):
            cancel.check()
            store.put_narinfo(result.narinfos[p.store_path])
            result.uploaded.append(p.store_path)
        uploading.say(f"uploaded {plural(len(todo), 'path')} to {store.url}", fraction=1.0)
    return result
