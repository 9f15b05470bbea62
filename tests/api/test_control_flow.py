"""Control flow through the API: choice, parallel, map, wait and catch, checked when a workflow is
saved and run as events, with services scripted in the test's process."""

import threading
from datetime import datetime

import pytest
from factories import failing, field, service

from machinery import states
from machinery.worker import Worker

ORDER_INPUTS = [field("order_id"), field("amount", "float"), field("items", "array")]


def register(client, scripted, name, inputs, outputs, answer, **extra):
    definition = {**service(name, inputs=inputs, outputs=outputs), **extra}
    scripted.answer(definition["address"], answer)
    response = client.post("/s", json=definition)
    assert response.status_code == 201, response.json


@pytest.fixture
def shop(client, services):
    """The services an order workflow calls, with what each was sent."""
    sent = {"review": [], "stock": [], "payment": []}
    lock = threading.Lock()

    def seen(name, answer):
        def handler(payload):
            with lock:
                sent[name].append(payload)
            return answer(payload)

        return handler

    register(
        client,
        services,
        "review",
        [field("amount", "float")],
        [field("approved", "bool")],
        seen("review", lambda p: {"approved": p["amount"] < 5000}),
    )
    register(
        client,
        services,
        "stock",
        [field("item", "object")],
        [field("in_stock", "bool")],
        seen("stock", lambda p: {"in_stock": p["item"]["sku"] != "gone"}),
    )
    register(
        client,
        services,
        "payment",
        [field("order_id"), field("amount", "float")],
        [field("payment_id")],
        seen("payment", lambda p: {"payment_id": f"pay-{p['order_id']}"}),
    )
    return sent


ORDER = {
    "name": "order",
    "inputs": ORDER_INPUTS,
    "services": [
        {
            "choice": [{"when": {"path": "amount", "gt": 1000}, "steps": ["review"]}],
            "otherwise": [{"set": {"approved": True}}],
        },
        {
            "map": {
                "items": "items",
                "as": "item",
                "steps": ["stock"],
                "collect": "in_stock",
                "output": "stock",
                "max_concurrency": 4,
            }
        },
        {
            "service": "payment",
            "catch": [
                {
                    "on": [402],
                    "steps": [{"set": {"payment_id": {"const": "refused"}}}],
                    "error_as": "payment_error",
                }
            ],
        },
    ],
    "outputs": [field("approved", "bool"), field("stock", "array"), field("payment_id")],
}


def order(amount, skus=("a", "b")):
    return {"order_id": "o-1", "amount": amount, "items": [{"sku": s} for s in skus]}


def test_an_order_branches_maps_and_pays(client, shop):
    assert client.post("/w", json=ORDER).status_code == 201

    small = client.post("/e/order", json=order(20.0, ("a", "gone", "c")))
    assert small.status_code == 201, small.json
    assert small.json["outputs"] == {
        "approved": True,
        "stock": [True, False, True],
        "payment_id": "pay-o-1",
    }
    assert shop["review"] == []  # the otherwise branch ran

    big = client.post("/e/order", json=order(2000.0))
    assert big.status_code == 201, big.json
    assert big.json["outputs"]["approved"] is True
    assert shop["review"] == [{"amount": 2000.0}]

    # The history: each construct's record (the branch a choice took, the items a map ran)
    # before the calls it made, in the order the workflow is written.
    steps = client.get(f"/e/{big.json['event_id']}").json["steps"]
    assert [
        (s.get("service") or s["construct"], s.get("place"), s.get("instance")) for s in steps
    ] == [
        ("choice", "services[0]", None),
        ("review", "services[0].choice[0].steps[0]", None),
        ("map", "services[1]", None),
        ("stock", "services[1].map.steps[0]", "0"),
        ("stock", "services[1].map.steps[0]", "1"),
        ("payment", None, None),
    ]
    choice, _, mapped = steps[:3]
    assert (choice["branch"], choice["outcome"]) == ("choice[0]", "succeeded")
    assert (mapped["items"], mapped["outcome"]) == (2, "succeeded")
    assert mapped["duration_ms"] >= 0 and "started_at" in mapped
    small_steps = client.get(f"/e/{small.json['event_id']}").json["steps"]
    assert small_steps[0]["branch"] == "otherwise"


def test_a_map_item_is_sent_with_an_idempotency_key_of_its_own(client, services, shop):
    assert client.post("/w", json=ORDER).status_code == 201
    event = client.post("/e/order", json=order(20.0)).json
    keys = [
        options.headers["Idempotency-Key"]
        for (address, _), options in zip(services.calls, services.options, strict=True)
        if "stock" in address
    ]
    assert sorted(keys) == [f"{event['event_id']}-1-0", f"{event['event_id']}-1-1"]
    items = [
        options.headers["X-Machinery-Item"]
        for (address, _), options in zip(services.calls, services.options, strict=True)
        if "stock" in address
    ]
    assert sorted(items) == ["0", "1"]
    # each item's step record keeps the request that item's call sent
    steps = client.get(f"/e/{event['event_id']}").json["steps"]
    sent = {s["instance"]: s["request"]["body"] for s in steps if s.get("service") == "stock"}
    assert sent == {"0": {"item": {"sku": "a"}}, "1": {"item": {"sku": "b"}}}


