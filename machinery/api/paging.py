"""Listings answered one page at a time: `next` leads to the following page."""

from flask import current_app

from machinery.store.listing import Page, PageRequest


def page_size(args: dict) -> int:
    return args.get("page_size") or current_app.config["PAGE_SIZE"]


def page_request(args: dict) -> PageRequest:
    """The page the query arguments ask for (see PageArgs)."""
    return PageRequest(
        size=page_size(args),
        cursor=args.get("cursor"),
        page=args.get("page"),
        count=args.get("count"),
    )


def page(found: Page, args: dict) -> dict:
    """The answer: the items and the cursor to the next page (null on the last); the page
    number when it is known (asked for, or the first page); `total` when counted."""
    answer = {"items": found.items, "page_size": page_size(args), "next": found.next}
    if args.get("cursor") is None:
        answer["page"] = args.get("page") or 1
    if found.total is not None:
        answer["total"] = found.total
    return answer
