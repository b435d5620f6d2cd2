"""The function zip builder: reproducible bytes, skipped when nothing changed, runnable content.

Runs the real build (pip resolves manylinux wheels from the package index or its cache; the
installed dependencies are cached under build/lambda-deps, as ``make deploy`` leaves them).
"""

from __future__ import annotations

import importlib.util
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def build_lambda():
    spec = importlib.util.spec_from_file_location(
        "build_lambda", ROOT / "scripts" / "build_lambda.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_same_inputs_give_the_same_bytes(build_lambda, tmp_path: Path):
    first, second = tmp_path / "a" / "function.zip", tmp_path / "b" / "function.zip"

    built_first = build_lambda.build(first)
    rebuilt = build_lambda.build(first)
    built_second = build_lambda.build(second, force=True)

    assert (built_first, rebuilt, built_second) == (True, False, True)
    assert first.read_bytes() == second.read_bytes()


def test_zip_holds_the_package_and_pinned_runtime_deps_only(build_lambda, tmp_path: Path):
    out = tmp_path / "function.zip"
    build_lambda.build(out)

    with zipfile.ZipFile(out) as archive:
        infos = archive.infolist()
    names = [info.filename for info in infos]

    assert names == sorted(names)
    assert {info.date_time for info in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {info.external_attr >> 16 for info in infos} == {0o100644}
    assert "ddb_opensearch_sync/handler.py" in names
    assert "ddb_opensearch_sync/search/handler.py" in names  # the search function: same zip
    assert "opensearchpy/__init__.py" in names
    assert "aws_lambda_powertools/__init__.py" in names
    top_level = {name.split("/")[0] for name in names}
    # The runtime provides boto3; opensearch-py's unused gRPC transport stays out.
    assert not top_level & {"boto3", "botocore", "grpc", "google", "bin"}
    assert not [name for name in names if name.endswith(".pyc") or "__pycache__" in name]


def test_inputs_key_is_stable_and_unambiguous(build_lambda):
    key = build_lambda.inputs_key()

    assert key == build_lambda.inputs_key()
    assert len(key) == 64
    assert build_lambda.digest(b"ab", b"c") != build_lambda.digest(b"a", b"bc")
