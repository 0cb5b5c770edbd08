"""Nix store URLs: `file:///abs/dir` and `s3://bucket[/prefix]` with Nix's query parameters."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

from floxls.errors import FloxlsError
from floxls.nix.compress import check_compression

KNOWN_PARAMS = {
    "file": {"compression", "secret-key", "parallel-compression", "compression-level"},
    "s3": {
        "region",
        "endpoint",
        "profile",
        "scheme",
        "compression",
        "secret-key",
        "parallel-compression",
        "compression-level",
        "multipart-upload",
        "buffer-size",
    },
}
_BUCKET_RE = re.compile(r"[a-z0-9][a-z0-9.\-_]{1,61}[a-z0-9]")
_SCHEMES_FIX = "use file:///absolute/dir or s3://bucket[/prefix]?region=...&endpoint=..."


@dataclass(frozen=True)
class StoreUrl:
    """A parsed store URL. `params` holds the query parameters (unknown ones rejected)."""

    scheme: str
    path: Path | None = None
    bucket: str | None = None
    prefix: str = ""
    params: dict[str, str] = field(default_factory=dict)

    @property
    def compression(self) -> str | None:
        return self.params.get("compression")

    @property
    def secret_key(self) -> Path | None:
        v = self.params.get("secret-key")
        return Path(v) if v else None

    def display(self) -> str:
        """The URL without credentials, for messages and the catalog."""
        query = "&".join(f"{k}={v}" for k, v in sorted(self.params.items()))
        base = f"file://{self.path}" if self.scheme == "file" else self._s3_base()
        return f"{base}?{query}" if query else base

    def _s3_base(self) -> str:
        return f"s3://{self.bucket}" + (f"/{self.prefix}" if self.prefix else "")


def redact(url: str) -> str:
    """`url` with any `user:password@` removed (for error messages)."""
    return re.sub(r"//[^/@]*@", "//", url)


def parse_store_url(url: str) -> StoreUrl:
    """Parse and validate a store URL; FloxlsError for anything we cannot use."""
    shown = redact(url)
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in KNOWN_PARAMS:
        what = f"scheme {scheme!r}" if scheme else "no scheme"
        raise FloxlsError(f"unsupported store URL {shown!r} ({what})", _SCHEMES_FIX)
    endpoint = dict(parse_qsl(parts.query)).get("endpoint", "")
    if parts.username or parts.password or "@" in endpoint:
        raise FloxlsError(
            f"store URL {shown!r} carries credentials",
            "remove them from the URL; use AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or a profile",
        )
    params: dict[str, str] = {}
    for k, v in parse_qsl(parts.query, keep_blank_values=True):
        if k not in KNOWN_PARAMS[scheme]:
            known = ", ".join(sorted(KNOWN_PARAMS[scheme]))
            raise FloxlsError(
                f"unknown parameter {k!r} in store URL {shown!r}", f"known ones: {known}"
            )
        params[k] = v
    if "compression" in params:
        check_compression(params["compression"])
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise FloxlsError(
                f"store URL {shown!r} is not an absolute path "
                f"({parts.netloc!r} was read as a host name)",
                "write file:///absolute/dir (three slashes)",
            )
        raw = unquote(parts.path)
        if not raw.startswith("/"):
            raise FloxlsError(
                f"store URL {shown!r} is a relative path", "write file:///absolute/dir"
            )
        return StoreUrl("file", path=Path(raw), params=params)
    bucket = parts.netloc
    if not bucket or not _BUCKET_RE.fullmatch(bucket):
        raise FloxlsError(f"store URL {shown!r} has no valid bucket name", "write s3://bucket")
    scheme_param = params.get("scheme")
    if scheme_param is not None and scheme_param not in ("http", "https"):
        raise FloxlsError(
            f"store URL {shown!r}: scheme must be http or https, not {scheme_param!r}"
        )
    return StoreUrl("s3", bucket=bucket, prefix=unquote(parts.path).strip("/"), params=params)
