"""What starts a pipeline by itself, and who hears about its runs: one page per pipeline.

``/w/{ws}/pipelines/{code}/automation``, linked from the pipeline's page, shows its cron
schedules, its webhook, the pipelines and datasets that start it (triggers) and the members
emailed about its runs. Editors and admins change them through forms that post to the same
paths as the API twins (``…/schedules``, ``…/webhook``, ``…/triggers``, ``…/dataset-triggers``,
``…/recipients``); viewers see the lists only.

Triggers and recipients are kinds of one thing (``services/automations.py``): one pair of
handlers sets and removes any kind, and one template macro (``_automation_sections.html``)
draws any kind's section from its ``Look``, the wording that is all that differs. Schedules
have a service of their own, and the webhook a section of its own: its URL is shown once.

Schedules and triggers take parameter values in the run form's generated fields
(:func:`joliba.web.pipeline_pages.parameter_fields`), checked against the latest version;
secrets are sealed and only ever shown as ``********``. A new webhook URL is rendered on the
page that answers the post — never put in a redirect — because it is shown only once.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from joliba.db.tables import Pipeline, PipelineVersion
from joliba.domain.errors import Invalid, NotFound
from joliba.domain.paging import MAX_PAGE_SIZE, PageRequest
from joliba.domain.parameters import CONNECTION_TYPES
from joliba.domain.permissions import Action
from joliba.http.deps import PlatformDep
from joliba.services import (
    automations,
    datasets,
    members,
    pipelines,
    runs,
    schedules,
    units,
    workspaces,
)
from joliba.services.actors import Actor
from joliba.services.automation_kinds import SAVES_VALUES, Automation, Kind
from joliba.services.platform import Platform
from joliba.services.workspaces import Access
from joliba.web.auth import PageActor, csrf_protect
from joliba.web.forms import FormDep, problem, see_other, text
from joliba.web.nav import workspace_context
from joliba.web.pipeline_pages import (
    FormField,
    mark_parameter_error,
    parameter_fields,
    submitted_values,
)
from joliba.web.render import render

router = APIRouter(dependencies=[Depends(csrf_protect)])
BASE = "/w/{ws}/pipelines/{code}"


@dataclass(frozen=True)
class Look:
    """How the page shows one kind of automation: its section, its add form, its messages."""

    kind: Kind
    #: The section's id and the posts' path (``…/{path}``, ``…/{path}/{source}/remove``).
    path: str
    #: The form's name in errors (``{form}.{field}``) and element ids.
    form: str
    #: The form's own fields, the one that names the source first.
    fields: tuple[str, ...]
    title: str
    empty: str
    add: str
    label: str
    submit: str
    #: Shown instead of the form when there is nothing to choose.
    none: str
    #: The error when nothing is chosen.
    choose: str
    #: The flashes after adding and removing one, with {source}.
    added: str
    removed: str
    #: The remove button's question, with {name} and {pipeline}.
    confirm: str
    #: The words around a listed source (kinds that save run values).
    sentence: tuple[str, str] = ("", "")
    #: Where a source's own page is: ``/w/{ws}/{link}/{source}``.
    link: str = ""

    @property
    def field(self) -> str:
        return self.fields[0]

    @property
    def dashed(self) -> str:
        """The form's name in element ids and ``data-*`` attributes."""
        return self.form.replace("_", "-")


LOOKS = {
    look.kind: look
    for look in (
        Look(
            Kind.PIPELINE,
            "triggers",
            "trigger",
            ("source",),
            title="Triggers",
            empty="No other pipeline starts this one.",
            add="Run after another pipeline",
            label="When a run of this pipeline succeeds",
            submit="Add trigger",
            none="This is the workspace's only pipeline: push another one to chain them.",
            choose="source: choose the pipeline whose success starts this one",
            added="This pipeline now runs after {source} succeeds.",
            removed="Trigger removed.",
            confirm="Stop running {pipeline} after {name}?",
            sentence=("Runs after:", "succeeds"),
            link="pipelines",
        ),
        Look(
            Kind.DATASET,
            "dataset-triggers",
            "dataset_trigger",
            ("dataset",),
            title="Dataset triggers",
            empty="No dataset starts this pipeline.",
            add="Run on a dataset's new versions",
            label="When this dataset publishes a version",
            submit="Add dataset trigger",
            none="This workspace has no dataset yet, owned or shared.",
            choose="dataset: choose the dataset whose new versions start this pipeline",
            added="This pipeline now runs when {source} gets a new version.",
            removed="Dataset trigger removed.",
            confirm="Stop running {pipeline} on new versions of {name}?",
            sentence=("Runs when", "gets a new version"),
            link="datasets",
        ),
        Look(
            Kind.EMAIL,
            "recipients",
            "recipient",
            ("email", "notify_on"),
            title="Email recipients",
            empty="Nobody is emailed about this pipeline's runs.",
            add="Email a member",
            label="Member",
            submit="Add recipient",
            none="This workspace has no member to email.",
            choose="email: choose a member",
            added="{source} will be emailed about runs.",
            removed="{source} will no longer be emailed.",
            confirm="Stop emailing {name} about {pipeline}?",
        ),
    )
}
#: The fields each form names in its errors (``details["field"]``), besides parameters.
FORM_FIELDS: dict[str, tuple[str, ...]] = {
    "schedule": ("cron", "time_zone", "overlap"),
    **{look.form: look.fields for look in LOOKS.values()},
}
#: Values of each type for the webhook's curl example, when a parameter has no default.
SAMPLES: dict[str, Any] = {"int": 1, "float": 1.5, "bool": True}


