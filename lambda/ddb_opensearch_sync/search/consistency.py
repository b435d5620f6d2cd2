"""Read your own writes: sync tokens, and searches that answer as if those writes had landed.

Every write through the REST API answers with a ``sync_token`` (the VTL templates in
``infra/modules/api/openapi.yaml`` make it; nothing else does). ``GET /books/search`` and
``GET /books/suggest`` take up to `MAX_TOKENS` of them as ``consistent_with`` and then answer as
if those changes were already searchable.

The token
---------
Unpadded base64url of ``1:<kind>:<epoch ms>:<request id>:<book id>``: ``w`` for a create or
replace, ``d`` for a delete; the time and id are API Gateway's ``$context.requestTimeEpoch``
and ``$context.requestId`` of the write. A create or replace also stamps the same
``<epoch ms>:<request id>`` on the item as the attribute `WRITE_ATTRIBUTE`, in the same
``PutItem``, so the stamp flows with the item through the stream into its document. The token
holds nothing the client does not already have (its book id, its request's id and time).

Tokens are not signed: VTL cannot compute an HMAC, and a token needs no secret, because all it
can make the function do is read, in real time, the documents of the book ids it names, and
show them only where they match the query the caller asked for, which is what ``GET
/books/{id}`` and a search a second later show that caller anyway. A forged token can make an
answer wait up to `MAX_WAIT_SECONDS` and then say ``"consistent": false``; it cannot read
anything else. Garbage is refused with 400, before anything is read.

The answer
----------
1. The search runs as without tokens (no refresh, no scan), fetching a few more hits than the
   page so that removing stale ones cannot starve it; for search, an aggregation of the same
   request returns the tokens' books among the matches, as that search saw them (the same
   snapshot as its total and facets, which are corrected from them).
2. One real-time ``_mget`` of the tokens' books (real time: it reads the newest indexed
   version, refreshed or not). Each token is *landed* when that document holds its change or
   a newer one (`has_landed`): the stamp equals the token's, or the document is newer (a later
   stamp, or a tombstone / another writer's change from a later second); a delete has landed
   when the book is gone. Tokens not landed are read again, with backoff, for at most
   `MAX_WAIT_SECONDS`; the stream usually delivers within a second or two.
3. For each landed book whose searchable copy differs from the real-time one, the newest
   document is evaluated against the request's query by OpenSearch itself, in memory (the
   Painless execute API in the ``score`` context: the document is parsed with the index's
   mapping into a one-document in-memory index, and the query is run on it), which gives
   whether it matches and its score. Search scores depend on the document alone (the text
   fields use the ``boolean`` similarity, see `query`); the in-memory index scores with BM25,
   so the query is restated for it in a form that scores the same under any similarity
   (`query.scoring_query`; tests/integration checks the scores equal the index's). The book is
   placed exactly where the index will rank it. Options weighed: evaluating the query in
   Python (would re-implement analysis, fuzziness and scoring), the percolator (needs the
   query stored in an index and refreshed), a bounded wait for the refresh (a second or more
   on every such search).
4. The answer is merged (`merge_search`, `merge_suggest`): the stale copy is removed, the
   new one is inserted where it matches, the total and facet counts are moved by one each.

Cost: with tokens, one ``_mget`` (plus re-reads while waiting) and one in-memory evaluation
per changed book; nothing refreshes the index or scans.

Limits
------
- Tokens not landed within the wait are reported (``"consistent": false``, ``"pending"``:
  those tokens); the page then shows what the index has.
- Highlights of a merged book are empty (nothing highlights an in-memory document).
- Facets: a value outside a facet's top `query.FACET_SIZE` is not added when the list is full
  (its true count is unknown); counts of listed values and of decades are exact.
- Paging: pass the same tokens with every page; the merge keeps the order of the sort
  (score, book id), so a page boundary never repeats nor skips a merged book.
- Fuzzy words expand to at most `query.FUZZY_MAX_EXPANSIONS` terms of the whole index; in
  memory only the book's own terms compete, so a typo may match the book a moment before
  the index would (when it has many near spellings).
- Suggestions are placed by their in-memory score: suggest scores with BM25 over the whole
  index, so that place is close to, not exactly, where the index will put the title.
- Tokens from other clients work the same way (a token names a public change), and a token
  only says "at least this change": later changes by anyone show too.
- The stamp's order is API Gateway's clock: a replace stamped earlier than one it follows
  (clock skew between hosts, within the same item) reads as "not landed" and is reported
  pending, never shown stale. A change by another writer (not through the API) has no stamp;
  its stream second decides, so in the same second as the token it reads as pending.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ..core.records import SYNC_FIELD
from .token import Cursor, InvalidTokenError, strict_base64url

__all__ = [
    "MAX_TOKENS",
    "MAX_WAIT_SECONDS",
    "WRITE_ATTRIBUTE",
    "Fresh",
    "SyncToken",
    "has_landed",
    "merge_search",
    "merge_suggest",
    "parse_sync_tokens",
]

MAX_TOKENS = 10
"""``consistent_with`` given more often is refused: each costs a real-time read."""
MAX_WAIT_SECONDS = 5.0
"""How long an answer waits for its tokens' changes to reach the index."""
WRITE_ATTRIBUTE = "sync_write"
"""The item attribute the API's VTL stamps on every create and replace."""
MAX_SYNC_TOKEN_CHARS = 400
_PAYLOAD = re.compile(
    r"1:(?P<kind>[wd]):(?P<ms>[0-9]{1,15}):(?P<rid>[A-Za-z0-9-]{1,64}):(?P<id>[A-Za-z0-9_.:-]{1,128})"
)
_STAMP = re.compile(r"(?P<ms>[0-9]{1,15}):(?P<rid>[A-Za-z0-9-]{1,64})")


