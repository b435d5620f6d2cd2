"""The function zip builder: reproducible bytes, skipped when nothing changed, runnable content,
and each zip carries only the package modules its handlers import.

Runs the real build (pip resolves manylinux wheels from the package index or its cache; the
installed dependencies are cached under build/lambda-deps, as ``make deploy`` leaves them).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
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


def _names(out: Path) -> list[str]:
    with zipfile.ZipFile(out) as archive:
        return archive.namelist()


def test_same_inputs_give_the_same_bytes(build_lambda, tmp_path: Path):
    first, second = tmp_path / "a" / "function.zip", tmp_path / "b" / "function.zip"

    built_first = build_lambda.build("sync", first)
    rebuilt = build_lambda.build("sync", first)
    built_second = build_lambda.build("sync", second, force=True)

    assert (built_first, rebuilt, built_second) == (True, False, True)
    assert first.read_bytes() == second.read_bytes()


def test_zip_holds_the_package_and_pinned_runtime_deps_only(build_lambda, tmp_path: Path):
    out = tmp_path / "function.zip"
    build_lambda.build("sync", out)

    with zipfile.ZipFile(out) as archive:
        infos = archive.infolist()
    names = [info.filename for info in infos]

    assert names == sorted(names)
    assert {info.date_time for info in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {info.external_attr >> 16 for info in infos} == {0o100644}
    assert "ddb_opensearch_sync/sync/handler.py" in names
    assert "opensearchpy/__init__.py" in names
    assert "aws_lambda_powertools/__init__.py" in names
    top_level = {name.split("/")[0] for name in names}
    # The runtime provides boto3; opensearch-py's unused gRPC transport stays out.
    assert not top_level & {"boto3", "botocore", "grpc", "google", "bin"}
    assert not [name for name in names if name.endswith(".pyc") or "__pycache__" in name]


def test_the_sync_zip_carries_no_search_or_operator_code(build_lambda, tmp_path: Path):
    out = tmp_path / "sync-function.zip"
    build_lambda.build("sync", out)

    package = {n for n in _names(out) if n.startswith("ddb_opensearch_sync/")}

    assert "ddb_opensearch_sync/sync/handler.py" in package
    assert "ddb_opensearch_sync/sync/maintenance.py" in package  # the maintenance function's
    assert "ddb_opensearch_sync/index/writer.py" in package
    assert "ddb_opensearch_sync/index/purge.py" in package
    assert not {
        n
        for n in package
        if n.startswith(("ddb_opensearch_sync/ops/", "ddb_opensearch_sync/search/"))
    }
    assert not package & {
        "ddb_opensearch_sync/index/setup.py",
        "ddb_opensearch_sync/core/mapping.py",
    }


def test_the_search_zip_carries_no_writer_or_sync_code(build_lambda, tmp_path: Path):
    out = tmp_path / "search-function.zip"
    build_lambda.build("search", out)

    package = {n for n in _names(out) if n.startswith("ddb_opensearch_sync/")}

    assert "ddb_opensearch_sync/search/handler.py" in package
    assert "ddb_opensearch_sync/core/mapping.py" in package  # the alias filter
    assert not {
        n
        for n in package
        if n.startswith(("ddb_opensearch_sync/ops/", "ddb_opensearch_sync/sync/"))
    }
    assert "ddb_opensearch_sync/index/writer.py" not in package


@pytest.mark.parametrize(
    ("function", "module"),
    [
        ("sync", "ddb_opensearch_sync.sync.handler"),
        ("sync", "ddb_opensearch_sync.sync.maintenance"),
        ("search", "ddb_opensearch_sync.search.handler"),
    ],
)
def test_each_handler_imports_from_its_unzipped_zip(
    build_lambda, tmp_path: Path, function: str, module: str
):
    assert module in build_lambda.HANDLERS[function]
    out = tmp_path / f"{function}-function.zip"
    build_lambda.build(function, out)
    unzipped = tmp_path / "unzipped"
    with zipfile.ZipFile(out) as archive:
        archive.extractall(unzipped)
    # Import the handler as Lambda would, with the zip first on the path; report where every
    # module of the package came from. boto3 comes from this environment (Lambda's runtime
    # provides it), everything else the handler needs from the zip (orjson, compiled, too).
    probe = (
        "import importlib, json, sys\n"
        f"importlib.import_module({module!r}).handler\n"
        "roots = ('ddb_opensearch_sync', 'opensearchpy', 'aws_lambda_powertools', 'orjson')\n"
        "print(json.dumps({name: getattr(mod, '__file__', None)\n"
        "    for name, mod in sys.modules.items() if name.split('.')[0] in roots}))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(unzipped), "AWS_DEFAULT_REGION": "us-east-1"}
    result = subprocess.run(
        [sys.executable, "-c", probe],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    files = json.loads(result.stdout.splitlines()[-1])
    assert module in files
    outside = {
        name: path for name, path in files.items() if path and not path.startswith(str(unzipped))
    }
    assert outside == {}


def test_inputs_key_is_stable_and_unambiguous(build_lambda):
    key = build_lambda.inputs_key("sync")

    assert key == build_lambda.inputs_key("sync")
    assert key != build_lambda.inputs_key("search")
    assert len(key) == 64
    assert build_lambda.digest(b"ab", b"c") != build_lambda.digest(b"a", b"bc")
