"""DynamoDB and DynamoDB Streams for LocalStack, served by its bundled moto.

LocalStack's own DynamoDB provider runs DynamoDB Local, a Java server it downloads at first use:
unreachable from machines without internet, and not open source. moto (shipped with LocalStack
as ``moto-ext``) implements DynamoDB in Python, stream records included, so both APIs fall
through to it with ``MotoFallbackDispatcher``. Selected with ``PROVIDER_OVERRIDE_DYNAMODB=moto``
and ``PROVIDER_OVERRIDE_DYNAMODBSTREAMS=moto``.

What this module adds is what stream consumers (LocalStack's Lambda event source mapping poller
first among them) and Terraform need from moto but do not get, each fix marked where it is made:

- stream records shaped as on AWS: no ``OldImage`` on INSERT nor ``NewImage`` on REMOVE, no
  record for a write that changes nothing, one record (not two INSERTs) for an UpdateItem that
  creates its item, ``eventVersion`` 1.1, the table's own region;
- sequence numbers assigned under a lock, so that concurrent writes never share one;
- a failed TransactWriteItems leaves no stream records, and its rollback no longer detaches the
  table from the shard that open iterators read;
- streams can be disabled (then described as DISABLED) and enabled again, as a new stream;
- shard iterators that hold their position (moto keeps every one it issues, in memory) and
  never expire (AWS: 15 minutes), so that LocalStack's poller never starts over;
- the point-in-time recovery period is kept (Terraform reads it back);
- a Scan without index or projection copies no item deeply and starts at its
  ``ExclusiveStartKey`` by bisection, instead of walking the table from the start each page
  (moto's deep copies were four fifths of a backfill's scan time);
- an item's 400 KB size limit is checked once per item, not once per attribute over all the
  attributes so far (half of moto's time per PutItem);
- AWS answers instead of moto's for nothing to return (``"Attributes": {}``), ``Limit: 0`` and
  unknown shards, iterators or sequence numbers (HTTP 500s);
- ``DELETE /_aws/dynamodb/expired`` deletes the items whose TTL has passed, as the stock
  provider's endpoint of that name does (moto never expires items), with REMOVE records marked
  as TTL deletions like AWS's.
"""

from __future__ import annotations

import base64
import bisect
import contextlib
import threading
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar, cast

from localstack.aws.api import CommonServiceException, RequestContext, handler
from localstack.aws.api.dynamodb import (
    DeleteItemOutput,
    DynamodbApi,
    PutItemOutput,
    QueryOutput,
    ScanOutput,
    UpdateItemOutput,
)
from localstack.aws.api.dynamodbstreams import (
    DescribeStreamOutput,
    DynamodbstreamsApi,
    GetRecordsOutput,
    GetShardIteratorOutput,
    Record,
    ResourceNotFoundException,
    ShardIteratorType,
    StreamStatus,
)
from localstack.aws.client import parse_response, raise_service_exception
from localstack.http import Request, Response, route
from localstack.services.edge import ROUTER
from localstack.services.moto import MotoFallbackDispatcher, call_moto, dispatch_to_moto
from localstack.services.plugins import Service, ServiceLifecycleHook, aws_provider
from localstack.utils.patch import Patch, Patches
from moto.dynamodb.exceptions import ItemSizeTooLarge
from moto.dynamodb.models import DynamoDBBackend, dynamodb_backends
from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict
from moto.dynamodb.models.table import RESULT_SIZE_LIMIT, StreamRecord, StreamShard, Table
from moto.dynamodb.models.utilities import bytesize

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from werkzeug.routing import Rule

# Between a shard iterator's stream ARN and its position (AWS's iterators also start "<arn>|").
ITERATOR_SEPARATOR = "|1|"
# AWS's TTL sweeper ignores expiry times more than five years in the past.
TTL_MAX_AGE_SECONDS = 5 * 365 * 24 * 3600
# The userIdentity of a REMOVE record written by TTL, as AWS writes it.
TTL_IDENTITY = {"PrincipalId": "dynamodb.amazonaws.com", "Type": "Service"}

# Held while a record takes the next sequence number and joins its shard.
_SEQUENCE_LOCK = threading.Lock()

_Held = list[tuple[StreamShard, StreamRecord]]


