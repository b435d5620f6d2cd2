"""A reindex killed with kill -9 at any phase never stops the sync for longer than its lease,
and ``--resume`` still finishes it (issue 12, item 7). The reindex runs as a subprocess that
holds at a phase (``--hold-at``, a hidden test hook) until the test kills it there; the sync is
the deployed function's code on a live pipeline, with its own maintenance function: the sync
role may not lift a block, so after a batch the block refused the sync function invokes the
maintenance function (asynchronously), which lifts it once the lease has run out. Only the
pipeline's sync function knows that maintenance function (the deployed schedules watch the
deployed alias), so the block is lifted on that path or not at all."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ddb_opensearch_sync.ops.reindex import PHASES
from tests.support.aws import book
from tests.support.opensearch import visible_ids
from tests.support.pipeline import check, run_cli, synced_pipeline, target_options
from tests.support.polling import eventually

pytestmark = [pytest.mark.stack, pytest.mark.deployed]

LEASE = 8
"""Seconds; the pipeline's function retries a blocked write for up to 30 s per invocation."""


def phase_of(state_dir: Path) -> str | None:
    try:
        return json.loads((state_dir / "reindex.json").read_text()).get("phase")
    except (OSError, ValueError):
        return None


def test_a_reindex_killed_at_each_phase_leaves_the_sync_running(exact_client, settings, tmp_path):
    items = [book(n) for n in range(30)]
    with synced_pipeline(settings, exact_client, "lease", items, maintenance=True) as (
        table,
        alias,
    ):
        state_dir = tmp_path / "reindex"
        args = (*target_options(settings, table, alias), "--state-dir", str(state_dir))
        args = (*args, "--lease", str(LEASE), "--page-size", "10")
        for number, phase in enumerate(PHASES):
            # GIVEN a reindex killed with SIGKILL while it is in `phase`
            log = (tmp_path / f"reindex-{phase}.log").open("w")
            command = [sys.executable, "-m", "ddb_opensearch_sync.ops.cli", "reindex", *args]
            process = subprocess.Popen([*command, "--hold-at", phase], stdout=log, stderr=log)
            try:
                eventually(
                    lambda process=process: (phase_of(state_dir), process.poll()),
                    lambda seen, phase=phase: seen[0] == phase or seen[1] is not None,
                    f"the reindex to reach {phase}",
                    timeout=120,
                )
                assert process.poll() is None, (tmp_path / f"reindex-{phase}.log").read_text()
            finally:
                os.kill(process.pid, signal.SIGKILL)
                process.wait()
                log.close()

            # THEN a change made now reaches the index once the lease is over, nobody acting
            # (the sync function's failed batch has the maintenance function lift the block)
            fresh = book(1000 + number)
            table.put_all([fresh])
            eventually(
                lambda fresh=fresh: visible_ids(exact_client, alias, [fresh["book_id"]]),
                bool,
                f"the sync to go on after a reindex killed in {phase}",
                timeout=LEASE + 120,
                interval=1.0,
            )

            # AND --resume finishes the reindex, with nothing lost
            code, result = run_cli("reindex", *args, "--resume")
            assert code == 0 and result["switched"], result
            eventually(check(exact_client, table, alias), lambda r: r.in_sync, "index == table")
