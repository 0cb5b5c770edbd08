from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

import pytest

from floxls.catalog import (
    BuildRecord,
    local_catalog_name,
    narinfo_json,
    open_catalog,
    store_url_from_publish_info,
)
from floxls.catalog.local import LocalCatalog
from floxls.config import Settings, default_store_url
from floxls.errors import FloxlsError
from floxls.nix.narinfo import NarInfo
from tests.support.floxhub import BUILD_KEYS, sample_build


@pytest.fixture
def catalog(tmp_path: Path) -> LocalCatalog:
    return LocalCatalog(tmp_path / "data/catalog.sqlite", "alice", store_url="file:///c")


def test_build_record_json_shape_and_round_trip():
    build = sample_build()
    data = build.to_json()
    assert set(data) == BUILD_KEYS
    assert data["build_type"] == "manifest"
    assert data["locked_inputs"] == {}
    assert data["dot_flox_dir"] == ".flox"
    assert set(data["derivation"]) == {
        "drv_path",
        "system",
        "name",
        "pname",
        "version",
        "description",
        "license",
        "outputs",
        "outputs_to_install",
    }
    assert data["derivation"]["outputs"] == [
        {"name": "out", "store_path": build.derivation.outputs[0].store_path}
    ]
    assert BuildRecord.from_json(json.loads(json.dumps(data))) == build


def test_build_record_strips_credentials_from_urls():
    build = sample_build(url="https://bob:hunter2@git.example/r.git")
    build.cache_uri = "https://x-token:tok123@cache.example/c?token=abc&priority=1"
    data = build.to_json()
    assert data["url"] == "https://git.example/r.git"
    assert data["cache_uri"] == "https://cache.example/c?priority=1"


def test_publish_and_show_round_trip(catalog: LocalCatalog):
    catalog.ensure_package("hello", "https://user:pw@github.com/alice/hello.git")
    first = sample_build("1.0.0", rev_date="2024-01-01T00:00:00Z")
    second = sample_build("1.1.0", rev_date="2024-02-01T00:00:00Z")
    catalog.record_build("hello", first)
    catalog.record_build("hello", second)

    detail = catalog.show("alice", "hello")
    assert detail.catalog == "alice" and detail.name == "hello"
    assert detail.original_url == "https://github.com/alice/hello.git"
    assert [b.derivation.version for b in detail.builds] == ["1.1.0", "1.0.0"]
    assert detail.builds[0] == second
    assert detail.version == "1.1.0"
    assert detail.to_json()["builds"][1] == first.to_json()

    # a new object on the same file sees the same data (it is really on disk)
    again = LocalCatalog(catalog.path, "someone-else")
    assert again.show("alice", "hello").builds == detail.builds


def test_sqlite_file_holds_catalogs_packages_and_full_records(catalog: LocalCatalog):
    build = sample_build()
    catalog.ensure_package("hello", "https://github.com/alice/hello.git")
    catalog.record_build("hello", build)
    con = sqlite3.connect(catalog.path)
    try:
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"catalogs", "packages", "builds"} <= tables
        assert con.execute("SELECT name FROM catalogs").fetchall() == [("alice",)]
        (record,) = con.execute("SELECT record FROM builds").fetchone()
    finally:
        con.close()
    assert json.loads(record) == build.to_json()


def test_ensure_package_is_idempotent_and_updates_url(catalog: LocalCatalog):
    catalog.ensure_package("hello", "https://a.example/one.git")
    catalog.ensure_package("hello", "https://a.example/two.git")
    detail = catalog.show("alice", "hello")
    assert detail.original_url == "https://a.example/two.git"
    assert detail.builds == []
    assert len(catalog.search("hello")) == 1


def test_invalid_package_name_is_refused(catalog: LocalCatalog):
    with pytest.raises(FloxlsError, match="invalid package name"):
        catalog.ensure_package("bad/name", "https://x")


def test_record_build_needs_the_package(catalog: LocalCatalog):
    with pytest.raises(FloxlsError, match="does not exist"):
        catalog.record_build("ghost", sample_build())


def test_search_is_case_insensitive_substring_on_name_and_description(catalog: LocalCatalog):
    for pkg, desc in [
        ("hello", "A friendly GREETING"),
        ("Goodbye", "Waves farewell"),
        ("eclair", "Pâtisserie ÉCLAIRÉE"),
        ("pct", "100% discount_code"),
    ]:
        catalog.ensure_package(pkg, "https://x")
        catalog.record_build(pkg, sample_build(name=pkg, description=desc))
    assert [p.name for p in catalog.search("HELLO")] == ["hello"]
    assert [p.name for p in catalog.search("greet")] == ["hello"]
    assert [p.name for p in catalog.search("goodBYE")] == ["Goodbye"]
    assert [p.name for p in catalog.search("FAREWELL")] == ["Goodbye"]
    assert [p.name for p in catalog.search("éclairée")] == ["eclair"]
    assert [p.name for p in catalog.search("PÂTISSERIE")] == ["eclair"]
    # LIKE wildcards are plain characters here
    assert [p.name for p in catalog.search("%")] == ["pct"]
    assert [p.name for p in catalog.search("1_0")] == []
    assert catalog.search("nothing-like-it") == []
    summary = catalog.search("hello")[0]
    assert (summary.catalog, summary.version, summary.description) == (
        "alice",
        "1.0.0",
        "A friendly GREETING",
    )


