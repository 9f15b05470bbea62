"""Listings: pages by cursor, a count only when asked for, `page` kept, the workflow filter."""

import base64
import json
from datetime import UTC, datetime, timedelta

import mongomock
import pytest
from bson import ObjectId
from factories import register_example, service, workflow

from machinery.store.listing import MAX_CURSOR_LENGTH

START = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


def db(app):
    return app.extensions["machinery.store"].connection.db


def stored_events(app, moments, **fields):
    """Events stored as Machinery stores them, accepted at these moments; their ids."""
    documents = [
        {
            "_id": ObjectId(),
            "workflow_id": fields.get("workflow_id", "6b09f0bde692bd4fe2a2bd1e"),
            "workflow": fields.get("workflow", "process-text"),
            "workflow_version": 1,
            "status": fields.get("status", "succeeded"),
            "data": {"message": "x"},
            "acked_at": moment,
            "finished_at": moment,
            "outputs": {},
            "error": None,
        }
        for moment in moments
    ]
    db(app).events.insert_many(documents)
    return [str(document["_id"]) for document in documents]


def walk(client, path):
    """Every page of a listing, following `next` from the first page: the pages' answers."""
    pages = [client.get(path).json]
    while pages[-1]["next"] is not None:
        separator = "&" if "?" in path else "?"
        response = client.get(f"{path}{separator}cursor={pages[-1]['next']}")
        assert response.status_code == 200, response.json
        pages.append(response.json)
        assert len(pages) < 1000
    return pages


def newest_first(app, ids):
    """The ids ordered as the listing shows them: by acked_at, then id, newest first."""
    documents = db(app).events.find({"_id": {"$in": [ObjectId(i) for i in ids]}})
    order = sorted(documents, key=lambda d: (d["acked_at"], d["_id"]), reverse=True)
    return [str(document["_id"]) for document in order]


def test_cursor_pages_walk_every_event_once_newest_first(app, client):
    ids = stored_events(app, [START + timedelta(milliseconds=7 * n) for n in range(23)])
    pages = walk(client, "/e?page_size=5")
    listed = [item["event_id"] for page in pages for item in page["items"]]
    assert listed == newest_first(app, ids) == ids[::-1]
    assert [len(page["items"]) for page in pages] == [5, 5, 5, 5, 3]
    assert pages[-1]["next"] is None
    assert pages[0]["page"] == 1
    assert all("page" not in page and "total" not in page for page in pages[1:])


