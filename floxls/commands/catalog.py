"""`floxls search TERM` and `floxls show CATALOG/NAME` over the configured catalog."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Sequence
from typing import TextIO

from floxls.catalog import PackageDetail, PackageSummary, open_catalog
from floxls.catalog.urls import strip_credentials
from floxls.config import load_settings
from floxls.errors import FloxlsError
from floxls.manifest.schema import PACKAGE_NAME_RE


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    catalog = open_catalog(settings)
    out = sys.stdout
    if args.action == "search":
        results = catalog.search(args.term)
        if args.json:
            json.dump([r.to_json() for r in results], out, indent=2)
            out.write("\n")
        else:
            print_search(results, args.term, out)
        return 0
    if args.action == "show":
        catalog_name, name = parse_package_ref(args.package)
        detail = catalog.show(catalog_name, name)
        if args.json:
            json.dump(detail.to_json(), out, indent=2)
            out.write("\n")
        else:
            print_detail(detail, out, flox_installable=catalog.kind == "floxhub")
        return 0
    raise FloxlsError(f"unknown catalog action {args.action!r}")


def parse_package_ref(ref: str) -> tuple[str, str]:
    """`catalog/name` -> (catalog, name), with a FloxlsError for anything else."""
    catalog, sep, name = ref.strip().partition("/")
    if not sep or not catalog or not PACKAGE_NAME_RE.fullmatch(name) or "/" in catalog:
        raise FloxlsError(
            f"{ref!r} is not a package reference of the form CATALOG/NAME",
            fix="write it like `floxls show alice/hello` (`floxls search TERM` lists them)",
        )
    return catalog, name


def _table(rows: Sequence[Sequence[str]], out: TextIO, indent: str = "") -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(row)]
        out.write(indent + "  ".join(cells).rstrip() + "\n")


def print_search(results: Sequence[PackageSummary], term: str, out: TextIO) -> None:
    if not results:
        out.write(f"No packages match {term!r}.\n")
        return
    rows = [("PACKAGE", "VERSION", "DESCRIPTION")]
    for r in results:
        rows.append((f"{r.catalog}/{r.name}", r.version or "-", _one_line(r.description)))
    _table(rows, out)


def _one_line(text: str | None, limit: int = 80) -> str:
    if not text:
        return ""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def print_detail(detail: PackageDetail, out: TextIO, *, flox_installable: bool = True) -> None:
    """`flox_installable`: the catalog is FloxHub; the local catalog is floxls's own, so
    the way to get a package from it is `nix copy` from its binary cache."""
    ref = f"{detail.catalog}/{detail.name}"
    out.write(f"{ref}" + (f" {detail.version}" if detail.version else "") + "\n")
    if detail.description:
        out.write(f"  {_one_line(detail.description, 100)}\n")
    if detail.original_url:
        out.write(f"  source:  {strip_credentials(detail.original_url)}\n")
    latest = detail.builds[0] if detail.builds else None
    if latest and latest.derivation.license:
        out.write(f"  license: {latest.derivation.license}\n")
    if latest and latest.cache_uri:
        out.write(f"  store:   {strip_credentials(latest.cache_uri)}\n")
    if flox_installable:
        out.write(f"  install: flox install {ref}\n")
    elif latest and latest.cache_uri and latest.derivation.outputs:
        from floxls.publish.pipeline import nix_copy_command

        paths = [o.store_path for o in latest.derivation.outputs]
        cmd = nix_copy_command(strip_credentials(latest.cache_uri), paths, None)
        out.write(f"  fetch:   {shlex.join(cmd)}  (trusting the key it was signed with)\n")
    if not detail.builds:
        out.write("  no builds recorded yet\n")
        return
    out.write(f"  builds ({len(detail.builds)}, newest first):\n")
    rows = [("VERSION", "SYSTEM", "REV", "DATE", "OUTPUTS")]
    for b in detail.builds:
        outputs = " ".join(o.store_path for o in b.derivation.outputs) or "-"
        rows.append(
            (b.derivation.version or "-", b.derivation.system, b.rev[:12], b.rev_date, outputs)
        )
    _table(rows, out, indent="    ")
