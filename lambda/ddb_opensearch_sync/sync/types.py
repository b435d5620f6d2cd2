"""The maintenance function's event: the contract between its callers (the EventBridge rules of
``infra/modules/sync``, the sync function) and `sync.maintenance`. No side effects on import,
so the sync handler names an action without loading the maintenance function's logger."""

from __future__ import annotations

from enum import StrEnum
from typing import TypedDict

__all__ = ["MaintenanceAction", "MaintenanceEvent"]


class MaintenanceAction(StrEnum):
    PURGE_TOMBSTONES = "purge-tombstones"
    """Start purging tombstones older than the stream's retention (a daily rule)."""
    LIFT_EXPIRED_LEASE = "lift-expired-lease"
    """Lift a reindex's write block whose lease ran out (a frequent rule; the sync function
    after a batch a block refused)."""


class MaintenanceEvent(TypedDict):
    action: str
    """A `MaintenanceAction` value."""
