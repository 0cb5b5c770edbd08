"""Benchmark: our NAR + sha256 + zstd + write to a file:// cache vs `nix copy`.

    python bench/closure.py [--size MB] [--repeat N] [--keep]

Generates a tree of mixed compressible and random files (default 300 MB) in a temp dir,
adds it to a chroot Nix store (untimed), then times, in the same run:
  - nix:  `nix copy --to file://<cache>?compression=zstd <path>` (fresh cache each time)
  - ours: `floxls.store.ship.ship()` of the same path to a fresh file:// cache, run in a
          child process whose peak RSS (ru_maxrss from wait4) is reported.
Prints the best time of each, the ratio ours/nix (target <= 0.8) and our peak RSS
(target <= 100 MB, unchanged at --size 1024). Needs nix (2.8) on PATH; no daemon.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MB = 1 << 20
_TEXT = bytes(range(97, 123)) * 6 + b"      \n\n\n" + b"0123456789{}();=_-.,\"'"
_TABLE = bytes(_TEXT[i % len(_TEXT)] for i in range(256))


def _text_bytes(n: int) -> bytes:
    """Compressible bytes (~3:1 with zstd): random symbols from a small skewed alphabet,
    with repeated phrases."""
    out = bytearray()
    phrase_pool = [os.urandom(64).translate(_TABLE) for _ in range(512)]
    while len(out) < n:
        out += os.urandom(4096).translate(_TABLE)[:1024]
        for _ in range(24):
            out += random.choice(phrase_pool)
    return bytes(out[:n])


def make_tree(root: Path, size: int) -> Path:
    """About `size` bytes: half random, half compressible; a few big files, many small."""
    random.seed(42)
    t = root / "bench-tree"
    written = 0
    i = 0
    while written < size:
        i += 1
        d = t / f"dir{i % 17}" / f"sub{i % 5}"
        d.mkdir(parents=True, exist_ok=True)
        kind = i % 10
        if kind == 0:
            n = random.randint(8 * MB, 40 * MB)
        elif kind < 4:
            n = random.randint(256 * 1024, 4 * MB)
        else:
            n = random.randint(200, 64 * 1024)
        n = min(n, size - written) or 1
        f = d / f"file{i}.{'bin' if i % 2 else 'txt'}"
        with open(f, "wb") as out:
            left = n
            while left:
                k = min(left, 4 * MB)
                out.write(os.urandom(k) if i % 2 else _text_bytes(k))
                left -= k
        if i % 7 == 0:
            f.chmod(0o755)
        if i % 50 == 0:
            (d / f"link{i}").symlink_to(f.name)
        written += n
    return t


def nix_env(base: Path) -> dict[str, str]:
    env = dict(os.environ)
    for var, sub in (("HOME", "home"), ("XDG_CACHE_HOME", "cache"), ("NIX_CONF_DIR", "etc")):
        (base / sub).mkdir(parents=True, exist_ok=True)
        env[var] = str(base / sub)
    return env


NIX = ["nix", "--extra-experimental-features", "nix-command", "--option", "substituters", ""]


def run_child(source: str, store_path: str, ca: str, cache_url: str, threads: int) -> None:
    """In the child: ship one path, print JSON with the elapsed time."""
    t0 = time.perf_counter()
    from floxls.store import open_store
    from floxls.store.ship import PathToShip, ship

    t1 = time.perf_counter()
    res = ship(
        open_store(cache_url),
        [PathToShip(Path(source), store_path, [], ca=ca)],
        compression="zstd",
        threads=threads,
    )
    t2 = time.perf_counter()
    info = res.narinfos[store_path]
    print(
        json.dumps(
            {
                "seconds": t2 - t1,
                "import_seconds": t1 - t0,
                "nar_size": info.nar_size,
                "file_size": info.file_size,
            }
        )
    )


def ours(
    source: Path, store_path: str, ca: str, cache: Path, threads: int
) -> tuple[float, float, int, dict[str, float]]:
    """(ship seconds, child wall seconds, peak RSS bytes, details)."""
    shutil.rmtree(cache, ignore_errors=True)
    cmd = [
        sys.executable,
        __file__,
        "--child",
        json.dumps([str(source), store_path, ca, f"file://{cache}", threads]),
    ]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, cwd=Path(__file__).parent.parent)
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"our child failed ({proc.returncode})")
    details = json.loads(out)
    return details["seconds"], wall, usage.ru_maxrss * 1024, details


def nix_copy(store_root: Path, path: str, cache: Path, base: Path) -> float:
    shutil.rmtree(cache, ignore_errors=True)
    cmd = [
        *NIX,
        "copy",
        "--store",
        str(store_root),
        "--to",
        f"file://{cache}?compression=zstd",
        path,
    ]
    start = time.perf_counter()
    subprocess.run(cmd, env=nix_env(base), check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=300, help="tree size in MB (default 300)")
    ap.add_argument("--repeat", type=int, default=2, help="runs of each (best is kept)")
    ap.add_argument("--threads", type=int, default=-1, help="zstd threads (-1: per CPU)")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        run_child(*json.loads(args.child))
        return
    if shutil.which("nix") is None:
        raise SystemExit("bench/closure.py needs nix on PATH")
    tmp = Path(tempfile.mkdtemp(prefix="floxls-bench-"))
    try:
        t0 = time.perf_counter()
        tree = make_tree(tmp, args.size * MB)
        print(f"generated {args.size} MB tree in {time.perf_counter() - t0:.1f}s")
        root = tmp / "store"
        added = subprocess.run(
            [*NIX, "store", "add-path", "--store", str(root), str(tree)],
            env=nix_env(tmp / "nixhome"),
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        source = root / added.lstrip("/")
        from floxls.nix import base32
        from floxls.store.ship import nar_hash_of

        digest, nar_size = nar_hash_of(source)
        ca = "fixed:r:sha256:" + base32.encode(digest)
        nix_times: list[float] = []
        our_times: list[float] = []
        walls: list[float] = []
        rss: list[int] = []
        details: dict[str, float] = {}
        for _ in range(args.repeat):
            nix_times.append(nix_copy(root, added, tmp / "nix-cache", tmp / "nixhome"))
            s, w, r, details = ours(source, added, ca, tmp / "our-cache", args.threads)
            our_times.append(s)
            walls.append(w)
            rss.append(r)
        nix_file = sum(f.stat().st_size for f in (tmp / "nix-cache" / "nar").iterdir())
        best_nix, best_ours = min(nix_times), min(our_times)
        print(f"NAR size          {nar_size / MB:8.1f} MB")
        print(f"nix copy          {best_nix:8.2f} s   (zstd file {nix_file / MB:.1f} MB)")
        print(
            f"floxls ship       {best_ours:8.2f} s   (zstd file {details['file_size'] / MB:.1f} MB;"
            f" child wall incl. interpreter start {min(walls):.2f} s)"
        )
        print(f"ratio ours/nix    {best_ours / best_nix:8.2f}     (target <= 0.8)")
        print(f"ratio (wall)      {min(walls) / best_nix:8.2f}")
        print(f"our peak RSS      {max(rss) / MB:8.1f} MB  (target <= 100 MB)")
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
