"""GET /metrics: Prometheus text that a real parser reads, labelled by route pattern."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from handlers.api_tokens import ApiTokens
from handlers.app import create_app
from store.enums import Role
from tests.web_harness import JWT_SECRET, ClientFactory, app_settings

CAMPAIGN_ROUTE = "/api/communications/campaigns/{campaign_id}/status"


Labels = tuple[tuple[str, str], ...]


async def _scrape(client: TestClient[Any, Any]) -> dict[str, list[Sample]]:
    response = await client.get("/metrics")
    assert response.status == 200
    assert response.content_type == "text/plain"
    samples: dict[str, list[Sample]] = {}
    for family in text_string_to_metric_families(await response.text()):
        samples.setdefault(family.name, []).extend(family.samples)
    return samples


def _values(samples: list[Sample], name: str) -> dict[Labels, float]:
    return {tuple(sorted(s.labels.items())): s.value for s in samples if s.name == name}


async def test_requests_are_counted_by_route_pattern_and_outcome(
    aiohttp_client: ClientFactory, sqlite_database_url: str
) -> None:
    client = await aiohttp_client(create_app(app_settings(sqlite_database_url)))
    token = ApiTokens([JWT_SECRET]).issue(Role.VIEWER)
    for _ in range(2):
        assert (await client.get("/api/health")).status == 200
    for campaign in ("4242", "777"):
        answer = await client.get(
            f"/api/communications/campaigns/{campaign}/status",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert answer.status == 404
    assert (await client.get("/api/communications/campaigns/4242/status")).status == 401
    assert (await client.get("/no/such/page/secret-token")).status == 404

    families = await _scrape(client)
    requests = _values(families["guestcomms_http_requests"], "guestcomms_http_requests_total")
    assert requests == {
        (("outcome", "2xx"), ("route", "/api/health")): 2.0,
        (("outcome", "4xx"), ("route", CAMPAIGN_ROUTE)): 2.0,
        (("outcome", "rejected"), ("route", CAMPAIGN_ROUTE)): 1.0,
        (("outcome", "4xx"), ("route", "unmatched")): 1.0,
    }
    latency = _values(
        families["guestcomms_http_request_seconds"], "guestcomms_http_request_seconds_count"
    )
    assert latency == {
        (("route", "/api/health"),): 2.0,
        (("route", CAMPAIGN_ROUTE),): 3.0,
        (("route", "unmatched"),): 1.0,
    }
    # No path, id or token ever becomes a label value.
    label_values = {
        value for samples in families.values() for s in samples for value in s.labels.values()
    }
    assert not any("4242" in value or "secret" in value for value in label_values)

    # The scrape itself is counted once it has been answered.
    again = await _scrape(client)
    recount = _values(again["guestcomms_http_requests"], "guestcomms_http_requests_total")
    assert recount[(("outcome", "2xx"), ("route", "/metrics"))] == 1.0


async def test_each_app_has_its_own_registry(
    aiohttp_client: ClientFactory, sqlite_database_url: str
) -> None:
    first = await aiohttp_client(create_app(app_settings(sqlite_database_url)))
    second = await aiohttp_client(create_app(app_settings(sqlite_database_url)))
    await first.get("/api/health")
    families = await _scrape(second)
    assert _values(families["guestcomms_http_requests"], "guestcomms_http_requests_total") == {}
