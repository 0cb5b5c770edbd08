"""Builders: the real `flox build` when `flox` is on PATH, else the built-in one.

Both take a `BuildSpec` (the target's `[build.<name>]` table as plain values, the project
directory of the clean clone, the environment's `[vars]`) and return a `BuildResult`: the
outputs as store paths plus the closure to ship. Nothing here uploads anything.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

# Environment variables a build never sees: they are secrets of the publisher, not inputs.
SECRET_ENV = (
    "FLOX_FLOXHUB_TOKEN",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
)


def remove_tree(path: Path | str) -> None:
    """`shutil.rmtree` that never gives up on permissions (it ignores other errors).

    Build outputs copied from /nix/store (`cp -r`) have read-only directories, and a failed
    build may leave one that cannot even be listed: plain `rmtree(..., ignore_errors=True)`
    would silently leave the publish's temp dir behind.
    """
    import stat

    relisted: set[str] = set()

    def fix_and_retry(func: Callable[..., object], failed: str, _exc: object) -> None:
        try:
            for where in (os.path.dirname(failed), failed):
                if os.path.isdir(where) and not os.path.islink(where):
                    os.chmod(where, stat.S_IRWXU)
            if func in (os.unlink, os.remove, os.rmdir):
                func(failed)
            elif os.path.isdir(failed) and failed not in relisted:
                relisted.add(failed)  # could not list it before: once more, now readable
                shutil.rmtree(failed, onerror=fix_and_retry)
        except OSError:
            pass

    if os.path.lexists(path):
        shutil.rmtree(path, onerror=fix_and_retry)


@dataclass(frozen=True, slots=True)
class BuildSpec:
    """One target to build.

    `target` is the `[build.<name>]` table as plain Python values (command, version,
    sandbox, description, license, runtime-packages, ...); `project_dir` is the directory
    holding `.flox` inside the clean clone; `vars` the environment's `[vars]`.
    """

    name: str
    target: Mapping[str, object]
    project_dir: Path
    vars: Mapping[str, str] = field(default_factory=dict)
    workdir: Path | None = None  # scratch space (inside the publish's temp dir)


@dataclass(frozen=True, slots=True)
class StoreObject:
    """A store path to ship: its files are at `source` (the store path itself for real Nix
    builds, a staging directory for the built-in builder)."""

    store_path: str
    source: Path
    references: tuple[str, ...] = ()  # full store paths
    deriver: str | None = None
    ca: str | None = None


@dataclass(frozen=True, slots=True)
class BuildResult:
    """What a build made: `outputs` maps output name -> store path; `closure` every path to
    ship (outputs first)."""

    pname: str
    version: str
    outputs: dict[str, str]
    closure: tuple[StoreObject, ...]
    builder: str  # "flox" | "builtin"
    system: str
    drv_path: str | None = None
    description: str | None = None
    license: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return f"{self.pname}-{self.version}"


def build_env(vars: Mapping[str, str], base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment a build command runs with: ours minus secrets, plus `[vars]`."""
    env = dict(os.environ if base is None else base)
    for name in SECRET_ENV:
        env.pop(name, None)
    env.update({k: str(v) for k, v in vars.items()})
    return env


def nix_system() -> str:
    """The Nix system double of this machine, e.g. `x86_64-linux`."""
    machine = os.uname().machine
    arch = {"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine)
    kernel = os.uname().sysname.lower()
    return f"{arch}-{kernel}"


def use_flox() -> bool:
    """True when the real `flox` CLI is available (and not disabled with FLOXLS_BUILDER)."""
    forced = os.environ.get("FLOXLS_BUILDER", "")
    if forced == "builtin":
        return False
    return shutil.which("flox") is not None


def text_list(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list | tuple):
        return tuple(str(v) for v in value)
    return ()
