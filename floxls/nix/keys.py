"""Nix signing keys (ed25519): `name:base64(...)` files, as `nix key generate-secret` writes.

Messages never include key material: a bad key file is described, never echoed.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from pathlib import Path

from floxls.errors import FloxlsError

_KEY_FIX = (
    "create one with `floxls key generate --name NAME --out FILE` or `nix key generate-secret`"
)


class KeyFormatError(ValueError):
    """A key or signature text is malformed (message never contains the key)."""


def _split(text: str, what: str, size: int) -> tuple[str, bytes]:
    name, sep, b64 = text.strip().partition(":")
    if not sep or not name:
        raise KeyFormatError(f"{what} has no name (expected NAME:BASE64)")
    try:
        raw = base64.b64decode(b64.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise KeyFormatError(f"{what} is not valid base64") from None
    if len(raw) != size:
        raise KeyFormatError(f"{what} has the wrong length ({len(raw)} bytes, expected {size})")
    return name, raw


@dataclass(frozen=True)
class PublicKey:
    """`name:base64(32-byte ed25519 public key)`."""

    name: str
    key: bytes

    @classmethod
    def parse(cls, text: str) -> PublicKey:
        name, raw = _split(text, "public key", 32)
        return cls(name, raw)

    def __str__(self) -> str:
        return f"{self.name}:{base64.b64encode(self.key).decode()}"

    def verify(self, message: bytes | str, sig: str) -> bool:
        """True if `sig` (`name:base64`) is this key's signature of `message`."""
        from nacl.exceptions import BadSignatureError
        from nacl.signing import VerifyKey

        if isinstance(message, str):
            message = message.encode()
        name, sep, b64 = sig.partition(":")
        if not sep or name != self.name:
            return False
        try:
            raw = base64.b64decode(b64, validate=True)
        except (binascii.Error, ValueError):
            return False
        if len(raw) != 64:
            return False
        try:
            VerifyKey(self.key).verify(message, raw)
        except BadSignatureError:
            return False
        return True


@dataclass(frozen=True)
class SecretKey:
    """`name:base64(32-byte seed + 32-byte public key)`. `repr` hides the key bytes."""

    name: str
    key: bytes = field(repr=False)

    @classmethod
    def parse(cls, text: str) -> SecretKey:
        """Parse secret key text; KeyFormatError if malformed or inconsistent."""
        name, raw = _split(text, "secret key", 64)
        from nacl.signing import SigningKey

        if bytes(SigningKey(raw[:32]).verify_key) != raw[32:]:
            raise KeyFormatError("secret key is corrupt (its public half does not match)")
        return cls(name, raw)

    @classmethod
    def generate(cls, name: str) -> SecretKey:
        """A fresh random key called `name`."""
        from nacl.signing import SigningKey

        if not name or ":" in name or any(c.isspace() for c in name):
            raise FloxlsError(
                f"invalid key name {name!r}",
                "use a name like cache.example.org-1 (no ':' or spaces)",
            )
        sk = SigningKey.generate()
        return cls(name, bytes(sk) + bytes(sk.verify_key))

    def public(self) -> PublicKey:
        return PublicKey(self.name, self.key[32:])

    def sign(self, message: bytes | str) -> str:
        """`name:base64(signature)` of `message` (a narinfo fingerprint)."""
        from nacl.signing import SigningKey

        if isinstance(message, str):
            message = message.encode()
        sig = SigningKey(self.key[:32]).sign(message).signature
        return f"{self.name}:{base64.b64encode(sig).decode()}"

    def to_text(self) -> str:
        """The key file contents (no trailing newline, like Nix)."""
        return f"{self.name}:{base64.b64encode(self.key).decode()}"


def load_secret_key(path: Path) -> SecretKey:
    """Read a secret key file; FloxlsError (never showing its contents) if unusable."""
    try:
        text = path.read_text(encoding="ascii")
    except FileNotFoundError:
        raise FloxlsError(f"signing key file {path} does not exist", _KEY_FIX) from None
    except IsADirectoryError:
        raise FloxlsError(f"signing key {path} is a directory, not a key file", _KEY_FIX) from None
    except PermissionError:
        raise FloxlsError(
            f"cannot read signing key file {path} (permission denied)",
            "make it readable by this user (chmod 600 FILE)",
        ) from None
    except (UnicodeDecodeError, OSError):
        raise FloxlsError(f"signing key file {path} is not a text key file", _KEY_FIX) from None
    try:
        return SecretKey.parse(text)
    except KeyFormatError as exc:
        try:
            PublicKey.parse(text)
        except KeyFormatError:
            raise FloxlsError(f"signing key file {path}: {exc}", _KEY_FIX) from None
        raise FloxlsError(
            f"{path} holds a public key; signing needs the secret key it was made from",
            "point at the secret key file (`floxls key generate` printed the public one)",
        ) from None


def load_public_key(path: Path) -> PublicKey:
    """Read a public key file; FloxlsError if unusable."""
    try:
        return PublicKey.parse(path.read_text(encoding="ascii"))
    except (OSError, UnicodeDecodeError) as exc:
        raise FloxlsError(f"cannot read public key file {path}: {exc.__class__.__name__}") from None
    except KeyFormatError as exc:
        raise FloxlsError(f"public key file {path}: {exc}") from None
