"""The maintenance function's entry point: ``ddb_opensearch_sync.sync.maintenance.handler``.

The sync function's role may only POST ``<alias>/_bulk`` and ``<alias>/_mget`` (issue 13), so
the index's upkeep runs here, under a role of its own that may make exactly the requests below
(``infra/modules/sync`` lists them as IAM resources, the domain's policy admits them):

- ``{"action": "purge-tombstones"}`` (a daily EventBridge rule): lift an expired write block,
  then start the tombstone purge as an OpenSearch task (`index.purge`): ``POST
  <index>/_refresh`` and ``POST <index>/_delete_by_query``.
- ``{"action": "lift-expired-lease"}`` (an EventBridge rule every few minutes, and the sync
  function, asynchronously, after a batch a block refused): lift the write block of a reindex
  whose lease ran out (`index.lease`): ``GET``/``PUT <index>/_mapping`` (the lease in
  ``_meta``), ``GET <index>/_settings/index.blocks.write``, ``PUT <index>/_settings``.

Both first find the alias's index (`index.aliases`): ``HEAD`` and ``GET _alias/<alias>``.
"""

from __future__ import annotations

import functools
import os
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers

from ..core.settings import Settings
from ..index.client import make_client
from ..index.lease import release_expired_lease
from ..index.purge import start_purge
from .types import MaintenanceAction

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext
    from opensearchpy import OpenSearch

    from .types import MaintenanceEvent

__all__ = ["UnknownActionError", "handler"]

SERVICE = "ddb-opensearch-sync-maintenance"

logger = Logger(service=os.getenv("POWERTOOLS_SERVICE_NAME") or SERVICE)
copy_config_to_registered_loggers(source_logger=logger, include={"ddb_opensearch_sync"})


class UnknownActionError(ValueError):
    """The event names no known action: a wrong rule or caller, so the invocation fails."""


@functools.lru_cache(maxsize=4)
def build_client(settings: Settings) -> OpenSearch:
    """The domain's client for ``settings`` (cached across invocations)."""
    return make_client(settings.endpoint, auth=settings.auth, region=settings.region)


def action_of(event: object) -> MaintenanceAction:
    """The event's action (`sync.types.MaintenanceEvent`)."""
    name = event.get("action") if isinstance(event, dict) else None
    try:
        return MaintenanceAction(str(name))
    except ValueError:
        raise UnknownActionError(f"unknown maintenance event: {event!r:.200}") from None


def lift_expired_lease(client: OpenSearch, alias: str) -> dict[str, Any]:
    lifted = release_expired_lease(client, alias)
    logger.info("write-block lease checked", extra={"alias": alias, "lifted_block": lifted})
    return {"lifted_block": lifted}


def purge_tombstones(client: OpenSearch, alias: str) -> dict[str, Any]:
    """Start the purge and return at once; a write block whose lease ran out while nothing
    was written goes first, as every other caller of the index's upkeep does."""
    lifted = release_expired_lease(client, alias)
    report = start_purge(client, alias)
    logger.info("tombstone purge started", extra={**report.as_dict(), "lifted_block": lifted})
    return {"purge": report.as_dict(), "lifted_block": lifted}


@logger.inject_lambda_context
def handler(event: MaintenanceEvent, context: LambdaContext) -> dict[str, Any]:
    action = action_of(event)
    settings = Settings.from_env()
    client = build_client(settings)
    if action is MaintenanceAction.PURGE_TOMBSTONES:
        return purge_tombstones(client, settings.alias)
    return lift_expired_lease(client, settings.alias)
