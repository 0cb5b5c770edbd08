"""Headless Neovim 0.7 with the README's own config snippet: diagnostics, lenses, a publish.

The Lua side (tests/nvim/publish.lua) loads the snippet extracted from README.md (between
`<!-- nvim-config:start -->` and `<!-- nvim-config:end -->`), opens the example manifest in
a git repository whose last commit is not pushed, sees the warning and the blocked lens,
pushes and saves, then runs the `Publish hello` lens. It writes what it saw to a JSON file;
this test checks it and that the package landed in the `file://` cache.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.gitrepo import GitEnv
from tests.support.tools import require
from tests.test_lsp_publish import isolated_env
from tests.test_lsp_publish_pipeline import make_key

ROOT = Path(__file__).resolve().parent.parent
HARNESS = ROOT / "tests" / "nvim" / "publish.lua"
EXAMPLE = ROOT / "examples" / "hello" / ".flox"
SNIPPET = re.compile(
    r"<!-- nvim-config:start -->\s*```lua\n(.*?)```\s*<!-- nvim-config:end -->", re.S
)


def readme_snippet() -> str:
    match = SNIPPET.search((ROOT / "README.md").read_text())
    assert match, "README.md has no Lua snippet between the nvim-config markers"
    return match.group(1)


def test_readme_snippet_is_neovim_07_lua() -> None:
    lua = readme_snippet()
    assert "vim.lsp.start_client" in lua
    assert "vim.lsp.start(" not in lua  # Neovim 0.7 does not have it
    assert "*/.flox/env/manifest.toml" in lua
    assert "init_options" in lua


@pytest.mark.slow
@pytest.mark.nvim
def test_neovim_07_publishes_from_the_code_lens(
    tmp_path: Path, make_git_env: Callable[..., GitEnv]
) -> None:
    require("nvim", "git")
    version = subprocess.run(["nvim", "--version"], capture_output=True, text=True, check=True)
    assert version.stdout.startswith("NVIM v0."), version.stdout

    files = {".flox/env.json": (EXAMPLE / "env.json").read_text()}
    repo = make_git_env((EXAMPLE / "env" / "manifest.toml").read_text(), files)
    repo.commit_without_push(1)

    snippet = tmp_path / "floxls.lua"
    snippet.write_text(readme_snippet())
    bindir = tmp_path / "bin"
    bindir.mkdir()
    wrapper = bindir / "floxls"  # the snippet runs `floxls serve` from PATH
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m floxls "$@"\n')
    wrapper.chmod(0o755)

    store = tmp_path / "cache"
    key, _public = make_key(tmp_path)
    out = tmp_path / "result.json"
    config = tmp_path / "test.json"
    config.write_text(
        json.dumps(
            {
                "snippet": str(snippet),
                "manifest": str(repo.manifest),
                "repo": str(repo.root),
                "out": str(out),
                "target": "hello",
                "settings": {
                    "publish": {"storeUrl": store.as_uri(), "signingKey": str(key)},
                    "trusted": True,
                },
                "timeout_ms": 15000,
                "publish_timeout_ms": 30000,
            }
        )
    )
    env = isolated_env(tmp_path)
    env["PATH"] = f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}"
    env["FLOXLS_NVIM_TEST"] = str(config)
    proc = subprocess.run(
        ["nvim", "--headless", "-n", "-i", "NONE", "-u", str(HARNESS)],
        env=env,
        cwd=repo.root,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=55,
    )
    assert out.exists(), f"nvim wrote no results (exit {proc.returncode}):\n{proc.stderr}"
    got = json.loads(out.read_text())
    assert got.get("error") in (None, ""), f"{got.get('error')} at {got['stage']}: {got}"
    assert got["client_name"] == "floxls"

    # 1. The unpushed commit: a warning on the first line, and blocked lenses.
    before = {d["code"]: d for d in got["diagnostics_before"]}
    assert "unpushed-commits" in before, got["diagnostics_before"]
    assert before["unpushed-commits"]["lnum"] == 0
    titles = [lens["title"] for lens in got["lenses_before"]]
    assert titles == [
        "Publish hello — blocked: 1 unpushed commit",
        "Publish goodbye — blocked: 1 unpushed commit",
    ]
    # 2. After the push and a save: no warning, plain lenses.
    assert got["diagnostics_after"] == []
    assert [lens["title"] for lens in got["lenses_after"]] == ["Publish hello", "Publish goodbye"]
    # 3. The lens ran the publish; progress and the result message reached Neovim.
    result = got["command_result"]
    assert result["published"] is True, got["messages"]
    assert (result["name"], result["version"]) == ("hello", "1.0.0")
    kinds = [p["kind"] for p in got["progress"]]
    assert kinds[0] == "begin" and kinds[-1] == "end" and "report" in kinds
    assert any(
        m["message"].startswith(f"Published {result['catalog']}/hello 1.0.0 — ")
        for m in got["messages"]
    )
    # ... and the package is in the cache.
    narinfos = list(store.glob("*.narinfo"))
    assert narinfos
    (out_path,) = result["storePaths"]
    hash_part = Path(out_path).name.split("-", 1)[0]
    assert (store / f"{hash_part}.narinfo").exists()