class _ThreadState(threading.local):
    """What the operation running on this thread asks of the stream records it writes."""

    # Records held back until the operation writing them completes, if it asks for that.
    held: _Held | None = None
    # Deletions are TTL expiries.
    ttl_sweep: bool = False


_THREAD = _ThreadState()


def _validation_error(message: str) -> CommonServiceException:
    return CommonServiceException("ValidationException", message)


# ---
# moto patches: stream records, transactions, stream and backup settings
# ---


def _add_stream_record(self: StreamShard, old: Item | None, new: Item | None) -> None:
    """Replace ``StreamShard.add``: write one change of an item to the table's stream.

    moto's version also drives moto's own Lambda event source mappings, unused here: LocalStack's
    Lambda provider polls the stream through the DynamoDB Streams API instead.
    """
    table = self.table
    spec = table.stream_specification or {}
    # moto keeps writing to a disabled stream (and fails on its missing view type).
    if not spec.get("StreamEnabled") or table.stream_shard is not self:
        return
    # AWS: a PutItem or UpdateItem that changes no data in the item writes no stream record.
    if old is not None and new is not None and old.to_json() == new.to_json():
        return
    event_name = "INSERT" if old is None else "REMOVE" if new is None else "MODIFY"
    record = StreamRecord(table, spec["StreamViewType"], event_name, old, new, seq=0)
    body = record.record
    # moto hard-codes version 1.0 and us-east-1; AWS writes 1.1 and the table's region.
    body["eventVersion"] = "1.1"
    body["awsRegion"] = table.region_name
    # moto's is a naive ISO string with microseconds; AWS's is rounded down to the second.
    body["dynamodb"]["ApproximateCreationDateTime"] = datetime.now(UTC).replace(microsecond=0)
    # moto writes an empty OldImage on INSERT and an empty NewImage on REMOVE; AWS leaves them
    # out, and consumers test for their presence.
    if old is None:
        body["dynamodb"].pop("OldImage", None)
    if new is None:
        body["dynamodb"].pop("NewImage", None)
        if _THREAD.ttl_sweep:
            body["userIdentity"] = TTL_IDENTITY

    _publish([(self, record)])


@contextlib.contextmanager
def _holding_records() -> Iterator[_Held]:
    """Hold back the stream records written in the block: dropped unless published after it."""
    outer, _THREAD.held = _THREAD.held, []
    try:
        yield _THREAD.held
    finally:
        _THREAD.held = outer


def _publish(records: _Held) -> None:
    """Append records to their shards, or to the records an enclosing operation holds back."""
    if _THREAD.held is not None:
        _THREAD.held.extend(records)
        return
    # moto numbers a record by the shard's length before appending it, so two concurrent writes
    # could share a number; iterators find records by that position too.
    with _SEQUENCE_LOCK:
        for shard, record in records:
            record.record["dynamodb"]["SequenceNumber"] = str(_end_position(shard))
            shard.items.append(record)


def _update_item(fn: Callable[..., Item], self: DynamoDBBackend, *args: Any, **kwargs: Any) -> Item:
    """Wrap ``DynamoDBBackend.update_item``: one stream record per update, as on AWS.

    To update an item that does not exist, moto first puts one that holds only its key, which
    writes an INSERT of that key-only image before the INSERT of the result.
    """
    with _holding_records() as held:
        item = fn(self, *args, **kwargs)
    _publish(held[-1:])
    return item


def _transact_write_items(
    fn: Callable[..., None], self: DynamoDBBackend, transact_items: list[dict[str, Any]]
) -> None:
    """Wrap ``DynamoDBBackend.transact_write_items``: stream records only once it commits.

    moto applies the writes one by one and rolls back by putting deep copies of the tables, taken
    beforehand, in their place: the writes of a failed transaction would stay in the stream, and
    the copies would bring copied shards, unseen by the iterators consumers hold.
    """
    shards = {name: table.stream_shard for name, table in self.tables.items()}
    with _holding_records() as held:
        try:
            fn(self, transact_items)
        except Exception:
            for name, shard in shards.items():
                table = self.tables.get(name)
                if shard is not None and table is not None:
                    table.stream_shard = shard
                    shard.table = table
            raise
    _publish(held)


