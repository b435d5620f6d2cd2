"""The console's HTTP routes: the page (static files) and a small JSON API under ``/api``.

Every ``/api`` answer is JSON. When the stack is down or nothing is deployed the answer is 503
with ``problem`` and ``fix`` (the command to run), which the page shows as it is; a part of the
stack that fails mid-request gives 502 with its error.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import botocore.exceptions
import requests
from opensearchpy.exceptions import OpenSearchException
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ddb_opensearch_sync.core.records import dumps
from ddb_opensearch_sync.index.writer import BulkWriter
from ddb_opensearch_sync.ops.reconcile import ReconcileOptions, reconcile

from . import deadletters, health, sides
from .books import BooksApi
from .system import Deployment, NotReady, System

STATIC = Path(__file__).parent / "static"
RECONCILE_SETTLE_S = 2.0  # seconds a difference may take to resolve itself (changes in flight)
STACK_ERRORS = (
    requests.RequestException,
    botocore.exceptions.BotoCoreError,
    botocore.exceptions.ClientError,
    OpenSearchException,
)


def json_response(value: Any, status: int = 200) -> Response:
    """JSON that keeps every digit of the index's exact numbers (`records.dumps`)."""
    try:
        text = dumps(value)
    except TypeError:  # a value dumps does not know (a datetime from boto3): as text
        text = json.dumps(value, default=str, ensure_ascii=False)
    return Response(text, status_code=status, media_type="application/json")


class Console:
    """The routes' shared state: the system, the API client, one reconcile at a time."""

    def __init__(self, system: System | None = None) -> None:
        self.system = system or System()
        self.api = BooksApi()
        self.reconciling = threading.Lock()

    async def answer(self, work: Callable[[Deployment], Any]) -> Response:
        """Run ``work`` on the current deployment in a worker thread (boto3 and opensearch-py
        block); problems become the JSON the page shows."""

        def guarded() -> Response:
            try:
                result = work(self.system.deployment())
            except NotReady as not_ready:
                return json_response({"problem": str(not_ready), "fix": not_ready.fix}, 503)
            except STACK_ERRORS as error:
                problem = f"the stack failed to answer: {type(error).__name__}: {error}"[:500]
                return json_response({"problem": problem, "fix": "make status"}, 502)
            return result if isinstance(result, Response) else json_response(result)

        return await run_in_threadpool(guarded)

    # -- the API, forwarded ---------------------------------------------------------------

    async def forward(self, request: Request) -> Response:
        """``/api/books[/...]`` -> ``<API_URL>/books[/...]``; the page sees status and body."""
        path = request.path_params.get("path", "")
        params = list(request.query_params.multi_items())
        body = await request.json() if request.method in ("POST", "PUT") else None

        def call(d: Deployment) -> Any:
            return self.api.call(d.api_url, request.method, path, params, body).as_dict()

        return await self.answer(call)

    # -- views of the system --------------------------------------------------------------

    async def sides(self, request: Request) -> Response:
        """The search's view of one book (``searchable``)."""
        book_id, before = request.path_params["book_id"], write_before(request)
        return await self.answer(lambda d: sides.both_sides(d, book_id, before))

    async def indexed(self, request: Request) -> Response:
        """The real-time view of one book (``stored``)."""
        book_id, before = request.path_params["book_id"], write_before(request)
        return await self.answer(lambda d: sides.indexed(d, book_id, before))

    async def deadletters(self, request: Request) -> Response:
        return await self.answer(deadletters.peek)

    async def health(self, request: Request) -> Response:
        return json_response(await run_in_threadpool(health.health, self.system))

    async def reconcile(self, request: Request) -> Response:
        options = await request.json() if await request.body() else {}
        repair = bool(options.get("repair"))

        def run(d: Deployment) -> Any:
            if not self.reconciling.acquire(blocking=False):
                return json_response({"problem": "a reconcile is running", "fix": None}, 409)
            try:
                report = reconcile(
                    d.dynamodb,
                    d.index,
                    BulkWriter(d.index, d.alias),
                    d.table,
                    ReconcileOptions(settle=RECONCILE_SETTLE_S, repair=repair, max_listed=200),
                )
            finally:
                self.reconciling.release()
            return {**report.as_dict(200), "summary": report.summary()}

        return await self.answer(run)


def write_before(request: Request) -> sides.Before | None:
    """``?before_seq=&before_item=``: what `/api/indexed` said before the page's write (see
    `sides.shows_write`); an empty value stands for none."""
    params = request.query_params
    if "before_item" not in params:
        return None
    return sides.Before(params.get("before_seq") or None, params["before_item"] or None)


async def alive(request: Request) -> Response:
    """The console's own liveness (``stackctl status`` asks it); says nothing of the stack."""
    return json_response({"console": "up"})


def make_app(system: System | None = None) -> Starlette:
    console = Console(system)
    routes = [
        Route("/healthz", alive),
        Route("/api/health", console.health),
        Route("/api/sides/{book_id}", console.sides),
        Route("/api/indexed/{book_id}", console.indexed),
        Route("/api/deadletters", console.deadletters),
        Route("/api/reconcile", console.reconcile, methods=["POST"]),
        Route("/api/books", console.forward, methods=["GET", "POST"]),
        Route("/api/books/{path}", console.forward, methods=["GET", "PUT", "DELETE"]),
        Mount("/", StaticFiles(directory=STATIC, html=True)),
    ]
    return Starlette(routes=routes)
