"""End-to-end publishes to a file:// cache and the local catalog, checked with real Nix."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from floxls.cancel import CancelToken
from floxls.catalog import local_catalog_name
from floxls.errors import Cancelled, FloxlsError
from floxls.nix import narinfo as narinfo_mod
from floxls.nix.keys import PublicKey
from floxls.progress import Event
from floxls.publish.locks import is_publishing, publish_lock
from floxls.publish.pipeline import STEPS, PublishResult, run
from tests.support.gitrepo import GitEnv, PublishSetup
from tests.support.nixtools import Nix

pytestmark = pytest.mark.slow

HELLO_SCRIPT = '#!/bin/sh\necho "hello from floxls"\n'


def tree(root: Path) -> dict[str, tuple[str, bytes]]:
    """Every entry under root: relative path -> (kind, contents/target)."""
    out: dict[str, tuple[str, bytes]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            rel = str(p.relative_to(root))
            if p.is_symlink():
                out[rel] = ("link", os.readlink(p).encode())
            elif p.is_dir():
                out[rel] = ("dir", b"")
            else:
                kind = "exe" if os.access(p, os.X_OK) else "file"
                out[rel] = (kind, p.read_bytes())
    return out


def check_imports(
    nix: Nix,
    setup: PublishSetup,
    cache_url: str,
    result: PublishResult,
    expected: dict[str, tuple[str, bytes]],
) -> None:
    store = nix.store("chroot")
    (path,) = result.store_paths
    r = store.copy_from(
        cache_url,
        [path],
        trusted_keys=[setup.public_key],
        extra=["--option", "require-sigs", "true"],
    )
    assert r.returncode == 0, r.stderr
    assert tree(store.real(path)) == expected


def test_publish_to_file_cache(git_env: GitEnv, publish_setup: PublishSetup, nix: Nix) -> None:
    events: list[Event] = []
    result = run(publish_setup.request(git_env, "hello"), events.append)
    assert result.name == "hello" and result.version == "1.0.0"
    assert result.rev == git_env.head() and result.recorded
    (path,) = result.store_paths
    assert path.endswith("-hello-1.0.0") and result.uploaded == [path]
    assert {e.step for e in events} == set(STEPS)
    # the steps come in order
    order = [STEPS.index(e.step) for e in events]
    assert order == sorted(order)
    # the narinfo is signed with our key, and real nix imports the cache
    (ni,) = publish_setup.narinfos()
    info = narinfo_mod.parse(ni.read_text())
    assert info.store_path == path and info.ca and info.ca.startswith("fixed:r:sha256:")
    pub = PublicKey.parse(publish_setup.public_key)
    assert any(pub.verify(info.fingerprint(), s) for s in info.sigs)
    check_imports(
        nix,
        publish_setup,
        publish_setup.cache_url,
        result,
        {"bin": ("dir", b""), "bin/hello": ("exe", HELLO_SCRIPT.encode())},
    )
    # the local catalog holds the record
    (build,) = publish_setup.local_builds(result.catalog, "hello")
    assert build.rev == git_env.head() and build.ref == "main"
    assert build.url == str(git_env.remote) and build.rev_count == 1
    assert build.derivation.version == "1.0.0" and build.derivation.pname == "hello"
    assert [o.store_path for o in build.derivation.outputs] == [path]
    assert build.narinfos[path]["narHash"] == info.nar_hash
    assert build.cache_uri == publish_setup.cache_url
    assert publish_setup.leftovers() == []


def test_republish_same_rev_uploads_no_nar(git_env: GitEnv, publish_setup: PublishSetup) -> None:
    first = run(publish_setup.request(git_env, "data"))
    assert first.version == "2.3.4"
    nars = {p: p.stat().st_mtime_ns for p in publish_setup.nars()}
    assert len(nars) == 1
    events: list[Event] = []
    again = run(publish_setup.request(git_env, "data"), events.append)
    assert again.uploaded == [] and again.skipped == first.store_paths
    assert {p: p.stat().st_mtime_ns for p in publish_setup.nars()} == nars
    assert not any(e.message.startswith("uploading") for e in events)
    assert not again.recorded  # the catalog already had this rev
    assert len(publish_setup.local_builds(again.catalog, "data")) == 1


def _cancel_on(step: str, token: CancelToken, seen: list[Event]) -> Callable[[Event], None]:
    def progress(event: Event) -> None:
        seen.append(event)
        hit = {
            "clone": event.step == "clone",
            "build": event.step == "build" and event.log is not None,
            "compression": event.step == "closure" and event.message.startswith("packing"),
            "upload": event.step == "upload" and event.message.startswith("uploading"),
        }[step]
        if hit:
            token.cancel()

    return progress


SLOW_BUILD = """\
version = 1

[install]
hello.pkg-path = "hello"

