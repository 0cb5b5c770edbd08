"""The TOML parser: exact ranges, values (tomllib as the oracle), problems, recovery, cursor."""

from __future__ import annotations

import gc
import math
import tomllib

import pytest

from floxls.manifest import (
    Array,
    ArrayOfTables,
    Manifest,
    Position,
    Range,
    Scalar,
    Table,
    check,
    parse,
    to_python,
)


def R(l1: int, c1: int, l2: int, c2: int) -> Range:
    return Range(Position(l1, c1), Position(l2, c2))


def rt(r: Range) -> tuple[int, int, int, int]:
    return (r.start.line, r.start.character, r.end.line, r.end.character)


def problems(text: str) -> list[tuple[str, tuple[int, int, int, int], str]]:
    return [(p.code, rt(p.range), p.message) for p in parse(text).problems]


def codes(text: str) -> list[tuple[str, tuple[int, int, int, int]]]:
    return [(p.code, rt(p.range)) for p in parse(text).problems]


def ok(text: str) -> Manifest:
    m = parse(text)
    assert m.problems == [], [(p.code, rt(p.range), p.message) for p in m.problems]
    return m


# -- ranges ---------------------------------------------------------------------------------


def test_key_value_ranges() -> None:
    m = ok('version = 1\nname   =   "héllo"  # comment\n')
    v = m.entry("version")
    assert v is not None
    assert rt(v.key_range) == (0, 0, 0, 7)
    assert isinstance(v.value, Scalar)
    assert rt(v.value.range) == (0, 10, 0, 11)
    n = m.entry("name")
    assert n is not None and isinstance(n.value, Scalar)
    assert rt(n.key_range) == (1, 0, 1, 4)
    assert rt(n.value.range) == (1, 11, 1, 18)  # quotes included, é is one character
    assert n.value.value == "héllo"
    assert n.path == ("name",)
    assert rt(m.root.range) == (0, 0, 2, 0)
    assert m.root.kind == "root"


def test_dotted_and_quoted_key_ranges() -> None:
    m = ok('[install]\nhello . "pkg-path" = "hello"\n\'my key\'.x = 1\n')
    hello = m.entry("install", "hello")
    assert hello is not None and isinstance(hello.value, Table)
    assert hello.value.kind == "dotted"
    assert rt(hello.key_range) == (1, 0, 1, 5)
    pp = m.entry("install", "hello", "pkg-path")
    assert pp is not None
    assert rt(pp.key_range) == (1, 8, 1, 18)
    assert pp.path == ("install", "hello", "pkg-path")
    assert rt(pp.value.range) == (1, 21, 1, 28)
    assert rt(hello.value.range) == (1, 0, 1, 28)
    mk = m.entry("install", "my key")
    assert mk is not None
    assert rt(mk.key_range) == (2, 0, 2, 8)
    x = m.entry("install", "my key", "x")
    assert x is not None and rt(x.key_range) == (2, 9, 2, 10)


def test_header_ranges_and_kinds() -> None:
    text = '[build.hello]\ncommand = "x"\n\n[ build . "other" ]\ncommand = "y"\n'
    m = ok(text)
    build = m.entry("build")
    assert build is not None and isinstance(build.value, Table)
    assert build.value.kind == "implicit"
    assert build.value.header_range is None
    assert rt(build.key_range) == (0, 1, 0, 6)
    hello = m.entry("build", "hello")
    assert hello is not None and isinstance(hello.value, Table)
    assert hello.value.kind == "header"
    assert rt(hello.key_range) == (0, 7, 0, 12)
    assert hello.value.header_range is not None
    assert rt(hello.value.header_range) == (0, 0, 0, 13)
    assert rt(hello.value.range) == (0, 0, 1, 13)
    other = m.entry("build", "other")
    assert other is not None and isinstance(other.value, Table)
    assert rt(other.key_range) == (3, 10, 3, 17)
    assert other.value.header_range is not None
    assert rt(other.value.header_range) == (3, 0, 3, 19)
    assert rt(build.value.range) == (0, 1, 4, 13)


def test_implicit_table_becomes_header() -> None:
    m = ok('[build.hello]\ncommand = "x"\n[build]\nx = 1\n')
    build = m.entry("build")
    assert build is not None and isinstance(build.value, Table)
    assert build.value.kind == "header"
    assert build.value.header_range is not None
    assert rt(build.value.header_range) == (2, 0, 2, 7)
    assert rt(build.key_range) == (0, 1, 0, 6)  # the first place it is written


