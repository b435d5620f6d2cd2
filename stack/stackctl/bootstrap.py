"""The first step of every `make` target: create the project's virtualenv, ``.venv/tools``.

The Makefile runs this one file with the system's ``python3`` (standard library only, nothing
else installed yet): it finds a suitable Python (3.12 preferred: it is the Lambda runtime's
version; pyenv versions count even when not selected) and installs the project and this stack
package into ``.venv/tools``, which then provides the ``stackctl`` command. It reinstalls only
when its inputs change.

Its helpers (finding a Python, a virtualenv kept up to date by a stamp of its inputs) are the
ones ``stackctl.toolchain`` uses for the other virtualenvs.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
VENV_DIR = ROOT / ".venv"
TOOLS_VENV = VENV_DIR / "tools"
TOOLS_PYTHONS = ("3.12", "3.13", "3.11")  # 3.12 first: it is the Lambda runtime's version
# The project (with its dev and bench extras), this stack package and the console, all editable.
TOOLS_PIP_ARGS = ["-e", "./stack", "-e", ".[dev,bench]", "-e", "./console"]  # pip runs in ROOT
TOOLS_INPUTS = [
    ROOT / "pyproject.toml",
    ROOT / "stack" / "pyproject.toml",
    ROOT / "console" / "pyproject.toml",
]


class StackError(Exception):
    """A problem the user can fix; the message names the fix."""


def say(message: str) -> None:
    print(f"stack: {message}", flush=True)


def shown(path: Path) -> str:
    """A path as short as it can be said: relative to the project when inside it."""
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def run(argv: list[str], **kwargs: Any) -> None:
    """Run a set-up step quietly; when it fails, show the end of its output and the command."""
    result = subprocess.run(argv, text=True, capture_output=True, check=False, **kwargs)
    if result.returncode != 0:
        output = "\n".join((result.stdout + result.stderr).strip().splitlines()[-30:])
        raise StackError(f"`{' '.join(argv)}` failed with exit code {result.returncode}:\n{output}")


def digest(*items: Path | str) -> str:
    """A stamp of the inputs of an install step, so that it reruns only when they change."""
    h = hashlib.sha256()
    for item in items:
        if isinstance(item, Path):
            files = sorted(p for p in item.rglob("*") if p.is_file()) if item.is_dir() else [item]
            for f in files:
                if "__pycache__" in f.parts or "target" in f.parts or ".egg-info" in str(f):
                    continue
                h.update(str(f.relative_to(ROOT)).encode())
                h.update(f.read_bytes())
        else:
            h.update(item.encode())
    return h.hexdigest()


def up_to_date(stamp: Path, key: str) -> bool:
    return stamp.exists() and stamp.read_text() == key


def python_version_of(executable: str) -> str | None:
    try:
        out = subprocess.run(
            [executable, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def find_python(version: str) -> str | None:
    """Find a working ``python<version>``: on PATH, or installed by pyenv but not selected."""
    candidates = [shutil.which(f"python{version}") or ""]
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    # pyenv's shim exists even when the version is not selected; look at its versions directly.
    candidates += sorted(
        (str(p) for p in pyenv_root.glob(f"versions/{version}.*/bin/python{version}")),
        key=lambda p: [int(x) for x in re.findall(r"\d+", Path(p).parts[-3])],
        reverse=True,
    )
    candidates += [f"/usr/bin/python{version}", f"/usr/local/bin/python{version}"]
    for candidate in candidates:
        if candidate and python_version_of(candidate) == version:
            return candidate
    return None


def require_python(version: str, why: str) -> str:
    python = find_python(version)
    if python is None:
        raise StackError(
            f"Python {version} not found ({why}). Install it, e.g. `pyenv install {version}` "
            f"or `apt-get install python{version}`, then rerun."
        )
    return python


def tools_python() -> str:
    """The Python the project's own virtualenvs use (tools, checkov)."""
    python = next((p for v in TOOLS_PYTHONS if (p := find_python(v))), None)
    if python is None:
        raise StackError("Python 3.11+ not found. Install one (e.g. `pyenv install 3.12`).")
    return python


def ensure_venv(venv: Path, python: str, pip_args: list[str], inputs: list[Path | str]) -> Path:
    """Create or refresh a virtualenv; skip all work when its inputs have not changed."""
    stamp = venv / ".installed"
    key = digest(python, *pip_args, *inputs)
    if up_to_date(stamp, key):
        stamp.touch()  # newer than its inputs again, so that make skips this step next time
        return venv / "bin" / "python"
    say(f"installing {shown(venv)} (first run takes a minute) ...")
    if not (venv / "bin" / "python").exists():
        run([python, "-m", "venv", str(venv)])
    run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", *pip_args], cwd=ROOT)
    stamp.write_text(key)
    return venv / "bin" / "python"


def ensure_tools_venv() -> Path:
    """The project's own venv: tests, the Terraform wrapper, the demo, both CLIs."""
    return ensure_venv(TOOLS_VENV, tools_python(), TOOLS_PIP_ARGS, list(TOOLS_INPUTS))


def main() -> int:
    try:
        ensure_tools_venv()
    except StackError as error:
        print(f"stack: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
