"""Pipeline runs: queueing with checked parameters, the executor's lease, endings, retries."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, text, update
from sqlalchemy.orm import Session, selectinload

from joliba.db.tables import (
    Connection,
    Pipeline,
    PipelineRun,
    PipelineVersion,
    RunLog,
    RunOutput,
    User,
    Workspace,
    utcnow,
)
from joliba.domain.errors import Conflict, Invalid, NotFound
from joliba.domain.paging import PageRequest
from joliba.domain.parameters import (
    CONNECTION_TYPES,
    ParameterSpec,
    specs_from_json,
    validate_values,
)
from joliba.domain.permissions import Action
from joliba.domain.runs import FINISHED, RETRYABLE, LogStream, RunState, Trigger, retry_delay
from joliba.services import audit, automation_kinds, commit_events
from joliba.services.actors import Actor
from joliba.services.crypto import SecretBox, new_token, token_hash
from joliba.services.paging import paginate
from joliba.services.workspaces import Access

RUN_TOKEN_PREFIX = "jlr_"  # noqa: S105 (a prefix, not a secret)
_CLAIM_LOCK = 0x4A52554E  # "JRUN": serialises claims across servers on PostgreSQL


def specs_of(version: PipelineVersion) -> list[ParameterSpec]:
    return specs_from_json(version.parameters)


def check_values(
    session: Session, box: SecretBox, version: PipelineVersion, values: Mapping[str, Any]
) -> dict[str, Any]:
    """Validate ``values`` for ``version`` and seal secret ones; raise Invalid naming the field.

    Connection parameters must name a connection of the right type in the pipeline's workspace.
    """
    specs = specs_of(version)
    clean = validate_values(specs, values)
    workspace_id = version.pipeline.workspace_id
    for spec in specs:
        value = clean.get(spec.code)
        if value is None:
            continue
        if spec.type in CONNECTION_TYPES:
            for slug in value if isinstance(value, list) else [value]:
                kind = session.scalar(
                    select(Connection.type).where(
                        Connection.workspace_id == workspace_id, Connection.slug == slug
                    )
                )
                if kind is None:
                    raise Invalid(
                        f"parameter '{spec.code}': no connection '{slug}' in this workspace",
                        details={"parameter": spec.code},
                    )
                if kind != spec.type:
                    raise Invalid(
                        f"parameter '{spec.code}': connection '{slug}' is a {kind} connection, "
                        f"not {spec.type}",
                        details={"parameter": spec.code},
                    )
        if spec.type == "secret":
            items = value if isinstance(value, list) else [value]
            sealed = [{"encrypted": box.seal({"v": v}).decode()} for v in items]
            clean[spec.code] = sealed if isinstance(value, list) else sealed[0]
    return clean


def unseal(box: SecretBox, version: PipelineVersion, values: Mapping[str, Any]) -> dict[str, Any]:
    """The run's parameter values with secrets in clear, for the run's process only."""
    out = dict(values)
    for spec in specs_of(version):
        value = out.get(spec.code)
        if spec.type != "secret" or value is None:
            continue
        items = value if isinstance(value, list) else [value]
        clear = [
            box.open(item["encrypted"].encode())["v"]
            if isinstance(item, dict) and "encrypted" in item
            else item
            for item in items
        ]
        out[spec.code] = clear if isinstance(value, list) else clear[0]
    return out


def shown_parameters(version: PipelineVersion, values: Mapping[str, Any]) -> dict[str, Any]:
    """Parameter values as people may see them: secrets masked."""
    secret = {s.code for s in specs_of(version) if s.type == "secret"}
    return {k: ("********" if k in secret and v is not None else v) for k, v in values.items()}


def queue(
    session: Session,
    box: SecretBox,
    *,
    version: PipelineVersion,
    values: Mapping[str, Any],
    trigger: Trigger,
    default_timeout: int,
    actor: Actor | None = None,
    detail: str = "",
    attempt: int = 1,
    retry_of: PipelineRun | None = None,
    not_before: datetime | None = None,
    checked: bool = False,
) -> PipelineRun:
    """Queue a run of ``version``; ``checked`` values were already validated and sealed."""
    pipeline = version.pipeline
    clean = dict(values) if checked else check_values(session, box, version, values)
    now = utcnow()
    run = PipelineRun(
        workspace_id=pipeline.workspace_id,
        pipeline_id=pipeline.id,
        version_id=version.id,
        state=RunState.QUEUED,
        trigger=trigger,
        trigger_detail=detail[:200],
        triggered_by_id=actor.user.id if actor else None,
        parameters=clean,
        attempt=attempt,
        retry_of_id=retry_of.id if retry_of else None,
        timeout_seconds=version.timeout_seconds or default_timeout,
        queued_at=now,
        not_before=not_before or now,
    )
    session.add(run)
    session.flush()
    commit_events.announce(session, commit_events.RUN_QUEUED)
    if actor is not None:
        audit.record(
            session,
            "run.create",
            actor=actor,
            workspace=session.get(Workspace, pipeline.workspace_id),
            target=f"{pipeline.code} v{version.number} run {run.id}",
        )
    return run


def get(session: Session, access: Access, run_id: str | uuid.UUID) -> PipelineRun:
    try:
        key = run_id if isinstance(run_id, uuid.UUID) else uuid.UUID(str(run_id))
    except ValueError:
        raise NotFound(f"run '{run_id}' not found") from None
    run = session.get(PipelineRun, key)
    if run is None or run.workspace_id != access.workspace.id:
        raise NotFound(f"run '{run_id}' not found")
    return run


def list_for(
    session: Session,
    access: Access,
    page: PageRequest,
    *,
    pipeline: Pipeline | None = None,
    state: str | None = None,
) -> tuple[Sequence[PipelineRun], int]:
    query = select(PipelineRun).where(PipelineRun.workspace_id == access.workspace.id)
    if pipeline is not None:
        query = query.where(PipelineRun.pipeline_id == pipeline.id)
    if state:
        try:
            query = query.where(PipelineRun.state == RunState(state))
        except ValueError:
            raise Invalid(
                f"state: one of {', '.join(s.value for s in RunState)}", details={"field": "state"}
            ) from None
    return paginate(session, query, page, PipelineRun.queued_at.desc(), PipelineRun.id)


def request_cancel(session: Session, access: Access, run: PipelineRun) -> PipelineRun:
    """Cancel: a queued run ends at once; a running one is stopped by its executor."""
    access.demand(Action.PIPELINE_RUN)
    if run.state in FINISHED:
        raise Conflict(f"run {run.id} has already ended ({run.state})")
    now = utcnow()
    if run.state == RunState.QUEUED:
        run.state = RunState.CANCELLED
        run.finished_at = now
        run.error = f"cancelled by {access.actor.user.email} before it started"
    elif run.cancel_requested_at is None:
        run.cancel_requested_at = now
        commit_events.announce(session, commit_events.RUN_CANCEL_REQUESTED, run.id)
    session.flush()
    audit.record(
        session,
        "run.cancel",
        actor=access.actor,
        workspace=access.workspace,
        target=f"{run.pipeline.code} run {run.id}",
    )
    return run


# -- the executor's side ---------------------------------------------------------------------


@dataclass(frozen=True)
class Claimed:
    run_id: uuid.UUID
    #: Given to the run's process only; the database keeps its hash.
    token: str


def claim(
    session: Session, *, executor: str, slots: int, per_workspace: int, now: datetime | None = None
) -> list[Claimed]:
    """Move up to ``slots`` due queued runs to running under ``executor``'s lease.

    The caller's write transaction makes this atomic: SQLite serialises writers
    (BEGIN IMMEDIATE) and PostgreSQL takes a transaction lock, so each queued run is
    claimed by exactly one executor and workspace limits hold across servers.
    """
    if slots <= 0:
        return []
    now = now or utcnow()
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CLAIM_LOCK})
    busy: dict[uuid.UUID, int] = dict(
        session.execute(
            select(PipelineRun.workspace_id, func.count())
            .where(PipelineRun.state == RunState.RUNNING)
            .group_by(PipelineRun.workspace_id)
        ).all()
    )
    # Only ids and workspaces: a claim holds the write lock, so it must stay cheap.
    candidates = session.execute(
        select(PipelineRun.id, PipelineRun.workspace_id)
        .where(PipelineRun.state == RunState.QUEUED, PipelineRun.not_before <= now)
        .order_by(PipelineRun.not_before, PipelineRun.queued_at)
        .limit(max(20, slots * 4))
    ).all()
    claimed: list[Claimed] = []
    for run_id, workspace_id in candidates:
        if len(claimed) >= slots:
            break
        if busy.get(workspace_id, 0) >= per_workspace:
            continue
        token = new_token(RUN_TOKEN_PREFIX)
        session.execute(
            update(PipelineRun)
            .where(PipelineRun.id == run_id, PipelineRun.state == RunState.QUEUED)
            .values(
                state=RunState.RUNNING,
                executor=executor,
                started_at=now,
                heartbeat_at=now,
                token_hash=token_hash(token),
            )
            .execution_options(synchronize_session=False)
        )
        busy[workspace_id] = busy.get(workspace_id, 0) + 1
        claimed.append(Claimed(run_id, token))
    return claimed


def next_due(session: Session) -> datetime | None:
    """When the earliest queued run becomes due (None when nothing is queued)."""
    return session.scalar(
        select(func.min(PipelineRun.not_before)).where(PipelineRun.state == RunState.QUEUED)
    )


@dataclass(frozen=True)
class Beat:
    #: Runs whose cancel was requested: stop them.
    cancel: set[uuid.UUID]
    #: Runs no longer held by this executor (reaped meanwhile): stop them, write nothing.
    lost: set[uuid.UUID]


def heartbeat(
    session: Session, *, executor: str, run_ids: Sequence[uuid.UUID], now: datetime | None = None
) -> Beat:
    """Renew ``executor``'s lease on ``run_ids``; report cancels and runs it no longer holds."""
    if not run_ids:
        return Beat(set(), set())
    now = now or utcnow()
    session.execute(
        update(PipelineRun)
        .where(
            PipelineRun.id.in_(run_ids),
            PipelineRun.executor == executor,
            PipelineRun.state == RunState.RUNNING,
        )
        .values(heartbeat_at=now)
    )
    rows = session.execute(
        select(
            PipelineRun.id, PipelineRun.state, PipelineRun.executor, PipelineRun.cancel_requested_at
        ).where(PipelineRun.id.in_(run_ids))
    ).all()
    held = {r.id for r in rows if r.state == RunState.RUNNING and r.executor == executor}
    cancel = {r.id for r in rows if r.id in held and r.cancel_requested_at is not None}
    return Beat(cancel=cancel, lost=set(run_ids) - held)


