"""Listings answered one page at a time."""

from flask import current_app


def page_size(args: dict) -> int:
    return args.get("page_size") or current_app.config["PAGE_SIZE"]


def page(items: list, total: int, args: dict) -> dict:
    return {"items": items, "page": args["page"], "page_size": page_size(args), "total": total}
