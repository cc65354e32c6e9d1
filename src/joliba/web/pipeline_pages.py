"""Pipelines: the list, one pipeline with its run form, versions and recent runs.

The run form is generated from the latest version's parameter spec. Each field is parsed
with :func:`joliba.domain.parameters.parse_text`, like ``--param k=v`` on the command line,
then checked by the same service as the API. A bad value shows the form again with the
error next to the parameter it names and the typed values kept — except secrets, which are
never sent back to the browser. The schedule and trigger forms of :mod:`automation_pages` use
the same fields (:func:`parameter_fields`, :func:`submitted_values`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from joliba.db.tables import Pipeline, PipelineVersion
from joliba.domain.errors import Invalid, NotFound
from joliba.domain.paging import MAX_PAGE, PageRequest
from joliba.domain.parameters import CONNECTION_TYPES, ParameterSpec, parse_text
from joliba.domain.permissions import Action
from joliba.domain.run_limits import Limits
from joliba.domain.runs import Trigger
from joliba.http.deps import PlatformDep
from joliba.http.views import pipeline_views, run_views
from joliba.schemas.pipelines import Run
from joliba.services import automations, connections, pipelines, runs, schedules, units
from joliba.services.actors import Actor
from joliba.services.automation_kinds import Kind
from joliba.services.platform import Platform
from joliba.services.workspaces import Access
from joliba.web.auth import PageActor, csrf_protect
from joliba.web.forms import FormDep, problem, see_other, text, texts
from joliba.web.nav import workspace_context
from joliba.web.render import render
from joliba.web.run_pages import duration_text, run_url, trigger_text

router = APIRouter(dependencies=[Depends(csrf_protect)])
PAGE_SIZE = 100
VERSIONS_SHOWN = 20
RUNS_CHARTED = 30
RUNS_LISTED = 10
#: Form fields are named "p.<code>", so they never clash with csrf_token or version.
PREFIX = "p."

# The chart's drawing area (SVG user units); one slot per run, newest on the right.
CHART_SLOT = 10
CHART_BAR = 8
CHART_HEIGHT = 60


@dataclass
class FormField:
    """One parameter's input, as the template draws it."""

    spec: ParameterSpec
    #: text, number, checkbox, password, select, connection or dhis2 (a picker).
    widget: str
    value: str = ""
    selected: tuple[str, ...] = ()
    checked: bool = False
    options: list[tuple[str, str]] = field(default_factory=list)
    error: str = ""
    #: A DHIS2 picker's fragment (see :mod:`joliba.web.dhis2_picker_pages`).
    picker_url: str = ""

    @property
    def name(self) -> str:
        return PREFIX + self.spec.code

    @property
    def picker(self) -> dict[str, Any]:
        """A DHIS2 picker as first drawn: the ticked ids (named once the list loads)."""
        return {
            "name": self.name,
            "multiple": self.spec.multiple,
            "required": self.spec.required,
            "options": [{"item": {"id": i, "name": i}, "picked": True} for i in self.selected if i],
        }

    @property
    def picker_label(self) -> str:
        """What a DHIS2 picker lists, in words: "data elements", "org units"."""
        return (self.spec.dhis2_collection or "").replace("_", " ")

    @property
    def step(self) -> str:
        return "1" if self.spec.type == "int" else "any"

    @property
    def placeholder(self) -> str:
        if self.widget in ("text", "password") and self.spec.multiple:
            return "values separated by commas"
        if self.spec.type == "file":
            return "path/in/the/workspace.csv"
        if self.spec.type == "dataset":
            return "dataset-slug"
        return ""


@dataclass(frozen=True)
class Bar:
    """One run in the chart: a rectangle linking to the run."""

    run: Run
    x: int
    y: float
    height: float
    seconds: float | None


@router.get("/w/{ws}/pipelines")
def pipeline_list(
    request: Request,
    platform: PlatformDep,
    actor: PageActor,
    ws: str,
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
) -> Response:
    with units.work(platform.db, actor, ws, Action.PIPELINE_READ) as (session, access):
        rows, total = pipelines.list_for(
            session, access, PageRequest(page=page, page_size=PAGE_SIZE)
        )
        views = pipeline_views(session, rows)
    context = workspace_context(
        access, "pipelines", pipelines=views, total=total, page=page, page_size=PAGE_SIZE
    )
    return render(request, "pipelines.html", context)


@router.get("/w/{ws}/pipelines/{code}")
def pipeline_page(
    request: Request, platform: PlatformDep, actor: PageActor, ws: str, code: str
) -> Response:
    with units.work(platform.db, actor, ws, Action.PIPELINE_READ) as (session, access):
        pipeline = pipelines.get(session, access, code)
        version = pipelines.latest_version(session, pipeline)
        fields = parameter_fields(session, access, version, None) if version else []
        limits = Limits.from_settings(platform.settings)
        context = _page_context(session, access, pipeline, version, fields, instance=limits)
    return render(request, "pipeline.html", context)


