"""Publishing to S3 (moto's server on loopback), imported back with real Nix over HTTP."""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from floxls.errors import FloxlsError
from floxls.progress import Event
from floxls.publish.pipeline import run
from tests.support.gitrepo import GitEnv, PublishSetup
from tests.support.nixtools import Nix
from tests.support.s3 import S3Bucket
from tests.support.tools import require
from tests.test_publish_file import HELLO_SCRIPT, tree

pytestmark = [pytest.mark.slow, pytest.mark.s3]


def test_publish_to_s3(
    git_env: GitEnv, publish_setup: PublishSetup, s3_bucket: S3Bucket, nix: Nix
) -> None:
    url = s3_bucket.store_url("cache")
    result = run(publish_setup.request(git_env, "hello", store_url=url))
    (path,) = result.store_paths
    hash_part = Path(path).name[:32]
    keys = s3_bucket.keys()
    assert "cache/nix-cache-info" in keys and f"cache/{hash_part}.narinfo" in keys
    assert any(k.startswith("cache/nar/") and k.endswith(".nar.zst") for k in keys)
    assert result.store_url.startswith(f"s3://{s3_bucket.name}/cache")
    # real nix reads the bucket as an HTTP binary cache
    s3_bucket.make_public()
    store = nix.store("chroot")
    r = store.copy_from(
        f"{s3_bucket.http_url}/cache", [path], trusted_keys=[publish_setup.public_key]
    )
    assert r.returncode == 0, r.stderr
    assert tree(store.real(path)) == {
        "bin": ("dir", b""),
        "bin/hello": ("exe", HELLO_SCRIPT.encode()),
    }
    (build,) = publish_setup.local_builds(result.catalog, "hello")
    assert build.cache_uri is not None and build.cache_uri.startswith("s3://")
    # again: nothing uploaded
    before = s3_bucket.keys()
    again = run(publish_setup.request(git_env, "hello", store_url=url))
    assert again.uploaded == [] and s3_bucket.keys() == before


class Proxy:
    """A TCP proxy to `target` that can be stopped (refusing and cutting connections) and
    started again on the same port, while the server behind it keeps its state."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = int(probe.getsockname()[1])
        probe.close()
        self.listener: socket.socket | None = None
        self.conns: list[socket.socket] = []
        self.lock = threading.Lock()

    def start(self) -> None:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", self.port))
        s.listen(16)
        self.listener = s
        threading.Thread(target=self._accept, args=(s,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            if not self.admit():
                client.close()
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                client.close()
                continue
            with self.lock:
                self.conns += [client, upstream]
            self.relay(client, upstream)

    def admit(self) -> bool:
        """Whether to take a new connection at all."""
        return True

    def relay(self, client: socket.socket, upstream: socket.socket) -> None:
        """Start copying both ways between a client and its upstream connection."""
        for a, b in ((client, upstream), (upstream, client)):
            threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                dst.shutdown(socket.SHUT_WR)

    def stop(self) -> None:
        if self.listener is not None:
            with contextlib.suppress(OSError):  # wakes the thread blocked in accept()
                self.listener.shutdown(socket.SHUT_RDWR)
            self.listener.close()
            self.listener = None
        with self.lock:
            for c in self.conns:
                with contextlib.suppress(OSError):
                    c.shutdown(socket.SHUT_RDWR)
                c.close()
            self.conns.clear()


def test_s3_stopped_mid_upload(
    git_env: GitEnv,
    publish_setup: PublishSetup,
    s3_bucket: S3Bucket,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    moto_port = int(s3_bucket.endpoint.rsplit(":", 1)[1])
    proxy = Proxy(moto_port)
    proxy.start()
    endpoint = f"http://127.0.0.1:{proxy.port}"
    url = f"s3://{s3_bucket.name}?endpoint={endpoint}&region=us-east-1"

    def progress(event: Event) -> None:
        if event.step == "upload" and event.message.startswith("uploading"):
            proxy.stop()

    try:
        with pytest.raises(FloxlsError) as info:
            run(publish_setup.request(git_env, "hello", store_url=url), progress)
        msg = info.value.message
        assert "127.0.0.1" in msg or s3_bucket.name in msg, msg
        assert "Traceback" not in msg and len(msg.splitlines()) <= 2
        keys = s3_bucket.keys()
        assert not [k for k in keys if k.endswith(".narinfo")], keys
        assert publish_setup.leftovers() == []
        assert publish_setup.local_builds("any", "hello") == []
        # the server is back: the rerun succeeds
        proxy.start()
        result = run(publish_setup.request(git_env, "hello", store_url=url))
        assert result.uploaded == result.store_paths
        keys = s3_bucket.keys()
        narinfos = [k for k in keys if k.endswith(".narinfo")]
        nars = [k for k in keys if k.startswith("nar/")]
        assert len(narinfos) == 1 and len(nars) == 1
    finally:
        proxy.stop()


BIG_BLOB = 24_000_000
PART = 5 << 20  # the smallest part size S3 allows (floxls.store.s3.MIN_PART_SIZE)
BIG_PARTS = -(-BIG_BLOB // PART)  # the compressed random blob is a little bigger: 5 parts

# incompressible but the same at every build, so a rerun uploads the very same NAR key
BLOB_CODE = f"import random, sys; sys.stdout.buffer.write(random.Random(7).randbytes({BIG_BLOB}))"
BIG_BUILD = f"""\
version = 1

