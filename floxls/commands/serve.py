"""`floxls serve`: run the language server on stdio (or `--tcp HOST:PORT`)."""

from __future__ import annotations

import argparse


def run(args: argparse.Namespace) -> int:
    from floxls.lsp.server import serve

    serve(getattr(args, "tcp", None))
    return 0
