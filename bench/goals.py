"""The goals of issue 14, read from one run's result, side by side with what was measured.

Each goal is a figure of one section, a bound and a direction; `goals` returns one row per
goal whose section ran: the value, the goal, whether it is met, and ``progress`` (value / goal
for "at least" goals, goal / value for "at most" ones: 1.0 or more means met), which the plot
shows.

Where the same run measures a limit the figure cannot pass on this machine, the row carries it
too (``limit``, what bounds it in ``limited_by``) and how close the figure came
(``of_limit``): the issue asks, for a goal not met, which limit holds and how close we are.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["API_WRITES_BEFORE", "GOALS", "Goal", "goals"]

API_WRITES_BEFORE = 13.7
"""REST API writes/s with 8 concurrent writers before issue 14 (its table); the goal is 2x."""


@dataclass(frozen=True)
class Goal:
    figure: str
    path: tuple[str, ...]
    bound: float
    at_least: bool
    unit: str = "x"
    limit: tuple[str, ...] | None = None
    """Where the run measured the figure's limit on this machine, if it did."""
    limited_by: str = ""


GOALS = (
    Goal(
        "burst of table writes -> all searchable, over the node's _bulk rate",
        ("drain", "ratio"),
        0.5,
        True,
        limit=("drain", "write_ratio"),
        limited_by="LocalStack taking the writes (over the same _bulk rate)",
    ),
    Goal(
        "a backlog in the stream -> all searchable, over the node's _bulk rate",
        ("drain", "backlog", "ratio"),
        0.5,
        True,
        limit=("drain", "backlog", "cpu_bound_ratio"),
        limited_by="every core busy at the drain's own CPU cost per record",
    ),
    Goal(
        "the function vs the bulk ceiling, batch 100",
        ("throughput", "headline", "ours_over_ceiling"),
        0.9,
        True,
        limit=("throughput", "headline", "exact_over_ceiling"),
        limited_by="the exact ceiling: the bulk ceiling plus the _mget exactness needs",
    ),
    Goal(
        "the function vs the seed's per-record way, batch 100",
        ("throughput", "headline", "ours_over_seed"),
        100,
        True,
        limit=("throughput", "headline", "exact_over_seed"),
        limited_by="the exact ceiling over the seed's way",
    ),
    Goal(
        "table writes at 50/s: p95 until stored",
        ("e2e", "table", "indexed_lag_p95_s"),
        0.5,
        False,
        " s",
    ),
    Goal(
        "table writes at 50/s: p95 until searchable",
        ("e2e", "table", "lag_p95_s"),
        1.5,
        False,
        " s",
    ),
    Goal(
        "REST API writes/s, 8 concurrent writers",
        ("api", "writes", "requests_per_s"),
        2 * API_WRITES_BEFORE,
        True,
        "/s",
    ),
    Goal(
        "backfill vs the bulk ceiling",
        ("extras", "backfill_bench", "backfill_vs_bulk"),
        0.5,
        True,
    ),
)


def _find(result: Mapping[str, Any], path: tuple[str, ...]) -> float | None:
    value: Any = result
    for key in path:
        if not isinstance(value, Mapping) or key not in value:
            return None
        value = value[key]
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def goals(result: Mapping[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for goal in GOALS:
        value = _find(result, goal.path)
        if value is None:
            continue
        met = value >= goal.bound if goal.at_least else value <= goal.bound
        progress = value / goal.bound if goal.at_least else goal.bound / max(value, 1e-9)
        row: dict[str, Any] = {
            "figure": goal.figure,
            "value": round(value, 3),
            "goal": f"{'>=' if goal.at_least else '<='} {goal.bound:g}{goal.unit}",
            "met": met,
            "progress": round(progress, 3),
            "source": ".".join(goal.path),
        }
        limit = _find(result, goal.limit) if goal.limit else None
        if limit:
            row |= {
                "limit": round(limit, 3),
                "of_limit": round(value / limit, 3),
                "limited_by": goal.limited_by,
                "limit_source": ".".join(goal.limit or ()),
            }
        rows.append(row)
    return rows
