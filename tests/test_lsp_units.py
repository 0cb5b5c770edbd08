"""In-process tests of the language server's building blocks (no subprocess)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from lsprotocol import types
from pygls.capabilities import ServerCapabilitiesBuilder

from floxls.lsp import capabilities, settings
from floxls.lsp.documents import apply_change, offset_at
from floxls.lsp.positions import (
    from_client_column,
    from_lsp_position,
    to_client_column,
    to_lsp_range,
    to_lsp_range_dict,
)
from floxls.lsp.server import FEATURE_MODULES, build_server, early_initialize_reply
from floxls.lsp.stdio import RawReader, read_message
from floxls.manifest.model import Position, Range
from tests.support.lsp import capabilities as client_caps

LINE = 'x = "😀é", bogus = 1'  # emoji: 1 code point, 2 UTF-16 units, 4 UTF-8 bytes


def test_columns_for_astral_and_accented_characters() -> None:
    col = LINE.index("bogus")
    assert to_client_column(LINE, col, "utf-32") == col
    assert to_client_column(LINE, col, "utf-16") == col + 1
    assert to_client_column(LINE, col, "utf-8") == col + 3 + 1
    for enc in ("utf-8", "utf-16", "utf-32"):
        units = to_client_column(LINE, col, enc)
        assert from_client_column(LINE, units, enc) == col


def test_columns_clamp_and_never_split_a_character() -> None:
    emoji_at = LINE.index("😀")
    # UTF-16 unit in the middle of the surrogate pair maps to the emoji's start.
    assert from_client_column(LINE, emoji_at + 1, "utf-16") == emoji_at
    assert from_client_column(LINE, emoji_at + 2, "utf-8") == emoji_at
    assert to_client_column("abc", 99) == 3
    assert from_client_column("abc", 99) == 3
    assert to_client_column("abc", -1) == 0
    assert from_client_column("a😀", -5) == 0


def test_range_conversions_object_and_dict_agree() -> None:
    lines = ["first", LINE]

    def line(n: int) -> str:
        return lines[n] if 0 <= n < len(lines) else ""

    col = LINE.index("bogus")
    rng = Range(Position(1, col), Position(1, col + 5))
    obj = to_lsp_range(line, rng)
    assert obj == types.Range(types.Position(1, col + 1), types.Position(1, col + 6))
    assert to_lsp_range_dict(line, rng) == {
        "start": {"line": 1, "character": col + 1},
        "end": {"line": 1, "character": col + 6},
    }
    assert from_lsp_position(line, types.Position(1, col + 1)) == Position(1, col)
    # past the end of the document: clamped, no exception
    assert to_lsp_range(line, Range(Position(7, 3), Position(9, 9))).start.character == 0


def test_incremental_edits_follow_lsp_lines_and_encoding() -> None:
    text = 'a = "😀"\r\nb = 1\rc = 2\n'
    # line 1 is "b = 1" (after \r\n), line 2 is "c = 2" (after a lone \r)
    assert text[offset_at(text, 1, 0) :].startswith("b = 1")
    assert text[offset_at(text, 2, 0) :].startswith("c = 2")
    after_emoji = offset_at(text, 0, 7)  # UTF-16: a = "😀 is 7 units
    assert text[after_emoji] == '"'
    assert apply_change(text, 0, 5, 0, 7, "ok") == 'a = "ok"\r\nb = 1\rc = 2\n'
    assert apply_change(text, 2, 4, 2, 5, "3") == 'a = "😀"\r\nb = 1\rc = 3\n'
    assert apply_change(text, 9, 0, 9, 0, "end") == text + "end"  # past the end: appended
    assert apply_change("abc", 0, 2, 0, 1, "X") == "aXc"  # reversed range normalised


def test_settings_merge_wrapped_unwrapped_and_bad_types() -> None:
    s = settings.merge(settings.default_settings(), {"floxls": {"publish": {"storeUrl": "s3://b"}}})
    assert s["publish"] == {"storeUrl": "s3://b", "signingKey": None}
    assert s["catalog"] == {"url": None} and s["trusted"] is True  # trusted unless told not
    s = settings.merge(s, {"publish": {"signingKey": "/k"}, "trusted": False})
    assert s["publish"] == {"storeUrl": "s3://b", "signingKey": "/k"} and s["trusted"] is False
    s = settings.merge(s, {"publish": {"storeUrl": 5}, "catalog": "nope", "trusted": "yes"})
    assert s["publish"]["storeUrl"] == "s3://b"  # wrong types ignored: values kept
    assert s["catalog"] == {"url": None} and s["trusted"] is False
    assert settings.merge(s, None) == s
    assert settings.merge(s, {"publish": {"storeUrl": None}})["publish"]["storeUrl"] is None


def test_settings_take_neovims_empty_table_as_an_empty_object(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # vim.json encodes Lua's `publish = {}` (the README snippet) as `[]`: not worth a warning.
    s = settings.merge(settings.default_settings(), {"publish": [], "catalog": []})
    assert s == settings.default_settings()
    assert "ignoring setting" not in caplog.text


def _pygls_capabilities(name: str) -> dict[str, Any]:
    """What pygls' own builder advertises for this client, after our initialize tweaks."""
    server = build_server()
    writes: list[bytes] = []

    class Writer:
        def write(self, data: bytes) -> None:
            writes.append(data)

        def close(self) -> None:
            pass

    server.protocol.set_writer(Writer())
    raw = server.protocol._converter.unstructure(client_caps(name))
    request = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"processId": None, "rootUri": None, "capabilities": raw},
    }
    server._feed(json.dumps(request).encode())
    (reply,) = writes
    body = json.loads(reply.split(b"\r\n\r\n", 1)[1])
    result: dict[str, Any] = body["result"]["capabilities"]
    # pygls' own builder, as a second opinion
    fm = server.protocol.fm
    built = ServerCapabilitiesBuilder(
        client_caps(name),
        {*fm.features, *fm.builtin_features},
        fm.feature_options,
        list(fm.commands),
        types.TextDocumentSyncKind.Incremental,
        None,
        capabilities.choose_position_encoding(raw),
    ).build()
    expected = server.protocol._converter.unstructure(built)
    if not capabilities.wants_pull_diagnostics(raw):
        expected.pop("diagnosticProvider", None)
    assert result == expected
    return result


