"""End to end: `floxls serve` driven by pytest-lsp with VS Code's and Neovim 0.7's client
capabilities (each test starts a server process)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import LanguageClient

from tests.support.lsp import (
    CLIENTS,
    frame,
    initialize_params,
    open_doc,
    published,
    read_frame,
    wait_diagnostics,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(60)]

URI = "file:///project/.flox/env/manifest.toml"
EMOJI_LINE = 'hello = { pkg-path = "😀", bogus = 1 }'
EMOJI_DOC = f"version = 1\n[install]\n{EMOJI_LINE}\n"


def utf16(line: str, col: int) -> int:
    return len(line[:col].encode("utf-16-le")) // 2


def apply_edits(text: str, edits: list[types.TextEdit]) -> str:
    """Apply single-line-or-not TextEdits given in UTF-16 units (test side, independent)."""
    lines = text.split("\n")

    def offset(pos: types.Position) -> int:
        before = sum(len(line) + 1 for line in lines[: pos.line])
        line = lines[pos.line] if pos.line < len(lines) else ""
        units = 0
        for i, ch in enumerate(line):
            if units >= pos.character:
                return before + i
            units += 2 if ord(ch) > 0xFFFF else 1
        return before + len(line)

    for edit in sorted(edits, key=lambda e: (e.range.start.line, e.range.start.character))[::-1]:
        start, end = offset(edit.range.start), offset(edit.range.end)
        text = text[:start] + edit.new_text + text[end:]
    return text


async def start(client: LanguageClient, name: str, **kw: object) -> types.InitializeResult:
    return await client.initialize_session(initialize_params(name, **kw))  # type: ignore[arg-type]


@pytest.mark.parametrize("name", CLIENTS)
async def test_push_diagnostics_exact_utf16_ranges(
    lsp_raw_client: LanguageClient, name: str
) -> None:
    result = await start(lsp_raw_client, name)
    assert result.capabilities.position_encoding == "utf-16"
    assert result.capabilities.diagnostic_provider is None  # push only for these clients
    open_doc(lsp_raw_client, URI, EMOJI_DOC)
    diags = await wait_diagnostics(lsp_raw_client, URI)
    col = EMOJI_LINE.index("bogus")
    assert [(d.code, d.range, d.severity, d.source) for d in diags] == [
        (
            "unknown-key",
            types.Range(
                types.Position(2, utf16(EMOJI_LINE, col)),
                types.Position(2, utf16(EMOJI_LINE, col + 5)),
            ),
            types.DiagnosticSeverity.Error,
            "floxls",
        )
    ]
    assert utf16(EMOJI_LINE, col) == col + 1  # the emoji counts twice in UTF-16

    # related information (both clients support it): duplicate key points at both places
    dup = 'version = 1\n[vars]\nA = "😀"\nA = "2"\n'
    open_doc(lsp_raw_client, "file:///dup.toml", dup)
    (d,) = await wait_diagnostics(lsp_raw_client, "file:///dup.toml")
    assert d.code == "duplicate-key"
    assert d.range == types.Range(types.Position(3, 0), types.Position(3, 1))
    assert d.related_information is not None
    (rel,) = d.related_information
    assert rel.location.uri == "file:///dup.toml"
    assert rel.location.range == types.Range(types.Position(2, 0), types.Position(2, 1))


@pytest.mark.parametrize("name", CLIENTS)
async def test_incremental_edit_after_emoji_clears_diagnostic(
    lsp_raw_client: LanguageClient, name: str
) -> None:
    await start(lsp_raw_client, name)
    open_doc(lsp_raw_client, URI, EMOJI_DOC)
    await wait_diagnostics(lsp_raw_client, URI)
    col = utf16(EMOJI_LINE, EMOJI_LINE.index("bogus = 1"))
    lsp_raw_client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=URI, version=2),
            content_changes=[
                types.TextDocumentContentChangePartial(
                    range=types.Range(types.Position(2, col), types.Position(2, col + 9)),
                    text="priority = 1",
                )
            ],
        )
    )
    diags = await wait_diagnostics(lsp_raw_client, URI, lambda p: p.version == 2)
    assert diags == []
    # and back to an error, on the version after
    lsp_raw_client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=URI, version=3),
            content_changes=[
                types.TextDocumentContentChangePartial(
                    range=types.Range(types.Position(2, col), types.Position(2, col + 8)),
                    text="prio",
                )
            ],
        )
    )
    diags = await wait_diagnostics(lsp_raw_client, URI, lambda p: p.version == 3)
    assert [(d.code, d.range.start.character) for d in diags] == [("unknown-key", col)]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-32"])
async def test_negotiated_utf8_and_utf32(lsp_raw_client: LanguageClient, encoding: str) -> None:
    variant = {"utf-8": "visual-studio-code+utf8", "utf-32": "neovim@v0.7+utf32"}[encoding]
    result = await start(lsp_raw_client, variant)
    assert result.capabilities.position_encoding == encoding
    open_doc(lsp_raw_client, URI, EMOJI_DOC)
    (d,) = await wait_diagnostics(lsp_raw_client, URI)
    col = EMOJI_LINE.index("bogus")
    if encoding == "utf-8":
        expected = len(EMOJI_LINE[:col].encode("utf-8"))
        assert expected == col + 3
    else:
        expected = col
    assert d.range.start == types.Position(2, expected)
    assert d.range.end == types.Position(2, expected + 5)


async def test_pull_diagnostics_only_for_clients_that_declare_them(
    lsp_raw_client: LanguageClient,
) -> None:
    result = await start(lsp_raw_client, "visual-studio-code+pull")
    assert result.capabilities.diagnostic_provider is not None
    open_doc(lsp_raw_client, URI, EMOJI_DOC)
    report = await lsp_raw_client.text_document_diagnostic_async(
        types.DocumentDiagnosticParams(text_document=types.TextDocumentIdentifier(uri=URI))
    )
    assert isinstance(report, types.RelatedFullDocumentDiagnosticReport)
    col = utf16(EMOJI_LINE, EMOJI_LINE.index("bogus"))
    assert [(d.code, d.range.start) for d in report.items] == [
        ("unknown-key", types.Position(2, col))
    ]
    # the server handled didOpen before this reply: had it pushed, we would have it by now
    assert URI not in lsp_raw_client.diagnostics
    again = await lsp_raw_client.text_document_diagnostic_async(
        types.DocumentDiagnosticParams(
            text_document=types.TextDocumentIdentifier(uri=URI),
            previous_result_id=report.result_id,
        )
    )
    assert isinstance(again, types.RelatedUnchangedDocumentDiagnosticReport)
    assert again.result_id == report.result_id


@pytest.mark.parametrize("name", CLIENTS)
async def test_hover_for_keys_and_sections(lsp_raw_client: LanguageClient, name: str) -> None:
    await start(lsp_raw_client, name)
    text = (
        'version = 1\n[install]\nhello.pkg-path = "hello"\n'
        '[build.x]\ncommand = "make"\nsandbox = "off"\n'
    )
    open_doc(lsp_raw_client, URI, text)
    await wait_diagnostics(lsp_raw_client, URI)
    doc = types.TextDocumentIdentifier(uri=URI)
    hover = await lsp_raw_client.text_document_hover_async(
        types.HoverParams(text_document=doc, position=types.Position(5, 3))
    )
    assert hover is not None and isinstance(hover.contents, types.MarkupContent)
    assert hover.contents.kind == types.MarkupKind.Markdown  # both clients take markdown
    assert "**sandbox**" in hover.contents.value and "`pure`" in hover.contents.value
    assert hover.range == types.Range(types.Position(5, 0), types.Position(5, 7))
    section = await lsp_raw_client.text_document_hover_async(
        types.HoverParams(text_document=doc, position=types.Position(1, 3))
    )
    assert section is not None and isinstance(section.contents, types.MarkupContent)
    assert "**install**" in section.contents.value
    target = await lsp_raw_client.text_document_hover_async(
        types.HoverParams(text_document=doc, position=types.Position(3, 7))
    )
    assert target is not None and isinstance(target.contents, types.MarkupContent)
    assert target.contents.value.startswith("**x** — `build descriptor")
    nothing = await lsp_raw_client.text_document_hover_async(
        types.HoverParams(text_document=doc, position=types.Position(6, 0))
    )
    assert nothing is None


@pytest.mark.parametrize("name", CLIENTS)
async def test_completion_keys_values_and_headers(
    lsp_raw_client: LanguageClient, name: str
) -> None:
    await start(lsp_raw_client, name)
    text = 'version = 1\n[build.x]\ncommand = "make"\n\nsandbox = ""\n[\n'
    open_doc(lsp_raw_client, URI, text)
    await wait_diagnostics(lsp_raw_client, URI)
    doc = types.TextDocumentIdentifier(uri=URI)

    keys = await lsp_raw_client.text_document_completion_async(
        types.CompletionParams(text_document=doc, position=types.Position(3, 0))
    )
    assert isinstance(keys, types.CompletionList)
    labels = {i.label for i in keys.items}
    assert {"description", "version", "runtime-packages"} <= labels
    assert "command" not in labels and "sandbox" not in labels  # already there
    desc = next(i for i in keys.items if i.label == "description")
    assert isinstance(desc.text_edit, types.TextEdit)
    assert isinstance(desc.documentation, types.MarkupContent)
    if name == "visual-studio-code":  # snippets supported
        assert desc.insert_text_format == types.InsertTextFormat.Snippet
        assert desc.text_edit.new_text == 'description = "$1"$0'
    else:  # Neovim 0.7: no snippet support
        assert desc.insert_text_format == types.InsertTextFormat.PlainText
        assert desc.text_edit.new_text == "description = "

    values = await lsp_raw_client.text_document_completion_async(
        types.CompletionParams(text_document=doc, position=types.Position(4, 11))
    )
    assert isinstance(values, types.CompletionList)
    assert [i.label for i in values.items] == ["off", "pure", "warn", "enforce"]
    # clients sort by sortText (else label): the default, `off`, must come first
    by_client = sorted(values.items, key=lambda i: i.sort_text or i.label)
    assert [i.label for i in by_client] == ["off", "pure", "warn", "enforce"]
    pure = values.items[1]
    assert isinstance(pure.text_edit, types.TextEdit)
    assert pure.text_edit.new_text == '"pure"'
    assert pure.text_edit.range == types.Range(types.Position(4, 10), types.Position(4, 12))

    headers = await lsp_raw_client.text_document_completion_async(
        types.CompletionParams(text_document=doc, position=types.Position(5, 1))
    )
    assert isinstance(headers, types.CompletionList)
    assert {"install", "vars", "build", "options"} <= {i.label for i in headers.items}


@pytest.mark.parametrize("name", CLIENTS)
async def test_document_symbols_are_hierarchical(lsp_raw_client: LanguageClient, name: str) -> None:
    await start(lsp_raw_client, name)
    text = (
        'version = 1\n[install]\nhello.pkg-path = "hello"\n'
        '[build.x]\ncommand = "make"\n[build]\ny.command = "make y"\n'
    )
    open_doc(lsp_raw_client, URI, text)
    await wait_diagnostics(lsp_raw_client, URI)
    symbols = await lsp_raw_client.text_document_document_symbol_async(
        types.DocumentSymbolParams(text_document=types.TextDocumentIdentifier(uri=URI))
    )
    assert symbols is not None
    assert all(isinstance(s, types.DocumentSymbol) for s in symbols)
    tree = {s.name: s for s in symbols if isinstance(s, types.DocumentSymbol)}
    assert list(tree) == ["version", "install", "build"]
    build = tree["build"]
    assert [c.name for c in build.children or []] == ["x", "y"]
    x = (build.children or [])[0]
    assert x.kind == types.SymbolKind.Function
    assert x.selection_range == types.Range(types.Position(3, 7), types.Position(3, 8))
    assert [c.name for c in x.children or []] == ["command"]
    assert [c.name for c in tree["install"].children or []] == ["hello"]


@pytest.mark.parametrize("name", CLIENTS)
async def test_code_action_quick_fix_applies(lsp_raw_client: LanguageClient, name: str) -> None:
    await start(lsp_raw_client, name)
    text = 'version = 1\n[build.x]\ndescription = "😀"\ncomand = "make"\n'
    open_doc(lsp_raw_client, URI, text)
    diags = await wait_diagnostics(lsp_raw_client, URI)
    # one mistake, one problem: no "missing command" on top of the misspelt key
    assert [d.code for d in diags] == ["unknown-key"]
    (typo,) = diags
    actions = await lsp_raw_client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=URI),
            range=typo.range,
            context=types.CodeActionContext(diagnostics=[typo]),
        )
    )
    assert actions is not None
    (action,) = [a for a in actions if isinstance(a, types.CodeAction)]
    assert action.title == "Rename to command"
    assert action.kind == types.CodeActionKind.QuickFix
    assert list(action.diagnostics or []) == [typo]
    assert action.edit is not None and action.edit.changes is not None
    fixed = apply_edits(text, list(action.edit.changes[URI]))
    assert fixed == 'version = 1\n[build.x]\ndescription = "😀"\ncommand = "make"\n'
    lsp_raw_client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=URI, version=2),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=fixed)],
        )
    )
    assert await wait_diagnostics(lsp_raw_client, URI, lambda p: p.version == 2) == []

    # the "add a missing command" fix
    bare = 'version = 1\n[build.y]\ndescription = "y"\n'
    open_doc(lsp_raw_client, "file:///y.toml", bare)
    (missing,) = await wait_diagnostics(lsp_raw_client, "file:///y.toml")
    actions = await lsp_raw_client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri="file:///y.toml"),
            range=missing.range,
            context=types.CodeActionContext(diagnostics=[missing]),
        )
    )
    assert actions is not None
    (add,) = [a for a in actions if isinstance(a, types.CodeAction)]
    assert add.edit is not None and add.edit.changes is not None
    added = apply_edits(bare, list(add.edit.changes["file:///y.toml"]))
    assert 'command = ""' in added


# -- robustness ---------------------------------------------------------------------------


async def still_serving(client: LanguageClient) -> None:
    """A later request on a good document still gets a real answer."""
    uri = "file:///still/manifest.toml"
    open_doc(client, uri, 'version = 1\n[build.x]\ncommand = "make"\n')
    caps = client.capabilities
    if caps is None or caps.text_document is None or caps.text_document.diagnostic is None:
        await wait_diagnostics(client, uri)  # push clients only
    hover = await asyncio.wait_for(
        client.text_document_hover_async(
            types.HoverParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                position=types.Position(2, 2),
            )
        ),
        10,
    )
    assert hover is not None


@pytest.mark.parametrize("name", CLIENTS)
async def test_binary_garbage_and_replacement_chars(
    lsp_raw_client: LanguageClient, name: str
) -> None:
    import random

    await start(lsp_raw_client, name)
    rng = random.Random(7)
    garbage = bytes(rng.randrange(256) for _ in range(50_000)).decode("latin-1")
    garbage += "\x00\u2028\x0c\r😀\ud800"  # NUL, Unicode line separator, lone CR, surrogate
    open_doc(lsp_raw_client, "file:///garbage.toml", garbage)
    diags = await wait_diagnostics(lsp_raw_client, "file:///garbage.toml")
    assert diags and all(d.source == "floxls" for d in diags)
    for d in diags:  # every range lies in the document
        assert 0 <= d.range.start.line <= d.range.end.line
    # requests on the garbage still answer (with something or nothing)
    for pos in (types.Position(0, 0), types.Position(10, 5), types.Position(10_000, 99)):
        await lsp_raw_client.text_document_hover_async(
            types.HoverParams(
                text_document=types.TextDocumentIdentifier(uri="file:///garbage.toml"),
                position=pos,
            )
        )
        await lsp_raw_client.text_document_completion_async(
            types.CompletionParams(
                text_document=types.TextDocumentIdentifier(uri="file:///garbage.toml"),
                position=pos,
            )
        )
    # the client decoded an invalid UTF-8 file with replacement characters
    open_doc(lsp_raw_client, "file:///fffd.toml", 'version = 1\n[vars]\nX = "\ufffd\ufffd"\n')
    assert await wait_diagnostics(lsp_raw_client, "file:///fffd.toml") == []
    await still_serving(lsp_raw_client)


@pytest.mark.parametrize("name", CLIENTS)
async def test_unknown_uris_and_malformed_messages_get_errors(
    lsp_raw_client: LanguageClient, name: str
) -> None:
    from tests.support.lsp import raw_request, send_bytes

    await start(lsp_raw_client, name)
    with pytest.raises(JsonRpcException) as err:
        await lsp_raw_client.text_document_hover_async(
            types.HoverParams(
                text_document=types.TextDocumentIdentifier(uri="file:///no/such/manifest.toml"),
                position=types.Position(0, 0),
            )
        )
    assert err.value.code == -32602
    with pytest.raises(JsonRpcException) as err:
        await raw_request(
            lsp_raw_client, "bad-1", "textDocument/hover", {"textDocument": {"uri": 5}}
        )
    assert err.value.code == -32602
    with pytest.raises(JsonRpcException) as err:
        await raw_request(lsp_raw_client, "bad-2", "floxls/noSuchMethod", {})
    assert err.value.code == -32601
    send_bytes(lsp_raw_client, b"Content-Length: 9\r\n\r\n{not json")
    send_bytes(lsp_raw_client, b"Content-Length: 2\r\n\r\n[]")
    # a didChange for a document that was never opened is ignored
    lsp_raw_client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri="file:///ghost", version=2),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text="x")],
        )
    )
    await still_serving(lsp_raw_client)


async def test_invalid_utf8_on_disk(lsp_raw_client: LanguageClient, tmp_path: Path) -> None:
    await start(lsp_raw_client, "visual-studio-code+pull")
    path = tmp_path / "manifest.toml"
    path.write_bytes(b'version = 1\n[vars]\nX = "\xff\xfeok"\n')
    report = await lsp_raw_client.text_document_diagnostic_async(
        types.DocumentDiagnosticParams(
            text_document=types.TextDocumentIdentifier(uri=path.as_uri())
        )
    )
    assert isinstance(report, types.RelatedFullDocumentDiagnosticReport)
    bad = [d for d in report.items if d.code == "invalid-utf8"]
    assert [d.range.start for d in bad] == [types.Position(2, 5)]
    symbols = await lsp_raw_client.text_document_document_symbol_async(
        types.DocumentSymbolParams(text_document=types.TextDocumentIdentifier(uri=path.as_uri()))
    )
    assert symbols is not None and [s.name for s in symbols] == ["version", "vars"]
    await still_serving(lsp_raw_client)


async def test_ten_megabytes_and_a_document_closed_mid_check(
    lsp_raw_client: LanguageClient,
) -> None:
    await start(lsp_raw_client, "visual-studio-code")
    unit = "version = 1\n[vars]\n" + "".join(f'V{i} = "{i}"\n' for i in range(40_000))
    big = (unit * (10_000_000 // len(unit) + 1))[:10_000_000]
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    open_doc(lsp_raw_client, "file:///big.toml", big)
    # analysed off the event loop: a small document is served meanwhile, promptly
    await still_serving(lsp_raw_client)
    assert loop.time() - t0 < 8
    # a request about the big document waits for its analysis (and gets it)
    symbols = await lsp_raw_client.text_document_document_symbol_async(
        types.DocumentSymbolParams(
            text_document=types.TextDocumentIdentifier(uri="file:///big.toml")
        )
    )
    assert symbols
    diags = await wait_diagnostics(lsp_raw_client, "file:///big.toml", timeout=40)
    assert diags and "table-redefined" in {d.code for d in diags}

    # closed while being checked: nothing is published for it afterwards
    mid = big[:3_000_000]
    open_doc(lsp_raw_client, "file:///mid.toml", mid)
    lsp_raw_client.text_document_did_close(
        types.DidCloseTextDocumentParams(
            text_document=types.TextDocumentIdentifier(uri="file:///mid.toml")
        )
    )
    # the analysis worker runs jobs in order: once this one is done, mid's has finished
    open_doc(lsp_raw_client, "file:///after.toml", big[:1_100_000])
    await lsp_raw_client.text_document_document_symbol_async(
        types.DocumentSymbolParams(
            text_document=types.TextDocumentIdentifier(uri="file:///after.toml")
        )
    )
    await wait_diagnostics(lsp_raw_client, "file:///after.toml", timeout=40)
    assert [list(p.diagnostics) for p in published(lsp_raw_client, "file:///mid.toml")] == [[]]
    await still_serving(lsp_raw_client)


def test_stdio_start_up_is_fast_and_exit_is_clean() -> None:
    import subprocess
    import sys
    import time

    init = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"capabilities": {}}}
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "floxls", "serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(frame(init))
    proc.stdin.flush()
    reply = read_frame(proc.stdout)
    elapsed = time.perf_counter() - t0
    assert reply["id"] == 1 and "capabilities" in reply["result"]
    assert elapsed < 2.0  # the bench holds the real target (0.4 s); CI machines vary
    proc.stdin.write(frame({"jsonrpc": "2.0", "id": 2, "method": "shutdown"}))
    proc.stdin.write(frame({"jsonrpc": "2.0", "method": "exit"}))
    proc.stdin.flush()
    assert read_frame(proc.stdout)["id"] == 2
    assert proc.wait(10) == 0


def test_tcp_mode_and_bad_address() -> None:
    import socket
    import subprocess
    import sys
    import time

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "floxls", "serve", "--tcp", f"127.0.0.1:{port}"],
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                sock = socket.create_connection(("127.0.0.1", port), timeout=10)
                break
            except OSError:
                assert time.monotonic() < deadline, "server did not listen"
                time.sleep(0.05)
        with sock, sock.makefile("rb") as stream:
            init = {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "initialize",
                "params": {"capabilities": {}},
            }
            sock.sendall(frame(init))
            reply = read_frame(stream)
            assert reply["id"] == 1
            sock.sendall(frame({"jsonrpc": "2.0", "id": 2, "method": "shutdown"}))
            assert read_frame(stream)["id"] == 2
            sock.sendall(frame({"jsonrpc": "2.0", "method": "exit"}))
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    bad = subprocess.run(
        [sys.executable, "-m", "floxls", "serve", "--tcp", "nonsense"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert bad.returncode == 1
    assert "HOST:PORT" in bad.stderr
