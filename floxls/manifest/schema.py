"""The declarative schema of Flox's `manifest.toml`: every section and key, with docs.

Written for floxls from Flox's public manual (`manifest.toml(5)`) and the shape of the
manifest structs in the Flox CLI (schema versions `1` and `1.10.0` ... `1.15.0`). Flox
rejects unknown keys everywhere except inside `[vars]`-like maps and `[plugins]`.

The checker (`floxls.manifest.checker`) interprets these specs; the language server uses
`spec_for` / `children` for hover and completion. Everything is built once at import.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal, TypeAlias

# --- schema versions -------------------------------------------------------------------

SCHEMA_VERSIONS: tuple[str, ...] = (
    "1.10.0",
    "1.11.0",
    "1.12.0",
    "1.13.0",
    "1.14.0",
    "1.15.0",
)
LATEST_SCHEMA = SCHEMA_VERSIONS[-1]
SCHEMA_NOTES: Mapping[str, str] = MappingProxyType(
    {
        "1": "the original format, declared with `version = 1`",
        "1.10.0": "package `outputs`, `minimum-cli-version`",
        "1.11.0": "`minimum-cli-version` is checked as semver and may carry a `reason`",
        "1.12.0": "`services.auto-start`",
        "1.13.0": "`profile.deactivate`, build `sandbox-allow`, sandbox `warn`/`enforce`",
        "1.14.0": "`[plugins]`",
        "1.15.0": "`hook.on-deactivate`",
    }
)

SchemaTuple: TypeAlias = tuple[int, int, int]
V1: SchemaTuple = (1, 0, 0)  # `version = 1` sorts before every schema-version


def schema_tuple(version: str) -> SchemaTuple:
    """Map "1.13.0" to (1, 13, 0); "1" (the `version = 1` style) -> (1, 0, 0)."""
    if version == "1":
        return V1
    major, minor, patch = (int(p) for p in version.split("."))
    return (major, minor, patch)


SYSTEMS: tuple[str, ...] = ("aarch64-darwin", "aarch64-linux", "x86_64-darwin", "x86_64-linux")
PACKAGE_NAME_RE = re.compile(r"[a-zA-Z0-9._-]{1,128}")
SEMVER_RE = re.compile(
    r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?"
)
VAR_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

# --- the spec type ---------------------------------------------------------------------

Shape: TypeAlias = Literal["string", "integer", "boolean", "array", "table", "any"]
# Extra checks the checker runs for some specs (beyond shape, enum and nested keys).
Role: TypeAlias = Literal[
    "",
    "install-descriptor",
    "build-target",
    "build-version",
    "service",
    "include-descriptor",
    "minimum-cli-version",
    "semver",
    "systems",
    "runtime-packages",
    "sandbox-allow",
    "var-map",
    "remote-ref",
]


@dataclass(frozen=True, eq=False)
class KeySpec:
    """One key (or a family of keys, for wildcard names like install ids).

    The first six fields are the public face (hover, completion). The rest drive the
    checker: accepted TOML shapes, array item spec, fixed keys of a table, the spec of any
    other key (maps like `[vars]`), required keys, the schema version each enum value needs.
    """

    name: str
    doc: str
    type: str
    values: tuple[str, ...] = ()
    since: str | None = None
    example: str | None = None
    shapes: frozenset[str] = frozenset()
    items: KeySpec | None = None
    keys: Mapping[str, KeySpec] = field(default_factory=dict)
    wildcard: KeySpec | None = None
    required: tuple[str, ...] = ()
    value_since: Mapping[str, str] = field(default_factory=dict)
    minimum: int | None = None
    role: Role = ""
    since_tuple: SchemaTuple | None = None

    @property
    def is_table(self) -> bool:
        return "table" in self.shapes

    def markdown(self, key: str | None = None) -> str:
        """Hover text: name, type, docs, schema note, example.

        `key` is the real key under the cursor, shown for a wildcard family (install ids,
        build names, ...); a bare `<package>` placeholder is put in backticks, because
        markdown renderers such as VS Code's drop it as an unknown HTML tag.
        """
        if self.name.startswith("<"):
            title = f"**{key}**" if key else f"`{self.name}`"
        else:
            title = f"**{self.name}**"
        parts = [f"{title} — `{self.type}`", "", self.doc]
        if self.values and not all(f'"{v}"' in self.type for v in self.values):
            # (an enum type such as `"off" | "pure"` already lists them)
            parts += ["", "Values: " + ", ".join(f"`{v}`" for v in self.values)]
        if self.since:
            parts += ["", f'Needs `schema-version = "{self.since}"` or newer.']
        if self.example:
            parts += ["", "```toml", self.example, "```"]
        return "\n".join(parts)


def _spec(
    name: str,
    type_: str,
    doc: str,
    shapes: str | tuple[str, ...],
    *,
    values: tuple[str, ...] = (),
    since: str | None = None,
    example: str | None = None,
    items: KeySpec | None = None,
    keys: tuple[KeySpec, ...] = (),
    wildcard: KeySpec | None = None,
    required: tuple[str, ...] = (),
    value_since: Mapping[str, str] | None = None,
    minimum: int | None = None,
    role: Role = "",
) -> KeySpec:
    return KeySpec(
        name=name,
        doc=doc,
        type=type_,
        values=values,
        since=since,
        example=example,
        shapes=frozenset((shapes,) if isinstance(shapes, str) else shapes),
        items=items,
        keys=MappingProxyType({k.name: k for k in keys}),
        wildcard=wildcard,
        required=required,
        value_since=MappingProxyType(dict(value_since or {})),
        minimum=minimum,
        role=role,
        since_tuple=schema_tuple(since) if since else None,
    )


def _string(name: str, doc: str, **kw: object) -> KeySpec:
    return _spec(name, "string", doc, "string", **kw)  # type: ignore[arg-type]


def _bool(name: str, doc: str, **kw: object) -> KeySpec:
    return _spec(name, "boolean", doc, "boolean", **kw)  # type: ignore[arg-type]


_STRING_ITEM = _spec("item", "string", "One entry of the list.", "string")
SYSTEM_ITEM = _spec(
    "system",
    " | ".join(f'"{s}"' for s in SYSTEMS),
    "A Nix system double.",
    "string",
    values=SYSTEMS,
)


def _strings(name: str, doc: str, **kw: object) -> KeySpec:
    return _spec(name, "array of strings", doc, "array", items=_STRING_ITEM, **kw)  # type: ignore[arg-type]


def _systems(doc: str) -> KeySpec:
    return _spec(
        "systems",
        "array of systems",
        doc,
        "array",
        items=SYSTEM_ITEM,
        values=SYSTEMS,
        role="systems",
        example='systems = ["x86_64-linux", "aarch64-darwin"]',
    )


def _map(name: str, type_: str, doc: str, value: KeySpec, **kw: object) -> KeySpec:
    return _spec(name, type_, doc, "table", wildcard=value, **kw)  # type: ignore[arg-type]


# --- [install] -------------------------------------------------------------------------

_PRIORITY = _spec(
    "priority",
    "integer (>= 0)",
    "Settles file conflicts between packages that provide the same path (say two "
    "`bin/python`): the package with the **lower** number wins. Every package defaults to "
    "priority 5.",
    "integer",
    minimum=0,
    example="priority = 3",
)
_OUTPUTS = _spec(
    "outputs",
    '"all" | array of strings',
    "Which outputs of the package to install (packages can be split into outputs such as "
    '`out`, `bin`, `man`, `dev`). Leave it out for the package\'s default outputs, use `"all"` '
    "for every output, or list the ones you want.",
    ("string", "array"),
    values=("all",),
    items=_STRING_ITEM,
    since="1.10.0",
    example='outputs = ["out", "man"]',
)
INSTALL_SOURCES: tuple[str, ...] = ("pkg-path", "flake", "store-path")
INSTALL_KIND_KEYS: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "pkg-path": frozenset(
            {"pkg-path", "pkg-group", "version", "systems", "priority", "outputs"}
        ),
        "flake": frozenset({"flake", "systems", "priority", "outputs"}),
        "store-path": frozenset({"store-path", "systems", "priority"}),
    }
)
INSTALL_DESCRIPTOR = _spec(
    "<install-id>",
    "package descriptor (table)",
    "One package of the environment. The key is the **install id**, the name you use with "
    "`flox uninstall`/`flox upgrade` and in `runtime-packages`. The table says where the "
    "package comes from — exactly one of `pkg-path` (the Flox catalog), `flake` (a Nix "
    "flake installable) or `store-path` (a path already in `/nix/store`) — plus optional "
    "constraints.",
    "table",
    keys=(
        _string(
            "pkg-path",
            "Where the package lives in the Flox catalog: an attribute path such as `ripgrep` "
            "or `python312Packages.pip` (as printed by `flox search`/`flox show`). Packages "
            "from a custom catalog are written `<catalog>/<name>`.",
            example='pkg-path = "python312Packages.pip"',
        ),
        _string(
            "flake",
            "A Nix flake installable, `flakeref[#attrpath]`, e.g. "
            "`github:NixOS/nixpkgs#hello`. Without an attribute path Flox looks for the "
            "flake's default package.",
            example='flake = "github:nixos/nixpkgs#hello"',
        ),
        _string(
            "store-path",
            "A path in the local Nix store (`/nix/store/<hash>-<name>`), e.g. the result of "
            "`nix build`. It must exist on the machine that builds the environment, so this "
            "suits local experiments; set `systems` too, since store paths are "
            "system-specific.",
            example='store-path = "/nix/store/qzjab3...-hello-2.12.1"',
        ),
        _string(
            "pkg-group",
            "Puts the package in a named group. Packages of one group are resolved together "
            "from the same catalog snapshot, so they share libraries and are upgraded as a "
            "unit. Packages without a group are in the `toplevel` group. Move a package to "
            "its own group when its version constraint conflicts with the others. Only for "
            "catalog (`pkg-path`) packages.",
            example='pkg-group = "python-tools"',
        ),
        _string(
            "version",
            'A version the package must match: exact (`"1.2.3"`) or a semver range '
            '(`"^1.2"`, `">=3.11"`). Missing fields are wildcards: `"1.2"` picks the '
            "newest 1.2.x. Only for catalog (`pkg-path`) packages.",
            example='version = "^3.11"',
        ),
        _systems(
            "Install this package only on these systems. Defaults to every system in "
            "`options.systems`."
        ),
        _PRIORITY,
        _OUTPUTS,
    ),
    role="install-descriptor",
)
INSTALL = _map(
    "install",
    "table of package descriptors",
    "The packages of the environment, keyed by install id. Each value is a package "
    'descriptor: `ripgrep.pkg-path = "ripgrep"` or `[install.ripgrep]` with '
    '`pkg-path = "ripgrep"` are the same thing.',
    INSTALL_DESCRIPTOR,
    example='[install]\nripgrep.pkg-path = "ripgrep"\npip.pkg-path = "python312Packages.pip"',
)

# --- [vars], [hook], [profile] ---------------------------------------------------------

VAR_VALUE = _string(
    "<variable>",
    "An environment variable set on activation. The name and value are used verbatim; "
    "the value may refer to other `[vars]` entries as `${NAME}` (Flox 1.14.1+).",
    example='DB_URL = "postgres://localhost:5432/app"',
)
VARS = _map(
    "vars",
    "table of strings",
    "Environment variables exported when the environment is activated (and seen by "
    "hooks, profile scripts, services and builds). Values must be strings.",
    VAR_VALUE,
    role="var-map",
    example='[vars]\nSERVER_PORT = "3000"\nBASE_URL = "http://localhost:${SERVER_PORT}"',
)

HOOK = _spec(
    "hook",
    "table",
    "Scripts Flox runs itself, in a bash shell, around an activation.",
    "table",
    keys=(
        _string(
            "on-activate",
            "A bash script run when an activation starts (once, even if several shells "
            "attach). It sees `[vars]`; variables it exports reach the profile scripts and "
            "your shell. Its stdout goes to stderr. Keep it idempotent: other commands "
            "(e.g. `flox services start`) may run it again.",
            example='on-activate = """\n  mkdir -p "$FLOX_ENV_CACHE/data"\n"""',
        ),
        _string(
            "on-deactivate",
            "A bash script run once the last shell or command attached to an activation "
            "has gone (after services are stopped). Failures are logged, never fatal.",
            since="1.15.0",
            example='on-deactivate = "rm -rf \\"$FLOX_ENV_CACHE/tmp\\""',
        ),
    ),
    example='[hook]\non-activate = "echo ready >&2"',
)

_SHELLS: tuple[tuple[str, str], ...] = (
    ("common", "every shell (keep it portable: it is sourced by bash, zsh, fish and tcsh)"),
    ("bash", "bash"),
    ("zsh", "zsh"),
    ("fish", "fish"),
    ("tcsh", "tcsh"),
)


def _profile_scripts(when: str) -> tuple[KeySpec, ...]:
    return tuple(
        _string(
            shell,
            f"Sourced by {who} {when}. `common` runs first, then the script of the user's shell.",
            example=f"{shell} = \"alias ll='ls -l'\"",
        )
        for shell, who in _SHELLS
    )


PROFILE_DEACTIVATE = _spec(
    "deactivate",
    "table",
    "Scripts sourced by your shell when the environment is deactivated, mirroring the "
    "activation scripts (`common`, `bash`, `zsh`, `fish`, `tcsh`).",
    "table",
    keys=_profile_scripts("when the environment is deactivated"),
    since="1.13.0",
    example='[profile.deactivate]\nbash = "unalias ll"',
)
PROFILE = _spec(
    "profile",
    "table",
    "Scripts sourced by *your* shell on activation, after `[vars]` and the hook — the "
    "place for aliases, prompts and shell options. Re-run for nested activations.",
    "table",
    keys=(*_profile_scripts("on activation"), PROFILE_DEACTIVATE),
    example='[profile]\ncommon = "echo hello"\nbash = "set -o vi"',
)

# --- [services] ------------------------------------------------------------------------

_SYSTEMD_UNIT = _spec(
    "unit",
    "table",
    "Settings for the `[Unit]` section of the generated systemd unit.",
    "table",
    keys=(
        _string("description", "Human-readable description of the unit."),
        _strings("documentation", "URIs documenting the unit."),
        _strings("wants", "Units started along with this one (weak dependency)."),
        _strings("requires", "Units this one requires (strong dependency)."),
        _strings("before", "Units that must start after this one."),
        _strings("after", "Units that must start before this one."),
    ),
)
_SYSTEMD_STRING = (
    ("exec_start", "Overrides the command that starts the service (`ExecStart=`)."),
    ("exec_stop", "Command that stops the service (`ExecStop=`)."),
    ("cpu_quota", 'CPU time quota, e.g. `"50%"` (`CPUQuota=`).'),
    ("memory_high", 'Memory throttling limit, e.g. `"1G"` (`MemoryHigh=`).'),
    ("memory_low", 'Memory protection, e.g. `"256M"` (`MemoryLow=`).'),
    ("memory_max", 'Hard memory limit, e.g. `"2G"` (`MemoryMax=`).'),
    ("tasks_max", "Maximum number of tasks (`TasksMax=`)."),
)
_SYSTEMD_INTS = (
    ("cpu_shares", "CPU shares (`CPUShares=`)."),
    ("cpu_weight", "CPU weight (`CPUWeight=`)."),
    ("io_weight", "IO weight (`IOWeight=`)."),
    ("restart_sec", "Seconds to wait before restarting (`RestartSec=`)."),
    ("timeout_start_sec", "Seconds allowed for start-up (`TimeoutStartSec=`)."),
    ("timeout_stop_sec", "Seconds allowed for shutdown (`TimeoutStopSec=`)."),
)
_SYSTEMD_LISTS = (
    ("exec_start_pre", "Commands run before `ExecStart` (`ExecStartPre=`)."),
    ("exec_start_post", "Commands run after `ExecStart` (`ExecStartPost=`)."),
    ("environment_file", "Files of environment variables (`EnvironmentFile=`)."),
)
_SYSTEMD_LIMITS = tuple(
    f"limit_{n}"
    for n in (
        "as",
        "core",
        "cpu",
        "data",
        "fsize",
        "locks",
        "memlock",
        "msgqueue",
        "nice",
        "nofile",
        "nproc",
        "rss",
        "rtprio",
        "rttime",
        "sigpending",
        "stack",
    )
)
_SYSTEMD_ENUMS = (
    (
        "type_",
        "Service type (`Type=`).",
        ("Simple", "Exec", "Forking", "Oneshot", "Dbus", "Notify", "Idle"),
    ),
    (
        "restart",
        "When to restart the service (`Restart=`).",
        ("No", "OnSuccess", "OnFailure", "OnAbnormal", "OnWatchdog", "OnAbort", "Always"),
    ),
    (
        "protect_home",
        "Home directory protection (`ProtectHome=`).",
        ("No", "Yes", "ReadOnly", "Tmpfs"),
    ),
    (
        "protect_system",
        "System directory protection (`ProtectSystem=`).",
        ("No", "Yes", "Full", "Strict"),
    ),
)
_SYSTEMD_SERVICE = _spec(
    "service",
    "table",
    "Settings for the `[Service]` section of the generated systemd unit (keys in "
    "snake_case, as Flox spells them).",
    "table",
    keys=(
        *(_string(n, d) for n, d in _SYSTEMD_STRING),
        *(_spec(n, "integer (>= 0)", d, "integer", minimum=0) for n, d in _SYSTEMD_INTS),
        *(_strings(n, d) for n, d in _SYSTEMD_LISTS),
        *(
            _spec(
                n,
                "table",
                f'Resource limit `{n}`: `{{ Value = "..." }}` or '
                '`{ Range = { soft = "...", hard = "..." } }`.',
                "table",
                wildcard=_spec("<limit>", "any", "Limit value.", "any"),
            )
            for n in _SYSTEMD_LIMITS
        ),
        *(
            _spec(n, " | ".join(f'"{v}"' for v in vs), d, "string", values=vs)
            for n, d, vs in _SYSTEMD_ENUMS
        ),
        _bool("no_new_privileges", "Forbid gaining privileges (`NoNewPrivileges=`)."),
        _bool("private_tmp", "Give the service its own /tmp (`PrivateTmp=`)."),
        _map(
            "environment",
            "table of strings",
            "Extra environment (`Environment=`).",
            _string("<variable>", "An environment variable."),
        ),
    ),
)
SERVICE = _spec(
    "<service>",
    "service descriptor (table)",
    "A service run by `flox services start` (or automatically, see `auto-start`). The key "
    "is the service's name.",
    "table",
    keys=(
        _string(
            "command",
            "The command (run by bash) that starts the service. It sees `[vars]`, the "
            "hook's exports and this service's `vars`. Required.",
            example='command = "postgres -D \\"$PGDATA\\""',
        ),
        _map(
            "vars",
            "table of strings",
            "Environment variables for this service only.",
            _string("<variable>", "An environment variable for this service."),
            example='vars.PGPORT = "5432"',
        ),
        _bool(
            "is-daemon",
            "Set to `true` when the command starts a background process and exits. Such a "
            "service must also have `shutdown.command`, or it keeps running after "
            "`flox services stop`.",
            example="is-daemon = true",
        ),
        _spec(
            "shutdown",
            "table",
            "How to stop the service instead of sending SIGTERM to its process.",
            "table",
            keys=(
                _string(
                    "command",
                    "The command that stops the service. Required when `is-daemon = true`.",
                    example='command = "pg_ctl stop"',
                ),
            ),
            required=("command",),
            example='shutdown.command = "pg_ctl stop"',
        ),
        _systems("Run this service only on these systems; all systems when omitted."),
        _spec(
            "systemd",
            "table",
            "Extra settings for the systemd unit Flox generates for persistent services.",
            "table",
            keys=(_SYSTEMD_UNIT, _SYSTEMD_SERVICE),
        ),
    ),
    required=("command",),
    role="service",
)
SERVICES = _spec(
    "services",
    "table of service descriptors",
    "Services of the environment (web servers, databases, ...), keyed by name. They use "
    "the installed packages and the environment's variables.",
    "table",
    keys=(
        _bool(
            "auto-start",
            "Start every service automatically on `flox activate` (suppress with "
            "`--no-start-services`).",
            since="1.12.0",
            example="auto-start = true",
        ),
    ),
    wildcard=SERVICE,
    example='[services.web]\ncommand = "python -m http.server 8000"',
)

# --- [options] -------------------------------------------------------------------------

OPTIONS = _spec(
    "options",
    "table",
    "Settings of the environment itself: supported systems, what may be installed, how "
    "it activates.",
    "table",
    keys=(
        _systems(
            "The systems this environment supports (`x86_64-linux`, `aarch64-linux`, "
            "`x86_64-darwin`, `aarch64-darwin`). `flox init` fills in the current one; "
            "packages are locked for each listed system."
        ),
        _spec(
            "allow",
            "table",
            "Which packages may be installed.",
            "table",
            keys=(
                _bool(
                    "unfree",
                    "Allow packages with unfree licenses (default `false`).",
                    example="allow.unfree = true",
                ),
                _bool(
                    "broken",
                    "Allow packages marked broken in the catalog (default `false`).",
                    example="allow.broken = true",
                ),
                _strings(
                    "licenses",
                    "Only allow packages under these licenses (SPDX identifiers, e.g. "
                    "`MIT`). An empty list allows any license.",
                    example='allow.licenses = ["MIT", "Apache-2.0"]',
                ),
            ),
        ),
        _spec(
            "semver",
            "table",
            "How version constraints are resolved.",
            "table",
            keys=(
                _bool(
                    "allow-pre-releases",
                    "Let version constraints match pre-releases such as `4.2.0-pre` "
                    "(default `false`).",
                    example="semver.allow-pre-releases = true",
                ),
            ),
        ),
        _bool(
            "cuda-detection",
            "Detect an Nvidia GPU and make the host's `libcuda` available in the "
            "environment (default `true`).",
            example="cuda-detection = false",
        ),
        _spec(
            "activate",
            "table",
            "Activation settings.",
            "table",
            keys=(
                _spec(
                    "mode",
                    '"dev" | "run"',
                    "`dev` (the default) also provides development dependencies and "
                    "language variables of the packages; `run` only puts the packages "
                    "themselves on `PATH`, like a system package manager. "
                    "`flox activate --mode` overrides it.",
                    "string",
                    values=("dev", "run"),
                    example='activate.mode = "run"',
                ),
            ),
        ),
    ),
    example='[options]\nsystems = ["x86_64-linux", "aarch64-darwin"]\nallow.unfree = true',
)

# --- [include] -------------------------------------------------------------------------

INCLUDE_DESCRIPTOR = _spec(
    "<environment>",
    "include descriptor (table)",
    "One environment to merge into this one: a local one (`dir`) or one on FloxHub "
    "(`remote`), with an optional `name`.",
    "table",
    keys=(
        _string(
            "dir",
            "Path to the directory of a local environment (the one containing `.flox`), "
            "relative to this environment.",
            example='{ dir = "../common" }',
        ),
        _string(
            "remote",
            "A FloxHub environment, written `owner/name`.",
            example='{ remote = "myorg/postgres" }',
        ),
        _string(
            "reference",
            "Older spelling of `remote`.",
            example='{ reference = "myorg/postgres" }',
        ),
        _string(
            "name",
            "A name for the included environment, for `flox include upgrade` and messages; "
            "handy when two included environments have the same name.",
            example='{ dir = "../db", name = "database" }',
        ),
        _spec(
            "generation",
            "integer (>= 0)",
            "Pins a FloxHub environment to one of its generations (remote includes only).",
            "integer",
            minimum=0,
        ),
    ),
    role="include-descriptor",
)
INCLUDE = _spec(
    "include",
    "table",
    "Other environments to compose into this one. Later entries win over earlier ones, "
    "and this manifest wins over all of them. See the merged result with "
    "`flox list --config`.",
    "table",
    keys=(
        _spec(
            "environments",
            "array of include descriptors",
            "The environments to include, lowest priority first.",
            "array",
            items=INCLUDE_DESCRIPTOR,
            example='environments = [{ dir = "../base" }, { remote = "me/tools" }]',
        ),
    ),
    example='[include]\nenvironments = [{ dir = "../base" }]',
)

# --- [containerize] --------------------------------------------------------------------

CONTAINERIZE = _spec(
    "containerize",
    "table",
    "Settings for `flox containerize`, which turns the environment into an OCI image.",
    "table",
    keys=(
        _spec(
            "config",
            "table",
            "Image configuration (a subset of the OCI image config).",
            "table",
            keys=(
                _string(
                    "user",
                    "User (and group) the container runs as: `user`, `uid`, `user:group`, "
                    "`uid:gid`, ...",
                    example='user = "1000:1000"',
                ),
                _strings(
                    "exposed-ports",
                    "Ports to expose: `port/tcp`, `port/udp` or `port` (tcp).",
                    example='exposed-ports = ["8080/tcp"]',
                ),
                _strings(
                    "cmd",
                    "Default command, run inside the activated environment (like "
                    "`flox activate -c`).",
                    example='cmd = ["python", "-m", "http.server"]',
                ),
                _strings(
                    "volumes",
                    "Directories where the container is likely to write data.",
                    example='volumes = ["/data"]',
                ),
                _string(
                    "working-dir",
                    "Working directory of the container's process.",
                    example='working-dir = "/app"',
                ),
                _map(
                    "labels",
                    "table of strings",
                    "Arbitrary metadata attached to the image.",
                    _string("<label>", "An image label."),
                    example='labels."org.opencontainers.image.source" = "https://..."',
                ),
                _string(
                    "stop-signal",
                    "Signal sent to stop the container, e.g. `SIGTERM`, `SIGKILL`.",
                    example='stop-signal = "SIGINT"',
                ),
            ),
        ),
    ),
    example='[containerize.config]\nexposed-ports = ["8080/tcp"]',
)

# --- [build] ---------------------------------------------------------------------------

SANDBOX_VALUES: tuple[str, ...] = ("off", "pure", "warn", "enforce")
BUILD_VERSION = _spec(
    "version",
    'string | { file = "..." } | { command = "..." }',
    "The version of the built package (default `0.0.0`): a literal string, the contents "
    "of a file (`version.file`) or the output of a command (`version.command`).",
    ("string", "table"),
    keys=(
        _string(
            "file",
            "A file, relative to the environment's project directory, holding the version.",
            example='version.file = "VERSION"',
        ),
        _string(
            "command",
            "A command whose output is the version.",
            example='version.command = "git describe --tags"',
        ),
    ),
    role="build-version",
    example='version = "1.2.0"',
)
BUILD_TARGET = _spec(
    "<package>",
    "build descriptor (table)",
    "A package built by `flox build <package>` and published with `flox publish`. The "
    "key is the package name: letters, digits, `.`, `_` and `-`, at most 128 characters.",
    "table",
    keys=(
        _string(
            "command",
            "The build script, run by bash in the environment (with `[vars]` and the "
            "hook's exports). It must put the result in `$out`. Required.",
            example="command = '''\n  mkdir -p $out/bin\n  cp hello.sh $out/bin/hello\n'''",
        ),
        _string(
            "description",
            "A short description shown on FloxHub and in search results.",
            example='description = "Says hello"',
        ),
        BUILD_VERSION,
        _spec(
            "sandbox",
            '"off" | "pure" | "warn" | "enforce"',
            "How isolated the build is. `off` (default): runs like a subshell of "
            "`flox activate`. `pure`: a Nix sandbox with no network that sees only files "
            "under version control. `warn` (1.13.0+): like `off`, but reports every file "
            "read from outside the package closure. `enforce` (1.13.0+): like `warn`, but "
            "such reads fail the build.",
            "string",
            values=SANDBOX_VALUES,
            value_since={"warn": "1.13.0", "enforce": "1.13.0"},
            example='sandbox = "pure"',
        ),
        _spec(
            "sandbox-allow",
            "array of strings",
            "Paths or globs the build may read from outside its closure without a "
            "`warn`/`enforce` sandbox complaining. `~/` means your home directory; `*` and "
            "`**` match across `/`. No spaces in a pattern. Has no effect with `off` or "
            "`pure`.",
            "array",
            items=_STRING_ITEM,
            since="1.13.0",
            role="sandbox-allow",
            example='sandbox-allow = ["~/.npm/**"]',
        ),
        _spec(
            "runtime-packages",
            "array of install ids",
            "Install ids from `[install]` to keep as runtime dependencies of the built "
            "package. By default every package of the `toplevel` group is kept; listed "
            "packages must be in that group.",
            "array",
            items=_STRING_ITEM,
            role="runtime-packages",
            example='runtime-packages = ["python3"]',
        ),
        _strings(
            "license",
            "The package's licenses, as SPDX identifiers.",
            example='license = ["MIT"]',
        ),
    ),
    required=("command",),
    role="build-target",
)
BUILD = _map(
    "build",
    "table of build descriptors",
    "Packages built from this environment with `flox build`, keyed by package name. The "
    "build sees the installed packages and the environment's variables.",
    BUILD_TARGET,
    example="[build.hello]\ncommand = '''\n  mkdir -p $out/bin\n  cp hello $out/bin/\n'''",
)

# --- [plugins], top level ---------------------------------------------------------------

PLUGINS = _map(
    "plugins",
    "table",
    "Experimental: settings for plugins provided by installed packages, one table per "
    "plugin (`[plugins.<name>]`). Flox stores them without checking their contents.",
    _spec("<plugin>", "any", "Settings of one plugin; its package defines them.", "any"),
    since="1.14.0",
    example='[plugins.secrets]\nAPI_TOKEN = "vault/path/token"',
)
MINIMUM_CLI_VERSION = _spec(
    "minimum-cli-version",
    'semver string | { version = "...", reason = "..." }',
    "The oldest Flox CLI that should use this environment; older ones warn (they still "
    'run). A semantic version such as `"1.11.0"`, or a table with the `version` and a '
    "`reason` shown in the warning (table form: schema 1.11.0+).",
    ("string", "table"),
    keys=(
        _string("version", "The minimum Flox version (semver).", example='version = "1.11.0"'),
        _string(
            "reason",
            "Why this version is needed; shown in the warning.",
            example='reason = "uses vars references"',
        ),
    ),
    since="1.10.0",
    role="minimum-cli-version",
    example='minimum-cli-version = "1.11.0"',
)
VERSION = _spec(
    "version",
    "1",
    "The original way to declare the manifest format: `version = 1`. Newer manifests use "
    "`schema-version` instead (never both).",
    "integer",
    values=("1",),
    example="version = 1",
)
SCHEMA_VERSION = _spec(
    "schema-version",
    " | ".join(f'"{v}"' for v in SCHEMA_VERSIONS),
    "The manifest format this file follows; Flox refuses unknown versions. "
    + " ".join(f"`{v}`: {SCHEMA_NOTES[v]}." for v in SCHEMA_VERSIONS)
    + " Older manifests (including `version = 1`) are migrated forward by Flox when you "
    "use a newer feature.",
    "string",
    values=SCHEMA_VERSIONS,
    example=f'schema-version = "{LATEST_SCHEMA}"',
)
ROOT = _spec(
    "manifest.toml",
    "table",
    "A Flox environment's manifest.",
    "table",
    keys=(
        VERSION,
        SCHEMA_VERSION,
        MINIMUM_CLI_VERSION,
        INSTALL,
        VARS,
        HOOK,
        PROFILE,
        SERVICES,
        OPTIONS,
        INCLUDE,
        BUILD,
        CONTAINERIZE,
        PLUGINS,
    ),
)

# Hints for keys Flox no longer accepts, by (table spec name, key).
RETIRED_KEYS: Mapping[tuple[str, str], str] = MappingProxyType(
    {
        ("hook", "script"): "`hook.script` was retired: move the script to `[profile]` "
        "(your shell) or `hook.on-activate` (bash)",
    }
)


def _resolve(path: tuple[str, ...]) -> KeySpec | None:
    spec = ROOT
    for seg in path:
        if spec.items is not None:
            spec = spec.items
            if seg.isdigit():
                continue
        nxt = spec.keys.get(seg)
        if nxt is None:
            nxt = spec.wildcard
        if nxt is None:
            return None
        spec = nxt
    return spec


def spec_for(path: tuple[str, ...]) -> KeySpec | None:
    """The spec of the key at `path` (real names, e.g. ("build", "hello", "sandbox")).

    Wildcard names (install ids, build names, variables, services) resolve to their family's
    spec; array indices (digits) may appear or be left out. () is the document itself.
    """
    return _resolve(tuple(path))


def children(table_path: tuple[str, ...]) -> list[KeySpec]:
    """The keys one may write in the table at `table_path` (fixed names only), for completion."""
    spec = _resolve(tuple(table_path))
    if spec is None:
        return []
    if spec.items is not None:
        spec = spec.items
    return list(spec.keys.values())


def all_specs() -> list[tuple[tuple[str, ...], KeySpec]]:
    """Every spec with a representative path (wildcards shown as `<...>`): docs and tests."""
    out: list[tuple[tuple[str, ...], KeySpec]] = []
    seen: set[int] = set()

    def walk(path: tuple[str, ...], spec: KeySpec) -> None:
        out.append((path, spec))
        if id(spec) in seen:
            return
        seen.add(id(spec))
        if spec.items is not None and spec.items.keys:
            walk((*path, spec.items.name), spec.items)
        for name, child in spec.keys.items():
            walk((*path, name), child)
        if spec.wildcard is not None:
            walk((*path, spec.wildcard.name), spec.wildcard)

    walk((), ROOT)
    return out
