"""The one write path for every artifact: a killed job never leaves a file that looks finished.

Everything is written to a temporary name beside the target and renamed into
place only on success. Temporaries are created private (mkstemp: 0600,
mkdtemp: 0700) and that mode would survive the rename, so the final mode is
set from the process umask first: outputs look like any ``open(..., "w")``
file (0644 / 0755 under umask 022) and stay readable by the group or by
another container user.

Writers that take a data object put it first, like ``write_csv(df, path)``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path


def _umask() -> int:
    # The only way to read the umask is to set it; restore it at once.
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = ""):
    """Yield a temporary path beside ``path``; move it into place only on success.

    The temporary lives in the same directory so the final ``os.replace`` is
    atomic on POSIX file systems; it keeps the target's suffix because some
    writers (numpy, matplotlib) choose or append a format by extension.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix or path.suffix, dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        with open(tmp, "rb") as fh:  # on disk before it gets the final name, so a crash can't expose a torn file
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike):
    """Yield a temporary directory beside ``path``; rename it into place on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_umask())
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path: str | os.PathLike, obj) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def write_jsonl(records, path: str | os.PathLike) -> None:
    """One JSON object per line, keys sorted, UTF-8 kept as is, "\\n" line ends."""
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8", newline="\n") as fh:
        for rec in records:
            fh.write(json.dumps(rec, sort_keys=True, ensure_ascii=False) + "\n")


def write_parquet(df, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        df.to_parquet(tmp, index=False)


def write_csv(df, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False)


def write_npz(arrays: dict, path: str | os.PathLike, compressed: bool = False) -> None:
    import numpy as np

    with atomic_path(path, suffix=".npz") as tmp:  # .npz suffix: numpy would append one otherwise
        (np.savez_compressed if compressed else np.savez)(tmp, **arrays)


def write_figure(fig, path: str | os.PathLike, fmt: str, **savefig_kwargs) -> None:
    """``fig.savefig`` in format ``fmt`` (pdf, png, ...) to ``path``."""
    with atomic_path(path, suffix=f".{fmt}") as tmp:
        fig.savefig(tmp, format=fmt, **savefig_kwargs)
