"""The chaos suite's parts: the operations, the faults, and the final comparison.

Everything is real: the deployed API, table, stream, sync function, alias and dead-letter
queue; the session stack's OpenSearch node is paused with SIGSTOP and killed with SIGKILL
(and brought back by the launcher, ``stackctl up``); reindex runs are killed with SIGKILL
in a phase of their own choosing. One `random.Random` seeded from ``CHAOS_SEED`` decides every
choice, so a failing seed replays the same sequence of operations and faults (timing on a
shared machine differs, the sequence does not).
"""

from __future__ import annotations

import base64
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from opensearchpy import OpenSearch

from ddb_opensearch_sync.core.records import SYNC_FIELD, MalformedRecordError
from ddb_opensearch_sync.ops.reconcile import canonical
from ddb_opensearch_sync.ops.reindex import PHASES
from ddb_opensearch_sync.ops.table import TableInfo, item_change
from tests.support import aws
from tests.support.api import BooksApi
from tests.support.outage import bring_back, opensearch_pid
from tests.support.pipeline import run_cli
from tests.support.polling import eventually
from tests.support.settings import (
    INDEX_ALIAS,
    SYNC_FUNCTION_NAME,
    TABLE_NAME,
    TABLE_STREAM_ARN,
    Settings,
)

REINDEX_LEASE = 5
"""Seconds a killed reindex may keep the index write-blocked (its ``--lease``)."""
REPLAY_ATTEMPTS = 3
"""Invocations of one replayed batch: a killed reindex's block refuses the first (it then asks
for the block to be lifted), the second gets through."""


@dataclass(frozen=True)
class Size:
    operations: int
    faults_each: int
    """How many times each kind of fault is injected."""

    @classmethod
    def from_env(cls) -> Size:
        large = os.environ.get("CHAOS_SIZE") == "large"
        default_ops = 600 if large else 60
        return cls(int(os.environ.get("CHAOS_OPS", default_ops)), 4 if large else 1)


@dataclass
class Tally:
    """What the run did and found; its one line is the suite's output."""

    seed: int
    operations: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    lost: list[str] = field(default_factory=list)
    resurrected: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    tombstones_missing: list[str] = field(default_factory=list)
    dead_letters_unexpected: list[str] = field(default_factory=list)
    dead_letters_missing: list[str] = field(default_factory=list)

    def line(self) -> str:
        faults = sum(self.faults.values())
        kinds = ",".join(f"{k}={v}" for k, v in sorted(self.faults.items()))
        return (
            f"chaos seed={self.seed}: operations={self.operations} faults={faults} ({kinds}) "
            f"lost={len(self.lost)} resurrected={len(self.resurrected)} stale={len(self.stale)}"
            f" tombstones_missing={len(self.tombstones_missing)}"
            f" dead_letters_unexpected={len(self.dead_letters_unexpected)}"
            f" dead_letters_missing={len(self.dead_letters_missing)}"
        )


# --- stream records as Lambda delivers them ---------------------------------------------------


