"""Property: whatever the stream delivers -- duplicates, batches out of order, retries, a full
replay from TRIM_HORIZON -- the index ends equal to the table, exactly.

Hypothesis plays random puts, updates and deletes over a few keys against a model table,
emits the stream records DynamoDB would (same-second changes included), then delivers them
in a random way through the real writer into a real OpenSearch node.
"""

from __future__ import annotations

import base64
import itertools
import uuid
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opensearchpy import OpenSearch

from ddb_opensearch_sync.core.records import SYNC_FIELD, document_id
from tests.support.aws import new_queue
from tests.support.opensearch import scratch_alias, stored_documents, visible_ids, without_sync
from tests.support.pipeline import make_syncer, sqs_dead_letters, within
from tests.support.streams import Stream, typed

pytestmark = pytest.mark.stack

# --- what items look like (one type per attribute name, as an application writes them) ---

numbers = st.builds(
    lambda digits, exponent: Decimal(digits).scaleb(exponent),
    st.integers(-(10**38) + 1, 10**38 - 1),
    st.integers(-90, 80),
) | st.integers(-(10**6), 10**6).map(Decimal)
attributes = st.fixed_dictionaries(
    {},
    optional={
        "title": st.text(max_size=12),
        "year": st.integers(-9999, 9999).map(Decimal),
        "price": numbers,  # integers and decimals alike, up to 38 digits
        "tags": st.lists(st.text(max_size=6), max_size=3),
        "formats": st.sets(st.text(min_size=1, max_size=6), min_size=1, max_size=3),
        "ratings": st.sets(numbers, min_size=1, max_size=3),
        "cover": st.binary(min_size=1, max_size=8),
        "in_print": st.booleans(),
        "series": st.none(),
        "meta": st.fixed_dictionaries(
            {}, optional={"pages": numbers, "note": st.text(max_size=6), "ok": st.booleans()}
        ),
    },
)
KEY_COUNT = 3
operations = st.lists(
    st.one_of(
        st.tuples(st.just("put"), st.integers(0, KEY_COUNT - 1), attributes),
        st.tuples(
            st.just("update"),
            st.integers(0, KEY_COUNT - 1),
            attributes,
            st.lists(st.sampled_from(["title", "price", "tags", "meta"]), max_size=2),
        ),
        st.tuples(st.just("delete"), st.integers(0, KEY_COUNT - 1)),
    ),
    min_size=1,
    max_size=14,
)
key_shapes = st.sampled_from(["hash", "hash+range"])


def plain(value: Any) -> Any:
    """What the index should hold for a model value."""
    if isinstance(value, set):
        return sorted(plain(v) for v in value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


class Table:
    """The model: what DynamoDB holds, and the stream records its writes produce."""

    def __init__(self, shape: str, prefix: str, stream: Stream) -> None:
        self.shape, self.prefix, self.stream = shape, prefix, stream
        self.items: dict[int, dict[str, Any]] = {}

    def key(self, slot: int) -> dict[str, Any]:
        if self.shape == "hash":
            return {"book_id": f"{self.prefix}-{slot}"}
        return {"pk": self.prefix, "sk": Decimal(slot) / 4}  # 0, 0.25, 0.5: numeric ranges

    def doc_id(self, slot: int) -> str:
        return document_id(typed(self.key(slot)))

    def apply(self, operation: tuple, seconds: int, step: int) -> None:
        kind, slot = operation[0], operation[1]
        old = self.items.get(slot)
        if kind == "delete":
            if old is not None:
                self.stream.remove(old, seconds=seconds, step=step)
                del self.items[slot]
            return
        if kind == "put":
            new = {**operation[2], **self.key(slot)}
        else:  # update: set some attributes, remove others (creates the item if absent)
            new = {**(old or {}), **operation[2], **self.key(slot)}
            for name in operation[3]:
                new.pop(name, None)
        if old is None:
            self.stream.insert(new, seconds=seconds, step=step)
        else:
            self.stream.modify(old, new, seconds=seconds, step=step)
        self.items[slot] = new


@st.composite
def deliveries(draw: st.DrawFn, count: int) -> list[list[int]]:
    """Record positions per invocation: the stream cut into batches, the batches delivered
    in any order, some twice (retries), and maybe everything once more (TRIM_HORIZON)."""
    if count == 0:
        return []
    cuts = sorted(draw(st.sets(st.integers(1, max(count - 1, 1)), max_size=4)) - {count})
    bounds = [0, *cuts, count]
    batches = [list(range(a, b)) for a, b in itertools.pairwise(bounds) if a < b]
    order = draw(st.permutations(range(len(batches))))
    plan = [batches[i] for i in order]
    for _ in range(draw(st.integers(0, 2))):  # retries re-deliver from a record onwards
        start = draw(st.integers(0, count - 1))
        plan.insert(draw(st.integers(0, len(plan))), list(range(start, count)))
    if draw(st.booleans()):
        plan.append(list(range(count)))
    return plan


@pytest.fixture(scope="module")
def alias(opensearch_client: OpenSearch):
    with scratch_alias(opensearch_client, "properties") as name:
        yield name


@pytest.fixture(scope="module")
def syncer(opensearch_client: OpenSearch, alias: str, sqs_client):
    with new_queue(sqs_client, "properties-dlq") as queue_url:
        yield make_syncer(opensearch_client, alias, sqs_dead_letters(sqs_client, queue_url))


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    shape=key_shapes,
    ops=operations,
    first_sequence=st.integers(10**20, 10**39),
    timing=st.data(),
)
def test_index_equals_table_after_any_delivery(
    opensearch_client: OpenSearch,
    alias: str,
    syncer,
    shape: str,
    ops: list[tuple],
    first_sequence: int,
    timing: st.DataObject,
):
    # GIVEN a history of writes and the stream records it produced
    stream = Stream(
        key_names=("book_id",) if shape == "hash" else ("pk", "sk"), sequence=first_sequence
    )
    table = Table(shape, uuid.uuid4().hex, stream)
    for operation in ops:
        seconds = timing.draw(st.sampled_from([0, 0, 1]), label="seconds")  # many same-second
        step = timing.draw(st.integers(1, 10**6), label="sequence step")
        table.apply(operation, seconds, step)
    records = stream.emitted
    plan = timing.draw(deliveries(len(records)), label="deliveries")

    # WHEN the records are delivered that way
    for positions in plan:
        response, report = syncer.sync_records([records[p] for p in positions], deadline=within(20))
        assert response == {"batchItemFailures": []}
        assert (report.dead_lettered, report.failed) == (0, 0)

    # THEN the index holds exactly the table's items; deleted ones are tombstones or absent
    slots = range(KEY_COUNT)
    ids = [table.doc_id(slot) for slot in slots]
    stored = stored_documents(opensearch_client, alias, ids)
    for slot in slots:
        doc_id = table.doc_id(slot)
        if slot in table.items:
            assert stored[doc_id][SYNC_FIELD]["deleted"] is False
            assert without_sync(stored[doc_id]) == plain(table.items[slot])
        elif doc_id in stored:
            assert stored[doc_id][SYNC_FIELD]["deleted"] is True
    expected_visible = {table.doc_id(slot) for slot in table.items}
    assert visible_ids(opensearch_client, alias, ids) == expected_visible
