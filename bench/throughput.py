"""Function throughput: the sync handler against the bulk ceiling, the exact ceiling and the naive
per-record way.

Four writers take the same generated stream (`streamgen`), cut into batches of 10, 100 and
1000 records, each into a fresh scratch index made by the project's index setup (preloaded
with the books that predate the stream), all in the same process against the same OpenSearch
node, taking turns a tenth of the work at a time (`measure_side_by_side`):

``ours``
    The Lambda handler itself (``handler.handler``: Powertools logging and metrics included)
    with a Lambda-like context: decode, compact, versioned ``_bulk``, conflict resolution.
``ceiling``
    ``opensearchpy.helpers.bulk`` sending the documents ours ends up writing for each batch
    (one per item, already serialised, no versions): the cost of the ``_bulk`` requests
    alone: what a sync would cost if decoding stream records were free.
``exact``
    The ceiling plus the one read an exact sync cannot skip (issue 12's ordering: the stored
    ``_sync.seq`` decides, so a writer must know it before writing): before each batch's
    ``_bulk``, one ``_mget`` (the writer's own ``filter_path``) of the batch's documents that
    no earlier batch wrote. Ours reads exactly those; what an earlier batch wrote it remembers
    (`RecentlyStored`). This is the limit for an exact sync on this node; ours over it is what
    ours' own work (mapping, bookkeeping, the handler) costs.
``seed``
    What a first version typically does: per record, ``index`` or ``delete`` with
    ``refresh=True``. Slow by design, so it gets fewer records (its rate does not depend on
    the count).

Throughput is stream records handled per second of wall time, setup excluded. After each
measurement the index is checked to hold exactly the live items, so no writer is fast by
dropping work.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer
from opensearchpy import helpers
from opensearchpy.exceptions import NotFoundError

from bench.common import opensearch_client, ratio_summary, summarize
from bench.streamgen import StreamGenerator, batches
from ddb_opensearch_sync.core import settings
from ddb_opensearch_sync.core.records import Action, compact, to_change
from ddb_opensearch_sync.index.writer import LOOKUP_FIELDS
from tests.support.opensearch import scratch_alias
from tests.support.settings import Settings

if TYPE_CHECKING:
    from opensearchpy import OpenSearch

__all__ = ["ThroughputConfig", "quiet_sync_logs", "run"]

VARIANTS = ("ours", "ceiling", "exact", "seed")
SLICES = 10
"""Turns per measurement: the writers alternate, a tenth of the work at a time."""
Batch = list[dict[str, Any]]
LAMBDA_TIMEOUT_S = 60.0
BULK_MAX_BYTES = 5 * 1024 * 1024  # the function's default (settings.DEFAULT_BULK_MAX_BYTES)


@dataclass(frozen=True)
class ThroughputConfig:
    batch_sizes: tuple[int, ...] = (10, 100, 1000)
    records: int = 6000  # per measurement, for ours and the ceiling
    # per measurement for the seed's way (refresh=True per record is slow)
    seed_records: int = 300
    existing: int = 5000  # books in the table (and the index) before the stream; untimed
    runs: int = 7
    warmup_records: int = 1000
    seed: int = 20261127

    @classmethod
    def quick(cls) -> ThroughputConfig:
        return cls(records=800, seed_records=40, existing=1000, runs=2, warmup_records=200)


# --- the Lambda side: context and quiet logs ----------------------------------------------


@dataclass
class LambdaContext:
    """The parts of Lambda's context object the handler and Powertools read."""

    function_name: str = "bench-sync"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 512
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:000000000000:function:bench-sync"
    log_group_name: str = "/aws/lambda/bench-sync"
    log_stream_name: str = "bench"
    _deadline: float = field(default_factory=lambda: time.monotonic() + LAMBDA_TIMEOUT_S)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@contextlib.contextmanager
