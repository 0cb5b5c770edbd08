"""The embedded catalog: one sqlite file in the user's data dir (catalogs, packages, builds)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from floxls.catalog import (
    BuildRecord,
    PackageDetail,
    PackageSummary,
)
from floxls.catalog.urls import strip_credentials
from floxls.errors import FloxlsError
from floxls.manifest.schema import PACKAGE_NAME_RE

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS catalogs (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS packages (
    id INTEGER PRIMARY KEY,
    catalog_id INTEGER NOT NULL REFERENCES catalogs(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    original_url TEXT,
    description TEXT,
    version TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (catalog_id, name)
);
CREATE TABLE IF NOT EXISTS builds (
    id INTEGER PRIMARY KEY,
    package_id INTEGER NOT NULL REFERENCES packages(id) ON DELETE CASCADE,
    rev TEXT NOT NULL,
    system TEXT NOT NULL,
    version TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS builds_by_package ON builds (package_id, rev, system);
"""


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _casefold(value: str | None) -> str:
    return value.casefold() if value else ""


class LocalCatalog:
    """A catalog in a sqlite file; safe to use from several threads and processes."""

    def __init__(self, path: Path, name: str, *, store_url: str | None = None) -> None:
        self.path = path
        self._name = name
        self._store_url = store_url

    @property
    def name(self) -> str:
        return self._name

    @property
    def kind(self) -> Literal["floxhub", "local"]:
        return "local"

    def __repr__(self) -> str:
        return f"LocalCatalog(path={str(self.path)!r}, name={self._name!r})"

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with closing(sqlite3.connect(self.path, timeout=30)) as con:
                con.execute("PRAGMA foreign_keys = ON")
                con.create_function("casefold", 1, _casefold, deterministic=True)
                version = con.execute("PRAGMA user_version").fetchone()[0]
                if version > SCHEMA_VERSION:
                    raise FloxlsError(
                        f"the local catalog {self.path} was written by a newer floxls",
                        fix="upgrade floxls",
                    )
                if version < SCHEMA_VERSION:
                    with con:
                        con.executescript(_SCHEMA)
                        con.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                yield con
        except sqlite3.DatabaseError as exc:
            raise FloxlsError(
                f"the local catalog {self.path} cannot be used: {exc}",
                fix=f"move {self.path} aside; a new one is made on the next publish",
            ) from None
        except OSError as exc:
            raise FloxlsError(
                f"cannot open the local catalog {self.path}: {exc.strerror}",
                fix=f"check that {self.path.parent} is writable (or set FLOXLS_DATA_DIR)",
            ) from None

    def _package_id(self, con: sqlite3.Connection, catalog: str, pkg: str) -> int | None:
        row = con.execute(
            "SELECT p.id FROM packages p JOIN catalogs c ON c.id = p.catalog_id "
            "WHERE c.name = ? AND p.name = ?",
            (catalog, pkg),
        ).fetchone()
        return None if row is None else int(row[0])

    def ensure_package(self, pkg: str, original_url: str) -> None:
        if not PACKAGE_NAME_RE.fullmatch(pkg):
            raise FloxlsError(
                f"invalid package name {pkg!r}",
                fix="use 1-128 letters, digits, '.', '_' or '-'",
            )
        url = strip_credentials(original_url)
        now = _now()
        with self._connect() as con, con:
            con.execute(
                "INSERT OR IGNORE INTO catalogs (name, created_at) VALUES (?, ?)",
                (self._name, now),
            )
            (catalog_id,) = con.execute(
                "SELECT id FROM catalogs WHERE name = ?", (self._name,)
            ).fetchone()
            con.execute(
                "INSERT INTO packages (catalog_id, name, original_url, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (catalog_id, name) "
                "DO UPDATE SET original_url = excluded.original_url",
                (catalog_id, pkg, url, now, now),
            )

    def check_build(self, pkg: str, build: BuildRecord) -> bool | None:
        try:
            with self._connect() as con:
                package_id = self._package_id(con, self._name, pkg)
                if package_id is None:
                    return False
                row = con.execute(
                    "SELECT 1 FROM builds WHERE package_id = ? AND rev = ? AND system = ?",
                    (package_id, build.rev, build.derivation.system),
                ).fetchone()
                return row is not None
        except FloxlsError:
            return None

    def publish_info(self, pkg: str) -> dict[str, object]:
        if self._store_url is None:
            return {"catalog_store_config": {"store_type": "null"}}
        return {
            "ingress_uri": self._store_url,
            "catalog_store_config": {
                "store_type": "nix-copy",
                "ingress_uri": self._store_url,
                "egress_uri": self._store_url,
            },
        }

    def record_build(self, pkg: str, build: BuildRecord) -> None:
        record = build.to_json()
        now = _now()
        with self._connect() as con, con:
            package_id = self._package_id(con, self._name, pkg)
            if package_id is None:
                raise FloxlsError(
                    f"404: package {self._name}/{pkg} does not exist in the local catalog",
                    fix="create it first (the publish pipeline does: ensure_package)",
                )
            con.execute(
                "INSERT INTO builds (package_id, rev, system, version, recorded_at, record) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    package_id,
                    build.rev,
                    build.derivation.system,
                    build.derivation.version,
                    now,
                    json.dumps(record, sort_keys=True),
                ),
            )
            con.execute(
                "UPDATE packages SET description = ?, version = ?, updated_at = ? WHERE id = ?",
                (build.derivation.description, build.derivation.version, now, package_id),
            )

    def search(self, term: str) -> list[PackageSummary]:
        needle = term.strip().casefold()
        with self._connect() as con:
            rows = con.execute(
                "SELECT c.name, p.name, p.version, p.description FROM packages p "
                "JOIN catalogs c ON c.id = p.catalog_id "
                "WHERE instr(casefold(p.name), ?) > 0 OR instr(casefold(p.description), ?) > 0 "
                "ORDER BY (casefold(p.name) = ?) DESC, c.name, p.name",
                (needle, needle, needle),
            ).fetchall()
        return [PackageSummary(r[0], r[1], r[2], r[3]) for r in rows]

    def show(self, catalog: str, pkg: str) -> PackageDetail:
        with self._connect() as con:
            row = con.execute(
                "SELECT p.id, p.original_url FROM packages p "
                "JOIN catalogs c ON c.id = p.catalog_id WHERE c.name = ? AND p.name = ?",
                (catalog, pkg),
            ).fetchone()
            if row is None:
                raise FloxlsError(
                    f"no package {catalog}/{pkg} in the local catalog ({self.path})",
                    fix=f"search for it with `floxls search {pkg}`, or publish it first",
                )
            builds = con.execute(
                "SELECT record FROM builds WHERE package_id = ? ORDER BY id DESC", (row[0],)
            ).fetchall()
        return PackageDetail(
            catalog=catalog,
            name=pkg,
            original_url=row[1],
            builds=[BuildRecord.from_json(json.loads(b[0])) for b in builds],
        )
