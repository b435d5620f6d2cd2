"""The demo ``make demo`` runs: books written through the REST API, followed into OpenSearch.

It creates a small fixed catalogue through the API, shows one book as the DynamoDB item and as
the indexed document side by side, runs a full-text search, replaces one book and deletes
another, and measures the sync lag of each step: the time from the API's response to the
change being visible to a search. Every book of a run carries a tag unique to the run and is
deleted at the end, so the demo can run any number of times.

Colour and tables on a terminal; plain text when piped (``python scripts/demo.py | cat``).
Settings are those ``make env`` prints. When the stack is down or nothing is deployed, it says
so, with the command that fixes it, and exits 1.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import botocore.exceptions
import requests
from requests_aws4auth import AWS4Auth
from rich import box
from rich.console import Console
from rich.highlighter import JSONHighlighter
from rich.markup import escape
from rich.table import Table
from rich.text import Text

import stackctl

HTTP_TIMEOUT = 5.0  # seconds per request: a local stack answers in milliseconds
SYNC_DEADLINE = 30.0  # seconds for one change to become searchable (normally one or two)
POLL_INTERVAL = 0.05  # seconds between searches while measuring a lag
JSON_HIGHLIGHTER = JSONHighlighter()

CATALOGUE: list[dict[str, Any]] = [
    {
        "title": "Dune",
        "author": "Frank Herbert",
        "year": 1965,
        "isbn": "978-0-441-17271-9",
        "tags": ["science fiction", "ecology"],
        "summary": "On the desert planet Arrakis, Paul Atreides is drawn into a war over the "
        "spice that makes space travel possible.",
    },
    {
        "title": "The Left Hand of Darkness",
        "author": "Ursula K. Le Guin",
        "year": 1969,
        "isbn": "978-0-441-47812-5",
        "tags": ["science fiction", "anthropology"],
        "summary": "An envoy comes to Gethen, a planet of endless winter whose people have no "
        "fixed sex, to invite it into an interstellar union.",
    },
    {
        "title": "Neuromancer",
        "author": "William Gibson",
        "year": 1984,
        "tags": ["cyberpunk"],
        "summary": "A washed-up hacker is hired for one last job against an artificial "
        "intelligence.",
    },
]
SEARCH_TEXT = "desert planet"
RYW_BOOK = {"title": "Solaris", "author": "Stanislaw Lem", "year": 1961}
UPDATED_TITLE, DELETED_TITLE = "Dune", "Neuromancer"


class DemoError(Exception):
    """Something the user can fix; the message says how."""


# ---------------------------------------------------------------------------------------------
# Settings: what `make env` prints, and checks that the stack is up and deployed
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    api_url: str
    table_name: str
    alias: str
    opensearch_url: str
    aws_endpoint_url: str
    region: str


def make_env() -> dict[str, str]:
    """The variables ``make env`` prints (stack addresses, and deployed names after a deploy)."""
    paths = stackctl.Paths.from_env()
    mode = stackctl.chosen_mode(paths, for_up=False)
    return stackctl.env_values(stackctl.load_settings(), paths, mode)


def check_stack_up() -> None:
    settings = stackctl.load_settings()
    down = [f"{s.name} (port {s.port(settings)})" for s in stackctl.not_answering(settings)]
    if down:
        raise DemoError(f"the stack is not up ({', '.join(down)} not answering): run `make up`")


def load_settings() -> Settings:
    check_stack_up()
    env = make_env()
    if "API_URL" not in env:
        raise DemoError("nothing deployed: run `make deploy`")
    settings = Settings(
        api_url=env["API_URL"].rstrip("/"),
        table_name=env["TABLE_NAME"],
        alias=env["INDEX_ALIAS"],
        opensearch_url=env["OPENSEARCH_URL"],
        aws_endpoint_url=env["AWS_ENDPOINT_URL"],
        region=env["AWS_DEFAULT_REGION"],
    )
    check_deployed(settings)
    return settings


def check_deployed(settings: Settings) -> None:
    """The recorded deployment answers: the API lists books and the index alias exists."""
    listed = requests.get(
        f"{settings.api_url}/books",
        params={"limit": 1},
        auth=api_auth(settings.region),
        timeout=HTTP_TIMEOUT,
    )
    if listed.status_code != 200:
        raise DemoError(
            f"nothing deployed (GET /books answers {listed.status_code}): run `make deploy`"
        )
    alias = requests.head(
        f"{settings.opensearch_url}/_alias/{settings.alias}", timeout=HTTP_TIMEOUT
    )
    if alias.status_code != 200:
        raise DemoError(f"the index alias {settings.alias!r} is missing: run `make deploy`")


def api_auth(region: str) -> AWS4Auth:
    """SigV4 for execute-api, as an IAM-protected API on AWS needs (the API's default there):
    the AWS credentials of the environment, else LocalStack's test ones (it checks none)."""
    credentials = boto3.Session().get_credentials()
    if credentials is None:
        return AWS4Auth("test", "test", region, "execute-api")
    return AWS4Auth(region=region, service="execute-api", refreshable_credentials=credentials)


# ---------------------------------------------------------------------------------------------
# The system: the API, the table, the index
# ---------------------------------------------------------------------------------------------


@dataclass
class System:
    settings: Settings
    run_tag: str
    http: requests.Session = field(default_factory=requests.Session)
    created: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.http.auth = api_auth(self.settings.region)
        self.dynamodb = boto3.client(
            "dynamodb",
            endpoint_url=self.settings.aws_endpoint_url,
            region_name=self.settings.region,
            aws_access_key_id="test",  # LocalStack accepts any credentials
            aws_secret_access_key="test",
        )

    # --- API ---

    def call(
        self,
        method: str,
        path: str,
        expected: int,
        body: Any = None,
        params: dict[str, str] | None = None,
    ) -> requests.Response:
        response = self.http.request(
            method,
            f"{self.settings.api_url}{path}",
            json=body,
            params=params,
            timeout=HTTP_TIMEOUT,
        )
        if response.status_code != expected:
            raise DemoError(
                f"{method} {path} answered {response.status_code} (expected {expected}): "
                f"{response.text[:300]}"
            )
        return response

    def create(self, book: dict[str, Any]) -> str:
        book_id = str(self.call("POST", "/books", 201, book).json()["book_id"])
        self.created.append(book_id)
        return book_id

    def replace(self, book_id: str, book: dict[str, Any]) -> None:
        self.call("PUT", f"/books/{book_id}", 200, book)

    def delete(self, book_id: str) -> str:
        """Deletes the book; returns the write's sync_token."""
        token = str(self.call("DELETE", f"/books/{book_id}", 200).json()["sync_token"])
        self.created.remove(book_id)
        return token

    def create_with_token(self, book: dict[str, Any]) -> tuple[str, str]:
        answer = self.call("POST", "/books", 201, book).json()
        self.created.append(str(answer["book_id"]))
        return str(answer["book_id"]), str(answer["sync_token"])

    def search_consistent(self, text: str, tokens: list[str]) -> dict[str, Any]:
        """GET /books/search of this run's books, consistent with the writes of ``tokens``."""
        params = {"q": text, "tag": self.run_tag, "consistent_with": tokens}
        return dict(self.call("GET", "/books/search", 200, params=params).json())

    def search_api(self, text: str) -> dict[str, Any]:
        """GET /books/search, limited to this run's books by a tag filter."""
        params = {"q": text, "tag": self.run_tag}
        return dict(self.call("GET", "/books/search", 200, params=params).json())

    def suggest_api(self, prefix: str) -> list[dict[str, Any]]:
        response = self.call("GET", "/books/suggest", 200, params={"prefix": prefix})
        return list(response.json()["suggestions"])

    # --- DynamoDB and OpenSearch ---

    def item(self, book_id: str) -> dict[str, Any]:
        key = {"book_id": {"S": book_id}}
        return dict(self.dynamodb.get_item(TableName=self.settings.table_name, Key=key)["Item"])

    def search(self, query: dict[str, Any], size: int = 10) -> list[dict[str, Any]]:
        """Hits of a search through the alias, limited to this run's books."""
        body = {
            "query": {"bool": {"must": [query], "filter": [{"term": {"tags": self.run_tag}}]}},
            "size": size,
        }
        response = self.http.post(
            f"{self.settings.opensearch_url}/{self.settings.alias}/_search",
            json=body,
            timeout=HTTP_TIMEOUT,
        )
        response.raise_for_status()
        return list(response.json()["hits"]["hits"])

    def searchable(self, book_id: str) -> dict[str, Any] | None:
        """The book's document if a search finds it (tombstones are hidden by the alias)."""
        hits = self.search({"ids": {"values": [book_id]}}, size=1)
        return hits[0]["_source"] if hits else None

    def clean_up(self) -> int:
        """Delete what this run created and still exists; best effort."""
        removed = 0
        for book_id in list(self.created):
            with contextlib.suppress(requests.RequestException):
                response = self.http.delete(
                    f"{self.settings.api_url}/books/{book_id}", timeout=HTTP_TIMEOUT
                )
                removed += response.status_code == 200
        self.created.clear()
        return removed


def as_json(value: dict[str, Any]) -> Text:
    """A document one attribute per line, each value compact: short enough to sit beside
    another one, and highlighted on a terminal."""
    lines = [
        f"  {json.dumps(key)}: {json.dumps(item, ensure_ascii=False)}"
        for key, item in value.items()
    ]
    text = "{\n" + ",\n".join(lines) + "\n}"
    # rich's JSON highlighter uses the terminal's own palette (readable on light and dark).
    return JSON_HIGHLIGHTER(Text(text))


def without_sync(document: dict[str, Any]) -> dict[str, Any]:
    """The book without the bookkeeping: the stream's (_sync) and the API's write stamp."""
    return {k: v for k, v in document.items() if k not in ("_sync", "sync_write")}


def measure_lag(what: str, visible: Callable[[], bool]) -> float:
    """Seconds until ``visible()`` holds, polling a search; the clock starts at the call, i.e.
    right after the API's response."""
    began = time.monotonic()
    while not visible():
        if time.monotonic() - began > SYNC_DEADLINE:
            log = stackctl.shown(stackctl.Paths.from_env().log_file("localstack"))
            raise DemoError(
                f"{what} was not visible in the index after {SYNC_DEADLINE:.0f} s. The "
                f"function logs to {log}; records it rejects go to the dead-letter queue "
                "(DLQ_URL in `make env`)."
            )
        time.sleep(POLL_INTERVAL)
    return time.monotonic() - began


# ---------------------------------------------------------------------------------------------
# The narrative
# ---------------------------------------------------------------------------------------------


class Demo:
    def __init__(self, console: Console, system: System) -> None:
        self.out = console
        self.system = system
        self.ids: dict[str, str] = {}  # title -> book id
        self.lags: list[tuple[str, str, float]] = []  # (step, book, seconds)

    def table(self, *columns: str, title: str | None = None) -> Table:
        # Box-drawing characters on a terminal, plain ASCII when piped into a file or a log.
        style = box.ROUNDED if self.out.is_terminal else box.ASCII
        table = Table(box=style, title=title, title_justify="left")
        for column in columns:
            table.add_column(column, overflow="fold")  # wrap long values, never cut them
        return table

    def heading(self, text: str) -> None:
        self.out.print()
        self.out.print(f"[bold cyan]{escape(text)}[/]")

    def book(self, title: str) -> dict[str, Any]:
        book = next(b for b in CATALOGUE if b["title"] == title)
        return {**book, "tags": [*book["tags"], self.system.run_tag]}

    def run(self) -> None:
        self.introduce()
        self.create_books()
        self.show_both_shapes(UPDATED_TITLE)
        self.full_text_search()
        self.update_book(UPDATED_TITLE)
        self.delete_book(DELETED_TITLE)
        self.read_your_writes()
        self.summarise_lags()

    def introduce(self) -> None:
        s = self.system.settings
        self.out.print(
            "[bold]ddb-opensearch-sync demo[/]: API Gateway -> DynamoDB -> stream -> "
            "Lambda -> OpenSearch, all on this machine"
        )
        self.out.print(f"  API    {escape(s.api_url)}/books")
        self.out.print(f"  table  {escape(s.table_name)} (DynamoDB on LocalStack)")
        self.out.print(
            f"  index  alias {escape(s.alias)!r} on OpenSearch at {escape(s.opensearch_url)}"
        )
        self.out.print(
            f"  run    every book gets the tag {self.system.run_tag!r}; they are deleted at the end"
        )

    def create_books(self) -> None:
        self.heading(f"1. Create {len(CATALOGUE)} books through the REST API")
        table = self.table("POST /books", "book_id", "searchable after")
        for entry in CATALOGUE:
            book_id, lag = self.create_one(entry["title"])
            table.add_row(escape(entry["title"]), book_id, f"{lag:.2f} s")
        self.out.print(table)

    def create_one(self, title: str) -> tuple[str, float]:
        book_id = self.system.create(self.book(title))
        lag = measure_lag(title, lambda: self.system.searchable(book_id) is not None)
        self.ids[title] = book_id
        self.lags.append(("create", title, lag))
        return book_id, lag

    def show_both_shapes(self, title: str) -> None:
        book_id = self.ids[title]
        self.heading(f"2. {title}: the DynamoDB item and the document the function indexed")
        document = self.system.searchable(book_id)
        table = self.table("DynamoDB item (typed JSON)", "OpenSearch document (_source)")
        table.add_row(as_json(self.system.item(book_id)), as_json(document or {}))
        self.out.print(table)
        self.out.print("  Typed values become plain JSON. _sync holds the stream change (sequence")
        self.out.print("  number, event, time) that orders writes and makes replays harmless.")

    def full_text_search(self) -> None:
        self.heading(f"3. Search through the API: GET /books/search?q={SEARCH_TEXT}")
        found = self.system.search_api(SEARCH_TEXT)
        table = self.table("score", "title", "author", "highlights")
        for item in found["items"]:
            fragments = [f for field in item.get("highlights", {}).values() for f in field]
            table.add_row(
                f"{item['score']:.0f}",
                escape(item["title"]),
                escape(item["author"]),
                escape(" ... ".join(fragments)[:80]),
            )
        self.out.print(table)
        decades = ", ".join(f"{d['decade']}s: {d['count']}" for d in found["facets"]["decades"])
        self.out.print(
            f"  {found['total']} hit(s); typo-tolerant, phrases first; by decade: {decades}"
        )
        prefix = "neu"
        titles = [s["title"] for s in self.system.suggest_api(prefix)]
        self.out.print(
            f"  GET /books/suggest?prefix={prefix} completes to: {escape(', '.join(titles))}"
        )

    def update_book(self, title: str) -> None:
        book_id = self.ids[title]
        changed = {**self.book(title), "summary": "Revised: the spice must flow.", "year": 1966}
        changed["tags"] = [*changed["tags"], "classic"]
        self.heading(f"4. Replace {title} (PUT /books/{{id}}): new summary, year and tag")
        self.system.replace(book_id, changed)
        expected = {"book_id": book_id, **changed}
        lag = measure_lag(
            f"the new {title}",
            lambda: without_sync(self.system.searchable(book_id) or {}) == expected,
        )
        self.lags.append(("update", title, lag))
        hits = self.system.search({"term": {"tags": "classic"}})
        found = ", ".join(escape(h["_source"]["title"]) for h in hits) or "nothing"
        self.out.print(
            f"  searchable after {lag:.2f} s; a search for the tag 'classic' finds: {found}"
        )

    def delete_book(self, title: str) -> None:
        book_id = self.ids[title]
        self.heading(f"5. Delete {title} (DELETE /books/{{id}})")
        self.system.delete(book_id)
        lag = measure_lag(
            f"the deletion of {title}", lambda: self.system.searchable(book_id) is None
        )
        self.lags.append(("delete", title, lag))
        self.out.print(f"  gone from search after {lag:.2f} s. The index keeps a tombstone")
        self.out.print("  (_sync.deleted: true) that the alias hides, so a replayed older change")
        self.out.print("  cannot bring the book back.")

    def read_your_writes(self) -> None:
        title = RYW_BOOK["title"]
        self.heading("6. Read your own writes: search right after a write, with its sync_token")
        table = self.table("right after", "GET /books/search", "finds it", "consistent")
        book_id, created = self.system.create_with_token(
            {**RYW_BOOK, "tags": [self.system.run_tag]}
        )
        self.ryw_row(table, "POST", title, [], book_id)
        self.ryw_row(table, "POST", title, [created], book_id)
        # Searchable on its own first, so that a search right after the delete has a stale copy.
        measure_lag(title, lambda: self.system.searchable(book_id) is not None)
        deleted = self.system.delete(book_id)
        self.ryw_row(table, "DELETE", title, [], book_id)
        self.ryw_row(table, "DELETE", title, [deleted], book_id)
        self.out.print(table)
        self.out.print("  Every write answers with a sync_token; passed back as consistent_with,")
        self.out.print("  the search reads the book in real time and merges it into the answer.")

    def ryw_row(self, table: Table, write: str, text: str, tokens: list[str], book_id: str) -> None:
        page = self.system.search_consistent(text, tokens)
        found = book_id in {item["book_id"] for item in page["items"]}
        how = f"q={text}" + (" &consistent_with=<token>" if tokens else "")
        table.add_row(
            write, escape(how), "yes" if found else "no", str(page.get("consistent", "-"))
        )

    def summarise_lags(self) -> None:
        self.heading("7. Sync lag: from the API's response to the change being searchable")
        table = self.table("step", "book", "lag")
        for step, title, lag in self.lags:
            table.add_row(step, escape(title), f"{lag:.2f} s")
        self.out.print(table)
        lags = [lag for _, _, lag in self.lags]
        self.out.print(f"  min {min(lags):.2f} s, max {max(lags):.2f} s, including the stream")
        self.out.print("  polling (every 0.25 s) and the index's refresh (every 1 s).")


def make_console() -> Console:
    console = Console(emoji=False)
    if console.is_terminal:
        return console
    # Piped: no colour (rich's own choice) and a width that fits two JSON documents side by side.
    return Console(emoji=False, width=120)


@contextlib.contextmanager
def fails_loudly(console: Console) -> Iterator[None]:
    """Known failures as one line with the fix, not a traceback."""
    try:
        yield
    except DemoError as error:
        console.print(f"demo: error: {escape(str(error))}", style="bold red", soft_wrap=True)
        raise SystemExit(1) from None
    except (requests.RequestException, botocore.exceptions.BotoCoreError) as error:
        console.print(
            f"demo: error: the stack stopped answering ({escape(str(error)[:200])}); "
            "check it with `make status`, then run `make up` and `make deploy`",
            style="bold red",
            soft_wrap=True,
        )
        raise SystemExit(1) from None
    except botocore.exceptions.ClientError as error:
        console.print(
            f"demo: error: DynamoDB refused a request ({escape(str(error)[:200])}): "
            "run `make deploy`",
            style="bold red",
            soft_wrap=True,
        )
        raise SystemExit(1) from None
    except KeyboardInterrupt:
        console.print("demo: interrupted (this run's books were removed)", style="bold red")
        raise SystemExit(130) from None


def point_at_console(console: Console) -> None:
    """End where a newcomer goes next: the console that shows the same sync in a browser."""
    url = make_env().get("CONSOLE_URL")
    if url:
        console.print()
        console.print(
            f"[bold]Watch the sync in your browser:[/] {escape(url)} (books, search, both "
            "sides of a book, a live feed of each write's lag, dead letters, reconcile)."
        )


def main() -> int:
    console = make_console()
    errors = Console(stderr=True, emoji=False)
    began = time.monotonic()
    with fails_loudly(errors):
        system = System(load_settings(), run_tag=f"demo-{uuid.uuid4().hex[:8]}")
        try:
            Demo(console, system).run()
        finally:
            removed = system.clean_up()
    console.print()
    console.print(
        f"Removed the {removed} remaining book(s) of this run. Demo finished in "
        f"{time.monotonic() - began:.1f} s."
    )
    point_at_console(console)
    return 0


if __name__ == "__main__":
    sys.exit(main())