def test_array_of_tables_ranges() -> None:
    m = ok("[[a.b]]\nc = 1\n\n[[a.b]]\nc = 2\nd = 3\n")
    b = m.get("a", "b")
    assert isinstance(b, ArrayOfTables)
    assert len(b.tables) == 2
    assert [t.kind for t in b.tables] == ["array-item", "array-item"]
    hr0, hr1 = b.tables[0].header_range, b.tables[1].header_range
    assert hr0 is not None and hr1 is not None
    assert rt(hr0) == (0, 0, 0, 7)
    assert rt(hr1) == (3, 0, 3, 7)
    assert rt(b.tables[0].range) == (0, 0, 1, 5)
    assert rt(b.tables[1].range) == (3, 0, 5, 5)
    assert rt(b.range) == (0, 0, 5, 5)
    c2 = b.tables[1].entries["c"]
    assert rt(c2.key_range) == (4, 0, 4, 1)
    assert m.get("a", "b", "d") is not None  # through the last table


def test_inline_table_and_array_ranges() -> None:
    text = 'v = { file = "VERSION", n.m = [1, [2, 3]] }\n'
    m = ok(text)
    v = m.get("v")
    assert isinstance(v, Table) and v.kind == "inline"
    assert rt(v.range) == (0, 4, 0, 43)
    f = v.entries["file"]
    assert rt(f.key_range) == (0, 6, 0, 10)
    assert rt(f.value.range) == (0, 13, 0, 22)
    assert f.path == ("v", "file")
    nm = m.entry("v", "n", "m")
    assert nm is not None and isinstance(nm.value, Array)
    assert nm.path == ("v", "n", "m")
    assert rt(nm.key_range) == (0, 26, 0, 27)
    arr = nm.value
    assert rt(arr.range) == (0, 30, 0, 41)
    assert [rt(i.range) for i in arr.items] == [(0, 31, 0, 32), (0, 34, 0, 40)]
    inner = arr.items[1]
    assert isinstance(inner, Array)
    assert [rt(i.range) for i in inner.items] == [(0, 35, 0, 36), (0, 38, 0, 39)]


def test_multiline_array_and_string_ranges() -> None:
    text = 'a = [\n  "x", # one\n  # only a comment\n  "y",\n]\ns = """\nline\n  two"""\n'
    m = ok(text)
    a = m.get("a")
    assert isinstance(a, Array)
    assert rt(a.range) == (0, 4, 4, 1)
    assert [rt(i.range) for i in a.items] == [(1, 2, 1, 5), (3, 2, 3, 5)]
    s = m.get("s")
    assert isinstance(s, Scalar)
    assert rt(s.range) == (5, 4, 7, 8)
    assert s.value == "line\n  two"


def test_crlf_and_tabs() -> None:
    m = ok('a = 1\r\n[t]\r\n\tb\t=\t"x"\r\n')
    b = m.entry("t", "b")
    assert b is not None
    assert rt(b.key_range) == (2, 1, 2, 2)
    assert rt(b.value.range) == (2, 5, 2, 8)
    assert m.line(2) == '\tb\t=\t"x"'
    assert m.line_count == 4


def test_scalar_kinds_and_ranges() -> None:
    text = (
        "i = -1_000\nh = 0xDEAD_beef\no = 0o755\nb = 0b1010\nf = 6.626e-34\n"
        "g = -inf\nn = nan\nt = true\nd = 1979-05-27\nlt = 07:32:00.999\n"
        "odt = 1979-05-27T00:32:00.999999-07:00\nldt = 1979-05-27 07:32:00\n"
    )
    m = ok(text)
    kinds = {k: e.value.kind for k, e in m.root.entries.items() if isinstance(e.value, Scalar)}
    assert kinds == {
        "i": "integer",
        "h": "integer",
        "o": "integer",
        "b": "integer",
        "f": "float",
        "g": "float",
        "n": "float",
        "t": "boolean",
        "d": "date",
        "lt": "time",
        "odt": "datetime",
        "ldt": "datetime",
    }
    odt = m.get("odt")
    assert odt is not None and rt(odt.range) == (10, 6, 10, 38)
    ldt = m.get("ldt")
    assert ldt is not None and rt(ldt.range) == (11, 6, 11, 25)
    h = m.get("h")
    assert isinstance(h, Scalar) and h.value == 0xDEADBEEF
    n = m.get("n")
    assert isinstance(n, Scalar) and isinstance(n.value, float) and math.isnan(n.value)


# -- values against tomllib --------------------------------------------------------------------

