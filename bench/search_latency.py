"""Search and suggest latency over a books index of realistic size.

    python -m bench.search_latency [--quick]      # prints the result as JSON

`run` bulk-loads N generated books (10,000; 1,000 with ``quick``) straight into a scratch index
made with the books index's own settings and mapping, then times the search API's queries
(`ddb_opensearch_sync.search`: full text, typos, phrases, filters, facets, highlights, second
pages) and suggest queries, one at a time, and drops the index. Each timing covers what the
search function does per request: parse the parameters, build the body, one ``_search``, shape
the answer. OpenSearch's own ``took`` is reported beside it. The API Gateway and Lambda hops
are not included (on the local stack they measure LocalStack, not search).
``read_your_writes`` times the same search right after a write, without and with the write's
sync token (``consistent_with``), and reports what the token adds (p50/p95).

OpenSearch: ``OPENSEARCH_URL`` (``make env`` sets it), else http://localhost:9200.
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import statistics
import string
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from opensearchpy import OpenSearch
from opensearchpy.helpers import bulk

from ddb_opensearch_sync.core.mapping import index_mappings, index_settings
from ddb_opensearch_sync.core.settings import Settings as FunctionSettings
from ddb_opensearch_sync.index.client import make_client
from ddb_opensearch_sync.search import handler as search_handler
from ddb_opensearch_sync.search.consistency import WRITE_ATTRIBUTE
from ddb_opensearch_sync.search.params import parse_search
from ddb_opensearch_sync.search.query import search_body, search_page
from tests.support.search import run_search, run_suggest
from tests.support.settings import Settings

__all__ = ["run"]

FULL_BOOKS, QUICK_BOOKS = 10_000, 1_000
FULL_QUERIES, QUICK_QUERIES = 400, 60
WARM_UP = 20
SEED = 8
Params = dict[str, list[str]]


# --- data --------------------------------------------------------------------------------------


def _vocabulary(rng: random.Random, size: int) -> list[str]:
    """Pronounceable made-up words: varied lengths, so fuzziness and prefixes get real work."""
    consonants, vowels = "bcdfghklmnprstvz", "aeiou"
    words: set[str] = set()
    while len(words) < size:
        syllables = rng.choice((1, 2, 2, 3, 3, 4))
        words.add("".join(rng.choice(consonants) + rng.choice(vowels) for _ in range(syllables)))
    return sorted(words)


def _books(rng: random.Random, count: int) -> list[dict[str, Any]]:
    words = _vocabulary(rng, 3000)
    # Zipf-like: a few words are common, most are rare, as in real titles and summaries.
    weights = [1 / (rank + 1) for rank in range(len(words))]
    authors = [
        f"{rng.choice(words).title()} {rng.choice(words).title()}"
        for _ in range(max(count // 20, 5))
    ]
    tags = rng.sample(words, 40)

    def text(n: int) -> str:
        return " ".join(rng.choices(words, weights, k=n))

    return [
        {
            "book_id": f"bench-{i:06d}",
            "title": text(rng.randint(1, 6)).title(),
            "author": rng.choice(authors),
            "year": rng.randint(1900, 2024),
            "tags": rng.sample(tags, rng.randint(0, 4)),
            "summary": text(rng.randint(20, 80)).capitalize() + ".",
            "_sync": {"seq": str(i), "deleted": False, "event": "INSERT"},
        }
        for i in range(count)
    ]


def _load(client: OpenSearch, index: str, books: Sequence[Mapping[str, Any]]) -> float:
    began = time.perf_counter()
    settings = index_settings()
    settings["index"]["refresh_interval"] = "-1"  # one refresh at the end
    client.indices.create(index=index, body={"settings": settings, "mappings": index_mappings()})
    actions = ({"_index": index, "_id": b["book_id"], "_source": b} for b in books)
    bulk(client, actions, chunk_size=1000, request_timeout=120)
    client.indices.put_settings(index=index, body={"index": {"refresh_interval": "1s"}})
    client.indices.refresh(index=index)
    client.indices.forcemerge(index=index, max_num_segments=1, request_timeout=300)
    return time.perf_counter() - began


# --- queries -----------------------------------------------------------------------------------


def _typo(rng: random.Random, word: str) -> str:
    """One edit after the first letter (the query keeps the first letter as typed)."""
    if len(word) < 4:
        return word
    i = rng.randint(1, len(word) - 1)
    return word[:i] + rng.choice(string.ascii_lowercase) + word[i + 1 :]


def _words(text: str) -> list[str]:
    return text.rstrip(".").lower().split()


# What people search for, by kind: each makes the parameters of one search from a random book.
SEARCH_KINDS: dict[str, Callable[[random.Random, Mapping[str, Any]], Params]] = {
    "summary word": lambda rng, b: {"q": [rng.choice(_words(b["summary"]))]},
    "title start": lambda rng, b: {"q": [" ".join(_words(b["title"])[:3])]},
    "typo": lambda rng, b: {"q": [_typo(rng, max(_words(b["title"]), key=len))]},
    "exact title": lambda rng, b: {"q": [b["title"]]},
    "four words": lambda rng, b: {"q": [" ".join(rng.sample(_words(b["summary"]), 4))]},
    "word and years": lambda rng, b: {
        "q": [rng.choice(_words(b["title"]))],
        "year_from": ["1950"],
        "year_to": ["1999"],
    },
    "author filter": lambda rng, b: {"author": [b["author"]]},
    "tag filter, no q": lambda rng, b: {"tag": b["tags"][:1] or ["none"], "size": ["20"]},
}


def _search_params(
    rng: random.Random, books: Sequence[Mapping[str, Any]]
) -> Iterator[tuple[str, Params]]:
    """An endless mix of the kinds, in equal parts."""
    kinds = list(SEARCH_KINDS.items())
    while True:
        kind, make = rng.choice(kinds)
        yield kind, make(rng, rng.choice(books))


def _suggest_params(rng: random.Random, books: Sequence[Mapping[str, Any]]) -> Iterator[Params]:
    while True:
        # A title typed up to somewhere inside one of its words.
        words = rng.choice(books)["title"].lower().split()
        k = rng.randrange(len(words))
        yield {"prefix": [" ".join([*words[:k], words[k][: rng.randint(1, len(words[k]))]])]}


Timed = tuple[float, float]  # (wall ms, OpenSearch took ms)


def _time_search(client: OpenSearch, index: str, params: Params) -> tuple[Timed, str | None]:
    began = time.perf_counter()
    response, page = run_search(client, index, params)
    return ((time.perf_counter() - began) * 1000, float(response["took"])), page["next_token"]


def _time_suggest(client: OpenSearch, index: str, params: Params) -> Timed:
    began = time.perf_counter()
    response, _ = run_suggest(client, index, params)
    return (time.perf_counter() - began) * 1000, float(response["took"])


def _searches(
    client: OpenSearch, index: str, queries: Iterator[tuple[str, Params]], count: int
) -> dict[str, list[Timed]]:
    """``count`` searches by kind; a query with a next page also fetches the second page
    (kind "second page")."""
    timings: dict[str, list[Timed]] = {}
    done = 0
    while done < count:
        kind, params = next(queries)
        timed, token = _time_search(client, index, params)
        timings.setdefault(kind, []).append(timed)
        done += 1
        if token is not None and done < count:
            second, _ = _time_search(client, index, {**params, "next_token": [token]})
            timings.setdefault("second page", []).append(second)
            done += 1
    return timings


def _summary(timings: Sequence[Timed]) -> dict[str, float | int]:
    wall = sorted(t[0] for t in timings)
    took = sorted(t[1] for t in timings)

    def percentile(values: list[float], p: float) -> float:
        return round(values[min(len(values) - 1, int(p / 100 * len(values)))], 2)

    return {
        "count": len(timings),
        "p50_ms": percentile(wall, 50),
        "p95_ms": percentile(wall, 95),
        "p99_ms": percentile(wall, 99),
        "mean_ms": round(statistics.fmean(wall), 2),
        "took_p50_ms": percentile(took, 50),
        "took_p95_ms": percentile(took, 95),
    }


# --- read your writes ---------------------------------------------------------------------------


def _token(book_id: str, stamp: str) -> str:
    """A sync token as the API's VTL makes it for a replace (`search.consistency`)."""
    raw = f"1:w:{stamp}:{book_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _replace_unrefreshed(
    client: OpenSearch, index: str, rng: random.Random, book: Mapping[str, Any]
) -> tuple[str, str]:
    """Index a new version of ``book`` as the sync function would (not refreshed: only real
    time reads see it); the new title's first word, and the write's sync token."""
    stamp = f"{time.time_ns() // 1_000_000}:{uuid.uuid4()}"
    title = f"{_typo(rng, book['title'].split()[0])} {book['title']}"
    changed = {**book, "title": title, WRITE_ATTRIBUTE: stamp}
    client.index(index=index, id=book["book_id"], body=changed)
    return title.split()[0].lower(), _token(book["book_id"], stamp)


