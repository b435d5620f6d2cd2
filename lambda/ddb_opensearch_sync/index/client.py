"""The OpenSearch client: endpoint with a path prefix, SigV4 on AWS, no auth locally."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from opensearchpy import OpenSearch, Urllib3AWSV4SignerAuth, Urllib3HttpConnection
from opensearchpy.exceptions import SerializationError
from opensearchpy.serializer import JSONSerializer

from ..core.records import loads
from ..core.settings import DEFAULT_REQUEST_TIMEOUT, Auth, ConfigurationError

__all__ = ["SIGV4_SERVICE", "ExactJSONSerializer", "make_client", "parse_endpoint"]

SIGV4_SERVICE = "es"
"""The signing name of Amazon OpenSearch Service domains."""


class ExactJSONSerializer(JSONSerializer):
    """Reads JSON numbers with a fraction or exponent as `Decimal`, not float (`records.loads`).

    Documents hold DynamoDB numbers with up to 38 significant digits (`records.dumps`), so
    comparing stored documents (reconcile) or copying them (reindex) needs the exact digits.
    """

    def loads(self, s: str) -> Any:
        try:
            return loads(s)
        except (ValueError, TypeError) as error:
            raise SerializationError(s, error) from None


def parse_endpoint(endpoint: str) -> dict[str, Any]:
    """An endpoint URL as an opensearch-py host dict, path prefix kept.

    opensearch-py parses URLs too, but gives an ``http`` URL without a port the port 9200;
    a domain endpoint (or LocalStack's ``/opensearch/<region>/<domain>`` path) means 80/443.
    """
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(f"endpoint must be an http(s) URL, got {endpoint!r}")
    secure = parts.scheme == "https"
    host: dict[str, Any] = {
        "host": parts.hostname,
        "port": parts.port or (443 if secure else 80),
        "use_ssl": secure,
    }
    prefix = parts.path.rstrip("/")
    if prefix:
        host["url_prefix"] = prefix
    return host


def make_client(
    endpoint: str,
    *,
    auth: Auth | str = Auth.NONE,
    region: str | None = None,
    timeout: float = DEFAULT_REQUEST_TIMEOUT,
    exact_numbers: bool = False,
) -> OpenSearch:
    """A client for one domain.

    ``exact_numbers`` parses responses with `ExactJSONSerializer` (for reading documents).

    Transport-level retries are off: callers retry with backoff inside their own deadline
    (`writer.BulkWriter`), which opensearch-py's immediate retries would not respect.

    urllib3 rather than requests, both opensearch-py's own: a request through ``requests``
    cost ~0.8 ms more of the caller's CPU (its session prepares and merges settings per
    request), and a batch of the function sends two (bench/README.md, sixth pass).
    """
    http_auth = None
    if Auth(auth) is Auth.SIGV4:
        if not region:
            raise ConfigurationError("sigv4 needs a region")
        import boto3  # only on AWS; the Lambda runtime provides it

        credentials = boto3.Session().get_credentials()
        if credentials is None:
            raise ConfigurationError("sigv4 needs AWS credentials; none were found")
        # The signer asks the (refreshable) credentials for a frozen copy on every request.
        http_auth = Urllib3AWSV4SignerAuth(credentials, region, SIGV4_SERVICE)
    return OpenSearch(
        hosts=[parse_endpoint(endpoint)],
        http_auth=http_auth,
        connection_class=Urllib3HttpConnection,
        timeout=timeout,
        max_retries=0,
        retry_on_timeout=False,
        **({"serializer": ExactJSONSerializer()} if exact_numbers else {}),
    )
