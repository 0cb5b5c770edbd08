"""Shipping closures to file:// caches, checked by the real Nix and by our own checks."""

from __future__ import annotations

import hashlib
import os
import shutil
import tracemalloc
from pathlib import Path

import pytest

from floxls.cancel import CancelToken
from floxls.errors import Cancelled, FloxlsError
from floxls.nix import base32, compress, nar, storepath
from floxls.nix.keys import SecretKey
from floxls.nix.narinfo import NarInfo
from floxls.progress import Event
from floxls.store import BinaryCache, open_store
from floxls.store.ship import PathToShip, nar_hash_of, pack, ship
from tests.support.nixtools import BuiltClosure, Nix


def ca_tree(tmp: Path, name: str = "pkg-1.0") -> PathToShip:
    t = tmp / "staging" / name
    (t / "bin").mkdir(parents=True)
    exe = t / "bin" / "hello"
    exe.write_text("#!/bin/sh\necho hello\n")
    exe.chmod(0o755)
    (t / "share").mkdir()
    (t / "share" / "data").write_bytes(os.urandom(200_000) + b"text " * 50_000)
    digest, _ = nar_hash_of(t)
    return PathToShip(t, storepath.ca_path_for_nar(name, digest), [], ca=storepath.ca_field(digest))


def check_file_entries(root: Path, info: NarInfo, source: Path) -> None:
    """Our own checks of what Nix 2.8 does not verify: FileHash, FileSize, NAR content."""
    f = root / info.url
    data = f.read_bytes()
    assert info.file_size == len(data)
    assert info.file_hash == "sha256:" + base32.encode(hashlib.sha256(data).digest())
    assert info.url == f"nar/{info.file_hash[7:]}{compress.extension(info.compression)}"
    raw = compress.decompress(info.compression, data)
    assert raw == b"".join(nar.iter_nar(source))
    assert info.nar_size == len(raw)
    assert info.nar_hash == "sha256:" + base32.encode(hashlib.sha256(raw).digest())


@pytest.mark.parametrize("comp", ["zstd", "xz", "none"])
def test_ship_ca_path_file_entries(tmp_path: Path, comp: str) -> None:
    p = ca_tree(tmp_path)
    store = open_store(f"file://{tmp_path}/cache")
    res = ship(store, [p], compression=comp)
    assert res.uploaded == [p.store_path] and res.skipped == []
    info = res.narinfos[p.store_path]
    assert info.compression == comp and info.ca == p.ca and info.sigs == []
    check_file_entries(tmp_path / "cache", info, p.source)
    assert (tmp_path / "cache" / "nix-cache-info").read_text() == "StoreDir: /nix/store\n"
    assert store.get_narinfo(storepath.hash_part(p.store_path)) == info


def test_url_compression_and_secret_key_params(tmp_path: Path) -> None:
    p = ca_tree(tmp_path)
    key = SecretKey.generate("url-key-1")
    kf = tmp_path / "k.sec"
    kf.write_text(key.to_text())
    store = open_store(f"file://{tmp_path}/cache?compression=xz&secret-key={kf}")
    info = ship(store, [p]).narinfos[p.store_path]
    assert info.compression == "xz" and info.url.endswith(".nar.xz")
    assert key.public().verify(info.fingerprint(), info.sigs[0])


class Recording:
    """A BinaryCache wrapper recording the order of writes."""

    def __init__(self, inner: BinaryCache) -> None:
        self.inner = inner
        self.calls: list[str] = []
        self.url = inner.url
        self.compression = inner.compression
        self.secret_key_file = inner.secret_key_file

    def __getattr__(self, name: str) -> object:
        attr = getattr(self.inner, name)
        if name.startswith(("put_", "ensure_")):

            def wrapped(*a: object, **kw: object) -> object:
                self.calls.append(name)
                return attr(*a, **kw)

            return wrapped
        return attr


