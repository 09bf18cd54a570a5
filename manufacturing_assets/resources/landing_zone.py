"""The landing zone: one resource, a local folder or an S3 bucket, same interface.

Assets and sensors only ever talk to :class:`LandingZone`; whether the objects live in a
folder on this machine or in S3 (or an S3-compatible store reached through the nested
``S3Connection``'s ``endpoint_url``; credentials as ``EnvVar``, ``resources/s3.py``) is
configuration.

A local landing zone never follows a symbolic link below its root (the root itself may be
one): a linked file or folder is not listed but reported as refused
(:class:`RefusedObject`, a warning in the log), whatever it points at, and reading, writing
or testing a key whose path goes through a link (or leaves the root with ``..`` or an
absolute path) raises :class:`UnsafeKeyError`. Anything else that is not a regular file
(a FIFO, a socket, a device) is refused too. So a link can neither expose a file elsewhere
on the machine nor make one object appear under two keys.
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path, PurePosixPath
from typing import Any

from dagster import ConfigurableResource
from pydantic import Field, PrivateAttr

from manufacturing_assets.resources.s3 import S3Connection, s3_client

log = logging.getLogger("manufacturing_assets.landing")


@dataclass(frozen=True)
class LandedObject:
    """One immutable object in the landing zone."""

    key: str  # relative key, e.g. raw/sensor_readings/plant=P01/date=2024-03-04/b1.jsonl
    size: int
    etag: str  # S3 ETag, or size+mtime fingerprint locally (content hash is computed on read)
    last_modified: float  # epoch seconds


@dataclass(frozen=True)
class RefusedObject:
    """An entry of a local landing zone that is not read (never listed as an object)."""

    key: str  # relative key of the link or file
    reason: str  # e.g. "symbolic link to the file /etc/passwd (outside the landing root): ..."


class UnsafeKeyError(ValueError):
    """A key that does not name a plain file inside the local landing root (absolute,
    ``..``, or through a symbolic link)."""


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class LandingZone(ConfigurableResource):
    """Object store holding `raw/` and `reference/` (data contract section 2).

    ``root`` is a local path (``/data/landing``) or ``s3://bucket/prefix``.
    """

    root: str = Field(description="A local folder or s3://bucket/prefix.")
    s3: S3Connection | None = Field(
        default=None,
        description="S3 connection (endpoint, region; credentials as EnvVar) for an s3:// "
        "root; None: the ambient AWS configuration.",
    )

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
        """The boto3 client (thread-safe; created once, credentials read then)."""
        if self._client is None:
            self._client = s3_client(self.s3)
        return self._client

    # ---- local paths ----------------------------------------------------------------
    @property
    def _real_root(self) -> Path:
        """The root with every link in it resolved (the root itself may be a link); read
        on every use, the root may be created or moved after the resource."""
        return Path(os.path.realpath(self.root))

    def _local_path(self, key: str) -> Path:
        """The path of ``key`` below the root; :class:`UnsafeKeyError` when the key is
        absolute, climbs with ``..`` or goes through a symbolic link."""
        parts = PurePosixPath(key).parts
        if not parts or PurePosixPath(key).is_absolute() or ".." in parts:
            raise UnsafeKeyError(f"landing key {key!r} does not name a file below the root")
        path = self._real_root.joinpath(*parts)
        # realpath resolves every existing link on the way: a different path means a link
        if os.path.realpath(path) != str(path):
            raise UnsafeKeyError(
                f"landing key {key!r} goes through a symbolic link "
                f"({self.describe(key)} -> {os.path.realpath(path)}); links are not followed"
            )
        return path

    def describe(self, key: str = "") -> str:
        """A human-readable location (used in metadata and messages)."""
        if self.is_s3:
            bucket, prefix = self._bucket_prefix
            return f"s3://{bucket}/{prefix}{key}"
        return str(Path(self.root) / key)

    # ---- listing ------------------------------------------------------------------
    def list_objects(
        self, prefix: str = "", refused: list[RefusedObject] | None = None
    ) -> Iterator[LandedObject]:
        """Every object whose key starts with ``prefix``, in key order.

        Locally, entries that are not read (symbolic links, FIFOs ...) are logged as
        warnings and, when ``refused`` is given, appended to it with the reason (once the
        listing has been consumed)."""
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
        yield from self._list_local(prefix, refused)

    def _list_local(self, prefix: str, refused: list[RefusedObject] | None) -> list[LandedObject]:
        root = self._real_root
        start = root / prefix if prefix and prefix.endswith("/") else root
        base_dir = start if start.is_dir() else (root / prefix).parent
        found: list[LandedObject] = []
        skipped: list[RefusedObject] = []

        def refuse(path: Path, reason: str) -> None:
            key = path.relative_to(root).as_posix()
            if key.startswith(prefix) or prefix.startswith(key + "/"):
                skipped.append(RefusedObject(key, reason))

        if os.path.realpath(base_dir) != str(base_dir):  # the prefix goes through a link
            rel = base_dir.relative_to(root)
            link = next(root / p for p in [*reversed(rel.parents), rel] if (root / p).is_symlink())
            refuse(link, _link_reason(root, link))
        elif base_dir.exists():
            for dirpath, dirnames, filenames in os.walk(base_dir):
                here = Path(dirpath)
                for name in list(dirnames):
                    if (here / name).is_symlink():  # os.walk lists links to folders here
                        dirnames.remove(name)
                        refuse(here / name, _link_reason(root, here / name))
                for name in filenames:
                    if name.startswith(".") or name.endswith(".tmp"):
                        continue
                    full = here / name
                    key = full.relative_to(root).as_posix()
                    if not key.startswith(prefix):
                        continue
                    st = full.lstat()
                    if stat.S_ISLNK(st.st_mode):
                        refuse(full, _link_reason(root, full))
                    elif not stat.S_ISREG(st.st_mode):
                        refuse(full, "not a regular file (a FIFO, socket or device): not read")
                    else:
                        found.append(
                            LandedObject(
                                key, st.st_size, f"{st.st_size}-{st.st_mtime_ns}", st.st_mtime
                            )
                        )
        for item in skipped:
            log.warning("landing zone %s: %s not read: %s", self.root, item.key, item.reason)
        if refused is not None:
            refused.extend(skipped)
        return sorted(found, key=lambda o: o.key)

    # ---- reading / writing -----------------------------------------------------------
    def read_bytes(self, key: str) -> bytes:
        if self.is_s3:
            bucket, base = self._bucket_prefix
            return self._s3().get_object(Bucket=bucket, Key=base + key)["Body"].read()
        return _read_plain_file(self._local_path(key), key)

    def write_bytes(self, key: str, data: bytes) -> None:
        """Write an object atomically (readers never see a half-written file)."""
        if self.is_s3:
            bucket, base = self._bucket_prefix
            self._s3().put_object(Bucket=bucket, Key=base + key, Body=data)
            return
        path = self._local_path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._local_path(key)  # no link raced in while the folders were made
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
        try:
            return self._local_path(key).exists()
        except UnsafeKeyError:
            return False

    def ensure_bucket(self) -> None:
        """Create the bucket if it does not exist (local development and tests)."""
        if self.is_s3:
            bucket, _ = self._bucket_prefix
            existing = {b["Name"] for b in self._s3().list_buckets().get("Buckets", [])}
            if bucket not in existing:
                self._s3().create_bucket(Bucket=bucket)
        else:
            Path(self.root).mkdir(parents=True, exist_ok=True)


def _link_reason(root: Path, link: Path) -> str:
    target = Path(os.path.realpath(link))
    where = "inside" if target.is_relative_to(root) else "outside"
    what = "folder" if target.is_dir() else "file" if target.exists() else "missing path"
    return (
        f"symbolic link to the {what} {target} ({where} the landing root): links are not followed"
    )


def _read_plain_file(path: Path, key: str) -> bytes:
    """The bytes of a regular file, never through a link (``O_NOFOLLOW``: a link swapped
    in after the path was checked is refused too) and never blocking on a FIFO."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except OSError as error:
        if os.path.islink(path):
            raise UnsafeKeyError(f"landing key {key!r} is a symbolic link: not followed") from None
        raise error
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise UnsafeKeyError(f"landing key {key!r} is not a regular file")
        return fh.read()
