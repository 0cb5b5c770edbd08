"""Removing credentials from URLs before they are sent, stored, shown or logged."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# Query parameters whose values are secrets (or point at them): tokens, signatures,
# passwords, presigned-URL credentials, Nix's `secret-key`.
_SECRET_PARAM = re.compile(
    r"token|secret|passw|pwd|signature|credential|api[-_]?key|auth|^sig$|^key$|^x-amz-",
    re.IGNORECASE,
)
# Schemes where a bare user name is part of the address, not a credential.
_KEEP_USER_SCHEMES = {"ssh", "git+ssh", "ssh+git", "sftp"}


def strip_credentials(url: str) -> str:
    """`url` without user:password@, token user names and secret query parameters.

    `https://user:tok@host/x?token=t&ref=main` -> `https://host/x?ref=main`;
    `ssh://git@host/x` keeps `git@`; scp-like `git@host:x` is kept (no secret in it).
    Strings that are not URLs are returned unchanged.
    """
    if not url or "://" not in url:
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return _strip_by_regex(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, host = netloc.rpartition("@")
        user, has_password, _password = userinfo.partition(":")
        if parts.scheme.lower() in _KEEP_USER_SCHEMES and not has_password and user:
            netloc = f"{user}@{host}"
        else:
            netloc = host
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        kept = [(k, v) for k, v in pairs if not _SECRET_PARAM.search(k)]
        if len(kept) != len(pairs):
            query = urlencode(kept)
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


# a URL in free text: stops at white space and quotes; trailing punctuation is not part of it
_URL_IN_TEXT = re.compile(r"""[A-Za-z][A-Za-z0-9+.-]*://[^\s'"<>]*[^\s'"<>.,;:)]""")


def strip_credentials_in_text(text: str) -> str:
    """`text` (e.g. a line of git's output) with every URL in it passed through
    `strip_credentials`."""
    return _URL_IN_TEXT.sub(lambda m: strip_credentials(m.group(0)), text)


def _strip_by_regex(url: str) -> str:
    return re.sub(r"://[^/@]*@", "://", url)
