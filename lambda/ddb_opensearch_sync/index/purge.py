"""Purge tombstones the stream can no longer argue with.

A delete leaves a tombstone (`records`): a document holding the keys and
``_sync.deleted: true``, so that a replay of an older change of the item stays stale instead
of bringing the book back. A stream keeps its records for 24 hours (`settings.STREAM_RETENTION`),
so a replay can never carry a change older than that: a tombstone whose ``_sync.ts`` is older
than the retention plus a margin for clock differences (DynamoDB's clock writes ``ts``, this
host's decides the cut-off) has done its job and can go. Anything younger, and any tombstone
without a ``_sync.ts`` (whose age nobody knows), stays.

How: one ``_delete_by_query`` on the alias's concrete index (the alias's filter hides
tombstones, so it cannot be the target), run as a task so that progress can be shown and a
Lambda invocation need not wait for it. ``conflicts=proceed``: the query deletes each
document only if it is still the version it matched (OpenSearch's own sequence-number check),
so an item recreated meanwhile -- its tombstone overwritten by a live document -- is skipped,
never deleted.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from ..core.records import SYNC_FIELD
from ..core.settings import DEFAULT_MARGIN, STREAM_RETENTION
from .aliases import current_index

if TYPE_CHECKING:
    from opensearchpy import OpenSearch

__all__ = ["PurgeReport", "purge_cutoff", "start_purge", "tombstones_before", "wait_for_purge"]

POLL_INTERVAL = 0.5


@dataclass(slots=True)
class PurgeReport:
    alias: str
    index: str
    cutoff: int
    """Tombstones with ``_sync.ts`` before this (epoch seconds) were purged."""
    task: str
    total: int = 0
    deleted: int = 0
    conflicts: int = 0
    """Matched, but changed before they could be deleted (an item recreated): kept."""
    completed: bool = False
    failures: list[Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def purge_cutoff(
    now: float, retention: float = STREAM_RETENTION, margin: float = DEFAULT_MARGIN
) -> int:
    """The ``_sync.ts`` before which a tombstone may go (whole seconds, rounded down)."""
    return int(now - retention - margin)


def tombstones_before(cutoff: int) -> dict[str, Any]:
    return {
        "bool": {
            "filter": [
                {"term": {f"{SYNC_FIELD}.deleted": True}},
                {"range": {f"{SYNC_FIELD}.ts": {"lt": cutoff}}},
            ]
        }
    }


def start_purge(
    client: OpenSearch,
    alias: str,
    *,
    now: float | None = None,
    retention: float = STREAM_RETENTION,
    margin: float = DEFAULT_MARGIN,
) -> PurgeReport:
    """Start the purge as an OpenSearch task and return at once (the scheduled path)."""
    index = current_index(client, alias)
    cutoff = purge_cutoff(time.time() if now is None else now, retention, margin)
    client.indices.refresh(index=index)  # the query sees what the last refresh published
    response = client.delete_by_query(
        index=index,
        body={"query": tombstones_before(cutoff)},
        params={"conflicts": "proceed", "wait_for_completion": "false", "refresh": "true"},
    )
    return PurgeReport(alias=alias, index=index, cutoff=cutoff, task=response["task"])


def wait_for_purge(
    client: OpenSearch, report: PurgeReport, on_status: Callable[[int, int], None] | None = None
) -> PurgeReport:
    """Wait for a started purge to finish; ``on_status(done, total)`` after every poll."""
    while True:
        task = client.tasks.get(task_id=report.task)
        status = task["task"]["status"]
        report.total = int(status.get("total", 0))
        report.deleted = int(status.get("deleted", 0))
        report.conflicts = int(status.get("version_conflicts", 0))
        if on_status is not None:
            on_status(report.deleted + report.conflicts, report.total)
        if task.get("completed"):
            break
        time.sleep(POLL_INTERVAL)
    response = task.get("response") or {}
    report.failures = list(response.get("failures") or []) or None
    report.completed = not task.get("error") and not report.failures
    if task.get("error"):
        report.failures = [task["error"]]
    return report
