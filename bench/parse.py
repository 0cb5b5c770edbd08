"""Parse time of floxls's TOML parser against `tomllib.loads` on the same text.

Prints the median of N runs for a 40-line manifest and for a generated 5,500-line manifest
with 500 build targets. Run: `python bench/parse.py [N]`.
"""

from __future__ import annotations

import statistics
import sys
import time
import tomllib
from collections.abc import Callable

from manifests import SMALL, big_manifest

from floxls.manifest import parse


def median_times(fns: tuple[Callable[[str], object], ...], text: str, n: int) -> tuple[float, ...]:
    """Median time of each function; runs are interleaved so machine noise hits all alike."""
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(n):
        for fn, out in zip(fns, times, strict=True):
            t0 = time.perf_counter()
            fn(text)
            out.append(time.perf_counter() - t0)
    return tuple(statistics.median(t) for t in times)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    big = big_manifest()
    for label, text, runs in (("40-line", SMALL, n * 20), ("5,500-line", big, n)):
        assert not parse(text).problems
        ours, ref = median_times((parse, tomllib.loads), text, runs)
        lines = text.count("\n")
        print(
            f"{label:>11} ({lines} lines): floxls parse {ours * 1e3:8.3f} ms   "
            f"tomllib.loads {ref * 1e3:8.3f} ms   ratio {ours / ref:5.2f}x   (median of {runs})"
        )


if __name__ == "__main__":
    main()