@dataclass
class Posted:
    """A form that failed: which one, what it sent, and why."""

    name: str
    form: FormData
    exc: Invalid


@dataclass(frozen=True)
class Section:
    """What the macro draws for one kind: its list, and its add form when one may add."""

    look: Look
    #: Where its forms post: ``…/{look.path}``.
    action: str
    #: The kind's automations, each with its parameter values as shown (secrets masked).
    entries: list[tuple[Automation, dict[str, Any]]]
    #: The source select's (value, label) options.
    choices: list[tuple[str, str]]
    addable: bool
    fields: list[FormField] = field(default_factory=list)
    #: Sources listed by a name, with their code beside it (pipelines).
    names: Mapping[str, str] = field(default_factory=dict)


def automation_url(ws: str, code: str) -> str:
    return f"/w/{ws}/pipelines/{code}/automation"


@router.get(BASE + "/automation")
def automation_page(
    request: Request, platform: PlatformDep, actor: PageActor, ws: str, code: str
) -> Response:
    return _page(request, platform, actor, ws, code)


# ----- Schedules -----


@router.post(BASE + "/schedules")
def schedule_create(
    request: Request, platform: PlatformDep, actor: PageActor, ws: str, code: str, form: FormDep
) -> Response:
    try:
        with units.work(platform.db, actor, ws, Action.PIPELINE_WRITE) as (session, access):
            pipeline = pipelines.get(session, access, code)
            version = pipelines.get_version(session, pipeline, None)
            schedules.create(
                session,
                access,
                platform.box,
                pipeline,
                cron=text(form, "cron"),
                time_zone=text(form, "time_zone") or None,
                parameters=submitted_values(runs.specs_of(version), form),
                overlap=text(form, "overlap") or "skip",
            )
    except Invalid as exc:
        return _page(request, platform, actor, ws, code, posted=Posted("schedule", form, exc))
    return see_other(automation_url(ws, code), "Schedule added.")


@router.post(BASE + "/schedules/{schedule_id}/pause")
def schedule_pause(
    platform: PlatformDep, actor: PageActor, ws: str, code: str, schedule_id: str
) -> Response:
    return _set_enabled(platform, actor, ws, code, schedule_id, enabled=False)


@router.post(BASE + "/schedules/{schedule_id}/resume")
def schedule_resume(
    platform: PlatformDep, actor: PageActor, ws: str, code: str, schedule_id: str
) -> Response:
    return _set_enabled(platform, actor, ws, code, schedule_id, enabled=True)


def _set_enabled(
    platform: Platform, actor: Actor, ws: str, code: str, schedule_id: str, *, enabled: bool
) -> Response:
    with units.work(platform.db, actor, ws, Action.PIPELINE_WRITE) as (session, access):
        pipeline = pipelines.get(session, access, code)
        schedule = schedules.get(session, pipeline, schedule_id)
        schedules.set_enabled(session, access, schedule, enabled)
    return see_other(
        automation_url(ws, code), "Schedule resumed." if enabled else "Schedule paused."
    )


@router.post(BASE + "/schedules/{schedule_id}/delete")
def schedule_delete(
    platform: PlatformDep, actor: PageActor, ws: str, code: str, schedule_id: str
) -> Response:
    with units.work(platform.db, actor, ws, Action.PIPELINE_WRITE) as (session, access):
        pipeline = pipelines.get(session, access, code)
        schedules.delete(session, access, schedules.get(session, pipeline, schedule_id))
    return see_other(automation_url(ws, code), "Schedule deleted.")


# ----- Webhook -----


