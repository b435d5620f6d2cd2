"""The books index on the cluster: create (or confirm) template, index and alias; find them.

The bodies come from `ddb_opensearch_sync.core.mapping` (pure); this module only talks to
OpenSearch. `setup_index` is idempotent and never patches an index made with another mapping:
it reports it (`SetupResult.outdated`), since analyzers and field types need a reindex.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from opensearchpy.exceptions import RequestError

from ..core.mapping import (
    INDEX_GENERATION,
    alias_spec,
    concrete_index_name,
    index_body,
    index_template,
    mapping_digest,
    slowlog_settings,
    template_name,
)
from .aliases import IndexSetupError, alias_targets, current_index, write_index

if TYPE_CHECKING:
    from opensearchpy import OpenSearch

__all__ = ["IndexSetupError", "SetupResult", "current_index", "setup_index"]

logger = logging.getLogger(__name__)


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


def setup_index(
    client: OpenSearch, alias: str, *, generation: int = INDEX_GENERATION
) -> SetupResult:
    """Create (or confirm) the template, the concrete index and the alias, and set the alias's
    index's slow-log thresholds (dynamic settings: any index takes them). Idempotent.

    See `_setup_index` for how an existing alias is treated.
    """
    result = _setup_index(client, alias, generation=generation)
    client.indices.put_settings(index=result.index, body=slowlog_settings())
    return result


def _setup_index(
    client: OpenSearch, alias: str, *, generation: int = INDEX_GENERATION
) -> SetupResult:
    """Create (or confirm) the template, the concrete index and the alias.

    An alias that already exists is left where it points (a reindex may have moved it). Its
    write index is checked against the current mapping (``_meta.mapping_digest``): an outdated
    one is reported (`SetupResult.outdated`) and left as it is, since analyzers and field types
    cannot change in place: it needs a reindex. The template always gets the current mapping,
    so that the reindex's new index has it.
    """
    template = template_name(alias)
    client.indices.put_index_template(name=template, body=index_template(alias, generation))

    targets = alias_targets(client, alias)
    if targets:
        return _confirm_alias(client, alias, template, write_index(alias, targets))

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
        body={"actions": [{"add": {"index": index, "alias": alias, **alias_spec()}}]}
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
