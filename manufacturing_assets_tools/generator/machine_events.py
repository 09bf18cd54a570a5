"""Clean machine events (contract 3.3): one event per state change of a machine's timeline."""

from __future__ import annotations

from .master import Machine, fmt_ts
from .records import Sample, us


def add_machine_events(sample: Sample, m: Machine) -> None:
    """Every state change of machine ``m`` (the timeline of :mod:`.master`)."""
    for t, state, reason in m.events:
        fields = {
            "machine_id": m.machine_id,
            "plant_id": m.plant_id,
            "ts": fmt_ts(t, m.zone, "seconds"),
            "state": state,
            "reason_code": reason,
        }
        rec = sample.new("machine_events", m.plant_id, fields, t)
        sample.register(rec, (m.machine_id, us(t)))
