"""DynamoDB stream record -> search index change. Pure: no I/O, no clock, no globals that change.

Everything the sync function, a backfill or a reconcile needs to agree on lives here: what a
document looks like, what its id is and which change wins.

Documents
---------
A document is the item as plain JSON: ``S``/``BOOL``/``NULL``/``M``/``L`` as themselves,
``SS``/``NS``/``BS`` as sorted arrays, ``B``/``BS`` as (canonical) base64. Numbers keep every
digit: they are written as JSON number *tokens* with the exact decimal digits DynamoDB holds
(38 significant digits, exponents down to -130), never through a float; see `dumps` and
`number_text`. How the index maps them is `mapping`'s business (exact keyword plus a
``double`` sub-field). One attribute name is reserved, `SYNC_FIELD` (``_sync``): it carries the
bookkeeping below; an item that has an attribute of that name is dead-lettered, not indexed.

Document ids
------------
`document_id` derives the id from the record's ``Keys`` alone, whatever the key schema:

* one ``S`` key whose value does not start with ``~``: the value itself (``book_id`` -> id),
  so people and tests can find a book by its id;
* any other single key: ``~S:`` / ``~N:`` / ``~B:`` + the canonical value (number text as in
  documents, base64 re-encoded);
* hash + range: ``~K:`` + a JSON array ``[[type, value], ...]`` ordered by attribute name;
* anything longer than OpenSearch's 512-byte ``_id`` limit (DynamoDB allows 2048 + 1024
  bytes): ``~H:`` + the SHA-256 of that JSON array.

The forms cannot be confused with each other (plain ids never start with ``~``; the others
differ in the letter after it), JSON quoting keeps composite keys apart (``("a|b", "c")`` vs
``("a", "b|c")``), and the type tag keeps ``S "1"`` apart from ``N 1``. Attribute names are not
part of the id: one table has one key schema.

Versions and ordering
---------------------
Stream sequence numbers are decimal strings of 21 to 40 digits, far past OpenSearch's signed
64-bit ``external`` version, so they cannot be the version. The order is decided by the
sequence numbers alone; versions only make OpenSearch enforce it:

* Every document stores its exact sequence number (``_sync.seq``); `is_newer` compares two
  with Python integers.
* The stream path (the function, ``replay``) compares before it writes
  (`ddb_opensearch_sync.index.writer.BulkWriter` with ``check_first``): one ``_mget`` reads the
  stored ``_sync.seq`` and ``_version``; an older or equal change is stale and counts as done;
  a newer one is written with ``version_type=external`` and the stored version + 1, which is a
  compare-and-set: a write landing in between raises the version, the change conflicts and is
  compared again. Duplicates and replays (Lambda delivers at least once; retries restart at
  the failed record) are therefore stale, whatever their creation time.
* Only a document not stored yet is written with the change's *natural version*
  ``floor(ApproximateCreationDateTime) << VERSION_SHIFT`` (whole seconds in the high bits, room
  for bumps in the low 20), so that a backfill (version 0) or a reindex copy (its own version)
  meeting it still loses or wins as those commands expect. A record without a creation time
  gets natural version 0.

Why not trust the creation time: AWS documents that, for each item, stream records appear in
the order of the item's modifications, and that sequence numbers order records within a shard
(and a shard's parent holds an item's earlier records: Lambda finishes a parent shard before
its children). ``ApproximateCreationDateTime`` is documented only as "approximate", rounded
down to the second, with no promise that it never goes backwards from one change of an item to
the next. If ordering rested on it, a newer change carrying an earlier second, once stored,
would be overwritten by a later replay of the older change (whose natural version is larger).
The stored-sequence comparison closes that. What remains assumed: sequence numbers of one item
grow across a shard split (the child shard's range starts after its parent's), and the one
window left to the clock is two writers creating the *same absent* document at the same
moment (both see nothing stored); the higher natural version wins it.

Deletes and tombstones
----------------------
``REMOVE`` does not delete the document: it writes a *tombstone*, a document holding only the
keys and ``_sync.deleted: true``, under the same versioning. OpenSearch forgets the versions of
deleted documents after ``index.gc_deletes`` (60 s by default), after which an old ``INSERT``
replayed from ``TRIM_HORIZON`` would resurrect the item; a tombstone is an ordinary document
and never forgets. The alias the function writes to carries a filter that hides tombstones
from searches and counts (`mapping`); a ``GET`` by id through the alias does not apply alias
filters, so readers by id check ``_sync.deleted``. Tombstones older than the stream's 24-hour
retention can be purged by a maintenance job.

TTL expirations (``REMOVE`` by the DynamoDB service principal) follow `TtlPolicy`: tombstone
(``delete``, the default) or leave the document as it was (``keep``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import re
from collections.abc import Mapping, Sequence
from decimal import Context, Decimal, Inexact, InvalidOperation, Rounded
from enum import StrEnum
from typing import Any, NamedTuple

import orjson
from boto3.dynamodb.types import DYNAMODB_CONTEXT

__all__ = [
    "MAX_ID_BYTES",
    "SYNC_FIELD",
    "VERSION_SHIFT",
    "Action",
    "Change",
    "EventName",
    "MalformedRecordError",
    "TtlPolicy",
    "attribute_name",
    "compact",
    "document_id",
    "dumps",
    "external_version",
    "index_name",
    "is_newer",
    "loads",
    "number_text",
    "plain_image",
    "sequence_number_of",
    "stored_sequence",
    "to_change",
]

SYNC_FIELD = "_sync"
"""Reserved top-level field holding ``seq``, ``deleted``, ``event`` and ``ts``."""

VERSION_SHIFT = 20
"""Low bits of an external version left for same-second bumps (see the module docstring)."""

MAX_ID_BYTES = 512
"""OpenSearch rejects longer ``_id`` values."""

TTL_PRINCIPAL = "dynamodb.amazonaws.com"

# Exact arithmetic on DynamoDB numbers: 38 significant digits, and any rounding is an error
# rather than a silent change of value.
_EXACT = Context(prec=38, Emin=-200, Emax=200, traps=[Inexact, Rounded, InvalidOperation])

# Creation times above this are milliseconds (Kinesis-format records), not seconds.
_MILLISECONDS_THRESHOLD = 100_000_000_000


class EventName(StrEnum):
    INSERT = "INSERT"
    MODIFY = "MODIFY"
    REMOVE = "REMOVE"


class Action(StrEnum):
    """What a change does to the index."""

    UPSERT = "upsert"
    """Index the item's new image."""
    DELETE = "delete"
    """Index a tombstone."""
    SKIP = "skip"
    """Nothing (a TTL expiry under the ``keep`` policy)."""