def append_logs(session: Session, run_id: uuid.UUID, lines: Sequence[Mapping[str, Any]]) -> None:
    """Store log lines (``at``, ``stream``, ``level``, ``message``) in order."""
    if lines:
        session.execute(insert(RunLog), [{"run_id": run_id, **line} for line in lines])


def system_log(session: Session, run_id: uuid.UUID, message: str, level: str = "info") -> None:
    append_logs(
        session,
        run_id,
        [{"at": utcnow(), "stream": LogStream.SYSTEM, "level": level, "message": message}],
    )


def set_progress(
    session: Session, run_id: uuid.UUID, percent: int, message: str | None = None
) -> None:
    session.execute(
        update(PipelineRun)
        .where(PipelineRun.id == run_id)
        .values(progress=max(0, min(100, int(percent))), progress_message=(message or "")[:500])
    )


def add_output(session: Session, run_id: uuid.UUID, *, kind: str, uri: str, name: str) -> None:
    if kind not in ("file", "table", "dataset"):
        raise Invalid(f"output kind '{kind}' is not file, table or dataset")
    session.add(RunOutput(run_id=run_id, kind=kind, uri=uri[:1024], name=name[:255]))
    session.flush()


@dataclass(frozen=True)
class Ended:
    run: PipelineRun
    #: Runs queued because of this ending: a retry, or pipelines triggered by a success.
    queued: list[PipelineRun]


