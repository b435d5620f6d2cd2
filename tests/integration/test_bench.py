"""The benchmark runs: ``python -m bench.run --quick`` against the deployed stack writes every
figure.

No speed is asserted (the machine may be busy); only that each figure is there and is a
number, that the throughput ratios are consistent with the rates they come from, and that no
write was lost on the way.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.goals import GOALS

pytestmark = pytest.mark.deployed

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 600  # seconds; --quick takes about two on the development machine

VARIANTS = ("ours", "ceiling", "exact", "seed")
BATCH_SIZES = ("10", "100", "1000")
RATIOS = (
    "ours_over_ceiling",
    "ours_over_seed",
    "ours_over_exact",
    "exact_over_ceiling",
    "ceiling_over_seed",
    "exact_over_seed",
)
SUMMARY_KEYS = ("median", "min", "max", "spread_pct", "runs")
E2E_FIGURES = (
    "written",
    "write_rate",
    "sustained_items_per_s",
    "write_latency_p50_s",
    "lag_p50_s",
    "lag_p95_s",
    "lag_max_s",
    "indexed_lag_p95_s",
)
PROCESSES = ("opensearch", "localstack", "lambda_environments")
LIFECYCLE_FIGURES = ("make_up_fresh_s", "make_up_warm_s", "make_up_noop_s", "make_deploy_s")


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("bench") / "quick.json"
    completed = subprocess.run(
        [sys.executable, "-m", "bench.run", "--quick", "--out", str(out)],
        cwd=ROOT,
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert completed.returncode == 0, f"bench failed:\n{completed.stdout}\n{completed.stderr}"
    assert "Headline at batch 100" in completed.stdout  # the table was printed
    return json.loads(out.read_text())


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def assert_summary(entry: dict[str, Any], where: str) -> None:
    for key in SUMMARY_KEYS:
        assert key in entry, f"{where}: no {key}"
    assert all(is_number(entry[k]) for k in SUMMARY_KEYS[:-1]), f"{where}: {entry}"
    assert entry["runs"] and all(is_number(r) and r > 0 for r in entry["runs"]), where
    assert entry["min"] <= entry["median"] <= entry["max"], where


def test_metadata_says_how_it_ran(result: dict[str, Any]) -> None:
    meta = result["meta"]
    assert meta["quick"] is True
    for key in ("started_at", "cpus", "load_average_start", "load_average_end", "opensearch"):
        assert key in meta, key
    assert meta["total_seconds"] > 0


def test_throughput_has_every_writer_at_every_batch_size(result: dict[str, Any]) -> None:
    throughput = result["throughput"]
    assert throughput["config"]["batch_sizes"] == [int(b) for b in BATCH_SIZES]
    for variant in VARIANTS:
        for size in BATCH_SIZES:
            assert_summary(throughput["rates"][variant][size], f"{variant} at {size}")
    for ratio in RATIOS:
        for size in BATCH_SIZES:
            assert_summary(throughput["ratios"][ratio][size], f"{ratio} at {size}")
    assert is_number(throughput["mapping_us_per_record"])


def test_ratios_are_the_per_run_quotients_of_the_rates(result: dict[str, Any]) -> None:
    rates, ratios = result["throughput"]["rates"], result["throughput"]["ratios"]
    for size in BATCH_SIZES:
        ours = rates["ours"][size]["runs"]
        ceiling = rates["ceiling"][size]["runs"]
        expected = [o / c for o, c in zip(ours, ceiling, strict=True)]
        got = ratios["ours_over_ceiling"][size]["runs"]
        assert got == pytest.approx(expected, rel=0.01, abs=0.002), size


def test_headline_is_the_batch_100_ratios(result: dict[str, Any]) -> None:
    throughput = result["throughput"]
    headline = throughput["headline"]
    assert headline["batch_size"] == 100
    ratios = throughput["ratios"]
    for ratio in RATIOS:
        assert headline[ratio] == ratios[ratio]["100"]["median"], ratio


@pytest.mark.parametrize("phase", ["api", "table"])
def test_e2e_lag_figures_for_each_way_of_writing(result: dict[str, Any], phase: str) -> None:
    figures = result["e2e"][phase]
    for name in E2E_FIGURES:
        assert is_number(figures.get(name)), f"{phase}.{name} = {figures.get(name)!r}"
    assert figures["write_errors"] == 0, figures["first_errors"]
    assert figures["written"] == figures["items"]
    assert figures["not_searchable"] == 0
    assert 0 <= figures["lag_p50_s"] <= figures["lag_p95_s"] <= figures["lag_max_s"]
    for process in PROCESSES:
        assert is_number(figures["cpu_pct_of_one_core"].get(process)), process
        assert is_number(figures["peak_rss_mib"].get(process)), process


def test_stack_memory_at_rest_and_under_load(result: dict[str, Any]) -> None:
    memory = result["stack"]["memory_mib"]
    for phase in ("at_rest", "peak_throughput", "peak_e2e"):
        for process in (*PROCESSES, "lambda_environment_count"):
            assert is_number(memory[phase].get(process)), f"{phase}.{process}"
        assert memory[phase]["opensearch"] > 0 and memory[phase]["localstack"] > 0, phase
    for phase in ("throughput", "e2e"):
        for process in PROCESSES:
            assert is_number(result["stack"]["cpu_pct_of_one_core"][phase].get(process))


def test_lifecycle_timings_are_skipped_in_quick_mode_and_say_so(result: dict[str, Any]) -> None:
    lifecycle = result["stack"]["lifecycle"]
    assert "quick mode" in lifecycle["skipped"]
    assert not set(LIFECYCLE_FIGURES) & set(lifecycle)


def test_other_benchmarks_are_run_or_noted(result: dict[str, Any]) -> None:
    for name in ("backfill_bench", "search_latency"):
        entry = result["extras"][name]
        present = (ROOT / "bench" / f"{name}.py").exists()
        assert ("skipped" not in entry) if present else ("skipped" in entry), entry
        assert "error" not in entry, entry


def test_the_search_bench_reports_what_a_sync_token_adds(result: dict[str, Any]) -> None:
    rows = result["extras"]["search_latency"]["read_your_writes"]
    for row in ("without_token", "with_one_token"):
        assert rows[row]["count"] > 0 and is_number(rows[row]["p50_ms"]), rows
        assert rows[row]["p95_ms"] >= rows[row]["p50_ms"], rows
    assert is_number(rows["added_p50_ms"]) and is_number(rows["added_p95_ms"]), rows


def test_drain_times_a_burst_against_the_nodes_bulk_rate(result: dict[str, Any]) -> None:
    drain = result["drain"]
    sync = drain["sync"]
    assert sync["searchable"] == sync["items"] == drain["config"]["items"]
    for name in ("seconds", "items_per_s", "write_items_per_s", "searchable_after_last_write_s"):
        assert is_number(sync[name]) and sync[name] >= 0, name
    ceiling = drain["ceiling_items_per_s"]
    assert all(is_number(ceiling[k]) and ceiling[k] > 0 for k in ("before", "after", "mean"))
    assert drain["ratio"] == pytest.approx(sync["items_per_s"] / ceiling["mean"], abs=0.002)


def test_drain_reports_a_backlog_beside_its_cpu_bound_limit(result: dict[str, Any]) -> None:
    backlog = result["drain"]["backlog"]
    assert backlog["searchable"] == backlog["items"] == result["drain"]["config"]["backlog_items"]
    assert backlog["cpu_ms_per_1000_items"] > 0 and backlog["cores"] >= 1, backlog
    # No drain outruns its own CPU on this machine's cores: the limit is an upper bound.
    assert backlog["items_per_s"] <= backlog["cpu_bound_items_per_s"] * 1.001, backlog
    assert backlog["ratio"] <= backlog["cpu_bound_ratio"] + 0.001, backlog


@pytest.mark.parametrize("load", ["writes", "lists"])
def test_api_load_says_where_localstacks_time_goes(result: dict[str, Any], load: str) -> None:
    api = result["api"]
    for kind in ("post", "list"):
        assert is_number(api["single"][kind]["p50_ms"]), kind
    figures = api[load]
    assert figures["requests"] > 0 and is_number(figures["requests_per_s"])
    profile = figures["profile"]
    # py-spy may lack the rights to read the process: then the section says why.
    if "skipped" in profile:
        assert profile["skipped"]
    else:
        assert profile["samples"] > 0
        assert all(0 <= pct <= 100 for pct in profile["inclusive_pct"].values())
        assert set(figures["cpu_ms_per_request_by_part"]) == set(profile["inclusive_pct"])


def test_every_goal_of_the_issue_is_reported_beside_its_measurement(
    result: dict[str, Any],
) -> None:
    sources = {row["source"] for row in result["goals"]}
    assert sources == {".".join(goal.path) for goal in GOALS}
    for row in result["goals"]:
        assert is_number(row["value"]) and is_number(row["progress"]), row
        assert row["met"] == (row["progress"] >= 1) or abs(row["progress"] - 1) < 0.001, row


def test_each_limit_is_reported_with_how_close_the_figure_came(result: dict[str, Any]) -> None:
    limited = {".".join(goal.path): goal for goal in GOALS if goal.limit}
    rows = [row for row in result["goals"] if row["source"] in limited]
    assert {row["source"] for row in rows} == set(limited)
    for row in rows:
        assert is_number(row["limit"]) and row["limit"] > 0, row
        assert row["of_limit"] == pytest.approx(row["value"] / row["limit"], abs=0.002), row
        assert row["limited_by"] == limited[row["source"]].limited_by
