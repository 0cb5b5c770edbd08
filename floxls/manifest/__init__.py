"""Flox manifests: `parse` text into a model with exact source ranges, `check` it.

Pure: no I/O. `analyze(text)` is both in one call.
"""

from __future__ import annotations

from floxls.manifest.checker import check
from floxls.manifest.model import (
    Array,
    ArrayOfTables,
    BuildTarget,
    Cursor,
    Entry,
    Fix,
    Manifest,
    Position,
    Problem,
    Range,
    Related,
    Scalar,
    Severity,
    Table,
    TextEdit,
    Value,
)
from floxls.manifest.parser import parse
from floxls.manifest.values import to_python


def analyze(text: str) -> tuple[Manifest, list[Problem]]:
    """`parse` then `check`."""
    manifest = parse(text)
    return manifest, check(manifest)


__all__ = [
    "Array",
    "ArrayOfTables",
    "BuildTarget",
    "Cursor",
    "Entry",
    "Fix",
    "Manifest",
    "Position",
    "Problem",
    "Range",
    "Related",
    "Scalar",
    "Severity",
    "Table",
    "TextEdit",
    "Value",
    "analyze",
    "check",
    "parse",
    "to_python",
]
