"""Query-string parameters -> validated requests; every rejection says why (HTTP 400).

Parameters arrive as API Gateway passes them to a Lambda proxy integration (URL-decoded, one
list of values per name). Unknown names and repeated single-valued ones are rejected rather
than ignored, so that a typo (``tags=`` for ``tag=``) does not silently widen a search.
User text is only ever carried as data (see `query`): nothing here escapes anything.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .consistency import SyncToken, parse_sync_tokens
from .token import Cursor, InvalidTokenError, decode_token

__all__ = [
    "DEFAULT_SIZE",
    "DEFAULT_SUGGEST_SIZE",
    "MAX_QUERY_CHARS",
    "MAX_QUERY_WORDS",
    "MAX_SIZE",
    "MAX_SUGGEST_SIZE",
    "InvalidParameterError",
    "QueryParameters",
    "SearchRequest",
    "SuggestRequest",
    "count_words",
    "parse_search",
    "parse_suggest",
    "words",
]

QueryParameters = Mapping[str, Sequence[str]]

DEFAULT_SIZE = 10
MAX_SIZE = 50
DEFAULT_SUGGEST_SIZE = 5
MAX_SUGGEST_SIZE = 10
MAX_QUERY_CHARS = 200
MAX_QUERY_WORDS = 10
"""Words as the index's tokenizer counts them (`count_words`). Each word becomes a few clauses
per field, fuzzy ones up to `query.FUZZY_MAX_EXPANSIONS`; OpenSearch refuses a query of more
than 1024 clauses in all."""
MAX_PREFIX_CHARS = 100
MAX_AUTHOR_CHARS = 500  # the BookInput schema's limits
MAX_TAG_CHARS = 100
MAX_TAGS = 10
YEAR_MIN, YEAR_MAX = -5000, 9999

SEARCH_PARAMETERS = (
    "q",
    "author",
    "tag",
    "year_from",
    "year_to",
    "size",
    "next_token",
    "consistent_with",
)
SUGGEST_PARAMETERS = ("prefix", "size", "consistent_with")
_REPEATABLE = frozenset({"tag", "consistent_with"})
# A word as Unicode's word boundaries (UAX #29, which the index's standard tokenizer follows)
# see it: letters joined by ' . : and the like, digits joined by , . ; and the like.
_WORD = re.compile(
    r"\w+(?:(?:(?<=[^\W\d_])['.:\u00b7\u2019](?=[^\W\d_])|(?<=\d)[,.;'\u2019](?=\d))\w+)*"
)
_YEAR = re.compile(r"-?[0-9]{1,4}")
_SIZE = re.compile(r"[0-9]{1,3}")
_ALLOWED_CONTROLS = frozenset("\t\n\r")


class InvalidParameterError(ValueError):
    """A query-string parameter is missing, unknown, repeated or out of bounds."""

    def __init__(self, parameter: str, reason: str) -> None:
        super().__init__(f"invalid parameter {parameter!r}: {reason}")
        self.parameter = parameter
        self.reason = reason


@dataclass(frozen=True, slots=True)
class SearchRequest:
    q: str = ""
    """Full text; empty lists every book."""
    author: str | None = None
    """Exact author, as the ``authors`` facet lists it."""
    tags: tuple[str, ...] = ()
    """Exact tags, as the ``tags`` facet lists them; a book must carry every one."""
    year_from: int | None = None
    year_to: int | None = None
    size: int = DEFAULT_SIZE
    after: Cursor | None = None
    consistent_with: tuple[SyncToken, ...] = ()
    """Writes to show as if searchable (`consistency`); not part of the fingerprint."""

    def fingerprint(self) -> str:
        """What a continuation token is bound to: the query and filters, not the page size."""
        canonical = json.dumps(
            [self.q, self.author, sorted(self.tags), self.year_from, self.year_to],
            ensure_ascii=False,
            separators=(",", ":"),
        )
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class SuggestRequest:
    prefix: str
    size: int = DEFAULT_SUGGEST_SIZE
    consistent_with: tuple[SyncToken, ...] = ()


# --- single values ---------------------------------------------------------------------------


def _values(params: QueryParameters, known: Sequence[str]) -> dict[str, list[str]]:
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise InvalidParameterError(unknown[0], f"unknown parameter (known: {', '.join(known)})")
    values = {name: list(params[name]) for name in params}
    for name, given in values.items():
        if len(given) > 1 and name not in _REPEATABLE:
            raise InvalidParameterError(name, "given more than once")
    return values


def _single(values: dict[str, list[str]], name: str) -> str | None:
    given = values.get(name)
    return given[0] if given else None


def _text(name: str, value: str, max_chars: int) -> str:
    if len(value) > max_chars:
        raise InvalidParameterError(name, f"longer than {max_chars} characters")
    if any(unicodedata.category(c) == "Cc" and c not in _ALLOWED_CONTROLS for c in value):
        raise InvalidParameterError(name, "contains control characters")
    return value


def _filter_text(name: str, value: str, max_chars: int) -> str:
    # Taken verbatim (a book's author or tag may have spaces around it): only "" is refused.
    if value == "":
        raise InvalidParameterError(name, "must not be empty (leave the parameter out instead)")
    return _text(name, value, max_chars)


def _size(value: str | None, default: int, maximum: int) -> int:
    if value is None:
        return default
    if not _SIZE.fullmatch(value) or not 1 <= int(value) <= maximum:
        raise InvalidParameterError("size", f"must be an integer from 1 to {maximum}")
    return int(value)


def _year(name: str, value: str | None) -> int | None:
    if value is None:
        return None
    if not _YEAR.fullmatch(value) or not YEAR_MIN <= int(value) <= YEAR_MAX:
        raise InvalidParameterError(name, f"must be an integer from {YEAR_MIN} to {YEAR_MAX}")
    return int(value)


# --- requests --------------------------------------------------------------------------------


_ONE_CHAR_WORD_NAMES = ("CJK UNIFIED IDEOGRAPH", "CJK COMPATIBILITY IDEOGRAPH", "HIRAGANA")


def _is_one_char_word(char: str) -> bool:
    # The standard tokenizer makes every ideograph and every hiragana character a word of its
    # own (there are no spaces to split on). Hand-written because the standard library's `re`
    # has no script classes; the `regex` package would be a compiled dependency in the
    # function's zip for this one check.
    return unicodedata.name(char, "").startswith(_ONE_CHAR_WORD_NAMES)


def words(text: str) -> list[str]:
    """The words the index's standard tokenizer finds in ``text`` (as many or, for emoji
    sequences, more).

    ``\\w+`` runs alone let a run of CJK characters (one word each to the tokenizer) or
    emoji (not ``\\w`` at all) through uncounted. An emoji sequence joined by U+200D makes one
    word per pictograph here and one in all to the tokenizer: the count errs on the safe side.
    """
    found: list[str] = []
    for word in _WORD.findall(text):
        # Single-character words, and the runs between them, are words of their own.
        found += re.findall(r"\S+", "".join(f" {c} " if _is_one_char_word(c) else c for c in word))
    # Emoji are no ``\\w``, and each is a word of its own to the tokenizer.
    return found + [char for char in text if unicodedata.category(char) == "So"]


def count_words(text: str) -> int:
    return len(words(text))


def _query(value: str | None) -> str:
    q = _text("q", value or "", MAX_QUERY_CHARS).strip()
    if count_words(q) > MAX_QUERY_WORDS:
        raise InvalidParameterError("q", f"has more than {MAX_QUERY_WORDS} words")
    return q


def _tags(values: list[str]) -> tuple[str, ...]:
    if len(values) > MAX_TAGS:
        raise InvalidParameterError("tag", f"given more than {MAX_TAGS} times")
    tags = [_filter_text("tag", tag, MAX_TAG_CHARS) for tag in values]
    return tuple(dict.fromkeys(tags))  # repeated tags add nothing; order kept


def _sync_tokens(values: dict[str, list[str]]) -> tuple[SyncToken, ...]:
    try:
        return parse_sync_tokens(values.get("consistent_with", []))
    except InvalidTokenError as error:
        raise InvalidParameterError("consistent_with", str(error)) from None


def parse_search(params: QueryParameters | None) -> SearchRequest:
    """A `SearchRequest` from ``GET /books/search``'s parameters.

    Raises
    ------
    InvalidParameterError
        For the first parameter found invalid.
    """
    values = _values(params or {}, SEARCH_PARAMETERS)
    author = _single(values, "author")
    year_from = _year("year_from", _single(values, "year_from"))
    year_to = _year("year_to", _single(values, "year_to"))
    if year_from is not None and year_to is not None and year_from > year_to:
        raise InvalidParameterError("year_from", "must not be after year_to")
    request = SearchRequest(
        q=_query(_single(values, "q")),
        author=None if author is None else _filter_text("author", author, MAX_AUTHOR_CHARS),
        tags=_tags(values.get("tag", [])),
        year_from=year_from,
        year_to=year_to,
        size=_size(_single(values, "size"), DEFAULT_SIZE, MAX_SIZE),
        consistent_with=_sync_tokens(values),
    )
    token = _single(values, "next_token")
    if token is None:
        return request
    try:
        after = decode_token(token, request.fingerprint())
    except InvalidTokenError as error:
        raise InvalidParameterError("next_token", str(error)) from None
    return dataclasses.replace(request, after=after)


def parse_suggest(params: QueryParameters | None) -> SuggestRequest:
    """A `SuggestRequest` from ``GET /books/suggest``'s parameters (``prefix`` is required)."""
    values = _values(params or {}, SUGGEST_PARAMETERS)
    prefix = _text("prefix", _single(values, "prefix") or "", MAX_PREFIX_CHARS).strip()
    if not prefix:
        raise InvalidParameterError("prefix", "is required and must not be blank")
    return SuggestRequest(
        prefix=prefix,
        size=_size(_single(values, "size"), DEFAULT_SUGGEST_SIZE, MAX_SUGGEST_SIZE),
        consistent_with=_sync_tokens(values),
    )