def test_search_ranks_exact_name_first(catalog: LocalCatalog):
    for pkg in ["hello-extra", "ahello", "hello"]:
        catalog.ensure_package(pkg, "https://x")
    assert [p.name for p in catalog.search("hello")] == ["hello", "ahello", "hello-extra"]


def test_show_unknown_package(catalog: LocalCatalog):
    with pytest.raises(FloxlsError) as info:
        catalog.show("alice", "nope")
    assert "alice/nope" in info.value.message
    assert "floxls search" in (info.value.fix or "")


def test_check_build(catalog: LocalCatalog):
    build = sample_build()
    assert catalog.check_build("hello", build) is False  # no package yet
    catalog.ensure_package("hello", "https://x")
    assert catalog.check_build("hello", build) is False
    catalog.record_build("hello", build)
    assert catalog.check_build("hello", build) is True
    other_system = sample_build(rev=build.rev, system="aarch64-linux")
    assert catalog.check_build("hello", other_system) is False


def test_check_build_never_raises(tmp_path: Path):
    broken = tmp_path / "broken.sqlite"
    broken.write_bytes(b"this is not a database" * 100)
    assert LocalCatalog(broken, "alice").check_build("hello", sample_build()) is None


def test_corrupt_database_is_a_clear_error(tmp_path: Path):
    broken = tmp_path / "catalog.sqlite"
    broken.write_bytes(b"garbage" * 1000)
    with pytest.raises(FloxlsError) as info:
        LocalCatalog(broken, "alice").search("x")
    assert str(broken) in info.value.message
    assert "move" in (info.value.fix or "")


def test_publish_info_names_the_default_store(catalog: LocalCatalog, tmp_path: Path):
    info = catalog.publish_info("hello")
    assert store_url_from_publish_info(info) == "file:///c"
    bare = LocalCatalog(tmp_path / "x.sqlite", "alice")
    assert store_url_from_publish_info(bare.publish_info("hello")) is None


def test_open_catalog_without_token_is_local_in_data_dir(tmp_path: Path, monkeypatch):
    monkeypatch.setattr("getpass.getuser", lambda: "Jane Doe")
    settings = Settings(data_dir=tmp_path / "data", config_file=tmp_path / "flox.toml")
    cat = open_catalog(settings)
    assert isinstance(cat, LocalCatalog)
    assert cat.kind == "local"
    assert cat.name == "Jane-Doe"
    assert cat.path == tmp_path / "data/catalog.sqlite"
    info = cat.publish_info("hello")
    assert store_url_from_publish_info(info) == default_store_url(settings)
    assert default_store_url(settings) == f"file://{tmp_path}/data/cache"
    cat.ensure_package("hello", "https://x")
    assert (tmp_path / "data/catalog.sqlite").is_file()


def test_local_catalog_name(monkeypatch):
    assert local_catalog_name("alice") == "alice"
    monkeypatch.setattr("getpass.getuser", lambda: "root")
    assert local_catalog_name() == "root"
    monkeypatch.setattr("getpass.getuser", lambda: "DOMAIN\\john smith")
    assert local_catalog_name() == "DOMAIN-john-smith"
    monkeypatch.setattr("getpass.getuser", lambda: "///")
    assert local_catalog_name() == "local"

    def no_user() -> str:
        raise KeyError("uid")

    monkeypatch.setattr("getpass.getuser", no_user)
    assert local_catalog_name() == "local"


def test_concurrent_writers(tmp_path: Path):
    path = tmp_path / "catalog.sqlite"
    LocalCatalog(path, "alice").ensure_package("hello", "https://x")
    errors: list[BaseException] = []

    def publish(n: int) -> None:
        try:
            cat = LocalCatalog(path, "alice")
            for i in range(5):
                cat.record_build("hello", sample_build(f"{n}.{i}.0"))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=publish, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(LocalCatalog(path, "alice").show("alice", "hello").builds) == 20


def test_narinfo_json():
    info = NarInfo(
        store_path="/nix/store/" + "a" * 32 + "-hello-1.0",
        url="nar/abc.nar.zst",
        compression="zstd",
        file_hash="sha256:1111",
        file_size=10,
        nar_hash="sha256:2222",
        nar_size=20,
        references=["b" * 32 + "-dep", "/nix/store/" + "c" * 32 + "-dep2"],
        deriver="d" * 32 + "-hello.drv",
        sigs=["k-1:abc"],
    )
    assert narinfo_json(info) == {
        "path": info.store_path,
        "url": "nar/abc.nar.zst",
        "compression": "zstd",
        "downloadHash": "sha256:1111",
        "downloadSize": 10,
        "narHash": "sha256:2222",
        "narSize": 20,
        "references": ["/nix/store/" + "b" * 32 + "-dep", "/nix/store/" + "c" * 32 + "-dep2"],
        "deriver": "/nix/store/" + "d" * 32 + "-hello.drv",
        "signatures": ["k-1:abc"],
        "ca": None,
    }