def quiet_sync_logs(*, stdout: bool = True) -> Iterator[None]:
    """Send the handler's log lines (and, with ``stdout``, its metric blobs) to nowhere, still
    formatted (their cost is part of the function's cost) but not printed over the
    benchmark's own output.

    Importing the handler configures Powertools' JSON handler on every ``ddb_opensearch_sync``
    logger, at INFO; it holds the ``sys.stdout`` of import time, so redirecting stdout is not
    enough for logs: the stream of each such handler is swapped too. Other benchmark modules
    run later in the same process are quieted the same way (``stdout=False``: their own
    prints stay).
    """
    handlers: dict[int, logging.StreamHandler[Any]] = {}
    for name in list(logging.root.manager.loggerDict):
        if name.startswith(("ddb-opensearch-sync", "ddb_opensearch_sync")):
            for handler in logging.getLogger(name).handlers:
                if isinstance(handler, logging.StreamHandler):
                    handlers[id(handler)] = handler  # Powertools shares one among loggers
    swapped = [(h, h.setStream(_NullWriter())) for h in handlers.values()]
    try:
        with contextlib.redirect_stdout(io.StringIO()) if stdout else contextlib.nullcontext():
            yield
    finally:
        for handler, stream in swapped:
            handler.setStream(stream)


class _NullWriter(io.TextIOBase):
    def write(self, text: str) -> int:
        return len(text)


# --- the three writers --------------------------------------------------------------------


def _ours(endpoints: Settings) -> Callable[[OpenSearch, str, Sequence[Batch]], None]:
    from ddb_opensearch_sync.sync import handler as lambda_handler  # Powertools set-up on import

    def run(_client: OpenSearch, alias: str, work: Sequence[Batch]) -> None:
        # The handler reads its settings from the environment, as in Lambda.
        os.environ.update(
            {
                settings.ENV_OPENSEARCH_ENDPOINT: endpoints.opensearch_url,
                settings.ENV_OPENSEARCH_AUTH: "none",
                settings.ENV_INDEX_ALIAS: alias,
                settings.ENV_AWS_REGION: endpoints.region,
            }
        )
        os.environ.pop(settings.ENV_DLQ_URL, None)  # dead letters (none expected) are logged
        if settings.Settings.from_env().alias != alias:
            raise RuntimeError("the handler would not write to the scratch index")
        for batch in work:
            response = lambda_handler.handler({"Records": batch}, LambdaContext())
            if response["batchItemFailures"]:
                raise RuntimeError(f"handler reported failures: {response}")

    return run


def ceiling_actions(work: Sequence[Batch]) -> list[list[dict[str, Any]]]:
    """Per batch, the final documents ours writes (newest change per item), pre-serialised."""
    prepared = []
    for batch in work:
        changes = [to_change(r, position=i) for i, r in enumerate(batch)]
        newest, _ = compact([c for c in changes if c.action is not Action.SKIP])
        prepared.append([{"_id": c.doc_id, "_source": c.document} for c in newest])
    return prepared


def _ceiling(client: OpenSearch, alias: str, work: Sequence[list[dict[str, Any]]]) -> None:
    for actions in work:
        # One request per batch, like ours (its cap is 1000 actions and 5 MiB too).
        helpers.bulk(client, actions, index=alias, chunk_size=1000, max_chunk_bytes=BULK_MAX_BYTES)


ExactBatch = tuple[list[str], list[dict[str, Any]]]
"""One batch of the ``exact`` ceiling: the ids to read first, then the ceiling's actions."""


def exact_ceiling_work(ceiling_work: Sequence[list[dict[str, Any]]]) -> list[ExactBatch]:
    """Per batch, the ids no earlier batch wrote (what an exact writer must read) and the
    ceiling's actions."""
    written: set[str] = set()
    work = []
    for actions in ceiling_work:
        ids = [action["_id"] for action in actions]
        work.append(([i for i in ids if i not in written], actions))
        written.update(ids)
    return work