def lambda_record(record: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    """A record from ``GetRecords`` (boto3: datetimes and bytes) as a Lambda event holds it."""
    stream = dict(record["dynamodb"])
    created = stream.get("ApproximateCreationDateTime")
    if created is not None and not isinstance(created, int | float):
        stream["ApproximateCreationDateTime"] = created.timestamp()
    return json.loads(
        json.dumps({**record, "dynamodb": stream, "eventSourceARN": stream_arn}, default=_b64)
    )


def _b64(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(type(value).__name__)


class StreamReader:
    """Reads the deployed table's stream from where the run began: the records a replay
    sends again. One shard locally (moto); every open shard is followed all the same."""

    def __init__(self, settings: Settings, stream_arn: str) -> None:
        self.client = aws.client(settings, "dynamodbstreams")
        self.arn = stream_arn
        shards = self.client.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]
        self.iterators = [
            self.client.get_shard_iterator(
                StreamArn=stream_arn, ShardId=s["ShardId"], ShardIteratorType="LATEST"
            )["ShardIterator"]
            for s in shards
            if "EndingSequenceNumber" not in s.get("SequenceNumberRange", {})
        ]
        self.records: list[dict[str, Any]] = []

    def read(self) -> list[dict[str, Any]]:
        for n, iterator in enumerate(self.iterators):
            while iterator:
                page = self.client.get_records(ShardIterator=iterator, Limit=1000)
                self.records += [lambda_record(r, self.arn) for r in page["Records"]]
                iterator = page.get("NextShardIterator")
                if not page["Records"]:
                    break
            self.iterators[n] = iterator
        return self.records


# --- the run ------------------------------------------------------------------------------


class Chaos:
    """One run against the deployed system that ``settings`` names (table, alias, function,
    stream); ``client`` reads exact numbers; ``workdir`` keeps the commands' state."""

    def __init__(
        self, seed: int, settings: Settings, api: BooksApi, client: OpenSearch, workdir: Path
    ) -> None:
        self.rng, self.tally, self.settings = random.Random(seed), Tally(seed), settings
        self.api, self.client = api, client
        self.alias = settings.require(INDEX_ALIAS)
        self.dynamodb = aws.client(settings, "dynamodb")
        self.lambda_client = aws.client(settings, "lambda")
        table_name = self.table_name = settings.require(TABLE_NAME)
        self.info = TableInfo.describe(self.dynamodb, table_name)
        self.function_name = settings.require(SYNC_FUNCTION_NAME)
        self.stream = StreamReader(settings, settings.require(TABLE_STREAM_ARN))
        self.workdir = workdir
        alias = self.alias
        tally = self.tally
        self.prefix = f"chaos-{tally.seed}-"
        self.ids: list[str] = []
        """Every id the run wrote (the comparison covers exactly these)."""
        self.live: set[str] = set()
        self.deleted: set[str] = set()
        self.rejected: set[str] = set()
        """Items OpenSearch must refuse for their content: they deserve a dead letter."""
        self.counter = 0
        self.misleading_ids = True
        """Content errors under ids that read like cluster errors (``False``: plain ids)."""
        self.reindex_pending = False
        self.options = (
            *("--table", table_name, "--alias", alias, "--endpoint", settings.opensearch_url),
            *("--dynamodb-endpoint", settings.aws_endpoint_url, "--progress", "none"),
        )

    # --- plain operations -------------------------------------------------------------------

    def operate(self) -> None:
        self.tally.operations += 1
        writes = (
            (self.api_create, 4),
            (self.api_replace, 2),
            (self.api_delete, 2),
            (self.table_put, 4),
            (self.table_update, 2),
            (self.table_delete, 2),
            (self.content_error, 1),
        )
        choice = self.rng.choices([w for w, _ in writes], weights=[n for _, n in writes])[0]
        choice()

    def _fields(self) -> dict[str, Any]:
        n = self.rng.randrange(10_000)
        return {
            "title": self.rng.choice(["Dune", "Emma", "Ulysses", "Beloved"]) + f" {n}",
            "author": self.rng.choice(["Herbert", "Austen", "Joyce", "Morrison"]),
            "year": self.rng.randrange(1800, 2030),
            "tags": self.rng.sample(["a", "b", "c", "d"], self.rng.randrange(0, 3)),
        }

    def _track(self, book_id: str, *, live: bool) -> None:
        if book_id not in self.ids:
            self.ids.append(book_id)
        (self.live if live else self.deleted).add(book_id)
        (self.deleted if live else self.live).discard(book_id)

    def _pick(self, pool: set[str]) -> str | None:
        candidates = sorted(pool - self.rejected)
        return self.rng.choice(candidates) if candidates else None

    def api_create(self) -> None:
        self._track(self.api.create_ok(self._fields()), live=True)

    def api_replace(self) -> None:
        book_id = self._pick(self.live)
        if book_id is not None:
            self.api.replace_ok(book_id, self._fields())

    def api_delete(self) -> None:
        book_id = self._pick(self.live)
        if book_id is not None:
            self.api.delete_ok(book_id)
            self._track(book_id, live=False)

    def _new_id(self, prefix: str = "") -> str:
        self.counter += 1
        return f"{prefix}{self.prefix}{self.counter}"

    def table_put(self) -> None:
        # A new item, or one deleted before coming back (the replays' favourite victim)
        book_id = self._pick(self.deleted) if self.rng.random() < 0.3 else None
        book_id = book_id or self._new_id()
        item = {
            "book_id": {"S": book_id},
            "title": {"S": f"direct {self.rng.randrange(1000)}"},
            "author": {"S": "table writer"},
            "price": {"N": str(Decimal(self.rng.randrange(10**6)) / 100)},
            "shelf": {"M": {"row": {"N": str(self.rng.randrange(9))}}},
        }
        self.dynamodb.put_item(TableName=self.table_name, Item=item)
        self._track(book_id, live=True)

    def table_update(self) -> None:
        book_id = self._pick(self.live)
        if book_id is not None:
            self.dynamodb.update_item(
                TableName=self.table_name,
                Key={"book_id": {"S": book_id}},
                UpdateExpression="SET title = :t",
                ExpressionAttributeValues={":t": {"S": f"updated {self.rng.randrange(1000)}"}},
            )

    def table_delete(self) -> None:
        book_id = self._pick(self.live)
        if book_id is not None:
            self.dynamodb.delete_item(TableName=self.table_name, Key={"book_id": {"S": book_id}})
            self._track(book_id, live=False)

    def content_error(self) -> None:
        """An item OpenSearch must refuse (``year`` is not a number), under an id whose text
        looks like a cluster problem: classification must not read user data."""
        misleading = ["alias-", "index_not_found_exception-", "write index-"]
        prefix = self.rng.choice(misleading if self.misleading_ids else ["bad-"])
        book_id = self._new_id(prefix)
        item = {"book_id": {"S": book_id}, "title": {"S": "bad year"}, "year": {"S": "MCMXC"}}
        self.dynamodb.put_item(TableName=self.table_name, Item=item)
        self._track(book_id, live=True)
        self.rejected.add(book_id)
        self.tally.faults["content-error"] += 1

    # --- faults ---------------------------------------------------------------------------

    def fault(self, kind: str) -> None:
        self.tally.faults[kind] += 1
        getattr(self, f"fault_{kind.replace('-', '_')}")()

    def fault_replay(self) -> None:
        """Invoke the deployed function again with an old slice of the run's stream records
        (content errors left out: whether a replayed one is dead-lettered again is not the
        question here), retried from the record it reports, as Lambda retries a batch: a
        reindex killed just before leaves its write block, which refuses the batch until the
        block's lease has run out and a refused batch has asked the maintenance function to
        lift it (README, reindex)."""
        ours = set(self.ids) - self.rejected
        records = [r for r in self.stream.read() if _key(r) in ours]
        if not records:
            return
        start = self.rng.randrange(len(records))
        batch = records[start : start + self.rng.randrange(1, 50)]
        for _ in range(REPLAY_ATTEMPTS):
            response = self.lambda_client.invoke(
                FunctionName=self.function_name, Payload=json.dumps({"Records": batch}).encode()
            )
            answer = json.loads(response["Payload"].read())
            if answer == {"batchItemFailures": []}:
                return
            failures = answer.get("batchItemFailures") if isinstance(answer, dict) else None
            assert failures, f"a replay failed: {answer}"  # an error, not a partial failure
            numbers = [r["dynamodb"]["SequenceNumber"] for r in batch]
            batch = batch[numbers.index(failures[0]["itemIdentifier"]) :]
        raise AssertionError(f"a replay failed {REPLAY_ATTEMPTS} times; last answer: {answer}")

    def fault_backfill(self) -> None:
        self._finish_reindex()
        checkpoints = str(self.workdir / f"backfill-{self.tally.faults['backfill']}")
        code, result = run_cli(
            "backfill", *self.options, "--checkpoint-dir", checkpoints,
            "--page-size", "25", "--max-pages", str(self.rng.randrange(1, 4)),
        )  # fmt: skip
        assert code in (0, 4, 5), result

    def fault_reconcile(self) -> None:
        self._finish_reindex()
        code, result = run_cli("reconcile", *self.options, "--repair", "--settle", "2")
        assert code in (0, 3, 4), result  # drift left in flight is fine; errors are not

    def fault_reindex_kill(self) -> None:
        """A reindex killed with SIGKILL in a random phase; resumed a few operations later."""
        self._finish_reindex()
        phase = self.rng.choice(PHASES)
        state = self.workdir / "reindex"
        log = (self.workdir / "reindex.log").open("a")
        command = [sys.executable, "-m", "ddb_opensearch_sync.ops.cli", "reindex", *self.options]
        command += ["--state-dir", str(state), "--lease", str(REINDEX_LEASE), "--hold-at", phase]
        process = subprocess.Popen(command, stdout=log, stderr=log)
        try:
            eventually(
                lambda: (_phase(state), process.poll()),
                lambda seen: seen[0] == phase or seen[1] is not None,
                f"the reindex to reach {phase}",
                timeout=180,
            )
            assert process.poll() is None, (self.workdir / "reindex.log").read_text()[-2000:]
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait()
            log.close()
        self.reindex_pending = True

    def _finish_reindex(self) -> None:
        if self.reindex_pending:
            state = str(self.workdir / "reindex")
            code, result = run_cli(
                "reindex", *self.options, "--state-dir", state, "--resume", "--delete-old"
            )
            self.reindex_pending = False
            assert code in (0, 4) and result["switched"], result  # 4: items it cannot index

    def fault_pause(self) -> None:
        """SIGSTOP the node for a few seconds while writes go on."""
        pid = opensearch_pid()
        os.kill(pid, signal.SIGSTOP)
        try:
            for _ in range(self.rng.randrange(2, 6)):
                self.operate()
        finally:
            os.kill(pid, signal.SIGCONT)

    def fault_kill(self) -> None:
        """SIGKILL the node, write meanwhile, bring it back with the launcher."""
        pid = opensearch_pid()
        os.kill(pid, signal.SIGKILL)
        for _ in range(self.rng.randrange(2, 6)):
            self.operate()
        bring_back()

    # --- the end ----------------------------------------------------------------------------

    def finish(self) -> None:
        self._finish_reindex()
        self._drop_old_indices()

    def remove_rejected(self) -> None:
        """Delete the items OpenSearch refuses, so that they do not haunt later runs (a
        reconcile over the whole table would retry them)."""
        for book_id in sorted(self.rejected):
            self.dynamodb.delete_item(TableName=self.table_name, Key={"book_id": {"S": book_id}})

    def _drop_old_indices(self) -> None:
        current = set(self.client.indices.get_alias(name=self.alias))
        for index in self.client.indices.get(index=f"{self.alias}-v*"):
            if index not in current:
                self.client.indices.delete(index=index)

    def compare(self) -> Tally:
        """Index against table for every id the run wrote (a fresh tally of the differences)."""
        found = Tally(self.tally.seed)
        items = self._items()
        docs = self._documents()
        for book_id in self.ids:
            item, doc = items.get(book_id), docs.get(book_id)
            visible = doc is not None and not doc.get(SYNC_FIELD, {}).get("deleted")
            if book_id in self.rejected:
                if visible:
                    found.stale.append(book_id)  # a refused document cannot be there
            elif item is None and visible:
                found.resurrected.append(book_id)
            elif item is None and doc is None:
                found.tombstones_missing.append(book_id)
            elif item is not None and not visible:
                found.lost.append(book_id)
            elif item is not None and canonical(doc) != self._expected(item):  # type: ignore[arg-type]
                found.stale.append(book_id)
        return found

    def _expected(self, item: dict[str, Any]) -> str:
        try:
            change = item_change(item, self.info)
        except MalformedRecordError:
            return "unindexable"
        return canonical(json.loads(change.document or "{}", parse_float=Decimal))

    def _items(self) -> dict[str, dict[str, Any]]:
        items: dict[str, dict[str, Any]] = {}
        for start in range(0, len(self.ids), 100):
            keys = [{"book_id": {"S": i}} for i in self.ids[start : start + 100]]
            request = {self.table_name: {"Keys": keys, "ConsistentRead": True}}
            while request:
                response = self.dynamodb.batch_get_item(RequestItems=request)
                for item in response["Responses"][self.table_name]:
                    items[item["book_id"]["S"]] = item
                request = response.get("UnprocessedKeys") or {}
        return items

    def _documents(self) -> dict[str, dict[str, Any]]:
        docs: dict[str, dict[str, Any]] = {}
        for start in range(0, len(self.ids), 500):
            chunk = self.ids[start : start + 500]
            response = self.client.mget(index=self.alias, body={"ids": chunk})
            for doc in response["docs"]:
                if doc.get("found"):
                    docs[doc["_id"]] = doc["_source"]
        return docs

    def check_dead_letters(self, sqs: Any, queue_url: str, found: Tally) -> None:
        """The queue holds one rejected-document letter per refused item, nothing else of the
        run's ids. Other tests' letters are left in the queue."""
        letters: Counter[str] = Counter()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            page = sqs.receive_message(
                QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1, VisibilityTimeout=60
            )
            messages = page.get("Messages", [])
            if not messages and letters.total() >= len(self.rejected):
                break
            for message in messages:
                body = json.loads(message["Body"])
                about = _letter_ids(body)
                if about & set(self.ids) or str(body).count(self.prefix):
                    letters.update(about & set(self.ids) or {"<batch metadata>"})
                    sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        for book_id, count in letters.items():
            if book_id not in self.rejected:
                found.dead_letters_unexpected.append(book_id)
            elif count > 1:
                found.dead_letters_unexpected += [book_id] * (count - 1)
        found.dead_letters_missing = sorted(self.rejected - set(letters))


def _key(record: dict[str, Any]) -> str | None:
    return record["dynamodb"]["Keys"].get("book_id", {}).get("S")


def _letter_ids(body: dict[str, Any]) -> set[str]:
    doc_id = body.get("document_id")
    record = body.get("record") or {}
    keys = record.get("dynamodb", {}).get("Keys", {}) if isinstance(record, dict) else {}
    key = keys.get("book_id", {}).get("S")
    return {i for i in (doc_id, key) if isinstance(i, str)}


def _phase(state_dir: Path) -> str | None:
    try:
        return json.loads((state_dir / "reindex.json").read_text()).get("phase")
    except (OSError, ValueError):
        return None
