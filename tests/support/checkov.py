"""checkov for tests: one run over the infra/ folder or a plan's JSON, and what it found.

tests/unit/test_infra_static.py scans the folder, tests/integration/test_infra_plan.py the
plans of both roots; both fail on any failed check and on any skip without a written reason.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from typing import Any

import pytest

from tests.support.terraform import ROOT

CHECKOV = ROOT / ".venv" / "checkov" / "bin" / "checkov"
# A skip's reason is written after it (#checkov:skip=CKV_...:<why>); shorter is no reason.
MIN_REASON = 20


@dataclass(frozen=True)
class CheckovFindings:
    """What one checkov run found, over every report it wrote (one per framework)."""

    failed: list[str]
    unjustified: list[str]
    passed: int
    parsing_errors: int


def run_checkov(arguments: list[str], skips: set[str] | None = None) -> CheckovFindings:
    """Run checkov offline with `arguments` (what to scan), skipping the `skips` check ids."""
    if not CHECKOV.exists():
        pytest.fail(f"checkov is not installed at {CHECKOV}: run `make tools` in {ROOT}")
    skip_arguments = ["--skip-check", ",".join(sorted(skips))] if skips else []
    result = subprocess.run(
        [str(CHECKOV), *arguments, *skip_arguments, "--skip-download", "-o", "json"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        # No platform mapping download, no package scan: the run stays offline.
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"},
    )
    loaded: Any = json.loads(result.stdout)
    reports: list[dict[str, Any]] = loaded if isinstance(loaded, list) else [loaded]
    return CheckovFindings(
        failed=[
            f"{check['check_id']} {check['resource']} ({check['file_path']}): {check['check_name']}"
            for report in reports
            for check in report["results"]["failed_checks"]
        ],
        unjustified=[
            f"{check['check_id']} {check['resource']}"
            for report in reports
            for check in report["results"]["skipped_checks"]
            if len(check["check_result"].get("suppress_comment", "").strip()) < MIN_REASON
        ],
        passed=sum(report["summary"]["passed"] for report in reports),
        parsing_errors=sum(report["summary"].get("parsing_errors", 0) for report in reports),
    )
