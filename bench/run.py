"""Run the benchmarks against the running, deployed stack; print tables, write a JSON file.

    python -m bench.run [--quick] [--out FILE.json] [--plot FILE.png | --no-plot]

Results go to ``bench/results/latest.json`` and ``bench/results/throughput.png`` (a full run)
or ``bench/results/quick.json`` and no plot (``--quick``), unless told otherwise.

Needs the stack up and deployed, and its settings in the environment:
``make up && make deploy && set -a && eval "$(make -s env)" && set +a``.

Sections (``--sections``, all by default):

``throughput``  the sync handler in-process vs the bulk ceiling vs the seed's way (`throughput`)
``e2e``         lag from write to searchable through the deployed stack (`e2e`)
``drain``       a burst of table writes until all searchable vs the node's ``_bulk`` (`drain`)
``api``         REST API writes and lists under load, LocalStack's CPU by part (`api_load`)
``stack``       ``make up``/``make deploy`` times on a scratch stack, memory (`stackfigures`)
``extras``      other benchmark modules in this folder, when present (``backfill_bench``,
                ``search_latency``: each exposes ``run(quick: bool) -> dict``)

``--quick`` runs in about two minutes with fewer records and runs; it skips the lifecycle timings
(a scratch stack takes minutes) and says so in the JSON.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import api_load, drain, e2e, goals, report, stackfigures, throughput
from bench.common import ROOT, BenchError, opensearch_client, require_deployed
from tests.support.settings import Settings

SECTIONS = ("throughput", "e2e", "drain", "api", "stack", "extras")
EXTRA_MODULES = ("backfill_bench", "search_latency")
RESULTS = ROOT / "bench" / "results"
DEFAULT_OUT = {False: RESULTS / "latest.json", True: RESULTS / "quick.json"}
"""A quick run never overwrites the full run's results."""
DEFAULT_PLOT = RESULTS / "throughput.png"