class TtlPolicy(StrEnum):
    DELETE = "delete"
    KEEP = "keep"


class MalformedRecordError(ValueError):
    """The stream record cannot be turned into a change; the message says why."""


class Change(NamedTuple):
    """One stream record, ready to be written.

    A named tuple rather than a frozen dataclass: as immutable, and built in a third of the
    time (a frozen dataclass sets each of its ten fields through ``object.__setattr__``), once
    per record on the function's path.

    Attributes
    ----------
    position
        Index of the record in its batch (stream order).
    record
        The record as received, for dead letters.
    document
        The JSON body to index (the item, or the tombstone); ``None`` for `Action.SKIP`.
    """

    position: int
    record: Mapping[str, Any]
    doc_id: str
    sequence_number: str
    event_name: EventName
    action: Action
    version: int
    created_at: float | None
    ttl_expiry: bool
    document: str | None

    @property
    def sequence(self) -> int:
        return int(self.sequence_number)


# --- attribute values -----------------------------------------------------------------


def number_text(value: Decimal) -> str:
    """The canonical JSON number token for a DynamoDB number.

    Integral values are written as plain digits (``1.0E+3`` -> ``1000``, so an integer stays
    an integer), others in Python's shortest exact form (``1.5``, ``1E-130``). Both are valid
    JSON number tokens and carry every digit.
    """
    if not value.is_finite():
        raise MalformedRecordError(f"number {value} is not finite")
    normal = value.normalize(_EXACT)
    if normal.as_tuple().exponent >= 0:  # type: ignore[operator]
        return str(int(normal))
    return str(normal)


