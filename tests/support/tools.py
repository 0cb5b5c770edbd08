"""Real external tools the end-to-end tests drive (nix, nvim, npm, git).

A missing tool skips its tests on a developer's machine, but fails them when
FLOXLS_REQUIRE_ALL=1 (set by .ci/run), so CI can never go green by skipping.
"""

from __future__ import annotations

import os
import shutil

import pytest


def require(*tools: str) -> None:
    """Skip (or, under FLOXLS_REQUIRE_ALL=1, fail) unless every tool is on PATH."""
    missing = [t for t in tools if shutil.which(t) is None]
    if not missing:
        return
    reason = f"needs {', '.join(missing)} on PATH"
    if os.environ.get("FLOXLS_REQUIRE_ALL") == "1":
        pytest.fail(reason + " (FLOXLS_REQUIRE_ALL=1)")
    pytest.skip(reason)
