"""Build a function's Lambda zip, reproducibly: same inputs, same bytes.

    python scripts/build_lambda.py --function sync|search [--out PATH] [--force]

A zip holds ``lambda/requirements.txt`` installed for the python3.12 x86_64 Lambda runtime
(manylinux wheels only, no bytecode, no console scripts) and, of the ``ddb_opensearch_sync``
package, only the modules its handlers import: the sync zip (default
``build/sync-function.zip``), which serves the sync function
(``ddb_opensearch_sync.sync.handler.handler``) and the maintenance function
(``ddb_opensearch_sync.sync.maintenance.handler``), carries no search or operator code, the
search function (``ddb_opensearch_sync.search.handler.handler``, default
``build/search-function.zip``) no writer or sync code. The modules are found by tracing the
handlers' imports (stdlib `modulefinder`, static: lazy and ``TYPE_CHECKING``
imports count too), which works because the subpackages' ``__init__`` files import nothing.

Entries are sorted and carry a fixed timestamp and fixed permissions, so Terraform's
``source_code_hash`` changes only when an input does.

Nothing is rebuilt when the inputs are unchanged: the cache key is a hash of the requirements,
the traced modules, the pip options and this script; it is stored beside the zip
(``<out>.inputs``). Installed dependencies are cached separately under ``build/lambda-deps/``
(keyed by the requirements alone), so editing the package re-zips in about a second.
"""

from __future__ import annotations

import argparse
import hashlib
import modulefinder
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "lambda" / "requirements.txt"
PACKAGE = ROOT / "lambda" / "ddb_opensearch_sync"
HANDLERS = {
    "sync": ("ddb_opensearch_sync.sync.handler", "ddb_opensearch_sync.sync.maintenance"),
    "search": ("ddb_opensearch_sync.search.handler",),
}
"""Each zip's handler modules (a Lambda handler is ``<module>.handler``): the sync zip serves
the sync function and the maintenance function (``infra/modules/sync``)."""
DEPS_CACHE = ROOT / "build" / "lambda-deps"

PIP_OPTIONS = (
    "--platform=manylinux2014_x86_64",
    "--python-version=3.12",
    "--implementation=cp",
    "--only-binary=:all:",
    # requirements.txt is the full, pinned closure (it leaves out opensearch-py's unused gRPC
    # extras on purpose), so pip must not add anything.
    "--no-deps",
    # .pyc files embed timestamps; Lambda compiles on first import anyway.
    "--no-compile",
)
ZIP_TIME = (1980, 1, 1, 0, 0, 0)
FILE_MODE = 0o100644  # regular file, rw-r--r--
EXCLUDED_DIRS = {"__pycache__", "bin"}
EXCLUDED_SUFFIXES = {".pyc", ".pyo"}


def say(message: str) -> None:
    print(f"build_lambda: {message}", flush=True)


def default_out(function: str) -> Path:
    return ROOT / "build" / f"{function}-function.zip"


def package_files(function: str) -> list[Path]:
    """The package's modules that ``function``'s handlers import, found by tracing."""
    finder = modulefinder.ModuleFinder(path=[str(PACKAGE.parent)])  # the package alone
    for module in HANDLERS[function]:
        finder.import_hook(module)
    prefix = f"{PACKAGE.name}."
    files = {
        Path(module.__file__)
        for name, module in finder.modules.items()
        if (name == PACKAGE.name or name.startswith(prefix)) and module.__file__
    }
    return sorted(files)


def digest(*chunks: bytes) -> str:
    hasher = hashlib.sha256()
    for chunk in chunks:
        hasher.update(len(chunk).to_bytes(8, "big"))  # length-prefixed: no ambiguous joins
        hasher.update(chunk)
    return hasher.hexdigest()


def dependencies_key() -> str:
    return digest(REQUIREMENTS.read_bytes(), "\n".join(PIP_OPTIONS).encode())


def inputs_key(function: str) -> str:
    chunks = [dependencies_key().encode(), Path(__file__).read_bytes()]
    for path in package_files(function):
        chunks += [path.relative_to(PACKAGE).as_posix().encode(), path.read_bytes()]
    return digest(*chunks)


def install_dependencies() -> Path:
    """pip-install the requirements once per requirements hash; return the folder."""
    key = dependencies_key()[:16]
    target = DEPS_CACHE / key
    if (target / ".complete").exists():
        return target
    say("installing dependencies for python3.12 manylinux x86_64")
    DEPS_CACHE.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f"{key}.", dir=DEPS_CACHE))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--target",
            str(staging),
            *PIP_OPTIONS,
            "--requirement",
            str(REQUIREMENTS),
        ],
        check=True,
    )
    (staging / ".complete").touch()
    for old in DEPS_CACHE.iterdir():  # keep one generation
        if old != staging:
            shutil.rmtree(old, ignore_errors=True)
    staging.rename(target)
    return target


def zip_entries(deps: Path, function: str) -> list[tuple[str, Path]]:
    entries: list[tuple[str, Path]] = []
    for path in deps.rglob("*"):
        relative = path.relative_to(deps)
        if (
            path.is_file()
            and relative.name != ".complete"
            and not EXCLUDED_DIRS.intersection(relative.parts)
            and path.suffix not in EXCLUDED_SUFFIXES
        ):
            entries.append((relative.as_posix(), path))
    for path in package_files(function):
        entries.append((f"{PACKAGE.name}/{path.relative_to(PACKAGE).as_posix()}", path))
    names = [name for name, _ in entries]
    if len(names) != len(set(names)):
        raise SystemExit("build_lambda: error: a dependency ships a file the package also has")
    return sorted(entries)


def write_zip(entries: list[tuple[str, Path]], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    with zipfile.ZipFile(partial, "w") as archive:
        for name, path in entries:
            info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            info.external_attr = FILE_MODE << 16
            info.create_system = 3  # unix, so the mode bits are read as such
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes(), compresslevel=9)
    os.replace(partial, out)


def build(function: str, out: Path, *, force: bool = False) -> bool:
    """Build ``out`` for ``function`` unless it is up to date; True if it was (re)built."""
    key = inputs_key(function)
    stamp = out.with_name(out.name + ".inputs")
    if not force and out.exists() and stamp.exists() and stamp.read_text().strip() == key:
        return False
    deps = install_dependencies()
    write_zip(zip_entries(deps, function), out)
    stamp.write_text(key + "\n")
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--function", choices=sorted(HANDLERS), required=True, help="the function the zip is for"
    )
    parser.add_argument(
        "--out", type=Path, help="zip to write (default: build/<function>-function.zip)"
    )
    parser.add_argument("--force", action="store_true", help="rebuild even if up to date")
    args = parser.parse_args()
    out = (args.out or default_out(args.function)).resolve()
    built = build(args.function, out, force=args.force)
    data = out.read_bytes()
    state = "built" if built else "up to date"
    say(
        f"{state}: {out} ({len(data) / 1e6:.1f} MB, sha256 {hashlib.sha256(data).hexdigest()[:16]})"
    )


if __name__ == "__main__":
    main()
