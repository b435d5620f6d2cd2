"""The books index, pure: template, mapping, concrete index names and the alias filter.

Layout: an index template ``<alias>-template`` for ``<alias>-v*``, one concrete index per
mapping generation (``books-v2``), and the alias ``books`` on the current one. The alias is
the only name the function knows; a reindex creates the next ``books-v<n>`` and moves the alias.
The alias carries a filter hiding tombstones (``_sync.deleted``, see `records`) from searches.

Mapping changes: analyzers and field types are fixed when an index is created, so a changed
mapping means a new concrete index and a reindex into it. Every index records a digest of
the settings and mapping it was created with (``_meta.mapping_digest``);
`ddb_opensearch_sync.index.setup` compares it with this code's and reports an outdated index
instead of patching it.

Search fields (generation 2, used by `ddb_opensearch_sync.search`): ``title``, ``author``,
``summary`` and ``tags.text`` are analysed by ``book_text`` (standard tokenizer, lowercase,
ASCII folding, so ``Ærøskøbing`` matches ``aeroskobing``) and scored with the ``boolean``
similarity: a clause scores its boost, independent of collection statistics. That is what
makes ``search_after`` paging on (score, id) exact while other documents change: with BM25,
every write moves every score (document count, average length), so a cursor taken on one page
re-reads or skips hits on the next. Ranking comes from the query's clause boosts instead (see
`ddb_opensearch_sync.search.query`). ``title.suggest`` (``search_as_you_type``) serves
completions, ``title.keyword``/``author.keyword`` exact matches and facets.

Unknown attributes and the number policy (why the dynamic templates look like this): DynamoDB
numbers have up to 38 significant digits; ``long`` holds 19 and ``double`` about 16, and
dynamic mapping would fix a field to ``long`` on the first integer and then silently truncate a
later ``1.5``. DynamoDB is also schemaless: one list may hold a string, a number and a boolean,
and dynamic mapping would give them conflicting types and reject the item. So every scalar of a
top-level attribute this mapping does not name gets one mapping whatever its JSON type:
``keyword`` -- the exact value as written in the document (all digits of a number), for term
queries and aggregations -- with a ``text`` sub-field for words and a ``num`` sub-field of type
``double`` for ranges and sorting (approximate beyond 16 digits; ``ignore_malformed`` skips
non-numbers). The ``_source`` keeps the exact number token either way.

Field limits: an index allows 1000 fields (``index.mapping.total_fields.limit``) and every
mapped path costs fields, so mapping every path of every map (three fields per scalar) would
refuse every new attribute after about 330 distinct paths. An unknown *map* (or list of maps)
is therefore one ``flat_object`` field whatever it holds: its leaves are indexed as exact
keywords under their dotted paths (``publisher.name``; term, prefix, range on strings, match as
a whole value), so a table may use any number of distinct paths inside maps. Only distinct
top-level attribute names add fields (three each); the limit is raised to `TOTAL_FIELDS_LIMIT`
for them, and beyond it an item with yet another top-level name is refused and dead-lettered
whole (a content error: the other items go on). An attribute that is a map in one item and a
scalar in another conflicts and that item is dead-lettered with the error. Known fields get
explicit types; ``year`` is an ``integer`` that refuses to coerce, so ``1999.5`` is rejected
(and dead-lettered) rather than stored as ``1999``. Date and numeric detection are off so that
a string never fixes a field to a type a later one cannot meet.

Attribute names OpenSearch would refuse or misread (``_id``, ``_source``, any leading ``_``;
``a.b``, which it reads as the path ``a`` -> ``b`` and so collides with a map ``a``) are
escaped reversibly in documents by `records.index_name` (``~5F``, ``~2E``, ``~7E`` for
``_``, ``.``, ``~``); ordinary names are unchanged.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from .records import SYNC_FIELD

__all__ = [
    "INDEX_GENERATION",
    "TEXT_ANALYZER",
    "TOTAL_FIELDS_LIMIT",
    "alias_filter",
    "alias_spec",
    "concrete_index_name",
    "generation_of",
    "index_body",
    "index_mappings",
    "index_settings",
    "index_template",
    "mapping_digest",
    "slowlog_settings",
    "template_name",
]

INDEX_GENERATION = 4
"""Bump when a mapping change needs a new concrete index (and a reindex).

1: the sync's mapping. 2: search analyzers, boolean similarity, ``title.suggest``.
3: one mapping for every scalar of an unknown attribute, so that mixed lists index.
4: unknown maps as ``flat_object`` (any number of paths), a higher total-fields limit.
"""

TOTAL_FIELDS_LIMIT = 4000
"""Fields an index may map: about 1300 distinct unknown top-level attribute names."""

DYNAMODB_MAX_DEPTH = 32
"""DynamoDB nests maps and lists up to 32 levels; OpenSearch's default depth limit is 20."""

_KEYWORD = {"type": "keyword", "ignore_above": 256}
# Every scalar of an attribute the mapping does not name: exact value, words, and number.
_ANY_SCALAR = {
    "type": "keyword",
    "ignore_above": 256,
    "fields": {
        "text": {"type": "text"},
        "num": {"type": "double", "ignore_malformed": True},
    },
}