def test_a_catch_recovers_from_a_refused_payment(client, services, shop):
    assert client.post("/w", json=ORDER).status_code == 201
    services.answer(
        "http://payment.example:5000/event", failing(states.HTTP_STATUS, "refused", 402)
    )
    response = client.post("/e/order", json=order(20.0))
    assert response.status_code == 201, response.json
    assert response.json["outputs"]["payment_id"] == "refused"
    event = client.get(f"/e/{response.json['event_id']}").json
    payment, catch = event["steps"][-2:]
    assert payment["service"] == "payment"
    assert payment["error"]["kind"] == "http_status"
    assert payment["caught"] is True
    # the catch that took it is in the history after the failed call, with what it took
    assert (catch["construct"], catch["place"], catch["outcome"]) == (
        "catch",
        "services[2].catch[0]",
        "succeeded",
    )
    assert catch["caught_error"] == {
        "kind": "http_status",
        "message": "refused",
        "step": 2,
        "service": "payment",
        "status_code": 402,
    }
    assert catch["error"] is None


def test_a_failure_a_catch_does_not_take_fails_the_event(client, services, shop):
    assert client.post("/w", json=ORDER).status_code == 201
    services.answer("http://payment.example:5000/event", failing(states.HTTP_STATUS, "down", 503))
    response = client.post("/e/order", json=order(20.0))
    assert response.status_code == 502
    assert response.json["error"]["service"] == "payment"
    assert response.json["error"]["status_code"] == 503


def test_a_map_over_a_thousand_items_collects_every_result_in_order(client, shop):
    assert client.post("/w", json=ORDER).status_code == 201
    skus = [f"sku-{n}" if n % 7 else "gone" for n in range(1000)]
    response = client.post("/e/order", json=order(20.0, skus))
    assert response.status_code == 201, response.json
    assert response.json["outputs"]["stock"] == [n % 7 != 0 for n in range(1000)]
    assert len(shop["stock"]) == 1000
    steps = client.get(f"/e/{response.json['event_id']}").json["steps"]
    stock = [s for s in steps if s.get("service") == "stock"]
    assert [s["instance"] for s in stock] == [str(n) for n in range(1000)]


def test_a_map_over_something_not_an_array_fails_with_its_place(client, shop):
    workflow = {**ORDER, "inputs": [*ORDER_INPUTS[:2], field("items", "object")]}
    response = client.post("/w", json=workflow)
    assert response.status_code == 422
    assert response.json["problems"][0]["message"] == (
        "Map at services[1]: its items, 'items', are object (from workflow input), not an array."
    )


def test_a_failure_in_a_parallel_branch_fails_the_event_and_names_it(client, services, shop):
    register(
        client,
        services,
        "audit",
        [field("order_id")],
        [field("audited", "bool")],
        failing(states.CONNECTION_ERROR, "could not connect"),
    )
    workflow = {
        "name": "checks",
        "inputs": ORDER_INPUTS,
        "services": [{"parallel": [["review"], ["audit"]]}],
        "outputs": [field("approved", "bool"), field("audited", "bool")],
    }
    assert client.post("/w", json=workflow).status_code == 201, client.post("/w", json=workflow)
    response = client.post("/e/checks", json=order(10.0))
    assert response.status_code == 502
    error = response.json["error"]
    assert (error["service"], error["kind"], error["place"], error["within"]) == (
        "audit",
        "connection_error",
        "services[0].parallel[1][0]",
        "services[0]",
    )
    steps = client.get(f"/e/{response.json['event_id']}").json["steps"]
    assert {s.get("service") for s in steps} == {None, "review", "audit"}
    (parallel,) = [s for s in steps if s.get("construct")]
    assert (parallel["construct"], parallel["place"], parallel["branches"]) == (
        "parallel",
        "services[0]",
        2,
    )
    assert parallel["outcome"] == "failed"
    assert parallel["error"]["kind"] == "connection_error"


def test_parallel_branches_merge_what_each_one_adds(client, services, shop):
    workflow = {
        "name": "both",
        "inputs": ORDER_INPUTS,
        "services": [
            {"parallel": [["review"], [{"service": "payment", "output": {"paid": "payment_id"}}]]}
        ],
        "outputs": [field("approved", "bool"), field("paid")],
    }
    assert client.post("/w", json=workflow).status_code == 201
    response = client.post("/e/both", json=order(10.0))
    assert response.status_code == 201, response.json
    assert response.json["outputs"] == {"approved": True, "paid": "pay-o-1"}


def test_parallel_branches_may_not_write_the_same_name(client, shop):
    workflow = {
        "name": "clash",
        "inputs": ORDER_INPUTS,
        "services": [{"parallel": [["review"], [{"set": {"approved": False}}]]}],
    }
    response = client.post("/w", json=workflow)
    assert response.status_code == 422
    assert response.json["problems"][0]["message"] == (
        "Parallel at services[0]: branches 0 and 1 both write 'approved'; map one of them to "
        "another name."
    )


def test_a_name_only_some_branches_provide_cannot_feed_a_required_input(client, services, shop):
    register(
        client,
        services,
        "ship",
        [field("approved", "bool")],
        [field("shipped", "bool")],
        lambda p: {"shipped": p["approved"]},
    )
    workflow = {
        "name": "ship-it",
        "inputs": ORDER_INPUTS,
        "services": [
            {"choice": [{"when": {"path": "amount", "gt": 1000}, "steps": ["review"]}]},
            "ship",
        ],
    }
    response = client.post("/w", json=workflow)
    assert response.status_code == 422
    assert response.json["problems"][0]["message"] == (
        "Step 1 (ship): input 'approved' (bool) is required, but 'approved' is not there on "
        "every path: it comes only from services[0].choice[0]."
    )
    workflow["services"][0]["otherwise"] = [{"set": {"approved": True}}]
    assert client.post("/w", json=workflow).status_code == 201


