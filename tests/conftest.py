"""Test session set-up: every shared fixture module under tests/support is a plugin.

Under CI (FLOXLS_REQUIRE_ALL=1, set by .ci/run) hypothesis runs derandomized, so a green
or red run does not depend on luck; developers' runs keep exploring new examples.
"""

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("FLOXLS_REQUIRE_ALL") == "1":
    settings.load_profile("ci")

pytest_plugins = [
    "tests.support.s3",
    "tests.support.nixtools",
    "tests.support.gitrepo",
    "tests.support.floxhub",
    "tests.support.lsp",
]
