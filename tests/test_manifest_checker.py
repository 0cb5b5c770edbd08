"""The schema checker: corpus of valid and invalid manifests, fixes, schema table, speed.

Invalid cases live in tests/corpus/invalid/*.toml. Each starts with one or more lines
    # expect: <code> <line>:<col>-<line>:<col> [warning]
(1-based, end column exclusive, as a compiler prints them); check() must report exactly
those problems (code, range, severity) and nothing else.
"""

from __future__ import annotations

import re
import statistics
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from floxls.manifest import schema as S
from floxls.manifest.checker import check
from floxls.manifest.model import Position, Problem, Range, Severity, TextEdit
from floxls.manifest.parser import parse
from floxls.manifest.suggest import distance, suggest

CORPUS = Path(__file__).parent / "corpus"
VALID = sorted((CORPUS / "valid").glob("*.toml"))
INVALID = sorted((CORPUS / "invalid").glob("*.toml"))
EXAMPLE = Path(__file__).parent.parent / "examples" / "hello" / ".flox" / "env" / "manifest.toml"
EXPECT_RE = re.compile(
    r"^# expect: (?P<code>[a-z-]+) (?P<sl>\d+):(?P<sc>\d+)-(?P<el>\d+):(?P<ec>\d+)"
    r"(?: (?P<sev>error|warning))?$",
    re.M,
)

Key = tuple[str, int, int, int, int, str]


def problems(text: str) -> list[Problem]:
    return check(parse(text))


def as_key(p: Problem) -> Key:
    r = p.range
    return (
        p.code,
        r.start.line + 1,
        r.start.character + 1,
        r.end.line + 1,
        r.end.character + 1,
        p.severity.name.lower(),
    )


def apply_edits(text: str, edits: tuple[TextEdit, ...]) -> str:
    lines = text.split("\n")

    def offset(pos: Position) -> int:
        return sum(len(line) + 1 for line in lines[: pos.line]) + pos.character

    for edit in sorted(edits, key=lambda e: (e.range.start, e.range.end), reverse=True):
        a, b = offset(edit.range.start), offset(edit.range.end)
        text = text[:a] + edit.new_text + text[b:]
    return text


def codes(text: str) -> list[str]:
    return [p.code for p in problems(text)]


# -- corpus -----------------------------------------------------------------------------


def test_corpus_sizes() -> None:
    assert len(VALID) >= 30
    assert len(INVALID) >= 60
    distinct = {m["code"] for f in INVALID for m in EXPECT_RE.finditer(f.read_text())}
    assert len(distinct) >= 20


def test_valid_corpus_covers_every_schema_and_section() -> None:
    declared: set[str] = set()
    sections: set[str] = set()
    for f in VALID:
        m = parse(f.read_text(encoding="utf-8"))
        sections.update(m.root.entries)
        v = m.get("version")
        sv = m.get("schema-version")
        if v is not None:
            declared.add("1")
        if sv is not None:
            declared.add(str(getattr(sv, "value", "")))
    assert declared >= {"1", *S.SCHEMA_VERSIONS}
    assert sections >= set(S.ROOT.keys)


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.stem)
def test_valid_manifest_has_no_problems(path: Path) -> None:
    found = problems(path.read_text(encoding="utf-8"))
    assert [(*as_key(p), p.message) for p in found] == []