TEXT_ANALYZER = "book_text"
_ANALYSIS = {
    "analyzer": {
        TEXT_ANALYZER: {
            "type": "custom",
            "tokenizer": "standard",
            "filter": ["lowercase", "asciifolding"],
        }
    }
}
# Scored by clause boosts alone: see the module docstring (paging while documents change).
_SEARCH_TEXT = {"type": "text", "analyzer": TEXT_ANALYZER, "similarity": "boolean"}
# The API accepts titles of up to 1000 characters and authors of up to 500: every one of them
# gets an exact (keyword) value for facets, filters and exact-title ranking.
_TITLE = {
    **_SEARCH_TEXT,
    "fields": {
        "keyword": {"type": "keyword", "ignore_above": 1024},
        "suggest": {"type": "search_as_you_type", "analyzer": TEXT_ANALYZER},
    },
}
_AUTHOR = {**_SEARCH_TEXT, "fields": {"keyword": {"type": "keyword", "ignore_above": 512}}}


def template_name(alias: str) -> str:
    return f"{alias}-template"


def concrete_index_name(alias: str, generation: int = INDEX_GENERATION) -> str:
    return f"{alias}-v{generation}"


def generation_of(index: str, alias: str) -> int | None:
    """The generation ``n`` of a concrete index named ``<alias>-v<n>``, else ``None``."""
    prefix = f"{alias}-v"
    suffix = index[len(prefix) :] if index.startswith(prefix) else ""
    return int(suffix) if suffix.isdigit() else None


def alias_filter() -> dict[str, Any]:
    """Searches through the alias see items, not tombstones."""
    return {"bool": {"must_not": [{"term": {f"{SYNC_FIELD}.deleted": True}}]}}


def index_settings() -> dict[str, Any]:
    return {
        "index": {
            "number_of_shards": 1,
            # No replica on a single node (green health), one as soon as there are two.
            "auto_expand_replicas": "0-1",
            "mapping": {
                "depth": {"limit": DYNAMODB_MAX_DEPTH + 2},
                "total_fields": {"limit": TOTAL_FIELDS_LIMIT},
            },
            "analysis": _ANALYSIS,
        }
    }


# Thresholds of the slow logs (dynamic settings, so outside the mapping digest): with them the
# domain's INDEX_SLOW_LOGS / SEARCH_SLOW_LOGS groups get content. Lower levels log sooner.
SLOWLOG_THRESHOLDS = {"warn": "5s", "info": "1s", "debug": "500ms"}


def slowlog_settings() -> dict[str, Any]:
    """Slow-log thresholds of an index: searches (query and fetch) and indexing."""
    kinds = {
        "search.slowlog.threshold.query": SLOWLOG_THRESHOLDS,
        "search.slowlog.threshold.fetch": SLOWLOG_THRESHOLDS,
        "indexing.slowlog.threshold.index": SLOWLOG_THRESHOLDS,
    }
    return {
        "index": {
            f"{kind}.{level}": value
            for kind, levels in kinds.items()
            for level, value in levels.items()
        }
    }


def index_mappings(generation: int = INDEX_GENERATION) -> dict[str, Any]:
    return {
        "_meta": {
            "managed_by": "ddb-opensearch-sync",
            "generation": generation,
            "mapping_digest": mapping_digest(),
        },
        **_mapping_body(),
    }


def mapping_digest() -> str:
    """A fingerprint of what an index fixes at creation: its settings and its mapping.

    Stored in each index's ``_meta``; an index whose digest differs was made by another
    version of this code and needs a reindex to get the current mapping.
    """
    canonical = json.dumps(
        {"settings": index_settings(), "mappings": _mapping_body()},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def _mapping_body() -> dict[str, Any]:
    return {
        "dynamic": True,
        "date_detection": False,
        "numeric_detection": False,
        "dynamic_templates": [
            # Maps (and lists of maps): one field, whatever paths they hold.
            {"dynamodb_maps": {"match_mapping_type": "object", "mapping": {"type": "flat_object"}}},
            *(
                {f"dynamodb_{kind}s": {"match_mapping_type": kind, "mapping": _ANY_SCALAR}}
                for kind in ("string", "long", "double", "boolean")
            ),
        ],
        "properties": {
            "book_id": {"type": "keyword"},
            "title": _TITLE,
            "author": _AUTHOR,
            "summary": _SEARCH_TEXT,
            "year": {"type": "integer", "coerce": False},
            "isbn": _KEYWORD,
            "tags": {**_KEYWORD, "fields": {"text": _SEARCH_TEXT}},
            SYNC_FIELD: {
                "dynamic": "strict",
                "properties": {
                    "seq": {"type": "keyword"},
                    "deleted": {"type": "boolean"},
                    "event": {"type": "keyword"},
                    "ts": {"type": "date", "format": "epoch_second"},
                },
            },
        },
    }


def index_template(alias: str, generation: int = INDEX_GENERATION) -> dict[str, Any]:
    """A composable template, so that ``<alias>-v<n>`` made by a reindex gets the mapping too."""
    return {
        "index_patterns": [f"{alias}-v*"],
        "priority": 100,
        "version": generation,
        "template": {"settings": index_settings(), "mappings": index_mappings(generation)},
        "_meta": {"managed_by": "ddb-opensearch-sync"},
    }


def alias_spec() -> dict[str, Any]:
    """The alias as the function writes and readers search: write index, tombstones hidden."""
    return {"is_write_index": True, "filter": alias_filter()}


def index_body(alias: str, generation: int = INDEX_GENERATION) -> dict[str, Any]:
    """The create-index body: explicit settings and mapping (not relying on the template
    winning over others) and the alias, so that index and alias appear together."""
    return {
        "settings": index_settings(),
        "mappings": index_mappings(generation),
        "aliases": {alias: alias_spec()},
    }
