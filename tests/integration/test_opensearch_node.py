"""The stack's OpenSearch is the real thing, at the version both stack modes pin."""

from __future__ import annotations

import pytest

import stackctl

pytestmark = pytest.mark.stack

MODULES = {
    "org.opensearch.transport.Netty4Plugin",
    "org.opensearch.analysis.common.CommonAnalysisPlugin",
    "org.opensearch.painless.PainlessPlugin",
    "org.opensearch.index.mapper.MapperExtrasPlugin",
    "org.opensearch.index.reindex.ReindexPlugin",
}


def test_the_node_reports_the_pinned_version(opensearch_client) -> None:
    info = opensearch_client.info()
    assert info["version"]["distribution"] == "opensearch"
    assert info["version"]["number"] == stackctl.load_settings()["OPENSEARCH_VERSION"]


def test_the_node_runs_the_modules_the_project_needs(opensearch_client) -> None:
    # The native node loads them as classpath plugins, the container as modules: either counts.
    info = opensearch_client.nodes.info(node_id="_local", metric="plugins")
    (node,) = info["nodes"].values()
    loaded = {p["classname"] for p in [*node.get("plugins", []), *node.get("modules", [])]}
    assert loaded >= MODULES, f"missing: {sorted(MODULES - loaded)}"