def _read_your_writes(
    client: OpenSearch,
    index: str,
    rng: random.Random,
    books: Sequence[Mapping[str, Any]],
    count: int,
) -> dict[str, Any]:
    """The same search right after a write, without and with the write's sync token: what the
    token adds (one real-time _mget, one in-memory evaluation, the merge). The change is
    already indexed, so no waiting for the stream is included (that is the sync lag)."""
    settings = FunctionSettings(endpoint=Settings.from_env().opensearch_url, alias=index)
    without: list[Timed] = []
    with_token: list[Timed] = []
    for _ in range(count):
        word, token = _replace_unrefreshed(client, index, rng, rng.choice(books))
        without.append(_time_search(client, index, {"q": [word]})[0])
        began = time.perf_counter()
        request = parse_search({"q": [word], "consistent_with": [token]})
        response = client.search(index=index, body=search_body(request))
        merged, pending = search_handler.search_consistently(client, settings, request, response)
        search_page(merged, request)
        with_token.append(((time.perf_counter() - began) * 1000, float(response["took"])))
        assert not pending, "a write indexed before the search must never be pending"
    plain, tokened = _summary(without), _summary(with_token)
    return {
        "without_token": {k: plain[k] for k in ("count", "p50_ms", "p95_ms")},
        "with_one_token": {k: tokened[k] for k in ("count", "p50_ms", "p95_ms")},
        "added_p50_ms": round(tokened["p50_ms"] - plain["p50_ms"], 2),
        "added_p95_ms": round(tokened["p95_ms"] - plain["p95_ms"], 2),
    }