def finish(
    session: Session,
    box: SecretBox,
    run_id: uuid.UUID,
    *,
    state: RunState,
    executor: str | None,
    default_timeout: int,
    exit_code: int | None = None,
    error: str = "",
    now: datetime | None = None,
) -> Ended | None:
    """End a running run, if ``executor`` still holds it (None: whoever holds it).

    Queues the retry its pipeline's policy asks for, and the runs its success triggers.
    Returns None when the run was not running under that lease (already ended or reaped).
    """
    if state not in FINISHED:
        raise ValueError(f"{state} is not an ending")
    run = session.get(PipelineRun, run_id)
    if run is None or run.state != RunState.RUNNING:
        return None
    if executor is not None and run.executor != executor:
        return None
    now = now or utcnow()
    run.state = state
    run.finished_at = now
    run.exit_code = exit_code
    run.error = error[:10_000]
    run.token_hash = None
    if state == RunState.SUCCEEDED:
        run.progress = 100
    session.flush()
    queued: list[PipelineRun] = []
    version = run.version
    if state in RETRYABLE and run.attempt <= version.retries:
        wait = retry_delay(version.retry_delay_seconds, run.attempt)
        retry = queue(
            session,
            box,
            version=version,
            values=run.parameters,
            trigger=Trigger.RETRY,
            default_timeout=default_timeout,
            detail=f"attempt {run.attempt + 1} of {version.retries + 1}",
            attempt=run.attempt + 1,
            retry_of=run,
            not_before=now + timedelta(seconds=wait),
            checked=True,
        )
        retry.triggered_by_id = run.triggered_by_id
        system_log(session, run.id, f"retrying in {wait:g} s as run {retry.id}", "warning")
        queued.append(retry)
    if state == RunState.SUCCEEDED:
        queued.extend(_trigger_downstream(session, box, run, default_timeout))
        commit_events.announce(session, commit_events.RUN_SUCCEEDED)
    session.flush()
    return Ended(run=run, queued=queued)