[install]
hello.pkg-path = "hello"

[build.blob]
version = "1.0.0"
command = '''
mkdir -p $out/share
{sys.executable} -c "{BLOB_CODE}" > $out/share/blob
'''
"""


class CuttingProxy(Proxy):
    """A `Proxy` that counts the bytes going client -> server and, once `cut_after` bytes
    have passed and at least one UploadPart got its 200 answer, cuts every connection.
    Then, with `mode="stopped"`, it refuses new connections (the server is gone: nothing,
    not even an abort, reaches it); with `mode="flaky"` it accepts them but cuts any that
    sends more than `FLAKY_LIMIT` bytes (no part gets through again, small requests do).
    It records how many UploadPart requests were in flight at once before the cut."""

    FLAKY_LIMIT = 256 << 10

    def __init__(self, target_port: int, cut_after: int | None, mode: str = "stopped") -> None:
        super().__init__(target_port)
        self.cut_after = cut_after
        self.mode = mode
        self.sent = 0
        self.parts_done = 0
        self.parts_done_at_cut: int | None = None
        self.in_flight = 0
        self.max_in_flight = 0
        self.cut = threading.Event()

    def admit(self) -> bool:
        return not (self.cut.is_set() and self.mode == "stopped")

    def relay(self, client: socket.socket, upstream: socket.socket) -> None:
        state = {"part": False}  # is this connection's current request an UploadPart?
        threading.Thread(target=self._up, args=(client, upstream, state), daemon=True).start()
        threading.Thread(target=self._down, args=(upstream, client, state), daemon=True).start()

    def _up(self, src: socket.socket, dst: socket.socket, state: dict[str, bool]) -> None:
        after_cut = 0  # bytes this connection sent since the cut
        try:
            while data := src.recv(65536):
                cut_before = self.cut.is_set()
                with self.lock:
                    if data.startswith(b"PUT ") and b"partNumber=" in data.split(b"\r\n", 1)[0]:
                        state["part"] = True
                        self.in_flight += 1
                        if not cut_before:
                            self.max_in_flight = max(self.max_in_flight, self.in_flight)
                    self.sent += len(data)
                self._maybe_cut()
                if self.cut.is_set():
                    after_cut += len(data) if cut_before else 0
                    if not cut_before or self.mode == "stopped" or after_cut > self.FLAKY_LIMIT:
                        break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for c in (src, dst):
                with contextlib.suppress(OSError):
                    c.shutdown(socket.SHUT_RDWR if self.cut.is_set() else socket.SHUT_WR)

    def _down(self, src: socket.socket, dst: socket.socket, state: dict[str, bool]) -> None:
        try:
            while data := src.recv(65536):
                if self.cut.is_set() and self.mode == "stopped":
                    break
                if data.startswith(b"HTTP/1.1 ") and not data.startswith(b"HTTP/1.1 100"):
                    with self.lock:
                        if state["part"]:
                            state["part"] = False
                            self.in_flight -= 1
                            if data.startswith(b"HTTP/1.1 200"):
                                self.parts_done += 1
                    if self._maybe_cut():
                        break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                dst.shutdown(socket.SHUT_WR)

    def _maybe_cut(self) -> bool:
        """Cut now if it is time; True when this call made the cut."""
        with self.lock:
            if self.cut.is_set() or self.cut_after is None:
                return False
            if self.sent < self.cut_after or self.parts_done < 1:
                return False
            self.cut.set()
            self.parts_done_at_cut = self.parts_done
            conns, self.conns = self.conns, []
        for c in conns:
            with contextlib.suppress(OSError):
                c.shutdown(socket.SHUT_RDWR)
            c.close()
        return True

    def stop(self) -> None:
        super().stop()
        self.cut.clear()
        self.cut_after = None


@pytest.mark.parametrize("mode", ["stopped", "flaky"])
def test_s3_cut_partway_through_multipart_upload(
    mode: str,
    make_git_env: Callable[..., GitEnv],
    publish_setup: PublishSetup,
    s3_bucket: S3Bucket,
    nix: Nix,
) -> None:
    require("nix")
    env = make_git_env(manifest=BIG_BUILD)
    moto_port = int(s3_bucket.endpoint.rsplit(":", 1)[1])
    proxy = CuttingProxy(moto_port, cut_after=BIG_BLOB // 3, mode=mode)
    proxy.start()
    url = (
        f"s3://{s3_bucket.name}?endpoint=http://127.0.0.1:{proxy.port}&region=us-east-1"
        f"&buffer-size={PART}"
    )
    try:
        start = time.monotonic()
        with pytest.raises(FloxlsError) as info:
            run(publish_setup.request(env, "blob", store_url=url))
        elapsed = time.monotonic() - start
        # it was cut partway: after some parts were stored, while others were going up
        assert proxy.cut.is_set() and proxy.parts_done_at_cut is not None
        assert 1 <= proxy.parts_done_at_cut < BIG_PARTS, proxy.parts_done_at_cut
        assert proxy.max_in_flight >= 2, "parts did not go up in parallel"
        err = info.value
        assert f"s3://{s3_bucket.name}" in err.message and "upload" in err.message, err.message
        assert "Traceback" not in str(err) and len(err.message.splitlines()) == 1
        assert err.fix and len(err.fix.splitlines()) == 1
        assert "testing" not in f"{err.message} {err.fix}"  # the AWS key id and secret
        assert elapsed < 20, f"gave up only after {elapsed:.1f}s"
        # checked on moto directly, not through the (dead) proxy
        keys = s3_bucket.keys()
        assert not [k for k in keys if k.endswith(".narinfo")], keys
        assert not [k for k in keys if k.startswith("nar/")], keys
        uploads = s3_bucket.client.list_multipart_uploads(Bucket=s3_bucket.name)
        if mode == "flaky":  # the server was reachable: the failed upload was aborted
            assert uploads.get("Uploads", []) == [], "incomplete multipart upload left behind"
        else:  # nothing reached the server, not even the abort: its parts stay (invisible
            # to Nix: no object, no narinfo) until a bucket lifecycle rule removes them
            assert len(uploads.get("Uploads", [])) == 1, uploads
        assert publish_setup.leftovers() == []
        assert publish_setup.local_builds("any", "blob") == []
        # the server is back: the rerun succeeds and Nix imports the package
        proxy.stop()
        proxy.start()
        result = run(publish_setup.request(env, "blob", store_url=url))
        (path,) = result.store_paths
        assert result.uploaded == [path]
        keys = s3_bucket.keys()
        assert len([k for k in keys if k.endswith(".narinfo")]) == 1, keys
        (nar_key,) = [k for k in keys if k.startswith("nar/")]
        head = s3_bucket.client.head_object(Bucket=s3_bucket.name, Key=nar_key)
        assert head["ETag"].strip('"').endswith(f"-{BIG_PARTS}")  # multipart, all parts
        # the rerun's own upload completed; only the unreachable one's parts can remain
        leftover = s3_bucket.client.list_multipart_uploads(Bucket=s3_bucket.name)
        assert len(leftover.get("Uploads", [])) == (1 if mode == "stopped" else 0), leftover
        assert len(publish_setup.local_builds(result.catalog, "blob")) == 1
    finally:
        proxy.stop()
    s3_bucket.make_public()
    store = nix.store("chroot")
    r = store.copy_from(s3_bucket.http_url, [path], trusted_keys=[publish_setup.public_key])
    assert r.returncode == 0, r.stderr
    assert (store.real(path) / "share" / "blob").stat().st_size == BIG_BLOB
