"""Driving the real Nix (2.8, Debian's nix-bin) from tests, with no daemon and no /nix.

Every call gets a throwaway HOME / XDG_* dirs, `NIX_CONF_DIR` pointing at an empty dir
(so /etc/nix/nix.conf cannot interfere), `--option substituters ''` and, for the `nix`
command, `--extra-experimental-features nix-command`. Stores are *chroot stores*: a
directory `root` whose `root/nix/store/...` holds paths that Nix names `/nix/store/...`
(`--store <root>`). Sandboxing is off (Nix's chroot builds run `/bin/sh` from the host).

Fixtures (loaded for every test module by tests/conftest.py):

- `nix` (function scope): a `Nix` helper rooted in the test's tmp dir. Calls
  `tests.support.tools.require("nix")` itself, so tests using it skip/fail properly::

      def test_x(nix, tmp_path):
          store = nix.store("a")                  # ChrootStore at tmp/.../a
          path = store.add_path(some_dir)         # `nix store add-path` -> "/nix/store/..-name"
          store.real(path)                        # Path of its tree on disk
          nix.dump(some_dir)                      # bytes of `nix-store --dump`
          nix.hash_path(some_dir)                 # "sha256-..." SRI, or base32=True for nix32
          r = store.copy_from("file:///cache", [path], trusted_keys=[str(pub)])
          assert r.returncode == 0, r.stderr
          store.verify([path], trusted_keys=[...])  # CompletedProcess of `nix store verify`

- `nix_closure` (session scope): `BuiltClosure` of two *input-addressed* paths built once
  with `nix-build` in a session chroot store: `top` (a directory with a file naming `dep`
  and a symlink to it) depending on `dep` (a file). `.paths` is references-first,
  `.to_ship()` gives `floxls.store.ship.PathToShip`s (with references and deriver from
  `nix-store --query`), `.store` the ChrootStore. Use it for signature tests: Nix checks
  signatures on input-addressed paths only.

Helpers usable without fixtures: `nix_env(base)`, `run_nix(argv, base, ...)`.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.tools import require

NIX_FEATURES = ["--extra-experimental-features", "nix-command"]
NO_SUBSTITUTERS = ["--option", "substituters", ""]
SANDBOX_PATHS = ["--option", "extra-sandbox-paths", "/bin /lib /lib64 /usr"]


def nix_env(base: Path) -> dict[str, str]:
    """Environment for a nix call: throwaway HOME/XDG dirs and config under `base`."""
    env = dict(os.environ)
    for var, sub in (
        ("HOME", "home"),
        ("XDG_CACHE_HOME", "cache"),
        ("XDG_CONFIG_HOME", "config"),
        ("XDG_DATA_HOME", "data"),
        ("XDG_STATE_HOME", "state"),
        ("NIX_CONF_DIR", "etc-nix"),
    ):
        d = base / sub
        d.mkdir(parents=True, exist_ok=True)
        env[var] = str(d)
    env.pop("NIX_REMOTE", None)
    env.pop("NIX_PATH", None)
    return env


def run_nix(
    argv: Sequence[str],
    base: Path,
    *,
    check: bool = True,
    text: bool = True,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """Run `argv` (nix, nix-store or nix-build first) with the isolation described above.

    With `check`, a failure raises AssertionError carrying nix's stderr.
    """
    argv = list(argv)
    extra = [*NO_SUBSTITUTERS, "--option", "sandbox", "false"]
    if argv[0] == "nix":
        extra = NIX_FEATURES + extra
    cmd = [argv[0], *extra, *argv[1:]]
    proc = subprocess.run(
        cmd, env=nix_env(base), capture_output=True, text=text, timeout=timeout, check=False
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr}")
    return proc


def trusted_keys_option(keys: Sequence[str]) -> list[str]:
    """`--option trusted-public-keys '<k1> <k2>'` (an empty list trusts nothing)."""
    return ["--option", "trusted-public-keys", " ".join(keys)]


@dataclass
class ChrootStore:
    """A local Nix store whose real root is `root` (paths live in root/nix/store)."""

    root: Path
    base: Path

    @property
    def arg(self) -> str:
        return str(self.root)

    def real(self, store_path: str) -> Path:
        """Where `/nix/store/...` is on disk."""
        return self.root / store_path.lstrip("/")

    def run(self, argv: Sequence[str], check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a nix command against this store (adds `--store <root>`)."""
        argv = list(argv)
        return run_nix([argv[0], "--store", self.arg, *argv[1:]], self.base, check=check)

    def add_path(self, tree: Path, name: str | None = None) -> str:
        """`nix store add-path` (content-addressed, like `nix-store --add`)."""
        args = ["nix", "store", "add-path", str(tree)]
        if name:
            args += ["--name", name]
        return self.run(args).stdout.strip()

    def build(self, expr_file: Path) -> list[str]:
        """`nix-build` a file in this store (sandbox off, host /bin/sh usable)."""
        out = self.run(["nix-build", *SANDBOX_PATHS, str(expr_file), "--no-out-link"])
        return out.stdout.split()

    def query(self, flag: str, store_path: str) -> list[str]:
        return self.run(["nix-store", "--query", flag, store_path]).stdout.split()

    def references(self, store_path: str) -> list[str]:
        return self.query("--references", store_path)

    def closure(self, store_path: str) -> list[str]:
        return self.query("--requisites", store_path)

    def deriver(self, store_path: str) -> str | None:
        d = self.query("--deriver", store_path)
        return d[0] if d and d[0] != "unknown-deriver" else None

    def is_valid(self, store_path: str) -> bool:
        r = self.run(["nix-store", "--check-validity", store_path], check=False)
        return r.returncode == 0

    def copy_from(
        self,
        cache_url: str,
        paths: Sequence[str],
        trusted_keys: Sequence[str] = (),
        extra: Sequence[str] = (),
    ) -> subprocess.CompletedProcess[str]:
        """`nix copy --from cache_url --to <this store>` (not checked: inspect the result)."""
        return run_nix(
            [
                "nix",
                "copy",
                *trusted_keys_option(trusted_keys),
                *extra,
                "--from",
                cache_url,
                "--to",
                self.arg,
                *paths,
            ],
            self.base,
            check=False,
        )

    def verify(
        self, paths: Sequence[str], trusted_keys: Sequence[str] = ()
    ) -> subprocess.CompletedProcess[str]:
        """`nix store verify` (contents and signatures) of `paths` in this store."""
        return self.run(
            ["nix", "store", "verify", *trusted_keys_option(trusted_keys), *paths], check=False
        )