def _trigger_downstream(
    session: Session, box: SecretBox, run: PipelineRun, default_timeout: int
) -> list[PipelineRun]:
    queued = []
    for start in automation_kinds.starts(session, automation_kinds.Kind.PIPELINE, run.pipeline_id):
        try:
            # Saved values hold sealed secrets; check them again against the latest version.
            clear = unseal(box, start.version, start.parameters)
            queued.append(
                queue(
                    session,
                    box,
                    version=start.version,
                    values=clear,
                    trigger=Trigger.PIPELINE,
                    default_timeout=default_timeout,
                    detail=f"{run.pipeline.code} run {run.id}",
                )
            )
        except Invalid as exc:  # the target's parameters changed since the trigger was set
            code = start.version.pipeline.code
            system_log(session, run.id, f"could not start {code}: {exc.message}", "error")
    return queued


def reap(
    session: Session, box: SecretBox, *, lease: timedelta, default_timeout: int
) -> list[Ended]:
    """Fail the running runs whose executor stopped renewing its lease."""
    now = utcnow()
    stale = session.scalars(
        select(PipelineRun.id).where(
            PipelineRun.state == RunState.RUNNING, PipelineRun.heartbeat_at < now - lease
        )
    ).all()
    ended = []
    for run_id in stale:
        system_log(
            session,
            run_id,
            f"no heartbeat from its executor for {int(lease.total_seconds())} s: "
            "the server or executor running it stopped",
            "error",
        )
        done = finish(
            session,
            box,
            run_id,
            state=RunState.FAILED,
            executor=None,
            default_timeout=default_timeout,
            error="lost its executor (no heartbeat)",
            now=now,
        )
        if done is not None:
            ended.append(done)
    return ended


def logs(
    session: Session, run: PipelineRun, *, after: int = 0, limit: int = 1000, search: str = ""
) -> Sequence[RunLog]:
    query = select(RunLog).where(RunLog.run_id == run.id, RunLog.id > after)
    if search:
        query = query.where(func.lower(RunLog.message).contains(search.lower(), autoescape=True))
    return session.scalars(query.order_by(RunLog.id).limit(limit)).all()


def outputs(session: Session, run: PipelineRun) -> Sequence[RunOutput]:
    return session.scalars(
        select(RunOutput).where(RunOutput.run_id == run.id).order_by(RunOutput.created_at)
    ).all()


def triggered_by(session: Session, run: PipelineRun) -> User | None:
    return session.get(User, run.triggered_by_id) if run.triggered_by_id else None


def load_for_list(session: Session, rows: Sequence[PipelineRun]) -> dict[uuid.UUID, User]:
    """What a list of runs shows beyond the rows, in a few queries whatever their number:
    their pipelines and versions (loaded into the session) and who started them."""
    if not rows:
        return {}
    ids = {r.id for r in rows}
    session.scalars(
        select(PipelineRun)
        .where(PipelineRun.id.in_(ids))
        .options(selectinload(PipelineRun.pipeline), selectinload(PipelineRun.version))
    ).all()
    people = {r.triggered_by_id for r in rows if r.triggered_by_id}
    if not people:
        return {}
    return {u.id: u for u in session.scalars(select(User).where(User.id.in_(people)))}


def resolve_token(session: Session, token: str) -> PipelineRun | None:
    """The running run a run token belongs to (tokens die when the run ends)."""
    if not token.startswith(RUN_TOKEN_PREFIX):
        return None
    run = session.scalar(select(PipelineRun).where(PipelineRun.token_hash == token_hash(token)))
    return run if run is not None and run.state == RunState.RUNNING else None


def all_logs(session: Session, run: PipelineRun) -> Iterator[RunLog]:
    """Every line in order, read in chunks (a long run's log does not load at once)."""
    after = 0
    while True:
        chunk = logs(session, run, after=after, limit=5000)
        yield from chunk
        if len(chunk) < 5000:
            return
        after = chunk[-1].id


def acting_user(session: Session, run: PipelineRun) -> User | None:
    """Whom a run acts for: who started it, else who pushed its version."""
    for user_id in (run.triggered_by_id, run.version.created_by_id, run.pipeline.created_by_id):
        user = session.get(User, user_id) if user_id else None
        if user is not None and user.is_active:
            return user
    return None
