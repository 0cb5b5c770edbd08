"""The built-in builder, used when `flox` is not installed.

`bash` runs the target's `command` in the project directory (the directory holding
`.flox` in the clean clone) with `$out` set to a staging directory and the environment's
`[vars]` exported. The output then becomes the content-addressed store path that
`nix store add-path` would give it (`CA: fixed:r:sha256:<nix32>`, name `<name>-<version>`).

It cannot honour `sandbox = "pure"` (that needs Nix's sandbox) and refuses outputs that
contain their own staging path (they would break once relocated into /nix/store).
"""

from __future__ import annotations

import os
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from floxls.build import (
    BuildResult,
    BuildSpec,
    StoreObject,
    build_env,
    nix_system,
    remove_tree,
    text_list,
)
from floxls.build.process import run_cancellable
from floxls.cancel import CancelToken
from floxls.errors import FloxlsError
from floxls.progress import Event, Progress, ignore

DEFAULT_VERSION = "0.0.0"
LOG_TAIL = 15
BASH = ("bash", "--noprofile", "--norc", "-e", "-o", "pipefail", "-c")


def refuse_reason(target: dict[str, object] | object) -> str | None:
    """Why the built-in builder cannot build this target, or None."""
    if isinstance(target, dict) and target.get("sandbox") == "pure":
        return (
            'sandbox = "pure" needs Nix\'s build sandbox, which the built-in builder does not have'
        )
    return None


def resolve_version(spec: BuildSpec, env: dict[str, str], cancel: CancelToken | None) -> str:
    """The target's `version`: a string, `{file = "path"}` (contents, trimmed) or
    `{command = "..."}` (its stdout, trimmed); `0.0.0` when absent."""
    value = spec.target.get("version")
    if value is None:
        return DEFAULT_VERSION
    if isinstance(value, str):
        version = value.strip()
    elif isinstance(value, dict) and isinstance(value.get("file"), str):
        path = spec.project_dir / str(value["file"])
        try:
            version = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise FloxlsError(
                f"build.{spec.name}.version: cannot read {value['file']}: {exc.strerror}",
                "commit the version file, or write the version as a string",
            ) from None
    elif isinstance(value, dict) and isinstance(value.get("command"), str):
        if cancel is not None:
            cancel.check()
        try:
            proc = subprocess.run(
                [*BASH, str(value["command"])],
                cwd=spec.project_dir,
                env=env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=120,
                start_new_session=True,
            )
        except subprocess.TimeoutExpired:
            raise FloxlsError(
                f"build.{spec.name}.version: the version command did not finish in 120 s"
            ) from None
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or [""])[-1]
            raise FloxlsError(
                f"build.{spec.name}.version: the version command failed with exit status "
                f"{proc.returncode}: {last}",
                "make the command print the version and exit 0",
            )
        version = proc.stdout.strip()
    else:
        raise FloxlsError(
            f"build.{spec.name}.version must be a string, {{file = ...}} or {{command = ...}}"
        )
    if not version:
        raise FloxlsError(f"build.{spec.name}.version is empty", "give the target a version")
    return version


