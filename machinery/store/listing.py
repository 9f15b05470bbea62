"""Listings read one page at a time, by a range on an index rather than a skip.

A listing is sorted on a key that is unique and indexed (events: `acked_at` then `_id`, newest
first; definitions: `name`). A page ends with a cursor: the key of its last item, encoded as an
opaque token. The next page is the items after that key: one range query on the index, whose
cost does not depend on how far into the listing it is.

Counting the whole listing is done only when asked for (`count`): a count reads every matching
index key (or document), so it grows with the listing where a page does not.

`page` (a page number) is kept for clients written before cursors: it skips the items before
the page and counts them all, so its cost grows with the page number and the listing's size.
"""

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass

from pymongo.collection import Collection

from machinery.errors import InvalidData
from machinery.store.documents import to_plain

# A cursor longer than this was never given by Machinery.
MAX_CURSOR_LENGTH = 512


@dataclass(frozen=True)
class PageRequest:
    """Which page of a listing to read, and whether to count the whole listing.

    `cursor`: the token the previous page gave (None: the first page). `page`: a page number,
    for compatibility (it skips, and counts unless `count` is False). `count` None: count only
    for `page`.
    """

    size: int
    cursor: str | None = None
    page: int | None = None
    count: bool | None = None

    @property
    def counted(self) -> bool:
        return self.count if self.count is not None else self.page is not None


@dataclass(frozen=True)
class Page:
    """The items of one page, the cursor to the next (None on the last), and, when counted,
    how many items the whole listing holds."""

    items: list[dict]
    next: str | None = None
    total: int | None = None


@dataclass(frozen=True)
class Order:
    """How a listing is sorted, and how a cursor into it becomes a range query.

    listing: the name a cursor carries, so that one listing's cursor is refused by another.
    sort: the sort, on a unique key, that an index serves.
    key_of(item): the cursor's key after an item.
    after(key): a range query matching every item after the key; it may match a few more at the
        key's boundary, which `follows` tells apart. Raises ValueError (or KeyError, TypeError)
        for a key the listing never gave.
    follows(key, item): whether an item the range found comes after the key.
    """

    listing: str
    sort: list[tuple[str, int]]
    key_of: Callable[[dict], dict]
    after: Callable[[dict], dict]
    follows: Callable[[dict, dict], bool]


def read_page(
    collection: Collection,
    query: dict,
    request: PageRequest,
    order: Order,
    projection: dict | None = None,
) -> Page:
    """One page of the documents matching `query`, in `order`, as plain dicts.

    One more document than the page holds is read, so that the last page is known as such.
    """
    wanted = request.size + 1
    if request.page is not None:
        skip = (request.page - 1) * request.size
        found = _find(collection, query, order, projection).skip(skip).limit(wanted)
    elif request.cursor is not None:
        found = _after(collection, query, order, projection, request.cursor, wanted)
    else:
        found = _find(collection, query, order, projection).limit(wanted)
    found = list(found)
    items, following = found[: request.size], found[request.size :]
    cursor = encode_cursor(order.listing, order.key_of(items[-1])) if following else None
    total = collection.count_documents(query) if request.counted else None
    return Page([to_plain(document) for document in items], cursor, total)


def _find(collection: Collection, query: dict, order: Order, projection: dict | None):
    # A copy: the projection is a shared constant, and some clients write into what they are
    # given (mongomock adds `_id`).
    return collection.find(query, dict(projection) if projection else None).sort(order.sort)


def _after(collection, query, order, projection, token, wanted) -> list[dict]:
    """The first `wanted` documents after the cursor: those the range finds, less any at the
    cursor's boundary that do not follow it (the cursor's own item at least). Read with a limit,
    so that the store closes the cursor itself; read again with a larger one in the rare case
    that more items share the boundary than the limit left room for."""
    key = decode_cursor(order.listing, token)
    try:
        after = order.after(key)
    except (KeyError, TypeError, ValueError, OverflowError):
        raise bad_cursor() from None
    limit = wanted + 1
    while True:
        read = list(_find(collection, {**query, **after}, order, projection).limit(limit))
        found = [document for document in read if order.follows(key, document)]
        if len(found) >= wanted or len(read) < limit:
            return found[:wanted]
        limit *= 4


def encode_cursor(listing: str, key: dict) -> str:
    """The opaque token for a position in a listing: base64url of a small JSON object."""
    text = json.dumps({"l": listing, **key}, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(listing: str, token: str) -> dict:
    """The key a token holds; InvalidData naming `cursor` for any token this listing never
    gave (the ranges check the key's fields)."""
    try:
        if len(token) > MAX_CURSOR_LENGTH:
            raise ValueError("too long")
        padded = token + "=" * (-len(token) % 4)
        key = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")).decode())
    except (ValueError, UnicodeError, binascii.Error):
        raise bad_cursor() from None
    if not isinstance(key, dict) or key.pop("l", None) != listing:
        raise bad_cursor()
    return key


def bad_cursor() -> InvalidData:
    return InvalidData(
        "The cursor is not one this listing gave: pass back the `next` of a page of the same "
        "listing unchanged, or leave cursor out for the first page.",
        errors={"cursor": ["Not a cursor of this listing."]},
    )
