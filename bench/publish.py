"""Publish overhead: `floxls publish` of a target whose build writes 100 MB, against the sum
of running its build command alone and `nix copy` of its output to a file:// cache with the
same compression (zstd). Prints the times and the overhead ratio (target: <= 1.3).

    python bench/publish.py [--mb 100] [--data random|text] [--runs 3]

Needs git, bash and Nix (`nix` from Debian's nix-bin is enough). Everything happens in a
temp dir that is removed at the end. Baseline and publish runs alternate; the best of
`--runs` (default 5) of each is used.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from floxls.config import Settings
from floxls.nix.keys import SecretKey
from floxls.publish.pipeline import PublishRequest, run
from tests.support.gitrepo import create_git_env
from tests.support.nixtools import run_nix

COMMANDS = {
    # incompressible: the compressor gets no help
    "random": "mkdir -p $out/share; head -c {size} /dev/urandom > $out/share/blob",
    # compressible text, like most package contents
    "text": "mkdir -p $out/share; {{ seq 1 100000000 || :; }} | head -c {size} > $out/share/blob",
}


def manifest(command: str) -> str:
    return f"""\
version = 1

[install]
hello.pkg-path = "hello"

[build.big]
version = "1.0"
command = '''
{command}
'''
"""


def best(times: list[float]) -> float:
    return min(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=int, default=100)
    ap.add_argument("--data", choices=sorted(COMMANDS), default="random")
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    for tool in ("git", "bash", "nix"):
        if shutil.which(tool) is None:
            print(f"bench/publish.py needs {tool} on PATH", file=sys.stderr)
            return 2
    size = args.mb * 1_000_000
    command = COMMANDS[args.data].format(size=size)
    os.environ["FLOXLS_BUILDER"] = "builtin"

    with tempfile.TemporaryDirectory(prefix="floxls-bench-") as tmp_s:
        tmp = Path(tmp_s)
        key = SecretKey.generate("bench-1")
        (tmp / "key").write_text(key.to_text())

        # Baseline and publish runs alternate, so a busy machine slows both alike.
        build_times: list[float] = []
        copy_times: list[float] = []
        publish_times: list[float] = []
        for i in range(args.runs):
            # --- baseline: the build command alone, then nix copy of its output ---------
            out = tmp / f"base{i}" / "big-1.0"
            out.parent.mkdir()
            env = {**os.environ, "out": str(out)}
            t0 = time.perf_counter()
            subprocess.run(["bash", "-e", "-c", command], env=env, check=True)
            build_times.append(time.perf_counter() - t0)
            chroot = tmp / f"chroot{i}"
            nixbase = tmp / f"nixhome{i}"
            added = run_nix(
                ["nix", "--store", str(chroot), "store", "add-path", str(out)], nixbase
            ).stdout.strip()
            cache = (tmp / f"nixcache{i}").as_uri() + "?compression=zstd"
            t0 = time.perf_counter()
            run_nix(
                [
                    "nix",
                    "copy",
                    "--from",
                    str(chroot),
                    "--to",
                    cache,
                    "--option",
                    "secret-key-files",
                    str(tmp / "key"),
                    added,
                ],
                nixbase,
                timeout=600,
            )
            copy_times.append(time.perf_counter() - t0)
            shutil.rmtree(out.parent)
            subprocess.run(["chmod", "-R", "u+w", str(chroot)], check=False)
            shutil.rmtree(chroot, ignore_errors=True)
            shutil.rmtree(tmp / f"nixcache{i}", ignore_errors=True)

            # --- floxls publish: preflight, clone, build, NAR+zstd, sign, upload, record -
            base = tmp / f"pub{i}"
            base.mkdir()
            repo = create_git_env(base, manifest(command))
            settings = Settings(
                store_url=(base / "cache").as_uri(),
                signing_key=tmp / "key",
                publish_enabled=True,
                data_dir=tmp / "data",  # one catalog for all runs, as for a user
                config_file=base / "flox.toml",
            )
            request = PublishRequest(repo.env_dir, "big", settings, workdir=base)
            t0 = time.perf_counter()
            result = run(request)
            publish_times.append(time.perf_counter() - t0)
            assert result.uploaded, "nothing was uploaded"
            shutil.rmtree(base, ignore_errors=True)

    b, c, p = best(build_times), best(copy_times), best(publish_times)
    ratio = p / (b + c)
    print(f"data: {args.mb} MB ({args.data}), best of {args.runs}")
    print(f"build command alone:     {b:7.2f} s")
    print(f"nix copy (zstd, signed): {c:7.2f} s")
    print(f"sum:                     {b + c:7.2f} s")
    print(f"floxls publish:          {p:7.2f} s")
    verdict = "ok" if ratio <= 1.3 else "ABOVE TARGET"
    print(f"overhead ratio:          {ratio:7.2f}  (target <= 1.3: {verdict})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
