"""The schema checker: a parsed `Manifest` -> the problems Flox would have with it.

`check(manifest)` walks the value tree once against `floxls.manifest.schema`, doing O(1)
work per entry (dict lookups in precomputed specs), then runs the few cross-checks that need
the whole document (runtime-packages vs [install]). It never raises: a bug in here becomes
one `internal-error` problem instead of a crash.

Problem codes (stable):
  missing-version, unknown-schema-version, version-conflict, needs-newer-schema,
  unknown-key, ignored-key, wrong-type, invalid-value, missing-key, option-not-allowed,
  install-no-source, install-many-sources, build-missing-command, invalid-package-name,
  unknown-runtime-package, runtime-package-not-toplevel, sandbox-allow-no-effect,
  daemon-needs-shutdown, include-no-source, include-many-sources, deprecated-key,
  unknown-system, invalid-var-name, internal-error
(plus the parser's toml-syntax, duplicate-key, table-redefined).
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

from floxls.manifest import schema as S
from floxls.manifest.model import (
    Array,
    ArrayOfTables,
    Entry,
    Fix,
    Position,
    Problem,
    Range,
    Related,
    Scalar,
    Severity,
    Table,
    TextEdit,
    Value,
)
from floxls.manifest.suggest import suggest

if TYPE_CHECKING:
    from floxls.manifest.model import Manifest

ERROR = Severity.ERROR
WARNING = Severity.WARNING

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_DOTTED_PREFIX = re.compile(r"\s*(?:[A-Za-z0-9_-]+\s*\.\s*)*")
_REMOTE_REF = re.compile(r"[^/\s]+/[^/\s]+")
_ZERO = Range(Position(0, 0), Position(0, 0))

_SHAPE_OF_KIND = {
    "string": "string",
    "integer": "integer",
    "boolean": "boolean",
    "float": "float",
    "datetime": "datetime",
    "date": "datetime",
    "time": "datetime",
}
_DESCRIBE_KIND = {
    "string": "a string",
    "integer": "an integer",
    "float": "a float",
    "boolean": "a boolean",
    "datetime": "a date-time",
    "date": "a date",
    "time": "a time",
}


def check(manifest: Manifest) -> list[Problem]:
    """Syntax problems from the parser plus schema problems, sorted by position."""
    try:
        base = list(manifest.problems)
    except Exception:
        base = []
    try:
        checker = _Checker(manifest)
        checker.run()
        found = base + checker.out
    except Exception as exc:  # a bug here must never take the editor or CI down
        found = [
            *base,
            Problem(
                "internal-error",
                f"floxls could not check this manifest (internal error: {type(exc).__name__})",
                _ZERO,
                ERROR,
                hint="please report this with the manifest that triggers it",
            ),
        ]
    found.sort(key=_sort_key)
    return found


def _sort_key(p: Problem) -> tuple[int, int, int, int, str]:
    r = p.range
    return (r.start.line, r.start.character, r.end.line, r.end.character, p.code)


def toml_key(name: str) -> str:
    """A key as it must be written in TOML: bare when possible, else quoted."""
    return name if _BARE_KEY.fullmatch(name) else json.dumps(name)


def _dotted(path: tuple[str, ...]) -> str:
    return ".".join(toml_key(p) for p in path)


def _describe(value: Value) -> str:
    if isinstance(value, Scalar):
        return _DESCRIBE_KIND.get(value.kind, "a value")
    if isinstance(value, Array):
        return "an array"
    if isinstance(value, ArrayOfTables):
        return "an array of tables"
    return "a table"


def value_range(entry: Entry) -> Range:
    """Where an entry's value is written: the value, the table header, or the dotted key."""
    v = entry.value
    if isinstance(v, Table):
        if v.kind == "inline":
            return v.range
        if v.header_range is not None:
            return v.header_range
        return entry.key_range
    if isinstance(v, ArrayOfTables):
        if v.tables and v.tables[0].header_range is not None:
            return v.tables[0].header_range
        return v.range
    return v.range


def _anchor(entry: Entry | None, table: Table) -> Range:
    """Where to report something missing from a table: its header, else its key."""
    if table.header_range is not None and table.kind in ("header", "array-item"):
        return table.header_range
    if entry is not None:
        return entry.key_range
    return table.range


