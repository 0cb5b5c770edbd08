"""Structured progress events: the pipeline emits them, the CLI and the LSP display them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Event:
    """One thing that happened during long work.

    `step` is a stable id (preflight, clone, build, closure, sign, upload, record);
    `fraction` is overall progress in [0, 1] when known; `log` carries one line of a
    build log (then `message` is empty).
    """

    step: str
    message: str = ""
    fraction: float | None = None
    done_bytes: int | None = None
    total_bytes: int | None = None
    log: str | None = None


Progress = Callable[[Event], None]


def ignore(_event: Event) -> None:
    """A Progress that drops every event."""


def plural(n: int, noun: str) -> str:
    """`1 path`, `2 paths`: a count for a progress or error message."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
