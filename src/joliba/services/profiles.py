"""Profiles of table contents: queued when a table file is stored, claimed by one server's
profiler at a time (a claim not renewed within the lease is taken again), then kept."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from joliba.db.tables import TableProfile, utcnow


class ProfileState:
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


def get(session: Session, sha256: str) -> TableProfile | None:
    return session.get(TableProfile, sha256)


def claim(session: Session, lease: timedelta) -> TableProfile | None:
    """Take the oldest waiting profile (or one whose profiler stopped renewing its claim)."""
    now = utcnow()
    waiting = or_(
        TableProfile.state == ProfileState.PENDING,
        (TableProfile.state == ProfileState.RUNNING) & (TableProfile.claimed_at < now - lease),
    )
    for sha256 in session.scalars(
        select(TableProfile.sha256).where(waiting).order_by(TableProfile.updated_at).limit(5)
    ):
        taken = session.execute(
            update(TableProfile)
            .where(TableProfile.sha256 == sha256, waiting)
            .values(state=ProfileState.RUNNING, claimed_at=now, progress=0.0, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        if taken.rowcount == 1:  # type: ignore[attr-defined]
            return session.get(TableProfile, sha256, populate_existing=True)
    return None


def renew(session: Session, sha256: str, progress: float) -> None:
    session.execute(
        update(TableProfile)
        .where(TableProfile.sha256 == sha256, TableProfile.state == ProfileState.RUNNING)
        .values(progress=progress, claimed_at=utcnow())
        .execution_options(synchronize_session=False)
    )


def finish(
    session: Session, sha256: str, *, profile: dict[str, Any] | None = None, error: str = ""
) -> None:
    session.execute(
        update(TableProfile)
        .where(TableProfile.sha256 == sha256)
        .values(
            state=ProfileState.FAILED if error else ProfileState.DONE,
            progress=1.0,
            error=error[:2000],
            profile=profile,
            row_count=profile["rows"] if profile else None,
            updated_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    )


def retry(session: Session, sha256: str) -> None:
    """Queue a failed profile again (after a fix, or a storage outage)."""
    session.execute(
        update(TableProfile)
        .where(TableProfile.sha256 == sha256, TableProfile.state == ProfileState.FAILED)
        .values(state=ProfileState.PENDING, error="", updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