# A direct switch on the type key: boto3's TypeDeserializer looks its per-type method up by
# name for every value (getattr on a formatted string), which made `plain_image` about a fifth
# of the whole mapping's cost.


def _text(value: Any, requirement: str) -> str:
    if not isinstance(value, str):
        raise MalformedRecordError(f"{requirement}, got {value!r:.80}")
    return value


def _plain_string(value: Any) -> str:
    return _text(value, "string value must be text")


def _plain_number(value: Any) -> Decimal:
    text = _text(value, "number must be given as text")
    try:
        # boto3's context: 38 digits, and rounding, overflow or underflow raise.
        number = DYNAMODB_CONTEXT.create_decimal(text)
    except (ArithmeticError, ValueError) as error:
        raise MalformedRecordError(
            f"number {value!r:.80} is not a DynamoDB number: {type(error).__name__}"
        ) from None
    if not number.is_finite():  # boto3's context does not trap InvalidOperation
        raise MalformedRecordError(f"number {value!r:.80} is not a DynamoDB number")
    return number


def _plain_binary(value: Any) -> str:
    text = _text(value, "binary value must be base64 text")
    try:
        raw = base64.b64decode(text, validate=True)
    except binascii.Error as error:
        raise MalformedRecordError(f"binary value is not valid base64: {error}") from None
    return base64.b64encode(raw).decode("ascii")


def _plain_value(value: Any) -> Any:
    """One typed attribute value as a plain value (see `plain_image`)."""
    # `type(...) is dict` first: an event's values are dicts, and an ABC isinstance check
    # costs several times more.
    if not (type(value) is dict or isinstance(value, Mapping)) or len(value) != 1:
        raise MalformedRecordError(
            f"attribute value must be a map with exactly one type key, got {value!r:.80}"
        )
    ((kind, inner),) = value.items()
    if kind == "S":
        return inner if type(inner) is str else _plain_string(inner)
    if kind == "N":
        return _plain_number(inner)
    if kind == "M":
        return {index_name(name): _plain_value(item) for name, item in _as_map(inner, "M").items()}
    if kind == "L":
        return [_plain_value(item) for item in _as_list(inner, "L")]
    if kind == "BOOL":
        return inner
    if kind == "NULL":
        return None
    if kind == "SS":
        return sorted(map(_plain_string, _as_list(inner, "SS")))
    if kind == "NS":
        return sorted(map(_plain_number, _as_list(inner, "NS")))
    if kind == "B":
        return _plain_binary(inner)
    if kind == "BS":
        return sorted(map(_plain_binary, _as_list(inner, "BS")))
    raise MalformedRecordError(f"Dynamodb type {kind!r:.80} is not supported")


def _as_list(value: Any, kind: str) -> list[Any]:
    if type(value) is not list and not isinstance(value, list):
        raise MalformedRecordError(f"{kind} value must be a list, got {value!r:.80}")
    return value


def _as_map(value: Any, kind: str) -> Mapping[str, Any]:
    if type(value) is not dict and not isinstance(value, Mapping):
        raise MalformedRecordError(f"{kind} value must be a map, got {value!r:.80}")
    return value


def plain_image(image: Mapping[str, Any]) -> dict[str, Any]:
    """A DynamoDB image (``{"title": {"S": "Dune"}}``) as plain values (``{"title": "Dune"}``).

    Numbers become `Decimal` (exact), sets sorted lists, binary canonical base64.
    """
    plain = {}
    for name, value in image.items():
        # Strings, most of an item, skip the general switch: once per attribute per record.
        text = value.get("S") if type(value) is dict and len(value) == 1 else None
        plain[index_name(name)] = text if type(text) is str else _plain_value(value)
    return plain


