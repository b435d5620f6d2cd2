"""Which concrete index an alias writes to. Apart from `setup` so that the sync zip (whose
maintenance function needs it for `lease` and `purge`) carries no mapping code."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from opensearchpy.exceptions import NotFoundError

if TYPE_CHECKING:
    from opensearchpy import OpenSearch

__all__ = ["IndexSetupError", "alias_targets", "current_index", "write_index"]


class IndexSetupError(RuntimeError):
    """The cluster holds something in the way of the alias."""


def alias_targets(client: OpenSearch, alias: str) -> dict[str, Any]:
    if not client.indices.exists_alias(name=alias):
        return {}
    try:
        return dict(client.indices.get_alias(name=alias))
    except NotFoundError:  # removed in between
        return {}


def write_index(alias: str, targets: dict[str, Any]) -> str:
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
    targets = alias_targets(client, alias)
    if not targets:
        raise IndexSetupError(f"alias {alias!r} does not exist: run setup-index first")
    return write_index(alias, targets)
