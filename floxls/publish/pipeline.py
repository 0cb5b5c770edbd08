"""The publish pipeline: preflight -> clone -> build -> closure -> sign -> upload -> record.

`run(request, progress, cancel)` is the one entry point, shared by the CLI and the
language server. It reports structured `Event`s (steps: preflight, clone, build, closure,
sign, upload, record), checks `cancel` between and inside steps, and raises FloxlsError
(a `PreflightFailed` carrying every finding when preflight says no) or Cancelled.

Guarantees: every preflight check runs before anything is cloned, built or uploaded; the
temp directory (clone, build staging, compressed NARs) is removed on every exit; NARs go
up before narinfos; the catalog is written only after the upload succeeded; one publish
per (environment, target) at a time.
"""

from __future__ import annotations

import shlex
import tempfile
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from floxls.build import remove_tree
from floxls.cancel import CancelToken
from floxls.errors import FloxlsError
from floxls.progress import Event, Progress, ignore, plural
from floxls.publish.preflight import Finding

if TYPE_CHECKING:
    from floxls.build import BuildResult
    from floxls.catalog import BuildRecord, Catalog
    from floxls.config import Settings
    from floxls.manifest.model import Manifest, Problem
    from floxls.nix.keys import SecretKey
    from floxls.repo import RepoState
    from floxls.store import BinaryCache
    from floxls.store.ship import ShipResult

STEPS = ("preflight", "clone", "build", "closure", "sign", "upload", "record")
MANIFEST = Path(".flox") / "env" / "manifest.toml"


@dataclass(frozen=True)
class PublishRequest:
    """What to publish. `env_dir` is the directory holding `.flox`; `package` the [build]
    target (None: the only one). `workdir` is where the temp directory goes (default: the
    system's temp dir). `online=False` skips asking the remote whether HEAD is pushed."""

    env_dir: Path
    package: str | None
    settings: Settings
    workdir: Path | None = None
    online: bool = True


@dataclass(frozen=True)
class PublishResult:
    catalog: str
    name: str
    version: str
    store_url: str  # without credentials
    store_paths: list[str]  # the outputs
    uploaded: list[str]
    skipped: list[str]
    rev: str = ""
    recorded: bool = True  # False when the catalog already had this build
    warnings: list[Finding] = field(default_factory=list)
    catalog_kind: str = "floxhub"  # or "local": floxls's own catalog, unknown to flox
    public_key: str | None = None  # of the key that signed the narinfos

    @property
    def install_ref(self) -> str:
        return f"{self.catalog}/{self.name}"

    @property
    def how_to_get(self) -> str:
        """How a user gets the package: flox install from FloxHub, else nix copy from the
        cache (the local catalog is floxls's own; flox cannot install from it)."""
        if self.catalog_kind == "floxhub":
            return f"install it with: flox install {self.install_ref}"
        return "fetch it with: " + shlex.join(
            nix_copy_command(self.store_url, self.store_paths, self.public_key)
        )


def nix_copy_command(store_url: str, paths: list[str], public_key: str | None) -> list[str]:
    """The `nix copy` that fetches `paths` from the cache: works with a stock Nix (the nix
    command is experimental there) and trusts the key that signed them."""
    cmd = ["nix", "--extra-experimental-features", "nix-command", "copy"]
    if public_key:
        cmd += ["--option", "extra-trusted-public-keys", public_key]
    return [*cmd, "--from", store_url, *paths]


class PreflightFailed(FloxlsError):
    """Preflight found reasons not to publish; `findings` holds all of them (errors and
    warnings), `message`/`fix` describe the first error."""

    def __init__(self, findings: list[Finding]) -> None:
        errs = [f for f in findings if f.is_error]
        first = errs[0]
        more = f" (and {len(errs) - 1} more problem{'s' if len(errs) > 2 else ''})"
        super().__init__(first.message + (more if len(errs) > 1 else ""), first.fix)
        self.findings = findings


