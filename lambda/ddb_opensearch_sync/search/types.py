"""The search API's JSON shapes (what `query` returns and the handler serialises)."""

from __future__ import annotations

from typing import NotRequired, TypedDict

__all__ = [
    "DecadeCount",
    "ErrorBody",
    "FacetCount",
    "Facets",
    "Highlights",
    "SearchHit",
    "SearchPage",
    "SuggestPage",
    "Suggestion",
]


class FacetCount(TypedDict):
    value: str
    count: int


class DecadeCount(TypedDict):
    decade: int
    """The decade's first year: 1960 counts the years 1960 to 1969."""
    count: int


class Facets(TypedDict):
    tags: list[FacetCount]
    authors: list[FacetCount]
    decades: list[DecadeCount]


class Highlights(TypedDict, total=False):
    """Matched fragments as HTML: the text is escaped, matches are wrapped in ``<em>``."""

    title: list[str]
    summary: list[str]


class SearchHit(TypedDict):
    """A book as the API stores it (its optional fields only when set), plus search data."""

    book_id: str
    title: str
    author: str
    year: NotRequired[int]
    isbn: NotRequired[str]
    tags: NotRequired[list[str]]
    summary: NotRequired[str]
    score: float
    highlights: Highlights


class SearchPage(TypedDict):
    total: int
    """Every book matching the query and filters, not only this page's."""
    items: list[SearchHit]
    facets: Facets
    next_token: str | None


class Suggestion(TypedDict):
    title: str
    book_id: str
    author: NotRequired[str]


class SuggestPage(TypedDict):
    prefix: str
    suggestions: list[Suggestion]


class ErrorBody(TypedDict):
    message: str
