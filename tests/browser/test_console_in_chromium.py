"""The console in headless Chromium against a live Machinery: every page, a test event sent from
the form, a running event's steps appearing live, markup never run, /docs with no network."""

import threading
from urllib.parse import quote

import pytest
import requests
from console_site import DESKTOP, PHONE, PROBE_NAME, PROBE_TEXT, SEED, screenshot
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

WAIT_S = 30  # the longest any page is given to show what is awaited: a bound, not a measure
REVERSED = "! GNINROM EHT NI ESIR LLIW NUS EHT"


def wait(driver):
    return WebDriverWait(driver, WAIT_S)


def text_of(driver, css: str) -> str:
    return driver.find_element(By.CSS_SELECTOR, css).text


def node_class(driver, node: str) -> str:
    return driver.find_element(By.CSS_SELECTOR, f"#graph g[data-node='{node}']").get_attribute(
        "class"
    )


def local_only(driver, origin: str) -> list[str]:
    """The resources the page loaded from anywhere but Machinery."""
    names = driver.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
    )
    return [name for name in names if not name.startswith(origin)]


@pytest.mark.parametrize(
    "path, heading",
    [
        ("/ui/workflows", "Workflows"),
        ("/ui/workflows/process-text", "Workflow process-text"),
        ("/ui/services", "Services"),
        ("/ui/services/reverse", "Service reverse"),
        ("/ui/events", "Events"),
        ("/ui/events?workflow=fragile-text&status=failed", "Events"),
    ],
)
def test_each_page_opens_at_desktop_and_phone_width(browser, machinery, screenshots, path, heading):
    for width, height in (DESKTOP, PHONE):
        browser.set_window_size(width, height)
        browser.get(machinery + path)
        assert text_of(browser, "h1") == heading
        assert local_only(browser, machinery) == []
        # Nothing wider than the window: the page reflows instead of scrolling sideways.
        overflow = browser.execute_script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, (path, width, overflow)
        name = path.strip("/").replace("/", "-").split("?")[0] + ("-phone" if width < 600 else "")
        screenshot(browser, screenshots, name)
    browser.set_window_size(*DESKTOP)


def test_the_workflow_page_draws_its_graph(browser, machinery, screenshots):
    browser.get(machinery + "/ui/workflows/process-text")
    nodes = browser.find_elements(By.CSS_SELECTOR, "#graph g[data-node]")
    assert [n.get_attribute("data-node") for n in nodes] == [
        "inputs",
        "step-0",
        "step-1",
        "step-2",
        "outputs",
    ]
    labels = [t.text for t in browser.find_elements(By.CSS_SELECTOR, "#graph text")]
    assert {"upper", "reverse", "space-counter", "space_count"} <= set(labels)
    assert browser.find_element(By.ID, "lineage").is_displayed()
    screenshot(browser, screenshots, "workflow")


def test_a_test_event_sent_from_the_form_shows_its_result(browser, machinery, screenshots):
    browser.get(machinery + "/ui/workflows/process-text")
    box = browser.find_element(By.ID, "input-message")
    box.clear()
    box.send_keys(SEED["message"])
    browser.find_element(By.ID, "send").click()
    wait(browser).until(EC.url_contains("/ui/events/"))
    assert text_of(browser, "#event-status") == "succeeded"
    assert REVERSED in text_of(browser, "#outputs")
    steps = browser.find_elements(By.CSS_SELECTOR, "#steps li.step")
    assert len(steps) == 3 and all("succeeded" in s.get_attribute("class") for s in steps)
    assert all("succeeded" in node_class(browser, f"step-{i}") for i in range(3))
    screenshot(browser, screenshots, "event-sent")


def test_a_dry_run_from_the_form(browser, machinery):
    browser.get(machinery + "/ui/workflows/process-text")
    browser.find_element(By.ID, "input-message").send_keys("a b c")
    browser.find_element(By.ID, "dry-run").click()
    result = wait(browser).until(EC.presence_of_element_located((By.ID, "dry-run-result")))
    assert "succeeded" in result.text


def test_a_failed_event_shows_where_it_failed(browser, machinery, screenshots):
    browser.get(machinery + "/ui/events?workflow=fragile-text&status=failed")
    browser.find_element(By.CSS_SELECTOR, "#events tbody a").click()
    assert text_of(browser, "#event-status") == "failed"
    assert "broken" in text_of(browser, "#event-message")
    assert "succeeded" in node_class(browser, "step-0")
    assert "failed" in node_class(browser, "step-1")
    assert browser.find_element(By.ID, "redrive").is_displayed()
    screenshot(browser, screenshots, "event-failed")


def test_a_running_event_shows_its_steps_as_they_end(browser, machinery, played, screenshots):
    played.gate.clear()
    sent = {}

    def send():  # synchronous: the answer comes once the gate opens
        sent["response"] = requests.post(f"{machinery}/e/slow-text", json=SEED, timeout=90)

    sender = threading.Thread(target=send)
    sender.start()
    try:
        running = wait(browser).until(lambda _: running_event(machinery))
        browser.get(f"{machinery}/ui/events/{running}")
        browser.execute_script("window.sameDocument = true")
        # The first step has ended and the second waits for the gate: shown without reloading.
        wait(browser).until(lambda b: "succeeded" in node_class(b, "step-0"))
        wait(browser).until(lambda b: "running" in node_class(b, "step-1"))
        assert text_of(browser, "#event-status") == "running"
        assert "not_reached" in node_class(browser, "step-2")
        screenshot(browser, screenshots, "event-running")
        played.gate.set()
        wait(browser).until(lambda b: text_of(b, "#event-status") == "succeeded")
        assert all("succeeded" in node_class(browser, f"step-{i}") for i in range(3))
        assert len(browser.find_elements(By.CSS_SELECTOR, "#steps li.step")) == 3
        assert browser.execute_script("return window.sameDocument") is True
    finally:
        played.gate.set()
        sender.join()
    assert sent["response"].status_code == 201


def running_event(url: str) -> str | None:
    listed = requests.get(f"{url}/e?workflow=slow-text&status=running", timeout=5).json()
    return listed["items"][0]["event_id"] if listed["items"] else None


def test_markup_in_a_name_or_description_is_shown_never_run(browser, machinery, screenshots):
    browser.get(machinery + "/ui/services")
    assert PROBE_NAME in text_of(browser, "#services")
    browser.get(f"{machinery}/ui/services/{quote(PROBE_NAME, safe='')}")
    assert text_of(browser, "#service-name") == PROBE_NAME
    assert PROBE_TEXT in text_of(browser, "#inputs")
    browser.get(machinery + "/ui/services/gate")
    assert PROBE_TEXT in text_of(browser, "#inputs")
    assert browser.execute_script("return window.probed") is None
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text  # noqa: B018 - reading it is the check
    screenshot(browser, screenshots, "probe")


def test_docs_renders_the_api_with_no_network(browser, machinery, screenshots):
    browser.get(machinery + "/docs")
    title = wait(browser).until(
        EC.visibility_of_element_located((By.CSS_SELECTOR, ".swagger-ui .info .title"))
    )
    assert title.text.startswith("Machinery")
    operations = browser.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")
    assert any("/graph" in o.text for o in operations)
    assert local_only(browser, machinery) == []
    screenshot(browser, screenshots, "docs")
