"""Files written whole or not at all: a temporary file in the same folder, then a rename."""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np


def _umask() -> int:
    """The process's umask (POSIX offers no read-only query: set and restored at once)."""
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


@contextmanager
def atomic_write(path: Path, mode: str = "w"):
    """Open a temporary file beside ``path`` and move it into place only when the block succeeds: a reader
    (or a killed run) sees the old file or the new one, never half of one. The file gets the permissions a plain
    ``open()`` would give it (0666 less the umask), so collaborators can read what a run writes."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, mode) as fh:
            yield fh
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600: give the file the mode open() would
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, obj) -> None:
    """JSON, written with :func:`atomic_write`."""
    with atomic_write(path) as fh:
        json.dump(obj, fh, indent=2)


def savez_atomic(path: Path, **arrays) -> None:
    """``np.savez``, written with :func:`atomic_write`."""
    with atomic_write(path, "wb") as fh:
        np.savez(fh, **arrays)