def _exact_ceiling(client: OpenSearch, alias: str, work: Sequence[ExactBatch]) -> None:
    for unseen, actions in work:
        if unseen:
            client.mget(index=alias, body={"ids": unseen}, filter_path=LOOKUP_FIELDS)
        helpers.bulk(client, actions, index=alias, chunk_size=1000, max_chunk_bytes=BULK_MAX_BYTES)


_DESERIALIZER = TypeDeserializer()


def _seed(client: OpenSearch, alias: str, work: Sequence[Batch]) -> None:
    for batch in work:
        for record in batch:
            stream = record["dynamodb"]
            doc_id = stream["Keys"]["book_id"]["S"]
            if record["eventName"] == "REMOVE":
                with contextlib.suppress(NotFoundError):
                    client.delete(index=alias, id=doc_id, refresh=True)
                continue
            image = {k: _DESERIALIZER.deserialize(v) for k, v in stream["NewImage"].items()}
            client.index(index=alias, id=doc_id, body=image, refresh=True)


# --- measuring ----------------------------------------------------------------------------


def baseline_actions(baseline: Batch) -> list[dict[str, Any]]:
    """The documents ours would have written for the books that predate the stream, with
    their external versions, ready for ``helpers.bulk``."""
    actions = []
    for change in (to_change(r) for r in baseline):
        actions.append(
            {
                "_id": change.doc_id,
                "_source": change.document,
                "version": change.version,
                "version_type": "external",
            }
        )
    return actions


def live_count(records: Sequence[Batch]) -> int:
    """Items alive after the records, i.e. what a search through the alias must count."""
    alive: set[str] = set()
    for batch in records:
        for record in batch:
            doc_id = record["dynamodb"]["Keys"]["book_id"]["S"]
            if record["eventName"] == "REMOVE":
                alive.discard(doc_id)
            else:
                alive.add(doc_id)
    return len(alive)


def same_second_writes(work: Sequence[Batch]) -> int:
    """How many of ours' writes will conflict with a same-second version already stored."""
    stored: dict[str, int] = {}
    count = 0
    for batch in work:
        changes = [to_change(r, position=i) for i, r in enumerate(batch)]
        newest, _ = compact(changes)
        for change in newest:
            count += stored.get(change.doc_id) == change.version
            stored[change.doc_id] = change.version
    return count


@dataclass
class Workload:
    """One batch size's input, prepared before any clock starts."""

    batch_size: int
    preload: list[dict[str, Any]]
    work: list[Batch]
    ceiling_work: list[list[dict[str, Any]]]
    exact_work: list[ExactBatch]
    seed_work: list[Batch]
    expected: int
    seed_expected: int
    same_second: int
    """Writes that meet a stored version from the same second (an item changed in an earlier
    batch within the same second): each costs ours a 409, an ``_mget`` and a second round."""

    @classmethod
    def build(
        cls,
        baseline: Batch,
        preload: list[dict[str, Any]],
        records: list[dict[str, Any]],
        size: int,
        seed_records: int,
    ) -> Workload:
        work = batches(records, size)
        seed_work = batches(records[:seed_records], size)
        ceiling_work = ceiling_actions(work)
        return cls(
            batch_size=size,
            preload=preload,
            work=work,
            ceiling_work=ceiling_work,
            exact_work=exact_ceiling_work(ceiling_work),
            seed_work=seed_work,
            expected=live_count([baseline, *work]),
            seed_expected=live_count([baseline, *seed_work]),
            same_second=same_second_writes(work),
        )

    def records(self, variant: str) -> int:
        chosen = self.seed_work if variant == "seed" else self.work
        return sum(len(b) for b in chosen)


