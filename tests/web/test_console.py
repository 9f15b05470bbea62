"""The console (/ui) and /docs, through the test client: pages, forms, keys, headers, escaping."""

import re
from html.parser import HTMLParser

import pytest
from factories import SEED_MESSAGE, build_app, failing, field, register_example, service, workflow

MANAGEMENT_KEY = "management-key-0123456789"
CONSUMER_KEY = "consumer-key-0123456789"
PROBE = '<script>alert("probe")</script>'


class Assets(HTMLParser):
    """The addresses a page loads: scripts, stylesheets, images; and any inline script."""

    def __init__(self):
        super().__init__()
        self.loaded, self.inline_scripts, self._in_script = [], 0, False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script":
            if attrs.get("src"):
                self.loaded.append(attrs["src"])
            else:
                self._in_script = True
        if tag == "link" and attrs.get("href"):
            self.loaded.append(attrs["href"])
        if tag == "img" and attrs.get("src"):
            self.loaded.append(attrs["src"])

    def handle_data(self, data):
        if self._in_script and data.strip():
            self.inline_scripts += 1

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False


def assets(html: str) -> Assets:
    parser = Assets()
    parser.feed(html)
    return parser


def csrf(client, path="/ui/workflows/process-text") -> str:
    html = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


@pytest.fixture
def example(client, services):
    register_example(client, services)
    return client.post("/e/process-text", json={"message": SEED_MESSAGE}).json


PAGES = [
    "/ui/workflows",
    "/ui/workflows/process-text",
    "/ui/services",
    "/ui/services?q=rev",
    "/ui/services/upper",
    "/ui/events",
    "/ui/events?workflow=process-text&status=succeeded",
    "/ui/events/{event}",
    "/docs",
]


@pytest.mark.parametrize("path", PAGES)
def test_every_page_renders_with_local_assets_only_and_no_inline_script(client, example, path):
    response = client.get(path.format(event=example["event_id"]))
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self';" in policy and "unsafe-inline" not in policy.split("style-src")[0]
    found = assets(response.get_data(as_text=True))
    assert found.inline_scripts == 0
    for address in found.loaded:
        assert address.startswith("/"), address  # nothing from another site
        with client.get(address) as served:
            assert served.status_code == 200, address


def test_docs_is_swagger_ui_served_from_machinery(client):
    html = client.get("/docs").get_data(as_text=True)
    loaded = assets(html).loaded
    assert "/ui/static/vendor/swagger-ui/swagger-ui-bundle.js" in loaded
    assert "/ui/static/vendor/swagger-ui/swagger-ui.css" in loaded
    assert 'data-spec="/openapi.json"' in html
    assert "cdn" not in html.lower()
    with client.get("/ui/static/vendor/swagger-ui/LICENSE") as served:
        assert "Apache License" in served.get_data(as_text=True)


def test_the_workflow_page_shows_its_graph_lineage_and_a_form_of_its_inputs(client, example):
    html = client.get("/ui/workflows/process-text").get_data(as_text=True)
    assert "<svg" in html and 'data-node="step-2"' in html
    assert 'name="input-message"' in html
    assert "step 1 (reverse) output <code>message</code>" in html


def test_sending_an_event_from_the_form_shows_it(client, example):
    token = csrf(client)
    response = client.post(
        "/ui/workflows/process-text/events",
        data={"csrf_token": token, "input-message": SEED_MESSAGE},
    )
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert 'id="event-status">succeeded<' in page
    assert "! GNINROM EHT NI ESIR LLIW NUS EHT" in page


def test_a_dry_run_from_the_form_calls_no_service(client, services, example):
    calls = len(services.calls)
    response = client.post(
        "/ui/workflows/process-text/dry-run",
        data={"csrf_token": csrf(client), "input-message": "a b"},
    )
    assert response.status_code == 200
    assert 'id="dry-run-result"' in response.get_data(as_text=True)
    assert len(services.calls) == calls


def test_a_form_without_its_token_is_refused(client, example):
    response = client.post("/ui/workflows/process-text/events", data={"input-message": "x"})
    assert response.status_code == 403
    response = client.post(
        "/ui/workflows/process-text/events", data={"csrf_token": "forged", "input-message": "x"}
    )
    assert response.status_code == 403


def test_inputs_that_cannot_be_read_are_a_422_page(client, services):
    assert client.post("/s", json=service("count", outputs=[])).status_code == 201
    flow = workflow("counting", services=["count"], inputs=[field("message"), field("n", "int")])
    assert client.post("/w", json=flow).status_code == 201
    response = client.post(
        "/ui/workflows/counting/events",
        data={
            "csrf_token": csrf(client, "/ui/workflows/counting"),
            "input-message": "x",
            "input-n": "seven",
        },
    )
    assert response.status_code == 422
    assert "Not a whole number." in response.get_data(as_text=True)


