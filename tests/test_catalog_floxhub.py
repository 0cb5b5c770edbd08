"""The FloxHub client against a real HTTP server on loopback (tests/support/floxhub.py)."""

from __future__ import annotations

import logging
import socket
from pathlib import Path

import httpx
import pytest

from floxls.catalog import handle_from_jwt, open_catalog, store_url_from_publish_info
from floxls.catalog.floxhub import FloxHubCatalog
from floxls.config import load_settings
from floxls.errors import FloxlsError
from tests.support.floxhub import FakeFloxHub, make_jwt, sample_build


def client(hub: FakeFloxHub, token: str | None = None, **kw: object) -> FloxHubCatalog:
    return FloxHubCatalog(hub.url, token or hub.token, **kw)  # type: ignore[arg-type]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_handle_from_jwt_claim_without_http(floxhub_server: FakeFloxHub):
    cat = client(floxhub_server)
    assert cat.kind == "floxhub"
    assert cat.name == "alice"
    assert floxhub_server.requests == []
    assert handle_from_jwt(make_jwt({"https://flox.dev/handle": "zoe"})) == "zoe"
    assert handle_from_jwt(make_jwt({"sub": "x"})) is None
    assert handle_from_jwt("not.a.jwt") is None
    assert handle_from_jwt("flox_pat_abc") is None


def test_handle_of_access_token_comes_from_me(floxhub_server: FakeFloxHub):
    token = floxhub_server.access_token("bob")
    cat = client(floxhub_server, token)
    assert cat.name == "bob"
    assert cat.name == "bob"  # cached: one request
    (req,) = floxhub_server.requests
    assert (req.method, req.path, req.status) == ("GET", "/accounts/api/v1/accounts/me", 200)
    assert req.headers["authorization"] == f"bearer {token}"


def test_access_token_rejected_by_me(floxhub_server: FakeFloxHub):
    cat = client(floxhub_server, "flox_pat_unknown-and-secret")
    with pytest.raises(FloxlsError) as info:
        _ = cat.name
    assert info.value.message.startswith("401: ")
    assert "flox auth login" in (info.value.fix or "")
    assert "unknown-and-secret" not in str(info.value)


def test_garbage_token_is_refused_without_leaking_it():
    cat = FloxHubCatalog("http://127.0.0.1:9", "garbage-secret-value")
    with pytest.raises(FloxlsError) as info:
        _ = cat.name
    assert "not a valid FloxHub token" in info.value.message
    assert "garbage-secret-value" not in str(info.value)


def test_full_publish_conversation(floxhub_server: FakeFloxHub):
    hub = floxhub_server
    hub.store_url = "s3://bucket/prefix?region=eu-west-1"
    cat = client(hub)
    build = sample_build()

    cat.ensure_package("hello", "https://alice:ghp_secret@github.com/alice/hello.git")
    cat.ensure_package("hello", "https://github.com/alice/hello.git")  # 200: fine too
    assert cat.check_build("hello", build) is False
    info = cat.publish_info("hello")
    assert store_url_from_publish_info(info) == "s3://bucket/prefix?region=eu-west-1"
    cat.record_build("hello", build)
    assert cat.check_build("hello", build) is True

    assert [(r.endpoint, r.status) for r in hub.requests] == [
        ("create_package", 201),
        ("create_package", 200),
        ("check_build", 200),
        ("publish_info", 200),
        ("record_build", 201),
        ("check_build", 200),
    ]
    for req in hub.requests:
        assert req.headers["authorization"] == f"bearer {hub.token}"
    create = hub.requests[0]
    assert create.path == "/api/v1/catalog/catalogs/alice/packages"
    assert create.query == {"name": ["hello"]}
    assert create.json == {"original_url": "https://github.com/alice/hello.git"}
    assert hub.requests[2].json == {
        "source_url": build.url,
        "source_rev": build.rev,
        "nixpkgs_rev": "",
        "system": "x86_64-linux",
        "locked_inputs": {},
    }
    assert hub.requests[3].json == {}
    assert hub.requests[4].json == build.to_json()
    assert hub.packages[("alice", "hello")]["builds"] == [build.to_json()]
    assert "ghp_secret" not in hub.all_text(with_auth=True)