def _update_table_streams(
    fn: Callable[..., None], self: DynamoDBBackend, table: Table, spec: dict[str, Any]
) -> None:
    """Wrap ``DynamoDBBackend.update_table_streams``: disable and re-enable streams as AWS does.

    moto refuses to enable a stream on a table that ever had one (AWS starts a new stream), and
    forgets the view type of a disabled stream, which DescribeStream then fails on.
    """
    current = table.stream_specification or {}
    if spec.get("StreamEnabled") and current.get("StreamEnabled"):
        fn(self, table, spec)  # moto's error for a stream that is already enabled
    elif spec.get("StreamEnabled"):
        table.set_stream_specification(spec)
    elif current.get("StreamEnabled"):
        table.stream_specification = {**current, "StreamEnabled": False}


def _update_continuous_backups(
    fn: Callable[..., dict[str, Any]],
    self: DynamoDBBackend,
    table_name: str,
    point_in_time_spec: dict[str, Any],
) -> dict[str, Any]:
    """Wrap ``DynamoDBBackend.update_continuous_backups`` to keep the recovery period.

    moto drops it; AWS reports 1-35 days (35 by default), and Terraform reads it back.
    """
    backups = fn(self, table_name, point_in_time_spec)
    description = backups["PointInTimeRecoveryDescription"]
    if point_in_time_spec["PointInTimeRecoveryEnabled"]:
        description["RecoveryPeriodInDays"] = point_in_time_spec.get(
            "RecoveryPeriodInDays", description.get("RecoveryPeriodInDays", 35)
        )
    return backups


def _scan(
    fn: Callable[..., tuple[list[Item], int, dict[str, Any] | None]],
    self: Table,
    filters: dict[str, Any],
    limit: int | None,
    exclusive_start_key: dict[str, Any] | None,
    filter_expression: Any = None,
    index_name: str | None = None,
    consistent_read: bool = False,
    projection_expression: Any = None,
    segments: tuple[int, int] | tuple[None, None] = (None, None),
) -> tuple[list[Item], int, dict[str, Any] | None]:
    """Wrap ``Table.scan``: the same page, without moto's per-page costs, for a plain Scan.

    moto deep-copies every item it returns (~0.6 ms for a 1 KiB item; the response is
    serialised at once and never mutated), sizes each item twice, and walks the table from its
    first key to ``ExclusiveStartKey`` on every page. Here each item is copied one level deep
    (its own attribute map, so a concurrent write replacing an attribute does not change the
    page) and the page starts by bisection on the same key order. Scans of an index, with a
    projection or with legacy ``ScanFilter`` conditions stay moto's.
    """
    if index_name or projection_expression or filters:
        return fn(
            self,
            filters,
            limit,
            exclusive_start_key,
            filter_expression,
            index_name,
            consistent_read,
            projection_expression,
            segments=segments,
        )
    items = self.all_items()  # sorted by (hash, range) key, as moto pages them
    start = 0
    if exclusive_start_key is not None:
        start = bisect.bisect_right(items, _table_key(self, exclusive_start_key), key=_item_key)
    page: list[Item] = []
    page_size = scanned = 0
    last_key = None
    for item in items[start:]:
        if not item.is_within_segment(segments):
            continue
        size = item.size()
        if len(page) == limit or page_size + size > RESULT_SIZE_LIMIT:
            last_key = self._get_last_evaluated_key(page[-1], None)
            break
        page.append(item)
        page_size += size
        scanned += 1
    if filter_expression is not None:
        page = [item for item in page if filter_expression.expr(item)]
    return [_shallow_copy(item) for item in page], scanned, last_key


def _item_key(item: Item) -> Any:
    """moto's sort key for a table's items (``Table.all_items``)."""
    return (item.hash_key, item.range_key) if item.range_key else item.hash_key


def _table_key(table: Table, key: dict[str, Any]) -> Any:
    hash_key = DynamoType(key[table.hash_key_attr])
    if table.range_key_attr and table.range_key_attr in key:
        return (hash_key, DynamoType(key[table.range_key_attr]))
    return hash_key


def _shallow_copy(item: Item) -> Item:
    copy = Item.__new__(Item)  # Item() would rebuild every value from JSON
    copy.hash_key, copy.range_key, copy.attrs = item.hash_key, item.range_key, dict(item.attrs)
    return copy


# moto's item size limit (its LimitedSizeDict): AWS's is 400 KB, measured between 409 and 410.
ITEM_SIZE_LIMIT = 405000


