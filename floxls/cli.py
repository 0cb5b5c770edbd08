"""`floxls` command line: one parser; each command's work lives in floxls.commands.<name>.

Command modules are imported only when their command runs, so `floxls --version` and
`floxls serve` start without loading boto3, httpx or git.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from floxls import __version__
from floxls.errors import Cancelled, FloxlsError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="floxls",
        description="Language server and publish pipeline for Flox environments.",
    )
    parser.add_argument("--version", action="version", version=f"floxls {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the language server (stdio by default)")
    serve.add_argument("--tcp", metavar="HOST:PORT", help="listen on TCP instead of stdio")
    serve.set_defaults(module="serve")

    check = sub.add_parser(
        "check", help="report problems in Flox manifests (exit status 1 on errors)"
    )
    check.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="manifest files or directories to search for .flox/env/manifest.toml "
        "(default: the current directory)",
    )
    check.add_argument(
        "--format",
        choices=["text", "json"],
        default="text",
        help="text: path:line:col: severity[code] message (default); json: one array",
    )
    check.add_argument(
        "--git",
        action="store_true",
        help="also report the git state that would block a publish",
    )
    check.set_defaults(module="check")

    publish = sub.add_parser(
        "publish", help="build a [build] target and publish it to a binary cache and catalog"
    )
    publish.add_argument(
        "-d",
        "--dir",
        default=".",
        metavar="DIR",
        help="the directory holding the environment's .flox (default: the current one)",
    )
    publish.add_argument("--store-url", metavar="URL", help="binary cache (file:// or s3://)")
    publish.add_argument("--signing-key", metavar="FILE", help="Nix secret key file")
    publish.add_argument(
        "package", nargs="?", help="the [build] target (optional when there is only one)"
    )
    publish.set_defaults(module="publish")

    search = sub.add_parser("search", help="search the configured catalog")
    search.add_argument("term", help="text to look for in package names and descriptions")
    search.add_argument("--json", action="store_true", help="print JSON")
    search.set_defaults(module="catalog", action="search")

    show = sub.add_parser("show", help="show a published package: <catalog>/<name>")
    show.add_argument("package", help="CATALOG/NAME, as `floxls search` lists it")
    show.add_argument("--json", action="store_true", help="print JSON")
    show.set_defaults(module="catalog", action="show")

    key = sub.add_parser("key", help="Nix signing keys")
    key_sub = key.add_subparsers(dest="key_command", metavar="KEY_COMMAND", required=True)
    gen = key_sub.add_parser(
        "generate", help="generate a secret key (like nix key generate-secret)"
    )
    gen.add_argument("--name", required=True, help="key name, e.g. cache.example.org-1")
    gen.add_argument("--out", metavar="FILE", help="write to FILE (mode 0600) instead of stdout")
    gen.set_defaults(module="key")
    pub = key_sub.add_parser("public", help="print the public key of a secret key file")
    pub.add_argument("file", metavar="FILE", help="the secret key file")
    pub.set_defaults(module="key")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "module", None):
        parser.print_help(sys.stderr)
        return 2
    module = importlib.import_module(f"floxls.commands.{args.module}")
    try:
        return int(module.run(args))
    except Cancelled as exc:
        print(f"floxls: {exc.message}", file=sys.stderr)
        return 130
    except FloxlsError as exc:
        print(f"floxls: error: {exc.message}", file=sys.stderr)
        if exc.fix:
            print(f"  fix: {exc.fix}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("floxls: interrupted", file=sys.stderr)
        return 130
