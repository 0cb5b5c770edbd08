"""Catalogs: where published builds are recorded (FloxHub's API, or a local sqlite file).

`open_catalog(settings)` picks FloxHub when a token is configured, else the local catalog.
Nothing here imports httpx at module level: the language server imports this cheaply.
"""

from __future__ import annotations

import base64
import binascii
import getpass
import json
import platform
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

from floxls.catalog.urls import strip_credentials
from floxls.errors import FloxlsError

if TYPE_CHECKING:
    from floxls.config import Settings
    from floxls.nix.narinfo import NarInfo

__all__ = [
    "BuildRecord",
    "Catalog",
    "Derivation",
    "Output",
    "PackageDetail",
    "PackageSummary",
    "current_system",
    "handle_from_jwt",
    "local_catalog_name",
    "narinfo_json",
    "open_catalog",
    "store_url_from_publish_info",
    "strip_credentials",
]

HANDLE_CLAIM = "https://flox.dev/handle"
ACCESS_TOKEN_PREFIX = "flox_"


@dataclass
class Output:
    name: str
    store_path: str

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "store_path": self.store_path}


@dataclass
class Derivation:
    drv_path: str
    system: str
    name: str
    pname: str
    version: str
    description: str | None = None
    license: str | None = None
    outputs: list[Output] = field(default_factory=list)
    outputs_to_install: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return {
            "drv_path": self.drv_path,
            "system": self.system,
            "name": self.name,
            "pname": self.pname,
            "version": self.version,
            "description": self.description,
            "license": self.license,
            "outputs": [o.to_json() for o in self.outputs],
            "outputs_to_install": list(self.outputs_to_install),
        }