@dataclass(frozen=True, slots=True)
class SyncToken:
    """One write through the API: a create or replace (``w``) or a delete (``d``)."""

    kind: Literal["w", "d"]
    epoch_ms: int
    request_id: str
    book_id: str
    text: str
    """The token as given (echoed in ``pending``)."""

    @property
    def stamp(self) -> str:
        """The `WRITE_ATTRIBUTE` value the write stamped on the item (creates, replaces)."""
        return f"{self.epoch_ms}:{self.request_id}"


def parse_sync_token(text: str) -> SyncToken:
    """Raises `InvalidTokenError` for anything the API did not make."""
    raw = strict_base64url(text, MAX_SYNC_TOKEN_CHARS)
    try:
        payload = raw.decode("ascii")
    except UnicodeDecodeError:
        raise InvalidTokenError("not a sync token") from None
    match = _PAYLOAD.fullmatch(payload)
    if match is None:
        raise InvalidTokenError("not a sync token")
    kind: Literal["w", "d"] = "w" if match["kind"] == "w" else "d"
    return SyncToken(kind, int(match["ms"]), match["rid"], match["id"], text)


def parse_sync_tokens(values: Sequence[str]) -> tuple[SyncToken, ...]:
    """The tokens of ``consistent_with``; of several for one book, the latest write counts."""
    if len(values) > MAX_TOKENS:
        raise InvalidTokenError(f"given more than {MAX_TOKENS} times")
    latest: dict[str, SyncToken] = {}
    for token in map(parse_sync_token, values):
        kept = latest.get(token.book_id)
        if kept is None or (token.epoch_ms, token.kind) > (kept.epoch_ms, kept.kind):
            latest[token.book_id] = token
    return tuple(latest.values())


# --- has the change reached the index? ---------------------------------------------------


def _stamp_of(source: Mapping[str, Any]) -> tuple[int, str] | None:
    value = source.get(WRITE_ATTRIBUTE)
    match = _STAMP.fullmatch(value) if isinstance(value, str) else None
    return None if match is None else (int(match["ms"]), match["rid"])


def _stream_second(source: Mapping[str, Any]) -> int | None:
    meta = source.get(SYNC_FIELD)
    ts = meta.get("ts") if isinstance(meta, Mapping) else None
    return ts if isinstance(ts, int) and not isinstance(ts, bool) else None


def is_tombstone(source: Mapping[str, Any] | None) -> bool:
    meta = source.get(SYNC_FIELD) if source is not None else None
    return isinstance(meta, Mapping) and meta.get("deleted") is True


def _is_later(source: Mapping[str, Any], token: SyncToken) -> bool:
    """Whether the document holds a change made after the token's write."""
    stamp = _stamp_of(source)
    if stamp is not None and not is_tombstone(source):
        return stamp[0] > token.epoch_ms
    # A tombstone or another writer's change: only its stream second is known.
    second = _stream_second(source)
    return second is not None and second > token.epoch_ms // 1000


def has_landed(token: SyncToken, source: Mapping[str, Any] | None) -> bool:
    """Whether the real-time document ``source`` (None: no document) holds the token's change
    or a newer one."""
    if source is None:
        # Never indexed: nothing stale can show for a delete; a write has not arrived.
        return token.kind == "d"
    if token.kind == "d":
        return is_tombstone(source) or _is_later(source, token)
    if not is_tombstone(source) and _stamp_of(source) == (token.epoch_ms, token.request_id):
        return True
    return _is_later(source, token)


# --- merging -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Fresh:
    """A landed book: its newest document and how it fares against the request's query."""

    book_id: str
    source: Mapping[str, Any] | None
    """The live document (None when deleted)."""
    score: float | None
    """Its score for the query; None when it does not match (or is deleted)."""


