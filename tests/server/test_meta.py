"""Health, metrics, OpenAPI."""

from __future__ import annotations

from helpers import bearer


async def test_healthz(client) -> None:  # type: ignore[no-untyped-def]
    r = await client.get("/healthz")
    assert r.status == 200 and await r.json() == {"status": "ok"}


async def test_openapi_describes_every_api_route(client) -> None:  # type: ignore[no-untyped-def]
    from server.http.openapi import api_routes

    doc = await (await client.get("/api/v1/openapi.json")).json()
    assert doc["openapi"].startswith("3.")
    for method, path, _handler in api_routes(client.server.app):
        assert path in doc["paths"], f"{path} missing from the OpenAPI document"
        assert method.lower() in doc["paths"][path], (
            f"{method} {path} missing from the OpenAPI document"
        )
    login = doc["paths"]["/api/v1/auth/login"]["post"]
    assert "security" not in login and "requestBody" in login
    assert doc["paths"]["/api/v1/evidence/{id}"]["get"]["security"] == [{"bearer": []}]


async def test_metrics_prometheus_text(client, users) -> None:  # type: ignore[no-untyped-def]
    await client.get("/healthz")
    r = await client.get("/metrics", headers=bearer(users["auditor"]))
    text = await r.text()
    assert r.status == 200 and r.headers["Content-Type"].startswith("text/plain")
    assert 'custodian_http_requests_total{method="GET",route="/healthz",status="200"}' in text