def test_a_nested_step_of_an_unregistered_service_is_a_409_naming_it(client, shop):
    workflow = {**ORDER, "name": "o2"}
    workflow["services"] = [{"parallel": [["review"], ["ghost"]]}]
    response = client.post("/w", json=workflow)
    assert response.status_code == 409
    assert response.json["missing_services"] == ["ghost"]


@pytest.mark.parametrize(
    ("step", "place", "message"),
    [
        (
            {"choice": [{"when": {"path": "amount", "above": 1}, "steps": []}]},
            "services[0].choice[0].when",
            "A condition is",
        ),
        ({"choice": []}, "services[0]", "choice is a non-empty list"),
        ({"parallel": [["review"]]}, "services[0]", "parallel is a list of at least two"),
        ({"map": {"items": "items"}}, "services[0]", "map takes items"),
        ({"wait": {"seconds": -1}}, "services[0]", "wait's seconds is a number, 0 or more."),
        (
            {"service": "review", "catch": [{"on": ["nope"], "steps": []}]},
            "services[0].catch[0]",
            "A catch's on lists failure kinds",
        ),
        (
            {"choice": [{"when": {"path": "amount", "gt": 1}, "steps": [{"nope": 1}]}]},
            "services[0].choice[0].steps[0]",
            "A step names its service",
        ),
        (
            {"map": {"items": "items", "steps": [], "output": "x", "max_concurrency": 0}},
            "services[0]",
            "max_concurrency is a whole number from 1 to 64 (MACHINERY_MAX_CONCURRENCY).",
        ),
    ],
)
def test_a_malformed_construct_is_a_422_naming_its_place(client, shop, step, place, message):
    response = client.post("/w", json={**ORDER, "name": "bad", "services": [step]})
    assert response.status_code == 422, response.json
    (problem,) = response.json["problems"]
    assert problem["place"] == place
    assert problem["message"].startswith(message)
    assert f"(at {place})" in response.json["message"]


def test_a_callback_service_or_a_wait_inside_a_map_is_refused(client, shop):
    workflow = {
        **ORDER,
        "name": "waits",
        "services": [
            {
                "map": {
                    "items": "items",
                    "steps": [{"wait": {"seconds": 1}}],
                    "output": "x",
                }
            }
        ],
        "outputs": [],
    }
    response = client.post("/w", json=workflow)
    assert response.status_code == 422
    assert response.json["problems"][0]["message"] == (
        "Map at services[0]: a wait (at services[0].map.steps[0]) cannot run inside a map, "
        "whose branches hold a thread until they end."
    )


def test_a_wait_holds_nothing_and_a_new_worker_resumes_the_event_after_it(app, client, shop):
    workflow = {
        "name": "later",
        "inputs": ORDER_INPUTS,
        "services": [{"wait": {"seconds": 3600}}, "payment"],
        "outputs": [field("payment_id")],
    }
    assert client.post("/w", json=workflow).status_code == 201
    response = client.post("/e/later", json=order(5.0))
    assert response.status_code == 202
    event_id = response.json["event_id"]
    assert response.headers["Location"] == f"/e/{event_id}"
    waiting = client.get(f"/e/{event_id}").json
    assert waiting["status"] == "waiting"
    assert shop["payment"] == []

    (wait,) = waiting["steps"]  # the history says what the event waits for
    assert (wait["construct"], wait["place"], wait["outcome"]) == ("wait", "services[0]", "waiting")
    assert wait["duration_ms"] is None
    wake_at = datetime.fromisoformat(wait["wake_at"])
    assert 3590 < (wake_at - datetime.fromisoformat(wait["started_at"])).total_seconds() <= 3600

    runtime = app.extensions["machinery.runtime"]
    assert not Worker(runtime, concurrency=1).run_once()  # not its time yet

    # Its time comes while no process holds it: a worker started afterwards goes on.
    runtime.store.events.collection.update_one({}, {"$set": {"waiting.deadline": 0.0}})
    assert Worker(runtime, concurrency=1).run_once()
    finished = client.get(f"/e/{event_id}").json
    assert finished["status"] == "succeeded"
    assert finished["outputs"] == {"payment_id": "pay-o-1"}
    wait, payment = finished["steps"]
    assert (wait["construct"], wait["outcome"], payment["service"]) == (
        "wait",
        "succeeded",
        "payment",
    )
    assert wait["duration_ms"] >= 0


def test_a_wait_until_a_time_in_the_past_goes_straight_on(client, shop):
    workflow = {
        "name": "until",
        "inputs": [*ORDER_INPUTS, field("not_before")],
        "services": [{"wait": {"until": "not_before"}}, "payment"],
        "outputs": [field("payment_id")],
    }
    assert client.post("/w", json=workflow).status_code == 201
    body = {**order(5.0), "not_before": "2020-01-01T00:00:00Z"}
    response = client.post("/e/until", json=body)
    assert response.status_code == 201, response.json

    body["not_before"] = "next tuesday"
    response = client.post("/e/until", json=body)
    assert response.status_code == 502
    assert response.json["error"]["kind"] == "invalid_data"
    assert response.json["error"]["place"] == "services[0]"


