"""The sync console in a real browser (headless Debian Chromium driven by Playwright), against
the deployed local system: a book made through the page's form goes through the REST API, the
table, the stream and the function into the index, where the page shows it; edited with the
keyboard, the new title reaches the index and a search finds it; deleting it through the page
takes it out of both.

The screenshot it saves (``build/console.png``) is the one the README shows
(``docs/console.png`` is a copy).
"""

from __future__ import annotations

import json
import re

import pytest
import requests
from playwright.sync_api import Locator, Page, expect

import stackctl
from tests.support.aws import receive_until
from tests.support.polling import eventually

pytestmark = pytest.mark.deployed

SYNC_TIMEOUT_MS = 30_000  # one change normally becomes searchable in one or two seconds
RECONCILE_TIMEOUT_MS = 120_000  # a whole-table reconcile: seconds here
SCREENSHOT = stackctl.ROOT / "build" / "console.png"


def test_a_book_made_in_the_page_is_indexed_edited_found_and_deleted(
    page: Page, console_url, marker
):
    title = f"Console check {marker}"
    page.goto(console_url)
    expect(page.locator("#health")).to_contain_text("sync function")
    expect(page.locator("#banner")).to_be_hidden()

    # exact=True: the books listed carry aria-labels with their titles ("View <title>").
    page.get_by_label("Title", exact=True).fill(title)
    page.get_by_label("Author", exact=True).fill("Ada Tester")
    page.get_by_label("Year", exact=True).fill("1999")
    page.locator("#tags").fill(f"console, {marker}")
    page.get_by_label("Summary", exact=True).fill(f"A book the browser test wrote ({marker}).")
    page.get_by_label("Author", exact=True).press("Enter")  # the keyboard submits the form

    created = page.locator("#feed tbody tr").first
    expect(created).to_contain_text("create")
    expect(created).to_have_attribute("data-stored", "yes", timeout=SYNC_TIMEOUT_MS)
    expect(created).to_have_attribute("data-searchable", "yes", timeout=SYNC_TIMEOUT_MS)
    expect_feed_times(created)
    # Both sides of the chosen book: the typed item and the document with its bookkeeping.
    expect(page.locator("#item-json")).to_contain_text(f'"S": "{title}"')
    document = page.locator("#document-json")
    expect(document).to_contain_text(f'"title": "{title}"')
    expect(document).to_contain_text('"_sync"')
    expect(page.locator("#sides-status")).to_contain_text("table and index agree")

    # Edit, with the keyboard only: the chosen book's Edit button fills the form.
    page.locator("#sides-edit").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_label("Title", exact=True)).to_be_focused()
    expect(page.get_by_label("Title", exact=True)).to_have_value(title)
    page.keyboard.press("End")
    page.keyboard.type(" (revised)")
    page.keyboard.press("Enter")
    updated = page.locator("#feed tbody tr").first
    expect(updated).to_contain_text("update")
    expect(updated).to_have_attribute("data-searchable", "yes", timeout=SYNC_TIMEOUT_MS)
    expect_feed_times(updated)
    expect(document).to_contain_text(f'"title": "{title} (revised)"')
    expect(document).to_contain_text('"event": "MODIFY"')

    page.get_by_label("Words", exact=True).fill(marker)
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.locator("#results")).to_contain_text(f"{title} (revised)")
    expect(page.locator("#results mark").first).to_have_text(marker)
    expect(page.locator("#facets")).to_contain_text("1990s (1)")

    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete").click()
    deleted = page.locator("#feed tbody tr").first
    expect(deleted).to_contain_text("delete")
    expect(deleted).to_have_attribute("data-searchable", "yes", timeout=SYNC_TIMEOUT_MS)
    expect_feed_times(deleted)
    expect(page.locator("#item-json")).to_contain_text("no item")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.locator("#search-summary")).to_have_text("0 book(s) match.")


