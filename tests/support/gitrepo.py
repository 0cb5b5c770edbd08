"""Real git repositories for the publish tests: a work tree with a Flox environment whose
build targets are committed and pushed to a bare remote (upstream set), plus helpers to
make it dirty, add untracked `.flox` files, or commit without pushing.

Fixtures: `git_env` (a ready `GitEnv` in tmp_path), `make_git_env` (a factory taking a
manifest text and extra files).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

HELLO_MANIFEST = """\
version = 1

[install]
hello.pkg-path = "hello"

[vars]
GREETING = "hello from floxls"

[build.hello]
description = "Prints a greeting"
version = "1.0.0"
command = '''
mkdir -p $out/bin
printf '#!/bin/sh\\necho "%s"\\n' "$GREETING" > $out/bin/hello
chmod +x $out/bin/hello
'''

[build.data]
description = "A data file"
version = { file = "VERSION" }
command = '''
mkdir -p $out/share/data
cp data.txt $out/share/data/
echo "built from $(pwd | xargs basename)" > $out/share/data/where.txt
'''
"""

DEFAULT_FILES: Mapping[str, str] = {
    "README.md": "# test project\n",
    "VERSION": "2.3.4\n",
    "data.txt": "some data\n",
}

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.org",
    "GIT_COMMITTER_NAME": "Test Author",
    "GIT_COMMITTER_EMAIL": "author@example.org",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_TERMINAL_PROMPT": "0",
}


def git(cwd: Path, *args: str, check: bool = True) -> str:
    env = {**os.environ, **GIT_ENV}
    proc = subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout.strip()


@dataclass
class GitEnv:
    """A work tree (`root`) with a Flox environment in `env_dir`, pushed to `remote`."""

    root: Path
    remote: Path
    env_dir: Path

    @property
    def manifest(self) -> Path:
        return self.env_dir / ".flox" / "env" / "manifest.toml"

    def git(self, *args: str, check: bool = True) -> str:
        return git(self.root, *args, check=check)

    def head(self) -> str:
        return self.git("rev-parse", "HEAD")

    def write(self, rel: str, text: str) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    def commit(self, message: str = "change", *, push: bool = True) -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)
        if push:
            self.push()
        return self.head()

    def push(self) -> None:
        self.git("push", "-q")

    # the ways a repository can block a publish
    def dirty(self, rel: str = "README.md") -> Path:
        """Change a tracked file without committing."""
        path = self.root / rel
        path.write_text(path.read_text() + "uncommitted change\n")
        return path

    def untrack(self, rel: str = ".flox/env/extra.json") -> Path:
        """Create a file under the environment's `.flox` that git does not track."""
        return self.write(str((self.env_dir / rel).relative_to(self.root)), "{}\n")

    def commit_without_push(self, n: int = 1) -> str:
        for i in range(n):
            self.write(f"notes/unpushed-{i}.txt", f"{i}\n")
            self.commit(f"unpushed {i}", push=False)
        return self.head()

    def set_manifest(self, text: str, *, push: bool = True) -> None:
        self.manifest.write_text(text)
        self.commit("update manifest", push=push)

    def remote_has(self, rev: str) -> bool:
        return bool(git(self.remote, "cat-file", "-t", rev, check=False))


def create_git_env(
    base: Path,
    manifest: str = HELLO_MANIFEST,
    files: Mapping[str, str] | None = None,
    *,
    subdir: str = "",
) -> GitEnv:
    """Make `base/work` (branch main, committed, pushed to `base/remote.git`, upstream
    set). The environment lives in `base/work/<subdir>`."""
    remote = base / "remote.git"
    root = base / "work"
    git(base, "init", "-q", "--bare", "-b", "main", str(remote))
    git(base, "init", "-q", "-b", "main", str(root))
    git(root, "config", "commit.gpgsign", "false")
    env_dir = root / subdir if subdir else root
    env = GitEnv(root=root, remote=remote, env_dir=env_dir)
    for rel, text in {**DEFAULT_FILES, **(files or {})}.items():
        env.write(str((env_dir / rel).relative_to(root)), text)
    env.manifest.parent.mkdir(parents=True, exist_ok=True)
    env.manifest.write_text(manifest)
    env.git("add", "-A")
    env.git("commit", "-q", "-m", "initial")
    env.git("remote", "add", "origin", str(remote))
    env.git("push", "-q", "-u", "origin", "main")
    return env


