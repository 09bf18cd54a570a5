"""The manifest: what was written, every bad record and file with its location, and the
history the tests check the pipeline against (also written as ``manifest.json``)::

    generator_version, config (GeneratorConfig.to_dict()), dates ["YYYY-MM-DD", ...],
    plants [{plant_id, timezone, machines, devices}],
    streams {stream: {files, records, partitions {plant_id: {date: {files, records,
        file_list [{key, format, records, bytes, sha256, [redelivery_of | corrupt_gzip |
        not_json_file]}]}}}}}          records = lines/rows as delivered (a corrupt gzip
                                       counts 0, the not-JSON page 1 line)
    reference {entity: {columns, snapshots {date: {key, rows}}}}
    bad_input {stream: {kind: count}}  every kind of BAD_INPUT_KINDS[stream], 0 if none
    bad_records [{stream, kind, variant, plant_id, date (folder), production_date (of the
        ts as written; null if missing/unparseable/malformed), key, line,
        [original_key, original_line]}]
    bad_files [{stream, kind, plant_id, date, key}]
    redelivered_records [{stream, key, line, original_key, original_line}]
    redelivered_files [{stream, plant_id, date, original_key, copy_key, records, sha256}]
    empty_partitions [{stream, plant_id, date}]
    history {machine_tonnage_change, mold_changes, company_rename, states_spanning_midnight}
"""

from __future__ import annotations

from typing import Any

from .config import BAD_INPUT_KINDS, STREAMS
from .master import day_bounds
from .records import Sample

GENERATOR_VERSION = 1


def build_manifest(sample: Sample, reference: dict) -> dict:
    """The manifest of a written sample (``reference``: from :mod:`.reference`)."""
    bad_records, redelivered_records = _bad_records(sample)
    _check_counts(sample, bad_records)
    w = sample.world
    return {
        "generator_version": GENERATOR_VERSION,
        "config": sample.config.to_dict(),
        "plants": [
            {
                "plant_id": p.plant_id,
                "timezone": p.spec.timezone,
                "machines": [m.machine_id for m in p.machines],
                "devices": [m.device_id for m in p.machines],
            }
            for p in w.plants
        ],
        "dates": [d.isoformat() for d in sample.dates],
        "streams": _streams(sample),
        "reference": reference,
        "bad_input": {s: dict(sample.bad_counts[s]) for s in STREAMS},
        "bad_records": bad_records,
        "bad_files": sorted(
            sample.bad_files, key=lambda f: (f["stream"], f["kind"], f["key"] or "")
        ),
        "redelivered_records": redelivered_records,
        "redelivered_files": sorted(sample.redelivered_files, key=lambda f: f["copy_key"]),
        "empty_partitions": [
            {"stream": s, "plant_id": p, "date": d.isoformat()} for s, p, d in sorted(sample.empty)
        ],
        "history": {
            "machine_tonnage_change": w.tonnage_change,
            "mold_changes": w.mold_changes,
            "company_rename": w.company_rename,
            "states_spanning_midnight": _spanning_midnight(sample),
        },
    }


def _streams(sample: Sample) -> dict[str, Any]:
    streams: dict[str, Any] = {}
    for s in STREAMS:
        parts: dict[str, Any] = {}
        tot_files = tot_recs = 0
        for p in sample.plant_ids:
            parts[p] = {}
            for d in sample.dates:
                files = sample.manifest_files[s][p][d.isoformat()]
                n = sum(f["records"] for f in files)
                parts[p][d.isoformat()] = {
                    "files": len(files),
                    "records": n,
                    "file_list": files,
                }
                tot_files += len(files)
                tot_recs += n
        streams[s] = {"files": tot_files, "records": tot_recs, "partitions": parts}
    return streams


def _bad_records(sample: Sample) -> tuple[list[dict], list[dict]]:
    """``bad_records`` and ``redelivered_records``, sorted, with their file locations."""
    bad_records = []
    redelivered_records = []
    for s in STREAMS:
        for x in sample.records[s]:
            if x.kind is None:
                continue
            assert x.location is not None, (s, x.kind)
            entry = {
                "stream": s,
                "kind": x.kind,
                "variant": x.variant,
                "plant_id": x.plant_id,
                "date": x.folder.isoformat(),
                "production_date": x.production_date.isoformat() if x.production_date else None,
                "key": x.location[0],
                "line": x.location[1],
            }
            bad_records.append(entry)
            if x.kind == "duplicate_record":
                orig = next(o for o in sample.records[s] if o.rid == x.dup_of)
                assert orig.location is not None
                entry["original_key"], entry["original_line"] = orig.location
                redelivered_records.append(
                    {
                        "stream": s,
                        "key": x.location[0],
                        "line": x.location[1],
                        "original_key": orig.location[0],
                        "original_line": orig.location[1],
                    }
                )
    bad_records.sort(key=lambda e: (e["stream"], e["kind"], e["key"], e["line"]))
    redelivered_records.sort(key=lambda e: (e["stream"], e["key"], e["line"]))
    return bad_records, redelivered_records


def _check_counts(sample: Sample, bad_records: list[dict]) -> None:
    """Per-record counts are authoritative from the records themselves."""
    for s in STREAMS:
        counted = dict.fromkeys(BAD_INPUT_KINDS[s], 0)
        for e in bad_records:
            if e["stream"] == s:
                counted[e["kind"]] += 1
        for f in sample.bad_files:
            if f["stream"] == s:
                counted[f["kind"]] += 1
        assert counted == sample.bad_counts[s], (s, counted, sample.bad_counts[s])


def _spanning_midnight(sample: Sample) -> int:
    """Machine states that began before a plant-local midnight and run across it."""
    n = 0
    for p in sample.world.plants:
        for d in sample.dates[1:]:
            midnight = day_bounds(d, p.zone)[0]
            for m in p.machines:
                before = [e for e in m.events if e[0] < midnight]
                if before and all(e[0] != midnight for e in m.events):
                    n += 1
    return n
