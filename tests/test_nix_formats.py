"""Pure format code: nix-base32, store path names, narinfo, compression."""

from __future__ import annotations

import hashlib
import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from floxls.errors import FloxlsError
from floxls.nix import base32, compress, narinfo, storepath


def test_base32_known_values() -> None:
    # sha256("") as Nix prints it (nix hash to-base32)
    empty = hashlib.sha256(b"").digest()
    assert base32.encode(empty) == "0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73"
    assert base32.encode(b"") == ""
    assert base32.encode(b"\x1f") == "0z"
    assert len(base32.encode(bytes(20))) == 32


@given(st.binary(max_size=64))
def test_base32_round_trip(b: bytes) -> None:
    assert base32.decode(base32.encode(b)) == b


@pytest.mark.parametrize(
    "bad", ["e", "0e", "zz", "0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c7"]
)
def test_base32_rejects_bad_text(bad: str) -> None:
    with pytest.raises(ValueError):
        base32.decode(bad)


def test_store_path_helpers() -> None:
    p = "/nix/store/2rvrdjbl567jrhj9isayn0xgdch7d15n-tree-1.0"
    assert storepath.hash_part(p) == "2rvrdjbl567jrhj9isayn0xgdch7d15n"
    assert storepath.name_part(p) == "tree-1.0"
    assert storepath.is_store_path(p)
    assert not storepath.is_store_path("/nix/store/short-x")
    assert not storepath.is_store_path(p + "/bin")
    assert storepath.valid_name("hello-2.12.1")
    assert not storepath.valid_name(".hidden")
    assert not storepath.valid_name("has space")
    assert not storepath.valid_name("")
    with pytest.raises(ValueError):
        storepath.hash_part("/nix/store/not-a-hash")


def test_ca_path_matches_known_nix_result() -> None:
    # A directory `x` holding one file `a` = "hi\n": Nix 2.8's `nix hash path --base32 x`
    # and `nix store add-path x` printed these.
    digest = base32.decode("19l59z9nbs59axnhw6iqsz5bdagqb22kf0dp2zhkiq5m4b6k5247")
    p = storepath.ca_path_for_nar("x", digest)
    assert p == "/nix/store/apnsrg09sf2kgy2z7jjrqbsrvc11vzvg-x"
    assert storepath.ca_field(digest) == "fixed:r:sha256:" + base32.encode(digest)


SAMPLE = """StorePath: /nix/store/17qk0vdmkq66p1s36h66080jymjvqwzq-hello
URL: nar/11jdd5s14rvchvwbmyv2pzgl2s3nfd3p2adwr4j5iz803nih4424.nar.zst
Compression: zstd
FileHash: sha256:11jdd5s14rvchvwbmyv2pzgl2s3nfd3p2adwr4j5iz803nih4424
FileSize: 209
NarHash: sha256:1w0piri5a6r4srkdkr9mq34a4vrmp6fhmgvmfqmsaigyy5xdng1n
NarSize: 560
References: z4asv3j07d89ywjf8fxkn7sg6mf5s9q5-dep
Deriver: n0f00fxr899cdk5w4cpfw31qdlbx554p-hello.drv
Sig: k1:c2ln
Sig: k2:c2ln
"""


def test_narinfo_round_trip_and_fingerprint() -> None:
    info = narinfo.parse(SAMPLE)
    assert info.render() == SAMPLE
    assert info.nar_size == 560 and info.file_size == 209
    assert info.references == ["z4asv3j07d89ywjf8fxkn7sg6mf5s9q5-dep"]
    assert info.sigs == ["k1:c2ln", "k2:c2ln"]
    assert info.hash_part == "17qk0vdmkq66p1s36h66080jymjvqwzq"
    assert info.fingerprint() == (
        "1;/nix/store/17qk0vdmkq66p1s36h66080jymjvqwzq-hello;"
        "sha256:1w0piri5a6r4srkdkr9mq34a4vrmp6fhmgvmfqmsaigyy5xdng1n;560;"
        "/nix/store/z4asv3j07d89ywjf8fxkn7sg6mf5s9q5-dep"
    )


@pytest.mark.parametrize(
    "text",
    [
        "",
        "URL: x\nNarHash: sha256:x\nNarSize: 1\n",
        SAMPLE.replace("NarSize: 560", "NarSize: lots"),
        SAMPLE.replace("/nix/store/17qk", "/tmp/17qk"),
        "garbage line\n",
    ],
)
def test_narinfo_parse_rejects(text: str) -> None:
    with pytest.raises(narinfo.NarInfoError):
        narinfo.parse(text)


@pytest.mark.parametrize("name", ["zstd", "xz", "none"])
def test_compression_round_trip(name: str) -> None:
    import io

    data = os.urandom(100_000) + b"abc" * 200_000
    sink = io.BytesIO()
    c = compress.compressor(name, sink)
    for i in range(0, len(data), 65536):
        c.write(data[i : i + 65536])
    c.close()
    out = sink.getvalue()
    assert compress.decompress(name, out) == data
    if name != "none":
        assert len(out) < len(data)
    assert compress.extension(name).startswith(".nar")


def test_unknown_compression() -> None:
    with pytest.raises(FloxlsError, match="unknown compression 'bzip3'"):
        compress.check_compression("bzip3")
