"""The dead-letter queue's messages, read without consuming them (the operator decides).

Two kinds of message arrive there (`ddb_opensearch_sync.sync.deadletter` explains them): the
function's own, with ``kind``, ``error`` and the full ``record``, and the event source
mapping's on-failure messages, which carry only batch metadata (``DDBStreamBatchInfo``).
"""

from __future__ import annotations

import json
from typing import Any

from .system import Deployment

MAX_MESSAGES = 50
RECEIVES = 5  # receive calls per look: SQS hands out at most 10 messages per call


def _shape(body_text: str) -> dict[str, Any]:
    """The page's view of one message: kind, error and record, whatever its origin."""
    try:
        body = json.loads(body_text)
    except ValueError:
        return {"kind": "unreadable", "error": None, "record": body_text}
    if not isinstance(body, dict):
        return {"kind": "unreadable", "error": None, "record": body}
    if "DDBStreamBatchInfo" in body:
        context = body.get("requestContext", {})
        return {
            "kind": "batch metadata",
            "error": context.get("condition") or body.get("responseContext"),
            "record": body["DDBStreamBatchInfo"],
        }
    return {
        "kind": body.get("kind", "unknown"),
        "error": body.get("error"),
        "record": body.get("record", body.get("event")),
        "document_id": body.get("document_id"),
        "dead_lettered_at": body.get("dead_lettered_at"),
    }


def peek(deployment: Deployment) -> dict[str, Any]:
    """Up to ``MAX_MESSAGES`` messages. Visibility timeout 0: each stays in the queue, visible
    to the next reader at once (so a look never hides a message from anyone)."""
    sqs = deployment.aws("sqs")
    queue_url = deployment.names["DLQ_URL"]
    seen: dict[str, dict[str, Any]] = {}
    for _ in range(RECEIVES):
        messages = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=0,
            AttributeNames=["SentTimestamp"],
        ).get("Messages", [])
        fresh = [m for m in messages if m["MessageId"] not in seen]
        if not fresh:
            break
        for message in fresh:
            sent = message.get("Attributes", {}).get("SentTimestamp")
            seen[message["MessageId"]] = {
                "id": message["MessageId"],
                "sent_ms": int(sent) if sent else None,
                **_shape(message["Body"]),
            }
        if len(seen) >= MAX_MESSAGES:
            break
    messages = sorted(seen.values(), key=lambda m: m["sent_ms"] or 0, reverse=True)
    return {"queue_url": queue_url, "messages": messages[:MAX_MESSAGES]}
