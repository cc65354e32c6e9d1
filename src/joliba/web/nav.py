"""The context every workspace page shares, for the sub-navigation in workspace_base.html."""

from __future__ import annotations

from typing import Any

from joliba.domain.permissions import Action
from joliba.services.workspaces import Access

#: The workspace's tabs: (section, path after /w/{ws}, label, the action that shows it).
TABS: tuple[tuple[str, str, str, Action], ...] = (
    ("home", "", "Home", Action.WORKSPACE_VIEW),
    ("files", "/files", "Files", Action.FILE_READ),
    ("connections", "/connections", "Connections", Action.CONNECTION_READ),
    ("pipelines", "/pipelines", "Pipelines", Action.PIPELINE_READ),
    ("datasets", "/datasets", "Datasets", Action.DATASET_READ),
    ("database", "/database", "Database", Action.DATABASE_READ),
    # Shown only with a Superset (JOLIBA_SUPERSET_URL): see workspace_base.html.
    ("dashboards", "/dashboards", "Dashboards", Action.DATABASE_READ),
    ("members", "/members", "Members", Action.MEMBER_LIST),
    ("audit", "/audit", "Audit", Action.AUDIT_READ),
)


def workspace_context(access: Access, section: str, **extra: Any) -> dict[str, Any]:
    """``section`` names the active tab (the first item of one of :data:`TABS`)."""
    return {
        "access": access,
        "workspace": access.workspace,
        "section": section,
        "tabs": TABS,
        **extra,
    }
