"""Is this process ready to take work? The readiness probe's checks, each answered by a yes or a no.

A check says only *whether*: never a path, a URL or an error message, because the probe is public (a kubelet
has no token) and an error text may name a file, a host or, from a database driver, data.
"""

from __future__ import annotations

import os
import tempfile
from enum import StrEnum
from pathlib import Path


class Check(StrEnum):
    DATABASE = "database"
    """The database answers a query."""
    SCHEMA = "schema"
    """The database's schema is at the newest migration this release ships."""
    SPOOL = "spool"
    """The spool folder can be listed and written (a file is created and removed)."""
    BROKER = "broker"
    """The RabbitMQ broker can be reached (only for a process started with `--broker`)."""


def spool_usable(root: Path) -> bool:
    """List the spool and write and remove a hidden file in it: a read-only, full or vanished file system
    fails here. The name starts with a dot, so no process ever takes it; `sweep_tmp` would remove a leftover."""
    try:
        os.listdir(root)
        fd, name = tempfile.mkstemp(prefix=".ready.", suffix=".tmp", dir=root)
        try:
            os.write(fd, b"ok")
        finally:
            os.close(fd)
            os.unlink(name)
    except OSError:
        return False
    return True
