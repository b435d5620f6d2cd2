"""OpenSearch as the tests see it: scratch aliases made by the project's own setup, reads that
keep every digit, and the deployed alias read exactly as a search client reads it.

A search or count through an alias hides tombstones (the alias filter); a GET by id does not,
so `SearchIndex` offers both and says which is which.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import requests
from opensearchpy import OpenSearch

from ddb_opensearch_sync.core.mapping import template_name
from ddb_opensearch_sync.core.records import SYNC_FIELD
from ddb_opensearch_sync.index.setup import setup_index
from ddb_opensearch_sync.search.consistency import WRITE_ATTRIBUTE
from tests.support.names import unique
from tests.support.polling import eventually

SYNC_TIMEOUT = 30.0  # seconds for one change to become searchable; it normally takes one or two
Document = dict[str, Any]


# --- scratch aliases -------------------------------------------------------------------------


@contextmanager
def dropped_afterwards(client: OpenSearch, alias: str) -> Iterator[str]:
    """Drop every index whose name starts with ``alias`` (each generation a reindex adds) and
    its template once the block ends."""
    try:
        yield alias
    finally:
        client.indices.delete(index=f"{alias}*", ignore_unavailable=True)
        client.indices.delete_index_template(name=template_name(alias), ignore=404)


@contextmanager
def scratch_alias(client: OpenSearch, prefix: str) -> Iterator[str]:
    """A fresh alias with its template and concrete index, made as deploys make them (so that
    mapping and settings are the real ones); dropped afterwards."""
    with dropped_afterwards(client, unique(prefix)) as alias:
        setup_index(client, alias)
        yield alias


# --- reads with exact numbers ----------------------------------------------------------------


def exact_json(text: str | bytes) -> Any:
    """JSON with every number as a `Decimal`, so that no digit is lost in reading.

    ``Decimal(1965) == 1965``, so such documents still compare equal to plain ones.
    """
    return json.loads(text, parse_float=Decimal, parse_int=Decimal)


def raw_request(
    client: OpenSearch, method: str, path: str, body: Any = None, ignore: tuple[int, ...] = ()
) -> tuple[int, str]:
    """A request whose response body is returned as text (opensearch-py's own parsing turns
    numbers into floats)."""
    connection = client.transport.get_connection()
    status, _, text = connection.perform_request(
        method,
        path,
        body=None if body is None else json.dumps(body).encode(),
        headers={"content-type": "application/json"},
        ignore=ignore,
    )
    return status, text


def stored_documents(client: OpenSearch, index: str, ids: list[str]) -> dict[str, Document]:
    """Every stored document (tombstones included) among ``ids``, exact numbers kept."""
    if not ids:
        return {}
    _, text = raw_request(client, "POST", f"/{index}/_mget", {"ids": ids})
    return {d["_id"]: d["_source"] for d in exact_json(text)["docs"] if d.get("found")}


def visible_ids(client: OpenSearch, alias: str, ids: list[str]) -> set[str]:
    """Ids a search through the alias finds once refreshed (the alias filter hides
    tombstones)."""
    client.indices.refresh(index=alias)
    response = client.search(
        index=alias,
        body={"query": {"ids": {"values": ids}}, "size": len(ids) or 1, "_source": False},
    )
    return {hit["_id"] for hit in response["hits"]["hits"]}


def without_sync(document: Mapping[str, Any]) -> Document:
    """The book part of an indexed document (what the API holds): no ``_sync`` bookkeeping and
    no write stamp of the API (`WRITE_ATTRIBUTE`, which changes with every write)."""
    return {
        name: value for name, value in document.items() if name not in (SYNC_FIELD, WRITE_ATTRIBUTE)
    }


# --- the deployed alias, as a search client reads it -----------------------------------------


class SearchIndex:
    """An alias the function writes to, read with exact numbers."""

    def __init__(self, client: OpenSearch, alias: str) -> None:
        self.client = client
        self.alias = alias

    def stored_text(self, doc_id: str) -> str | None:
        """The stored ``_source`` of a document as raw JSON text, tombstones included."""
        path = f"/{self.alias}/_source/{requests.utils.quote(doc_id, safe='')}"
        status, text = raw_request(self.client, "GET", path, ignore=(404,))
        return None if status == 404 else text

    def stored(self, doc_id: str) -> Document | None:
        """The stored ``_source`` of a document, tombstones included (a GET by id)."""
        text = self.stored_text(doc_id)
        return None if text is None else exact_json(text)

    def search(self, query: Mapping[str, Any], size: int = 100) -> dict[str, Document]:
        """``_id`` -> ``_source`` of every hit of a search through the alias (no tombstones)."""
        body = {"query": query, "size": size, "sort": ["_doc"]}
        status, text = raw_request(self.client, "POST", f"/{self.alias}/_search", body)
        assert status == 200, f"search {query!r}: {status} {text[:500]}"
        hits = exact_json(text)["hits"]["hits"]
        return {hit["_id"]: hit["_source"] for hit in hits}

    def search_ids(self, query: Mapping[str, Any]) -> list[str]:
        """The sorted ids of a search's hits."""
        return sorted(self.search(query))

    def searchable(self, ids: list[str]) -> dict[str, Document]:
        """Those of ``ids`` a search finds, with their ``_source``."""
        return self.search({"ids": {"values": ids}}, size=max(len(ids), 1))

    def count(self) -> int:
        """Documents a search through the alias counts (tombstones are filtered out)."""
        return int(self.client.count(index=self.alias)["count"])


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
