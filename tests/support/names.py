"""Names for what a test creates: unique, so that tests and suites sharing a stack never meet."""

from __future__ import annotations

import uuid


def unique(prefix: str) -> str:
    """``prefix`` and ten random hex digits (valid for tables, queues, functions and indices)."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def new_marker() -> str:
    """A word unique to one test: letters and digits only, so that OpenSearch's standard
    analyzer keeps it one token and a match query on it finds only that test's books."""
    return f"mk{uuid.uuid4().hex[:16]}"
