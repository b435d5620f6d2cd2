"""``ddb-opensearch-sync``: operator commands around the index.

``setup-index`` creates the index template, the concrete index and the alias (idempotent; run
at every deploy). ``backfill`` loads the table into the index, ``reconcile`` compares (and
repairs) them, ``reindex`` rebuilds the index under the alias without downtime, ``replay``
re-syncs the batches the stream mapping gave up on, ``purge-tombstones`` deletes tombstones
older than the stream's retention; each is safe while the stream keeps writing. Connection
options default to the function's environment
variables, so the same names work in a shell, CI and the Lambda environment; explicit options
win. Every command prints one JSON line on stdout; progress and summaries go to stderr.
Exit codes: see `EXIT_CODES`.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import textwrap
import threading
from collections.abc import Callable, Sequence
from enum import IntEnum
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from opensearchpy.exceptions import OpenSearchException

from ..core.mapping import INDEX_GENERATION
from ..core.settings import (
    DEFAULT_ALIAS,
    DEFAULT_LEASE,
    DEFAULT_MARGIN,
    DEFAULT_REQUEST_TIMEOUT,
    DEFAULT_SEGMENTS,
    DEFAULT_SETTLE,
    DEFAULT_STATE_DIR,
    ENV_DLQ_URL,
    ENV_INDEX_ALIAS,
    ENV_OPENSEARCH_AUTH,
    ENV_OPENSEARCH_ENDPOINT,
    ENV_TABLE_NAME,
    Auth,
    ConfigurationError,
    Settings,
)
from ..index.client import make_client
from ..index.lease import release_expired_lease
from ..index.setup import IndexSetupError, setup_index
from .reindex import PHASES

__all__ = ["ExitCode", "build_parser", "main"]

PROG = "ddb-opensearch-sync"


class ExitCode(IntEnum):
    """What a script can rely on (also in ``--help``)."""

    OK = 0
    ERROR = 1
    USAGE = 2
    DRIFT = 3
    """The index needs attention: drift (reconcile) or an outdated mapping (setup-index)."""
    REJECTED = 4
    INCOMPLETE = 5
    INTERRUPTED = 130


EXIT_CODES = """exit codes:
  0    done: backfilled, in sync (reconcile), switched (reindex)
  1    error: OpenSearch, DynamoDB or AWS failed; documents not written after retries
  2    usage or configuration error
  3    the index needs attention: reconcile found drift (and, with --repair, not all of it
       was repaired); setup-index found an outdated mapping (reindex, or --allow-outdated)
  4    done, but some items cannot be indexed (the function dead-letters them too)
  5    stopped by --max-pages; continue with --resume
  130  interrupted (Ctrl-C); continue with --resume
