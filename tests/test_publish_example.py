"""The README quick start: examples/quickstart.sh publishes examples/hello to the built-in
defaults (local file:// cache, local catalog), and real Nix can import the result."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.nixtools import Nix

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent


def test_quickstart_publishes_the_example(tmp_path: Path, nix: Nix) -> None:
    data = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLOX", "AWS_"))}
    env.update(
        FLOXLS_DATA_DIR=str(data),
        FLOX_CONFIG_DIR=str(tmp_path / "config"),
        FLOX_SYSTEM_CONFIG_DIR="",
        TMPDIR=str(tmp_path),
        FLOXLS_BUILDER="builtin",
    )
    if shutil.which("floxls") is None:  # the script falls back to python3 -m floxls
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    r = subprocess.run(
        ["sh", str(ROOT / "examples" / "quickstart.sh")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    m = re.search(r"^Published (\S+)/hello 1\.0\.0 ", r.stdout, re.M)
    assert m, r.stdout
    assert f"{m.group(1)}/hello 1.0.0" in r.stdout  # the `floxls show` part
    assert "Prints a friendly greeting" in r.stdout
    path = re.search(r"/nix/store/[a-z0-9]{32}-hello-1\.0\.0", r.stdout)
    assert path, r.stdout
    pub = r.stdout.strip().splitlines()[-1].rsplit(" ", 1)[1]
    store = nix.store("chroot")
    copied = store.copy_from((data / "cache").as_uri(), [path.group(0)], trusted_keys=[pub])
    assert copied.returncode == 0, copied.stderr
    hello = store.real(path.group(0)) / "bin" / "hello"
    assert os.access(hello, os.X_OK)
    out = subprocess.run([str(hello), "floxls"], capture_output=True, text=True, check=True)
    assert out.stdout == "Hello, floxls!\n"
    # the temp repository is gone
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("floxls-")] == []
