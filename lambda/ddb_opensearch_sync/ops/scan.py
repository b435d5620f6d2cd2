"""Parallel segment scans of a table: the pages of one segment, and the segments in parallel.

Backfill and reconcile read the table the same way: ``segments`` workers, one thread each,
each reading its segment of a parallel ``Scan`` page by page and checking a shared stop flag
between pages, so that an error in one worker or Ctrl-C in the caller ends the run at page
boundaries (a backfill's checkpoints stay exact).

A page's items come in the stream event's encoding (binary values as base64 text, numbers as
text), not botocore's: see `_ItemsAsSent`.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, TypeVar

from .table import DynamoDBClient

__all__ = ["ParallelScan"]


class _ItemsAsSent(threading.local):
    """A botocore ``before-parse`` hook that hands a Scan page's ``Items`` over as DynamoDB
    sent them: the stream event's encoding, which `records` reads.

    Why: botocore walks its model over every attribute of every item (base64 text to bytes),
    and the operator commands then walked every item again to turn the bytes back into base64
    text; together that was half a backfill's CPU. botocore still parses the rest of the page
    (``LastEvaluatedKey``, counts), so the paginator's next ``ExclusiveStartKey`` is exactly
    what it always was. Only Scans made by `ParallelScan.pages`, in its own thread while it
    asks for a page, are touched: other calls on the same client are parsed as usual.
    """

    EVENT = "before-parse.dynamodb.Scan"
    active = False

    def __call__(
        self, response_dict: dict[str, Any], customized_response_dict: dict[str, Any], **_: Any
    ) -> None:
        if not self.active or response_dict.get("status_code") != 200:
            return
        try:
            body = json.loads(response_dict["body"])
        except (KeyError, TypeError, ValueError):
            return  # not a JSON body: botocore parses it as usual
        if isinstance(body, dict) and isinstance(body.get("Items"), list):
            customized_response_dict["Items"] = body.pop("Items")
            response_dict["body"] = json.dumps(body).encode()

    @contextlib.contextmanager
    def on(self) -> Iterator[None]:
        self.active = True
        try:
            yield
        finally:
            self.active = False


_ITEMS_AS_SENT = _ItemsAsSent()

T = TypeVar("T")
_END: Any = object()


def _read_ahead(source: Iterator[T]) -> Iterator[T]:
    """Yield from ``source`` while its next element is already being produced, in a thread."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="read-ahead") as reader:
        upcoming = reader.submit(next, source, _END)
        while (element := upcoming.result()) is not _END:
            upcoming = reader.submit(next, source, _END)
            yield element


@dataclass(frozen=True, slots=True)
class ParallelScan:
    """A parallel ``Scan`` of one table in ``segments`` segments."""

    dynamodb: DynamoDBClient
    table: str
    segments: int
    page_size: int | None = None
    """Items per page (default: DynamoDB's 1 MB pages)."""

    def __post_init__(self) -> None:
        # Idempotent (same unique id): one registration per client, however many scans.
        self.dynamodb.meta.events.register(
            _ItemsAsSent.EVENT, _ITEMS_AS_SENT, unique_id="ddb_opensearch_sync.items_as_sent"
        )

    def pages(
        self, segment: int, start_key: Mapping[str, Any] | None = None
    ) -> Iterator[tuple[list[dict[str, Any]], dict[str, Any] | None]]:
        """Yield ``(items, last_evaluated_key)`` for each page of ``segment``, starting after
        ``start_key``; the last page has no key. Eventually consistent reads. Items are in
        the stream event's encoding (`_ItemsAsSent`); the key is botocore's, as the client
        takes it back.

        The next page is read while the caller works on this one (`_read_ahead`): a worker
        otherwise waits for the table and for the index in turn. A caller that stops early
        has had one page read that it never sees, which costs a read and nothing else.
        """
        return _read_ahead(self._pages(segment, start_key))

    def _pages(
        self, segment: int, start_key: Mapping[str, Any] | None
    ) -> Iterator[tuple[list[dict[str, Any]], dict[str, Any] | None]]:
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
        pages = iter(paginator.paginate(**params, PaginationConfig=config))
        while True:
            with _ITEMS_AS_SENT.on():
                page = next(pages, None)
            if page is None:
                return
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
