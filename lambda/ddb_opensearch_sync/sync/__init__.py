"""The sync function: handler (Lambda entry point), batch (one batch of records), deadletter."""