"""


def _add_connection_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-v", "--verbose", action="store_true", help="log what is done")
    parser.add_argument(
        "--endpoint", help=f"OpenSearch base URL, path prefix included (${ENV_OPENSEARCH_ENDPOINT})"
    )
    parser.add_argument(
        "--alias", help=f"index alias (${ENV_INDEX_ALIAS}, default: {DEFAULT_ALIAS})"
    )
    parser.add_argument(
        "--auth",
        choices=[a.value for a in Auth],
        help=f"request signing (${ENV_OPENSEARCH_AUTH}, default: none)",
    )
    parser.add_argument("--region", help="AWS region for sigv4 ($AWS_REGION)")
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_REQUEST_TIMEOUT,
        help=f"request timeout, seconds (default: {DEFAULT_REQUEST_TIMEOUT:g})",
    )


def _add_table_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--table", help=f"DynamoDB table name (${ENV_TABLE_NAME})")
    parser.add_argument(
        "--dynamodb-endpoint", help="DynamoDB endpoint URL (default: $AWS_ENDPOINT_URL or AWS)"
    )
    parser.add_argument(
        "--segments",
        type=_positive,
        default=DEFAULT_SEGMENTS,
        help=f"parallel scan segments/workers (default: {DEFAULT_SEGMENTS})",
    )
    parser.add_argument(
        "--page-size", type=_positive, help="items per Scan page (default: DynamoDB's 1 MB pages)"
    )
    parser.add_argument(
        "--progress",
        choices=["auto", "bar", "plain", "none"],
        default="auto",
        help="a progress bar on a terminal, plain lines otherwise (default: auto)",
    )


def _add_state_option(parser: argparse.ArgumentParser, flag: str, what: str, folder: str) -> None:
    """A folder option whose default is `state.state_dir`'s."""
    parser.add_argument(flag, type=Path, help=f"{what} (default: ./{DEFAULT_STATE_DIR}/{folder})")


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _command(
    commands: Any,
    name: str,
    run: Callable[[argparse.Namespace], int],
    help_text: str,
    description: str,
    *,
    table: bool = True,
) -> Any:
    """A subcommand that calls `run`, with the exit-code table, the connection options and
    (unless `table` is false) the table options."""
    parser = commands.add_parser(
        name,
        help=help_text,
        # Raw formatting keeps the exit-code table; the prose is wrapped here instead.
        description=textwrap.fill(description, 88),
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(run=run)
    _add_connection_options(parser)
    if table:
        _add_table_options(parser)
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=__doc__.split("\n")[0],
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    setup = commands.add_parser(
        "setup-index",
        help="create the index template, the concrete index and the alias (idempotent)",
        description="Create the index template, the concrete index and the alias. Safe to "
        "repeat: an existing alias is left where it points. An index made with an older "
        f"mapping is reported and left alone (exit code {ExitCode.DRIFT}): it needs a reindex.",
    )
    _add_connection_options(setup)
    setup.add_argument(
        "--generation",
        type=int,
        default=INDEX_GENERATION,
        help="mapping generation; the concrete index is <alias>-v<n> "
        f"(default: {INDEX_GENERATION})",
    )
    setup.add_argument(
        "--allow-outdated",
        action="store_true",
        help="exit 0 when the alias points to an index with an outdated mapping (still warned)",
    )
    setup.set_defaults(run=_setup_index)

    backfill = _command(
        commands,
        "backfill",
        _backfill,
        "load every table item into the index (parallel scan, resumable)",
        "Load every item of the table into the index through the alias, with the function's "
        "own mapping and writer. Safe while the stream is live: a backfilled document never "
        "overwrites one already indexed, and every stream change wins over it. Checkpoints "
        "after every page; --resume continues an interrupted run.",
    )
    backfill.add_argument("--resume", action="store_true", help="continue from the checkpoints")
    _add_state_option(
        backfill, "--checkpoint-dir", "where checkpoints live", "backfill-<table>-<alias>"
    )
    backfill.add_argument(
        "--max-pages", type=_positive, help="stop after writing this many pages (exit code 5)"
    )

    reconcile = _command(
        commands,
        "reconcile",
        _reconcile,
        "compare table and index; report (and --repair) missing, extra and stale documents",
        "Compare every table item with its document (content without _sync) and report "
        "missing, extra and stale documents. Differences are observed again for --settle "
        "seconds, so changes still in flight through the stream are not reported as drift.",
    )
    reconcile.add_argument("--repair", action="store_true", help="fix the drift found")
    reconcile.add_argument("--report", type=Path, help="write the JSON report to this file")
    reconcile.add_argument(
        "--settle",
        type=float,
        default=DEFAULT_SETTLE,
        help=f"seconds a difference may take to resolve itself (default: {DEFAULT_SETTLE:g})",
    )

    reindex = _command(
        commands,
        "reindex",
        _reindex,
        "rebuild the index under the alias from the table, without downtime",
        "Create <alias>-v<n+1> with the current mapping, backfill it from the table, copy "
        "the changes the function made meanwhile, then move the alias atomically. Readers "
        "and the function never see an empty or partial index; the old index is kept "
        "(write-blocked) unless --delete-old.",
    )
    reindex.add_argument("--generation", type=_positive, help="new index generation")
    reindex.add_argument("--delete-old", action="store_true", help="delete the old index")
    reindex.add_argument("--resume", action="store_true", help="continue an interrupted run")
    reindex.add_argument("--abort", action="store_true", help="undo an unfinished run")
    _add_state_option(reindex, "--state-dir", "state and checkpoints", "reindex-<alias>")
    reindex.add_argument(
        "--margin",
        type=float,
        default=DEFAULT_MARGIN,
        help="seconds of clock difference allowed between this host and DynamoDB "
        f"(default: {DEFAULT_MARGIN:g})",
    )
    reindex.add_argument(
        "--max-pages", type=_positive, help="stop the backfill after this many pages (exit 5)"
    )
    reindex.add_argument(
        "--lease",
        type=float,
        default=DEFAULT_LEASE,
        help="seconds the old index may stay write-blocked if this run dies; the sync lifts an "
        f"expired block itself (default: {DEFAULT_LEASE:g})",
    )
    # Test hook (not in --help): wait on entering a phase, so a test can kill the run there.
    reindex.add_argument("--hold-at", choices=PHASES, help=argparse.SUPPRESS)

    replay = _command(
        commands,
        "replay",
        _replay,
        "re-sync the batches the stream mapping gave up on (from the dead-letter queue)",
        "Read the on-failure records the event source mapping sent to the dead-letter "
        "queue (stream, shard, first and last sequence number), read exactly those "
        "records from the stream again and sync them as the function does; delete each "
        "message once its records are written. Batches the stream no longer holds are "
        "repaired by one reconcile --repair of the table (needs --table). The function's "
        "own dead letters are left in the queue.",
    )
    replay.add_argument("--queue-url", help=f"the dead-letter queue (${ENV_DLQ_URL})")
    replay.add_argument(
        "--max-messages", type=_positive, help="stop after this many on-failure records"
    )

    purge = _command(
        commands,
        "purge-tombstones",
        _purge_tombstones,
        "delete tombstones older than the stream's 24 h retention",
        "Delete the tombstones (documents of deleted items) whose _sync.ts is older than "
        "the stream's 24-hour retention plus --margin: no replay can reach back that far. "
        "Younger tombstones, and tombstones without a time, stay. Runs as an OpenSearch "
        "task and shows its progress; on AWS a schedule runs it daily.",
        table=False,
    )
    purge.add_argument(
        "--margin",
        type=float,
        default=DEFAULT_MARGIN,
        help="extra seconds kept beyond the retention, for clock differences "
        f"(default: {DEFAULT_MARGIN:g})",
    )
    purge.add_argument(
        "--progress",
        choices=["auto", "bar", "plain", "none"],
        default="auto",
        help="a progress bar on a terminal, plain lines otherwise (default: auto)",
    )
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    return Settings.from_env(
        endpoint=args.endpoint, alias=args.alias, auth=args.auth, region=args.region
    )


def _setup_index(args: argparse.Namespace) -> int:
    settings = _settings(args)
    client = make_client(
        settings.endpoint, auth=settings.auth, region=settings.region, timeout=args.timeout
    )
    result = setup_index(client, settings.alias, generation=args.generation)
    print(json.dumps(result.as_dict()))
    if result.outdated:
        # Said on stderr, and by the exit code, so that a deploy does not go on silently with
        # a mapping search cannot use.
        level = "warning" if args.allow_outdated else "error"
        print(f"{PROG}: {level}: {result.outdated_message()}", file=sys.stderr)
        return ExitCode.OK if args.allow_outdated else ExitCode.DRIFT
    return 0


def _purge_tombstones(args: argparse.Namespace) -> int:
    from ..index.purge import start_purge, wait_for_purge
    from .progress import make_progress

    if args.margin < 0:
        raise ConfigurationError("--margin must not be negative")
    settings = _settings(args)
    client = make_client(
        settings.endpoint, auth=settings.auth, region=settings.region, timeout=args.timeout
    )
    release_expired_lease(client, settings.alias)
    progress = make_progress(args.progress)
    shown = {"done": 0, "started": False}

    def on_status(done: int, total: int) -> None:
        if not shown["started"]:
            progress.start("purge-tombstones", total or None)
            shown["started"] = True
        progress.advance(done - shown["done"])
        shown["done"] = done

    try:
        report = start_purge(client, settings.alias, margin=args.margin)
        wait_for_purge(client, report, on_status)
    finally:
        if shown["started"]:
            progress.finish()
    _print_result(report.as_dict())
    print(
        f"purge-tombstones {report.alias} ({report.index}): {report.deleted} tombstones older "
        f"than {report.cutoff} deleted, {report.conflicts} changed meanwhile and kept",
        file=sys.stderr,
    )
    return ExitCode.OK if report.completed else ExitCode.ERROR


# --- data commands ----------------------------------------------------------------------


class _Context:
    """What the data commands share: settings, clients, the table, the progress display."""

    def __init__(self, args: argparse.Namespace) -> None:
        from .progress import make_progress
        from .table import TableInfo, make_dynamodb_client

        self.settings = _settings(args)
        table = args.table or os.environ.get(ENV_TABLE_NAME)
        if not table:
            raise ConfigurationError(f"{ENV_TABLE_NAME} is not set (or pass --table)")
        # Exact numbers: reconcile compares documents and reindex copies them.
        self.client = make_client(
            self.settings.endpoint,
            auth=self.settings.auth,
            region=self.settings.region,
            timeout=args.timeout,
            exact_numbers=True,
        )
        # A reindex killed while writes were paused: once its lease is over, any command lifts
        # the block (the function does too, `index.lease`).
        release_expired_lease(self.client, self.settings.alias)
        self.dynamodb = make_dynamodb_client(self.settings.region, args.dynamodb_endpoint)
        self.table = TableInfo.describe(self.dynamodb, table)
        self.progress = make_progress(args.progress)
        self.writer_options: dict[str, Any] = {
            "max_bytes": self.settings.bulk_max_bytes,
            "max_actions": self.settings.bulk_max_actions,
            "request_timeout": args.timeout,
        }

    def writer(self, alias: str | None = None) -> Any:
        from ..index.writer import BulkWriter

        return BulkWriter(self.client, alias or self.settings.alias, **self.writer_options)


def _print_result(result: dict[str, Any]) -> None:
    print(json.dumps(result, default=str), flush=True)


def _stopped_code(stopped: str | None) -> ExitCode:
    return ExitCode.INTERRUPTED if stopped == "interrupted" else ExitCode.INCOMPLETE


def _backfill(args: argparse.Namespace) -> int:
    from .backfill import BackfillOptions, run_backfill
    from .state import state_dir

    context = _Context(args)
    alias = context.settings.alias
    options = BackfillOptions(
        segments=args.segments,
        page_size=args.page_size,
        checkpoint_dir=args.checkpoint_dir or state_dir("backfill", context.table.name, alias),
        resume=args.resume,
        max_pages=args.max_pages,
    )
    report = run_backfill(
        context.dynamodb, context.writer(), context.table, options, progress=context.progress
    )
    _print_result(report.as_dict())
    print(
        f"backfill {report.table} -> {report.target}: {report.scanned} items, "
        f"{report.written} written, {report.stale} already indexed, {report.rejected} rejected"
        + (f"; stopped ({report.stopped}), continue with --resume" if report.stopped else ""),
        file=sys.stderr,
    )
    if not report.completed:
        return _stopped_code(report.stopped)
    return ExitCode.REJECTED if report.rejected else ExitCode.OK


def _reconcile(args: argparse.Namespace) -> int:
    from .reconcile import ReconcileOptions, reconcile

    context = _Context(args)
    options = ReconcileOptions(
        segments=args.segments,
        page_size=args.page_size,
        settle=args.settle,
        repair=args.repair,
        ttl_policy=context.settings.ttl_policy,
    )
    report = reconcile(
        context.dynamodb,
        context.client,
        context.writer(),
        context.table,
        options,
        progress=context.progress,
    )
    result = report.as_dict(options.max_listed)
    if args.report:
        args.report.write_text(json.dumps(result, indent=2, default=str) + "\n", encoding="utf-8")
    _print_result(result)
    print(report.summary(), file=sys.stderr)
    if report.repair is not None and report.repair["failed"]:
        return ExitCode.ERROR
    if not report.in_sync:
        return ExitCode.DRIFT
    rejected = report.unindexable or (report.repair and report.repair["rejected"])
    return ExitCode.REJECTED if rejected else ExitCode.OK


def _reindex(args: argparse.Namespace) -> int:
    from .backfill import BackfillOptions
    from .reindex import ReindexOptions, abort_reindex, reindex
    from .state import state_dir

    context = _Context(args)
    alias = context.settings.alias
    options = ReindexOptions(
        state_dir=args.state_dir or state_dir("reindex", alias),
        backfill=BackfillOptions(
            segments=args.segments, page_size=args.page_size, max_pages=args.max_pages
        ),
        generation=args.generation,
        margin=args.margin,
        delete_old=args.delete_old,
        resume=args.resume,
        lease=args.lease,
        ttl_policy=context.settings.ttl_policy,
        hold_at=args.hold_at,
    )
    if args.abort:
        _print_result(abort_reindex(context.client, alias, options))
        return ExitCode.OK
    report = reindex(
        context.dynamodb,
        context.client,
        context.table,
        alias,
        options,
        writer_options=context.writer_options,
        progress=context.progress,
        stop=threading.Event(),
    )
    _print_result(report.as_dict())
    if not report.switched:
        print(f"reindex stopped ({report.stopped}); continue with --resume", file=sys.stderr)
        return _stopped_code(report.stopped)
    paused = "an earlier run" if report.frozen_seconds is None else f"{report.frozen_seconds} s"
    print(
        f"reindex {report.alias}: {report.old_index} -> {report.new_index} "
        f"(writes paused: {paused})"
        + ("; old index deleted" if report.deleted_old else "; old index kept, write-blocked"),
        file=sys.stderr,
    )
    rejected = (report.backfill or {}).get("rejected")
    return ExitCode.REJECTED if rejected else ExitCode.OK


def _aws_client(service: str, region: str | None, endpoint_url: str | None = None) -> Any:
    import boto3

    return boto3.client(service, region_name=region, endpoint_url=endpoint_url or None)


def _replay(args: argparse.Namespace) -> int:
    from ..index.writer import BulkWriter
    from ..sync.batch import BatchSyncer
    from ..sync.deadletter import SqsDeadLetters
    from .progress import make_progress
    from .reconcile import ReconcileOptions, reconcile
    from .replay import ReplayOptions, replay
    from .table import TableInfo, make_dynamodb_client

    settings = _settings(args)
    queue_url = args.queue_url or settings.dlq_url
    if not queue_url:
        raise ConfigurationError(f"{ENV_DLQ_URL} is not set (or pass --queue-url)")
    client = make_client(
        settings.endpoint,
        auth=settings.auth,
        region=settings.region,
        timeout=args.timeout,
        exact_numbers=True,
    )
    options = {"max_bytes": settings.bulk_max_bytes, "max_actions": settings.bulk_max_actions}
    writer = BulkWriter(
        client, settings.alias, request_timeout=args.timeout, check_first=True, **options
    )
    sqs = _aws_client("sqs", settings.region)
    dead_letters = SqsDeadLetters(
        queue_url,
        sqs=sqs,
        region=settings.region,
        context={"function": f"{PROG} replay", "index_alias": settings.alias},
        bucket=settings.dead_letter_bucket,
    )
    syncer = BatchSyncer(writer, dead_letters, ttl_policy=settings.ttl_policy)
    streams = _aws_client("dynamodbstreams", settings.region, args.dynamodb_endpoint)
    table = args.table or os.environ.get(ENV_TABLE_NAME)
    fallback = None
    if table:
        dynamodb = make_dynamodb_client(settings.region, args.dynamodb_endpoint)

        def fallback() -> Any:
            repair = ReconcileOptions(
                segments=args.segments,
                page_size=args.page_size,
                repair=True,
                ttl_policy=settings.ttl_policy,
            )
            info = TableInfo.describe(dynamodb, table)
            # Reconcile's repairs carry their own versions (conditional on what it observed):
            # a writer without `check_first`, which would judge them by sequence number.
            repairs = BulkWriter(client, settings.alias, request_timeout=args.timeout, **options)
            return reconcile(dynamodb, client, repairs, info, repair)

    progress = make_progress(args.progress)
    report = replay(
        sqs,
        streams,
        syncer,
        ReplayOptions(queue_url=queue_url, max_messages=args.max_messages),
        fallback=fallback,
        progress=progress,
    )
    _print_result(report.as_dict())
    print(report.summary(), file=sys.stderr)
    if not report.ok:
        return ExitCode.ERROR
    return ExitCode.REJECTED if report.counts["dead_lettered"] else ExitCode.OK


def main(argv: Sequence[str] | None = None) -> int:
    from .backfill import BackfillError
    from .reindex import ReindexError

    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if getattr(args, "verbose", False) else logging.WARNING,
        format=f"{PROG}: %(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.run(args))
    except ConfigurationError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return ExitCode.USAGE
    except (IndexSetupError, BackfillError, ReindexError) as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return ExitCode.ERROR
    except OpenSearchException as error:
        print(f"{PROG}: error: OpenSearch: {error}", file=sys.stderr)
        return ExitCode.ERROR
    except (ClientError, BotoCoreError) as error:
        print(f"{PROG}: error: AWS: {error}", file=sys.stderr)
        return ExitCode.ERROR
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return ExitCode.INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