def test_a_waiting_event_can_be_cancelled(client, shop):
    workflow = {
        "name": "later",
        "inputs": ORDER_INPUTS,
        "services": [{"wait": {"seconds": 3600}}, "payment"],
    }
    assert client.post("/w", json=workflow).status_code == 201
    event_id = client.post("/e/later", json=order(5.0)).json["event_id"]
    response = client.post(f"/e/{event_id}/cancel")
    assert response.status_code in (200, 202), response.json
    cancelled = client.get(f"/e/{event_id}").json
    assert cancelled["status"] == "cancelled"
    assert [(s["construct"], s["outcome"]) for s in cancelled["steps"]] == [("wait", "cancelled")]


def test_a_dry_run_passes_waits_and_follows_the_branch_the_data_takes(client, shop):
    assert client.post("/w", json=ORDER).status_code == 201
    response = client.post("/w/order/dry-run", json={"data": order(2000.0)})
    assert response.status_code == 200, response.json
    assert [step["service"] for step in response.json["steps"]][:1] == ["review"]


# Typed nested fields: paths into them are checked when the workflow is saved.

CUSTOMER = {
    "name": "customer",
    "type": "object",
    "fields": [
        {"name": "name", "type": "string"},
        {"name": "age", "type": "int"},
        {"name": "emails", "type": "array", "items": {"type": "string"}},
    ],
}


PERSON = {key: value for key, value in CUSTOMER.items() if key != "name"}  # a type, unnamed


def test_a_path_into_a_typed_object_is_checked_when_the_workflow_is_saved(client, services):
    register(
        client,
        services,
        "greet",
        [field("name")],
        [field("greeting")],
        lambda p: {"greeting": f"Hello {p['name']}"},
    )
    workflow = {
        "name": "greeter",
        "inputs": [CUSTOMER],
        "services": [{"service": "greet", "input": {"name": "customer.nmae"}}],
    }
    response = client.post("/w", json=workflow)
    assert response.status_code == 422
    assert response.json["problems"][0]["message"] == (
        "Step 0 (greet): input 'name' reads 'customer.nmae', which cannot exist: 'customer' "
        "declares no field 'nmae' (it declares: name, age, emails)."
    )

    workflow["services"][0]["input"]["name"] = "customer.age"
    response = client.post("/w", json=workflow)
    assert response.status_code == 422
    assert response.json["problems"][0]["code"] == "type_mismatch"
    assert "expects string, but 'customer.age' is int" in response.json["problems"][0]["message"]

    workflow["services"][0]["input"]["name"] = "customer.emails.0"
    response = client.post("/w", json=workflow)
    assert response.status_code == 201, response.json
    assert (
        response.json["warnings"][0]["message"].endswith(
            "may be absent (from workflow input, which is optional)."
        )
        or response.json["warnings"]
    )


def test_event_data_is_checked_inside_typed_fields(client, services):
    register(
        client,
        services,
        "greet",
        [field("name")],
        [field("greeting")],
        lambda p: {"greeting": "hi"},
    )
    workflow = {
        "name": "greeter",
        "inputs": [CUSTOMER],
        "services": [{"service": "greet", "input": {"name": "customer.name"}}],
    }
    assert client.post("/w", json=workflow).status_code == 201
    response = client.post(
        "/e/greeter", json={"customer": {"name": "Ada", "age": "36", "emails": ["a@b", 3]}}
    )
    assert response.status_code == 422
    assert response.json["errors"]["customer"] == [
        "'customer.age' is string, expected int.",
        "'customer.emails.1' is int, expected string.",
    ]
    ok = client.post("/e/greeter", json={"customer": {"name": "Ada", "age": 36, "emails": []}})
    assert ok.status_code == 201, ok.json


def test_a_map_knows_its_item_type_from_a_typed_array(client, services):
    register(
        client,
        services,
        "greet",
        [field("name")],
        [field("greeting")],
        lambda p: {"greeting": "hi " + p["name"]},
    )
    workflow = {
        "name": "greet-all",
        "inputs": [{"name": "people", "type": "array", "items": PERSON}],
        "services": [
            {
                "map": {
                    "items": "people",
                    "as": "person",
                    "steps": [{"service": "greet", "input": {"name": "person.age"}}],
                    "collect": "greeting",
                    "output": "greetings",
                }
            }
        ],
    }
    response = client.post("/w", json=workflow)
    assert response.status_code == 422
    assert "expects string, but 'person.age' is int" in response.json["problems"][0]["message"]
    workflow["services"][0]["map"]["steps"][0]["input"]["name"] = "person.name"
    assert client.post("/w", json=workflow).status_code == 201
    people = [{"name": "Ada", "age": 36, "emails": []}, {"name": "Alan", "age": 41, "emails": []}]
    response = client.post("/e/greet-all", json={"people": people})
    assert response.status_code == 201, response.json
    assert response.json["outputs"]["greetings"] == ["hi Ada", "hi Alan"]


def test_a_service_answer_is_checked_inside_its_typed_outputs(client, services):
    register(
        client,
        services,
        "who",
        [field("message")],
        [CUSTOMER],
        lambda p: {"customer": {"name": "Ada", "age": 36.5, "emails": []}},
    )
    workflow = {"name": "who-is-it", "inputs": [field("message")], "services": ["who"]}
    assert client.post("/w", json=workflow).status_code == 201
    response = client.post("/e/who-is-it", json={"message": "x"})
    assert response.status_code == 502
    assert response.json["error"]["kind"] == "contract_violation"
    assert response.json["error"]["message"] == ("output 'customer.age' is float, expected int.")


