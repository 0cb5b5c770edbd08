"""Publishing with a FloxHub token: the catalog requests against a strict fake FloxHub."""

from __future__ import annotations

import pytest

from floxls.errors import FloxlsError
from floxls.publish.pipeline import run
from tests.support.floxhub import FakeFloxHub, validate_build
from tests.support.gitrepo import GitEnv, PublishSetup

pytestmark = pytest.mark.slow


def test_publish_records_the_build_on_floxhub(
    git_env: GitEnv, publish_setup: PublishSetup, floxhub_server: FakeFloxHub
) -> None:
    hub = floxhub_server
    result = run(
        publish_setup.request(git_env, "hello", floxhub_token=hub.token, catalog_url=hub.url)
    )
    assert result.catalog == "alice" and result.install_ref == "alice/hello"
    rejected = [r for r in hub.requests if r.status and r.status >= 400]
    assert rejected == [], [(r.endpoint, r.status, r.body) for r in rejected]
    endpoints = [r.endpoint for r in hub.requests if r.endpoint != "me"]
    assert endpoints.index("create_package") < endpoints.index("record_build")
    assert endpoints[-1] == "record_build"
    (build,) = hub.packages[("alice", "hello")]["builds"]
    validate_build(build)
    (path,) = result.store_paths
    assert build["rev"] == git_env.head() and build["ref"] == "main"
    assert build["derivation"]["outputs"] == [{"name": "out", "store_path": path}]
    assert build["derivation"]["version"] == "1.0.0"
    assert build["narinfos"][path]["narHash"].startswith("sha256:")
    assert build["cache_uri"] == publish_setup.cache_url
    assert hub.packages[("alice", "hello")]["original_url"] == str(git_env.remote)
    # nothing in the local catalog
    assert not (publish_setup.data_dir / "catalog.sqlite").exists()


def test_store_from_publish_info(
    git_env: GitEnv, publish_setup: PublishSetup, floxhub_server: FakeFloxHub
) -> None:
    hub = floxhub_server
    hub.store_url = publish_setup.cache_url
    result = run(
        publish_setup.request(
            git_env, "hello", floxhub_token=hub.token, catalog_url=hub.url, store_url=None
        )
    )
    assert result.store_url == publish_setup.cache_url
    assert len(publish_setup.narinfos()) == 1
    assert hub.requests_to("publish_info")


def test_no_store_anywhere(
    git_env: GitEnv, publish_setup: PublishSetup, floxhub_server: FakeFloxHub
) -> None:
    hub = floxhub_server
    with pytest.raises(FloxlsError, match="no binary cache") as info:
        run(
            publish_setup.request(
                git_env, "hello", floxhub_token=hub.token, catalog_url=hub.url, store_url=None
            )
        )
    assert "--store-url" in (info.value.fix or "")
    assert publish_setup.leftovers() == []


def test_floxhub_error_after_upload(
    git_env: GitEnv, publish_setup: PublishSetup, floxhub_server: FakeFloxHub
) -> None:
    hub = floxhub_server
    hub.fail("record_build", 503, "catalog is down for maintenance")
    req = publish_setup.request(git_env, "hello", floxhub_token=hub.token, catalog_url=hub.url)
    with pytest.raises(FloxlsError) as info:
        run(req)
    msg = info.value.message
    assert f"the build is uploaded to {publish_setup.cache_url}" in msg
    assert "did not record it" in msg and "503" in msg and "maintenance" in msg
    assert hub.packages[("alice", "hello")]["builds"] == []
    assert len(publish_setup.narinfos()) == 1
    # the rerun uploads nothing and records the build
    again = run(req)
    assert again.uploaded == [] and again.recorded
    assert len(hub.packages[("alice", "hello")]["builds"]) == 1


def test_floxhub_refuses_before_anything_is_built(
    git_env: GitEnv, publish_setup: PublishSetup, floxhub_server: FakeFloxHub
) -> None:
    hub = floxhub_server
    hub.fail("create_package", 403, "not allowed")
    req = publish_setup.request(git_env, "hello", floxhub_token=hub.token, catalog_url=hub.url)
    with pytest.raises(FloxlsError, match="403"):
        run(req)
    assert not publish_setup.cache_dir.exists()
    assert publish_setup.leftovers() == []
