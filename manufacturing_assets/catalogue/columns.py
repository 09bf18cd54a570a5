"""Column groups several tables share (partition keys, lineage, SCD2 validity)."""

from __future__ import annotations

from manufacturing_assets.catalogue.model import BOOL, DATE, INT, STRING, UTC_TS, Column

PLANT = Column("plant_id", STRING, "Plant of the landing folder (partition).", nullable=False)
PRODUCTION_DATE = Column(
    "production_date", DATE, "Plant-local date of the event (partition).", nullable=False
)
LANDING_DATE = Column("landing_date", DATE, "Lineage: the `date=` folder.", nullable=False)
MACHINE = Column("machine_id", STRING, "Machine.", nullable=False)

SOURCE = Column(
    "source",
    STRING,
    "Lineage: landing file key or `kafka://topic/partition/offset`.",
    nullable=False,
)
FILE_HASH = Column("file_hash", STRING, "Lineage: sha256 of the landed file.")
LINE_NUMBER = Column(
    "line_number",
    INT,
    "Lineage: line in the source file (CSV header = 1; 0: the whole file was unreadable).",
    nullable=False,
)
INGESTED_AT = Column("ingested_at", UTC_TS, "Lineage: when bronze read the file.", nullable=False)
LINEAGE = (SOURCE, FILE_HASH, LINE_NUMBER, INGESTED_AT)

# silver event streams: what every de-duplicated record carries after its own columns
DELIVERIES = Column(
    "deliveries", INT, "Copies of the record that arrived (>= 1).", nullable=False, ge=1
)
RECORD_PLANT = Column(
    "record_plant_id", STRING, "plant_id as sent in the record (may disagree: flagged)."
)
SILVER_LINEAGE = (DELIVERIES, RECORD_PLANT, LANDING_DATE, *LINEAGE)

VALID_FROM = Column(
    "valid_from", DATE, "First snapshot date of the version (inclusive).", nullable=False
)
VALID_TO = Column(
    "valid_to",
    DATE,
    "Exclusive end: the snapshot date of the next change or of the first snapshot the key is "
    "missing from; null while current.",
)
IS_CURRENT = Column("is_current", BOOL, "True exactly when valid_to is null.", nullable=False)
SCD2 = (VALID_FROM, VALID_TO, IS_CURRENT)
