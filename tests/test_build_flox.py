"""The real-Flox builder path (`floxls/build/flox.py`), driven through the test stand-in for
Flox's `flox build` CLI contract (tests/support/flox_standin/flox), which builds with the
machine's real `nix-build` into the real /nix/store: input-addressed paths with references
and derivers, exactly what `flox build` leaves behind (`result-<name>` links)."""

from __future__ import annotations

import os
import shlex
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from floxls.build import BuildSpec, use_flox
from floxls.build import flox as flox_builder
from floxls.cancel import CancelToken
from floxls.catalog import local_catalog_name
from floxls.errors import Cancelled, FloxlsError
from floxls.nix import narinfo as narinfo_mod
from floxls.nix.keys import PublicKey, SecretKey
from floxls.progress import Event
from floxls.publish.pipeline import run
from tests.support.gitrepo import GitEnv, PublishSetup
from tests.support.nixtools import Nix, run_nix
from tests.support.tools import require

pytestmark = pytest.mark.slow

STANDIN = Path(__file__).parent / "support" / "flox_standin"

HI_COMMAND = """\
mkdir -p $out/bin
printf '#!/bin/sh\\ncat %s/greeting\\necho %s\\n' "$FLOXLS_TEST_DEP" "$GREETING" > $out/bin/hi
chmod +x $out/bin/hi
echo "built hi"
"""


def manifest(command: str = HI_COMMAND, vars: dict[str, str] | None = None) -> str:
    all_vars = {"GREETING": "hello from floxls", **(vars or {})}
    var_lines = "".join(f'{k} = "{v}"\n' for k, v in all_vars.items())
    return (
        'version = 1\n\n[install]\nhello.pkg-path = "hello"\n\n'
        f"[vars]\n{var_lines}\n"
        '[build.hi]\ndescription = "Says hi"\nversion = "1.2.3"\n'
        f"command = '''\n{command}'''\n\n"
        "[build.hi-tools]\nversion = \"0.1\"\ncommand = '''\nmkdir -p $out/share\n'''\n"
    )


