"""The deployed books API over HTTP (API Gateway -> VTL -> DynamoDB, and the search function)."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlencode

import boto3
import requests
from requests_aws4auth import AWS4Auth

TIMEOUT = 30  # seconds, per HTTP request
Params = list[tuple[str, str | int]]


class BooksApi:
    """The API's operations, each returning the response; ``*_ok`` ones assert success. One
    HTTP session per thread (requests' sessions are not thread-safe), so that a burst can
    share one instance."""

    def __init__(self, api_url: str) -> None:
        self.url = f"{api_url}/books"
        self._local = threading.local()
        self._auth = sigv4_auth()

    @property
    def http(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
            session.auth = self._auth
        return session

    def create(self, body: Any) -> requests.Response:
        return self.http.post(self.url, **_body(body), timeout=TIMEOUT)

    def get(self, book_id: str) -> requests.Response:
        return self.http.get(f"{self.url}/{book_id}", timeout=TIMEOUT)

    def replace(self, book_id: str, body: Any) -> requests.Response:
        return self.http.put(f"{self.url}/{book_id}", **_body(body), timeout=TIMEOUT)

    def delete(self, book_id: str) -> requests.Response:
        return self.http.delete(f"{self.url}/{book_id}", timeout=TIMEOUT)

    def list(self, **params: Any) -> requests.Response:
        return self.http.get(self.url, params=params, timeout=TIMEOUT)

    def query(self, path: str, params: Params) -> requests.Response:
        """``GET /books/<path>?<params>`` (search, suggest)."""
        # Spaces as %20: API Gateway passes "+" through as a plus sign.
        query = urlencode(params, quote_via=quote)
        return self.http.get(f"{self.url}/{path}?{query}", timeout=TIMEOUT)

    def create_ok(self, body: Mapping[str, Any]) -> str:
        response = self.create(dict(body))
        assert response.status_code == 201, (
            f"create {body!r}: {response.status_code} {response.text}"
        )
        book_id = response.json()["book_id"]
        assert isinstance(book_id, str) and book_id, response.text
        return book_id

    def get_ok(self, book_id: str) -> dict[str, Any]:
        response = self.get(book_id)
        assert response.status_code == 200, f"get {book_id}: {response.status_code} {response.text}"
        return dict(response.json())

    def replace_ok(self, book_id: str, body: Mapping[str, Any]) -> None:
        response = self.replace(book_id, dict(body))
        assert response.status_code == 200, f"put {book_id}: {response.status_code} {response.text}"

    def delete_ok(self, book_id: str) -> None:
        response = self.delete(book_id)
        assert response.status_code == 200, f"delete {book_id}: {response.status_code}"


def sigv4_auth() -> AWS4Auth:
    """SigV4 signing for execute-api with the caller's AWS credentials (boto3's chain, kept
    fresh): what an IAM-protected API on AWS needs; LocalStack accepts any signature."""
    session = boto3.Session()
    credentials = session.get_credentials()
    if credentials is None:
        raise RuntimeError("no AWS credentials: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY")
    region = session.region_name or "us-east-1"
    return AWS4Auth(region=region, service="execute-api", refreshable_credentials=credentials)


def _body(body: Any) -> dict[str, Any]:
    """Raw text is sent as is (malformed JSON on purpose); anything else as JSON."""
    if isinstance(body, str | bytes):
        return {"data": body, "headers": {"Content-Type": "application/json"}}
    return {"json": body}
