"""Malformed, oversized and invalid requests get 4xx JSON errors that name the problem."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx

from joliba.domain.paging import MAX_PAGE, MAX_PAGE_SIZE
from tests.conftest import World
from tests.pipeline_helpers import held_run, push


def _error(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}
    assert {"code", "message", "details"} <= set(body["error"])
    error: dict[str, Any] = body["error"]
    return error


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

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit holds while streaming
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


def test_page_numbers_are_bounded_on_every_list(world: World) -> None:
    """A huge page is a 422 naming the field, never an overflow in the database (500)."""
    su = world.person(superuser=True)
    ws = world.workspace(su)
    lists = [
        "/workspaces",
        "/users",
        "/me/tokens",
        f"/workspaces/{ws}/members",
        f"/workspaces/{ws}/invitations",
        f"/workspaces/{ws}/files",
        f"/workspaces/{ws}/connections",
        f"/workspaces/{ws}/audit",
        f"/workspaces/{ws}/pipelines",
        f"/workspaces/{ws}/runs",
        f"/workspaces/{ws}/datasets",
    ]
    for path in lists:
        for params, field in (
            ({"page": "4901314245945443328"}, "page"),
            ({"page": MAX_PAGE + 1}, "page"),
            ({"page": 0}, "page"),
            ({"page_size": MAX_PAGE_SIZE + 1}, "page_size"),
        ):
            r = su.api.get(path, params=params)
            assert r.status_code == 422, (path, params, r.text)
            error = _error(r)
            assert error["code"] == "invalid"
            assert [d["field"] for d in error["details"]] == [field], (path, error)
            assert field in error["message"]
        last = su.api.get(path, params={"page": MAX_PAGE, "page_size": MAX_PAGE_SIZE})
        assert last.status_code == 200, (path, last.text)
        assert last.json()["items"] == [] and last.json()["page"] == MAX_PAGE


def test_every_error_status_is_declared_with_the_error_shape(world: World) -> None:
    document = world.client().get("/openapi.json").json()
    files = document["paths"]["/workspaces/{ws}/files"]["get"]["responses"]
    assert {"200", "400", "401", "403", "404", "422"} <= set(files)
    ref = files["422"]["content"]["application/json"]["schema"]["$ref"]
    error = document["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    assert set(error["properties"]) == {"error"}
    assert "HTTPValidationError" not in document["components"]["schemas"]
    password = document["paths"]["/me/password"]["post"]["responses"]
    assert "429" in password and "Retry-After" in password["429"]["headers"]
    assert "429" not in document["paths"]["/me"]["get"]["responses"]
    assert set(document["paths"]["/health"]["get"]["responses"]) == {"200", "503"}


def test_numbers_past_what_the_database_holds_are_4xx(world: World) -> None:
    admin = world.person()
    ws = world.workspace(admin)
    push(admin.api, ws, "numbers")
    run = held_run(world.platform, ws, admin.email, "numbers")
    huge = "4901314245945443328000"
    r = admin.api.get(f"/workspaces/{ws}/pipelines/numbers/versions/{huge}")
    assert r.status_code == 404 and _error(r)["code"] == "not_found"
    assert admin.api.get(f"/workspaces/{ws}/pipelines/numbers/versions/1").status_code == 200
    r = admin.api.get(f"/workspaces/{ws}/runs/{run}/logs", params={"after": huge})
    assert r.status_code == 422 and _error(r)["details"][0]["field"] == "after"
    assert admin.api.post(f"/workspaces/{ws}/datasets", json={"name": "d"}).status_code == 201
    assert admin.api.post(f"/workspaces/{ws}/datasets/d/versions", json={}).status_code == 201
    r = admin.api.get(f"/workspaces/{ws}/datasets/d/versions/{huge}")
    assert r.status_code == 404 and _error(r)["code"] == "not_found"
    r = admin.api.put(
        f"/workspaces/{ws}/datasets/d/versions/1/files/a.csv",
        content=b"a\n1\n",
        headers={"X-Content-SHA256": "0" * 64, "X-Upload-Offset": huge},
    )
    assert r.status_code == 422 and "X-Upload-Offset" in _error(r)["message"]
    assert admin.api.get(f"/workspaces/{ws}/datasets/d/versions/1").json()["files"] == []
