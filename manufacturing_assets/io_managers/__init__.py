"""IO managers: the lake's own Delta Lake IO manager (and the warehouse one)."""

from manufacturing_assets.io_managers.delta import (
    DeltaLakeIOManager,
    read_delta_partitions,
    write_delta_partitions,
)

__all__ = ["DeltaLakeIOManager", "read_delta_partitions", "write_delta_partitions"]
