"""Property tests: random and mutated manifests never make parse, node_at or check raise,
and every range they report lies inside the document."""

from __future__ import annotations

import tomllib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from floxls.manifest import Manifest, Position, Problem, check, parse, to_python
from tests.test_manifest_parser import check_inside

BASES = [
    """\
version = 1

[install]
hello.pkg-path = "hello"
jq = { pkg-path = "jq", version = "^1.7" }
gcc.pkg-path = "gcc"
gcc.systems = ["x86_64-linux", "aarch64-linux"]

[vars]
GREETING = "Hello"

[hook]
on-activate = '''
  echo "$GREETING"
'''

[profile]
bash = "alias ll='ls -l'"

[options]
systems = ["x86_64-linux", "aarch64-darwin"]

[build.hello]
command = '''
  mkdir -p $out/bin
  cp hello.sh $out/bin/hello
'''
description = "says hello"
version = { file = "VERSION" }
sandbox = "off"
runtime-packages = ["hello", "jq"]
""",
    """\
schema-version = "1.13.0"
minimum-cli-version = "1.4.0"

[install]
python = { pkg-path = "python311", pkg-group = "py", priority = 2 }
"my tool".flake = "github:me/tool"
pinned.store-path = "/nix/store/abc-pinned"

[services.db]
command = "postgres -D $PGDATA"
is-daemon = true

[include]
environments = [{ dir = "../base" }, { remote = "me/other" }]

[build]
app.command = "make"
app.sandbox = "pure"
app.sandbox-allow = ["network"]
lib = { command = "make lib", license = ["MIT", "Apache-2.0"] }

[[containerize.config.ports]]
x = 1

[containerize.config]
user = "me"
exposed-ports = ["80/tcp"]
""",
    """\
version = 1
[install]
[vars]
A = "1"
B = '''multi
line'''
[build.a]
command = "echo \\"hi\\" > $out"
version.command = "git describe"
[build.b]
command = \"\"\"
  line one \\
  line two
\"\"\"
""",
]

for _b in BASES:
    tomllib.loads(_b)  # the bases are valid TOML

NASTY = (
    "[]{}=.,\"'#\\\n\r\t =[[]]\"\"\"'''0x1e5-+:TZ_"
    "\x00\x01\x7f\x85\u2028\u2029\x0c\x0b\ufeff\ufffd\ud800\udfffé漢😀"
)
nasty_text = st.text(alphabet=st.sampled_from(NASTY), max_size=12) | st.text(max_size=6)

mutation = st.tuples(
    st.sampled_from(["delete", "insert", "dup-char", "del-line", "dup-line", "swap", "cut"]),
    st.floats(min_value=0, max_value=1, allow_nan=False),
    st.integers(min_value=1, max_value=8),
    nasty_text,
)


def mutate(text: str, muts: list[tuple[str, float, int, str]]) -> str:
    for kind, where, size, payload in muts:
        at = int(where * len(text))
        lines = text.split("\n")
        ln = int(where * (len(lines) - 1))
        if kind == "delete":
            text = text[:at] + text[at + size :]
        elif kind == "insert":
            text = text[:at] + payload + text[at:]
        elif kind == "dup-char":
            text = text[:at] + text[at : at + size] * 2 + text[at + size :]
        elif kind == "del-line":
            del lines[ln]
            text = "\n".join(lines)
        elif kind == "dup-line":
            lines.insert(ln, lines[ln])
            text = "\n".join(lines)
        elif kind == "swap":
            other = (ln + size) % len(lines)
            lines[ln], lines[other] = lines[other], lines[ln]
            text = "\n".join(lines)
        else:  # cut the document short
            text = text[:at]
    return text


def positions(m: Manifest, picks: list[float]) -> list[Position]:
    out = [Position(0, 0), Position(m.line_count, 0), Position(10**6, 10**6), Position(-1, -1)]
    n = m.line_count
    for f in picks:
        line = int(f * n)
        width = len(m.line(line))
        out.append(Position(line, int((f * 7919) % 1 * (width + 2))))
        out.append(Position(line, width))
    return out


def check_problems_inside(m: Manifest, found: list[Problem]) -> None:
    lines = [len(m.line(i)) for i in range(m.line_count)]
    for p in found:
        for r in (p.range, *(x.range for x in p.related)):
            for pos in (r.start, r.end):
                assert 0 <= pos.line < len(lines), (p, lines)
                assert 0 <= pos.character <= lines[pos.line], (p, lines)


def exercise(text: str, picks: list[float]) -> Manifest:
    m = parse(text)
    assert m.text == text
    check_inside(m)
    for pos in positions(m, picks):
        c = m.node_at(pos)
        r = c.word_range
        assert 0 <= r.start.line < m.line_count
        assert r.start.character <= len(m.line(r.start.line))
        assert r.end.character <= len(m.line(r.end.line))
    m.build_targets()
    to_python(m.root)
    found = check(m)
    check_problems_inside(m, found)
    return m


picks = st.lists(st.floats(min_value=0, max_value=0.999, allow_nan=False), max_size=12)


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    base=st.sampled_from(BASES),
    muts=st.lists(mutation, min_size=1, max_size=6),
    picks=picks,
)
def test_mutated_manifests(
    base: str, muts: list[tuple[str, float, int, str]], picks: list[float]
) -> None:
    text = mutate(base, muts)
    m = exercise(text, picks)
    # when the text is still valid TOML, the values must agree with tomllib
    try:
        # A leading BOM is the one leniency we allow that tomllib does not (editors on
        # Windows write it; it carries nothing).
        expected = tomllib.loads(text.removeprefix("\ufeff"))
    except ValueError:  # TOMLDecodeError is a ValueError: then we must have found it too
        assert m.problems, text
        return
    assert m.problems == [], (text, [(p.code, p.message) for p in m.problems])
    assert to_python(m.root) == expected


@settings(max_examples=1200, deadline=None)
@given(text=st.text(alphabet=st.sampled_from(NASTY + "abcxyz1 \n"), max_size=80), picks=picks)
def test_random_text(text: str, picks: list[float]) -> None:
    m = exercise(text, picks)
    # every position of a small document
    if len(text) <= 40:
        for line in range(m.line_count):
            for ch in range(len(m.line(line)) + 1):
                m.node_at(Position(line, ch))


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=200))
def test_arbitrary_unicode(text: str) -> None:
    exercise(text, [0.0, 0.5, 0.9])


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=200))
def test_binary_garbage(data: bytes) -> None:
    exercise(data.decode("utf-8", errors="surrogateescape"), [0.1, 0.6])
