"""Signing keys and `floxls key`: formats, errors, and interchange with Nix's own tools."""

from __future__ import annotations

import base64
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from floxls.cli import main
from floxls.errors import FloxlsError
from floxls.nix.keys import KeyFormatError, PublicKey, SecretKey, load_secret_key
from tests.support.nixtools import Nix


def floxls(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "floxls", *args], capture_output=True, text=True, check=False
    )


def test_sign_and_verify() -> None:
    k = SecretKey.generate("test-1")
    pub = k.public()
    sig = k.sign("1;/nix/store/x;sha256:y;1;")
    assert sig.startswith("test-1:")
    assert pub.verify("1;/nix/store/x;sha256:y;1;", sig)
    assert not pub.verify("1;/nix/store/x;sha256:y;2;", sig)
    assert not SecretKey.generate("test-1").public().verify("1;/nix/store/x;sha256:y;1;", sig)
    assert not pub.verify("1;/nix/store/x;sha256:y;1;", "other:" + sig.split(":", 1)[1])
    assert PublicKey.parse(str(pub)) == pub
    assert SecretKey.parse(k.to_text() + "\n") == k
    assert "key=" not in repr(k) and k.to_text().split(":")[1] not in repr(k)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("no-colon-here", "no name"),
        (":" + base64.b64encode(bytes(64)).decode(), "no name"),
        ("k:not*base64!", "not valid base64"),
        ("k:" + base64.b64encode(bytes(31)).decode(), "wrong length"),
        ("k:" + base64.b64encode(bytes(64)).decode(), "corrupt"),
    ],
)
def test_malformed_key_files(tmp_path: Path, text: str, why: str) -> None:
    with pytest.raises(KeyFormatError, match=why):
        SecretKey.parse(text)
    f = tmp_path / "k.sec"
    f.write_text(text)
    with pytest.raises(FloxlsError) as err:
        load_secret_key(f)
    msg = str(err.value)
    assert why in msg and "\n" in msg  # message + fix
    secret_part = text.partition(":")[2]
    if len(secret_part) > 4:
        assert secret_part not in msg


def test_missing_key_file(tmp_path: Path) -> None:
    with pytest.raises(FloxlsError, match="does not exist"):
        load_secret_key(tmp_path / "nope")


def test_cli_generate_writes_0600_and_refuses_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "cache.sec"
    r = floxls("key", "generate", "--name", "cache.test-1", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    key = load_secret_key(out)
    assert key.name == "cache.test-1"
    assert r.stdout.strip() == str(key.public())
    before = out.read_bytes()
    r2 = floxls("key", "generate", "--name", "other", "--out", str(out))
    assert r2.returncode == 1
    assert "already exists" in r2.stderr and r2.stderr.startswith("floxls: error:")
    assert out.read_bytes() == before
    pub = floxls("key", "public", str(out))
    assert pub.returncode == 0 and pub.stdout.strip() == str(key.public())


def test_a_public_key_given_as_the_signing_key_says_so(tmp_path: Path) -> None:
    f = tmp_path / "cache.pub"
    f.write_text(str(SecretKey.generate("cache-1").public()))
    with pytest.raises(FloxlsError) as err:
        load_secret_key(f)
    assert "holds a public key" in err.value.message
    assert err.value.fix and "secret key" in err.value.fix


def test_cli_generate_to_stdout_and_public_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["key", "generate", "--name", "n1"]) == 0
    text = capsys.readouterr().out
    assert SecretKey.parse(text).name == "n1"
    bad = tmp_path / "bad.sec"
    bad.write_text("n1:AAAA")
    assert main(["key", "public", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "wrong length" in err and "AAAA" not in err
    assert len(err.strip().splitlines()) == 2  # error + fix
    assert main(["key", "generate", "--name", "bad:name"]) == 1


@pytest.mark.slow
def test_keys_interchangeable_with_nix(nix: Nix, tmp_path: Path) -> None:
    # nix's secret key works with us
    nix_secret = nix.generate_secret("nix-made-1")
    ours = SecretKey.parse(nix_secret)
    assert str(ours.public()) == nix.secret_to_public(nix_secret)
    f = tmp_path / "nix.sec"
    f.write_text(nix_secret)
    r = floxls("key", "public", str(f))
    assert r.stdout.strip() == nix.secret_to_public(nix_secret)
    # our secret key works with nix
    out = tmp_path / "ours.sec"
    assert floxls("key", "generate", "--name", "ours-1", "--out", str(out)).returncode == 0
    assert nix.secret_to_public(out.read_text()) == str(load_secret_key(out).public())