# --- entry point -------------------------------------------------------------------------------


def run(quick: bool) -> dict[str, Any]:
    """Load the books, time search and suggest, drop the index; the figures as a dict."""
    books_count = QUICK_BOOKS if quick else FULL_BOOKS
    queries = QUICK_QUERIES if quick else FULL_QUERIES
    rng = random.Random(SEED)
    client = make_client(Settings.from_env().opensearch_url, timeout=120)
    index = f"bench-search-{uuid.uuid4().hex[:8]}"
    books = _books(rng, books_count)
    results: dict[str, Any] = {
        "books": books_count,
        "opensearch": client.info()["version"]["number"],
        "index": index,
    }
    try:
        results["load_s"] = round(_load(client, index, books), 2)
        searches, suggests = _search_params(rng, books), _suggest_params(rng, books)
        _searches(client, index, searches, WARM_UP)  # JIT, caches, connections
        for _ in range(WARM_UP):
            _time_suggest(client, index, next(suggests))
        by_kind = _searches(client, index, searches, queries)
        results["search"] = _summary([t for timings in by_kind.values() for t in timings])
        results["search"]["by_kind"] = {
            kind: {k: v for k, v in _summary(timings).items() if k in ("count", "p50_ms", "p95_ms")}
            for kind, timings in sorted(by_kind.items())
        }
        results["suggest"] = _summary(
            [_time_suggest(client, index, next(suggests)) for _ in range(queries)]
        )
        results["read_your_writes"] = _read_your_writes(client, index, rng, books, queries // 2)
    finally:
        client.indices.delete(index=index, ignore_unavailable=True)
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_BOOKS} books, fewer queries")
    args = parser.parse_args(argv)
    print(json.dumps(run(args.quick), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
