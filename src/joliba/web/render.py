"""Templates, the page context every template gets, and flash messages."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from joliba import __version__
from joliba.domain.connections import MASK
from joliba.domain.permissions import Action
from joliba.http.callers import CSRF_COOKIE

TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")


def _local_time(value: datetime | None, zone: str = "UTC") -> str:
    if value is None:
        return ""
    try:
        tz = ZoneInfo(zone)
    except Exception:
        tz = ZoneInfo("UTC")
    return value.astimezone(tz).strftime("%Y-%m-%d %H:%M")


def _size(value: int | None) -> str:
    if value is None:
        return ""
    size = float(value)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1024 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return str(value)


def _url_path(value: str) -> str:
    """Quote a workspace file path for a URL, keeping its slashes."""
    return quote(value, safe="/")


def _details(value: dict[str, Any] | None) -> str:
    if not value:
        return ""

    def plain(item: Any) -> str:
        return ", ".join(map(str, item)) if isinstance(item, list) else str(item)

    return "; ".join(f"{key}={plain(item)}" for key, item in value.items())


TEMPLATES.env.filters["local_time"] = _local_time
TEMPLATES.env.filters["filesize"] = _size
TEMPLATES.env.filters["urlpath"] = _url_path
TEMPLATES.env.filters["details"] = _details
# Templates ask ``access.allows(Action.X)`` to decide which controls to show.
TEMPLATES.env.globals["Action"] = Action
TEMPLATES.env.globals["MASK"] = MASK


def render(
    request: Request, template: str, context: dict[str, Any] | None = None, *, status: int = 200
) -> HTMLResponse:
    user = getattr(request.state, "user", None)
    ctx: dict[str, Any] = {
        "request": request,
        "version": __version__,
        "user": user,
        # Instance admins see on every page when pipeline code is not (or cannot be) sandboxed.
        "sandbox_notice": (
            request.app.state.sandbox_notice() if getattr(user, "is_superuser", False) else None
        ),
        "csrf_token": getattr(request.state, "csrf_token", ""),
        # Workspaces show a Dashboards tab when a Superset is set up beside this server.
        "superset_on": bool(request.app.state.platform.settings.superset_url),
        "flash": request.query_params.get("flash", ""),
    }
    ctx.update(context or {})
    response = TEMPLATES.TemplateResponse(request, template, ctx, status_code=status)
    if getattr(request.state, "new_csrf_cookie", False):
        # Anonymous forms compare their hidden token with this cookie (double submit).
        response.set_cookie(
            CSRF_COOKIE,
            request.state.csrf_token,
            httponly=True,
            samesite="lax",
            secure=request.app.state.platform.settings.secure_cookies,
            max_age=60 * 60 * 24,
        )
    return response
