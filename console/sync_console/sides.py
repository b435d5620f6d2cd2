"""One book on both sides of the sync: the DynamoDB item (typed, as the table holds it) and
the indexed document (with its ``_sync`` bookkeeping), and whether they agree.

"Agree" is reconcile's test for one item: the document the function's mapping makes of the
item (`ops.table.item_change`) equals the document a search finds, ``_sync`` left out
(`ops.reconcile.canonical`). A deleted book agrees once no search finds it. The page polls this
after each write to see when the change became searchable.
"""

from __future__ import annotations

from typing import Any

from opensearchpy.exceptions import NotFoundError

from ddb_opensearch_sync.core.records import MalformedRecordError, loads
from ddb_opensearch_sync.ops.reconcile import canonical
from ddb_opensearch_sync.ops.table import item_change, stream_image

from .system import Deployment


def stored_document(deployment: Deployment, book_id: str) -> dict[str, Any] | None:
    """The document by id, tombstones included: ``_source``, ``_version``, ``_seq_no``."""
    try:
        found = deployment.index.get(index=deployment.alias, id=book_id)
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


def both_sides(deployment: Deployment, book_id: str) -> dict[str, Any]:
    """The item, the stored document, whether a search finds it and whether the two agree."""
    raw = deployment.dynamodb.get_item(
        TableName=deployment.table_name, Key={"book_id": {"S": book_id}}, ConsistentRead=True
    ).get("Item")
    visible = visible_source(deployment, book_id)
    if raw is None:
        agree = visible is None
    else:
        expected = expected_source(deployment, raw)
        agree = visible is not None and expected is not None
        agree = agree and canonical(expected or {}) == canonical(visible or {})
    return {
        "book_id": book_id,
        "item": stream_image(raw) if raw is not None else None,
        "document": stored_document(deployment, book_id),
        "searchable": visible is not None,
        "in_sync": agree,
    }