def _new_item(
    self: Item, hash_key: DynamoType, range_key: DynamoType | None, attrs: dict[str, Any]
) -> None:
    """Replace ``Item.__init__``: the same item, its size limit checked once.

    moto's ``LimitedSizeDict`` sums the sizes of all attributes so far at every attribute it
    sets (quadratic in the attributes), half of a PutItem's time. Sizes only add up, so one
    check of the total is the same check.
    """
    self.hash_key = hash_key
    self.range_key = range_key
    values = LimitedSizeDict()
    size = 0
    for key, value in attrs.items():
        typed = DynamoType(value)
        size += bytesize(key) + typed.size()
        dict.__setitem__(values, key, typed)
    if size > ITEM_SIZE_LIMIT:
        raise ItemSizeTooLarge
    self.attrs = values


_MOTO_PATCHES = Patches(
    [
        Patch.function(Table.scan, _scan),
        Patch.function(Item.__init__, _new_item, pass_target=False),
        Patch.function(StreamShard.add, _add_stream_record, pass_target=False),
        Patch.function(DynamoDBBackend.update_item, _update_item),
        Patch.function(DynamoDBBackend.transact_write_items, _transact_write_items),
        Patch.function(DynamoDBBackend.update_table_streams, _update_table_streams),
        Patch.function(DynamoDBBackend.update_continuous_backups, _update_continuous_backups),
    ]
)


# ---
# TTL expiry
# ---


def delete_expired_items() -> int:
    """Delete every item whose TTL attribute lies in the past; return how many were deleted.

    As AWS's sweeper: only tables with TTL enabled, only Number attributes (epoch seconds), not
    more than five years old.
    """
    now = time.time()
    tables = [
        table
        for regions in dynamodb_backends.values()
        for backend in regions.values()
        for table in list(backend.tables.values())
        if table.ttl.get("TimeToLiveStatus") == "ENABLED"
    ]
    deleted = 0
    _THREAD.ttl_sweep = True
    try:
        for table in tables:
            for item in table.all_items():
                expiry = item.attrs.get(table.ttl["AttributeName"])
                if (
                    expiry is not None
                    and expiry.type == "N"
                    and now - TTL_MAX_AGE_SECONDS <= float(expiry.value) <= now
                    and table.delete_item(item.hash_key, item.range_key) is not None
                ):
                    deleted += 1
    finally:
        _THREAD.ttl_sweep = False
    return deleted


class ExpiredItemsEndpoint:
    """The stock provider's developer endpoint, for this provider's tables."""

    @route("/_aws/dynamodb/expired", methods=["DELETE"])
    def delete_expired(self, _request: Request) -> dict[str, int]:
        return {"ExpiredItems": delete_expired_items()}


# ---
# providers
# ---

_ItemOutput = TypeVar("_ItemOutput", PutItemOutput, UpdateItemOutput, DeleteItemOutput)


class MotoDynamoDBProvider(DynamodbApi, ServiceLifecycleHook):
    """DynamoDB: every operation falls through to moto; these few correct what it answers."""

    def __init__(self) -> None:
        self._routes: list[Rule] = []

    def on_before_start(self) -> None:
        self._routes = ROUTER.add(ExpiredItemsEndpoint())

    def on_before_stop(self) -> None:
        ROUTER.remove(self._routes)

    # The request parameters these handlers do not name are moto's to read (from the context).

    # moto answers "Attributes": {} when there is nothing to return (no ReturnValues, or no old
    # item); AWS leaves the field out, and callers test for its presence.
    @handler("PutItem")
    def put_item(self, context: RequestContext, *args: Any, **kwargs: Any) -> PutItemOutput:
        return _without_empty_attributes(call_moto(context))

    @handler("UpdateItem")
    def update_item(self, context: RequestContext, *args: Any, **kwargs: Any) -> UpdateItemOutput:
        return _without_empty_attributes(call_moto(context))

    @handler("DeleteItem")
    def delete_item(self, context: RequestContext, *args: Any, **kwargs: Any) -> DeleteItemOutput:
        return _without_empty_attributes(call_moto(context))

    @handler("Query")
    def query(
        self, context: RequestContext, *args: Any, limit: int | None = None, **kwargs: Any
    ) -> QueryOutput:
        _check_limit(limit)
        return call_moto(context)

    @handler("Scan")
    def scan(
        self, context: RequestContext, *args: Any, limit: int | None = None, **kwargs: Any
    ) -> ScanOutput | Response:
        _check_limit(limit)
        return _moto_answer(context)