def test_a_failed_event_page_shows_the_failure_and_offers_a_redrive(client, services):
    register_example(client, services)
    services.answer("http://reverse.example:5000/event", failing("http_status", "no", 500))
    event = client.post("/e/process-text", json={"message": SEED_MESSAGE}).json
    html = client.get(f"/ui/events/{event['event_id']}").get_data(as_text=True)
    assert 'id="redrive"' in html and 'id="cancel"' not in html
    assert 'class="node call failed" data-node="step-1"' in html
    response = client.post(
        f"/ui/events/{event['event_id']}/redrive", data={"csrf_token": csrf(client)}
    )
    assert response.status_code == 302
    assert client.get(f"/e/{event['event_id']}").json["status"] == "queued"


def test_the_service_page_counts_recent_calls(client, services):
    register_example(client, services)
    for _ in range(3):
        client.post("/e/process-text", json={"message": SEED_MESSAGE})
    services.answer("http://reverse.example:5000/event", failing("http_status", "no", 500))
    client.post("/e/process-text", json={"message": SEED_MESSAGE})
    html = client.get("/ui/services/reverse").get_data(as_text=True)
    assert '<dd id="calls">4</dd>' in html
    assert '<dd id="failures">1</dd>' in html
    assert 'href="/ui/workflows/process-text"' in html


def test_user_text_is_escaped(client):
    definition = service("probe", inputs=[field("message", description=PROBE)])
    assert client.post("/s", json=definition).status_code == 201
    html = client.get("/ui/services/probe").get_data(as_text=True)
    assert PROBE not in html
    assert "&lt;script&gt;alert(&#34;probe&#34;)&lt;/script&gt;" in html
    html = client.get("/ui/services?q=" + PROBE).get_data(as_text=True)
    assert PROBE not in html