def index_name(name: str) -> str:
    """An attribute or map key name as a document field name, escaped reversibly where
    OpenSearch would refuse or misread it (see `mapping`): a leading ``_`` (``_id``,
    ``_source``), ``.`` (a path separator) and the escape character ``~`` itself become
    ``~5F``, ``~2E`` and ``~7E``; the empty name becomes ``~``. Other names are unchanged."""
    if name and name[0] != "_" and "." not in name and "~" not in name:
        return name
    if not name:
        return "~"
    escaped = name.replace("~", "~7E").replace(".", "~2E")
    return "~5F" + escaped[1:] if escaped[0] == "_" else escaped


def attribute_name(field_name: str) -> str:
    """The inverse of `index_name`."""
    if "~" not in field_name:
        return field_name
    if field_name == "~":
        return ""
    return re.sub(r"~([0-9A-F]{2})", lambda m: chr(int(m.group(1), 16)), field_name)


def _exact_number(value: Any) -> orjson.Fragment:
    """orjson's hook for what it cannot encode itself: a `Decimal` as its exact token."""
    if isinstance(value, Decimal):
        return orjson.Fragment(number_text(value))
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def dumps(value: Any) -> str:
    """Compact JSON with `Decimal` written as exact number tokens and object keys sorted.

    orjson (compiled) writes the document; each `Decimal` goes in as a raw fragment holding
    its `number_text`, so no number ever passes through a float (the standard library and
    opensearch-py's serializer can only write floats for non-integral numbers, which would
    lose digits). What orjson refuses (integers beyond 64 bits, keys that are not strings,
    text that is not valid Unicode, nesting deeper than 254) goes through the exact encoder
    below, which gives the same bytes for everything both can write. Floats, which no
    DynamoDB image holds, are orjson's shortest round-trip form (``1e16`` where `repr` says
    ``1e+16``); non-finite floats are an error in the exact encoder only.
    """
    try:
        return orjson.dumps(value, default=_exact_number, option=orjson.OPT_SORT_KEYS).decode()
    except orjson.JSONEncodeError:
        parts: list[str] = []
        _encode(value, parts)
        return "".join(parts)


def loads(text: str | bytes) -> Any:
    """JSON with every number that has a fraction or exponent read as `Decimal`, not float.

    The inverse of `dumps` for stored documents: a float keeps about 16 of a DynamoDB number's
    38 digits. Integers are exact in Python already.
    """
    return json.loads(text, parse_float=Decimal)


def _encode(value: Any, parts: list[str]) -> None:
    """The exact encoder behind `dumps`, for what orjson refuses."""
    if isinstance(value, str):
        parts.append(json.dumps(value, ensure_ascii=False))
    elif value is None or isinstance(value, bool):
        parts.append(json.dumps(value))
    elif isinstance(value, Decimal):
        parts.append(number_text(value))
    elif isinstance(value, int):
        parts.append(str(value))
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value} is not a JSON number")
        parts.append(repr(value))
    elif isinstance(value, Mapping):
        parts.append("{")
        for i, key in enumerate(sorted(value)):
            if i:
                parts.append(",")
            parts.append(json.dumps(str(key), ensure_ascii=False))
            parts.append(":")
            _encode(value[key], parts)
        parts.append("}")
    elif isinstance(value, list | tuple):
        parts.append("[")
        for i, item in enumerate(value):
            if i:
                parts.append(",")
            _encode(item, parts)
        parts.append("]")
    else:
        raise TypeError(f"cannot encode {type(value).__name__} as JSON")


# --- ids, versions, order ---------------------------------------------------------------


def _key_part(name: str, value: Any) -> tuple[str, str]:
    if not isinstance(value, Mapping) or len(value) != 1:
        raise MalformedRecordError(f"key {name!r} must be a typed value, got {value!r:.80}")
    ((kind, inner),) = value.items()
    if kind == "S":
        text = _plain_string(inner)
        if not text:
            raise MalformedRecordError(f"key {name!r} is an empty string")
        return "S", text
    if kind == "N":
        return "N", number_text(_plain_number(inner))
    if kind == "B":
        return "B", _plain_binary(inner)
    raise MalformedRecordError(f"key {name!r} has type {kind!r}; keys are S, N or B")