class _Checker:
    def __init__(self, manifest: Manifest) -> None:
        self.m = manifest
        self.out: list[Problem] = []
        self.schema: S.SchemaTuple | None = None
        self.version_entry: Entry | None = None
        self.schema_entry: Entry | None = None
        self.runtime_refs: list[tuple[Entry, Scalar]] = []
        self.has_include = False

    # -- reporting --------------------------------------------------------------------

    def add(
        self,
        code: str,
        message: str,
        rng: Range,
        severity: Severity = ERROR,
        hint: str | None = None,
        fix: Fix | None = None,
        related: tuple[Related, ...] = (),
    ) -> None:
        self.out.append(Problem(code, message, rng, severity, hint, fix, related))

    def line_text(self, n: int) -> str:
        try:
            return self.m.line(n)
        except (IndexError, ValueError):
            return ""

    # -- the walk ---------------------------------------------------------------------

    def run(self) -> None:
        root = self.m.root
        self.check_version(root)
        include = root.entries.get("include")
        self.has_include = include is not None
        for name, entry in root.entries.items():
            if name in ("version", "schema-version"):
                continue
            spec = S.ROOT.keys.get(name)
            if spec is None:
                self.unknown_key(entry, S.ROOT)
            else:
                self.check_entry(entry, spec)
        self.check_runtime_packages(root)

    def check_entry(self, entry: Entry, spec: S.KeySpec) -> None:
        since = spec.since_tuple
        if since is not None and self.schema is not None and self.schema < since:
            self.needs_newer(f"`{_dotted(entry.path)}`", spec.since or "", entry.key_range)
        self.check_value(entry.value, spec, entry)

    def check_value(self, value: Value, spec: S.KeySpec, entry: Entry) -> None:
        shapes = spec.shapes
        if "any" in shapes:
            return
        if isinstance(value, Scalar):
            shape = _SHAPE_OF_KIND.get(value.kind, value.kind)
            if shape not in shapes:
                self.wrong_type(value, spec, entry)
                return
            if shape == "string":
                self.check_string(value, spec, entry)
            elif shape == "integer" and spec.minimum is not None:
                v = value.value
                if isinstance(v, int) and v < spec.minimum:
                    self.add(
                        "invalid-value",
                        f"`{_dotted(entry.path)}` must be at least {spec.minimum}",
                        value.range,
                        hint=f"use a number >= {spec.minimum}",
                    )
            return
        if isinstance(value, Array):
            if "array" not in shapes or spec.items is None:
                self.wrong_type(value, spec, entry)
                return
            items = spec.items
            for item in value.items:
                if isinstance(item, Table) and items.is_table:
                    self.check_table(item, items, None)
                else:
                    self.check_value(item, items, entry)
            if spec.role == "runtime-packages":
                for item in value.items:
                    if isinstance(item, Scalar) and isinstance(item.value, str):
                        self.runtime_refs.append((entry, item))
            elif spec.role == "sandbox-allow":
                for item in value.items:
                    if (
                        isinstance(item, Scalar)
                        and isinstance(item.value, str)
                        and any(c.isspace() for c in item.value)
                    ):
                        self.add(
                            "invalid-value",
                            "a `sandbox-allow` pattern must not contain spaces",
                            item.range,
                            hint="Flox passes the patterns space-separated; "
                            "use `*` or `?` in place of a space",
                        )
            return
        if isinstance(value, ArrayOfTables):
            if "array" not in shapes or spec.items is None or not spec.items.is_table:
                self.wrong_type(value, spec, entry)
                return
            for table in value.tables:
                self.check_table(table, spec.items, None)
            return
        # Table
        if "table" not in shapes:
            self.wrong_type(value, spec, entry)
            return
        self.check_table(value, spec, entry)

    def check_string(self, value: Scalar, spec: S.KeySpec, entry: Entry) -> None:
        text = value.value
        if not isinstance(text, str):
            return
        role = spec.role
        if spec.values and text not in spec.values:
            guess = suggest(text, spec.values)
            fix = (
                Fix(f'Change to "{guess}"', (TextEdit(value.range, json.dumps(guess)),))
                if guess
                else None
            )
            if spec is S.SYSTEM_ITEM:
                self.add(
                    "unknown-system",
                    f'"{text}" is not a system Flox supports',
                    value.range,
                    WARNING,
                    hint=(f'did you mean "{guess}"? ' if guess else "")
                    + "supported: "
                    + ", ".join(S.SYSTEMS),
                    fix=fix,
                )
                return
            allowed = " | ".join(f'"{v}"' for v in spec.values)
            self.add(
                "invalid-value",
                f'"{text}" is not a valid value for `{_dotted(entry.path)}`',
                value.range,
                hint=(f'did you mean "{guess}"? ' if guess else "") + f"expected {allowed}",
                fix=fix,
            )
            return
        needed = spec.value_since.get(text)
        if needed is not None and self.schema is not None and self.schema < S.schema_tuple(needed):
            self.needs_newer(f'`{_dotted(entry.path)} = "{text}"`', needed, value.range)
        if role == "minimum-cli-version":
            self.check_semver(value, entry)

    def check_semver(self, value: Scalar, entry: Entry) -> None:
        text = value.value
        if isinstance(text, str) and not S.SEMVER_RE.fullmatch(text):
            lenient = self.schema is not None and self.schema < (1, 11, 0)
            self.add(
                "invalid-value",
                f'"{text}" is not a semantic version (MAJOR.MINOR.PATCH)',
                value.range,
                WARNING if lenient else ERROR,
                hint='write all three numbers, e.g. "1.11.0"',
            )

    def check_table(self, table: Table, spec: S.KeySpec, entry: Entry | None) -> None:
        keys = spec.keys
        wildcard = spec.wildcard
        role = spec.role
        for name, child_entry in table.entries.items():
            child = keys.get(name)
            if child is None:
                child = wildcard
            if child is None:
                if role == "build-version":
                    self.add(
                        "ignored-key",
                        f"Flox ignores `{name}` in a build version table",
                        child_entry.key_range,
                        WARNING,
                        hint="use only `file` or `command`",
                        fix=self.delete_fix(child_entry),
                    )
                else:
                    self.unknown_key(child_entry, spec)
                continue
            self.check_entry(child_entry, child)
        if role:
            self.check_role(role, table, spec, entry)
        elif spec.required:
            self.check_required(table, spec, entry)

    # -- role checks --------------------------------------------------------------------

    def check_required(self, table: Table, spec: S.KeySpec, entry: Entry | None) -> None:
        for req in spec.required:
            if req not in table.entries:
                where = _dotted(entry.path) if entry is not None else spec.name
                self.add(
                    "missing-key",
                    f"`{where}` needs `{req}`",
                    _anchor(entry, table),
                    hint=f"add `{req} = ...`",
                    fix=self.insert_key_fix(entry, table, req, '""'),
                )

    def check_role(self, role: str, table: Table, spec: S.KeySpec, entry: Entry | None) -> None:
        entries = table.entries
        if role == "install-descriptor" and entry is not None:
            self.check_install(table, entry)
        elif role == "build-target" and entry is not None:
            self.check_build(table, entry)
        elif role == "service":
            self.check_required(table, spec, entry)
            daemon = entries.get("is-daemon")
            if (
                daemon is not None
                and isinstance(daemon.value, Scalar)
                and daemon.value.value is True
                and "shutdown" not in entries
            ):
                name = entry.key if entry is not None else "service"
                self.add(
                    "daemon-needs-shutdown",
                    f"service `{name}` is a daemon but has no `shutdown.command`",
                    daemon.key_range,
                    hint='add `shutdown.command = "..."` that stops the daemon',
                )
        elif role == "include-descriptor":
            self.check_include(table)
        elif role == "build-version" and entry is not None:
            has_file = "file" in entries
            if not has_file and "command" not in entries:
                self.add(
                    "missing-key",
                    f"`{_dotted(entry.path)}` needs `file` or `command`",
                    _anchor(entry, table),
                    hint='e.g. `version.file = "VERSION"` or `version = "1.0.0"`',
                )
            elif has_file and "command" in entries:
                self.add(
                    "ignored-key",
                    "Flox reads the version from `file` and ignores `command`",
                    entries["command"].key_range,
                    WARNING,
                    hint="keep only one of `file` and `command`",
                    fix=self.delete_fix(entries["command"]),
                )
        elif role == "minimum-cli-version" and entry is not None:
            if self.schema is not None and self.schema < (1, 11, 0):
                self.needs_newer(
                    "the table form of `minimum-cli-version`", "1.11.0", value_range(entry)
                )
            for req in ("version", "reason"):
                if req not in entries:
                    self.add(
                        "missing-key",
                        f"`minimum-cli-version` as a table needs `{req}`",
                        _anchor(entry, table),
                        hint='write both: { version = "1.11.0", reason = "..." }, '
                        "or just the version string",
                    )
            ver = entries.get("version")
            if ver is not None and isinstance(ver.value, Scalar) and ver.value.kind == "string":
                self.check_semver(ver.value, ver)
        elif role == "var-map":
            for name, e in entries.items():
                if not S.VAR_NAME_RE.fullmatch(name):
                    self.add(
                        "invalid-var-name",
                        f"`{name}` is not a usable environment variable name",
                        e.key_range,
                        WARNING,
                        hint="use letters, digits and `_`, not starting with a digit",
                    )
        if spec.required and role not in ("service", "build-target", "install-descriptor"):
            self.check_required(table, spec, entry)

    def check_install(self, table: Table, entry: Entry) -> None:
        entries = table.entries
        sources = [k for k in entries if k in S.INSTALL_KIND_KEYS]
        if not sources:
            self.add(
                "install-no-source",
                f"package `{entry.key}` needs one of `pkg-path`, `flake` or `store-path`",
                _anchor(entry, table),
                hint=f'e.g. `pkg-path = "{entry.key}"` for the Flox catalog',
                fix=self.insert_key_fix(entry, table, "pkg-path", json.dumps(entry.key)),
            )
            return
        if len(sources) > 1:
            first = entries[sources[0]]
            for extra in sources[1:]:
                self.add(
                    "install-many-sources",
                    f"package `{entry.key}` has both `{sources[0]}` and `{extra}`; "
                    "a package comes from exactly one source",
                    entries[extra].key_range,
                    hint=f"keep one of `{sources[0]}` and `{extra}`",
                    related=(Related(first.key_range, f"`{sources[0]}` is set here"),),
                )
            return
        kind = sources[0]
        allowed = S.INSTALL_KIND_KEYS[kind]
        for name, e in entries.items():
            if name in S.INSTALL_DESCRIPTOR.keys and name not in allowed:
                what = {"pkg-path": "a catalog", "flake": "a flake", "store-path": "a store-path"}
                self.add(
                    "option-not-allowed",
                    f"`{name}` is not allowed in {what[kind]} package (`{kind}`)",
                    e.key_range,
                    hint="allowed here: " + ", ".join(f"`{k}`" for k in sorted(allowed)),
                    fix=self.delete_fix(e),
                )

    def check_build(self, table: Table, entry: Entry) -> None:
        name = entry.key
        entries = table.entries
        if not S.PACKAGE_NAME_RE.fullmatch(name):
            self.add(
                "invalid-package-name",
                f'"{name}" is not a valid package name',
                entry.key_range,
                hint="use 1 to 128 letters, digits, `.`, `_` or `-`",
            )
        # A misspelt `command` (`comand`) is reported once, as an unknown key whose fix
        # renames it; "no command" on top would be the same mistake twice.
        if "command" not in entries and not any(
            suggest(key, ("command",)) == "command" for key in entries
        ):
            self.add(
                "build-missing-command",
                f"build `{name}` has no `command`",
                _anchor(entry, table),
                hint='add `command = "..."` that builds the package into `$out`',
                fix=self.insert_key_fix(entry, table, "command", '""'),
            )
        allow = entries.get("sandbox-allow")
        if allow is not None:
            sandbox = entries.get("sandbox")
            mode = (
                sandbox.value.value
                if sandbox is not None and isinstance(sandbox.value, Scalar)
                else "off"
            )
            if mode not in ("warn", "enforce"):
                self.add(
                    "sandbox-allow-no-effect",
                    f'`sandbox-allow` has no effect with sandbox = "{mode}"',
                    allow.key_range,
                    WARNING,
                    hint='set `sandbox = "warn"` or `sandbox = "enforce"`, or remove it',
                )

    def check_include(self, table: Table) -> None:
        entries = table.entries
        anchor = table.header_range if table.header_range is not None else table.range
        sources = [k for k in entries if k in ("dir", "remote", "reference")]
        if not sources:
            self.add(
                "include-no-source",
                "an included environment needs `dir` or `remote`",
                anchor,
                hint='e.g. { dir = "../other" } or { remote = "owner/name" }',
            )
        elif len(sources) > 1:
            first = entries[sources[0]]
            for extra in sources[1:]:
                self.add(
                    "include-many-sources",
                    f"an included environment has both `{sources[0]}` and `{extra}`",
                    entries[extra].key_range,
                    hint="give one of `dir` (local) or `remote` (FloxHub)",
                    related=(Related(first.key_range, f"`{sources[0]}` is set here"),),
                )
        elif sources[0] == "dir" and "generation" in entries:
            self.add(
                "option-not-allowed",
                "`generation` is only allowed with `remote`",
                entries["generation"].key_range,
                hint="remove `generation` from a local (`dir`) include",
                fix=self.delete_fix(entries["generation"]),
            )
        ref = entries.get("reference")
        if ref is not None:
            self.add(
                "deprecated-key",
                "`reference` is the old spelling of `remote`",
                ref.key_range,
                WARNING,
                hint="rename it to `remote`",
                fix=Fix("Rename to remote", (TextEdit(ref.key_range, "remote"),)),
            )
        for key in ("remote", "reference"):
            e = entries.get(key)
            if (
                e is not None
                and isinstance(e.value, Scalar)
                and isinstance(e.value.value, str)
                and not _REMOTE_REF.fullmatch(e.value.value)
            ):
                self.add(
                    "invalid-value",
                    f'"{e.value.value}" is not a FloxHub environment (owner/name)',
                    e.value.range,
                    hint='write it as "owner/name"',
                )

    def check_runtime_packages(self, root: Table) -> None:
        if not self.runtime_refs:
            return
        install = root.entries.get("install")
        ids: dict[str, Entry] = {}
        if install is not None and isinstance(install.value, Table):
            ids = install.value.entries
        for _entry, item in self.runtime_refs:
            pkg = item.value
            assert isinstance(pkg, str)
            target = ids.get(pkg)
            if target is None:
                guess = suggest(pkg, ids)
                soft = self.has_include
                self.add(
                    "unknown-runtime-package",
                    f'"{pkg}" is not an install id in [install]'
                    + (" (it may come from an included environment)" if soft else ""),
                    item.range,
                    WARNING if soft else ERROR,
                    hint=(f'did you mean "{guess}"? ' if guess else "")
                    + "runtime-packages lists install ids from [install]",
                    fix=Fix(f'Change to "{guess}"', (TextEdit(item.range, json.dumps(guess)),))
                    if guess
                    else None,
                )
                continue
            desc = target.value
            if isinstance(desc, Table):
                group = desc.entries.get("pkg-group")
                if (
                    group is not None
                    and isinstance(group.value, Scalar)
                    and isinstance(group.value.value, str)
                    and group.value.value != "toplevel"
                ):
                    self.add(
                        "runtime-package-not-toplevel",
                        f'"{pkg}" is in pkg-group "{group.value.value}"; runtime packages '
                        'must be in the "toplevel" group',
                        item.range,
                        hint=f"remove `pkg-group` from [install.{toml_key(pkg)}]",
                        related=(Related(group.key_range, "the pkg-group is set here"),),
                    )

    # -- version --------------------------------------------------------------------------

    def check_version(self, root: Table) -> None:
        ver = root.entries.get("version")
        sv = root.entries.get("schema-version")
        self.version_entry, self.schema_entry = ver, sv
        if ver is not None:
            v = ver.value
            if isinstance(v, Scalar) and v.kind == "integer":
                if v.value == 1:
                    self.schema = S.V1
                else:
                    self.add(
                        "unknown-schema-version",
                        f"`version = {v.value}` is not a manifest version Flox knows",
                        v.range,
                        hint=f'use `version = 1` or `schema-version = "{S.LATEST_SCHEMA}"`',
                        fix=Fix("Change to version = 1", (TextEdit(v.range, "1"),)),
                    )
            else:
                fix = None
                if isinstance(v, Scalar) and v.value in ("1", 1.0):
                    fix = Fix("Change to version = 1", (TextEdit(v.range, "1"),))
                self.add(
                    "wrong-type",
                    f"`version` must be the integer 1, not {_describe(v)}",
                    value_range(ver),
                    hint=f'write `version = 1`, or use `schema-version = "{S.LATEST_SCHEMA}"`',
                    fix=fix,
                )
            if sv is not None:
                self.add(
                    "version-conflict",
                    "a manifest declares either `version` or `schema-version`, not both",
                    sv.key_range,
                    hint="Flox reads `version` and then rejects `schema-version`; "
                    "remove one of them",
                    related=(Related(ver.key_range, "`version` is set here"),),
                )
            return
        if sv is not None:
            v = sv.value
            if isinstance(v, Scalar) and v.kind == "string":
                text = str(v.value)
                if text in S.SCHEMA_VERSIONS:
                    self.schema = S.schema_tuple(text)
                    return
                guess = _schema_guess(text)
                self.add(
                    "unknown-schema-version",
                    f'"{text}" is not a schema version Flox knows',
                    v.range,
                    hint=(f'did you mean "{guess}"? ' if guess else "")
                    + "known: "
                    + ", ".join(S.SCHEMA_VERSIONS),
                    fix=Fix(
                        f'Change to "{guess or S.LATEST_SCHEMA}"',
                        (TextEdit(v.range, json.dumps(guess or S.LATEST_SCHEMA)),),
                    ),
                )
                return
            fix = None
            if isinstance(v, Scalar) and v.kind in ("float", "integer"):
                candidate = f"{v.value}.0"
                if candidate in S.SCHEMA_VERSIONS:
                    fix = Fix(f'Change to "{candidate}"', (TextEdit(v.range, f'"{candidate}"'),))
            self.add(
                "wrong-type",
                f'`schema-version` must be a string like "{S.LATEST_SCHEMA}", not {_describe(v)}',
                value_range(sv),
                hint=f'write `schema-version = "{S.LATEST_SCHEMA}"` (with quotes)',
                fix=fix,
            )
            return
        self.add(
            "missing-version",
            "the manifest does not say which schema it follows",
            _ZERO,
            hint=f'add `schema-version = "{S.LATEST_SCHEMA}"` at the top',
            fix=Fix(
                f'Add schema-version = "{S.LATEST_SCHEMA}"',
                (TextEdit(_ZERO, f'schema-version = "{S.LATEST_SCHEMA}"\n'),),
            ),
        )

    def needs_newer(self, what: str, needed: str, rng: Range) -> None:
        if self.version_entry is not None:
            declared = "`version = 1`"
            ver = self.version_entry
            edit = TextEdit(
                Range(ver.key_range.start, ver.value.range.end),
                f'schema-version = "{needed}"',
            )
        else:
            sv = self.schema_entry
            assert sv is not None
            declared = f"schema-version {json.dumps(_scalar_text(sv.value))}"
            edit = TextEdit(sv.value.range, json.dumps(needed))
        self.add(
            "needs-newer-schema",
            f'{what} needs schema-version "{needed}" or newer; this manifest declares {declared}',
            rng,
            hint=f'set `schema-version = "{needed}"` (Flox migrates older manifests forward)',
            fix=Fix(f'Set schema-version = "{needed}"', (edit,)),
        )

    # -- unknown keys and fixes -------------------------------------------------------------

    def unknown_key(self, entry: Entry, spec: S.KeySpec) -> None:
        name = entry.key
        parent = entry.path[:-1]
        where = f"[{_dotted(parent)}]" if parent else "the top-level table"
        retired = S.RETIRED_KEYS.get((spec.name, name))
        if retired is not None:
            self.add(
                "unknown-key", f"unknown key `{name}` in {where}", entry.key_range, hint=retired
            )
            return
        guess = suggest(name, spec.keys)
        allowed = ", ".join(f"`{k}`" for k in spec.keys)
        self.add(
            "unknown-key",
            f"unknown key `{name}` in {where}" + (f"; did you mean `{guess}`?" if guess else ""),
            entry.key_range,
            hint=(f"rename it to `{guess}`" if guess else f"allowed keys: {allowed}")
            if spec.keys
            else "remove it",
            fix=Fix(f"Rename to {guess}", (TextEdit(entry.key_range, toml_key(guess)),))
            if guess
            else None,
        )

    def wrong_type(self, value: Value, spec: S.KeySpec, entry: Entry) -> None:
        if (
            isinstance(value, Table) and value.kind != "inline" and value is entry.value
        ) or isinstance(value, ArrayOfTables):
            rng = value_range(entry)
        else:
            rng = value.range
        is_item = value is not entry.value
        what = f"items of `{_dotted(entry.path)}`" if is_item else f"`{_dotted(entry.path)}`"
        self.add(
            "wrong-type",
            f"{what} must be {_article(spec.type)}, not {_describe(value)}",
            rng,
            # the message already names the type: the hint shows it written out
            hint=f"write it like `{spec.example}`"
            if spec.example and "\n" not in spec.example
            else f"change it to {_article(spec.type)}",
        )

    def insert_key_fix(
        self, entry: Entry | None, table: Table, key: str, value_text: str
    ) -> Fix | None:
        """A fix adding `key = value_text` to `table`, wherever the table is written."""
        title = f"Add {key} = {value_text}"
        try:
            if table.kind == "header" and table.header_range is not None:
                end = table.header_range.end
                return Fix(title, (TextEdit(Range(end, end), f"\n{key} = {value_text}"),))
            if table.kind == "inline":
                at = Position(table.range.start.line, table.range.start.character + 1)
                text = f" {key} = {value_text}," if table.entries else f" {key} = {value_text} "
                return Fix(title, (TextEdit(Range(at, at), text),))
            if entry is None:
                return None
            kr = entry.key_range
            line = self.line_text(kr.start.line)
            if table.kind == "dotted" and kr.start.line == kr.end.line:
                before = line[: kr.start.character]
                if _DOTTED_PREFIX.fullmatch(before):
                    indent = before[: len(before) - len(before.lstrip())]
                    prefix = line[len(indent) : kr.end.character]
                    start = Position(kr.start.line, 0)
                    return Fix(
                        title,
                        (
                            TextEdit(
                                Range(start, start), f"{indent}{prefix}.{key} = {value_text}\n"
                            ),
                        ),
                    )
                return None
            if table.kind == "implicit" and line.lstrip().startswith("["):
                start = Position(kr.start.line, 0)
                return Fix(
                    title,
                    (
                        TextEdit(
                            Range(start, start),
                            f"[{_dotted(entry.path)}]\n{key} = {value_text}\n\n",
                        ),
                    ),
                )
        except Exception:
            return None
        return None

    def delete_fix(self, entry: Entry) -> Fix | None:
        """A fix removing a whole `key = value` line (only when it is alone on its line)."""
        v = entry.value
        if isinstance(v, Table | ArrayOfTables):
            return None
        kr = entry.key_range
        vr = v.range
        if vr.end.line != kr.start.line:
            return None
        line = self.line_text(kr.start.line)
        after = line[vr.end.character :].strip()
        if line[: kr.start.character].strip() or (after and not after.startswith("#")):
            return None
        start = Position(kr.start.line, 0)
        end = Position(kr.start.line + 1, 0)
        return Fix(f"Remove {entry.key}", (TextEdit(Range(start, end), ""),))


def _article(type_: str) -> str:
    if type_[:1] == '"':
        return "one of " + type_.replace(" | ", ", ")
    if type_[:1] in ("1", "<"):
        return type_
    if type_.startswith(("array", "integer", "install")):
        return "an " + type_
    return "a " + type_


def _schema_guess(text: str) -> str | None:
    """Map "1.13" or "v1.13.2" to "1.13.0" when that schema exists."""
    parts = text.strip().lstrip("vV").split(".")
    if len(parts) >= 2:
        candidate = f"{parts[0]}.{parts[1]}.0"
        if candidate in S.SCHEMA_VERSIONS:
            return candidate
    return None


def _scalar_text(value: Value) -> str:
    return str(value.value) if isinstance(value, Scalar) else ""