@pytest.mark.parametrize(
    "path", ["/ui/events/nothing", "/ui/workflows/nothing", "/ui/services/nothing"]
)
def test_unknown_things_are_404_pages(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "Traceback" not in response.get_data(as_text=True)


@pytest.fixture
def guarded(services):
    app = build_app(services, MANAGEMENT_KEYS=[MANAGEMENT_KEY], CONSUMER_KEYS=[CONSUMER_KEY])
    client = app.test_client()
    headers = {"Authorization": f"Bearer {MANAGEMENT_KEY}"}
    for name in ("upper", "reverse", "space-counter"):
        definition = service(name, outputs=[field("message")])
        services.answer(definition["address"], lambda p: {"message": p["message"]})
        assert client.post("/s", json=definition, headers=headers).status_code == 201
    flow = workflow(services=["upper", "reverse"])
    assert client.post("/w", json=flow, headers=headers).status_code == 201
    yield client
    app.extensions["machinery.store"].connection.close()


def log_in(client, key):
    token = csrf(client, "/ui/login")
    return client.post("/ui/login?next=/ui/services", data={"csrf_token": token, "key": key})


def test_with_keys_the_console_asks_for_one_and_keeps_it_in_a_signed_http_only_cookie(guarded):
    response = guarded.get("/ui/workflows")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/ui/login?next=")
    assert guarded.get("/docs").status_code == 200  # the API description stays open
    refused = log_in(guarded, "wrong")
    assert refused.status_code == 401
    accepted = log_in(guarded, MANAGEMENT_KEY)
    assert accepted.status_code == 302 and accepted.headers["Location"] == "/ui/services"
    cookie = accepted.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert MANAGEMENT_KEY not in cookie
    assert guarded.get("/ui/workflows").status_code == 200
    guarded.post("/ui/logout", data={"csrf_token": csrf(guarded, "/ui/workflows")})
    assert guarded.get("/ui/workflows").status_code == 302


def test_a_consumer_key_sends_events_but_may_not_dry_run(guarded):
    log_in(guarded, CONSUMER_KEY)
    html = guarded.get("/ui/workflows/process-text").get_data(as_text=True)
    assert 'id="send"' in html and 'id="dry-run"' not in html
    token = csrf(guarded)
    refused = guarded.post(
        "/ui/workflows/process-text/dry-run", data={"csrf_token": token, "input-message": "x"}
    )
    assert refused.status_code == 403
    sent = guarded.post(
        "/ui/workflows/process-text/events", data={"csrf_token": token, "input-message": "x"}
    )
    assert sent.status_code == 302


@pytest.mark.parametrize("target", ["https://elsewhere.example/", "//elsewhere.example/", "/e"])
def test_login_never_sends_anyone_elsewhere(guarded, target):
    token = csrf(guarded, "/ui/login")
    response = guarded.post(
        "/ui/login", query_string={"next": target}, data={"csrf_token": token, "key": CONSUMER_KEY}
    )
    assert response.headers["Location"] == "/ui/workflows"


def test_events_are_listed_from_a_time_back_a_page_at_a_time(app, client, example):
    for _ in range(2):
        client.post("/e/process-text", json={"message": "a b"})
    everything = client.get("/e").json["items"]
    assert len(everything) == 3
    oldest = client.get(f"/e/{everything[-1]['event_id']}").json["acked_at"]
    html = client.get("/ui/events", query_string={"before": oldest}).get_data(as_text=True)
    assert everything[-1]["event_id"] in html
    assert everything[0]["event_id"] not in html
    html = client.get("/ui/events", query_string={"before": "2000-01-01T00:00"})
    assert "No event." in html.get_data(as_text=True)
    assert client.get("/ui/events?before=yesterday").status_code == 422
    app.config["PAGE_SIZE"] = 2
    first = client.get("/ui/events").get_data(as_text=True)
    following = re.search(r'class="next" href="([^"]+)"', first).group(1).replace("&amp;", "&")
    second = client.get(following).get_data(as_text=True)
    assert everything[-1]["event_id"] in second and everything[-1]["event_id"] not in first


def test_every_process_signs_sessions_with_the_secret_kept_in_the_store(services):
    import mongomock

    server = mongomock.MongoClient(tz_aware=True)
    first, second = (
        build_app(services, MONGO_CLIENT_FACTORY=lambda *args, **kwargs: server) for _ in range(2)
    )
    one, other = first.test_client(), second.test_client()
    register_example(one, services)
    token = csrf(one)
    other.set_cookie("machinery_console", one.get_cookie("machinery_console").value)
    sent = other.post(
        "/ui/workflows/process-text/events", data={"csrf_token": token, "input-message": "x"}
    )
    assert sent.status_code == 302


def test_configured_secrets_sign_sessions(services):
    app = build_app(services, CONSOLE_SECRETS=["old-secret-0123456789", "new-secret-0123456789"])
    assert app.secret_key == "new-secret-0123456789"
    assert app.config["SECRET_KEY_FALLBACKS"] == ["old-secret-0123456789"]
    app.extensions["machinery.store"].connection.close()


def test_the_workflow_page_diffs_two_versions(client, example):
    replaced = workflow(services=["upper", "reverse"], outputs=[field("message")])
    assert client.put("/w/process-text", json=replaced).status_code == 200
    html = client.get("/ui/workflows/process-text").get_data(as_text=True)
    assert '<span class="removed">-    &#34;space-counter&#34;</span>' in html
    assert "--- version 1" in html and "+++ version 2" in html
    same = client.get("/ui/workflows/process-text?from=2&to=2").get_data(as_text=True)
    assert "The two versions are the same." in same
    assert client.get("/ui/workflows/process-text?from=9").status_code == 422
    older = client.get("/ui/workflows/process-text?version=1").get_data(as_text=True)
    assert 'data-node="step-2"' in older


def test_an_event_page_shows_where_each_nested_step_ran_and_what_it_sent(client, services):
    register_example(client, services)
    definition = workflow(
        "shout-words",
        services=[
            {
                "map": {
                    "items": "words",
                    "as": "word",
                    "steps": [{"service": "upper", "input": {"message": "word"}}],
                    "collect": "message",
                    "output": "shouted",
                }
            }
        ],
        inputs=[field("words", "array")],
    )
    assert client.post("/w", json=definition).status_code == 201
    event = client.post("/e/shout-words", json={"words": ["a", "b"]}).json
    html = client.get(f"/ui/events/{event['event_id']}").get_data(as_text=True)
    assert "at <code>services[0].map.steps[0]</code> · item 0" in html
    assert "item 1" in html
    assert "Request</p>" in html


def test_an_event_page_shows_what_each_construct_did(client, services):
    register_example(client, services)
    branching = workflow(
        "branching",
        services=[
            {
                "choice": [{"when": {"path": "message", "starts_with": "a"}, "steps": ["upper"]}],
                "otherwise": ["reverse"],
            }
        ],
        outputs=[field("message")],
    )
    assert client.post("/w", json=branching).status_code == 201
    event = client.post("/e/branching", json={"message": "bcd"}).json
    html = client.get(f"/ui/events/{event['event_id']}").get_data(as_text=True)
    construct = re.search(
        r'<li class="step construct succeeded" data-construct="choice">(.*?)</li>', html, re.S
    )
    assert construct is not None, html
    assert "services[0]" in construct.group(1) and "took otherwise" in construct.group(1)
    assert "1. reverse" in html and "0. upper" not in html
