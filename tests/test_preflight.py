"""Preflight: each failure has its own code, message and fix, and touches nothing.

Real git repositories with a bare remote (tests/support/gitrepo.py). Every case runs the
whole pipeline and checks that the store, the catalog and the temp dir stay empty.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from floxls.cli import main
from floxls.manifest import analyze
from floxls.publish.pipeline import PreflightFailed, run
from floxls.publish.preflight import Finding, git_findings, preflight
from floxls.repo import repo_state
from tests.support.gitrepo import HELLO_MANIFEST, GitEnv, PublishSetup, create_git_env


def fail_codes(
    setup: PublishSetup, env: GitEnv, package: str | None = "hello", **overrides: object
) -> dict[str, Finding]:
    with pytest.raises(PreflightFailed) as info:
        run(setup.request(env, package, **overrides))
    # nothing was written anywhere
    assert not setup.cache_dir.exists(), "the store was touched"
    assert not (setup.data_dir / "catalog.sqlite").exists(), "the catalog was touched"
    assert setup.leftovers() == []
    found = {f.code: f for f in info.value.findings if f.is_error}
    first = next(f for f in info.value.findings if f.is_error)
    assert info.value.message.startswith(first.message)
    for f in found.values():
        assert f.message and f.fix, f
    return found


def test_not_a_repo(tmp_path: Path, publish_setup: PublishSetup) -> None:
    env_dir = tmp_path / "plain"
    (env_dir / ".flox/env").mkdir(parents=True)
    (env_dir / ".flox/env/manifest.toml").write_text(HELLO_MANIFEST)
    fake = GitEnv(root=env_dir, remote=env_dir, env_dir=env_dir)
    found = fail_codes(publish_setup, fake)
    assert set(found) == {"not-a-repo"}
    assert "git init" in (found["not-a-repo"].fix or "")


def test_untracked_env_file(git_env: GitEnv, publish_setup: PublishSetup) -> None:
    git_env.untrack(".flox/env/new.json")
    found = fail_codes(publish_setup, git_env)
    f = found["untracked-env-files"]
    assert f.paths == (".flox/env/new.json",) and f.count == 1
    assert ".flox/env/new.json" in f.message and "git add" in (f.fix or "")


def test_dirty_tracked_file(git_env: GitEnv, publish_setup: PublishSetup) -> None:
    git_env.dirty("README.md")
    found = fail_codes(publish_setup, git_env)
    assert set(found) == {"dirty-files"}
    assert found["dirty-files"].paths == ("README.md",)
    assert "uncommitted" in found["dirty-files"].message


def test_no_upstream(git_env: GitEnv, publish_setup: PublishSetup) -> None:
    git_env.git("switch", "-q", "-c", "feature")
    found = fail_codes(publish_setup, git_env)
    assert set(found) == {"no-upstream"}
    assert "git push -u origin feature" in (found["no-upstream"].fix or "")


def test_unpushed_commits(git_env: GitEnv, publish_setup: PublishSetup) -> None:
    git_env.commit_without_push(2)
    found = fail_codes(publish_setup, git_env)
    assert set(found) == {"unpushed-commits"}
    assert found["unpushed-commits"].count == 2
    assert "2 commits on main are not pushed to origin/main" in found["unpushed-commits"].message


def test_nothing_installed(
    make_git_env: Callable[..., GitEnv], publish_setup: PublishSetup
) -> None:
    text = HELLO_MANIFEST.replace('[install]\nhello.pkg-path = "hello"\n', "[install]\n")
    env = make_git_env(manifest=text)
    found = fail_codes(publish_setup, env)
    assert "nothing-installed" in found


def test_manifest_errors(make_git_env: Callable[..., GitEnv], publish_setup: PublishSetup) -> None:
    env = make_git_env(manifest=HELLO_MANIFEST + "\n[build.broken\n")
    found = fail_codes(publish_setup, env)
    assert "manifest-errors" in found
    assert "line" in found["manifest-errors"].message


def test_unknown_target(git_env: GitEnv, publish_setup: PublishSetup) -> None:
    found = fail_codes(publish_setup, git_env, package="helo")
    assert set(found) == {"unknown-target"}
    assert "did you mean hello" in (found["unknown-target"].fix or "")


def test_ambiguous_target(git_env: GitEnv, publish_setup: PublishSetup) -> None:
    found = fail_codes(publish_setup, git_env, package=None)
    assert set(found) == {"ambiguous-target"}
    assert "hello" in found["ambiguous-target"].message


def test_invalid_target_name(
    make_git_env: Callable[..., GitEnv], publish_setup: PublishSetup
) -> None:
    text = HELLO_MANIFEST.replace("[build.hello]", '[build."hello world"]')
    env = make_git_env(manifest=text)
    found = fail_codes(publish_setup, env, package="hello world")
    assert "invalid-target-name" in found


def test_publish_disabled(git_env: GitEnv, publish_setup: PublishSetup) -> None:
    found = fail_codes(publish_setup, git_env, publish_enabled=False)
    assert set(found) == {"publish-disabled"}
    fix = found["publish-disabled"].fix or ""
    assert "features.publish = true" in fix and "FLOX_FEATURES_PUBLISH=true" in fix


def test_bad_signing_key(git_env: GitEnv, publish_setup: PublishSetup) -> None:
    found = fail_codes(publish_setup, git_env, signing_key=publish_setup.base / "missing.key")
    assert set(found) == {"bad-signing-key"}


def test_pure_sandbox_without_flox(
    make_git_env: Callable[..., GitEnv],
    publish_setup: PublishSetup,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FLOXLS_BUILDER", "builtin")
    text = HELLO_MANIFEST.replace('version = "1.0.0"', 'version = "1.0.0"\nsandbox = "pure"')
    env = make_git_env(manifest=text)
    found = fail_codes(publish_setup, env)
    assert set(found) == {"needs-sandbox"}


def test_all_problems_are_reported_at_once(git_env: GitEnv, publish_setup: PublishSetup) -> None:
    git_env.dirty()
    git_env.untrack()
    found = fail_codes(publish_setup, git_env, publish_enabled=False)
    assert {"dirty-files", "untracked-env-files", "publish-disabled"} <= set(found)


def test_cli_prints_each_finding_with_its_fix(
    git_env: GitEnv,
    publish_setup: PublishSetup,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("FLOXLS_DATA_DIR", str(publish_setup.data_dir))
    monkeypatch.setenv("FLOX_CONFIG_DIR", str(publish_setup.base / "config"))
    monkeypatch.setenv("FLOX_SYSTEM_CONFIG_DIR", "")
    monkeypatch.delenv("FLOX_FEATURES_PUBLISH", raising=False)
    monkeypatch.delenv("FLOX_FEATURE_PUBLISH", raising=False)
    git_env.dirty()
    code = main(
        ["publish", "-d", str(git_env.env_dir), "--store-url", publish_setup.cache_url, "hello"]
    )
    err = capsys.readouterr().err
    assert code == 1
    assert "floxls: error: 1 tracked file has uncommitted changes: README.md [dirty-files]" in err
    assert "floxls: error: publishing is a Flox feature that is turned off" in err
    assert "  fix: commit them" in err
    assert not publish_setup.cache_dir.exists()


def test_git_findings_for_the_editor(git_env: GitEnv) -> None:
    manifest, _ = analyze(git_env.manifest.read_text())
    assert git_findings(repo_state(git_env.env_dir), manifest) == []
    git_env.commit_without_push()
    git_env.dirty()
    codes = [f.code for f in git_findings(repo_state(git_env.env_dir), manifest)]
    assert codes == ["dirty-files", "unpushed-commits"]
    # nothing to publish: no git noise
    empty, _ = analyze("version = 1\n")
    assert git_findings(repo_state(git_env.env_dir), empty) == []


def test_offline_remote_is_a_warning_when_upstream_has_head(
    git_env: GitEnv, publish_setup: PublishSetup
) -> None:
    git_env.git("remote", "set-url", "origin", "https://u:pw@127.0.0.1:9/x.git")
    manifest, problems = analyze(git_env.manifest.read_text())
    found = preflight(
        git_env.env_dir, manifest, publish_setup.settings(), "hello", problems=problems
    )
    assert [(f.code, f.is_error) for f in found] == [("remote-unreachable", False)]
    assert "pw" not in found[0].message


def test_env_in_subdirectory_clean(tmp_path: Path, publish_setup: PublishSetup) -> None:
    base = tmp_path / "sub"
    base.mkdir()
    env = create_git_env(base, subdir="app")
    manifest, problems = analyze(env.manifest.read_text())
    assert (
        preflight(env.env_dir, manifest, publish_setup.settings(), "hello", problems=problems) == []
    )


def test_git_findings_without_commits_and_with_missing_upstream(
    tmp_path: Path, git_env: GitEnv
) -> None:
    from tests.support.gitrepo import git

    git(tmp_path, "init", "-q", "-b", "main", "fresh")
    assert [f.code for f in git_findings(repo_state(tmp_path / "fresh"))] == ["no-commits"]
    git_env.git("config", "branch.main.merge", "refs/heads/gone")
    (f,) = git_findings(repo_state(git_env.env_dir))
    assert f.code == "no-upstream" and "origin/gone" in f.message
    assert f.fix == "git push -u origin main"
