"""IO managers: the lake's own Delta Lake IO manager (`delta.py`) and its schema policy."""

from manufacturing_assets.io_managers.delta import (
    DeltaLakeIOManager,
    read_delta_partitions,
    write_delta_partitions,
)

__all__ = ["DeltaLakeIOManager", "read_delta_partitions", "write_delta_partitions"]
