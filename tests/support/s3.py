"""S3 for tests: moto's server on loopback, started once per session as a subprocess.

Fixtures (loaded for every test module by tests/conftest.py):

- `moto_server` (session): the endpoint URL, e.g. `http://127.0.0.1:40123`, of a
  `python -m moto.server` on a free port (no auth checks). Stopped at session end.
- `s3_bucket` (function): a fresh, uniquely named bucket on that server, with fake AWS
  credentials and region set in the environment (via monkeypatch) for the test. It is an
  `S3Bucket`::

      def test_x(s3_bucket):
          store = open_store(s3_bucket.store_url())          # s3://<bucket>?endpoint=...
          s3_bucket.client.list_objects_v2(Bucket=s3_bucket.name)
          s3_bucket.keys()                                   # sorted object keys
          s3_bucket.make_public()                            # anonymous reads allowed
          s3_bucket.http_url                                 # http://127.0.0.1:PORT/<bucket>

- `moto_server_strict` (session): a second moto server that enforces authentication
  (`INITIAL_NO_AUTH_ACTION_COUNT=0`), so any made-up credentials are refused (403);
  for "denied credentials" tests. Started on first use only.

Helper: `start_moto(env_extra) -> (Popen, endpoint)` and `stop(proc)`.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_moto(env_extra: dict[str, str] | None = None) -> tuple[subprocess.Popen[bytes], str]:
    """Start `python -m moto.server` on 127.0.0.1:<free port>; wait until it answers."""
    port = free_port()
    env = {**os.environ, **FAKE_ENV, **(env_extra or {})}
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(endpoint + "/moto-api/", timeout=1).close()
            return proc, endpoint
        except urllib.error.HTTPError:
            return proc, endpoint  # it answers
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                stop(proc)
                raise RuntimeError("moto server did not start") from None
            time.sleep(0.1)


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """Endpoint URL of a session-wide moto S3 server on loopback."""
    proc, endpoint = start_moto()
    yield endpoint
    stop(proc)


@pytest.fixture(scope="session")
def moto_server_strict() -> Iterator[str]:
    """Endpoint URL of a moto server that refuses every request's credentials."""
    proc, endpoint = start_moto({"INITIAL_NO_AUTH_ACTION_COUNT": "0"})
    yield endpoint
    stop(proc)


@dataclass
class S3Bucket:
    """A bucket on the moto server; `client` is a boto3 S3 client for checking results."""

    name: str
    endpoint: str
    client: Any

    @property
    def http_url(self) -> str:
        """The bucket read as a plain HTTP binary cache (path-style)."""
        return f"{self.endpoint}/{self.name}"

    def store_url(self, prefix: str = "", **params: str) -> str:
        """`s3://<bucket>[/prefix]?endpoint=<endpoint>&region=us-east-1[&k=v...]`."""
        query = {"endpoint": self.endpoint, "region": "us-east-1", **params}
        q = "&".join(f"{k}={v}" for k, v in query.items())
        return f"s3://{self.name}" + (f"/{prefix}" if prefix else "") + f"?{q}"

    def keys(self) -> list[str]:
        out: list[str] = []
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.name):
            out.extend(o["Key"] for o in page.get("Contents", []))
        return sorted(out)

    def make_public(self) -> None:
        """Allow anonymous reads: a public-read bucket policy plus a `public-read` ACL on
        every object present now (moto ignores bucket policies for HEAD requests, which Nix
        sends for narinfos). Call it after uploading."""
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": ["s3:GetObject"],
                    "Resource": [f"arn:aws:s3:::{self.name}/*"],
                }
            ],
        }
        self.client.put_bucket_policy(Bucket=self.name, Policy=json.dumps(policy))
        for key in self.keys():
            self.client.put_object_acl(Bucket=self.name, Key=key, ACL="public-read")


def s3_client(endpoint: str) -> Any:
    import boto3
    import botocore.config

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=FAKE_ENV["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_ENV["AWS_SECRET_ACCESS_KEY"],
        config=botocore.config.Config(s3={"addressing_style": "path"}),
    )


@pytest.fixture
def s3_bucket(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> S3Bucket:
    """A fresh bucket and fake AWS credentials in the environment (see module docstring)."""
    for k, v in FAKE_ENV.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")
    for k in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(k, raising=False)
    name = f"floxls-{uuid.uuid4().hex[:12]}"
    client = s3_client(moto_server)
    client.create_bucket(Bucket=name)
    return S3Bucket(name, moto_server, client)
