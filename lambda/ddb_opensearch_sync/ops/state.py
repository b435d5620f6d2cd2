"""The operator commands' state on disk: one folder per command and target, atomic files.

A backfill's checkpoints and a reindex's state must survive a crash at any moment: every file
is replaced atomically (write a temporary file, fsync, rename), so a reader finds the old or
the new content, never half of one.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..core.settings import DEFAULT_STATE_DIR

__all__ = ["TEMPORARY_GLOB", "read_json", "state_dir", "write_json"]

TEMPORARY_GLOB = "*.tmp*"
"""Matches the temporary files `write_json` may leave behind when it is killed."""


def state_dir(command: str, *names: str) -> Path:
    """``./.ddb-opensearch-sync/<command>-<name>...``, e.g. ``backfill-<table>-<alias>``.

    Table and alias names may hold characters a file system does not like (DynamoDB allows
    ``.``, ``-``, ``_``; an alias may hold more): anything else becomes ``_``.
    """
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", "-".join((command, *names)))
    return Path(DEFAULT_STATE_DIR) / safe


def write_json(path: Path, data: Mapping[str, Any]) -> None:
    """Replace ``path`` with ``data`` as JSON, atomically and durably.

    Safe from several threads at once: each writes its own temporary file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.tmp{threading.get_ident()}")
    with tmp.open("w", encoding="utf-8") as out:
        json.dump(data, out)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)


def read_json(path: Path) -> Any | None:
    """The JSON in ``path``, or ``None`` when there is no such file."""
    if not path.exists():
        return None
    return json.loads(path.read_text(encoding="utf-8"))
