"""Sample landing-zone generator: all raw streams, daily master data and bad input.

    from manufacturing_assets.generator import generate_landing_zone, GeneratorConfig
    manifest = generate_landing_zone(landing, GeneratorConfig())

See :mod:`manufacturing_assets.generator.landing` for the layout and the bad-input
kinds recorded in the manifest.
"""

from .benchmark import generate_sensor_readings_benchmark
from .config import (
    BAD_INPUT_KINDS,
    DEFAULT_PLANTS,
    ENTITIES,
    ENTITY_COLUMNS,
    FILE_KINDS,
    RECORD_KINDS,
    STREAMS,
    GeneratorConfig,
    PlantSpec,
)
from .landing import generate_landing_zone

__all__ = [
    "BAD_INPUT_KINDS",
    "DEFAULT_PLANTS",
    "ENTITIES",
    "ENTITY_COLUMNS",
    "FILE_KINDS",
    "RECORD_KINDS",
    "STREAMS",
    "GeneratorConfig",
    "PlantSpec",
    "generate_landing_zone",
    "generate_sensor_readings_benchmark",
]