def expect_feed_times(row: Locator) -> None:
    """A write's row in the feed: answered, stored (real-time GET), searchable (search)."""
    for column, heading in enumerate(("Answered after", "Stored after", "Searchable after"), 3):
        expect(row.page.locator("#feed thead th").nth(column)).to_have_text(heading)
        expect(row.locator("td").nth(column)).to_have_text(re.compile(r"^\d+\.\d\d s$"))


def test_a_facet_filters_the_search_and_shows_it_is_selected(
    page: Page, console_url, marker, books_api
):
    titles = {1994: f"Nineties {marker}", 2005: f"Noughties {marker}"}
    ids = [
        books_api.create_ok({"title": t, "author": "Facet Tester", "year": y, "tags": [marker]})
        for y, t in titles.items()
    ]
    try:
        eventually(lambda: [sides(console_url, i)["in_sync"] for i in ids], all, "both searchable")
        page.goto(console_url)
        page.get_by_label("Words", exact=True).fill(marker)
        page.get_by_role("button", name="Search", exact=True).click()
        expect(page.locator("#search-summary")).to_have_text("2 book(s) match.")
        nineties = page.locator("#facets").get_by_role("button", name="1990s (1)")
        expect(nineties).to_have_attribute("aria-pressed", "false")

        nineties.click()
        expect(page.locator("#search-summary")).to_have_text("1 book(s) match.")
        expect(page.locator("#results")).to_contain_text(titles[1994])
        expect(page.locator("#results")).not_to_contain_text(titles[2005])
        expect(nineties).to_have_attribute("aria-pressed", "true")
        expect(page.locator("#filters")).to_contain_text("year_from: 1990")

        nineties.click()  # pressed again: the filter comes off
        expect(page.locator("#search-summary")).to_have_text("2 book(s) match.")
        expect(page.locator("#filters")).to_be_empty()

        tag = page.locator("#facets").get_by_role("button", name=f"{marker} (2)")
        tag.click()
        expect(tag).to_have_attribute("aria-pressed", "true")
        expect(page.locator("#search-summary")).to_have_text("2 book(s) match.")
        expect(page.locator("#filters")).to_contain_text(f"tag: {marker}")
    finally:
        for book_id in ids:
            books_api.delete_ok(book_id)


def test_a_record_the_index_rejects_is_readable_in_the_dead_letter_panel(
    page: Page, console_url, marker, dynamodb_client, table_name, sqs_client, dlq_url
):
    # Written beside the API (which validates years): the index maps year as an integer.
    book_id = f"console-{marker}"
    item = {"book_id": {"S": book_id}, "title": {"S": marker}, "year": {"S": "nineteen"}}
    dynamodb_client.put_item(TableName=table_name, Item=item)
    try:
        page.goto(console_url)
        letter = page.locator(".letter", has_text=book_id)

        def refreshed_count() -> int:
            with page.expect_response("**/api/deadletters"):
                page.locator("#dlq-refresh").click()
            return letter.count()

        eventually(refreshed_count, lambda n: n == 1, "the dead letter in the page", 60, 0.5)
        expect(letter.locator("h3")).to_have_text(f"rejected_document · {book_id}")
        expect(letter).to_contain_text("year")
        letter.get_by_text("The record").click()
        expect(letter.locator("details pre")).to_contain_text('"nineteen"')
        expect(letter.locator("details pre")).to_be_visible()
    finally:
        dynamodb_client.delete_item(TableName=table_name, Key={"book_id": {"S": book_id}})
        # Take this test's message out of the queue (nothing else writes to it in tests).
        receive_until(
            sqs_client, dlq_url, lambda got: any(book_id in json.dumps(m) for m in got), book_id
        )


