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

from floxls.manifest import parse

SMALL = """\
version = 1

[install]
hello.pkg-path = "hello"
jq.pkg-path = "jq"
jq.version = "1.7.1"
ripgrep = { pkg-path = "ripgrep" }
python.pkg-path = "python311"
python.pkg-group = "python"
gcc.pkg-path = "gcc"
gcc.systems = ["x86_64-linux", "aarch64-linux"]

[vars]
GREETING = "hello"
LOG_LEVEL = "info"

[hook]
on-activate = '''
  echo "activating"
  export PATH="$FLOX_ENV/bin:$PATH"
'''

[profile]
bash = "source .venv/bin/activate"

[options]
systems = ["x86_64-linux", "aarch64-darwin"]

[build.hello]
command = '''
  mkdir -p $out/bin
  cp hello.sh $out/bin/hello
'''
description = "says hello"
version = "1.0.0"
sandbox = "off"
runtime-packages = ["hello", "jq"]

[build.tool]
command = "make install PREFIX=$out"
"""


def big_manifest(targets: int = 500) -> str:
    """About 5,500 lines: a 40-line head, then `targets` build targets of 11 lines."""
    parts = [SMALL.split("[build.hello]")[0]]
    for i in range(targets):
        parts.append(
            f"""[build.pkg-{i}]
command = '''
  mkdir -p $out/bin
  echo "building {i}" > $out/bin/pkg-{i}
'''
description = "package number {i}"
version = "{i}.0.0"
sandbox = "off"
runtime-packages = ["hello", "jq"]
license = ["MIT"]

"""
        )
    return "".join(parts)


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