def test_nars_first_narinfos_last_then_skipped(tmp_path: Path, nix_closure: BuiltClosure) -> None:
    store = Recording(open_store(f"file://{tmp_path}/cache"))
    events: list[Event] = []
    paths = list(reversed(nix_closure.to_ship()))  # top first: order must still be right
    res = ship(store, paths, key=SecretKey.generate("k-1"), progress=events.append)  # type: ignore[arg-type]
    assert store.calls == ["ensure_cache_info", "put_nar", "put_nar", "put_narinfo", "put_narinfo"]
    assert res.uploaded == [nix_closure.dep, nix_closure.top]  # references first
    steps = [e.step for e in events]
    assert steps.index("closure") < steps.index("sign") < steps.index("upload")
    closure_done = [e.done_bytes for e in events if e.step == "closure" and e.done_bytes]
    assert closure_done == sorted(closure_done)
    total = sum(i.nar_size for i in res.narinfos.values())
    assert events[[e.step for e in events].index("sign") - 1].done_bytes == total
    last = events[-1]
    assert last.step == "upload" and last.done_bytes == last.total_bytes
    assert last.total_bytes == sum(i.file_size for i in res.narinfos.values())

    before = {f: f.stat().st_mtime_ns for f in (tmp_path / "cache").rglob("*")}
    store.calls.clear()
    again = ship(store, paths, key=SecretKey.generate("k-1"))  # type: ignore[arg-type]
    assert again.uploaded == [] and sorted(again.skipped) == sorted(nix_closure.paths)
    assert again.narinfos == res.narinfos
    assert store.calls == []
    assert before == {f: f.stat().st_mtime_ns for f in (tmp_path / "cache").rglob("*")}


def test_cancel_inside_packing_leaves_no_narinfo_and_no_temp(tmp_path: Path) -> None:
    big = tmp_path / "big-1"
    big.mkdir()
    for i in range(4):
        (big / f"f{i}").write_bytes(os.urandom(6 << 20))
    digest, _ = nar_hash_of(big)
    p = PathToShip(big, storepath.ca_path_for_nar("big-1", digest), [])
    cancel = CancelToken()

    def progress(e: Event) -> None:
        if e.step == "closure" and (e.done_bytes or 0) > (8 << 20):
            cancel.cancel()

    work = tmp_path / "work"
    work.mkdir()
    with pytest.raises(Cancelled):
        ship(
            open_store(f"file://{tmp_path}/cache"),
            [p],
            progress=progress,
            cancel=cancel,
            workdir=work,
        )
    assert list(work.iterdir()) == []
    assert list((tmp_path / "cache").glob("*.narinfo")) == []
    assert not (tmp_path / "cache" / "nar").exists()


def test_failure_mid_upload_removes_temp_files(tmp_path: Path) -> None:
    p = ca_tree(tmp_path)

    class Broken(Recording):
        def put_nar(self, *a: object, **kw: object) -> None:
            raise FloxlsError("disk on fire")

    work = tmp_path / "work"
    work.mkdir()
    store = Broken(open_store(f"file://{tmp_path}/cache"))
    with pytest.raises(FloxlsError, match="disk on fire"):
        ship(store, [p], workdir=work)  # type: ignore[arg-type]
    assert list(work.iterdir()) == []
    assert list((tmp_path / "cache").glob("*.narinfo")) == []


def test_bad_input_leaves_store_untouched(tmp_path: Path) -> None:
    p = ca_tree(tmp_path)
    cache = tmp_path / "cache"
    store = open_store(f"file://{cache}")
    with pytest.raises(FloxlsError, match="unknown compression"):
        ship(store, [p], compression="lz4")
    with pytest.raises(FloxlsError, match="not a valid store path"):
        ship(store, [PathToShip(p.source, "/nix/store/nothash-x", [])])
    with pytest.raises(FloxlsError, match="does not exist"):
        ship(store, [PathToShip(tmp_path / "gone", p.store_path, [])])
    bad_key = tmp_path / "bad.sec"
    bad_key.write_text("name:Zm9v")
    with pytest.raises(FloxlsError, match="wrong length"):
        ship(open_store(f"file://{cache}?secret-key={bad_key}"), [p])
    wrong_ca = PathToShip(p.source, p.store_path, [], ca="fixed:r:sha256:" + "0" * 52)
    with pytest.raises(FloxlsError, match="do not match its content address"):
        ship(store, [wrong_ca])
    assert list(cache.glob("*.narinfo")) == []


def test_pack_memory_is_bounded(tmp_path: Path) -> None:
    f = tmp_path / "one"
    f.mkdir()
    with open(f / "big", "wb") as out:
        for _ in range(64):
            out.write(os.urandom(1 << 20))
    tracemalloc.start()
    try:
        packed = pack(f, tmp_path / "out.zst", "zstd")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert packed.nar_size > 64 << 20
    assert peak < 24 << 20, f"peak Python allocations {peak} bytes for a 64 MiB file"


# ---- the real Nix reads what we wrote -------------------------------------------------------


def ship_signed(tmp_path: Path, closure: BuiltClosure, key: SecretKey, name: str = "cache") -> Path:
    cache = tmp_path / name
    ship(open_store(f"file://{cache}"), closure.to_ship(), key=key)  # type: ignore[arg-type]
    return cache


