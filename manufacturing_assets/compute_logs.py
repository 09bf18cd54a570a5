"""Compute logs (``compute_logs`` in ``dagster.yaml``): on S3 when a bucket is configured,
in local files otherwise.

``dagster.yaml`` cannot choose a class by environment, and a ``{env: ...}`` value fails when
the variable is unset, so this small configurable class decides when an instance is loaded
(webserver, daemon, code server and every run worker load it from the same file):

- ``MA_COMPUTE_LOGS_BUCKET`` set: ``dagster-aws``'s ``S3ComputeLogManager`` writes each
  step's stdout/stderr to ``s3://<bucket>/<MA_COMPUTE_LOGS_PREFIX, default compute-logs>/``,
  on ``MA_S3_ENDPOINT_URL`` when set (MinIO, moto) and in ``AWS_REGION``; credentials come
  from the AWS chain of the process (never from the file);
- otherwise: ``LocalComputeLogManager`` under ``local_dir`` (default
  ``$DAGSTER_HOME/storage``, Dagster's own default).

The webserver reads the logs it shows from the same place, so in a deployment it needs the
same variables (and, for S3, read access to the bucket).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from dagster import Field, StringSource
from dagster._core.storage.compute_log_manager import ComputeLogManager
from dagster._core.storage.local_compute_log_manager import LocalComputeLogManager
from dagster._serdes import ConfigurableClass, ConfigurableClassData

BUCKET_VAR = "MA_COMPUTE_LOGS_BUCKET"
PREFIX_VAR = "MA_COMPUTE_LOGS_PREFIX"
DEFAULT_PREFIX = "compute-logs"


def local_dir_default() -> str:
    home = os.environ.get("DAGSTER_HOME", "").strip()
    if not home:
        raise RuntimeError(
            "DAGSTER_HOME is not set: compute_logs (manufacturing_assets.compute_logs) needs it, "
            "or a local_dir in its config"
        )
    return os.path.join(home, "storage")


class ComputeLogs(ComputeLogManager, ConfigurableClass):
    """Chooses the compute log manager when the instance loads (module docstring); never
    instantiated itself."""

    @classmethod
    def config_type(cls) -> dict[str, Any]:
        return {
            "local_dir": Field(
                StringSource,
                is_required=False,
                description="Folder of local compute logs (default $DAGSTER_HOME/storage); "
                "with S3, the staging folder before upload.",
            )
        }

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData, config_value: Mapping[str, Any]
    ) -> ComputeLogManager:  # type: ignore[override]
        local_dir = config_value.get("local_dir") or local_dir_default()
        bucket = os.environ.get(BUCKET_VAR, "").strip()
        if not bucket:
            return LocalComputeLogManager(base_dir=local_dir, inst_data=inst_data)
        from dagster_aws.s3.compute_log_manager import S3ComputeLogManager

        endpoint = os.environ.get("MA_S3_ENDPOINT_URL", "").strip() or None
        region = (
            os.environ.get("AWS_REGION", "").strip()
            or os.environ.get("AWS_DEFAULT_REGION", "").strip()
            or None
        )
        return S3ComputeLogManager(
            bucket=bucket,
            prefix=os.environ.get(PREFIX_VAR, "").strip() or DEFAULT_PREFIX,
            local_dir=os.path.join(local_dir, "s3-staging"),
            endpoint_url=endpoint,
            use_ssl=not (endpoint or "").startswith("http://"),
            region=region,
            inst_data=inst_data,
        )
