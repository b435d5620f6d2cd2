"""Compile each JSONPath of LocalStack's VTL ``$input.json``/``$input.path`` once, not per call.

Why: LocalStack 4.14's API Gateway evaluates ``$input.json('$.title')`` and ``$input.path(...)``
by compiling the path with ``jsonpath_rw.parse`` on every call (``template_mapping.
extract_jsonpath``). That parser is built with PLY and takes milliseconds per path (12.5 ms
measured on a loaded 2-core machine), while evaluating a compiled path takes microseconds. The
API's mapping templates call ``$input`` about ten times per POST and seven times per listed
book, so this compilation was most of LocalStack's CPU per API request (bench/README.md#api).

A compiled path is an immutable tree of ``jsonpath_rw`` nodes (``find`` reads, never writes
it), so one compiled object per path string serves every request and thread. The results are
the same; only the repeated compilation goes. Installed by a LocalStack ``on_infra_start``
hook (`install`), registered in this package's entry points.
"""

from __future__ import annotations

import functools
from typing import Any

from jsonpath_rw import parse
from localstack.runtime import hooks
from localstack.services.apigateway.next_gen.execute_api import template_mapping
from localstack.utils.patch import Patch

PATHS_KEPT = 4096
"""Distinct path strings kept compiled (templates index arrays, e.g. ``$.Items[17].title.S``)."""


@functools.lru_cache(maxsize=PATHS_KEPT)
def compiled(path: str) -> Any:
    """``jsonpath_rw.parse``, once per distinct path."""
    return parse(path)


_PATCH = Patch(template_mapping, "parse", compiled)


# plux names a hook plugin after its function unless told: two hooks both called `install`
# would be one plugin, and only one of them would run.
@hooks.on_infra_start(name="ddbsync_vtl_jsonpath")
def install() -> None:
    """Make LocalStack's VTL ``$input`` helpers use `compiled`."""
    _PATCH.apply()  # idempotent