@router.post("/w/{ws}/pipelines/{code}/runs")
def run_create(
    request: Request, platform: PlatformDep, actor: PageActor, ws: str, code: str, form: FormDep
) -> Response:
    number = text(form, "version")
    try:
        with units.work(platform.db, actor, ws, Action.PIPELINE_RUN) as (session, access):
            pipeline = pipelines.get(session, access, code)
            # The version the form was drawn from: a push meanwhile must not reinterpret it.
            version = pipelines.get_version(
                session, pipeline, int(number) if number.isascii() and number.isdigit() else None
            )
            run = runs.queue(
                session,
                platform.box,
                version=version,
                values=submitted_values(runs.specs_of(version), form),
                trigger=Trigger.MANUAL,
                default_timeout=platform.settings.run_timeout_seconds,
                actor=access.actor,
            )
            run_id = run.id
    except Invalid as exc:
        return _form_again(request, platform, actor, ws, code, form, exc)
    return see_other(run_url(ws, run_id), "Run queued.")


def submitted_values(specs: Sequence[ParameterSpec], form: FormData) -> dict[str, Any]:
    """The form's values, parsed per parameter; a missing value is left to the defaults."""
    values: dict[str, Any] = {}
    for spec in specs:
        name = PREFIX + spec.code
        widget = _widget(spec)
        if widget == "checkbox":
            # Unticked checkboxes are not sent: absent means false.
            values[spec.code] = parse_text(spec, "true" if text(form, name) else "false")
        elif widget in ("select", "connection", "dhis2"):
            chosen = [item for item in texts(form, name) if item]
            if spec.multiple:
                # A JSON list keeps choices that contain commas whole.
                values[spec.code] = parse_text(spec, json.dumps(chosen)) if chosen else None
            elif chosen:
                values[spec.code] = parse_text(spec, chosen[0])
        else:
            raw = text(form, name)
            # An empty field means "no value": the default applies, or "a value is required".
            if raw.strip():
                values[spec.code] = parse_text(spec, raw)
    return values


def _form_again(
    request: Request,
    platform: Platform,
    actor: Actor,
    ws: str,
    code: str,
    form: FormData,
    exc: Invalid,
) -> Response:
    message, status = problem(exc)
    with units.work(platform.db, actor, ws, Action.PIPELINE_READ) as (session, access):
        pipeline = pipelines.get(session, access, code)
        number = text(form, "version")
        version: PipelineVersion | None
        try:
            version = pipelines.get_version(
                session, pipeline, int(number) if number.isascii() and number.isdigit() else None
            )
        except NotFound:
            version = pipelines.latest_version(session, pipeline)
        fields = parameter_fields(session, access, version, form) if version else []
        shown_apart = not mark_parameter_error(fields, exc)
        context = _page_context(
            session,
            access,
            pipeline,
            version,
            fields,
            instance=Limits.from_settings(platform.settings),
            error=message if shown_apart else "",
        )
    return render(request, "pipeline.html", context, status=status)


def mark_parameter_error(fields: Sequence[FormField], exc: Invalid) -> bool:
    """Put ``exc``'s message next to the parameter it names; whether one was named."""
    details = exc.details if isinstance(exc.details, Mapping) else {}
    named = details.get("parameter")
    marked = False
    for item in fields:
        if item.spec.code == named:
            item.error = exc.message
            marked = True
    return marked


def _widget(spec: ParameterSpec) -> str:
    if spec.dhis2_collection is not None:
        return "dhis2"
    if spec.type in CONNECTION_TYPES:
        return "connection"
    if spec.choices is not None:
        return "select"
    if spec.type == "secret":
        return "password"
    if spec.type == "bool" and not spec.multiple:
        return "checkbox"
    if spec.type in ("int", "float") and not spec.multiple:
        return "number"
    return "text"


