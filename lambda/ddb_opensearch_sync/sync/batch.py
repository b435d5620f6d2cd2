"""One batch of stream records -> the index, and what to tell Lambda.

`BatchSyncer.sync_event` maps every record (`records.to_change`), dead-letters the malformed
ones, keeps the newest change per document, writes (`writer.BulkWriter`), dead-letters what
OpenSearch rejects for its content, and answers ``{"batchItemFailures": [...]}`` with the
*earliest* record that is not done, so that the event source mapping retries from there and
nothing after it is lost. Records before it are done: written, stale, superseded by a newer
change of the same item in the batch, skipped by the TTL policy, or dead-lettered.

Dead letters are sent once: only records before the retry point are dead-lettered (in record
order, stopping at the first that cannot be sent); a rejected record after it is delivered again
with the retry and dead-lettered then. A message still carries its record's ``eventID`` and
sequence number, so the rare duplicate (an invocation that crashes after sending) is
recognisable.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

from ..core.records import (
    Action,
    Change,
    MalformedRecordError,
    TtlPolicy,
    compact,
    sequence_number_of,
    to_change,
)
from ..index.writer import Outcome, WriteReport, WriteStats, is_block
from .deadletter import DeadLetter, DeadLetterKind, DeadLetterSink

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse

    from ..index.writer import BulkWriter

__all__ = ["BatchReport", "BatchSyncer", "DeadLetterError"]

logger = logging.getLogger(__name__)

DEAD_LETTER_RESERVE = 2.0
"""Seconds kept back from the writer for sending dead letters (at most a quarter of the time)."""


class DeadLetterError(RuntimeError):
    """A dead letter could not be sent and its record has no sequence number to retry from.

    Raising fails the whole invocation, so Lambda retries the batch: the one safe answer.
    """


@dataclass(slots=True)
class BatchReport(WriteStats):
    """What one batch did; logged as one structured line. The write's costs (requests,
    conflicts, retries) are `WriteStats`."""

    size: int = 0
    actions: Counter[str] = field(default_factory=Counter)
    # Mapping the records:
    ttl_expiries: int = 0
    malformed: int = 0
    superseded: int = 0
    """Older changes of an item whose newer change the batch holds too."""
    stream_lag_max: float | None = None
    stream_lag_min: float | None = None
    # Writing the newest changes (`WriteStats` has what it cost):
    written: int = 0
    stale: int = 0
    rejected: int = 0
    # What is left:
    dead_lettered: int = 0
    failed: int = 0
    blocked: int = 0
    """Of the changes not written, those a block refused last (a reindex's write block, a
    full disk): the handler then asks for the lease check (`sync.maintenance`)."""
    retry_from: str | None = None

    def add_write(self, report: WriteReport) -> None:
        self.copy_stats(report)
        tally = report.tally()
        self.written = tally[Outcome.WRITTEN]
        self.stale = tally[Outcome.STALE]
        self.rejected = tally[Outcome.REJECTED]

    def log_fields(self) -> dict[str, Any]:
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values["actions"] = dict(self.actions)
        return values


class BatchSyncer:
    """Syncs batches through one writer and one dead-letter sink."""

    def __init__(
        self,
        writer: BulkWriter,
        dead_letters: DeadLetterSink,
        *,
        ttl_policy: TtlPolicy = TtlPolicy.DELETE,
    ) -> None:
        self.writer = writer
        self.dead_letters = dead_letters
        self.ttl_policy = ttl_policy

    def sync_event(
        self, event: object, *, deadline: float
    ) -> tuple[PartialItemFailureResponse, BatchReport]:
        """Sync a Lambda event (``{"Records": [...]}``) before ``deadline`` (monotonic)."""
        records = event.get("Records") if isinstance(event, Mapping) else None
        if not isinstance(records, list):
            logger.error("event is not a batch of records: %.200r", event)
            letter = DeadLetter(
                DeadLetterKind.MALFORMED_EVENT,
                {"type": "malformed_event", "reason": "the event has no Records list"},
                event,
            )
            if self.dead_letters.send([letter]):
                raise DeadLetterError("could not dead-letter a malformed event")
            return {"batchItemFailures": []}, BatchReport(malformed=1, dead_lettered=1)
        return self.sync_records(records, deadline=deadline)

    def sync_records(
        self, records: Sequence[object], *, deadline: float
    ) -> tuple[PartialItemFailureResponse, BatchReport]:
        report = BatchReport(size=len(records))
        changes, letters = self._map(records, report)

        to_write = [c for c in changes if c.action is not Action.SKIP]
        newest, superseded = compact(to_write)
        report.superseded = len(superseded)

        failing: list[int] = []
        if newest:
            room = deadline - time.monotonic()
            reserve = min(DEAD_LETTER_RESERVE, max(room, 0) / 4)
            written = self.writer.write(newest, deadline=deadline - reserve)
            report.add_write(written)
            for result in written.results:
                if result.outcome is Outcome.REJECTED:
                    letters.append(_rejected(result.change, result.error or {}))
                elif result.outcome is Outcome.FAILED:
                    failing.append(result.change.position)
            not_written = [r for r in written.results if r.outcome is Outcome.FAILED]
            report.blocked = sum(1 for r in not_written if is_block(r.error))
            if not_written:
                # One line, not one per record: a down cluster fails the whole batch.
                logger.warning(
                    "%d changes not written yet (first: %s, error: %s)",
                    len(not_written),
                    not_written[0].change.doc_id,
                    not_written[0].error,
                )
        if letters:
            due = _due_now(letters, min(failing, default=None))
            unsent = self.dead_letters.send(due)
            report.dead_lettered = len(due) - len(unsent)
            for letter in unsent:
                if letter.position is None or letter.sequence_number is None:
                    raise DeadLetterError(
                        f"could not dead-letter record {letter.position}, which has no "
                        "sequence number to report"
                    )
                failing.append(letter.position)

        report.failed = len(failing)
        return self._response(records, failing, report), report

    def _map(
        self, records: Sequence[object], report: BatchReport
    ) -> tuple[list[Change], list[DeadLetter]]:
        changes: list[Change] = []
        letters: list[DeadLetter] = []
        now = time.time()
        for position, record in enumerate(records):
            try:
                change = to_change(record, position=position, ttl_policy=self.ttl_policy)
            except MalformedRecordError as error:
                report.malformed += 1
                sequence_number = sequence_number_of(record)
                logger.error(
                    "malformed stream record %d (sequence number %s): %s",
                    position,
                    sequence_number,
                    error,
                )
                letters.append(
                    DeadLetter(
                        DeadLetterKind.MALFORMED_RECORD,
                        {"type": "malformed_record", "reason": str(error)},
                        record,
                        position,
                        sequence_number,
                    )
                )
                continue
            changes.append(change)
            report.actions[change.action.value] += 1
            report.ttl_expiries += change.ttl_expiry
            if change.created_at is not None:
                lag = max(0.0, now - change.created_at)
                if report.stream_lag_max is None or lag > report.stream_lag_max:
                    report.stream_lag_max = lag
                if report.stream_lag_min is None or lag < report.stream_lag_min:
                    report.stream_lag_min = lag
        return changes, letters

    def _response(
        self, records: Sequence[object], failing: list[int], report: BatchReport
    ) -> PartialItemFailureResponse:
        if not failing:
            return {"batchItemFailures": []}
        earliest = min(failing)
        sequence_number = sequence_number_of(records[earliest])
        if sequence_number is None:  # a change always has one; kept for the type checker
            raise DeadLetterError(f"record {earliest} failed and has no sequence number")
        report.retry_from = sequence_number
        return {"batchItemFailures": [{"itemIdentifier": sequence_number}]}


def _due_now(letters: list[DeadLetter], retry_from: int | None) -> list[DeadLetter]:
    """The dead letters to send now, in record order: those before the record Lambda will
    retry from. The others are delivered again with the retry and dead-lettered then (or by
    `ddb-opensearch-sync replay`, should the retries run out), so that each is sent once and
    not again on every retry of its batch."""
    due = [
        letter
        for letter in letters
        if retry_from is None or letter.position is None or letter.position < retry_from
    ]
    return sorted(due, key=lambda letter: -1 if letter.position is None else letter.position)


def _rejected(change: Change, error: Mapping[str, Any]) -> DeadLetter:
    logger.error("document %s rejected by OpenSearch: %s", change.doc_id, error)
    return DeadLetter(
        DeadLetterKind.REJECTED_DOCUMENT,
        error,
        change.record,
        change.position,
        change.sequence_number,
        change.doc_id,
    )