@router.post(BASE + "/webhook")
def webhook_create(
    request: Request, platform: PlatformDep, actor: PageActor, ws: str, code: str
) -> Response:
    with units.work(platform.db, actor, ws, Action.PIPELINE_WRITE) as (session, access):
        pipeline = pipelines.get(session, access, code)
        secret = automations.set(session, access, platform.box, pipeline, Kind.WEBHOOK).secret
    url = f"{platform.settings.base_url.rstrip('/')}/api/v1/hooks/{secret}"
    # Rendered, not redirected: the URL must not travel in a Location header, and is shown
    # only now.
    response = _page(request, platform, actor, ws, code, webhook_url=url)
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post(BASE + "/webhook/off")
def webhook_off(platform: PlatformDep, actor: PageActor, ws: str, code: str) -> Response:
    with units.work(platform.db, actor, ws, Action.PIPELINE_WRITE) as (session, access):
        pipeline = pipelines.get(session, access, code)
        automations.remove(session, access, pipeline, Kind.WEBHOOK)
    return see_other(automation_url(ws, code), "Webhook turned off: its URL no longer works.")


# ----- Triggers and recipients: every kind through the same two handlers -----


@router.post(BASE + "/triggers")
def trigger_set(
    request: Request, platform: PlatformDep, actor: PageActor, ws: str, code: str, form: FormDep
) -> Response:
    return _add(request, platform, actor, ws, code, form, LOOKS[Kind.PIPELINE])


@router.post(BASE + "/triggers/{source}/remove")
def trigger_remove(
    platform: PlatformDep, actor: PageActor, ws: str, code: str, source: str
) -> Response:
    return _remove(platform, actor, ws, code, LOOKS[Kind.PIPELINE], source)


@router.post(BASE + "/dataset-triggers")
def dataset_trigger_set(
    request: Request, platform: PlatformDep, actor: PageActor, ws: str, code: str, form: FormDep
) -> Response:
    return _add(request, platform, actor, ws, code, form, LOOKS[Kind.DATASET])


@router.post(BASE + "/dataset-triggers/{dataset}/remove")
def dataset_trigger_remove(
    platform: PlatformDep, actor: PageActor, ws: str, code: str, dataset: str
) -> Response:
    return _remove(platform, actor, ws, code, LOOKS[Kind.DATASET], dataset)


@router.post(BASE + "/recipients")
def recipient_set(
    request: Request, platform: PlatformDep, actor: PageActor, ws: str, code: str, form: FormDep
) -> Response:
    return _add(request, platform, actor, ws, code, form, LOOKS[Kind.EMAIL])


@router.post(BASE + "/recipients/remove")
def recipient_remove(
    platform: PlatformDep, actor: PageActor, ws: str, code: str, form: FormDep
) -> Response:
    return _remove(platform, actor, ws, code, LOOKS[Kind.EMAIL], text(form, "email"))


def _add(
    request: Request,
    platform: Platform,
    actor: Actor,
    ws: str,
    code: str,
    form: FormData,
    look: Look,
) -> Response:
    """Set ``look``'s kind from its form, or show the form again with the error in place."""
    try:
        with units.work(platform.db, actor, ws, Action.PIPELINE_WRITE) as (session, access):
            pipeline = pipelines.get(session, access, code)
            specs = []
            if look.kind in SAVES_VALUES:
                specs = runs.specs_of(pipelines.get_version(session, pipeline, None))
            source = text(form, look.field)
            if not source.strip():
                raise Invalid(look.choose, details={"field": look.field})
            try:
                added = automations.set(
                    session,
                    access,
                    platform.box,
                    pipeline,
                    look.kind,
                    source=source,
                    parameters=submitted_values(specs, form),
                    notify_on=text(form, "notify_on") or "failure",
                )
            except NotFound as exc:  # an unknown source is the form's error, not a missing page
                raise Invalid(
                    f"{look.field}: {exc.message}", details={"field": look.field}
                ) from None
    except Invalid as exc:
        return _page(request, platform, actor, ws, code, posted=Posted(look.form, form, exc))
    return see_other(automation_url(ws, code), look.added.format(source=added.source))


def _remove(
    platform: Platform, actor: Actor, ws: str, code: str, look: Look, source: str
) -> Response:
    with units.work(platform.db, actor, ws, Action.PIPELINE_WRITE) as (session, access):
        pipeline = pipelines.get(session, access, code)
        automations.remove(session, access, pipeline, look.kind, source)
    return see_other(automation_url(ws, code), look.removed.format(source=source))


# ----- The page -----


