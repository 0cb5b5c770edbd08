"""The built-in builder: bash runs `command` with $out, [vars], cwd = project dir."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from floxls.build import BuildSpec
from floxls.build.builtin import build, find_path_in_tree
from floxls.cancel import CancelToken
from floxls.errors import Cancelled, FloxlsError
from floxls.progress import Event


def spec(
    tmp_path: Path,
    target: dict[str, object],
    vars: dict[str, str] | None = None,
    name: str = "hello",
) -> BuildSpec:
    project = tmp_path / "project"
    project.mkdir(exist_ok=True)
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    return BuildSpec(name=name, target=target, project_dir=project, vars=vars or {}, workdir=work)


def test_builds_into_a_content_addressed_path(tmp_path: Path, nix) -> None:  # type: ignore[no-untyped-def]
    s = spec(
        tmp_path,
        {
            "command": 'mkdir -p $out/bin; printf "#!/bin/sh\\necho $GREETING\\n" > $out/bin/hi; '
            "chmod +x $out/bin/hi; pwd > $out/cwd; ln -s bin/hi $out/link",
            "version": "1.2.3",
            "description": "says hi",
        },
        vars={"GREETING": "hello there"},
    )
    result = build(s)
    assert result.builder == "builtin" and result.version == "1.2.3"
    (obj,) = result.closure
    assert obj.store_path.endswith("-hello-1.2.3")
    assert result.outputs == {"out": obj.store_path}
    assert (obj.source / "bin/hi").read_text() == "#!/bin/sh\necho hello there\n"
    assert os.access(obj.source / "bin/hi", os.X_OK)
    assert (obj.source / "cwd").read_text().strip() == str(s.project_dir)
    # exactly the path and CA that `nix store add-path` gives the same tree
    store = nix.store("ref")
    assert store.add_path(obj.source, name="hello-1.2.3") == obj.store_path
    nix32 = nix.hash_path(obj.source, base32=True)
    assert obj.ca == f"fixed:r:sha256:{nix32}"
    assert result.description == "says hi"


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        (None, "0.0.0"),
        ("4.5", "4.5"),
        ({"file": "VERSION"}, "7.8.9"),
        ({"command": "echo 3.$((1+1)).0"}, "3.2.0"),
    ],
)
def test_version_forms(tmp_path: Path, version: object, expected: str) -> None:
    target: dict[str, object] = {"command": "echo x > $out"}
    if version is not None:
        target["version"] = version
    s = spec(tmp_path, target)
    (s.project_dir / "VERSION").write_text("  7.8.9\n")
    result = build(s)
    assert result.version == expected
    assert result.closure[0].store_path.endswith(f"-hello-{expected}")


def test_refuses_pure_sandbox(tmp_path: Path) -> None:
    s = spec(tmp_path, {"command": "echo x > $out", "sandbox": "pure"})
    with pytest.raises(FloxlsError, match="sandbox") as info:
        build(s)
    assert "flox" in (info.value.fix or "")


def test_refuses_output_containing_staging_path(tmp_path: Path) -> None:
    s = spec(tmp_path, {"command": 'mkdir -p $out/bin; echo "exec $out/bin/real" > $out/bin/w'})
    with pytest.raises(FloxlsError, match=r"contains its build path \(\$out\) in bin/w"):
        build(s)
    s = spec(tmp_path, {"command": "mkdir -p $out; ln -s $out/x $out/abs"})
    with pytest.raises(FloxlsError, match="abs"):
        build(s)


def test_find_path_across_chunk_boundary(tmp_path: Path) -> None:
    f = tmp_path / "t" / "f"
    f.parent.mkdir()
    f.write_bytes(b"a" * 10 + b"NEEDLE" + b"b" * 10)
    for chunk in (1, 3, 12, 13, 14, 100):
        assert find_path_in_tree(tmp_path / "t", b"NEEDLE", chunk=chunk) == str(f)
    assert find_path_in_tree(tmp_path / "t", b"NEEDLX", chunk=4) is None


def test_failed_build_reports_status_and_tail(tmp_path: Path) -> None:
    cmd = "for i in $(seq 1 40); do echo line-$i; done; echo boom >&2; exit 3"
    with pytest.raises(FloxlsError) as info:
        build(spec(tmp_path, {"command": cmd}))
    msg = info.value.message
    assert "exit status 3" in msg
    assert "boom" in msg and "line-40" in msg and "line-1\n" not in msg


def test_no_output_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FloxlsError, match=r"wrote nothing to \$out"):
        build(spec(tmp_path, {"command": "true"}))


def test_log_streams_line_by_line(tmp_path: Path) -> None:
    events: list[Event] = []
    build(
        spec(tmp_path, {"command": "echo one; echo two >&2; echo x > $out"}), progress=events.append
    )
    logs = [e.log for e in events if e.log is not None]
    assert logs == ["one", "two"]
    assert all(e.step == "build" for e in events)


def test_secrets_are_not_in_the_build_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOX_FLOXHUB_TOKEN", "tok-123")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-456")
    result = build(spec(tmp_path, {"command": "env | grep -v '^out=' > $out"}))
    text = result.closure[0].source.read_text()
    assert "tok-123" not in text and "aws-456" not in text


def test_cancel_kills_the_process_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    token = CancelToken()

    def progress(event: Event) -> None:
        if event.log == "started":
            token.cancel()

    cmd = f"sleep 60 & echo $! > {pidfile}; echo started; sleep 60; echo x > $out"
    t0 = time.monotonic()
    with pytest.raises(Cancelled):
        build(spec(tmp_path, {"command": cmd}), progress=progress, cancel=token)
    assert time.monotonic() - t0 < 10
    child = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        pytest.fail("the background child of the build survived the cancel")
    assert not list((tmp_path / "work").iterdir()), "staging dir left behind"


def test_remove_tree_removes_read_only_and_unreadable_directories(tmp_path: Path) -> None:
    """`cp -r` from /nix/store makes read-only directories; a failed build may leave a
    directory without read permission. Removing the publish's temp dir must cope with both
    (checked as a user without root's power to ignore permissions)."""
    import os
    import shutil
    import subprocess
    import sys

    root = tmp_path / "tmp"
    (root / "out" / "share" / "doc").mkdir(parents=True)
    (root / "out" / "share" / "doc" / "README").write_text("hi")
    (root / "locked").mkdir()
    (root / "locked" / "file").write_text("x")
    for path in (root / "out" / "share" / "doc", root / "out" / "share", root / "out"):
        path.chmod(0o555)
    (root / "locked").chmod(0)
    cmd = [sys.executable, "-c", "import sys; from floxls.build import remove_tree; "
           "remove_tree(sys.argv[1])", str(root)]  # fmt: skip
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("root, and no setpriv to drop the power to ignore permissions")
        cmd = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", *cmd]
    try:
        subprocess.run(cmd, check=True, timeout=60)
        assert not root.exists()
    finally:
        if root.exists():
            subprocess.run(["chmod", "-R", "u+rwx", str(root)], check=False)