VALID_DOCS = [
    # TOML spec-style examples, written for this test
    """\
# This is a TOML document
title = "TOML Example"

[owner]
name = "Tom Preston-Werner"
dob = 1979-05-27T07:32:00-08:00

[database]
enabled = true
ports = [ 8000, 8001, 8002 ]
data = [ ["delta", "phi"], [3.14] ]
temp_targets = { cpu = 79.5, case = 72.0 }

[servers]

[servers.alpha]
ip = "10.0.0.1"
role = "frontend"

[servers.beta]
ip = "10.0.0.2"
role = "backend"
""",
    "\n".join(
        [
            r'str1 = "Im a string. \"You can quote me\". Name\tJos\u00E9\nLocation\tSF."',
            r'str2 = """',
            r"Roses are red",
            r'Violets are blue"""',
            'str3 = """\\',
            "       The quick brown \\",
            "       fox jumps over \\",
            "       the lazy dog.\\",
            r'       """',
            r'str4 = """Here are two quotation marks: "". Simple enough."""',
            r'str5 = """Here are three quotation marks: ""\"."""',
            r'str6 = """Here are fifteen quotation marks: ""\"""\"""\"""\"""\"."""',
            r'str7 = """"This," she said, "is just a pointless statement.""""',
            r"winpath  = 'C:\Users\nodejs\templates'",
            r"quoted   = 'Tom " + '"Dubs"' + " Preston-Werner'",
            r"regex    = '<\i\c*\s*>'",
            "regex2 = " + "'" * 3 + r"I [dw]on't need \d{2} apples" + "'" * 3,
            "lines  = " + "'" * 3,
            r"The first newline is",
            r"trimmed in raw strings.",
            r"   All other whitespace",
            r"   is preserved.",
            "'" * 3,
            "quot15 = " + "'" * 3 + "fifteen quotation marks: " + '"' * 15 + "'" * 3,
            "apos15 = " + '"fifteen apostrophes: ' + "'" * 15 + '"',
            "str = " + "'" * 4 + "That,' she said, 'is still pointless." + "'" * 4,
            r'emoji = "\U0001F600 and \u00e9"',
            r'tab = "a\tb\\c\"d\b\f\r"',
            r'cont = """a\   ',
            r'   b"""',
            "",
        ]
    ),
    """\
int1 = +99
int2 = 42
int3 = 0
int4 = -17
int5 = 1_000
int6 = 5_349_221
int7 = 53_49_221
int8 = 1_2_3_4_5
hex1 = 0xDEADBEEF
hex2 = 0xdeadbeef
hex3 = 0xdead_beef
oct1 = 0o01234567
oct2 = 0o755
bin1 = 0b11010110
flt1 = +1.0
flt2 = 3.1415
flt3 = -0.01
flt4 = 5e+22
flt5 = 1e06
flt6 = -2E-2
flt7 = 6.626e-34
flt8 = 224_617.445_991_228
sf1 = inf
sf2 = +inf
sf3 = -inf
bool1 = true
bool2 = false
odt1 = 1979-05-27T07:32:00Z
odt2 = 1979-05-27T00:32:00-07:00
odt3 = 1979-05-27T00:32:00.999999-07:00
odt4 = 1979-05-27 07:32:00Z
ldt1 = 1979-05-27T07:32:00
ldt2 = 1979-05-27T00:32:00.999999
ld1 = 1979-05-27
lt1 = 07:32:00
lt2 = 00:32:00.999999
lt3 = 00:32:00.1234567
""",
    """\
integers = [ 1, 2, 3 ]
colors = [ "red", "yellow", "green" ]
nested_arrays_of_ints = [ [ 1, 2 ], [3, 4, 5] ]
nested_mixed_array = [ [ 1, 2 ], ["a", "b", "c"] ]
string_array = [ "all", 'strings', \"\"\"are the same\"\"\", '''type''' ]
numbers = [ 0.1, 0.2, 0.5, 1, 2, 5 ]
contributors = [
  "Foo Bar <foo@example.com>",
  { name = "Baz Qux", email = "bazqux@example.com", url = "https://example.com/bazqux" }
]
integers2 = [
  1, 2, 3
]
integers3 = [
  1,
  2, # this is ok
]
empty = [ ]
name = { first = "Tom", last = "Preston-Werner" }
point = { x = 1, y = 2 }
animal = { type.name = "pug" }
empty_inline = {}
""",
    """\
fruit.apple.color = "red"
fruit.apple.taste.sweet = true
"127.0.0.1" = "value"
"character encoding" = "value"
"ʎǝʞ" = "value"
'key2' = "value"
'quoted "value"' = "value"
"" = "blank"
site."google.com" = true
3.14159 = "pi"
1234 = "value"
bare_key = 1
bare-key = 2

[fruit.apple.texture]
smooth = true

[x.y.z.w]
[x]

[ dog . "tater.man" ]
type.name = "pug"

[a.b.c]
[a]
b.d = 1
""",
    """\
[[products]]
name = "Hammer"
sku = 738594937

[[products]]  # empty table within the array

[[products]]
name = "Nail"
sku = 284758393
color = "gray"

[[fruits]]
name = "apple"

[fruits.physical]  # subtable
color = "red"
shape = "round"

[[fruits.varieties]]  # nested array of tables
name = "red delicious"

[[fruits.varieties]]
name = "granny smith"

[[fruits]]
name = "banana"

[[fruits.varieties]]
name = "plantain"

points = 1
""",
    # a Flox manifest in both styles
    """\
version = 1

[install]
hello.pkg-path = "hello"
jq = { pkg-path = "jq", version = "^1.7" }
gcc.pkg-path = "gcc"
gcc.systems = ["x86_64-linux", "aarch64-linux"]
gcc.priority = 3

[vars]
GREETING = "Hello"

[hook]
on-activate = '''
  echo "$GREETING"
'''

[profile]
bash = '''
  alias ll="ls -l"
'''

[services.db]
command = "postgres -D $PGDATA"

[options]
systems = ["x86_64-linux"]
cuda-detection = false

[build]
hello.command = "mkdir -p $out/bin && cp hello $out/bin"
hello.version = { file = "VERSION" }
tool = { command = "make", sandbox = "pure" }

[build.other]
command = '''
  make install PREFIX=$out
'''
runtime-packages = ["hello"]
""",
    'schema-version = "1.10.0"\r\n[install]\r\nhello.pkg-path = "hello"\r\n',
    "",
    "# only a comment",
    "\n\n\n",
    "\ufeffa = 1\n",
    "a = 1 # no newline at the end",
]


