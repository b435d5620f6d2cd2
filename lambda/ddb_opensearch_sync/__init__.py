"""Keep an OpenSearch index in sync with a DynamoDB table's stream.

The package has five rooms; imports only point down (``core`` <- ``index`` <- the rest), and
``sync``, ``search`` and ``ops`` never import each other, so each Lambda zip carries only what
its handler imports:

- `core`: pure, no I/O. `core.records` (stream record -> change: documents, ids, versions,
  exact-number JSON, the one ``_sync.seq`` comparison), `core.mapping` (template, mapping,
  generations, alias filter), `core.settings` (environment names and every default).
- `index`: OpenSearch I/O shared by the functions and the operator commands: `index.client`,
  `index.setup` (template, index and alias on the cluster), `index.writer` (bulk writes with
  ordering and retries; writing a page and tallying it).
- `sync`: the sync function: `sync.handler` (``ddb_opensearch_sync.sync.handler.handler``),
  `sync.batch` (one batch of records), `sync.deadletter` (SQS).
- `search`: the search function (``ddb_opensearch_sync.search.handler.handler``): parameters,
  query, continuation token, response types.
- `ops`: the operator commands (``ddb-opensearch-sync``): `ops.cli`, `ops.backfill`,
  `ops.reconcile`, `ops.reindex`, and their shared parts `ops.table` (DynamoDB side),
  `ops.scan` (parallel segment scans), `ops.state` (atomic state files, state folders),
  `ops.progress`.

Subpackage ``__init__`` modules import nothing.
"""

from __future__ import annotations

import logging

# A library stays quiet unless the application configures logging.
logging.getLogger(__name__).addHandler(logging.NullHandler())
