"""Read your own writes, the pure parts: sync tokens (parsing, forgeries), whether a change has
reached the index, and merging the newest documents into an answer."""

from __future__ import annotations

import base64
import contextlib
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ddb_opensearch_sync.search import handler as search_handler
from ddb_opensearch_sync.search.consistency import (
    MAX_TOKENS,
    WRITE_ATTRIBUTE,
    Fresh,
    SyncToken,
    has_landed,
    merge_search,
    merge_suggest,
    parse_sync_token,
    parse_sync_tokens,
)
from ddb_opensearch_sync.search.params import InvalidParameterError, parse_search, parse_suggest
from ddb_opensearch_sync.search.token import Cursor, InvalidTokenError
from tests.unit.test_search_query import proxy_event

MS = 1_764_000_000_123
RID = "4f1c2a5e-0d6b-4c3e-9b1a-2f7e8d9c0b1a"


def b64(text: str | bytes) -> str:
    raw = text.encode() if isinstance(text, str) else text
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def token(kind: str = "w", ms: int = MS, rid: str = RID, book_id: str = "b-1") -> str:
    """A token as the API's VTL makes it."""
    return b64(f"1:{kind}:{ms}:{rid}:{book_id}")


def stamped(ms: int = MS, rid: str = RID, **fields: Any) -> dict[str, Any]:
    """A live document as the sync function indexes an API write."""
    return {
        "book_id": "b-1",
        "title": "Dune",
        WRITE_ATTRIBUTE: f"{ms}:{rid}",
        "_sync": {"seq": "100", "deleted": False, "event": "MODIFY", "ts": ms // 1000},
        **fields,
    }


def tombstone(second: int) -> dict[str, Any]:
    return {
        "book_id": "b-1",
        "_sync": {"seq": "200", "deleted": True, "event": "REMOVE", "ts": second},
    }


# ---------------------------------------------------------------------------------------------
# tokens
# ---------------------------------------------------------------------------------------------


def test_a_token_of_the_api_reads_back():
    parsed = parse_sync_token(token("d", book_id="a.b:c_d-1"))

    assert parsed == SyncToken("d", MS, RID, "a.b:c_d-1", token("d", book_id="a.b:c_d-1"))
    assert parse_sync_token(token()).stamp == f"{MS}:{RID}"


FORGED = {
    "empty": "",
    "not base64": "!!!",
    "padded": token() + "=",
    "standard alphabet": base64.b64encode(b"1:w:1:r:a>>?").decode(),
    "another version": b64(f"2:w:{MS}:{RID}:b-1"),
    "another kind": b64(f"1:x:{MS}:{RID}:b-1"),
    "time not a number": b64(f"1:w:soon:{RID}:b-1"),
    "a huge time": b64(f"1:w:{'9' * 400}:{RID}:b-1"),
    "request id with a dot": b64(f"1:w:{MS}:a.b:b-1"),
    "id with a slash": b64(f"1:w:{MS}:{RID}:../b-1"),
    "id with a space": b64(f"1:w:{MS}:{RID}:b 1"),
    "id too long": b64(f"1:w:{MS}:{RID}:{'x' * 129}"),
    "no id": b64(f"1:w:{MS}:{RID}:"),
    "not ASCII": b64("1:w:1:r:\u00e9".encode()),
    "JSON": b64(json.dumps({"id": "b-1", "v": 1})),
    "too long": "A" * 401,
}


@pytest.mark.parametrize("forged", FORGED.values(), ids=FORGED.keys())
def test_a_forged_token_is_refused(forged: str):
    with pytest.raises(InvalidTokenError):
        parse_sync_token(forged)


@pytest.mark.parametrize("forged", FORGED.values(), ids=FORGED.keys())
def test_a_forged_token_is_a_400_naming_the_parameter_before_anything_is_read(forged: str):
    for route in ("/books/search", "/books/suggest"):
        query = {"consistent_with": [forged]} | ({"prefix": ["du"]} if "suggest" in route else {})
        response = search_handler.answer(proxy_event(route, **query))

        assert response["statusCode"] == 400
        assert json.loads(response["body"])["message"].startswith(
            "invalid parameter 'consistent_with': "
        )


@given(st.text(max_size=500))
def test_any_text_as_a_sync_token_is_either_valid_or_refused_cleanly(text: str):
    with contextlib.suppress(InvalidTokenError):
        parse_sync_token(text)


def test_at_most_ten_tokens_and_the_latest_write_of_a_book_counts():
    older, newer = token(ms=MS), token("d", ms=MS + 1)

    tokens = parse_sync_tokens([newer, older, token(book_id="b-2")])

    assert [(t.book_id, t.kind) for t in tokens] == [("b-1", "d"), ("b-2", "w")]
    with pytest.raises(InvalidParameterError, match="more than 10"):
        parse_search({"consistent_with": [token(book_id=f"b-{i}") for i in range(MAX_TOKENS + 1)]})
    assert parse_suggest({"prefix": ["du"], "consistent_with": [older]}).consistent_with


# ---------------------------------------------------------------------------------------------
# has the change landed?
# ---------------------------------------------------------------------------------------------

WRITE, DELETE = parse_sync_token(token("w")), parse_sync_token(token("d"))
LANDED = {
    "write: its own stamp": (WRITE, stamped(), True),
    "write: a later write": (WRITE, stamped(ms=MS + 1, rid="other"), True),
    "write: an earlier write": (WRITE, stamped(ms=MS - 1, rid="other"), False),
    "write: another write of the same millisecond": (WRITE, stamped(rid="other"), False),
    "write: not indexed yet": (WRITE, None, False),
    "write: deleted in a later second": (WRITE, tombstone(MS // 1000 + 1), True),
    "write: a tombstone from before": (WRITE, tombstone(MS // 1000 - 5), False),
    "write: another writer, later second": (WRITE, {"_sync": {"ts": MS // 1000 + 1}}, True),
    "write: another writer, same second": (WRITE, {"_sync": {"ts": MS // 1000}}, False),
    "delete: the tombstone": (DELETE, tombstone(MS // 1000), True),
    "delete: never indexed": (DELETE, None, True),
    "delete: the item as written before": (DELETE, stamped(ms=MS - 10), False),
    "delete: written again later": (DELETE, stamped(ms=MS + 10, rid="other"), True),
}


@pytest.mark.parametrize(("given", "source", "landed"), LANDED.values(), ids=LANDED.keys())
def test_whether_a_change_has_reached_the_index(given: SyncToken, source: Any, landed: bool):
    assert has_landed(given, source) is landed


# ---------------------------------------------------------------------------------------------
# merging
# ---------------------------------------------------------------------------------------------


def hit(book_id: str, score: float, **source: Any) -> dict[str, Any]:
    return {"_id": book_id, "_source": {"book_id": book_id, **source}, "sort": [score, book_id]}


def response(*hits: dict[str, Any], total: int, tags: dict[str, int]) -> dict[str, Any]:
    buckets = [{"key": k, "doc_count": n} for k, n in tags.items()]
    return {
        "hits": {"total": {"value": total, "relation": "eq"}, "hits": list(hits)},
        "aggregations": {"tags": {"buckets": buckets}, "authors": {"buckets": []}},
    }


def test_a_new_book_is_placed_by_its_score_and_counted():
    given = response(hit("a", 9.0), hit("c", 1.0), total=2, tags={"sf": 2})
    new = Fresh("b", {"book_id": "b", "tags": ["sf", "new"], "year": 1965, "_sync": {}}, 3.0)

    merged = merge_search(given, [new], {}, after=None, facet_size=20)

    assert [h["_id"] for h in merged["hits"]["hits"]] == ["a", "b", "c"]
    assert merged["hits"]["total"]["value"] == 3
    assert merged["aggregations"]["tags"]["buckets"] == [
        {"key": "sf", "doc_count": 3},
        {"key": "new", "doc_count": 1},
    ]
    assert merged["aggregations"]["decades"]["buckets"] == [{"key": 1960.0, "doc_count": 1}]


def test_a_deleted_book_is_gone_and_uncounted():
    old = {"book_id": "a", "tags": ["sf"], "_sync": {"seq": "1"}}
    given = response(hit("a", 9.0), hit("c", 1.0), total=2, tags={"sf": 2})

    merged = merge_search(given, [Fresh("a", None, None)], {"a": old}, after=None, facet_size=20)

    assert [h["_id"] for h in merged["hits"]["hits"]] == ["c"]
    assert merged["hits"]["total"]["value"] == 1
    assert merged["aggregations"]["tags"]["buckets"] == [{"key": "sf", "doc_count": 1}]


def test_an_updated_book_moves_and_one_already_searchable_is_left_alone():
    old_a = {"book_id": "a", "tags": ["sf"], "_sync": {"seq": "1"}}
    same_c = {"book_id": "c", "tags": ["sf"], "_sync": {"seq": "5"}}
    given = response(hit("a", 9.0), hit("c", 1.0), total=2, tags={"sf": 2})
    moved = Fresh("a", {"book_id": "a", "tags": ["sf"], "_sync": {"seq": "2"}}, 0.5)
    unchanged = Fresh("c", same_c, 1.0)

    merged = merge_search(
        given, [moved, unchanged], {"a": old_a, "c": same_c}, after=None, facet_size=20
    )

    assert [h["_id"] for h in merged["hits"]["hits"]] == ["c", "a"]
    assert merged["hits"]["total"]["value"] == 2
    assert merged["aggregations"]["tags"]["buckets"] == [{"key": "sf", "doc_count": 2}]


def test_a_book_that_ranks_before_the_cursor_belongs_to_an_earlier_page():
    given = response(hit("c", 1.0), total=2, tags={})
    new = Fresh("b", {"book_id": "b", "_sync": {}}, 3.0)

    merged = merge_search(given, [new], {}, after=Cursor(2.0, "a"), facet_size=20)

    assert [h["_id"] for h in merged["hits"]["hits"]] == ["c"]
    assert merged["hits"]["total"]["value"] == 3  # the total counts every page


def test_a_full_facet_list_gets_no_value_whose_count_is_unknown():
    given = response(total=2, tags={"a": 2, "b": 1})
    new = Fresh("n", {"book_id": "n", "tags": ["z"], "_sync": {}}, 1.0)

    merged = merge_search(given, [new], {}, after=None, facet_size=2)

    assert [b["key"] for b in merged["aggregations"]["tags"]["buckets"]] == ["a", "b"]


def test_suggestions_take_the_new_title_once():
    given = {
        "hits": {"hits": [{"_id": "x", "_source": {"title": "Dune"}, "sort": [2.0, "Dune", "x"]}]}
    }
    renamed = Fresh("y", {"book_id": "y", "title": "Dune Messiah"}, 1.0)
    same_title = Fresh("z", {"book_id": "z", "title": "Dune"}, 2.0)

    merged = merge_suggest(given, [renamed, same_title])

    assert [(h["_id"], h["_source"]["title"]) for h in merged["hits"]["hits"]] == [
        ("x", "Dune"),
        ("y", "Dune Messiah"),
    ]
