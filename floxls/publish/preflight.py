"""Preflight: every reason a publish would fail, found before anything is built.

Each check returns structured `Finding`s (stable `code`, one-line `message`, a `fix`), so
the CLI prints them and the language server turns them into diagnostics. The cheap, local
ones are exposed separately: `git_findings(state, manifest)` (no network: the editor calls
it on save), `target_findings`, `manifest_findings`, `settings_findings`. `preflight()` runs
them all plus the one network check (does the remote really have HEAD?).

Codes: not-a-repo, no-commits, untracked-env-files, dirty-files, detached-head,
no-upstream, unpushed-commits, remote-unreachable (warning), nothing-installed,
manifest-errors, no-targets, unknown-target, invalid-target-name, ambiguous-target,
needs-sandbox, publish-disabled, bad-store-url, bad-signing-key.
"""

from __future__ import annotations

import difflib
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from floxls.manifest.checker import toml_key
from floxls.manifest.model import Problem, Severity
from floxls.manifest.schema import PACKAGE_NAME_RE
from floxls.progress import plural

if TYPE_CHECKING:
    from floxls.config import Settings
    from floxls.manifest.model import Manifest
    from floxls.repo import PushCheck, RepoState

MAX_LISTED = 5


@dataclass(frozen=True, slots=True)
class Finding:
    """One reason a publish would fail (ERROR) or is worth a look (WARNING)."""

    code: str
    message: str
    fix: str | None = None
    severity: Severity = Severity.ERROR
    paths: tuple[str, ...] = ()  # files involved, relative to the repository root
    count: int | None = None  # how many (files, commits, errors) when it is a count

    @property
    def is_error(self) -> bool:
        return self.severity == Severity.ERROR


def errors(findings: Sequence[Finding]) -> list[Finding]:
    return [f for f in findings if f.is_error]


def _listing(paths: Sequence[str]) -> str:
    shown = ", ".join(paths[:MAX_LISTED])
    more = len(paths) - MAX_LISTED
    return f"{shown} and {more} more" if more > 0 else shown


def _has_targets(manifest: Manifest | None) -> bool:
    return manifest is None or bool(manifest.build_targets())


def git_findings(state: RepoState, manifest: Manifest | None = None) -> list[Finding]:
    """What git says would block a publish, from `repo_state` alone (no network).

    When `manifest` is given and has no build targets there is nothing to publish and no
    finding is returned (the editor then shows no git noise)."""
    if not _has_targets(manifest):
        return []
    if state.root is None:
        return [
            Finding(
                "not-a-repo",
                f"{state.env_dir} is not inside a git repository; a publish builds from a "
                "pushed commit",
                "run `git init`, commit the environment (.flox) and push it to a remote",
            )
        ]
    found: list[Finding] = []
    if state.untracked:
        n = len(state.untracked)
        found.append(
            Finding(
                "untracked-env-files",
                f"{plural(n, 'file')} under {state.dot_flox_dir} "
                f"{'is' if n == 1 else 'are'} not tracked by git: {_listing(state.untracked)}",
                f"git add {shlex.join(state.untracked[:MAX_LISTED])} && git commit "
                f"(or ignore {'it' if n == 1 else 'them'} in .gitignore)",
                paths=state.untracked,
                count=n,
            )
        )
    if state.dirty:
        n = len(state.dirty)
        found.append(
            Finding(
                "dirty-files",
                f"{plural(n, 'tracked file')} {'has' if n == 1 else 'have'} uncommitted "
                f"changes: {_listing(state.dirty)}",
                "commit them (git commit -a) or stash them (git stash), then push",
                paths=state.dirty,
                count=n,
            )
        )
    if state.head is None:
        found.append(
            Finding(
                "no-commits",
                "the repository has no commits yet",
                f"commit the environment (git add {state.dot_flox_dir} && git commit) and push it",
            )
        )
        return found
    if state.branch is None:
        found.append(
            Finding(
                "detached-head",
                "HEAD is detached; a publish needs a branch that is pushed to its upstream",
                "switch to a branch (git switch -c <name>) and push it with "
                "git push -u <remote> <name>",
            )
        )
        return found
    if state.upstream is None:
        found.append(
            Finding(
                "no-upstream",
                f"branch {state.branch} has no upstream, so nothing shows it was pushed",
                f"git push -u origin {state.branch} (or git branch -u <remote>/<branch>)",
            )
        )
    elif state.upstream_missing:
        found.append(
            Finding(
                "no-upstream",
                f"the upstream of {state.branch}, {state.upstream}, does not exist yet",
                f"git push -u {state.remote or 'origin'} {state.branch}",
            )
        )
    elif state.ahead:
        found.append(
            Finding(
                "unpushed-commits",
                f"{plural(state.ahead, 'commit')} on {state.branch} "
                f"{'is' if state.ahead == 1 else 'are'} not pushed to {state.upstream}",
                "git push",
                count=state.ahead,
            )
        )
    return found


def push_findings(state: RepoState, check: PushCheck) -> list[Finding]:
    """Turn the remote's answer (`repo.confirm_pushed`) into findings."""
    if check.online and not check.pushed:
        return [
            Finding(
                "unpushed-commits",
                f"the remote {state.remote} does not have HEAD ({(state.head or '')[:12]}) yet",
                "git push",
            )
        ]
    if not check.online:
        return [
            Finding(
                "remote-unreachable" if check.pushed else "unpushed-commits",
                check.message,
                "check your network and the remote's URL (git remote -v), then publish again",
                severity=Severity.WARNING if check.pushed else Severity.ERROR,
            )
        ]
    return []