@pytest.mark.parametrize("text", VALID_DOCS)
def test_values_match_tomllib(text: str) -> None:
    m = ok(text)
    assert to_python(m.root) == tomllib.loads(text.lstrip("\ufeff"))


def test_nan_value() -> None:
    m = ok("a = nan\nb = -nan\n")
    v = to_python(m.root)
    assert isinstance(v, dict)
    assert all(math.isnan(x) for x in v.values())


def test_get_entry_and_line() -> None:
    m = ok("[a]\nb = [1]\n[[c]]\nd = 1\n")
    assert m.get() is m.root
    assert m.get("missing") is None
    assert m.get("a", "b", "x") is None
    assert m.entry("a", "b") is not None
    assert m.line(0) == "[a]"
    assert m.line(99) == ""
    assert m.line(-1) == ""
    assert m.offset(Position(1, 4)) == 8
    assert m.position(8) == Position(1, 4)


# -- problems -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("x\ny = 1\n", [("toml-syntax", (0, 0, 0, 1), "expected `=` after key `x`")]),
        (
            "a.b\n",
            [("toml-syntax", (0, 0, 0, 3), "expected `=` after key `a.b`")],
        ),
        (
            "x : 1\n",
            [("toml-syntax", (0, 2, 0, 3), "expected `=` after key `x`, found `:`")],
        ),
        (
            'x = "abc\ny = 1\n',
            [("toml-syntax", (0, 4, 0, 8), 'unterminated string: missing closing `"`')],
        ),
        ("x = 'abc\n", [("toml-syntax", (0, 4, 0, 8), "unterminated string: missing closing `'`")]),
        ('x = "a\\qb"\n', [("toml-syntax", (0, 6, 0, 8), "invalid escape `\\q`")]),
        (
            'x = "\\uD800"\n',
            [
                (
                    "toml-syntax",
                    (0, 5, 0, 11),
                    "invalid unicode escape `\\uD800`: not a Unicode scalar value",
                )
            ],
        ),
        (
            'x = "\\u12"\n',
            [("toml-syntax", (0, 5, 0, 9), "invalid unicode escape: `\\u` needs 4 hex digits")],
        ),
        (
            "x = off\n",
            [
                (
                    "toml-syntax",
                    (0, 4, 0, 7),
                    'invalid value `off`: strings must be quoted, e.g. "off"',
                )
            ],
        ),
        ("x =\n", [("toml-syntax", (0, 3, 0, 3), "expected a value after `=`")]),
        ("x = 012\n", [("toml-syntax", (0, 4, 0, 7), "invalid value `012`")]),
        ("x = 1.\n", [("toml-syntax", (0, 4, 0, 6), "invalid value `1.`")]),
        ("x = 1__0\n", [("toml-syntax", (0, 4, 0, 8), "invalid value `1__0`")]),
        ("x = +0x10\n", [("toml-syntax", (0, 4, 0, 9), "invalid value `+0x10`")]),
        ("x = 1 2\n", [("toml-syntax", (0, 6, 0, 7), "expected the end of the line, found `2`")]),
        (
            'x = "a" extra words\n',
            [("toml-syntax", (0, 8, 0, 13), "expected the end of the line, found `extra`")],
        ),
        (
            "x = 1979-13-01\n",
            [("toml-syntax", (0, 4, 0, 14), "invalid date or time `1979-13-01`")],
        ),
        ("x = 25:00:00\n", [("toml-syntax", (0, 4, 0, 12), "invalid time `25:00:00`")]),
        (
            "x = [1 2]\n",
            [("toml-syntax", (0, 7, 0, 8), "expected `,` or `]` after an array item, found `2`")],
        ),
        ("x = [1, 2\ny = 3\n", [("toml-syntax", (0, 4, 0, 5), "unterminated array: missing `]`")]),
        ("x = [1,\n", [("toml-syntax", (0, 4, 0, 5), "unterminated array: missing `]`")]),
        (
            "x = { a = 1, }\n",
            [("toml-syntax", (0, 11, 0, 12), "trailing comma is not allowed in an inline table")],
        ),
        (
            "x = { a = 1\n",
            [
                (
                    "toml-syntax",
                    (0, 4, 0, 5),
                    "unterminated inline table: missing `}` (an inline table must be on one line)",
                )
            ],
        ),
        (
            "x = { a }\n",
            [("toml-syntax", (0, 8, 0, 9), "expected `=` after key `a`, found `}`")],
        ),
        (
            'x = """abc\ny = 1\n',
            [
                (
                    "toml-syntax",
                    (0, 4, 0, 7),
                    'unterminated multi-line string: missing closing `"""`',
                )
            ],
        ),
        (
            "[a\nb = 1\n",
            [("toml-syntax", (0, 0, 0, 2), "expected `]` to close the table header `a`")],
        ),
        (
            "[a] x\n",
            [("toml-syntax", (0, 4, 0, 5), "expected the end of the line, found `x`")],
        ),
        ("[]\n", [("toml-syntax", (0, 1, 0, 2), "expected a key, found `]`")]),
        ("= 1\n", [("toml-syntax", (0, 0, 0, 1), "expected a key, found `=`")]),
        ("a. = 1\n", [("toml-syntax", (0, 3, 0, 4), "expected a key after `.`, found `=`")]),
        (
            "föo = 1\n",
            [("toml-syntax", (0, 1, 0, 2), 'invalid character `ö` in bare key (quote it: "föo")')],
        ),
        (
            "a = 1 # \x01\n",
            [("toml-syntax", (0, 8, 0, 9), "control character U+0001 is not allowed in a comment")],
        ),
        (
            'a = "x\x00y"\n',
            [("toml-syntax", (0, 6, 0, 7), "control character U+0000 is not allowed in a string")],
        ),
        (
            "a = 1\rb = 2\n",
            [("toml-syntax", (0, 5, 1, 0), "bare carriage return (use LF or CRLF line endings)")],
        ),
        (
            'a = """x""""""\n',
            [("toml-syntax", (0, 8, 0, 14), "too many quotes at the end of a multi-line string")],
        ),
    ],
)
def test_syntax_errors(text: str, expected: list[tuple[str, tuple[int, ...], str]]) -> None:
    assert problems(text) == expected


