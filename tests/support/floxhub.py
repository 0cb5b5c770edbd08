"""A fake FloxHub on loopback: the endpoints of DESIGN section 6, strictly validated.

Usage::

    def test_x(floxhub_server):
        hub = floxhub_server                  # a FakeFloxHub, fresh for each test
        hub.url                               # http://127.0.0.1:<port> (use as catalog_url)
        hub.token, hub.handle                 # a registered JWT for handle "alice"
        tok = hub.access_token("bob")         # a registered opaque `flox_pat_...` token
        hub.fail("record_build", 500, "boom") # next request to that endpoint fails
        hub.delay("search", 2.0)              # answer that endpoint after 2 s
        hub.requests                          # every request: method, path, query, headers, body
        hub.requests_to("record_build")       # just those (accepted or not)
        hub.packages[("alice", "hello")]      # state: original_url, builds (full records)

Every request is recorded, whether or not it is accepted. Requests without a known
`Authorization: bearer <token>` get 401; bodies with unknown, missing or mistyped fields
get 422 `{"detail": ...}`; URLs carrying credentials get 422.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

SYSTEMS = {"aarch64-darwin", "aarch64-linux", "x86_64-darwin", "x86_64-linux"}
NAME_RE = re.compile(r"^[a-zA-Z0-9._-]{1,128}$")
STORE_PATH_RE = re.compile(r"^/nix/store/[0123456789abcdfghijklmnpqrsvwxyz]{32}-[^/]+$")
REV_RE = re.compile(r"^([0-9a-f]{40}|[0-9a-f]{64})$")

BUILD_KEYS = {
    "url",
    "rev",
    "rev_count",
    "rev_date",
    "ref",
    "derivation",
    "narinfos",
    "cache_uri",
    "dot_flox_dir",
    "build_type",
    "locked_inputs",
}
DERIVATION_KEYS = {
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
NARINFO_KEYS = {
    "path",
    "url",
    "compression",
    "downloadHash",
    "downloadSize",
    "narHash",
    "narSize",
    "references",
    "deriver",
    "signatures",
    "ca",
    "registrationTime",
    "ultimate",
    "closureSize",
    "closureDownloadSize",
}
CHECK_BUILD_REQUIRED = {"source_url", "source_rev", "nixpkgs_rev", "system"}
CHECK_BUILD_OPTIONAL = {"locked_inputs"}


class Invalid(Exception):
    """A request the fake rejects: status and detail."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes
    endpoint: str | None = None
    status: int | None = None

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    def text(self, with_auth: bool = True) -> str:
        headers = {k: v for k, v in self.headers.items() if with_auth or k != "authorization"}
        return f"{self.method} {self.path} {self.query}\n{headers}\n" + self.body.decode(
            "utf-8", "replace"
        )


@dataclass
class _Fault:
    status: int
    detail: str | None
    raw: bytes | None
    times: int


