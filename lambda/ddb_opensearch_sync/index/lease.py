"""The write block of a reindex, with a lease: a killed reindex cannot stop the sync for long.

A reindex write-blocks the index behind the alias for its final copy (`ops.reindex`). If it
dies there (kill -9, a lost laptop), nobody would lift the block and the function's writes
would fail until someone ran ``reindex --resume`` or ``--abort``. So the block carries a
lease: before blocking, the reindex records ``{"until": <epoch seconds>, "by": <new index>}``
under ``_meta.write_block_lease`` of the index's mapping (index metadata: it survives
restarts, needs no document write, and a write block does not forbid it), and it switches the
alias only while the lease is still comfortably running. Anyone who finds the lease expired
lifts the block (`release_expired_lease`): the maintenance function (`sync.maintenance`; the
sync function, whose role may only write documents, invokes it after a batch the block refused,
and a schedule does too), and every ``reindex --resume`` / ``--abort``. A reindex that
outlives its lease stops before switching, so a lifted block never lets a write land where the
switch would leave it behind.

``_meta`` is replaced as a whole by a mapping update, so every change here reads it, edits the
one key and writes it back (the mapping digest and generation `setup` records stay).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from opensearchpy.exceptions import NotFoundError

from .aliases import IndexSetupError, current_index

if TYPE_CHECKING:
    from opensearchpy import OpenSearch

__all__ = [
    "LEASE_KEY",
    "clear_lease",
    "lease_of",
    "release_expired_lease",
    "set_write_block",
    "take_lease",
    "write_blocked",
]

logger = logging.getLogger(__name__)

LEASE_KEY = "write_block_lease"
"""The key under the index mapping's ``_meta``."""


def _meta(client: OpenSearch, index: str) -> dict[str, Any]:
    mappings = client.indices.get_mapping(index=index)[index]["mappings"]
    meta = mappings.get("_meta")
    return dict(meta) if isinstance(meta, dict) else {}


def lease_of(client: OpenSearch, index: str) -> dict[str, Any] | None:
    """The lease recorded on ``index``, if any."""
    lease = _meta(client, index).get(LEASE_KEY)
    return (
        lease if isinstance(lease, dict) and isinstance(lease.get("until"), int | float) else None
    )


def take_lease(client: OpenSearch, index: str, holder: str, seconds: float) -> float:
    """Record a lease of ``seconds`` on ``index`` for ``holder``; its end (epoch seconds)."""
    until = time.time() + seconds
    meta = {**_meta(client, index), LEASE_KEY: {"until": until, "by": holder}}
    client.indices.put_mapping(index=index, body={"_meta": meta})
    return until


def clear_lease(client: OpenSearch, index: str) -> None:
    meta = _meta(client, index)
    if LEASE_KEY in meta:
        del meta[LEASE_KEY]
        client.indices.put_mapping(index=index, body={"_meta": meta})


def set_write_block(client: OpenSearch, index: str, blocked: bool) -> None:
    client.indices.put_settings(index=index, body={"index": {"blocks": {"write": blocked}}})


def write_blocked(client: OpenSearch, index: str) -> bool:
    settings = client.indices.get_settings(index=index, name="index.blocks.write")
    block = settings[index]["settings"].get("index", {}).get("blocks", {}).get("write")
    return str(block).lower() == "true"


def release_expired_lease(client: OpenSearch, alias: str, now: float | None = None) -> bool:
    """Lift the write block of the alias's index when its reindex lease has run out.

    True when a block was lifted. A block without a lease (set by hand) is left alone.
    """
    try:
        index = current_index(client, alias)
        lease = lease_of(client, index)
    except (IndexSetupError, NotFoundError):
        return False
    if lease is None or lease["until"] > (time.time() if now is None else now):
        return False
    lifted = write_blocked(client, index)
    if lifted:
        set_write_block(client, index, False)
        logger.warning(
            "lifted the write block on %s: the reindex to %s let its lease run out "
            "(finish it with `reindex --resume`)",
            index,
            lease.get("by"),
        )
    clear_lease(client, index)
    return lifted