def resolve_target(manifest: Manifest, package: str | None) -> tuple[str | None, list[Finding]]:
    """The build target to publish: `package`, or the only one there is."""
    names = [t.name for t in manifest.build_targets()]
    if package is None:
        if not names:
            return None, [
                Finding(
                    "no-targets",
                    "the manifest has no [build] targets to publish",
                    'add one: [build.<name>] with command = "..." (it writes into $out)',
                )
            ]
        if len(names) > 1:
            return None, [
                Finding(
                    "ambiguous-target",
                    f"the manifest has {len(names)} build targets ({_listing(names)}); "
                    "say which one to publish",
                    f"floxls publish {names[0]}",
                    count=len(names),
                )
            ]
        package = names[0]
    elif package not in names:
        close = difflib.get_close_matches(package, names, n=1)
        hint = f"did you mean {close[0]}? " if close else ""
        known = f"the targets are {_listing(names)}" if names else "there are none"
        return None, [
            Finding(
                "unknown-target",
                f"there is no build target named {package!r} ({known})",
                f"{hint}name a target from [build], or add [build.{package}]",
            )
        ]
    bad_name = name_finding(package)
    return package, [bad_name] if bad_name else []


def name_finding(package: str) -> Finding | None:
    """`invalid-target-name` when `package` cannot be a catalog package name, else None."""
    if PACKAGE_NAME_RE.fullmatch(package):
        return None
    return Finding(
        "invalid-target-name",
        f"{package!r} is not a valid package name (1-128 letters, digits, '.', '_' or '-')",
        f"rename [build.{toml_key(package)}] to a name such as "
        f"{re.sub(r'[^a-zA-Z0-9._-]+', '-', package).strip('-')[:128] or 'hello'}",
    )


def target_findings(manifest: Manifest, package: str | None) -> list[Finding]:
    return resolve_target(manifest, package)[1]


def manifest_findings(manifest: Manifest, problems: Sequence[Problem]) -> list[Finding]:
    """`nothing-installed` and `manifest-errors`."""
    found: list[Finding] = []
    errs = [p for p in problems if p.severity == Severity.ERROR]
    if errs:
        first = errs[0]
        found.append(
            Finding(
                "manifest-errors",
                f"the manifest has {plural(len(errs), 'error')}; the first, on line "
                f"{first.range.start.line + 1}: {first.message}",
                "run `floxls check` to see them all, and correct them",
                count=len(errs),
            )
        )
    from floxls.manifest.model import Table

    install = manifest.get("install")
    if not isinstance(install, Table) or not install.entries:
        found.append(
            Finding(
                "nothing-installed",
                "nothing is installed in the environment ([install] is empty)",
                "install at least one package (e.g. flox install hello), commit and push",
            )
        )
    return found


def sandbox_findings(manifest: Manifest, package: str, *, builtin: bool) -> list[Finding]:
    if not builtin:
        return []
    from floxls.build.builtin import refuse_reason
    from floxls.manifest.values import to_python

    value = manifest.get("build", package)
    target = to_python(value) if value is not None else {}
    reason = refuse_reason(target)
    if reason is None:
        return []
    return [
        Finding(
            "needs-sandbox",
            f"cannot build {package} here: {reason} (flox is not installed)",
            'install flox to build it in the Nix sandbox, or set sandbox = "off"',
        )
    ]


def settings_findings(settings: Settings) -> list[Finding]:
    """The publish feature gate, the store URL and the signing key. No network."""
    from floxls.config import PUBLISH_DISABLED_FIX
    from floxls.errors import FloxlsError

    found: list[Finding] = []
    if not settings.publish_enabled:
        found.append(
            Finding(
                "publish-disabled",
                "publishing is a Flox feature that is turned off",
                PUBLISH_DISABLED_FIX,
            )
        )
    if settings.store_url:
        from floxls.store.url import parse_store_url

        try:
            parse_store_url(settings.store_url)
        except FloxlsError as exc:
            found.append(Finding("bad-store-url", exc.message, exc.fix))
    if settings.signing_key is not None:
        from floxls.nix.keys import load_secret_key

        try:
            load_secret_key(Path(settings.signing_key))
        except FloxlsError as exc:
            found.append(Finding("bad-signing-key", exc.message, exc.fix))
    return found


def preflight(
    env_dir: Path,
    manifest: Manifest,
    settings: Settings,
    package: str | None,
    *,
    problems: Sequence[Problem] | None = None,
    state: RepoState | None = None,
    online: bool = True,
    builtin: bool | None = None,
) -> list[Finding]:
    """Every check of DESIGN 4.1, errors and warnings, in a stable order. Nothing is
    written anywhere. `online=False` skips asking the remote about HEAD."""
    from floxls.build import use_flox
    from floxls.manifest import check
    from floxls.repo import confirm_pushed, repo_state

    if state is None:
        state = repo_state(env_dir)
    if problems is None:
        problems = check(manifest)
    found = git_findings(state, None)
    if online and not any(f.is_error for f in found) and state.remote is not None:
        found += push_findings(state, confirm_pushed(state))
    found += manifest_findings(manifest, problems)
    target, tfind = resolve_target(manifest, package)
    found += tfind
    if target is not None and not tfind:
        found += sandbox_findings(
            manifest, target, builtin=(not use_flox()) if builtin is None else builtin
        )
    found += settings_findings(settings)
    return found
