"""The real builder: `flox build <name>` in the clean clone.

Flox leaves a `result-<name>` symlink (and `result-<name>-<output>` for further outputs) in
the project directory, pointing into /nix/store. The closure and each path's references
come from `nix-store --query --requisites` / `--references`, the deriver from `--deriver`.
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


def _nix_store(*args: str) -> list[str]:
    exe = shutil.which("nix-store")
    if exe is None:
        raise FloxlsError("nix-store is not on PATH", "install Nix alongside flox")
    proc = subprocess.run(
        [exe, *args], capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False
    )
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["failed"])[-1]
        raise FloxlsError(f"nix-store {' '.join(args[:2])} failed: {last}")
    return [ln.strip() for ln in proc.stdout.splitlines() if ln.strip()]


def result_links(project_dir: Path, name: str) -> dict[str, str]:
    """`result-<name>` -> out, `result-<name>-<output>` -> <output>, resolved to store paths."""
    outputs: dict[str, str] = {}
    for link in sorted(project_dir.glob(f"result-{name}*")):
        if not link.is_symlink():
            continue
        suffix = link.name[len(f"result-{name}") :]
        if suffix and not suffix.startswith("-"):
            continue  # result-<name>foo belongs to another target
        output = suffix[1:] if suffix else "out"
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
    closure_paths = _nix_store("--query", "--requisites", *outputs.values())
    ordered = list(dict.fromkeys([*outputs.values(), *closure_paths]))
    objects: list[StoreObject] = []
    for path in ordered:
        refs = tuple(r for r in _nix_store("--query", "--references", path) if r)
        deriver_out = _nix_store("--query", "--deriver", path)
        deriver = deriver_out[0] if deriver_out and deriver_out[0] != "unknown-deriver" else None
        objects.append(
            StoreObject(store_path=path, source=Path(path), references=refs, deriver=deriver)
        )
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
