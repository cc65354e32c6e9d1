"""The /api/v1 application: every router, the error shape and the OpenAPI document."""

from __future__ import annotations

from fastapi import FastAPI

from joliba.api import (
    audit,
    connections,
    dataset_sharing,
    dataset_tables,
    datasets,
    files,
    health,
    me,
    members,
    pipelines,
    responses,
    runs,
    schedules,
    superset,
    triggers,
    users,
    webhooks,
    workspace_databases,
    workspaces,
)
from joliba.http import errors

ROUTERS = (
    health.router,
    me.router,
    users.router,
    workspaces.router,
    workspace_databases.router,
    members.router,
    files.router,
    connections.router,
    audit.router,
    pipelines.router,
    runs.router,
    schedules.router,
    webhooks.router,
    triggers.router,
    datasets.router,
    dataset_tables.router,
    dataset_sharing.router,
    superset.router,
)


def create_api(version: str) -> FastAPI:
    api = FastAPI(
        title="Joliba API",
        version=version,
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
        description="Authenticate with `Authorization: Bearer <token>` "
        "(create tokens on your account page or with `joliba tokens create`).",
    )
    for router in ROUTERS:
        api.include_router(router)
    errors.install(api)
    responses.install(api)
    return api
