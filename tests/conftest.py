"""Test session set-up: every shared fixture module under tests/support is a plugin."""

pytest_plugins = [
    "tests.support.s3",
    "tests.support.nixtools",
    "tests.support.gitrepo",
    "tests.support.floxhub",
    "tests.support.lsp",
]