def _moto_answer(context: RequestContext) -> Response:
    """moto's own HTTP answer to a request, passed through as it is when it succeeded.

    Why: moto already answers DynamoDB's JSON wire format, with its CRC32 header. ``call_moto``
    parses that answer into a dict only for LocalStack's serializer to write the same JSON
    again: two walks over every attribute of every item, most of a large Scan page's time in
    this process (a backfill or reconcile reads the whole table this way). An error answer is
    parsed and raised exactly as ``call_moto`` does.
    """
    response = dispatch_to_moto(context)
    if response.status_code >= 300:
        parsed = parse_response(context.operation, context.protocol, response)
        raise_service_exception(response, parsed)
    # LocalStack's ServiceResponseParser would parse the answer anyway, for handlers that read
    # the parsed response; for DynamoDB only trace logging does, and it gets this note.
    context.service_response = {"note": "moto's answer, passed through unparsed"}
    return response


def _without_empty_attributes(response: _ItemOutput) -> _ItemOutput:
    if response.get("Attributes") == {}:
        del response["Attributes"]
    return response


def _check_limit(limit: int | None) -> None:
    # moto fails with HTTP 500 on Limit 0.
    if limit is not None and limit < 1:
        raise _validation_error(
            f"1 validation error detected: Value '{limit}' at 'limit' failed to satisfy "
            "constraint: Member must have value greater than or equal to 1"
        )


class MotoDynamoDBStreamsProvider(DynamodbstreamsApi):
    """DynamoDB Streams over moto's stream shards (one per table, for its latest stream).

    ListStreams and DescribeStream fall through to moto. Shard iterators are this class's own:
    moto keeps every iterator it hands out in memory, for good (a poller takes a new one at each
    GetRecords), and answers HTTP 500 for one it does not know. These carry their stream and
    position instead: they cost nothing to keep, and they never expire. AWS's expire after 15
    minutes, and LocalStack's poller, which keeps no checkpoint, would then start over from its
    StartingPosition (TRIM_HORIZON or LATEST) after a long retry loop.
    """

    @handler("DescribeStream")
    def describe_stream(
        self, context: RequestContext, stream_arn: str, *args: Any, **kwargs: Any
    ) -> DescribeStreamOutput:
        # moto describes any stream ARN of a table as its latest stream, and always as ENABLED.
        # (It reads the parameters not named here from the context.)
        shard = _stream_shard(context.account_id, context.region, stream_arn)
        response: DescribeStreamOutput = call_moto(context)
        description = response.get("StreamDescription")
        if description and not _stream_enabled(shard):
            description["StreamStatus"] = StreamStatus.DISABLED
        return response

    @handler("GetShardIterator")
    def get_shard_iterator(
        self,
        context: RequestContext,
        stream_arn: str,
        shard_id: str,
        shard_iterator_type: ShardIteratorType,
        sequence_number: str | None = None,
        **kwargs: Any,
    ) -> GetShardIteratorOutput:
        shard = _stream_shard(context.account_id, context.region, stream_arn)
        if shard_id != shard.id:
            raise ResourceNotFoundException(
                f"Requested resource not found: Shard {shard_id} does not exist"
            )
        first, end = shard.starting_sequence_number, _end_position(shard)
        if shard_iterator_type == ShardIteratorType.TRIM_HORIZON:
            position = first
        elif shard_iterator_type == ShardIteratorType.LATEST:
            position = end
        else:
            number = sequence_number or ""
            if not (number.isdigit() and first <= int(number) < end):
                raise _validation_error(
                    f"Invalid SequenceNumber {number!r} for shard {shard_id} of {stream_arn}"
                )
            after = shard_iterator_type == ShardIteratorType.AFTER_SEQUENCE_NUMBER
            position = int(number) + after
        return GetShardIteratorOutput(ShardIterator=_shard_iterator(stream_arn, position))

    @handler("GetRecords")
    def get_records(
        self,
        context: RequestContext,
        shard_iterator: str,
        limit: int | None = None,
        **kwargs: Any,
    ) -> GetRecordsOutput:
        records, next_iterator = read_stream(
            context.account_id, context.region, shard_iterator, limit
        )
        response = GetRecordsOutput(Records=[_with_binary_as_bytes(r) for r in records])
        if next_iterator is not None:
            response["NextShardIterator"] = next_iterator
        return response


