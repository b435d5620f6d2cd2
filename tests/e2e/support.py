"""The deployed system as the end-to-end tests see it: the books API over HTTP, the search
index read with exact numbers, and the table counted directly.

Reads go through the alias the function writes to, exactly as a search client would: a
search or count hides tombstones (the alias filter), a GET by id does not, so `SearchIndex`
offers both and says which is which.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import requests
from opensearchpy import OpenSearch

from ddb_opensearch_sync.core.records import SYNC_FIELD
from tests.polling import eventually

TIMEOUT = 30  # seconds, per HTTP request
SYNC_TIMEOUT = 30.0  # seconds for one change to become searchable; it normally takes one or two
Document = dict[str, Any]
Client = Any  # boto3 clients are generated at run time


def new_marker() -> str:
    """A word unique to one test: letters and digits only, so that OpenSearch's standard
    analyzer keeps it one token and a match query on it finds only that test's books."""
    return f"e2e{uuid.uuid4().hex[:16]}"


def without_sync(document: Mapping[str, Any]) -> Document:
    """The item part of an indexed document (what the API returns)."""
    return {name: value for name, value in document.items() if name != SYNC_FIELD}


def exact_json(text: str | bytes) -> Any:
    """JSON with every number as a `Decimal`, so that no digit is lost in reading.

    ``Decimal(1965) == 1965``, so such documents still compare equal to the API's bodies.
    """
    return json.loads(text, parse_float=Decimal, parse_int=Decimal)


