"""The s3:// store against moto's server on loopback, and Nix reading what we uploaded."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from floxls.cancel import CancelToken
from floxls.errors import Cancelled, FloxlsError
from floxls.nix import compress, nar, storepath
from floxls.nix.keys import SecretKey
from floxls.progress import Event
from floxls.store import open_store
from floxls.store.s3 import MIN_PART_SIZE
from floxls.store.ship import PathToShip, nar_hash_of, ship
from tests.support.nixtools import BuiltClosure, Nix
from tests.support.s3 import S3Bucket, free_port

pytestmark = [pytest.mark.slow, pytest.mark.s3]


def random_tree(tmp: Path, name: str, size: int) -> PathToShip:
    t = tmp / name
    t.mkdir()
    (t / "blob").write_bytes(os.urandom(size))
    (t / "note").write_text("small file\n")
    digest, _ = nar_hash_of(t)
    return PathToShip(t, storepath.ca_path_for_nar(name, digest), [], ca=storepath.ca_field(digest))


def test_round_trip_multipart_and_existence(s3_bucket: S3Bucket, tmp_path: Path) -> None:
    store = open_store(s3_bucket.store_url(prefix="cache", **{"buffer-size": str(MIN_PART_SIZE)}))
    p = random_tree(tmp_path, "big-1", 3 * MIN_PART_SIZE + 12345)  # 4 parts, uncompressible
    small = random_tree(tmp_path, "small-1", 1000)
    assert not store.has_narinfo(storepath.hash_part(p.store_path))
    res = ship(store, [p, small], compression="none")
    assert sorted(res.uploaded) == sorted([p.store_path, small.store_path])
    info = res.narinfos[p.store_path]
    keys = s3_bucket.keys()
    assert "cache/nix-cache-info" in keys and f"cache/{info.url}" in keys
    assert f"cache/{storepath.hash_part(p.store_path)}.narinfo" in keys
    head = s3_bucket.client.head_object(Bucket=s3_bucket.name, Key=f"cache/{info.url}")
    assert head["ETag"].strip('"').endswith("-4")  # went up as a 4-part multipart upload
    assert head["ContentLength"] == info.file_size
    assert store.has_narinfo(storepath.hash_part(p.store_path))
    assert store.get_narinfo(storepath.hash_part(p.store_path)) == info
    assert store.get_nar(info.url) == b"".join(nar.iter_nar(p.source))
    again = ship(store, [p, small])
    assert again.uploaded == [] and len(again.skipped) == 2
    assert again.narinfos[p.store_path] == info
    assert s3_bucket.keys() == keys


def test_cancel_during_multipart_upload(s3_bucket: S3Bucket, tmp_path: Path) -> None:
    store = open_store(s3_bucket.store_url(**{"buffer-size": str(MIN_PART_SIZE)}))
    p = random_tree(tmp_path, "big-2", 4 * MIN_PART_SIZE)
    cancel = CancelToken()

    def progress(e: Event) -> None:
        if e.step == "upload" and (e.done_bytes or 0) > 0:
            cancel.cancel()

    with pytest.raises(Cancelled):
        ship(store, [p], compression="none", progress=progress, cancel=cancel)
    assert not any(k.endswith(".narinfo") for k in s3_bucket.keys())  # noqa: SIM118


def test_missing_bucket(s3_bucket: S3Bucket, tmp_path: Path) -> None:
    store = open_store(s3_bucket.store_url().replace(s3_bucket.name, "no-such-bucket-here"))
    with pytest.raises(FloxlsError) as err:
        ship(store, [random_tree(tmp_path, "x-1", 10)])
    assert "'no-such-bucket-here' does not exist" in err.value.message
    assert "\n" not in err.value.message


def test_denied_credentials(
    moto_server_strict: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAWRONGWRONGWRONG1")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "definitely-not-the-secret")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    store = open_store(f"s3://some-bucket?endpoint={moto_server_strict}&region=us-east-1")
    with pytest.raises(FloxlsError) as err:
        ship(store, [random_tree(tmp_path, "x-1", 10)])
    assert "access denied" in err.value.message
    assert "definitely-not-the-secret" not in str(err.value)
    assert "AKIAWRONG" not in str(err.value)


def test_no_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, moto_server: str) -> None:
    for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    store = open_store(f"s3://bucket?endpoint={moto_server}")
    with pytest.raises(FloxlsError, match="no AWS credentials"):
        store.has_narinfo("x" * 32)


def test_unreachable_endpoint_fails_fast(s3_bucket: S3Bucket, tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    store = open_store(f"s3://bucket?endpoint=127.0.0.1:{port}&scheme=http")
    start = time.monotonic()
    with pytest.raises(FloxlsError) as err:
        ship(store, [random_tree(tmp_path, "x-1", 10)])
    elapsed = time.monotonic() - start
    assert "unreachable" in err.value.message and "attempts" in err.value.message
    assert elapsed < 15, elapsed


def test_nix_reads_our_s3_upload_over_http(
    s3_bucket: S3Bucket, nix: Nix, nix_closure: BuiltClosure
) -> None:
    key = SecretKey.generate("s3-test-1")
    store = open_store(s3_bucket.store_url())
    res = ship(store, nix_closure.to_ship(), key=key)  # type: ignore[arg-type]
    assert sorted(res.uploaded) == sorted(nix_closure.paths)
    s3_bucket.make_public()
    dest = nix.store("dest")
    r = dest.copy_from(s3_bucket.http_url, [nix_closure.top], trusted_keys=[str(key.public())])
    assert r.returncode == 0, r.stderr
    assert dest.verify(nix_closure.paths, trusted_keys=[str(key.public())]).returncode == 0
    info = res.narinfos[nix_closure.top]
    assert compress.decompress(info.compression, store.get_nar(info.url)) == b"".join(
        nar.iter_nar(nix_closure.store.real(nix_closure.top))
    )