[build.hello]
version = "1.0.0"
command = '''
echo building
mkdir -p $out/share
head -c 3000000 /dev/zero | tr '\\0' 'x' > $out/share/big
echo done
'''
"""


@pytest.mark.parametrize("step", ["clone", "build", "compression", "upload"])
def test_cancel_leaves_nothing_behind(
    step: str, make_git_env: Callable[..., GitEnv], publish_setup: PublishSetup
) -> None:
    env = make_git_env(manifest=SLOW_BUILD)
    token = CancelToken()
    seen: list[Event] = []
    with pytest.raises(Cancelled):
        run(publish_setup.request(env, "hello"), _cancel_on(step, token, seen), token)
    assert seen and token.cancelled
    assert publish_setup.leftovers() == [], "temp clone left behind"
    assert publish_setup.narinfos() == []
    assert publish_setup.local_builds(local_catalog_name(), "hello") == []
    assert not is_publishing(env.env_dir, "hello")
    # and the next publish succeeds
    result = run(publish_setup.request(env, "hello"))
    assert result.uploaded == result.store_paths
    assert len(publish_setup.narinfos()) == 1
    assert len(publish_setup.local_builds(result.catalog, "hello")) == 1


def test_catalog_error_after_upload(
    git_env: GitEnv, publish_setup: PublishSetup, monkeypatch: pytest.MonkeyPatch
) -> None:
    from floxls.catalog.local import LocalCatalog

    def boom(self: object, pkg: str, build: object) -> None:
        raise FloxlsError("500: database is locked")

    monkeypatch.setattr(LocalCatalog, "record_build", boom)
    with pytest.raises(FloxlsError) as info:
        run(publish_setup.request(git_env, "hello"))
    msg = info.value.message
    assert f"the build is uploaded to {publish_setup.cache_url}" in msg
    assert "the catalog did not record it: 500: database is locked" in msg
    assert "upload is skipped" in (info.value.fix or "")
    assert len(publish_setup.narinfos()) == 1
    monkeypatch.undo()
    again = run(publish_setup.request(git_env, "hello"))
    assert again.uploaded == [] and again.recorded
    assert len(publish_setup.local_builds(again.catalog, "hello")) == 1


def test_one_publish_per_target_at_a_time(git_env: GitEnv, publish_setup: PublishSetup) -> None:
    with publish_lock(git_env.env_dir, "hello", publish_setup.data_dir / "locks"):
        assert is_publishing(git_env.env_dir, "hello")
        with pytest.raises(FloxlsError, match="already running"):
            run(publish_setup.request(git_env, "hello"))
        # another target of the same environment is fine
        assert run(publish_setup.request(git_env, "data")).name == "data"
    assert publish_setup.narinfos() and not is_publishing(git_env.env_dir, "hello")


def test_lock_is_shared_across_processes(git_env: GitEnv, publish_setup: PublishSetup) -> None:
    import subprocess
    import sys

    lock_dir = publish_setup.data_dir / "locks"
    code = (
        "import sys, time; from pathlib import Path; "
        "from floxls.publish.locks import publish_lock\n"
        f"with publish_lock(Path({str(git_env.env_dir)!r}), 'hello', Path({str(lock_dir)!r})):\n"
        "    print('locked', flush=True); time.sleep(30)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
        with pytest.raises(FloxlsError, match="already running"):
            run(publish_setup.request(git_env, "hello"))
    finally:
        proc.kill()
        proc.wait()
    assert run(publish_setup.request(git_env, "hello")).recorded


def test_failed_build_reports_status_and_cleans_up(
    make_git_env: Callable[..., GitEnv], publish_setup: PublishSetup
) -> None:
    text = SLOW_BUILD.replace("echo done", "echo about to fail; exit 7")
    env = make_git_env(manifest=text)
    with pytest.raises(FloxlsError) as info:
        run(publish_setup.request(env, "hello"))
    assert "exit status 7" in info.value.message and "about to fail" in info.value.message
    assert publish_setup.leftovers() == [] and publish_setup.narinfos() == []


def test_concurrent_runs_in_threads(git_env: GitEnv, publish_setup: PublishSetup) -> None:
    start = threading.Barrier(2)
    outcomes: list[object] = []

    def go() -> None:
        start.wait()
        try:
            outcomes.append(run(publish_setup.request(git_env, "hello")))
        except FloxlsError as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=go) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ok = [o for o in outcomes if isinstance(o, PublishResult)]
    busy = [o for o in outcomes if isinstance(o, FloxlsError)]
    # either they overlapped (one refused) or ran one after the other (second skipped upload)
    assert len(ok) >= 1
    assert all("already running" in b.message for b in busy)
    assert len(publish_setup.narinfos()) == 1


READ_ONLY_BUILD = SLOW_BUILD.replace("echo done", "chmod -R a-w $out; EXIT")


@pytest.mark.parametrize("outcome", ["published", "failed"])
def test_read_only_output_is_cleaned_up(
    make_git_env: Callable[..., GitEnv], publish_setup: PublishSetup, outcome: str
) -> None:
    """Outputs copied from /nix/store have read-only directories: the temp dir must still go."""
    exit_line = "true" if outcome == "published" else "exit 3"
    env = make_git_env(manifest=READ_ONLY_BUILD.replace("EXIT", exit_line))
    if outcome == "published":
        assert run(publish_setup.request(env, "hello")).uploaded
    else:
        with pytest.raises(FloxlsError, match="exit status 3"):
            run(publish_setup.request(env, "hello"))
    assert publish_setup.leftovers() == []