def read_stream(
    account_id: str, region: str, shard_iterator: str, limit: int | None = None
) -> tuple[list[dict[str, Any]], str | None]:
    """The records at a shard iterator, and the next iterator (``None`` once a disabled
    stream has been read to its end: AWS closes its shard).

    The records are moto's own dicts, binary values as base64 text: callers copy what they
    change. GetRecords serves them; the stream poller (`stream_poller`) reads them in-process.
    """
    stream_arn, _, number = shard_iterator.rpartition(ITERATOR_SEPARATOR)
    shard = _stream_shard(account_id, region, stream_arn) if number.isdigit() else None
    if shard is None or not (shard.starting_sequence_number <= int(number) <= _end_position(shard)):
        raise _validation_error(f"Invalid ShardIterator: {shard_iterator!r}")
    start = int(number) - shard.starting_sequence_number
    records = [item.to_json() for item in shard.items[start : start + (limit or 1000)]]
    next_position = int(number) + len(records)
    if _stream_enabled(shard) or next_position < _end_position(shard):
        return records, _shard_iterator(stream_arn, next_position)
    return records, None


def _with_binary_as_bytes(record: dict[str, Any]) -> Record:
    """A stream record whose ``B``/``BS`` values are bytes, as LocalStack's serializer expects.

    moto keeps binary values as base64 text; the serializer base64-encodes them again, so a
    consumer would see base64 of base64 (GetItem is not affected: it answers moto's JSON as is).
    """
    images = {
        name: {attr: _binary_as_bytes(value) for attr, value in image.items()}
        for name, image in record["dynamodb"].items()
        if name in ("Keys", "NewImage", "OldImage")
    }
    return cast(Record, {**record, "dynamodb": {**record["dynamodb"], **images}})


def _binary_as_bytes(value: dict[str, Any]) -> dict[str, Any]:
    ((kind, inner),) = value.items()
    if kind == "B":
        return {"B": base64.b64decode(inner)}
    if kind == "BS":
        return {"BS": [base64.b64decode(item) for item in inner]}
    if kind == "M":
        return {"M": {key: _binary_as_bytes(item) for key, item in inner.items()}}
    if kind == "L":
        return {"L": [_binary_as_bytes(item) for item in inner]}
    return value


def _shard_iterator(stream_arn: str, position: int) -> str:
    """An iterator that reads from sequence number ``position`` of the stream's one shard."""
    return f"{stream_arn}{ITERATOR_SEPARATOR}{position}"


def _end_position(shard: StreamShard) -> int:
    """The sequence number the shard's next record will take."""
    return shard.starting_sequence_number + len(shard.items)


def _stream_enabled(shard: StreamShard) -> bool:
    return bool((shard.table.stream_specification or {}).get("StreamEnabled"))


def _stream_shard(account_id: str, region: str, stream_arn: str) -> StreamShard:
    """The shard behind a stream ARN ("arn:…:table/<name>/stream/<label>").

    moto keeps one shard per table, for its latest stream only, and looks the table up in the
    caller's account and region, as this does.
    """
    table_name, _, label = stream_arn.partition(":table/")[2].partition("/stream/")
    table = dynamodb_backends[account_id][region].tables.get(table_name)
    if table is None or table.stream_shard is None or table.latest_stream_label != label:
        raise ResourceNotFoundException(
            f"Requested resource not found: Stream: {stream_arn} not found"
        )
    return table.stream_shard


@aws_provider(api="dynamodb", name="moto")
def dynamodb_moto() -> Service:
    _MOTO_PATCHES.apply()
    return Service.for_provider(
        MotoDynamoDBProvider(), dispatch_table_factory=MotoFallbackDispatcher
    )


@aws_provider(api="dynamodbstreams", name="moto")
def dynamodbstreams_moto() -> Service:
    return Service.for_provider(
        MotoDynamoDBStreamsProvider(), dispatch_table_factory=MotoFallbackDispatcher
    )
