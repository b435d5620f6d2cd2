"""What every benchmark section shares: where the stack is, summaries of repeated runs, and
the scratch indices measurements write to."""

from __future__ import annotations

import math
import os
import statistics
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ddb_opensearch_sync.client import make_client
from ddb_opensearch_sync.index import concrete_index_name, setup_index, template_name

ROOT = Path(__file__).resolve().parent.parent

if TYPE_CHECKING:
    from opensearchpy import OpenSearch

__all__ = [
    "ROOT",
    "BenchError",
    "Endpoints",
    "Summary",
    "opensearch_client",
    "percentile",
    "ratio_summary",
    "scratch_index",
    "summarize",
]


class BenchError(RuntimeError):
    """The benchmark cannot run (stack down, not deployed...); the message says what to do."""


@dataclass(frozen=True)
class Endpoints:
    """Where the running stack and the deployed system are (`make env`'s variables)."""

    opensearch_url: str
    aws_endpoint_url: str
    region: str
    api_url: str | None
    table_name: str | None
    index_name: str | None

    @classmethod
    def from_env(cls) -> Endpoints:
        env = os.environ
        return cls(
            opensearch_url=env.get("OPENSEARCH_URL", "http://localhost:9200"),
            aws_endpoint_url=env.get("AWS_ENDPOINT_URL", "http://localhost:4566"),
            region=env.get("AWS_DEFAULT_REGION", "us-east-1"),
            api_url=(env.get("API_URL") or "").rstrip("/") or None,
            table_name=env.get("TABLE_NAME") or None,
            index_name=env.get("INDEX_NAME") or None,
        )

    def require_deployed(self) -> tuple[str, str, str]:
        if not (self.api_url and self.table_name and self.index_name):
            raise BenchError(
                "API_URL, TABLE_NAME and INDEX_NAME are not set: run `make deploy`, then "
                '`set -a; eval "$(make -s env)"; set +a`'
            )
        return self.api_url, self.table_name, self.index_name


def opensearch_client(endpoints: Endpoints, timeout: float = 60.0) -> OpenSearch:
    """The project's own client for the stack's node (no auth, no transport retries)."""
    return make_client(endpoints.opensearch_url, timeout=timeout)


@contextmanager
def scratch_index(client: OpenSearch, prefix: str) -> Iterator[str]:
    """A fresh alias, index and template made by the project's own setup (so mapping and
    settings cost what they cost in production), dropped afterwards. Yields the alias."""
    alias = f"bench-{prefix}-{uuid.uuid4().hex[:8]}"
    setup_index(client, alias)
    try:
        yield alias
    finally:
        client.indices.delete(index=concrete_index_name(alias), ignore_unavailable=True)
        client.indices.delete_index_template(name=template_name(alias), ignore=404)


@dataclass(frozen=True)
class Summary:
    """Repeated measurements of one figure: median and spread."""

    median: float
    low: float
    high: float
    runs: tuple[float, ...]

    @property
    def spread_pct(self) -> float:
        """(max - min) / median, in percent: how far apart the runs were."""
        return 0.0 if self.median == 0 else 100.0 * (self.high - self.low) / self.median

    def as_dict(self, digits: int = 3) -> dict[str, Any]:
        return {
            "median": round(self.median, digits),
            "min": round(self.low, digits),
            "max": round(self.high, digits),
            "spread_pct": round(self.spread_pct, 1),
            "runs": [round(r, digits) for r in self.runs],
        }


def summarize(values: Sequence[float]) -> Summary:
    if not values:
        raise ValueError("no measurements to summarize")
    return Summary(statistics.median(values), min(values), max(values), tuple(values))


def ratio_summary(numerators: Sequence[float], denominators: Sequence[float]) -> Summary:
    """Ratios of measurements taken side by side in the same run, then summarized: drift
    between runs (other load on the machine) cancels within each pair."""
    return summarize([n / d for n, d in zip(numerators, denominators, strict=True)])


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (no interpolation: every figure is one that was observed)."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]
