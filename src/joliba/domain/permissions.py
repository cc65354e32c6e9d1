"""The whole access policy: which workspace role may do which action.

Services call :func:`require` before they act. ``docs/permissions.md`` is generated from
:data:`POLICY` (a test keeps them equal) and the permission-walk test checks every API
endpoint against it. Superusers may do everything; people outside a workspace may do nothing
and are told the workspace does not exist.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    EDITOR = "editor"
    VIEWER = "viewer"


class Action(StrEnum):
    WORKSPACE_VIEW = "workspace.view"
    WORKSPACE_UPDATE = "workspace.update"
    WORKSPACE_QUOTA = "workspace.quota"
    MEMBER_LIST = "member.list"
    MEMBER_MANAGE = "member.manage"
    FILE_READ = "file.read"
    FILE_WRITE = "file.write"
    FILE_DELETE = "file.delete"
    CONNECTION_READ = "connection.read"
    CONNECTION_WRITE = "connection.write"
    CONNECTION_DELETE = "connection.delete"
    CONNECTION_TEST = "connection.test"
    AUDIT_READ = "audit.read"
    PIPELINE_READ = "pipeline.read"
    PIPELINE_WRITE = "pipeline.write"
    PIPELINE_RUN = "pipeline.run"
    PIPELINE_DELETE = "pipeline.delete"
    PIPELINE_LIMITS = "pipeline.limits"
    DATASET_READ = "dataset.read"
    DATASET_WRITE = "dataset.write"
    DATASET_SHARE = "dataset.share"
    DATASET_ACCESS_LOG = "dataset.access_log"
    DATABASE_READ = "database.read"
    DATABASE_REVEAL = "database.reveal"
    DATABASE_WRITE = "database.write"
    DATABASE_ROTATE = "database.rotate"


_ALL = frozenset(Role)
_WRITERS = frozenset({Role.ADMIN, Role.EDITOR})
_ADMINS = frozenset({Role.ADMIN})

POLICY: dict[Action, frozenset[Role]] = {
    Action.WORKSPACE_VIEW: _ALL,
    Action.WORKSPACE_UPDATE: _ADMINS,
    Action.WORKSPACE_QUOTA: frozenset(),  # instance admins only
    Action.MEMBER_LIST: _ALL,
    Action.MEMBER_MANAGE: _ADMINS,
    Action.FILE_READ: _ALL,
    Action.FILE_WRITE: _WRITERS,
    Action.FILE_DELETE: _WRITERS,
    Action.CONNECTION_READ: _ALL,
    Action.CONNECTION_WRITE: _WRITERS,
    Action.CONNECTION_DELETE: _ADMINS,
    Action.CONNECTION_TEST: _WRITERS,
    Action.AUDIT_READ: _ADMINS,
    Action.PIPELINE_READ: _ALL,
    Action.PIPELINE_WRITE: _WRITERS,
    Action.PIPELINE_RUN: _WRITERS,
    Action.PIPELINE_DELETE: _ADMINS,
    Action.PIPELINE_LIMITS: _ADMINS,
    Action.DATASET_READ: _ALL,
    Action.DATASET_WRITE: _WRITERS,
    Action.DATASET_SHARE: _WRITERS,
    Action.DATASET_ACCESS_LOG: _ADMINS,
    Action.DATABASE_READ: _ALL,
    Action.DATABASE_REVEAL: _WRITERS,
    Action.DATABASE_WRITE: _WRITERS,
    Action.DATABASE_ROTATE: _ADMINS,
}

DESCRIPTIONS: dict[Action, str] = {
    Action.WORKSPACE_VIEW: "See the workspace and its home page",
    Action.WORKSPACE_UPDATE: "Rename, describe, change time zone, archive or unarchive",
    Action.WORKSPACE_QUOTA: "Set the workspace's disk quota (instance admins only)",
    Action.MEMBER_LIST: "See members and their roles",
    Action.MEMBER_MANAGE: "Invite people, change roles, remove members, revoke invitations",
    Action.FILE_READ: "List and download files",
    Action.FILE_WRITE: "Upload files, create folders, move files",
    Action.FILE_DELETE: "Delete files and folders",
    Action.CONNECTION_READ: "See connections (secret fields masked)",
    Action.CONNECTION_WRITE: "Create and edit connections",
    Action.CONNECTION_DELETE: "Delete connections",
    Action.CONNECTION_TEST: "Test a connection (the server contacts the remote system)",
    Action.AUDIT_READ: "Read the workspace audit log",
    Action.PIPELINE_READ: "See pipelines, versions, runs, their logs and outputs",
    Action.PIPELINE_WRITE: "Push pipeline versions; set schedules, webhooks and recipients",
    Action.PIPELINE_RUN: "Start and cancel runs",
    Action.PIPELINE_DELETE: "Delete a pipeline with its versions and runs",
    Action.PIPELINE_LIMITS: "Set a pipeline's resource limits (memory, CPU, processes, files)",
    Action.DATASET_READ: "See datasets, their versions and files; download them",
    Action.DATASET_WRITE: "Create datasets, add files to draft versions, publish versions",
    Action.DATASET_SHARE: "Share a dataset with other workspaces, revoke shares, create and "
    "revoke its read-only dataset tokens",
    Action.DATASET_ACCESS_LOG: "Read a dataset's access log (who read which version and file)",
    Action.DATABASE_READ: "See the workspace database's tables and connection details (no "
    "passwords); run read-only SQL and saved queries, export their rows",
    Action.DATABASE_REVEAL: "See the workspace database's passwords (recorded in the audit log)",
    Action.DATABASE_WRITE: "Run SQL that changes the workspace database (as its owner role); "
    "save and delete queries",
    Action.DATABASE_ROTATE: "Give the workspace database's roles new passwords",
}

#: Outside any workspace: only superusers create workspaces and manage user accounts.
GLOBAL_ACTIONS: dict[str, str] = {
    "workspace.create": "Create a workspace (superusers only)",
    "user.manage": "List and create user accounts (superusers only)",
}


def allows(role: Role | None, action: Action, *, superuser: bool = False) -> bool:
    """Whether someone with ``role`` in a workspace (None: not a member) may do ``action``."""
    if superuser:
        return True
    return role is not None and role in POLICY[action]


def policy_markdown() -> str:
    """The policy as a Markdown table, the body of docs/permissions.md."""
    roles = [Role.VIEWER, Role.EDITOR, Role.ADMIN]
    header = "| action | what it covers | " + " | ".join(r.value for r in roles) + " |"
    lines = [header, "|---|---|" + "---|" * len(roles)]
    for action in Action:
        marks = " | ".join("yes" if r in POLICY[action] else "—" for r in roles)
        lines.append(f"| `{action.value}` | {DESCRIPTIONS[action]} | {marks} |")
    return "\n".join(lines) + "\n"


#: Actions that change nothing; the only ones allowed in an archived workspace (besides
#: WORKSPACE_UPDATE, which is how an admin unarchives it).
READ_ACTIONS = frozenset(
    {
        Action.WORKSPACE_VIEW,
        Action.MEMBER_LIST,
        Action.FILE_READ,
        Action.CONNECTION_READ,
        Action.AUDIT_READ,
        Action.PIPELINE_READ,
        Action.DATASET_READ,
        Action.DATASET_ACCESS_LOG,
        Action.DATABASE_READ,
        Action.DATABASE_REVEAL,
    }
)


if __name__ == "__main__":  # regenerate the table in docs/permissions.md
    print(policy_markdown(), end="")
