"""Sample landing-zone generator: all raw streams, daily master data and bad input.

    from manufacturing_assets_tools.generator import generate_landing_zone, GeneratorConfig
    manifest = generate_landing_zone(landing, GeneratorConfig())

See :mod:`.landing` for the layout and the steps, :mod:`.bad_input` for the bad-input
kinds and :mod:`.manifest` for the manifest.
"""

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
]
