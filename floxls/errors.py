"""The one error type users see: what went wrong, and how to fix it."""

from __future__ import annotations


class FloxlsError(Exception):
    """An error meant for a user: `message` says what went wrong, `fix` how to mend it.

    Neither may contain a secret (key material, tokens, credentials in URLs).
    """

    def __init__(self, message: str, fix: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix

    def __str__(self) -> str:
        return f"{self.message}\n  fix: {self.fix}" if self.fix else self.message


class Cancelled(FloxlsError):
    """The user cancelled a long operation; everything it had started was undone."""

    def __init__(self, message: str = "cancelled") -> None:
        super().__init__(message)
