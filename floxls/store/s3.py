"""`s3://bucket[/prefix]` binary caches through boto3 (imported when a store is opened).

URL parameters as Nix takes them: `region`, `endpoint` (host[:port] or a full URL),
`profile`, `scheme` (http|https, for an endpoint without one), `compression`,
`secret-key`, `multipart-upload` (default true), `buffer-size` (multipart part size in
bytes, default 16 MiB, minimum 5 MiB as S3 requires). Credentials come from the AWS default
chain. Network failures are retried a bounded number of times, then reported as FloxlsError.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from floxls.cancel import CancelToken
from floxls.errors import FloxlsError
from floxls.store import ByteProgress
from floxls.store.base import KeyedCache
from floxls.store.url import StoreUrl

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

MAX_ATTEMPTS = 3
CONNECT_TIMEOUT = 5
READ_TIMEOUT = 60
DEFAULT_PART_SIZE = 16 << 20
MIN_PART_SIZE = 5 << 20
MAX_CONCURRENCY = 8
_CONTENT_TYPES = {
    ".narinfo": "text/x-nix-narinfo",
    "nix-cache-info": "text/x-nix-cache-info",
}
_DENIED = {
    "AccessDenied",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "InvalidToken",
    "ExpiredToken",
    "AllAccessDisabled",
    "403",
}
_CRED_FIX = (
    "check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (or the store URL's profile=) "
    "and the bucket policy"
)


def _content_type(key: str) -> str:
    for suffix, ctype in _CONTENT_TYPES.items():
        if key.endswith(suffix):
            return ctype
    return "application/x-nix-nar"


class S3Store(KeyedCache):
    """A binary cache in an S3 bucket (or an S3-compatible endpoint)."""

    def __init__(self, parsed: StoreUrl) -> None:
        assert parsed.bucket is not None
        self.bucket = parsed.bucket
        self.prefix = parsed.prefix + "/" if parsed.prefix else ""
        self.url = parsed.display()
        self.compression = parsed.compression
        self.secret_key_file = parsed.secret_key
        p = parsed.params
        self.region = p.get("region") or None
        self.profile = p.get("profile") or None
        endpoint = p.get("endpoint") or None
        if endpoint and "://" not in endpoint:
            endpoint = f"{p.get('scheme') or 'https'}://{endpoint}"
        self.endpoint = endpoint
        self.multipart = p.get("multipart-upload", "true").lower() not in ("false", "0", "no")
        try:
            part = int(p.get("buffer-size") or DEFAULT_PART_SIZE)
        except ValueError:
            raise FloxlsError(f"store URL {self.url}: buffer-size must be a number") from None
        self.part_size = max(part, MIN_PART_SIZE)
        self._bucket_checked = False

    def __repr__(self) -> str:
        return f"S3Store({self.url!r})"

    @functools.cached_property
    def client(self) -> S3Client:
        import boto3
        import botocore.config
        import botocore.exceptions

        try:
            session = boto3.session.Session(profile_name=self.profile)
        except botocore.exceptions.ProfileNotFound:
            raise FloxlsError(
                f"AWS profile {self.profile!r} (from store URL {self.url}) is not configured",
                "add it to ~/.aws/credentials or remove profile= from the store URL",
            ) from None
        config = botocore.config.Config(
            region_name=self.region or session.region_name or "us-east-1",
            retries={"max_attempts": MAX_ATTEMPTS, "mode": "standard"},
            connect_timeout=CONNECT_TIMEOUT,
            read_timeout=READ_TIMEOUT,
            s3={"addressing_style": "path" if self.endpoint else "auto"},
            max_pool_connections=MAX_CONCURRENCY + 2,
        )
        try:
            return session.client("s3", endpoint_url=self.endpoint, config=config)
        except ValueError as exc:
            raise FloxlsError(f"store URL {self.url}: bad endpoint ({exc})") from None

    def _where(self) -> str:
        return f"s3://{self.bucket}" + (f" at {self.endpoint}" if self.endpoint else "")

    def _fail(self, exc: Exception, doing: str) -> NoReturn:
        """Turn a boto error into a one-line FloxlsError (never containing credentials)."""
        import boto3.exceptions
        import botocore.exceptions as be

        if isinstance(exc, FloxlsError):
            raise exc
        if isinstance(exc, be.NoCredentialsError | be.PartialCredentialsError):
            raise FloxlsError(f"no AWS credentials to {doing} {self._where()}", _CRED_FIX) from None
        if isinstance(
            exc,
            be.EndpointConnectionError
            | be.ConnectTimeoutError
            | be.ReadTimeoutError
            | be.ConnectionClosedError,
        ):
            raise FloxlsError(
                f"could not {doing} {self._where()}: unreachable "
                f"(gave up after {MAX_ATTEMPTS} attempts)",
                "check the endpoint/region in the store URL and your network",
            ) from None
        code = ""
        if isinstance(exc, be.ClientError):
            code = str(exc.response.get("Error", {}).get("Code", ""))
        elif isinstance(exc, boto3.exceptions.S3UploadFailedError):
            text = str(exc)
            code = next(
                (c for c in ("NoSuchBucket", *sorted(_DENIED)) if f"({c})" in text), "upload"
            )
        if code in ("NoSuchBucket", "404"):
            raise FloxlsError(
                f"bucket {self.bucket!r} does not exist ({self._where()})",
                "create it, or fix the bucket name in the store URL",
            ) from None
        if code in _DENIED:
            raise FloxlsError(
                f"access denied: could not {doing} {self._where()} ({code})", _CRED_FIX
            ) from None
        raise FloxlsError(
            f"S3 error while trying to {doing} {self._where()}: {code or exc.__class__.__name__}"
        ) from None

    def _check_bucket(self) -> None:
        if self._bucket_checked:
            return
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except Exception as exc:
            self._fail(exc, "open bucket")
        self._bucket_checked = True

    def has_file(self, key: str) -> bool:
        import botocore.exceptions as be

        self._check_bucket()
        try:
            self.client.head_object(Bucket=self.bucket, Key=self.prefix + key)
        except be.ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code")) in ("404", "NoSuchKey", "NotFound"):
                return False
            self._fail(exc, f"look up {key} in")
        except Exception as exc:
            self._fail(exc, f"look up {key} in")
        return True

    def _write(self, key: str, data: bytes) -> None:
        self._check_bucket()
        try:
            self.client.put_object(
                Bucket=self.bucket, Key=self.prefix + key, Body=data, ContentType=_content_type(key)
            )
        except Exception as exc:
            self._fail(exc, f"upload {key} to")

    def put_nar(
        self,
        local_file: Path,
        key: str,
        progress: ByteProgress | None = None,
        cancel: CancelToken | None = None,
    ) -> None:
        """Upload a file; multipart with parallel parts when larger than one part."""
        from boto3.s3.transfer import TransferConfig

        self._check_bucket()
        config = TransferConfig(
            multipart_threshold=self.part_size if self.multipart else 5 * (1 << 30),
            multipart_chunksize=self.part_size,
            max_concurrency=MAX_CONCURRENCY,
            use_threads=True,
        )

        def callback(n: int) -> None:
            if cancel is not None:
                cancel.check()
            if progress is not None and n > 0:
                progress(n)

        try:
            self.client.upload_file(
                str(local_file),
                self.bucket,
                self.prefix + key,
                ExtraArgs={"ContentType": _content_type(key)},
                Callback=callback,
                Config=config,
            )
        except Exception as exc:
            if cancel is not None:
                cancel.check()
            self._fail(exc, f"upload {key} to")

    def _read(self, key: str) -> bytes | None:
        import botocore.exceptions as be

        self._check_bucket()
        try:
            obj: Any = self.client.get_object(Bucket=self.bucket, Key=self.prefix + key)
            return bytes(obj["Body"].read())
        except be.ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code")) in ("404", "NoSuchKey"):
                return None
            self._fail(exc, f"read {key} from")
        except Exception as exc:
            self._fail(exc, f"read {key} from")