# Request templates and typed functions.


@pytest.fixture
def mailer(client, services):
    sent = []

    def handler(payload):
        sent.append(payload)
        return {"id": "m-1"}

    register(
        client,
        services,
        "mail",
        [
            {
                "name": "envelope",
                "type": "object",
                "fields": [
                    {"name": "to", "type": "array", "items": {"type": "string"}},
                    {"name": "subject", "type": "string"},
                ],
            },
            field("size", "int"),
        ],
        [field("id")],
        handler,
    )
    return sent


def test_a_request_is_built_of_paths_literals_and_functions(client, mailer):
    workflow = {
        "name": "notify",
        "inputs": [field("email"), field("name"), field("items", "array")],
        "services": [
            {
                "service": "mail",
                "input": {
                    "envelope": {
                        "object": {
                            "to": {"array": ["email", {"const": "audit@example.com"}]},
                            "subject": {
                                "fn": "format",
                                "args": [
                                    {"const": "Hello {}, {} items"},
                                    "name",
                                    {"fn": "length", "args": ["items"]},
                                ],
                            },
                        }
                    },
                    "size": {"fn": "add", "args": [{"fn": "length", "args": ["items"]}, 1]},
                },
            }
        ],
    }
    response = client.post("/w", json=workflow)
    assert response.status_code == 201, response.json
    lineage = client.get("/w/notify/lineage").json
    assert lineage["steps"][0]["inputs"]["size"]["from"] == "function"

    sent = client.post(
        "/e/notify", json={"email": "ada@example.com", "name": "Ada", "items": [1, 2]}
    )
    assert sent.status_code == 201, sent.json
    assert mailer == [
        {
            "envelope": {
                "to": ["ada@example.com", "audit@example.com"],
                "subject": "Hello Ada, 2 items",
            },
            "size": 3,
        }
    ]


@pytest.mark.parametrize(
    ("size", "message"),
    [
        (
            {"fn": "upper", "args": ["name"]},
            "Step 0 (mail): input 'size' expects int, but function upper gives string.",
        ),
        (
            {"fn": "add", "args": ["name", 1]},
            "Step 0 (mail): input 'size': add takes number as argument 1, but workflow input is "
            "string.",
        ),
        (
            {"fn": "length", "args": ["nowhere"]},
            "Step 0 (mail): input 'size' (length's argument 1) reads 'nowhere', which is not in "
            "the running data here, which holds email (string, workflow input), name (string, "
            "workflow input), items (array, workflow input).",
        ),
    ],
)
def test_a_computed_value_is_type_checked_when_the_workflow_is_saved(client, mailer, size, message):
    workflow = {
        "name": "notify",
        "inputs": [field("email"), field("name"), field("items", "array")],
        "services": [
            {
                "service": "mail",
                "input": {
                    "envelope": {"object": {"to": {"array": ["email"]}, "subject": "name"}},
                    "size": size,
                },
            }
        ],
    }
    response = client.post("/w", json=workflow)
    assert response.status_code == 422
    assert response.json["problems"][0]["message"] == message


def test_a_template_that_does_not_fit_a_typed_input_is_refused(client, mailer):
    workflow = {
        "name": "notify",
        "inputs": [field("email")],
        "services": [
            {
                "service": "mail",
                "input": {"envelope": {"object": {"to": "email", "subject": "email"}}, "size": 1},
            }
        ],
    }
    response = client.post("/w", json=workflow)
    assert response.status_code == 422
    assert response.json["problems"][0]["message"] == (
        "Step 0 (mail): input 'envelope' expects object of the declared shape, but the object "
        "built does not fit it: its field 'to' is string, expected array."
    )


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ({"fn": "eval", "args": ["x"]}, "'eval' is not a function; the functions are: add, at,"),
        ({"fn": "upper", "args": []}, "upper takes 1 argument, not 0."),
        ({"object": {"a": 1}, "const": 2}, "An object here is one of:"),
    ],
)
def test_a_malformed_computed_value_is_refused_in_words(client, mailer, source, message):
    workflow = {
        "name": "notify",
        "inputs": [field("email")],
        "services": [{"service": "mail", "input": {"size": source}}],
    }
    response = client.post("/w", json=workflow)
    assert response.status_code == 422
    assert message in str(response.json)


def test_a_function_that_cannot_give_a_value_fails_the_step_before_the_call(client, mailer):
    workflow = {
        "name": "parse",
        "inputs": [field("raw")],
        "services": [
            {
                "service": "mail",
                "input": {
                    "envelope": {"fn": "json_parse", "args": ["raw"]},
                    "size": 1,
                },
            }
        ],
    }
    assert client.post("/w", json=workflow).status_code == 201
    response = client.post("/e/parse", json={"raw": "{not json"})
    assert response.status_code == 502
    assert response.json["error"]["kind"] == "invalid_data"
    assert response.json["error"]["message"].startswith(
        "input 'envelope' cannot be computed: json_parse: the text is not JSON"
    )
    assert mailer == []
    ok = client.post("/e/parse", json={"raw": '{"to": ["a@b"], "subject": "s"}'})
    assert ok.status_code == 201, ok.json


# Limits: configurable, each refused in words.