def test_example_environment_is_clean() -> None:
    assert problems(EXAMPLE.read_text(encoding="utf-8")) == []
    targets = [t.name for t in parse(EXAMPLE.read_text(encoding="utf-8")).build_targets()]
    assert len(targets) == 2


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_invalid_manifest_reports_exactly_the_expected_problem(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    expected = sorted(
        (
            m["code"],
            int(m["sl"]),
            int(m["sc"]),
            int(m["el"]),
            int(m["ec"]),
            m["sev"] or "error",
        )
        for m in EXPECT_RE.finditer(text)
    )
    assert expected, f"{path.name} has no `# expect:` line"
    found = problems(text)
    assert sorted(as_key(p) for p in found) == expected, [p.message for p in found]
    for p in found:
        assert p.message and p.hint, p


# -- fixes --------------------------------------------------------------------------------

HEAD = 'schema-version = "1.15.0"\n'


def fix_of(text: str, code: str) -> tuple[TextEdit, ...]:
    matching = [p for p in problems(text) if p.code == code]
    assert len(matching) == 1, problems(text)
    fix = matching[0].fix
    assert fix is not None
    return fix.edits


@pytest.mark.parametrize(
    "body",
    [
        '[build.hello]\ndescription = "x"\n',
        '[build.hello] # a comment\ndescription = "x"\n',
        '[build]\nhello.description = "x"\n',
        '[build]\n  hello.version = "1"\n',
        'build.hello.description = "x"\n',
        '[build]\nhello = { version = "1" }\n',
        "[build]\nhello = {}\n",
        '[build.hello.version]\nfile = "VERSION"\n',
    ],
)
def test_missing_command_fix_adds_command(body: str) -> None:
    text = HEAD + body
    edits = fix_of(text, "build-missing-command")
    fixed = apply_edits(text, edits)
    assert problems(fixed) == [], fixed
    assert 'command = ""' in fixed


def test_did_you_mean_fix_renames_key() -> None:
    text = HEAD + '[build.x]\ncommand = "true"\nruntime_packages = []\n'
    (p,) = problems(text)
    assert p.code == "unknown-key" and "runtime-packages" in p.message
    assert p.fix is not None and p.fix.edits[0].new_text == "runtime-packages"
    assert problems(apply_edits(text, p.fix.edits)) == []


@pytest.mark.parametrize(
    ("text", "code"),
    [
        (HEAD + '[install.hello]\npkg-path = "hello"\nPriority = 2\n', "unknown-key"),
        (HEAD + '[options]\nactivate.mode = "Run"\n', "invalid-value"),
        (HEAD + '[options]\nsystems = ["x86_64_linux"]\n', "unknown-system"),
        ('schema-version = "1.13"\n', "unknown-schema-version"),
        ("schema-version = 1.13\n", "wrong-type"),
        ('version = "1"\n', "wrong-type"),
        ("[vars]\nA = 'b'\n", "missing-version"),
        (
            '[install]\npython.pkg-path = "python3"\n[build.x]\ncommand = "true"\n'
            'runtime-packages = ["pyhton"]\n',
            "missing-version",
        ),
        ('version = 1\n[hook]\non-deactivate = "x"\n', "needs-newer-schema"),
        (
            'schema-version = "1.12.0"\n[build.x]\ncommand = "true"\nsandbox = "warn"\n',
            "needs-newer-schema",
        ),
        (HEAD + '[include]\nenvironments = [{ reference = "me/env" }]\n', "deprecated-key"),
        (HEAD + '[install.h]\nflake = "github:a/b"\npkg-group = "g"\n', "option-not-allowed"),
        (HEAD + '[install]\nh = { version = "1" }\n', "install-no-source"),
    ],
)
def test_fix_resolves_the_problem(text: str, code: str) -> None:
    edits = fix_of(text, code)
    fixed = apply_edits(text, edits)
    assert code not in codes(fixed), fixed


def test_runtime_package_did_you_mean() -> None:
    text = (
        HEAD + '[install]\npython.pkg-path = "python3"\n[build.x]\ncommand = "true"\n'
        'runtime-packages = ["pyhton"]\n'
    )
    fixed = apply_edits(text, fix_of(text, "unknown-runtime-package"))
    assert problems(fixed) == []


def test_needs_newer_schema_on_version_1_rewrites_the_version_line() -> None:
    text = 'version = 1\n[build.x]\ncommand = "true"\nsandbox = "enforce"\n'
    (p,) = problems(text)
    assert p.code == "needs-newer-schema"
    assert '"1.13.0"' in p.message and "version = 1" in p.message
    fixed = apply_edits(text, p.fix.edits if p.fix else ())
    assert fixed.startswith('schema-version = "1.13.0"\n')
    assert problems(fixed) == []


def test_related_information_for_conflicts() -> None:
    text = HEAD + '[install.h]\npkg-path = "h"\nstore-path = "/nix/store/x-h"\n'
    (p,) = problems(text)
    assert p.code == "install-many-sources"
    assert p.related and p.related[0].range.start.line == 2


# -- behaviour ----------------------------------------------------------------------------


def test_problems_are_sorted_and_include_syntax_errors() -> None:
    text = HEAD + "[vars]\nA = 1\nB = \nC = 2\n[nope]\n"
    found = problems(text)
    starts = [(p.range.start.line, p.range.start.character) for p in found]
    assert starts == sorted(starts)
    got = {p.code for p in found}
    assert "toml-syntax" in got and "wrong-type" in got and "unknown-key" in got


def test_every_schema_version_is_accepted() -> None:
    for v in S.SCHEMA_VERSIONS:
        assert problems(f'schema-version = "{v}"\n') == []
    assert problems("version = 1\n") == []


def test_features_follow_their_schema_version() -> None:
    features = {
        "[services]\nauto-start = true\n": "1.12.0",
        '[profile.deactivate]\nbash = "x"\n': "1.13.0",
        '[build.x]\ncommand = "c"\nsandbox = "warn"\nsandbox-allow = ["a"]\n': "1.13.0",
        '[plugins.p]\nk = "v"\n': "1.14.0",
        '[hook]\non-deactivate = "x"\n': "1.15.0",
        '[install]\nh.pkg-path = "h"\nh.outputs = "all"\n': "1.10.0",
        'minimum-cli-version = { version = "1.0.0", reason = "r" }\n': "1.11.0",
    }
    for body, since in features.items():
        for v in ("1", *S.SCHEMA_VERSIONS):
            head = "version = 1\n" if v == "1" else f'schema-version = "{v}"\n'
            found = codes(head + body)
            too_old = S.schema_tuple(v) < S.schema_tuple(since)
            assert ("needs-newer-schema" in found) == too_old, (v, body, found)
            assert set(found) <= {"needs-newer-schema"}, (v, body, found)


def test_unknown_schema_means_no_schema_version_noise() -> None:
    assert codes('schema-version = "9.9.9"\n[hook]\non-deactivate = "x"\n') == [
        "unknown-schema-version"
    ]


def test_check_never_raises_on_a_broken_tree() -> None:
    class Broken:
        text = "x = 1\n"
        problems: tuple[Problem, ...] = ()

        @property
        def root(self) -> object:
            raise RuntimeError("boom")

    found = check(Broken())  # type: ignore[arg-type]
    assert [p.code for p in found] == ["internal-error"]
    assert found[0].range == Range(Position(0, 0), Position(0, 0))


def test_soft_problems_are_warnings() -> None:
    text = HEAD + '[vars]\n"a-b" = "x"\n[options]\nsystems = ["riscv64-linux"]\n'
    assert {p.severity for p in problems(text)} == {Severity.WARNING}


@settings(
    max_examples=1500,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    st.sampled_from(VALID + INVALID),
    st.lists(
        st.tuples(st.integers(0, 10_000), st.integers(0, 8), st.text(max_size=6)),
        max_size=6,
    ),
)
def test_mutated_manifests_never_break_the_checker(
    path: Path, mutations: list[tuple[int, int, str]]
) -> None:
    text = path.read_text(encoding="utf-8")
    for at, cut, insert in mutations:
        at %= len(text) + 1
        text = text[:at] + insert + text[at + cut :]
    manifest = parse(text)
    found = check(manifest)
    assert "internal-error" not in {p.code for p in found}
    lines = re.split(r"\r\n|\r|\n", text)
    for p in found:
        r = p.range
        assert r.start <= r.end
        for pos in (r.start, r.end):
            assert 0 <= pos.line < len(lines), (p, len(lines))
            assert 0 <= pos.character <= len(lines[pos.line]), p
        if p.fix:
            apply_edits(text, p.fix.edits)


# -- schema table -------------------------------------------------------------------------


def test_every_spec_has_docs_and_a_type() -> None:
    for path, spec in S.all_specs():
        assert len(spec.doc) > 10, path
        assert spec.type, path
        title = f"`{spec.name}`" if spec.name.startswith("<") else f"**{spec.name}**"
        assert spec.markdown().startswith(title), path
        assert "**<" not in spec.markdown(), path  # VS Code drops `<package>` as an HTML tag


def test_hover_names_the_key_of_a_wildcard_family() -> None:
    spec = S.spec_for(("build", "hello"))
    assert spec is not None and spec.markdown("hello").startswith("**hello** — `")


def test_spec_for_and_children() -> None:
    sandbox = S.spec_for(("build", "hello", "sandbox"))
    assert sandbox is not None and set(sandbox.values) == {"off", "pure", "warn", "enforce"}
    allow = S.spec_for(("build", "hello", "sandbox-allow"))
    assert allow is not None and allow.since == "1.13.0"
    assert S.spec_for(("install", "anything", "pkg-path")) is not None
    assert S.spec_for(("vars", "WHATEVER")) is S.VAR_VALUE
    assert S.spec_for(("include", "environments", "dir")) is not None
    assert S.spec_for(("include", "environments", "0", "remote")) is not None
    assert S.spec_for(("services", "auto-start")) is not None
    assert S.spec_for(("options", "nope")) is None
    assert S.spec_for(()) is S.ROOT
    top = {k.name for k in S.children(())}
    assert top == {
        "version", "schema-version", "minimum-cli-version", "install", "vars", "hook",
        "profile", "services", "options", "include", "build", "containerize", "plugins",
    }  # fmt: skip
    assert {k.name for k in S.children(("install", "x"))} == {
        "pkg-path", "flake", "store-path", "pkg-group", "version", "systems", "priority",
        "outputs",
    }  # fmt: skip
    assert "on-deactivate" in {k.name for k in S.children(("hook",))}
    assert {k.name for k in S.children(("build", "x", "version"))} == {"file", "command"}
    assert S.children(("vars",)) == []


def test_suggest() -> None:
    assert suggest("runtime_packages", ["runtime-packages", "version"]) == "runtime-packages"
    assert suggest("Pkg_Path", ["pkg-path", "flake"]) == "pkg-path"
    assert suggest("sandbx", ["sandbox", "sandbox-allow"]) == "sandbox"
    assert suggest("zzz", ["command", "version"]) is None
    assert suggest("", ["a"]) is None
    assert distance("ab", "ba") == 1
    assert distance("kitten", "sitting") == 3


# -- speed --------------------------------------------------------------------------------


def big_manifest(targets: int = 500) -> str:
    out = [HEAD, "[install]"]
    out += [f'pkg{i}.pkg-path = "pkg{i}"' for i in range(20)]
    for i in range(targets):
        out += [
            "",
            f"[build.target-{i}]",
            f'description = "Target number {i}"',
            f'version = "1.{i}.0"',
            'sandbox = "off"',
            f'runtime-packages = ["pkg{i % 20}"]',
            'license = ["MIT"]',
            "command = '''",
            '  mkdir -p "$out/bin"',
            f'  echo "#!/bin/sh" > "$out/bin/t{i}"',
            "'''",
        ]
    return "\n".join(out) + "\n"


def test_check_of_5500_lines_is_fast() -> None:
    text = big_manifest()
    assert text.count("\n") >= 5500
    manifest = parse(text)
    times = []
    for _ in range(7):
        t0 = time.perf_counter()
        found = check(manifest)
        times.append(time.perf_counter() - t0)
    assert found == []
    assert statistics.median(times) < 0.040, times