@pytest.mark.parametrize("page_size", [1, 2, 3, 4, 7])
def test_events_sharing_a_millisecond_are_each_listed_once(app, client, page_size):
    # Bursts of events accepted in the same millisecond, straddling the pages' boundaries.
    moments = [START + timedelta(milliseconds=n // 4) for n in range(17)]
    moments += [START + timedelta(seconds=1, milliseconds=n % 3) for n in range(6)]
    ids = stored_events(app, moments)
    pages = walk(client, f"/e?page_size={page_size}")
    listed = [item["event_id"] for page in pages for item in page["items"]]
    assert listed == newest_first(app, ids)
    assert len(set(listed)) == len(ids)


def test_a_cursor_page_keeps_the_filters(app, client):
    stored_events(app, [START + timedelta(milliseconds=n) for n in range(10)], status="failed")
    succeeded = stored_events(app, [START + timedelta(milliseconds=n) for n in range(10)])
    other = {"workflow": "shout-and-count", "workflow_id": "6b09f0bde692bd4fe2a2bd1f"}
    stored_events(app, [START + timedelta(milliseconds=n) for n in range(10)], **other)
    pages = walk(client, "/e?workflow=process-text&status=succeeded&page_size=3")
    listed = [item["event_id"] for page in pages for item in page["items"]]
    assert listed == newest_first(app, succeeded)


def test_events_accepted_after_a_page_do_not_shift_the_next_one(app, client):
    ids = stored_events(app, [START + timedelta(milliseconds=n) for n in range(6)])
    first = client.get("/e?page_size=3").json
    stored_events(app, [START + timedelta(hours=1)])
    second = client.get(f"/e?page_size=3&cursor={first['next']}").json
    assert [item["event_id"] for item in second["items"]] == ids[2::-1]
    assert second["next"] is None


def test_definitions_are_walked_by_name_with_a_cursor(client):
    names = [f"svc-{n:02d}" for n in range(11)]
    for name in reversed(names):
        assert client.post("/s", json=service(name)).status_code == 201
    pages = walk(client, "/s?page_size=4")
    assert [item["name"] for page in pages for item in page["items"]] == names
    assert [len(page["items"]) for page in pages] == [4, 4, 3]


def test_workflows_are_walked_by_name_with_a_cursor(client):
    client.post("/s", json=service())
    names = [f"flow-{n}" for n in range(5)]
    for name in names:
        assert client.post("/w", json=workflow(name)).status_code == 201
    pages = walk(client, "/w?page_size=2")
    assert [item["name"] for page in pages for item in page["items"]] == names


def test_a_listing_that_fits_one_page_has_no_next(client):
    client.post("/s", json=service())
    answer = client.get("/s").json
    assert answer["next"] is None
    assert [item["name"] for item in answer["items"]] == ["upper"]


def cursor(payload) -> str:
    text = payload if isinstance(payload, str) else json.dumps(payload)
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "path, token",
    [
        ("/e", "not-a-cursor"),
        ("/e", "%%%"),
        ("/e", cursor("not json")),
        ("/e", cursor([1, 2])),
        ("/e", cursor({"l": "events"})),
        ("/e", cursor({"l": "events", "t": "yesterday", "id": "6b09f0bde692bd4fe2a2bd1e"})),
        ("/e", cursor({"l": "events", "t": True, "id": "6b09f0bde692bd4fe2a2bd1e"})),
        ("/e", cursor({"l": "events", "t": 10**20, "id": "6b09f0bde692bd4fe2a2bd1e"})),
        ("/e", cursor({"l": "events", "t": 1, "id": "not-an-id"})),
        ("/e", cursor({"l": "events", "t": 1, "id": {"$gt": ""}})),
        ("/e", cursor({"l": "services", "name": "upper"})),
        ("/s", cursor({"l": "events", "t": 1, "id": "6b09f0bde692bd4fe2a2bd1e"})),
        ("/s", cursor({"l": "services", "name": {"$gt": ""}})),
        ("/w", cursor({"l": "services", "name": "upper"})),
        ("/e", "x" * (MAX_CURSOR_LENGTH + 1)),
        ("/e", ""),
    ],
)
def test_a_bad_cursor_is_a_422_naming_it(client, path, token):
    response = client.get(f"{path}?cursor={token}")
    assert response.status_code == 422, response.json
    assert response.json["message"]
    assert "cursor" in response.json["errors"]


def test_page_and_cursor_together_are_a_422(app, client):
    stored_events(app, [START, START + timedelta(milliseconds=1)])
    token = client.get("/e?page_size=1").json["next"]
    response = client.get(f"/e?page=2&cursor={token}")
    assert response.status_code == 422
    assert "cursor" in response.json["errors"]


@pytest.mark.parametrize("query", ["count=yes", "count=1", "count="])
def test_count_is_true_or_false(client, query):
    response = client.get(f"/e?{query}")
    assert response.status_code == 422
    assert "count" in response.json["errors"]


class CountSpy:
    """Records every count the store is asked for (mongomock runs them in process)."""

    def __init__(self, monkeypatch):
        self.counts = []
        collection = mongomock.collection.Collection
        for name in ("count_documents", "estimated_document_count"):
            monkeypatch.setattr(collection, name, self._recording(getattr(collection, name)))

    def _recording(self, method):
        def count(collection, *args, **kwargs):
            self.counts.append(collection.name)
            return method(collection, *args, **kwargs)

        return count


@pytest.mark.parametrize(
    "path", ["/e", "/e?workflow=process-text&status=succeeded&page_size=2", "/s", "/w"]
)
def test_listings_send_no_count_unless_asked(app, client, monkeypatch, path):
    register_example(client, app.extensions["machinery.runtime"].caller)
    stored_events(app, [START + timedelta(milliseconds=n) for n in range(5)])
    spy = CountSpy(monkeypatch)
    first = client.get(path)
    assert first.status_code == 200
    assert "total" not in first.json
    if first.json["next"] is not None:
        assert client.get(f"{path}&cursor={first.json['next']}").status_code == 200
    assert spy.counts == []
    separator = "&" if "?" in path else "?"
    counted = client.get(f"{path}{separator}count=true").json
    collection = {"e": "events", "s": "services", "w": "workflows"}[path[1]]
    assert spy.counts == [collection] and counted["total"] >= len(counted["items"])


def test_count_true_counts_the_whole_filtered_listing(app, client):
    stored_events(app, [START + timedelta(milliseconds=n) for n in range(7)])
    stored_events(app, [START + timedelta(milliseconds=n) for n in range(3)], status="failed")
    first = client.get("/e?status=succeeded&page_size=2&count=true").json
    assert first["total"] == 7
    second = client.get(f"/e?status=succeeded&page_size=2&count=true&cursor={first['next']}")
    assert second.json["total"] == 7


def test_page_keeps_skipping_and_counting_and_gives_a_next(app, client, monkeypatch):
    ids = stored_events(app, [START + timedelta(milliseconds=n) for n in range(7)])
    answer = client.get("/e?page=2&page_size=3").json
    assert [item["event_id"] for item in answer["items"]] == ids[3::-1][:3]
    assert (answer["page"], answer["page_size"], answer["total"]) == (2, 3, 7)
    after = client.get(f"/e?page_size=3&cursor={answer['next']}").json
    assert [item["event_id"] for item in after["items"]] == [ids[0]]
    spy = CountSpy(monkeypatch)
    uncounted = client.get("/e?page=2&page_size=3&count=false").json
    assert "total" not in uncounted and spy.counts == []


def test_the_workflow_filter_takes_a_name_or_an_id(app, client, services):
    example = register_example(client, services)
    sent = [client.post("/e/process-text", json={"message": m}).json for m in ("a b", "c d")]
    stored_events(app, [START], workflow="other", workflow_id="6b09f0bde692bd4fe2a2bd1f")
    expected = [event["event_id"] for event in reversed(sent)]
    for ref in ("process-text", example["workflow_id"]):
        listed = client.get(f"/e?workflow={ref}").json
        assert [item["event_id"] for item in listed["items"]] == expected
    assert client.get("/e?workflow=nothing").json["items"] == []


def test_events_of_a_deleted_workflow_are_listed_by_its_name_and_its_id(client, services):
    example = register_example(client, services)
    event = client.post("/e/process-text", json={"message": "a b"}).json
    assert client.delete("/w/process-text").status_code == 204
    for ref in ("process-text", example["workflow_id"]):
        listed = client.get(f"/e?workflow={ref}&status=succeeded").json
        assert [item["event_id"] for item in listed["items"]] == [event["event_id"]]


def test_a_name_means_the_workflow_that_has_it_now(client, services):
    register_example(client, services)
    old = client.post("/e/process-text", json={"message": "a b"}).json
    assert client.delete("/w/process-text").status_code == 204
    renewed = register_example(client, services)
    new = client.post("/e/process-text", json={"message": "c d"}).json
    by_name = client.get("/e?workflow=process-text").json["items"]
    assert [item["event_id"] for item in by_name] == [new["event_id"]]
    by_old_id = client.get(f"/e?workflow={old['workflow_id']}").json["items"]
    assert [item["event_id"] for item in by_old_id] == [old["event_id"]]
    assert renewed["workflow_id"] != old["workflow_id"]
