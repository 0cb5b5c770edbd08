"""Benchmark the keystroke path of the language server over a real stdio session.

Spawns `python -m floxls serve`, speaks JSON-RPC itself, and measures:

- process start -> `initialize` reply (several fresh processes);
- `didChange` -> `publishDiagnostics` for a 40-line manifest and for a generated 5,500-line
  manifest with 500 build targets (a one-character incremental edit, alternating so the
  content really changes each time);
- baselines in the same session: the round trip of a request the server answers without
  work (an unknown method -> "method not found"), and hover on an empty document;
- for reference, `analyze(text)` (parse + check) in this process, no LSP involved.

Usage: python bench/diagnostics.py [--small N] [--big N] [--starts N] [--check]
(`--check` exits 1 when a target is missed.) Never run as a test.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from manifests import SMALL, big_manifest

ROOT = Path(__file__).resolve().parent.parent
TARGET_SMALL_MS = 1.5
TARGET_BIG_MS = 100.0
TARGET_INIT_S = 0.4


class Session:
    """A floxls process and a thread timestamping every message it sends us."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "floxls", "serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        self.inbox: queue.Queue[tuple[float, dict[str, Any]]] = queue.Queue()
        self.next_id = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        out = self.proc.stdout
        assert out is not None
        while True:
            length = 0
            while True:
                line = out.readline()
                if not line:
                    return
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
                elif line == b"\r\n":
                    break
            body = out.read(length)
            self.inbox.put((time.perf_counter(), json.loads(body)))

    def send(self, payload: dict[str, Any]) -> float:
        body = json.dumps({"jsonrpc": "2.0", **payload}).encode()
        data = b"Content-Length: %d\r\n\r\n" % len(body) + body
        assert self.proc.stdin is not None
        t = time.perf_counter()
        self.proc.stdin.write(data)
        self.proc.stdin.flush()
        return t

    def request(self, method: str, params: Any) -> tuple[float, float, dict[str, Any]]:
        self.next_id += 1
        msg_id = self.next_id
        t0 = self.send({"id": msg_id, "method": method, "params": params})
        t1, msg = self.wait(lambda m: m.get("id") == msg_id and "method" not in m)
        return t0, t1, msg

    def wait(self, match: Any, timeout: float = 60.0) -> tuple[float, dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            t, msg = self.inbox.get(timeout=max(deadline - time.monotonic(), 0.001))
            if match(msg):
                return t, msg

    def close(self) -> None:
        try:
            self.request("shutdown", None)
            self.send({"method": "exit"})
            self.proc.wait(timeout=10)
        except Exception:
            self.proc.kill()
            self.proc.wait()


CAPABILITIES = {
    "general": {"positionEncodings": ["utf-16"]},
    "textDocument": {
        "synchronization": {"didSave": True},
        "publishDiagnostics": {"relatedInformation": True},
        "hover": {"contentFormat": ["markdown", "plaintext"]},
    },
}


def initialize(s: Session) -> float:
    _t0, t1, reply = s.request(
        "initialize", {"processId": os.getpid(), "rootUri": None, "capabilities": CAPABILITIES}
    )
    assert "result" in reply, reply
    s.send({"method": "initialized", "params": {}})
    return t1 - s.started


def publish_for(uri: str, version: int) -> Any:
    def match(m: dict[str, Any]) -> bool:
        return (
            m.get("method") == "textDocument/publishDiagnostics"
            and m["params"]["uri"] == uri
            and m["params"].get("version") == version
        )

    return match


def replace_char(s: Session, uri: str, version: int, line: int, col: int, new: str) -> float:
    """Send a didChange replacing one character; returns when it was sent."""
    change = {
        "range": {
            "start": {"line": line, "character": col},
            "end": {"line": line, "character": col + 1},
        },
        "text": new,
    }
    params = {"textDocument": {"uri": uri, "version": version}, "contentChanges": [change]}
    return s.send({"method": "textDocument/didChange", "params": params})


def edit_loop(s: Session, uri: str, text: str, needle: str, iterations: int) -> list[float]:
    """Open `text`, then flip one character after `needle` back and forth."""
    s.send(
        {
            "method": "textDocument/didOpen",
            "params": {
                "textDocument": {"uri": uri, "languageId": "toml", "version": 1, "text": text}
            },
        }
    )
    s.wait(publish_for(uri, 1))
    before = text[: text.index(needle) + len(needle)]
    line = before.count("\n")
    col = len(before) - (before.rfind("\n") + 1)  # ASCII: code points == UTF-16 units
    original = text[len(before)]
    times: list[float] = []
    for i in range(iterations):
        version = i + 2
        new = "x" if i % 2 == 0 else original
        t0 = replace_char(s, uri, version, line, col, new)
        t1, _ = s.wait(publish_for(uri, version))
        times.append(t1 - t0)
    return times


def baseline(s: Session, iterations: int) -> tuple[list[float], list[float]]:
    uri = "file:///bench/empty.toml"
    s.send(
        {
            "method": "textDocument/didOpen",
            "params": {
                "textDocument": {"uri": uri, "languageId": "toml", "version": 1, "text": ""}
            },
        }
    )
    s.wait(publish_for(uri, 1))
    ping: list[float] = []
    hover: list[float] = []
    for _ in range(iterations):
        t0, t1, _msg = s.request("floxls/ping", {})
        ping.append(t1 - t0)
        t0, t1, _msg = s.request(
            "textDocument/hover",
            {"textDocument": {"uri": uri}, "position": {"line": 0, "character": 0}},
        )
        hover.append(t1 - t0)
    return ping, hover


def in_process(text: str, iterations: int) -> list[float]:
    sys.path.insert(0, str(ROOT))
    from floxls.manifest import analyze

    times = []
    for _ in range(iterations):
        t0 = time.perf_counter()
        analyze(text)
        times.append(time.perf_counter() - t0)
    return times


def stats_ms(times: list[float]) -> tuple[float, float]:
    ordered = sorted(times)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1000, p90 * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=400, help="edits of the small manifest")
    parser.add_argument("--big", type=int, default=40, help="edits of the big manifest")
    parser.add_argument("--starts", type=int, default=7, help="fresh processes to time")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args()

    big = big_manifest()
    print(f"floxls diagnostics bench (python {sys.version.split()[0]}, {os.cpu_count()} cpus)")
    print(
        f"  small manifest: {SMALL.count(chr(10))} lines; big: {big.count(chr(10)) + 1} lines, "
        f"{big.count('[build.')} build targets, {len(big)} chars"
    )

    init_times = []
    for _ in range(args.starts):
        s = Session()
        init_times.append(initialize(s))
        s.close()
    s = Session()
    init_times.append(initialize(s))
    ping, hover = baseline(s, max(args.small // 2, 20))
    small = edit_loop(s, "file:///bench/small/manifest.toml", SMALL, 'GREETING = "', args.small)
    large = edit_loop(s, "file:///bench/big/manifest.toml", big, 'VAR_7 = "', args.big)
    s.close()
    ref_small = in_process(SMALL, args.small)
    ref_big = in_process(big, max(args.big // 2, 5))

    ping_med, ping_p90 = stats_ms(ping)
    rows = [
        ("baseline: unknown request round trip", ping, None),
        ("baseline: hover on an empty document", hover, None),
        ("didChange -> publishDiagnostics, 40 lines", small, TARGET_SMALL_MS),
        ("didChange -> publishDiagnostics, 5,500 lines", large, TARGET_BIG_MS),
        ("reference: analyze() in-process, 40 lines", ref_small, None),
        ("reference: analyze() in-process, 5,500 lines", ref_big, None),
    ]
    missed = []
    print(f"\n{'':48} {'median ms':>10} {'p90 ms':>9} {'x baseline':>11}  target")
    for label, times, target in rows:
        med, p90 = stats_ms(times)
        verdict = ""
        if target is not None:
            ok = med <= target
            verdict = f"<= {target:g} ms median: {'met' if ok else 'MISSED'}"
            if not ok:
                missed.append(label)
        print(f"{label:48} {med:10.3f} {p90:9.3f} {med / ping_med:10.1f}x  {verdict}")
    init_med = statistics.median(init_times)
    ok = init_med <= TARGET_INIT_S
    if not ok:
        missed.append("initialize")
    print(
        f"{'process start -> initialize reply':48} {init_med * 1000:10.1f} "
        f"{max(init_times) * 1000:9.1f} {'':>11}  <= {TARGET_INIT_S:g} s median (max shown as p90 "
        f"column): {'met' if ok else 'MISSED'}"
    )
    print(f"(baseline round trip: median {ping_med:.3f} ms, p90 {ping_p90:.3f} ms)")
    return 1 if missed and args.check else 0


if __name__ == "__main__":
    raise SystemExit(main())