def test_invalid_values_never_accepted_by_tomllib_either() -> None:
    for bad in ["x = 012", "x = 1.", "x = +0x10", "x = { a = 1, }", "x = off", "[a]]"]:
        with pytest.raises(tomllib.TOMLDecodeError):
            tomllib.loads(bad)
        assert parse(bad).problems


def test_duplicate_key_points_at_both() -> None:
    m = parse('[build.x]\ncommand = "a"\ndescription = ""\ncommand = "b"\n')
    [p] = m.problems
    assert p.code == "duplicate-key"
    assert rt(p.range) == (3, 0, 3, 7)
    assert p.message == "duplicate key `command`"
    [rel] = p.related
    assert rt(rel.range) == (1, 0, 1, 7)
    # the first definition is kept
    v = m.get("build", "x", "command")
    assert isinstance(v, Scalar) and v.value == "a"


@pytest.mark.parametrize(
    ("text", "expected", "related"),
    [
        ("a = 1\na = 2\n", ("duplicate-key", (1, 0, 1, 1)), (0, 0, 0, 1)),
        ("a.b = 1\na.b = 2\n", ("duplicate-key", (1, 0, 1, 3)), (0, 2, 0, 3)),
        ("a.b = 1\na.b.c = 2\n", ("duplicate-key", (1, 0, 1, 3)), (0, 2, 0, 3)),
        ("a = { x = 1, x = 2 }\n", ("duplicate-key", (0, 13, 0, 14)), (0, 6, 0, 7)),
        ("[a]\n[a]\n", ("table-redefined", (1, 0, 1, 3)), (0, 0, 0, 3)),
        ("a = 1\n[a]\n", ("table-redefined", (1, 0, 1, 3)), (0, 0, 0, 1)),
        ("a = 1\n[a.b]\n", ("table-redefined", (1, 0, 1, 5)), (0, 0, 0, 1)),
        ("a = {x=1}\na.y = 2\n", ("table-redefined", (1, 0, 1, 1)), (0, 0, 0, 1)),
        ("a = {x=1}\n[a.b]\n", ("table-redefined", (1, 0, 1, 5)), (0, 0, 0, 1)),
        ("a = {x=1}\n[a]\n", ("table-redefined", (1, 0, 1, 3)), (0, 0, 0, 1)),
        ("a = { b = {x=1}, b.y = 2 }\n", ("table-redefined", (0, 17, 0, 18)), (0, 6, 0, 7)),
        ("[a]\nb.c = 1\n[a.b]\n", ("table-redefined", (2, 0, 2, 5)), (1, 0, 1, 1)),
        ("b.c = 1\n[b]\n", ("table-redefined", (1, 0, 1, 3)), (0, 0, 0, 1)),
        ("[a.b]\n[a]\nb.c = 1\n", ("table-redefined", (2, 0, 2, 1)), (0, 0, 0, 5)),
        (
            '[build.x]\ncommand = "x"\n[build]\nx.version = "1"\n',
            ("table-redefined", (3, 0, 3, 1)),
            (0, 0, 0, 9),
        ),
        ("[[a]]\n[a]\n", ("table-redefined", (1, 0, 1, 3)), (0, 0, 0, 5)),
        ("[a]\n[[a]]\n", ("table-redefined", (1, 0, 1, 5)), (0, 1, 0, 2)),
        ("a = [1]\n[[a]]\n", ("table-redefined", (1, 0, 1, 5)), (0, 0, 0, 1)),
        ("a = [{b = 1}]\n[a.c]\n", ("table-redefined", (1, 0, 1, 5)), (0, 0, 0, 1)),
    ],
)
def test_redefinitions(
    text: str, expected: tuple[str, tuple[int, ...]], related: tuple[int, ...]
) -> None:
    with pytest.raises(tomllib.TOMLDecodeError):
        tomllib.loads(text)
    m = parse(text)
    assert [(p.code, rt(p.range)) for p in m.problems] == [expected]
    [p] = m.problems
    assert [rt(r.range) for r in p.related] == [related]


