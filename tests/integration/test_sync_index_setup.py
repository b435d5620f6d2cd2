"""Index setup against a real OpenSearch node: template, concrete index, alias; idempotent."""

from __future__ import annotations

import json

import pytest
from opensearchpy import OpenSearch

from ddb_opensearch_sync.core.mapping import (
    alias_filter,
    concrete_index_name,
    index_mappings,
    index_settings,
    slowlog_settings,
    template_name,
)
from ddb_opensearch_sync.index.client import make_client
from ddb_opensearch_sync.index.setup import IndexSetupError, setup_index
from ddb_opensearch_sync.ops import cli
from tests.support.names import unique
from tests.support.opensearch import dropped_afterwards

pytestmark = pytest.mark.stack


@pytest.fixture
def alias(opensearch_client: OpenSearch):
    """A fresh alias with nothing made for it yet (the tests run setup themselves)."""
    with dropped_afterwards(opensearch_client, unique("setup")) as name:
        yield name


def test_setup_creates_index_alias_and_template_once(opensearch_client: OpenSearch, alias: str):
    # WHEN setup runs twice
    first = setup_index(opensearch_client, alias)
    second = setup_index(opensearch_client, alias)

    # THEN the first created everything and the second changed nothing
    index = concrete_index_name(alias)
    assert (first.index, first.created_index, first.added_alias) == (index, True, True)
    assert (second.index, second.created_index, second.added_alias) == (index, False, False)
    aliases = opensearch_client.indices.get_alias(name=alias)
    assert list(aliases) == [index]
    spec = aliases[index]["aliases"][alias]
    assert spec["filter"] == alias_filter()
    assert spec["is_write_index"] is True
    template = opensearch_client.indices.get_index_template(name=template_name(alias))
    assert template["index_templates"][0]["index_template"]["index_patterns"] == [f"{alias}-v*"]
    mapping = opensearch_client.indices.get_mapping(index=index)[index]["mappings"]
    assert mapping["properties"]["year"] == {"type": "integer", "coerce": False}


def test_setup_adds_the_alias_to_an_existing_concrete_index(
    opensearch_client: OpenSearch, alias: str
):
    # GIVEN the concrete index exists, with the current mapping, without the alias (an
    # interrupted setup, or a concurrent one)
    index = concrete_index_name(alias)
    opensearch_client.indices.create(
        index=index, body={"settings": index_settings(), "mappings": index_mappings()}
    )

    result = setup_index(opensearch_client, alias)

    assert (result.created_index, result.added_alias) == (False, True)
    assert list(opensearch_client.indices.get_alias(name=alias)) == [index]


def test_setup_refuses_an_index_named_like_the_alias(opensearch_client: OpenSearch, alias: str):
    # GIVEN an index OpenSearch invented under the alias's name (an un-aliased write)
    opensearch_client.index(index=alias, body={"title": "orphan"}, refresh=True)

    with pytest.raises(IndexSetupError, match="concrete index, not an alias"):
        setup_index(opensearch_client, alias)


def test_cli_setup_index(opensearch_url: str, opensearch_client: OpenSearch, alias: str, capsys):
    code = cli.main(["setup-index", "--endpoint", opensearch_url, "--alias", alias])

    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["index"] == concrete_index_name(alias)
    assert printed["created_index"] is True
    assert opensearch_client.indices.exists_alias(name=alias)


def test_cli_reports_configuration_errors(capsys):
    code = cli.main(["setup-index", "--endpoint", "localhost:9200", "--alias", "books"])

    assert code == 2
    assert "endpoint must be an http(s) URL" in capsys.readouterr().err


def test_sigv4_signed_requests_work_end_to_end(opensearch_url, aws_region, alias):
    # The local node ignores signatures, but every request (PUT with a body, HEAD, bulk
    # bytes) goes through the SigV4 signer exactly as on AWS.
    client = make_client(opensearch_url, auth="sigv4", region=aws_region)

    result = setup_index(client, alias)
    response = client.bulk(
        body=b'{"index":{"_id":"signed"}}\n{"title":"signed"}\n', index=alias, require_alias=True
    )

    assert result.created_index is True
    assert response["errors"] is False
    assert client.transport.connection_pool.connections[0].http_auth.service == "es"


def test_setup_sets_slow_log_thresholds_on_new_and_existing_indices(
    opensearch_client: OpenSearch, alias: str
):
    # GIVEN an index made before slow logs had thresholds (its settings cleared)
    index = setup_index(opensearch_client, alias).index
    opensearch_client.indices.put_settings(
        index=index, body={"index": {key: None for key in slowlog_settings()["index"]}}
    )

    # WHEN setup runs again
    setup_index(opensearch_client, alias)

    # THEN the index has them: the domain's slow-log groups get content
    stored = opensearch_client.indices.get_settings(index=index, flat_settings=True)
    settings = stored[index]["settings"]
    assert {k: settings.get(f"index.{k}") for k in slowlog_settings()["index"]} == (
        slowlog_settings()["index"]
    )
    assert settings["index.search.slowlog.threshold.query.warn"] == "5s"