@pytest.fixture
def make_git_env(tmp_path: Path) -> Callable[..., GitEnv]:
    counter = iter(range(1000))

    def make(
        manifest: str = HELLO_MANIFEST, files: Mapping[str, str] | None = None, subdir: str = ""
    ) -> GitEnv:
        base = tmp_path / f"repo{next(counter)}"
        base.mkdir()
        return create_git_env(base, manifest, files, subdir=subdir)

    return make


@pytest.fixture
def git_env(make_git_env: Callable[..., GitEnv]) -> GitEnv:
    return make_git_env()


@dataclass
class PublishSetup:
    """Everything a publish test needs besides the repository: a data dir (local catalog,
    locks), a file:// cache, a signing key, a temp parent dir for the pipeline's clone."""

    base: Path
    key_text: str
    public_key: str

    @property
    def data_dir(self) -> Path:
        return self.base / "data"

    @property
    def cache_dir(self) -> Path:
        return self.base / "cache"

    @property
    def cache_url(self) -> str:
        return self.cache_dir.as_uri()

    @property
    def key_file(self) -> Path:
        return self.base / "secret.key"

    @property
    def workdir(self) -> Path:
        return self.base / "tmp"

    def settings(self, **overrides: object) -> Any:
        from floxls.config import Settings

        values: dict[str, object] = {
            "store_url": self.cache_url,
            "signing_key": self.key_file,
            "publish_enabled": True,
            "data_dir": self.data_dir,
            "config_file": self.base / "config" / "flox.toml",
            "catalog_url": "http://127.0.0.1:9",
        }
        values.update(overrides)
        return Settings(**values)  # type: ignore[arg-type]

    def request(self, env: GitEnv, package: str | None = None, **overrides: object) -> Any:
        from floxls.publish.pipeline import PublishRequest

        return PublishRequest(
            env_dir=env.env_dir,
            package=package,
            settings=self.settings(**overrides),
            workdir=self.workdir,
        )

    def narinfos(self) -> list[Path]:
        return sorted(self.cache_dir.glob("*.narinfo")) if self.cache_dir.exists() else []

    def nars(self) -> list[Path]:
        d = self.cache_dir / "nar"
        return sorted(p for p in d.iterdir() if not p.name.startswith(".")) if d.exists() else []

    def leftovers(self) -> list[Path]:
        """Anything the pipeline left in its temp parent dir."""
        return sorted(self.workdir.iterdir()) if self.workdir.exists() else []

    def local_builds(self, catalog: str, pkg: str) -> list[Any]:
        """Build records of `catalog/pkg` in the local catalog ([] when there are none)."""
        from floxls.catalog import open_catalog
        from floxls.errors import FloxlsError

        if not (self.data_dir / "catalog.sqlite").exists():
            return []
        try:
            return list(open_catalog(self.settings()).show(catalog, pkg).builds)
        except FloxlsError:
            return []


@pytest.fixture
def publish_setup(tmp_path: Path) -> PublishSetup:
    from floxls.nix.keys import SecretKey

    base = tmp_path / "publish"
    base.mkdir()
    key = SecretKey.generate("floxls-test-1")
    setup = PublishSetup(base=base, key_text=key.to_text(), public_key=str(key.public()))
    setup.key_file.write_text(setup.key_text)
    setup.key_file.chmod(0o600)
    setup.workdir.mkdir()
    return setup
