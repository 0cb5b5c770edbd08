"""FloxHub's catalog API over httpx (imported lazily), as `flox publish` uses it.

Errors become `FloxlsError("<status>: <detail>", fix)`. The token goes into the
Authorization header only: it is never logged, never put in a URL and scrubbed from any
text that reaches an error message.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Literal
from urllib.parse import quote

from floxls import __version__
from floxls.catalog import (
    ACCESS_TOKEN_PREFIX,
    BuildRecord,
    PackageDetail,
    PackageSummary,
    current_system,
    handle_from_jwt,
)
from floxls.catalog.urls import strip_credentials
from floxls.errors import FloxlsError

if TYPE_CHECKING:
    import httpx

log = logging.getLogger("floxls.catalog.floxhub")

ME_PATH = "/accounts/api/v1/accounts/me"
CATALOGS_PATH = "/api/v1/catalog/catalogs"
SEARCH_PATH = "/api/v1/catalog/search"
TOKEN_FIX = (
    "check your FloxHub token (floxhub_token in flox.toml or FLOX_FLOXHUB_TOKEN); "
    "log in again with `flox auth login`"
)
TIMEOUT_SECONDS = 30.0
CONNECT_TIMEOUT_SECONDS = 10.0
MAX_DETAIL = 300


def _seg(value: str) -> str:
    return quote(value, safe="")


class FloxHubCatalog:
    """The FloxHub catalog of the user the token belongs to."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: float = TIMEOUT_SECONDS,
        handle: str | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token
        self._timeout = timeout
        self._handle = handle

    def __repr__(self) -> str:
        return f"FloxHubCatalog(base_url={strip_credentials(self.base_url)!r})"

    @property
    def kind(self) -> Literal["floxhub", "local"]:
        return "floxhub"

    @property
    def name(self) -> str:
        """The user's handle: from the JWT claim, or from FloxHub for `flox_` tokens."""
        if self._handle is None:
            self._handle = self._resolve_handle()
        return self._handle

    # -- HTTP -----------------------------------------------------------------

    def _scrub(self, text: str) -> str:
        return text.replace(self._token, "***") if self._token else text

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: object = None,
        what: str,
    ) -> httpx.Response:
        import httpx

        url = self.base_url + path
        headers = {
            "Authorization": f"bearer {self._token}",
            "Accept": "application/json",
            "User-Agent": f"floxls/{__version__}",
        }
        content: bytes | None = None
        if body is not None:
            content = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        log.debug("%s %s", method, strip_credentials(url))
        timeout = httpx.Timeout(self._timeout, connect=min(CONNECT_TIMEOUT_SECONDS, self._timeout))
        try:
            with httpx.Client(timeout=timeout, follow_redirects=False) as client:
                response = client.request(
                    method, url, params=params, headers=headers, content=content
                )
        except httpx.TimeoutException:
            raise FloxlsError(
                f"{what}: the catalog at {strip_credentials(self.base_url)} did not answer "
                f"within {self._timeout:g} s",
                fix="try again; check your network and catalog_url",
            ) from None
        except httpx.HTTPError as exc:
            reason = self._scrub(str(exc)) or type(exc).__name__
            raise FloxlsError(
                f"{what}: cannot reach the catalog at {strip_credentials(self.base_url)}: {reason}",
                fix="check your network connection and the catalog_url setting",
            ) from None
        if response.status_code >= 400:
            raise self._error(response, what)
        return response

    def _error(self, response: httpx.Response, what: str) -> FloxlsError:
        status = response.status_code
        detail: str
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if isinstance(payload, dict) and "detail" in payload:
            raw = payload["detail"]
            detail = raw if isinstance(raw, str) else json.dumps(raw, separators=(",", ":"))
        else:
            detail = response.text.strip() or response.reason_phrase or "no detail"
        detail = self._scrub(" ".join(detail.split()))
        if len(detail) > MAX_DETAIL:
            detail = detail[: MAX_DETAIL - 1] + "…"
        if status in (401, 403):
            fix = f"{what} was refused: {TOKEN_FIX}"
        elif status == 404:
            fix = f"{what}: check the catalog and package names"
        elif status >= 500:
            fix = f"{what} failed on FloxHub's side; try again later"
        else:
            fix = f"{what} was rejected by the catalog at {strip_credentials(self.base_url)}"
        return FloxlsError(f"{status}: {detail}", fix)

    def _json(self, response: httpx.Response, what: str) -> object:
        try:
            return response.json()
        except ValueError:
            raise FloxlsError(
                f"{what}: the catalog sent a response that is not JSON ({response.status_code})",
                fix="check the catalog_url setting",
            ) from None

    # -- identity -------------------------------------------------------------

    def _resolve_handle(self) -> str:
        if self._token.startswith(ACCESS_TOKEN_PREFIX):
            what = "looking up your FloxHub handle"
            data = self._json(self._request("GET", ME_PATH, what=what), what)
            handle = data.get("handle") if isinstance(data, dict) else None
            if not isinstance(handle, str) or not handle:
                raise FloxlsError(f"{what}: FloxHub's answer has no handle", fix=TOKEN_FIX)
            return handle
        handle = handle_from_jwt(self._token)
        if handle is None:
            raise FloxlsError("the FloxHub token is not a valid FloxHub token", fix=TOKEN_FIX)
        return handle

    # -- the Catalog protocol -------------------------------------------------

    def _pkg_path(self, pkg: str, catalog: str | None = None) -> str:
        return f"{CATALOGS_PATH}/{_seg(catalog or self.name)}/packages/{_seg(pkg)}"

    def ensure_package(self, pkg: str, original_url: str) -> None:
        self._request(
            "POST",
            f"{CATALOGS_PATH}/{_seg(self.name)}/packages",
            params={"name": pkg},
            body={"original_url": strip_credentials(original_url)},
            what=f"creating package {self.name}/{pkg}",
        )

    def check_build(self, pkg: str, build: BuildRecord) -> bool | None:
        body = {
            "source_url": strip_credentials(build.url),
            "source_rev": build.rev,
            "nixpkgs_rev": "",
            "system": build.derivation.system,
            "locked_inputs": dict(build.locked_inputs),
        }
        try:
            what = "checking for an earlier build"
            response = self._request(
                "POST", f"{self._pkg_path(pkg)}/check-build", body=body, what=what
            )
            data = self._json(response, what)
        except FloxlsError as exc:
            log.info("check-build failed (not fatal): %s", exc.message)
            return None
        if isinstance(data, dict) and isinstance(data.get("already_published"), bool):
            return bool(data["already_published"])
        return None

    def publish_info(self, pkg: str) -> dict[str, object]:
        what = f"asking how to publish {self.name}/{pkg}"
        response = self._request("POST", f"{self._pkg_path(pkg)}/publish/info", body={}, what=what)
        data = self._json(response, what)
        return dict(data) if isinstance(data, dict) else {}

    def record_build(self, pkg: str, build: BuildRecord) -> None:
        self._request(
            "POST",
            f"{self._pkg_path(pkg)}/builds",
            body=build.to_json(),
            what=f"recording the build of {self.name}/{pkg}",
        )

    def search(self, term: str) -> list[PackageSummary]:
        what = f"searching for {term!r}"
        response = self._request(
            "GET",
            SEARCH_PATH,
            params={"search_term": term, "system": current_system(), "pageSize": "50"},
            what=what,
        )
        data = self._json(response, what)
        items = data.get("items") if isinstance(data, dict) else None
        result: list[PackageSummary] = []
        for item in items if isinstance(items, list) else []:
            if not isinstance(item, dict):
                continue
            name = item.get("attr_path") or item.get("pname") or item.get("name")
            if not isinstance(name, str):
                continue
            catalog = item.get("catalog")
            version = item.get("version")
            description = item.get("description")
            result.append(
                PackageSummary(
                    catalog=catalog if isinstance(catalog, str) and catalog else "nixpkgs",
                    name=name,
                    version=version if isinstance(version, str) else None,
                    description=description if isinstance(description, str) else None,
                )
            )
        return result

    def show(self, catalog: str, pkg: str) -> PackageDetail:
        what = f"looking up {catalog}/{pkg}"
        try:
            response = self._request("GET", self._pkg_path(pkg, catalog), what=what)
        except FloxlsError as exc:
            if exc.message.startswith("404:"):
                raise FloxlsError(
                    f"no package {catalog}/{pkg} in FloxHub's catalog ({exc.message})",
                    fix=f"search for it with `floxls search {pkg}`, or publish it first",
                ) from None
            raise
        package = self._json(response, what)
        original = package.get("original_url") if isinstance(package, dict) else None
        builds_response = self._request("GET", f"{self._pkg_path(pkg, catalog)}/builds", what=what)
        data = self._json(builds_response, what)
        items = data.get("items") if isinstance(data, dict) else None
        builds = [
            BuildRecord.from_json(item)
            for item in (items if isinstance(items, list) else [])
            if isinstance(item, dict)
        ]
        builds.sort(key=lambda b: _date_key(b.rev_date), reverse=True)
        return PackageDetail(
            catalog=catalog,
            name=pkg,
            original_url=original if isinstance(original, str) else None,
            builds=builds,
        )


def _date_key(value: str) -> float:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0