def test_search_and_show(floxhub_server: FakeFloxHub):
    hub = floxhub_server
    cat = client(hub)
    cat.ensure_package("hello", "https://github.com/alice/hello.git")
    old = sample_build("1.0.0", rev_date="2024-01-01T00:00:00Z")
    new = sample_build("2.0.0", rev_date="2024-03-01T00:00:00Z")
    cat.record_build("hello", new)
    cat.record_build("hello", old)  # recorded later, but older

    results = cat.search("HELLO")
    assert [(r.catalog, r.name, r.version) for r in results] == [("alice", "hello", "1.0.0")]
    assert results[0].description == "A friendly greeting"
    assert cat.search("zzz") == []
    search_req = hub.requests_to("search")[0]
    assert search_req.query["search_term"] == ["HELLO"]
    assert search_req.status == 200

    detail = cat.show("alice", "hello")
    assert detail.original_url == "https://github.com/alice/hello.git"
    assert [b.derivation.version for b in detail.builds] == ["2.0.0", "1.0.0"]
    assert detail.builds[0].derivation == new.derivation
    assert detail.builds[0].narinfos == {}  # FloxHub's build list leaves them out

    with pytest.raises(FloxlsError) as info:
        cat.show("alice", "nope")
    assert "alice/nope" in info.value.message and "404" in info.value.message
    assert "floxls search nope" in (info.value.fix or "")


def test_errors_are_status_and_detail(floxhub_server: FakeFloxHub):
    hub = floxhub_server
    cat = client(hub)
    cat.ensure_package("hello", "https://x.example/r.git")
    hub.fail("record_build", 500, "database on fire")
    with pytest.raises(FloxlsError) as info:
        cat.record_build("hello", sample_build())
    assert info.value.message == "500: database on fire"
    assert "try again" in (info.value.fix or "")

    hub.fail("publish_info", 502, raw=b"<html>Bad Gateway</html>")
    with pytest.raises(FloxlsError) as info:
        cat.publish_info("hello")
    assert info.value.message == "502: <html>Bad Gateway</html>"

    with pytest.raises(FloxlsError) as info:
        cat.record_build("ghost", sample_build())
    assert info.value.message == "404: package alice/ghost not found"


def test_validation_errors_reach_the_user(floxhub_server: FakeFloxHub):
    cat = client(floxhub_server)
    cat.ensure_package("hello", "https://x.example/r.git")
    bad = sample_build()
    bad.rev = "not-a-rev"
    with pytest.raises(FloxlsError) as info:
        cat.record_build("hello", bad)
    assert info.value.message == "422: body.rev: not a full git revision"


def test_publishing_into_another_catalog_is_forbidden(floxhub_server: FakeFloxHub):
    cat = client(floxhub_server, handle="bob")
    with pytest.raises(FloxlsError) as info:
        cat.ensure_package("hello", "https://x.example/r.git")
    assert info.value.message.startswith("403: ")
    assert "FLOX_FLOXHUB_TOKEN" in (info.value.fix or "")


def test_unknown_token_is_401(floxhub_server: FakeFloxHub):
    cat = FloxHubCatalog(floxhub_server.url, make_jwt({"https://flox.dev/handle": "alice"}))
    with pytest.raises(FloxlsError) as info:
        cat.ensure_package("hello", "https://x")
    assert info.value.message == "401: invalid or missing bearer token"


