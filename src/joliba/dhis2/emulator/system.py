"""``/api/system/info``, ``/api/system/ping`` and ``/api/me``, shaped like the recorded answers of
each DHIS2 version."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request

FULL_VERSIONS = {
    "2.36": ("2.36.13.2", "2b88079", "2022-12-21T19:59:50.000"),
    "2.37": ("2.37.9.1", "aec9de0", "2023-04-14T13:37:57.000"),
    "2.38": ("2.38.7", "56cd710", "2024-06-25T13:19:58.000"),
    "2.39": ("2.39.5", "7e7e8db", "2024-04-08T19:35:06.000"),
    "2.40": ("2.40.4.1", "5c7c4b4", "2024-07-03T10:12:45.000"),
    "2.41": ("2.41.0.1", "fd9cd52", "2024-05-21T08:02:11.000"),
}
SUPPORTED = tuple(FULL_VERSIONS)


def minor(version: str) -> int:
    """``"2.39"`` → 39."""
    return int(version.split(".")[1])


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]


def info(request: Request, version: str, system_id: str) -> dict[str, Any]:
    full, revision, build_time = FULL_VERSIONS[version]
    old = minor(version) <= 37
    body: dict[str, Any] = {
        "contextPath": request.state.context_path,
        "userAgent": request.headers.get("user-agent", ""),
        "calendar": "iso8601",
        "dateFormat": "yyyy-mm-dd",
        "serverDate": _now(),
        "serverTimeZoneId": "Etc/UTC",
        "serverTimeZoneDisplayName": "Coordinated Universal Time",
        "lastAnalyticsTableSuccess": _now(),
        "intervalSinceLastAnalyticsTableSuccess": "0 h, 0 m, 1 s",
        "lastAnalyticsTableRuntime": "00:00:01.000",
        "lastSystemMonitoringSuccess": "2024-01-01T00:00:00.000",
        "version": full,
        "revision": revision,
        "buildTime": build_time,
    }
    if old:
        body["jasperReportsVersion"] = "6.3.1"
        body["environmentVariable"] = "DHIS2_HOME"
    body["databaseInfo"] = {"spatialSupport": True}
    if minor(version) >= 41:
        body["databaseInfo"]["time"] = _now()
    body.update(
        {
            "encryption": False,
            "emailConfigured": False,
            "redisEnabled": False,
            "systemId": system_id,
            "systemName": "Joliba DHIS2 emulator",
        }
    )
    if old:
        body["clusterHostname"] = ""
    body["isMetadataVersionEnabled"] = True
    if old:
        body["metadataSyncEnabled"] = False
    return body


def me(user: str, root: str) -> dict[str, Any]:
    return {
        "id": "M5zQapPyTZI",
        "username": user,
        "name": "John Traore",
        "displayName": "John Traore",
        "firstName": "John",
        "surname": "Traore",
        "organisationUnits": [{"id": root}],
        "dataViewOrganisationUnits": [{"id": root}],
        "authorities": ["ALL"],
    }