def build(
    spec: BuildSpec, *, progress: Progress = ignore, cancel: CancelToken | None = None
) -> BuildResult:
    """Run the target's command and turn `$out` into a content-addressed store object."""
    from floxls.nix.storepath import ca_field, ca_path_for_nar, valid_name

    reason = refuse_reason(dict(spec.target))
    if reason:
        raise FloxlsError(
            f"cannot build {spec.name}: {reason}",
            'install flox to build it in the sandbox, or set sandbox = "off"',
        )
    command = spec.target.get("command")
    if not isinstance(command, str) or not command.strip():
        raise FloxlsError(
            f"build.{spec.name} has no command", f'add command = "..." to [build.{spec.name}]'
        )
    env = build_env(spec.vars)
    version = resolve_version(spec, env, cancel)
    name = f"{spec.name}-{version}"
    if not valid_name(name):
        raise FloxlsError(
            f"{name!r} is not a valid store path name",
            "use only letters, digits and + - . _ ? = in the name and version",
        )

    staging_root = Path(tempfile.mkdtemp(prefix="floxls-build-", dir=spec.workdir))
    out = staging_root / name
    env["out"] = str(out)
    progress(Event("build", f"building {spec.name} {version} with the built-in builder"))

    def on_line(line: str) -> None:
        progress(Event("build", log=line))

    try:
        rc, tail = run_cancellable(
            [*BASH, command],
            cwd=spec.project_dir,
            env=env,
            cancel=cancel,
            on_line=on_line,
            tail=LOG_TAIL,
        )
        if rc != 0:
            shown = "\n".join(f"  | {ln}" for ln in tail) if tail else "  (no output)"
            raise FloxlsError(
                f"the build of {spec.name} failed with exit status {rc}; "
                f"the end of its log:\n{shown}",
                f"run the command of [build.{spec.name}] in a clean checkout to see why",
            )
        if not os.path.lexists(out):
            raise FloxlsError(
                f"the build of {spec.name} wrote nothing to $out",
                "make the command create $out (e.g. mkdir -p $out/bin; cp ... $out/bin)",
            )
        _make_readonly_friendly(out)
        # one pass over the NAR: its sha256 (the content address) and a search for $out
        nar_sha, leaked = hash_and_scan(out, str(out).encode(), cancel)
        if leaked:
            where = find_path_in_tree(out, str(out).encode())
            rel = os.path.relpath(where, out) if where else "a file name"
            raise FloxlsError(
                f"the output of {spec.name} contains its build path ($out) in {rel}; it would "
                "break once moved into /nix/store",
                "write paths relative to the output, or build with flox",
            )
        store_path = ca_path_for_nar(name, nar_sha)
    except BaseException:
        remove_tree(staging_root)
        raise
    progress(Event("build", f"built {store_path}"))
    obj = StoreObject(store_path=store_path, source=out, ca=ca_field(nar_sha))
    desc = spec.target.get("description")
    return BuildResult(
        pname=spec.name,
        version=version,
        outputs={"out": store_path},
        closure=(obj,),
        builder="builtin",
        system=nix_system(),
        description=desc if isinstance(desc, str) else None,
        license=text_list(spec.target.get("license")),
    )


def hash_and_scan(
    root: Path, needle: bytes, cancel: CancelToken | None = None
) -> tuple[bytes, bool]:
    """sha256 of the NAR of `root`, and whether `needle` occurs anywhere in it (file
    contents, symlink targets, names), in one streaming pass."""
    import hashlib

    from floxls.nix.nar import iter_nar

    sha = hashlib.sha256()
    keep = len(needle) - 1
    tail = b""
    found = False
    for piece in iter_nar(root, 4 << 20):
        if cancel is not None:
            cancel.check()
        sha.update(piece)
        if not found:
            # a match inside this piece, or one straddling the previous piece and this one
            found = needle in piece or (keep > 0 and needle in tail + piece[:keep])
            if keep:
                tail = piece[-keep:] if len(piece) >= keep else (tail + piece)[-keep:]
    return sha.digest(), found


def _make_readonly_friendly(root: Path) -> None:
    """Make sure we can read everything the build wrote (a NAR needs to)."""
    for path in _walk(root):
        st = os.lstat(path)
        rx = stat.S_IRUSR | stat.S_IXUSR
        if stat.S_ISDIR(st.st_mode) and st.st_mode & rx != rx:
            os.chmod(path, st.st_mode | rx)
        elif stat.S_ISREG(st.st_mode) and not st.st_mode & stat.S_IRUSR:
            os.chmod(path, st.st_mode | stat.S_IRUSR)


def _walk(root: Path) -> Iterator[str]:
    yield str(root)
    if root.is_symlink() or not root.is_dir():
        return
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            yield os.path.join(dirpath, n)


def find_path_in_tree(root: Path, needle: bytes, chunk: int = 1 << 20) -> str | None:
    """The first file (or symlink) under `root` whose contents (or target) contain `needle`."""
    for path in _walk(root):
        st = os.lstat(path)
        if stat.S_ISLNK(st.st_mode):
            if needle in os.fsencode(os.readlink(path)):
                return path
        elif stat.S_ISREG(st.st_mode):
            keep = len(needle) - 1
            prev = b""
            with open(path, "rb") as fh:
                while block := fh.read(chunk):
                    if needle in prev + block:
                        return path
                    prev = (prev + block)[-keep:] if keep else b""
    return None
