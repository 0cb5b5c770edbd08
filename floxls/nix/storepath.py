"""Store paths: `/nix/store/<32 nix-base32 chars>-<name>`."""

from __future__ import annotations

import hashlib
import re

from floxls.nix import base32

STORE_DIR = "/nix/store"
HASH_LEN = 32
_NAME_RE = re.compile(r"[A-Za-z0-9+\-._?=]+")
_HASH_RE = re.compile(r"[0123456789abcdfghijklmnpqrsvwxyz]{32}")


def valid_name(name: str) -> bool:
    """True if `name` is allowed as a store path name (Nix's rules)."""
    return (
        0 < len(name) <= 211 and not name.startswith(".") and _NAME_RE.fullmatch(name) is not None
    )


def compress_hash(digest: bytes, size: int = 20) -> bytes:
    """Fold a digest to `size` bytes: byte i is XORed into byte i mod size."""
    out = bytearray(size)
    for i, b in enumerate(digest):
        out[i % size] ^= b
    return bytes(out)


def make_store_path(kind: str, inner_sha256: bytes, name: str, store_dir: str = STORE_DIR) -> str:
    """`<store_dir>/<hash>-<name>` for a path of type `kind` (e.g. "source", "output:out")."""
    if not valid_name(name):
        raise ValueError(f"invalid store path name {name!r}")
    s = f"{kind}:sha256:{inner_sha256.hex()}:{store_dir}:{name}"
    digest = hashlib.sha256(s.encode()).digest()
    return f"{store_dir}/{base32.encode(compress_hash(digest))}-{name}"


def ca_path_for_nar(name: str, nar_sha256: bytes, store_dir: str = STORE_DIR) -> str:
    """The store path `nix store add-path` gives a tree whose NAR has this sha256
    (recursive, sha256, no references)."""
    return make_store_path("source", nar_sha256, name, store_dir)


def ca_field(nar_sha256: bytes) -> str:
    """The narinfo `CA` value of a path added by content (recursive sha256)."""
    return f"fixed:r:sha256:{base32.encode(nar_sha256)}"


def base_name(store_path: str) -> str:
    """`/nix/store/abc-foo` -> `abc-foo`."""
    return store_path.rstrip("/").rsplit("/", 1)[-1]


def hash_part(store_path: str) -> str:
    """The 32-character hash of a store path (full path or basename)."""
    base = base_name(store_path)
    h = base[:HASH_LEN]
    if len(base) < HASH_LEN + 2 or base[HASH_LEN] != "-" or not _HASH_RE.fullmatch(h):
        raise ValueError(f"not a store path: {store_path!r}")
    return h


def name_part(store_path: str) -> str:
    """The name after the hash: `/nix/store/abc-foo-1.0` -> `foo-1.0`."""
    hash_part(store_path)
    return base_name(store_path)[HASH_LEN + 1 :]


def is_store_path(s: str, store_dir: str = STORE_DIR) -> bool:
    """True for `<store_dir>/<hash>-<name>` with a valid hash and name."""
    if not s.startswith(store_dir + "/") or "/" in s[len(store_dir) + 1 :]:
        return False
    try:
        return valid_name(name_part(s))
    except ValueError:
        return False