@pytest.mark.parametrize(
    "name",
    [
        "visual-studio-code",
        "neovim@v0.7",
        "visual-studio-code+pull",
        "visual-studio-code+utf8",
        "neovim@v0.7+utf32",
    ],
)
def test_fast_initialize_reply_equals_what_pygls_computes(name: str) -> None:
    expected = _pygls_capabilities(name)
    raw = client_caps(name)
    from lsprotocol.converters import get_converter

    raw_dict = get_converter().unstructure(raw)
    body = json.dumps(
        {"jsonrpc": "2.0", "id": 7, "method": "initialize", "params": {"capabilities": raw_dict}}
    ).encode()
    early = early_initialize_reply(body)
    assert early is not None
    msg_id, reply = early
    assert msg_id == 7
    fast = reply["result"]["capabilities"]
    for caps in (fast, expected):
        caps.get("executeCommandProvider", {}).get("commands", []).sort()
    assert fast == expected
    assert ("diagnosticProvider" in fast) == name.endswith("+pull")
    encoding = {"utf8": "utf-8", "utf32": "utf-32"}.get(name.rpartition("+")[2], "utf-16")
    assert fast["positionEncoding"] == encoding


def test_every_feature_module_is_known_to_the_fast_path() -> None:
    assert set(FEATURE_MODULES) <= set(capabilities.MODULE_CAPABILITIES)


def test_early_reply_only_for_initialize() -> None:
    assert early_initialize_reply(b"not json") is None
    assert early_initialize_reply(b'{"jsonrpc":"2.0","method":"initialized","params":{}}') is None
    assert early_initialize_reply(b'{"jsonrpc":"2.0","id":1,"method":"initialize"}') is None


def test_raw_reader_frames_and_keeps_the_rest(tmp_path: Any) -> None:
    import os

    one = b'{"a":1}'
    two = b'{"b":2}'
    data = (
        b"Content-Length: 7\r\nContent-Type: x\r\n\r\n" + one + b"Content-Length: 7\r\n\r\n" + two
    )
    path = tmp_path / "in"
    path.write_bytes(data)
    fd = os.open(path, os.O_RDONLY)
    try:
        reader = RawReader(fd)
        assert read_message(reader) == one
        assert reader.take_buffer().endswith(two)
        assert read_message(reader) is None
    finally:
        os.close(fd)
