"""The books index: template, mapping, concrete index and the alias the function writes to.

Layout: an index template ``<alias>-template`` for ``<alias>-v*``, one concrete index per
mapping generation (``books-v1``), and the alias ``books`` on the current one. The alias is
the only name the function knows; a future reindex creates ``books-v2`` and moves the alias.
The alias carries a filter hiding tombstones (``_sync.deleted``, see `records`) from searches.

Number policy (why the dynamic templates look like this): DynamoDB numbers have up to 38
significant digits; ``long`` holds 19 and ``double`` about 16, and dynamic mapping would fix a
field to ``long`` on the first integer and then silently truncate a later ``1.5``. So every
number in an attribute this mapping does not name is mapped as ``keyword`` -- the exact digits
as written in the document, good for term queries and aggregations -- with a ``num``
sub-field of type ``double`` for ranges and sorting (approximate beyond 16 digits;
``ignore_malformed`` so that a string in the same attribute does not reject the item). The
``_source`` keeps the exact number token either way. Known fields get explicit types;
``year`` is an ``integer`` that refuses to coerce, so ``1999.5`` is rejected (and
dead-lettered) rather than stored as ``1999``. Strings are text with a ``keyword`` sub-field,
booleans boolean, maps objects; date and numeric detection are off so that a string never
fixes a field to a type a later string cannot meet.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from opensearchpy.exceptions import NotFoundError, RequestError

from .records import SYNC_FIELD

if TYPE_CHECKING:
    from opensearchpy import OpenSearch

__all__ = [
    "INDEX_GENERATION",
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
    "setup_index",
    "template_name",
]

logger = logging.getLogger(__name__)

INDEX_GENERATION = 1
"""Bump when a mapping change needs a new concrete index (and a reindex)."""

DYNAMODB_MAX_DEPTH = 32
"""DynamoDB nests maps and lists up to 32 levels; OpenSearch's default depth limit is 20."""

_KEYWORD = {"type": "keyword", "ignore_above": 256}
_BOOLEAN = {"type": "boolean"}
_TEXT_WITH_KEYWORD = {"type": "text", "fields": {"keyword": _KEYWORD}}
_NUMBER = {
    "type": "keyword",
    "fields": {"num": {"type": "double", "ignore_malformed": True}},
}


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
        }
    }


def index_mappings(generation: int = INDEX_GENERATION) -> dict[str, Any]:
    return {
        "_meta": {"managed_by": "ddb-opensearch-sync", "generation": generation},
        "dynamic": True,
        "date_detection": False,
        "numeric_detection": False,
        "dynamic_templates": [
            {"dynamodb_integers": {"match_mapping_type": "long", "mapping": _NUMBER}},
            {"dynamodb_decimals": {"match_mapping_type": "double", "mapping": _NUMBER}},
            {"dynamodb_strings": {"match_mapping_type": "string", "mapping": _TEXT_WITH_KEYWORD}},
            {"dynamodb_booleans": {"match_mapping_type": "boolean", "mapping": _BOOLEAN}},
        ],
        "properties": {
            "book_id": {"type": "keyword"},
            "title": _TEXT_WITH_KEYWORD,
            "author": _TEXT_WITH_KEYWORD,
            "summary": {"type": "text"},
            "year": {"type": "integer", "coerce": False},
            "isbn": _KEYWORD,
            "tags": {**_KEYWORD, "fields": {"text": {"type": "text"}}},
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

    def as_dict(self) -> dict[str, Any]:
        return {
            "alias": self.alias,
            "index": self.index,
            "template": self.template,
            "created_index": self.created_index,
            "added_alias": self.added_alias,
        }


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

    An alias that already exists is left where it points (a reindex may have moved it); its
    write index gets the current mapping, which only ever adds fields.
    """
    template = template_name(alias)
    client.indices.put_index_template(name=template, body=index_template(alias, generation))

    targets = _alias_targets(client, alias)
    if targets:
        index = _write_index(alias, targets)
        client.indices.put_mapping(index=index, body=index_mappings(generation))
        logger.info("alias %s already points to %s; mapping refreshed", alias, index)
        return SetupResult(alias, index, template, created_index=False, added_alias=False)

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
        return SetupResult(alias, index, template, created_index=True, added_alias=True)
    except RequestError as error:
        if error.error != "resource_already_exists_exception":
            raise
    # The index exists without the alias (an interrupted setup, or a concurrent one).
    client.indices.put_mapping(index=index, body=index_mappings(generation))
    client.indices.update_aliases(
        body={"actions": [{"add": {"index": index, "alias": alias, **_alias_spec()}}]}
    )
    logger.info("added alias %s to existing index %s", alias, index)
    return SetupResult(alias, index, template, created_index=False, added_alias=True)