def test_reconcile_in_the_page_finds_a_missing_document_and_repairs_it(
    page: Page, console_url, marker, books_api, opensearch_client, index_alias
):
    book_id = books_api.create_ok({"title": f"Drift {marker}", "author": "Reconcile Tester"})
    try:
        eventually(lambda: sides(console_url, book_id), lambda s: s["in_sync"], "the book indexed")
        # Behind the sync's back: the document goes, the item stays.
        opensearch_client.delete(index=index_alias, id=book_id, refresh=True)
        page.goto(console_url)

        page.get_by_role("button", name="Compare", exact=True).click()
        row = page.locator("#drift tbody tr", has_text=book_id)
        expect(row).to_contain_text("missing", timeout=RECONCILE_TIMEOUT_MS)
        expect(page.locator("#reconcile-summary")).to_contain_text("Drift.")

        page.get_by_role("button", name="Compare and repair").click()
        summary = page.locator("#reconcile-summary")
        expect(summary).to_contain_text("Repair:", timeout=RECONCILE_TIMEOUT_MS)
        expect(summary).to_contain_text("In sync.")
        # Searchable again after the index's next refresh.
        eventually(lambda: sides(console_url, book_id), lambda s: s["in_sync"], "the repair")
    finally:
        books_api.delete_ok(book_id)


def test_stored_means_the_document_moved_past_the_one_before_a_write(
    console_url, marker, books_api
):
    body = {"title": f"Stored {marker}", "author": "Feed Tester", "year": 2001}
    book_id = books_api.create_ok(body)
    try:
        now = eventually(lambda: indexed(console_url, book_id), lambda v: v["stored"], "stored")
        assert now["seq"] and now["item"] and now["tombstone"] is False

        # The same content, but the item changed since `before` and the seq has not moved:
        # an A -> B -> A write still in the stream, not stored yet.
        older = {"before_seq": now["seq"], "before_item": "an-older-item"}
        assert indexed(console_url, book_id, **older)["stored"] is False
        # A write that changed nothing (no stream record): the content alone shows it.
        unchanged = {"before_seq": now["seq"], "before_item": now["item"]}
        assert indexed(console_url, book_id, **unchanged)["stored"] is True

        books_api.delete_ok(book_id)
        gone = eventually(
            lambda: indexed(console_url, book_id, **unchanged), lambda v: v["stored"], "deleted"
        )
        assert gone["item"] is None and gone["tombstone"] is True
        assert gone["seq"] != now["seq"]
    finally:
        books_api.delete(book_id)


def indexed(console_url: str, book_id: str, **before: str) -> dict:
    url = f"{console_url}api/indexed/{book_id}"
    return requests.get(url, params=before, timeout=30).json()


def sides(console_url: str, book_id: str) -> dict:
    return requests.get(f"{console_url}api/sides/{book_id}", timeout=30).json()


def test_the_page_says_when_nothing_is_deployed_and_what_to_run(page: Page, own_console):
    url = own_console()  # an empty state folder: no deployment recorded
    page.goto(url)
    expect(page.locator("#banner")).to_be_visible()
    expect(page.locator("#banner-problem")).to_have_text("Nothing is deployed to this stack.")
    expect(page.locator("#banner-fix")).to_have_text("make deploy")
    expect(page.locator("#health")).to_contain_text("opensearch")


def test_the_api_says_when_the_stack_is_down_and_what_to_run(own_console):
    url = own_console(LOCALSTACK_PORT="1", OPENSEARCH_PORT="1")  # nothing listens on port 1
    health = requests.get(f"{url}api/health", timeout=30).json()
    books = requests.get(f"{url}api/books", timeout=30)

    assert [s["up"] for s in health["services"]] == [False, False]
    assert health["fix"] == "make up"
    assert books.status_code == 503
    assert books.json()["fix"] == "make up"
    assert books.json()["problem"].startswith("The stack is not up: opensearch (port 1)")


def test_the_readme_shows_a_screenshot_of_the_console() -> None:
    readme = (stackctl.ROOT / "README.md").read_text()
    committed = stackctl.ROOT / "docs" / "console.png"

    assert "docs/console.png" in readme
    assert committed.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
