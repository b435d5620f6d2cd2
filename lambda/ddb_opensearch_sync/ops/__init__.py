"""The operator commands (``ddb-opensearch-sync``): cli, backfill, reconcile, reindex, and
their shared parts: table (DynamoDB side), scan (parallel segments), state (state files),
progress."""
