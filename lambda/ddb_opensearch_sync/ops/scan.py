"""Parallel segment scans of a table: the pages of one segment, and the segments in parallel.

Backfill and reconcile read the table the same way: ``segments`` workers, one thread each,
each reading its segment of a parallel ``Scan`` page by page and checking a shared stop flag
between pages, so that an error in one worker or Ctrl-C in the caller ends the run at page
boundaries (a backfill's checkpoints stay exact).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from .table import DynamoDBClient

__all__ = ["ParallelScan"]


@dataclass(frozen=True, slots=True)
class ParallelScan:
    """A parallel ``Scan`` of one table in ``segments`` segments."""

    dynamodb: DynamoDBClient
    table: str
    segments: int
    page_size: int | None = None
    """Items per page (default: DynamoDB's 1 MB pages)."""

    def pages(
        self, segment: int, start_key: Mapping[str, Any] | None = None
    ) -> Iterator[tuple[list[dict[str, Any]], dict[str, Any] | None]]:
        """Yield ``(items, last_evaluated_key)`` for each page of ``segment``, starting after
        ``start_key``; the last page has no key. Eventually consistent reads."""
        params: dict[str, Any] = {
            "TableName": self.table,
            "Segment": segment,
            "TotalSegments": self.segments,
        }
        if start_key:
            # The paginator sends this on the first request and its own tokens after that.
            params["ExclusiveStartKey"] = dict(start_key)
        config = {"PageSize": self.page_size} if self.page_size else {}
        paginator = self.dynamodb.get_paginator("scan")
        for page in paginator.paginate(**params, PaginationConfig=config):
            yield page.get("Items", []), page.get("LastEvaluatedKey")

    def run(self, work: Callable[[int], None], stop: threading.Event) -> bool:
        """Run ``work(segment)`` for every segment at once, one thread each.

        ``work`` checks ``stop`` between pages. The first failure sets it, waits for the other
        workers and is raised. Ctrl-C in the calling thread sets it too and waits, so that
        every worker finishes the page in hand; the answer is then False (interrupted), else
        True.
        """
        with ThreadPoolExecutor(max_workers=self.segments, thread_name_prefix="segment") as pool:
            futures = [pool.submit(work, segment) for segment in range(self.segments)]
            try:
                done, _ = wait(futures, return_when=FIRST_EXCEPTION)
            except KeyboardInterrupt:
                stop.set()
                wait(futures)
                return False
            failed = [f for f in done if f.exception() is not None]
            if failed:
                stop.set()
                wait(futures)
                raise failed[0].exception()  # type: ignore[misc]
        return True