def say(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer records and runs (~2 min)")
    parser.add_argument(
        "--out", type=Path, help="JSON result file (default: results/latest.json or quick.json)"
    )
    parser.add_argument(
        "--plot",
        type=Path,
        help="throughput plot, PNG (default: results/throughput.png, full runs)",
    )
    parser.add_argument("--no-plot", action="store_true", help="write no plot")
    parser.add_argument(
        "--sections",
        default=",".join(SECTIONS),
        help=f"comma-separated subset of {','.join(SECTIONS)}",
    )
    parser.add_argument(
        "--no-lifecycle", action="store_true", help="skip the scratch-stack make up/deploy timings"
    )
    args = parser.parse_args(argv)
    args.sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    args.out = args.out or DEFAULT_OUT[args.quick]
    if args.no_plot:
        args.plot = None
    elif args.plot is None and not args.quick:
        args.plot = DEFAULT_PLOT
    unknown = set(args.sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")
    return args


# --- metadata -----------------------------------------------------------------------------


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return out.stdout.strip()


def _memory_total_mib() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024
    except OSError:
        pass
    return None


def preflight(args: argparse.Namespace, endpoints: Settings) -> str:
    """Fail in a second, not after minutes of measuring: the node answers, and the deployed
    names are known when the end-to-end section will need them. Returns OpenSearch's version."""
    if {"e2e", "drain", "api"} & set(args.sections):
        require_deployed(endpoints)
    try:
        return str(opensearch_client(endpoints, timeout=5).info()["version"]["number"])
    except Exception as error:  # connection refused, timeout, not OpenSearch: all the same here
        raise BenchError(
            f"OpenSearch does not answer at {endpoints.opensearch_url} ({type(error).__name__}):"
            ' run `make up`, then `set -a; eval "$(make -s env)"; set +a`'
        ) from error


def metadata(endpoints: Settings, quick: bool, opensearch_version: str) -> dict[str, Any]:
    return {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": quick,
        "git_commit": _git("rev-parse", "HEAD"),
        "git_dirty": bool(_git("status", "--porcelain")),
        "python": platform.python_version(),
        "opensearch": opensearch_version,
        "cpus": os.cpu_count(),
        "memory_mib": _memory_total_mib(),
        "load_average_start": [round(x, 2) for x in os.getloadavg()],
        "stack_mode": os.environ.get("STACK_MODE", "native"),
        "opensearch_url": endpoints.opensearch_url,
    }


# --- sections -----------------------------------------------------------------------------


def run_extras(quick: bool) -> dict[str, Any]:
    """Other helpers' modules, each ``run(quick) -> dict``; a missing one is noted, a failing
    one recorded, neither stops the run."""
    results: dict[str, Any] = {}
    for name in EXTRA_MODULES:
        if not (ROOT / "bench" / f"{name}.py").exists():
            say(f"note: bench/{name}.py is not here; skipping it")
            results[name] = {"skipped": f"bench/{name}.py not present"}
            continue
        say(f"extras: {name}")
        began = time.monotonic()
        try:
            module = importlib.import_module(f"bench.{name}")
            with throughput.quiet_sync_logs(stdout=False):
                results[name] = module.run(quick=quick)
        except Exception as error:  # someone else's module: report, do not abort the run
            say(f"note: bench/{name}.py failed: {type(error).__name__}: {error}")
            results[name] = {"error": f"{type(error).__name__}: {error}"}
        results[name]["_seconds"] = round(time.monotonic() - began, 1)
    return results


def run_sections(args: argparse.Namespace, endpoints: Settings) -> dict[str, Any]:
    version = preflight(args, endpoints)
    result: dict[str, Any] = {"meta": metadata(endpoints, args.quick, version)}
    pids = stackfigures.stack_pids()
    memory: dict[str, Any] = {
        "at_rest": {
            **stackfigures.process_memory(pids),
            "lambda_environment_count": stackfigures.lambda_environment_count(pids),
        }
    }
    if not pids:
        memory["note"] = "no pid files: memory is read for the native stack only"
    cpu: dict[str, Any] = {}
    timings: dict[str, float] = {}

    def timed(name: str, work: Callable[[], Any]) -> Any:
        began = time.monotonic()
        value = work()
        timings[name] = round(time.monotonic() - began, 1)
        return value

    if "throughput" in args.sections:
        config = (
            throughput.ThroughputConfig.quick() if args.quick else throughput.ThroughputConfig()
        )
        with stackfigures.MemorySampler(pids) as sampler:
            result["throughput"] = timed(
                "throughput", lambda: throughput.run(config, endpoints, say)
            )
        memory["peak_throughput"] = sampler.peak
        cpu["throughput"] = sampler.cpu_pct
    if "e2e" in args.sections:
        e2e_config = e2e.QUICK if args.quick else e2e.E2eConfig()
        with stackfigures.MemorySampler(pids) as sampler:
            result["e2e"] = timed(
                "e2e",
                lambda: e2e.run(
                    e2e_config, endpoints, say, watch=lambda: stackfigures.MemorySampler(pids)
                ),
            )
        memory["peak_e2e"] = sampler.peak
        cpu["e2e"] = sampler.cpu_pct
    if "drain" in args.sections:
        drain_config = drain.QUICK if args.quick else drain.DrainConfig()
        result["drain"] = timed("drain", lambda: drain.run(drain_config, endpoints, say))
    if "api" in args.sections:
        result["api"] = timed("api", lambda: api_load.run(args.quick, endpoints, say))
    if "stack" in args.sections:
        result["stack"] = {
            "memory_mib": memory,
            "cpu_pct_of_one_core": cpu,
            "lifecycle": _lifecycle(args, timings),
        }
    if "extras" in args.sections:
        result["extras"] = timed("extras", lambda: run_extras(args.quick))
    result["goals"] = goals.goals(result)
    result["meta"]["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    result["meta"]["section_seconds"] = timings
    return result


def _lifecycle(args: argparse.Namespace, timings: dict[str, float]) -> dict[str, Any]:
    if args.quick or args.no_lifecycle:
        why = "quick mode" if args.quick else "--no-lifecycle"
        return {"skipped": f"{why}: a scratch stack takes minutes; run `make bench`"}
    began = time.monotonic()
    try:
        return stackfigures.lifecycle(say)
    finally:
        timings["stack_lifecycle"] = round(time.monotonic() - began, 1)


# --- output -------------------------------------------------------------------------------


def write_outputs(result: dict[str, Any], args: argparse.Namespace) -> None:
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    say(f"wrote {args.out}")
    if args.plot and "throughput" in result:
        try:
            from bench.plot import plot_throughput

            say(f"wrote {plot_throughput(result, args.plot)}")
        except ImportError:
            say("note: matplotlib is not installed (pip install -e '.[bench]'): no plot")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    endpoints = Settings.from_env()
    load = os.getloadavg()[0]
    if load > (os.cpu_count() or 1):
        say(
            f"note: load average {load:.2f} on {os.cpu_count()} CPUs: absolute figures suffer, "
            "ratios measured side by side much less"
        )
    began = time.monotonic()
    try:
        result = run_sections(args, endpoints)
    except BenchError as error:
        say(f"error: {error}")
        return 2
    result["meta"]["total_seconds"] = round(time.monotonic() - began, 1)
    write_outputs(result, args)
    report.print_tables(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
