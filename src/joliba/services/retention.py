"""Deleting finished runs and their logs past the retention age.

Outputs are workspace files, tables or datasets that live on under their own rules; only
the record that a run produced them goes with the run.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from joliba.db.tables import PipelineRun, RunLog, RunOutput
from joliba.domain.runs import FINISHED

_BATCH = 500


def prune_runs(session: Session, *, finished_before: datetime) -> int:
    """Delete up to one batch of old finished runs; returns how many (call until 0)."""
    ids = session.scalars(
        select(PipelineRun.id)
        .where(PipelineRun.state.in_(FINISHED), PipelineRun.finished_at < finished_before)
        .limit(_BATCH)
    ).all()
    if not ids:
        return 0
    # Explicit child deletes: no reliance on ON DELETE CASCADE being enforced.
    session.execute(delete(RunLog).where(RunLog.run_id.in_(ids)))
    session.execute(delete(RunOutput).where(RunOutput.run_id.in_(ids)))
    session.execute(
        update(PipelineRun)
        .where(PipelineRun.retry_of_id.in_(ids))
        .values(retry_of_id=None)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        delete(PipelineRun)
        .where(PipelineRun.id.in_(ids))
        .execution_options(synchronize_session=False)
    )
    return len(ids)
