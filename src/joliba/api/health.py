"""Liveness and readiness for load balancers and monitoring (no authentication)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from joliba.http.deps import PlatformDep

router = APIRouter(tags=["health"])


@router.get("/health", summary="Is the server up and its database reachable?")
def health(platform: PlatformDep) -> JSONResponse:
    try:
        with platform.db.session(write=False) as session:
            session.execute(text("SELECT 1"))
    except Exception:
        return JSONResponse({"status": "error", "database": "unreachable"}, status_code=503)
    return JSONResponse({"status": "ok", "database": "ok"})
