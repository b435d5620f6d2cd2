"""The continuation token: where the next page starts, bound to the query it belongs to.

A token is unpadded base64url of compact JSON ``{"v": 1, "f": <fingerprint>, "a": [<score>,
<book_id>]}``: the sort values of the last hit served (``search_after``) and a fingerprint of
the query and filters, so that a token cannot be replayed against another query.

Not signed, on purpose: the token holds nothing a client could not read in the page itself
(a score and a book id), and the values only ever reach OpenSearch as ``search_after`` sort
values, never as query syntax. A forged token can do no more than start a page elsewhere. It
is parsed strictly instead: canonical base64url only, bounded length, exactly these keys,
no duplicate keys, a finite number and a bounded string.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from dataclasses import dataclass
from typing import Any

__all__ = ["MAX_TOKEN_CHARS", "Cursor", "InvalidTokenError", "decode_token", "encode_token"]

TOKEN_VERSION = 1
MAX_TOKEN_CHARS = 2048
MAX_ID_CHARS = 1024
_TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]+")
_KEYS = {"v", "f", "a"}


class InvalidTokenError(ValueError):
    """The token is not one this API made for this query."""


@dataclass(frozen=True, slots=True)
class Cursor:
    """The sort values of the last hit of a page: (score, book_id)."""

    score: float
    book_id: str

    def search_after(self) -> list[Any]:
        return [self.score, self.book_id]

    @classmethod
    def from_sort(cls, values: object) -> Cursor:
        """The cursor of a hit from its ``sort`` values (``[_score, book_id]``)."""
        if (
            not isinstance(values, list)
            or len(values) != 2
            or not _is_finite_number(values[0])
            or not isinstance(values[1], str)
        ):
            raise ValueError(f"a hit's sort values are not [score, book_id]: {values!r:.200}")
        return cls(float(values[0]), values[1])


def _is_finite_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def encode_token(cursor: Cursor, fingerprint: str) -> str:
    payload = {"v": TOKEN_VERSION, "f": fingerprint, "a": cursor.search_after()}
    raw = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return base64.urlsafe_b64encode(raw.encode("utf-8")).decode("ascii").rstrip("=")


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise InvalidTokenError("duplicate key")
    return result


def _reject_constant(name: str) -> Any:
    raise InvalidTokenError(f"{name} is not a number")


def _payload(token: str) -> dict[str, Any]:
    if len(token) > MAX_TOKEN_CHARS or not _TOKEN_PATTERN.fullmatch(token):
        raise InvalidTokenError("not a token")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        text = raw.decode("utf-8")
    except (binascii.Error, ValueError):
        raise InvalidTokenError("not a token") from None
    # One spelling per token: no padding bits or alternative encodings slip through.
    if base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=") != token:
        raise InvalidTokenError("not a token")
    try:
        payload = json.loads(
            text, object_pairs_hook=_reject_duplicates, parse_constant=_reject_constant
        )
    except (json.JSONDecodeError, RecursionError):
        raise InvalidTokenError("not a token") from None
    if not isinstance(payload, dict) or set(payload) != _KEYS:
        raise InvalidTokenError("not a token")
    return payload


def decode_token(token: str, fingerprint: str) -> Cursor:
    """The cursor in ``token``, which must have been made for a query with ``fingerprint``.

    Raises
    ------
    InvalidTokenError
        With a reason fit for the client.
    """
    payload = _payload(token)
    version, owner, after = payload["v"], payload["f"], payload["a"]
    if type(version) is not int or version != TOKEN_VERSION:
        raise InvalidTokenError("unknown token version")
    if not isinstance(after, list) or len(after) != 2:
        raise InvalidTokenError("not a token")
    score, book_id = after
    if not _is_finite_number(score):
        raise InvalidTokenError("not a token")
    if not isinstance(book_id, str) or not 0 < len(book_id) <= MAX_ID_CHARS:
        raise InvalidTokenError("not a token")
    if owner != fingerprint:
        raise InvalidTokenError(
            "it belongs to another query (q and the filters must stay the same between pages)"
        )
    return Cursor(float(score), book_id)
