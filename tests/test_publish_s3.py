"""Publishing to S3 (moto's server on loopback), imported back with real Nix over HTTP."""

from __future__ import annotations

import contextlib
import socket
import threading
from pathlib import Path

import pytest

from floxls.errors import FloxlsError
from floxls.progress import Event
from floxls.publish.pipeline import run
from tests.support.gitrepo import GitEnv, PublishSetup
from tests.support.nixtools import Nix
from tests.support.s3 import S3Bucket
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
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                client.close()
                continue
            with self.lock:
                self.conns += [client, upstream]
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