def _sync_of(source: Mapping[str, Any] | None) -> Any:
    return None if source is None else source.get(SYNC_FIELD)


def _facet_values(source: Mapping[str, Any]) -> dict[str, list[Any]]:
    tags = source.get("tags")
    author = source.get("author")
    year = source.get("year")
    decade = None
    if isinstance(year, int | float) and not isinstance(year, bool):
        decade = float(int(year // 10) * 10)
    return {
        "tags": [t for t in tags if isinstance(t, str)] if isinstance(tags, list) else [],
        "authors": [author] if isinstance(author, str) else [],
        "decades": [decade] if decade is not None else [],
    }


def _move_count(aggregation: dict[str, Any], key: Any, delta: int, limit: int | None) -> None:
    buckets: list[dict[str, Any]] = aggregation.setdefault("buckets", [])
    for bucket in buckets:
        if bucket["key"] == key:
            bucket["doc_count"] += delta
            break
    else:
        # Not listed: its count was 0 only while the list is not cut at its limit.
        if delta > 0 and (limit is None or len(buckets) < limit):
            buckets.append({"key": key, "doc_count": delta})
    aggregation["buckets"] = [b for b in buckets if b["doc_count"] > 0]


def _sort_buckets(aggregations: dict[str, Any]) -> None:
    for name in ("tags", "authors"):
        buckets = aggregations.get(name, {}).get("buckets", [])
        buckets.sort(key=lambda b: (-b["doc_count"], b["key"]))
    decades = aggregations.get("decades", {}).get("buckets", [])
    decades.sort(key=lambda b: b["key"])


def _move_facets(
    aggregations: dict[str, Any], source: Mapping[str, Any], delta: int, facet_size: int
) -> None:
    for name, values in _facet_values(source).items():
        aggregation = aggregations.setdefault(name, {"buckets": []})
        limit = None if name == "decades" else facet_size
        for value in dict.fromkeys(values):
            _move_count(aggregation, value, delta, limit)


def _after(sort: tuple[float, str], cursor: Cursor | None) -> bool:
    return cursor is None or (-sort[0], sort[1]) > (-cursor.score, cursor.book_id)


def merge_search(
    response: Mapping[str, Any],
    fresh: Sequence[Fresh],
    searchable: Mapping[str, Mapping[str, Any]],
    *,
    after: Cursor | None,
    facet_size: int,
) -> dict[str, Any]:
    """OpenSearch's ``response`` with each landed book as it is now.

    ``searchable`` holds, for the tokens' books that the searchable index matches, their
    sources as it has them (with ``_sync``); ``after`` is the request's cursor.
    """
    hits = list(response["hits"]["hits"])
    total = int(response["hits"]["total"]["value"])
    aggregations = {
        name: {"buckets": [dict(b) for b in agg.get("buckets", [])]}
        for name, agg in (response.get("aggregations") or {}).items()
    }
    for book in fresh:
        old = searchable.get(book.book_id)
        if old is not None and _sync_of(old) == _sync_of(book.source):
            continue  # the searchable index already has this very change
        hits = [hit for hit in hits if hit.get("_id") != book.book_id]
        if old is not None:
            total -= 1
            _move_facets(aggregations, old, -1, facet_size)
        if book.score is None or book.source is None:
            continue
        total += 1
        _move_facets(aggregations, book.source, +1, facet_size)
        sort = (book.score, book.book_id)
        if _after(sort, after):
            hits.append({"_id": book.book_id, "_source": book.source, "sort": list(sort)})
    hits.sort(key=lambda hit: (-hit["sort"][0], hit["sort"][1]))
    _sort_buckets(aggregations)
    return {
        **response,
        "hits": {**response["hits"], "hits": hits, "total": {"value": total, "relation": "eq"}},
        "aggregations": aggregations,
    }


def merge_suggest(response: Mapping[str, Any], fresh: Sequence[Fresh]) -> dict[str, Any]:
    """OpenSearch's suggest ``response`` with each landed book as it is now (one per title)."""
    hits = list(response["hits"]["hits"])
    for book in fresh:
        hits = [hit for hit in hits if hit.get("_id") != book.book_id]
        title = (book.source or {}).get("title")
        if book.score is not None and isinstance(title, str):
            sort = [book.score, title, book.book_id]
            hits.append({"_id": book.book_id, "_source": book.source, "sort": sort})
    hits.sort(key=lambda hit: (-hit["sort"][0], str(hit["sort"][1]), str(hit["sort"][2])))
    titles: set[Any] = set()
    unique = []
    for hit in hits:  # collapse on the title, as the query does
        title = (hit.get("_source") or {}).get("title")
        if title not in titles:
            titles.add(title)
            unique.append(hit)
    return {**response, "hits": {**response["hits"], "hits": unique}}