@pytest.mark.slow
def test_nix_imports_signed_cache_and_verifies(
    nix: Nix, tmp_path: Path, nix_closure: BuiltClosure
) -> None:
    key = SecretKey.generate("floxls-test-1")
    cache = ship_signed(tmp_path, nix_closure, key)
    for info_file in cache.glob("*.narinfo"):
        info = open_store(f"file://{cache}").get_narinfo(info_file.stem)
        assert info is not None
        check_file_entries(cache, info, nix_closure.store.real(info.store_path))
    dest = nix.store("dest")
    r = dest.copy_from(f"file://{cache}", [nix_closure.top], trusted_keys=[str(key.public())])
    assert r.returncode == 0, r.stderr
    assert dest.is_valid(nix_closure.top) and dest.is_valid(nix_closure.dep)
    v = dest.verify([nix_closure.top, nix_closure.dep], trusted_keys=[str(key.public())])
    assert v.returncode == 0, v.stderr
    assert (dest.real(nix_closure.top) / "bin" / "hi").stat().st_mode & 0o100
    assert dest.references(nix_closure.top) == nix_closure.store.references(nix_closure.top)


def _tamper_sig(cache: Path, top: str) -> None:
    f = cache / f"{storepath.hash_part(top)}.narinfo"
    lines = f.read_text().splitlines()
    out = []
    for line in lines:
        if line.startswith("Sig: "):
            name, sig = line[5:].split(":", 1)
            raw = bytearray(__import__("base64").b64decode(sig))
            raw[0] ^= 1
            line = f"Sig: {name}:{__import__('base64').b64encode(bytes(raw)).decode()}"
        out.append(line)
    f.write_text("\n".join(out) + "\n")


def _tamper_nar_size(cache: Path, top: str) -> None:
    f = cache / f"{storepath.hash_part(top)}.narinfo"
    text = f.read_text()
    size = int(text.split("NarSize: ")[1].split()[0])
    f.write_text(text.replace(f"NarSize: {size}", f"NarSize: {size + 8}"))


def _tamper_nar_bytes(cache: Path, top: str) -> None:
    f = cache / f"{storepath.hash_part(top)}.narinfo"
    url = f.read_text().split("URL: ")[1].split()[0]
    nar_file = cache / url
    raw = bytearray(compress.decompress("zstd", nar_file.read_bytes()))
    i = raw.index(b"echo hi")
    raw[i : i + 7] = b"echo HI"
    nar_file.unlink()
    nar_file.write_bytes(__import__("zstandard").ZstdCompressor().compress(bytes(raw)))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("tamper", "expect"),
    [
        (_tamper_sig, "signature"),
        (_tamper_nar_size, "signature"),
        (_tamper_nar_bytes, "hash mismatch"),
        (None, "signature"),  # signed by another key than the trusted one
    ],
)
def test_nix_rejects_tampered_cache(
    nix: Nix, tmp_path: Path, nix_closure: BuiltClosure, tamper: object, expect: str
) -> None:
    key = SecretKey.generate("floxls-test-1")
    cache = ship_signed(tmp_path, nix_closure, key)
    trusted = str(key.public())
    if tamper is None:
        trusted = str(SecretKey.generate("floxls-test-1").public())
    else:
        tamper(cache, nix_closure.top)  # type: ignore[operator]
    dest = nix.store("dest")
    r = dest.copy_from(f"file://{cache}", [nix_closure.top], trusted_keys=[trusted])
    assert r.returncode != 0
    assert expect in r.stderr, r.stderr
    assert not dest.is_valid(nix_closure.top)


@pytest.mark.slow
@pytest.mark.parametrize("comp", ["zstd", "xz", "none"])
def test_nix_imports_content_addressed_unsigned(nix: Nix, tmp_path: Path, comp: str) -> None:
    p = ca_tree(tmp_path)
    ref = nix.store("ref").add_path(p.source)
    assert ref == p.store_path
    cache = tmp_path / "cache"
    ship(open_store(f"file://{cache}"), [p], compression=comp)
    dest = nix.store("dest")
    r = dest.copy_from(f"file://{cache}", [p.store_path])  # no trusted keys at all
    assert r.returncode == 0, r.stderr
    assert dest.verify([p.store_path]).returncode == 0
    shutil.rmtree(tmp_path / "staging")
    assert (dest.real(p.store_path) / "bin" / "hello").read_text().startswith("#!/bin/sh")
