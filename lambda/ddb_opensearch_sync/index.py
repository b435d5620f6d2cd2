"""The books index: template, mapping, concrete index and the alias the function writes to.

Layout: an index template ``<alias>-template`` for ``<alias>-v*``, one concrete index per
mapping generation (``books-v2``), and the alias ``books`` on the current one. The alias is
the only name the function knows; a reindex creates the next ``books-v<n>`` and moves the alias.
The alias carries a filter hiding tombstones (``_sync.deleted``, see `records`) from searches.

Mapping changes: analyzers and field types are fixed when an index is created, so a changed
mapping means a new concrete index and a reindex into it. Every index records a digest of
the settings and mapping it was created with (``_meta.mapping_digest``); `setup_index` compares
it with this code's and reports an outdated index instead of patching it (`SetupResult`).

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
and dynamic mapping would give them conflicting types and reject the item. So every scalar of an
attribute this mapping does not name gets one mapping whatever its JSON type: ``keyword`` -- the
exact value as written in the document (all digits of a number), for term queries and
aggregations -- with a ``text`` sub-field for words and a ``num`` sub-field of type ``double``
for ranges and sorting (approximate beyond 16 digits; ``ignore_malformed`` skips non-numbers).
The ``_source`` keeps the exact number token either way. Maps become objects; an attribute that
is a map in one item and a scalar in another still conflicts, and that item is dead-lettered
with the error. Known fields get explicit types; ``year`` is an ``integer`` that refuses to
coerce, so ``1999.5`` is rejected (and dead-lettered) rather than stored as ``1999``. Date and
numeric detection are off so that a string never fixes a field to a type a later one cannot meet.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from opensearchpy.exceptions import NotFoundError, RequestError

from .records import SYNC_FIELD

if TYPE_CHECKING:
    from opensearchpy import OpenSearch

__all__ = [
    "INDEX_GENERATION",
    "TEXT_ANALYZER",
    "IndexSetupError",
    "SetupResult",
    "alias_filter",
    "concrete_index_name",
    "current_index",
    "generation_of",
    "index_body",
    "index_mappings",
    "index_settings",
    "index_template",
    "mapping_digest",
    "setup_index",
    "template_name",
]

logger = logging.getLogger(__name__)

INDEX_GENERATION = 3
"""Bump when a mapping change needs a new concrete index (and a reindex).