def read_manifest(env_dir: Path) -> str:
    path = env_dir / MANIFEST
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FloxlsError(
            f"no Flox environment in {env_dir} ({MANIFEST} not found)",
            "pass the directory that holds .flox with -d DIR",
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise FloxlsError(f"cannot read {path}: {exc}") from None


def run(
    request: PublishRequest, progress: Progress = ignore, cancel: CancelToken | None = None
) -> PublishResult:
    """Publish one build target; see the module docstring."""
    from floxls.manifest import analyze
    from floxls.publish.locks import publish_lock
    from floxls.publish.preflight import resolve_target

    cancel = cancel or CancelToken()
    env_dir = Path(request.env_dir).resolve()
    settings = request.settings
    progress(Event("preflight", f"checking {env_dir}", fraction=0.0))
    manifest, problems = analyze(read_manifest(env_dir))
    target, _ = resolve_target(manifest, request.package)
    lock_name = target if target is not None else (request.package or "")
    with publish_lock(env_dir, lock_name, settings.data_dir / "locks"):
        return _run_locked(request, env_dir, manifest, problems, progress, cancel)


def _run_locked(
    request: PublishRequest,
    env_dir: Path,
    manifest: Manifest,
    problems: list[Problem],
    progress: Progress,
    cancel: CancelToken,
) -> PublishResult:
    from floxls.catalog import open_catalog, store_url_from_publish_info
    from floxls.nix.keys import load_secret_key
    from floxls.publish.preflight import preflight, resolve_target
    from floxls.repo import repo_state
    from floxls.store import open_store

    settings = request.settings
    state = repo_state(env_dir)
    findings = preflight(
        env_dir,
        manifest,
        settings,
        request.package,
        problems=problems,
        state=state,
        online=request.online,
    )
    if any(f.is_error for f in findings):
        raise PreflightFailed(findings)
    warnings = [f for f in findings if not f.is_error]
    for w in warnings:
        progress(Event("preflight", f"warning: {w.message}"))
    target, _ = resolve_target(manifest, request.package)
    assert target is not None and state.root is not None and state.head is not None
    cancel.check()

    key = load_secret_key(Path(settings.signing_key)) if settings.signing_key else None
    catalog = open_catalog(settings)
    original_url = state.remote_url or state.root.as_uri()
    catalog.ensure_package(target, original_url)
    store_url = settings.store_url
    if not store_url:
        store_url = store_url_from_publish_info(catalog.publish_info(target))
    if not store_url:
        raise FloxlsError(
            "no binary cache to upload to: none is configured and the catalog names none",
            "pass --store-url URL or set publish.store_url in flox.toml",
        )
    store = open_store(store_url)
    if key is None and store.secret_key_file is None:
        progress(Event("preflight", "warning: no signing key; the narinfos will be unsigned"))
    progress(Event("preflight", "ready to publish", fraction=0.05))
    cancel.check()

    tmp = Path(tempfile.mkdtemp(prefix="floxls-publish-", dir=request.workdir))
    try:
        built = _clone_and_build(state, target, tmp, progress, cancel)
        shipped = _ship(store, built, key, tmp, progress, cancel)
    except BaseException:
        remove_tree(tmp)
        raise
    # The temp dir (clone, build output) goes away while the catalog records the build;
    # it is gone before run() returns or raises.
    cleaner = threading.Thread(target=remove_tree, args=(tmp,), daemon=True)
    cleaner.start()
    try:
        record = _build_record(state, built, shipped, store.url)
        recorded = _record(catalog, target, record, store.url, progress, cancel)
    finally:
        cleaner.join()
    outputs = list(built.outputs.values())
    return PublishResult(
        catalog=catalog.name,
        name=target,
        version=built.version,
        store_url=store.url,
        store_paths=outputs,
        uploaded=shipped.uploaded,
        skipped=shipped.skipped,
        rev=state.head,
        recorded=recorded,
        warnings=warnings,
        catalog_kind=catalog.kind,
        public_key=str(key.public()) if key is not None else None,
    )


def _clone_and_build(
    state: RepoState, target: str, tmp: Path, progress: Progress, cancel: CancelToken
) -> BuildResult:
    from floxls.build import BuildSpec, use_flox
    from floxls.manifest import analyze
    from floxls.manifest.values import to_python
    from floxls.repo import clone_clean

    assert state.root is not None and state.head is not None
    progress(Event("clone", f"cloning {state.head[:12]} into a clean checkout", fraction=0.05))
    clone = clone_clean(state.root, state.head, tmp / "src", cancel=cancel)
    project = clone if state.env_rel == "." else clone / state.env_rel
    progress(Event("clone", "clean checkout ready", fraction=0.1))
    cancel.check()

    manifest, _ = analyze(read_manifest(project))
    value = manifest.get("build", target)
    spec_value = to_python(value) if value is not None else {}
    vars_value = manifest.get("vars")
    vars_py = to_python(vars_value) if vars_value is not None else {}
    vars_map = (
        {str(k): _var_text(v) for k, v in vars_py.items()} if isinstance(vars_py, dict) else {}
    )
    spec = BuildSpec(
        name=target,
        target=spec_value if isinstance(spec_value, dict) else {},
        project_dir=project,
        vars=vars_map,
        workdir=tmp,
    )
    if use_flox():
        from floxls.build import flox as builder
    else:
        from floxls.build import builtin as builder  # type: ignore[no-redef]
    built = builder.build(spec, progress=progress, cancel=cancel)
    cancel.check()
    return built


def _var_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _ship(
    store: BinaryCache,
    built: BuildResult,
    key: SecretKey | None,
    tmp: Path,
    progress: Progress,
    cancel: CancelToken,
) -> ShipResult:
    from floxls.store.ship import PathToShip, ship

    paths = [
        PathToShip(
            source=o.source,
            store_path=o.store_path,
            references=list(o.references),
            deriver=o.deriver,
            ca=o.ca,
        )
        for o in built.closure
    ]
    progress(
        Event(
            "closure",
            f"{plural(len(paths), 'store path')} to ship",
            fraction=0.5,
        )
    )
    return ship(
        store,
        paths,
        key=key,
        progress=progress,
        cancel=cancel,
        workdir=tmp,
    )


def _utc(iso: str | None) -> str:
    if not iso:
        return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    try:
        return datetime.fromisoformat(iso).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        return iso


def _build_record(
    state: RepoState, built: BuildResult, shipped: ShipResult, store_url: str
) -> BuildRecord:
    from floxls.catalog import BuildRecord, Derivation, Output, narinfo_json

    assert state.root is not None and state.head is not None
    narinfos = {
        o.store_path: narinfo_json(shipped.narinfos[o.store_path])
        for o in built.closure
        if o.store_path in shipped.narinfos
    }
    return BuildRecord(
        url=state.remote_url or state.root.as_uri(),
        rev=state.head,
        rev_count=state.rev_count or 0,
        rev_date=_utc(state.rev_date),
        ref=state.branch,
        derivation=Derivation(
            drv_path=built.drv_path or "",
            system=built.system,
            name=built.name,
            pname=built.pname,
            version=built.version,
            description=built.description,
            license=", ".join(built.license) or None,
            outputs=[Output(n, p) for n, p in built.outputs.items()],
            outputs_to_install=["out"] if "out" in built.outputs else list(built.outputs)[:1],
        ),
        narinfos=narinfos,
        cache_uri=store_url,
        dot_flox_dir=state.dot_flox_dir,
    )


def _record(
    catalog: Catalog,
    target: str,
    record: BuildRecord,
    store_url: str,
    progress: Progress,
    cancel: CancelToken,
) -> bool:
    cancel.check()
    progress(Event("record", f"recording the build in the {catalog.kind} catalog", fraction=0.95))
    try:
        if catalog.check_build(target, record) is True:
            progress(Event("record", "the catalog already has this build", fraction=1.0))
            return False
        catalog.record_build(target, record)
    except FloxlsError as exc:
        raise FloxlsError(
            f"the build is uploaded to {store_url}, but the catalog did not record it: "
            f"{exc.message}",
            "publish again once the catalog is reachable: the upload is skipped and only "
            "the record is made",
        ) from None
    progress(
        Event(
            "record", f"recorded {catalog.name}/{target} {record.derivation.version}", fraction=1.0
        )
    )
    return True