@pytest.fixture
def flox_on_path(monkeypatch: pytest.MonkeyPatch) -> Path:
    """The stand-in `flox` first on PATH (and the built-in builder not forced)."""
    require("nix-build", "nix-store", "nix")
    monkeypatch.setenv("PATH", f"{STANDIN}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.delenv("FLOXLS_BUILDER", raising=False)
    assert use_flox()
    return STANDIN / "flox"


def nix_store(*args: str) -> list[str]:
    proc = subprocess.run(["nix-store", *args], capture_output=True, text=True, check=True)
    return proc.stdout.split()


def deriver_of(path: str) -> str | None:
    (d,) = nix_store("--query", "--deriver", path)
    return None if d == "unknown-deriver" else d


def alive(pid: int) -> bool:
    """True while `pid` runs (a zombie nobody reaps counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_publish_with_flox_build(
    flox_on_path: Path,
    make_git_env: Callable[..., GitEnv],
    publish_setup: PublishSetup,
    nix: Nix,
) -> None:
    env = make_git_env(manifest=manifest())
    events: list[Event] = []
    result = run(publish_setup.request(env, "hi"), events.append)
    assert any(e.message == "building hi with flox build" for e in events)
    assert any(e.log and "built hi" in e.log for e in events), "the build log is streamed"
    (out,) = result.store_paths
    assert out.endswith("-hi-1.2.3") and result.version == "1.2.3"
    refs = [r for r in nix_store("--query", "--references", out) if r != out]
    (dep,) = refs
    assert dep.endswith("-floxls-test-dep")
    # both paths shipped; the `result-hi-log` link Flox leaves is no output and not shipped
    assert sorted(result.uploaded) == sorted([out, dep])
    assert len(publish_setup.narinfos()) == 2
    pub = PublicKey.parse(publish_setup.public_key)
    infos = {
        i.store_path: i
        for i in (narinfo_mod.parse(p.read_text()) for p in publish_setup.narinfos())
    }
    assert set(infos) == {out, dep}
    for path, info in infos.items():
        assert info.ca is None, "input-addressed"
        assert info.deriver and f"/nix/store/{info.deriver}" == deriver_of(path)
        assert info.deriver.endswith(".drv")
        assert any(pub.verify(info.fingerprint(), s) for s in info.sigs)
    assert os.path.basename(dep) in infos[out].references
    assert infos[dep].references == []

    # real Nix imports the closure trusting only our key, and refuses it trusting another
    good = nix.store("good")
    r = good.copy_from(
        publish_setup.cache_url,
        [out],
        trusted_keys=[publish_setup.public_key],
        extra=["--option", "require-sigs", "true"],
    )
    assert r.returncode == 0, r.stderr
    assert good.is_valid(out) and good.is_valid(dep)
    assert (good.real(dep) / "greeting").read_text() == "hello from a dependency\n"
    hi = (good.real(out) / "bin" / "hi").read_text()
    assert hi == f"#!/bin/sh\ncat {dep}/greeting\necho hello from floxls\n"
    assert good.references(out) == [dep]
    assert good.deriver(out) == deriver_of(out)
    other = str(SecretKey.generate("someone-else-1").public())
    bad = nix.store("bad")
    r = bad.copy_from(
        publish_setup.cache_url,
        [out],
        trusted_keys=[other],
        extra=["--option", "require-sigs", "true"],
    )
    assert r.returncode != 0 and "signature" in r.stderr.lower(), r.stderr
    assert not bad.is_valid(out)

    # the fetch command the user is shown works as printed (its key option is what lets
    # Nix accept these input-addressed, signed paths)
    hint = shlex.split(result.how_to_get.split("fetch it with: ", 1)[1])
    shown = nix.store("shown")
    r = run_nix(
        [*hint, "--to", shown.arg, "--option", "require-sigs", "true"], nix.base, check=False
    )
    assert r.returncode == 0, r.stderr
    assert shown.is_valid(out) and shown.is_valid(dep)

    # the catalog record carries the real derivation
    (build,) = publish_setup.local_builds(result.catalog, "hi")
    assert build.derivation.drv_path == deriver_of(out)
    assert build.derivation.name == "hi-1.2.3" and build.derivation.description == "Says hi"
    assert {o.name: o.store_path for o in build.derivation.outputs} == {"out": out}
    assert set(build.narinfos) == {out, dep}
    assert build.narinfos[out]["references"] == [dep]
    assert build.narinfos[out]["deriver"] == deriver_of(out)
    assert publish_setup.leftovers() == []


def test_closure_query_and_result_links(flox_on_path: Path, tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / ".flox" / "env").mkdir(parents=True)
    (project / ".flox" / "env" / "manifest.toml").write_text(manifest())
    # another target whose link (`result-hi-tools`) looks like an output `tools` of `hi`
    subprocess.run(
        [str(flox_on_path), "build", "-d", str(project), "hi-tools"],
        check=True,
        capture_output=True,
    )
    spec = BuildSpec(name="hi", target={"version": "1.2.3"}, project_dir=project)
    result = flox_builder.build(spec)
    links = sorted(p.name for p in project.iterdir() if p.name.startswith("result-"))
    assert links == ["result-hi", "result-hi-log", "result-hi-tools", "result-hi-tools-log"]
    out = os.path.realpath(project / "result-hi")
    assert result.outputs == {"out": out}
    assert result.builder == "flox" and result.name == "hi-1.2.3"
    assert result.drv_path == deriver_of(out)
    # the one-shot query agrees with asking nix-store path by path
    assert result.closure[0].store_path == out
    assert {o.store_path for o in result.closure} == set(nix_store("--query", "--requisites", out))
    assert len(result.closure) == 2
    for obj in result.closure:
        assert sorted(obj.references) == sorted(
            nix_store("--query", "--references", obj.store_path)
        )
        assert obj.deriver == deriver_of(obj.store_path)
        assert obj.source == Path(obj.store_path)
    # several roots, one of them inside the other's closure: each path once, roots first
    dep = next(o.store_path for o in result.closure if o.store_path != out)
    log = os.path.realpath(project / "result-hi-log")
    objs = flox_builder.query_closure([log, out, dep])
    assert [o.store_path for o in objs] == [log, out, dep]
    assert objs[0].deriver is None and objs[0].references == ()


def test_parse_registration() -> None:
    text = (
        "/nix/store/aaa-dep\nabc\n12\n/nix/store/x-dep.drv\n0\n"
        "/nix/store/bbb-top\ndef\n34\n\n2\n/nix/store/aaa-dep\n/nix/store/bbb-top\n"
    )
    assert flox_builder.parse_registration(text) == {
        "/nix/store/aaa-dep": ("/nix/store/x-dep.drv", ()),
        "/nix/store/bbb-top": (None, ("/nix/store/aaa-dep", "/nix/store/bbb-top")),
    }
    with pytest.raises(FloxlsError):
        flox_builder.parse_registration("/nix/store/aaa-dep\nabc\n12\n\n3\n/nix/store/x\n")


def test_failing_flox_build_reports_status_and_log(
    flox_on_path: Path, make_git_env: Callable[..., GitEnv], publish_setup: PublishSetup
) -> None:
    env = make_git_env(manifest=manifest("echo about to fail\nexit 7\n"))
    with pytest.raises(FloxlsError) as info:
        run(publish_setup.request(env, "hi"))
    msg = info.value.message
    assert msg.startswith("flox build hi failed with exit status 1"), msg
    assert "about to fail" in msg and "exit code 7" in msg
    assert "flox build hi" in (info.value.fix or "")
    assert publish_setup.leftovers() == [] and publish_setup.narinfos() == []
    assert publish_setup.local_builds(local_catalog_name(), "hi") == []


def test_cancel_kills_flox_build(
    flox_on_path: Path,
    make_git_env: Callable[..., GitEnv],
    publish_setup: PublishSetup,
    tmp_path: Path,
) -> None:
    pids = tmp_path / "pids"
    command = 'sleep 60 &\necho "$$ $!" > "$PIDS"\necho sleeping\nwait\nmkdir $out\n'
    env = make_git_env(manifest=manifest(command, vars={"PIDS": str(pids)}))
    token = CancelToken()

    def progress(event: Event) -> None:
        if event.log and "sleeping" in event.log:
            token.cancel()

    started = time.monotonic()
    with pytest.raises(Cancelled):
        run(publish_setup.request(env, "hi"), progress, token)
    assert time.monotonic() - started < 20
    assert publish_setup.leftovers() == [], "temp clone left behind"
    assert publish_setup.narinfos() == []
    shell, sleeper = (int(p) for p in pids.read_text().split())
    deadline = time.monotonic() + 5
    while (alive(shell) or alive(sleeper)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(shell) and not alive(sleeper), "the build survived the cancel"
