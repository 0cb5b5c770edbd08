"""The manifests the benchmarks measure: a 40-line one and a generated 5,500-line one."""

from __future__ import annotations

SMALL = """\
version = 1

[install]
hello.pkg-path = "hello"
gcc.pkg-path = "gcc"
ripgrep.pkg-path = "ripgrep"
python3 = { pkg-path = "python3", version = "3.11" }

[vars]
GREETING = "hi"
ANSWER = "42"

[hook]
on-activate = '''
  echo "welcome to the project"
'''

[profile]
common = "echo profile loaded"

[options]
systems = ["x86_64-linux", "aarch64-darwin"]
allow.unfree = false

[services]
db.command = "postgres -D ./data"

[build.hello]
command = '''
  mkdir -p $out/bin
  cp hello.sh $out/bin/hello
'''
description = "says hello"
version = "1.0.0"
sandbox = "off"
runtime-packages = ["hello"]

[build.world]
command = "make install PREFIX=$out"
description = "the world"
"""


def big_manifest(targets: int = 500, lines: int = 5500) -> str:
    """`targets` build targets (10 lines each) plus [install] and [vars] up to `lines`."""
    head = ["version = 1", "", "[install]"]
    head += [f'pkg{i}.pkg-path = "pkg{i}"' for i in range(20)]
    body: list[str] = []
    for i in range(targets):
        body += [
            f"[build.target-{i}]",
            "command = '''",
            "  mkdir -p $out/bin",
            f"  echo {i} > $out/bin/t{i}",
            "'''",
            f'description = "target number {i}"',
            f'version = "1.{i}.0"',
            'sandbox = "off"',
            'runtime-packages = ["pkg1", "pkg2"]',
            "",
        ]
    n_vars = max(lines - len(head) - len(body) - 3, 0)
    mid = ["", "[vars]", *(f'VAR_{i} = "value {i}"' for i in range(n_vars)), ""]
    return "\n".join(head + mid + body)
