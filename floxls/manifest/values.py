"""Plain Python values from the manifest model, for the publish pipeline and tests."""

from __future__ import annotations

from floxls.manifest.model import Array, ArrayOfTables, Scalar, Table, Value

__all__ = ["to_python"]


def to_python(value: Value) -> object:
    """A subtree as dicts, lists and scalars (str, int, float, bool, date/time objects).

    Tables become dicts in document order, arrays and arrays of tables become lists.
    """
    if isinstance(value, Scalar):
        return value.value
    if isinstance(value, Table):
        return {name: to_python(e.value) for name, e in value.entries.items()}
    if isinstance(value, Array):
        return [to_python(v) for v in value.items]
    if isinstance(value, ArrayOfTables):
        return [to_python(t) for t in value.tables]
    raise TypeError(f"not a manifest value: {type(value).__name__}")  # pragma: no cover