class Nix:
    """Entry point of the `nix` fixture; `base` holds stores and throwaway HOMEs."""

    def __init__(self, base: Path) -> None:
        self.base = base
        base.mkdir(parents=True, exist_ok=True)

    def run(self, argv: Sequence[str], check: bool = True) -> subprocess.CompletedProcess[str]:
        return run_nix(argv, self.base, check=check)

    def store(self, name: str = "store") -> ChrootStore:
        root = self.base / name
        root.mkdir(parents=True, exist_ok=True)
        return ChrootStore(root, self.base)

    def dump(self, tree: Path) -> bytes:
        """`nix-store --dump tree` as bytes."""
        proc = subprocess.run(
            ["nix-store", "--dump", str(tree)],
            env=nix_env(self.base),
            capture_output=True,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr.decode(errors="replace")
        return proc.stdout

    def hash_path(self, tree: Path, base32: bool = False) -> str:
        """`nix hash path` (sha256; SRI or, with base32, nix32)."""
        args = ["nix", "hash", "path", str(tree)]
        if base32:
            args.append("--base32")
        return self.run(args).stdout.strip()

    def generate_secret(self, name: str) -> str:
        return self.run(["nix", "key", "generate-secret", "--key-name", name]).stdout

    def secret_to_public(self, secret_text: str) -> str:
        proc = subprocess.run(
            ["nix", *NIX_FEATURES, "key", "convert-secret-to-public"],
            input=secret_text,
            env=nix_env(self.base),
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.strip()


@pytest.fixture
def nix(tmp_path: Path) -> Nix:
    """A `Nix` helper rooted at tmp_path/nix (see the module docstring)."""
    require("nix", "nix-store", "nix-build")
    return Nix(tmp_path / "nix")


CLOSURE_NIX = r"""
let
  dep = derivation {
    name = "floxls-test-dep";
    system = builtins.currentSystem;
    builder = "/bin/sh";
    args = [ "-c" "echo dependency > $out" ];
  };
in derivation {
  name = "floxls-test-top";
  system = builtins.currentSystem;
  builder = "/bin/sh";
  args = [ "-c" ("/bin/mkdir -p $out/bin; echo ${dep} > $out/ref; /bin/ln -s ${dep} $out/link; "
    + "printf '#!/bin/sh\\necho hi\\n' > $out/bin/hi; /bin/chmod +x $out/bin/hi") ];
}
"""


@dataclass
class BuiltClosure:
    """Input-addressed paths built by nix-build: `top` -> `dep`."""

    store: ChrootStore
    top: str
    dep: str

    @property
    def paths(self) -> list[str]:
        return [self.dep, self.top]

    def to_ship(self) -> list[object]:
        from floxls.store.ship import PathToShip

        return [
            PathToShip(
                source=self.store.real(p),
                store_path=p,
                references=self.store.references(p),
                deriver=self.store.deriver(p),
            )
            for p in self.paths
        ]


@pytest.fixture(scope="session")
def nix_closure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BuiltClosure]:
    """Build the two-path input-addressed closure once per session (see module docstring)."""
    require("nix", "nix-store", "nix-build")
    base = tmp_path_factory.mktemp("nix-closure")
    store = Nix(base).store("built")
    expr = base / "closure.nix"
    expr.write_text(CLOSURE_NIX)
    (top,) = store.build(expr)
    (dep,) = [r for r in store.references(top) if r != top]
    yield BuiltClosure(store, top, dep)
