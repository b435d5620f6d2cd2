"""Keep an OpenSearch index in sync with a DynamoDB table's stream.

Modules, from pure to I/O: `records` (stream record -> change: documents, ids, versions),
`settings` (environment), `index` (template, mapping, alias), `client` (OpenSearch client),
`writer` (bulk writes with ordering and retries), `deadletter` (SQS), `sync` (one batch),
`handler` (the Lambda entry point) and `cli` (``ddb-opensearch-sync``).
"""

from __future__ import annotations

import logging

from .records import (
    Action,
    Change,
    EventName,
    MalformedRecordError,
    TtlPolicy,
    compact,
    document_id,
    dumps,
    external_version,
    is_newer,
    plain_image,
    to_change,
)

__all__ = [
    "Action",
    "Change",
    "EventName",
    "MalformedRecordError",
    "TtlPolicy",
    "compact",
    "document_id",
    "dumps",
    "external_version",
    "is_newer",
    "plain_image",
    "to_change",
]

# A library stays quiet unless the application configures logging.
logging.getLogger(__name__).addHandler(logging.NullHandler())
