"""JSONL on disk: validated on write and on read, written atomically so a
killed job never leaves a half-written dataset that a later rule would trust."""

import json
import os
import tempfile
from pathlib import Path

from .schema import validate_record


def write_jsonl(records, path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = []
    for rec in records:
        validate_record(rec)
        lines.append(json.dumps(rec, sort_keys=True, ensure_ascii=False) + "\n")
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.writelines(lines)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load_jsonl(path) -> list[dict]:
    path, records = Path(path), []
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                validate_record(rec)
            except ValueError as exc:  # JSONDecodeError is a ValueError
                raise ValueError(f"{path}:{lineno}: {exc}") from exc
            records.append(rec)
    return records
