"""``ddb-opensearch-sync``: operator commands around the index.

``setup-index`` creates the index template, the concrete index and the alias (idempotent; run
at every deploy). Connection options default to the function's environment variables, so the
same names work in a shell, CI and the Lambda environment; explicit options win.

Exit codes: 0 done, 1 OpenSearch or setup error, 2 configuration error, 3 the alias points to
an index with an outdated mapping (it needs a reindex; ``--allow-outdated`` accepts it).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence

from opensearchpy.exceptions import OpenSearchException

from .client import make_client
from .index import INDEX_GENERATION, IndexSetupError, setup_index
from .settings import (
    ENV_INDEX_ALIAS,
    ENV_OPENSEARCH_AUTH,
    ENV_OPENSEARCH_ENDPOINT,
    Auth,
    ConfigurationError,
    Settings,
)

__all__ = ["build_parser", "main"]

PROG = "ddb-opensearch-sync"
EXIT_OUTDATED = 3


def _add_connection_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-v", "--verbose", action="store_true", help="log what is done")
    parser.add_argument(
        "--endpoint", help=f"OpenSearch base URL, path prefix included (${ENV_OPENSEARCH_ENDPOINT})"
    )
    parser.add_argument("--alias", help=f"index alias (${ENV_INDEX_ALIAS}, default: books)")
    parser.add_argument(
        "--auth",
        choices=[a.value for a in Auth],
        help=f"request signing (${ENV_OPENSEARCH_AUTH}, default: none)",
    )
    parser.add_argument("--region", help="AWS region for sigv4 ($AWS_REGION)")
    parser.add_argument("--timeout", type=float, default=30.0, help="request timeout, seconds")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    setup = commands.add_parser(
        "setup-index",
        help="create the index template, the concrete index and the alias (idempotent)",
        description="Create the index template, the concrete index and the alias. Safe to "
        "repeat: an existing alias is left where it points. An index made with an older "
        f"mapping is reported and left alone (exit code {EXIT_OUTDATED}): it needs a reindex.",
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
        return 0 if args.allow_outdated else EXIT_OUTDATED
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if getattr(args, "verbose", False) else logging.WARNING,
        format=f"{PROG}: %(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.run(args))
    except (ConfigurationError, IndexSetupError) as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2 if isinstance(error, ConfigurationError) else 1
    except OpenSearchException as error:
        print(f"{PROG}: error: OpenSearch: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