def measure(
    client: OpenSearch,
    variant: str,
    workload: Workload,
    writers: dict[str, Callable[[OpenSearch, str, Any], None]],
) -> float:
    """Records per second of one writer alone over one workload, into a scratch index (for
    profiling; the benchmark measures with `measure_side_by_side`)."""
    work: Any = {
        "ours": workload.work,
        "ceiling": workload.ceiling_work,
        "exact": workload.exact_work,
        "seed": workload.seed_work,
    }[variant]
    with (
        quiet_sync_logs(),
        scratch_alias(client, f"bench-{variant}-{workload.batch_size}") as alias,
    ):
        _preload(client, alias, workload.preload)
        began = time.perf_counter()
        writers[variant](client, alias, work)
        elapsed = time.perf_counter() - began
        _check(client, alias, variant, workload)
    return workload.records(variant) / elapsed


def _slices(items: Sequence[Any], count: int) -> list[Sequence[Any]]:
    """``items`` in ``count`` consecutive, nearly equal parts."""
    bounds = [round(i * len(items) / count) for i in range(count + 1)]
    return [items[bounds[i] : bounds[i + 1]] for i in range(count)]


def measure_side_by_side(
    client: OpenSearch,
    workload: Workload,
    writers: dict[str, Callable[[OpenSearch, str, Any], None]],
    shift: int = 0,
) -> dict[str, float]:
    """Records per second of every writer over one workload, each into its own scratch index,
    taking turns slice by slice (a tenth of the work at a time, the order rotating).

    On a shared machine the load comes and goes within seconds; measured in turns, every
    writer sees the same load, and the ratios between them hold even when the absolute rates
    move.
    """
    count = max(1, min(SLICES, len(workload.work)))
    seed_records = [r for batch in workload.seed_work for r in batch]
    parts: dict[str, list[Sequence[Any]]] = {
        "ours": _slices(workload.work, count),
        "ceiling": _slices(workload.ceiling_work, count),
        "exact": _slices(workload.exact_work, count),
        "seed": [batches(list(p), workload.batch_size) for p in _slices(seed_records, count)],
    }
    elapsed = dict.fromkeys(VARIANTS, 0.0)
    with contextlib.ExitStack() as stack:
        stack.enter_context(quiet_sync_logs())
        aliases = {
            v: stack.enter_context(scratch_alias(client, f"bench-{v}-{workload.batch_size}"))
            for v in VARIANTS
        }
        for alias in aliases.values():
            _preload(client, alias, workload.preload)
        for number in range(count):
            for variant in _rotated(VARIANTS, shift + number):
                began = time.perf_counter()
                writers[variant](client, aliases[variant], parts[variant][number])
                elapsed[variant] += time.perf_counter() - began
        for variant, alias in aliases.items():
            _check(client, alias, variant, workload)
    return {v: workload.records(v) / elapsed[v] for v in VARIANTS}


def _preload(client: OpenSearch, alias: str, actions: list[dict[str, Any]]) -> None:
    """The books that predate the stream, as ours would have indexed them; then a refresh, so
    that no measurement pays for the preload's segments."""
    if actions:
        helpers.bulk(client, actions, index=alias, chunk_size=1000, max_chunk_bytes=BULK_MAX_BYTES)
    client.indices.refresh(index=alias)


def _check(client: OpenSearch, alias: str, variant: str, workload: Workload) -> None:
    client.indices.refresh(index=alias)
    found = int(client.count(index=alias)["count"])
    expected = workload.seed_expected if variant == "seed" else workload.expected
    if found != expected:
        raise RuntimeError(
            f"{variant} at batch {workload.batch_size}: {found} items searchable, "
            f"{expected} expected"
        )


def mapping_cost(records: list[dict[str, Any]], repeats: int = 3) -> float:
    """Microseconds per record of ours' pure part (decode, encode, compact), best of
    ``repeats``: the CPU a writer without stream decoding (the ceiling) does not spend."""
    best = float("inf")
    for _ in range(repeats):
        began = time.perf_counter()
        compact([to_change(r, position=i) for i, r in enumerate(records)])
        best = min(best, time.perf_counter() - began)
    return round(best / len(records) * 1e6, 1)