def test_check_build_is_never_fatal(floxhub_server: FakeFloxHub):
    hub = floxhub_server
    cat = client(hub)
    build = sample_build()
    assert cat.check_build("hello", build) is None  # 404: no package yet
    cat.ensure_package("hello", "https://x")
    hub.fail("check_build", 500, "nope")
    assert cat.check_build("hello", build) is None
    hub.fail("check_build", 200, raw=b"not json")
    assert cat.check_build("hello", build) is None
    assert cat.check_build("hello", build) is False
    dead = FloxHubCatalog(f"http://127.0.0.1:{free_port()}", hub.token)
    assert dead.check_build("hello", build) is None


def test_timeout(floxhub_server: FakeFloxHub):
    hub = floxhub_server
    cat = client(hub, timeout=0.3)
    cat.ensure_package("hello", "https://x")
    hub.delay("publish_info", 2.0)
    with pytest.raises(FloxlsError) as info:
        cat.publish_info("hello")
    assert "did not answer within 0.3 s" in info.value.message


def test_unreachable_catalog():
    url = f"http://127.0.0.1:{free_port()}"
    cat = FloxHubCatalog(url, make_jwt({"https://flox.dev/handle": "alice"}))
    with pytest.raises(FloxlsError) as info:
        cat.ensure_package("hello", "https://x")
    assert f"cannot reach the catalog at {url}" in info.value.message


def test_fake_rejects_malformed_bodies(floxhub_server: FakeFloxHub):
    """The fake must be strict, or the tests above would prove nothing."""
    hub = floxhub_server
    headers = {"Authorization": f"bearer {hub.token}", "Content-Type": "application/json"}
    base = f"{hub.url}/api/v1/catalog/catalogs/alice/packages"
    good = sample_build().to_json()
    with httpx.Client(headers=headers) as http:
        assert (
            http.post(base, params={"name": "hello"}, json={"original_url": "x"}).status_code == 201
        )

        def post_build(body: object) -> httpx.Response:
            return http.post(f"{base}/hello/builds", json=body)

        cases = [
            (dict(good, extra=1), "unknown field(s) ['extra']"),
            ({k: v for k, v in good.items() if k != "rev_date"}, "missing field(s) ['rev_date']"),
            (dict(good, rev_count="7"), "body.rev_count: wrong type str"),
            (dict(good, build_type="nef"), "must be 'manifest'"),
            (dict(good, url="https://u:p@host/r.git"), "URL carries credentials"),
            (
                dict(good, derivation=dict(good["derivation"], outputs=[{"name": "out"}])),
                "missing field(s) ['store_path']",
            ),
            (
                dict(good, derivation=dict(good["derivation"], system="x86_64-plan9")),
                "body.derivation.system",
            ),
        ]
        for body, detail in cases:
            response = post_build(body)
            assert response.status_code == 422, body
            assert detail in response.json()["detail"]
        assert post_build(good).status_code == 201
        assert http.post(f"{base}/hello/publish/info", json={"x": 1}).status_code == 422
        assert (
            http.post(
                base, params={"name": "hello"}, json={"original_url": "x", "y": 2}
            ).status_code
            == 422
        )
        no_type = http.post(
            f"{base}/hello/publish/info", content=b"{}", headers={"Content-Type": "text/plain"}
        )
        assert no_type.status_code == 422
        assert (
            http.get(f"{hub.url}/api/v1/catalog/search", params={"search_term": "x"}).status_code
            == 422
        )
    assert httpx.post(f"{base}/hello/publish/info", json={}).status_code == 401
    assert (
        httpx.post(
            f"{base}/hello/publish/info", json={}, headers={"Authorization": f"Bearer {hub.token}x"}
        ).status_code
        == 401
    )
    assert len(hub.packages[("alice", "hello")]["builds"]) == 1