@pytest.mark.parametrize(
    "text",
    [
        "[a.b]\n[a]\n",
        "[a]\n[a.b]\n",
        "[a]\nb.c = 1\n[a.b.d]\n",  # sub-tables of a dotted table
        "[a.b.c]\n[a]\nb.d = 1\n",
        "[[a]]\n[a.b]\n[[a]]\n[a.b]\n",
        "a.b = 1\na.c = 2\n",
        "a = { b.c = 1, b.d = 2 }\n",
    ],
)
def test_allowed_extensions(text: str) -> None:
    m = ok(text)
    assert to_python(m.root) == tomllib.loads(text)


def test_redefined_table_content_is_not_merged() -> None:
    m = parse("[a]\nx = 1\n[a]\nx = 2\ny = 3\n")
    assert [p.code for p in m.problems] == ["table-redefined"]  # no duplicate-key cascade
    assert to_python(m.root) == {"a": {"x": 1}}


# -- recovery ---------------------------------------------------------------------------------


def test_recovery_keeps_modelling_later_lines() -> None:
    text = 'version = 1\nbroken line here\n[build.hello]\ncommand = "x\nsandbox = "off"\n'
    m = parse(text)
    assert [(p.code, rt(p.range)) for p in m.problems] == [
        ("toml-syntax", (1, 7, 1, 8)),
        ("toml-syntax", (3, 10, 3, 12)),
    ]
    assert to_python(m.root) == {"version": 1, "build": {"hello": {"sandbox": "off"}}}


def test_unclosed_array_stops_before_next_statement() -> None:
    text = '[build.x]\nruntime-packages = [\n  "hello",\n  "jq",\n[build.y]\ncommand = "y"\n'
    m = parse(text)
    assert codes(text) == [("toml-syntax", (1, 19, 1, 20))]
    rp = m.get("build", "x", "runtime-packages")
    assert isinstance(rp, Array)
    assert [to_python(i) for i in rp.items] == ["hello", "jq"]
    assert rt(rp.range) == (1, 19, 3, 7)
    assert m.get("build", "y", "command") is not None
    assert [t.name for t in m.build_targets()] == ["x", "y"]


def test_unclosed_array_then_key() -> None:
    m = parse("a = [1, 2,\nb = 3\n")
    assert codes("a = [1, 2,\nb = 3\n") == [("toml-syntax", (0, 4, 0, 5))]
    assert to_python(m.root) == {"a": [1, 2], "b": 3}


def test_unterminated_multiline_string_resumes_next_line() -> None:
    m = parse("a = '''abc\nb = 2\n")
    assert codes("a = '''abc\nb = 2\n") == [("toml-syntax", (0, 4, 0, 7))]
    assert to_python(m.root) == {"b": 2}


def test_unclosed_header_still_opens_table() -> None:
    m = parse('[build.x\ncommand = "a"\n')
    assert to_python(m.root) == {"build": {"x": {"command": "a"}}}