@pytest.fixture
def limited(services):
    from factories import build_app

    app = build_app(
        services, MAX_NESTING=2, MAX_BRANCHES=2, MAX_CONCURRENCY=4, MAX_MAP_ITEMS=3, MAX_WAIT_S=60
    )
    yield app.test_client()
    app.extensions["machinery.store"].connection.close()


def nested(depth):
    step = "review"
    for _ in range(depth):
        step = {"choice": [{"when": {"path": "amount", "gt": 1}, "steps": [step]}]}
    return step


@pytest.mark.parametrize(
    ("step", "message"),
    [
        (nested(3), "Constructs nest at most 2 deep (MACHINERY_MAX_NESTING)."),
        (
            {"parallel": [["review"], ["review"], ["review"]]},
            "A choice or a parallel has at most 2 branches (MACHINERY_MAX_BRANCHES).",
        ),
        (
            {"map": {"items": "items", "steps": [], "output": "x", "max_concurrency": 5}},
            "max_concurrency is a whole number from 1 to 4 (MACHINERY_MAX_CONCURRENCY).",
        ),
        ({"wait": {"seconds": 61}}, "A wait lasts at most 60 seconds (MACHINERY_MAX_WAIT_S)."),
    ],
)
def test_a_definition_past_a_limit_is_a_422_naming_the_setting(limited, services, step, message):
    register(
        limited,
        services,
        "review",
        [field("amount", "float")],
        [field("approved", "bool")],
        lambda p: {"approved": True},
    )
    response = limited.post("/w", json={"name": "big", "inputs": ORDER_INPUTS, "services": [step]})
    assert response.status_code == 422, response.json
    assert response.json["problems"][0]["message"] == message
    assert (
        limited.post(
            "/w", json={"name": "ok", "inputs": ORDER_INPUTS, "services": [nested(2)]}
        ).status_code
        == 201
    )


def test_a_map_over_more_items_than_allowed_fails_as_invalid_data(limited, services):
    register(
        limited,
        services,
        "stock",
        [field("item", "object")],
        [field("in_stock", "bool")],
        lambda p: {"in_stock": True},
    )
    workflow = {
        "name": "many",
        "inputs": ORDER_INPUTS,
        "services": [{"map": {"items": "items", "steps": ["stock"], "output": "x"}}],
    }
    assert limited.post("/w", json=workflow).status_code == 201
    response = limited.post("/e/many", json=order(1.0, ("a", "b", "c", "d")))
    assert response.status_code == 502
    assert response.json["error"]["kind"] == "invalid_data"
    assert response.json["error"]["message"] == (
        "the map's items, 'items', are 4, more than the 3 a map takes (MACHINERY_MAX_MAP_ITEMS)"
    )
    assert limited.post("/e/many", json=order(1.0, ("a", "b", "c"))).status_code == 201


def test_a_map_cut_off_by_a_crash_resumes_with_the_items_it_finished(app, client, services):
    calls = []

    def stock(payload):
        calls.append(payload["item"]["sku"])
        return {"in_stock": True}

    register(
        client,
        services,
        "stock",
        [field("item", "object")],
        [field("in_stock", "bool")],
        stock,
        idempotent=True,
    )
    workflow = {
        "name": "count-stock",
        "inputs": ORDER_INPUTS,
        "services": [
            {
                "map": {
                    "items": "items",
                    "steps": ["stock"],
                    "collect": "in_stock",
                    "output": "stock",
                }
            }
        ],
        "outputs": [field("stock", "array")],
    }
    assert client.post("/w", json=workflow).status_code == 201
    event_id = client.post("/e/count-stock?async=true", json=order(1.0, ("a", "b", "c"))).json[
        "event_id"
    ]
    # A process ran items 0 and 2, recorded them, and died: its lease has run out.
    recorded = {
        f"steps.r0s0i{n}": {
            "index": 0,
            "instance": str(n),
            "run": 0,
            "service": "stock",
            "outputs": {"in_stock": False},
            "error": None,
        }
        for n in (0, 2)
    }
    runtime = app.extensions["machinery.runtime"]
    runtime.store.events.collection.update_one(
        {}, {"$set": {"status": "running", "lease_until": 0.0, "fence": 1, **recorded}}
    )
    assert Worker(runtime, concurrency=1).run_once()
    event = client.get(f"/e/{event_id}").json
    assert event["status"] == "succeeded", event
    assert calls == ["b"]  # only the item with no record was called again
    assert event["outputs"] == {"stock": [False, True, False]}


def test_a_dry_run_may_choose_the_branch_a_choice_takes(client, shop):
    assert client.post("/w", json=ORDER).status_code == 201
    small = order(20.0)
    followed = client.post("/w/order/dry-run", json={"data": small}).json
    assert "review" not in [step["service"] for step in followed["steps"]]
    chosen = client.post("/w/order/dry-run", json={"data": small, "branches": {"services[0]": 0}})
    assert chosen.status_code == 200, chosen.json
    assert [step["service"] for step in chosen.json["steps"]][0] == "review"

    wrong = client.post("/w/order/dry-run", json={"data": small, "branches": {"services[1]": 0}})
    assert wrong.status_code == 422
    assert wrong.json["errors"]["branches"]["services[1]"] == [
        "No choice is at services[1]; choices are at: services[0]."
    ]
    past = client.post("/w/order/dry-run", json={"data": small, "branches": {"services[0]": 3}})
    assert past.status_code == 422


