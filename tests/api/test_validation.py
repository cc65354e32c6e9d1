"""Malformed, oversized and invalid requests get 4xx JSON errors that name the problem."""

from __future__ import annotations

import httpx

from tests.conftest import World


def _error(response: httpx.Response) -> dict:
    body = response.json()
    assert set(body) == {"error"}
    assert {"code", "message", "details"} <= set(body["error"])
    return body["error"]


def test_bad_json_is_400_and_creates_nothing(world: World) -> None:
    su = world.person(superuser=True)
    before = su.api.get("/workspaces").json()["total"]
    r = su.api.post(
        "/workspaces", content=b'{"name": ', headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 400
    assert _error(r)["code"] == "bad_json"
    r = su.api.post("/workspaces", content=b"name=x")
    assert r.status_code == 400
    assert su.api.get("/workspaces").json()["total"] == before


def test_validation_names_the_field(world: World) -> None:
    su = world.person(superuser=True)
    r = su.api.post("/workspaces", json={"name": "ok", "time_zone": "Mars/Olympus"})
    assert r.status_code == 400
    assert "time_zone" in _error(r)["message"]
    r = su.api.post("/workspaces", json={"name": "ok", "colour": "red"})
    assert r.status_code == 422
    error = _error(r)
    assert error["details"][0]["field"] == "colour"
    r = su.api.post("/workspaces", json={"name": "x", "slug": "Not A Slug"})
    assert r.status_code == 400 and "slug" in _error(r)["message"]
    r = su.api.get("/workspaces", params={"page_size": 100000})
    assert r.status_code == 422 and _error(r)["details"][0]["field"] == "page_size"


def test_oversized_json_body_is_413(world: World) -> None:
    su = world.person(superuser=True)
    big = {"name": "x", "description": "a" * 2_000_000}
    r = su.api.post("/workspaces", json=big)
    assert r.status_code == 413
    assert _error(r)["code"] == "too_large"

    def chunks():  # no Content-Length: the limit holds while streaming
        yield b'{"name": "x", "description": "'
        for _ in range(40):
            yield b"a" * 65536
        yield b'"}'

    r = su.api.post("/workspaces", content=chunks(), headers={"Content-Type": "application/json"})
    assert r.status_code == 413


def test_unknown_connection_type_is_400(world: World) -> None:
    admin = world.person()
    ws = world.workspace(admin)
    r = admin.api.post(f"/workspaces/{ws}/connections", json={"type": "oracle", "name": "Legacy"})
    assert r.status_code == 400
    error = _error(r)
    assert "oracle" in error["message"] and error["details"]["field"] == "type"
    assert admin.api.get(f"/workspaces/{ws}/connections").json()["total"] == 0


def test_unknown_route_and_method_are_json(world: World) -> None:
    person = world.person()
    r = person.api.get("/nothing-here")
    assert r.status_code == 404 and _error(r)["code"] == "not_found"
    r = person.api.delete("/workspaces")
    assert r.status_code == 405 and _error(r)["code"] == "method_not_allowed"


def test_anonymous_and_bad_tokens_are_401(world: World) -> None:
    anonymous = world.client()
    r = anonymous.get("/me")
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    r = world.client("jlb_not-a-real-token").get("/me")
    assert r.status_code == 401
    r = anonymous.get("/me", headers={"Authorization": "Basic abc"})
    assert r.status_code == 401 and "Bearer" in _error(r)["message"]


def test_openapi_document_is_served(world: World) -> None:
    r = world.client().get("/openapi.json")
    assert r.status_code == 200
    paths = r.json()["paths"]
    assert "/workspaces/{ws}/files/{path}" in paths
    assert "/workspaces/{ws}/audit" in paths
