"""`floxls search` / `floxls show` against a real local sqlite catalog and the fake FloxHub."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from floxls.catalog import local_catalog_name
from floxls.catalog.floxhub import FloxHubCatalog
from floxls.catalog.local import LocalCatalog
from floxls.cli import main
from tests.support.floxhub import FakeFloxHub, sample_build


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A process environment with no real config and a private data dir."""
    values = {
        "HOME": str(tmp_path / "home"),
        "XDG_CONFIG_HOME": str(tmp_path / "home/.config"),
        "FLOX_SYSTEM_CONFIG_DIR": "",
        "FLOXLS_DATA_DIR": str(tmp_path / "data"),
    }
    for name in ("FLOX_FLOXHUB_TOKEN", "FLOX_CATALOG_URL", "FLOX_CONFIG_DIR"):
        monkeypatch.delenv(name, raising=False)
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


@pytest.fixture
def local(env: dict[str, str]) -> LocalCatalog:
    cat = LocalCatalog(Path(env["FLOXLS_DATA_DIR"]) / "catalog.sqlite", local_catalog_name())
    cat.ensure_package("hello", "https://github.com/alice/hello.git")
    cat.record_build("hello", sample_build("1.0.0", rev="a" * 40))
    cat.record_build("hello", sample_build("1.1.0", rev="b" * 40))
    cat.ensure_package("cowsay", "https://github.com/alice/cowsay.git")
    cat.record_build("cowsay", sample_build("3.0", name="cowsay", description="Talking cow"))
    return cat


def test_search_table(local: LocalCatalog, capsys: pytest.CaptureFixture[str]):
    assert main(["search", "HEL"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["PACKAGE", "VERSION", "DESCRIPTION"]
    assert lines[1].split() == [f"{local.name}/hello", "1.1.0", "A", "friendly", "greeting"]
    assert len(lines) == 2
    # columns line up
    assert lines[0].index("VERSION") == lines[1].index("1.1.0")


def test_search_json(local: LocalCatalog, capsys: pytest.CaptureFixture[str]):
    assert main(["search", "cow", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == [
        {"catalog": local.name, "name": "cowsay", "version": "3.0", "description": "Talking cow"}
    ]


def test_search_no_match(local: LocalCatalog, capsys: pytest.CaptureFixture[str]):
    assert main(["search", "zebra"]) == 0
    assert capsys.readouterr().out == "No packages match 'zebra'.\n"
    assert main(["search", "zebra", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def detail_outputs(catalog: LocalCatalog, name: str) -> str:
    newest = catalog.show(catalog.name, name).builds[0]
    return " ".join(o.store_path for o in newest.derivation.outputs)


def test_show(local: LocalCatalog, capsys: pytest.CaptureFixture[str]):
    ref = f"{local.name}/hello"
    assert main(["show", ref]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == f"{ref} 1.1.0"
    assert "  A friendly greeting" in lines
    assert "  source:  https://github.com/alice/hello.git" in lines
    # the local catalog is floxls's own: flox cannot install from it, nix copy can
    assert not any("flox install" in line for line in lines)
    prefix = "  fetch:   nix --extra-experimental-features nix-command copy --from "
    fetch = next(line for line in lines if line.startswith(prefix))
    assert f" {detail_outputs(local, 'hello')}  (" in fetch
    assert "  builds (2, newest first):" in lines
    rows = [line.split() for line in lines if line.startswith("    ")]
    assert rows[0] == ["VERSION", "SYSTEM", "REV", "DATE", "OUTPUTS"]
    assert [r[0] for r in rows[1:]] == ["1.1.0", "1.0.0"]
    assert rows[1][2] == "b" * 12
    detail = local.show(local.name, "hello")
    assert rows[1][4] == detail.builds[0].derivation.outputs[0].store_path


def test_show_json(local: LocalCatalog, capsys: pytest.CaptureFixture[str]):
    assert main(["show", f"{local.name}/hello", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["name"] == "hello" and data["version"] == "1.1.0"
    assert [b["rev"] for b in data["builds"]] == ["b" * 40, "a" * 40]
    assert data["builds"][0] == local.show(local.name, "hello").builds[0].to_json()


def test_show_unknown_package_is_an_error_with_a_fix(
    local: LocalCatalog, capsys: pytest.CaptureFixture[str]
):
    assert main(["show", f"{local.name}/nope"]) == 1
    err = capsys.readouterr().err
    assert f"floxls: error: no package {local.name}/nope" in err
    assert "  fix: search for it with `floxls search nope`" in err


@pytest.mark.parametrize("ref", ["hello", "/hello", "alice/", "a/b/c", "alice/bad name"])
def test_show_bad_reference(env: dict[str, str], capsys: pytest.CaptureFixture[str], ref: str):
    assert main(["show", ref]) == 1
    err = capsys.readouterr().err
    assert "is not a package reference of the form CATALOG/NAME" in err
    assert "fix:" in err


def test_empty_local_catalog(env: dict[str, str], capsys: pytest.CaptureFixture[str]):
    assert main(["search", "x"]) == 0
    assert "No packages match" in capsys.readouterr().out
    assert (Path(env["FLOXLS_DATA_DIR"]) / "catalog.sqlite").is_file()


def test_malformed_config_is_reported(env: dict[str, str], capsys: pytest.CaptureFixture[str]):
    cfg = Path(env["XDG_CONFIG_HOME"]) / "flox/flox.toml"
    cfg.parent.mkdir(parents=True)
    cfg.write_text("floxhub_token = \n")
    assert main(["search", "x"]) == 1
    assert f"floxls: error: {cfg}:1: invalid TOML" in capsys.readouterr().err


def test_search_and_show_on_floxhub(
    env: dict[str, str],
    floxhub_server: FakeFloxHub,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
):
    hub = floxhub_server
    cat = FloxHubCatalog(hub.url, hub.token)
    cat.ensure_package("hello", "https://github.com/alice/hello.git")
    cat.record_build("hello", sample_build("2.0.0"))
    monkeypatch.setenv("FLOX_FLOXHUB_TOKEN", hub.token)
    monkeypatch.setenv("FLOX_CATALOG_URL", hub.url)

    assert main(["search", "hello"]) == 0
    out = capsys.readouterr().out
    assert "alice/hello" in out and "2.0.0" in out
    assert main(["show", "alice/hello"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("alice/hello 2.0.0\n")
    assert main(["show", "alice/nope"]) == 1
    captured = capsys.readouterr()
    assert "404" in captured.err and "fix:" in captured.err
    assert hub.token not in captured.out + captured.err + out
    assert {r.endpoint for r in hub.requests} >= {"search", "get_package", "list_builds"}
    # nothing was written to the local catalog
    assert not (Path(env["FLOXLS_DATA_DIR"]) / "catalog.sqlite").exists()


def test_cli_in_a_subprocess(local: LocalCatalog, env: dict[str, str]):
    proc_env = {k: v for k, v in os.environ.items() if not k.startswith("FLOX_")}
    proc_env.update(env)
    done = subprocess.run(
        [sys.executable, "-m", "floxls", "show", f"{local.name}/cowsay"],
        capture_output=True,
        text=True,
        env=proc_env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"{local.name}/cowsay 3.0\n")