def test_open_catalog_uses_floxhub_with_a_token(floxhub_server: FakeFloxHub, tmp_path: Path):
    env = {
        "HOME": str(tmp_path),
        "FLOX_SYSTEM_CONFIG_DIR": "",
        "FLOX_FLOXHUB_TOKEN": floxhub_server.token,
        "FLOX_CATALOG_URL": floxhub_server.url + "/",
    }
    cat = open_catalog(load_settings(environ=env))
    assert isinstance(cat, FloxHubCatalog)
    assert cat.name == "alice"
    cat.ensure_package("hello", "https://x")
    assert floxhub_server.requests[0].status == 201


def test_token_never_appears_in_errors_reprs_or_logs(
    floxhub_server: FakeFloxHub, tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    hub = floxhub_server
    pat = hub.access_token("alice")
    tokens = [hub.token, pat]
    texts: list[str] = []
    caplog.set_level(logging.DEBUG)
    for token in tokens:
        cat = client(hub, token, timeout=0.3)
        texts.append(repr(cat))
        settings = load_settings(
            environ={
                "HOME": str(tmp_path),
                "FLOX_SYSTEM_CONFIG_DIR": "",
                "FLOX_FLOXHUB_TOKEN": token,
            }
        )
        texts += [repr(settings), str(settings)]
        cat.ensure_package("hello", "https://x")
        # the server echoes the token back in its error detail
        hub.fail("record_build", 400, f"token {token} is not allowed here")
        hub.fail("publish_info", 401, {"token": token}.__repr__())
        hub.fail("check_build", 500, f"bad {token}")
        hub.delay("list_builds", 1.0)
        attempts = [
            lambda c=cat: c.record_build("hello", sample_build()),
            lambda c=cat: c.publish_info("hello"),
            lambda c=cat: c.show("alice", "nope"),
            lambda c=cat: c.show("alice", "hello"),
            lambda t=token: FloxHubCatalog(f"http://127.0.0.1:{free_port()}", t).ensure_package(
                "x", "https://x"
            ),
        ]
        for attempt in attempts:
            with pytest.raises(FloxlsError) as info:
                attempt()
            texts += [str(info.value), repr(info.value), info.value.message, info.value.fix or ""]
        assert cat.check_build("hello", sample_build()) is None
        hub._delays.clear()
    texts.append(caplog.text)
    texts += [r.getMessage() for r in caplog.records]
    joined = "\n".join(texts)
    assert "400: token *** is not allowed here" in joined  # the echo was scrubbed
    for token in tokens:
        assert token not in joined
    # ... and the token only ever travelled in the Authorization header
    assert all(t not in hub.all_text(with_auth=False) for t in tokens)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://user:pass@github.com/a/b.git", "https://github.com/a/b.git"),
        ("https://ghp_tokenonly@github.com/a/b.git", "https://github.com/a/b.git"),
        ("https://x-access-token:ghs_abc@github.com:8443/a/b", "https://github.com:8443/a/b"),
        ("http://u:p@[::1]:8080/r", "http://[::1]:8080/r"),
        ("https://host/r.git?token=abc&ref=main", "https://host/r.git?ref=main"),
        ("https://host/x?X-Amz-Signature=s&X-Amz-Credential=c&a=1", "https://host/x?a=1"),
        ("https://host/x?access_token=t", "https://host/x"),
        ("s3://bucket/p?region=eu-west-1&secret-key=/k/s.sec", "s3://bucket/p?region=eu-west-1"),
        ("s3://bucket?endpoint=http://127.0.0.1:9000&scheme=http", None),
        ("ssh://git@github.com/a/b.git", "ssh://git@github.com/a/b.git"),
        ("ssh://git:secret@github.com/a/b.git", "ssh://github.com/a/b.git"),
        ("git@github.com:a/b.git", "git@github.com:a/b.git"),
        ("file:///home/u/cache", "file:///home/u/cache"),
        ("/just/a/path", "/just/a/path"),
        ("", ""),
    ],
)
def test_strip_credentials(url: str, expected: str | None):
    from floxls.catalog.urls import strip_credentials

    assert strip_credentials(url) == (url if expected is None else expected)
