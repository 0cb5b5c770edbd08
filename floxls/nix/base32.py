"""Nix's base-32 encoding (not RFC 4648): its own alphabet, least significant bits last."""

from __future__ import annotations

ALPHABET = "0123456789abcdfghijklmnpqrsvwxyz"
_INDEX = {c: i for i, c in enumerate(ALPHABET)}


def encoded_length(n_bytes: int) -> int:
    """Number of characters for `n_bytes` bytes (52 for sha256, 32 for a store path hash)."""
    return (n_bytes * 8 - 1) // 5 + 1 if n_bytes else 0


def encode(b: bytes) -> str:
    """Encode bytes as nix-base32: 5-bit groups of the little-endian string, most significant
    group first."""
    n = int.from_bytes(b, "little")
    return "".join(ALPHABET[(n >> (5 * i)) & 0x1F] for i in reversed(range(encoded_length(len(b)))))


def decode(s: str) -> bytes:
    """Decode nix-base32 text; ValueError on a bad character or length."""
    n_bytes = len(s) * 5 // 8
    if encoded_length(n_bytes) != len(s):
        raise ValueError(f"invalid nix-base32 length {len(s)}")
    n = 0
    for c in s:
        try:
            n = (n << 5) | _INDEX[c]
        except KeyError:
            raise ValueError(f"invalid nix-base32 character {c!r}") from None
    if n >> (8 * n_bytes):
        raise ValueError("invalid nix-base32 string (excess bits)")
    return n.to_bytes(n_bytes, "little")
