"""One book on both sides of the sync: the DynamoDB item (typed, as the table holds it) and
the indexed document (with its ``_sync`` bookkeeping), and whether they agree.

"Agree" is reconcile's test for one item: the document the function's mapping makes of the
item (`ops.table.item_change`) equals the document, ``_sync`` left out
(`ops.reconcile.canonical`); a book not in the table agrees with no document or a tombstone.

After each write the page polls two views of the index: `indexed` (a real-time GET by id, which
sees a write as soon as the function's ``_bulk`` returned: "stored") and `both_sides` (a search
through the alias, which sees it after the index's next refresh: "searchable").
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, NamedTuple

from opensearchpy.exceptions import NotFoundError

from ddb_opensearch_sync.core.records import (
    SYNC_FIELD,
    MalformedRecordError,
    loads,
    stored_sequence,
)
from ddb_opensearch_sync.ops.reconcile import canonical
from ddb_opensearch_sync.ops.table import item_change, stream_image

from .system import Deployment


def stored_document(deployment: Deployment, book_id: str) -> dict[str, Any] | None:
    """The document by id, tombstones included: ``_source``, ``_version``, ``_seq_no``."""
    try:
        # Real-time (the default, said here because it matters): no refresh needed.
        found = deployment.index.get(index=deployment.alias, id=book_id, realtime=True)
    except NotFoundError:
        return None
    return {k: found[k] for k in ("_index", "_version", "_seq_no", "_source") if k in found}


def visible_source(deployment: Deployment, book_id: str) -> dict[str, Any] | None:
    """The document as a search finds it through the alias (whose filter hides tombstones)."""
    body = {"query": {"ids": {"values": [book_id]}}, "size": 1}
    hits = deployment.index.search(index=deployment.alias, body=body)["hits"]["hits"]
    return dict(hits[0]["_source"]) if hits else None


def expected_source(deployment: Deployment, raw_item: dict[str, Any]) -> dict[str, Any] | None:
    """The document the function makes of the item; None for an item it cannot index."""
    try:
        document = item_change(raw_item, deployment.table).document
    except MalformedRecordError:
        return None
    return dict(loads(document)) if document is not None else None


def table_item(deployment: Deployment, book_id: str) -> dict[str, Any] | None:
    """The raw item, read consistently (so it holds every write the API has answered)."""
    return deployment.dynamodb.get_item(
        TableName=deployment.table_name, Key={"book_id": {"S": book_id}}, ConsistentRead=True
    ).get("Item")


def agrees(deployment: Deployment, raw: dict[str, Any] | None, source: Any) -> bool:
    """Whether ``source`` (a document's, None when there is none) shows the item ``raw``."""
    if raw is None:
        return source is None or is_tombstone(source)
    expected = expected_source(deployment, raw)
    if expected is None or source is None or is_tombstone(source):
        return False
    return canonical(expected) == canonical(source)


def is_tombstone(source: Any) -> bool:
    meta = source.get(SYNC_FIELD) if isinstance(source, dict) else None
    return isinstance(meta, dict) and meta.get("deleted") is True


def item_digest(raw: dict[str, Any] | None) -> str | None:
    """A short fingerprint of the item, to tell whether a write changed it."""
    if raw is None:
        return None
    text = json.dumps(raw, sort_keys=True, ensure_ascii=False)
    return hashlib.blake2b(text.encode("utf-8"), digest_size=8).hexdigest()


class Before(NamedTuple):
    """What `indexed` said just before a write: the document's ``seq``, the item's digest."""

    seq: str | None
    item: str | None


def shows_write(
    deployment: Deployment, raw: dict[str, Any] | None, source: Any, before: Before | None
) -> bool:
    """Whether ``source`` shows the item ``raw`` as the page's last write left it.

    ``before`` is what `indexed` returned just before the write (none for a create). A write
    that changed the item shows only once the document has a newer ``_sync.seq`` too, so
    content that merely equals an older state (A -> B -> A) does not count. A write that
    changed nothing makes no stream record (DynamoDB Streams skips no-op writes), so agreement
    alone shows it.
    """
    changed = before is not None and item_digest(raw) != before.item
    moved = before is None or stored_sequence(source) != before.seq
    return agrees(deployment, raw, source) and (moved or not changed)


def indexed(deployment: Deployment, book_id: str, before: Before | None = None) -> dict[str, Any]:
    """A real-time GET of the document: whether it shows the write yet (``stored``)."""
    raw = table_item(deployment, book_id)
    document = stored_document(deployment, book_id)
    source = document["_source"] if document is not None else None
    return {
        "book_id": book_id,
        "seq": stored_sequence(source),
        "item": item_digest(raw),
        "tombstone": source is not None and is_tombstone(source),
        "stored": shows_write(deployment, raw, source, before),
    }


def both_sides(
    deployment: Deployment, book_id: str, before: Before | None = None
) -> dict[str, Any]:
    """The item, the stored document, whether a search finds it and whether what it finds
    shows the item (and the write ``before`` names, see `shows_write`)."""
    raw = table_item(deployment, book_id)
    visible = visible_source(deployment, book_id)
    agree = shows_write(deployment, raw, visible, before)
    return {
        "book_id": book_id,
        "item": stream_image(raw) if raw is not None else None,
        "document": stored_document(deployment, book_id),
        "searchable": visible is not None,
        "in_sync": agree,
    }
