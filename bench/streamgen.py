"""Realistic DynamoDB stream records for the benchmarks, reproducible from a seed.

The generator plays a books table forward: each step is an ``INSERT`` of a new book (70%), a
``MODIFY`` of a live one (20%) or a ``REMOVE`` of a live one (10%), picked uniformly among the
live books (those the table held before the stream, see `StreamGenerator.existing`, and those
inserted since), so that updates and deletes hit documents written before, mostly in earlier
batches, sometimes in the same one. Records look like what Lambda
delivers for a ``NEW_AND_OLD_IMAGES`` stream: typed images, strictly increasing 21+ digit
sequence numbers, and ``ApproximateCreationDateTime`` advancing at a steady write rate, so the
sync function's same-second version path (conflict, ``_mget``, bump) is exercised as often as
such a table would exercise it.

Books are about 1 KiB as JSON (a ~700-character summary dominates), shaped like the API's
``BookInput`` plus the id the API assigns.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from typing import Any

__all__ = ["StreamGenerator", "batches", "book", "typed_book"]

STREAM_ARN = (
    "arn:aws:dynamodb:us-east-1:000000000000:table/bench-books/stream/2030-01-01T00:00:00.000"
)
FIRST_SEQUENCE = 10**20  # real sequence numbers have 21 to 40 digits
START_TIME = 1_900_000_000  # epoch seconds; fixed so that runs are identical

_WORDS = (
    *("ocean", "memory", "empire", "winter", "garden", "shadow", "river", "machine"),
    *("silence", "letter", "harbor", "journey", "signal", "archive", "lantern", "orbit"),
    *("pilgrim", "quiet", "storm", "frontier", "mirror", "ember", "glass", "canyon"),
    *("atlas", "engine", "willow", "cipher", "meadow", "beacon"),
)
_TAGS = ("fiction", "history", "science", "poetry", "travel", "mystery", "classic", "essay")


def _words(rng: random.Random, count: int) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(count))


def book(rng: random.Random, book_id: str) -> dict[str, Any]:
    """A plain book of about 1 KiB as JSON."""
    return {
        "book_id": book_id,
        "title": _words(rng, rng.randint(2, 6)).title(),
        "author": f"{_words(rng, 1).title()} {_words(rng, 1).title()}",
        "year": rng.randint(1800, 2030),
        "isbn": "-".join(
            str(rng.randint(low, high))
            for low, high in ((978, 978), (0, 9), (10000, 99999), (100, 999), (0, 9))
        ),
        "tags": sorted(rng.sample(_TAGS, rng.randint(1, 4))),
        "summary": _words(rng, rng.randint(95, 120)).capitalize() + ".",
    }


def typed_book(item: dict[str, Any]) -> dict[str, Any]:
    """A book as a DynamoDB image (the only types books use: S, N, L of S)."""
    image: dict[str, Any] = {}
    for name, value in item.items():
        if isinstance(value, bool | float):
            raise TypeError(f"books hold no {type(value).__name__}: {name}")
        if isinstance(value, int):
            image[name] = {"N": str(value)}
        elif isinstance(value, list):
            image[name] = {"L": [{"S": str(v)} for v in value]}
        else:
            image[name] = {"S": str(value)}
    return image


@dataclass
class StreamGenerator:
    """Emits stream records for an evolving books table.

    Parameters
    ----------
    seed
        Everything (ids, contents, choices, sequence steps) follows from it.
    writes_per_second
        How fast stream time advances: record ``i`` is created at ``START_TIME + i / rate``.
    existing
        Books the table holds before the stream starts (their ``INSERT`` records come an hour
        earlier, see `baseline`): updates and deletes pick among them too, as on a table that
        was not empty when the sync was switched on.
    """

    seed: int = 20261127
    writes_per_second: float = 100.0
    existing: int = 5000

    def baseline(self) -> list[dict[str, Any]]:
        """The ``INSERT`` records of the books that exist before the stream."""
        return self._generate(0)[0]

    def records(self, count: int) -> list[dict[str, Any]]:
        """``count`` records of the stream, after the baseline."""
        return self._generate(count)[1]

    def _generate(self, count: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        rng = random.Random(self.seed)
        live: dict[str, dict[str, Any]] = {}
        order: list[str] = []  # live ids in a list, for uniform picks in O(1)
        sequence = FIRST_SEQUENCE
        earlier: list[dict[str, Any]] = []
        for i in range(self.existing):
            sequence += rng.randint(1, 1000)
            created = START_TIME - 3600 + i / self.writes_per_second
            earlier.append(self._insert(rng, live, order, sequence, created))
        stream: list[dict[str, Any]] = []
        for i in range(count):
            sequence += rng.randint(1, 1000)
            created = START_TIME + i / self.writes_per_second
            roll = rng.random()
            if roll < 0.7 or not order:
                stream.append(self._insert(rng, live, order, sequence, created))
                continue
            slot = rng.randrange(len(order))
            book_id = order[slot]
            old = live[book_id]
            if roll < 0.9:
                new = {**book(rng, book_id), "author": old["author"]}
                live[book_id] = new
                stream.append(_record("MODIFY", new, old, sequence, created))
            else:
                order[slot] = order[-1]
                order.pop()
                del live[book_id]
                stream.append(_record("REMOVE", None, old, sequence, created))
        return earlier, stream

    @staticmethod
    def _insert(
        rng: random.Random,
        live: dict[str, dict[str, Any]],
        order: list[str],
        sequence: int,
        created: float,
    ) -> dict[str, Any]:
        book_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        item = book(rng, book_id)
        live[book_id] = item
        order.append(book_id)
        return _record("INSERT", item, None, sequence, created)


def _record(
    event_name: str,
    new: dict[str, Any] | None,
    old: dict[str, Any] | None,
    sequence: int,
    created: float,
) -> dict[str, Any]:
    either = new if new is not None else old
    assert either is not None
    stream: dict[str, Any] = {
        # Whole seconds, as DynamoDB streams deliver them to Lambda.
        "ApproximateCreationDateTime": float(int(created)),
        "Keys": {"book_id": {"S": either["book_id"]}},
        "SequenceNumber": str(sequence),
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    if new is not None:
        stream["NewImage"] = typed_book(new)
    if old is not None:
        stream["OldImage"] = typed_book(old)
    stream["SizeBytes"] = len(str(stream))  # close enough; nothing reads it
    return {
        "eventID": f"{sequence:x}",
        "eventName": event_name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": stream,
        "eventSourceARN": STREAM_ARN,
    }


def batches(records: list[dict[str, Any]], size: int) -> list[list[dict[str, Any]]]:
    """Consecutive batches of ``size`` records (the last may be shorter), as a shard's
    poller cuts them."""
    return [records[i : i + size] for i in range(0, len(records), size)]