def test_lineage_follows_every_path(client, shop):
    assert client.post("/w", json=ORDER).status_code == 201
    lineage = client.get("/w/order/lineage").json
    assert [(s["service"], s.get("place")) for s in lineage["steps"]] == [
        ("review", "services[0].choice[0].steps[0]"),
        ("stock", "services[1].map.steps[0]"),
        ("payment", None),
    ]
    assert lineage["steps"][1]["inputs"]["item"] == {
        "from": "map",
        "place": "services[1]",
        "item": True,
    }
    assert lineage["outputs"]["stock"] == {"from": "map", "place": "services[1]"}


def test_impact_analysis_finds_a_service_called_only_inside_a_branch(client, shop):
    assert client.post("/w", json=ORDER).status_code == 201
    # review runs only when amount > 1000; otherwise sets approved: dropping review's output
    # leaves approved missing on that path, which the order workflow outputs
    broken = service("review", inputs=[field("amount", "float")], outputs=[])
    impact = client.post("/s/review/impact", json=broken)
    assert impact.status_code == 200, impact.json
    [entry] = impact.json["workflows"]
    assert (entry["workflow"], entry["compatible"]) == ("order", False)
    response = client.put("/s/review", json=broken)
    assert response.status_code == 409
    assert client.get("/s/review").json["version"] == 1


def test_the_graph_shows_branches_fan_outs_and_catches(client, shop):
    assert client.post("/w", json=ORDER).status_code == 201
    graph = client.get("/w/order/graph?format=json").json
    kinds = [node["kind"] for node in graph["nodes"]]
    assert kinds == [
        "inputs",
        "choice",
        "call",
        "operation",
        "map",
        "call",
        "collect",
        "call",
        "operation",
        "outputs",
    ]
    labels = {edge.get("label") for edge in graph["edges"] if edge.get("label")}
    assert labels == {"amount > 1000", "otherwise", "each item", "catch 402"}
    mermaid = client.get("/w/order/graph?format=mermaid").get_data(as_text=True)
    assert "amount #gt; 1000" in mermaid  # Mermaid reads entity codes in its labels


@pytest.mark.parametrize("durability", ["step", "event"])
def test_either_durability_keeps_what_each_construct_did(client, shop, durability):
    workflow = {
        **ORDER,
        "name": "nested",
        "services": [
            {
                "map": {
                    "items": "items",
                    "steps": [
                        {
                            "choice": [
                                {"when": {"path": "item.sku", "equals": "b"}, "steps": ["stock"]}
                            ],
                            "otherwise": [{"set": {"in_stock": False}}],
                        }
                    ],
                    "collect": "in_stock",
                    "output": "stock",
                    "max_concurrency": 1,
                }
            },
            {"parallel": [["review"], ["payment"]]},
        ],
    }
    assert client.post("/w", json=workflow).status_code == 201, client.post("/w", json=workflow)
    response = client.post(f"/e/nested?durability={durability}", json=order(10.0))
    assert response.status_code == 201, response.json
    steps = client.get(f"/e/{response.json['event_id']}").json["steps"]
    assert [
        (
            s.get("service") or s["construct"],
            s["place"] if "construct" in s else None,
            s.get("instance"),
            s.get("branch") or s.get("items") or s.get("branches"),
        )
        for s in steps
    ] == [
        ("map", "services[0]", None, 2),
        ("choice", "services[0].map.steps[0]", "0", "otherwise"),
        ("choice", "services[0].map.steps[0]", "1", "choice[0]"),
        ("stock", None, "1", None),
        ("parallel", "services[1]", None, 2),
        ("review", None, None, None),
        ("payment", None, None, None),
    ]


def test_an_event_graph_shows_the_branch_taken_and_each_construct_outcome(client, shop):
    assert client.post("/w", json=ORDER).status_code == 201
    event = client.post("/e/order", json=order(2000.0)).json
    graph = client.get(f"/e/{event['event_id']}/graph?format=json").json
    nodes = {node["id"]: node for node in graph["nodes"]}
    choice = nodes["choice-services-0"]
    assert (choice["outcome"], choice["detail"]) == ("succeeded", "took choice[0]")
    assert nodes["map-services-1"]["outcome"] == "succeeded"
    assert nodes["collect-services-1"]["outcome"] == "succeeded"


# Sub-workflows.

PAY = {
    "name": "pay",
    "inputs": [field("order_id"), field("amount", "float")],
    "services": ["payment"],
    "outputs": [field("payment_id")],
}


