"""Stored files go out as downloads, never as content of the site; https brings HSTS."""

from __future__ import annotations

import re
from urllib.parse import unquote

import httpx

from joliba.http.downloads import SANDBOX_CSP, content_disposition
from tests.conftest import World, variant_server
from tests.pipeline_helpers import held_run, push

ACTIVE = {
    "evil.js": b"alert(document.cookie)",
    "evil.html": b"<script>alert(1)</script>",
    "evil.svg": b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>',
    "evil.css": b"body { background: url(javascript:alert(1)) }",
    "evil.xml": b"<x/>",
}


def _is_download(response: httpx.Response, name: str) -> None:
    assert response.status_code == 200, response.text
    assert response.headers["content-disposition"] == content_disposition(name)
    assert response.headers["content-disposition"].startswith("attachment; ")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-security-policy"] == SANDBOX_CSP


def test_workspace_files_that_could_run_are_plain_bytes_attachments(world: World) -> None:
    admin = world.person()
    ws = world.workspace(admin)
    for name, body in {**ACTIVE, "cases.csv": b"a,b\n1,2\n", "notes.txt": b"hi"}.items():
        assert admin.api.put(f"/workspaces/{ws}/files/{name}", content=body).status_code == 201
        r = admin.api.get(f"/workspaces/{ws}/files/{name}")
        _is_download(r, name)
        assert r.content == body
        if name in ACTIVE:
            assert r.headers["content-type"] == "application/octet-stream", name
    csv = admin.api.get(f"/workspaces/{ws}/files/cases.csv")
    assert csv.headers["content-type"].startswith("text/csv")  # inert types keep theirs


def test_dataset_files_exports_and_logs_are_sandboxed_downloads(world: World) -> None:
    admin = world.person()
    ws = world.workspace(admin)
    api = admin.api
    assert api.post(f"/workspaces/{ws}/datasets", json={"name": "d"}).status_code == 201
    base = f"/workspaces/{ws}/datasets/d/versions"
    assert api.post(base, json={}).status_code == 201
    assert api.put(f"{base}/1/files/page.html", content=ACTIVE["evil.html"]).status_code == 201
    assert api.put(f"{base}/1/files/t.csv", content=b"x\n1\n").status_code == 201
    assert api.post(f"{base}/1/publish").status_code == 200
    r = api.get(f"{base}/1/files/page.html")
    _is_download(r, "page.html")
    assert r.headers["content-type"] == "application/octet-stream"
    # Routes that send other attachments get the same CSP from the security headers.
    export = api.get(f"{base}/1/files/t.csv/export")
    assert export.status_code == 200 and export.headers["content-disposition"].startswith(
        "attachment"
    )
    assert export.headers["content-security-policy"] == SANDBOX_CSP
    push(api, ws, "logs")
    run = held_run(world.platform, ws, admin.email, "logs")
    logs = api.get(f"/workspaces/{ws}/runs/{run}/logs.txt")
    assert logs.status_code == 200 and logs.headers["content-security-policy"] == SANDBOX_CSP
    # Pages keep the site's own policy.
    page = httpx.get(f"{world.server.url}/login")
    assert page.headers["content-security-policy"].startswith("default-src 'self'")


def test_file_names_cannot_break_the_header(world: World) -> None:
    admin = world.person()
    ws = world.workspace(admin)
    name = 'r\u00e9sum\u00e9 "final"; x=1.csv'
    assert admin.api.put(f"/workspaces/{ws}/files/{name}", content=b"a\n").status_code == 201
    header = admin.api.get(f"/workspaces/{ws}/files/{name}").headers["content-disposition"]
    fallback = re.fullmatch(r'attachment; filename="([^"]*)"; filename\*=UTF-8\'\'(\S+)', header)
    assert fallback is not None, header
    assert fallback.group(1) == "r_sum_ _final__ x_1.csv"
    assert unquote(fallback.group(2)) == name
    assert content_disposition("...") == "attachment; filename=\"download\"; filename*=UTF-8''..."


def test_https_base_url_sends_hsts_and_secure_cookies(world: World) -> None:
    plain = httpx.get(f"{world.server.url}/login")
    assert "strict-transport-security" not in plain.headers
    assert "Secure" not in plain.headers["set-cookie"]
    with variant_server(world.platform, base_url="https://joliba.example") as https:
        page = httpx.get(f"{https.url}/login")
        assert page.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"
        assert "; Secure" in page.headers["set-cookie"]
        api = httpx.get(f"{https.url}/api/v1/health")
        assert "max-age=31536000" in api.headers["strict-transport-security"]
        # Signing in there: the session and device cookies are Secure too. (A client does not
        # send Secure cookies over http, so the CSRF cookie goes back by hand.)
        person = world.person()
        csrf = page.cookies["joliba_csrf"]
        signed = httpx.post(
            f"{https.url}/login",
            data={"email": person.email, "password": person.password, "csrf_token": csrf},
            headers={"Cookie": f"joliba_csrf={csrf}"},
        )
        assert signed.status_code == 303, signed.text
        cookies = signed.headers.get_list("set-cookie")
        for name in ("joliba_session", "joliba_device"):
            cookie = next(c for c in cookies if c.startswith(f"{name}="))
            assert "; Secure" in cookie and "HttpOnly" in cookie, cookie