def _plain_string_id(keys: Any) -> str | None:
    """The id of the usual key, one ``S`` value not starting with ``~`` and short enough to
    need no byte count (at most 4 UTF-8 bytes per character); ``None`` for any other, which
    `document_id` derives in full. Once per record on the function's path, hence the shortcut."""
    if type(keys) is not dict or len(keys) != 1:
        return None
    (value,) = keys.values()
    if type(value) is not dict or len(value) != 1:
        return None
    text = value.get("S")
    if type(text) is str and text and text[0] != "~" and len(text) <= MAX_ID_BYTES // 4:
        return text
    return None


def document_id(keys: Mapping[str, Any]) -> str:
    """The document id for an item's typed ``Keys`` (see the module docstring)."""
    plain = _plain_string_id(keys)
    if plain is not None:
        return plain
    if not isinstance(keys, Mapping) or not keys:
        raise MalformedRecordError("the record has no Keys")
    parts = [_key_part(name, keys[name]) for name in sorted(keys)]
    if len(parts) == 1:
        kind, text = parts[0]
        candidate = text if kind == "S" and not text.startswith("~") else f"~{kind}:{text}"
    else:
        candidate = "~K:" + json.dumps(parts, ensure_ascii=False, separators=(",", ":"))
    if len(candidate.encode("utf-8")) <= MAX_ID_BYTES:
        return candidate
    canonical = json.dumps(parts, ensure_ascii=False, separators=(",", ":"))
    return "~H:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def external_version(created_at: float | None) -> int:
    """The natural external version of a change created at ``created_at`` (epoch seconds)."""
    if created_at is None:
        return 0
    return int(created_at) << VERSION_SHIFT


def _is_sequence_number(value: object) -> bool:
    return isinstance(value, str) and value.isascii() and value.isdigit()


def stored_sequence(source: object) -> str | None:
    """The ``_sync.seq`` of a stored document's source when it holds a usable one.

    A document without one (written by a backfill or by hand) has ``None``: `is_newer` ranks
    it below every stream change.
    """
    meta = source.get(SYNC_FIELD) if isinstance(source, Mapping) else None
    seq = meta.get("seq") if isinstance(meta, Mapping) else None
    return seq if _is_sequence_number(seq) else None


def is_newer(sequence_number: str, stored: object) -> bool:
    """Whether a change with ``sequence_number`` is newer than the stored one.

    A document without a (valid) stored sequence number, written by a backfill say, is older
    than any stream change.
    """
    if not _is_sequence_number(stored):
        return True
    return int(sequence_number) > int(stored)  # type: ignore[arg-type]


# --- records -----------------------------------------------------------------------------