@pytest.mark.parametrize(
    "text",
    [
        "\x00\x01\x02garbage\ufffd\ud800 = 3\n",
        "[[[[[[",
        "a = [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
        "a = " + "[" * 5000 + "]" * 5000,
        "a = " + "{b=" * 3000,
        '"""',
        "'",
        'a = "\\',
        "a = '''",
        "\r\r\r\n\n\r",
        "a=1\x85b=2\u2028c=3\x0cd=4",
        "[a]]\n[b\n[c.]\n[.d]\n[[e]\n",
        "\ud800\udfff",
    ],
)
def test_never_raises(text: str) -> None:
    gc_before = gc.isenabled()
    m = parse(text)
    assert gc.isenabled() == gc_before
    check_inside(m)
    check(m)
    to_python(m.root)
    lines = m.line_count
    for line in range(lines + 1):
        for ch in range(0, len(m.line(line)) + 2):
            m.node_at(Position(line, ch))


def test_big_document_is_fast_enough() -> None:
    text = "".join(f'[build.p{i}]\ncommand = "echo {i}"\nversion = "1.0"\n\n' for i in range(2500))
    text += "\x00" * 1000 + "garbage\n" * 1000
    m = parse(text)
    assert len(m.build_targets()) == 2500


def check_inside(m: Manifest) -> None:
    """Every range of every node and problem lies inside the document."""
    lines = [len(m.line(i)) for i in range(m.line_count)]

    def inside(r: Range) -> None:
        for p in (r.start, r.end):
            assert 0 <= p.line < len(lines), (r, lines)
            assert 0 <= p.character <= lines[p.line], (r, lines)
        assert r.start <= r.end, r

    def walk(v: object) -> None:
        if isinstance(v, Scalar):
            inside(v.range)
        elif isinstance(v, Array):
            inside(v.range)
            for i in v.items:
                walk(i)
        elif isinstance(v, ArrayOfTables):
            inside(v.range)
            for t in v.tables:
                walk(t)
        elif isinstance(v, Table):
            inside(v.range)
            if v.header_range is not None:
                inside(v.header_range)
            for e in v.entries.values():
                inside(e.key_range)
                walk(e.value)

    walk(m.root)
    for p in m.problems:
        inside(p.range)
        for r in p.related:
            inside(r.range)


# -- node_at --------------------------------------------------------------------------------

DOC = """\
version = 1
[install]
hello.pkg-path = "hello"
[build.hello]
command = "x"
sandbox = "pu"
runtime-packages = ["hello", ]
version = { file = "V" }
runtime-pack
hello.comm
license =
description = { fi }

[[build.wo
"""


def cur(line: int, ch: int, text: str = DOC) -> tuple[object, ...]:
    c = parse(text).node_at(Position(line, ch))
    return (
        c.part,
        c.table_path,
        c.key_path,
        c.entry.path if c.entry else None,
        c.prefix,
        rt(c.word_range),
    )


@pytest.mark.parametrize(
    ("line", "ch", "expected"),
    [
        (0, 3, ("key", (), ("version",), ("version",), "ver", (0, 0, 0, 7))),
        (0, 11, ("value", (), ("version",), ("version",), "1", (0, 10, 0, 11))),
        (
            2,
            7,
            (
                "key",
                ("install", "hello"),
                ("install", "hello", "pkg-path"),
                ("install", "hello", "pkg-path"),
                "p",
                (2, 6, 2, 14),
            ),
        ),
        (
            2,
            2,
            ("key", ("install",), ("install", "hello"), ("install", "hello"), "he", (2, 0, 2, 5)),
        ),
        (3, 3, ("header", (), ("build",), ("build",), "bu", (3, 1, 3, 6))),
        (
            3,
            9,
            ("header", ("build",), ("build", "hello"), ("build", "hello"), "he", (3, 7, 3, 12)),
        ),
        (
            5,
            13,
            (
                "value",
                ("build", "hello"),
                ("build", "hello", "sandbox"),
                ("build", "hello", "sandbox"),
                '"pu',
                (5, 10, 5, 14),
            ),
        ),
        (
            6,
            29,
            (
                "value",
                ("build", "hello"),
                ("build", "hello", "runtime-packages"),
                ("build", "hello", "runtime-packages"),
                "",
                (6, 29, 6, 29),
            ),
        ),
        (
            6,
            22,
            (
                "value",
                ("build", "hello"),
                ("build", "hello", "runtime-packages"),
                ("build", "hello", "runtime-packages"),
                '"h',
                (6, 20, 6, 27),
            ),
        ),
        (
            7,
            13,
            (
                "key",
                ("build", "hello", "version"),
                ("build", "hello", "version", "file"),
                ("build", "hello", "version", "file"),
                "f",
                (7, 12, 7, 16),
            ),
        ),
        (
            7,
            20,
            (
                "value",
                ("build", "hello", "version"),
                ("build", "hello", "version", "file"),
                ("build", "hello", "version", "file"),
                '"',
                (7, 19, 7, 22),
            ),
        ),
        # a half-typed key: the common completion case
        (
            8,
            12,
            ("body", ("build", "hello"), ("build", "hello"), None, "runtime-pack", (8, 0, 8, 12)),
        ),
        (
            8,
            4,
            ("body", ("build", "hello"), ("build", "hello"), None, "runt", (8, 0, 8, 12)),
        ),
        (
            9,
            10,
            (
                "body",
                ("build", "hello", "hello"),
                ("build", "hello", "hello"),
                None,
                "comm",
                (9, 6, 9, 10),
            ),
        ),
        # `key =` with no value yet
        (
            10,
            9,
            (
                "value",
                ("build", "hello"),
                ("build", "hello", "license"),
                None,
                "",
                (10, 9, 10, 9),
            ),
        ),
        # a half-typed key inside an inline table
        (
            11,
            18,
            (
                "body",
                ("build", "hello", "description"),
                ("build", "hello", "description"),
                None,
                "fi",
                (11, 16, 11, 18),
            ),
        ),
        (12, 0, ("body", ("build", "hello"), ("build", "hello"), None, "", (12, 0, 12, 0))),
        # an unclosed header still opens its table
        (
            13,
            10,
            ("header", ("build",), ("build", "wo"), ("build", "wo"), "wo", (13, 8, 13, 10)),
        ),
        (13, 8, ("header", ("build",), ("build", "wo"), ("build", "wo"), "", (13, 8, 13, 10))),
        (13, 3, ("header", (), ("build",), ("build",), "b", (13, 2, 13, 7))),
        (99, 0, ("body", ("build", "wo"), ("build", "wo"), None, "", (14, 0, 14, 0))),
    ],
)
def test_node_at(line: int, ch: int, expected: tuple[object, ...]) -> None:
    assert cur(line, ch) == expected


