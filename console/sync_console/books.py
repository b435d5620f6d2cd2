"""The deployed books API, called on the page's behalf (API Gateway -> VTL -> DynamoDB, and
the search function): the console forwards requests and answers, it never writes the table
itself, so what the page shows is what the API does.

Kept to one small client: the local API is unauthenticated; a signed API would add its auth
to the session here and nowhere else.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import requests

TIMEOUT_S = 30.0


@dataclass(frozen=True)
class ApiAnswer:
    """The API's answer as the console saw it: status, JSON body (or text) and round trip."""

    status: int
    body: Any
    elapsed_ms: float

    def as_dict(self) -> dict[str, Any]:
        return {"status": self.status, "body": self.body, "elapsed_ms": self.elapsed_ms}


class BooksApi:
    """The API's operations as the page calls them. A request each (no shared session: the
    console serves one person, and Starlette runs requests in several threads)."""

    def call(
        self,
        api_url: str,
        method: str,
        path: str,
        params: list[tuple[str, str]] | None = None,
        body: Any = None,
    ) -> ApiAnswer:
        """``method /books[/path]`` with query ``params`` and JSON ``body``."""
        url = f"{api_url}/books" + (f"/{quote(path, safe='')}" if path else "")
        if params:
            # Spaces as %20: API Gateway passes "+" through as a plus sign.
            url += "?" + urlencode(params, quote_via=quote)
        began = time.perf_counter()
        response = requests.request(method, url, json=body, timeout=TIMEOUT_S)
        elapsed_ms = round((time.perf_counter() - began) * 1000, 1)
        try:
            answer = response.json() if response.content else None
        except ValueError:
            answer = response.text
        return ApiAnswer(response.status_code, answer, elapsed_ms)