class BooksApi:
    """The deployed REST API. One HTTP session per thread (requests' sessions are not
    thread-safe), so a burst can share one instance."""

    def __init__(self, api_url: str) -> None:
        self.url = f"{api_url}/books"
        self._local = threading.local()

    @property
    def http(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def create(self, body: Any) -> requests.Response:
        return self.http.post(self.url, **_body(body), timeout=TIMEOUT)

    def get(self, book_id: str) -> requests.Response:
        return self.http.get(f"{self.url}/{book_id}", timeout=TIMEOUT)

    def replace(self, book_id: str, body: Any) -> requests.Response:
        return self.http.put(f"{self.url}/{book_id}", **_body(body), timeout=TIMEOUT)

    def delete(self, book_id: str) -> requests.Response:
        return self.http.delete(f"{self.url}/{book_id}", timeout=TIMEOUT)

    def create_ok(self, body: Mapping[str, Any]) -> str:
        response = self.create(dict(body))
        assert response.status_code == 201, (
            f"create {body!r}: {response.status_code} {response.text}"
        )
        return str(response.json()["book_id"])

    def get_ok(self, book_id: str) -> Document:
        response = self.get(book_id)
        assert response.status_code == 200, f"get {book_id}: {response.status_code} {response.text}"
        return dict(response.json())

    def replace_ok(self, book_id: str, body: Mapping[str, Any]) -> None:
        response = self.replace(book_id, dict(body))
        assert response.status_code == 200, f"put {book_id}: {response.status_code} {response.text}"

    def delete_ok(self, book_id: str) -> None:
        response = self.delete(book_id)
        assert response.status_code == 204, f"delete {book_id}: {response.status_code}"


def _body(body: Any) -> dict[str, Any]:
    """Raw text is sent as is (malformed JSON on purpose); anything else as JSON."""
    if isinstance(body, str | bytes):
        return {"data": body, "headers": {"Content-Type": "application/json"}}
    return {"json": body}


class SearchIndex:
    """The alias the function writes to, read with exact numbers.

    opensearch-py parses responses with floats; these reads take the raw body instead.
    """

    def __init__(self, client: OpenSearch, alias: str) -> None:
        self.client = client
        self.alias = alias

    def _request(self, method: str, path: str, body: Any = None) -> tuple[int, str]:
        connection = self.client.transport.get_connection()
        status, _, text = connection.perform_request(
            method,
            path,
            body=None if body is None else json.dumps(body).encode(),
            headers={"content-type": "application/json"},
            ignore=(404,),
        )
        return status, text

    def stored_text(self, doc_id: str) -> str | None:
        """The stored ``_source`` of a document as raw JSON text, tombstones included."""
        status, text = self._request("GET", f"/{self.alias}/_source/{_quote(doc_id)}")
        return None if status == 404 else text

    def stored(self, doc_id: str) -> Document | None:
        """The stored ``_source`` of a document, tombstones included (a GET by id)."""
        text = self.stored_text(doc_id)
        return None if text is None else exact_json(text)

    def search(self, query: Mapping[str, Any], size: int = 100) -> dict[str, Document]:
        """``_id`` -> ``_source`` of every hit of a search through the alias (no tombstones)."""
        body = {"query": query, "size": size, "sort": ["_doc"]}
        status, text = self._request("POST", f"/{self.alias}/_search", body)
        assert status == 200, f"search {query!r}: {status} {text[:500]}"
        hits = exact_json(text)["hits"]["hits"]
        return {hit["_id"]: hit["_source"] for hit in hits}

    def searchable(self, ids: list[str]) -> dict[str, Document]:
        """Those of ``ids`` a search finds, with their ``_source``."""
        return self.search({"ids": {"values": ids}}, size=max(len(ids), 1))

    def count(self) -> int:
        """Documents a search through the alias counts (tombstones are filtered out)."""
        return int(self.client.count(index=self.alias)["count"])


def _quote(doc_id: str) -> str:
    return requests.utils.quote(doc_id, safe="")


def table_count(dynamodb: Client, table: str) -> int:
    """Items in the table, by a consistent ``Scan`` with ``Select=COUNT``."""
    pages = dynamodb.get_paginator("scan").paginate(
        TableName=table, Select="COUNT", ConsistentRead=True
    )
    return sum(page["Count"] for page in pages)


def table_items_mentioning(dynamodb: Client, table: str, text: str) -> list[Document]:
    """Every item whose typed JSON contains ``text`` (to show that nothing was written)."""
    found: list[Document] = []
    for page in dynamodb.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
        found += [item for item in page["Items"] if text in json.dumps(item, ensure_ascii=False)]
    return found


# --- waiting for the index ---------------------------------------------------------------------


def mismatches(
    expected: Mapping[str, Document], found: Mapping[str, Document]
) -> dict[str, dict[str, Document | None]]:
    """Per id whose found document (``_sync`` aside) differs from the expected one: both
    (``None``: not found). Empty when all match; this is what a failed wait shows."""
    return {
        doc_id: {
            "expected": doc,
            "indexed": without_sync(found[doc_id]) if doc_id in found else None,
        }
        for doc_id, doc in expected.items()
        if doc_id not in found or without_sync(found[doc_id]) != doc
    }


def wait_until_searchable_as(
    index: SearchIndex, expected: Mapping[str, Document], timeout: float = SYNC_TIMEOUT
) -> None:
    """Poll until each document of ``expected`` (id -> item as plain JSON) is searchable and
    equal to it, ``_sync`` aside."""
    eventually(
        lambda: mismatches(expected, index.searchable(list(expected))),
        lambda differences: not differences,
        what=f"{len(expected)} document(s) searchable with the expected values",
        timeout=timeout,
    )


def wait_until_searchable(
    index: SearchIndex, doc_id: str, timeout: float = SYNC_TIMEOUT
) -> Document:
    """Poll until a document is searchable, whatever it holds; return it."""
    found = eventually(
        lambda: index.searchable([doc_id]),
        lambda docs: doc_id in docs,
        what=f"{doc_id} to be searchable",
        timeout=timeout,
    )
    return found[doc_id]


def wait_until_not_searchable(
    index: SearchIndex, ids: list[str], timeout: float = SYNC_TIMEOUT
) -> None:
    eventually(
        lambda: sorted(index.searchable(ids)),
        lambda found: not found,
        what=f"{ids} to disappear from search",
        timeout=timeout,
    )