1: the sync's mapping. 2: search analyzers, boolean similarity, ``title.suggest``.
3: one mapping for every scalar of an unknown attribute, so that mixed lists index.
"""

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


class IndexSetupError(RuntimeError):
    """The cluster holds something in the way of the alias."""


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
            "mapping": {"depth": {"limit": DYNAMODB_MAX_DEPTH + 2}},
            "analysis": _ANALYSIS,
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
            {f"dynamodb_{kind}s": {"match_mapping_type": kind, "mapping": _ANY_SCALAR}}
            for kind in ("string", "long", "double", "boolean")
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


def _alias_spec() -> dict[str, Any]:
    return {"is_write_index": True, "filter": alias_filter()}


def index_body(alias: str, generation: int = INDEX_GENERATION) -> dict[str, Any]:
    """The create-index body: explicit settings and mapping (not relying on the template
    winning over others) and the alias, so that index and alias appear together."""
    return {
        "settings": index_settings(),
        "mappings": index_mappings(generation),
        "aliases": {alias: _alias_spec()},
    }


@dataclass(frozen=True, slots=True)
class SetupResult:
    alias: str
    index: str
    template: str
    created_index: bool
    added_alias: bool
    outdated: bool = False
    """The alias's index was made with another mapping (left untouched: it needs a reindex)."""
    index_generation: int | None = None
    """The ``_meta.generation`` the index records, when it records one."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "alias": self.alias,
            "index": self.index,
            "template": self.template,
            "created_index": self.created_index,
            "added_alias": self.added_alias,
            "outdated": self.outdated,
            "index_generation": self.index_generation,
            "generation": INDEX_GENERATION,
        }

    def outdated_message(self) -> str:
        """What an operator needs to know about an outdated index (empty when it is current)."""
        if not self.outdated:
            return ""
        return (
            f"alias {self.alias!r} points to {self.index!r}, whose mapping is outdated "
            f"(made by generation {self.index_generation or 'unknown'}; this version has "
            f"generation {INDEX_GENERATION}, mapping digest {mapping_digest()}). The sync keeps "
            f"writing to it, but search and suggest need the current mapping: reindex into a "
            f"new index (`ddb-opensearch-sync reindex`), or on a throwaway stack delete "
            f"{self.index!r} and run setup-index again."
        )


def _index_meta(client: OpenSearch, index: str) -> dict[str, Any]:
    mappings = client.indices.get_mapping(index=index)[index]["mappings"]
    meta = mappings.get("_meta")
    return meta if isinstance(meta, dict) else {}


def _is_current(meta: dict[str, Any]) -> bool:
    return meta.get("mapping_digest") == mapping_digest()


def _generation_of(meta: dict[str, Any]) -> int | None:
    generation = meta.get("generation")
    return generation if isinstance(generation, int) else None


def _alias_targets(client: OpenSearch, alias: str) -> dict[str, Any]:
    if not client.indices.exists_alias(name=alias):
        return {}
    try:
        return dict(client.indices.get_alias(name=alias))
    except NotFoundError:  # removed in between
        return {}


def _write_index(alias: str, targets: dict[str, Any]) -> str:
    if len(targets) == 1:
        return next(iter(targets))
    writers = [
        name
        for name, info in targets.items()
        if info.get("aliases", {}).get(alias, {}).get("is_write_index")
    ]
    if len(writers) != 1:
        raise IndexSetupError(f"alias {alias!r} points to {sorted(targets)} and no write index")
    return writers[0]


def current_index(client: OpenSearch, alias: str) -> str:
    """The concrete index the alias writes to (and reads from, outside a reindex)."""
    targets = _alias_targets(client, alias)
    if not targets:
        raise IndexSetupError(f"alias {alias!r} does not exist: run setup-index first")
    return _write_index(alias, targets)


def setup_index(
    client: OpenSearch, alias: str, *, generation: int = INDEX_GENERATION
) -> SetupResult:
    """Create (or confirm) the template, the concrete index and the alias. Idempotent.

    An alias that already exists is left where it points (a reindex may have moved it). Its
    write index is checked against the current mapping (``_meta.mapping_digest``): an outdated
    one is reported (`SetupResult.outdated`) and left as it is, since analyzers and field types
    cannot change in place: it needs a reindex. The template always gets the current mapping,
    so that the reindex's new index has it.
    """
    template = template_name(alias)
    client.indices.put_index_template(name=template, body=index_template(alias, generation))

    targets = _alias_targets(client, alias)
    if targets:
        return _confirm_alias(client, alias, template, _write_index(alias, targets))

    if client.indices.exists(index=alias):
        raise IndexSetupError(
            f"{alias!r} is a concrete index, not an alias: the function must not write to an "
            f"index OpenSearch invented. Reindex its documents into "
            f"{concrete_index_name(alias, generation)!r} or delete it, then run setup again."
        )

    index = concrete_index_name(alias, generation)
    try:
        client.indices.create(index=index, body=index_body(alias, generation))
        logger.info("created index %s with alias %s", index, alias)
        return SetupResult(
            alias,
            index,
            template,
            created_index=True,
            added_alias=True,
            index_generation=generation,
        )
    except RequestError as error:
        if error.error != "resource_already_exists_exception":
            raise
    return _adopt_index(client, alias, template, index)


def _confirm_alias(client: OpenSearch, alias: str, template: str, index: str) -> SetupResult:
    """The alias exists: report whether its write index has the current mapping.

    Nothing is written to the index either way: a current one needs nothing (its ``_meta`` may
    carry what a reindex recorded), an outdated one cannot be fixed in place.
    """
    meta = _index_meta(client, index)
    result = SetupResult(
        alias,
        index,
        template,
        created_index=False,
        added_alias=False,
        outdated=not _is_current(meta),
        index_generation=_generation_of(meta),
    )
    if result.outdated:
        # Said at info level: the result carries it, and callers (the CLI) tell the operator.
        logger.info("alias %s points to %s, made with another mapping", alias, index)
    else:
        logger.info("alias %s already points to %s; its mapping is current", alias, index)
    return result


def _adopt_index(client: OpenSearch, alias: str, template: str, index: str) -> SetupResult:
    """The index exists without the alias (an interrupted or concurrent setup): add the alias,
    but only to an index with the current mapping."""
    meta = _index_meta(client, index)
    if not _is_current(meta):
        raise IndexSetupError(
            f"{index!r} exists without the alias {alias!r} and was not made with the current "
            f"mapping (digest {meta.get('mapping_digest')!r}, expected {mapping_digest()!r}): "
            f"delete it (or reindex its documents elsewhere), then run setup again."
        )
    client.indices.update_aliases(
        body={"actions": [{"add": {"index": index, "alias": alias, **_alias_spec()}}]}
    )
    logger.info("added alias %s to existing index %s", alias, index)
    return SetupResult(
        alias,
        index,
        template,
        created_index=False,
        added_alias=True,
        index_generation=_generation_of(meta),
    )
