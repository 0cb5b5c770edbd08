"""Git facts about the repository an environment lives in (adapter to the outside: git).

`repo_state(env_dir)` gathers what a publish depends on in one cheap, local pass (no
network): the repository root, branch, HEAD, upstream, how far HEAD is ahead of it, the
untracked files under `.flox` and the dirty tracked files. `confirm_pushed` asks the remote
itself whether it has HEAD's revision; `clone_clean` makes the clean clone a build runs in.

GitPython is imported inside the functions so the language server starts without it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from floxls.catalog.urls import strip_credentials, strip_credentials_in_text
from floxls.errors import FloxlsError

if TYPE_CHECKING:
    from floxls.cancel import CancelToken


@dataclass(frozen=True, slots=True)
class RepoState:
    """What git says about the repository holding `env_dir` (the directory with `.flox`).

    `root` is None when `env_dir` is not inside a git work tree (`error` says why).
    Paths in `untracked` and `dirty` are relative to `root`, with `/` separators.
    `ahead` is the number of commits on HEAD that the upstream ref lacks (None without an
    upstream); it is the offline view: the remote is not asked (see `confirm_pushed`).
    `remote_url` never carries credentials.
    """

    env_dir: Path
    root: Path | None = None
    error: str | None = None
    env_rel: str = "."  # env_dir relative to root ("." when it is the root)
    branch: str | None = None  # None when HEAD is detached
    head: str | None = None  # None before the first commit
    upstream: str | None = None  # e.g. "origin/main"
    remote: str | None = None  # e.g. "origin"
    remote_url: str | None = None
    ahead: int | None = None
    behind: int | None = None
    upstream_missing: bool = False  # configured, but the remote-tracking ref does not exist
    untracked: tuple[str, ...] = ()
    dirty: tuple[str, ...] = ()
    rev_count: int | None = None
    rev_date: str | None = None  # committer date of HEAD, ISO 8601
    dot_flox_dir: str = ".flox"  # the .flox directory relative to root

    @property
    def is_repo(self) -> bool:
        return self.root is not None


def _git_env() -> dict[str, str]:
    env = dict(os.environ)
    env["GIT_TERMINAL_PROMPT"] = "0"  # never wait for a password on a terminal
    env.setdefault("GIT_ASKPASS", "true")
    env.setdefault("GIT_SSH_COMMAND", "ssh -o BatchMode=yes")  # nor for ssh prompts
    env["LC_ALL"] = "C"
    return env


def _open_repo(env_dir: Path) -> Any:
    import git  # GitPython, lazily

    try:
        return git.Repo(env_dir, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return None


def repo_state(env_dir: Path) -> RepoState:
    """Collect the git facts for `env_dir` without touching the network. Never raises for
    "not a repository"; FloxlsError only when git itself cannot run."""
    import git

    env_dir = Path(env_dir).resolve()
    if not env_dir.is_dir():
        return RepoState(env_dir=env_dir, error=f"{env_dir} is not a directory")
    try:
        repo = _open_repo(env_dir)
    except git.GitCommandNotFound as exc:  # pragma: no cover - git missing
        raise FloxlsError("git is not installed", "install git and try again") from exc
    if repo is None or repo.working_tree_dir is None:
        return RepoState(env_dir=env_dir, error=f"{env_dir} is not inside a git repository")
    root = Path(repo.working_tree_dir).resolve()
    g = repo.git
    g.update_environment(**{"GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"})

    def run(*args: str) -> str | None:
        try:
            return str(g.execute(["git", *args], strip_newline_in_stdout=False))
        except git.GitCommandError:
            return None

    env_rel = env_dir.relative_to(root).as_posix() if env_dir != root else "."
    dot_flox = ".flox" if env_rel == "." else f"{env_rel}/.flox"

    # One `status --porcelain=v2 --branch` gives HEAD, branch, upstream, ahead/behind and
    # the dirty tracked files (a process per fact is slow: every fork costs milliseconds).
    status = run("status", "--porcelain=v2", "--branch", "-z", "--untracked-files=no")
    head, branch, upstream, ahead, behind, dirty = _parse_status_v2(status or "")

    remote = remote_url = None
    upstream_missing = False
    if branch:
        cfg = _parse_config(
            run(
                "config",
                "-z",
                "--get-regexp",
                rf"^(branch\.{re.escape(branch)}\.(remote|merge)|remote\..*\.url)$",
            )
            or ""
        )
        remote = cfg.get(f"branch.{branch}.remote")
        merge = cfg.get(f"branch.{branch}.merge")
        if remote and merge:
            if upstream is None:  # configured, but the remote-tracking ref is missing
                upstream = f"{remote}/{merge.removeprefix('refs/heads/')}"
            upstream_missing = ahead is None
            url = cfg.get(f"remote.{remote}.url")
            remote_url = strip_credentials(url) if url else None
        else:
            remote, upstream, ahead, behind = None, None, None, None

    untracked_out = run(
        "ls-files", "-z", "--others", "--exclude-standard", "--full-name", "--", dot_flox
    )
    untracked = tuple(p for p in (untracked_out or "").split("\0") if p)

    rev_count = rev_date = None
    if head:
        n = run("rev-list", "--count", "HEAD")
        rev_count = int(n) if n and n.strip().isdigit() else None
        d = run("show", "-s", "--format=%cI", "HEAD")
        rev_date = d.strip() if d else None

    return RepoState(
        env_dir=env_dir,
        root=root,
        env_rel=env_rel,
        branch=branch,
        head=head,
        upstream=upstream,
        remote=remote,
        remote_url=remote_url,
        ahead=ahead,
        behind=behind,
        upstream_missing=upstream_missing,
        untracked=untracked,
        dirty=dirty,
        rev_count=rev_count,
        rev_date=rev_date,
        dot_flox_dir=dot_flox,
    )


def _parse_config(out: str) -> dict[str, str]:
    """`git config -z --get-regexp` output: NUL-terminated `key\\nvalue` records."""
    values: dict[str, str] = {}
    for record in out.split("\0"):
        if record:
            key, _, value = record.partition("\n")
            values.setdefault(key, value)
    return values


def _parse_status_v2(
    out: str,
) -> tuple[str | None, str | None, str | None, int | None, int | None, tuple[str, ...]]:
    """(head, branch, upstream, ahead, behind, dirty paths) from
    `git status --porcelain=v2 --branch -z`."""
    head = branch = upstream = None
    ahead = behind = None
    dirty: list[str] = []
    records = out.split("\0")
    i = 0
    while i < len(records):
        rec = records[i]
        i += 1
        if rec.startswith("# branch.oid "):
            oid = rec.split(" ", 2)[2]
            head = None if oid == "(initial)" else oid
        elif rec.startswith("# branch.head "):
            name = rec.split(" ", 2)[2]
            branch = None if name == "(detached)" else name
        elif rec.startswith("# branch.upstream "):
            upstream = rec.split(" ", 2)[2]
        elif rec.startswith("# branch.ab "):
            a, b = rec.split(" ")[2:4]
            ahead, behind = int(a), -int(b)
        elif rec.startswith("1 "):
            dirty.append(rec.split(" ", 8)[8])
        elif rec.startswith("2 "):
            dirty.append(rec.split(" ", 9)[9])
            i += 1  # the original path of the rename/copy follows
        elif rec.startswith("u "):
            dirty.append(rec.split(" ", 10)[10])
    return head, branch, upstream, ahead, behind, tuple(dirty)


@dataclass(frozen=True, slots=True)
class PushCheck:
    """The answer to "does the remote have this revision?".

    `online` is False when the remote could not be asked; then `pushed` is the offline hint
    (HEAD is an ancestor of the local upstream ref) and `message` says it was not confirmed.
    """

    pushed: bool
    online: bool
    message: str


def confirm_pushed(state: RepoState, *, timeout: float = 30.0) -> PushCheck:
    """Ask the remote whether it has `state.head`:
    `git fetch --negotiate-only --negotiation-tip=<rev> <remote>` prints the revision when the
    remote has it. When the remote cannot be reached, fall back to the local upstream ref."""
    if state.root is None or state.head is None or state.remote is None:
        return PushCheck(False, False, "no remote to ask")
    rev = state.head
    offline_ok = state.ahead == 0 and not state.upstream_missing
    cmd = [
        "git",
        "-c",
        "protocol.version=2",
        "fetch",
        "--negotiate-only",
        f"--negotiation-tip={rev}",
        state.remote,
    ]
    try:
        proc = subprocess.run(
            cmd,
            cwd=state.root,
            env=_git_env(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        why = "timed out" if isinstance(exc, subprocess.TimeoutExpired) else "could not run git"
        return _offline(offline_ok, state, why)
    if proc.returncode != 0:
        first = next((ln for ln in proc.stderr.splitlines() if ln.strip()), "git fetch failed")
        return _offline(offline_ok, state, strip_credentials_in_text(first.strip()))
    if rev in proc.stdout.split():
        return PushCheck(True, True, f"{state.remote} has {rev[:12]}")
    return PushCheck(False, True, f"{state.remote} does not have {rev[:12]}")


def _offline(offline_ok: bool, state: RepoState, why: str) -> PushCheck:
    where = state.upstream or state.remote or "the upstream"
    if offline_ok:
        msg = (
            f"could not reach {state.remote} ({why}); HEAD is in the last fetched {where}, "
            "so it is assumed pushed (not confirmed with the remote)"
        )
    else:
        msg = f"could not reach {state.remote} ({why}) and HEAD is not in {where}"
    return PushCheck(offline_ok, False, msg)


def clone_clean(root: Path, rev: str, dest: Path, *, cancel: CancelToken | None = None) -> Path:
    """`git clone --shared --no-checkout <root> <dest>` then check out `rev` (detached), so
    only committed files take part. `dest` must not exist. Cancellable; on any failure the
    partial clone is removed and FloxlsError (or Cancelled) raised."""
    from floxls.build.process import run_cancellable

    dest = Path(dest)
    try:
        for cmd, cwd in (
            (["git", "clone", "-q", "--shared", "--no-checkout", str(root), str(dest)], None),
            (["git", "-c", "advice.detachedHead=false", "checkout", "-q", "--detach", rev], dest),
        ):
            rc, tail = run_cancellable(cmd, cwd=cwd, env=_git_env(), cancel=cancel)
            if rc != 0:
                detail = strip_credentials_in_text(tail[-1]) if tail else f"exit status {rc}"
                raise FloxlsError(
                    f"could not make a clean clone of {root} at {rev[:12]}: {detail}",
                    "check that the repository is readable and the revision exists",
                )
    except BaseException:
        shutil.rmtree(dest, ignore_errors=True)
        raise
    return dest
