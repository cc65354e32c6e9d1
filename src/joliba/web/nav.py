"""The context every workspace page shares, for the sub-navigation in workspace_base.html."""

from __future__ import annotations

from typing import Any

from joliba.services.workspaces import Access


def workspace_context(access: Access, section: str, **extra: Any) -> dict[str, Any]:
    """``section`` names the active tab: home, files, connections, members or audit."""
    return {"access": access, "workspace": access.workspace, "section": section, **extra}
