"""`floxls publish` as a user runs it: a real process, its output, Ctrl-C, and no secrets
anywhere (output, logs, catalog requests, store contents)."""

from __future__ import annotations

import io
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from floxls.catalog import local_catalog_name
from floxls.commands.publish import PlainDisplay, RichDisplay
from floxls.progress import Event
from tests.support.floxhub import FakeFloxHub
from tests.support.gitrepo import HELLO_MANIFEST, GitEnv, PublishSetup
from tests.support.nixtools import Nix, run_nix
from tests.support.s3 import S3Bucket

pytestmark = pytest.mark.slow


def cli_env(setup: PublishSetup, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLOX_", "FLOXLS_", "AWS_"))}
    env.update(
        {
            "FLOXLS_DATA_DIR": str(setup.data_dir),
            "FLOX_CONFIG_DIR": str(setup.base / "config"),
            "FLOX_SYSTEM_CONFIG_DIR": "",
            "FLOX_FEATURES_PUBLISH": "true",
            "TMPDIR": str(setup.workdir),
            "FLOXLS_BUILDER": "builtin",
        }
    )
    env.update(extra)
    return env


def floxls(
    args: list[str], env: dict[str, str], cwd: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "floxls", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_cli_publish_and_show(git_env: GitEnv, publish_setup: PublishSetup, nix: Nix) -> None:
    env = cli_env(publish_setup)
    r = floxls(
        [
            "publish",
            "--store-url",
            publish_setup.cache_url,
            "--signing-key",
            str(publish_setup.key_file),
            "hello",
        ],
        env,
        cwd=git_env.root,
    )
    assert r.returncode == 0, r.stderr
    me = local_catalog_name()
    last = r.stdout.strip().splitlines()[-1]
    assert last.startswith(f"Published {me}/hello 1.0.0")
    # the local catalog is floxls's own, so the hint is a nix copy; run it as printed
    hint = shlex.split(last.split("fetch it with: ", 1)[1])
    assert hint[:4] == ["nix", "--extra-experimental-features", "nix-command", "copy"]
    assert publish_setup.public_key in hint
    chroot = nix.store("fetched")
    fetched = run_nix([*hint, "--to", chroot.arg], nix.base, check=False)
    assert fetched.returncode == 0, fetched.stderr
    (out,) = [a for a in hint if a.startswith("/nix/store/")]
    assert (chroot.real(out) / "bin" / "hello").is_file()
    assert "[build] | " not in r.stdout  # progress goes to stderr
    assert "[clone]" in r.stderr and "[upload]" in r.stderr and "[record]" in r.stderr
    show = floxls(["show", f"{me}/hello"], env)
    assert show.returncode == 0, show.stderr
    assert "1.0.0" in show.stdout
    assert list(publish_setup.workdir.iterdir()) == []


SLEEPY = HELLO_MANIFEST.replace(
    "mkdir -p $out/bin\n", "echo build-started\nsleep 60\nmkdir -p $out/bin\n", 1
)


def test_ctrl_c_cancels_cleanly(
    make_git_env: Callable[..., GitEnv], publish_setup: PublishSetup
) -> None:
    repo = make_git_env(manifest=SLEEPY)
    env = cli_env(publish_setup)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "floxls",
            "publish",
            "-d",
            str(repo.env_dir),
            "--store-url",
            publish_setup.cache_url,
            "hello",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    seen = []
    deadline = time.monotonic() + 60
    for line in proc.stderr:
        seen.append(line)
        if "build-started" in line:
            break
        assert time.monotonic() < deadline, seen
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert time.monotonic() - t0 < 15
    assert "cancel" in err and "Traceback" not in err
    assert list(publish_setup.workdir.iterdir()) == []
    assert publish_setup.narinfos() == []
    assert publish_setup.local_builds(local_catalog_name(), "hello") == []


def test_no_secret_anywhere(
    make_git_env: Callable[..., GitEnv],
    publish_setup: PublishSetup,
    s3_bucket: S3Bucket,
    floxhub_server: FakeFloxHub,
) -> None:
    hub = floxhub_server
    aws_key_id = "AKIAFLOXLSTESTKEYID9"
    aws_secret = "floxls-aws-secret-Zq8wPc4"
    remote_pw = "remote-pass-Vb7Kx2"
    # the build prints its whole environment into the log: secrets must not be there
    manifest = HELLO_MANIFEST.replace("mkdir -p $out/bin\n", "env | sort\nmkdir -p $out/bin\n", 1)
    repo = make_git_env(manifest=manifest)
    repo.git("remote", "set-url", "origin", f"https://floxuser:{remote_pw}@127.0.0.1:9/x.git")
    store_url = s3_bucket.store_url("c")
    env = cli_env(
        publish_setup,
        FLOX_FLOXHUB_TOKEN=hub.token,
        FLOX_CATALOG_URL=hub.url,
        AWS_ACCESS_KEY_ID=aws_key_id,
        AWS_SECRET_ACCESS_KEY=aws_secret,
        AWS_DEFAULT_REGION="us-east-1",
        AWS_CONFIG_FILE="/nonexistent",
        AWS_SHARED_CREDENTIALS_FILE="/nonexistent",
    )
    r = floxls(
        [
            "publish",
            "-d",
            str(repo.env_dir),
            "--store-url",
            store_url,
            "--signing-key",
            str(publish_setup.key_file),
            "hello",
        ],
        env,
    )
    assert r.returncode == 0, r.stderr
    assert "GREETING=hello from floxls" in r.stderr  # the build log was shown
    assert "not confirmed" in r.stderr  # the offline warning about the remote
    failed = floxls(
        [
            "publish",
            "-d",
            str(repo.env_dir),
            "--store-url",
            store_url,
            "--signing-key",
            str(publish_setup.base / "nope.key"),
            "hello",
        ],
        env,
    )
    assert failed.returncode == 1
    show = floxls(["show", "alice/hello", "--json"], env)
    assert show.returncode == 0, show.stderr

    key_b64 = publish_setup.key_text.split(":", 1)[1]
    secrets = {
        "floxhub token": hub.token,
        "token signature": hub.token.rsplit(".", 1)[1],
        "signing key": key_b64,
        "signing key seed part": key_b64[:20],
        "aws key id": aws_key_id,
        "aws secret": aws_secret,
        "remote password": remote_pw,
    }
    store_text = "\n".join(
        s3_bucket.client.get_object(Bucket=s3_bucket.name, Key=k)["Body"].read().decode("latin-1")
        for k in s3_bucket.keys()  # noqa: SIM118 - a method, not a dict
    )
    data_files = "\n".join(
        p.read_bytes().decode("latin-1") for p in publish_setup.data_dir.rglob("*") if p.is_file()
    )
    places = {
        "stdout": r.stdout + failed.stdout + show.stdout,
        "stderr": r.stderr + failed.stderr + show.stderr,
        "floxhub requests": hub.all_text(with_auth=False),
        "store": store_text,
        "data dir": data_files,
    }
    assert hub.requests and store_text
    for where, text in places.items():
        for what, secret in secrets.items():
            assert secret not in text, f"{what} found in {where}"
    # and the build record was accepted (it carries no credentials: the fake checks that)
    assert len(hub.packages[("alice", "hello")]["builds"]) == 1
    assert hub.packages[("alice", "hello")]["original_url"] == "https://127.0.0.1:9/x.git"


def test_plain_display_lines() -> None:
    out = io.StringIO()
    d = PlainDisplay(out)
    d(Event("build", "building hello"))
    d(Event("build", log="compiling"))
    d(Event("upload", "uploading x", done_bytes=0, total_bytes=2_000_000))
    d(Event("upload", done_bytes=1_000_000, total_bytes=2_000_000))
    d(Event("upload", done_bytes=1_500_000, total_bytes=2_000_000))  # throttled
    lines = out.getvalue().splitlines()
    assert lines == [
        "[build] building hello",
        "[build] | compiling",
        "[upload] uploading x (0 B of 2.0 MB)",
        "[upload] 1.0 MB of 2.0 MB",
    ]


def test_rich_display_renders() -> None:
    out = io.StringIO()
    d = RichDisplay(out)
    d(Event("build", "building hello"))
    d(Event("build", log="compiling [not markup]"))
    d(Event("upload", "uploading", done_bytes=10, total_bytes=100))
    d.close()
    text = out.getvalue()
    assert "compiling [not markup]" in text and "uploading" in text


def test_a_terminal_gets_the_progress_display(git_env: GitEnv, publish_setup: PublishSetup) -> None:
    """On a terminal the progress is a live display, not `[step] message` lines."""
    import pty

    env = cli_env(publish_setup, TERM="xterm-256color", COLUMNS="120")
    args = ["--store-url", publish_setup.cache_url, "--signing-key", str(publish_setup.key_file)]
    leader, follower = pty.openpty()
    chunks: list[bytes] = []

    def drain() -> None:  # read while it runs: a full pty buffer would block the child
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the child side is closed and drained
                return
            if not chunk:
                return
            chunks.append(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "floxls", "publish", *args, "hello"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=follower,
            env=env,
            cwd=git_env.root,
            timeout=120,
            check=False,
        )
    finally:
        os.close(follower)
        reader.join(timeout=10)
        os.close(leader)
    screen = b"".join(chunks).decode("utf-8", "replace")
    assert proc.returncode == 0, screen
    assert proc.stdout.decode().startswith("Published ")
    assert "\x1b[" in screen  # drawn with terminal control sequences
    assert "━" in screen  # a progress bar
    assert "[clone]" not in screen and "[upload]" not in screen  # not the plain lines
