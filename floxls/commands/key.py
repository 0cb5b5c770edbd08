"""`floxls key generate --name NAME [--out FILE]` and `floxls key public FILE`.

Key files are the same as Nix's (`nix key generate-secret`, `convert-secret-to-public`).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from floxls.errors import FloxlsError
from floxls.nix.keys import SecretKey, load_secret_key


def run(args: argparse.Namespace) -> int:
    if args.key_command == "generate":
        return generate(args.name, Path(args.out) if args.out else None)
    if args.key_command == "public":
        print(load_secret_key(Path(args.file)).public())
        return 0
    raise FloxlsError(f"unknown key command {args.key_command!r}")


def generate(name: str, out: Path | None) -> int:
    key = SecretKey.generate(name)
    if out is None:
        print(key.to_text())
        return 0
    try:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise FloxlsError(
            f"{out} already exists; not overwriting it",
            "choose another --out file, or delete the old key if you are sure",
        ) from None
    except OSError as exc:
        raise FloxlsError(f"cannot create {out}: {exc.strerror}") from None
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, key.to_text().encode())
    finally:
        os.close(fd)
    print(f"wrote secret key {key.name!r} to {out}", file=sys.stderr)
    print(key.public())
    return 0
