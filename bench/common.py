"""What every benchmark section shares: the stack's client, summaries of repeated runs.

Where the stack and the deployed system are comes from `tests.support.settings`, scratch
indices from `tests.support.opensearch`: the benchmarks share the tests' support package.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ddb_opensearch_sync.index.client import make_client
from tests.support.settings import API_URL, INDEX_ALIAS, TABLE_NAME, SettingMissing, Settings

if TYPE_CHECKING:
    from opensearchpy import OpenSearch

__all__ = [
    "ROOT",
    "BenchError",
    "Summary",
    "opensearch_client",
    "percentile",
    "ratio_summary",
    "require_deployed",
    "summarize",
]

ROOT = Path(__file__).resolve().parent.parent


class BenchError(RuntimeError):
    """The benchmark cannot run (stack down, not deployed...); the message says what to do."""


def require_deployed(endpoints: Settings) -> tuple[str, str, str]:
    """The deployed API's URL, table and alias; `BenchError` before ``make deploy``."""
    try:
        api_url, table, alias = (endpoints.require(n) for n in (API_URL, TABLE_NAME, INDEX_ALIAS))
    except SettingMissing as missing:
        raise BenchError(str(missing)) from None
    return api_url, table, alias


def opensearch_client(endpoints: Settings, timeout: float = 60.0) -> OpenSearch:
    """The project's own client for the stack's node (no auth, no transport retries)."""
    return make_client(endpoints.opensearch_url, timeout=timeout)


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