@dataclass
class BuildRecord:
    """The body of `POST .../packages/{pkg}/builds` (DESIGN 6), field for field.

    `narinfos` maps each store path to its narinfo as Nix's `path-info --json` spells it
    (see `narinfo_json`). `url` and `cache_uri` are stripped of credentials on output.
    """

    url: str
    rev: str
    rev_count: int
    rev_date: str  # ISO 8601 date-time, e.g. "2024-05-01T12:00:00Z"
    ref: str | None
    derivation: Derivation
    narinfos: dict[str, dict[str, object]] = field(default_factory=dict)
    cache_uri: str | None = None
    dot_flox_dir: str = ".flox"
    build_type: str = "manifest"
    locked_inputs: dict[str, object] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        return {
            "url": strip_credentials(self.url),
            "rev": self.rev,
            "rev_count": self.rev_count,
            "rev_date": self.rev_date,
            "ref": self.ref,
            "derivation": self.derivation.to_json(),
            "narinfos": {k: dict(v) for k, v in self.narinfos.items()},
            "cache_uri": strip_credentials(self.cache_uri) if self.cache_uri else None,
            "dot_flox_dir": self.dot_flox_dir,
            "build_type": self.build_type,
            "locked_inputs": dict(self.locked_inputs),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> BuildRecord:
        """Read a record back (from the local catalog, or FloxHub's build list, which
        leaves out `narinfos` and `locked_inputs`)."""
        try:
            drv = data["derivation"]
            if not isinstance(drv, Mapping):
                raise TypeError("derivation")
            outputs_raw = drv.get("outputs") or []
            if not isinstance(outputs_raw, list):
                raise TypeError("outputs")
            outputs = [Output(str(o["name"]), str(o["store_path"])) for o in outputs_raw]
            to_install = drv.get("outputs_to_install") or []
            narinfos = data.get("narinfos") or {}
            locked = data.get("locked_inputs") or {}
            if not isinstance(to_install, list) or not isinstance(narinfos, dict):
                raise TypeError("narinfos")
            if not isinstance(locked, dict):
                raise TypeError("locked_inputs")
            rev_count = data["rev_count"]
            if not isinstance(rev_count, int | str):
                raise TypeError("rev_count")
            return cls(
                url=str(data["url"]),
                rev=str(data["rev"]),
                rev_count=int(rev_count),
                rev_date=str(data["rev_date"]),
                ref=_opt_str(data.get("ref")),
                derivation=Derivation(
                    drv_path=str(drv["drv_path"]),
                    system=str(drv["system"]),
                    name=str(drv["name"]),
                    pname=str(drv.get("pname") or drv["name"]),
                    version=str(drv.get("version") or ""),
                    description=_opt_str(drv.get("description")),
                    license=_opt_str(drv.get("license")),
                    outputs=outputs,
                    outputs_to_install=[str(x) for x in to_install],
                ),
                narinfos={str(k): dict(v) for k, v in narinfos.items() if isinstance(v, dict)},
                cache_uri=_opt_str(data.get("cache_uri")),
                dot_flox_dir=str(data.get("dot_flox_dir") or ".flox"),
                build_type=str(data.get("build_type") or "manifest"),
                locked_inputs=dict(locked),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise FloxlsError(f"malformed build record from the catalog ({exc})") from None


def _opt_str(value: object) -> str | None:
    return None if value is None else str(value)


@dataclass
class PackageSummary:
    catalog: str
    name: str
    version: str | None = None
    description: str | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "catalog": self.catalog,
            "name": self.name,
            "version": self.version,
            "description": self.description,
        }


@dataclass
class PackageDetail:
    catalog: str
    name: str
    original_url: str | None
    builds: list[BuildRecord] = field(default_factory=list)  # newest first

    @property
    def version(self) -> str | None:
        return self.builds[0].derivation.version if self.builds else None

    @property
    def description(self) -> str | None:
        return self.builds[0].derivation.description if self.builds else None

    def to_json(self) -> dict[str, object]:
        return {
            "catalog": self.catalog,
            "name": self.name,
            "original_url": strip_credentials(self.original_url) if self.original_url else None,
            "version": self.version,
            "description": self.description,
            "builds": [b.to_json() for b in self.builds],
        }


@runtime_checkable
class Catalog(Protocol):
    """What the publish pipeline and the `search`/`show` commands need of a catalog."""

    @property
    def name(self) -> str:
        """The catalog packages are published into (the user's handle)."""
        ...

    @property
    def kind(self) -> Literal["floxhub", "local"]: ...

    def ensure_package(self, pkg: str, original_url: str) -> None:
        """Create the package (and the user's catalog) if missing; fine if it exists."""
        ...

    def check_build(self, pkg: str, build: BuildRecord) -> bool | None:
        """Whether this build (same source rev and system) is already recorded;
        None when that cannot be told. Never raises."""
        ...

    def publish_info(self, pkg: str) -> dict[str, object]:
        """What the catalog says about publishing `pkg` (e.g. which store to use)."""
        ...

    def record_build(self, pkg: str, build: BuildRecord) -> None: ...

    def search(self, term: str) -> list[PackageSummary]: ...

    def show(self, catalog: str, pkg: str) -> PackageDetail: ...


def narinfo_json(info: NarInfo, store_dir: str = "/nix/store") -> dict[str, object]:
    """A narinfo as `BuildRecord.narinfos` holds it (Nix's `path-info --json` names)."""
    refs = [r if r.startswith("/") else f"{store_dir}/{r}" for r in info.references]
    deriver = info.deriver
    if deriver and not deriver.startswith("/"):
        deriver = f"{store_dir}/{deriver}"
    return {
        "path": info.store_path,
        "url": info.url,
        "compression": info.compression,
        "downloadHash": info.file_hash,
        "downloadSize": info.file_size,
        "narHash": info.nar_hash,
        "narSize": info.nar_size,
        "references": refs,
        "deriver": deriver,
        "signatures": list(info.sigs),
        "ca": info.ca,
    }


def store_url_from_publish_info(info: Mapping[str, object]) -> str | None:
    """The store a catalog asks builds to be uploaded to, if it names one."""
    ingress = info.get("ingress_uri")
    if isinstance(ingress, str) and ingress:
        return ingress
    config = info.get("catalog_store_config")
    if isinstance(config, Mapping):
        for key in ("ingress_uri", "publisher_url"):
            value = config.get(key)
            if isinstance(value, str) and value:
                return value
    return None


def current_system() -> str:
    """This machine as a Nix system double, e.g. `x86_64-linux`."""
    machine = platform.machine().lower()
    arch = {"amd64": "x86_64", "x86_64": "x86_64", "arm64": "aarch64", "aarch64": "aarch64"}
    system = platform.system().lower()
    return f"{arch.get(machine, machine)}-{system}"


def handle_from_jwt(token: str) -> str | None:
    """The `https://flox.dev/handle` claim of a JWT, read without verifying it."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload.encode("ascii")))
    except (binascii.Error, ValueError, UnicodeError):
        return None
    if not isinstance(claims, dict):
        return None
    handle = claims.get(HANDLE_CLAIM)
    return handle if isinstance(handle, str) and handle else None


def local_catalog_name(handle: str | None = None) -> str:
    """The local catalog's name: the FloxHub handle when known, else the login name."""
    if handle:
        return handle
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry and no LOGNAME/USER
        user = ""
    name = re.sub(r"[^a-zA-Z0-9._-]+", "-", user).strip("-.")[:128]
    return name or "local"


def open_catalog(settings: Settings) -> Catalog:
    """FloxHub when a token is configured, else the local sqlite catalog."""
    if settings.floxhub_token:
        from floxls.catalog.floxhub import FloxHubCatalog

        return FloxHubCatalog(settings.catalog_url, settings.floxhub_token)
    from floxls.catalog.local import LocalCatalog
    from floxls.config import default_store_url

    return LocalCatalog(
        settings.data_dir / "catalog.sqlite",
        local_catalog_name(),
        store_url=default_store_url(settings),
    )
