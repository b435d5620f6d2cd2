"""`make deploy` is idempotent: right after a deploy, Terraform sees nothing to change."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.deployed


def test_a_second_plan_shows_no_changes() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "stackctl", "plan"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, f"plan wants changes:\n{result.stdout}\n{result.stderr}"
    assert "No changes." in result.stdout