def _require_map(parent: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = parent.get(name)
    # `type(...) is dict` first: an event's maps are dicts, and an ABC check costs more.
    if type(value) is not dict and not isinstance(value, Mapping):
        raise MalformedRecordError(f"{name} is missing or not a map")
    return value


def _sequence_number(stream: Mapping[str, Any]) -> str:
    value = stream.get("SequenceNumber")
    if not _is_sequence_number(value):
        raise MalformedRecordError(f"SequenceNumber must be a decimal string, got {value!r:.80}")
    return value


def _created_at(stream: Mapping[str, Any]) -> float | None:
    value = stream.get("ApproximateCreationDateTime")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise MalformedRecordError(f"ApproximateCreationDateTime is not a time: {value!r:.80}")
    if value > _MILLISECONDS_THRESHOLD:
        return value / 1000
    return float(value)


def _is_ttl_expiry(record: Mapping[str, Any]) -> bool:
    identity = record.get("userIdentity")
    return (
        isinstance(identity, Mapping)
        and identity.get("type") == "Service"
        and identity.get("principalId") == TTL_PRINCIPAL
    )


def _sync_meta(
    sequence_number: str, event: EventName, created_at: float | None, *, deleted: bool
) -> dict[str, Any]:
    meta: dict[str, Any] = {"seq": sequence_number, "deleted": deleted, "event": event.value}
    if created_at is not None:
        meta["ts"] = int(created_at)
    return meta


def _holds_keys(image: Mapping[str, Any], keys: Mapping[str, Any], doc_id: str) -> bool:
    """Whether the item's image holds the record's keys.

    Values spelled alike are the same key; only when one differs (a number may be spelled
    differently in Keys and NewImage) is the image's id derived and compared canonically, so
    the id is computed once per record in the usual case.
    """
    alike = True
    for name, value in keys.items():  # a loop, not any()/all(): once per record, 10x faster
        if name not in image:
            return False
        alike = alike and image[name] == value
    return alike or document_id({name: image[name] for name in keys}) == doc_id


def sequence_number_of(record: object) -> str | None:
    """The record's sequence number when it has a usable one (for failure reports)."""
    if isinstance(record, Mapping) and isinstance(record.get("dynamodb"), Mapping):
        try:
            return _sequence_number(record["dynamodb"])
        except MalformedRecordError:
            return None
    return None


def to_change(
    record: object, *, position: int = 0, ttl_policy: TtlPolicy = TtlPolicy.DELETE
) -> Change:
    """Turn one stream record into a `Change`.

    Raises
    ------
    MalformedRecordError
        When the record is not a DynamoDB stream record this function can index: not a map,
        an unknown ``eventName``, no ``NewImage`` on an ``INSERT``/``MODIFY`` (a ``KEYS_ONLY``
        or ``OLD_IMAGE`` stream), bad keys or values, or the reserved attribute name.
    """
    if type(record) is not dict and not isinstance(record, Mapping):
        raise MalformedRecordError(f"record must be a map, got {type(record).__name__}")
    try:
        event = EventName(record.get("eventName"))
    except ValueError:
        raise MalformedRecordError(f"unknown eventName {record.get('eventName')!r:.80}") from None
    stream = _require_map(record, "dynamodb")
    sequence_number = _sequence_number(stream)
    created_at = _created_at(stream)
    keys = _require_map(stream, "Keys")
    doc_id = document_id(keys)
    ttl_expiry = event is EventName.REMOVE and _is_ttl_expiry(record)

    if event is EventName.REMOVE:
        if ttl_expiry and ttl_policy is TtlPolicy.KEEP:
            action, body = Action.SKIP, None
        else:
            action = Action.DELETE
            body = plain_image(keys)  # a new dict: the metadata goes straight in
            body[SYNC_FIELD] = _sync_meta(sequence_number, event, created_at, deleted=True)
    else:
        if "NewImage" not in stream:
            raise MalformedRecordError(
                f"{event.value} record has no NewImage (is the stream KEYS_ONLY or OLD_IMAGE?)"
            )
        image = _require_map(stream, "NewImage")
        if SYNC_FIELD in image:
            raise MalformedRecordError(f"the item has the reserved attribute {SYNC_FIELD!r}")
        if not _holds_keys(image, keys, doc_id):
            raise MalformedRecordError("NewImage does not hold the record's Keys")
        action = Action.UPSERT
        body = plain_image(image)
        body[SYNC_FIELD] = _sync_meta(sequence_number, event, created_at, deleted=False)

    return Change(
        position=position,
        record=record,
        doc_id=doc_id,
        sequence_number=sequence_number,
        event_name=event,
        action=action,
        version=external_version(created_at),
        created_at=created_at,
        ttl_expiry=ttl_expiry,
        document=None if body is None else dumps(body),
    )


def compact(changes: Sequence[Change]) -> tuple[list[Change], list[Change]]:
    """Keep the newest change per document; return ``(newest, superseded)``.

    Only an item's newest change decides its final state, so the older ones of the same
    batch need no request of their own. Both lists keep the input's order.
    """
    newest: dict[str, Change] = {}
    for change in changes:
        kept = newest.get(change.doc_id)
        if kept is None or change.sequence > kept.sequence:
            newest[change.doc_id] = change
    winners = {id(change) for change in newest.values()}
    return (
        [c for c in changes if id(c) in winners],
        [c for c in changes if id(c) not in winners],
    )
