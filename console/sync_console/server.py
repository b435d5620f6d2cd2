"""``sync-console``: serve the console on loopback (``stackctl up`` starts it; see ``make env``'s
``CONSOLE_URL``). The port comes from ``--port`` or ``CONSOLE_PORT`` (``stack.env``)."""

from __future__ import annotations

import argparse
import os

import uvicorn

from .app import make_app

DEFAULT_PORT = 8484


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sync-console", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--port", type=int, default=int(os.environ.get("CONSOLE_PORT", DEFAULT_PORT))
    )
    # Loopback only: the console reads and writes the local stack and has no authentication.
    parser.add_argument("--host", default="127.0.0.1", choices=["127.0.0.1", "localhost"])
    args = parser.parse_args(argv)
    uvicorn.run(make_app(), host=args.host, port=args.port, log_level="info", access_log=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
