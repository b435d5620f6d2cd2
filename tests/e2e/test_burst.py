"""End to end: a burst of concurrent writes through the API converges in the index.

Concurrent clients create, replace and delete a few hundred books at once; the index must end
with exactly the table's items (count through the alias == ``Scan`` count) and every
surviving book as last written. Then the survivors are deleted straight in the table, and the
index must follow again.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pytest

from tests.support.api import BooksApi
from tests.support.aws import BooksTable
from tests.support.opensearch import Document, SearchIndex, mismatches
from tests.support.polling import eventually

pytestmark = pytest.mark.deployed

BOOKS = 200  # each created; a quarter then replaced, another quarter deleted: 300 writes
WORKERS = 8
CONVERGENCE_TIMEOUT = 90.0  # seconds; converging takes a few on the 2-core machine


@dataclass(frozen=True)
class Written:
    book_id: str
    final: Document | None  # the API body last written; None when deleted
    statuses: tuple[int, ...]


def write_one(api: BooksApi, n: int, marker: str) -> Written:
    """Create book ``n``; replace it when n % 4 == 1, delete it when n % 4 == 2."""
    book = {"title": f"Burst {n} {marker}", "author": f"Writer {n % 7}", "tags": [marker]}
    created = api.create(book)
    if created.status_code != 201:
        return Written("", None, (created.status_code,))
    book_id = created.json()["book_id"]
    if n % 4 == 1:
        book = {**book, "title": f"Burst {n} revised {marker}", "year": 2000 + n % 25}
        return Written(
            book_id, {"book_id": book_id, **book}, (201, api.replace(book_id, book).status_code)
        )
    if n % 4 == 2:
        return Written(book_id, None, (201, api.delete(book_id).status_code))
    return Written(book_id, {"book_id": book_id, **book}, (201,))


@dataclass(frozen=True)
class Convergence:
    """What the index and the table hold; its repr is what a failure shows."""

    index_count: int
    table_count: int
    mismatches: dict[str, dict[str, Document | None]] = field(default_factory=dict)
    unexpected: list[str] = field(default_factory=list)

    @property
    def converged(self) -> bool:
        return self.index_count == self.table_count and not self.mismatches and not self.unexpected

    def __repr__(self) -> str:
        sample = dict(list(self.mismatches.items())[:3])
        return (
            f"index count {self.index_count} vs table count {self.table_count}; "
            f"{len(self.mismatches)} books missing or stale (e.g. id -> expected/indexed: "
            f"{sample}); {len(self.unexpected)} deleted books still searchable "
            f"{self.unexpected[:3]}"
        )


def convergence(
    index: SearchIndex, table: BooksTable, marker: str, expected: Mapping[str, Document]
) -> Convergence:
    found = index.search({"term": {"tags": marker}}, size=BOOKS + 1)
    return Convergence(
        index_count=index.count(),
        table_count=table.count(),
        mismatches=mismatches(expected, found),
        unexpected=sorted(set(found) - set(expected)),
    )


def wait_for_convergence(
    index: SearchIndex, table: BooksTable, marker: str, expected: Mapping[str, Document]
) -> Convergence:
    return eventually(
        lambda: convergence(index, table, marker, expected),
        lambda state: state.converged,
        what=f"index count == table count and exactly {len(expected)} burst books as written",
        timeout=CONVERGENCE_TIMEOUT,
        interval=0.5,
    )


def test_a_burst_of_concurrent_writes_converges(
    books_api: BooksApi, search_index: SearchIndex, books_table: BooksTable, marker: str
) -> None:
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        written = list(pool.map(lambda n: write_one(books_api, n, marker), range(BOOKS)))

    failed = [w for w in written if any(status >= 300 for status in w.statuses)]
    assert failed == [], f"{len(failed)} writes failed, e.g. {failed[:3]}"
    expected = {w.book_id: w.final for w in written if w.final is not None}
    assert len(expected) == BOOKS * 3 // 4
    state = wait_for_convergence(search_index, books_table, marker, expected)
    assert state.index_count == state.table_count

    books_table.delete(sorted(expected))  # another writer than the API

    state = wait_for_convergence(search_index, books_table, marker, {})
    assert state.index_count == state.table_count