def test_a_workflow_calls_another_at_the_version_pinned_when_it_was_saved(client, services, shop):
    assert client.post("/w", json=PAY).status_code == 201
    parent = {
        "name": "checkout",
        "inputs": ORDER_INPUTS,
        "services": [
            {
                "workflow": "pay",
                "input": {"amount": {"fn": "multiply", "args": ["amount", 2]}},
                "output": {"paid": "payment_id"},
            }
        ],
        "outputs": [field("paid")],
    }
    assert client.post("/w", json=parent).status_code == 201, client.post("/w", json=parent).json
    assert client.get("/w/checkout").json["services"][0]["version"] == 1

    response = client.post("/e/checkout", json=order(10.0))
    assert response.status_code == 201, response.json
    assert response.json["outputs"] == {"paid": "pay-o-1"}
    assert shop["payment"] == [{"order_id": "o-1", "amount": 20.0}]
    steps = client.get(f"/e/{response.json['event_id']}").json["steps"]
    assert [(s.get("service"), s.get("workflow"), s.get("instance")) for s in steps] == [
        (None, None, None),
        ("payment", "pay", "w0"),
    ]
    assert (steps[0]["construct"], steps[0]["callee"], steps[0]["callee_version"]) == (
        "workflow",
        "pay",
        1,
    )

    # a new version of pay does not change what checkout runs
    changed = {**PAY, "services": ["review"], "outputs": [field("approved", "bool")]}
    assert client.put("/w/pay", json=changed).status_code == 200
    again = client.post("/e/checkout", json=order(10.0))
    assert again.status_code == 201
    assert again.json["outputs"] == {"paid": "pay-o-1"}

    lineage = client.get("/w/checkout/lineage").json
    assert lineage["outputs"]["paid"]["from"] == "workflow"
    graph = client.get("/w/checkout/graph?format=json").json
    assert [n["kind"] for n in graph["nodes"]] == ["inputs", "workflow", "outputs"]

    dry = client.post("/w/checkout/dry-run", json={"data": order(1.0)})
    assert dry.status_code == 200, dry.json
    assert [step["service"] for step in dry.json["steps"]] == ["payment"]


def test_a_failure_inside_a_sub_workflow_is_caught_around_the_step(client, services, shop):
    assert client.post("/w", json=PAY).status_code == 201
    services.answer(
        "http://payment.example:5000/event", failing(states.HTTP_STATUS, "refused", 402)
    )
    parent = {
        "name": "checkout",
        "inputs": ORDER_INPUTS,
        "services": [
            {
                "workflow": "pay",
                "catch": [{"on": [402], "steps": [{"set": {"payment_id": {"const": "refused"}}}]}],
            }
        ],
        "outputs": [field("payment_id")],
    }
    assert client.post("/w", json=parent).status_code == 201
    response = client.post("/e/checkout", json=order(10.0))
    assert response.status_code == 201, response.json
    assert response.json["outputs"] == {"payment_id": "refused"}

    del parent["services"][0]["catch"]
    client.put("/w/checkout", json=parent)
    failed = client.post("/e/checkout", json=order(10.0))
    assert failed.status_code == 502
    error = failed.json["error"]
    assert (error["service"], error["workflow"], error["within"]) == (
        "payment",
        "pay",
        "services[0]",
    )


def test_a_workflow_may_not_call_itself_through_any_chain(client, shop):
    a = {"name": "a", "inputs": ORDER_INPUTS, "services": ["payment"]}
    assert client.post("/w", json=a).status_code == 201
    b = {"name": "b", "inputs": ORDER_INPUTS, "services": [{"workflow": "a"}]}
    assert client.post("/w", json=b).status_code == 201
    a["services"] = [{"workflow": "b"}]
    response = client.put("/w/a", json=a)
    assert response.status_code == 422
    assert response.json["problems"][0]["message"] == ("A workflow may not call itself: a → b → a.")


def test_an_unregistered_sub_workflow_is_a_409_naming_it(client, shop):
    parent = {"name": "p", "inputs": ORDER_INPUTS, "services": [{"workflow": "ghost"}]}
    response = client.post("/w", json=parent)
    assert response.status_code == 409
    assert response.json["missing_workflows"] == ["ghost"]


def test_a_sub_workflow_with_a_wait_is_refused(client, shop):
    later = {"name": "later", "inputs": ORDER_INPUTS, "services": [{"wait": {"seconds": 5}}]}
    assert client.post("/w", json=later).status_code == 201
    parent = {"name": "p", "inputs": ORDER_INPUTS, "services": [{"workflow": "later"}]}
    response = client.post("/w", json=parent)
    assert response.status_code == 422
    assert "cannot run inside a sub-workflow" in response.json["problems"][0]["message"]


def test_a_sub_workflows_inputs_are_type_checked(client, shop):
    assert client.post("/w", json=PAY).status_code == 201
    parent = {
        "name": "p",
        "inputs": [field("order_id"), field("amount")],
        "services": [{"workflow": "pay"}],
    }
    response = client.post("/w", json=parent)
    assert response.status_code == 422
    assert response.json["problems"][0]["message"] == (
        "Workflow 'pay' at services[0]: input 'amount' expects float, but 'amount' is string "
        "(from workflow input)."
    )


def test_the_documented_order_workflow_branches_maps_calls_pay_and_catches_a_refusal(
    client, services, shop
):
    """The example of docs/workflows.md, as written there."""
    import json
    import pathlib
    import re

    text = (pathlib.Path(__file__).parents[2] / "docs" / "workflows.md").read_text()
    section = text[text.index("## Control flow") :]
    pay, order_workflow = (
        json.loads(block) for block in re.findall(r"```json\n(.*?)```", section, re.S)[:2]
    )
    assert client.post("/w", json=pay).status_code == 201
    assert client.post("/w", json=order_workflow).status_code == 201, client.post(
        "/w", json=order_workflow
    ).json
    paid = client.post("/e/order", json=order(2000.0, ("a", "gone")))
    assert paid.status_code == 201, paid.json
    assert paid.json["outputs"] == {
        "approved": True,
        "stock": [True, False],
        "payment_id": "pay-o-1",
    }
    services.answer(
        "http://payment.example:5000/event", failing(states.HTTP_STATUS, "refused", 402)
    )
    refused = client.post("/e/order", json=order(20.0))
    assert refused.status_code == 201, refused.json
    assert refused.json["outputs"]["payment_id"] == "refused"
