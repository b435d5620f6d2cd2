"""Where ours spends its time, three ways, on the benchmark's workload at one batch size:

1. a *ladder* from the ceiling up to the handler, one layer added per rung, each rung measured
   like `throughput` does (scratch index, preload, interleaved, median of ``--runs``):
   ceiling (``helpers.bulk``, prepared documents) -> + external versions -> ours' writer
   (``BulkWriter`` on prepared changes) -> + mapping (``BatchSyncer`` on raw records) ->
   + the stored order compared first (``check_first``: one ``_mget`` per request) -> + the
   Lambda handler (Powertools logging and metrics);
2. the per-record cost of each step of the pure mapping (``timeit``, no I/O);
3. with ``--pyinstrument``, a profile of the handler (needs ``pip install pyinstrument``).

    python -m bench.profile_ours [--batch-size 100] [--records 3000] [--runs 5]

Needs the stack's ``OPENSEARCH_URL`` in the environment.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import timeit
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from opensearchpy import helpers

from bench import throughput
from bench.common import opensearch_client
from bench.streamgen import StreamGenerator
from ddb_opensearch_sync.core import records
from ddb_opensearch_sync.index.writer import BulkWriter
from ddb_opensearch_sync.sync.batch import BatchSyncer
from ddb_opensearch_sync.sync.deadletter import LogDeadLetters
from tests.support.opensearch import scratch_alias
from tests.support.settings import Settings

if TYPE_CHECKING:
    from opensearchpy import OpenSearch

    from ddb_opensearch_sync.core.records import Change


def per_record_us(step: Callable[[Any], Any], items: list[Any]) -> float:
    best = min(timeit.repeat(lambda: [step(x) for x in items], number=1, repeat=5))
    return round(best / len(items) * 1e6, 1)


def mapping_breakdown(stream: list[dict[str, Any]]) -> dict[str, float]:
    """Microseconds per record of `records.to_change` and of its main parts."""
    upserts = [r for r in stream if r["eventName"] != "REMOVE"]
    images = [records.plain_image(r["dynamodb"]["NewImage"]) for r in upserts]
    return {
        "to_change (all records)": per_record_us(records.to_change, stream),
        "plain_image (NewImage)": per_record_us(
            lambda r: records.plain_image(r["dynamodb"]["NewImage"]), upserts
        ),
        "dumps (document)": per_record_us(records.dumps, images),
        "document_id (Keys)": per_record_us(
            lambda r: records.document_id(r["dynamodb"]["Keys"]), stream
        ),
    }


def _versioned(client: OpenSearch, alias: str, work: list[list[Change]]) -> None:
    for changes in work:
        actions = [
            {
                "_id": c.doc_id,
                "_source": c.document,
                "version": c.version,
                "version_type": "external",
            }
            for c in changes
        ]
        # Same-second conflicts (rare) are ours' business, not this rung's: do not raise.
        helpers.bulk(client, actions, index=alias, chunk_size=1000, raise_on_error=False)


def _writer(client: OpenSearch, alias: str, work: list[list[Change]]) -> None:
    writer = BulkWriter(client, alias)
    for changes in work:
        writer.write(changes, deadline=time.monotonic() + 60)


def _syncer(client: OpenSearch, alias: str, work: list[throughput.Batch]) -> None:
    syncer = BatchSyncer(BulkWriter(client, alias), LogDeadLetters())
    for batch in work:
        syncer.sync_records(batch, deadline=time.monotonic() + 60)


def _checking_syncer(client: OpenSearch, alias: str, work: list[throughput.Batch]) -> None:
    """`_syncer` comparing with the stored documents first, as the function does."""
    syncer = BatchSyncer(BulkWriter(client, alias, check_first=True), LogDeadLetters())
    for batch in work:
        syncer.sync_records(batch, deadline=time.monotonic() + 60)


def ladder(
    client: OpenSearch, endpoints: Settings, workload: throughput.Workload, runs: int
) -> dict[str, float]:
    """Median records/s of each rung; each rung adds one layer to the one before."""
    mapped = [
        records.compact([records.to_change(r, position=i) for i, r in enumerate(batch)])[0]
        for batch in workload.work
    ]
    rungs: dict[str, tuple[Callable[[OpenSearch, str, Any], None], Any]] = {
        "ceiling (helpers.bulk)": (throughput._ceiling, workload.ceiling_work),
        "+ external versions": (_versioned, mapped),
        "ours' BulkWriter, premapped": (_writer, mapped),
        "+ mapping (BatchSyncer)": (_syncer, workload.work),
        "+ stored order first (_mget)": (_checking_syncer, workload.work),
        "+ handler (Powertools)": (throughput._ours(endpoints), workload.work),
    }
    rates: dict[str, list[float]] = {name: [] for name in rungs}
    for run in range(runs + 1):  # the first round warms up
        for name, (write, work) in rungs.items():
            with (
                throughput.quiet_sync_logs(),
                scratch_alias(client, "bench-ladder") as alias,
            ):
                throughput._preload(client, alias, workload.preload)
                began = time.perf_counter()
                write(client, alias, work)
                rate = workload.records("ours") / (time.perf_counter() - began)
            if run:
                rates[name].append(rate)
    return {name: round(statistics.median(values)) for name, values in rates.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--records", type=int, default=3000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--pyinstrument", action="store_true")
    args = parser.parse_args()

    endpoints = Settings.from_env()
    client = opensearch_client(endpoints)
    generator = StreamGenerator(existing=1000)
    baseline, stream = generator.baseline(), generator.records(args.records)
    workload = throughput.Workload.build(
        baseline, throughput.baseline_actions(baseline), stream, args.batch_size, 0
    )
    print(f"batch {args.batch_size}, {args.records} records, median of {args.runs} runs")
    previous = None
    for name, rate in ladder(client, endpoints, workload, args.runs).items():
        per_record = 1e6 / rate
        step = "" if previous is None else f"  ({per_record - previous:+.0f} us/record)"
        print(f"  {name:<30} {rate:>7,} records/s  {per_record:6.0f} us/record{step}")
        previous = per_record
    for step_name, us in mapping_breakdown(stream).items():
        print(f"  {step_name:<30} {us:>7} us/record")
    if args.pyinstrument:
        _profile(client, endpoints, workload)


def _profile(client: OpenSearch, endpoints: Settings, workload: throughput.Workload) -> None:
    from pyinstrument import Profiler

    writers = {"ours": throughput._ours(endpoints)}
    throughput.measure(client, "ours", workload, writers)  # warm-up
    profiler = Profiler(interval=0.0005)
    profiler.start()
    rate = throughput.measure(client, "ours", workload, writers)
    profiler.stop()
    print(f"ours, profiled (so slower): {rate:,.0f} records/s")
    print(profiler.output_text(unicode=True, color=sys.stdout.isatty()))


if __name__ == "__main__":
    main()
