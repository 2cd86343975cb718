"""S3-compatible object storage as a source (AWS S3, MinIO, Ceph RGW, Garage, SeaweedFS, …) through boto3.

    - name: contracts
      kind: s3
      bucket: legal
      prefix: contracts/                 # optional
      endpoint_url: https://minio.internal:9000   # non-AWS servers; path-style addressing then
      access_key_env: LORE_S3_KEY        # or access_key_file; secret_key_env / secret_key_file
      secret_key_env: LORE_S3_SECRET
      acl: {"hr/**": [hr]}               # globs relative to the prefix
      tag_groups: lore-groups            # an object tag whose value lists groups ("hr finance")

An object's change token is its ETag and LastModified: unchanged objects are not downloaded.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ingest.acl import parse_groups
from ingest.remote.base import Collection, DownloadError, RemoteSource, SourceUnavailable, too_large
from ingest.remote.credentials import SecretRef, mask_url
from retrieval.errors import ConfigError, InputError

SKIP_PREFIXES = (".", "~$")
CREDENTIAL_ERRORS = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "InvalidToken", "ExpiredToken", "AuthorizationHeaderMalformed",
                     "InvalidClientTokenId", "403", "401"}  # fmt: skip


@dataclass(frozen=True)
class S3Source(RemoteSource):
    kind = "s3"
    keys = frozenset({"bucket", "prefix", "endpoint_url", "region", "access_key_env", "access_key_file", "secret_key_env", "secret_key_file",
                      "session_token_env", "session_token_file", "credentials", "tag_groups", "verify_tls", "ca_bundle", "addressing_style"})  # fmt: skip

    bucket: str = ""
    prefix: str = ""
    endpoint_url: str = ""
    region: str = "us-east-1"
    access_key: SecretRef | None = None
    secret_key: SecretRef | None = None
    session_token: SecretRef | None = None
    credentials: str = "keys"  # keys (from *_env/*_file) | default (boto3's own chain: AWS_PROFILE, roles) | anonymous
    tag_groups: str = ""
    verify_tls: bool = True
    ca_bundle: str = ""
    addressing_style: str = ""  # "" → path with endpoint_url, else auto

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any], base: Path, where: str) -> S3Source:
        options = cls.common(spec, base, where, cls.keys)
        name = options["name"]
        bucket = spec.get("bucket")
        if not isinstance(bucket, str) or not bucket.strip():
            raise ConfigError(f"{where}: S3 source {name!r} needs a `bucket`")
        refs = {f: SecretRef.from_spec(spec, f, f"{where} source {name!r}") for f in ("access_key", "secret_key", "session_token")}
        credentials = str(spec.get("credentials", "keys"))
        if credentials not in ("keys", "default", "anonymous"):
            raise ConfigError(f"{where}: source {name!r}: credentials must be keys, default or anonymous")
        if credentials == "keys" and (refs["access_key"] is None or refs["secret_key"] is None):
            raise ConfigError(
                f"{where}: S3 source {name!r} needs access_key_env and secret_key_env (or *_file); "
                "or `credentials: default` for boto3's own chain, `credentials: anonymous` for a public bucket"
            )
        if urlsplit(str(spec.get("endpoint_url", "") or "")).password:
            raise ConfigError(f"{where}: source {name!r}: endpoint_url holds a password; use access_key_env/secret_key_env instead")
        style = str(spec.get("addressing_style", ""))
        if style not in ("", "path", "virtual", "auto"):
            raise ConfigError(f"{where}: source {name!r}: addressing_style must be path, virtual or auto")
        return cls(
            **options, bucket=bucket.strip(), prefix=str(spec.get("prefix", "") or "").lstrip("/"),
            endpoint_url=str(spec.get("endpoint_url", "") or ""), region=str(spec.get("region", "us-east-1")),
            access_key=refs["access_key"], secret_key=refs["secret_key"], session_token=refs["session_token"],
            credentials=credentials, tag_groups=str(spec.get("tag_groups", "") or ""), verify_tls=bool(spec.get("verify_tls", True)),
            ca_bundle=str(spec.get("ca_bundle", "") or ""), addressing_style=style,
        )  # fmt: skip

    @property
    def location(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def describe(self) -> dict[str, Any]:
        out = {**super().describe(), "bucket": self.bucket, "prefix": self.prefix, "endpoint_url": mask_url(self.endpoint_url),
               "region": self.region, "credentials": self.credentials, "tag_groups": self.tag_groups}  # fmt: skip
        for ref in (self.access_key, self.secret_key, self.session_token):
            if ref is not None:
                out.update(ref.describe())
        return out

    # -- the client ------------------------------------------------------------------------------
    def client(self) -> Any:
        try:
            import boto3
            from botocore import UNSIGNED
            from botocore.config import Config
        except ImportError as exc:  # pragma: no cover - boto3 is a dependency
            raise InputError("the S3 source needs boto3: pip install boto3 (scripts/install.sh installs it)") from exc
        style = self.addressing_style or ("path" if self.endpoint_url else "auto")
        config = Config(connect_timeout=self.timeout_s, read_timeout=self.timeout_s, retries={"max_attempts": 2, "mode": "standard"},
                        s3={"addressing_style": style}, signature_version=UNSIGNED if self.credentials == "anonymous" else None,
                        user_agent_extra="lore")  # fmt: skip
        kwargs: dict[str, Any] = {"region_name": self.region, "config": config}
        if self.endpoint_url:
            kwargs["endpoint_url"] = self.endpoint_url
        if not self.verify_tls:
            kwargs["verify"] = False
        elif self.ca_bundle:
            kwargs["verify"] = self.ca_bundle
        if self.credentials == "keys":
            assert self.access_key is not None and self.secret_key is not None
            kwargs["aws_access_key_id"] = self.access_key.read()
            kwargs["aws_secret_access_key"] = self.secret_key.read()
            if self.session_token is not None:
                kwargs["aws_session_token"] = self.session_token.read()
        # A session of its own: nothing from another source's (or the environment's) default session.
        return boto3.session.Session().client("s3", **kwargs)

    def explain(self, exc: BaseException) -> str:
        """One line that names the fix, for an error of the whole listing."""
        from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError, ConnectTimeoutError, ReadTimeoutError, SSLError

        endpoint = mask_url(self.endpoint_url) or "AWS S3"
        if isinstance(exc, (EndpointConnectionError, ConnectTimeoutError)):
            return f"cannot reach the S3 endpoint {endpoint}: check endpoint_url and that the server runs"
        if isinstance(exc, ReadTimeoutError):
            return f"the S3 endpoint {endpoint} did not answer within timeout_s={self.timeout_s:g}s: check the server or raise timeout_s"
        if isinstance(exc, SSLError):
            return f"TLS to {endpoint} failed ({exc}): set ca_bundle to your CA file (or verify_tls: false on a trusted network)"
        if isinstance(exc, NoCredentialsError):
            return "no S3 credentials found: set access_key_env and secret_key_env in sources.yaml"
        if isinstance(exc, ClientError):
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code == "NoSuchBucket":
                return f"bucket {self.bucket!r} does not exist at {endpoint}: check `bucket` in sources.yaml"
            if code in CREDENTIAL_ERRORS:
                where = ", ".join(r.origin for r in (self.access_key, self.secret_key) if r is not None) or "the credentials"
                return f"S3 refused the credentials for bucket {self.bucket!r} ({code}): check {where}"
            return f"S3 error listing bucket {self.bucket!r} ({code or exc.__class__.__name__}): check the bucket and endpoint_url"
        return f"S3 listing of {self.location} failed ({exc.__class__.__name__}: {exc}): run again"

    # -- listing and downloads -------------------------------------------------------------------
    def collect(self, ctx: Collection) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        client = self.client()
        root = f"s3://{self.bucket}/{self.prefix}"
        try:
            for obj in self._objects(client):
                self._item(ctx, client, obj, root)
        except (BotoCoreError, ClientError) as exc:
            raise SourceUnavailable(f"source {self.name!r}: {self.explain(exc)}") from exc
        ctx.scope(root)

    def _objects(self, client: Any) -> Iterator[dict[str, Any]]:
        paginator = client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
            yield from page.get("Contents", []) or []

    def _item(self, ctx: Collection, client: Any, obj: dict[str, Any], root: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        key = obj["Key"]
        rel = key[len(self.prefix) :].lstrip("/")
        base = rel.rsplit("/", 1)[-1]
        if not rel or key.endswith("/") or base.startswith(SKIP_PREFIXES) or not self._included(rel):
            return
        path = f"s3://{self.bucket}/{key}"
        display = f"{self.name}/{rel}"
        modified = obj["LastModified"]
        token = f"{obj.get('ETag', '')}@{modified.isoformat()}"
        try:
            groups = ctx.groups_for(rel, self._tag_groups(client, key, path))
        except ConfigError as exc:
            ctx.fail(path, str(exc))
            return
        except (BotoCoreError, ClientError) as exc:
            ctx.fail(path, f"cannot read the object's tags ({_code(exc)}): grant s3:GetObjectTagging or drop tag_groups")
            return
        row = ctx.current(path, token, groups)
        if row is not None:
            ctx.unchanged(path, display, root, row)
            return
        size = int(obj.get("Size", 0))
        if size > ctx.cap_bytes:
            ctx.fail(path, too_large(size, ctx.cap_bytes))
            return
        dest = ctx.stage(path, base)
        try:
            response = client.get_object(Bucket=self.bucket, Key=key, IfMatch=obj["ETag"]) if obj.get("ETag") else client.get_object(Bucket=self.bucket, Key=key)
            body = response["Body"]
            try:
                ctx.write(iter(lambda: body.read(1 << 20), b""), dest, path)
            finally:
                body.close()
        except DownloadError as exc:
            ctx.fail(path, str(exc))
            return
        except (BotoCoreError, ClientError) as exc:
            code = _code(exc)
            if code in ("PreconditionFailed", "412"):
                ctx.fail(path, "changed while it was downloaded: it is read on the next run")
            elif code in ("NoSuchKey", "404"):
                ctx.gone(path)  # deleted between listing and download
            else:
                ctx.fail(path, f"download failed ({code}): check the object's permissions (s3:GetObject); retried on the next run")
            return
        ctx.downloaded(path, display, root, dest, token, modified.timestamp(), groups)

    def _included(self, rel: str) -> bool:
        from ingest.globs import any_match

        return any_match(self.include, rel) and not any_match(self.exclude, rel)

    def _tag_groups(self, client: Any, key: str, path: str) -> tuple[str, ...] | None:
        """Groups from the object's `tag_groups` tag (names separated by spaces or '+': tag values
        allow no commas), or None when the tag is not set."""
        if not self.tag_groups:
            return None
        tags = client.get_object_tagging(Bucket=self.bucket, Key=key).get("TagSet", [])
        for tag in tags:
            if tag.get("Key") == self.tag_groups:
                return parse_groups(str(tag.get("Value", "")).replace("+", " "), f"{path} tag {self.tag_groups}")
        return None


def _code(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", "")) or exc.__class__.__name__
    return exc.__class__.__name__
