"""The pure mapping: stream record -> change (document, id, version, action)."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ddb_opensearch_sync.core.records import (
    MAX_ID_BYTES,
    SYNC_FIELD,
    VERSION_SHIFT,
    Action,
    EventName,
    MalformedRecordError,
    TtlPolicy,
    _encode,
    compact,
    document_id,
    dumps,
    external_version,
    is_newer,
    number_text,
    plain_image,
    sequence_number_of,
    to_change,
)

FIXTURES = Path(__file__).parent / "fixtures"


def records(name: str) -> list[dict[str, Any]]:
    return json.loads((FIXTURES / name).read_text())["Records"]


def parsed(document: str | None) -> dict[str, Any]:
    assert document is not None
    return json.loads(document, parse_float=Decimal, parse_int=Decimal)


# --- the AWS documentation's sample event ---------------------------------------------------


def test_aws_sample_insert_becomes_a_plain_document():
    # GIVEN the INSERT of the sample event (numeric hash key, no creation time)
    insert = records("aws_docs_sample_event.json")[0]

    # WHEN it is mapped
    change = to_change(insert)

    # THEN the document is the item as plain JSON plus the bookkeeping field
    assert change.action is Action.UPSERT
    assert change.event_name is EventName.INSERT
    assert change.doc_id == "~N:101"
    assert change.sequence_number == "111"
    assert change.version == 0  # no ApproximateCreationDateTime: always the exact path
    assert parsed(change.document) == {
        "Id": 101,
        "Message": "New item!",
        SYNC_FIELD: {"seq": "111", "deleted": False, "event": "INSERT"},
    }


def test_aws_sample_modify_and_remove():
    _, modify, remove = records("aws_docs_sample_event.json")

    modified, removed = to_change(modify, position=1), to_change(remove, position=2)

    assert modified.action is Action.UPSERT
    assert parsed(modified.document)["Message"] == "This item has changed"
    assert removed.action is Action.DELETE
    assert removed.doc_id == modified.doc_id == "~N:101"
    # A tombstone holds the keys and the deleted flag, nothing of the old image.
    assert parsed(removed.document) == {
        "Id": 101,
        SYNC_FIELD: {"seq": "333", "deleted": True, "event": "REMOVE"},
    }
    assert (modified.position, removed.position) == (1, 2)


def test_every_dynamodb_type_maps_to_plain_json():
    change = to_change(records("all_types_event.json")[0])

    document = parsed(change.document)

    assert document["title"] == 'Types "quoted" \\ and ünïcode'
    assert document["year"] == 1965
    assert document["price"] == Decimal("12.5")
    assert document["exact"] == Decimal("12345678901234567890123456789012345678")
    assert document["tiny"] == Decimal("1E-130")
    assert document["huge"] == Decimal("9.9999999999999999999999999999999999999E+125")
    assert document["negative"] == Decimal("-0.000001")
    assert document["cover"] == "iVBORw0KGgo="
    assert document["in_print"] is True
    assert document["series"] is None
    assert document["tags"] == ["sf", "classic"]  # a list keeps its order
    assert document["ratings"] == [-3, Decimal("4.5"), 10]  # sets are sorted
    assert document["formats"] == ["ebook", "hardcover", "paperback"]
    assert document["checksums"] == ["AAE=", "AQI="]
    assert document["publisher"] == {
        "name": "Chilton",
        "founded": 1904,
        "offices": [{"city": "Philadelphia"}, None],
    }
    assert document[SYNC_FIELD] == {
        "seq": "1100000000000136137170",
        "deleted": False,
        "event": "MODIFY",
        "ts": 1700000200,
    }


def test_numbers_are_written_as_exact_json_tokens():
    change = to_change(records("all_types_event.json")[0])

    text = change.document or ""

    # No float ever touched them: the digits are in the JSON text as DynamoDB holds them.
    assert '"exact":12345678901234567890123456789012345678' in text
    assert '"tiny":1E-130' in text
    # An integral value is written as an integer, however large (126 digits here).
    assert '"huge":' + "9" * 38 + "0" * 88 + "," in text
    assert '"price":12.5' in text
    assert '"year":1965' in text


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("1999", "1999"),
        ("1999.0", "1999"),  # integral stays integral
        ("1999.5", "1999.5"),
        ("100", "100"),  # not 1E+2
        ("1E+3", "1000"),
        ("0.000001", "0.000001"),
        ("1E-7", "1E-7"),
        ("1E-130", "1E-130"),
        ("-0.000", "0"),
        ("12345678901234567890123456789012345678", "12345678901234567890123456789012345678"),
        ("0.12345678901234567890123456789012345678", "0.12345678901234567890123456789012345678"),
    ],
)
def test_number_text_is_canonical_and_exact(given: str, expected: str):
    assert number_text(Decimal(given)) == expected
    assert Decimal(expected) == Decimal(given)


def test_integer_then_decimal_in_the_same_attribute_keep_their_values():
    first = plain_image({"rating": {"N": "4"}})
    second = plain_image({"rating": {"N": "4.25"}})

    assert dumps(first) == '{"rating":4}'
    assert dumps(second) == '{"rating":4.25}'


def test_dumps_sorts_keys_and_escapes_strings():
    assert dumps({"b": [True, None], "a": 'x"\n'}) == '{"a":"x\\"\\n","b":[true,null]}'


# --- document ids -------------------------------------------------------------------------


def test_single_string_key_is_the_id_itself():
    assert document_id({"book_id": {"S": "f3c9-42"}}) == "f3c9-42"


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        ({"id": {"S": "~tilde"}}, "~S:~tilde"),
        ({"id": {"N": "42"}}, "~N:42"),
        ({"id": {"N": "42.0"}}, "~N:42"),  # DynamoDB's number equality
        ({"id": {"N": "-1.50"}}, "~N:-1.5"),
        ({"id": {"B": "AAEC"}}, "~B:AAEC"),
        ({"pk": {"S": "a"}, "sk": {"N": "7"}}, '~K:[["S","a"],["N","7"]]'),
    ],
)
def test_other_key_shapes_are_tagged(keys: dict[str, Any], expected: str):
    assert document_id(keys) == expected


def test_composite_ids_are_collision_free():
    ids = {
        document_id({"pk": {"S": "a|b"}, "sk": {"S": "c"}}),
        document_id({"pk": {"S": "a"}, "sk": {"S": "b|c"}}),
        document_id({"pk": {"S": "a"}, "sk": {"N": "1"}}),
        document_id({"pk": {"S": "a"}, "sk": {"S": "1"}}),
        document_id({"pk": {"S": "a"}, "sk": {"B": "MQ=="}}),
        document_id({"id": {"S": "1"}}),
        document_id({"id": {"N": "1"}}),
        document_id({"id": {"S": '~K:[["S","a"],["N","1"]]'}}),
    }
    assert len(ids) == 8


def test_ids_do_not_depend_on_key_order():
    forward = {"pk": {"S": "x"}, "sk": {"S": "y"}}
    backward = {"sk": {"S": "y"}, "pk": {"S": "x"}}
    assert document_id(forward) == document_id(backward)


def test_ids_fit_opensearch_limit():
    # GIVEN keys at DynamoDB's limits (2048-byte hash key, 1024-byte range key)
    at_limit = "é" * (MAX_ID_BYTES // 2)  # exactly 512 bytes in UTF-8
    over_limit = at_limit + "x"
    longest = {"pk": {"S": "p" * 2048}, "sk": {"S": "s" * 1024}}

    # THEN short enough ids are kept, longer ones are hashed, and all fit
    assert document_id({"id": {"S": at_limit}}) == at_limit
    hashed = document_id({"id": {"S": over_limit}})
    assert hashed.startswith("~H:") and len(hashed) == 3 + 64
    assert document_id(longest).startswith("~H:")
    assert document_id(longest) != hashed
    assert len(document_id(longest).encode()) <= MAX_ID_BYTES


# --- versions and ordering -------------------------------------------------------------------


def test_versions_order_by_second_and_leave_room_for_bumps():
    assert external_version(1568013979.0) == 1568013979 << VERSION_SHIFT
    assert external_version(1568013979.9) == external_version(1568013979.0)
    assert external_version(1568013980) > external_version(1568013979) + 1000
    assert external_version(None) == 0
    year_9999 = 253402300799
    assert external_version(year_9999) < 2**63 - 1


def test_millisecond_creation_times_are_read_as_seconds():
    record = copy.deepcopy(records("all_types_event.json")[0])
    record["dynamodb"]["ApproximateCreationDateTime"] = 1700000200123

    change = to_change(record)

    assert change.version == external_version(1700000200)
    assert change.created_at == pytest.approx(1700000200.123)


def test_is_newer_compares_sequence_numbers_beyond_64_bits_exactly():
    big = str(2**128)
    assert is_newer(str(2**128 + 1), big)
    assert not is_newer(big, big)
    assert not is_newer(str(2**128 - 1), big)
    assert is_newer("21258900000000008186295383", "21258800000000008186106757")
    # A document without a (valid) sequence number predates every stream change.
    assert is_newer("111", None)
    assert is_newer("111", "not-a-number")


def test_composite_key_sample():
    insert, remove = records("composite_key_event.json")

    inserted, removed = to_change(insert), to_change(remove, position=1)

    assert inserted.doc_id == removed.doc_id == '~K:[["S","2"],["S","aaa"]]'
    assert removed.version > inserted.version
    assert parsed(removed.document) == {
        "ID": "2",
        "Title": "aaa",
        SYNC_FIELD: {
            "seq": "21258900000000008186295383",
            "deleted": True,
            "event": "REMOVE",
            "ts": 1568014718,
        },
    }


# --- TTL ---------------------------------------------------------------------------------


def test_ttl_expiry_deletes_by_default():
    expired, deleted = records("ttl_expiry_event.json")

    by_ttl, by_user = to_change(expired), to_change(deleted)

    assert (by_ttl.action, by_ttl.ttl_expiry) == (Action.DELETE, True)
    assert (by_user.action, by_user.ttl_expiry) == (Action.DELETE, False)


def test_ttl_expiry_can_keep_the_document():
    expired, deleted = records("ttl_expiry_event.json")

    kept = to_change(expired, ttl_policy=TtlPolicy.KEEP)
    by_user = to_change(deleted, ttl_policy=TtlPolicy.KEEP)

    assert (kept.action, kept.document) == (Action.SKIP, None)
    assert by_user.action is Action.DELETE  # a user's delete is never kept


# --- malformed records -----------------------------------------------------------------------


def _valid() -> dict[str, Any]:
    return copy.deepcopy(records("all_types_event.json")[0])


def _with(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    record = _valid()
    target = record
    for name in path[:-1]:
        target = target[name]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return record


_DELETE = object()


@pytest.mark.parametrize(
    ("record", "message"),
    [
        (["not", "a", "map"], "record must be a map"),
        (None, "record must be a map"),
        ("INSERT", "record must be a map"),
        (_with(("eventName",), "UPDATE"), "unknown eventName"),
        (_with(("eventName",), _DELETE), "unknown eventName"),
        (_with(("dynamodb",), _DELETE), "dynamodb is missing"),
        (_with(("dynamodb", "SequenceNumber"), _DELETE), "SequenceNumber"),
        (_with(("dynamodb", "SequenceNumber"), "12ab"), "SequenceNumber"),
        (_with(("dynamodb", "SequenceNumber"), 111), "SequenceNumber"),
        (_with(("dynamodb", "Keys"), _DELETE), "Keys is missing"),
        (_with(("dynamodb", "Keys"), {}), "no Keys"),
        (_with(("dynamodb", "Keys"), {"book_id": {"BOOL": True}}), "keys are S, N or B"),
        (_with(("dynamodb", "Keys"), {"book_id": {"S": ""}}), "empty string"),
        (_with(("dynamodb", "NewImage"), _DELETE), "no NewImage"),
        (_with(("dynamodb", "NewImage"), "x"), "NewImage is missing or not a map"),
        (_with(("dynamodb", "NewImage", "book_id"), {"S": "other"}), "does not hold"),
        (_with(("dynamodb", "NewImage", SYNC_FIELD), {"S": "x"}), "reserved attribute"),
        (_with(("dynamodb", "NewImage", "price"), {"N": "NaN"}), "not a DynamoDB number"),
        (_with(("dynamodb", "NewImage", "price"), {"N": "abc"}), "not a DynamoDB number"),
        (_with(("dynamodb", "NewImage", "price"), {"N": "1" * 39}), "not a DynamoDB number"),
        (_with(("dynamodb", "NewImage", "price"), {"N": 12}), "given as text"),
        (_with(("dynamodb", "NewImage", "cover"), {"B": "not base64!"}), "base64"),
        (_with(("dynamodb", "NewImage", "price"), {"X": "1"}), "not supported"),
        (_with(("dynamodb", "NewImage", "price"), {"N": "1", "S": "1"}), "exactly one type"),
        (_with(("dynamodb", "NewImage", "tags"), {"L": "sf"}), "must be a list"),
        (_with(("dynamodb", "ApproximateCreationDateTime"), "yesterday"), "not a time"),
    ],
)
def test_malformed_records_are_refused_with_a_reason(record: object, message: str):
    with pytest.raises(MalformedRecordError, match=message):
        to_change(record)


def test_keys_and_new_image_are_compared_canonically():
    record = _with(("dynamodb", "Keys"), {"book_id": {"S": "b-types"}, "n": {"N": "42.0"}})
    record["dynamodb"]["NewImage"]["n"] = {"N": "42"}

    assert to_change(record).doc_id == '~K:[["S","b-types"],["N","42"]]'


def test_keys_only_stream_sample_is_malformed():
    (insert,) = records("keys_only_event.json")

    with pytest.raises(MalformedRecordError, match="KEYS_ONLY"):
        to_change(insert)
    assert sequence_number_of(insert) == "100000000005391461882"


def test_sequence_number_of_tolerates_anything():
    assert sequence_number_of(None) is None
    assert sequence_number_of({"dynamodb": {"SequenceNumber": "x"}}) is None
    assert sequence_number_of({"dynamodb": {"SequenceNumber": "123456789012345678901"}}) == (
        "123456789012345678901"
    )


# --- compaction ------------------------------------------------------------------------------


def _change(doc: str, seq: int, position: int):
    record = _valid()
    record["dynamodb"]["Keys"] = {"book_id": {"S": doc}}
    record["dynamodb"]["NewImage"]["book_id"] = {"S": doc}
    record["dynamodb"]["SequenceNumber"] = str(seq)
    return to_change(record, position=position)


def test_compact_keeps_the_newest_change_per_document_in_stream_order():
    # GIVEN a batch with two changes of "a" and a duplicate delivery of "b"
    a1, b1, a2, b1_again = (
        _change("a", 10**25 + 1, 0),
        _change("b", 10**25 + 2, 1),
        _change("a", 10**25 + 3, 2),
        _change("b", 10**25 + 2, 3),
    )

    newest, superseded = compact([a1, b1, a2, b1_again])

    assert [c.position for c in newest] == [1, 2]
    assert [c.position for c in superseded] == [0, 3]


def test_compact_uses_sequence_numbers_not_positions():
    newer, older = _change("a", 10**30 + 5, 0), _change("a", 10**30 + 4, 1)

    newest, superseded = compact([newer, older])

    assert newest == [newer] and superseded == [older]


# --- the compiled encoder writes what the exact encoder writes ------------------------------

# DynamoDB's numbers: up to 38 significant digits, exponents from -130 to +125.
_dynamodb_numbers = st.builds(
    lambda digits, exponent, negative: Decimal(f"{'-' if negative else ''}{digits}E{exponent}"),
    st.integers(min_value=1, max_value=10**38 - 1),
    st.integers(min_value=-130 - 37, max_value=125 - 37),
    st.booleans(),
)
_plain_values = st.recursive(
    st.none()
    | st.booleans()
    | st.text()
    | _dynamodb_numbers
    | st.integers(min_value=-(10**40), max_value=10**40),  # past 64 bits too
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


def _exactly_encoded(value: Any) -> str:
    parts: list[str] = []
    _encode(value, parts)
    return "".join(parts)


@settings(max_examples=300, deadline=None)
@given(_plain_values)
def test_dumps_writes_the_exact_encoders_bytes(value: Any):
    # The compiled encoder takes the usual path, the exact one what it refuses; both must
    # write the same text, and reading it back gives the same values, digit for digit.
    text = dumps(value)

    assert text == _exactly_encoded(value)
    assert json.loads(text, parse_float=Decimal, parse_int=Decimal) == value


def test_dumps_escapes_control_characters_like_the_standard_library():
    every_control = "".join(map(chr, range(0x20))) + '"\\\x7f\u2028é😀'

    assert (
        dumps({"t": every_control}) == '{"t":' + json.dumps(every_control, ensure_ascii=False) + "}"
    )