def test_node_at_body_of_empty_table() -> None:
    assert cur(1, 0, "[build]\n\n") == ("body", ("build",), ("build",), None, "", (1, 0, 1, 0))
    assert cur(1, 4, "[vars]\n  FO\n") == ("body", ("vars",), ("vars",), None, "FO", (1, 2, 1, 4))
    assert cur(0, 0, "") == ("body", (), (), None, "", (0, 0, 0, 0))


def test_node_at_header_after_dot() -> None:
    assert cur(0, 7, "[build.]\n") == ("header", ("build",), ("build", ""), None, "", (0, 7, 0, 7))


def test_node_at_in_multiline_array_and_nested_inline() -> None:
    text = 'x = [\n  { a = "b" },\n  \n]\n'
    assert cur(1, 10, text) == ("value", ("x",), ("x", "a"), ("x", "a"), '"b', (1, 8, 1, 11))
    assert cur(1, 5, text) == ("key", ("x",), ("x", "a"), ("x", "a"), "a", (1, 4, 1, 5))
    assert cur(2, 2, text) == ("value", (), ("x",), ("x",), "", (2, 2, 2, 2))


def test_node_at_in_array_of_tables() -> None:
    text = "[[a]]\nb = 1\n[[a]]\nb = 2\n"
    part, tp, kp, ep, _prefix, _wr = cur(3, 4, text)
    assert (part, tp, kp, ep) == ("value", ("a",), ("a", "b"), ("a", "b"))
    c = parse(text).node_at(Position(3, 4))
    assert c.entry is not None and isinstance(c.entry.value, Scalar) and c.entry.value.value == 2


# -- build targets -----------------------------------------------------------------------------


def test_build_targets_both_styles() -> None:
    text = (
        "build.top.command = 'a'\n"
        "[build]\n"
        'hello.command = "x"\n'
        'hello.version = "1"\n'
        'inl = { command = "y" }\n'
        'notatable = "z"\n'
        "[build.head]\n"
        'command = "h"\n'
    )
    with pytest.raises(tomllib.TOMLDecodeError):  # `build` is defined by dotted keys at the top
        tomllib.loads(text)
    text = text.replace("build.top.command = 'a'\n", "")
    m = ok(text)
    ts = m.build_targets()
    assert [t.name for t in ts] == ["hello", "inl", "head"]
    assert [rt(t.lens_range) for t in ts] == [(1, 0, 1, 19), (3, 0, 3, 23), (5, 0, 5, 12)]
    assert ts[0].entry.path == ("build", "hello")


def test_build_targets_top_level_dotted() -> None:
    m = ok("version = 1\nbuild.hello.command = 'a'\nbuild.other = { command = 'b' }\n")
    ts = m.build_targets()
    assert [(t.name, rt(t.lens_range)) for t in ts] == [
        ("hello", (1, 0, 1, 25)),
        ("other", (2, 0, 2, 31)),
    ]


def test_build_targets_none() -> None:
    assert ok("version = 1\n").build_targets() == []
    assert ok('build = "x"\n').build_targets() == []
