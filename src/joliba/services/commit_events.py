"""What services announce after their transaction commits, and who listens in this server.

A service calls ``announce(session, RUN_QUEUED)`` where it queues a run; ``Platform`` wires
each name to the in-process listener (the runner, the profiler). A server without that
listener (a CLI command, a second server) loses nothing: the runner and the profiler also
poll, so the announcement only makes things start sooner.
"""

from __future__ import annotations

from joliba.db.engine import after_commit as announce

__all__ = [
    "DATASET_PUBLISHED",
    "RUN_CANCEL_REQUESTED",
    "RUN_QUEUED",
    "RUN_SUCCEEDED",
    "SCHEDULES_CHANGED",
    "TABLE_STORED",
    "WORKSPACE_DATABASE_CHANGED",
    "announce",
]

#: A run was queued: the runner claims it now instead of at its next poll.
RUN_QUEUED = "run.queued"
#: A run succeeded: what it wrote to its workspace's database is shown to Superset.
RUN_SUCCEEDED = "run.succeeded"
#: A schedule was added, paused or resumed: the runner recomputes when to wake.
SCHEDULES_CHANGED = "schedules.changed"
#: A cancel was requested for the run whose id is the argument.
RUN_CANCEL_REQUESTED = "run.cancel_requested"
#: A dataset file was stored: the profiler looks for tables to profile.
TABLE_STORED = "table.stored"
#: A workspace was created, archived or unarchived (its id is the argument): its database
#: on the workspace-database server is made or changed to match.
WORKSPACE_DATABASE_CHANGED = "workspace.database_changed"
#: A dataset version was published: tables kept in step with the dataset are loaded again.
DATASET_PUBLISHED = "dataset.published"
