"""Did-you-mean: the nearest allowed name to a misspelt one.

Used for unknown keys, enum values, install ids and schema versions. Candidates are few (a
section's keys), so a plain bounded edit distance is plenty fast.
"""

from __future__ import annotations

from collections.abc import Iterable


def _normalize(word: str) -> str:
    return word.strip().lower().replace("_", "-").replace(" ", "-")


def distance(a: str, b: str, limit: int = 3) -> int:
    """Optimal-string-alignment distance (edits incl. swaps of neighbours), capped at limit+1."""
    if a == b:
        return 0
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        best = cur[0]
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            value = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                value = min(value, prev2[j - 2] + 1)
            cur[j] = value
            best = min(best, value)
        if best > limit:
            return limit + 1
        prev2, prev = prev, cur
    return prev[-1]


def suggest(word: str, candidates: Iterable[str]) -> str | None:
    """The candidate `word` was most likely meant to be, or None when nothing is close.

    Same spelling up to case, `_` vs `-` wins outright (`runtime_packages` ->
    `runtime-packages`); otherwise the closest by edit distance within a limit that grows
    with the word's length (1 edit up to 4 characters, 2 up to 8, then 3).
    """
    norm = _normalize(word)
    if not norm:
        return None
    names = [c for c in candidates if c != word]
    for cand in names:
        if _normalize(cand) == norm:
            return cand
    limit = 1 if len(norm) <= 4 else 2 if len(norm) <= 8 else 3
    best: str | None = None
    best_d = limit + 1
    for cand in names:
        d = distance(norm, _normalize(cand), limit)
        if d < best_d:
            best, best_d = cand, d
    if best is None:
        # A known name that the word starts with or contains ("pkgpath" is not close to
        # anything, but "pkg-path-x" clearly meant "pkg-path").
        for cand in names:
            if (
                len(cand) >= 4
                and (norm.startswith(cand) or cand.startswith(norm))
                and (min(len(cand), len(norm)) * 2 > max(len(cand), len(norm)))
            ):
                return cand
    return best
