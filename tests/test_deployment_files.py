"""The Dockerfile and the Compose stack keep their promises (Docker itself is not run here)."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_the_image_runs_as_a_user_and_checks_its_health():
    dockerfile = (ROOT / "Dockerfile").read_text()
    users = re.findall(r"^USER (\S+)", dockerfile, re.M)
    assert users and users[-1] not in ("root", "0")
    assert re.search(r"^HEALTHCHECK .*\n?.*healthcheck", dockerfile, re.M)


def test_only_the_proxy_is_published_and_the_rest_is_internal():
    services = compose()["services"]
    assert compose()["networks"]["internal"]["internal"] is True
    for name in ("mongo", "machinery", "worker", "upper", "reverse", "space-counter"):
        assert "internal" in services[name]["networks"], name
    assert [name for name, s in services.items() if s.get("ports")] == ["proxy"]


def test_mongodb_requires_credentials_and_machinery_uses_its_own_user():
    services = compose()["services"]
    mongo = services["mongo"]["environment"]
    assert mongo["MONGO_INITDB_ROOT_PASSWORD"].startswith("${MONGO_ROOT_PASSWORD:?")
    assert mongo["MACHINERY_MONGO_PASSWORD"].startswith("${MACHINERY_MONGO_PASSWORD:?")
    for name in ("machinery", "worker"):
        uri = services[name]["environment"]["MONGO_URI"]
        assert uri.startswith("mongodb://${MACHINERY_MONGO_USER:-machinery}:${MACHINERY_MONGO_")
        assert "authSource=machinery" in uri
    mounted = " ".join(services["mongo"]["volumes"])
    assert "init-app-user.js:/docker-entrypoint-initdb.d/" in mounted
    assert (ROOT / "deploy/mongo/start.sh").stat().st_mode & 0o111


def test_the_grafana_dashboard_charts_only_metrics_machinery_exports():
    import json

    from machinery import metrics

    exported = {
        "machinery_queue_depth",
        "machinery_queue_oldest_age_seconds",
        *(
            m._name + suffix
            for m in (
                metrics.EVENTS,
                metrics.SERVICE_CALLS,
                metrics.RETRIES,
                metrics.WEBHOOK_DELIVERIES,
            )
            for suffix in ("_total",)
        ),
        *(
            m._name + "_bucket"
            for m in (
                metrics.EVENT_DURATION,
                metrics.STEP_DURATION,
                metrics.SERVICE_CALL_DURATION,
                metrics.STORE_DURATION,
            )
        ),
    }
    dashboard = json.loads((ROOT / "docs/grafana/machinery-dashboard.json").read_text())
    charted = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"machinery_[a-z_]+", target["expr"])
    }
    assert charted == exported