def _rotated(items: Sequence[str], by: int) -> list[str]:
    by %= len(items)
    return [*items[by:], *items[:by]]


def run(config: ThroughputConfig, endpoints: Settings, say: Callable[[str], None]) -> dict:
    """Warm up, then measure every writer at every batch size ``config.runs`` times."""
    client = opensearch_client(endpoints)
    writers: dict[str, Callable[[OpenSearch, str, Any], None]] = {
        "ours": _ours(endpoints),
        "ceiling": _ceiling,
        "exact": _exact_ceiling,
        "seed": _seed,
    }
    generator = StreamGenerator(seed=config.seed, existing=config.existing)
    baseline, records = generator.baseline(), generator.records(config.records)
    preload = baseline_actions(baseline)
    workloads = [
        Workload.build(baseline, preload, records, b, config.seed_records)
        for b in config.batch_sizes
    ]

    # Warm-up: JIT and caches in the node, connection pools, lazy imports; not recorded.
    warm = Workload.build(
        baseline, preload, records[: config.warmup_records], 100, config.seed_records // 4
    )
    measure_side_by_side(client, warm, writers)

    rates: dict[str, dict[int, list[float]]] = {
        v: {b: [] for b in config.batch_sizes} for v in VARIANTS
    }
    for run_no in range(config.runs):
        for workload in workloads:
            measured = measure_side_by_side(client, workload, writers, shift=run_no)
            for variant, rate in measured.items():
                rates[variant][workload.batch_size].append(rate)
        say(f"throughput run {run_no + 1}/{config.runs} done")
    result = _result(config, generator, workloads, rates)
    result["mapping_us_per_record"] = mapping_cost(records)
    return result


RATIOS = (
    ("ours_over_ceiling", "ours", "ceiling", 3),
    ("ours_over_seed", "ours", "seed", 1),
    ("ours_over_exact", "ours", "exact", 3),
    ("exact_over_ceiling", "exact", "ceiling", 3),
    ("ceiling_over_seed", "ceiling", "seed", 1),
    ("exact_over_seed", "exact", "seed", 1),
)
"""Each ratio of two writers' rates, per run: name, numerator, denominator, digits kept. The
last three place the goals' limits: what the read an exact sync needs costs, and how far
above the seed's way even the bare ceiling is."""


def _result(
    config: ThroughputConfig,
    generator: StreamGenerator,
    workloads: list[Workload],
    rates: dict[str, dict[int, list[float]]],
) -> dict[str, Any]:
    by_variant = {
        v: {str(b): summarize(rates[v][b]).as_dict(1) for b in config.batch_sizes} for v in VARIANTS
    }
    ratios: dict[str, dict[str, Any]] = {name: {} for name, *_ in RATIOS}
    for b in config.batch_sizes:
        for name, top, bottom, digits in RATIOS:
            ratios[name][str(b)] = ratio_summary(rates[top][b], rates[bottom][b]).as_dict(digits)
    headline_batch = "100" if 100 in config.batch_sizes else str(config.batch_sizes[0])
    return {
        "unit": "records/s",
        "config": {
            "batch_sizes": list(config.batch_sizes),
            "records": config.records,
            "seed_records": config.seed_records,
            "runs": config.runs,
            "warmup_records": config.warmup_records,
            "existing_items": config.existing,
            "seed": config.seed,
            "writes_per_second_of_stream_time": generator.writes_per_second,
            "mix": {"INSERT": 0.7, "MODIFY": 0.2, "REMOVE": 0.1},
        },
        "live_items": {str(w.batch_size): w.expected for w in workloads},
        "same_second_conflicts": {str(w.batch_size): w.same_second for w in workloads},
        "rates": by_variant,
        "ratios": ratios,
        "headline": {
            "batch_size": int(headline_batch),
            **{name: ratios[name][headline_batch]["median"] for name, *_ in RATIOS},
        },
    }
