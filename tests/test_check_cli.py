"""`floxls check`: output formats, exit status, manifest discovery, unreadable files."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from floxls.cli import main

ROOT = Path(__file__).parent.parent
EXAMPLES = ROOT / "examples"
LINE_RE = re.compile(
    r"^(?P<path>.+):(?P<line>\d+):(?P<col>\d+): (?P<sev>error|warning)\[(?P<code>[a-z-]+)\] .+$"
)

BAD = """schema-version = "1.15.0"

[build.hello]
runtime_packages = []
"""
WARN_ONLY = """schema-version = "1.15.0"

[options]
systems = ["x86_64-linx"]
"""


def env(root: Path, text: str, *parts: str) -> Path:
    path = root.joinpath(*parts, ".flox", "env", "manifest.toml")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["check", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_examples_are_clean(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, str(EXAMPLES))
    assert (code, out) == (0, "")
    assert err == "checked 1 manifest: 0 errors, 0 other problems\n"


def test_text_output_and_exit_status(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = env(tmp_path, BAD)
    code, out, _ = run(capsys, str(path))
    assert code == 1
    lines = out.splitlines()
    first = [LINE_RE.match(line) for line in lines if not line.startswith("  ")]
    assert all(first), lines
    found = {(m["line"], m["col"], m["code"]) for m in first if m}
    assert found == {("3", "1", "build-missing-command"), ("4", "1", "unknown-key")}
    assert f"{path}:4:1: error[unknown-key] unknown key `runtime_packages`" in out
    assert "  fix: rename it to `runtime-packages`" in lines


def test_json_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = env(tmp_path, BAD)
    code, out, _ = run(capsys, "--format", "json", str(path))
    assert code == 1
    data = json.loads(out)
    assert [d["code"] for d in data] == ["build-missing-command", "unknown-key"]
    unknown = data[1]
    assert unknown == {
        "path": str(path),
        "line": 4,
        "column": 1,
        "end_line": 4,
        "end_column": 17,
        "severity": "error",
        "code": "unknown-key",
        "message": unknown["message"],
        "hint": "rename it to `runtime-packages`",
    }


def test_json_output_when_clean(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--format", "json", str(EXAMPLES))
    assert code == 0 and json.loads(out) == []


def test_warnings_alone_exit_zero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, str(env(tmp_path, WARN_ONLY)))
    assert code == 0
    assert "warning[unknown-system]" in out


def test_directory_search_skips_node_modules_and_git(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    env(tmp_path, WARN_ONLY)
    env(tmp_path, BAD, "services", "api")
    env(tmp_path, BAD, "node_modules", "pkg")
    env(tmp_path, BAD, ".git", "x")
    monkeypatch.chdir(tmp_path)
    code, out, _ = run(capsys)  # default: the current directory
    assert code == 1
    paths = {m["path"] for m in map(LINE_RE.match, out.splitlines()) if m}
    assert paths == {
        str(Path(".flox/env/manifest.toml")),
        str(Path("services/api/.flox/env/manifest.toml")),
    }


def test_directory_without_manifest(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, str(tmp_path))
    assert code == 1
    assert err.startswith("floxls: error: no Flox manifest")
    assert "  fix: " in err


def test_invalid_utf8_is_reported_not_raised(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "manifest.toml"
    path.write_bytes(b'schema-version = "1.15.0"\n[vars]\nA = "\xff\xfe"\n')
    code, out, err = run(capsys, str(path), str(EXAMPLES))
    assert code == 1
    assert out.splitlines()[0] == (
        f"{path}:3:6: error[invalid-utf8] the file is not valid UTF-8 (byte 0xff)"
    )
    assert out.splitlines()[1] == "  fix: save the file as UTF-8; Flox cannot read it otherwise"
    assert "Traceback" not in out + err


def test_missing_file_is_unreadable(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--format", "json", str(tmp_path / "nope.toml"))
    assert code == 1
    (item,) = json.loads(out)
    assert item["code"] == "unreadable" and item["severity"] == "error"


def test_syntax_errors_are_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "m.toml"
    path.write_text('schema-version = "1.15.0"\n[vars\nA = "b"\n', encoding="utf-8")
    code, out, _ = run(capsys, str(path))
    assert code == 1
    assert f"{path}:2:" in out and "error[toml-syntax]" in out


def test_git_flag_runs_the_preflight(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = env(tmp_path, WARN_ONLY + '[build.x]\ncommand = "true"\n')
    # Not a git repository: the preflight must say so, as a finding, not a traceback.
    code, out, err = run(capsys, "--git", str(path))
    assert "Traceback" not in out + err
    assert code == 1, out + err
    assert f"{path}:1:1: error[not-a-repo]" in out


def test_entry_point_runs_as_a_module() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "floxls", "check", str(EXAMPLES)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert (proc.returncode, proc.stdout) == (0, ""), proc.stderr
