"""Store URLs and the file:// store: parsing, errors, atomic writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from floxls.errors import FloxlsError
from floxls.store import BinaryCache, open_store
from floxls.store.url import parse_store_url


def test_parse_file_and_s3() -> None:
    u = parse_store_url("file:///srv/cache?compression=xz")
    assert u.scheme == "file" and u.path == Path("/srv/cache") and u.compression == "xz"
    s = parse_store_url(
        "s3://my-bucket/some/prefix?region=eu-west-1&endpoint=minio:9000&scheme=http"
        "&profile=ci&secret-key=/k.sec"
    )
    assert (s.bucket, s.prefix) == ("my-bucket", "some/prefix")
    assert s.params["region"] == "eu-west-1" and s.secret_key == Path("/k.sec")
    assert s.display().startswith("s3://my-bucket/some/prefix?endpoint=minio:9000")


@pytest.mark.parametrize(
    ("url", "msg"),
    [
        ("file://relative/dir", "not an absolute path"),
        ("file:relative", "relative path"),
        ("ftp://host/x", "scheme 'ftp'"),
        ("/just/a/path", "no scheme"),
        ("file:///x?compression=lz4", "unknown compression"),
        ("file:///x?colour=blue", "unknown parameter 'colour'"),
        ("s3://?region=x", "no valid bucket"),
        ("s3://Bad_Bucket!", "no valid bucket"),
        ("s3://bkt?scheme=gopher", "scheme must be http or https"),
        ("s3://AKIAXXX:sekrit@bucket", "carries credentials"),
        ("s3://bucket?endpoint=http://AKIAXXX:sekrit@minio:9000", "carries credentials"),
        ("s3://bucket?endpoint=AKIAXXX:sekrit@minio:9000", "carries credentials"),
    ],
)
def test_bad_urls_one_line_error(url: str, msg: str) -> None:
    with pytest.raises(FloxlsError) as err:
        open_store(url)
    assert msg in err.value.message
    assert "\n" not in err.value.message
    assert "sekrit" not in str(err.value)


def test_file_store_operations(tmp_path: Path) -> None:
    store = open_store(f"file://{tmp_path}/c")
    assert isinstance(store, BinaryCache)
    assert not store.has_narinfo("x" * 32) and store.get_narinfo("x" * 32) is None
    assert not (tmp_path / "c").exists()  # reads create nothing
    store.ensure_cache_info()
    (tmp_path / "c" / "nix-cache-info").write_text("StoreDir: /nix/store\nPriority: 10\n")
    store.ensure_cache_info()  # only when absent
    assert "Priority" in (tmp_path / "c" / "nix-cache-info").read_text()
    src = tmp_path / "f"
    src.write_bytes(b"x" * 10_000)
    got: list[int] = []
    store.put_nar(src, "nar/abc.nar", progress=got.append)
    assert sum(got) == 10_000 and store.get_nar("nar/abc.nar") == src.read_bytes()
    src.unlink()  # a hard link or a copy: either way it survives the temp file
    assert store.has_file("nar/abc.nar")
    assert [p.name for p in (tmp_path / "c" / "nar").iterdir()] == ["abc.nar"]
    with pytest.raises(FloxlsError, match="has no"):
        store.get_nar("nar/missing.nar")
    with pytest.raises(FloxlsError, match="invalid key"):
        store.get_nar("../../etc/passwd")


def test_unwritable_file_store(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    store = open_store(f"file://{tmp_path}/file/cache")
    with pytest.raises(FloxlsError, match="cannot create"):
        store.ensure_cache_info()


@pytest.mark.parametrize("content", [b"\xff\xfe not utf-8\n", b"StorePath: nonsense\n"])
def test_corrupt_narinfo_is_a_floxls_error(tmp_path: Path, content: bytes) -> None:
    store = open_store(f"file://{tmp_path}")
    (tmp_path / f"{'a' * 32}.narinfo").write_bytes(content)
    with pytest.raises(FloxlsError, match=f"{'a' * 32}.narinfo"):
        store.get_narinfo("a" * 32)
