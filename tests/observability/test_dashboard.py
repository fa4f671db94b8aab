"""deploy/grafana-dashboard.json is valid JSON and queries only metrics
that /metrics serves."""

import json
import re
from pathlib import Path

import pytest

from tests.observability.test_metrics import TOKEN, bearer, scrape

DASHBOARD = Path(__file__).parents[2] / "deploy" / "grafana-dashboard.json"
METRIC = re.compile(r"\b(hub_[a-z0-9_]+)")


def queries(dashboard: dict) -> list[str]:
    return [
        target["expr"]
        for panel in dashboard["panels"]
        for target in panel.get("targets", ())
    ]


def test_the_dashboard_is_a_grafana_dashboard():
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] and dashboard["title"]
    graphs = [p for p in dashboard["panels"] if p["type"] != "row"]
    assert graphs and all(p["targets"] for p in graphs)
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    (variable,) = dashboard["templating"]["list"]
    assert variable["type"] == "datasource" and variable["query"] == "prometheus"


@pytest.mark.django_db
async def test_every_metric_the_dashboard_queries_is_served(settings):
    settings.METRICS_TOKEN = TOKEN
    status, body = await scrape(bearer())
    assert status == 200
    served = set()
    for line in body.splitlines():
        if line.startswith("# TYPE ") or line.startswith("# HELP "):
            served.add(line.split()[2])
        elif line and not line.startswith("#"):
            served.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    wanted = {
        name
        for expr in queries(json.loads(DASHBOARD.read_text()))
        for name in METRIC.findall(expr)
    }
    assert len(wanted) >= 12
    assert wanted <= served, wanted - served
