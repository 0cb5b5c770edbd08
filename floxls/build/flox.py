"""The real builder: `flox build -d <project> <name>` in the clean clone.

What Flox does (flox/flox: cli/flox/src/commands/build.rs, cli/flox-rust-sdk/src/providers/
build.rs, package-builder/flox-build.mk, cli/flox/doc/flox-build.md): it builds with
`nix build --out-link result-<name>` run in the directory holding `.flox`, so the outputs
are `result-<name>` (out) and `result-<name>-<output>` (further outputs) there. Next to
them it may leave links that are NOT outputs: `result-<name>-log` (the build log, imported
into the store) and `result-<name>-buildCache` (pure builds). On failure it exits
non-zero after printing the build log; on success it prints
`Builds completed successfully. Output created: ./result-<name>`.

The closure and every path's references and deriver come from a few `nix-store` calls,
not one per path: `--query --requisites` of the outputs, then `--dump-db` of the closure
in chunks (the validity registration: path, hash, size, deriver, references).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from floxls.build import BuildResult, BuildSpec, StoreObject, build_env, nix_system, text_list
from floxls.build.process import run_cancellable
from floxls.cancel import CancelToken
from floxls.errors import FloxlsError
from floxls.progress import Event, Progress, ignore

LOG_TAIL = 15


def _nix_store(*args: str) -> str:
    exe = shutil.which("nix-store")
    if exe is None:
        raise FloxlsError("nix-store is not on PATH", "install Nix alongside flox")
    proc = subprocess.run(
        [exe, *args], capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False
    )
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["failed"])[-1]
        raise FloxlsError(f"nix-store {' '.join(args[:2])} failed: {last}")
    return proc.stdout


DUMP_CHUNK = 1000  # store paths per `nix-store --dump-db` call (command-line length)


def parse_registration(text: str) -> dict[str, tuple[str | None, tuple[str, ...]]]:
    """Parse `nix-store --dump-db PATHS` output: per path `path`, `nar hash`, `nar size`,
    `deriver` (empty line when unknown), `number of references`, then each reference.
    Returns path -> (deriver, references)."""
    lines = text.split("\n")
    out: dict[str, tuple[str | None, tuple[str, ...]]] = {}
    i = 0
    while i < len(lines) and lines[i].strip():
        path = lines[i].strip()
        try:
            deriver = lines[i + 3].strip() or None
            count = int(lines[i + 4])
        except (IndexError, ValueError):
            raise FloxlsError(f"unexpected `nix-store --dump-db` output near {path}") from None
        refs = tuple(ln.strip() for ln in lines[i + 5 : i + 5 + count])
        if len(refs) != count:
            raise FloxlsError(f"unexpected `nix-store --dump-db` output near {path}")
        out[path] = (deriver, refs)
        i += 5 + count
    return out


def query_closure(roots: list[str]) -> list[StoreObject]:
    """The closure of `roots` (roots first, in order, then the rest as `--requisites` lists
    them), each with its references and deriver: one `--requisites` call and one
    `--dump-db` call per DUMP_CHUNK paths."""
    requisites = _nix_store("--query", "--requisites", *roots).split()
    ordered = list(dict.fromkeys([*roots, *requisites]))
    info: dict[str, tuple[str | None, tuple[str, ...]]] = {}
    for start in range(0, len(ordered), DUMP_CHUNK):
        info.update(
            parse_registration(_nix_store("--dump-db", *ordered[start : start + DUMP_CHUNK]))
        )
    objects: list[StoreObject] = []
    for path in ordered:
        if path not in info:
            raise FloxlsError(f"nix-store --dump-db did not describe {path}")
        deriver, refs = info[path]
        objects.append(
            StoreObject(store_path=path, source=Path(path), references=refs, deriver=deriver)
        )
    return objects


# Links Flox leaves next to the outputs that are not outputs of the package.
NOT_OUTPUTS = ("log", "buildCache")


def result_links(project_dir: Path, name: str) -> dict[str, str]:
    """`result-<name>` -> out, `result-<name>-<output>` -> <output>, resolved to store paths;
    without `result-<name>-log` / `-buildCache`, which Flox leaves too but are no outputs."""
    outputs: dict[str, str] = {}
    for link in sorted(project_dir.glob(f"result-{name}*")):
        if not link.is_symlink():
            continue
        suffix = link.name[len(f"result-{name}") :]
        if suffix and not suffix.startswith("-"):
            continue  # result-<name>foo belongs to another target
        output = suffix[1:] if suffix else "out"
        if output in NOT_OUTPUTS:
            continue
        outputs[output] = os.path.realpath(link)
    return outputs


def build(
    spec: BuildSpec, *, progress: Progress = ignore, cancel: CancelToken | None = None
) -> BuildResult:
    flox = shutil.which("flox")
    if flox is None:  # pragma: no cover - the caller checked
        raise FloxlsError("flox is not on PATH")
    progress(Event("build", f"building {spec.name} with flox build"))
    rc, tail = run_cancellable(
        [flox, "build", "-d", str(spec.project_dir), spec.name],
        cwd=spec.project_dir,
        env=build_env({}),
        cancel=cancel,
        on_line=lambda line: progress(Event("build", log=line)),
        tail=LOG_TAIL,
    )
    if rc != 0:
        shown = "\n".join(f"  | {ln}" for ln in tail) if tail else "  (no output)"
        raise FloxlsError(
            f"flox build {spec.name} failed with exit status {rc}; the end of its log:\n{shown}",
            f"run `flox build {spec.name}` in a clean checkout to see why",
        )
    outputs = result_links(spec.project_dir, spec.name)
    if "out" not in outputs:
        raise FloxlsError(
            f"flox build {spec.name} left no result-{spec.name} link",
            "check that the target's name matches its [build] table",
        )
    outputs = {"out": outputs["out"], **outputs}  # out first: its deriver is the drv
    objects = query_closure(list(outputs.values()))
    # `result-<name>-<x>` may be the link of another target `<name>-<x>`: an output of this
    # package has the deriver of its `out`
    drv = objects[0].deriver
    by_path = {o.store_path: o for o in objects}
    stray = [k for k, p in outputs.items() if k != "out" and drv and by_path[p].deriver != drv]
    if stray:
        for k in stray:
            del outputs[k]
        objects = query_closure(list(outputs.values()))
    from floxls.nix.storepath import name_part

    out_name = name_part(outputs["out"])
    version = spec.target.get("version")
    if not isinstance(version, str):
        prefix = f"{spec.name}-"
        version = out_name[len(prefix) :] if out_name.startswith(prefix) else "0.0.0"
    desc = spec.target.get("description")
    return BuildResult(
        pname=spec.name,
        version=version,
        outputs=outputs,
        closure=tuple(objects),
        builder="flox",
        system=nix_system(),
        drv_path=objects[0].deriver,
        description=desc if isinstance(desc, str) else None,
        license=text_list(spec.target.get("license")),
    )