def _page(
    request: Request,
    platform: Platform,
    actor: Actor,
    ws: str,
    code: str,
    *,
    posted: Posted | None = None,
    webhook_url: str = "",
) -> Response:
    """The automation page; after a failed post, its form again with the error in place."""
    with units.work(platform.db, actor, ws, Action.PIPELINE_READ) as (session, access):
        pipeline = pipelines.get(session, access, code)
        version = pipelines.latest_version(session, pipeline)

        def fields_for(name: str) -> list[FormField]:
            if version is None:
                return []
            sent = posted.form if posted and posted.name == name else None
            return parameter_fields(session, access, version, sent)

        # The forms that take parameter values: the schedule's, and those of kinds that save them.
        valued = [look.form for kind, look in LOOKS.items() if kind in SAVES_VALUES]
        forms = {name: fields_for(name) for name in ("schedule", *valued)}
        errors: dict[str, str] = {}
        status = 200
        if posted is not None:
            errors = _errors(posted, forms.get(posted.name, []))
            status = problem(posted.exc)[1]

        can_edit = access.allows(Action.PIPELINE_WRITE) and not access.workspace.archived
        listed = automations.list_for(session, access, pipeline)
        choices, names = _choices(session, access, pipeline)
        sections = [
            Section(
                look,
                f"/w/{access.workspace.slug}/pipelines/{pipeline.code}/{look.path}",
                [(a, _shown(version, a.parameters)) for a in listed if a.kind is kind],
                choices[kind],
                addable=can_edit and (version is not None or kind not in SAVES_VALUES),
                fields=forms.get(look.form, []),
                names=names if kind is Kind.PIPELINE else {},
            )
            for kind, look in LOOKS.items()
        ]
        context = workspace_context(
            access,
            "pipelines",
            pipeline=pipeline,
            latest=version,
            can_edit=can_edit,
            schedules=[
                (row, _shown(version, row.parameters))
                for row in schedules.list_for(session, pipeline)
            ],
            webhook_on=any(a.kind is Kind.WEBHOOK and a.enabled for a in listed),
            webhook_url=webhook_url,
            example_body=_example_body(version),
            sections=sections,
            smtp=bool(platform.settings.smtp_url),
            zones=workspaces.time_zones(),
            schedule_fields=forms["schedule"],
            values=_values(posted, access.workspace.time_zone),
            errors=errors,
        )
    return render(request, "pipeline_automation.html", context, status=status)


def _choices(
    session: Session, access: Access, pipeline: Pipeline
) -> tuple[dict[Kind, list[tuple[str, str]]], dict[str, str]]:
    """What each kind's form may pick, as (value, label); and the pipelines' names by code."""
    everything = PageRequest(page_size=MAX_PAGE_SIZE)
    others, _ = pipelines.list_for(session, access, everything)
    refs = [
        (datasets.ref_of(access, row), row.name)
        for row in datasets.list_for(session, access, everything)[0]
    ]
    people, _ = members.list_members(session, access.workspace, everything)
    choices = {
        Kind.PIPELINE: [(r.code, f"{r.name} ({r.code})") for r in others if r.id != pipeline.id],
        Kind.DATASET: [(ref, f"{name} ({ref})") for ref, name in refs],
        Kind.EMAIL: [(row.user.email, row.user.email) for row in people],
    }
    return choices, {row.code: row.name for row in others}


def _shown(version: PipelineVersion | None, values: Mapping[str, Any]) -> dict[str, Any]:
    """Saved parameter values as people may see them (secrets masked)."""
    if version is None:
        return {key: "********" for key in values}
    return runs.shown_parameters(version, values)


def _values(posted: Posted | None, time_zone: str) -> dict[str, str]:
    """What the forms' own (non-parameter) fields show: defaults, or what was sent."""
    values = {
        "cron": "",
        "time_zone": time_zone,
        "overlap": "skip",
        "source": "",
        "dataset": "",
        "email": "",
        "notify_on": "failure",
    }
    if posted is not None:
        for name in FORM_FIELDS[posted.name]:
            values[name] = text(posted.form, name) or values[name]
    return values


def _errors(posted: Posted, fields: Sequence[FormField]) -> dict[str, str]:
    """Errors by place: ``form.field`` next to a field, or ``form`` above the form."""
    if mark_parameter_error(fields, posted.exc):
        return {}
    details = posted.exc.details if isinstance(posted.exc.details, Mapping) else {}
    field = details.get("field")
    if field in FORM_FIELDS[posted.name]:
        return {f"{posted.name}.{field}": posted.exc.message}
    return {posted.name: posted.exc.message}


def _example_body(version: PipelineVersion | None) -> str:
    """A JSON body for the curl example: the first parameter with a value that fits it."""
    specs = [s for s in runs.specs_of(version) if s.type != "secret"] if version else []
    if not specs:
        return "{}"
    spec = specs[0]
    value: Any
    if spec.default is not None and spec.default != []:
        value = spec.default
    else:
        if spec.choices:
            sample = spec.choices[0]
        elif spec.type in CONNECTION_TYPES:
            sample = "connection-slug"
        else:
            sample = SAMPLES.get(spec.type, "value")
        value = [sample] if spec.multiple else sample
    body = json.dumps({spec.code: value}, default=str)
    # The body goes between single quotes in a shell command.
    return "{}" if "'" in body else body
