"""The continuation token: where the next page starts, bound to the query it belongs to.

A token is unpadded base64url of a fixed binary layout (version 2)::

    version (1 byte, 2) | fingerprint (8 bytes) | score (IEEE 754 double, big-endian) | book_id

the sort values of the last hit served (``search_after``) and a fingerprint of the query and
filters, so that a token cannot be replayed against another query. ``book_id`` is the rest:
its UTF-8 bytes, 1 to `MAX_ID_BYTES` (DynamoDB's limit for a string key), raw rather than
escaped, so that the longest id still makes a token of at most `MAX_TOKEN_CHARS` characters,
which the API accepts (its OpenAPI ``maxLength``) and API Gateway's URL limits leave room for.
(Version 1 was JSON: an id with quotes or control characters grew up to six times when
escaped, and a score written as a huge integer could not be read as a float.)

Not signed, on purpose: the token holds nothing a client could not read in the page itself
(a score and a book id), and the values only ever reach OpenSearch as ``search_after`` sort
values, never as query syntax. A forged token can do no more than start a page elsewhere. It
is parsed strictly instead: canonical base64url only, bounded length, this version, a finite
score and valid UTF-8.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
import struct
from dataclasses import dataclass
from typing import Any

__all__ = [
    "MAX_ID_BYTES",
    "MAX_TOKEN_CHARS",
    "Cursor",
    "InvalidTokenError",
    "decode_token",
    "encode_token",
    "strict_base64url",
]

TOKEN_VERSION = 2
MAX_ID_BYTES = 2048
"""DynamoDB's limit for a partition key: the longest ``book_id`` any writer can store."""
_HEADER = struct.Struct(">B8sd")
MAX_TOKEN_CHARS = math.ceil((_HEADER.size + MAX_ID_BYTES) * 4 / 3)
"""2755: the longest id's token (the OpenAPI document's ``maxLength`` for ``next_token``)."""
_TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]+")


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
            or not isinstance(values[0], int | float)
            or isinstance(values[0], bool)
            or not isinstance(values[1], str)
        ):
            raise ValueError(f"a hit's sort values are not [score, book_id]: {values!r:.200}")
        return cls(float(values[0]), values[1])


def encode_token(cursor: Cursor, fingerprint: str) -> str:
    header = _HEADER.pack(TOKEN_VERSION, bytes.fromhex(fingerprint), cursor.score)
    raw = header + cursor.book_id.encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def strict_base64url(token: str, max_chars: int) -> bytes:
    """The bytes of unpadded, canonical base64url text of at most ``max_chars`` characters.

    Raises
    ------
    InvalidTokenError
        For anything else (padding, the standard alphabet, non-zero padding bits).
    """
    if len(token) > max_chars or not _TOKEN_PATTERN.fullmatch(token):
        raise InvalidTokenError("not a token")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        raise InvalidTokenError("not a token") from None
    # One spelling per token: no padding bits or alternative encodings slip through.
    if base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=") != token:
        raise InvalidTokenError("not a token")
    return raw


def decode_token(token: str, fingerprint: str) -> Cursor:
    """The cursor in ``token``, which must have been made for a query with ``fingerprint``.

    Raises
    ------
    InvalidTokenError
        With a reason fit for the client.
    """
    raw = strict_base64url(token, MAX_TOKEN_CHARS)
    if len(raw) <= _HEADER.size or len(raw) > _HEADER.size + MAX_ID_BYTES:
        raise InvalidTokenError("not a token")
    version, owner, score = _HEADER.unpack_from(raw)
    if version != TOKEN_VERSION:
        raise InvalidTokenError("unknown token version")
    if not math.isfinite(score):
        raise InvalidTokenError("not a token")
    try:
        book_id = raw[_HEADER.size :].decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidTokenError("not a token") from None
    if owner.hex() != fingerprint:
        raise InvalidTokenError(
            "it belongs to another query (q and the filters must stay the same between pages)"
        )
    return Cursor(score, book_id)
