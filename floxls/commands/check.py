"""`floxls check [PATH...] [--format json] [--git]`: the editor's diagnostics, for CI.

Prints `path:line:col: severity[code] message` (1-based line and column, columns counted
in characters), plus `  fix: <hint>` when there is one; `--format json` prints one JSON
array instead. Exit status 1 when any error was found, else 0.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from floxls.errors import FloxlsError
from floxls.progress import plural

MANIFEST_REL = Path(".flox") / "env" / "manifest.toml"
SKIP_DIRS = frozenset({".git", "node_modules"})
_SEVERITY = {1: "error", 2: "warning", 3: "info", 4: "hint"}


@dataclass(frozen=True, slots=True)
class Finding:
    path: str
    line: int  # 1-based
    column: int  # 1-based
    end_line: int
    end_column: int
    severity: str
    code: str
    message: str
    hint: str | None

    def text(self) -> str:
        head = f"{self.path}:{self.line}:{self.column}: {self.severity}[{self.code}] {self.message}"
        return head + (f"\n  fix: {self.hint}" if self.hint else "")

    def as_json(self) -> dict[str, object]:
        return {
            "path": self.path,
            "line": self.line,
            "column": self.column,
            "end_line": self.end_line,
            "end_column": self.end_column,
            "severity": self.severity,
            "code": self.code,
            "message": self.message,
            "hint": self.hint,
        }


def find_manifests(paths: list[str]) -> Iterator[Path]:
    """Manifest files named on the command line, or found under the named directories."""
    for raw in paths or ["."]:
        path = Path(raw)
        if not path.is_dir():
            yield path  # a file, or something missing (reported as unreadable)
            continue
        found: list[Path] = []
        for dirpath, dirnames, filenames in os.walk(path):
            dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
            here = Path(dirpath)
            if here.name == "env" and here.parent.name == ".flox" and "manifest.toml" in filenames:
                found.append(here / "manifest.toml")
        if not found:
            raise FloxlsError(
                f"no Flox manifest (.flox/env/manifest.toml) under {raw}",
                "pass a manifest file or a directory containing a Flox environment",
            )
        yield from sorted(found)


def check_file(path: Path) -> list[Finding]:
    from floxls.manifest.checker import check
    from floxls.manifest.parser import parse

    shown = str(path)
    try:
        data = path.read_bytes()
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        # Where the bad byte is, as the editor shows it (the LSP reports the same).
        before = data[: exc.start].decode("utf-8", "replace")
        line = before.count("\n") + 1
        col = len(before) - (before.rfind("\n") + 1) + 1
        return [
            Finding(
                shown,
                line,
                col,
                line,
                col + 1,
                "error",
                "invalid-utf8",
                f"the file is not valid UTF-8 (byte 0x{data[exc.start]:02x})",
                "save the file as UTF-8; Flox cannot read it otherwise",
            )
        ]
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        return [
            Finding(
                shown,
                1,
                1,
                1,
                1,
                "error",
                "unreadable",
                f"cannot read file: {reason}",
                "make sure the file exists and is readable",
            )
        ]
    manifest = parse(text)
    out = []
    for p in check(manifest):
        r = p.range
        out.append(
            Finding(
                shown,
                r.start.line + 1,
                r.start.character + 1,
                r.end.line + 1,
                r.end.character + 1,
                _SEVERITY.get(int(p.severity), "error"),
                p.code,
                p.message,
                p.hint,
            )
        )
    return out


def git_findings(manifest_path: Path) -> list[Finding]:
    """Repository problems that would block a publish, from the publish pipeline's preflight."""
    from floxls.manifest.parser import parse
    from floxls.publish.preflight import git_findings as preflight_git_findings
    from floxls.repo import repo_state

    env_dir = manifest_path.parent
    if manifest_path.parts[-3:] == MANIFEST_REL.parts:
        env_dir = manifest_path.parent.parent.parent
    manifest = parse(manifest_path.read_text(encoding="utf-8"))
    shown = str(manifest_path)
    return [
        Finding(
            shown, 1, 1, 1, 1, _SEVERITY.get(int(f.severity), "error"), f.code, f.message, f.fix
        )
        for f in preflight_git_findings(repo_state(env_dir), manifest)
    ]


def run(args: argparse.Namespace) -> int:
    paths: list[str] = list(getattr(args, "paths", None) or [])
    fmt: str = getattr(args, "format", "text") or "text"
    findings: list[Finding] = []
    manifests = list(find_manifests(paths))
    for manifest_path in manifests:
        findings.extend(check_file(manifest_path))
        if getattr(args, "git", False):
            findings.extend(git_findings(manifest_path))
    errors = sum(f.severity == "error" for f in findings)
    if fmt == "json":
        json.dump([f.as_json() for f in findings], sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        for f in findings:
            print(f.text())
        # A summary on stderr, so that silence is never the only answer.
        others = len(findings) - errors
        print(
            f"checked {plural(len(manifests), 'manifest')}: {plural(errors, 'error')}, "
            f"{plural(others, 'other problem')}",
            file=sys.stderr,
        )
    return 1 if errors else 0
