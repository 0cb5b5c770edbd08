"""floxls.repo against real git repositories with a bare remote."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from floxls.cancel import CancelToken
from floxls.catalog.urls import strip_credentials_in_text
from floxls.errors import Cancelled, FloxlsError
from floxls.repo import clone_clean, confirm_pushed, repo_state
from tests.support.gitrepo import GitEnv, git


def test_clean_pushed_repo(git_env: GitEnv) -> None:
    s = repo_state(git_env.env_dir)
    assert s.is_repo and s.root == git_env.root.resolve()
    assert s.branch == "main"
    assert s.head == git_env.head()
    assert s.upstream == "origin/main" and s.remote == "origin"
    assert s.remote_url == str(git_env.remote)
    assert (s.ahead, s.behind) == (0, 0)
    assert s.untracked == () and s.dirty == ()
    assert s.rev_count == 1 and s.rev_date and s.rev_date[:2] == "20"
    assert s.env_rel == "." and s.dot_flox_dir == ".flox"


def test_not_a_repo(tmp_path: Path) -> None:
    s = repo_state(tmp_path)
    assert not s.is_repo
    assert s.error and "not inside a git repository" in s.error


def test_untracked_only_counts_env_files(git_env: GitEnv) -> None:
    git_env.untrack(".flox/env/new.json")
    git_env.write("elsewhere.txt", "x\n")  # untracked, but not under .flox: fine
    s = repo_state(git_env.env_dir)
    assert s.untracked == (".flox/env/new.json",)
    assert s.dirty == ()


def test_dirty_and_staged_and_renamed(git_env: GitEnv) -> None:
    git_env.dirty("README.md")
    git_env.git("mv", "data.txt", "data2.txt")
    s = repo_state(git_env.env_dir)
    assert set(s.dirty) == {"README.md", "data2.txt"}


def test_unpushed_commits_counted(git_env: GitEnv) -> None:
    git_env.commit_without_push(2)
    s = repo_state(git_env.env_dir)
    assert s.ahead == 2


def test_no_upstream_and_detached(git_env: GitEnv) -> None:
    git_env.git("switch", "-q", "-c", "feature")
    s = repo_state(git_env.env_dir)
    assert s.branch == "feature" and s.upstream is None and s.ahead is None
    git_env.git("switch", "-q", "--detach", "HEAD")
    s = repo_state(git_env.env_dir)
    assert s.branch is None and s.head == git_env.head()


def test_env_in_subdirectory(make_git_env) -> None:  # type: ignore[no-untyped-def]
    env = make_git_env(subdir="pkgs/app")
    s = repo_state(env.env_dir)
    assert s.env_rel == "pkgs/app" and s.dot_flox_dir == "pkgs/app/.flox"
    env.untrack(".flox/x")
    assert repo_state(env.env_dir).untracked == ("pkgs/app/.flox/x",)


def test_confirm_pushed_online(git_env: GitEnv) -> None:
    check = confirm_pushed(repo_state(git_env.env_dir))
    assert check.online and check.pushed
    git_env.commit_without_push()
    check = confirm_pushed(repo_state(git_env.env_dir))
    assert check.online and not check.pushed


def test_confirm_pushed_stale_tracking_ref(git_env: GitEnv, tmp_path: Path) -> None:
    # the local upstream ref claims HEAD is pushed, but the remote lost it: ask the remote
    git_env.commit()
    git(git_env.remote, "update-ref", "refs/heads/main", "HEAD~1")
    git(git_env.remote, "reflog", "expire", "--expire=now", "--all")
    git(git_env.remote, "gc", "-q", "--prune=now")
    s = repo_state(git_env.env_dir)
    assert s.ahead == 0
    check = confirm_pushed(s)
    assert check.online and not check.pushed


def test_confirm_pushed_offline_fallback(git_env: GitEnv) -> None:
    secret_url = "https://user:s3cr3t-pass@127.0.0.1:9/nothing.git"
    git_env.git("remote", "set-url", "origin", secret_url)
    s = repo_state(git_env.env_dir)
    assert s.remote_url == "https://127.0.0.1:9/nothing.git"
    check = confirm_pushed(s)
    assert not check.online and check.pushed
    assert "not confirmed" in check.message
    assert "s3cr3t" not in check.message
    git_env.commit_without_push()
    check = confirm_pushed(repo_state(git_env.env_dir))
    assert not check.online and not check.pushed


def test_clone_clean_has_only_committed_files(git_env: GitEnv, tmp_path: Path) -> None:
    rev = git_env.head()
    git_env.dirty("README.md")
    git_env.write("untracked.txt", "x")
    dest = clone_clean(git_env.root, rev, tmp_path / "clone")
    assert (dest / ".flox/env/manifest.toml").read_text() == git_env.manifest.read_text()
    assert (dest / "README.md").read_text() == "# test project\n"
    assert not (dest / "untracked.txt").exists()
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=dest, capture_output=True, text=True, check=True
    )
    assert head.stdout.strip() == rev


def test_clone_clean_bad_rev_cleans_up(git_env: GitEnv, tmp_path: Path) -> None:
    with pytest.raises(FloxlsError, match="clean clone"):
        clone_clean(git_env.root, "0" * 40, tmp_path / "clone")
    assert not (tmp_path / "clone").exists()


def test_clone_clean_cancelled(git_env: GitEnv, tmp_path: Path) -> None:
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        clone_clean(git_env.root, git_env.head(), tmp_path / "clone", cancel=token)
    assert not (tmp_path / "clone").exists()


def test_strip_credentials_in_text() -> None:
    text = "fatal: unable to access 'https://tok:x-oauth@github.com/a/b.git/': 403"
    assert (
        strip_credentials_in_text(text)
        == "fatal: unable to access 'https://github.com/a/b.git/': 403"
    )
    # an unencoded @ in the password: everything up to the last @ is userinfo
    text = "fatal: could not read from https://me:p@ss@example.org/r.git and ssh://git@h/x"
    assert (
        strip_credentials_in_text(text)
        == "fatal: could not read from https://example.org/r.git and ssh://git@h/x"
    )


def test_upstream_configured_but_missing(git_env: GitEnv) -> None:
    git_env.git("config", "branch.main.merge", "refs/heads/gone")
    s = repo_state(git_env.env_dir)
    assert s.upstream == "origin/gone" and s.upstream_missing and s.ahead is None


def test_repository_without_commits(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q", "-b", "main", "fresh")
    s = repo_state(tmp_path / "fresh")
    assert s.is_repo and s.head is None and s.branch == "main" and s.rev_count is None
