"""The REST API under load: how many writes LocalStack's API Gateway takes, and where its CPU goes.

``single``
    ``SINGLE`` POSTs, then ``SINGLE`` list GETs (``GET /books``), one at a time: the latency of
    one request with nothing else in flight (median, p95).
``writes`` / ``lists``
    ``WRITERS`` threads each sending ``POST /books`` (then ``GET /books``) back to back for
    ``seconds``: requests/s, latency, LocalStack's CPU (share of one core, from ``/proc``) and,
    with py-spy, where that CPU went (`bench.sampling`): the inclusive share of each part and
    the milliseconds of LocalStack CPU per request it stands for.

The books written are deleted from the table afterwards.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench.common import percentile, require_deployed
from bench.sampling import Sampling
from bench.stackfigures import MemorySampler, stack_pids
from bench.streamgen import book
from tests.support import aws
from tests.support.api import BooksApi
from tests.support.settings import Settings

__all__ = ["run"]

WRITERS = 8
SINGLE = 20
SECONDS = {False: 15.0, True: 4.0}
"""How long each load lasts, in a full and in a ``--quick`` run."""
SEED = 20261202


def _bodies(rng: random.Random, count: int) -> list[dict[str, Any]]:
    return [{k: v for k, v in book(rng, "").items() if k != "book_id"} for _ in range(count)]


def _latency_ms(values: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(1000 * percentile(values, 50), 1),
        "p95_ms": round(1000 * percentile(values, 95), 1),
    }


def _single(request: Callable[[], Any]) -> dict[str, float]:
    latencies = []
    for _ in range(SINGLE):
        began = time.monotonic()
        request()
        latencies.append(time.monotonic() - began)
    return _latency_ms(latencies)


def _under_load(request: Callable[[], Any], seconds: float, pids: dict[str, int]) -> dict[str, Any]:
    """``WRITERS`` threads sending ``request`` back to back for ``seconds``."""
    latencies: list[float] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def loop() -> None:
        while time.monotonic() < stop_at:
            began = time.monotonic()
            request()
            with lock:
                latencies.append(time.monotonic() - began)

    with (
        MemorySampler(pids) as usage,
        Sampling(pids.get("localstack")) as sampling,
        ThreadPoolExecutor(WRITERS) as pool,
    ):
        began = time.monotonic()
        for _ in range(WRITERS):
            pool.submit(loop)
        pool.shutdown(wait=True)
        elapsed = time.monotonic() - began
    cpu_pct = usage.cpu_pct.get("localstack")
    result: dict[str, Any] = {
        "requests": len(latencies),
        "requests_per_s": round(len(latencies) / elapsed, 1),
        "latency": _latency_ms(latencies),
        "localstack_cpu_pct_of_one_core": cpu_pct,
        "profile": sampling.shares(),
    }
    shares = result["profile"].get("inclusive_pct")
    if shares and cpu_pct is not None and latencies:
        cpu_ms_per_request = 10 * cpu_pct * elapsed / len(latencies)
        result["localstack_cpu_ms_per_request"] = round(cpu_ms_per_request, 1)
        result["cpu_ms_per_request_by_part"] = {
            part: round(pct / 100 * cpu_ms_per_request, 1) for part, pct in shares.items()
        }
    return result


def run(quick: bool, endpoints: Settings, say: Callable[[str], None]) -> dict[str, Any]:
    api_url, table, _ = require_deployed(endpoints)
    api = BooksApi(api_url)
    books = aws.BooksTable(aws.client(endpoints, "dynamodb"), table)
    rng = random.Random(SEED)
    seconds = SECONDS[quick]
    pids = stack_pids()
    written: list[str] = []
    lock = threading.Lock()

    def create() -> None:
        book_id = api.create_ok(_bodies(rng, 1)[0])
        with lock:
            written.append(book_id)

    def list_books() -> None:
        response = api.list()
        assert response.status_code == 200, response.text

    try:
        say("api: one request at a time")
        single = {"post": _single(create), "list": _single(list_books)}
        say(f"api: {WRITERS} concurrent writers for {seconds:.0f} s (py-spy on LocalStack)")
        writes = _under_load(create, seconds, pids)
        say(f"api: {WRITERS} concurrent list readers for {seconds:.0f} s")
        lists = _under_load(list_books, seconds, pids)
    finally:
        books.delete(written)
    return {
        "config": {"writers": WRITERS, "seconds": seconds, "single_requests": SINGLE},
        "single": single,
        "writes": writes,
        "lists": lists,
    }