def make_jwt(claims: dict[str, Any]) -> str:
    def enc(obj: Any) -> str:
        raw = json.dumps(obj, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    sig = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
    return f"{enc({'typ': 'JWT', 'alg': 'HS256'})}.{enc(claims)}.{sig}"


@dataclass
class FakeFloxHub:
    url: str = ""
    tokens: dict[str, str] = field(default_factory=dict)  # token -> handle
    requests: list[RecordedRequest] = field(default_factory=list)
    packages: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    store_url: str | None = None  # what publish/info tells (None: store_type "null")
    token: str = ""
    handle: str = "alice"
    _faults: dict[str, list[_Fault]] = field(default_factory=dict)
    _delays: dict[str, float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    # -- set-up -----------------------------------------------------------------
    def jwt(self, handle: str) -> str:
        """A JWT carrying `https://flox.dev/handle`, registered as valid."""
        token = make_jwt(
            {
                "https://flox.dev/handle": handle,
                "exp": 9999999999,
                "sub": f"github|{secrets.randbelow(10**8)}",
                "nonce": secrets.token_hex(8),
            }
        )
        self.tokens[token] = handle
        return token

    def access_token(self, handle: str) -> str:
        """An opaque `flox_pat_` token, registered as valid (identity via /me)."""
        token = "flox_pat_" + secrets.token_urlsafe(24)
        self.tokens[token] = handle
        return token

    def fail(
        self,
        endpoint: str,
        status: int,
        detail: str | None = "injected failure",
        *,
        times: int = 1,
        raw: bytes | None = None,
    ) -> None:
        """Make the next `times` requests to `endpoint` answer `status` with
        `{"detail": detail}` (or the `raw` bytes as the body)."""
        self._faults.setdefault(endpoint, []).append(_Fault(status, detail, raw, times))

    def delay(self, endpoint: str, seconds: float) -> None:
        self._delays[endpoint] = seconds

    # -- inspection -------------------------------------------------------------
    def requests_to(self, endpoint: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.endpoint == endpoint]

    def all_text(self, with_auth: bool = False) -> str:
        """Everything every request carried (without Authorization headers by default)."""
        return "\n".join(r.text(with_auth) for r in self.requests)

    # -- internals --------------------------------------------------------------
    def _take_fault(self, endpoint: str) -> _Fault | None:
        with self.lock:
            queue = self._faults.get(endpoint)
            if not queue:
                return None
            fault = queue[0]
            fault.times -= 1
            if fault.times <= 0:
                queue.pop(0)
            return fault


_ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    ("GET", re.compile(r"^/accounts/api/v1/accounts/me$"), "me"),
    ("GET", re.compile(r"^/api/v1/catalog/search$"), "search"),
    ("POST", re.compile(r"^/api/v1/catalog/catalogs/(?P<c>[^/]+)/packages$"), "create_package"),
    (
        "POST",
        re.compile(r"^/api/v1/catalog/catalogs/(?P<c>[^/]+)/packages/(?P<p>[^/]+)/check-build$"),
        "check_build",
    ),
    (
        "POST",
        re.compile(r"^/api/v1/catalog/catalogs/(?P<c>[^/]+)/packages/(?P<p>[^/]+)/publish/info$"),
        "publish_info",
    ),
    (
        "POST",
        re.compile(r"^/api/v1/catalog/catalogs/(?P<c>[^/]+)/packages/(?P<p>[^/]+)/builds$"),
        "record_build",
    ),
    (
        "GET",
        re.compile(r"^/api/v1/catalog/catalogs/(?P<c>[^/]+)/packages/(?P<p>[^/]+)/builds$"),
        "list_builds",
    ),
    (
        "GET",
        re.compile(r"^/api/v1/catalog/catalogs/(?P<c>[^/]+)/packages/(?P<p>[^/]+)$"),
        "get_package",
    ),
]


def _has_credentials(url: str) -> bool:
    if "://" not in url:
        return False
    parts = urlsplit(url)
    if "@" in parts.netloc and parts.scheme not in ("ssh", "git+ssh"):
        return True
    if "@" in parts.netloc and ":" in parts.netloc.rpartition("@")[0]:
        return True
    return bool(re.search(r"(token|secret|password|signature)=", parts.query, re.I))


def _exact_keys(
    obj: Any, where: str, required: set[str], optional: frozenset[str] | set[str] = frozenset()
) -> None:
    if not isinstance(obj, dict):
        raise Invalid(422, f"{where}: expected an object")
    missing = required - obj.keys()
    unknown = obj.keys() - required - optional
    if missing:
        raise Invalid(422, f"{where}: missing field(s) {sorted(missing)}")
    if unknown:
        raise Invalid(422, f"{where}: unknown field(s) {sorted(unknown)}")


def _typed(obj: dict[str, Any], key: str, types: tuple[type, ...], where: str) -> Any:
    value = obj[key]
    if isinstance(value, bool) and bool not in types:
        raise Invalid(422, f"{where}.{key}: wrong type bool")
    if not isinstance(value, types):
        raise Invalid(422, f"{where}.{key}: wrong type {type(value).__name__}")
    return value


def _check_url(value: str | None, where: str) -> None:
    if value is not None and _has_credentials(value):
        raise Invalid(422, f"{where}: URL carries credentials")


def validate_build(body: Any) -> None:
    """Reject anything but a DESIGN 6 build record (422)."""
    _exact_keys(body, "body", BUILD_KEYS)
    _check_url(_typed(body, "url", (str,), "body"), "body.url")
    if not REV_RE.match(_typed(body, "rev", (str,), "body")):
        raise Invalid(422, "body.rev: not a full git revision")
    if _typed(body, "rev_count", (int,), "body") < 0:
        raise Invalid(422, "body.rev_count: negative")
    rev_date = _typed(body, "rev_date", (str,), "body")
    try:
        datetime.fromisoformat(rev_date.replace("Z", "+00:00"))
    except ValueError:
        raise Invalid(422, "body.rev_date: not an ISO 8601 date-time") from None
    _typed(body, "ref", (str, type(None)), "body")
    _check_url(_typed(body, "cache_uri", (str, type(None)), "body"), "body.cache_uri")
    _typed(body, "dot_flox_dir", (str,), "body")
    if body["build_type"] != "manifest":
        raise Invalid(422, "body.build_type: must be 'manifest'")
    if body["locked_inputs"] != {}:
        raise Invalid(422, "body.locked_inputs: must be {}")

    drv = body["derivation"]
    _exact_keys(drv, "body.derivation", DERIVATION_KEYS)
    for key in ("drv_path", "name", "pname", "version"):
        _typed(drv, key, (str,), "body.derivation")
    for key in ("description", "license"):
        _typed(drv, key, (str, type(None)), "body.derivation")
    if drv["system"] not in SYSTEMS:
        raise Invalid(422, f"body.derivation.system: not one of {sorted(SYSTEMS)}")
    outputs = _typed(drv, "outputs", (list,), "body.derivation")
    if not outputs:
        raise Invalid(422, "body.derivation.outputs: empty")
    names = set()
    for i, out in enumerate(outputs):
        _exact_keys(out, f"body.derivation.outputs[{i}]", {"name", "store_path"})
        names.add(_typed(out, "name", (str,), "output"))
        if not STORE_PATH_RE.match(_typed(out, "store_path", (str,), "output")):
            raise Invalid(422, f"body.derivation.outputs[{i}].store_path: not a store path")
    to_install = _typed(drv, "outputs_to_install", (list,), "body.derivation")
    for name in to_install:
        if name not in names:
            raise Invalid(422, f"body.derivation.outputs_to_install: unknown output {name!r}")

    narinfos = _typed(body, "narinfos", (dict,), "body")
    for path, info in narinfos.items():
        if not STORE_PATH_RE.match(path):
            raise Invalid(422, f"body.narinfos: key {path!r} is not a store path")
        if not isinstance(info, dict):
            raise Invalid(422, f"body.narinfos[{path}]: expected an object")
        unknown = info.keys() - NARINFO_KEYS
        if unknown:
            raise Invalid(422, f"body.narinfos[{path}]: unknown field(s) {sorted(unknown)}")
        if "references" in info and not isinstance(info["references"], list):
            raise Invalid(422, f"body.narinfos[{path}].references: expected a list")
        for key in ("narSize", "downloadSize"):
            if key in info and info[key] is not None and not isinstance(info[key], int):
                raise Invalid(422, f"body.narinfos[{path}].{key}: expected an integer")


class _Handler(BaseHTTPRequestHandler):
    server_version = "FakeFloxHub/1"
    protocol_version = "HTTP/1.1"
    hub: FakeFloxHub  # set on the subclass made per server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def _send(self, status: int, payload: Any = None, raw: bytes | None = None) -> None:
        data = raw if raw is not None else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(data)  # the client may have given up (timeouts)

    def _handle(self, method: str) -> None:
        hub = self.hub
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        record = RecordedRequest(
            method=method,
            path=parts.path,
            query=parse_qs(parts.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        with hub.lock:
            hub.requests.append(record)
        try:
            status, payload = self._dispatch(method, parts.path, record)
        except Invalid as exc:
            status, payload = exc.status, {"detail": exc.detail}
        record.status = status
        if isinstance(payload, bytes):
            self._send(status, raw=payload)
        else:
            self._send(status, payload)

    def _dispatch(self, method: str, path: str, req: RecordedRequest) -> tuple[int, Any]:
        hub = self.hub
        endpoint = None
        match = None
        path_known = False
        for route_method, pattern, name in _ROUTES:
            m = pattern.match(path)
            if m:
                path_known = True
                if route_method == method:
                    endpoint, match = name, m
                    break
        if endpoint is None or match is None:
            raise Invalid(
                405 if path_known else 404, "Method Not Allowed" if path_known else "Not Found"
            )
        req.endpoint = endpoint

        auth = req.headers.get("authorization", "")
        scheme, _, token = auth.partition(" ")
        if scheme != "bearer" or token not in hub.tokens:
            raise Invalid(401, "invalid or missing bearer token")
        user = hub.tokens[token]

        delay = hub._delays.get(endpoint)
        if delay:
            time.sleep(delay)
        fault = hub._take_fault(endpoint)
        if fault is not None:
            if fault.raw is not None:
                return fault.status, fault.raw
            return fault.status, {"detail": fault.detail}

        groups = {k: unquote(v) for k, v in match.groupdict().items()}
        handler = getattr(self, f"_ep_{endpoint}")
        result: tuple[int, Any] = handler(req, user, **groups)
        return result

    # -- endpoints --------------------------------------------------------------
    def _json_body(self, req: RecordedRequest) -> Any:
        ctype = req.headers.get("content-type", "")
        if not ctype.startswith("application/json"):
            raise Invalid(422, f"Content-Type must be application/json, not {ctype!r}")
        try:
            return json.loads(req.body)
        except ValueError:
            raise Invalid(422, "body is not JSON") from None

    def _no_query(
        self, req: RecordedRequest, allowed: frozenset[str] | set[str] = frozenset()
    ) -> None:
        unknown = req.query.keys() - allowed
        if unknown:
            raise Invalid(422, f"unknown query parameter(s) {sorted(unknown)}")

    def _owner(self, user: str, catalog: str) -> None:
        if catalog != user:
            raise Invalid(403, f"not allowed to publish to catalog {catalog!r}")

    def _package(self, catalog: str, pkg: str) -> dict[str, Any]:
        package = self.hub.packages.get((catalog, pkg))
        if package is None:
            raise Invalid(404, f"package {catalog}/{pkg} not found")
        return package

    def _ep_me(self, req: RecordedRequest, user: str) -> tuple[int, Any]:
        self._no_query(req)
        if req.body:
            raise Invalid(422, "GET /me takes no body")
        return 200, {"user_id": f"pat|{user}", "handle": user, "expires_at": None}

    def _ep_create_package(self, req: RecordedRequest, user: str, c: str) -> tuple[int, Any]:
        self._no_query(req, {"name"})
        names = req.query.get("name", [])
        if len(names) != 1 or not NAME_RE.match(names[0]):
            raise Invalid(422, "query parameter `name`: missing or not a valid package name")
        body = self._json_body(req)
        _exact_keys(body, "body", {"original_url"})
        _check_url(_typed(body, "original_url", (str,), "body"), "body.original_url")
        self._owner(user, c)
        with self.hub.lock:
            key = (c, names[0])
            existed = key in self.hub.packages
            if existed:
                self.hub.packages[key]["original_url"] = body["original_url"]
            else:
                self.hub.packages[key] = {"original_url": body["original_url"], "builds": []}
        return (200 if existed else 201), {
            "catalog": c,
            "name": names[0],
            "original_url": body["original_url"],
        }

    def _ep_check_build(self, req: RecordedRequest, user: str, c: str, p: str) -> tuple[int, Any]:
        self._no_query(req)
        body = self._json_body(req)
        _exact_keys(body, "body", CHECK_BUILD_REQUIRED, CHECK_BUILD_OPTIONAL)
        for key in ("source_url", "source_rev", "nixpkgs_rev"):
            _typed(body, key, (str,), "body")
        _check_url(body["source_url"], "body.source_url")
        if body["system"] not in SYSTEMS:
            raise Invalid(422, "body.system: not a known system")
        if "locked_inputs" in body:
            _typed(body, "locked_inputs", (dict, type(None)), "body")
        package = self._package(c, p)
        for build in package["builds"]:
            if (
                build["rev"] == body["source_rev"]
                and build["derivation"]["system"] == body["system"]
            ):
                return 200, {
                    "already_published": True,
                    "published_at": None,
                    "source_rev": build["rev"],
                    "source_rev_date": build["rev_date"],
                }
        return 200, {"already_published": False}

    def _ep_publish_info(self, req: RecordedRequest, user: str, c: str, p: str) -> tuple[int, Any]:
        self._no_query(req)
        body = self._json_body(req)
        _exact_keys(body, "body", set())
        self._owner(user, c)
        self._package(c, p)
        if self.hub.store_url is None:
            return 200, {
                "ingress_uri": None,
                "ingress_auth": None,
                "catalog_store_config": {"store_type": "null"},
            }
        url = self.hub.store_url
        return 200, {
            "ingress_uri": url,
            "ingress_auth": None,
            "catalog_store_config": {
                "store_type": "nix-copy",
                "ingress_uri": url,
                "egress_uri": url,
            },
        }

    def _ep_record_build(self, req: RecordedRequest, user: str, c: str, p: str) -> tuple[int, Any]:
        self._no_query(req)
        body = self._json_body(req)
        validate_build(body)
        self._owner(user, c)
        package = self._package(c, p)
        with self.hub.lock:
            package["builds"].append(body)
        return 201, {}

    def _ep_get_package(self, req: RecordedRequest, user: str, c: str, p: str) -> tuple[int, Any]:
        self._no_query(req)
        package = self._package(c, p)
        return 200, {"catalog": c, "name": p, "original_url": package["original_url"]}

    def _ep_list_builds(self, req: RecordedRequest, user: str, c: str, p: str) -> tuple[int, Any]:
        self._no_query(req)
        package = self._package(c, p)
        items = [
            {k: v for k, v in b.items() if k not in ("narinfos", "locked_inputs")}
            for b in package["builds"]
        ]
        return 200, {"items": items}

    def _ep_search(self, req: RecordedRequest, user: str) -> tuple[int, Any]:
        self._no_query(req, {"search_term", "system", "catalogs", "page", "pageSize"})
        systems = req.query.get("system", [])
        if len(systems) != 1 or systems[0] not in SYSTEMS:
            raise Invalid(422, "query parameter `system`: missing or unknown")
        term = (req.query.get("search_term") or [""])[0].casefold()
        catalogs = set((req.query.get("catalogs") or [""])[0].split(",")) - {""}
        items: list[dict[str, Any]] = []
        with self.hub.lock:
            for (catalog, name), package in sorted(self.hub.packages.items()):
                if catalogs and catalog not in catalogs:
                    continue
                latest = package["builds"][-1]["derivation"] if package["builds"] else None
                description = latest["description"] if latest else None
                if term not in name.casefold() and term not in (description or "").casefold():
                    continue
                items.append(
                    {
                        "attr_path": name,
                        "catalog": catalog,
                        "pkg_path": name,
                        "name": latest["name"] if latest else name,
                        "pname": latest["pname"] if latest else name,
                        "version": latest["version"] if latest else None,
                        "description": description,
                        "stabilities": [],
                        "system": systems[0],
                    }
                )
        return 200, {"items": items, "total_count": len(items)}


@pytest.fixture
def floxhub_server() -> Iterator[FakeFloxHub]:
    """A fresh FakeFloxHub on 127.0.0.1 (free port), stopped after the test."""
    hub = FakeFloxHub()
    handler = type("BoundHandler", (_Handler,), {"hub": hub})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.02},
        name="fake-floxhub",
        daemon=True,
    )
    thread.start()
    hub.url = f"http://127.0.0.1:{server.server_address[1]}"
    hub.token = hub.jwt(hub.handle)
    try:
        yield hub
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def sample_build(
    version: str = "1.0.0",
    *,
    rev: str | None = None,
    system: str = "x86_64-linux",
    name: str = "hello",
    description: str | None = "A friendly greeting",
    url: str = "https://github.com/alice/hello.git",
    rev_date: str = "2024-05-01T12:00:00Z",
) -> Any:
    """A valid `floxls.catalog.BuildRecord` for tests (a real-looking store path)."""
    from floxls.catalog import BuildRecord, Derivation, Output

    rev = rev or secrets.token_hex(20)
    alphabet = "0123456789abcdfghijklmnpqrsvwxyz"
    digest = "".join(alphabet[b % 32] for b in secrets.token_bytes(32))
    store_path = f"/nix/store/{digest}-{name}-{version}"
    return BuildRecord(
        url=url,
        rev=rev,
        rev_count=7,
        rev_date=rev_date,
        ref="main",
        derivation=Derivation(
            drv_path=f"/nix/store/{digest[::-1]}-{name}-{version}.drv",
            system=system,
            name=f"{name}-{version}",
            pname=name,
            version=version,
            description=description,
            license="MIT",
            outputs=[Output("out", store_path)],
            outputs_to_install=["out"],
        ),
        narinfos={
            store_path: {
                "path": store_path,
                "url": f"nar/{digest}.nar.zst",
                "compression": "zstd",
                "downloadHash": f"sha256:{digest[:52]}",
                "downloadSize": 123,
                "narHash": f"sha256:{digest[:52]}",
                "narSize": 456,
                "references": [],
                "deriver": None,
                "signatures": ["cache.example-1:c2ln"],
                "ca": None,
            }
        },
        cache_uri="file:///tmp/cache",
    )
