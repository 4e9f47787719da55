"""JSONL on disk: validated on write and on read, written atomically so a
killed job never leaves a half-written dataset that a later rule would trust."""

import json
from pathlib import Path

from kvroute import io as kvio

from .schema import validate_record


def write_jsonl(records, path) -> None:
    records = list(records)
    for rec in records:  # all checked before anything is written
        validate_record(rec)
    kvio.write_jsonl(records, path)


def load_jsonl(path) -> list[dict]:
    """Read and validate a dataset (one record per line, blank lines ignored).

    Every problem is raised as ``ValueError("<path>:<line>: <problem>")``:
    bad UTF-8, malformed JSON, and any contract breach ``validate_record``
    finds (missing/extra keys, bad tags, bad evidence spans, ...), plus a
    passage_id used twice in one file.  See docs/dataset-format.md."""
    path, records, seen = Path(path), [], {}
    with open(path, "rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            try:
                line = raw.decode("utf-8")
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"malformed JSON ({exc.msg} at column {exc.colno})") from exc
                validate_record(rec)
                if rec["passage_id"] in seen:
                    raise ValueError(f"passage_id {rec['passage_id']!r} already used on line {seen[rec['passage_id']]}")
            except UnicodeDecodeError as exc:
                raise ValueError(f"{path}:{lineno}: not UTF-8 ({exc.reason} at byte {exc.start})") from exc
            except (ValueError, TypeError, KeyError) as exc:  # JSONDecodeError is a ValueError
                raise ValueError(f"{path}:{lineno}: {exc}") from exc
            seen[rec["passage_id"]] = lineno
            records.append(rec)
    return records
