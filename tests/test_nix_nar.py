"""NAR serialisation, store paths and NAR hashes against the real Nix."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from floxls.nix import base32, nar, storepath
from floxls.store.ship import nar_hash_of
from tests.support.nixtools import Nix


def make_tree(root: Path) -> Path:
    """Files, executables, symlinks (dangling too), empty file/dir, nesting, odd names."""
    t = root / "tree"
    (t / "sub" / "deeper" / "deepest").mkdir(parents=True)
    (t / "empty-dir").mkdir()
    (t / "a.txt").write_text("hello\n")
    (t / "empty").write_bytes(b"")
    (t / "seven").write_bytes(b"1234567")  # padding
    (t / "eight").write_bytes(b"12345678")  # no padding
    (t / "big.bin").write_bytes(os.urandom(3 * 1024 * 1024 + 5))  # several chunks
    exe = t / "sub" / "run.sh"
    exe.write_text("#!/bin/sh\necho hi\n")
    exe.chmod(0o755)
    (t / "sub" / "deeper" / "deepest" / "x").write_text("x")
    (t / "sub" / "link-to-a").symlink_to("../a.txt")
    (t / "dangling").symlink_to("/does/not/exist")
    (t / "sub" / "dirlink").symlink_to("deeper")
    (t / "naïve-ünïcødé-名前").write_text("non-ascii name\n")
    (t / "B-upper").write_text("sorted by bytes: uppercase first")
    (t / "b-lower").write_text("lower")
    return t


def our_nar(path: Path, chunk: int = nar.DEFAULT_CHUNK) -> bytes:
    return b"".join(nar.iter_nar(path, chunk))


def test_padding_and_string_layout(tmp_path: Path) -> None:
    f = tmp_path / "f"
    f.write_bytes(b"abc")
    data = our_nar(f)
    assert data.startswith((13).to_bytes(8, "little") + b"nix-archive-1\0\0\0")
    assert len(data) % 8 == 0
    assert len(data) == nar.nar_size(f)


def test_chunking_does_not_change_bytes(tmp_path: Path) -> None:
    t = make_tree(tmp_path)
    whole = our_nar(t, chunk=1 << 24)
    for chunk in (64, 4096, 1 << 20):
        pieces = list(nar.iter_nar(t, chunk))
        assert b"".join(pieces) == whole
        assert max(len(p) for p in pieces) <= max(chunk, 2048) + 4096
    assert nar.nar_size(t) == len(whole)


def test_fifo_is_refused(tmp_path: Path) -> None:
    t = tmp_path / "t"
    t.mkdir()
    os.mkfifo(t / "pipe")
    with pytest.raises(nar.NarError, match="not a file, directory or symlink"):
        our_nar(t)


@pytest.mark.slow
def test_nar_bytes_equal_nix_store_dump(nix: Nix, tmp_path: Path) -> None:
    t = make_tree(tmp_path)
    assert our_nar(t) == nix.dump(t)
    # a single file, an executable, a symlink and an empty directory at the top
    assert our_nar(t / "a.txt") == nix.dump(t / "a.txt")
    assert our_nar(t / "sub" / "run.sh") == nix.dump(t / "sub" / "run.sh")
    assert our_nar(t / "sub" / "link-to-a") == nix.dump(t / "sub" / "link-to-a")
    assert our_nar(t / "empty-dir") == nix.dump(t / "empty-dir")
    assert our_nar(t / "empty") == nix.dump(t / "empty")


@pytest.mark.slow
def test_nar_hash_and_store_path_equal_nix(nix: Nix, tmp_path: Path) -> None:
    t = make_tree(tmp_path)
    digest, size = nar_hash_of(t)
    assert size == len(nix.dump(t))
    assert nix.hash_path(t, base32=True) == base32.encode(digest)
    assert digest == hashlib.sha256(our_nar(t)).digest()
    store = nix.store("s")
    assert store.add_path(t) == storepath.ca_path_for_nar("tree", digest)
    assert store.add_path(t, name="my-pkg-1.0") == storepath.ca_path_for_nar("my-pkg-1.0", digest)
    single = t / "a.txt"
    d1, _ = nar_hash_of(single)
    assert store.add_path(single) == storepath.ca_path_for_nar("a.txt", d1)
