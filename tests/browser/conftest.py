"""Browser fixtures: Machinery under gunicorn on nx-27017 with the example services, services
this process plays (one that waits for the test's word, one that fails), and headless Chromium."""

import sys
import uuid
from pathlib import Path

import pytest
from console_site import CHROMEDRIVER, CHROMIUM, DESKTOP, EXAMPLES, PlayedServices, probe, seed

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))

from processes import start_api, start_example, start_mongo  # noqa: E402


def pytest_collection_modifyitems(items):
    for item in items:
        if "browser" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def logs(tmp_path_factory):
    return tmp_path_factory.mktemp("logs")


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory):
    """Where the tests leave their screenshots (artefacts of the run)."""
    return tmp_path_factory.mktemp("screenshots")


@pytest.fixture(scope="session")
def played():
    services = PlayedServices()
    yield services
    services.stop()


@pytest.fixture(scope="session")
def machinery(logs, tmp_path_factory, played):
    """A live Machinery holding the example workflows, a gated one, a failed event and probes."""
    mongo, uri = start_mongo(logs, tmp_path_factory.mktemp("mongo"))
    examples = {name: start_example(name, logs) for name in EXAMPLES}
    db_name = f"machinery_{uuid.uuid4().hex[:8]}"
    api, url = start_api(logs, {"MONGO_URI": uri, "MONGO_DB": db_name}, name="api")
    try:
        seed(url, {EXAMPLES[name]: address for name, (_, address) in examples.items()}, played)
        probe(uri, db_name)
        yield url
    finally:
        api.stop()
        for process, _ in examples.values():
            process.stop()
        mongo.stop()


@pytest.fixture(scope="session")
def browser():
    """Headless Chromium, resolving no name but the loopback: the page can reach nothing else."""
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.fail(
            "Chromium and chromedriver are needed: apt-get install chromium chromium-driver"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        f"--window-size={DESKTOP[0]},{DESKTOP[1]}",
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
        "--proxy-server=http://127.0.0.1:9",
        "--proxy-bypass-list=127.0.0.1",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()
