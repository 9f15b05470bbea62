"""Conversions between stored documents and the plain dicts the rest of Machinery uses."""

from datetime import UTC, datetime

from bson import ObjectId


def to_plain(document: dict | None) -> dict | None:
    """A stored document as a plain dict, its ObjectId as the string `id`."""
    if document is None:
        return None
    plain = {key: value for key, value in document.items() if key != "_id"}
    plain["id"] = str(document["_id"])
    return plain


def object_id(value: str) -> ObjectId | None:
    """The ObjectId a string spells, or None when it spells none."""
    return ObjectId(value) if ObjectId.is_valid(value) else None


def now() -> datetime:
    """The current UTC time at the millisecond precision MongoDB stores."""
    moment = datetime.now(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)
