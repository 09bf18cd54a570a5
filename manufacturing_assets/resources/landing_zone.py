"""The landing zone: one resource, a local folder or an S3 bucket, same interface.

Assets and sensors only ever talk to :class:`LandingZone`; whether the objects live in a
folder on this machine or in S3 (or an S3-compatible store reached through
``endpoint_url``) is configuration.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from dagster import ConfigurableResource
from pydantic import PrivateAttr


@dataclass(frozen=True)
class LandedObject:
    """One immutable object in the landing zone."""

    key: str  # relative key, e.g. raw/sensor_readings/plant=P01/date=2024-03-04/b1.jsonl
    size: int
    etag: str  # S3 ETag, or size+mtime fingerprint locally (content hash is computed on read)
    last_modified: float  # epoch seconds


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class LandingZone(ConfigurableResource):
    """Object store holding `raw/` and `reference/` (data contract section 2).

    ``root`` is a local path (``/data/landing``) or ``s3://bucket/prefix``.
    """

    root: str
    endpoint_url: str | None = None
    region_name: str | None = None
    aws_access_key_id: str | None = None
    aws_secret_access_key: str | None = None

    _client: Any = PrivateAttr(default=None)

    # ---- location -----------------------------------------------------------------
    @property
    def is_s3(self) -> bool:
        return self.root.startswith("s3://")

    @cached_property
    def _bucket_prefix(self) -> tuple[str, str]:
        rest = self.root[len("s3://") :]
        bucket, _, prefix = rest.partition("/")
        prefix = prefix.strip("/")
        return bucket, (prefix + "/") if prefix else ""

    def _s3(self) -> Any:
        if self._client is None:
            import boto3

            self._client = boto3.client(
                "s3",
                endpoint_url=self.endpoint_url,
                region_name=self.region_name or "us-east-1",
                aws_access_key_id=self.aws_access_key_id,
                aws_secret_access_key=self.aws_secret_access_key,
            )
        return self._client

    def describe(self, key: str = "") -> str:
        """A human-readable location (used in metadata and messages)."""
        if self.is_s3:
            bucket, prefix = self._bucket_prefix
            return f"s3://{bucket}/{prefix}{key}"
        return str(Path(self.root) / key)

    # ---- listing ------------------------------------------------------------------
    def list_objects(self, prefix: str = "") -> Iterator[LandedObject]:
        """Every object whose key starts with ``prefix``, in key order."""
        if self.is_s3:
            bucket, base = self._bucket_prefix
            paginator = self._s3().get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=bucket, Prefix=base + prefix):
                for item in page.get("Contents", []):
                    yield LandedObject(
                        key=item["Key"][len(base) :],
                        size=int(item["Size"]),
                        etag=str(item.get("ETag", "")).strip('"'),
                        last_modified=item["LastModified"].timestamp(),
                    )
            return
        root = Path(self.root)
        start = root / prefix if prefix and prefix.endswith("/") else root
        base_dir = start if start.is_dir() else (root / prefix).parent
        if not base_dir.exists():
            return
        found: list[LandedObject] = []
        for dirpath, _dirnames, filenames in os.walk(base_dir):
            for name in filenames:
                if name.startswith(".") or name.endswith(".tmp"):
                    continue
                full = Path(dirpath) / name
                key = full.relative_to(root).as_posix()
                if not key.startswith(prefix):
                    continue
                st = full.stat()
                found.append(
                    LandedObject(key, st.st_size, f"{st.st_size}-{st.st_mtime_ns}", st.st_mtime)
                )
        yield from sorted(found, key=lambda o: o.key)

    # ---- reading / writing -----------------------------------------------------------
    def read_bytes(self, key: str) -> bytes:
        if self.is_s3:
            bucket, base = self._bucket_prefix
            return self._s3().get_object(Bucket=bucket, Key=base + key)["Body"].read()
        return (Path(self.root) / key).read_bytes()

    def write_bytes(self, key: str, data: bytes) -> None:
        """Write an object atomically (readers never see a half-written file)."""
        if self.is_s3:
            bucket, base = self._bucket_prefix
            self._s3().put_object(Bucket=bucket, Key=base + key, Body=data)
            return
        path = Path(self.root) / key
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    def exists(self, key: str) -> bool:
        if self.is_s3:
            bucket, base = self._bucket_prefix
            try:
                self._s3().head_object(Bucket=bucket, Key=base + key)
            except self._s3().exceptions.ClientError:
                return False
            return True
        return (Path(self.root) / key).exists()

    def ensure_bucket(self) -> None:
        """Create the bucket if it does not exist (local development and tests)."""
        if self.is_s3:
            bucket, _ = self._bucket_prefix
            existing = {b["Name"] for b in self._s3().list_buckets().get("Buckets", [])}
            if bucket not in existing:
                self._s3().create_bucket(Bucket=bucket)
        else:
            Path(self.root).mkdir(parents=True, exist_ok=True)
