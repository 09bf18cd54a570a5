"""The S3 connection of the landing zone, the Delta IO manager and the landing ledger.

:class:`S3Connection` (endpoint, region, credentials) is a nested part of the configuration
of each resource whose root is on S3. The landing zone takes its boto3 client from it
(built by ``dagster_aws.s3.S3Resource``: a client of its own session, standard retries)
and the Delta IO manager and the ledger derive their delta-rs ``storage_options`` from it
when they open a table, so no credential is ever a value in a resource's configuration.

Credentials are given as Dagster ``EnvVar`` (``environment.py``): the UI and the job
snapshots in the run database show ``{"env": "AWS_SECRET_ACCESS_KEY"}``, never the secret,
and Dagster reads the variable in the process that runs the step or the sensor. A resource
used outside Dagster (the CLI, tools, tests) still holds the ``EnvVar``: :func:`resolved`
reads it when the value is used.

It is a nested ``Config``, not a nested ``S3Resource``: Dagster treats every resource with
a nested resource as a context-manager resource, which ``build_sensor_context(resources=
...)`` then only accepts inside a ``with`` block (tests and scripts build sensor contexts
with the landing zone and the ledger directly).
"""

from __future__ import annotations

from typing import Any

from dagster import Config, EnvVar
from dagster_aws.s3 import S3Resource
from pydantic import Field

DEFAULT_REGION = "us-east-1"

# delta-rs (object_store) option -> S3Connection field holding a credential
_CREDENTIAL_OPTIONS = {
    "AWS_ACCESS_KEY_ID": "aws_access_key_id",
    "AWS_SECRET_ACCESS_KEY": "aws_secret_access_key",
    "AWS_SESSION_TOKEN": "aws_session_token",
}


def resolved(value: Any) -> Any:
    """The value of a Dagster ``EnvVar`` read now (None when the variable is unset); any
    other value unchanged (inside a run or a sensor Dagster has already resolved it)."""
    return value.get_value() if isinstance(value, EnvVar) else value


class S3Connection(Config):
    """Where an S3 (or S3-compatible) store is and how to sign in. Unset credentials are
    left to the AWS credential chain (instance profile, ``~/.aws``, ...)."""

    endpoint_url: str | None = Field(
        default=None, description="S3-compatible endpoint (MinIO, moto ...); None: AWS."
    )
    region_name: str = DEFAULT_REGION
    aws_access_key_id: str | None = Field(default=None, description="An EnvVar, never a value.")
    aws_secret_access_key: str | None = Field(default=None, description="An EnvVar, never a value.")
    aws_session_token: str | None = Field(default=None, description="An EnvVar, never a value.")

    def client(self) -> Any:
        """A boto3 S3 client (thread-safe), credentials read now."""
        return S3Resource(
            endpoint_url=resolved(self.endpoint_url),
            region_name=resolved(self.region_name) or DEFAULT_REGION,
            aws_access_key_id=resolved(self.aws_access_key_id),
            aws_secret_access_key=resolved(self.aws_secret_access_key),
            aws_session_token=resolved(self.aws_session_token),
        ).get_client()

    def delta_storage_options(self) -> dict[str, str]:
        """delta-rs storage options for ``s3://`` tables, credentials read now."""
        opts = {"AWS_REGION": resolved(self.region_name) or DEFAULT_REGION}
        endpoint = resolved(self.endpoint_url)
        if endpoint:
            opts["AWS_ENDPOINT_URL"] = endpoint
            if endpoint.startswith("http://"):
                opts["AWS_ALLOW_HTTP"] = "true"
        for option, field in _CREDENTIAL_OPTIONS.items():
            value = resolved(getattr(self, field))
            if value:
                opts[option] = value
        return opts


def s3_client(s3: S3Connection | None) -> Any:
    """A boto3 S3 client for the connection (None: the ambient AWS configuration)."""
    return (s3 or S3Connection()).client()


def delta_storage_options(s3: S3Connection | None) -> dict[str, str]:
    """delta-rs storage options (``{}`` without a connection: a local lake, or S3 with the
    ambient AWS configuration)."""
    return s3.delta_storage_options() if s3 is not None else {}