def _plain(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _default_text(spec: ParameterSpec) -> str:
    default = spec.default
    if default is None or spec.type == "secret":
        return ""
    if isinstance(default, list | tuple):
        items = [_plain(item) for item in default]
        if any("," in item for item in items):
            return json.dumps(list(default))
        return ", ".join(items)
    return _plain(default)


def _default_selected(spec: ParameterSpec) -> tuple[str, ...]:
    default = spec.default
    if default is None:
        return ()
    items = default if isinstance(default, list | tuple) else [default]
    return tuple(_plain(item) for item in items)


def parameter_fields(
    session: Session, access: Access, version: PipelineVersion, form: FormData | None
) -> list[FormField]:
    """The run form's fields: defaults, or what ``form`` sent (secrets left out)."""
    specs = runs.specs_of(version)
    by_type: dict[str, list[tuple[str, str]]] = {}
    if any(spec.type in CONNECTION_TYPES for spec in specs):
        rows, _ = connections.list_for(session, access, PageRequest(page_size=500))
        for row in rows:
            by_type.setdefault(row.type, []).append((row.slug, f"{row.name} ({row.slug})"))
    fields = []
    for spec in specs:
        widget = _widget(spec)
        item = FormField(spec=spec, widget=widget)
        if widget == "connection":
            item.options = by_type.get(spec.type, [])
        elif widget == "dhis2":
            item.picker_url = (
                f"/w/{access.workspace.slug}/pipelines/{version.pipeline.code}/pickers/"
                f"{spec.code}?version={version.number}"
            )
        elif widget == "select":
            item.options = [(_plain(c), _plain(c)) for c in spec.choices or ()]
        if form is None:
            item.value = _default_text(spec)
            item.selected = _default_selected(spec)
            item.checked = spec.default is True
        elif widget != "password":
            item.value = text(form, item.name)
            item.selected = tuple(texts(form, item.name))
            item.checked = bool(item.value)
        fields.append(item)
    return fields


def _chart(views: Sequence[Run], now: datetime) -> list[Bar]:
    """Bars for the last runs, oldest on the left; height is the duration (so far)."""
    ordered = list(reversed(views[:RUNS_CHARTED]))
    seconds: list[float | None] = []
    for view in ordered:
        if view.duration_seconds is not None:
            seconds.append(view.duration_seconds)
        elif view.started_at is not None:
            seconds.append(max(0.0, (now - view.started_at).total_seconds()))
        else:
            seconds.append(None)
    longest = max((s for s in seconds if s is not None), default=0.0) or 1.0
    first = RUNS_CHARTED - len(ordered)
    bars = []
    for index, (view, secs) in enumerate(zip(ordered, seconds, strict=True)):
        height = max(2.0, round((secs or 0.0) / longest * (CHART_HEIGHT - 2), 1))
        bars.append(
            Bar(
                run=view,
                x=(first + index) * CHART_SLOT + (CHART_SLOT - CHART_BAR) // 2,
                y=CHART_HEIGHT - height,
                height=height,
                seconds=secs,
            )
        )
    return bars


LIMIT_FIELDS = (
    ("memory_mb", "Memory (MB)"),
    ("cpu_seconds", "CPU time (s)"),
    ("processes", "Processes and threads"),
    ("file_mb", "Largest file (MB)"),
    ("open_files", "Open files"),
)


@router.post("/w/{ws}/pipelines/{code}/limits")
def limits_update(
    request: Request, platform: PlatformDep, actor: PageActor, ws: str, code: str, form: FormDep
) -> Response:
    chosen: dict[str, int | None] = {}
    for name, label in LIMIT_FIELDS:
        value = text(form, name)
        if value and not (value.isascii() and value.isdigit()):
            return see_other(
                f"/w/{ws}/pipelines/{code}#limits", f"{label}: a whole number, or empty"
            )
        chosen[name] = int(value) if value else None
    instance = asdict(Limits.from_settings(platform.settings))
    try:
        with units.work(platform.db, actor, ws, Action.PIPELINE_LIMITS) as (session, access):
            pipelines.set_limits(session, access, code, chosen, instance=instance)
    except Invalid as exc:
        return see_other(f"/w/{ws}/pipelines/{code}#limits", exc.message)
    return see_other(f"/w/{ws}/pipelines/{code}#limits", "Limits saved.")


def _limit_rows(pipeline: Pipeline, instance: Limits) -> list[dict[str, Any]]:
    """Each limit: the instance's value, the pipeline's own (None: none set)."""
    own = pipeline.limits or {}
    return [
        {"name": n, "label": label, "instance": getattr(instance, n), "own": own.get(n)}
        for n, label in LIMIT_FIELDS
    ]


def _page_context(
    session: Session,
    access: Access,
    pipeline: Pipeline,
    version: PipelineVersion | None,
    fields: list[FormField],
    *,
    instance: Limits,
    error: str = "",
) -> dict[str, Any]:
    versions, version_total = pipelines.list_versions(
        session, pipeline, PageRequest(page_size=VERSIONS_SHOWN)
    )
    recent = run_views(session, pipelines.last_runs(session, pipeline, limit=RUNS_CHARTED))
    return workspace_context(
        access,
        "pipelines",
        pipeline=pipeline,
        # Not "version": base.html shows the app's version under that name.
        latest=version,
        fields=fields,
        versions=versions,
        version_total=version_total,
        recent=recent[:RUNS_LISTED],
        run_count=len(recent),
        bars=_chart(recent, datetime.now(UTC)),
        schedules=schedules.list_for(session, pipeline),
        webhook_on=pipeline.webhook_token_hash is not None,
        trigger_sources=[
            a.source for a in automations.list_for(session, access, pipeline, Kind.PIPELINE)
        ],
        chart={"width": RUNS_CHARTED * CHART_SLOT, "height": CHART_HEIGHT, "bar": CHART_BAR},
        can_run=access.allows(Action.PIPELINE_RUN) and not access.workspace.archived,
        limits=_limit_rows(pipeline, instance),
        can_set_limits=access.allows(Action.PIPELINE_LIMITS) and not access.workspace.archived,
        error=error,
        duration=duration_text,
        trigger_text=trigger_text,
    )
